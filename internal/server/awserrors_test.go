package server_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/openkms/kms/internal/server"
)

// Exact errors (issue 18): the code and the whole message of each refusal,
// one table per operation. Every expected message says where it comes from:
//
//	// AWS: snapshot test_xxx   LocalStack's tests/aws/services/kms/test_kms.snapshot.json,
//	                            recorded against real AWS by test_xxx of test_kms.py,
//	                            a test test_kms.validation.json lists as validated.
//	                            "<key-arn>" there is the ARN of the key the request names.
//	// AWS doc: <page>          the code is documented there; the wording is ours.
//	// ours: spec §N            no recording: our message, following /work/shared/spec/aws-kms.md.
//
// The snapshot was read in two stored copies: localstack/localstack at
// 0d47683 (recordings up to April 2024) and, for the 2025 recordings (tags,
// on-demand rotation, ReplicateKey of a replica, imports of ECC and HMAC
// keys), the same file in the fork sannya-singal/localstack at faa4b27
// (recordings up to November 2025). Neither holds the recordings of
// test_import_key_material_raises_if_there_is_already_key_material_pending
// or test_rotate_key_on_demand_on_external_key_with_no_key_material, though
// localstack/localstack's test_kms.validation.json lists both as validated.
//
// Where we still differ from a recording in code that is being changed
// elsewhere (importops.go, rotation.go), the row expects our answer and its
// comment quotes AWS's, so that the difference is visible here.

// errRow is one refused call: the error code and message it must answer.
type errRow struct {
	name string
	call func() error
	code string
	msg  string
	// prefix: msg is the start of the message (an enum list whose
	// members and order follow the API model of the day).
	prefix bool
}

func runErrRows(t *testing.T, rows []errRow) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			err := r.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want %s %q", err, r.code, r.msg)
			}
			got := ae.ErrorMessage()
			ok := got == r.msg || r.prefix && strings.HasPrefix(got, r.msg)
			if ae.ErrorCode() != r.code || !ok {
				t.Fatalf("got  %s %q\nwant %s %q", ae.ErrorCode(), got, r.code, r.msg)
			}
		})
	}
}

func keyARN(id string) string { return "arn:aws:kms:" + testRegion + ":" + testAccount + ":key/" + id }

func aliasARN(name string) string {
	return "arn:aws:kms:" + testRegion + ":" + testAccount + ":" + name
}

func tagList(kv ...string) []types.Tag {
	var tags []types.Tag
	for i := 0; i < len(kv); i += 2 {
		tags = append(tags, types.Tag{TagKey: aws.String(kv[i]), TagValue: aws.String(kv[i+1])})
	}
	return tags
}

// newKey creates a key of spec and usage (both may be empty).
func newKey(t *testing.T, c *awskms.Client, spec types.KeySpec, usage types.KeyUsageType) *types.KeyMetadata {
	t.Helper()
	return must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})).KeyMetadata
}

func disableKey(t *testing.T, c *awskms.Client, id *string) {
	t.Helper()
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: id}))
}

func scheduleDeletion(t *testing.T, c *awskms.Client, id *string) {
	t.Helper()
	must[*awskms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: id}))
}

func TestAWSErrorsCreateKey(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	create := func(in awskms.CreateKeyInput) func() error {
		return func() error { _, err := c.CreateKey(ctx, &in); return err }
	}
	const enc, sign = types.KeyUsageTypeEncryptDecrypt, types.KeyUsageTypeSignVerify
	runErrRows(t, []errRow{
		{"HMAC without KeyUsage", create(awskms.CreateKeyInput{KeySpec: types.KeySpecHmac256}),
			// AWS: snapshot test_hmac_create_key_invalid_operations
			"ValidationException", "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.", false},
		{"RSA without KeyUsage", create(awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048}),
			// ours: spec §2.1 CreateKey, the HMAC wording above
			"ValidationException", "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.", false},
		{"unknown KeySpec", create(awskms.CreateKeyInput{KeySpec: "HMAC_random"}),
			// AWS: snapshot test_hmac_create_key_invalid_operations (its set is the 2023 model's; ours lists today's specs)
			"ValidationException", "1 validation error detected: Value 'HMAC_random' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [", true},
		{"unknown KeyUsage", create(awskms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: "RANDOM"}),
			// AWS: snapshot test_hmac_create_key_invalid_operations (set as above)
			"ValidationException", "1 validation error detected: Value 'RANDOM' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [", true},
		{"RSA for key agreement", create(awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeKeyAgreement}),
			// AWS: snapshot test_derive_shared_secret
			"ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048", false},
		{"symmetric for signing", create(awskms.CreateKeyInput{KeyUsage: sign}),
			// ours: spec §5.1, in the wording of test_derive_shared_secret
			"ValidationException", "KeyUsage SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT", false},
		{"HMAC for encryption", create(awskms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: enc}),
			// ours: spec §5.1, in the wording of test_derive_shared_secret
			"ValidationException", "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256", false},
		{"secp256k1 for key agreement", create(awskms.CreateKeyInput{KeySpec: types.KeySpecEccSecgP256k1, KeyUsage: types.KeyUsageTypeKeyAgreement}),
			// ours: spec §5.1, in the wording of test_derive_shared_secret
			"ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec ECC_SECG_P256K1", false},
		{"reserved tag key", create(awskms.CreateKeyInput{KeyUsage: enc, Tags: tagList("aws:key1", "value1")}),
			// AWS: snapshot test_create_key_with_invalid_tag_key[lowercase_prefix]
			"TagException", "Tags beginning with aws: are reserved", false},
		{"reserved tag key, upper case", create(awskms.CreateKeyInput{KeyUsage: enc, Tags: tagList("AWS:key1", "value1")}),
			// AWS: snapshot test_create_key_with_invalid_tag_key[uppercase_prefix]
			"TagException", "Tags beginning with aws: are reserved", false},
		{"reserved tag key, mixed case", create(awskms.CreateKeyInput{Tags: tagList("aWs:key1", "value1")}),
			// ours: spec §2.4 (any case, as the two recordings above)
			"TagException", "Tags beginning with aws: are reserved", false},
		{"tag key of 129 characters", create(awskms.CreateKeyInput{KeyUsage: enc, Tags: tagList(strings.Repeat("a", 129), "value1")}),
			// AWS: snapshot test_create_key_with_invalid_tag_key[too_long_key]
			"ValidationException", "1 validation error detected: Value '" + strings.Repeat("a", 129) +
				"' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128", false},
		{"tag value of 257 characters", create(awskms.CreateKeyInput{KeyUsage: enc, Tags: tagList("tag1", strings.Repeat("v", 257))}),
			// AWS: snapshot test_key_with_long_tag_value_raises_error (the value is quoted whole)
			"ValidationException", "1 validation error detected: Value '" + strings.Repeat("v", 257) +
				"' at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256", false},
		{"51 tags", create(awskms.CreateKeyInput{KeyUsage: enc, Tags: manyTags(51)}),
			// AWS: snapshot test_create_key_with_too_many_tags_raises_error
			"TagException", "Too many tags", false},
		{"duplicate tag keys", create(awskms.CreateKeyInput{Tags: tagList("tag1", "value1", "tag1", "another-value1")}),
			// ours: spec §2.4, with the message AWS records at TagResource (snapshot test_tag_key_with_duplicate_tag_keys_raises_error)
			"TagException", "Duplicate tag keys", false},
	})
	if l := must[*awskms.ListKeysOutput](t)(c.ListKeys(ctx, &awskms.ListKeysInput{})); len(l.Keys) != 0 {
		t.Fatalf("refused CreateKey calls left %d keys", len(l.Keys))
	}
}

