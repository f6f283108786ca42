package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openkms/kms"
)

var update = flag.Bool("update", false, "rewrite testdata/sdk with the aws-sdk-go-v2 signer")

// The credentials and time of the AWS SigV4 test suite.
const (
	exampleAKID   = "AKIDEXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	exampleToken  = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmx"
)

var exampleTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

var examplePrincipal = kms.RootPrincipal("111122223333", exampleAKID)

// staticLookup serves fixed credentials; its keys are access key ids.
func staticLookup(secrets map[string]string) Lookup {
	return func(_ context.Context, akid, _ string) (Credential, error) {
		s, ok := secrets[akid]
		if !ok {
			return Credential{}, ErrUnknownAccessKey
		}
		return Credential{Secret: []byte(s), Principal: kms.RootPrincipal("111122223333", akid)}, nil
	}
}

func exampleVerifier(service string) *Verifier {
	return &Verifier{
		Service: service,
		Lookup:  staticLookup(map[string]string{exampleAKID: exampleSecret}),
		Now:     func() time.Time { return exampleTime },
	}
}

func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *kms.Error
	if !errors.As(err, &e) {
		return "not a *kms.Error: " + err.Error()
	}
	return e.Code
}

// readRequest parses a raw HTTP request the way Go's server does, so that
// Host and Content-Length end up where a handler sees them.
func readRequest(t testing.TB, raw []byte) (*http.Request, []byte) {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return r, body
}

// TestKnownAnswer checks the verifier against fixed signed requests: some
// from the AWS SigV4 test suite (testdata/aws-c-auth) and some made by the
// aws-sdk-go-v2 signer in the shape of KMS calls (testdata/sdk).
func TestKnownAnswer(t *testing.T) {
	if *update {
		writeSDKVectors(t)
	}
	for _, dir := range []struct{ name, service string }{
		{"aws-c-auth", "service"},
		{"sdk", "kms"},
	} {
		files, err := filepath.Glob(filepath.Join("testdata", dir.name, "*.txt"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no vectors in testdata/%s: %v", dir.name, err)
		}
		for _, file := range files {
			t.Run(dir.name+"/"+strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
				raw, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				r, body := readRequest(t, raw)
				v := exampleVerifier(dir.service)
				res, err := v.Verify(r, body)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.AccessKeyID != exampleAKID || res.Region != "us-east-1" || res.Principal != examplePrincipal {
					t.Errorf("Verify = %+v", res)
				}

				// The same request with one signature bit flipped must fail.
				r, body = readRequest(t, flipSignatureBit(t, raw))
				if _, err := v.Verify(r, body); errorCode(err) != kms.ErrInvalidSignature {
					t.Errorf("flipped signature: got %v, want %s", err, kms.ErrInvalidSignature)
				}
			})
		}
	}
}

func flipSignatureBit(t testing.TB, raw []byte) []byte {
	t.Helper()
	i := bytes.Index(raw, []byte("Signature="))
	if i < 0 {
		t.Fatal("no Signature= in vector")
	}
	out := bytes.Clone(raw)
	j := i + len("Signature=") + 63 // last hex digit
	if out[j] == '0' {
		out[j] = '1'
	} else {
		out[j] = '0'
	}
	return out
}

// sdkVectors are requests shaped like KMS calls, signed by aws-sdk-go-v2 and
// stored so that a change in either the SDK or this package shows up.
var sdkVectors = []struct {
	name       string
	target     string
	query      string
	body       string
	token      string
	headers    map[string]string
	contentSHA bool // send a signed X-Amz-Content-Sha256
}{
	{name: "kms-encrypt", target: "TrentService.Encrypt", body: `{"KeyId":"alias/example","Plaintext":"aGVsbG8="}`},
	{name: "kms-encrypt-session-token", target: "TrentService.Encrypt", body: `{"KeyId":"alias/example","Plaintext":"aGVsbG8="}`, token: exampleToken},
	{name: "kms-list-keys-empty-body", target: "TrentService.ListKeys", body: `{}`},
	{name: "kms-content-sha256", target: "TrentService.Decrypt", body: `{"CiphertextBlob":"AQID"}`, contentSHA: true},
	{name: "kms-query-and-spaces", target: "TrentService.GenerateRandom", query: "b=2&a=1&a=0&sp=x%20y&t=%7E", body: `{"NumberOfBytes":32}`,
		headers: map[string]string{"X-Custom": "  a   b  c  "}},
}

