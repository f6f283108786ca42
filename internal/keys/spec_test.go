package keys

import (
	"slices"
	"testing"

	"github.com/openkms/kms"
)

func TestSpecTables(t *testing.T) {
	for _, tc := range []struct {
		spec  kms.KeySpec
		usage kms.KeyUsage
		ok    bool
		algs  []string
	}{
		{kms.KeySpecSymmetricDefault, kms.KeyUsageEncryptDecrypt, true, []string{"SYMMETRIC_DEFAULT"}},
		{kms.KeySpecSymmetricDefault, kms.KeyUsageSignVerify, false, nil},
		{kms.KeySpecRSA2048, kms.KeyUsageEncryptDecrypt, true, []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}},
		{kms.KeySpecRSA4096, kms.KeyUsageSignVerify, true, []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384",
			"RSASSA_PKCS1_V1_5_SHA_512", "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}},
		{kms.KeySpecRSA3072, kms.KeyUsageKeyAgreement, false, nil},
		{kms.KeySpecECCNISTP384, kms.KeyUsageSignVerify, true, []string{"ECDSA_SHA_384"}},
		{kms.KeySpecECCNISTP521, kms.KeyUsageKeyAgreement, true, []string{"ECDH"}},
		{kms.KeySpecECCNISTP256, kms.KeyUsageEncryptDecrypt, false, nil},
		{kms.KeySpecECCSECGP256K1, kms.KeyUsageSignVerify, true, []string{"ECDSA_SHA_256"}},
		{kms.KeySpecECCSECGP256K1, kms.KeyUsageKeyAgreement, false, nil},
		{kms.KeySpecEd25519, kms.KeyUsageSignVerify, true, []string{"ED25519_SHA_512", "ED25519_PH_SHA_512"}},
		{kms.KeySpecEd25519, kms.KeyUsageKeyAgreement, false, nil},
		{kms.KeySpecMLDSA65, kms.KeyUsageSignVerify, true, []string{"ML_DSA_SHAKE_256"}},
		{kms.KeySpecHMAC384, kms.KeyUsageGenerateVerifyMAC, true, []string{"HMAC_SHA_384"}},
		{kms.KeySpecHMAC256, kms.KeyUsageEncryptDecrypt, false, nil},
		{kms.KeySpecSM2, kms.KeyUsageEncryptDecrypt, true, []string{"SM2PKE"}},
		{kms.KeySpecSM2, kms.KeyUsageSignVerify, true, []string{"SM2DSA"}},
		{kms.KeySpecSM2, kms.KeyUsageKeyAgreement, true, []string{"ECDH"}},
		{"AES_256", kms.KeyUsageEncryptDecrypt, false, nil},
	} {
		if got := ValidUsage(tc.spec, tc.usage); got != tc.ok {
			t.Errorf("ValidUsage(%s, %s) = %v, want %v", tc.spec, tc.usage, got, tc.ok)
		}
		if tc.ok && !slices.Equal(Algorithms(tc.spec, tc.usage), tc.algs) {
			t.Errorf("Algorithms(%s, %s) = %v, want %v", tc.spec, tc.usage, Algorithms(tc.spec, tc.usage), tc.algs)
		}
	}
}

func TestSpecLimits(t *testing.T) {
	for _, tc := range []struct {
		spec kms.KeySpec
		alg  string
		want int
	}{
		{kms.KeySpecRSA2048, AlgRSAESOAEPSHA1, 214},
		{kms.KeySpecRSA2048, AlgRSAESOAEPSHA256, 190},
		{kms.KeySpecRSA3072, AlgRSAESOAEPSHA1, 342},
		{kms.KeySpecRSA3072, AlgRSAESOAEPSHA256, 318},
		{kms.KeySpecRSA4096, AlgRSAESOAEPSHA1, 470},
		{kms.KeySpecRSA4096, AlgRSAESOAEPSHA256, 446},
		{kms.KeySpecSM2, AlgSM2PKE, 1024},
		{kms.KeySpecSymmetricDefault, AlgSymmetricDefault, 4096},
	} {
		if got := MaxPlaintext(tc.spec, tc.alg); got != tc.want {
			t.Errorf("MaxPlaintext(%s, %s) = %d, want %d", tc.spec, tc.alg, got, tc.want)
		}
	}
	for alg, want := range map[string]int{AlgRSAPSSSHA256: 32, AlgRSAPKCS1SHA384: 48, AlgECDSASHA512: 64,
		AlgSM2DSA: 32, AlgEd25519ph: 64, AlgEd25519: 0, AlgMLDSA: 0} {
		if got := DigestSize(alg); got != want {
			t.Errorf("DigestSize(%s) = %d, want %d", alg, got, want)
		}
	}
	for _, spec := range DataKeyPairSpecs {
		if !IsAsymmetric(spec) {
			t.Errorf("data key pair spec %s is not asymmetric", spec)
		}
	}
	if IsAsymmetric(kms.KeySpecHMAC256) || IsAsymmetric(kms.KeySpecSymmetricDefault) || !IsHMAC(kms.KeySpecHMAC224) {
		t.Error("IsAsymmetric/IsHMAC wrong")
	}
}

// TestEveryAsymmetricSpecImplemented keeps the spec table and the families
// in step.
func TestEveryAsymmetricSpecImplemented(t *testing.T) {
	for spec := range specs {
		if IsAsymmetric(spec) && !Implemented(spec) {
			t.Errorf("no family for %s", spec)
		}
	}
}
