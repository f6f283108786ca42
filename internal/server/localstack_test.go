package server_test

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/internal/server"
)

// LocalStack drop-in: what CI setups written for LocalStack need of the
// server. Its default account and credentials:
const (
	localStackAccount = "000000000000"
	localStackKeyID   = "test"
	localStackSecret  = "test"
)

// TestLocalStackPinnedCredentials: pinned root credentials may be any pair
// an SDK signs with, and the account LocalStack's; a wrong secret is still
// refused.
func TestLocalStackPinnedCredentials(t *testing.T) {
	for _, tc := range []struct{ name, id, secret string }{
		{"localstack", localStackKeyID, localStackSecret},
		{"punctuation", "ci-key.1_x", "s3cr3t+/=!#"},
		{"aws example", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, server.Config{AccountID: localStackAccount, RootAccessKeyID: tc.id, RootSecretAccessKey: tc.secret})
			c := newClient(ts.URL, testRegion, tc.id, tc.secret)
			k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
			if *k.AWSAccountId != localStackAccount || !strings.Contains(*k.Arn, ":"+localStackAccount+":key/") {
				t.Fatalf("key of account %s, ARN %s; want account %s", *k.AWSAccountId, *k.Arn, localStackAccount)
			}
			blob := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("hi")})).CiphertextBlob
			if p := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})).Plaintext; string(p) != "hi" {
				t.Fatalf("decrypted %q", p)
			}
			_, err := newClient(ts.URL, testRegion, tc.id, tc.secret+"x").ListKeys(ctx, &awskms.ListKeysInput{})
			wantCode(t, err, "InvalidSignatureException")
		})
	}
}

// TestPinnedCredentialsRefused: pinned credentials no SDK could sign with
// are refused before anything is written, and the error never shows the
// secret.
func TestPinnedCredentialsRefused(t *testing.T) {
	for _, tc := range []struct{ name, id, secret string }{
		{"id without secret", "test", ""},
		{"secret without id", "", "test"},
		{"space in id", "te st", "test"},
		{"slash in id", "te/st", "test"},
		{"comma in id", "te,st", "test"},
		{"session prefix", "ASIATEST", "test"},
		{"control character in id", "te\x01st", "test"},
		{"newline in secret", "test", "se\ncret-value"},
		{"space in secret", "test", "se cret-value"},
		{"non-ASCII secret", "test", "sécret-value"},
		{"long id", strings.Repeat("a", 129), "test"},
		{"long secret", "test", strings.Repeat("s", 129)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := server.Open(server.Config{DataDir: dir, AccountID: localStackAccount, RootAccessKeyID: tc.id, RootSecretAccessKey: tc.secret,
				Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				t.Fatal("Open accepted the credentials")
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Fatalf("the error shows the secret: %v", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("Open wrote %d entries to the data dir before refusing: %v", len(ents), err)
			}
		})
	}
}

// TestPinnedCredentialsLaterStart: pinning takes effect on the first start
// only; a later start with the same pair (CI restarting with its env) or
// none serves, one with another pair is refused with a clear error.
func TestPinnedCredentialsLaterStart(t *testing.T) {
	dir := t.TempDir()
	start := func(id, secret string) error {
		srv, err := server.Open(server.Config{DataDir: dir, AccountID: localStackAccount, RootAccessKeyID: id, RootSecretAccessKey: secret,
			Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			srv.Close()
		}
		return err
	}
	if err := start(localStackKeyID, localStackSecret); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id, secret string
		ok               bool
	}{
		{"same pair", localStackKeyID, localStackSecret, true},
		{"none", "", "", true},
		{"other secret", localStackKeyID, "Wr0ngSecretValue", false},
		{"other id", "other", localStackSecret, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := start(tc.id, tc.secret)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && (!strings.Contains(err.Error(), "first start") || strings.Contains(err.Error(), "Wr0ngSecretValue")) {
				t.Fatalf("unclear error: %v", err)
			}
		})
	}
}