func TestAWSErrorsCreateAlias(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := newKey(t, c, "", "")
	doomed := newKey(t, c, "", "")
	scheduleDeletion(t, c, doomed.KeyId)
	must[*awskms.CreateAliasOutput](t)(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/taken"), TargetKeyId: k.KeyId}))
	create := func(name, target string) func() error {
		return func() error {
			_, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(target)})
			return err
		}
	}
	const unknown = "134f2428-cec1-4b25-a1ae-9048164dba47"
	runErrRows(t, []errRow{
		{"no alias/ prefix", create("k3x9a2", *k.KeyId),
			// AWS: snapshot test_create_alias
			"ValidationException", `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`, false},
		{"colon", create("alias/a:b", *k.KeyId),
			// ours: spec §3.4; AWS's answer as quoted in hashicorp/terraform-provider-aws#12891 (no LocalStack recording)
			"ValidationException", "alias/a:b contains invalid characters for an alias", false},
		{"space", create("alias/a b", *k.KeyId),
			// ours: spec §1.5 and the model pattern of AliasName (spec §2.3)
			"ValidationException", "1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$", false},
		{"reserved alias/aws/", create("alias/aws/s3", *k.KeyId),
			// AWS doc: CreateAlias API reference (InvalidAliasNameException); ours: spec §3.4
			"InvalidAliasNameException", "Alias alias/aws/s3 is reserved: alias/aws/ names belong to AWS managed keys.", false},
		{"name taken", create("alias/taken", *k.KeyId),
			// ours: spec §2.3
			"AlreadyExistsException", "An alias with the name " + aliasARN("alias/taken") + " already exists", false},
		{"unknown key", create("alias/new", unknown),
			// AWS: snapshot test_get_key_does_not_exist (the same key resolution)
			"NotFoundException", "Key '" + keyARN(unknown) + "' does not exist", false},
		{"malformed key id", create("alias/new", "fake-key-id"),
			// AWS: snapshot test_get_key_invalid_uuid
			"NotFoundException", "Invalid keyId 'fake-key-id'", false},
		{"key pending deletion", create("alias/new", *doomed.KeyId),
			// ours: spec §4.2, §4.3
			"KMSInvalidStateException", *doomed.Arn + " is pending deletion.", false},
	})
}

func TestAWSErrorsUpdateAlias(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := newKey(t, c, "", "")
	mac := newKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	doomed := newKey(t, c, "", "")
	scheduleDeletion(t, c, doomed.KeyId)
	must[*awskms.CreateAliasOutput](t)(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: k.KeyId}))
	update := func(name, target string) func() error {
		return func() error {
			_, err := c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(target)})
			return err
		}
	}
	runErrRows(t, []errRow{
		{"colon", update("alias/app:x", *k.KeyId),
			// ours: spec §3.4; AWS's CreateAlias answer as quoted in hashicorp/terraform-provider-aws#12891
			"ValidationException", "alias/app:x contains invalid characters for an alias", false},
		{"no alias/ prefix", update("app", *k.KeyId),
			// ours: the CreateAlias message of snapshot test_create_alias
			"ValidationException", `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`, false},
		{"unknown alias", update("alias/none", *k.KeyId),
			// ours: spec §3.3 (the wording AWS gives for unknown aliases)
			"NotFoundException", "Alias " + aliasARN("alias/none") + " is not found.", false},
		{"key of another kind", update("alias/app", *mac.KeyId),
			// ours: spec §2.3 UpdateAlias (ValidationException (?))
			"ValidationException", "Alias alias/app cannot be changed from a key with usage ENCRYPT_DECRYPT and spec SYMMETRIC_DEFAULT to a key with usage GENERATE_VERIFY_MAC and spec HMAC_256.", false},
		{"key pending deletion", update("alias/app", *doomed.KeyId),
			// ours: spec §4.3 note 2
			"KMSInvalidStateException", *doomed.Arn + " is pending deletion.", false},
	})
}

