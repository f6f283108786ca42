package server_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/internal/server"
)

// rawCall sends a KMS request, signed unless creds is nil, and returns the
// status and decoded error type.
func rawCall(t *testing.T, url, target, body string, creds *aws.Credentials) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if creds != nil {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(ctx, *creds, req, hex.EncodeToString(sum[:]), "kms", testRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("%s: no x-amzn-RequestId", target)
	}
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if resp.StatusCode != 200 {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s: error body %q is not JSON", target, b)
		}
		if resp.Header.Get("x-amzn-ErrorType") != e.Type {
			t.Errorf("x-amzn-ErrorType %q != __type %q", resp.Header.Get("x-amzn-ErrorType"), e.Type)
		}
	}
	return resp.StatusCode, e.Type, e.Message
}

func TestProtocolErrors(t *testing.T) {
	ts := startServer(t, server.Config{})
	creds := &aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecret}
	for _, tc := range []struct {
		name, target, body string
		creds              *aws.Credentials
		status             int
		code, msg          string
	}{
		{"ok", "TrentService.ListKeys", "{}", creds, 200, "", ""},
		{"empty body", "TrentService.ListKeys", "", creds, 200, "", ""},
		{"unsigned", "TrentService.ListKeys", "{}", nil, 400, "MissingAuthenticationTokenException", ""},
		{"no target", "", "{}", creds, 400, "UnknownOperationException", ""},
		{"unknown target", "TrentService.Frobnicate", "{}", creds, 400, "UnknownOperationException", ""},
		{"other service", "Foo.ListKeys", "{}", creds, 400, "UnknownOperationException", ""},
		{"bad json", "TrentService.ListKeys", "{", creds, 400, "SerializationException", ""},
		{"not an object", "TrentService.ListKeys", "[1]", creds, 400, "SerializationException", ""},
		{"wrong type", "TrentService.ListKeys", `{"Limit":"ten"}`, creds, 400, "SerializationException", ""},
		{"bad base64", "TrentService.Decrypt", `{"CiphertextBlob":"!!!"}`, creds, 400, "SerializationException", ""},
		{"no custom key stores", "TrentService.CreateCustomKeyStore", `{"CustomKeyStoreName":"hsm"}`, creds, 400, "UnsupportedOperationException", "Custom key stores"},
		{"no custom key store to describe", "TrentService.DescribeCustomKeyStores", `{"CustomKeyStoreId":"cks-1234567890abcdef0"}`, creds, 400,
			"CustomKeyStoreNotFoundException", "Custom key store cks-1234567890abcdef0 does not exist."},
		{"custom key stores: none", "TrentService.DescribeCustomKeyStores", `{}`, creds, 200, "", ""},
		{"unknown key id", "TrentService.Encrypt", `{"KeyId":"alias/x","Plaintext":"eA=="}`, creds, 400, "NotFoundException", ""},
		{"missing key id", "TrentService.DescribeKey", `{}`, creds, 400, "ValidationException",
			"1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"},
		{"two failures", "TrentService.ReEncrypt", `{"CiphertextBlob":""}`, creds, 400, "ValidationException",
			"2 validation errors detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length greater than or equal to 1; Value null at 'destinationKeyId' failed to satisfy constraint: Member must not be null"},
		{"null member", "TrentService.ListKeys", `{"Limit":null}`, creds, 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code, msg := rawCall(t, ts.URL, tc.target, tc.body, tc.creds)
			if status != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %d %s %q, want %d %s %q", status, code, msg, tc.status, tc.code, tc.msg)
			}
		})
	}
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestAuthentication(t *testing.T) {
	ts := startServer(t, server.Config{Regions: []string{"us-east-1", "eu-west-1"}})
	_, err := newClient(ts.URL, testRegion, testAccessKeyID, "wrong-secret").ListKeys(ctx, &awskms.ListKeysInput{})
	wantMessage(t, err, "InvalidSignatureException", "The request signature we calculated does not match")
	_, err = newClient(ts.URL, testRegion, "AKIAUNKNOWNKEY000000", testSecret).ListKeys(ctx, &awskms.ListKeysInput{})
	wantCode(t, err, "UnrecognizedClientException")
	_, err = ts.client("ap-south-1").ListKeys(ctx, &awskms.ListKeysInput{})
	wantCode(t, err, "InvalidSignatureException")
	if _, err := ts.client("eu-west-1").ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
}

// TestBodySizes sends bodies around the per-connection read buffer and the
// pooled-buffer limit, two of them pipelined on one connection, and one
// over the limit.
func TestBodySizes(t *testing.T) {
	ts := startServer(t, server.Config{})
	creds := aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecret}
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	// ListKeys ignores whitespace: the padding sets the body's size.
	request := func(size int) []byte {
		body := `{"Limit":5` + strings.Repeat(" ", max(size-11, 0)) + `}`
		req, _ := http.NewRequest("POST", ts.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "kms", testRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := req.Write(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		sizes  []int // pipelined in one write
		status int
	}{
		{[]int{100, 100}, 200},
		{[]int{16 << 10, 10}, 200},
		{[]int{(16 << 10) + 1, (64 << 10) + 1}, 200},
		{[]int{200 << 10}, 200},
		{[]int{(1 << 20) + 1}, 400},
	} {
		var all []byte
		for _, n := range tc.sizes {
			all = append(all, request(n)...)
		}
		if _, err := conn.Write(all); err != nil {
			t.Fatal(err)
		}
		for _, n := range tc.sizes {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%d bytes: status %d, want %d: %s", n, resp.StatusCode, tc.status, b)
			}
		}
		if tc.status != 200 {
			break // the server may close the connection after a refused body
		}
	}
}
