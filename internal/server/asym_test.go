//lint:file-ignore SA1019 AWS still returns and accepts the deprecated CustomerMasterKeySpec; these tests check it on purpose.

package server_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // for RSAES_OAEP_SHA_1
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/cloudflare/circl/pki"
	"github.com/cloudflare/circl/sign"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/openkms/kms/internal/server"
)

// Asymmetric keys end to end: every key spec and usage AWS allows, Sign
// and Verify for every signing algorithm and message type, public keys as
// GetPublicKey hands them out, RSA and SM2 encryption, data key pairs, and
// the authorization, state and durability rules around them. Signatures,
// public keys and key pairs are checked with code that is not the
// server's: the standard library, circl (ML-DSA), dcrd (secp256k1), gmsm
// (SM2) and openssl.

var (
	rsaSigningAlgorithms    = []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512", "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}
	rsaEncryptionAlgorithms = []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}
)

// validKeySpecs is every KeySpec/KeyUsage pair CreateKey accepts besides
// the symmetric default, with the algorithms DescribeKey must list.
var validKeySpecs = []struct {
	spec  types.KeySpec
	usage types.KeyUsageType
	algs  []string
}{
	{types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt, rsaEncryptionAlgorithms},
	{types.KeySpecRsa2048, types.KeyUsageTypeSignVerify, rsaSigningAlgorithms},
	{types.KeySpecRsa3072, types.KeyUsageTypeEncryptDecrypt, rsaEncryptionAlgorithms},
	{types.KeySpecRsa3072, types.KeyUsageTypeSignVerify, rsaSigningAlgorithms},
	{types.KeySpecRsa4096, types.KeyUsageTypeEncryptDecrypt, rsaEncryptionAlgorithms},
	{types.KeySpecRsa4096, types.KeyUsageTypeSignVerify, rsaSigningAlgorithms},
	{types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, []string{"ECDSA_SHA_256"}},
	{types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement, []string{"ECDH"}},
	{types.KeySpecEccNistP384, types.KeyUsageTypeSignVerify, []string{"ECDSA_SHA_384"}},
	{types.KeySpecEccNistP384, types.KeyUsageTypeKeyAgreement, []string{"ECDH"}},
	{types.KeySpecEccNistP521, types.KeyUsageTypeSignVerify, []string{"ECDSA_SHA_512"}},
	{types.KeySpecEccNistP521, types.KeyUsageTypeKeyAgreement, []string{"ECDH"}},
	{types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify, []string{"ECDSA_SHA_256"}},
	{types.KeySpecEccNistEdwards25519, types.KeyUsageTypeSignVerify, []string{"ED25519_SHA_512", "ED25519_PH_SHA_512"}},
	{types.KeySpecMlDsa44, types.KeyUsageTypeSignVerify, []string{"ML_DSA_SHAKE_256"}},
	{types.KeySpecMlDsa65, types.KeyUsageTypeSignVerify, []string{"ML_DSA_SHAKE_256"}},
	{types.KeySpecMlDsa87, types.KeyUsageTypeSignVerify, []string{"ML_DSA_SHAKE_256"}},
	{types.KeySpecHmac224, types.KeyUsageTypeGenerateVerifyMac, []string{"HMAC_SHA_224"}},
	{types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, []string{"HMAC_SHA_256"}},
	{types.KeySpecHmac384, types.KeyUsageTypeGenerateVerifyMac, []string{"HMAC_SHA_384"}},
	{types.KeySpecHmac512, types.KeyUsageTypeGenerateVerifyMac, []string{"HMAC_SHA_512"}},
	{types.KeySpecSm2, types.KeyUsageTypeSignVerify, []string{"SM2DSA"}},
	{types.KeySpecSm2, types.KeyUsageTypeEncryptDecrypt, []string{"SM2PKE"}},
	{types.KeySpecSm2, types.KeyUsageTypeKeyAgreement, []string{"ECDH"}},
}

// createKey creates a customer managed key of spec and usage.
func createKey(t testing.TB, c *awskms.Client, spec types.KeySpec, usage types.KeyUsageType) *types.KeyMetadata {
	t.Helper()
	out, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey %s %s: %v", spec, usage, err)
	}
	return out.KeyMetadata
}

// publicKeyDER returns the DER SubjectPublicKeyInfo GetPublicKey gives.
func publicKeyDER(t testing.TB, c *awskms.Client, keyID *string) []byte {
	t.Helper()
	out, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: keyID})
	if err != nil {
		t.Fatalf("GetPublicKey %s: %v", aws.ToString(keyID), err)
	}
	return out.PublicKey
}

// wantEmptyMessage is wantCode for the errors AWS sends with an empty
// message (failed verifications, undecryptable ciphertexts).
func wantEmptyMessage(t testing.TB, err error, code string) {
	t.Helper()
	wantCode(t, err, code)
	var ae smithy.APIError
	errors.As(err, &ae)
	if ae.ErrorMessage() != "" {
		t.Fatalf("%s carries message %q; AWS sends none", code, ae.ErrorMessage())
	}
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// algorithmLists returns the non-empty algorithm lists of a response,
// by member name.
func algorithmLists(enc []types.EncryptionAlgorithmSpec, sig []types.SigningAlgorithmSpec, mac []types.MacAlgorithmSpec, agr []types.KeyAgreementAlgorithmSpec) map[string][]string {
	lists := map[string][]string{}
	for name, l := range map[string][]string{
		"EncryptionAlgorithms": strs(enc), "SigningAlgorithms": strs(sig),
		"MacAlgorithms": strs(mac), "KeyAgreementAlgorithms": strs(agr),
	} {
		if len(l) > 0 {
			lists[name] = l
		}
	}
	return lists
}

// listFor names the algorithm list a key of usage carries.
func listFor(usage types.KeyUsageType) string {
	return map[types.KeyUsageType]string{
		types.KeyUsageTypeEncryptDecrypt:    "EncryptionAlgorithms",
		types.KeyUsageTypeSignVerify:        "SigningAlgorithms",
		types.KeyUsageTypeGenerateVerifyMac: "MacAlgorithms",
		types.KeyUsageTypeKeyAgreement:      "KeyAgreementAlgorithms",
	}[usage]
}

// checkAlgorithms fails unless lists holds exactly the one list usage
// calls for, with algs in it: in AWS's order for RSA, in any order for the
// rest.
func checkAlgorithms(t testing.TB, lists map[string][]string, spec types.KeySpec, usage types.KeyUsageType, algs []string) {
	t.Helper()
	name := listFor(usage)
	got := lists[name]
	if !strings.HasPrefix(string(spec), "RSA_") {
		got, algs = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(algs))
	}
	if len(lists) != 1 || !slices.Equal(got, algs) {
		t.Fatalf("%s %s: algorithm lists %v, want only %s %v", spec, usage, lists, name, algs)
	}
}

// customerMasterKeySpec is what the deprecated member must say: the key
// spec, or nothing for specs its enum does not have.
func customerMasterKeySpec(spec types.KeySpec) string {
	switch spec {
	case types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87, types.KeySpecEccNistEdwards25519:
		return ""
	}
	return string(spec)
}

// subjectPublicKeyInfo is parsed by hand for the algorithms crypto/x509
// does not know (secp256k1, SM2, ML-DSA).
type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidSM2Curve    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
	oidMLDSA       = map[types.KeySpec]asn1.ObjectIdentifier{
		types.KeySpecMlDsa44: {2, 16, 840, 1, 101, 3, 4, 3, 17},
		types.KeySpecMlDsa65: {2, 16, 840, 1, 101, 3, 4, 3, 18},
		types.KeySpecMlDsa87: {2, 16, 840, 1, 101, 3, 4, 3, 19},
	}
)

func parseSPKI(der []byte) (subjectPublicKeyInfo, error) {
	var s subjectPublicKeyInfo
	rest, err := asn1.Unmarshal(der, &s)
	if err == nil && len(rest) > 0 {
		err = errors.New("trailing data after SubjectPublicKeyInfo")
	}
	return s, err
}

// ecCurveOID returns the named curve of an id-ecPublicKey SPKI.
func ecCurveOID(s subjectPublicKeyInfo) (asn1.ObjectIdentifier, error) {
	if !s.Algorithm.Algorithm.Equal(oidECPublicKey) {
		return nil, fmt.Errorf("algorithm %v, want id-ecPublicKey", s.Algorithm.Algorithm)
	}
	var curve asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(s.Algorithm.Parameters.FullBytes, &curve); err != nil {
		return nil, fmt.Errorf("EC parameters: %v", err)
	}
	return curve, nil
}

