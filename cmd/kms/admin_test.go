package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestAdminListenRefused: a bad admin configuration is refused as a usage
// error before the data dir is made.
func TestAdminListenRefused(t *testing.T) {
	for _, args := range [][]string{
		{"--admin-listen", "0.0.0.0:7901"},
		{"--admin-listen", "nonsense"},
		{"--admin-pprof"},
		{"--admin-listen", "0.0.0.0:7901", "--admin-insecure-http", "--admin-pprof"},
		{"--log-format", "xml"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		_, stderr, code := kmsCmd(t, nil, append([]string{"server", "--data-dir", dir, "--listen", "127.0.0.1:0"}, args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%v: the data dir was made (%v)", args, err)
		}
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestAdminListenAndLogFormatJSON: --admin-listen serves metrics and
// readiness; --log-format json logs JSON lines, each request's with the
// request id its answer and audit record carry.
func TestAdminListenAndLogFormatJSON(t *testing.T) {
	admin := freeAddr(t)
	p := startKMSArgs(t, []string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0",
		"--admin-listen", admin, "--admin-pprof", "--log-format", "json", "--log-level", "debug"}, pinned...)
	out, err := p.client().CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	reqID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if reqID == "" {
		t.Fatal("no request id in the answer")
	}
	for _, path := range []string{"/readyz", "/healthz", "/metrics", "/debug/pprof/"} {
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s\n%s", path, resp.Status, body)
		}
		if path == "/metrics" && !strings.Contains(string(body), `kms_requests_total{code="OK",operation="CreateKey"} 1`) {
			t.Errorf("/metrics does not count the CreateKey:\n%s", body)
		}
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if m["request_id"] == reqID && m["op"] == "CreateKey" {
			found = true
		}
	}
	if !found {
		t.Errorf("no log line with request_id %s:\n%s", reqID, p.stderr)
	}
}
