// Package server assembles a running KMS: it opens the seal and the store,
// creates the first account on a new data dir, and serves the API over
// HTTP(S) until its context ends.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/api"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/service"
	"github.com/openkms/kms/internal/sigv4"
	"github.com/openkms/kms/internal/store"
	"github.com/openkms/kms/internal/store/sqlite"
)

// DefaultListen is the address served when none is given.
const DefaultListen = "127.0.0.1:7900"

// Config is everything `kms server` can be told.
type Config struct {
	DataDir      string
	Listen       string
	AccountID    string
	Regions      []string // empty allows every region
	TLSCert      string
	TLSKey       string
	InsecureHTTP bool // allow plain HTTP on a non-loopback address
	SealKeyFile  string
	Passphrase   string
	// RootAccessKeyID and RootSecretAccessKey pin the first account's root
	// credentials on first start (for CI and tests).
	RootAccessKeyID     string
	RootSecretAccessKey string
	// SweepInterval is how often due key deletions run; 0 means a minute.
	SweepInterval time.Duration
	Logger        *slog.Logger
}

// Server is an opened data dir ready to serve.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	sealer  *seal.Sealer
	Service *service.Service
	handler http.Handler

	credMu sync.RWMutex
	creds  map[string]sigv4.Credential // unsealed secrets, by access key id
}

const dbFile = "kms.db"

// Open opens (or, on first start, creates) the data dir.
func Open(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "111122223333"
	}
	if !validAccountID(cfg.AccountID) {
		return nil, fmt.Errorf("account id %q must be 12 digits", cfg.AccountID)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	dbPath := filepath.Join(cfg.DataDir, dbFile)
	_, dbErr := os.Stat(dbPath)
	_, sealErr := os.Stat(filepath.Join(cfg.DataDir, "seal.json"))
	fresh := errors.Is(dbErr, os.ErrNotExist) && errors.Is(sealErr, os.ErrNotExist)
	if !fresh && errors.Is(sealErr, os.ErrNotExist) {
		return nil, fmt.Errorf("data dir %s has a database but no seal.json: refusing to start", cfg.DataDir)
	}
	sealer, err := seal.Open(seal.Config{Dir: cfg.DataDir, KeyFile: cfg.SealKeyFile, Passphrase: cfg.Passphrase, Create: fresh})
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(dbPath)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, store: st, sealer: sealer, creds: make(map[string]sigv4.Credential)}
	if err := s.bootstrap(context.Background()); err != nil {
		st.Close()
		return nil, err
	}
	s.Service = service.New(service.Config{Store: st, Sealer: sealer, Logger: cfg.Logger})
	var regionOK func(string) bool
	if len(cfg.Regions) > 0 {
		regionOK = func(r string) bool {
			for _, a := range cfg.Regions {
				if a == r {
					return true
				}
			}
			return false
		}
	}
	s.handler = &api.Handler{
		Service:  s.Service,
		Verifier: &sigv4.Verifier{Service: "kms", Lookup: s.lookupCredential, Region: regionOK},
		Log:      cfg.Logger,
	}
	return s, nil
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Close wipes in-memory secrets and closes the store.
func (s *Server) Close() error {
	s.Service.Close()
	s.credMu.Lock()
	for _, c := range s.creds {
		clear(c.Secret)
	}
	clear(s.creds)
	s.credMu.Unlock()
	return s.store.Close()
}

