package service

import (
	"slices"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
)

// Shapes of the signing, MAC, key agreement and data key pair operations
// (spec §2.5, §2.6).

// masterKeySpec is the deprecated CustomerMasterKeySpec mirror of a spec:
// empty (so left out) for specs its enum never had.
func masterKeySpec(spec kms.KeySpec) kms.KeySpec {
	if !slices.Contains(masterKeySpecs, string(spec)) {
		return ""
	}
	return spec
}

// algorithmLists returns the one algorithm list a key's usage calls for, in
// the order of DescribeKey's members.
func algorithmLists(k *kms.Key) (enc, sign, mac, agree []string) {
	algs := keys.Algorithms(k.Spec, k.Usage)
	switch k.Usage {
	case kms.KeyUsageEncryptDecrypt:
		enc = algs
	case kms.KeyUsageSignVerify:
		sign = algs
	case kms.KeyUsageGenerateVerifyMAC:
		mac = algs
	case kms.KeyUsageKeyAgreement:
		agree = algs
	}
	return
}

var (
	signingAlgorithms = []string{keys.AlgRSAPSSSHA256, keys.AlgRSAPSSSHA384, keys.AlgRSAPSSSHA512,
		keys.AlgRSAPKCS1SHA256, keys.AlgRSAPKCS1SHA384, keys.AlgRSAPKCS1SHA512,
		keys.AlgECDSASHA256, keys.AlgECDSASHA384, keys.AlgECDSASHA512, keys.AlgSM2DSA,
		keys.AlgMLDSA, keys.AlgEd25519, keys.AlgEd25519ph}
	messageTypes  = []string{keys.MessageRaw, keys.MessageDigest, keys.MessageExternalMu}
	macAlgorithms = []string{keys.AlgHMACSHA224, keys.AlgHMACSHA256, keys.AlgHMACSHA384, keys.AlgHMACSHA512}
	keyPairSpecs  = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "SM2"}
)

// SignInput is the request of Sign, and with Signature of Verify.
type SignInput struct {
	KeyId            *string
	Message          []byte
	MessageType      *string
	Signature        []byte
	GrantTokens      []string
	SigningAlgorithm *string
	DryRun           bool

	verify bool
}

// Validate implements the model constraints.
func (in *SignInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("message", in.Message != nil) {
		v.blob("message", in.Message, 1, 4096)
	}
	v.enum("messageType", in.MessageType, messageTypes...)
	if in.verify {
		if v.required("signature", in.Signature != nil) {
			v.blob("signature", in.Signature, 1, 6144)
		}
	}
	v.grantTokens(in.GrantTokens)
	if v.required("signingAlgorithm", in.SigningAlgorithm != nil) {
		v.enum("signingAlgorithm", in.SigningAlgorithm, signingAlgorithms...)
	}
	return v.err()
}

// VerifyInput is the request of Verify.
type VerifyInput struct{ SignInput }

// Validate implements the model constraints.
func (in *VerifyInput) Validate() error {
	in.verify = true
	return in.SignInput.Validate()
}

// SignOutput is the response of Sign.
type SignOutput struct {
	KeyId            string
	Signature        []byte
	SigningAlgorithm string
}

// VerifyOutput is the response of Verify.
type VerifyOutput struct {
	KeyId            string
	SignatureValid   bool
	SigningAlgorithm string
}

// GetPublicKeyInput is the request of GetPublicKey.
type GetPublicKeyInput struct {
	KeyId       *string
	GrantTokens []string
}

// Validate implements the model constraints.
func (in *GetPublicKeyInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.grantTokens(in.GrantTokens)
	return v.err()
}

// GetPublicKeyOutput is the response of GetPublicKey.
type GetPublicKeyOutput struct {
	KeyId                  string
	PublicKey              []byte
	CustomerMasterKeySpec  kms.KeySpec `json:",omitempty"`
	KeySpec                kms.KeySpec
	KeyUsage               kms.KeyUsage
	EncryptionAlgorithms   []string `json:",omitempty"`
	SigningAlgorithms      []string `json:",omitempty"`
	KeyAgreementAlgorithms []string `json:",omitempty"`
}

