package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/loadgen"
)

func TestBenchArgumentErrors(t *testing.T) {
	// Every case stops before the AWS config is loaded; should one not,
	// it finds these credentials and looks nowhere else.
	setBenchEnv(t)
	ep := []string{"--endpoint", "http://127.0.0.1:1"}
	emptyFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(emptyFile, []byte("# no keys\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no endpoint", []string{"--key-id", "k"}, "--endpoint is required"},
		{"endpoint without scheme", []string{"--endpoint", "127.0.0.1:7900", "--key-id", "k"}, "http:// or https://"},
		{"unknown op", append(ep, "--op", "reencrypt", "--key-id", "k"), `unknown --op "reencrypt"`},
		{"no clients", append(ep, "--concurrency", "0", "--key-id", "k"), "--concurrency must be 1 to"},
		{"duration and requests", append(ep, "--duration", "5s", "--requests", "10", "--key-id", "k"), "not both"},
		{"zero requests", append(ep, "--requests", "0", "--key-id", "k"), "--requests must be at least 1"},
		{"zero duration", append(ep, "--duration", "0s", "--key-id", "k"), "give --duration or --requests"},
		{"size too big", append(ep, "--size", "4097", "--key-id", "k"), "--size must be 1 to 4096"},
		{"size for data keys", append(ep, "--op", "generate-data-key", "--size", "32", "--key-id", "k"), "does not apply"},
		{"no keys", ep, "--key-id, or give --create-keys"},
		{"create and name", append(ep, "--create-keys", "--key-id", "k"), "not both"},
		{"key count mismatch", append(ep, "--keys", "3", "--key-id", "a,b"), "--keys 3, but --key-id names 2"},
		{"no such server", append(ep, "--key-id", "k", "--server-pid", "2147483647"), "--server-pid 2147483647"},
		{"stray argument", append(ep, "--key-id", "k", "extra"), `unexpected argument "extra"`},
		{"key file and ids", append(ep, "--key-id", "k", "--key-file", emptyFile), "--key-id or --key-file, not both"},
		{"missing key file", append(ep, "--key-file", filepath.Join(t.TempDir(), "none")), "--key-file: open"},
		{"empty key file", append(ep, "--key-file", emptyFile), "names no keys"},
		{"no rounds", append(ep, "--key-id", "k", "--rounds", "0"), "--rounds must be 1 to 100"},
		{"save without create", append(ep, "--key-id", "k", "--save-keys", emptyFile), "--save-keys needs --create-keys"},
		{"unknown flag", append(ep, "--nope"), "flag provided but not defined"},
		{"floor stray argument", []string{"floor", "extra"}, `unexpected argument "extra"`},
		{"zero rate", append(ep, "--key-id", "k", "--rate", "0"), "--rate must be more than 0 requests a second, not 0"},
		{"negative rate", append(ep, "--key-id", "k", "--rate", "-10"), "--rate must be more than 0 requests a second, not -10"},
		{"NaN rate", append(ep, "--key-id", "k", "--rate", "NaN"), "--rate must be more than 0"},
		{"rate not a number", append(ep, "--key-id", "k", "--rate", "fast"), `invalid value "fast" for flag -rate`},
		{"rate too high", append(ep, "--key-id", "k", "--rate", "2e6"), "at most 1000000 requests a second"},
		{"infinite rate", append(ep, "--key-id", "k", "--rate", "Inf"), "at most 1000000 requests a second"},
		{"rate too slow for the window", append(ep, "--key-id", "k", "--rate", "0.5", "--duration", "1s", "--warmup", "1s"), "schedules no request"},
		{"key spec for encrypt", append(ep, "--key-id", "k", "--key-spec", "RSA_2048"), "--key-spec does not apply to encrypt"},
		{"mac key spec for sign", append(ep, "--key-id", "k", "--op", "sign", "--key-spec", "HMAC_256"), "--key-spec HMAC_256 does not fit sign"},
		{"sign key spec for mac", append(ep, "--key-id", "k", "--op", "generate-mac", "--key-spec", "ED25519"), "does not fit generate-mac"},
		{"unknown key spec", append(ep, "--key-id", "k", "--op", "verify", "--key-spec", "RSA_1024"), "--key-spec RSA_1024 does not fit verify (one of ECC_NIST_P256"},
		{"empty key spec", append(ep, "--key-id", "k", "--op", "sign", "--key-spec", ""), "--key-spec must name a key spec"},
		{"floor unknown key spec", []string{"floor", "--key-spec", "AES"}, `unknown --key-spec "AES"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"bench"}, tt.args...), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) || stdout.Len() > 0 {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "taskset -c 0 kms server") {
		t.Errorf("kms bench -h: exit %d\n%s", code, stderr.String())
	}
}

// benchEnv makes the AWS SDK find static credentials in the environment
// and nothing else; above all it never asks the EC2 metadata endpoint.
func benchEnv(dir, accessKey, secret string) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_REGION=" + testRegion,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_SESSION_TOKEN=",
	}
}

func setBenchEnv(t *testing.T) { setBenchEnvCreds(t, "AKIDEXAMPLE", "secret") }

func setBenchEnvCreds(t *testing.T, accessKey, secret string) {
	for _, kv := range benchEnv(t.TempDir(), accessKey, secret) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// TestBenchJSONAgainstFloor runs `kms bench --json` in this process against
// the floor server and checks the wiring of the flags into the output.
func TestBenchJSONAgainstFloor(t *testing.T) {
	setBenchEnv(t)
	srv := httptest.NewServer(loadgen.FloorHandler(""))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--endpoint", srv.URL, "--op", "mixed", "--key-id", "k1, k2", "--requests", "30",
		"--concurrency", "3", "--size", "100", "--warmup", "0", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr not a terminal, yet: %q", stderr.String())
	}
	var r loadgen.Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if r.Requests != 30 || r.ErrorCount != 0 || r.Keys != 2 || r.Size != 100 || r.Concurrency != 3 || r.Op != "mixed" || r.Endpoint != srv.URL {
		t.Errorf("result %+v", r)
	}

	// Rounds: the median round, with every round's figures.
	stdout.Reset()
	code = run([]string{"bench", "--endpoint", srv.URL, "--key-id", "k", "--requests", "10", "--warmup", "0", "--rounds", "3", "--json"}, &stdout, &stderr)
	r = loadgen.Result{}
	if err := json.Unmarshal(stdout.Bytes(), &r); code != 0 || err != nil || len(r.Rounds) != 3 || r.Requests != 10 {
		t.Errorf("--rounds 3: exit %d, %v, rounds %+v", code, err, r.Rounds)
	}

	// The table, the default.
	stdout.Reset()
	code = run([]string{"bench", "--endpoint", srv.URL, "--key-id", "k", "--requests", "5", "--warmup", "0"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "Encrypt") || !strings.Contains(stdout.String(), "p99.9 ms") {
		t.Errorf("exit %d, table:\n%s", code, stdout.String())
	}

	// The open loop, with the key spec of a sign load.
	stdout.Reset()
	code = run([]string{"bench", "--endpoint", srv.URL, "--op", "sign", "--key-spec", "ed25519", "--key-id", "k", "--rate", "400",
		"--requests", "40", "--warmup", "20ms", "--concurrency", "2", "--rounds", "2", "--json"}, &stdout, &stderr)
	r = loadgen.Result{}
	if err := json.Unmarshal(stdout.Bytes(), &r); code != 0 || err != nil || r.OpenLoop == nil {
		t.Fatalf("--rate: exit %d, %v\n%s%s", code, err, stdout.String(), stderr.String())
	}
	if o := r.OpenLoop; o.TargetRate != 400 || o.Scheduled != 40 || r.Requests != 40-o.Unsent || r.KeySpec != "ECC_NIST_EDWARDS25519" ||
		len(r.Rounds) != 2 || r.Rounds[1].Late == nil || r.Operations["Sign"] == nil {
		t.Errorf("--rate: %+v, %+v", o, r)
	}
}

// TestBenchNoCredentials: without credentials the setup fails, before any
// request.
func TestBenchNoCredentials(t *testing.T) {
	setBenchEnvCreds(t, "", "")
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--endpoint", "http://127.0.0.1:1", "--key-id", "k", "--requests", "1"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "no AWS credentials") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// TestBenchEndToEnd runs the kms binary's bench against the real server,
// with a calibration run against the floor server it starts, and checks
// that the keys it created are scheduled for deletion afterwards.
func TestBenchEndToEnd(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	pid := p.cmd.Process.Pid
	cmd := exec.Command(kmsBinary, "bench", "--endpoint", p.URL, "--op", "encrypt-decrypt", "--requests", "200",
		"--concurrency", "4", "--create-keys", "--keys", "3", "--warmup", "100ms", "--json",
		"--server-pid", strconv.Itoa(pid), "--calibrate")
	cmd.Env = append(os.Environ(), benchEnv(dir, testAccessKeyID, testSecret)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kms bench: %v\n%s", err, stderr.String())
	}
	var r loadgen.Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	for _, run := range []*loadgen.Result{&r, r.Floor} {
		if run == nil {
			t.Fatal("no floor run")
		}
		if run.Requests != 200 || run.ErrorCount != 0 || run.Keys != 3 || run.ServerCPU == nil || run.ClientCPU == nil {
			t.Errorf("%s: requests %d, errors %v (%v), keys %d, CPU %v %v", run.Target, run.Requests, run.Errors,
				run.ErrorMessages, run.Keys, run.ServerCPU, run.ClientCPU)
		}
		if run.Operations["Encrypt"] == nil || run.Operations["Decrypt"] == nil {
			t.Errorf("%s: operations %v", run.Target, run.Operations)
		}
	}
	if r.ServerPID != pid || r.Floor.ServerPID == pid || r.ServerCPURatio == nil {
		t.Errorf("server pid %d, floor pid %d, ratio %v", r.ServerPID, r.Floor.ServerPID, r.ServerCPURatio)
	}

	ctx := context.Background()
	keys, err := p.client().ListKeys(ctx, &awskms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Keys) != 3 {
		t.Fatalf("%d keys, want the 3 created", len(keys.Keys))
	}
	for _, k := range keys.Keys {
		d, err := p.client().DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k.KeyId})
		if err != nil || d.KeyMetadata.KeyState != types.KeyStatePendingDeletion {
			t.Errorf("key %s after the run: %v %v", aws.ToString(k.KeyId), d.KeyMetadata.KeyState, err)
		}
	}
}

// TestBenchSavedKeys: --save-keys keeps the keys it creates and lists them
// in a file, which --key-file then uses (the key-per-tenant setup).
func TestBenchSavedKeys(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	file := filepath.Join(dir, "keys.txt")
	bench := func(args ...string) loadgen.Result {
		t.Helper()
		cmd := exec.Command(kmsBinary, append([]string{"bench", "--endpoint", p.URL, "--requests", "20",
			"--concurrency", "2", "--warmup", "0", "--json"}, args...)...)
		cmd.Env = append(os.Environ(), benchEnv(dir, testAccessKeyID, testSecret)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kms bench %v: %v\n%s", args, err, stderr.String())
		}
		var r loadgen.Result
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("%v\n%s", err, stdout.String())
		}
		if r.Requests != 20 || r.ErrorCount != 0 {
			t.Errorf("kms bench %v: %d requests, errors %v", args, r.Requests, r.ErrorMessages)
		}
		return r
	}
	bench("--create-keys", "--keys", "3", "--save-keys", file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(string(b))
	if len(ids) != 3 {
		t.Fatalf("saved keys %q, want 3", ids)
	}
	for _, id := range ids {
		d, err := p.client().DescribeKey(context.Background(), &awskms.DescribeKeyInput{KeyId: aws.String(id)})
		if err != nil || d.KeyMetadata.KeyState != types.KeyStateEnabled {
			t.Errorf("saved key %s after the run: %v %v", id, d.KeyMetadata.KeyState, err)
		}
	}
	if r := bench("--key-file", file); r.Keys != 3 {
		t.Errorf("--key-file run used %d keys, want 3", r.Keys)
	}
}

// TestBenchOpenLoopEndToEnd runs the kms binary's bench in the open loop
// against the real server, with a calibration run against the floor on
// the very same schedule, with a table and with JSON.
func TestBenchOpenLoopEndToEnd(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	pid := p.cmd.Process.Pid
	bench := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(kmsBinary, append([]string{"bench", "--endpoint", p.URL, "--rate", "200", "--requests", "100",
			"--concurrency", "4", "--create-keys", "--keys", "2", "--warmup", "100ms", "--server-pid", strconv.Itoa(pid), "--calibrate"}, args...)...)
		cmd.Env = append(os.Environ(), benchEnv(dir, testAccessKeyID, testSecret)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kms bench %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}

	var r loadgen.Result
	out := bench("--op", "encrypt-decrypt", "--json")
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, run := range []*loadgen.Result{&r, r.Floor} {
		if run == nil || run.OpenLoop == nil {
			t.Fatalf("no floor run or no open-loop figures:\n%s", out)
		}
		o := run.OpenLoop
		// An iteration of encrypt-decrypt is two requests.
		if o.TargetRate != 200 || o.Scheduled != 100 || run.Requests != 2*(100-o.Unsent) || run.ErrorCount != 0 ||
			run.ServerCPU == nil || run.Operations["Decrypt"] == nil || o.Late > 100-o.Unsent {
			t.Errorf("%s: %+v; requests %d, errors %v, CPU %v", run.Target, o, run.Requests, run.ErrorMessages, run.ServerCPU)
		}
	}
	if r.ServerCPURatio == nil || r.Floor.ServerPID == pid {
		t.Errorf("ratio %v, floor pid %d", r.ServerCPURatio, r.Floor.ServerPID)
	}

	table := string(bench("--op", "sign", "--key-spec", "RSA_2048"))
	t.Logf("kms bench --rate --calibrate:\n%s", table)
	for _, want := range []string{"open loop at 200/s, at most 4 in flight", "2 RSA_2048 keys", "target/s", "achieved/s", "late",
		"unsent", "floor ", "server ", "Sign", "× the floor's", "latency counts from when a request was due if it waited for a worker"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}

// TestBenchKeySpecsEndToEnd drives the real server with keys of several
// specs, created by the bench and kept, and checks they are of that spec.
func TestBenchKeySpecsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	setBenchEnvCreds(t, testAccessKeyID, testSecret)
	tests := []struct {
		op, spec string
		want     types.KeySpec
		api      string
	}{
		{"sign", "ED25519", types.KeySpecEccNistEdwards25519, "Sign"},
		{"verify", "ED25519", types.KeySpecEccNistEdwards25519, "Verify"},
		{"sign", "RSA_2048", types.KeySpecRsa2048, "Sign"},
		{"verify", "RSA_2048", types.KeySpecRsa2048, "Verify"},
		{"sign", "ECC_SECG_P256K1", types.KeySpecEccSecgP256k1, "Sign"},
		{"generate-mac", "HMAC_512", types.KeySpecHmac512, "GenerateMac"},
	}
	for i, tt := range tests {
		t.Run(tt.op+"/"+tt.spec, func(t *testing.T) {
			file := filepath.Join(dir, "keys"+strconv.Itoa(i))
			var stdout, stderr bytes.Buffer
			// The open loop for some, the closed for the others.
			args := []string{"bench", "--endpoint", p.URL, "--op", tt.op, "--key-spec", tt.spec, "--create-keys", "--save-keys", file,
				"--requests", "10", "--concurrency", "2", "--warmup", "0", "--json"}
			if i%2 == 0 {
				args = append(args, "--rate", "100")
			}
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr.String())
			}
			var r loadgen.Result
			if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
				t.Fatalf("%v\n%s", err, stdout.String())
			}
			want := int64(10)
			if r.OpenLoop != nil {
				want -= r.OpenLoop.Unsent
			}
			if r.Requests != want || r.ErrorCount != 0 || r.KeySpec != string(tt.want) || r.Operations[tt.api] == nil {
				t.Fatalf("requests %d, errors %v, key spec %q, operations %v", r.Requests, r.ErrorMessages, r.KeySpec, r.Operations)
			}
			ids, err := readKeyFile(file)
			if err != nil || len(ids) != 1 {
				t.Fatalf("saved keys %v, %v", ids, err)
			}
			d, err := p.client().DescribeKey(context.Background(), &awskms.DescribeKeyInput{KeyId: aws.String(ids[0])})
			if err != nil || d.KeyMetadata.KeySpec != tt.want {
				t.Fatalf("the key created: %v, %v", d.KeyMetadata.KeySpec, err)
			}
		})
	}
}

// TestBenchFloorKeySpec: `kms bench floor --key-spec`, as --calibrate
// starts it, sizes Sign's RSA signatures by the key spec.
func TestBenchFloorKeySpec(t *testing.T) {
	for _, tt := range []struct {
		spec string
		want int
	}{{"", 256}, {"RSA_4096", 512}, {"rsa_3072", 384}} {
		args := []string{"bench", "floor", "--listen", "127.0.0.1:0"}
		if tt.spec != "" {
			args = append(args, "--key-spec", tt.spec)
		}
		cmd := exec.Command(kmsBinary, args...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		_, u, ok := strings.Cut(strings.TrimSpace(line), " listening on ")
		if err != nil || !ok {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kms bench floor: %q, %v", line, err)
		}
		c := loadgen.NewClient(aws.Config{Region: testRegion, Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}, u)
		sig, err := c.Sign(context.Background(), &awskms.SignInput{KeyId: aws.String("k"), Message: []byte("m"),
			MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
		cmd.Process.Kill()
		cmd.Wait()
		if err != nil || len(sig.Signature) != tt.want {
			t.Errorf("--key-spec %q: Sign %v, want a %d-byte signature", tt.spec, err, tt.want)
		}
	}
}
