package api

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/openkms/kms/internal/service"
)

func bigBlob(n int) string { return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", n))) }

// FuzzDecodeBlob: whenever decodeBlob decodes a body, json.Unmarshal
// decodes it to the same value; and it never takes a body json.Unmarshal
// rejects.
func FuzzDecodeBlob(f *testing.F) {
	blob := bigBlob(1024)
	for _, s := range []string{
		`{"KeyId":"alias/a","Plaintext":"` + blob + `"}`,
		`{"KeyId":"k","Plaintext":"` + blob + `","EncryptionContext":{"a":"b","c":"\"}"},"GrantTokens":["x"]}`,
		`{"Plaintext":"` + blob + `","plaintext":"AAAA"}`,
		`{"Plaintext":"` + blob + `","Plaintext":"AAAA"}`,
		`{"Plaintext":"` + blob[:len(blob)-1] + `"}`,
		`{"Plaintext":"` + blob + `\n"}`,
		`{"Plaintext":"` + blob + `"} x`,
		`{"Plaintext":"` + blob + `",}`,
		`{"KeyId":5,"Plaintext":"` + blob + `"}`,
		`{"DryRun":tru,"Plaintext":"` + blob + `"}`,
		`{"EncryptionContext":{"a":["}"]},"Plaintext":"` + blob + `"}`,
		`{"X":{"Plaintext":"` + blob + `"}}`,
		`{"Pl\u0061intext":"` + blob + `"}`,
		` { "Plaintext" : "` + blob + `" } `,
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"CiphertextBlob":"` + blob + `","KeyId":"k"}`))
	// Where the vector decoder hands over to encoding/base64: bad bytes
	// inside and after its blocks, padding inside, the URL alphabet,
	// nonzero bits after the last byte (accepted, as encoding/json does).
	for _, bad := range []string{"-", "_", "=", "*", "\x00", " ", "\xff"} {
		for _, at := range []int{0, 31, 32, 45, 100, len(blob) - 5} {
			f.Add([]byte(`{"Plaintext":"` + blob[:at] + bad + blob[at+1:] + `"}`))
		}
	}
	f.Add([]byte(`{"Plaintext":"` + blob[:len(blob)-4] + `eHh=` + `"}`))
	f.Add([]byte(`{"Plaintext":"` + blob[:len(blob)-4] + `eB==` + `"}`))
	for _, s := range []string{
		`{"KeyId":"k","KeySpec":"AES_256"}`,
		`{"KeyId":"k","NumberOfBytes":32,"EncryptionContext":{},"GrantTokens":[]}`,
		`{"KeyId":"k","NumberOfBytes":2147483648}`,
		`{"KeyId":"k","NumberOfBytes":032}`,
		`{"KeyId":"k","NumberOfBytes":-1}`,
		`{"KeyId":"k","NumberOfBytes":1e2}`,
		`{"KeyId":"k","GrantTokens":["a", "b" ,"c"],"DryRun":false}`,
		`{"KeyId":"k","GrantTokens":["a",]}`,
		`{"KeyId":"k","GrantTokens":["a" "b"]}`,
		`{"KeyId":"k","EncryptionContext":{"a":"b","a":"c"}}`,
		`{"KeyId":"k","EncryptionContext":{"a":1}}`,
		`{"KeyId":"k","EncryptionContext":{"\u0061":"b"}}`,
		`{"KeyId":"\u006b"}`,
		`{"KeyId":"k\xff"}`,
		`{"KeyId":null}`,
		`{"KeyId":"k","keyid":"j"}`,
		`{"KeyId":"k","KeyId":"j"}`,
		`{"KeyId":"k","Recipient":{}}`,
		`{"KeyId":"k","Other":1}`,
		`{"KeyId":"k","DryRun":true,"Plaintext":"eHh4"}`,
		`{"KeyId":"k","Plaintext":""}`,
		`{"CiphertextBlob":"eHh4","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		same[service.EncryptInput](t, body)
		same[service.DecryptInput](t, body)
		same[service.GenerateDataKeyInput](t, body)
	})
}

// same checks decodeBlob and decodeFast against json.Unmarshal for one
// input type.
func same[T any](t *testing.T, body []byte) {
	for name, fastDecode := range map[string]func([]byte, any) bool{"decodeBlob": decodeBlob, "decodeFast": decodeFast} {
		var fast T
		if !fastDecode(body, &fast) {
			if !reflect.ValueOf(fast).IsZero() {
				t.Fatalf("%s gave up but left %+v", name, fast)
			}
			continue
		}
		var plain T
		if err := json.Unmarshal(body, &plain); err != nil {
			t.Fatalf("%s took a body json.Unmarshal rejects (%v): %q", name, err, body)
		}
		if !reflect.DeepEqual(fast, plain) {
			t.Fatalf("%s: %+v\njson.Unmarshal: %+v\nbody %q", name, fast, plain, body)
		}
	}
}

// TestDecodeBlob: the fast path is taken for the usual requests and left
// for the unusual, and decode's answers are the same either way.
func TestDecodeBlob(t *testing.T) {
	blob := bigBlob(4096)
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{`{"KeyId":"alias/a","Plaintext":"` + blob + `","EncryptionContext":{"tenant":"t1"}}`, true},
		{`{"Plaintext":"` + blob + `","plaintext":"AAAA"}`, false},
		{`{"Plaintext":"` + blob + `\/"}`, false},
		{`{"Plaintext":"` + blob + `==="}`, false},
	} {
		var in service.EncryptInput
		if got := decodeBlob([]byte(tc.body), &in); got != tc.fast {
			t.Errorf("decodeBlob(%.60q...) = %v, want %v", tc.body, got, tc.fast)
		}
		if tc.fast && (len(in.Plaintext) != 4096 || *in.KeyId != "alias/a" || in.EncryptionContext["tenant"] != "t1") {
			t.Errorf("decoded %+v", in)
		}
	}
	var in service.DecryptInput
	if !decodeBlob([]byte(`{"CiphertextBlob":"`+blob+`"}`), &in) || len(in.CiphertextBlob) != 4096 {
		t.Errorf("Decrypt: %d bytes", len(in.CiphertextBlob))
	}
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Plaintext":"` + bigBlob(4096) +
		`","EncryptionContext":{"tenant":"customer-000123"}}`)
	for _, mode := range []string{"blob", "encoding/json"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				var in service.EncryptInput
				if mode == "blob" {
					if err := decode(body, &in); err != nil {
						b.Fatal(err)
					}
				} else if err := json.Unmarshal(body, &in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeFast: the requests SDKs send take the fast path.
func TestDecodeFast(t *testing.T) {
	blob := bigBlob(64)
	for _, tc := range []struct {
		body string
		v    any
	}{
		{`{"KeyId":"alias/a","Plaintext":"` + blob + `","EncryptionContext":{"tenant":"t-1"}}`, &service.EncryptInput{}},
		{`{"CiphertextBlob":"` + blob + `","EncryptionContext":{"tenant":"t-1"},"GrantTokens":["g"]}`, &service.DecryptInput{}},
		{`{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","KeySpec":"AES_256"}`, &service.GenerateDataKeyInput{}},
		{`{"KeyId":"k","NumberOfBytes":64,"DryRun":true}`, &service.GenerateDataKeyInput{}},
	} {
		if !decodeFast([]byte(tc.body), tc.v) {
			t.Errorf("%s: not decoded", tc.body)
		}
	}
}
