package service

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/openkms/kms"
)

// TestValidateMessages pins the AWS wording of model-constraint failures:
// SDKs and scripts match on it, so a rewording is a breaking change.
func TestValidateMessages(t *testing.T) {
	const (
		null = "failed to satisfy constraint: Member must not be null"
		enc  = "[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"
	)
	long := strings.Repeat("d", 8193)
	for _, tc := range []struct {
		name string
		in   interface{ Validate() error }
		want string // "" means valid; a trailing "..." makes it a prefix
	}{
		// One failure, several failures, and the null form.
		{"encrypt ok", &EncryptInput{KeyId: ptr("k"), Plaintext: []byte("x")}, ""},
		{"encrypt empty", &EncryptInput{},
			"2 validation errors detected: Value null at 'keyId' " + null + "; Value null at 'plaintext' " + null},
		{"encrypt no key", &EncryptInput{Plaintext: []byte("x")},
			"1 validation error detected: Value null at 'keyId' " + null},
		{"encrypt three", &EncryptInput{KeyId: ptr(""), Plaintext: []byte{}, EncryptionAlgorithm: ptr("rot13")},
			"3 validation errors detected: " +
				"Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value 'rot13' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: " + enc},

		// Blobs are sensitive: the value is never echoed, whatever its size.
		{"plaintext too long", &EncryptInput{KeyId: ptr("k"), Plaintext: []byte(strings.Repeat("S", 4097))},
			"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{"plaintext max", &EncryptInput{KeyId: ptr("k"), Plaintext: make([]byte, 4096)}, ""},
		{"ciphertext too long", &DecryptInput{CiphertextBlob: make([]byte, 6145)},
			"1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144"},
		{"decrypt null", &DecryptInput{}, "1 validation error detected: Value null at 'ciphertextBlob' " + null},
		{"decrypt optional key", &DecryptInput{CiphertextBlob: []byte{1}, KeyId: ptr("")},
			"1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"reencrypt two", &ReEncryptInput{CiphertextBlob: []byte{}},
			"2 validation errors detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value null at 'destinationKeyId' " + null},

		// Lengths count characters, and values are echoed whole, however
		// long (AWS quotes a 257-character tag value whole: LocalStack's
		// AWS-validated test_key_with_long_tag_value_raises_error).
		{"key id max", &DescribeKeyInput{KeyId: ptr(strings.Repeat("é", 2048))}, ""},
		{"key id too long", &DescribeKeyInput{KeyId: ptr(strings.Repeat("k", 2049))},
			"1 validation error detected: Value '" + strings.Repeat("k", 2049) + "' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048"},
		{"grant tokens", &DescribeKeyInput{KeyId: ptr("k"), GrantTokens: make([]string, 11)},
			"12 validation errors detected: Value '11' at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10; " +
				"Value '' at 'grantTokens.1.member' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '' at 'grantTokens.2.member'..."},
		{"grant token empty", &DescribeKeyInput{KeyId: ptr("k"), GrantTokens: []string{"a", ""}},
			"1 validation error detected: Value '' at 'grantTokens.2.member' failed to satisfy constraint: Member must have length greater than or equal to 1"},

		// Ranges and enums.
		{"data key spec", &GenerateDataKeyInput{KeyId: ptr("k"), KeySpec: ptr("AES_256")}, ""},
		{"data key bytes", &GenerateDataKeyInput{KeyId: ptr("k"), NumberOfBytes: ptr[int32](1024)}, ""},
		{"data key zero", &GenerateDataKeyInput{KeyId: ptr("k"), NumberOfBytes: ptr[int32](0)},
			"1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"data key big", &GenerateDataKeyInput{KeyId: ptr("k"), NumberOfBytes: ptr[int32](1025)},
			"1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"},
		{"data key negative", &GenerateDataKeyInput{KeyId: ptr("k"), NumberOfBytes: ptr[int32](-2147483648)},
			"1 validation error detected: Value '-2147483648' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"data key enum", &GenerateDataKeyInput{KeyId: ptr("k"), KeySpec: ptr("AES_512")},
			"1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"},
		// Model failures come before the either-or rule.
		{"data key neither", &GenerateDataKeyInput{KeyId: ptr("k")}, "Please specify either number of bytes or key spec."},
		{"data key both", &GenerateDataKeyInput{KeyId: ptr("k"), KeySpec: ptr("AES_256"), NumberOfBytes: ptr[int32](32)},
			"Please specify either number of bytes or key spec."},
		{"data key null first", &GenerateDataKeyInput{},
			"1 validation error detected: Value null at 'keyId' " + null},
		{"random ok", &GenerateRandomInput{NumberOfBytes: ptr[int32](1)}, ""},
		{"random null", &GenerateRandomInput{}, "NumberOfBytes is required."},
		{"random big", &GenerateRandomInput{NumberOfBytes: ptr[int32](1025), CustomKeyStoreId: ptr("")},
			"2 validation errors detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024; " +
				"Value '' at 'customKeyStoreId' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"deletion window", &ScheduleKeyDeletionInput{KeyId: ptr("k"), PendingWindowInDays: ptr[int32](6)},
			"1 validation error detected: Value '6' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7"},
		{"deletion window max", &ScheduleKeyDeletionInput{KeyId: ptr("k"), PendingWindowInDays: ptr[int32](31)},
			"1 validation error detected: Value '31' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 30"},

		// CreateKey: every member optional; enums, lengths and the policy pattern.
		{"create key empty", &CreateKeyInput{}, ""},
		{"create key enums", &CreateKeyInput{KeyUsage: ptr("ENCRYPT"), KeySpec: ptr("AES_256"), Origin: ptr("aws_kms")},
			"3 validation errors detected: " +
				"Value 'ENCRYPT' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT]; " +
				"Value 'AES_256' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87, ECC_NIST_EDWARDS25519]; " +
				"Value 'aws_kms' at 'origin' failed to satisfy constraint: Member must satisfy enum value set: [AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE]"},
		{"create key description", &CreateKeyInput{Description: &long},
			"1 validation error detected: Value '" + long + "' at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192"},
		{"create key empty description", &CreateKeyInput{Description: ptr("")}, ""},
		{"create key empty policy", &CreateKeyInput{Policy: ptr("")},
			"1 validation error detected: Value '' at 'policy' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"create key policy pattern", &CreateKeyInput{Policy: ptr("{\x01}")},
			"1 validation error detected: Value '{\x01}' at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: ..."},
		{"create key policy latin1", &CreateKeyInput{Policy: ptr("{\"é\":\t\"\r\n\"}")}, ""},
		{"create key tags", &CreateKeyInput{Tags: []kms.Tag{{Key: "ok", Value: ""}, {Key: "", Value: strings.Repeat("v", 257)}}},
			"2 validation errors detected: " +
				"Value '' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '" + strings.Repeat("v", 257) + "' at 'tags.2.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256"},

		// Lists.
		{"list ok", &ListInput{Limit: ptr[int32](1000), Marker: ptr("m")}, ""},
		{"list limits", &ListInput{Limit: ptr[int32](0), Marker: ptr("")},
			"2 validation errors detected: " +
				"Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; " +
				"Value '' at 'marker' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"list limit max", &ListInput{Limit: ptr[int32](1001)},
			"1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"},
		{"list marker pattern", &ListInput{Marker: ptr("a\nb")},
			"1 validation error detected: Value 'a\nb' at 'marker' failed to satisfy constraint: Member must satisfy regular expression pattern: ..."},
		{"list marker length", &ListInput{Marker: ptr(strings.Repeat("m", 1025))},
			"1 validation error detected: Value '" + strings.Repeat("m", 1025) + "' at 'marker' failed to satisfy constraint: Member must have length less than or equal to 1024"},
		{"list aliases", &ListAliasesInput{KeyId: ptr(""), ListInput: ListInput{Limit: ptr[int32](1001)}},
			"2 validation errors detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '1001' at 'limit'..."},
		{"list tags", &ListResourceTagsInput{}, "1 validation error detected: Value null at 'keyId' " + null},

		// Aliases: the model pattern is checked here, the alias/ rules later.
		{"alias ok", &AliasInput{AliasName: ptr("alias/a:b/c_d-e"), TargetKeyId: ptr("k")}, ""},
		{"alias no prefix passes the model", &AliasInput{AliasName: ptr("fuzz"), TargetKeyId: ptr("k")}, ""},
		{"alias null", &AliasInput{},
			"2 validation errors detected: Value null at 'aliasName' " + null + "; Value null at 'targetKeyId' " + null},
		{"alias space", &AliasInput{AliasName: ptr("alias/a b"), TargetKeyId: ptr("k")},
			"1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"},
		{"alias unicode", &AliasInput{AliasName: ptr("alias/ü"), TargetKeyId: ptr("k")},
			"1 validation error detected: Value 'alias/ü' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"},
		{"alias empty", &DeleteAliasInput{AliasName: ptr("")},
			"1 validation error detected: Value '' at 'aliasName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"alias too long", &DeleteAliasInput{AliasName: ptr("alias/" + strings.Repeat("a", 251))},
			"1 validation error detected: Value 'alias/" + strings.Repeat("a", 251) + "' at 'aliasName' failed to satisfy constraint: Member must have length less than or equal to 256"},

		// Tags and descriptions.
		{"tag null", &TagResourceInput{KeyId: ptr("k")}, "1 validation error detected: Value null at 'tags' " + null},
		{"tag empty list", &TagResourceInput{KeyId: ptr("k"), Tags: []kms.Tag{}}, ""},
		{"tag key long", &TagResourceInput{KeyId: ptr("k"), Tags: []kms.Tag{{Key: strings.Repeat("t", 129)}}},
			"1 validation error detected: Value '" + strings.Repeat("t", 129) + "' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"untag null", &UntagResourceInput{KeyId: ptr("k")}, "1 validation error detected: Value null at 'tagKeys' " + null},
		{"untag empty key", &UntagResourceInput{KeyId: ptr("k"), TagKeys: []string{"a", "b", ""}},
			"1 validation error detected: Value '' at 'tagKeys.3.member' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"description null", &UpdateKeyDescriptionInput{KeyId: ptr("k")},
			"1 validation error detected: Value null at 'description' " + null},
		{"description empty", &UpdateKeyDescriptionInput{KeyId: ptr("k"), Description: ptr("")}, ""},
		{"key id only", &KeyIDInput{}, "1 validation error detected: Value null at 'keyId' " + null},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			var ke *kms.Error
			if !errors.As(err, &ke) || ke.Code != kms.ErrValidation {
				t.Fatalf("got %v, want a ValidationException", err)
			}
			// A want ending in "..." is a prefix; the rest must match exactly.
			want, prefix := strings.CutSuffix(tc.want, "...")
			if ke.Message != want && !(prefix && strings.HasPrefix(ke.Message, want)) {
				t.Fatalf("got  %q\nwant %q", ke.Message, tc.want)
			}
		})
	}
}

