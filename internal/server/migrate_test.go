package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrateRefusesEarly: what Migrate refuses before it connects to the
// target (the rest, against a real database, is cmd/kms's TestMigrate);
// neither the password of a URL nor the data dir's lock file changes.
func TestMigrateRefusesEarly(t *testing.T) {
	dir := t.TempDir()
	srv, err := Open(Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const target = "postgres://kms:hunter2@127.0.0.1:1/kms"
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no target", Config{DataDir: dir}, "no target database"},
		{"not postgres", Config{DataDir: dir, Store: "mysql://kms:hunter2@h/kms"}, "must be a postgres:// URL"},
		{"bad URL", Config{DataDir: dir, Store: "postgres://kms:hunter2@h:port/kms"}, "target URL"},
		{"no data dir", Config{Store: target}, "no data dir"},
		{"not a data dir", Config{DataDir: t.TempDir(), Store: target}, "not initialised"},
		{"server running", Config{DataDir: dir, Store: target}, "in use by process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Migrate(context.Background(), tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Migrate: %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
	var inUse *InUseError
	if _, err := Migrate(context.Background(), Config{DataDir: dir, Store: target}, nil); !errors.As(err, &inUse) {
		t.Errorf("beside the server: %v, want an *InUseError", err)
	}
	srv.Close()
	lock, err := os.ReadFile(filepath.Join(dir, lockFile))
	if err != nil {
		t.Fatal(err)
	}
	// A wrong root key is refused before the target is reached (it is not
	// there: port 1).
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(context.Background(), Config{DataDir: dir, Store: target, SealKeyFile: other}, nil); err == nil ||
		!strings.Contains(err.Error(), "does not match") {
		t.Errorf("wrong root key: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, lockFile)); string(after) != string(lock) {
		t.Errorf("the lock file changed from %q to %q", lock, after)
	}
}

func TestRedactedURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://kms:hunter2@db:5432/kms?sslmode=require": "postgres://kms:xxxxx@db:5432/kms?sslmode=require",
		"postgres://db/kms":     "postgres://db/kms",
		"postgres://kms@db/kms": "postgres://kms@db/kms",
	} {
		if got := RedactedURL(in); got != want {
			t.Errorf("RedactedURL(%q) = %q, want %q", in, got, want)
		}
	}
}