func TestAWSErrorsTagResource(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := newKey(t, c, "", types.KeyUsageTypeEncryptDecrypt)
	full := newKey(t, c, "", "")
	must[*awskms.TagResourceOutput](t)(c.TagResource(ctx, &awskms.TagResourceInput{KeyId: full.KeyId, Tags: manyTags(50)}))
	doomed := newKey(t, c, "", "")
	scheduleDeletion(t, c, doomed.KeyId)
	tag := func(id *string, tags []types.Tag) func() error {
		return func() error {
			_, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: id, Tags: tags})
			return err
		}
	}
	runErrRows(t, []errRow{
		{"duplicate tag keys", tag(k.KeyId, tagList("tag1", "value1", "tag1", "another-value1")),
			// AWS: snapshot test_tag_key_with_duplicate_tag_keys_raises_error
			"TagException", "Duplicate tag keys", false},
		{"reserved tag key", tag(k.KeyId, tagList("aws:key1", "value1")),
			// AWS: snapshot test_tag_existing_key_with_invalid_tag_key
			"TagException", "Tags beginning with aws: are reserved", false},
		{"reserved tag key, upper case", tag(k.KeyId, tagList("AWS:key1", "value1")),
			// ours: spec §2.4, as AWS answers CreateKey (snapshot test_create_key_with_invalid_tag_key[uppercase_prefix])
			"TagException", "Tags beginning with aws: are reserved", false},
		{"tag key of 129 characters", tag(k.KeyId, tagList(strings.Repeat("a", 129), "value1")),
			// ours: the model check AWS records at CreateKey (snapshot test_create_key_with_invalid_tag_key[too_long_key])
			"ValidationException", "1 validation error detected: Value '" + strings.Repeat("a", 129) +
				"' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128", false},
		{"tag value of 257 characters", tag(k.KeyId, tagList("tag1", strings.Repeat("v", 257))),
			// ours: the model check AWS records at CreateKey (snapshot test_key_with_long_tag_value_raises_error)
			"ValidationException", "1 validation error detected: Value '" + strings.Repeat("v", 257) +
				"' at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256", false},
		{"51 tags in one request", tag(k.KeyId, manyTags(51)),
			// ours: spec §2.4, with the message AWS records at CreateKey (snapshot test_create_key_with_too_many_tags_raises_error)
			"TagException", "Too many tags", false},
		{"a 51st tag on the key", tag(full.KeyId, tagList("one-more", "v")),
			// AWS doc: TagResource API reference (LimitExceededException); ours: spec §2.4, §15.1
			"LimitExceededException", "A key can have at most 50 tags.", false},
		{"key pending deletion", tag(doomed.KeyId, tagList("tag1", "value1")),
			// ours: spec §2.4, §4.2
			"KMSInvalidStateException", *doomed.Arn + " is pending deletion.", false},
	})
}

func TestAWSErrorsUntagResource(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := newKey(t, c, "", "")
	doomed := newKey(t, c, "", "")
	scheduleDeletion(t, c, doomed.KeyId)
	untag := func(id *string, keys ...string) func() error {
		return func() error {
			_, err := c.UntagResource(ctx, &awskms.UntagResourceInput{KeyId: id, TagKeys: keys})
			return err
		}
	}
	runErrRows(t, []errRow{
		{"reserved tag key", untag(k.KeyId, "aws:key1"),
			// ours: spec §2.4, the TagResource message of snapshot test_tag_existing_key_with_invalid_tag_key
			"TagException", "Tags beginning with aws: are reserved", false},
		{"reserved tag key, upper case", untag(k.KeyId, "Aws:key1"),
			// ours: spec §2.4
			"TagException", "Tags beginning with aws: are reserved", false},
		{"tag key of 129 characters", untag(k.KeyId, strings.Repeat("a", 129)),
			// ours: spec §1.5 and the model of TagKeyType
			"ValidationException", "1 validation error detected: Value '" + strings.Repeat("a", 129) +
				"' at 'tagKeys.1.member' failed to satisfy constraint: Member must have length less than or equal to 128", false},
		{"key pending deletion", untag(doomed.KeyId, "tag1"),
			// ours: spec §2.4, §4.2
			"KMSInvalidStateException", *doomed.Arn + " is pending deletion.", false},
	})
}

