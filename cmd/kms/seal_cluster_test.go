package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/internal/pgtest"
)

// TestSealRotateCluster: `kms seal rotate --store` moves a cluster's
// database from the first node's root key file to a passphrase. It refuses
// while any node runs; afterwards every ciphertext decrypts and every
// access key authenticates on a node with the new seal, the audit trail
// still verifies (derived keys are kept), and the old seal is refused.
func TestSealRotateCluster(t *testing.T) {
	ctx := context.Background()
	const newPass = "cluster-seal-rotation-passphrase"
	dsn := pgtest.DSN(t)
	a, dirA := startNode(t, dsn, "")
	keyFile := filepath.Join(dirA, "root.key")
	b, _ := startNode(t, dsn, keyFile)
	c := a.client()

	// Two keys, one with two materials, and a ciphertext under each material.
	k1, k2 := newSymmetricKey(t, c), newSymmetricKey(t, c)
	blobs := map[string][]byte{}
	encrypt := func(id, text string) {
		t.Helper()
		e, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte(text)})
		if err != nil {
			t.Fatal(err)
		}
		blobs[text] = e.CiphertextBlob
	}
	encrypt(k1, "k1 first material")
	encrypt(k2, "k2")
	if _, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(k1)}); err != nil {
		t.Fatal(err)
	}
	encrypt(k1, "k1 second material")
	if _, err := a.iamClient().CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	ak, err := a.iamClient().CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}

	oldSeal := []string{"KMS_SEAL_KEY_FILE=" + keyFile}
	rotateEnv := append([]string{"KMS_NEW_SEAL_PASSPHRASE=" + newPass}, oldSeal...)
	rotate := func() (string, string, int) {
		t.Helper()
		out, stderr, code := kmsCmd(t, rotateEnv, "seal", "rotate", "--store", dsn, "--data-dir", t.TempDir(), "--new-seal", "passphrase")
		if strings.Contains(out+stderr, newPass) {
			t.Fatalf("seal rotate printed the passphrase:\n%s%s", out, stderr)
		}
		return out, stderr, code
	}
	refusedWhileRunning := func(what string) {
		t.Helper()
		if _, stderr, code := rotate(); code == 0 || !strings.Contains(stderr, "a node is running on this database: stop every node first") {
			t.Fatalf("rotate while %s: exit %d\n%s", what, code, stderr)
		}
	}
	refusedWhileRunning("two nodes run")
	stop(t, a)
	refusedWhileRunning("one node runs")
	stop(t, b)

	// 3 materials, the root's and the user's access keys.
	if out, stderr, code := rotate(); code != 0 || !strings.Contains(out, "re-sealed 5 secrets; the database now opens") {
		t.Fatalf("rotate: exit %d\n%s%s", code, out, stderr)
	}

	n, _ := startNode(t, dsn, "", "KMS_SEAL_PASSPHRASE="+newPass)
	for want, blob := range blobs {
		d, err := n.client().Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
		if err != nil || string(d.Plaintext) != want {
			t.Fatalf("Decrypt after rotation = %v; want %q", err, want)
		}
	}
	// The user's access key authenticates: AccessDenied (no policy), not a signature error.
	_, err = n.clientAs(testRegion, *ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey).ListKeys(ctx, &awskms.ListKeysInput{})
	if code := errorCode(err); code != "AccessDeniedException" {
		t.Fatalf("the user's access key after rotation: %v", err)
	}
	if _, err := n.client().Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(k2), Plaintext: []byte("new")}); err != nil {
		t.Fatal(err)
	}
	refusedWhileRunning("a node on the new seal runs")
	stop(t, n)

	newSeal := []string{"KMS_STORE=" + dsn, "KMS_SEAL_PASSPHRASE=" + newPass}
	if _, stderr, code := kmsCmd(t, newSeal, "audit", "verify"); code != 0 {
		t.Fatalf("audit verify after the rotation: exit %d\n%s", code, stderr)
	}
	// The old seal opens nothing: not a node, nor another rotation.
	env := append(append([]string{"KMS_STORE=" + dsn}, pinned...), oldSeal...)
	if _, stderr, code := kmsCmd(t, env, "server", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"); code == 0 || !strings.Contains(stderr, "sealed with a passphrase") {
		t.Fatalf("a node with the old root key: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := rotate(); code == 0 || !strings.Contains(stderr, "sealed with a passphrase") {
		t.Fatalf("a second rotation from the old seal: exit %d\n%s", code, stderr)
	}
}
