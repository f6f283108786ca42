package keys

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestMaterialID(t *testing.T) {
	id, err := NewMaterialID()
	if err != nil {
		t.Fatal(err)
	}
	s := id.String()
	if len(s) != 64 || strings.ToLower(s) != s {
		t.Fatalf("String() = %q, want 64 lowercase hex", s)
	}
	got, err := ParseMaterialID(s)
	if err != nil || got != id {
		t.Fatalf("ParseMaterialID(%q) = %v, %v; want %v", s, got, err, id)
	}
	if other, _ := NewMaterialID(); other == id {
		t.Fatal("two random material ids are equal")
	}

	for _, bad := range []string{
		"",
		s[:63],
		s + "0",
		strings.ToUpper(s),
		"g" + s[1:],
		" " + s[1:],
		strings.Repeat("0", 62) + "\n0",
	} {
		if _, err := ParseMaterialID(bad); err != ErrInvalidMaterialID {
			t.Errorf("ParseMaterialID(%q) error = %v, want ErrInvalidMaterialID", bad, err)
		}
	}
}

func TestSymmetricKeyFromBytes(t *testing.T) {
	b := bytes.Repeat([]byte{0x5a}, 32)
	k, err := SymmetricKeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	b[0] = 0 // the key must hold its own copy
	if got := k.Bytes(); got[0] != 0x5a {
		t.Fatal("SymmetricKeyFromBytes did not copy its input")
	}
	out := k.Bytes()
	out[1] = 0 // and hand out copies
	if got := k.Bytes(); got[1] != 0x5a {
		t.Fatal("Bytes did not return a copy")
	}

	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := SymmetricKeyFromBytes(bytes.Repeat([]byte{1}, n)); err == nil {
			t.Errorf("SymmetricKeyFromBytes accepted %d bytes", n)
		}
	}
	if _, err := SymmetricKeyFromBytes(make([]byte, 32)); err == nil {
		t.Error("SymmetricKeyFromBytes accepted an all-zero key")
	}
}

func TestNewSymmetricKey(t *testing.T) {
	a, err := NewSymmetricKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSymmetricKey()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), b.Bytes()) || a.isZero() {
		t.Fatal("NewSymmetricKey returned repeated or zero material")
	}
}

func TestZero(t *testing.T) {
	k, _ := NewSymmetricKey()
	mid, _ := NewMaterialID()
	blob, err := Encrypt(k, testARN, mid, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	k.Zero()
	if !bytes.Equal(k.Bytes(), make([]byte, 32)) {
		t.Fatal("Zero left key bytes behind")
	}
	if _, err := Encrypt(k, testARN, mid, []byte("x"), nil); err == nil {
		t.Error("Encrypt worked with a zeroed key")
	}
	if _, err := Decrypt(k, blob, nil); err == nil {
		t.Error("Decrypt worked with a zeroed key")
	}
	if _, err := Encrypt(nil, testARN, mid, []byte("x"), nil); err == nil {
		t.Error("Encrypt worked with a nil key")
	}
	if _, err := Decrypt(nil, blob, nil); err == nil {
		t.Error("Decrypt worked with a nil key")
	}
}

// TestKeyNotPrinted checks that no formatting path shows key bytes.
func TestKeyNotPrinted(t *testing.T) {
	k, err := SymmetricKeyFromBytes(bytes.Repeat([]byte{0xab}, 32))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "k", k, "v", *k)
	outs := []string{logs.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, *k))
	}
	outs = append(outs, fmt.Sprint(k), fmt.Sprint(struct{ K *SymmetricKey }{k}))
	for _, s := range outs {
		if strings.Contains(s, "abab") || strings.Contains(s, "ABAB") || strings.Contains(s, "171 171") ||
			strings.Contains(s, "0xab") || strings.Contains(s, "\xab") || !strings.Contains(s, "REDACTED") {
			t.Errorf("key bytes printed: %q", s)
		}
	}
}
