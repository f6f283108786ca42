package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

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
			_, err := cb.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
			if disabled(err) {
				lags = append(lags, time.Since(acked))
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(acked) > time.Second {
				t.Fatalf("node B still uses a key node A disabled %v ago", time.Since(acked))
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
}
