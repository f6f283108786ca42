package keys

import (
	"crypto"
	_ "crypto/sha256" // registers SHA-224 and SHA-256 for crypto.Hash.New
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"slices"

	"github.com/openkms/kms"
)

// Algorithm names of the API (spec §5.1).
const (
	AlgSymmetricDefault = "SYMMETRIC_DEFAULT"
	AlgRSAESOAEPSHA1    = "RSAES_OAEP_SHA_1"
	AlgRSAESOAEPSHA256  = "RSAES_OAEP_SHA_256"
	AlgSM2PKE           = "SM2PKE"

	AlgRSAPKCS1SHA256 = "RSASSA_PKCS1_V1_5_SHA_256"
	AlgRSAPKCS1SHA384 = "RSASSA_PKCS1_V1_5_SHA_384"
	AlgRSAPKCS1SHA512 = "RSASSA_PKCS1_V1_5_SHA_512"
	AlgRSAPSSSHA256   = "RSASSA_PSS_SHA_256"
	AlgRSAPSSSHA384   = "RSASSA_PSS_SHA_384"
	AlgRSAPSSSHA512   = "RSASSA_PSS_SHA_512"
	AlgECDSASHA256    = "ECDSA_SHA_256"
	AlgECDSASHA384    = "ECDSA_SHA_384"
	AlgECDSASHA512    = "ECDSA_SHA_512"
	AlgEd25519        = "ED25519_SHA_512"
	AlgEd25519ph      = "ED25519_PH_SHA_512"
	AlgMLDSA          = "ML_DSA_SHAKE_256"
	AlgSM2DSA         = "SM2DSA"

	AlgHMACSHA224 = "HMAC_SHA_224"
	AlgHMACSHA256 = "HMAC_SHA_256"
	AlgHMACSHA384 = "HMAC_SHA_384"
	AlgHMACSHA512 = "HMAC_SHA_512"

	AlgECDH = "ECDH"
)

// Message types of Sign and Verify.
const (
	MessageRaw        = "RAW"
	MessageDigest     = "DIGEST"
	MessageExternalMu = "EXTERNAL_MU"
)

// SM2DefaultID is the distinguishing identifier SM2DSA uses (GB/T 32918),
// as AWS does.
const SM2DefaultID = "1234567812345678"

// specInfo is what the API says about one key spec.
type specInfo struct {
	usages     []kms.KeyUsage
	encryption []string
	signing    []string
	agreement  []string
	mac        []string
}

var (
	encDec = []kms.KeyUsage{kms.KeyUsageEncryptDecrypt}
	sigVer = []kms.KeyUsage{kms.KeyUsageSignVerify}
	rsaUse = []kms.KeyUsage{kms.KeyUsageEncryptDecrypt, kms.KeyUsageSignVerify}
	eccUse = []kms.KeyUsage{kms.KeyUsageSignVerify, kms.KeyUsageKeyAgreement}
	macUse = []kms.KeyUsage{kms.KeyUsageGenerateVerifyMAC}

	rsaEnc   = []string{AlgRSAESOAEPSHA1, AlgRSAESOAEPSHA256}
	rsaSign  = []string{AlgRSAPKCS1SHA256, AlgRSAPKCS1SHA384, AlgRSAPKCS1SHA512, AlgRSAPSSSHA256, AlgRSAPSSSHA384, AlgRSAPSSSHA512}
	ecdhAlgs = []string{AlgECDH}
)

var specs = map[kms.KeySpec]specInfo{
	kms.KeySpecSymmetricDefault: {usages: encDec, encryption: []string{AlgSymmetricDefault}},
	kms.KeySpecRSA2048:          {usages: rsaUse, encryption: rsaEnc, signing: rsaSign},
	kms.KeySpecRSA3072:          {usages: rsaUse, encryption: rsaEnc, signing: rsaSign},
	kms.KeySpecRSA4096:          {usages: rsaUse, encryption: rsaEnc, signing: rsaSign},
	kms.KeySpecECCNISTP256:      {usages: eccUse, signing: []string{AlgECDSASHA256}, agreement: ecdhAlgs},
	kms.KeySpecECCNISTP384:      {usages: eccUse, signing: []string{AlgECDSASHA384}, agreement: ecdhAlgs},
	kms.KeySpecECCNISTP521:      {usages: eccUse, signing: []string{AlgECDSASHA512}, agreement: ecdhAlgs},
	kms.KeySpecECCSECGP256K1:    {usages: sigVer, signing: []string{AlgECDSASHA256}},
	kms.KeySpecEd25519:          {usages: sigVer, signing: []string{AlgEd25519, AlgEd25519ph}},
	kms.KeySpecMLDSA44:          {usages: sigVer, signing: []string{AlgMLDSA}},
	kms.KeySpecMLDSA65:          {usages: sigVer, signing: []string{AlgMLDSA}},
	kms.KeySpecMLDSA87:          {usages: sigVer, signing: []string{AlgMLDSA}},
	kms.KeySpecHMAC224:          {usages: macUse, mac: []string{AlgHMACSHA224}},
	kms.KeySpecHMAC256:          {usages: macUse, mac: []string{AlgHMACSHA256}},
	kms.KeySpecHMAC384:          {usages: macUse, mac: []string{AlgHMACSHA384}},
	kms.KeySpecHMAC512:          {usages: macUse, mac: []string{AlgHMACSHA512}},
	kms.KeySpecSM2: {usages: []kms.KeyUsage{kms.KeyUsageEncryptDecrypt, kms.KeyUsageSignVerify, kms.KeyUsageKeyAgreement},
		encryption: []string{AlgSM2PKE}, signing: []string{AlgSM2DSA}, agreement: ecdhAlgs},
}

