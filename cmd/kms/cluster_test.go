package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/openkms/kms/internal/pgtest"
)

// startNode starts a node of the cluster whose database is dsn, with its
// own data dir; the first node's root key file seals the cluster.
func startNode(t *testing.T, dsn, keyFile string, env ...string) (*proc, string) {
	t.Helper()
	dir := t.TempDir()
	env = append(append([]string{"KMS_STORE=" + dsn}, pinned...), env...)
	if keyFile != "" {
		env = append(env, "KMS_SEAL_KEY_FILE="+keyFile)
	}
	return startKMS(t, dir, env...), dir
}

// TestClusterPropagation: two nodes on one database. A key made on one is
// used on the other; a change acknowledged by one is honoured by the other
// for every request that arrives a second later (the promise), and in
// practice within milliseconds: the test measures when node B first refuses
// a key that node A disabled, and reports the distribution.
func TestClusterPropagation(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	a, dirA := startNode(t, dsn, "")
	keyFile := filepath.Join(dirA, "root.key")
	b, _ := startNode(t, dsn, keyFile)
	ca, cb := a.client(), b.client()

	k, err := ca.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	e, err := cb.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("made on A, used on B")})
	if err != nil {
		t.Fatalf("node B on node A's key: %v", err)
	}
	if d, err := ca.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: e.CiphertextBlob}); err != nil || string(d.Plaintext) != "made on A, used on B" {
		t.Fatalf("node A on node B's ciphertext: %v", err)
	}

	disabled := func(err error) bool {
		var de *types.DisabledException
		return errors.As(err, &de)
	}
	var lags []time.Duration
	for range 20 {
		// Node B uses the key (and caches it), then A disables it.
		if _, err := ca.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: id}); err != nil {
			t.Fatal(err)
		}
		for {
			_, err := cb.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
			if err == nil {
				break
			}
			if !disabled(err) {
				t.Fatal(err)
			}
		}
		if _, err := ca.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: id}); err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		for {
			sent := time.Since(acked)
			_, err := cb.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
			if disabled(err) {
				lags = append(lags, time.Since(acked))
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if sent > time.Second {
				t.Fatalf("node B used a key in a request sent %v after node A acknowledged disabling it", sent)
			}
		}
		// A second after the acknowledgement, the change must hold on B.
	}
	slices.Sort(lags)
	t.Logf("DisableKey on node A to DisabledException on node B, %d runs: min %v, median %v, max %v",
		len(lags), lags[0], lags[len(lags)/2], lags[len(lags)-1])

	// A node with another root key refuses to start.
	_, stderr, code := kmsCmd(t, append([]string{"KMS_STORE=" + dsn}, pinned...), "server", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(stderr, "cannot read root key file") && !strings.Contains(stderr, "does not match") {
		t.Fatalf("a node without the cluster's root key: exit %d\n%s", code, stderr)
	}
	if _, err := ca.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id}); err != nil {
		t.Fatalf("node A after a refused node: %v", err)
	}

	// An account added to the database while the nodes run works on them.
	out, stderr, code := kmsCmd(t, []string{"KMS_STORE=" + dsn, "KMS_SEAL_KEY_FILE=" + keyFile}, "account", "create", "--account-id", "444455556666")
	if code != 0 {
		t.Fatalf("account create --store: exit %d\n%s", code, stderr)
	}
	m := regexp.MustCompile(`aws_access_key_id = (\S+)\naws_secret_access_key = (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("account create printed %q", out)
	}
	c := sts.New(sts.Options{Region: testRegion, BaseEndpoint: aws.String(b.URL),
		Credentials: credentials.NewStaticCredentialsProvider(m[1], m[2], "")})
	if who, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil || *who.Account != "444455556666" {
		t.Fatalf("the new account on node B: %v", err)
	}
}

// TestClusterChaos: three nodes on one database under mixed load (creates,
// encrypt and decrypt, policy changes, grants, disables), a client
// spreading requests over them. Meanwhile each node in turn is killed with
// kill -9 and restarted, and the database is restarted once. Afterwards,
// on every node: every acknowledged CreateKey exists, every acknowledged
// ciphertext decrypts, every acknowledged DisableKey holds; every chain of
// the audit trail verifies, and every request answered 200 has its record.
func TestClusterChaos(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	first, dir0 := startNode(t, dsn, "")
	keyFile := filepath.Join(dir0, "root.key")
	env := []string{"KMS_STORE=" + dsn, "KMS_SEAL_KEY_FILE=" + keyFile}
	dirs := []string{dir0, t.TempDir(), t.TempDir()}
	nodes := []*proc{first, startKMS(t, dirs[1], append(env, pinned...)...), startKMS(t, dirs[2], append(env, pinned...)...)}

	var (
		mu       sync.Mutex
		clients  = []*awskms.Client{nodes[0].client(), nodes[1].client(), nodes[2].client()}
		created  []string
		disabled = map[string]bool{}
		// Keys a DisableKey was sent for, answered or not: one cut off by a
		// node's kill -9 or the database's restart may still have happened.
		disabling   = map[string]bool{}
		blobs       []sealedBlob
		answered    []string // request ids of 200 answers
		stop        atomic.Bool
		served      atomic.Int64
		unanswered  atomic.Int64
		unavailable atomic.Int64 // 503 DependencyTimeoutException
	)
	client := func(i int) *awskms.Client {
		mu.Lock()
		defer mu.Unlock()
		return clients[i%len(clients)]
	}
	ok := func(md middleware.Metadata, err error) bool {
		if err != nil {
			unanswered.Add(1)
			var re *awshttp.ResponseError
			if errors.As(err, &re) && re.HTTPStatusCode() == 500 {
				t.Errorf("a 500 during faults (they must be retryable 503s): %v", err)
			}
			if errors.As(err, &re) && re.HTTPStatusCode() == 503 {
				unavailable.Add(1)
			}
			return false
		}
		id, _ := awsmiddleware.GetRequestIDMetadata(md)
		mu.Lock()
		answered = append(answered, id)
		mu.Unlock()
		served.Add(1)
		return true
	}
	pick := func(i int) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(created) == 0 {
			return "", false
		}
		return created[i%len(created)], true
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				c := client(w + i)
				switch i % 6 {
				case 0:
					out, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
					if out != nil && ok(out.ResultMetadata, err) {
						mu.Lock()
						created = append(created, *out.KeyMetadata.KeyId)
						mu.Unlock()
					} else if out == nil {
						ok(middleware.Metadata{}, err)
					}
				case 1, 2:
					key, have := pick(w*7 + i)
					if !have {
						continue
					}
					plain := []byte(fmt.Sprintf("w%d i%d", w, i))
					out, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: plain})
					if out != nil && ok(out.ResultMetadata, err) {
						mu.Lock()
						blobs = append(blobs, sealedBlob{key, out.CiphertextBlob, plain})
						mu.Unlock()
					} else if out == nil {
						ok(middleware.Metadata{}, err)
					}
				case 3:
					key, have := pick(w*5 + i)
					if !have {
						continue
					}
					out, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(key), Policy: aws.String(rootPolicy)})
					if out != nil {
						ok(out.ResultMetadata, err)
					} else {
						ok(middleware.Metadata{}, err)
					}
				case 4:
					key, have := pick(w*3 + i)
					if !have {
						continue
					}
					out, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(key),
						GranteePrincipal: aws.String("arn:aws:iam::111122223333:root"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
					if out != nil {
						ok(out.ResultMetadata, err)
					} else {
						ok(middleware.Metadata{}, err)
					}
				case 5:
					if i%30 != 5 {
						continue
					}
					key, have := pick(w*11 + i)
					if !have {
						continue
					}
					mu.Lock()
					disabling[key] = true
					mu.Unlock()
					out, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(key)})
					if out != nil && ok(out.ResultMetadata, err) {
						mu.Lock()
						disabled[key] = true
						mu.Unlock()
					} else if out == nil {
						ok(middleware.Metadata{}, err)
					}
				}
			}
		})
	}
	// Should the test stop early, the load stops first.
	t.Cleanup(func() {
		stop.Store(true)
		wg.Wait()
	})
	waitServed := func(n int64) {
		deadline := time.Now().Add(2 * time.Minute) // only a broken build waits long
		for start := served.Load(); served.Load() < start+n; time.Sleep(5 * time.Millisecond) {
			if t.Failed() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cluster stopped answering: %d answered", served.Load())
			}
		}
	}
	restart := func(i int) {
		nodes[i].cmd.Process.Kill()
		nodes[i].wait()
		waitServed(20)
		nodes[i] = startKMS(t, dirs[i], append(env, pinned...)...)
		mu.Lock()
		clients[i] = nodes[i].client()
		mu.Unlock()
	}
	waitServed(50)
	restart(1)
	waitServed(50)
	if err := pgtest.Restart(); err != nil {
		t.Fatal(err)
	}
	waitServed(50)
	restart(2)
	waitServed(50)
	restart(0)
	waitServed(50)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d requests answered 200, %d not (nodes down, database restarting; %d of them 503); %d keys, %d ciphertexts, %d disabled",
		served.Load(), unanswered.Load(), unavailable.Load(), len(created), len(blobs), len(disabled))

	for n, p := range nodes {
		c := p.client()
		for _, k := range created {
			if _, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(k)}); err != nil {
				t.Fatalf("node %d: acknowledged key %s: %v", n, k, err)
			}
			if disabled[k] {
				_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(k), Plaintext: []byte("x")})
				var de *types.DisabledException
				if !errors.As(err, &de) {
					t.Fatalf("node %d: key %s, disabled with an acknowledgement, encrypts: %v", n, k, err)
				}
			}
		}
		for i, b := range blobs {
			if disabling[b.key] {
				continue
			}
			d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: b.blob})
			if err != nil || !bytes.Equal(d.Plaintext, b.plain) {
				t.Fatalf("node %d: ciphertext %d: %v", n, i, err)
			}
		}
	}
	for _, p := range nodes {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.wait(); err != nil {
			t.Fatalf("node exit: %v\n%s", err, p.stderr)
		}
	}
	auditEnv := []string{"KMS_STORE=" + dsn, "KMS_SEAL_KEY_FILE=" + keyFile}
	if stdout, stderr, code := kmsCmd(t, auditEnv, "audit", "verify"); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code := kmsCmd(t, auditEnv, "audit", "export")
	if code != 0 {
		t.Fatalf("audit export: exit %d\n%s", code, stderr)
	}
	logged := map[string]bool{}
	for _, e := range parseLines(t, stdout) {
		logged[e.RequestID] = true
	}
	for _, id := range answered {
		if !logged[id] {
			t.Errorf("request %s answered 200 has no audit record", id)
		}
	}
}

type sealedBlob struct {
	key         string
	blob, plain []byte
}

// rootPolicy is the default key policy: the account root may do anything.
const rootPolicy = `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",` +
	`"Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
