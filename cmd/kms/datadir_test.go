package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestBadConfigTouchesNothing: a server configuration that cannot serve is
// refused before the data dir, its seal or its credentials exist.
func TestBadConfigTouchesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"plain HTTP off loopback", []string{"--listen", "0.0.0.0:0"}, nil, "refusing plain HTTP"},
		{"half a TLS pair", []string{"--tls-cert", "cert.pem"}, nil, "must be given together"},
		{"missing certificate", []string{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"}, nil, "no such file"},
		{"bad account id", []string{"--account-id", "12345"}, nil, "12 digits"},
		{"half the root credentials", nil, []string{"KMS_ROOT_ACCESS_KEY_ID=" + testAccessKeyID}, "set together"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "bad --log-level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			_, stderr, code := kmsCmd(t, tc.env, append([]string{"server", "--data-dir", dir, "--listen", "127.0.0.1:0"}, tc.args...)...)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, stderr, tc.want)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("the data dir was made: %v", err)
			}
		})
	}
}

// TestDataDirLocked: while a server holds a data dir, a second server and
// `kms account create` refuse at once, naming the dir and the holder's
// PID, and change nothing; readers go on working. The lock goes with the
// process, however it ends.
func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	pid := p.cmd.Process.Pid
	lock := filepath.Join(dir, "lock")
	before, err := os.ReadFile(lock)
	if err != nil || strings.TrimSpace(string(before)) != strconv.Itoa(pid) {
		t.Fatalf("lock file %q, %v; want the PID %d", before, err, pid)
	}
	names := func() string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, e := range entries {
			n = append(n, e.Name())
		}
		return strings.Join(n, " ")
	}
	files := names()

	refused := func(t *testing.T, args ...string) {
		t.Helper()
		stdout, stderr, code := kmsCmd(t, pinned, args...)
		want := "data dir " + dir + " is in use by process " + strconv.Itoa(pid)
		if code == 0 || stdout != "" || !strings.Contains(stderr, want) {
			t.Fatalf("kms %s: exit %d, stdout %q, stderr %q; want %q", args[0], code, stdout, stderr, want)
		}
	}
	refused(t, "server", "--data-dir", dir, "--listen", "127.0.0.1:0")
	refused(t, "account", "create", "--data-dir", dir)
	if after, _ := os.ReadFile(lock); string(after) != string(before) {
		t.Fatalf("lock file changed: %q, was %q", after, before)
	}
	if got := names(); got != files {
		t.Fatalf("files %s, were %s", got, files)
	}
	if _, stderr, code := kmsCmd(t, nil, "audit", "verify", "--data-dir", dir); code != 0 {
		t.Fatalf("audit verify beside the server: exit %d\n%s", code, stderr)
	}

	// kill -9 leaves no stale lock; a clean stop neither.
	p.cmd.Process.Kill()
	p.wait()
	p = startKMS(t, dir, pinned...)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, p.stderr)
	}
	if _, stderr, code := kmsCmd(t, nil, "account", "create", "--data-dir", dir); code != 0 {
		t.Fatalf("account create on a stopped server's dir: exit %d\n%s", code, stderr)
	}

	// A start refused for a wrong seal leaves the lock file as it was.
	before, err = os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	if err := os.WriteFile(wrong, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"server", "--data-dir", dir, "--listen", "127.0.0.1:0"},
		{"account", "create", "--data-dir", dir},
	} {
		if _, stderr, code := kmsCmd(t, []string{"KMS_SEAL_KEY_FILE=" + wrong}, args...); code == 0 || !strings.Contains(stderr, "does not match") {
			t.Fatalf("kms %s with a wrong root key: exit %d\n%s", args[0], code, stderr)
		}
		if after, _ := os.ReadFile(lock); string(after) != string(before) {
			t.Fatalf("kms %s refused, but the lock file changed: %q, was %q", args[0], after, before)
		}
	}
}