// writeSDKVectors regenerates testdata/sdk (go test -run TestKnownAnswer -update).
func writeSDKVectors(t *testing.T) {
	for _, vec := range sdkVectors {
		url := "https://kms.us-east-1.amazonaws.com/"
		if vec.query != "" {
			url += "?" + vec.query
		}
		r := kmsRequest(t, url, vec.target, vec.body)
		for k, v := range vec.headers {
			r.Header.Set(k, v)
		}
		if vec.contentSHA {
			r.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte(vec.body)))
		}
		sdkSign(t, r, []byte(vec.body), exampleAKID, exampleSecret, vec.token, "kms", "us-east-1", exampleTime)
		var buf bytes.Buffer
		if err := r.Write(&buf); err != nil {
			t.Fatal(err)
		}
		raw := bytes.ReplaceAll(buf.Bytes(), []byte("\r\n"), []byte("\n"))
		if err := os.WriteFile(filepath.Join("testdata", "sdk", vec.name+".txt"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// kmsRequest builds a client request shaped like a KMS JSON 1.1 call.
func kmsRequest(t testing.TB, url, target, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", target)
	return r
}

func sdkSign(t testing.TB, r *http.Request, body []byte, akid, secret, token, service, region string, at time.Time) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}
	err := v4.NewSigner().SignHTTP(context.Background(), creds, r, sha256Hex(body), service, region, at)
	if err != nil {
		t.Fatal(err)
	}
}

// toServer sends r through Write and ReadRequest, which leaves it as Go's
// server would hand it to a handler.
func toServer(t testing.TB, r *http.Request) (*http.Request, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return readRequest(t, buf.Bytes())
}

const testBody = `{"KeyId":"alias/example","Plaintext":"aGVsbG8gd29ybGQ="}`

