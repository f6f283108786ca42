package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

const (
	seedUserKey = "AKIASEEDEXAMPLE00001"
	seedUserSec = "seedExampleSecretForTheCiUser0000001"
	seedAppKey  = "e32d1ab2-3499-4a1d-8983-76ea309281c1"
)

func exampleSeedPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../examples/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// serverExit runs `kms server` that is expected to refuse to start, and
// returns its stderr and exit code; it fails the test if the server starts.
func serverExit(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kmsBinary, append([]string{"server", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if strings.Contains(stdout.String(), "listening on") {
		t.Fatalf("kms server started:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("kms server: %v\n%s", err, stderr.String())
	}
	return stderr.String(), ee.ExitCode()
}

// dirDigest sums every file of a data dir, name and content, leaving out
// the lock file, which every start takes.
func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "LOCK" || strings.HasSuffix(d.Name(), ".lock") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		lines = append(lines, fmt.Sprintf("%s %x", rel, sha256.Sum256(b)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestSeedServer runs the binary with KMS_SEED: the seeded IAM user's
// pinned access key works with the SDK; a conflicting seed given by
// --seed is refused, naming the entry, and
// leaves the data dir as it was; a bad file is refused before the data dir
// is made.
func TestSeedServer(t *testing.T) {
	ctx := context.Background()
	seed := exampleSeedPath(t)
	dir := t.TempDir()
	p := startKMS(t, dir, append(pinned, "KMS_SEED="+seed)...)
	user := awskms.New(awskms.Options{
		Region:           testRegion,
		BaseEndpoint:     aws.String(p.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(seedUserKey, seedUserSec, ""),
		RetryMaxAttempts: 1,
	})
	ct, err := user.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("seeded")})
	if err != nil {
		t.Fatalf("the seeded user's access key: %v", err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("kms server: %v\n%s", err, p.stderr)
	}
	before := dirDigest(t, dir)

	// A conflicting seed: the app key with other material.
	b, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	changed := strings.Replace(string(b), "material: hex:6534c804c33a1f2e629f102dd08faae9d571b8ec0334dc7a09ebb91ff1c9dc57\n    aliases: [alias/app]",
		"material: hex:27c53ec0ef0f9008fc7801633c00bcfdca638e56fb75d0d14bffa6c19ff741d3\n    aliases: [alias/app]", 1)
	if changed == string(b) {
		t.Fatal("the example changed: update this test")
	}
	if err := os.WriteFile(bad, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	// The flag wins over the variable.
	stderr, code := serverExit(t, []string{"KMS_SEED=" + seed}, "--data-dir", dir, "--seed", bad)
	if code != 1 || !strings.Contains(stderr, "seed: keys[0] ("+seedAppKey+"): exists with other key material") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "27c53ec0") {
		t.Fatalf("the refusal shows the material:\n%s", stderr)
	}
	if got := dirDigest(t, dir); got != before {
		t.Errorf("a refused seed changed the data dir:\nbefore:\n%s\nafter:\n%s", before, got)
	}

	// The same seed again: the ciphertext still decrypts.
	p = startKMS(t, dir, "KMS_SEED="+seed)
	pt, err := p.client().Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct.CiphertextBlob})
	if err != nil || string(pt.Plaintext) != "seeded" {
		t.Fatalf("Decrypt after re-seeding = %v, %v", pt, err)
	}

	// A file that does not parse, or is not there.
	fresh := filepath.Join(t.TempDir(), "data")
	notYAML := filepath.Join(t.TempDir(), "seed.yaml")
	os.WriteFile(notYAML, []byte("keys:\n  - id: 1\n    colour: red\n"), 0o600)
	stderr, code = serverExit(t, []string{"KMS_SEED=" + notYAML}, "--data-dir", fresh)
	if code != 1 || !strings.Contains(stderr, "field colour not found") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	stderr, code = serverExit(t, nil, "--data-dir", fresh, "--seed", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 2 || !strings.Contains(stderr, "--seed") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused seed made the data dir: %v", err)
	}
}