// MacInput is the request of GenerateMac, and with Mac of VerifyMac.
type MacInput struct {
	Message      []byte
	KeyId        *string
	MacAlgorithm *string
	Mac          []byte
	GrantTokens  []string
	DryRun       bool

	verify bool
}

// Validate implements the model constraints.
func (in *MacInput) Validate() error {
	var v validator
	if v.required("message", in.Message != nil) {
		v.blob("message", in.Message, 1, 4096)
	}
	v.keyID("keyId", in.KeyId)
	if v.required("macAlgorithm", in.MacAlgorithm != nil) {
		v.enum("macAlgorithm", in.MacAlgorithm, macAlgorithms...)
	}
	if in.verify {
		if v.required("mac", in.Mac != nil) {
			v.blob("mac", in.Mac, 1, 6144)
		}
	}
	v.grantTokens(in.GrantTokens)
	return v.err()
}

// VerifyMacInput is the request of VerifyMac.
type VerifyMacInput struct{ MacInput }

// Validate implements the model constraints.
func (in *VerifyMacInput) Validate() error {
	in.verify = true
	return in.MacInput.Validate()
}

// GenerateMacOutput is the response of GenerateMac.
type GenerateMacOutput struct {
	Mac          []byte
	MacAlgorithm string
	KeyId        string
}

// VerifyMacOutput is the response of VerifyMac.
type VerifyMacOutput struct {
	KeyId        string
	MacValid     bool
	MacAlgorithm string
}

// DeriveSharedSecretInput is the request of DeriveSharedSecret.
type DeriveSharedSecretInput struct {
	KeyId                 *string
	KeyAgreementAlgorithm *string
	PublicKey             []byte
	GrantTokens           []string
	DryRun                bool
	Recipient             *struct{}
}

// Validate implements the model constraints.
func (in *DeriveSharedSecretInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("keyAgreementAlgorithm", in.KeyAgreementAlgorithm != nil) {
		v.enum("keyAgreementAlgorithm", in.KeyAgreementAlgorithm, keys.AlgECDH)
	}
	if v.required("publicKey", in.PublicKey != nil) {
		v.blob("publicKey", in.PublicKey, 1, 8192)
	}
	v.grantTokens(in.GrantTokens)
	return v.err()
}

// DeriveSharedSecretOutput is the response of DeriveSharedSecret.
type DeriveSharedSecretOutput struct {
	KeyId                 string
	SharedSecret          []byte
	KeyAgreementAlgorithm string
	KeyOrigin             kms.Origin
}

// GenerateDataKeyPairInput is the request of GenerateDataKeyPair and
// GenerateDataKeyPairWithoutPlaintext.
type GenerateDataKeyPairInput struct {
	EncryptionContext map[string]string
	KeyId             *string
	KeyPairSpec       *string
	GrantTokens       []string
	Recipient         *struct{}
	DryRun            bool
}

// Validate implements the model constraints.
func (in *GenerateDataKeyPairInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("keyPairSpec", in.KeyPairSpec != nil) {
		v.enum("keyPairSpec", in.KeyPairSpec, keyPairSpecs...)
	}
	v.grantTokens(in.GrantTokens)
	return v.err()
}

// GenerateDataKeyPairOutput is the response of GenerateDataKeyPair;
// PrivateKeyPlaintext is left out by the WithoutPlaintext variant.
type GenerateDataKeyPairOutput struct {
	PrivateKeyCiphertextBlob []byte
	PrivateKeyPlaintext      []byte `json:",omitempty"`
	PublicKey                []byte
	KeyId                    string
	KeyPairSpec              string
	KeyMaterialId            string
}
