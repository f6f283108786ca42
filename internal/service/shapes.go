package service

import (
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/openkms/kms"
)

// The request and response shapes of the KMS JSON 1.1 protocol. Member names
// are the AWS model names; blobs are []byte (standard base64 in JSON), and
// optional scalars are pointers so that "absent" and "zero" differ. Validate
// checks the model constraints (lengths, ranges, enums, required members);
// the api layer calls it before the operation runs.

// Timestamp marshals as AWS does: epoch seconds with millisecond fraction.
type Timestamp time.Time

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// KeyMetadata describes a key (spec §2.0).
type KeyMetadata struct {
	AWSAccountId           string
	KeyId                  string
	Arn                    string
	CreationDate           Timestamp
	Enabled                bool
	Description            string
	KeyUsage               kms.KeyUsage
	KeyState               kms.KeyState
	DeletionDate           *Timestamp `json:",omitempty"`
	Origin                 kms.Origin
	KeyManager             kms.KeyManager
	CustomerMasterKeySpec  kms.KeySpec `json:",omitempty"`
	KeySpec                kms.KeySpec
	EncryptionAlgorithms   []string `json:",omitempty"`
	SigningAlgorithms      []string `json:",omitempty"`
	MacAlgorithms          []string `json:",omitempty"`
	KeyAgreementAlgorithms []string `json:",omitempty"`
	MultiRegion            bool
	// MultiRegionConfiguration is set by Service.describe.
	MultiRegionConfiguration    *MultiRegionConfiguration `json:",omitempty"`
	PendingDeletionWindowInDays *int32                    `json:",omitempty"`
	CurrentKeyMaterialId        string                    `json:",omitempty"`
	// ExpirationModel and ValidTo describe imported material (Origin
	// EXTERNAL, once imported); ValidTo only with KEY_MATERIAL_EXPIRES.
	ExpirationModel string     `json:",omitempty"`
	ValidTo         *Timestamp `json:",omitempty"`
}

func metadata(k *kms.Key) *KeyMetadata {
	m := &KeyMetadata{
		AWSAccountId:          k.Account,
		KeyId:                 k.KeyID(),
		Arn:                   k.ARN(),
		CreationDate:          Timestamp(k.CreationDate),
		Enabled:               k.State == kms.KeyStateEnabled,
		Description:           k.Description,
		KeyUsage:              k.Usage,
		KeyState:              k.State,
		Origin:                k.Origin,
		KeyManager:            k.Manager,
		CustomerMasterKeySpec: masterKeySpec(k.Spec),
		KeySpec:               k.Spec,
		MultiRegion:           k.MultiRegion(),
	}
	if k.Spec == kms.KeySpecSymmetricDefault {
		m.CurrentKeyMaterialId = k.CurrentMaterialID
	}
	m.EncryptionAlgorithms, m.SigningAlgorithms, m.MacAlgorithms, m.KeyAgreementAlgorithms = algorithmLists(k)
	switch k.State {
	case kms.KeyStatePendingDeletion:
		d := Timestamp(k.DeletionDate)
		m.DeletionDate = &d
	case kms.KeyStatePendingReplicaDeletion:
		w := int32(k.PendingWindowDays)
		m.PendingDeletionWindowInDays = &w
	}
	// A key pending import has no material to expire: after
	// DeleteImportedKeyMaterial (or expiry) AWS shows neither field, as
	// LocalStack's AWS-validated test_import_key_symmetric,
	// test_import_key_asymmetric, test_import_key_ecc_keys and
	// test_import_key_hmac_keys record (describe-key-after-deleted-import).
	if k.Origin == kms.OriginExternal && k.State != kms.KeyStatePendingImport {
		m.ExpirationModel = k.ExpirationModel
		if k.ExpirationModel == expirationExpires && !k.ValidTo.IsZero() {
			v := Timestamp(k.ValidTo)
			m.ValidTo = &v
		}
	}
	return m
}

// CreateKeyInput is the request of CreateKey.
type CreateKeyInput struct {
	Policy                         *string
	Description                    *string
	KeyUsage                       *string
	KeySpec                        *string
	CustomerMasterKeySpec          *string
	Origin                         *string
	CustomKeyStoreId               *string
	BypassPolicyLockoutSafetyCheck bool
	Tags                           []kms.Tag
	MultiRegion                    bool
	XksKeyId                       *string
}

var (
	keyUsages = []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"}
	keySpecs  = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2",
		"ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519"}
	masterKeySpecs = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2"}
	origins = []string{"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}
)

