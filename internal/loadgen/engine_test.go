package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func testClient(url string) *kms.Client {
	return NewClient(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	}, url)
}

func target(url string) Target {
	return Target{Name: "test", Endpoint: url, Client: testClient(url)}
}

func TestValidate(t *testing.T) {
	ok := Config{Op: OpEncrypt, Concurrency: 4, Duration: time.Second, KeyIDs: []string{"k"}}
	checkValidate(t, ok, []validateCase{
		{"valid", func(c *Config) {}, ""},
		{"valid create", func(c *Config) { c.KeyIDs, c.CreateKeys, c.Keys = nil, true, 10 }, ""},
		{"valid requests", func(c *Config) { c.Duration, c.Requests = 0, 5 }, ""},
		{"valid max size", func(c *Config) { c.Size = MaxSize }, ""},
		{"valid key count", func(c *Config) { c.Keys = 1 }, ""},
		{"unknown op", func(c *Config) { c.Op = "reencrypt" }, "unknown --op"},
		{"no concurrency", func(c *Config) { c.Concurrency = 0 }, "--concurrency must be"},
		{"huge concurrency", func(c *Config) { c.Concurrency = MaxConcurrency + 1 }, "--concurrency must be"},
		{"both", func(c *Config) { c.Requests = 5 }, "not both"},
		{"neither", func(c *Config) { c.Duration = 0 }, "give --duration or --requests"},
		{"negative duration", func(c *Config) { c.Duration = -1 }, "must be positive"},
		{"negative warmup", func(c *Config) { c.Warmup = -1 }, "--warmup"},
		{"size too big", func(c *Config) { c.Size = MaxSize + 1 }, "--size must be 1 to 4096"},
		{"size negative", func(c *Config) { c.Size = -1 }, "--size must be"},
		{"size with data keys", func(c *Config) { c.Op, c.Size = OpGenerateDataKey, 32 }, "does not apply"},
		{"no keys", func(c *Config) { c.KeyIDs = nil }, "--key-id, or give --create-keys"},
		{"create and name", func(c *Config) { c.CreateKeys, c.Keys = true, 1 }, "not both"},
		{"create none", func(c *Config) { c.KeyIDs, c.CreateKeys = nil, true }, "--keys must be"},
		{"count mismatch", func(c *Config) { c.Keys = 2 }, "--keys 2, but --key-id names 1"},
		{"empty id", func(c *Config) { c.KeyIDs = []string{"a", ""} }, "empty key id"},
	})
}

