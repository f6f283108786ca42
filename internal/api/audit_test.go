package api

import (
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
			case "KeyId", "EncryptionContext", "EncryptionAlgorithm", "DryRun", "NumberOfBytes", "KeySpec":
			default:
				if !secretMembers[f] {
					t.Errorf("%s.%s: not rendered by hotParameters", typ.Name(), f)
				}
			}
		}
	}
}
