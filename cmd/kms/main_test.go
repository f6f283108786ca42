package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/pgtest"
)

// These tests run the real `kms` binary as a separate process, so they can
// kill it with SIGKILL, send it SIGTERM, and drive it with the AWS CLI.

const (
	testAccessKeyID = "AKIAIOSFODNN7EXAMPLE"
	testSecret      = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion      = "us-east-1"
)

var kmsBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kms-bin")
	if err != nil {
		panic(err)
	}
	kmsBinary = filepath.Join(dir, "kms")
	out, err := exec.Command("go", "build", "-o", kmsBinary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building kms: %v\n%s", err, out)
		os.Exit(1)
	}
	code := pgtest.Main(m) // a PostgreSQL for the cluster tests
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd     *exec.Cmd
	URL     string
	line    string // the "listening on" line
	stderr  *syncBuffer
	done    chan struct{} // closed when the process has exited
	waitErr error
}

// wait returns the process's exit error once it has exited.
func (p *proc) wait() error {
	<-p.done
	return p.waitErr
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startKMS runs `kms server` on 127.0.0.1 with a free port and waits until
// /healthz answers.
func startKMS(t testing.TB, dir string, env ...string) *proc {
	t.Helper()
	return startKMSArgs(t, []string{"--data-dir", dir, "--listen", "127.0.0.1:0"}, env...)
}

// startKMSArgs is startKMS with the flags of `kms server` given.
func startKMSArgs(t testing.TB, args []string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(kmsBinary, append([]string{"server"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), " listening on ") {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		p.wait()
	})
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("kms server exited before listening:\n%s", p.stderr)
		}
		_, addr, _ := strings.Cut(line, " listening on ")
		p.URL, p.line = strings.Fields(addr)[0], line
	case <-time.After(60 * time.Second):
		t.Fatalf("kms server did not start:\n%s", p.stderr)
	}
	for range 100 {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("healthz never answered:\n%s", p.stderr)
	return nil
}

// startFails runs `kms server` with args, which must fail to start, and
// returns its output.
func startFails(t *testing.T, args []string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kmsBinary, append([]string{"server"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("kms server %v started:\n%s", args, out)
	}
	return string(out)
}

func (p *proc) client() *awskms.Client {
	return awskms.New(awskms.Options{
		Region:           testRegion,
		BaseEndpoint:     aws.String(p.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(testAccessKeyID, testSecret, ""),
		RetryMaxAttempts: 1,
	})
}

var pinned = []string{"KMS_ROOT_ACCESS_KEY_ID=" + testAccessKeyID, "KMS_ROOT_SECRET_ACCESS_KEY=" + testSecret}

// TestKill9Durability: everything acknowledged before SIGKILL is there after
// a restart, every ciphertext handed out still decrypts, and every request
// answered has its audit record.
func TestKill9Durability(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	c := p.client()
	ctx := context.Background()
	type sealed struct {
		blob  []byte
		plain []byte
	}
	var blobs []sealed
	var keyIDs, requests []string
	for i := range 5 {
		k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String(fmt.Sprint("k", i))})
		if err != nil {
			t.Fatal(err)
		}
		keyIDs = append(keyIDs, *k.KeyMetadata.KeyId)
		if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(fmt.Sprint("alias/k", i)), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
		for j := range 10 {
			plain := []byte(fmt.Sprintf("secret %d/%d", i, j))
			e, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(fmt.Sprint("alias/k", i)), Plaintext: plain})
			if err != nil {
				t.Fatal(err)
			}
			blobs = append(blobs, sealed{e.CiphertextBlob, plain})
			requests = append(requests, requestID(t, e.ResultMetadata))
		}
		dk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256})
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, sealed{dk.CiphertextBlob, dk.Plaintext})
	}
	if _, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(keyIDs[4])}); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()

	p = startKMS(t, dir)
	c = p.client()
	for i, b := range blobs {
		if i/11 == 4 {
			continue // key 4 is disabled
		}
		d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: b.blob})
		if err != nil {
			t.Fatalf("blob %d after kill -9: %v", i, err)
		}
		if !bytes.Equal(d.Plaintext, b.plain) {
			t.Fatalf("blob %d decrypted to %q", i, d.Plaintext)
		}
	}
	d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/k4")})
	if err != nil || d.KeyMetadata.KeyState != types.KeyStateDisabled || *d.KeyMetadata.Description != "k4" {
		t.Fatalf("key 4 after kill -9: %+v %v", d, err)
	}

	logged := stopAndExport(t, p, dir)
	for i, id := range requests {
		if !logged[id] {
			t.Errorf("Encrypt %d (request %s) answered before kill -9 has no audit record", i, id)
		}
	}
	if stdout, stderr, code := kmsCmd(t, nil, "audit", "verify", "--data-dir", dir); code != 0 {
		t.Fatalf("audit verify after kill -9: exit %d\n%s%s", code, stdout, stderr)
	}
}

// stopAndExport stops the server with SIGTERM and returns the request ids
// of the records `kms audit export` finds in dir.
func stopAndExport(t *testing.T, p *proc, dir string) map[string]bool {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, p.stderr)
	}
	stdout, stderr, code := kmsCmd(t, nil, "audit", "export", "--data-dir", dir, "--since", "1h")
	if code != 0 {
		t.Fatalf("audit export: exit %d\n%s", code, stderr)
	}
	logged := map[string]bool{}
	for _, e := range parseLines(t, stdout) {
		logged[e.RequestID] = true
	}
	return logged
}

func TestSIGTERMExitsCleanly(t *testing.T) {
	p := startKMS(t, t.TempDir(), pinned...)
	if _, err := p.client().CreateKey(context.Background(), &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if err := p.wait(); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestFirstStartWritesCredentials(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir)
	path := filepath.Join(dir, "credentials")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi, err)
	}
	// The SDK's own shared-credentials loader reads it.
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithSharedCredentialsFiles([]string{path}), config.WithSharedConfigFiles(nil),
		config.WithSharedConfigProfile("default"), config.WithRegion(testRegion))
	if err != nil {
		t.Fatal(err)
	}
	c := awskms.NewFromConfig(cfg, func(o *awskms.Options) { o.BaseEndpoint = aws.String(p.URL) })
	if _, err := c.ListKeys(context.Background(), &awskms.ListKeysInput{}); err != nil {
		t.Fatalf("with generated credentials: %v", err)
	}
}
