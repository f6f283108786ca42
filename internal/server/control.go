package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/openkms/kms/internal/seal"
)

// The control socket: DATA_DIR/control.sock, through which commands run
// beside a server (`kms seal rotate`) ask it to act. Its only
// authentication is the operating system's: the socket is the owner's
// alone (mode 0600, in the data dir), and on Linux the peer must run as
// the server's user or root. Whoever passes that can read the data dir
// and its root key file anyway.
const controlSocket = "control.sock"

// ControlSocket is the path of a data dir's control socket.
func ControlSocket(dataDir string) string { return filepath.Join(dataDir, controlSocket) }

// maxControlBody bounds a control request: a seal's settings are small.
const maxControlBody = 64 << 10

// sealRotateRequest is the body of POST /seal/rotate: the new seal. The
// passphrase and the PIN travel only over the socket, never on a command
// line.
type sealRotateRequest struct {
	KeyFile    string             `json:"key_file,omitempty"`
	Passphrase string             `json:"passphrase,omitempty"`
	PKCS11     *seal.PKCS11Config `json:"pkcs11,omitempty"`
}

type controlAnswer struct {
	Resealed int    `json:"resealed"`
	Error    string `json:"error,omitempty"`
}

// listenControl opens the control socket of the embedded store's data
// dir; nil, nil on a cluster node or where the path is too long for a
// socket (the server then runs without it, and says so). Serve runs
// without it on an error too.
func (s *Server) listenControl() (net.Listener, error) {
	if s.cfg.Store != "" {
		return nil, nil
	}
	path := ControlSocket(s.cfg.DataDir)
	// Made in a private directory, given its mode, then moved into place:
	// it is never reachable with the umask's mode.
	tmp, err := os.MkdirTemp(s.cfg.DataDir, ".control-")
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.Remove(tmp)
	made := filepath.Join(tmp, controlSocket)
	if len(made) >= 104 { // sun_path: 108 bytes on Linux, 104 on the BSDs
		s.log.Warn("no control socket: the data dir's path is too long for one; `kms seal rotate` then needs the server stopped", "path", path)
		return nil, nil
	}
	// The data dir's lock is held: a socket file there is a dead server's.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln, err := net.Listen("unix", made)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // serveControl removes path
	err = os.Chmod(made, 0o600)
	if err == nil {
		err = os.Rename(made, path)
	}
	if err != nil {
		ln.Close()
		os.Remove(made)
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// controlHandler serves the control socket.
func (s *Server) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /seal/rotate", func(w http.ResponseWriter, r *http.Request) {
		var req sealRotateRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeControl(w, http.StatusBadRequest, controlAnswer{Error: "bad request: " + err.Error()})
			return
		}
		next := Config{SealKeyFile: req.KeyFile, Passphrase: req.Passphrase, PKCS11: req.PKCS11}
		n, err := s.RotateSealLive(next)
		if err != nil {
			writeControl(w, http.StatusConflict, controlAnswer{Error: err.Error()})
			return
		}
		writeControl(w, http.StatusOK, controlAnswer{Resealed: n})
	})
	return peerCheck(mux)
}

func writeControl(w http.ResponseWriter, code int, a controlAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(a)
}

// serveControl serves ln until the func it returns is called.
func (s *Server) serveControl(ln net.Listener) func() {
	cs := &http.Server{
		Handler:           s.controlHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnContext:       peerContext,
	}
	go cs.Serve(ln)
	return func() {
		// A rotation in progress finishes: it holds the store's writer,
		// which Close waits for anyway.
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cs.Shutdown(sctx)
		os.Remove(ControlSocket(s.cfg.DataDir))
	}
}

// RotateSealOnline asks the server running on dataDir to move to the seal
// of next (as RotateSeal would offline), through its control socket.
func RotateSealOnline(dataDir string, next Config) (int, error) {
	path := ControlSocket(dataDir)
	req := sealRotateRequest{Passphrase: next.Passphrase, PKCS11: next.PKCS11}
	if next.SealKeyFile != "" {
		// The server resolves paths from its own working directory.
		abs, err := filepath.Abs(next.SealKeyFile)
		if err != nil {
			return 0, err
		}
		req.KeyFile = abs
	}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	defer c.CloseIdleConnections()
	resp, err := c.Post("http://kms/seal/rotate", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("the server on %s holds it, and its control socket does not answer: %w", dataDir, err)
	}
	defer resp.Body.Close()
	var a controlAnswer
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxControlBody))
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	if err != nil {
		return 0, fmt.Errorf("the server's answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("the running server refused: %s", a.Error)
	}
	return a.Resealed, nil
}
