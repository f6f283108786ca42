package sigv4

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/openkms/kms"
)

// verifyServer starts a server whose handler authenticates every request
// with v and answers like KMS: a small Encrypt result, or the error.
func verifyServer(t *testing.T, v *Verifier) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		res, err := v.Verify(r, body)
		if err != nil {
			var e *kms.Error
			if !errors.As(err, &e) {
				e = kms.Internal(err)
			}
			w.WriteHeader(e.Status())
			json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{
			"KeyId":               kms.KeyARN(res.Region, res.Principal.Account, "1234abcd-12ab-34cd-56ef-1234567890ab"),
			"CiphertextBlob":      "AQID",
			"EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func realTimeVerifier() *Verifier {
	return &Verifier{
		Service: "kms",
		Lookup:  staticLookup(map[string]string{"AKIDTEST": "secret-test"}),
		Region:  func(r string) bool { return r == "us-east-1" },
	}
}

// TestSDKSignerRoundTrip signs requests with the aws-sdk-go-v2 v4 signer
// and sends them over HTTP, so Go's server-side header handling (Host,
// Content-Length, canonical header keys) is what the verifier sees.
func TestSDKSignerRoundTrip(t *testing.T) {
	srv := verifyServer(t, realTimeVerifier())
	tests := []struct {
		name     string
		path     string
		token    string
		headers  map[string]string
		secret   string
		wantCode string
	}{
		{name: "encrypt"},
		{name: "session token", token: "FwoGZXIvYXdzEXAMPLE//token+with/slashes=="},
		{name: "extra signed headers", headers: map[string]string{
			"X-Amz-Meta":      "  spaced    out   value ",
			"Amz-Sdk-Request": "attempt=1; max=3",
		}},
		{name: "query string", path: "/?Version=2014-11-01&b=%2F&a=x%20y"},
		{name: "wrong secret", secret: "not-the-secret", wantCode: kms.ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := kmsRequest(t, srv.URL+tt.path, "TrentService.Encrypt", testBody)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			secret := "secret-test"
			if tt.secret != "" {
				secret = tt.secret
			}
			sdkSign(t, r, []byte(testBody), "AKIDTEST", secret, tt.token, "kms", "us-east-1", time.Now())
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
			if out["__type"] != tt.wantCode {
				t.Fatalf("status %d, response %v, want code %q", resp.StatusCode, out, tt.wantCode)
			}
		})
	}
}

// TestKMSClient drives the verifier with the real KMS client, so the
// request carries exactly the headers the SDK sends in production.
func TestKMSClient(t *testing.T) {
	srv := verifyServer(t, realTimeVerifier())
	client := func(secret, token, region string) *awskms.Client {
		return awskms.New(awskms.Options{
			Region:       region,
			BaseEndpoint: aws.String(srv.URL),
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", secret, token),
			HTTPClient:   srv.Client(),
		})
	}
	tests := []struct {
		name                  string
		secret, token, region string
		wantCode              string
	}{
		{name: "ok", secret: "secret-test", region: "us-east-1"},
		{name: "session token", secret: "secret-test", token: "FwoGZXIvYXdzEXAMPLE", region: "us-east-1"},
		{name: "wrong secret", secret: "wrong", region: "us-east-1", wantCode: kms.ErrInvalidSignature},
		{name: "wrong region", secret: "secret-test", region: "eu-west-1", wantCode: kms.ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := client(tt.secret, tt.token, tt.region).Encrypt(context.Background(), &awskms.EncryptInput{
				KeyId:     aws.String("alias/example"),
				Plaintext: []byte("hello world"),
			})
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Encrypt: %v", err)
				}
				if !strings.HasSuffix(aws.ToString(out.KeyId), ":key/1234abcd-12ab-34cd-56ef-1234567890ab") {
					t.Errorf("KeyId = %q", aws.ToString(out.KeyId))
				}
				return
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode {
				t.Fatalf("Encrypt error = %v, want code %s", err, tt.wantCode)
			}
		})
	}
}