// parsePublicKey parses a DER SubjectPublicKeyInfo of a key spec into the
// public key type of the library that verifies its signatures, checking
// its size, curve and encoding on the way.
func parsePublicKey(spec types.KeySpec, der []byte) (any, error) {
	switch spec {
	case types.KeySpecRsa2048, types.KeySpecRsa3072, types.KeySpecRsa4096:
		k, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, err
		}
		pub, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%T, want RSA", k)
		}
		if bits := fmt.Sprint("RSA_", pub.N.BitLen()); bits != string(spec) || pub.E != 65537 {
			return nil, fmt.Errorf("RSA key of %d bits, e=%d", pub.N.BitLen(), pub.E)
		}
		return pub, nil
	case types.KeySpecEccNistP256, types.KeySpecEccNistP384, types.KeySpecEccNistP521:
		k, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, err
		}
		pub, ok := k.(*ecdsa.PublicKey)
		want := map[types.KeySpec]elliptic.Curve{types.KeySpecEccNistP256: elliptic.P256(), types.KeySpecEccNistP384: elliptic.P384(), types.KeySpecEccNistP521: elliptic.P521()}[spec]
		if !ok || pub.Curve != want {
			return nil, fmt.Errorf("%T, want ECDSA on %s", k, want.Params().Name)
		}
		return pub, nil
	case types.KeySpecEccNistEdwards25519:
		k, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, err
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%T, want Ed25519", k)
		}
		return pub, nil
	case types.KeySpecEccSecgP256k1:
		s, err := parseSPKI(der)
		if err != nil {
			return nil, err
		}
		curve, err := ecCurveOID(s)
		if err != nil {
			return nil, err
		}
		if !curve.Equal(oidSecp256k1) || len(s.PublicKey.Bytes) != 65 || s.PublicKey.Bytes[0] != 4 {
			return nil, fmt.Errorf("curve %v, point of %d bytes; want an uncompressed secp256k1 point", curve, len(s.PublicKey.Bytes))
		}
		return secp256k1.ParsePubKey(s.PublicKey.Bytes)
	case types.KeySpecSm2:
		s, err := parseSPKI(der)
		if err != nil {
			return nil, err
		}
		if curve, err := ecCurveOID(s); err != nil || !curve.Equal(oidSM2Curve) {
			return nil, fmt.Errorf("curve %v (%v), want sm2p256v1", curve, err)
		}
		k, err := smx509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, err
		}
		pub, ok := k.(*ecdsa.PublicKey)
		if !ok || pub.Curve != sm2.P256() {
			return nil, fmt.Errorf("%T, want an SM2 key", k)
		}
		return pub, nil
	case types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87:
		s, err := parseSPKI(der)
		if err != nil {
			return nil, err
		}
		// RFC 9881: the parameters are absent.
		if !s.Algorithm.Algorithm.Equal(oidMLDSA[spec]) || len(s.Algorithm.Parameters.FullBytes) != 0 {
			return nil, fmt.Errorf("algorithm %v with parameters %x, want %v and none", s.Algorithm.Algorithm, s.Algorithm.Parameters.FullBytes, oidMLDSA[spec])
		}
		pub, err := pki.UnmarshalPKIXPublicKey(der)
		if err != nil {
			return nil, err
		}
		if name := strings.ReplaceAll(pub.Scheme().Name(), "-", "_"); name != string(spec) {
			return nil, fmt.Errorf("scheme %s", pub.Scheme().Name())
		}
		return pub, nil
	}
	return nil, fmt.Errorf("no parser for %s", spec)
}

// signingHash is the hash a signing algorithm applies to a RAW message.
func signingHash(alg types.SigningAlgorithmSpec) crypto.Hash {
	s := string(alg)
	switch {
	case strings.HasSuffix(s, "_SHA_256"):
		return crypto.SHA256
	case strings.HasSuffix(s, "_SHA_384"):
		return crypto.SHA384
	case strings.HasSuffix(s, "_SHA_512"):
		return crypto.SHA512
	}
	return 0
}

func digest(h crypto.Hash, msg []byte) []byte {
	w := h.New()
	w.Write(msg)
	return w.Sum(nil)
}

// externalMu is FIPS 204's message representative for pure ML-DSA with an
// empty context: SHAKE256(SHAKE256(pk, 64) || 0x00 || 0x00 || msg, 64).
func externalMu(rawPublicKey, msg []byte) []byte {
	tr := sha3.SumSHAKE256(rawPublicKey, 64)
	return sha3.SumSHAKE256(slices.Concat(tr, []byte{0, 0}, msg), 64)
}

// localVerify checks a signature of msg (the message itself, not what was
// sent as DIGEST or EXTERNAL_MU) with the public key alone. sm2ID is the
// distinguishing ID an SM2DSA digest was computed with (nil: the default).
func localVerify(spec types.KeySpec, der []byte, alg types.SigningAlgorithmSpec, sm2ID, msg, sig []byte) error {
	k, err := parsePublicKey(spec, der)
	if err != nil {
		return err
	}
	ok := false
	switch pub := k.(type) {
	case *rsa.PublicKey:
		h := signingHash(alg)
		if len(sig) != pub.Size() {
			return fmt.Errorf("RSA signature of %d bytes, want %d", len(sig), pub.Size())
		}
		if strings.HasPrefix(string(alg), "RSASSA_PSS_") {
			// AWS: MGF1 with the same hash, salt as long as the hash.
			err = rsa.VerifyPSS(pub, h, digest(h, msg), sig, &rsa.PSSOptions{SaltLength: h.Size(), Hash: h})
		} else {
			err = rsa.VerifyPKCS1v15(pub, h, digest(h, msg), sig)
		}
		return err
	case *ecdsa.PublicKey:
		if spec == types.KeySpecSm2 {
			ok = sm2.VerifyASN1WithSM2(pub, sm2ID, msg, sig)
		} else {
			ok = ecdsa.VerifyASN1(pub, digest(signingHash(alg), msg), sig)
		}
	case *secp256k1.PublicKey:
		s, err := secpecdsa.ParseDERSignature(sig)
		if err != nil {
			return err
		}
		ok = s.Verify(digest(crypto.SHA256, msg), pub)
	case ed25519.PublicKey:
		if len(sig) != ed25519.SignatureSize {
			return fmt.Errorf("Ed25519 signature of %d bytes", len(sig))
		}
		if alg == types.SigningAlgorithmSpecEd25519PhSha512 {
			d := sha512.Sum512(msg)
			err = ed25519.VerifyWithOptions(pub, d[:], sig, &ed25519.Options{Hash: crypto.SHA512})
		} else {
			err = ed25519.VerifyWithOptions(pub, msg, sig, &ed25519.Options{})
		}
		return err
	case sign.PublicKey:
		// ML-DSA. A signature over the external μ of msg is a pure
		// ML-DSA signature of msg with an empty context.
		if n := pub.Scheme().SignatureSize(); len(sig) != n {
			return fmt.Errorf("ML-DSA signature of %d bytes, want %d", len(sig), n)
		}
		ok = pub.Scheme().Verify(pub, msg, sig, nil)
	default:
		return fmt.Errorf("unexpected public key %T", k)
	}
	if !ok {
		return errors.New("signature does not verify")
	}
	return nil
}

