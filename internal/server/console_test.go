package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/openkms/kms/internal/console"
	"github.com/openkms/kms/internal/server"
)

// The console is served on the API's listener, tells the browser the
// server's first region, and leaves the API's paths alone.
func TestConsoleOnMainListener(t *testing.T) {
	ts := startServer(t, server.Config{Regions: []string{"eu-west-2", "eu-west-1"}})
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, body := get("/console/config.json")
	var cfg struct{ Region string }
	if err := json.Unmarshal(body, &cfg); err != nil || res.StatusCode != http.StatusOK || cfg.Region != "eu-west-2" {
		t.Errorf("config.json: %d %s", res.StatusCode, body)
	}
	res, _ = get("/console/")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Security-Policy") != console.ContentSecurityPolicy {
		t.Errorf("GET /console/: %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
	// The API's answers are as before: /healthz, and an error for a GET.
	if res, body := get("/healthz"); res.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("/healthz: %d %q", res.StatusCode, body)
	}
	res, _ = get("/")
	if res.StatusCode == http.StatusOK || res.Header.Get("x-amzn-ErrorType") != "UnknownOperationException" || res.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("GET /: %d %q", res.StatusCode, res.Header.Get("x-amzn-ErrorType"))
	}
}

// TestNoConsole: with NoConsole, /console/ is an unknown path of the API.
func TestNoConsole(t *testing.T) {
	ts := startServer(t, server.Config{NoConsole: true})
	res, err := http.Get(ts.URL + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK || res.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("GET /console/ without the console: %d", res.StatusCode)
	}
}