// KnownSpec reports whether spec is a key spec of the API.
func KnownSpec(spec kms.KeySpec) bool { _, ok := specs[spec]; return ok }

// ValidUsage reports whether a key of spec may be created with usage.
func ValidUsage(spec kms.KeySpec, usage kms.KeyUsage) bool {
	return slices.Contains(specs[spec].usages, usage)
}

// Algorithms returns the algorithms a key of spec and usage supports, as
// DescribeKey and GetPublicKey list them: encryption, signing, MAC or key
// agreement algorithms according to usage. The slice must not be changed.
func Algorithms(spec kms.KeySpec, usage kms.KeyUsage) []string {
	i := specs[spec]
	switch usage {
	case kms.KeyUsageEncryptDecrypt:
		return i.encryption
	case kms.KeyUsageSignVerify:
		return i.signing
	case kms.KeyUsageKeyAgreement:
		return i.agreement
	case kms.KeyUsageGenerateVerifyMAC:
		return i.mac
	}
	return nil
}

// IsAsymmetric reports whether keys of spec are key pairs.
func IsAsymmetric(spec kms.KeySpec) bool {
	return KnownSpec(spec) && spec != kms.KeySpecSymmetricDefault && !IsHMAC(spec)
}

// IsHMAC reports whether spec is one of the HMAC key specs.
func IsHMAC(spec kms.KeySpec) bool { _, ok := hmacHashes[spec]; return ok }

// DataKeyPairSpecs are the KeyPairSpec values of GenerateDataKeyPair.
var DataKeyPairSpecs = []kms.KeySpec{
	kms.KeySpecRSA2048, kms.KeySpecRSA3072, kms.KeySpecRSA4096,
	kms.KeySpecECCNISTP256, kms.KeySpecECCNISTP384, kms.KeySpecECCNISTP521,
	kms.KeySpecECCSECGP256K1, kms.KeySpecEd25519, kms.KeySpecSM2,
}

// SigningHash returns the hash a signing algorithm applies to a RAW
// message; its size is the DIGEST length the algorithm takes. ML-DSA has
// none (0): it hashes internally and takes RAW or a 64-byte EXTERNAL_MU.
// SM2DSA's SM3 is reported as crypto.Hash(0) with size 32 via DigestSize.
func SigningHash(alg string) crypto.Hash {
	switch alg {
	case AlgRSAPKCS1SHA256, AlgRSAPSSSHA256, AlgECDSASHA256:
		return crypto.SHA256
	case AlgRSAPKCS1SHA384, AlgRSAPSSSHA384, AlgECDSASHA384:
		return crypto.SHA384
	case AlgRSAPKCS1SHA512, AlgRSAPSSSHA512, AlgECDSASHA512, AlgEd25519, AlgEd25519ph:
		return crypto.SHA512
	}
	return 0
}

// DigestSize returns the length a DIGEST message must have for alg, or 0
// if alg takes no DIGEST messages.
func DigestSize(alg string) int {
	switch alg {
	case AlgSM2DSA:
		return 32 // SM3
	case AlgEd25519, AlgMLDSA:
		return 0
	}
	if h := SigningHash(alg); h != 0 {
		return h.Size()
	}
	return 0
}

// MessageTypes returns the message types alg accepts.
func MessageTypes(alg string) []string {
	switch alg {
	case AlgEd25519:
		return []string{MessageRaw}
	case AlgEd25519ph:
		return []string{MessageDigest}
	case AlgMLDSA:
		return []string{MessageRaw, MessageExternalMu}
	}
	return []string{MessageRaw, MessageDigest}
}

// MaxPlaintext returns the largest plaintext a key of spec encrypts with
// alg: k - 2*hLen - 2 for RSA-OAEP (spec §5.2).
func MaxPlaintext(spec kms.KeySpec, alg string) int {
	var k int
	switch spec {
	case kms.KeySpecSymmetricDefault:
		return 4096
	case kms.KeySpecSM2:
		return 1024
	case kms.KeySpecRSA2048:
		k = 256
	case kms.KeySpecRSA3072:
		k = 384
	case kms.KeySpecRSA4096:
		k = 512
	default:
		return 0
	}
	h := 20
	if alg == AlgRSAESOAEPSHA256 {
		h = 32
	}
	return k - 2*h - 2
}

// hmacHashes are the hashes of the HMAC key specs.
var hmacHashes = map[kms.KeySpec]crypto.Hash{
	kms.KeySpecHMAC224: crypto.SHA224,
	kms.KeySpecHMAC256: crypto.SHA256,
	kms.KeySpecHMAC384: crypto.SHA384,
	kms.KeySpecHMAC512: crypto.SHA512,
}

// MacSize returns the length of the MACs of an HMAC key spec (0 for any
// other spec).
func MacSize(spec kms.KeySpec) int {
	if h, ok := hmacHashes[spec]; ok {
		return h.Size()
	}
	return 0
}
