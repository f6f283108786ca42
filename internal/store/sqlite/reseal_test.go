package sqlite

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// TestReseal: Reseal replaces every sealed value (materials, access key
// secrets) in one transaction: all of them, or, when fn fails, none.
func TestReseal(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "kms.db"))
	ctx := t.Context()
	now := time.Unix(1700000000, 0)
	mid := strings.Repeat("ab", 32)
	k := kms.Key{ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Account: "111122223333", Region: "us-east-1",
		Spec: kms.KeySpecSymmetricDefault, Usage: kms.KeyUsageEncryptDecrypt, Origin: kms.OriginAWSKMS,
		Manager: kms.KeyManagerCustomer, State: kms.KeyStateEnabled, CreationDate: now, Policy: "{}", CurrentMaterialID: mid}
	if err := s.CreateKey(ctx, k, &store.Material{KeyID: k.ID, ID: mid, Sealed: []byte("m1"), Created: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAccessKey(ctx, store.AccessKey{ID: "AKIAEXAMPLE", Account: "111122223333",
		PrincipalARN: "arn:aws:iam::111122223333:root", SealedSecret: []byte("a1"), Active: true, Created: now}); err != nil {
		t.Fatal(err)
	}
	read := func() (string, string) {
		m, err := s.GetMaterial(ctx, k.ID, mid)
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.GetAccessKey(ctx, "AKIAEXAMPLE")
		if err != nil {
			t.Fatal(err)
		}
		return string(m.Sealed), string(a.SealedSecret)
	}

	boom := errors.New("boom")
	calls := 0
	if _, err := s.Reseal(ctx, func(v store.SealedValue) ([]byte, error) {
		if calls++; calls == 2 {
			return nil, boom
		}
		return append(bytes.Clone(v.Sealed), '!'), nil
	}); !errors.Is(err, boom) {
		t.Fatalf("Reseal = %v", err)
	}
	if m, a := read(); m != "m1" || a != "a1" {
		t.Fatalf("a failed Reseal changed %q, %q", m, a)
	}

	seen := map[string]bool{}
	n, err := s.Reseal(ctx, func(v store.SealedValue) ([]byte, error) {
		seen[v.Kind+" "+v.KeyID+" "+v.ID] = true
		return append(bytes.Clone(v.Sealed), '!'), nil
	})
	if err != nil || n != 2 {
		t.Fatalf("Reseal = %d, %v", n, err)
	}
	if !seen["material "+k.ID+" "+mid] || !seen["access key  AKIAEXAMPLE"] {
		t.Errorf("Reseal saw %v", seen)
	}
	if m, a := read(); m != "m1!" || a != "a1!" {
		t.Fatalf("after Reseal: %q, %q", m, a)
	}
}
