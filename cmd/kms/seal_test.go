package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/internal/hsmtest"
	"github.com/openkms/kms/internal/pgtest"
)

// hsmArgs are the flags of a server on the test token's PKCS#11 seal.
func hsmArgs(dir string) []string {
	return []string{"--data-dir", dir, "--listen", "127.0.0.1:0", "--seal", "pkcs11",
		"--pkcs11-module", hsmtest.Module, "--pkcs11-token-label", hsmtest.TokenLabel, "--pkcs11-key-label", "kms-root"}
}

func stop(t *testing.T, p *proc) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, p.stderr)
	}
}

// TestSealPKCS11Server: a server on the PKCS#11 seal (SoftHSM2) creates
// keys and encrypts, and after a restart decrypts; it keeps no root key
// file, and refuses to start without the right PIN. The token is used only
// at start: requests are served with the token gone.
func TestSealPKCS11Server(t *testing.T) {
	tokens := hsmtest.Token(t)
	dir := t.TempDir()
	pin := "KMS_PKCS11_PIN=" + hsmtest.PIN
	p := startKMSArgs(t, hsmArgs(dir), append(pinned, pin)...)
	ctx := context.Background()
	c := p.client()
	// No HSM round trip per request: with the token's files moved away,
	// the server still creates keys, encrypts and decrypts.
	away := tokens + ".away"
	if err := os.Rename(tokens, away); err != nil {
		t.Fatal(err)
	}
	if out := startFails(t, hsmArgs(t.TempDir()), pin); !strings.Contains(out, "PKCS#11") {
		t.Fatalf("a start with the token away:\n%q", out)
	}
	key, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("in the HSM's care")})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(d.Plaintext) != "in the HSM's care" {
		t.Fatalf("Decrypt with the token away: %v", err)
	}
	stop(t, p)
	if err := os.Rename(away, tokens); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !os.IsNotExist(err) {
		t.Fatalf("a PKCS#11-sealed data dir has a root.key (%v)", err)
	}
	state, err := os.ReadFile(filepath.Join(dir, "seal.json"))
	if err != nil || !strings.Contains(string(state), `"pkcs11"`) {
		t.Fatalf("seal.json = %s, %v", state, err)
	}

	p = startKMSArgs(t, hsmArgs(dir), append(pinned, pin)...)
	dec, err := p.client().Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "in the HSM's care" {
		t.Fatalf("Decrypt after a restart = %q, %v", dec.Plaintext, err)
	}
	stop(t, p)

	for name, env := range map[string][]string{
		"wrong PIN": {"KMS_PKCS11_PIN=wrong-pin-x7q"},
		"no PIN":    nil,
	} {
		if out := startFails(t, hsmArgs(dir), env...); strings.Contains(out, "wrong-pin-x7q") {
			t.Errorf("%s: output quotes the PIN:\n%s", name, out)
		}
	}
	// Without --seal pkcs11 the data dir is refused, not re-sealed.
	if out := startFails(t, []string{"--data-dir", dir, "--listen", "127.0.0.1:0"}); !strings.Contains(out, "PKCS#11") {
		t.Fatalf("key-file start of a PKCS#11 data dir:\n%s", out)
	}
}

