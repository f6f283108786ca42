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

// TestRotateLive: a running Sealer moves to the new root key in place.
// Writers holding it finish before the re-seal starts and new ones wait for
// it to end; during the re-seal both keys open; afterwards new values are
// sealed under the new key only (the data dir's new seal opens them), old
// values still open in the process, and a failed re-seal changes nothing.
func TestRotateLive(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.Seal([]byte("before"), []byte("aad"))

	boom := errors.New("boom")
	if err := s.RotateLive(Config{Dir: dir, Passphrase: "pw"}, func(*Sealer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("RotateLive = %v", err)
	}
	if v, _ := s.Seal([]byte("v"), nil); !opens(t, Config{Dir: dir}, v) {
		t.Fatal("after a failed rotation, a new value is not under the old seal")
	}

	// A writer holding the Sealer delays the rotation until it lets go.
	release := s.Hold()
	started, done := make(chan struct{}), make(chan error, 1)
	var during []byte
	go func() {
		close(started)
		done <- s.RotateLive(Config{Dir: dir, Passphrase: "pw"}, func(next *Sealer) error {
			// Both keys open while the transaction commits.
			v, _ := next.Seal([]byte("during"), []byte("aad"))
			if got, err := s.Open(v, []byte("aad")); err != nil || string(got) != "during" {
				return errors.New("the running Sealer does not open the next key's values during the re-seal")
			}
			pt, err := s.Open(before, []byte("aad"))
			if err != nil {
				return err
			}
			during, err = next.Seal(pt, []byte("aad"))
			return err
		})
	}()
	<-started
	select {
	case err := <-done:
		t.Fatalf("RotateLive ended while a writer held the Sealer: %v", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	after, _ := s.Seal([]byte("after"), []byte("aad"))
	if !opens(t, Config{Dir: dir, Passphrase: "pw"}, after) || !opens(t, Config{Dir: dir, Passphrase: "pw"}, during) {
		t.Fatal("the new seal does not open what the running Sealer sealed after the rotation")
	}
	if got, err := s.Open(before, []byte("aad")); err != nil || string(got) != "before" {
		t.Fatalf("a value read before the rotation: %q, %v", got, err)
	}
	if !bytes.Equal(s.DeriveKey("x"), mustOpen(t, Config{Dir: dir, Passphrase: "pw"}).DeriveKey("x")) {
		t.Error("derived keys changed with the seal")
	}
}

func mustOpen(t *testing.T, cfg Config) *Sealer {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// opens reports whether the seal cfg opens v (sealed with aad "aad", or
// none).
func opens(t *testing.T, cfg Config, v []byte) bool {
	t.Helper()
	o := mustOpen(t, cfg)
	_, err1 := o.Open(v, []byte("aad"))
	_, err2 := o.Open(v, nil)
	return err1 == nil || err2 == nil
}
