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
	f.Fuzz(func(t *testing.T, body []byte) {
		same[service.EncryptInput](t, body)
		same[service.DecryptInput](t, body)
	})
}

// same checks decodeBlob against json.Unmarshal for one input type.
func same[T any](t *testing.T, body []byte) {
	var fast T
	if !decodeBlob(body, &fast) {
		return
	}
	var plain T
	if err := json.Unmarshal(body, &plain); err != nil {
		t.Fatalf("decodeBlob took a body json.Unmarshal rejects (%v): %q", err, body)
	}
	if !reflect.DeepEqual(fast, plain) {
		t.Fatalf("decodeBlob: %+v\njson.Unmarshal: %+v\nbody %q", fast, plain, body)
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