func TestAsymmetricKeySpecs(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	for _, tc := range validKeySpecs {
		t.Run(string(tc.spec)+"/"+string(tc.usage), func(t *testing.T) {
			created := createKey(t, c, tc.spec, tc.usage)
			described := must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: created.Arn})).KeyMetadata
			for _, m := range []*types.KeyMetadata{created, described} {
				if m.KeySpec != tc.spec || m.KeyUsage != tc.usage || m.KeyState != types.KeyStateEnabled || !m.Enabled ||
					m.Origin != types.OriginTypeAwsKms || m.KeyManager != types.KeyManagerTypeCustomer || *m.KeyId != *created.KeyId {
					t.Fatalf("metadata %+v", m)
				}
				if got := string(m.CustomerMasterKeySpec); got != customerMasterKeySpec(tc.spec) {
					t.Fatalf("CustomerMasterKeySpec %q, want %q", got, customerMasterKeySpec(tc.spec))
				}
				if m.CurrentKeyMaterialId != nil {
					t.Fatalf("CurrentKeyMaterialId %s on a %s key; AWS gives it for symmetric encryption keys only", *m.CurrentKeyMaterialId, tc.spec)
				}
				checkAlgorithms(t, algorithmLists(m.EncryptionAlgorithms, m.SigningAlgorithms, m.MacAlgorithms, m.KeyAgreementAlgorithms), tc.spec, tc.usage, tc.algs)
			}

			pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: created.KeyId})
			if tc.usage == types.KeyUsageTypeGenerateVerifyMac {
				wantCode(t, err, "UnsupportedOperationException")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *pk.KeyId != *created.Arn || pk.KeySpec != tc.spec || pk.KeyUsage != tc.usage || string(pk.CustomerMasterKeySpec) != customerMasterKeySpec(tc.spec) {
				t.Fatalf("GetPublicKey %+v", pk)
			}
			checkAlgorithms(t, algorithmLists(pk.EncryptionAlgorithms, pk.SigningAlgorithms, nil, pk.KeyAgreementAlgorithms), tc.spec, tc.usage, tc.algs)
			if _, err := parsePublicKey(tc.spec, pk.PublicKey); err != nil {
				t.Fatalf("public key: %v", err)
			}
			// Each key is its own: a second GetPublicKey gives the same
			// bytes, and no other key has them (checked below).
			if again := publicKeyDER(t, c, created.Arn); !bytes.Equal(again, pk.PublicKey) {
				t.Fatal("GetPublicKey changed between calls")
			}

			// The bigger RSA keys sign too, with signatures of their size.
			if strings.HasPrefix(string(tc.spec), "RSA_") && tc.usage == types.KeyUsageTypeSignVerify {
				msg := []byte("a signature as long as the modulus")
				sig := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: created.KeyId, Message: msg,
					SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha512})).Signature
				if err := localVerify(tc.spec, pk.PublicKey, types.SigningAlgorithmSpecRsassaPssSha512, nil, msg, sig); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	// Symmetric keys have no public key either.
	sym := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	_, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: sym.KeyId})
	wantCode(t, err, "UnsupportedOperationException")

	// The deprecated CustomerMasterKeySpec still works on its own.
	old := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{
		CustomerMasterKeySpec: types.CustomerMasterKeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})).KeyMetadata
	if old.KeySpec != types.KeySpecEccNistP256 || old.CustomerMasterKeySpec != types.CustomerMasterKeySpecEccNistP256 {
		t.Fatalf("CreateKey with CustomerMasterKeySpec: KeySpec %s, CustomerMasterKeySpec %s", old.KeySpec, old.CustomerMasterKeySpec)
	}

	for _, tc := range []struct {
		spec  types.KeySpec
		usage types.KeyUsageType
		msg   string
	}{
		{types.KeySpecRsa2048, "", "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."},
		{types.KeySpecEccNistP256, "", "You must specify a KeyUsage value"},
		{types.KeySpecHmac256, "", "You must specify a KeyUsage value"},
		{types.KeySpecMlDsa44, "", "You must specify a KeyUsage value"},
		{types.KeySpecHmac256, types.KeyUsageTypeEncryptDecrypt, ""},
		{types.KeySpecHmac512, types.KeyUsageTypeSignVerify, ""},
		{types.KeySpecEccSecgP256k1, types.KeyUsageTypeKeyAgreement, ""},
		{types.KeySpecEccNistEdwards25519, types.KeyUsageTypeKeyAgreement, ""},
		{types.KeySpecEccNistEdwards25519, types.KeyUsageTypeEncryptDecrypt, ""},
		{types.KeySpecSymmetricDefault, types.KeyUsageTypeSignVerify, ""},
		{types.KeySpecSymmetricDefault, types.KeyUsageTypeGenerateVerifyMac, ""},
		{types.KeySpecSymmetricDefault, types.KeyUsageTypeKeyAgreement, ""},
		{types.KeySpecRsa2048, types.KeyUsageTypeKeyAgreement, ""},
		{types.KeySpecRsa3072, types.KeyUsageTypeGenerateVerifyMac, ""},
		{types.KeySpecEccNistP384, types.KeyUsageTypeEncryptDecrypt, ""},
		{types.KeySpecMlDsa65, types.KeyUsageTypeEncryptDecrypt, ""},
		{types.KeySpecMlDsa87, types.KeyUsageTypeKeyAgreement, ""},
		{types.KeySpecSm2, types.KeyUsageTypeGenerateVerifyMac, ""},
		{"ECC_NIST_P192", types.KeyUsageTypeSignVerify, "Value 'ECC_NIST_P192' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set"},
		{types.KeySpecEccNistP256, "SIGN", "Value 'SIGN' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set"},
	} {
		_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: tc.spec, KeyUsage: tc.usage})
		if err == nil {
			t.Fatalf("CreateKey %s with usage %q succeeded", tc.spec, tc.usage)
		}
		wantMessage(t, err, "ValidationException", tc.msg)
	}
	// The refusals created nothing.
	n := 0
	for p := awskms.NewListKeysPaginator(c, &awskms.ListKeysInput{}); p.HasMorePages(); {
		n += len(must[*awskms.ListKeysOutput](t)(p.NextPage(ctx)).Keys)
	}
	if want := len(validKeySpecs) + 2; n != want {
		t.Fatalf("%d keys listed, want %d", n, want)
	}
}

// signer is one signing key with the algorithms and message types to try.
type signer struct {
	spec types.KeySpec
	algs []types.SigningAlgorithmSpec
}

var signers = []signer{
	{types.KeySpecRsa2048, []types.SigningAlgorithmSpec{
		types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512,
		types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPssSha384, types.SigningAlgorithmSpecRsassaPssSha512}},
	{types.KeySpecEccNistP256, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256}},
	{types.KeySpecEccNistP384, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha384}},
	{types.KeySpecEccNistP521, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha512}},
	{types.KeySpecEccSecgP256k1, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256}},
	{types.KeySpecEccNistEdwards25519, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEd25519Sha512, types.SigningAlgorithmSpecEd25519PhSha512}},
	{types.KeySpecMlDsa44, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecMlDsaShake256}},
	{types.KeySpecMlDsa65, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecMlDsaShake256}},
	{types.KeySpecMlDsa87, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecMlDsaShake256}},
	{types.KeySpecSm2, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecSm2dsa}},
}

// messageTypes are the message types AWS accepts for a signing algorithm.
func messageTypes(alg types.SigningAlgorithmSpec) []types.MessageType {
	switch alg {
	case types.SigningAlgorithmSpecEd25519Sha512:
		return []types.MessageType{types.MessageTypeRaw}
	case types.SigningAlgorithmSpecEd25519PhSha512:
		return []types.MessageType{types.MessageTypeDigest}
	case types.SigningAlgorithmSpecMlDsaShake256:
		return []types.MessageType{types.MessageTypeRaw, types.MessageTypeExternalMu}
	}
	return []types.MessageType{types.MessageTypeRaw, types.MessageTypeDigest}
}

// testSM2ID is a distinguishing ID of our own: AWS signs an SM2DSA DIGEST
// as given, so a digest made with any ID verifies with that ID.
var testSM2ID = []byte("openkms@example.com")

