package server_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/server"
	"github.com/openkms/kms/internal/store/sqlite"
)

func TestRestartKeepsEverything(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  server.Config
	}{
		{"key file", server.Config{}},
		{"passphrase", server.Config{Passphrase: "correct horse battery staple"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.DataDir = t.TempDir()
			ts := startServer(t, cfg)
			c := ts.client(testRegion)
			k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("keep")})).KeyMetadata
			must[*awskms.CreateAliasOutput](t)(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/keep"), TargetKeyId: k.KeyId}))
			enc := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("durable")}))
			ts.stop()

			ts = startServer(t, cfg)
			c = ts.client(testRegion)
			dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))
			if string(dec.Plaintext) != "durable" {
				t.Fatalf("after restart decrypted %q", dec.Plaintext)
			}
			d := must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/keep")}))
			if *d.KeyMetadata.Description != "keep" {
				t.Fatalf("description %q", *d.KeyMetadata.Description)
			}
			ts.stop()
		})
	}
}

// snapshot reads every file under dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err // directories, and the control socket: no data
		}
		b, err := os.ReadFile(path)
		files[path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestWrongSealRefusesAndTouchesNothing(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, server.Config{DataDir: dir, Passphrase: "right"})
	must[*awskms.CreateKeyOutput](t)(ts.client(testRegion).CreateKey(ctx, &awskms.CreateKeyInput{}))
	ts.stop()
	before := snapshot(t, dir)
	for _, cfg := range []server.Config{
		{DataDir: dir, Passphrase: "wrong"},
		{DataDir: dir}, // a key-file seal on a passphrase data dir
	} {
		if _, err := server.Open(cfg); err == nil {
			t.Fatalf("Open with %+v succeeded", cfg)
		} else if strings.Contains(err.Error(), "right") {
			t.Fatalf("error reveals the passphrase: %v", err)
		}
	}
	after := snapshot(t, dir)
	if len(before) != len(after) {
		t.Fatalf("files changed: %d before, %d after", len(before), len(after))
	}
	for p, b := range before {
		if !bytes.Equal(after[p], b) {
			t.Fatalf("%s changed by a refused start", p)
		}
	}

	// A wrong root key file is refused too.
	dir2 := t.TempDir()
	ts = startServer(t, server.Config{DataDir: dir2})
	ts.stop()
	other := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(other, bytes.Repeat([]byte{7}, 32), 0o600)
	if _, err := server.Open(server.Config{DataDir: dir2, SealKeyFile: other}); err == nil {
		t.Fatal("Open with a foreign root key succeeded")
	}
}

// TestNoSecretsInPlainOnDisk scans every file of the data dir, while the
// server runs and after it stops, for the key material, the data keys it
// handed out and the secret access key.
func TestNoSecretsInPlainOnDisk(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, server.Config{DataDir: dir})
	c := ts.client(testRegion)
	var secrets [][]byte
	var keyIDs []string
	for range 3 {
		k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
		keyIDs = append(keyIDs, *k.KeyId)
		for range 5 {
			dk := must[*awskms.GenerateDataKeyOutput](t)(c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyId, KeySpec: types.DataKeySpecAes256}))
			secrets = append(secrets, dk.Plaintext)
		}
		plain := []byte("plaintext that must never be stored " + *k.KeyId)
		must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: plain}))
		secrets = append(secrets, plain)
	}
	secrets = append(secrets, []byte(testSecret))
	// An IAM user's secret access key is sealed like the root's.
	userCreds := createUserWithKey(t, newIAMClient(ts.URL, rootCreds), "scanned")
	secrets = append(secrets, []byte(userCreds.SecretAccessKey))

	scan := func(when string) {
		for path, b := range snapshot(t, dir) {
			if filepath.Base(path) == "credentials" {
				continue // the client's own credentials file, by design (mode 0600)
			}
			for _, s := range secrets {
				if bytes.Contains(b, s) {
					t.Errorf("%s: %s holds a secret in plain", when, path)
				}
			}
		}
	}
	scan("while running")
	ts.stop()

	// Unseal the stored material with the real seal to learn the raw key
	// bytes, then look for them too.
	sealer, err := seal.Open(seal.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "kms.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range keyIDs {
		ms, err := st.ListMaterials(ctx, id)
		if err != nil || len(ms) != 1 {
			t.Fatalf("materials of %s: %d, %v", id, len(ms), err)
		}
		raw, err := sealer.Open(ms[0].Sealed, []byte("kms-material\x00"+id+"\x00"+ms[0].ID))
		if err != nil || len(raw) != 32 {
			t.Fatalf("unseal material of %s: %v", id, err)
		}
		secrets = append(secrets, raw)
	}
	st.Close()
	scan("after stop")

	for _, name := range []string{"credentials", "root.key", "seal.json", "kms.db"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	creds, _ := os.ReadFile(filepath.Join(dir, "credentials"))
	if !strings.Contains(string(creds), "[default]") || !strings.Contains(string(creds), "aws_secret_access_key = "+testSecret) {
		t.Fatalf("credentials file:\n%s", creds)
	}
}