// Validate implements the model constraints.
func (in *CreateKeyInput) Validate() error {
	var v validator
	v.str("policy", in.Policy, 1, 131072, policyRE)
	v.str("description", in.Description, 0, 8192, nil)
	v.enum("keyUsage", in.KeyUsage, keyUsages...)
	v.enum("keySpec", in.KeySpec, keySpecs...)
	v.enum("customerMasterKeySpec", in.CustomerMasterKeySpec, masterKeySpecs...)
	v.enum("origin", in.Origin, origins...)
	v.str("customKeyStoreId", in.CustomKeyStoreId, 1, 64, nil)
	v.tags("tags", in.Tags)
	v.str("xksKeyId", in.XksKeyId, 1, 128, nil)
	return v.err()
}

// CreateKeyOutput is the response of CreateKey.
type CreateKeyOutput struct{ KeyMetadata *KeyMetadata }

// KeyIDInput is the request of operations that take only a KeyId
// (EnableKey, DisableKey, CancelKeyDeletion).
type KeyIDInput struct{ KeyId *string }

// Validate implements the model constraints.
func (in *KeyIDInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	return v.err()
}

// DescribeKeyInput is the request of DescribeKey.
type DescribeKeyInput struct {
	KeyId       *string
	GrantTokens []string
}

// Validate implements the model constraints.
func (in *DescribeKeyInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.grantTokens(in.GrantTokens)
	return v.err()
}

// DescribeKeyOutput is the response of DescribeKey.
type DescribeKeyOutput struct{ KeyMetadata *KeyMetadata }

// ListInput carries the pagination members shared by List* requests.
type ListInput struct {
	Limit  *int32
	Marker *string
}

func (in *ListInput) validate(v *validator) {
	v.limit(in.Limit)
	v.marker(in.Marker)
}

// Validate implements the model constraints.
func (in *ListInput) Validate() error {
	var v validator
	in.validate(&v)
	return v.err()
}

// KeyListEntry is one key in ListKeys.
type KeyListEntry struct{ KeyId, KeyArn string }

