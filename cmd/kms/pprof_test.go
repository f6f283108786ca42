package main

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestPprofListen: --pprof-listen serves the profiler on a loopback address
// and refuses any other.
func TestPprofListen(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", "192.0.2.1:6060", ":6060", "nonsense"} {
		dir := filepath.Join(t.TempDir(), "data")
		_, stderr, code := kmsCmd(t, nil, "server", "--data-dir", dir, "--listen", "127.0.0.1:0", "--pprof-listen", addr)
		if code != 2 || !strings.Contains(stderr, "bad --pprof-listen") {
			t.Errorf("--pprof-listen %s: exit %d\n%s", addr, code, stderr)
		}
	}

	// A free loopback port; the server takes it a moment later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	startKMS(t, t.TempDir(), envPprofListen+"="+addr)
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("profiler index: %s\n%s", resp.Status, body)
	}
}
