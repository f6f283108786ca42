package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestAccountCreate runs `kms account create` on the data dir of a stopped
// server: the printed profile works once the server is started again.
// (TestDataDirLocked: it refuses while the server runs.)
func TestAccountCreate(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, p.stderr)
	}
	account := func(args ...string) (string, string, error) {
		cmd := exec.Command(kmsBinary, append([]string{"account", "create"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Env = os.Environ()
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	profile := regexp.MustCompile(`^\[(\d{12})\]\naws_access_key_id = (AKIA[A-Z2-7]{16})\naws_secret_access_key = (\S{40})\n$`)

	for _, tc := range []struct {
		name    string
		args    []string
		account string // "" for a random one
	}{
		{"given id", []string{"--data-dir", dir, "--account-id", "444455556666"}, "444455556666"},
		{"random id", []string{"--data-dir", dir}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := account(tc.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			m := profile.FindStringSubmatch(out)
			if m == nil || tc.account != "" && m[1] != tc.account || m[1] == "111122223333" {
				t.Fatalf("output %q", out)
			}
			if strings.Contains(errOut, m[3]) {
				t.Fatal("the secret reached stderr")
			}
			// The printed profile, as a shared-credentials file, works.
			creds := filepath.Join(t.TempDir(), "credentials")
			if err := os.WriteFile(creds, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.LoadDefaultConfig(context.Background(),
				config.WithSharedCredentialsFiles([]string{creds}),
				config.WithSharedConfigFiles([]string{filepath.Join(t.TempDir(), "none")}),
				config.WithSharedConfigProfile(m[1]),
				config.WithRegion(testRegion))
			if err != nil {
				t.Fatal(err)
			}
			q := startKMS(t, dir, pinned...)
			c := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(q.URL) })
			id, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			q.cmd.Process.Signal(syscall.SIGTERM)
			if werr := q.wait(); werr != nil {
				t.Fatalf("server exit: %v\n%s", werr, q.stderr)
			}
			if err != nil {
				t.Fatal(err)
			}
			if *id.Account != m[1] || *id.Arn != "arn:aws:iam::"+m[1]+":root" {
				t.Fatalf("GetCallerIdentity: %s %s", *id.Account, *id.Arn)
			}
		})
	}

	missing := filepath.Join(t.TempDir(), "none")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"existing account", []string{"--data-dir", dir, "--account-id", "444455556666"}, "exists"},
		{"the first account", []string{"--data-dir", dir, "--account-id", "111122223333"}, "exists"},
		{"bad id", []string{"--data-dir", dir, "--account-id", "12345"}, "12 digits"},
		{"no data dir", []string{"--data-dir", missing}, "not initialised"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := account(tc.args...)
			if err == nil || out != "" || !strings.Contains(errOut, tc.want) {
				t.Fatalf("err %v, stdout %q, stderr %q", err, out, errOut)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("account create made a data dir")
	}
}