func TestAWSErrorsRotateKeyOnDemand(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	rotate := func(id string) func() error {
		return func() error {
			_, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
			return err
		}
	}
	// AWS's recordings use RSA_4096 keys; any asymmetric key takes the same path.
	rsa := newKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	rsaOff := newKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	disableKey(t, c, rsaOff.KeyId)
	mac := newKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	off := newKey(t, c, "", "")
	disableKey(t, c, off.KeyId)
	doomed := newKey(t, c, "", "")
	scheduleDeletion(t, c, doomed.KeyId)
	pending := createExternalKey(t, c)
	imported := createExternalKey(t, c)
	importMaterial(t, c, *imported.KeyId, newMaterial(t), nil)
	const unknown = "1234abcd-12ab-34cd-56ef-1234567890ab"
	runErrRows(t, []errRow{
		{"unknown key", rotate(unknown),
			// AWS: snapshot test_rotate_key_on_demand_raises_error_given_key_that_does_not_exist
			"NotFoundException", "Key '" + keyARN(unknown) + "' does not exist", false},
		{"asymmetric key", rotate(*rsa.KeyId),
			// AWS: snapshot test_rotate_key_on_demand_raises_error_given_non_symmetric_key
			// (an empty message)
			"UnsupportedOperationException", "", false},
		{"asymmetric key, disabled: disabled first", rotate(*rsaOff.KeyId),
			// AWS: snapshot test_rotate_key_on_demand_raises_error_given_key_is_disabled
			"DisabledException", *rsaOff.Arn + " is disabled.", false},
		{"HMAC key", rotate(*mac.KeyId),
			// ours: spec §9.1, answered as AWS answers an asymmetric key (the row above)
			"UnsupportedOperationException", "", false},
		{"disabled symmetric key", rotate(*off.KeyId),
			// ours: spec §2.8, in the wording of test_rotate_key_on_demand_raises_error_given_key_is_disabled
			"DisabledException", *off.Arn + " is disabled.", false},
		{"key pending deletion", rotate(*doomed.KeyId),
			// ours: spec §4.2, §4.3
			"KMSInvalidStateException", *doomed.Arn + " is pending deletion.", false},
		{"external key pending import", rotate(*pending.KeyId),
			// AWS: snapshot test_rotate_key_on_demand_raises_error_given_key_with_imported_key_material
			"UnsupportedOperationException", *pending.Arn + " origin is EXTERNAL which is not valid for this operation.", false},
		{"external key, nothing pending rotation", rotate(*imported.KeyId),
			// ours (rotation.go): spec §2.8, §9.1; AWS's answer is recorded by
			// test_rotate_key_on_demand_on_external_key_with_no_key_material, whose
			// snapshot no stored copy holds
			"UnsupportedOperationException", *imported.Arn + " has no key material pending rotation; import new key material with ImportType NEW_KEY_MATERIAL first.", false},
	})

	t.Run("limit", func(t *testing.T) {
		k := newKey(t, c, "", "")
		for i := range 25 {
			if err := rotate(*k.KeyId)(); err != nil {
				t.Fatalf("rotation %d: %v", i+1, err)
			}
		}
		runErrRows(t, []errRow{{"26th rotation", rotate(*k.KeyId),
			// AWS: snapshot test_key_rotations_limits
			"LimitExceededException", "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: " + *k.Arn, false}})
	})
}

func TestAWSErrorsEnableKeyRotation(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	enable := func(id *string, days *int32) func() error {
		return func() error {
			_, err := c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: days})
			return err
		}
	}
	k := newKey(t, c, "", "")
	rsa := newKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	off := newKey(t, c, "", "")
	disableKey(t, c, off.KeyId)
	doomed := newKey(t, c, "", "")
	scheduleDeletion(t, c, doomed.KeyId)
	pending := createExternalKey(t, c)
	runErrRows(t, []errRow{
		{"period of 89 days", enable(k.KeyId, aws.Int32(89)),
			// ours: spec §1.5, §2.8 (model range 90–2560)
			"ValidationException", "1 validation error detected: Value '89' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90", false},
		{"period of 2561 days", enable(k.KeyId, aws.Int32(2561)),
			// ours: spec §1.5, §2.8
			"ValidationException", "1 validation error detected: Value '2561' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 2560", false},
		{"asymmetric key", enable(rsa.KeyId, nil),
			// ours (rotation.go): spec §2.8; AWS doc: EnableKeyRotation API reference (UnsupportedOperationException)
			"UnsupportedOperationException", *rsa.Arn + " key spec RSA_2048 cannot be rotated.", false},
		{"disabled key", enable(off.KeyId, nil),
			// ours: spec §2.8, in the wording of test_rotate_key_on_demand_raises_error_given_key_is_disabled
			"DisabledException", *off.Arn + " is disabled.", false},
		{"key pending deletion", enable(doomed.KeyId, nil),
			// ours: spec §2.8, §4.2
			"KMSInvalidStateException", *doomed.Arn + " is pending deletion.", false},
		{"external key", enable(pending.KeyId, nil),
			// ours: spec §2.8 EnableKeyRotation, in the wording of test_rotate_key_on_demand_raises_error_given_key_with_imported_key_material
			"UnsupportedOperationException", *pending.Arn + " origin is EXTERNAL which is not valid for this operation.", false},
	})
}

func TestAWSErrorsReEncrypt(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	src := newKey(t, c, "", "")
	dst := newKey(t, c, "", "")
	other := newKey(t, c, "", "")
	mac := newKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	signer := newKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	blob := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: src.KeyId, Plaintext: []byte("p")})).CiphertextBlob
	reEncrypt := func(source, dest *string) func() error {
		return func() error {
			_, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: blob, SourceKeyId: source, DestinationKeyId: dest})
			return err
		}
	}
	const incorrect = "The key ID in the request does not identify a CMK that can perform this operation."
	runErrRows(t, []errRow{
		{"HMAC destination", reEncrypt(nil, mac.KeyId),
			// ours: the wording AWS records for Encrypt, Sign, Verify, GenerateMac (snapshot test_error_messaging_for_invalid_keys)
			"InvalidKeyUsageException", *mac.Arn + " key usage is GENERATE_VERIFY_MAC which is not valid for ReEncrypt.", false},
		{"signing destination", reEncrypt(nil, signer.KeyId),
			// ours: as above
			"InvalidKeyUsageException", *signer.Arn + " key usage is SIGN_VERIFY which is not valid for ReEncrypt.", false},
		{"another symmetric source", reEncrypt(other.KeyId, dst.KeyId),
			// AWS: snapshot test_re_encrypt_incorrect_source_key
			"IncorrectKeyException", incorrect, false},
		{"HMAC source", reEncrypt(mac.KeyId, dst.KeyId),
			// ours: as Decrypt answers (AWS: snapshot test_error_messaging_for_invalid_keys, decrypt-invalid-key-id)
			"IncorrectKeyException", incorrect, false},
		{"signing source", reEncrypt(signer.KeyId, dst.KeyId),
			// ours: an asymmetric key named for a symmetric ciphertext is
			// refused for its usage (cryptoops.go open); no recording says
			// whether AWS compares the ciphertext's key first, as it does
			// for the HMAC key above
			"InvalidKeyUsageException", *signer.Arn + " key usage is SIGN_VERIFY which is not valid for ReEncrypt.", false},
	})
}

