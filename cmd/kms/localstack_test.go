package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The LocalStack drop-in through the real binary and the AWS CLI: root
// credentials test/test and account 000000000000 pinned by flags or by
// the environment, and a key made with LocalStack's _custom_id_ and
// _custom_key_material_ tags.
func TestLocalStackAWSCLI(t *testing.T) {
	const id = "00000000-1111-2222-3333-000000000001"
	material := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	for _, tc := range []struct {
		name      string
		args, env []string
	}{
		{"flags", []string{"--root-access-key-id", "test", "--root-secret-access-key", "test", "--account-id", "000000000000", "--allow-custom-key-ids"}, nil},
		{"env", nil, []string{"KMS_ROOT_ACCESS_KEY_ID=test", "KMS_ROOT_SECRET_ACCESS_KEY=test", "KMS_ACCOUNT_ID=000000000000", "KMS_ALLOW_CUSTOM_KEY_IDS=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startKMSArgs(t, append([]string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, tc.args...), tc.env...)
			work := t.TempDir() // no credentials file: the CLI signs with the env's
			cli := newAWSCLI(t, p.URL, work)
			cli.env = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}
			tags := `[{"TagKey":"_custom_id_","TagValue":"` + id + `"},{"TagKey":"_custom_key_material_","TagValue":"` + material + `"},{"TagKey":"env","TagValue":"ci"}]`
			key := cli.run("kms", "create-key", "--tags", tags)["KeyMetadata"].(map[string]any)
			if key["KeyId"] != id || key["Arn"] != "arn:aws:kms:us-east-1:000000000000:key/"+id {
				t.Fatalf("key %v %v", key["KeyId"], key["Arn"])
			}
			if got := cli.run("kms", "list-resource-tags", "--key-id", id)["Tags"].([]any); len(got) != 1 {
				t.Fatalf("tags %v, want only env", got)
			}
			os.WriteFile(filepath.Join(work, "plain.txt"), []byte("hello"), 0o600)
			enc := cli.run("kms", "encrypt", "--key-id", id, "--plaintext", "fileb://plain.txt")
			blob, _ := base64.StdEncoding.DecodeString(enc["CiphertextBlob"].(string))
			os.WriteFile(filepath.Join(work, "blob"), blob, 0o600)
			dec := cli.run("kms", "decrypt", "--ciphertext-blob", "fileb://blob")
			if plain, _ := base64.StdEncoding.DecodeString(dec["Plaintext"].(string)); string(plain) != "hello" {
				t.Fatalf("decrypted %q", plain)
			}
			if who := cli.run("sts", "get-caller-identity"); who["Account"] != "000000000000" {
				t.Fatalf("caller %v", who)
			}
			cli.env = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=wrong"}
			if _, err := cli.try("kms", "list-keys"); err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
				t.Fatalf("a wrong secret: %v", err)
			}
		})
	}
}

// TestPinnedCredentialsCLI: bad pinned credentials end `kms server` before
// it writes anything, and -h never prints a pinned secret.
func TestPinnedCredentialsCLI(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args, env []string
	}{
		{"space in the id flag", []string{"--root-access-key-id", "te st", "--root-secret-access-key", "test"}, nil},
		{"control character in the env secret", nil, []string{"KMS_ROOT_ACCESS_KEY_ID=test", "KMS_ROOT_SECRET_ACCESS_KEY=te\x7fst"}},
		{"id without secret", []string{"--root-access-key-id", "test"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			_, stderr, code := kmsCmd(t, tc.env, append([]string{"server", "--data-dir", dir, "--listen", "127.0.0.1:0"}, tc.args...)...)
			if code != 1 || !strings.Contains(stderr, "KMS_ROOT_") && !strings.Contains(stderr, "pinned") {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("the data dir was made before the refusal (%v)", err)
			}
		})
	}
	stdout, stderr, _ := kmsCmd(t, []string{"KMS_ROOT_SECRET_ACCESS_KEY=Sup3rS3cretPinned"}, "server", "-h")
	if strings.Contains(stdout+stderr, "Sup3rS3cretPinned") {
		t.Fatal("kms server -h prints the pinned secret")
	}
}

// TestLocalStackAccountCreate: `kms account create` takes LocalStack's
// account id too, and its printed profile works.
func TestLocalStackAccountCreate(t *testing.T) {
	dir := t.TempDir()
	env := []string{"KMS_ROOT_ACCESS_KEY_ID=test", "KMS_ROOT_SECRET_ACCESS_KEY=test"}
	p := startKMS(t, dir, env...)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, p.stderr)
	}
	out, stderr, code := kmsCmd(t, nil, "account", "create", "--data-dir", dir, "--account-id", "000000000000")
	if code != 0 || !strings.HasPrefix(out, "[000000000000]\n") {
		t.Fatalf("exit %d: %s%s", code, out, stderr)
	}
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "credentials"), []byte(strings.Replace(out, "[000000000000]", "[default]", 1)), 0o600)
	p = startKMS(t, dir, env...) // the same pinned pair: it starts
	cli := newAWSCLI(t, p.URL, work)
	key := cli.run("kms", "create-key")["KeyMetadata"].(map[string]any)
	if key["AWSAccountId"] != "000000000000" {
		t.Fatalf("key of account %v", key["AWSAccountId"])
	}
}