// bootstrap makes sure the configured account exists with root credentials,
// written to DIR/credentials. It is idempotent, so a crash halfway through
// a first start is finished by the next start.
func (s *Server) bootstrap(ctx context.Context) error {
	_, err := s.store.GetAccount(ctx, s.cfg.AccountID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	id, secret := s.cfg.RootAccessKeyID, s.cfg.RootSecretAccessKey
	if (id == "") != (secret == "") {
		return errors.New("KMS_ROOT_ACCESS_KEY_ID and KMS_ROOT_SECRET_ACCESS_KEY must be set together")
	}
	if id == "" {
		id, secret = newAccessKeyID(), newSecretAccessKey()
	}
	if err := writeCredentials(filepath.Join(s.cfg.DataDir, "credentials"), id, secret); err != nil {
		return err
	}
	sealed, err := s.sealer.Seal([]byte(secret), accessKeyAAD(id))
	if err != nil {
		return err
	}
	root := kms.RootPrincipal(s.cfg.AccountID, id)
	now := time.Now().UTC()
	if err := s.store.PutAccessKey(ctx, store.AccessKey{ID: id, Account: s.cfg.AccountID, PrincipalARN: root.ARN, SealedSecret: sealed, Active: true, Created: now}); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	// The account row goes last: its presence marks bootstrap as done.
	if err := s.store.CreateAccount(ctx, store.Account{ID: s.cfg.AccountID, Created: now}); err != nil {
		return err
	}
	s.log.Info("account created", "account", s.cfg.AccountID, "access_key_id", id,
		"credentials_file", filepath.Join(s.cfg.DataDir, "credentials"))
	return nil
}

func accessKeyAAD(id string) []byte { return []byte("kms-access-key\x00" + id) }

// lookupCredential finds an access key for SigV4, caching the unsealed
// secret so the hot path does not read the store.
func (s *Server) lookupCredential(ctx context.Context, id, token string) (sigv4.Credential, error) {
	s.credMu.RLock()
	c, ok := s.creds[id]
	s.credMu.RUnlock()
	if ok {
		return c, nil
	}
	ak, err := s.store.GetAccessKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !ak.Active {
		return c, sigv4.ErrUnknownAccessKey
	}
	if err != nil {
		return c, err
	}
	secret, err := s.sealer.Open(ak.SealedSecret, accessKeyAAD(id))
	if err != nil {
		return c, fmt.Errorf("unseal access key %s: %w", id, err)
	}
	c = sigv4.Credential{Secret: secret, Principal: kms.RootPrincipal(ak.Account, id)}
	s.credMu.Lock()
	s.creds[id] = c
	s.credMu.Unlock()
	return c, nil
}

// writeCredentials writes an AWS shared-credentials file, mode 0600, via a
// temporary file so a crash never leaves half of one.
func writeCredentials(path, id, secret string) error {
	content := "[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n"
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func newAccessKeyID() string {
	var b [10]byte
	rand.Read(b[:])
	return "AKIA" + base32.StdEncoding.EncodeToString(b[:])[:16]
}

func newSecretAccessKey() string {
	var b [30]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:]) // 40 characters, like AWS's
}

func validAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Listen opens the configured address, refusing plain HTTP off loopback
// unless explicitly allowed.
func (s *Server) Listen() (net.Listener, error) {
	addr := s.cfg.Listen
	if addr == "" {
		addr = DefaultListen
	}
	tlsOn := s.cfg.TLSCert != "" || s.cfg.TLSKey != ""
	if tlsOn && (s.cfg.TLSCert == "" || s.cfg.TLSKey == "") {
		return nil, errors.New("--tls-cert and --tls-key must be given together")
	}
	if !tlsOn && !s.cfg.InsecureHTTP && !loopback(addr) {
		return nil, fmt.Errorf("refusing plain HTTP on non-loopback address %s: plaintext data keys travel in responses; give --tls-cert/--tls-key or --insecure-http", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			ln.Close()
			return nil, err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	return ln, nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve serves the API on ln until ctx ends, then drains in-flight requests
// (up to 30 seconds) and returns. Due key deletions run in the background.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.sweep(sweepCtx)
	}()
	defer func() {
		stopSweep()
		wg.Wait()
	}()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) sweep(ctx context.Context) {
	every := s.cfg.SweepInterval
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.Service.SweepDeletions(ctx, time.Now()); err != nil {
			s.log.Error("deleting due keys", "err", err, "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