// signingInput is what to send as Message for msg: the message, its digest
// for the algorithm, or its ML-DSA μ.
func signingInput(t testing.TB, spec types.KeySpec, der []byte, alg types.SigningAlgorithmSpec, mt types.MessageType, sm2ID, msg []byte) []byte {
	t.Helper()
	switch mt {
	case types.MessageTypeRaw:
		return msg
	case types.MessageTypeExternalMu:
		s, err := parseSPKI(der)
		if err != nil {
			t.Fatal(err)
		}
		return externalMu(s.PublicKey.Bytes, msg)
	}
	if alg == types.SigningAlgorithmSpecSm2dsa {
		k, err := parsePublicKey(spec, der)
		if err != nil {
			t.Fatal(err)
		}
		d, err := sm2.CalculateSM2Hash(k.(*ecdsa.PublicKey), msg, sm2ID)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	return digest(signingHash(alg), msg)
}

func TestSignVerify(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	keys := map[types.KeySpec]*types.KeyMetadata{}
	pubs := map[types.KeySpec][]byte{}
	for _, s := range signers {
		keys[s.spec] = createKey(t, c, s.spec, types.KeyUsageTypeSignVerify)
		pubs[s.spec] = publicKeyDER(t, c, keys[s.spec].KeyId)
	}
	msg := []byte("openkms-1.2.3-linux-amd64.tar.gz sha256=5d41402abc4b2a76b9719d911017c592 built 2026-01-01T00:00:00Z")

	for _, s := range signers {
		k, der := keys[s.spec], pubs[s.spec]
		for _, alg := range s.algs {
			for _, mt := range messageTypes(alg) {
				t.Run(fmt.Sprint(s.spec, "/", alg, "/", mt), func(t *testing.T) {
					var id []byte
					if alg == types.SigningAlgorithmSpecSm2dsa && mt == types.MessageTypeDigest {
						id = testSM2ID
					}
					in := signingInput(t, s.spec, der, alg, mt, id, msg)
					out := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: k.KeyId, Message: in, MessageType: mt, SigningAlgorithm: alg}))
					if *out.KeyId != *k.Arn || out.SigningAlgorithm != alg {
						t.Fatalf("Sign output: key %s, algorithm %s", *out.KeyId, out.SigningAlgorithm)
					}
					if err := localVerify(s.spec, der, alg, id, msg, out.Signature); err != nil {
						t.Fatalf("the public key does not verify the signature: %v", err)
					}
					v := must[*awskms.VerifyOutput](t)(c.Verify(ctx, &awskms.VerifyInput{KeyId: k.KeyId, Message: in, MessageType: mt, SigningAlgorithm: alg, Signature: out.Signature}))
					if !v.SignatureValid || *v.KeyId != *k.Arn || v.SigningAlgorithm != alg {
						t.Fatalf("Verify output %+v", v)
					}

					// The message type of Verify need not be the one used to
					// sign; it only says whether Message is hashed already.
					for _, other := range messageTypes(alg) {
						if other == mt {
							continue
						}
						_, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: k.KeyId, Message: signingInput(t, s.spec, der, alg, other, nil, msg),
							MessageType: other, SigningAlgorithm: alg, Signature: out.Signature})
						if id != nil {
							// A digest made with another distinguishing ID is
							// not what KMS computes for the RAW message.
							wantEmptyMessage(t, err, "KMSInvalidSignatureException")
						} else if err != nil {
							t.Fatalf("Verify as %s of a signature made as %s: %v", other, mt, err)
						}
					}

					bad := bytes.Clone(out.Signature)
					bad[len(bad)/2] ^= 0x01
					_, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: k.KeyId, Message: in, MessageType: mt, SigningAlgorithm: alg, Signature: bad})
					wantEmptyMessage(t, err, "KMSInvalidSignatureException")
					other := bytes.Clone(in)
					other[0] ^= 0x80
					_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: k.KeyId, Message: other, MessageType: mt, SigningAlgorithm: alg, Signature: out.Signature})
					wantEmptyMessage(t, err, "KMSInvalidSignatureException")
				})
			}
		}
	}

	// Ed25519ph signs SHA-512(message) with the Ed25519ph domain
	// separation: it is not a pure Ed25519 signature of the message.
	ed := keys[types.KeySpecEccNistEdwards25519]
	d := sha512.Sum512(msg)
	ph := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: ed.KeyId, Message: d[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEd25519PhSha512}))
	_, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: ed.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEd25519Sha512, Signature: ph.Signature})
	wantEmptyMessage(t, err, "KMSInvalidSignatureException")

	// A signature by another key of the same spec, and garbage, fail.
	p256 := keys[types.KeySpecEccNistP256]
	twin := createKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	sig := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: twin.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})).Signature
	for _, s := range [][]byte{sig, []byte("not a signature"), bytes.Repeat([]byte{0x30}, 72)} {
		_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: p256.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, Signature: s})
		wantEmptyMessage(t, err, "KMSInvalidSignatureException")
	}

	// Aliases work, and responses still name the key by ARN.
	must[*awskms.CreateAliasOutput](t)(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/release"), TargetKeyId: p256.KeyId}))
	viaAlias := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: aws.String("alias/release"), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}))
	if *viaAlias.KeyId != *p256.Arn {
		t.Fatalf("Sign through an alias answered KeyId %s", *viaAlias.KeyId)
	}
	if pk := must[*awskms.GetPublicKeyOutput](t)(c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String("alias/release")})); *pk.KeyId != *p256.Arn || !bytes.Equal(pk.PublicKey, pubs[types.KeySpecEccNistP256]) {
		t.Fatalf("GetPublicKey through an alias: %s", *pk.KeyId)
	}
	// The largest RAW message.
	longest := bytes.Repeat([]byte("x"), 4096)
	sig = must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: p256.KeyId, Message: longest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})).Signature
	if err := localVerify(types.KeySpecEccNistP256, pubs[types.KeySpecEccNistP256], types.SigningAlgorithmSpecEcdsaSha256, nil, longest, sig); err != nil {
		t.Fatal(err)
	}

	sym := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	rsaKey, p384, mldsa := keys[types.KeySpecRsa2048], keys[types.KeySpecEccNistP384], keys[types.KeySpecMlDsa65]
	for _, tc := range []struct {
		name string
		key  *types.KeyMetadata
		msg  []byte
		mt   types.MessageType
		alg  types.SigningAlgorithmSpec
		code string
		text string // %s is the operation
	}{
		{"short digest", rsaKey, make([]byte, 31), types.MessageTypeDigest, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, "ValidationException", "Digest is invalid length for algorithm RSASSA_PKCS1_V1_5_SHA_256."},
		{"long digest", p384, make([]byte, 64), types.MessageTypeDigest, types.SigningAlgorithmSpecEcdsaSha384, "ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_384."},
		{"SM2 digest", keys[types.KeySpecSm2], make([]byte, 33), types.MessageTypeDigest, types.SigningAlgorithmSpecSm2dsa, "ValidationException", "Digest is invalid length for algorithm SM2DSA."},
		{"Ed25519 digest", ed, make([]byte, 64), types.MessageTypeDigest, types.SigningAlgorithmSpecEd25519Sha512, "ValidationException", ""},
		{"Ed25519ph raw", ed, msg, types.MessageTypeRaw, types.SigningAlgorithmSpecEd25519PhSha512, "ValidationException", ""},
		{"Ed25519ph short digest", ed, make([]byte, 32), types.MessageTypeDigest, types.SigningAlgorithmSpecEd25519PhSha512, "ValidationException", ""},
		{"ML-DSA digest", mldsa, make([]byte, 64), types.MessageTypeDigest, types.SigningAlgorithmSpecMlDsaShake256, "ValidationException", ""},
		{"short mu", mldsa, make([]byte, 32), types.MessageTypeExternalMu, types.SigningAlgorithmSpecMlDsaShake256, "ValidationException", ""},
		{"mu for ECDSA", p256, make([]byte, 64), types.MessageTypeExternalMu, types.SigningAlgorithmSpecEcdsaSha256, "ValidationException", ""},
		{"mu for RSA", rsaKey, make([]byte, 64), types.MessageTypeExternalMu, types.SigningAlgorithmSpecRsassaPssSha512, "ValidationException", ""},
		{"message too long", p256, make([]byte, 4097), types.MessageTypeRaw, types.SigningAlgorithmSpecEcdsaSha256, "ValidationException", "Member must have length less than or equal to 4096"},
		{"empty message", p256, []byte{}, types.MessageTypeRaw, types.SigningAlgorithmSpecEcdsaSha256, "ValidationException", "Member must have length greater than or equal to 1"},
		{"bad message type", p256, msg, "HASHED", types.SigningAlgorithmSpecEcdsaSha256, "ValidationException", "at 'messageType' failed to satisfy constraint: Member must satisfy enum value set"},
		{"bad algorithm", p256, msg, types.MessageTypeRaw, "ECDSA_SHA_1", "ValidationException", "at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set"},
		{"other curve's hash", p256, msg, types.MessageTypeRaw, types.SigningAlgorithmSpecEcdsaSha384, "InvalidKeyUsageException", ""},
		{"PSS on ECC", p384, msg, types.MessageTypeRaw, types.SigningAlgorithmSpecRsassaPssSha256, "InvalidKeyUsageException", ""},
		{"ECDSA on RSA", rsaKey, msg, types.MessageTypeRaw, types.SigningAlgorithmSpecEcdsaSha256, "InvalidKeyUsageException", ""},
		{"SM2DSA on P-256", p256, msg, types.MessageTypeRaw, types.SigningAlgorithmSpecSm2dsa, "InvalidKeyUsageException", ""},
		{"ECDSA on SM2", keys[types.KeySpecSm2], msg, types.MessageTypeRaw, types.SigningAlgorithmSpecEcdsaSha256, "InvalidKeyUsageException", ""},
		{"ML-DSA on Ed25519", ed, msg, types.MessageTypeRaw, types.SigningAlgorithmSpecMlDsaShake256, "InvalidKeyUsageException", ""},
		{"Ed25519 on ML-DSA", mldsa, msg, types.MessageTypeRaw, types.SigningAlgorithmSpecEd25519Sha512, "InvalidKeyUsageException", ""},
		{"ECDSA on secp256k1 with SHA-512", keys[types.KeySpecEccSecgP256k1], msg, types.MessageTypeRaw, types.SigningAlgorithmSpecEcdsaSha512, "InvalidKeyUsageException", ""},
		{"encryption key", sym, msg, types.MessageTypeRaw, types.SigningAlgorithmSpecEcdsaSha256, "InvalidKeyUsageException", *sym.Arn + " key usage is ENCRYPT_DECRYPT which is not valid for %s."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Sign(ctx, &awskms.SignInput{KeyId: tc.key.KeyId, Message: tc.msg, MessageType: tc.mt, SigningAlgorithm: tc.alg})
			wantMessage(t, err, tc.code, strings.ReplaceAll(tc.text, "%s", "Sign"))
			_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: tc.key.KeyId, Message: tc.msg, MessageType: tc.mt, SigningAlgorithm: tc.alg, Signature: make([]byte, 64)})
			wantMessage(t, err, tc.code, strings.ReplaceAll(tc.text, "%s", "Verify"))
		})
	}

	// Signing keys neither encrypt nor decrypt, and signatures have a size limit.
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: rsaKey.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantMessage(t, err, "InvalidKeyUsageException", *rsaKey.Arn+" key usage is SIGN_VERIFY which is not valid for Encrypt.")
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{KeyId: rsaKey.KeyId, CiphertextBlob: make([]byte, 256), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantMessage(t, err, "InvalidKeyUsageException", *rsaKey.Arn+" key usage is SIGN_VERIFY which is not valid for Decrypt.")
	_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: mldsa.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256, Signature: make([]byte, 6145)})
	wantMessage(t, err, "ValidationException", "Member must have length less than or equal to 6144")

	// Disabled keys neither sign nor verify; enabled again, they do.
	signP256 := func() error {
		_, err := c.Sign(ctx, &awskms.SignInput{KeyId: p256.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		return err
	}
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: p256.KeyId}))
	wantMessage(t, signP256(), "DisabledException", *p256.Arn+" is disabled.")
	_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: p256.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, Signature: viaAlias.Signature})
	wantCode(t, err, "DisabledException")
	must[*awskms.EnableKeyOutput](t)(c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: p256.KeyId}))
	if err := signP256(); err != nil {
		t.Fatalf("Sign after EnableKey: %v", err)
	}
	// DryRun checks everything and signs nothing.
	_, err = c.Sign(ctx, &awskms.SignInput{KeyId: p256.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperationException")
	_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: p256.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, Signature: viaAlias.Signature, DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperationException")
	_, err = c.Sign(ctx, &awskms.SignInput{KeyId: p256.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384, DryRun: aws.Bool(true)})
	wantCode(t, err, "InvalidKeyUsageException")
	// Pending deletion.
	must[*awskms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: twin.KeyId, PendingWindowInDays: aws.Int32(7)}))
	_, err = c.Sign(ctx, &awskms.SignInput{KeyId: twin.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantMessage(t, err, "KMSInvalidStateException", *twin.Arn+" is pending deletion.")

	t.Run("openssl", func(t *testing.T) {
		if _, err := exec.LookPath("openssl"); err != nil {
			t.Fatal("openssl is needed for this test and is not on PATH")
		}
		dir := t.TempDir()
		for _, tc := range []struct {
			spec types.KeySpec
			alg  types.SigningAlgorithmSpec
			args []string // the verify command; pub.pem, sig.bin and msg.bin are in dir
		}{
			{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, []string{"dgst", "-sha256"}},
			{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, []string{"dgst", "-sha384"}},
			{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512, []string{"dgst", "-sha512"}},
			{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256, []string{"dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"}},
			{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha384, []string{"dgst", "-sha384", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:48"}},
			{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha512, []string{"dgst", "-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:64"}},
			{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, []string{"dgst", "-sha256"}},
			{types.KeySpecEccNistP384, types.SigningAlgorithmSpecEcdsaSha384, []string{"dgst", "-sha384"}},
			{types.KeySpecEccNistP521, types.SigningAlgorithmSpecEcdsaSha512, []string{"dgst", "-sha512"}},
			{types.KeySpecEccNistEdwards25519, types.SigningAlgorithmSpecEd25519Sha512, nil},
		} {
			der := pubs[tc.spec]
			os.WriteFile(filepath.Join(dir, "pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
			os.WriteFile(filepath.Join(dir, "msg.bin"), msg, 0o600)
			args := append(tc.args, "-verify", "pub.pem", "-signature", "sig.bin", "msg.bin")
			if tc.args == nil {
				args = []string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg.bin", "-sigfile", "sig.bin"}
			}
			for _, mt := range messageTypes(tc.alg) {
				sig := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: keys[tc.spec].KeyId,
					Message: signingInput(t, tc.spec, der, tc.alg, mt, nil, msg), MessageType: mt, SigningAlgorithm: tc.alg})).Signature
				os.WriteFile(filepath.Join(dir, "sig.bin"), sig, 0o600)
				cmd := exec.Command("openssl", args...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil || !strings.Contains(string(out), "Verified") {
					t.Fatalf("%s %s: openssl %s: %v\n%s", tc.alg, mt, strings.Join(args, " "), err, out)
				}
				// And openssl is not just saying yes.
				sig[len(sig)/3] ^= 0x04
				os.WriteFile(filepath.Join(dir, "sig.bin"), sig, 0o600)
				cmd = exec.Command("openssl", args...)
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err == nil {
					t.Fatalf("%s: openssl accepted a corrupted signature:\n%s", tc.alg, out)
				}
			}
		}
	})
}

// rsaOAEPHash is the hash of an RSAES_OAEP algorithm.
func rsaOAEPHash(alg types.EncryptionAlgorithmSpec) crypto.Hash {
	if alg == types.EncryptionAlgorithmSpecRsaesOaepSha1 {
		return crypto.SHA1
	}
	return crypto.SHA256
}

func TestAsymmetricEncryption(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	rsa2048 := createKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	rsa3072 := createKey(t, c, types.KeySpecRsa3072, types.KeyUsageTypeEncryptDecrypt)
	sm2Key := createKey(t, c, types.KeySpecSm2, types.KeyUsageTypeEncryptDecrypt)
	sym := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata

	for _, k := range []*types.KeyMetadata{rsa2048, rsa3072} {
		pk, err := parsePublicKey(k.KeySpec, publicKeyDER(t, c, k.KeyId))
		if err != nil {
			t.Fatal(err)
		}
		pub := pk.(*rsa.PublicKey)
		for _, alg := range []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecRsaesOaepSha1, types.EncryptionAlgorithmSpecRsaesOaepSha256} {
			t.Run(fmt.Sprint(k.KeySpec, "/", alg), func(t *testing.T) {
				h := rsaOAEPHash(alg)
				limit := pub.Size() - 2*h.Size() - 2
				plain := make([]byte, limit)
				rand.Read(plain)

				// Encrypted here with the public key, decrypted by the server.
				local, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, plain, nil)
				if err != nil {
					t.Fatal(err)
				}
				dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{KeyId: k.KeyId, CiphertextBlob: local, EncryptionAlgorithm: alg}))
				if !bytes.Equal(dec.Plaintext, plain) || *dec.KeyId != *k.Arn || dec.EncryptionAlgorithm != alg || dec.KeyMaterialId != nil {
					t.Fatalf("Decrypt of a local OAEP ciphertext: key %s, algorithm %s, material %v, plaintext ok %v",
						*dec.KeyId, dec.EncryptionAlgorithm, dec.KeyMaterialId, bytes.Equal(dec.Plaintext, plain))
				}

				// Encrypted by the server: a bare OAEP ciphertext, randomized.
				enc := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: plain, EncryptionAlgorithm: alg}))
				again := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: plain, EncryptionAlgorithm: alg}))
				if len(enc.CiphertextBlob) != pub.Size() || *enc.KeyId != *k.Arn || enc.EncryptionAlgorithm != alg || bytes.Equal(enc.CiphertextBlob, again.CiphertextBlob) {
					t.Fatalf("Encrypt: %d-byte ciphertext, key %s, algorithm %s", len(enc.CiphertextBlob), *enc.KeyId, enc.EncryptionAlgorithm)
				}
				dec = must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{KeyId: k.Arn, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: alg}))
				if !bytes.Equal(dec.Plaintext, plain) {
					t.Fatal("server ciphertext does not decrypt to its plaintext")
				}

				_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: make([]byte, limit+1), EncryptionAlgorithm: alg})
				wantMessage(t, err, "ValidationException", fmt.Sprintf("Algorithm %s and key spec %s cannot encrypt data larger than %d bytes.", alg, k.KeySpec, limit))

				// The other OAEP hash does not decrypt it.
				otherAlg := types.EncryptionAlgorithmSpecRsaesOaepSha256
				if alg == otherAlg {
					otherAlg = types.EncryptionAlgorithmSpecRsaesOaepSha1
				}
				_, err = c.Decrypt(ctx, &awskms.DecryptInput{KeyId: k.KeyId, CiphertextBlob: local, EncryptionAlgorithm: otherAlg})
				wantEmptyMessage(t, err, "InvalidCiphertextException")
			})
		}
	}

	msg := []byte("a secret for RSA")
	ct := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: rsa2048.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})).CiphertextBlob
	tampered := bytes.Clone(ct)
	tampered[10] ^= 1
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"encrypt with context", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: rsa2048.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256, EncryptionContext: map[string]string{"a": "b"}})
			return err
		}, "ValidationException"},
		{"decrypt with context", func() error {
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: rsa2048.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256, EncryptionContext: map[string]string{"a": "b"}})
			return err
		}, "ValidationException"},
		{"encrypt without algorithm", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: rsa2048.KeyId, Plaintext: msg})
			return err
		}, "InvalidKeyUsageException"},
		{"encrypt with SYMMETRIC_DEFAULT", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: rsa2048.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault})
			return err
		}, "InvalidKeyUsageException"},
		{"encrypt with SM2PKE", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: rsa2048.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke})
			return err
		}, "InvalidKeyUsageException"},
		{"OAEP on SM2", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sm2Key.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
			return err
		}, "InvalidKeyUsageException"},
		{"OAEP on a symmetric key", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			return err
		}, "InvalidKeyUsageException"},
		// Without KeyId, Decrypt reads the ciphertext as a symmetric blob
		// (SYMMETRIC_DEFAULT); with an asymmetric algorithm it needs the
		// KeyId, which AWS requires for asymmetric ciphertexts.
		{"decrypt without key id", func() error {
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct})
			return err
		}, "InvalidCiphertextException"},
		{"decrypt without key id, OAEP", func() error {
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			return err
		}, "ValidationException"},
		{"decrypt with the other RSA key", func() error {
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: rsa3072.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			return err
		}, "InvalidCiphertextException"},
		{"decrypt tampered", func() error {
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: rsa2048.KeyId, CiphertextBlob: tampered, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			return err
		}, "InvalidCiphertextException"},
		{"decrypt garbage", func() error {
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: rsa2048.KeyId, CiphertextBlob: []byte("garbage"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			return err
		}, "InvalidCiphertextException"},
		{"data key under RSA", func() error {
			_, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: rsa2048.KeyId, KeySpec: types.DataKeySpecAes256})
			return err
		}, "InvalidKeyUsageException"},
		{"dry run", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: rsa2048.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256, DryRun: aws.Bool(true)})
			return err
		}, "DryRunOperationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.code, "Ciphertext") {
				wantEmptyMessage(t, tc.call(), tc.code)
			} else {
				wantCode(t, tc.call(), tc.code)
			}
		})
	}

	t.Run("ReEncrypt", func(t *testing.T) {
		ec := map[string]string{"moved": "yes"}
		// RSA to symmetric.
		re := must[*awskms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: ct, SourceKeyId: rsa2048.KeyId,
			SourceEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256, DestinationKeyId: sym.KeyId, DestinationEncryptionContext: ec}))
		if *re.SourceKeyId != *rsa2048.Arn || *re.KeyId != *sym.Arn || re.SourceEncryptionAlgorithm != types.EncryptionAlgorithmSpecRsaesOaepSha256 ||
			re.DestinationEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault || re.SourceKeyMaterialId != nil ||
			re.DestinationKeyMaterialId == nil || *re.DestinationKeyMaterialId != *sym.CurrentKeyMaterialId {
			t.Fatalf("ReEncrypt RSA to symmetric: %+v", re)
		}
		dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: ec}))
		if !bytes.Equal(dec.Plaintext, msg) {
			t.Fatalf("after ReEncrypt to the symmetric key: %q", dec.Plaintext)
		}
		// And back to RSA, with the other OAEP hash.
		back := must[*awskms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: re.CiphertextBlob, SourceEncryptionContext: ec,
			DestinationKeyId: rsa2048.Arn, DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1}))
		if *back.SourceKeyId != *sym.Arn || *back.KeyId != *rsa2048.Arn || back.DestinationEncryptionAlgorithm != types.EncryptionAlgorithmSpecRsaesOaepSha1 ||
			back.SourceKeyMaterialId == nil || back.DestinationKeyMaterialId != nil || len(back.CiphertextBlob) != 256 {
			t.Fatalf("ReEncrypt symmetric to RSA: %+v", back)
		}
		dec = must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{KeyId: rsa2048.KeyId, CiphertextBlob: back.CiphertextBlob, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1}))
		if !bytes.Equal(dec.Plaintext, msg) {
			t.Fatalf("after ReEncrypt back to RSA: %q", dec.Plaintext)
		}
		// No context for an RSA destination; the destination's size limit holds.
		_, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: re.CiphertextBlob, SourceEncryptionContext: ec,
			DestinationKeyId: rsa2048.Arn, DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1, DestinationEncryptionContext: ec})
		wantCode(t, err, "ValidationException")
		large := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.KeyId, Plaintext: make([]byte, 215)})).CiphertextBlob
		_, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: large, DestinationKeyId: rsa2048.Arn, DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
		wantMessage(t, err, "ValidationException", "Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than 214 bytes.")
	})

	t.Run("SM2PKE", func(t *testing.T) {
		k, err := parsePublicKey(types.KeySpecSm2, publicKeyDER(t, c, sm2Key.KeyId))
		if err != nil {
			t.Fatal(err)
		}
		pub := k.(*ecdsa.PublicKey)
		for _, n := range []int{1, 100, 1024} {
			plain := make([]byte, n)
			rand.Read(plain)
			// GM/T 0009 ASN.1 ciphertext made here.
			local, err := sm2.EncryptASN1(rand.Reader, pub, plain)
			if err != nil {
				t.Fatal(err)
			}
			dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{KeyId: sm2Key.KeyId, CiphertextBlob: local, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke}))
			if !bytes.Equal(dec.Plaintext, plain) || *dec.KeyId != *sm2Key.Arn || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSm2pke {
				t.Fatalf("Decrypt of a local SM2 ciphertext (%d bytes)", n)
			}
			// The server's: the same ASN.1 form, C3 (SM3) and C2 inside.
			enc := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sm2Key.KeyId, Plaintext: plain, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke}))
			var parts struct {
				X, Y   *big.Int
				Hash   []byte
				Cipher []byte
			}
			if rest, err := asn1.Unmarshal(enc.CiphertextBlob, &parts); err != nil || len(rest) > 0 || len(parts.Hash) != 32 || len(parts.Cipher) != n {
				t.Fatalf("SM2PKE ciphertext is not GM/T 0009 ASN.1 (%v, %d trailing bytes)", err, len(rest))
			}
			dec = must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{KeyId: sm2Key.KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke}))
			if !bytes.Equal(dec.Plaintext, plain) {
				t.Fatal("server SM2 ciphertext does not decrypt to its plaintext")
			}
			local[len(local)-1] ^= 1
			_, err = c.Decrypt(ctx, &awskms.DecryptInput{KeyId: sm2Key.KeyId, CiphertextBlob: local, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke})
			wantEmptyMessage(t, err, "InvalidCiphertextException")
		}
		_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sm2Key.KeyId, Plaintext: make([]byte, 1025), EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke})
		wantCode(t, err, "ValidationException")
	})

	// Encryption keys do not sign.
	_, err := c.Sign(ctx, &awskms.SignInput{KeyId: rsa2048.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	wantMessage(t, err, "InvalidKeyUsageException", *rsa2048.Arn+" key usage is ENCRYPT_DECRYPT which is not valid for Sign.")

	// Disabled: no decryption either.
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: rsa2048.KeyId}))
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{KeyId: rsa2048.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantMessage(t, err, "DisabledException", *rsa2048.Arn+" is disabled.")
}

