package server_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openkms/kms/internal/server"
)

// TestEphemeral: an ephemeral server's data dir is a new one under
// os.TempDir, a complete data dir while it runs, and gone after Close.
func TestEphemeral(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ts := startServer(t, server.Config{Ephemeral: true})
	dir := ts.DataDir()
	if filepath.Dir(dir) != tmp || !strings.HasPrefix(filepath.Base(dir), server.EphemeralPrefix) {
		t.Fatalf("data dir %s, want %s/%s*", dir, tmp, server.EphemeralPrefix)
	}
	for _, f := range []string{"seal.json", "root.key", "kms.db", "audit.db", "credentials", "lock"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("a running ephemeral server has no %s: %v", f, err)
		}
	}
	if got := ts.CredentialsFile(); got != filepath.Join(dir, "credentials") {
		t.Errorf("CredentialsFile %s", got)
	}
	ts.stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir left after Close: %v", err)
	}
}

// TestEphemeralRefused: a data dir, store or root key file of the
// caller's is refused with --ephemeral, before a temporary dir is made.
func TestEphemeralRefused(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, tc := range []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"data dir", server.Config{DataDir: filepath.Join(tmp, "data")}, "--data-dir"},
		{"store", server.Config{Store: "postgres://kms@127.0.0.1:1/kms"}, "--store"},
		{"root key file", server.Config{SealKeyFile: filepath.Join(tmp, "root.key")}, "--seal-key-file"},
		{"bad account id", server.Config{AccountID: "1"}, "12 digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Ephemeral = true
			tc.cfg.Listen = "127.0.0.1:0"
			tc.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			_, err := server.Open(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an error naming %s", err, tc.want)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Fatalf("refused, but %s holds %v", tmp, left)
			}
		})
	}
}
