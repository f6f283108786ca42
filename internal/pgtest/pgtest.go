// Package pgtest runs a throwaway PostgreSQL server for tests: initdb in a
// temporary directory, a free port on 127.0.0.1, stopped when the tests
// end. Nothing is skipped when PostgreSQL is missing: Main fails, and
// scripts/test.sh installs Debian's postgresql package first.
//
// A package's TestMain calls [Main]; each test that needs a database calls
// [DSN] for an empty one of its own.
//
// initdb refuses to run as root; as root, the server runs as the
// "postgres" user the Debian package creates.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names a variable that, when set, points the tests at a running
// server (a superuser's URL) instead of starting one.
const EnvDSN = "KMS_TEST_POSTGRES"

// server is the one Main started (or found in EnvDSN).
var server struct {
	dsn  string // the superuser's URL, to database postgres
	dir  string // data directory; "" when not ours
	cred *syscall.Credential
	bin  string
}

// Main starts a server, runs the tests and stops the server. It returns
// the exit code for os.Exit.
func Main(m *testing.M) int {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		server.dsn = dsn
		return m.Run()
	}
	if err := start(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: starting PostgreSQL: %v\n", err)
		return 1
	}
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stopping PostgreSQL: %v\n", err)
		code = max(code, 1)
	}
	return code
}

// DSN creates an empty database for t, dropped when t ends, and returns
// its URL.
func DSN(t testing.TB) string {
	t.Helper()
	if server.dsn == "" {
		t.Fatal("pgtest: no server: call pgtest.Main from TestMain")
	}
	name := "t_" + hex.EncodeToString(randomBytes(8))
	admin(t, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, server.dsn)
		if err != nil {
			t.Errorf("pgtest: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(server.dsn, name)
}

// Restart restarts the server (pg_ctl restart -m fast): every connection
// is cut, as by a database failover. Only for a server Main started.
func Restart() error {
	if server.dir == "" {
		return errors.New("pgtest: the server is not ours to restart")
	}
	return pgctl("restart", "-m", "fast", "-w", "-t", "120")
}

func admin(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, server.dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

func withDatabase(dsn, name string) string {
	base, query, _ := strings.Cut(dsn, "?")
	i := strings.LastIndex(base, "/")
	if i < len("postgres://") {
		base += "/"
		i = len(base) - 1
	}
	out := base[:i+1] + name
	if query != "" {
		out += "?" + query
	}
	return out
}

func start() error {
	bin, err := findBin()
	if err != nil {
		return err
	}
	server.bin = bin
	dir, err := os.MkdirTemp("", "kms-pgtest-")
	if err != nil {
		return err
	}
	server.dir = filepath.Join(dir, "data")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, and no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		server.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
	}
	if out, err := run(filepath.Join(bin, "initdb"), "-D", server.dir, "-U", "kms", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	var last error
	for range 3 { // a free port may be taken between finding and binding it
		port, err := freePort()
		if err != nil {
			return err
		}
		// fsync off: the tests crash processes, never the machine; commits
		// are then far cheaper.
		opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c max_connections=300 -c fsync=off -c full_page_writes=off", port, dir)
		if last = pgctl("start", "-w", "-t", "120", "-l", filepath.Join(dir, "log"), "-o", opts); last == nil {
			server.dsn = fmt.Sprintf("postgres://kms@127.0.0.1:%d/postgres?sslmode=disable", port)
			return nil
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	return fmt.Errorf("%v\n%s", last, log)
}

func stop() error {
	if server.dir == "" {
		return nil
	}
	err := pgctl("stop", "-m", "fast", "-w", "-t", "120")
	if rerr := os.RemoveAll(filepath.Dir(server.dir)); err == nil {
		err = rerr
	}
	return err
}

func pgctl(args ...string) error {
	out, err := run(filepath.Join(server.bin, "pg_ctl"), append([]string{"-D", server.dir}, args...)...)
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v\n%s", args[0], err, out)
	}
	return nil
}

func run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	if server.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: server.cred}
	}
	cmd.Dir = os.TempDir()
	// pg_ctl start leaves the server running with these as its output:
	// a file, so that waiting for this command does not wait for it.
	f, err := os.CreateTemp("", "pgtest-out-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return out, err
}

// findBin finds the directory of initdb and pg_ctl: on PATH, or Debian's
// /usr/lib/postgresql/VERSION/bin, the newest.
func findBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no initdb and pg_ctl found (on PATH or in /usr/lib/postgresql/*/bin): install Debian's postgresql package")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
