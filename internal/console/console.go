// Package console serves the web console (issue 21) at /console/ on the
// API's listener: static files embedded in the binary and nothing else.
// The browser signs each call with the user's own credentials (SigV4 in
// WebCrypto) and calls the API as any SDK does, so the console holds no
// session and no power of its own.
package console

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed assets
var embedded embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// ContentSecurityPolicy allows only this origin's files and API: no inline
// script or style, no framing, no third-party origin.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// contentTypes are set explicitly rather than from the OS's mime tables,
// which differ between machines (a .js served as text/plain breaks modules
// under nosniff).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// Handler serves the console's files.
type Handler struct {
	files  fs.FS
	config []byte
}

// New returns the console's handler. region is the default region of the
// sign-in form, told to the browser by /console/config.json.
func New(region string) *Handler {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err) // the embedded tree always has assets
	}
	cfg, _ := json.Marshal(struct {
		Region string `json:"region"`
	}{region})
	return &Handler{files: sub, config: cfg}
}

// Mount returns a handler that serves the console for /console and
// /console/... and hands every other request to api, untouched.
func Mount(api http.Handler, c *Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, Prefix) {
			c.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

func (c *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	// No caching: a new binary's files apply on the next load.
	h.Set("Cache-Control", "no-cache")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/console" {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	if name == "config.json" {
		c.write(w, r, name, c.config)
		return
	}
	// fs.ValidPath refuses "..", "." and empty elements, so no path leaves
	// the embedded tree; the raw path is checked because the server does
	// not clean it for us.
	if !fs.ValidPath(name) || strings.Contains(name, "\\") {
		http.NotFound(w, r)
		return
	}
	if st, err := fs.Stat(c.files, name); err != nil || st.IsDir() {
		http.NotFound(w, r) // no directory listing
		return
	}
	b, err := fs.ReadFile(c.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	c.write(w, r, name, b)
}

func (c *Handler) write(w http.ResponseWriter, r *http.Request, name string, b []byte) {
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}
