package storetest

import (
	"bytes"
	"errors"
	"maps"
	"testing"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// testReseal: every backend re-seals for `kms seal rotate`
// (store.Resealer): each material and access key secret is passed once,
// with its kind, id and (for a material) key id, and the results are
// written back; a failure part way changes nothing.
func testReseal(t *testing.T, s store.Store) {
	rs, ok := s.(store.Resealer)
	if !ok {
		t.Fatal("the store cannot re-seal (store.Resealer): kms seal rotate would refuse")
	}
	ctx := t.Context()
	if n, err := rs.Reseal(ctx, func(v store.SealedValue) ([]byte, error) {
		t.Errorf("Reseal of an empty store passed %+v", v)
		return v.Sealed, nil
	}); err != nil || n != 0 {
		t.Fatalf("Reseal of an empty store = %d, %v", n, err)
	}

	// Key 2's material has key 1's material id: only KeyID tells them apart.
	k1, k2 := newKey(1, acct1, region1), newKey(2, acct2, region2)
	k2.CurrentMaterialID = materialID(1)
	mustCreateKey(t, s, k1, newMaterial(k1.ID, 1, k1.CreationDate))
	mustCreateKey(t, s, k2, newMaterial(k2.ID, 1, k2.CreationDate))
	if err := s.AddMaterial(ctx, *newMaterial(k1.ID, 2, at(1e9))); err != nil {
		t.Fatalf("AddMaterial: %v", err)
	}
	k3 := newKey(3, acct1, region1) // no material: nothing to re-seal
	k3.Origin, k3.State, k3.CurrentMaterialID = kms.OriginExternal, kms.KeyStatePendingImport, ""
	mustCreateKey(t, s, k3, nil)
	mustPutAccessKey(t, s, store.AccessKey{ID: "AKIAAAAAAAAAAAAAAAAA", Account: acct1,
		PrincipalARN: "arn:aws:iam::" + acct1 + ":root", SealedSecret: []byte{0, 1, 0xff}, Active: true, Created: at(0)})
	mustPutAccessKey(t, s, store.AccessKey{ID: "AKIABBBBBBBBBBBBBBBB", Account: acct2,
		PrincipalARN: "arn:aws:iam::" + acct2 + ":root", SealedSecret: []byte("secret b"), Active: false, Created: at(0)})

	type ref struct{ kind, keyID, id string }
	want := map[ref]string{
		{store.SealedMaterial, k1.ID, materialID(1)}:        "sealed-1\x00\xff",
		{store.SealedMaterial, k1.ID, materialID(2)}:        "sealed-2\x00\xff",
		{store.SealedMaterial, k2.ID, materialID(1)}:        "sealed-1\x00\xff",
		{store.SealedAccessKey, "", "AKIAAAAAAAAAAAAAAAAA"}: "\x00\x01\xff",
		{store.SealedAccessKey, "", "AKIABBBBBBBBBBBBBBBB"}: "secret b",
	}
	// stored reads every sealed value back.
	stored := func() map[ref]string {
		t.Helper()
		got := map[ref]string{}
		for r := range want {
			if r.kind == store.SealedMaterial {
				m, err := s.GetMaterial(ctx, r.keyID, r.id)
				if err != nil {
					t.Fatalf("GetMaterial(%s, %s): %v", r.keyID, r.id, err)
				}
				got[r] = string(m.Sealed)
			} else {
				a, err := s.GetAccessKey(ctx, r.id)
				if err != nil {
					t.Fatalf("GetAccessKey(%s): %v", r.id, err)
				}
				got[r] = string(a.SealedSecret)
			}
		}
		return got
	}
	// resealed is what fn makes of a value: distinct per value, so that a
	// result written to the wrong row shows.
	resealed := func(v store.SealedValue) []byte {
		return append([]byte(v.Kind+"|"+v.KeyID+"|"+v.ID+"|"), v.Sealed...)
	}

	boom := errors.New("boom")
	for _, failAt := range []int{1, 3, len(want)} {
		calls := 0
		n, err := rs.Reseal(ctx, func(v store.SealedValue) ([]byte, error) {
			if calls++; calls == failAt {
				return nil, boom
			}
			return resealed(v), nil
		})
		if !errors.Is(err, boom) || n != 0 {
			t.Fatalf("Reseal failing at value %d = %d, %v; want 0, boom", failAt, n, err)
		}
		if got := stored(); !maps.Equal(got, want) {
			t.Fatalf("Reseal failing at value %d changed the store: %q", failAt, got)
		}
	}

	seen := map[ref]int{}
	n, err := rs.Reseal(ctx, func(v store.SealedValue) ([]byte, error) {
		r := ref{v.Kind, v.KeyID, v.ID}
		seen[r]++
		if w, ok := want[r]; !ok || !bytes.Equal(v.Sealed, []byte(w)) {
			t.Errorf("Reseal passed %+v, not a stored value", v)
		}
		return resealed(v), nil
	})
	if err != nil || n != len(want) {
		t.Fatalf("Reseal = %d, %v; want %d", n, err, len(want))
	}
	for r := range want {
		if seen[r] != 1 {
			t.Errorf("Reseal passed %+v %d times", r, seen[r])
		}
	}
	got := stored()
	for r, w := range want {
		v := store.SealedValue{Kind: r.kind, KeyID: r.keyID, ID: r.id, Sealed: []byte(w)}
		if g := got[r]; g != string(resealed(v)) {
			t.Errorf("after Reseal, %+v holds %q", r, g)
		}
	}
	// Only the sealed column changed.
	a, err := s.GetAccessKey(ctx, "AKIABBBBBBBBBBBBBBBB")
	if err != nil || a.Active || a.Account != acct2 {
		t.Errorf("after Reseal, access key = %+v, %v", a, err)
	}
	if k, err := s.GetKey(ctx, k2.ID); err != nil || k.CurrentMaterialID != materialID(1) {
		t.Errorf("after Reseal, key = %+v, %v", k, err)
	}
}
