package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/internal/identity"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/service"
)

// TestSealRotateUnderLoad: `kms seal rotate` beside a running server has
// the server move to the new seal while clients encrypt, decrypt, create
// keys, rotate them and create access keys, none of which fails. After a
// kill -9 the server starts with the new seal only; every ciphertext made
// before, during and after the rotation decrypts and every access key
// authenticates; the old root key opens none of the stored secrets.
func TestSealRotateUnderLoad(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	p := startKMS(t, dir, pinned...)
	c, ic := p.client(), p.iamClient()
	oldRoot, err := os.ReadFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}

	type blob struct {
		want string
		ct   []byte
	}
	var (
		mu    sync.Mutex
		blobs []blob
		users []*iam.CreateAccessKeyOutput
		quit  = make(chan struct{})
		wg    sync.WaitGroup
		errs  = make(chan error, 100)
	)
	keep := func(want string, ct []byte) {
		mu.Lock()
		blobs = append(blobs, blob{want, ct})
		mu.Unlock()
	}
	// Each worker creates keys (sealing material), encrypts and decrypts
	// under them, rotates them on demand (sealing more) and creates users
	// with access keys (sealing secrets), until told to stop.
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-quit:
					return
				default:
				}
				k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
				if err != nil {
					errs <- fmt.Errorf("CreateKey: %w", err)
					return
				}
				for j := range 3 {
					pt := fmt.Sprintf("w%d-%d-%d", w, i, j)
					e, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte(pt)})
					if err != nil {
						errs <- fmt.Errorf("Encrypt: %w", err)
						return
					}
					if d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: e.CiphertextBlob}); err != nil || string(d.Plaintext) != pt {
						errs <- fmt.Errorf("Decrypt of %q: %v", pt, err)
						return
					}
					keep(pt, e.CiphertextBlob)
					if j == 1 {
						if _, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyMetadata.KeyId}); err != nil {
							errs <- fmt.Errorf("RotateKeyOnDemand: %w", err)
							return
						}
					}
				}
				name := fmt.Sprintf("u%d-%d", w, i)
				if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
					errs <- fmt.Errorf("CreateUser: %w", err)
					return
				}
				ak, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
				if err != nil {
					errs <- fmt.Errorf("CreateAccessKey: %w", err)
					return
				}
				mu.Lock()
				users = append(users, ak)
				mu.Unlock()
			}
		})
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(blobs)
	}
	waitFor := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); count() < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the load made only %d ciphertexts", count())
			}
		}
	}
	waitFor(20)
	// A new seal the server cannot take is refused, and it keeps serving.
	if _, stderr, code := kmsCmd(t, nil, "seal", "rotate", "--data-dir", dir, "--new-seal", "file", "--new-seal-key-file", filepath.Join(dir, "root.key")); code == 0 || !strings.Contains(stderr, "the running server refused") {
		t.Fatalf("rotate to the current key file: exit %d\n%s", code, stderr)
	}
	stdout, stderr, code := kmsCmd(t, []string{"KMS_NEW_SEAL_PASSPHRASE=new-pw"}, "seal", "rotate", "--data-dir", dir, "--new-seal", "passphrase")
	if code != 0 || !strings.Contains(stdout, "re-sealed") {
		t.Fatalf("seal rotate beside the running server: exit %d\n%s%s\nserver:\n%s", code, stdout, stderr, p.stderr)
	}
	during := count()
	waitFor(during + 20) // the load goes on under the new seal
	close(quit)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Fatalf("server:\n%s", p.stderr)
	}
	t.Logf("%d ciphertexts, %d before the rotation ended; %d access keys; %s", len(blobs), during, len(users), strings.TrimSpace(stdout))

	// Everything acknowledged survives a kill -9, under the new seal.
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
	if _, err := os.Stat(filepath.Join(dir, "control.sock")); err == nil {
		// Left by the killed server: the next one replaces it.
		t.Log("control.sock left behind by kill -9")
	}
	refused := startFails(t, []string{"--data-dir", dir, "--listen", "127.0.0.1:0"})
	if !strings.Contains(refused, "passphrase") {
		t.Errorf("a start with the old root key file:\n%s", refused)
	}
	p = startKMS(t, dir, append(pinned, "KMS_SEAL_PASSPHRASE=new-pw")...)
	c = p.client()
	for _, b := range blobs {
		d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: b.ct})
		if err != nil || string(d.Plaintext) != b.want {
			t.Fatalf("Decrypt of %q after the restart: %v", b.want, err)
		}
	}
	for _, ak := range users {
		_, err := p.clientAs(testRegion, *ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey).ListKeys(ctx, &awskms.ListKeysInput{})
		if code := errorCode(err); code != "AccessDeniedException" { // authenticated, not allowed
			t.Fatalf("access key %s after the restart: %v", *ak.AccessKey.AccessKeyId, err)
		}
	}
	stop(t, p)

	// The old root key opens nothing in the store.
	root := make([]byte, seal.RootKeySize)
	if _, err := hex.Decode(root, []byte(strings.TrimSpace(string(oldRoot)))); err != nil {
		t.Fatal(err)
	}
	old, err := seal.New(root)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "kms.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	for _, q := range []string{`SELECT key_id, id, sealed FROM materials`, `SELECT '', id, sealed_secret FROM access_keys`} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var keyID, id string
			var sealed []byte
			if err := rows.Scan(&keyID, &id, &sealed); err != nil {
				t.Fatal(err)
			}
			aad := identity.AccessKeyAAD(id)
			if keyID != "" {
				aad = service.MaterialAAD(keyID, id)
			}
			if _, err := old.Open(sealed, aad); err == nil {
				t.Errorf("the old root key opens %s %s", keyID, id)
			}
			n++
		}
		rows.Close()
	}
	if n < len(blobs)/3 {
		t.Fatalf("checked only %d sealed values", n)
	}
}

