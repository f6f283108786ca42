package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRotate: Rotate gives a new root key that the old seal cannot use,
// keeps derived keys, and leaves the data dir on the old seal when the
// re-sealing fails.
func TestRotate(t *testing.T) {
	dir := t.TempDir()
	old, err := Open(Config{Dir: dir, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := old.Seal([]byte("material"), []byte("aad"))

	// A failed re-seal changes nothing.
	before, _ := os.ReadFile(filepath.Join(dir, stateFileName))
	boom := errors.New("boom")
	if _, err := Rotate(old, Config{Dir: dir, Passphrase: "pw"}, func(*Sealer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Rotate = %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, stateFileName)); !bytes.Equal(after, before) {
		t.Fatal("a failed rotation changed seal.json")
	}
	if _, err := os.Stat(filepath.Join(dir, stateFileName+nextSuffix)); !os.IsNotExist(err) {
		t.Fatalf("a failed rotation left seal.json.next (%v)", err)
	}

	var resealed []byte
	next, err := Rotate(old, Config{Dir: dir, Passphrase: "pw"}, func(n *Sealer) error {
		pt, err := old.Open(secret, []byte("aad"))
		if err != nil {
			return err
		}
		resealed, err = n.Seal(pt, []byte("aad"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Open(resealed, []byte("aad")); !errors.Is(err, ErrUnseal) {
		t.Error("the old root key opens a re-sealed secret")
	}
	if !bytes.Equal(old.DeriveKey("x"), next.DeriveKey("x")) {
		t.Error("derived keys changed with the seal")
	}
	opened, err := Open(Config{Dir: dir, Passphrase: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	checkSameKey(t, next, opened)
	if got, err := opened.Open(resealed, []byte("aad")); err != nil || string(got) != "material" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := Open(Config{Dir: dir}); !errors.Is(err, ErrKindMismatch) {
		t.Errorf("old key-file seal after rotation: %v", err)
	}

	// To a key file: never the current one, never the same key.
	if _, err := Rotate(next, Config{Dir: dir}, func(*Sealer) error { return nil }); err == nil {
		t.Error("rotated to a key file without naming one")
	}
	if _, err := Rotate(next, Config{Dir: dir, KeyFile: filepath.Join(dir, keyFileName)}, func(*Sealer) error { return nil }); err == nil {
		t.Error("rotated to the current key file")
	}

	// An interrupted rotation is reported, not guessed at.
	if err := os.WriteFile(filepath.Join(dir, stateFileName+nextSuffix), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Dir: dir, Passphrase: "pw"}); !errors.Is(err, ErrRotationPending) {
		t.Errorf("Open beside seal.json.next: %v", err)
	}
}