// checkKeyPair fails unless priv is a PKCS#8 private key of spec whose
// public half is exactly the SubjectPublicKeyInfo pub.
func checkKeyPair(t *testing.T, spec types.DataKeyPairSpec, priv, pub []byte) {
	t.Helper()
	if _, err := parsePublicKey(types.KeySpec(spec), pub); err != nil {
		t.Fatalf("%s public key: %v", spec, err)
	}
	var derived []byte
	switch spec {
	case types.DataKeyPairSpecSm2:
		k, err := smx509.ParsePKCS8PrivateKey(priv)
		if err != nil {
			t.Fatalf("SM2 PKCS#8: %v", err)
		}
		sk, ok := k.(*sm2.PrivateKey)
		if !ok {
			t.Fatalf("SM2 PKCS#8 holds a %T", k)
		}
		if derived, err = smx509.MarshalPKIXPublicKey(&sk.PublicKey); err != nil {
			t.Fatal(err)
		}
	case types.DataKeyPairSpecEccSecgP256k1:
		// Neither the standard library nor gmsm reads secp256k1 keys.
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "priv.der"), priv, 0o600)
		cmd := exec.Command("openssl", "pkey", "-inform", "DER", "-in", "priv.der", "-pubout", "-outform", "DER", "-out", "pub.der")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl pkey of the secp256k1 PKCS#8: %v\n%s", err, out)
		}
		derived, _ = os.ReadFile(filepath.Join(dir, "pub.der"))
	default:
		k, err := x509.ParsePKCS8PrivateKey(priv)
		if err != nil {
			t.Fatalf("%s PKCS#8: %v", spec, err)
		}
		if derived, err = x509.MarshalPKIXPublicKey(k.(crypto.Signer).Public()); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(derived, pub) {
		t.Fatalf("%s: the private key's public half is not PublicKey", spec)
	}
}

