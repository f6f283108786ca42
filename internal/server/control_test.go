package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openkms/kms/internal/server"
)

// TestControlSocket: the control socket is the owner's alone, refuses
// malformed requests with a clear error and leaves the seal as it was,
// and is gone once the server stops.
func TestControlSocket(t *testing.T) {
	ts := startServer(t, server.Config{})
	path := server.ControlSocket(ts.DataDir())
	fi, err := os.Stat(path)
	for i := 0; err != nil && i < 100; i++ { // Serve, in its goroutine, opens it
		time.Sleep(20 * time.Millisecond)
		fi, err = os.Stat(path)
	}
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode %v", fi.Mode())
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
	for name, tc := range map[string]struct {
		method, body, want string
		code               int
	}{
		"not JSON":      {"POST", "{", "bad request", http.StatusBadRequest},
		"unknown field": {"POST", `{"secret":"x"}`, "unknown field", http.StatusBadRequest},
		"two seals":     {"POST", `{"passphrase":"x","key_file":"/tmp/k"}`, "one of", http.StatusConflict},
		"GET":           {"GET", "", "", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tc.method, "http://kms/seal/rotate", strings.NewReader(tc.body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: HTTP %d %s", name, resp.StatusCode, b)
		}
	}
	ts.stop()
	// Nothing changed: the key-file seal still opens the data dir.
	startServer(t, server.Config{DataDir: ts.DataDir()}).stop()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("control socket left after a clean stop (%v)", err)
	}
	if _, err := server.RotateSealOnline(ts.DataDir(), server.Config{Passphrase: "x"}); err == nil || !strings.Contains(err.Error(), "control socket") {
		t.Errorf("RotateSealOnline with no server: %v", err)
	}
}
