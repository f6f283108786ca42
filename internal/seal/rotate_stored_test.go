package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRotateStored: a stored seal state moves to a new root key that the
// old one cannot replace, derived keys are kept, reseal gets the exact
// states to swap, a failed reseal changes nothing, and the data dir gets
// no seal.json.
func TestRotateStored(t *testing.T) {
	dir := t.TempDir()
	st := &memState{}
	old, err := Open(Config{Dir: dir, Passphrase: "old", Create: true, State: st})
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := old.Seal([]byte("material"), []byte("aad"))
	before := bytes.Clone(st.data)

	boom := errors.New("boom")
	if _, err := RotateStored(old, Config{Dir: dir, Passphrase: "new", State: st},
		func(*Sealer, []byte, []byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("RotateStored = %v", err)
	}
	if !bytes.Equal(st.data, before) {
		t.Fatal("a failed rotation changed the stored state")
	}

	var resealed []byte
	next, err := RotateStored(old, Config{Dir: dir, Passphrase: "new", State: st}, func(n *Sealer, oldState, newState []byte) error {
		if !bytes.Equal(oldState, before) {
			t.Errorf("reseal got old state %q, want the stored one", oldState)
		}
		pt, err := old.Open(secret, []byte("aad"))
		if err != nil {
			return err
		}
		if resealed, err = n.Seal(pt, []byte("aad")); err != nil {
			return err
		}
		st.data = newState // the store's swap
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFileName)); !os.IsNotExist(err) {
		t.Errorf("RotateStored wrote seal.json (%v)", err)
	}
	if _, err := old.Open(resealed, []byte("aad")); !errors.Is(err, ErrUnseal) {
		t.Error("the old root key opens a re-sealed secret")
	}
	if !bytes.Equal(old.DeriveKey("x"), next.DeriveKey("x")) {
		t.Error("derived keys changed with the seal")
	}
	opened, err := Open(Config{Dir: t.TempDir(), Passphrase: "new", State: st})
	if err != nil {
		t.Fatal(err)
	}
	checkSameKey(t, next, opened)
	if !bytes.Equal(opened.DeriveKey("x"), old.DeriveKey("x")) {
		t.Error("the reopened seal derives other keys")
	}
	if _, err := Open(Config{Dir: t.TempDir(), Passphrase: "old", State: st}); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Open with the old passphrase = %v", err)
	}

	// old no longer matches the stored state: a second rotation from it
	// would undo the first.
	if _, err := RotateStored(old, Config{Dir: dir, Passphrase: "newer", State: st},
		func(*Sealer, []byte, []byte) error { t.Error("reseal called"); return nil }); err == nil {
		t.Fatal("RotateStored from a stale seal succeeded")
	}
}

// TestRotateStoredRefuses: the same root key, a missing key file path, or
// no stored state are refused before reseal runs.
func TestRotateStoredRefuses(t *testing.T) {
	dir := t.TempDir()
	st := &memState{}
	keyFile := filepath.Join(dir, "root.key")
	old, err := Open(Config{Dir: dir, Create: true, State: st})
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "same.key")
	data, _ := os.ReadFile(keyFile)
	if err := os.WriteFile(other, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no state", Config{Dir: dir, Passphrase: "p"}},
		{"no key file path", Config{Dir: dir, State: st}},
		{"the current key file", Config{Dir: dir, KeyFile: keyFile, State: st}},
		{"a copy of the current key", Config{Dir: dir, KeyFile: other, State: st}},
	}
	for _, tt := range tests {
		if _, err := RotateStored(old, tt.cfg, func(*Sealer, []byte, []byte) error {
			t.Errorf("%s: reseal called", tt.name)
			return nil
		}); err == nil {
			t.Errorf("%s: RotateStored succeeded", tt.name)
		}
	}
}