// TestSealRotate: keys, rotated key material and access keys made under a
// key-file seal survive `kms seal rotate` to a passphrase and then to
// PKCS#11 (SoftHSM2): after each, the server starts with the new seal only,
// every ciphertext decrypts, every access key authenticates, the audit
// trail still verifies, and the previous seal no longer opens the data dir.
func TestSealRotate(t *testing.T) {
	hsmtest.Token(t)
	dir := t.TempDir()
	ctx := context.Background()
	p := startKMS(t, dir, pinned...)
	c := p.client()
	key, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("before")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	after, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("after")})
	if err != nil {
		t.Fatal(err)
	}
	ic := p.iamClient()
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	ak, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	stop(t, p) // beside a running server, see TestSealRotateUnderLoad

	plain := []string{"--data-dir", dir}
	hsmSeal := []string{"--seal", "pkcs11", "--pkcs11-module", hsmtest.Module, "--pkcs11-token-label", hsmtest.TokenLabel, "--pkcs11-key-label", "kms-root"}
	pin := "KMS_PKCS11_PIN=" + hsmtest.PIN
	// check starts a server with the seal given, and checks everything.
	check := func(sealArgs []string, env ...string) {
		t.Helper()
		args := append(append([]string{"--listen", "127.0.0.1:0"}, plain...), sealArgs...)
		p := startKMSArgs(t, args, append(pinned, env...)...)
		for want, blob := range map[string][]byte{"before": before.CiphertextBlob, "after": after.CiphertextBlob} {
			dec, err := p.client().Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
			if err != nil || string(dec.Plaintext) != want {
				t.Fatalf("Decrypt = %q, %v; want %q", dec.Plaintext, err, want)
			}
		}
		// The user's access key authenticates: AccessDenied (no policy), not a signature error.
		_, err := p.clientAs(testRegion, *ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey).ListKeys(ctx, &awskms.ListKeysInput{})
		if code := errorCode(err); code != "AccessDeniedException" {
			t.Fatalf("the user's access key: %v", err)
		}
		stop(t, p)
		if _, stderr, code := kmsCmd(t, env, append(append([]string{"audit", "verify"}, plain...), sealArgs...)...); code != 0 {
			t.Fatalf("audit verify after the rotation: exit %d\n%s", code, stderr)
		}
	}
	refused := func(what string, sealArgs []string, env ...string) {
		t.Helper()
		t.Log("refused:", what)
		startFails(t, append(append([]string{"--listen", "127.0.0.1:0"}, plain...), sealArgs...), env...)
	}
	rotate := func(sealArgs []string, env ...string) string {
		t.Helper()
		stdout, stderr, code := kmsCmd(t, env, append(append([]string{"seal", "rotate"}, plain...), sealArgs...)...)
		if code != 0 {
			t.Fatalf("seal rotate %v: exit %d\n%s%s", sealArgs, code, stdout, stderr)
		}
		return stdout
	}

	// Key file -> passphrase.
	if out := rotate([]string{"--new-seal", "passphrase"}, "KMS_NEW_SEAL_PASSPHRASE=pw"); !strings.Contains(out, "re-sealed 4 secrets") {
		// Two materials, the root's and the user's access keys.
		t.Errorf("rotate said %q", out)
	}
	check(nil, "KMS_SEAL_PASSPHRASE=pw")
	refused("the old key file", nil)

	// Passphrase -> PKCS#11.
	rotate([]string{"--new-seal", "pkcs11", "--new-pkcs11-module", hsmtest.Module, "--new-pkcs11-token-label", hsmtest.TokenLabel, "--new-pkcs11-key-label", "kms-root"},
		"KMS_SEAL_PASSPHRASE=pw", "KMS_NEW_PKCS11_PIN="+hsmtest.PIN)
	refused("the old passphrase", nil, "KMS_SEAL_PASSPHRASE=pw")
	refused("the first key file", nil)
	check(hsmSeal, pin)

	// PKCS#11 -> a new key file.
	newKey := filepath.Join(t.TempDir(), "new.key")
	rotate(append([]string{"--new-seal", "file", "--new-seal-key-file", newKey}, hsmSeal...), pin)
	refused("the HSM", hsmSeal, pin)
	check([]string{"--seal-key-file", newKey})
}

// TestSealPKCS11Cluster: nodes of a cluster share one PKCS#11 seal (its
// state in the database): a key made on one node is used on the other; a
// PKCS#11-sealed data dir migrates into a cluster whose nodes then open it
// with the token.
func TestSealPKCS11Cluster(t *testing.T) {
	hsmtest.Token(t)
	ctx := context.Background()
	hsmEnv := []string{"KMS_SEAL=pkcs11", "KMS_PKCS11_MODULE=" + hsmtest.Module, "KMS_PKCS11_TOKEN_LABEL=" + hsmtest.TokenLabel,
		"KMS_PKCS11_KEY_LABEL=kms-root", "KMS_PKCS11_PIN=" + hsmtest.PIN}

	dsn := pgtest.DSN(t)
	a, dirA := startNode(t, dsn, "", hsmEnv...)
	b, _ := startNode(t, dsn, "", hsmEnv...)
	if _, err := os.Stat(filepath.Join(dirA, "root.key")); !os.IsNotExist(err) {
		t.Fatalf("a PKCS#11 node wrote a root.key (%v)", err)
	}
	e, err := a.client().Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(newSymmetricKey(t, a.client())), Plaintext: []byte("made on A")})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := b.client().Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: e.CiphertextBlob}); err != nil || string(d.Plaintext) != "made on A" {
		t.Fatalf("Decrypt on B: %v", err)
	}

	dir := t.TempDir()
	p := startKMSArgs(t, hsmArgs(dir), append(pinned, "KMS_PKCS11_PIN="+hsmtest.PIN)...)
	e, err = p.client().Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(newSymmetricKey(t, p.client())), Plaintext: []byte("migrated")})
	if err != nil {
		t.Fatal(err)
	}
	stop(t, p)
	target := pgtest.DSN(t)
	out, stderr, code := kmsCmd(t, hsmEnv, "migrate", "--from", dir, "--to", target)
	if code != 0 || !strings.Contains(out, "--seal pkcs11") {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, stderr)
	}
	node, _ := startNode(t, target, "", hsmEnv...)
	if d, err := node.client().Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: e.CiphertextBlob}); err != nil || string(d.Plaintext) != "migrated" {
		t.Fatalf("Decrypt on the node: %v", err)
	}
}