// TestAWSErrorsKeyUsage: operations given a key of the wrong usage, or an
// algorithm its spec does not have.
func TestAWSErrorsKeyUsage(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	sym := newKey(t, c, "", "")
	mac := newKey(t, c, types.KeySpecHmac224, types.KeyUsageTypeGenerateVerifyMac)
	rsaSign := newKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	eccSign := newKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	blob := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.KeyId, Plaintext: []byte("test message 123!@#")})).CiphertextBlob
	msg := []byte("some important message")
	runErrRows(t, []errRow{
		{"GenerateMac, symmetric key", func() error {
			_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: sym.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha224})
			return err
		},
			// AWS: snapshot test_error_messaging_for_invalid_keys
			"InvalidKeyUsageException", *sym.Arn + " key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.", false},
		{"GenerateMac, another HMAC algorithm", func() error {
			_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: mac.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
			return err
		},
			// AWS: snapshot test_invalid_generate_mac[HMAC_224-HMAC_SHA_256]
			"InvalidKeyUsageException", "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.", false},
		{"VerifyMac, another HMAC algorithm", func() error {
			_, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: mac.KeyId, Message: msg, Mac: make([]byte, 28), MacAlgorithm: types.MacAlgorithmSpecHmacSha512})
			return err
		},
			// AWS: snapshot test_invalid_verify_mac[HMAC_256-HMAC_SHA_512-some important message] (there on an HMAC_256 key)
			"InvalidKeyUsageException", "Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_224.", false},
		{"Sign, HMAC key", func() error {
			_, err := c.Sign(ctx, &awskms.SignInput{KeyId: mac.KeyId, Message: []byte("test message 123!@#"), MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
			return err
		},
			// AWS: snapshot test_error_messaging_for_invalid_keys
			"InvalidKeyUsageException", *mac.Arn + " key usage is GENERATE_VERIFY_MAC which is not valid for Sign.", false},
		{"Verify, symmetric key", func() error {
			_, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: sym.KeyId, Message: []byte("test message"), Signature: []byte("random text"), MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		},
			// AWS: snapshot test_error_messaging_for_invalid_keys
			"InvalidKeyUsageException", *sym.Arn + " key usage is ENCRYPT_DECRYPT which is not valid for Verify.", false},
		{"Encrypt, signing key", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: rsaSign.KeyId, Plaintext: []byte("test message 123!@#")})
			return err
		},
			// AWS: snapshot test_error_messaging_for_invalid_keys
			"InvalidKeyUsageException", *rsaSign.Arn + " key usage is SIGN_VERIFY which is not valid for Encrypt.", false},
		{"Decrypt, HMAC key named", func() error {
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: mac.KeyId, CiphertextBlob: blob})
			return err
		},
			// AWS: snapshot test_error_messaging_for_invalid_keys
			"IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.", false},
		{"DeriveSharedSecret, signing key", func() error {
			pub := must[*awskms.GetPublicKeyOutput](t)(c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: eccSign.KeyId})).PublicKey
			_, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: eccSign.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: pub})
			return err
		},
			// AWS: snapshot test_derive_shared_secret
			"InvalidKeyUsageException", *eccSign.Arn + " key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.", false},
		{"Sign, digest of the wrong length", func() error {
			_, err := c.Sign(ctx, &awskms.SignInput{KeyId: eccSign.KeyId, Message: []byte("test message !%$@ 1234567890"), MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		},
			// AWS: snapshot test_sign_verify[ECC_NIST_P256-ECDSA_SHA_256]
			"ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_256.", false},
	})
}

// TestAWSErrorsPendingImport: a key without its imported material refuses
// every use, and rotation.
func TestAWSErrorsPendingImport(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	sym := createExternalKey(t, c)
	had := createExternalKey(t, c)
	importMaterial(t, c, *had.KeyId, newMaterial(t), nil)
	blob := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: had.KeyId, Plaintext: []byte("p")})).CiphertextBlob
	must[*awskms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: had.KeyId}))
	ecc := createExternal(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	mac := createExternal(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	pendingImport := func(k *types.KeyMetadata) string { return *k.Arn + " is pending import." }
	runErrRows(t, []errRow{
		{"Encrypt", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.KeyId, Plaintext: []byte("test content 123 !#")})
			return err
		},
			// AWS: snapshot test_import_key_symmetric (encrypt-before-import-error)
			"KMSInvalidStateException", pendingImport(sym), false},
		{"Encrypt after DeleteImportedKeyMaterial", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: had.KeyId, Plaintext: []byte("test content 123 !#")})
			return err
		},
			// AWS: snapshot test_import_key_symmetric (encrypt-after-delete-error)
			"KMSInvalidStateException", pendingImport(had), false},
		{"Decrypt after DeleteImportedKeyMaterial", func() error {
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
			return err
		},
			// ours: spec §4.3, §2.5 Decrypt step 5, in the wording of test_import_key_symmetric
			"KMSInvalidStateException", pendingImport(had), false},
		{"GenerateDataKey", func() error {
			_, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: sym.KeyId, KeySpec: types.DataKeySpecAes256})
			return err
		},
			// ours: spec §4.3, in the wording of test_import_key_symmetric
			"KMSInvalidStateException", pendingImport(sym), false},
		{"Sign", func() error {
			_, err := c.Sign(ctx, &awskms.SignInput{KeyId: ecc.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		},
			// ours: spec §4.3, in the wording of test_import_key_symmetric
			"KMSInvalidStateException", pendingImport(ecc), false},
		{"GetPublicKey", func() error {
			_, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: ecc.KeyId})
			return err
		},
			// ours: spec §4.3, in the wording of test_import_key_symmetric
			"KMSInvalidStateException", pendingImport(ecc), false},
		{"GenerateMac", func() error {
			_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: mac.KeyId, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
			return err
		},
			// ours: spec §4.3, in the wording of test_import_key_symmetric
			"KMSInvalidStateException", pendingImport(mac), false},
		{"CreateGrant", func() error {
			_, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: sym.KeyId, GranteePrincipal: aws.String("arn:aws:iam::" + testAccount + ":root"),
				Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
			return err
		},
			// ours: spec §2.7 CreateGrant, §4.3
			"KMSInvalidStateException", pendingImport(sym), false},
		{"RotateKeyOnDemand", func() error {
			_, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: had.KeyId})
			return err
		},
			// AWS: snapshot test_rotate_key_on_demand_raises_error_given_key_with_imported_key_material
			"UnsupportedOperationException", *had.Arn + " origin is EXTERNAL which is not valid for this operation.", false},
		{"EnableKey", func() error {
			_, err := c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: sym.KeyId})
			return err
		},
			// ours: spec §2.1 EnableKey, §4.2
			"KMSInvalidStateException", pendingImport(sym), false},
	})
}

