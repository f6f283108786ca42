package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestBackupRestoreUnderLoad backs up a data dir while its server serves
// a mixed load, restores it into a new dir and starts a server there:
// every key acknowledged before the backup began decrypts its ciphertexts,
// a key disabled before it stays disabled, their records are in the
// restored audit trail, and the trail verifies.
func TestBackupRestoreUnderLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	c := p.client()
	type sealed struct {
		key   string
		blob  []byte
		plain []byte
	}
	var before []sealed
	var keyIDs, requests []string
	for i := range 4 {
		k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String(fmt.Sprint("before ", i))})
		if err != nil {
			t.Fatal(err)
		}
		keyIDs = append(keyIDs, *k.KeyMetadata.KeyId)
		requests = append(requests, requestID(t, k.ResultMetadata))
		for j := range 5 {
			plain := []byte(fmt.Sprintf("secret %d/%d", i, j))
			e, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: plain})
			if err != nil {
				t.Fatal(err)
			}
			before = append(before, sealed{*k.KeyMetadata.KeyId, e.CiphertextBlob, plain})
			requests = append(requests, requestID(t, e.ResultMetadata))
		}
	}
	disabled := keyIDs[3]
	if _, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(disabled)}); err != nil {
		t.Fatal(err)
	}

	// Load during the backup: creates, uses, tags, failures.
	var (
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		served atomic.Int64
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch i % 4 {
				case 0:
					_, err = c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String(fmt.Sprint("during ", w, i))})
				case 1:
					_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(keyIDs[w%3]), Plaintext: []byte("during")})
				case 2:
					_, err = c.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(keyIDs[w%3]),
						Tags: []types.Tag{{TagKey: aws.String(fmt.Sprint("t", w)), TagValue: aws.String(fmt.Sprint(i))}}})
				case 3:
					_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(disabled), Plaintext: []byte("refused")})
					if err != nil {
						err = nil // DisabledException, audited as a failure
					}
				}
				if err != nil {
					t.Errorf("load: %v", err)
					return
				}
				served.Add(1)
			}
		})
	}
	for served.Load() < 50 {
		if t.Failed() {
			break
		}
	}
	out := filepath.Join(t.TempDir(), "kms.backup")
	_, stderr, code := kmsCmd(t, nil, "backup", "--data-dir", dir, "--out", out)
	close(stop)
	wg.Wait()
	if code != 0 || !strings.Contains(stderr, "wrote "+out) {
		t.Fatalf("backup: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(out + ".partial"); !os.IsNotExist(err) {
		t.Errorf("the partial file is left: %v", err)
	}
	assertNoSecrets(t, out, filepath.Join(dir, "root.key"))

	restored := filepath.Join(t.TempDir(), "restored")
	keyFile := "KMS_SEAL_KEY_FILE=" + filepath.Join(dir, "root.key")
	stdout, stderr, code := kmsCmd(t, []string{keyFile}, "restore", "--from", out, "--data-dir", restored)
	if code != 0 || !strings.Contains(stdout, "into "+restored) {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(restored, "root.key")); !os.IsNotExist(err) {
		t.Error("restore wrote a root key")
	}

	q := startKMS(t, restored, keyFile)
	rc := q.client()
	for i, b := range before {
		d, err := rc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: b.blob})
		if b.key == disabled {
			if err == nil || !strings.Contains(err.Error(), "DisabledException") {
				t.Errorf("blob %d of the disabled key: %v", i, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(d.Plaintext, b.plain) || *d.KeyId != "arn:aws:kms:"+testRegion+":111122223333:key/"+b.key {
			t.Fatalf("blob %d on the restored server: %v", i, err)
		}
	}
	// The restored server serves changes too.
	if _, err := rc.CreateKey(ctx, &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	logged := stopAndExport(t, q, restored)
	for i, id := range requests {
		if !logged[id] {
			t.Errorf("request %d (%s), answered before the backup, has no record in the restored trail", i, id)
		}
	}
	if stdout, stderr, code := kmsCmd(t, []string{keyFile}, "audit", "verify", "--data-dir", restored); code != 0 {
		t.Fatalf("audit verify of the restored dir: exit %d\n%s%s", code, stdout, stderr)
	}
}

// assertNoSecrets fails if the file holds the root key, in hex or raw.
func assertNoSecrets(t *testing.T, path, keyFile string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(key)))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, bytes.TrimSpace(key)) || bytes.Contains(data, raw) {
		t.Fatal("the backup holds the root key")
	}
	if bytes.Contains(data, []byte(testSecret)) {
		t.Fatal("the backup holds the root account's secret")
	}
}