func TestVerifyNegative(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	type signing struct {
		akid, secret, token, service, region string
		at                                   time.Time
		headers                              map[string]string
	}
	tests := []struct {
		name    string
		sign    func(s *signing)                    // changes what the client signs
		mutate  func(r *http.Request, body *[]byte) // changes the request after signing
		config  func(v *Verifier)                   // changes the verifier
		code    string                              // "" for success
		message string                              // a prefix of the message, if set
	}{
		{name: "ok"},
		{name: "unsigned extra header", mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Forwarded-For", "10.0.0.1") }},
		{name: "unsigned session token", mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Security-Token", "abc") }},
		{name: "signed session token", sign: func(s *signing) { s.token = "FwoGZXIvYXdzEXAMPLE" }},
		{name: "content-length rebuilt from r.ContentLength", mutate: func(r *http.Request, _ *[]byte) { r.Header.Del("Content-Length") }},
		{name: "matching content sha256", sign: func(s *signing) {
			s.headers = map[string]string{"X-Amz-Content-Sha256": sha256Hex([]byte(testBody))}
		}},
		{name: "skew +4 min", sign: func(s *signing) { s.at = now.Add(4 * time.Minute) }},
		{name: "skew -5 min exactly", sign: func(s *signing) { s.at = now.Add(-5 * time.Minute) }},
		{name: "wider MaxSkew", sign: func(s *signing) { s.at = now.Add(-10 * time.Minute) }, config: func(v *Verifier) { v.MaxSkew = 15 * time.Minute }},

		{name: "missing authorization", mutate: func(r *http.Request, _ *[]byte) { r.Header.Del("Authorization") },
			code: kms.ErrMissingAuthToken, message: "Missing Authentication Token"},
		{name: "empty authorization", mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("Authorization", "") },
			code: kms.ErrMissingAuthToken},
		{name: "repeated authorization", mutate: func(r *http.Request, _ *[]byte) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
			code: kms.ErrIncompleteSignature},
		{name: "tampered body", mutate: func(_ *http.Request, body *[]byte) {
			*body = bytes.Replace(*body, []byte("example"), []byte("exampl3"), 1)
		},
			code: kms.ErrInvalidSignature, message: msgMismatch},
		{name: "tampered signed header", mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Target", "TrentService.Decrypt") },
			code: kms.ErrInvalidSignature, message: msgMismatch},
		{name: "tampered host", mutate: func(r *http.Request, _ *[]byte) { r.Host = "evil.example.com" },
			code: kms.ErrInvalidSignature, message: msgMismatch},
		{name: "tampered method", mutate: func(r *http.Request, _ *[]byte) { r.Method = http.MethodPut },
			code: kms.ErrInvalidSignature},
		{name: "tampered query", mutate: func(r *http.Request, _ *[]byte) { r.URL.RawQuery = "a=1" },
			code: kms.ErrInvalidSignature},
		{name: "wrong secret", sign: func(s *signing) { s.secret = "not-the-secret" },
			code: kms.ErrInvalidSignature, message: msgMismatch},
		{name: "unknown key", sign: func(s *signing) { s.akid = "AKIDUNKNOWN" },
			code: kms.ErrUnrecognizedClient, message: "The security token included in the request is invalid."},
		{name: "lookup failure", config: func(v *Verifier) {
			v.Lookup = func(context.Context, string, string) (Credential, error) { return Credential{}, errors.New("db down") }
		}, code: kms.ErrInternal},
		{name: "skew +6 min", sign: func(s *signing) { s.at = now.Add(6 * time.Minute) },
			code:    kms.ErrInvalidSignature,
			message: "Signature not yet current: 20260314T151526Z is still later than 20260314T151426Z (20260314T150926Z + 5 min.)"},
		{name: "skew -6 min", sign: func(s *signing) { s.at = now.Add(-6 * time.Minute) },
			code:    kms.ErrInvalidSignature,
			message: "Signature expired: 20260314T150326Z is now earlier than 20260314T150426Z (20260314T150926Z - 5 min.)"},
		{name: "old Date header", mutate: func(r *http.Request, _ *[]byte) {
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Date", now.Add(-time.Hour).Format(http.TimeFormat))
		}, code: kms.ErrInvalidSignature, message: "Signature expired: 20260314T140926Z"},
		{name: "missing signature", mutate: replaceAuth(", Signature=", ", Sig="),
			code: kms.ErrIncompleteSignature, message: "Authorization header requires 'Signature' parameter. Authorization header (hashed with SHA-256 and encoded with Base64): '"},
		{name: "empty signature", mutate: func(r *http.Request, _ *[]byte) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.Index(a, "Signature=")+len("Signature=")])
		}, code: kms.ErrIncompleteSignature},
		{name: "missing credential", mutate: replaceAuth("Credential=", "Cred="),
			code: kms.ErrIncompleteSignature, message: "Authorization header requires 'Credential' parameter."},
		{name: "missing signed headers", mutate: replaceAuth("SignedHeaders=", "Headers="),
			code: kms.ErrIncompleteSignature, message: "Authorization header requires 'SignedHeaders' parameter."},
		{name: "only algorithm", mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256") },
			code: kms.ErrIncompleteSignature, message: "Authorization header requires 'Credential' parameter. " +
				"Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. " +
				"Authorization header (hashed with SHA-256 and encoded with Base64): 'YI2YWea8FSxnksZL2ETHbs5elHm9HQufxTLK0W0ffV0='."},
		{name: "bearer token", mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("Authorization", "Bearer tok3n") },
			code: kms.ErrIncompleteSignature, message: "Invalid key=value pair (missing equal-sign) in Authorization header " +
				"(hashed with SHA-256 and encoded with Base64): '"},
		{name: "basic credentials", mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("Authorization", "Basic dG9rM24=") },
			code: kms.ErrIncompleteSignature, message: "Authorization header requires 'Credential' parameter."},
		{name: "missing equal sign", mutate: replaceAuth(", SignedHeaders=", ", SignedHeaders, X="),
			code: kms.ErrIncompleteSignature, message: "Invalid key=value pair (missing equal-sign) in Authorization header"},
		{name: "missing date", mutate: func(r *http.Request, _ *[]byte) { r.Header.Del("X-Amz-Date") },
			code: kms.ErrIncompleteSignature, message: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
		{name: "malformed date", mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "2026-03-14T15:09:26Z") },
			code: kms.ErrIncompleteSignature},
		{name: "malformed Date header", mutate: func(r *http.Request, _ *[]byte) {
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Date", "yesterday")
		}, code: kms.ErrIncompleteSignature},
		{name: "bad algorithm", mutate: replaceAuth("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA512 "),
			code: kms.ErrIncompleteSignature, message: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'."},
		{name: "sigv4a algorithm", mutate: replaceAuth("AWS4-HMAC-SHA256 ", "AWS4-ECDSA-P256-SHA256 "),
			code: kms.ErrIncompleteSignature},
		{name: "credential with 4 parts", mutate: replaceAuth("/aws4_request", ""),
			code: kms.ErrIncompleteSignature, message: "Credential must have exactly 5 slash-delimited elements"},
		{name: "credential with 6 parts", mutate: replaceAuth("/aws4_request", "/aws4_request/x"),
			code: kms.ErrIncompleteSignature},
		{name: "bad terminator", mutate: replaceAuth("/aws4_request", "/aws5_request"),
			code: kms.ErrInvalidSignature, message: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."},
		{name: "wrong service", sign: func(s *signing) { s.service = "s3" },
			code: kms.ErrInvalidSignature, message: "Credential should be scoped to correct service: 'kms'. "},
		{name: "wrong region", sign: func(s *signing) { s.region = "eu-west-1" },
			code: kms.ErrInvalidSignature, message: "Credential should be scoped to a valid region, not 'eu-west-1'. "},
		{name: "empty region", mutate: replaceAuth("/us-east-1/", "//"), config: func(v *Verifier) { v.Region = nil },
			code: kms.ErrInvalidSignature, message: "Credential should be scoped to a valid region, not ''. "},
		{name: "any region when Region is nil", sign: func(s *signing) { s.region = "eu-west-1" }, config: func(v *Verifier) { v.Region = nil }},
		{name: "scope date mismatch", mutate: replaceAuth("/20260314/", "/20260313/"),
			code: kms.ErrInvalidSignature, message: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260313' != '20260314', from '20260314T150926Z'."},
		{name: "unsigned host", mutate: replaceAuth("content-type;host;", "content-type;"),
			code: kms.ErrInvalidSignature, message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "unsigned x-amz-date", mutate: replaceAuth(";x-amz-date;", ";"),
			code: kms.ErrInvalidSignature, message: "'X-Amz-Date' must be a 'SignedHeader'"},
		{name: "content sha256 mismatch", mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte("other"))) },
			code: kms.ErrInvalidSignature, message: "The provided 'x-amz-content-sha256' header does not match what was computed."},
		{name: "unsigned payload", mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") },
			code: kms.ErrInvalidSignature},
		{name: "signature not hex", mutate: func(r *http.Request, _ *[]byte) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-64]+strings.Repeat("z", 64))
		}, code: kms.ErrInvalidSignature, message: msgMismatch},
		{name: "signature too short", mutate: func(r *http.Request, _ *[]byte) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-2])
		}, code: kms.ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := signing{akid: "AKIDTEST", secret: "secret-test", service: "kms", region: "us-east-1", at: now}
			if tt.sign != nil {
				tt.sign(&s)
			}
			cr := kmsRequest(t, "https://kms.us-east-1.amazonaws.com/", "TrentService.Encrypt", testBody)
			for k, v := range s.headers {
				cr.Header.Set(k, v)
			}
			sdkSign(t, cr, []byte(testBody), s.akid, s.secret, s.token, s.service, s.region, s.at)
			r, body := toServer(t, cr)
			if tt.mutate != nil {
				tt.mutate(r, &body)
			}
			v := &Verifier{
				Service: "kms",
				Lookup:  staticLookup(map[string]string{"AKIDTEST": "secret-test"}),
				Region:  func(r string) bool { return r == "us-east-1" },
				Now:     func() time.Time { return now },
			}
			if tt.config != nil {
				tt.config(v)
			}

			res, err := v.Verify(r, body)
			if got := errorCode(err); got != tt.code {
				t.Fatalf("Verify error = %v, want code %q", err, tt.code)
			}
			if err != nil {
				var e *kms.Error
				errors.As(err, &e)
				if !strings.HasPrefix(e.Message, tt.message) {
					t.Errorf("message = %q, want prefix %q", e.Message, tt.message)
				}
				for _, secret := range []string{"secret-test", "tok3n", "dG9rM24"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error leaks %q: %v", secret, err)
					}
				}
				return
			}
			want := Result{Principal: kms.RootPrincipal("111122223333", "AKIDTEST"), Region: s.region, Service: "kms", AccessKeyID: "AKIDTEST"}
			if !res.Signed("host") || !res.Signed("X-Amz-Date") || res.Signed("x-amz-source-arn") {
				t.Errorf("SignedHeaders = %q: host and x-amz-date signed, x-amz-source-arn not", res.SignedHeaders)
			}
			res.SignedHeaders = ""
			if res != want {
				t.Errorf("Verify = %+v, want %+v", res, want)
			}
		})
	}
}