// TestAWSErrorsImportLifecycle: GetParametersForImport, ImportKeyMaterial
// and DeleteImportedKeyMaterial refusals.
func TestAWSErrorsImportLifecycle(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	native := newKey(t, c, "", "")
	k := createExternalKey(t, c)
	importMaterial(t, c, *k.KeyId, newMaterial(t), nil)
	fresh := createExternalKey(t, c)
	alg := types.AlgorithmSpecRsaesOaepSha256
	importNew := func(id *string, expires bool) func() error {
		return func() error {
			p := getParams(t, c, *id, alg, types.WrappingKeySpecRsa2048)
			in := importInput(t, *id, p, alg, newMaterial(t), nil)
			in.ImportType = types.ImportTypeNewKeyMaterial
			if expires {
				in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, aws.Time(time.Now().Add(dayDur))
			}
			_, err := c.ImportKeyMaterial(ctx, in)
			return err
		}
	}
	runErrRows(t, []errRow{
		{"GetParametersForImport, AWS_KMS key", func() error {
			_, err := c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: native.KeyId,
				WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa4096})
			return err
		},
			// AWS: snapshot test_get_parameters_for_import
			"UnsupportedOperationException", *native.Arn + " origin is AWS_KMS which is not valid for this operation.", false},
		{"DeleteImportedKeyMaterial, AWS_KMS key", func() error {
			_, err := c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: native.KeyId})
			return err
		},
			// ours: spec §2.9, in the wording of test_get_parameters_for_import
			"UnsupportedOperationException", *native.Arn + " origin is AWS_KMS which is not valid for this operation.", false},
		{"expiring material without ValidTo", func() error {
			p := getParams(t, c, *fresh.KeyId, alg, types.WrappingKeySpecRsa2048)
			in := importInput(t, *fresh.KeyId, p, alg, newMaterial(t), nil)
			in.ExpirationModel = "" // the default, KEY_MATERIAL_EXPIRES
			_, err := c.ImportKeyMaterial(ctx, in)
			return err
		},
			// AWS: snapshot test_import_key_symmetric (import-expiring-key-without-valid-to)
			"ValidationException", "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES", false},
	})
	// Material for a rotation may expire (each material has its own
	// ValidTo): TestImportMaterialOwnExpiry.

	p := getParams(t, c, *k.KeyId, alg, types.WrappingKeySpecRsa2048)
	in := importInput(t, *k.KeyId, p, alg, newMaterial(t), nil)
	in.ImportType = types.ImportTypeNewKeyMaterial
	pending := *must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, in)).KeyMaterialId
	runErrRows(t, []errRow{
		{"a second pending material", importNew(k.KeyId, false),
			// ours (importops.go): spec §10.4; AWS's answer is recorded by
			// test_import_key_material_raises_if_there_is_already_key_material_pending,
			// whose snapshot no stored copy holds
			"ValidationException", *k.Arn + " already has key material " + pending +
				" pending rotation; rotate the key with RotateKeyOnDemand, or delete that material, before importing more.", false},
	})
}