// TestValidateNeverEchoesBlobs checks that no failure message carries the
// bytes of a plaintext or ciphertext, which may be secret.
func TestValidateNeverEchoesBlobs(t *testing.T) {
	secret := []byte("TOPSECRET")
	big := []byte(strings.Repeat("TOPSECRET", 700))
	for _, in := range []interface{ Validate() error }{
		&EncryptInput{Plaintext: big},
		&DecryptInput{CiphertextBlob: big, KeyId: ptr("")},
		&ReEncryptInput{CiphertextBlob: big},
		&EncryptInput{KeyId: ptr(""), Plaintext: secret, EncryptionAlgorithm: ptr("x")},
	} {
		err := in.Validate()
		if err == nil {
			t.Fatalf("%T: no error", in)
		}
		if strings.Contains(err.Error(), "TOPSECRET") {
			t.Fatalf("%T: message echoes a blob: %v", in, err)
		}
	}
}

// TestValidatorCounts checks the singular and plural forms, and that
// failures are joined in the order they were found.
func TestValidatorCounts(t *testing.T) {
	const f = "Value null at '%s' failed to satisfy constraint: Member must not be null"
	for _, tc := range []struct {
		members []string
		want    string
	}{
		{nil, ""},
		{[]string{"a"}, "1 validation error detected: " + fmt.Sprintf(f, "a")},
		{[]string{"a", "b"}, "2 validation errors detected: " + fmt.Sprintf(f, "a") + "; " + fmt.Sprintf(f, "b")},
		{[]string{"c", "b", "a"}, "3 validation errors detected: " + fmt.Sprintf(f, "c") + "; " + fmt.Sprintf(f, "b") + "; " + fmt.Sprintf(f, "a")},
	} {
		var v validator
		for _, m := range tc.members {
			v.required(m, false)
		}
		err := v.err()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: got %v, want nil", tc.members, err)
			}
			continue
		}
		var ke *kms.Error
		if !errors.As(err, &ke) || ke.Code != kms.ErrValidation || ke.Message != tc.want {
			t.Errorf("%v: got %v\nwant %s", tc.members, err, tc.want)
		}
	}
}