// TestFloorAnswersTheSDK: every operation a load uses, and key setup, round
// trip through aws-sdk-go-v2 against the floor server.
func TestFloorAnswersTheSDK(t *testing.T) {
	srv := httptest.NewServer(FloorHandler(""))
	defer srv.Close()
	c := testClient(srv.URL)
	ctx := context.Background()
	key := aws.String("alias/any")

	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil || aws.ToString(k.KeyMetadata.KeyId) != floorKeyID || k.KeyMetadata.KeyState != types.KeyStateEnabled {
		t.Fatalf("CreateKey: %+v %v", k, err)
	}
	plain := bytes.Repeat([]byte("plaintext "), 400)
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key, Plaintext: plain})
	if err != nil || len(enc.CiphertextBlob) != len(plain) || aws.ToString(enc.KeyId) != floorARN {
		t.Fatalf("Encrypt: %v", err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || !bytes.Equal(dec.Plaintext, plain) {
		t.Fatalf("Decrypt: %v", err)
	}
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key, KeySpec: types.DataKeySpecAes256})
	if err != nil || len(dk.Plaintext) != 32 || len(dk.CiphertextBlob) <= 32 {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	sig, err := c.Sign(ctx, &kms.SignInput{KeyId: key, Message: plain, MessageType: types.MessageTypeRaw,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil || len(sig.Signature) == 0 {
		t.Fatalf("Sign: %v", err)
	}
	ver, err := c.Verify(ctx, &kms.VerifyInput{KeyId: key, Message: plain, Signature: sig.Signature,
		MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil || !ver.SignatureValid {
		t.Fatalf("Verify: %v", err)
	}
	mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: key, Message: plain, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil || len(mac.Mac) != 32 {
		t.Fatalf("GenerateMac: %v", err)
	}
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	if _, err := c.ListAliases(ctx, &kms.ListAliasesInput{}); err != nil {
		t.Fatalf("an operation the floor does not know: %v", err)
	}
}

func TestStringField(t *testing.T) {
	tests := []struct {
		body, name, want string
		ok               bool
	}{
		{`{"KeyId":"k","Plaintext":"aGk="}`, "Plaintext", "aGk=", true},
		{`{ "Plaintext" : "aGk=" }`, "Plaintext", "aGk=", true},
		{`{"Plaintext":""}`, "Plaintext", "", true},
		{`{"CiphertextBlob":"YQ=="}`, "Plaintext", "", false},
		{`{"Plaintext":5}`, "Plaintext", "", false},
		{`{"Plaintext":"aGk=`, "Plaintext", "", false},
		{`{"Plaintext"`, "Plaintext", "", false},
	}
	for _, tt := range tests {
		got, ok := stringField([]byte(tt.body), tt.name)
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("stringField(%s, %s) = %q, %v", tt.body, tt.name, got, ok)
		}
	}
}

// failing answers the Encrypt requests in turn with a throttling error, an
// internal error, a dropped connection and two successes.
func failing(t *testing.T) *httptest.Server {
	floor := FloorHandler("")
	var n atomic.Int64
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "TrentService.Encrypt" {
			floor.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch n.Add(1) % 5 {
		case 1:
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"ThrottlingException","message":"slow down"}`)
		case 2:
			w.WriteHeader(500)
			io.WriteString(w, `{"__type":"KMSInternalException","message":"broken"}`)
		case 3:
			io.Copy(io.Discard, r.Body)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
		default:
			floor.ServeHTTP(w, r)
		}
	}))
}

func TestErrorsCountedByCode(t *testing.T) {
	srv := failing(t)
	defer srv.Close()
	cfg := Config{Op: OpEncrypt, Concurrency: 3, Requests: 50, KeyIDs: []string{"k1", "k2"}, Size: 100}
	b, err := New(context.Background(), cfg, testClient(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Run(context.Background(), target(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"ThrottlingException": 10, "KMSInternalException": 10, "transport": 10}
	if r.Requests != 50 || r.ErrorCount != 30 || len(r.Errors) != len(want) {
		t.Fatalf("requests %d, errors %d %v; want 50, 30 %v", r.Requests, r.ErrorCount, r.Errors, want)
	}
	for code, n := range want {
		if r.Errors[code] != n {
			t.Errorf("%s: %d, want %d", code, r.Errors[code], n)
		}
	}
	if r.ErrorMessages["ThrottlingException"] != "slow down" || r.ErrorMessages["transport"] == "" {
		t.Errorf("error messages %q", r.ErrorMessages)
	}
	if o := r.Operations["Encrypt"]; o == nil || o.Requests != 50 || o.ErrorCount != 30 || o.Errors["transport"] != 10 {
		t.Errorf("Encrypt breakdown %+v", o)
	}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ThrottlingException", "slow down", "transport", "KMSInternalException"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("the table does not show %q:\n%s", s, table.String())
		}
	}
}

// TestSetupFailure: an error while making the keys fails New.
func TestSetupFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		io.WriteString(w, `{"__type":"AccessDeniedException","message":"no"}`)
	}))
	defer srv.Close()
	for _, cfg := range []Config{
		{Op: OpEncrypt, Concurrency: 2, Requests: 1, CreateKeys: true, Keys: 3},
		{Op: OpDecrypt, Concurrency: 2, Requests: 1, KeyIDs: []string{"k"}},
		{Op: OpVerify, Concurrency: 2, Requests: 1, KeyIDs: []string{"k"}},
	} {
		if _, err := New(context.Background(), cfg, testClient(srv.URL)); err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
			t.Errorf("%s: New returned %v", cfg.Op, err)
		}
	}
}

// TestEveryOp runs each op against the floor server, with keys created and
// their deletion scheduled at Close.
func TestEveryOp(t *testing.T) {
	floor := FloorHandler("")
	var created, deleted atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Amz-Target") {
		case "TrentService.CreateKey":
			created.Add(1)
		case "TrentService.ScheduleKeyDeletion":
			deleted.Add(1)
		}
		floor.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, op := range Ops {
		t.Run(string(op), func(t *testing.T) {
			created.Store(0)
			deleted.Store(0)
			cfg := Config{Op: op, Concurrency: 2, Requests: 21, CreateKeys: true, Keys: 3, Warmup: time.Millisecond}
			b, err := New(ctx, cfg, testClient(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			r, err := b.Run(ctx, target(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if r.Requests != 21 || r.ErrorCount != 0 || r.Keys != 3 {
				t.Fatalf("requests %d, errors %v, keys %d", r.Requests, r.Errors, r.Keys)
			}
			var sum int64
			for _, o := range r.Operations {
				sum += o.Requests
			}
			if sum != r.Requests {
				t.Errorf("operations add up to %d of %d requests", sum, r.Requests)
			}
			if op == OpEncryptDecrypt && r.Operations["Encrypt"].Requests != 11 {
				t.Errorf("encrypt-decrypt: %d Encrypt of 21", r.Operations["Encrypt"].Requests)
			}
			if created.Load() != 3 || deleted.Load() != 3 {
				t.Errorf("%d keys created, %d deleted; want 3, 3", created.Load(), deleted.Load())
			}
		})
	}
}

// TestJSON checks the field names and types of the JSON output, with a
// calibration run attached.
func TestJSON(t *testing.T) {
	srv := httptest.NewServer(FloorHandler(""))
	defer srv.Close()
	ctx := context.Background()
	b, err := New(ctx, Config{Op: OpMixed, Concurrency: 2, Requests: 40, KeyIDs: []string{"a", "b"}}, testClient(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	// The floor is in this process, so this process's CPU is the server's.
	tg := target(srv.URL)
	tg.ServerPID = os.Getpid()
	floor, err := b.Run(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Run(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	r.SetFloor(floor)
	var out bytes.Buffer
	if err := r.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	checkResultJSON(t, m)
	checkResultJSON(t, m["floor"].(map[string]any))
	for _, k := range []string{"server_cpu_ratio", "ops_per_s_ratio"} {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	if m["op"] != "mixed" || m["size"] != 4096.0 || m["keys"] != 2.0 || m["requests"] != 40.0 || m["concurrency"] != 2.0 {
		t.Errorf("header fields: %s", out.String())
	}

	// Without a server pid, its CPU is null, and there is no floor.
	r, err = b.Run(ctx, target(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	r.WriteJSON(&out)
	m = nil
	json.Unmarshal(out.Bytes(), &m)
	if v, ok := m["server_cpu_us_per_request"]; !ok || v != nil {
		t.Errorf("server_cpu_us_per_request = %v, %v; want null", v, ok)
	}
	for _, k := range []string{"floor", "server_cpu_ratio", "ops_per_s_ratio"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present without a floor run", k)
		}
	}
}

func checkResultJSON(t *testing.T, m map[string]any) {
	t.Helper()
	numbers := []string{"size", "concurrency", "keys", "warmup_s", "duration_s", "requests", "error_count", "ops_per_s",
		"server_cpu_us_per_request", "client_cpu_us_per_request"}
	for _, k := range numbers {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("%s = %#v, want a number", k, m[k])
		}
	}
	for _, k := range []string{"target", "endpoint", "op"} {
		if _, ok := m[k].(string); !ok {
			t.Errorf("%s = %#v, want a string", k, m[k])
		}
	}
	if errs, ok := m["errors"].(map[string]any); !ok || len(errs) != 0 {
		t.Errorf("errors = %#v, want {}; %v", m["errors"], m["error_messages"])
	}
	if m["interrupted"] != false {
		t.Errorf("interrupted = %v", m["interrupted"])
	}
	lat, _ := m["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "p99.9", "max", "mean"} {
		if v, ok := lat[k].(float64); !ok || v <= 0 {
			t.Errorf("latency_ms.%s = %#v", k, lat[k])
		}
	}
	ops, _ := m["operations"].(map[string]any)
	for _, name := range []string{"Encrypt", "Decrypt", "GenerateDataKey"} {
		o, _ := ops[name].(map[string]any)
		if _, ok := o["requests"].(float64); !ok {
			t.Errorf("operations.%s = %#v", name, ops[name])
		}
		if _, ok := o["latency_ms"].(map[string]any)["p99.9"]; !ok {
			t.Errorf("operations.%s has no latency", name)
		}
	}
}

// TestInterrupted: a run whose context ends during the window stops, lets
// its requests finish without counting them as errors, and says so.
func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	floor := FloorHandler("")
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 10 {
			cancel()
		}
		floor.ServeHTTP(w, r)
	}))
	defer srv.Close()
	b, err := New(ctx, Config{Op: OpGenerateDataKey, Concurrency: 4, Duration: time.Hour, KeyIDs: []string{"k"}}, testClient(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Run(ctx, target(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || r.Requests < 10 || r.ErrorCount != 0 {
		t.Fatalf("interrupted %v, requests %d, errors %v", r.Interrupted, r.Requests, r.Errors)
	}
	if _, err := b.Run(ctx, target(srv.URL)); err == nil {
		t.Fatal("Run with an ended context returned no error")
	}
}

func TestProcessCPU(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Skipf("no process CPU clock here: %v", err)
	}
	for i := 0; ; i++ {
		after, err := processCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			break
		}
		if i > 1e9 {
			t.Fatal("CPU time never grew")
		}
	}
	for _, pid := range []int{0, -1, 1<<31 - 1, 1 << 40} {
		if err := CheckPID(pid); err == nil {
			t.Errorf("CheckPID(%d) = nil", pid)
		}
	}
}

// TestClientHidesWriteTo: request bodies reach the transport without
// WriteTo (see readOnlyBody), and still whole.
func TestClientHidesWriteTo(t *testing.T) {
	var got []byte
	var hadWriteTo bool
	inner := doFunc(func(r *http.Request) (*http.Response, error) {
		_, hadWriteTo = r.Body.(io.WriterTo)
		got, _ = io.ReadAll(r.Body)
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(
			`{"CiphertextBlob":"aGk=","KeyId":"k"}`))}, nil
	})
	c := NewClient(aws.Config{Region: "us-east-1", HTTPClient: inner,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}, "http://127.0.0.1:1")
	if _, err := c.Encrypt(context.Background(), &kms.EncryptInput{KeyId: aws.String("k"), Plaintext: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	if hadWriteTo || !bytes.Contains(got, []byte(`"Plaintext":"aGk="`)) {
		t.Fatalf("body with WriteTo %v: %s", hadWriteTo, got)
	}
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// validateCase is a change to a valid Config, and the error Validate
// should then give ("" if the result is valid).
type validateCase struct {
	name   string
	change func(c *Config)
	want   string
}

func checkValidate(t *testing.T, ok Config, tests []validateCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}