// replaceAuth returns a mutation that edits the Authorization header.
func replaceAuth(old, new string) func(*http.Request, *[]byte) {
	return func(r *http.Request, _ *[]byte) {
		a := r.Header.Get("Authorization")
		if !strings.Contains(a, old) {
			panic("test bug: " + old + " not in " + a)
		}
		r.Header.Set("Authorization", strings.Replace(a, old, new, 1))
	}
}

// TestRotatedSecret checks that a cached signing key never outlives the
// secret it was derived from.
func TestRotatedSecret(t *testing.T) {
	secret := "old-secret"
	var mu sync.Mutex
	v := &Verifier{
		Service: "kms",
		Lookup: func(_ context.Context, akid, _ string) (Credential, error) {
			mu.Lock()
			defer mu.Unlock()
			return Credential{Secret: []byte(secret), Principal: kms.RootPrincipal("111122223333", akid)}, nil
		},
		Now: func() time.Time { return exampleTime },
	}
	verify := func(signedWith string) error {
		cr := kmsRequest(t, "https://kms.us-east-1.amazonaws.com/", "TrentService.Encrypt", testBody)
		sdkSign(t, cr, []byte(testBody), "AKIDROT", signedWith, "", "kms", "us-east-1", exampleTime)
		r, body := toServer(t, cr)
		_, err := v.Verify(r, body)
		return err
	}
	if err := verify("old-secret"); err != nil {
		t.Fatalf("old secret before rotation: %v", err)
	}
	mu.Lock()
	secret = "new-secret"
	mu.Unlock()
	if err := verify("old-secret"); errorCode(err) != kms.ErrInvalidSignature {
		t.Errorf("old secret after rotation: got %v, want %s", err, kms.ErrInvalidSignature)
	}
	if err := verify("new-secret"); err != nil {
		t.Errorf("new secret after rotation: %v", err)
	}
}

