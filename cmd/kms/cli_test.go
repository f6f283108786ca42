package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openkms/kms/internal/keys"
)

// awsCLI runs the real AWS CLI against a server the way the README does:
// the server's credentials file and region, and none of the caller's AWS_*
// variables; env adds more (e.g. session credentials, which then replace the
// file's). It returns the decoded JSON output, or the error text.
type awsCLI struct {
	t   *testing.T
	url string
	dir string
	env []string
}

func newAWSCLI(t *testing.T, url, dir string) *awsCLI {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("the AWS CLI (aws) is needed for this test and is not on PATH")
	}
	return &awsCLI{t: t, url: url, dir: dir}
}

func (a *awsCLI) try(args ...string) (map[string]any, error) {
	cmd := exec.Command("aws", append([]string{"--endpoint-url", a.url, "--output", "json"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(a.dir, "credentials"),
		"AWS_CONFIG_FILE="+filepath.Join(a.dir, "no-config"),
		"AWS_DEFAULT_REGION=us-east-1",
	)
	cmd.Env = append(cmd.Env, a.env...)
	cmd.Dir = a.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var v map[string]any
	if len(strings.TrimSpace(string(out))) > 0 {
		if err := json.Unmarshal(out, &v); err != nil {
			return nil, fmt.Errorf("aws %s: %v\n%s", args[0], err, out)
		}
	}
	return v, nil
}

func (a *awsCLI) run(args ...string) map[string]any {
	a.t.Helper()
	v, err := a.try(args...)
	if err != nil {
		a.t.Fatal(err)
	}
	return v
}

// TestAWSCLISmoke drives the real AWS CLI through the quick start: the
// credentials file the server wrote, create-key, an alias, encrypt, decrypt
// and generate-data-key.
func TestAWSCLISmoke(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir)
	cli := newAWSCLI(t, p.URL, dir)
	run := func(args ...string) map[string]any {
		t.Helper()
		return cli.run(append([]string{"kms"}, args...)...)
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
	var named []any // the predefined alias/aws/ names have no key yet
	for _, a := range run("list-aliases")["Aliases"].([]any) {
		if a.(map[string]any)["TargetKeyId"] != nil {
			named = append(named, a)
		}
	}
	if len(named) != 1 || named[0].(map[string]any)["AliasName"] != "alias/demo" {
		t.Fatalf("aliases %v", named)
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

// TestAWSCLIMultiTenant follows the README's walk-through of users, roles
// and policies with the AWS CLI.
func TestAWSCLIMultiTenant(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir)
	root := newAWSCLI(t, p.URL, dir)
	acme := root.run("kms", "create-key", "--description", "customer acme")["KeyMetadata"].(map[string]any)["KeyId"].(string)
	root.run("kms", "create-alias", "--alias-name", "alias/customer-acme", "--target-key-id", acme)
	root.run("iam", "create-user", "--user-name", "deployer")
	ak := root.run("iam", "create-access-key", "--user-name", "deployer")["AccessKey"].(map[string]any)
	root.run("iam", "put-user-policy", "--user-name", "deployer", "--policy-name", "assume-app", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/app"}]}`)
	root.run("iam", "create-role", "--role-name", "app", "--assume-role-policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/deployer"},"Action":"sts:AssumeRole"}]}`)
	root.run("iam", "put-role-policy", "--role-name", "app", "--policy-name", "customer-keys", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
		  "Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/customer-*"},"StringLike":{"kms:EncryptionContext:customer":"*"}}}]}`)

	deployer := &awsCLI{t: t, url: p.URL, dir: dir, env: []string{
		"AWS_ACCESS_KEY_ID=" + ak["AccessKeyId"].(string), "AWS_SECRET_ACCESS_KEY=" + ak["SecretAccessKey"].(string)}}
	creds := deployer.run("sts", "assume-role", "--role-arn", "arn:aws:iam::111122223333:role/app",
		"--role-session-name", "web-1")["Credentials"].(map[string]any)
	app := &awsCLI{t: t, url: p.URL, dir: dir, env: []string{
		"AWS_ACCESS_KEY_ID=" + creds["AccessKeyId"].(string), "AWS_SECRET_ACCESS_KEY=" + creds["SecretAccessKey"].(string),
		"AWS_SESSION_TOKEN=" + creds["SessionToken"].(string)}}
	if arn := app.run("sts", "get-caller-identity")["Arn"]; arn != "arn:aws:sts::111122223333:assumed-role/app/web-1" {
		t.Fatalf("caller identity %v", arn)
	}
	blob := app.run("kms", "generate-data-key", "--key-id", "alias/customer-acme", "--key-spec", "AES_256",
		"--encryption-context", "customer=acme")["CiphertextBlob"].(string)
	raw, _ := base64.StdEncoding.DecodeString(blob)
	os.WriteFile(filepath.Join(dir, "acme.key.enc"), raw, 0o600)
	app.run("kms", "decrypt", "--ciphertext-blob", "fileb://acme.key.enc", "--encryption-context", "customer=acme")
	if _, err := app.try("kms", "encrypt", "--key-id", "alias/customer-acme", "--plaintext", "fileb://acme.key.enc"); err == nil ||
		!strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("encrypt without customer context: %v", err)
	}
	root.run("kms", "disable-key", "--key-id", acme)
	if _, err := app.try("kms", "decrypt", "--ciphertext-blob", "fileb://acme.key.enc", "--encryption-context", "customer=acme"); err == nil ||
		!strings.Contains(err.Error(), "DisabledException") {
		t.Fatalf("decrypt after disable: %v", err)
	}
}

