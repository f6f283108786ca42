package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// ephemeralLine is the listening line of `kms server --ephemeral`.
var ephemeralLine = regexp.MustCompile(`^kms \S+ listening on (http://127\.0\.0\.1:\d+) \(ephemeral data dir (\S+), credentials (\S+)\)$`)

// emptyDir fails if dir holds anything.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("%s holds %v", dir, left[0].Name())
	}
}

// TestEphemeral: `kms server --ephemeral` (or KMS_EPHEMERAL=1) serves from
// a temporary data dir under $TMPDIR, names it and its credentials file
// in the listening line, and removes it when stopped by SIGTERM or SIGINT.
func TestEphemeral(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		sig  syscall.Signal
	}{
		{"flag, SIGTERM", []string{"--ephemeral"}, nil, syscall.SIGTERM},
		{"environment, SIGINT", nil, []string{"KMS_EPHEMERAL=1"}, syscall.SIGINT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			p := startKMSArgs(t, append(tc.args, "--listen", "127.0.0.1:0"), append(tc.env, "TMPDIR="+tmp)...)
			m := ephemeralLine.FindStringSubmatch(p.line)
			if m == nil {
				t.Fatalf("listening line %q", p.line)
			}
			dir, creds := m[2], m[3]
			if filepath.Dir(dir) != tmp || !strings.HasPrefix(filepath.Base(dir), "kms-ephemeral-") || creds != filepath.Join(dir, "credentials") {
				t.Fatalf("data dir %s, credentials %s; want %s/kms-ephemeral-*/credentials", dir, creds, tmp)
			}
			// The named file is all a client needs, as the README says.
			cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(testRegion),
				config.WithSharedCredentialsFiles([]string{creds}), config.WithSharedConfigFiles(nil))
			if err != nil {
				t.Fatal(err)
			}
			c := awskms.NewFromConfig(cfg, func(o *awskms.Options) { o.BaseEndpoint = aws.String(m[1]) })
			if _, err := c.CreateKey(context.Background(), &awskms.CreateKeyInput{}); err != nil {
				t.Fatal(err)
			}

			p.cmd.Process.Signal(tc.sig)
			if err := p.wait(); err != nil {
				t.Fatalf("exit: %v\n%s", err, p.stderr)
			}
			emptyDir(t, tmp)
		})
	}
}

// TestEphemeralStartFails: a server that fails after making its
// temporary data dir (here: its port is taken) removes it.
func TestEphemeralStartFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tmp := t.TempDir()
	_, stderr, code := kmsCmd(t, []string{"TMPDIR=" + tmp}, "server", "--ephemeral", "--listen", ln.Addr().String())
	if code != 1 || !strings.Contains(stderr, "address already in use") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	emptyDir(t, tmp)
}

// TestEphemeralRefused: --ephemeral with a data dir, a PostgreSQL store or
// a root key file of the caller's, by flag or environment, is refused
// before anything is written.
func TestEphemeralRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"--data-dir", []string{"--data-dir", "@DATA@"}, nil, "cannot be combined with --data-dir"},
		{"KMS_DATA_DIR", nil, []string{"KMS_DATA_DIR=@DATA@"}, "cannot be combined with --data-dir (KMS_DATA_DIR)"},
		{"--data-dir at its default", []string{"--data-dir", "./kms-data"}, nil, "cannot be combined with --data-dir"},
		{"--store", []string{"--store", "postgres://kms@127.0.0.1:1/kms"}, nil, "cannot be combined with --store"},
		{"KMS_STORE", nil, []string{"KMS_STORE=postgres://kms@127.0.0.1:1/kms"}, "cannot be combined with --store (KMS_STORE)"},
		{"--seal-key-file", []string{"--seal-key-file", "@DATA@/root.key"}, nil, "cannot be combined with --seal-key-file"},
		{"bad KMS_EPHEMERAL", nil, []string{"KMS_EPHEMERAL=yes"}, "bad KMS_EPHEMERAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			data := filepath.Join(t.TempDir(), "data")
			fill := func(s []string) []string {
				var out []string
				for _, a := range s {
					out = append(out, strings.ReplaceAll(a, "@DATA@", data))
				}
				return out
			}
			args := append([]string{"server", "--ephemeral", "--listen", "127.0.0.1:0"}, fill(tc.args)...)
			// A server that starts by mistake is killed rather than hanging the test.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, kmsBinary, args...)
			cmd.Dir = t.TempDir() // where a default ./kms-data would go
			cmd.Env = append(os.Environ(), append(fill(tc.env), "TMPDIR="+tmp)...)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("%v, output %q; want %q", err, out, tc.want)
			}
			emptyDir(t, tmp)
			emptyDir(t, cmd.Dir)
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Fatalf("the data dir was made: %v", err)
			}
		})
	}
}

// TestEphemeralStopDuringStart: a SIGTERM at any moment of a start leaves
// nothing behind. Signals are caught before the temporary dir is made, so
// this holds whichever step the signal lands in; the delays only spread
// the signals over the steps.
func TestEphemeralStopDuringStart(t *testing.T) {
	tmp := t.TempDir()
	for i := range 12 {
		cmd := exec.Command(kmsBinary, "server", "--ephemeral", "--listen", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i) * 4 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait() // killed by the signal early on, exit 0 once it is caught
		emptyDir(t, tmp)
	}
}