func TestGenerateDataKeyPair(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed for this test and is not on PATH")
	}
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	ec := map[string]string{"service": "signing", "tenant": "acme"}
	for _, spec := range []types.DataKeyPairSpec{
		types.DataKeyPairSpecRsa2048, types.DataKeyPairSpecRsa3072, types.DataKeyPairSpecRsa4096,
		types.DataKeyPairSpecEccNistP256, types.DataKeyPairSpecEccNistP384, types.DataKeyPairSpecEccNistP521,
		types.DataKeyPairSpecEccSecgP256k1, types.DataKeyPairSpecEccNistEdwards25519, types.DataKeyPairSpecSm2,
	} {
		t.Run(string(spec), func(t *testing.T) {
			out := must[*awskms.GenerateDataKeyPairOutput](t)(c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: k.KeyId, KeyPairSpec: spec, EncryptionContext: ec}))
			if *out.KeyId != *k.Arn || out.KeyPairSpec != spec || out.KeyMaterialId == nil || *out.KeyMaterialId != *k.CurrentKeyMaterialId {
				t.Fatalf("GenerateDataKeyPair: key %s, spec %s, material %v", *out.KeyId, out.KeyPairSpec, out.KeyMaterialId)
			}
			checkKeyPair(t, spec, out.PrivateKeyPlaintext, out.PublicKey)
			dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: ec}))
			if !bytes.Equal(dec.Plaintext, out.PrivateKeyPlaintext) || *dec.KeyId != *k.Arn {
				t.Fatal("PrivateKeyCiphertextBlob does not decrypt to PrivateKeyPlaintext")
			}
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: out.PrivateKeyCiphertextBlob})
			wantEmptyMessage(t, err, "InvalidCiphertextException")

			wp := must[*awskms.GenerateDataKeyPairWithoutPlaintextOutput](t)(c.GenerateDataKeyPairWithoutPlaintext(ctx,
				&awskms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: k.Arn, KeyPairSpec: spec, EncryptionContext: ec}))
			if *wp.KeyId != *k.Arn || wp.KeyPairSpec != spec || wp.KeyMaterialId == nil || *wp.KeyMaterialId != *k.CurrentKeyMaterialId || bytes.Equal(wp.PublicKey, out.PublicKey) {
				t.Fatalf("GenerateDataKeyPairWithoutPlaintext: key %s, spec %s, material %v", *wp.KeyId, wp.KeyPairSpec, wp.KeyMaterialId)
			}
			dec = must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: wp.PrivateKeyCiphertextBlob, EncryptionContext: ec}))
			checkKeyPair(t, spec, dec.Plaintext, wp.PublicKey)
		})
	}

	signing := createKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	mac := createKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	sm2Enc := createKey(t, c, types.KeySpecSm2, types.KeyUsageTypeEncryptDecrypt)
	for _, tc := range []struct {
		key  *types.KeyMetadata
		code string
		msg  string // %s is the operation
	}{
		{signing, "InvalidKeyUsageException", *signing.Arn + " key usage is SIGN_VERIFY which is not valid for %s."},
		{mac, "InvalidKeyUsageException", *mac.Arn + " key usage is GENERATE_VERIFY_MAC which is not valid for %s."},
		{sm2Enc, "InvalidKeyUsageException", ""},
	} {
		_, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: tc.key.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
		wantMessage(t, err, tc.code, strings.ReplaceAll(tc.msg, "%s", "GenerateDataKeyPair"))
		_, err = c.GenerateDataKeyPairWithoutPlaintext(ctx, &awskms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: tc.key.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
		wantMessage(t, err, tc.code, strings.ReplaceAll(tc.msg, "%s", "GenerateDataKeyPairWithoutPlaintext"))
		_, err = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: tc.key.KeyId, KeySpec: types.DataKeySpecAes256})
		wantMessage(t, err, tc.code, strings.ReplaceAll(tc.msg, "%s", "GenerateDataKey"))
	}
	_, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: k.KeyId, KeyPairSpec: "RSA_1024"})
	wantMessage(t, err, "ValidationException", "Value 'RSA_1024' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set")
	_, err = c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: k.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256, DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperationException")
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: k.KeyId}))
	_, err = c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: k.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	wantCode(t, err, "DisabledException")
}

