package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAWSCLISmoke drives the real AWS CLI through the quick start: the
// credentials file the server wrote, create-key, an alias, encrypt, decrypt
// and generate-data-key.
func TestAWSCLISmoke(t *testing.T) {
	awsPath, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("the AWS CLI (aws) is needed for this test and is not on PATH")
	}
	dir := t.TempDir()
	p := startKMS(t, dir)
	run := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(awsPath, append([]string{"--endpoint-url", p.URL, "--output", "json", "kms"}, args...)...)
		// Only the quick start's settings: no AWS_* variable of the caller.
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env,
			"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
			"AWS_CONFIG_FILE="+filepath.Join(dir, "no-config"),
			"AWS_DEFAULT_REGION=us-east-1",
		)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws kms %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var v map[string]any
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws kms %s: %v\n%s", args[0], err, out)
			}
		}
		return v
	}
	key := run("create-key", "--description", "demo")["KeyMetadata"].(map[string]any)
	keyID := key["KeyId"].(string)
	run("create-alias", "--alias-name", "alias/demo", "--target-key-id", keyID)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("hello from the CLI\n"), 0o600)
	enc := run("encrypt", "--key-id", "alias/demo", "--plaintext", "fileb://secret.txt")
	if enc["KeyId"] != key["Arn"] {
		t.Fatalf("encrypt used %v", enc["KeyId"])
	}
	blob, _ := base64.StdEncoding.DecodeString(enc["CiphertextBlob"].(string))
	os.WriteFile(filepath.Join(dir, "secret.enc"), blob, 0o600)
	dec := run("decrypt", "--ciphertext-blob", "fileb://secret.enc")
	plain, _ := base64.StdEncoding.DecodeString(dec["Plaintext"].(string))
	if string(plain) != "hello from the CLI\n" {
		t.Fatalf("decrypted %q", plain)
	}
	dk := run("generate-data-key", "--key-id", "alias/demo", "--key-spec", "AES_256")
	if b, _ := base64.StdEncoding.DecodeString(dk["Plaintext"].(string)); len(b) != 32 {
		t.Fatalf("data key of %d bytes", len(b))
	}
	aliases := run("list-aliases")["Aliases"].([]any)
	if len(aliases) != 1 || aliases[0].(map[string]any)["AliasName"] != "alias/demo" {
		t.Fatalf("aliases %v", aliases)
	}
	run("schedule-key-deletion", "--key-id", keyID, "--pending-window-in-days", "7")
}

// TestBoto3Smoke runs the same round trip through boto3, the Python SDK.
func TestBoto3Smoke(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 with boto3 is needed for this test and is not on PATH")
	}
	p := startKMS(t, t.TempDir(), pinned...)
	script := `
import sys, boto3
kms = boto3.client("kms", endpoint_url=sys.argv[1], region_name="eu-central-1",
                   aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
key = kms.create_key(Description="boto3")["KeyMetadata"]
assert key["Arn"].startswith("arn:aws:kms:eu-central-1:"), key["Arn"]
ctx = {"app": "boto3"}
blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"from python", EncryptionContext=ctx)["CiphertextBlob"]
out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
assert out["Plaintext"] == b"from python" and out["KeyId"] == key["Arn"], out
dk = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64)
assert len(dk["Plaintext"]) == 64
try:
    kms.decrypt(CiphertextBlob=blob)
    raise SystemExit("decrypt without context succeeded")
except kms.exceptions.InvalidCiphertextException:
    pass
print("ok")
`
	out, err := exec.Command(python, "-c", script, p.URL, testAccessKeyID, testSecret).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
}