// readmeScript returns the first ```sh block after the README heading.
func readmeScript(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no heading %q", heading)
	}
	_, rest, ok = strings.Cut(rest, "\n```sh\n")
	if !ok {
		t.Fatalf("README.md has no sh block under %q", heading)
	}
	script, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatalf("README.md: unterminated sh block under %q", heading)
	}
	return script
}

// TestREADMEImportScript runs the README's scripted import, as written,
// with the real AWS CLI and openssl (the server's endpoint and credentials
// put in): import with RSAES_OAEP_SHA_256, delete, re-import with
// RSA_AES_KEY_WRAP_SHA_256, decrypt. Then it decrypts the script's
// ciphertext itself with the material openssl made, proving the key used
// exactly those bytes.
func TestREADMEImportScript(t *testing.T) {
	for _, tool := range []string{"openssl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed for this test and is not on PATH", tool)
		}
	}
	if out, err := exec.Command("openssl", "version").CombinedOutput(); err != nil {
		t.Fatalf("openssl version: %v\n%s", err, out)
	}
	script := readmeScript(t, "## Bring your own key material")
	if !strings.Contains(script, "http://127.0.0.1:7900") {
		t.Fatal("the README script does not name the quick-start endpoint")
	}
	r := runScript(t, "README import script", script)
	work, stdout, stderr := r.work, &r.stdout, &r.stderr
	p, dir := r.p, r.dir
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) < 2 || lines[len(lines)-1] != "hello" || !slices.Contains(lines, "PendingImport") {
		t.Fatalf("README import script printed:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}

	material, err := os.ReadFile(filepath.Join(work, "PlaintextKeyMaterial.bin"))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.ReadFile(filepath.Join(work, "secret.enc"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.SymmetricKeyFromBytes(material)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := keys.Decrypt(k, blob, nil); err != nil || string(pt) != "hello\n" {
		t.Fatalf("secret.enc under the imported material: %q, %v", pt, err)
	}
	cli := newAWSCLI(t, p.URL, dir)
	keyID := cli.run("kms", "list-keys")["Keys"].([]any)[0].(map[string]any)["KeyId"].(string)
	meta := cli.run("kms", "describe-key", "--key-id", keyID)["KeyMetadata"].(map[string]any)
	if meta["Origin"] != "EXTERNAL" || meta["KeyState"] != "Enabled" || meta["ExpirationModel"] != "KEY_MATERIAL_DOES_NOT_EXPIRE" {
		t.Fatalf("key after the script: %v", meta)
	}
}

// scriptRun is a README script run by runScript.
type scriptRun struct {
	p              *proc
	dir, work      string // the server's data dir; where the script ran
	stdout, stderr strings.Builder
}

// runScript runs a README script (bash, with -euo pipefail) with the AWS
// CLI against a fresh server, whose endpoint replaces the quick start's,
// in an empty directory. It fails the test if there is no AWS CLI or the
// script fails; what names the script in the failure.
func runScript(t *testing.T, what, script string) *scriptRun {
	t.Helper()
	r := &scriptRun{dir: t.TempDir(), work: t.TempDir()}
	r.p = startKMS(t, r.dir)
	newAWSCLI(t, r.p.URL, r.dir)
	cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+strings.ReplaceAll(script, "http://127.0.0.1:7900", r.p.URL))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(r.dir, "credentials"),
		"AWS_CONFIG_FILE="+filepath.Join(r.dir, "no-config"),
		"AWS_DEFAULT_REGION=us-east-1",
	)
	cmd.Dir = r.work
	cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", what, err, r.stdout.String(), r.stderr.String())
	}
	return r
}

// read returns a file the script wrote.
func (r *scriptRun) read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.work, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
