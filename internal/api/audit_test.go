package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/openkms/kms/internal/service"
)

// TestHotParameters: the reflection-free request parameters of the hot
// operations equal what the general walk makes of the same shapes.
func TestHotParameters(t *testing.T) {
	s := func(v string) *string { return &v }
	n := int32(64)
	ec := map[string]string{"Tenant": "a", "x": ""}
	inputs := []any{
		(*service.EncryptInput)(nil),
		&service.EncryptInput{},
		&service.EncryptInput{KeyId: s("alias/x"), Plaintext: []byte("secret"), GrantTokens: []string{"t"}},
		&service.EncryptInput{KeyId: s(""), EncryptionContext: ec, EncryptionAlgorithm: s("RSAES_OAEP_SHA_256"), DryRun: true},
		&service.EncryptInput{EncryptionContext: map[string]string{}},
		(*service.DecryptInput)(nil),
		&service.DecryptInput{CiphertextBlob: []byte("c")},
		&service.DecryptInput{CiphertextBlob: []byte("c"), EncryptionContext: ec, KeyId: s("k"), EncryptionAlgorithm: s("SYMMETRIC_DEFAULT"),
			Recipient: &struct{}{}, GrantTokens: []string{"t"}, DryRun: true},
		&service.DecryptInput{KeyId: s("k"), DryRun: true, DryRunModifiers: []string{"IGNORE_CIPHERTEXT"}},
		&service.DecryptInput{CiphertextBlob: []byte("c"), DryRunModifiers: []string{}},
		(*service.GenerateDataKeyInput)(nil),
		&service.GenerateDataKeyInput{KeyId: s("k"), KeySpec: s("AES_256")},
		&service.GenerateDataKeyInput{KeyId: s("k"), EncryptionContext: ec, NumberOfBytes: &n, Recipient: &struct{}{}, DryRun: true},
	}
	for _, in := range inputs {
		got, ok := hotParameters(in)
		if !ok {
			t.Fatalf("%T: not a hot shape", in)
		}
		want := members(reflect.ValueOf(in), secretMembers)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%#v:\n got %#v\nwant %#v", in, got, want)
		}
	}
	if _, ok := hotParameters(&service.SignInput{}); ok {
		t.Error("SignInput taken as a hot shape")
	}
	// Every member of the hot shapes is either rendered or secret: a new
	// member must be added to hotParameters.
	for _, typ := range []reflect.Type{reflect.TypeFor[service.EncryptInput](), reflect.TypeFor[service.DecryptInput](), reflect.TypeFor[service.GenerateDataKeyInput]()} {
		for i := range typ.NumField() {
			switch f := typ.Field(i).Name; f {
			case "KeyId", "EncryptionContext", "EncryptionAlgorithm", "DryRun", "DryRunModifiers", "NumberOfBytes", "KeySpec":
			default:
				if !secretMembers[f] {
					t.Errorf("%s.%s: not rendered by hotParameters", typ.Name(), f)
				}
			}
		}
	}
}

// TestMarshalOutput: the hot outputs encode as json.Marshal encodes them.
func TestMarshalOutput(t *testing.T) {
	blob := make([]byte, 4096+155)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	arn := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	outs := []any{
		(*service.EncryptOutput)(nil),
		&service.EncryptOutput{},
		&service.EncryptOutput{CiphertextBlob: blob, KeyId: arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"},
		&service.EncryptOutput{CiphertextBlob: []byte{}, KeyId: "<&>\u2028é"},
		(*service.DecryptOutput)(nil),
		&service.DecryptOutput{},
		&service.DecryptOutput{KeyId: arn, Plaintext: blob[:4096], EncryptionAlgorithm: "SYMMETRIC_DEFAULT"},
		&service.DecryptOutput{KeyId: arn, Plaintext: []byte{}, EncryptionAlgorithm: "RSAES_OAEP_SHA_256", KeyMaterialId: "ab"},
		(*service.GenerateDataKeyOutput)(nil),
		&service.GenerateDataKeyOutput{},
		&service.GenerateDataKeyOutput{CiphertextBlob: blob[:184], Plaintext: blob[:32], KeyId: arn, KeyMaterialId: "00ff"},
		&service.GenerateDataKeyOutput{CiphertextBlob: blob[:184], Plaintext: []byte{}, KeyId: arn},
		&service.SignOutput{KeyId: arn, Signature: blob[:72], SigningAlgorithm: "ECDSA_SHA_256"},
	}
	for _, out := range outs {
		want, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendOutput([]byte("x"), out)
		got = got[1:]
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%T: got %s (%v)\nwant %s", out, got, err, want)
		}
	}
}

// TestWipe: the secrets of requests and responses are zero once wiped.
func TestWipe(t *testing.T) {
	secret := func() []byte { return []byte("secret") }
	in := &service.EncryptInput{Plaintext: secret()}
	outs := []any{
		&service.DecryptOutput{Plaintext: secret()},
		&service.GenerateDataKeyOutput{Plaintext: secret(), CiphertextBlob: []byte("blob")},
		&service.GenerateDataKeyPairOutput{PrivateKeyPlaintext: secret()},
		&service.DeriveSharedSecretOutput{SharedSecret: secret()},
		&service.GenerateRandomOutput{Plaintext: secret()},
	}
	for _, out := range outs {
		wipe(in, out)
		b, _ := json.Marshal(out)
		if bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString([]byte("secret")))) {
			t.Errorf("%T not wiped: %s", out, b)
		}
	}
	if !bytes.Equal(in.Plaintext, make([]byte, 6)) {
		t.Errorf("Encrypt plaintext not wiped: %q", in.Plaintext)
	}
	if got := outs[1].(*service.GenerateDataKeyOutput).CiphertextBlob; string(got) != "blob" {
		t.Errorf("ciphertext changed: %q", got)
	}
}
