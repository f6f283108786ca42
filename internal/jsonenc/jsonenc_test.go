package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestString(t *testing.T) {
	for _, s := range []string{"", "plain", "arn:aws:kms:us-east-1:111122223333:key/1234", `"q" \ b`, "<a>&", "\x00\x1f\x7f", "é ✓ \u2028\u2029", "\xff\xfe"} {
		check(t, String(nil, s), s)
	}
}

func TestBytes(t *testing.T) {
	for _, p := range [][]byte{nil, {}, {0}, []byte("ab"), []byte("abc"), bytes.Repeat([]byte{0xfb, 0xff}, 100), bytes.Repeat([]byte{0x3e, 0x3f, 0xbf}, 1400)} {
		check(t, Bytes(nil, p), p)
	}
}

func FuzzString(f *testing.F) {
	f.Add("x<y", []byte{1, 2})
	f.Add("", bytes.Repeat([]byte{0xfb, 0xef, 0x00, 0x3e}, 97)) // past the vector encoder's blocks
	f.Fuzz(func(t *testing.T, s string, p []byte) {
		check(t, String([]byte("prefix"), s)[6:], s)
		check(t, Bytes(nil, p), p)
	})
}

func check(t *testing.T, got []byte, v any) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%q: got %s, json.Marshal %s", v, got, want)
	}
}