// ListKeysOutput is the response of ListKeys.
type ListKeysOutput struct {
	Keys       []KeyListEntry
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

// UpdateKeyDescriptionInput is the request of UpdateKeyDescription.
type UpdateKeyDescriptionInput struct {
	KeyId       *string
	Description *string
}

// Validate implements the model constraints.
func (in *UpdateKeyDescriptionInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("description", in.Description != nil) {
		v.str("description", in.Description, 0, 8192, nil)
	}
	return v.err()
}

// ScheduleKeyDeletionInput is the request of ScheduleKeyDeletion.
type ScheduleKeyDeletionInput struct {
	KeyId               *string
	PendingWindowInDays *int32
}

// Validate implements the model constraints. The model allows 1-365 but
// the service accepts 7-30.
func (in *ScheduleKeyDeletionInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.intRange("pendingWindowInDays", in.PendingWindowInDays, 7, 30)
	return v.err()
}

// ScheduleKeyDeletionOutput is the response of ScheduleKeyDeletion.
type ScheduleKeyDeletionOutput struct {
	KeyId string
	// DeletionDate is absent for a multi-Region primary that waits for
	// its replicas: its date is not known yet.
	DeletionDate        *Timestamp `json:",omitempty"`
	KeyState            kms.KeyState
	PendingWindowInDays int32
}

// CancelKeyDeletionOutput is the response of CancelKeyDeletion.
type CancelKeyDeletionOutput struct{ KeyId string }

// EncryptInput is the request of Encrypt.
type EncryptInput struct {
	KeyId               *string
	Plaintext           []byte
	EncryptionContext   map[string]string
	GrantTokens         []string
	EncryptionAlgorithm *string
	DryRun              bool
}

// dryRunIgnoreCiphertext is the DryRunModifiers value of a Decrypt or
// ReEncrypt that checks permissions without a ciphertext.
const dryRunIgnoreCiphertext = "IGNORE_CIPHERTEXT"

// ignoresCiphertext reports whether a request is a dry run that needs no
// ciphertext: the modifier applies only with DryRun.
func ignoresCiphertext(dryRun bool, modifiers []string) bool {
	return dryRun && slices.Contains(modifiers, dryRunIgnoreCiphertext)
}

// dryRunModifiers checks the DryRunModifiers list against its enum.
func (v *validator) dryRunModifiers(modifiers []string) {
	for i := range modifiers {
		v.enum("dryRunModifiers."+strconv.Itoa(i+1)+".member", &modifiers[i], dryRunIgnoreCiphertext)
	}
}

var encryptionAlgorithms = []string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"}

// Validate implements the model constraints.
func (in *EncryptInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("plaintext", in.Plaintext != nil) {
		v.blob("plaintext", in.Plaintext, 1, 4096)
	}
	v.grantTokens(in.GrantTokens)
	v.enum("encryptionAlgorithm", in.EncryptionAlgorithm, encryptionAlgorithms...)
	return v.err()
}

// EncryptOutput is the response of Encrypt.
type EncryptOutput struct {
	CiphertextBlob      []byte
	KeyId               string
	EncryptionAlgorithm string
}

// DecryptInput is the request of Decrypt.
type DecryptInput struct {
	CiphertextBlob      []byte
	EncryptionContext   map[string]string
	GrantTokens         []string
	KeyId               *string
	EncryptionAlgorithm *string
	Recipient           *struct{}
	DryRun              bool
	DryRunModifiers     []string
}

// Validate implements the model constraints.
func (in *DecryptInput) Validate() error {
	var v validator
	v.dryRunModifiers(in.DryRunModifiers)
	if v.required("ciphertextBlob", in.CiphertextBlob != nil || ignoresCiphertext(in.DryRun, in.DryRunModifiers)) {
		v.blob("ciphertextBlob", in.CiphertextBlob, 1, 6144)
	}
	v.grantTokens(in.GrantTokens)
	v.str("keyId", in.KeyId, 1, 2048, nil)
	v.enum("encryptionAlgorithm", in.EncryptionAlgorithm, encryptionAlgorithms...)
	return v.err()
}

// DecryptOutput is the response of Decrypt.
type DecryptOutput struct {
	KeyId               string
	Plaintext           []byte
	EncryptionAlgorithm string
	KeyMaterialId       string `json:",omitempty"`
}

// ReEncryptInput is the request of ReEncrypt.
type ReEncryptInput struct {
	CiphertextBlob                 []byte
	SourceEncryptionContext        map[string]string
	SourceKeyId                    *string
	DestinationKeyId               *string
	DestinationEncryptionContext   map[string]string
	SourceEncryptionAlgorithm      *string
	DestinationEncryptionAlgorithm *string
	GrantTokens                    []string
	DryRun                         bool
	DryRunModifiers                []string
}

// Validate implements the model constraints.
func (in *ReEncryptInput) Validate() error {
	var v validator
	v.dryRunModifiers(in.DryRunModifiers)
	if v.required("ciphertextBlob", in.CiphertextBlob != nil || ignoresCiphertext(in.DryRun, in.DryRunModifiers)) {
		v.blob("ciphertextBlob", in.CiphertextBlob, 1, 6144)
	}
	v.str("sourceKeyId", in.SourceKeyId, 1, 2048, nil)
	v.keyID("destinationKeyId", in.DestinationKeyId)
	v.enum("sourceEncryptionAlgorithm", in.SourceEncryptionAlgorithm, encryptionAlgorithms...)
	v.enum("destinationEncryptionAlgorithm", in.DestinationEncryptionAlgorithm, encryptionAlgorithms...)
	v.grantTokens(in.GrantTokens)
	return v.err()
}

// ReEncryptOutput is the response of ReEncrypt.
type ReEncryptOutput struct {
	CiphertextBlob                 []byte
	SourceKeyId                    string
	KeyId                          string
	SourceEncryptionAlgorithm      string
	DestinationEncryptionAlgorithm string
	SourceKeyMaterialId            string `json:",omitempty"`
	DestinationKeyMaterialId       string `json:",omitempty"`
}

// GenerateDataKeyInput is the request of GenerateDataKey and
// GenerateDataKeyWithoutPlaintext.
type GenerateDataKeyInput struct {
	KeyId             *string
	EncryptionContext map[string]string
	NumberOfBytes     *int32
	KeySpec           *string
	GrantTokens       []string
	Recipient         *struct{}
	DryRun            bool
}

// Validate implements the model constraints.
func (in *GenerateDataKeyInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.intRange("numberOfBytes", in.NumberOfBytes, 1, 1024)
	v.enum("keySpec", in.KeySpec, "AES_256", "AES_128")
	v.grantTokens(in.GrantTokens)
	if err := v.err(); err != nil {
		return err
	}
	if (in.NumberOfBytes == nil) == (in.KeySpec == nil) {
		return validationf("Please specify either number of bytes or key spec.")
	}
	return nil
}

// GenerateDataKeyOutput is the response of GenerateDataKey; Plaintext is
// left out by GenerateDataKeyWithoutPlaintext.
type GenerateDataKeyOutput struct {
	CiphertextBlob []byte
	Plaintext      []byte `json:",omitempty"`
	KeyId          string
	KeyMaterialId  string
}

// GenerateRandomInput is the request of GenerateRandom.
type GenerateRandomInput struct {
	NumberOfBytes    *int32
	CustomKeyStoreId *string
	Recipient        *struct{}
}

// Validate implements the model constraints.
func (in *GenerateRandomInput) Validate() error {
	if in.NumberOfBytes == nil {
		return validationf("NumberOfBytes is required.")
	}
	var v validator
	v.intRange("numberOfBytes", in.NumberOfBytes, 1, 1024)
	v.str("customKeyStoreId", in.CustomKeyStoreId, 1, 64, nil)
	return v.err()
}

// GenerateRandomOutput is the response of GenerateRandom.
type GenerateRandomOutput struct{ Plaintext []byte }

// AliasInput is the request of CreateAlias and UpdateAlias.
type AliasInput struct {
	AliasName   *string
	TargetKeyId *string
}

// Validate implements the model constraints.
func (in *AliasInput) Validate() error {
	var v validator
	if v.required("aliasName", in.AliasName != nil) {
		v.str("aliasName", in.AliasName, 1, 256, aliasNameRE)
	}
	v.keyID("targetKeyId", in.TargetKeyId)
	return v.err()
}

// DeleteAliasInput is the request of DeleteAlias.
type DeleteAliasInput struct{ AliasName *string }

// Validate implements the model constraints.
func (in *DeleteAliasInput) Validate() error {
	var v validator
	if v.required("aliasName", in.AliasName != nil) {
		v.str("aliasName", in.AliasName, 1, 256, aliasNameRE)
	}
	return v.err()
}

// ListAliasesInput is the request of ListAliases.
type ListAliasesInput struct {
	KeyId *string
	ListInput
}

// Validate implements the model constraints.
func (in *ListAliasesInput) Validate() error {
	var v validator
	v.str("keyId", in.KeyId, 1, 2048, nil)
	in.validate(&v)
	return v.err()
}

// AliasListEntry is one alias in ListAliases.
type AliasListEntry struct {
	AliasName   string
	AliasArn    string
	TargetKeyId string `json:",omitempty"`
	// Absent, with TargetKeyId, for a predefined alias/aws/ name whose AWS
	// managed key does not exist yet.
	CreationDate    *Timestamp `json:",omitempty"`
	LastUpdatedDate *Timestamp `json:",omitempty"`
}

// ListAliasesOutput is the response of ListAliases.
type ListAliasesOutput struct {
	Aliases    []AliasListEntry
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

// TagResourceInput is the request of TagResource.
type TagResourceInput struct {
	KeyId *string
	Tags  []kms.Tag
}

// Validate implements the model constraints.
func (in *TagResourceInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.required("tags", in.Tags != nil)
	v.tags("tags", in.Tags)
	return v.err()
}

// UntagResourceInput is the request of UntagResource.
type UntagResourceInput struct {
	KeyId   *string
	TagKeys []string
}

// Validate implements the model constraints.
func (in *UntagResourceInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.required("tagKeys", in.TagKeys != nil)
	for i, k := range in.TagKeys {
		v.str("tagKeys."+strconv.Itoa(i+1)+".member", &k, 1, 128, nil)
	}
	return v.err()
}

// ListResourceTagsInput is the request of ListResourceTags.
type ListResourceTagsInput struct {
	KeyId *string
	ListInput
}

// Validate implements the model constraints.
func (in *ListResourceTagsInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	in.validate(&v)
	return v.err()
}

// ListResourceTagsOutput is the response of ListResourceTags.
type ListResourceTagsOutput struct {
	Tags       []kms.Tag
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

// GetKeyPolicyInput is the request of GetKeyPolicy.
type GetKeyPolicyInput struct {
	KeyId      *string
	PolicyName *string
}

var policyNameRE = &pattern{regexp.MustCompile(`^[\w]+$`), `[\w]+`}

// Validate implements the model constraints.
func (in *GetKeyPolicyInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.str("policyName", in.PolicyName, 1, 128, policyNameRE)
	return v.err()
}

// GetKeyPolicyOutput is the response of GetKeyPolicy.
type GetKeyPolicyOutput struct {
	Policy     string
	PolicyName string
}

// PutKeyPolicyInput is the request of PutKeyPolicy.
type PutKeyPolicyInput struct {
	KeyId                          *string
	PolicyName                     *string
	Policy                         *string
	BypassPolicyLockoutSafetyCheck bool
}

// Validate implements the model constraints.
func (in *PutKeyPolicyInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.str("policyName", in.PolicyName, 1, 128, policyNameRE)
	if v.required("policy", in.Policy != nil) {
		v.str("policy", in.Policy, 1, 131072, policyRE)
	}
	return v.err()
}

// ListKeyPoliciesInput is the request of ListKeyPolicies.
type ListKeyPoliciesInput struct {
	KeyId *string
	ListInput
}

// Validate implements the model constraints.
func (in *ListKeyPoliciesInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	in.validate(&v)
	return v.err()
}

// ListKeyPoliciesOutput is the response of ListKeyPolicies.
type ListKeyPoliciesOutput struct {
	PolicyNames []string
	NextMarker  string `json:",omitempty"`
	Truncated   bool
}