func TestKeyCacheBounded(t *testing.T) {
	var c keyCache
	secret := []byte("s")
	for i := range maxCachedKeys + 10 {
		c.signingKey("AKID", secret, scope{date: "20150830", region: "r" + strconv.Itoa(i), service: "kms"})
	}
	if n := len(c.m); n > maxCachedKeys {
		t.Errorf("cache holds %d keys, want at most %d", n, maxCachedKeys)
	}
	// A cached key is the derived key.
	s := scope{date: "20150830", region: "us-east-1", service: "iam"}
	if got, want := c.signingKey(exampleAKID, []byte(exampleSecret), s), deriveSigningKey([]byte(exampleSecret), s); got != want {
		t.Error("cached key differs from derived key")
	}
	if got, want := c.signingKey(exampleAKID, []byte(exampleSecret), s), deriveSigningKey([]byte(exampleSecret), s); got != want {
		t.Error("second lookup differs from derived key")
	}
}

// TestSigningKey checks the derivation against the example in the AWS
// documentation ("Examples of how to derive a signing key").
func TestSigningKey(t *testing.T) {
	got := deriveSigningKey([]byte("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), scope{date: "20120215", region: "us-east-1", service: "iam"})
	const want = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
	if hex.EncodeToString(got[:]) != want {
		t.Errorf("kSigning = %x, want %s", got, want)
	}
}

func TestAppendTrimmed(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"a", "a"},
		{"  a  ", "a"},
		{"\ta b\t", "a b"},
		{`"a   b   c"`, `"a b c"`},
		{"a  \tb", "a \tb"},
		{"   ", ""},
	} {
		if got := string(appendTrimmed(nil, tt.in)); got != tt.want {
			t.Errorf("appendTrimmed(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"Param2=value2&Param1=value1", "Param1=value1&Param2=value2"},
		{"a=2&a=1&b", "a=1&a=2&b="},
		{"x=a+b&y=a%20b&z=%7e&w=a%2Fb", "w=a%2Fb&x=a%20b&y=a%20b&z=~"},
		{"&&k=v&", "k=v"},
		{"bad=%zz", "bad=%25zz"},
		{"a/b=1&a-b=2", "a%2Fb=1&a-b=2"},
	} {
		if got := string(appendCanonicalQuery(nil, tt.in)); got != tt.want {
			t.Errorf("canonical query of %q = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHeaderValues(t *testing.T) {
	h := http.Header{"X-Amz-Date": {"d"}, "Content-Type": {"c"}, "X-Amz-Meta-2x": {"m"}, "My_header": {"u"}}
	for name, want := range map[string]string{"x-amz-date": "d", "content-type": "c", "x-amz-meta-2x": "m", "Content-TYPE": "c", "my_header": "u", "absent": ""} {
		if got := strings.Join(headerValues(h, name), ","); got != want {
			t.Errorf("headerValues(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestConcurrentVerify shares one Verifier, and so its key cache, between
// goroutines; run it with -race.
func TestConcurrentVerify(t *testing.T) {
	v := exampleVerifier("kms")
	v.Lookup = func(_ context.Context, akid, _ string) (Credential, error) {
		return Credential{Secret: []byte("secret-" + akid)}, nil
	}
	type req struct {
		r    *http.Request
		body []byte
	}
	var reqs []req
	for i := range 8 {
		akid := "AKID" + strconv.Itoa(i)
		cr := kmsRequest(t, "https://kms.us-east-1.amazonaws.com/", "TrentService.Encrypt", testBody)
		sdkSign(t, cr, []byte(testBody), akid, "secret-"+akid, "", "kms", "us-east-1", exampleTime)
		r, body := toServer(t, cr)
		reqs = append(reqs, req{r, body})
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 50 {
				q := reqs[(i+j)%len(reqs)]
				if _, err := v.Verify(q.r, q.body); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzParseAuthorization checks that no Authorization header makes the
// parser or the verifier panic, that the parser only returns pieces of its
// input, and that every failure is a *kms.Error.
func FuzzParseAuthorization(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.txt"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		r, _ := readRequest(f, raw)
		f.Add(r.Header.Get("Authorization"))
	}
	for _, s := range []string{"", " ", ",", "=", "AWS4-HMAC-SHA256 ,,,=,", "AWS4-HMAC-SHA256 Credential=////", "a b=c, d"} {
		f.Add(s)
	}
	base, _ := readRequest(f, mustRead(f, filepath.Join("testdata", "sdk", "kms-encrypt.txt")))
	want, err := parseAuthorization(base.Header.Get("Authorization"))
	if err != nil {
		f.Fatal(err)
	}
	v := exampleVerifier("kms")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil && errorCode(err) != kms.ErrIncompleteSignature {
			t.Fatalf("parse error %v is not IncompleteSignature", err)
		}
		if err == nil {
			for _, p := range []string{a.algorithm, a.credential, a.signedHeaders, a.signature} {
				if !strings.Contains(h, p) {
					t.Fatalf("component %q is not part of %q", p, h)
				}
			}
		}
		r := base.Clone(context.Background())
		r.Header.Set("Authorization", h)
		if _, err := v.Verify(r, []byte(`{"KeyId":"alias/example","Plaintext":"aGVsbG8="}`)); err == nil {
			// Only the signed components can vary (spacing, unknown
			// components, upper-case hex); never what they say.
			if a.algorithm != want.algorithm || a.credential != want.credential ||
				a.signedHeaders != want.signedHeaders || !strings.EqualFold(a.signature, want.signature) {
				t.Fatalf("accepted a forged header %q", h)
			}
		} else if c := errorCode(err); strings.HasPrefix(c, "not a") {
			t.Fatal(c)
		}
	})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func BenchmarkVerify(b *testing.B) {
	cr := kmsRequest(b, "https://kms.us-east-1.amazonaws.com/", "TrentService.Encrypt", testBody)
	cr.Header.Set("User-Agent", "aws-sdk-go-v2/1.41.0 ua/2.1 os/linux lang/go#1.26 md/GOOS#linux api/kms#1.49.0 m/E")
	cr.Header.Set("Amz-Sdk-Invocation-Id", "8a3f0d6e-3b7a-4f1e-9c51-0c9e1f5e2d11")
	cr.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	sdkSign(b, cr, []byte(testBody), exampleAKID, exampleSecret, "", "kms", "us-east-1", exampleTime)
	r, body := toServer(b, cr)

	b.Run("cached", func(b *testing.B) {
		v := exampleVerifier("kms")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(r, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v := exampleVerifier("kms")
			if _, err := v.Verify(r, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
