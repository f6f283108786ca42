package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
	"github.com/openkms/kms/internal/store/storetest"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "kms.db"))
	})
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kms.db")
	k := kms.Key{
		ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Account: "111122223333", Region: "us-east-1",
		Spec: kms.KeySpecSymmetricDefault, Usage: kms.KeyUsageEncryptDecrypt,
		Origin: kms.OriginAWSKMS, Manager: kms.KeyManagerCustomer, State: kms.KeyStateEnabled,
		CreationDate: time.UnixMilli(1700000000123).UTC(),
		Tags:         []kms.Tag{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}},
	}
	m := &store.Material{KeyID: k.ID, ID: "00ff", Sealed: []byte{1, 2, 3}, Created: k.CreationDate}

	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.CreateKey(ctx, k, m); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatalf("GetKey after reopen: %v", err)
	}
	if !got.CreationDate.Equal(k.CreationDate) || len(got.Tags) != 2 || got.Tags[0] != k.Tags[0] {
		t.Errorf("GetKey after reopen = %+v, want %+v", got, k)
	}
	if _, err := s.GetMaterial(ctx, k.ID, m.ID); err != nil {
		t.Errorf("GetMaterial after reopen: %v", err)
	}
	// Reopening must not apply the migrations again.
	var versions int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != len(migrations) {
		t.Errorf("schema_version has %d rows, want %d", versions, len(migrations))
	}
}

// TestDurability checks the connection settings the durability promise rests on.
func TestDurability(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "kms.db"))
	for _, db := range []*sql.DB{s.w, s.r} {
		var mode string
		var sync, fk int
		if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || sync != 2 || fk != 1 {
			t.Errorf("journal_mode=%s synchronous=%d foreign_keys=%d, want wal 2 (FULL) 1", mode, sync, fk)
		}
	}
	// The read pool must not be able to write.
	if _, err := s.r.Exec(`INSERT INTO accounts (id, created) VALUES ('x', 0)`); err == nil {
		t.Error("write through the read pool succeeded")
	}
}

func TestFileMode(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kms.db")
	s := open(t, path)
	// Write something so that the -wal and -shm files exist too.
	if err := s.CreateAccount(ctx, store.Account{ID: "111122223333", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccount(ctx, "111122223333"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), m)
		}
	}
}

func TestOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", "kms db?x=1")
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if err := s.CreateAccount(context.Background(), store.Account{ID: "1", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the given path: %v", err)
	}
}

func TestNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kms.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO schema_version (version) VALUES (?)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(path); err == nil {
		s.Close()
		t.Fatal("Open accepted a schema newer than it knows")
	}
}