// TestAWSErrorsDescribeAfterDeleteImportedKeyMaterial: what DescribeKey
// says of a key whose material was deleted: PendingImport, not enabled, and
// nothing of the material (ExpirationModel, ValidTo) any more.
func TestAWSErrorsDescribeAfterDeleteImportedKeyMaterial(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	for _, tc := range []struct {
		spec  types.KeySpec
		usage types.KeyUsageType
		// AWS: snapshots test_import_key_symmetric, test_import_key_asymmetric,
		// test_import_key_ecc_keys[*], test_import_key_hmac_keys[*] and
		// test_import_key_rsa_aes_wrap_sha256 (describe-key-after-deleted-import)
	}{
		{types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt},
		{types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify},
		{types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac},
	} {
		t.Run(string(tc.spec), func(t *testing.T) {
			k := createExternal(t, c, tc.spec, tc.usage)
			alg, wrap := types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048
			var material []byte
			switch tc.spec {
			case types.KeySpecSymmetricDefault:
				material = newMaterial(t)
			case types.KeySpecHmac256:
				material = makeKey(t, tc.spec, 32).material
			default:
				material = makeKey(t, tc.spec, 0).material
			}
			p := getParams(t, c, *k.KeyId, alg, wrap)
			in := importInput(t, *k.KeyId, p, alg, material, aws.Time(time.Now().Add(30*dayDur)))
			must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, in))
			if m := describe(t, c, *k.KeyId); m.KeyState != types.KeyStateEnabled || m.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || m.ValidTo == nil {
				t.Fatalf("after import: %s, %s, valid to %v", m.KeyState, m.ExpirationModel, m.ValidTo)
			}
			must[*awskms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: k.KeyId}))
			m := describe(t, c, *k.KeyId)
			if m.KeyState != types.KeyStatePendingImport || m.Enabled || m.ExpirationModel != "" || m.ValidTo != nil ||
				m.Origin != types.OriginTypeExternal || m.KeySpec != tc.spec || m.KeyUsage != tc.usage {
				t.Fatalf("after DeleteImportedKeyMaterial: state %s, enabled %v, expiration %q, valid to %v, origin %s",
					m.KeyState, m.Enabled, m.ExpirationModel, m.ValidTo, m.Origin)
			}
			if tc.spec != types.KeySpecSymmetricDefault && m.CurrentKeyMaterialId != nil {
				// AWS shows no CurrentKeyMaterialId for asymmetric and HMAC keys (same snapshots).
				t.Fatalf("after DeleteImportedKeyMaterial: CurrentKeyMaterialId %s", *m.CurrentKeyMaterialId)
			}
		})
	}
}

// TestAWSErrorsDescribeKey: unknown and malformed key ids, multi-Region
// ones included.
func TestAWSErrorsDescribeKey(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	eu := ts.client("eu-west-1")
	mrk := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{MultiRegion: aws.Bool(true)})).KeyMetadata
	describeIn := func(cl *awskms.Client, id string) func() error {
		return func() error {
			_, err := cl.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
			return err
		}
	}
	const (
		uuid    = "134f2428-cec1-4b25-a1ae-9048164dba47"
		mrkID   = "mrk-d3b95762d3b95762d3b95762d3b95762"
		euKeyNS = "arn:aws:kms:eu-west-1:" + testAccount + ":key/"
	)
	runErrRows(t, []errRow{
		{"unknown key id", describeIn(c, uuid),
			// AWS: snapshot test_get_key_does_not_exist (describe-nonexistent-key-with-id)
			"NotFoundException", "Key '" + keyARN(uuid) + "' does not exist", false},
		{"unknown key ARN", describeIn(c, keyARN(uuid)),
			// AWS: snapshot test_get_key_does_not_exist (describe-nonexistent-with-arn)
			"NotFoundException", "Key '" + keyARN(uuid) + "' does not exist", false},
		{"unknown multi-Region key id", describeIn(c, mrkID),
			// AWS: snapshot test_get_key_does_not_exist (describe-key-with-valid-id-mrk)
			"NotFoundException", "Key '" + keyARN(mrkID) + "' does not exist", false},
		{"unknown multi-Region key ARN", describeIn(c, keyARN(mrkID)),
			// ours: as AWS answers the key id and an ARN of another unknown key (snapshot test_get_key_does_not_exist)
			"NotFoundException", "Key '" + keyARN(mrkID) + "' does not exist", false},
		{"malformed key id", describeIn(c, "fake-key-id"),
			// AWS: snapshot test_get_key_invalid_uuid
			"NotFoundException", "Invalid keyId 'fake-key-id'", false},
		{"key id without dashes", describeIn(c, "134f2428cec14b25a1ae9048164dba47"),
			// AWS: snapshot test_get_key_invalid_uuid
			"NotFoundException", "Invalid keyId '134f2428cec14b25a1ae9048164dba47'", false},
		{"malformed multi-Region key id", describeIn(c, "mrk-fake-key-id"),
			// AWS: snapshot test_get_key_invalid_uuid
			"NotFoundException", "Invalid keyId 'mrk-fake-key-id'", false},
		{"key ARN of another region", describeIn(c, euKeyNS+uuid),
			// AWS: snapshot test_get_key_in_different_region (describe-key-diff-region-with-arn)
			"NotFoundException", "Invalid arn eu-west-1", false},
		{"multi-Region key ARN of another region", describeIn(c, euKeyNS+*mrk.KeyId),
			// ours: as AWS answers a key ARN of another region (snapshot test_get_key_in_different_region)
			"NotFoundException", "Invalid arn eu-west-1", false},
		{"multi-Region key not yet replicated", describeIn(eu, *mrk.KeyId),
			// AWS: snapshot test_replicate_key (describe-key-from-different-region)
			"NotFoundException", "Key '" + euKeyNS + *mrk.KeyId + "' does not exist", false},
	})
}

func TestAWSErrorsReplicateKey(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	eu := ts.client("eu-west-1")
	single := newKey(t, c, "", "")
	mrk := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{MultiRegion: aws.Bool(true)})).KeyMetadata
	replica := must[*awskms.ReplicateKeyOutput](t)(c.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: mrk.KeyId, ReplicaRegion: aws.String("eu-west-1")})).ReplicaKeyMetadata
	replicate := func(cl *awskms.Client, id *string, region string) func() error {
		return func() error {
			_, err := cl.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: id, ReplicaRegion: aws.String(region)})
			return err
		}
	}
	runErrRows(t, []errRow{
		{"replica key", replicate(eu, replica.KeyId, "ap-south-1"),
			// AWS: snapshot test_replicate_replica_key_should_fail
			"UnsupportedOperationException", *replica.Arn + " is not a multi-region primary key.", false},
		{"single-Region key", replicate(c, single.KeyId, "eu-west-1"),
			// ours: spec §2.10 ReplicateKey
			"UnsupportedOperationException", *single.Arn + " is not a multi-Region key: ReplicateKey needs a multi-Region primary key.", false},
		{"replica exists", replicate(c, mrk.KeyId, "eu-west-1"),
			// ours: spec §2.10 ReplicateKey
			"AlreadyExistsException", "Replica key " + *replica.Arn + " already exists.", false},
	})
}