// TestRestoreRefuses: a restore that cannot be trusted, or that would
// overwrite, writes nothing; backup refuses what it cannot back up.
func TestRestoreRefuses(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	if _, err := p.client().CreateKey(context.Background(), &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	good := filepath.Join(work, "good.backup")
	if _, stderr, code := kmsCmd(t, nil, "backup", "--data-dir", dir, "--out", good); code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, stderr)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	variant := func(name string, b []byte) string {
		path := filepath.Join(work, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// One byte of the store's copy changed: the tar stays readable.
	altered := bytes.Clone(data)
	at := bytes.Index(altered, []byte("SQLite format 3"))
	altered[at+100] ^= 1
	wrongKey := filepath.Join(work, "wrong.key")
	if err := os.WriteFile(wrongKey, []byte(hex.EncodeToString(random(32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rightKey := "KMS_SEAL_KEY_FILE=" + filepath.Join(dir, "root.key")
	evil := tarOf(t, map[string]string{"kms-backup.json": `{"format":1}`, "../escape": "x"}, "kms-backup.json", "../escape")

	nonEmpty := filepath.Join(work, "nonempty")
	if err := os.MkdirAll(nonEmpty, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nonEmpty, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		from   string
		target string
		env    []string
		want   string
	}{
		{"wrong root key", good, "", []string{"KMS_SEAL_KEY_FILE=" + wrongKey}, "does not match"},
		{"passphrase for a key-file seal", good, "", []string{"KMS_SEAL_PASSPHRASE=guess"}, "not a passphrase"},
		{"non-empty target", good, nonEmpty, []string{rightKey}, "not empty (it has notes.txt)"},
		{"the running server's dir", good, dir, []string{rightKey}, "not empty"},
		{"cut short", variant("short", data[:len(data)*2/3]), "", []string{rightKey}, "cut short"},
		{"altered", variant("altered", altered), "", []string{rightKey}, "does not match its checksum"},
		{"not a backup", variant("text", []byte("hello")), "", []string{rightKey}, "not a kms backup"},
		{"a path outside", variant("evil", evil), "", []string{rightKey}, `unexpected file "../escape"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target
			if target == "" {
				target = filepath.Join(t.TempDir(), "new")
			}
			files := listDir(t, target)
			stdout, stderr, code := kmsCmd(t, tc.env, "restore", "--from", tc.from, "--data-dir", target)
			if code == 0 || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, stdout, stderr, tc.want)
			}
			if got := listDir(t, target); got != files {
				t.Fatalf("target holds %q after a refused restore, held %q", got, files)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(target), "escape")); !os.IsNotExist(err) {
				t.Fatal("a file escaped the target")
			}
		})
	}

	// A root key copied into an otherwise empty target is the default seal.
	withKey := filepath.Join(work, "withkey")
	if err := os.MkdirAll(withKey, 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withKey, "root.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := kmsCmd(t, nil, "restore", "--from", good, "--data-dir", withKey); code != 0 {
		t.Fatalf("restore beside root.key: exit %d\n%s", code, stderr)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"existing output", []string{"--data-dir", dir, "--out", good}, "exists"},
		{"not a data dir", []string{"--data-dir", work, "--out", filepath.Join(work, "x")}, "not a data dir"},
		{"no output", []string{"--data-dir", dir}, "--out is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := kmsCmd(t, nil, append([]string{"backup"}, tc.args...)...)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %q", code, stderr, tc.want)
			}
		})
	}
	if after, _ := os.ReadFile(good); !bytes.Equal(after, data) {
		t.Fatal("a refused backup changed an existing file")
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// listDir names what dir holds, "-" if it does not exist.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return "-"
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// tarOf makes a tar archive of the named files, in order.
func tarOf(t *testing.T, files map[string]string, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range order {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