// BenchmarkSealRotateLive: `kms seal rotate` beside a running server that
// holds 10,000 keys, to a new key file each time (no Argon2id), while one
// client encrypts and another creates keys without pause. It reports the
// rotation's wall time (the command's, socket and fsyncs included) and the
// longest Encrypt and CreateKey seen during the run: requests that seal
// wait for the re-seal, the others should not.
func BenchmarkSealRotateLive(b *testing.B) {
	dir := b.TempDir()
	p := startKMS(b, dir, append(pinned, "KMS_LOG_LEVEL=warn")...)
	c := p.client()
	createKeys(b, c, 10000)
	k, err := c.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	var (
		quit            = make(chan struct{})
		wg              sync.WaitGroup
		encMax, makeMax time.Duration
		failed          error
		mu              sync.Mutex
	)
	loop := func(longest *time.Duration, call func() error) {
		for {
			select {
			case <-quit:
				return
			default:
			}
			t0 := time.Now()
			err := call()
			d := time.Since(t0)
			mu.Lock()
			*longest = max(*longest, d)
			if err != nil && failed == nil {
				failed = err
			}
			mu.Unlock()
		}
	}
	wg.Go(func() {
		loop(&encMax, func() error {
			_, err := c.Encrypt(context.Background(), &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
			return err
		})
	})
	wg.Go(func() {
		loop(&makeMax, func() error {
			_, err := c.CreateKey(context.Background(), &awskms.CreateKeyInput{})
			return err
		})
	})
	time.Sleep(200 * time.Millisecond)
	var rotations []time.Duration
	i := 0
	for b.Loop() {
		i++
		t0 := time.Now()
		cmd := exec.Command(kmsBinary, "seal", "rotate", "--data-dir", dir, "--new-seal", "file",
			"--new-seal-key-file", filepath.Join(dir, fmt.Sprintf("root-%d.key", i)))
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("seal rotate: %v\n%s", err, out)
		}
		rotations = append(rotations, time.Since(t0))
	}
	close(quit)
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	slices.Sort(rotations)
	b.ReportMetric(float64(rotations[len(rotations)/2].Microseconds())/1000, "rotate-ms")
	b.ReportMetric(float64(encMax.Microseconds())/1000, "encrypt-max-ms")
	b.ReportMetric(float64(makeMax.Microseconds())/1000, "createkey-max-ms")
}