// TestSignAuthorization: Sign and Verify are separate permissions, key
// policies can restrict the signing algorithm and message type, DryRun
// answers, grants hand out the asymmetric operations, and asymmetric keys
// do not rotate.
func TestSignAuthorization(t *testing.T) {
	ts := startServer(t, server.Config{})
	root := newIAMClient(ts.URL, rootCreds)
	owner := ts.client(testRegion)
	key := createKey(t, owner, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	msg := []byte("signed by a user who may only sign")
	signAs := func(c *awskms.Client, k *types.KeyMetadata, alg types.SigningAlgorithmSpec, mt types.MessageType, m []byte, dryRun bool) ([]byte, error) {
		out, err := c.Sign(ctx, &awskms.SignInput{KeyId: k.Arn, Message: m, MessageType: mt, SigningAlgorithm: alg, DryRun: aws.Bool(dryRun)})
		if err != nil {
			return nil, err
		}
		return out.Signature, nil
	}
	verifyAs := func(c *awskms.Client, k *types.KeyMetadata, alg types.SigningAlgorithmSpec, mt types.MessageType, m, sig []byte, dryRun bool) error {
		_, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: k.Arn, Message: m, MessageType: mt, SigningAlgorithm: alg, Signature: sig, DryRun: aws.Bool(dryRun)})
		return err
	}

	// A user allowed kms:Sign alone.
	signer := kmsAs(ts.URL, createUserWithKey(t, root, "signer"))
	putUserPolicy(t, root, "signer", "sign-only", allowDoc("kms:Sign", "*"))
	sig, err := signAs(signer, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, false)
	if err != nil {
		t.Fatalf("Sign with kms:Sign allowed: %v", err)
	}
	wantMessage(t, verifyAs(signer, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, sig, false), "AccessDeniedException", "kms:Verify")
	_, err = signer.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: key.Arn})
	wantMessage(t, err, "AccessDeniedException", "kms:GetPublicKey")
	_, err = signAs(signer, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, true)
	wantCode(t, err, "DryRunOperationException")
	wantCode(t, verifyAs(signer, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, sig, true), "AccessDeniedException")
	if err := verifyAs(owner, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, sig, false); err != nil {
		t.Fatalf("the owner's Verify of the signer's signature: %v", err)
	}

	// A key policy allowing one user PSS-SHA-256 over digests only.
	pol := `{"Version":"2012-10-17","Statement":[
		{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Sid":"PSS digests only","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/releaser"},
		 "Action":["kms:Sign","kms:Verify"],"Resource":"*",
		 "Condition":{"StringEquals":{"kms:SigningAlgorithm":"RSASSA_PSS_SHA_256","kms:MessageType":"DIGEST"}}}]}`
	rsaKey := must[*awskms.CreateKeyOutput](t)(owner.CreateKey(ctx, &awskms.CreateKeyInput{
		KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify, Policy: aws.String(pol)})).KeyMetadata
	releaser := kmsAs(ts.URL, createUserWithKey(t, root, "releaser"))
	d := sha256.Sum256(msg)
	pss, err := signAs(releaser, rsaKey, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeDigest, d[:], false)
	if err != nil {
		t.Fatalf("Sign allowed by the key policy's condition: %v", err)
	}
	if err := verifyAs(releaser, rsaKey, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeDigest, d[:], pss, false); err != nil {
		t.Fatalf("Verify allowed by the key policy's condition: %v", err)
	}
	_, err = signAs(releaser, rsaKey, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.MessageTypeDigest, d[:], false)
	wantMessage(t, err, "AccessDeniedException", "kms:Sign")
	_, err = signAs(releaser, rsaKey, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeRaw, msg, false)
	wantCode(t, err, "AccessDeniedException")
	wantCode(t, verifyAs(releaser, rsaKey, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeRaw, msg, pss, false), "AccessDeniedException")
	_, err = signAs(releaser, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, d[:], false)
	wantCode(t, err, "AccessDeniedException") // the policy is the RSA key's only
	// The condition is no obstacle for the account's administrators.
	if _, err := signAs(owner, rsaKey, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512, types.MessageTypeRaw, msg, false); err != nil {
		t.Fatalf("owner Sign: %v", err)
	}

	// Grants: a user without any policy gets exactly the granted operations.
	const graceARN = "arn:aws:iam::111122223333:user/grace"
	grace := kmsAs(ts.URL, createUserWithKey(t, root, "grace"))
	_, err = signAs(grace, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, false)
	wantCode(t, err, "AccessDeniedException")
	g := must[*awskms.CreateGrantOutput](t)(owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: key.KeyId, GranteePrincipal: aws.String(graceARN),
		Operations: []types.GrantOperation{types.GrantOperationSign, types.GrantOperationVerify, types.GrantOperationGetPublicKey}}))
	gs, err := signAs(grace, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, false)
	if err != nil {
		t.Fatalf("Sign through a grant: %v", err)
	}
	if err := verifyAs(grace, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, gs, false); err != nil {
		t.Fatalf("Verify through a grant: %v", err)
	}
	pk, err := grace.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: key.Arn, GrantTokens: []string{*g.GrantToken}})
	if err != nil {
		t.Fatalf("GetPublicKey through a grant: %v", err)
	}
	if err := localVerify(types.KeySpecEccNistP256, pk.PublicKey, types.SigningAlgorithmSpecEcdsaSha256, nil, msg, gs); err != nil {
		t.Fatal(err)
	}
	_, err = grace.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key.Arn})
	wantCode(t, err, "AccessDeniedException")
	must[*awskms.RevokeGrantOutput](t)(owner.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: key.KeyId, GrantId: g.GrantId}))
	_, err = signAs(grace, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, false)
	wantCode(t, err, "AccessDeniedException")
	// Operations a signing key does not have cannot be granted.
	_, err = owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: key.KeyId, GranteePrincipal: aws.String(graceARN),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	wantCode(t, err, "ValidationException")

	// Asymmetric keys have no rotation.
	_, err = owner.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: key.KeyId})
	wantCode(t, err, "UnsupportedOperationException")
	_, err = owner.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: rsaKey.KeyId})
	wantCode(t, err, "UnsupportedOperationException")

	// An IAM deny beats the grant-less allow.
	putUserPolicy(t, root, "signer", "no-ecdsa", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Sign","Resource":"*",
		"Condition":{"StringEquals":{"kms:SigningAlgorithm":"ECDSA_SHA_256"}}}]}`)
	_, err = signAs(signer, key, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, msg, false)
	wantMessage(t, err, "AccessDeniedException", "explicit deny")
	if _, err := root.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("signer"), PolicyName: aws.String("no-ecdsa")}); err != nil {
		t.Fatal(err)
	}
}

// TestAsymmetricKeysSurviveRestart: after a restart on the same data dir,
// every kind of key still works with the material it had: signatures
// verify with the public keys read before, ciphertexts decrypt, MACs and
// shared secrets come out the same.
func TestAsymmetricKeysSurviveRestart(t *testing.T) {
	cfg := server.Config{DataDir: t.TempDir()}
	ts := startServer(t, cfg)
	c := ts.client(testRegion)
	type signingKey struct {
		spec types.KeySpec
		alg  types.SigningAlgorithmSpec
		key  *types.KeyMetadata
		pub  []byte
	}
	var signing []*signingKey
	for _, s := range []signingKey{
		{spec: types.KeySpecEccNistP256, alg: types.SigningAlgorithmSpecEcdsaSha256},
		{spec: types.KeySpecEccSecgP256k1, alg: types.SigningAlgorithmSpecEcdsaSha256},
		{spec: types.KeySpecEccNistEdwards25519, alg: types.SigningAlgorithmSpecEd25519Sha512},
		{spec: types.KeySpecMlDsa44, alg: types.SigningAlgorithmSpecMlDsaShake256},
		{spec: types.KeySpecSm2, alg: types.SigningAlgorithmSpecSm2dsa},
		{spec: types.KeySpecRsa2048, alg: types.SigningAlgorithmSpecRsassaPssSha256},
	} {
		s.key = createKey(t, c, s.spec, types.KeyUsageTypeSignVerify)
		s.pub = publicKeyDER(t, c, s.key.KeyId)
		signing = append(signing, &s)
	}
	msg := []byte("still me after a restart")
	enc := createKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	ct := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: enc.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})).CiphertextBlob
	macKey := createKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	mac := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: macKey.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})).Mac
	agree := createKey(t, c, types.KeySpecEccNistP384, types.KeyUsageTypeKeyAgreement)
	peer, err := newECDHPeer(ecdh.P384())
	if err != nil {
		t.Fatal(err)
	}
	secret := must[*awskms.DeriveSharedSecretOutput](t)(c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: agree.KeyId,
		KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peer.spki})).SharedSecret
	ts.stop()

	ts = startServer(t, cfg)
	c = ts.client(testRegion)
	for _, s := range signing {
		if pub := publicKeyDER(t, c, s.key.KeyId); !bytes.Equal(pub, s.pub) {
			t.Fatalf("%s: public key changed across the restart", s.spec)
		}
		sig := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: s.key.KeyId, Message: msg, SigningAlgorithm: s.alg})).Signature
		if err := localVerify(s.spec, s.pub, s.alg, nil, msg, sig); err != nil {
			t.Fatalf("%s: a signature after the restart does not verify with the key from before: %v", s.spec, err)
		}
	}
	dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{KeyId: enc.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256}))
	if !bytes.Equal(dec.Plaintext, msg) {
		t.Fatal("RSA ciphertext from before the restart does not decrypt")
	}
	again := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: macKey.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})).Mac
	if !bytes.Equal(again, mac) {
		t.Fatal("the HMAC key changed across the restart")
	}
	if got := must[*awskms.DeriveSharedSecretOutput](t)(c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: agree.KeyId,
		KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peer.spki})).SharedSecret; !bytes.Equal(got, secret) {
		t.Fatal("the key agreement key changed across the restart")
	}
	ts.stop()
}