// TestAWSErrorsCryptographic: the other refusals of cryptographic
// operations that AWS's recordings show.
func TestAWSErrorsCryptographic(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	sym := newKey(t, c, "", "")
	rsa := newKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	ecc := newKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	mac := newKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	agree := newKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	withContext := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.KeyId, Plaintext: []byte("p"),
		EncryptionContext: map[string]string{"context-key": "context-value"}})).CiphertextBlob
	sig := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: ecc.KeyId, Message: []byte("bad"),
		MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})).Signature
	tag := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: mac.KeyId,
		Message: []byte("some important message"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})).Mac
	long := []byte(strings.Repeat("more than 500 bytes and less than 4096 bytes", 20))
	runErrRows(t, []errRow{
		{"GenerateRandom without NumberOfBytes", func() error {
			_, err := c.GenerateRandom(ctx, &awskms.GenerateRandomInput{})
			return err
		},
			// AWS: snapshot test_generate_random_invalid_number_of_bytes[None]
			"ValidationException", "NumberOfBytes is required.", false},
		{"GenerateRandom of 0 bytes", func() error {
			_, err := c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(0)})
			return err
		},
			// AWS: snapshot test_generate_random_invalid_number_of_bytes[0]
			"ValidationException", "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1", false},
		{"GenerateRandom of 1025 bytes", func() error {
			_, err := c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(1025)})
			return err
		},
			// AWS: snapshot test_generate_random_invalid_number_of_bytes[1025]
			"ValidationException", "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024", false},
		{"Encrypt, over 4096 bytes", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.KeyId, Plaintext: make([]byte, 4097)})
			return err
		},
			// AWS: snapshot test_plaintext_size_for_encrypt
			"ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096", false},
		{"Encrypt, over the RSA_2048 OAEP SHA-1 limit", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: rsa.KeyId, Plaintext: long, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
			return err
		},
			// AWS: snapshot test_encrypt_validate_plaintext_size_per_key_type[RSA_2048-RSAES_OAEP_SHA_1]
			"ValidationException", "Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than 214 bytes.", false},
		{"Encrypt, over the RSA_2048 OAEP SHA-256 limit", func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: rsa.KeyId, Plaintext: long, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			return err
		},
			// AWS: snapshot test_encrypt_validate_plaintext_size_per_key_type[RSA_2048-RSAES_OAEP_SHA_256]
			"ValidationException", "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.", false},
		{"Decrypt without the encryption context", func() error {
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: sym.KeyId, CiphertextBlob: withContext})
			return err
		},
			// AWS: snapshot test_encrypt_decrypt_encryption_context
			"InvalidCiphertextException", "", false},
		{"Decrypt, a damaged ciphertext", func() error {
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: sym.KeyId, CiphertextBlob: append(append([]byte{}, withContext...), "bad_data"...),
				EncryptionContext: map[string]string{"context-key": "context-value"}})
			return err
		},
			// AWS: snapshot test_key_rotations_encryption_decryption
			"InvalidCiphertextException", "", false},
		{"GenerateMac, malformed key id", func() error {
			_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String("key_id"), Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
			return err
		},
			// AWS: snapshot test_generate_and_verify_mac[HMAC_256-HMAC_SHA_256]
			"NotFoundException", "Invalid keyId 'key_id'", false},
		{"VerifyMac, another message", func() error {
			_, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: mac.KeyId, Message: []byte("some different important message"), Mac: tag, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
			return err
		},
			// AWS: snapshot test_invalid_verify_mac[HMAC_256-HMAC_SHA_256-some different important message]
			"KMSInvalidMacException", "", false},
		{"Verify, another message", func() error {
			_, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: ecc.KeyId, Message: []byte("test message !%$@ 1234567890"), Signature: sig,
				MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		},
			// AWS: snapshot test_sign_verify[ECC_NIST_P256-ECDSA_SHA_256] (bad-signature)
			"KMSInvalidSignatureException", "", false},
		{"DeriveSharedSecret, not a public key", func() error {
			// Read off the wire: the SDK shows the empty message of an
			// error the KMS model does not define as "UnknownError".
			body := `{"KeyId":"` + *agree.KeyId + `","KeyAgreementAlgorithm":"ECDH","PublicKey":"` +
				base64.StdEncoding.EncodeToString([]byte("InvalidPublicKey")) + `"}`
			_, typ, msg := rawCall(t, ts.URL, "TrentService.DeriveSharedSecret", body,
				&aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecret})
			return &smithy.GenericAPIError{Code: typ, Message: msg}
		},
			// AWS: snapshot test_derive_shared_secret (response-invalid-public-key)
			"ValidationException", "", false},
		{"DeriveSharedSecret, symmetric key", func() error {
			pub := must[*awskms.GetPublicKeyOutput](t)(c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: agree.KeyId})).PublicKey
			_, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: sym.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: pub})
			return err
		},
			// AWS: snapshot test_derive_shared_secret (response-invalid-key)
			"InvalidKeyUsageException", *sym.Arn + " key usage is ENCRYPT_DECRYPT which is not valid for DeriveSharedSecret.", false},
		{"GenerateDataKeyPair, dry run", func() error {
			_, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: types.DataKeyPairSpecRsa2048, DryRun: aws.Bool(true)})
			return err
		},
			// AWS: snapshot test_generate_data_key_pair_dry_run
			"DryRunOperationException", "The request would have succeeded, but the DryRun option is set.", false},
	})
}
