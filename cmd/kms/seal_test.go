package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/internal/hsmtest"
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
// file, and refuses to start without the right PIN.
func TestSealPKCS11Server(t *testing.T) {
	hsmtest.Token(t)
	dir := t.TempDir()
	pin := "KMS_PKCS11_PIN=" + hsmtest.PIN
	p := startKMSArgs(t, hsmArgs(dir), append(pinned, pin)...)
	ctx := context.Background()
	c := p.client()
	key, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("in the HSM's care")})
	if err != nil {
		t.Fatal(err)
	}
	stop(t, p)
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
		"wrong PIN": {"KMS_PKCS11_PIN=4321"},
		"no PIN":    nil,
	} {
		cmd := exec.Command(kmsBinary, append([]string{"server"}, hsmArgs(dir)...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%s: the server started", name)
		}
		if strings.Contains(string(out), hsmtest.PIN) {
			t.Errorf("%s: output quotes the PIN:\n%s", name, out)
		}
	}
	// Without --seal pkcs11 the data dir is refused, not re-sealed.
	cmd := exec.Command(kmsBinary, "server", "--data-dir", dir, "--listen", "127.0.0.1:0")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "PKCS#11") {
		t.Fatalf("key-file start of a PKCS#11 data dir: %v\n%s", err, out)
	}
}
