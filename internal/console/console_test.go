package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(t *testing.T, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Api", "yes")
		w.WriteHeader(http.StatusTeapot)
	})
	w := httptest.NewRecorder()
	r := httptest.NewRequest(method, "/", nil)
	r.URL.Path = target // raw, uncleaned, as the server hands it over
	Mount(api, New("eu-west-3")).ServeHTTP(w, r)
	return w
}

func checkSecurityHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestFiles(t *testing.T) {
	for path, ct := range map[string]string{
		"/console/":            "text/html; charset=utf-8",
		"/console/index.html":  "text/html; charset=utf-8",
		"/console/app.js":      "text/javascript; charset=utf-8",
		"/console/sigv4.js":    "text/javascript; charset=utf-8",
		"/console/style.css":   "text/css; charset=utf-8",
		"/console/config.json": "application/json",
	} {
		w := serve(t, http.MethodGet, path)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, w.Code)
		}
		if got := w.Header().Get("Content-Type"); got != ct {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, ct)
		}
		if w.Body.Len() == 0 {
			t.Errorf("GET %s: empty body", path)
		}
		checkSecurityHeaders(t, w)
	}
	w := serve(t, http.MethodHead, "/console/app.js")
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, body %d bytes, Content-Length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}
}

func TestConfig(t *testing.T) {
	var cfg map[string]any
	if err := json.Unmarshal(serve(t, http.MethodGet, "/console/config.json").Body.Bytes(), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg) != 1 || cfg["region"] != "eu-west-3" {
		t.Errorf("config.json = %v, want only the region", cfg)
	}
}

// The index page loads no inline script or style, which the CSP would
// block anyway, and nothing from another origin.
func TestIndexSelfContained(t *testing.T) {
	body := serve(t, http.MethodGet, "/console/").Body.String()
	for _, bad := range []string{"<script>", "style=", "<style", "http://", "https://", "//cdn"} {
		if strings.Contains(body, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
}

func TestRefused(t *testing.T) {
	for _, path := range []string{
		"/console/nope.js",
		"/console/../go.mod",
		"/console/../../etc/passwd",
		"/console/./app.js",
		"/console//app.js",
		"/console/..%2fconsole.go",
		"/console/..\\console.go",
		"/console/console.go",
		"/console/assets/app.js",
		"/console/app.js/",
	} {
		w := serve(t, http.MethodGet, path)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, w.Code)
		}
		checkSecurityHeaders(t, w)
	}
}

func TestNoDirectoryListing(t *testing.T) {
	// The embedded tree's root is served as index.html, never listed; no
	// other directory exists, and a made-up one is not found.
	if body := serve(t, http.MethodGet, "/console/").Body.String(); !strings.Contains(body, "<!doctype html>") || strings.Contains(body, "<pre>") {
		t.Errorf("GET /console/ is not index.html:\n%s", body)
	}
	for _, path := range []string{"/console/.", "/console/assets/", "/console/x/"} {
		if w := serve(t, http.MethodGet, path); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, w.Code)
		}
	}
}

func TestMethodsAndRedirect(t *testing.T) {
	w := serve(t, http.MethodPost, "/console/app.js")
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	w = serve(t, http.MethodGet, "/console")
	if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/console/" {
		t.Errorf("GET /console: %d, Location %q", w.Code, w.Header().Get("Location"))
	}
}

// Everything outside /console/ reaches the API untouched.
func TestOtherPathsToAPI(t *testing.T) {
	for _, path := range []string{"/", "/healthz", "/consoles", "/x/console/"} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			w := serve(t, m, path)
			if w.Code != http.StatusTeapot || w.Header().Get("X-Api") != "yes" || w.Header().Get("Content-Security-Policy") != "" {
				t.Errorf("%s %s: %d, not the API's answer", m, path, w.Code)
			}
		}
	}
}
