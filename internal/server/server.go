// Package server assembles a running KMS: it opens the seal and the store,
// creates the first account on a new data dir, and serves the API over
// HTTP(S) until its context ends.
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openkms/kms/internal/api"
	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/console"
	"github.com/openkms/kms/internal/identity"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/seed"
	"github.com/openkms/kms/internal/service"
	"github.com/openkms/kms/internal/sigv4"
	"github.com/openkms/kms/internal/store"
	"github.com/openkms/kms/internal/store/postgres"
	"github.com/openkms/kms/internal/store/sqlite"
)

// DefaultListen is the address served when none is given.
const DefaultListen = "127.0.0.1:7900"

// Config is everything `kms server` can be told.
type Config struct {
	DataDir string
	// Ephemeral keeps everything in a new temporary directory (under
	// os.TempDir, named EphemeralPrefix...) instead of DataDir, removed by
	// Close or by a failed Open. DataDir, Store and SealKeyFile must then be
	// empty: a dir or database of the caller's would not be removed, and a
	// new root key file would outlive the data it opens.
	Ephemeral bool
	// Store is the URL of the PostgreSQL database of a cluster
	// (postgres://...): keys, identities, the seal's state and the audit
	// trail live there, shared by every node. "" keeps them in DataDir.
	Store        string
	Listen       string
	AccountID    string
	Regions      []string // empty allows every region
	TLSCert      string
	TLSKey       string
	InsecureHTTP bool // allow plain HTTP on a non-loopback address
	SealKeyFile  string
	Passphrase   string
	// PKCS11, if set, selects the PKCS#11 seal (an HSM key wraps the root
	// key); SealKeyFile and Passphrase must then be empty.
	PKCS11 *seal.PKCS11Config
	// RootAccessKeyID and RootSecretAccessKey pin the first account's root
	// credentials on first start (for CI and tests): any pair an SDK signs
	// with, LocalStack's test/test too (identity.CheckPinnedCredentials).
	// A later start with other ones set is refused.
	RootAccessKeyID     string
	RootSecretAccessKey string
	// AllowCustomKeyIDs honours LocalStack's _custom_id_ and
	// _custom_key_material_ CreateKey tags; off, they are refused.
	AllowCustomKeyIDs bool
	// Seed is the content of a seed file (package seed; `kms server
	// --seed`): accounts, keys, aliases and IAM users and roles that Open
	// makes exist, after the store opens and before serving, at every
	// start. nil applies none. Check parses it, so a bad file is refused
	// before anything is written; an entry that conflicts with what is
	// stored makes Open fail with nothing of the file applied.
	Seed []byte
	// seed is Seed parsed, by Open's Check: a seed of 10,000 keys takes a
	// third of a second to parse, so it is parsed once.
	seed *seed.Seed
	// SweepInterval is how often due key deletions run; 0 means a minute.
	SweepInterval time.Duration
	// AuditRetention is how long audit records are kept; 0 keeps them
	// forever. Pruning runs with the sweeps.
	AuditRetention time.Duration
	// AuditSync says which requests are answered only once their audit
	// record is synced ("" means audit.SyncChanges), and
	// AuditSyncInterval how long the others' records may wait for their
	// sync (0 means audit.DefaultSyncInterval).
	AuditSync         audit.SyncMode
	AuditSyncInterval time.Duration
	// AuditFailWrites, if set, is consulted before every audit write and
	// fails it with its error. It is for tests of the fail-closed path.
	AuditFailWrites func() error
	// Quotas turns on AWS's request-rate quotas (ThrottlingException "Rate
	// exceeded"), per account and region, with its adjustments of AWS's
	// defaults; nil (the default) throttles nothing. See api.DefaultQuotas
	// and ParseQuotaConfig.
	Quotas *QuotaConfig
	// Now is the server's clock (session expiry, creation and deletion
	// dates); nil means time.Now. Tests move it. SigV4's clock-skew check
	// always uses the real clock, which clients sign with.
	Now    func() time.Time
	Logger *slog.Logger
	// AdminListen is the address of the admin listener (admin.go):
	// metrics, health and readiness, and with AdminPprof Go's profiler.
	// "" serves none. Off loopback it needs TLS (it serves the API's
	// certificate) or AdminInsecureHTTP; AdminPprof needs loopback.
	AdminListen       string
	AdminInsecureHTTP bool
	AdminPprof        bool
	// NoConsole leaves the web console out: /console/ is then the API's
	// (which answers it as any unknown path).
	NoConsole bool
}

// QuotaConfig adjusts the request-rate quotas, per account or for all.
type QuotaConfig = api.QuotaConfig

// ParseQuotaConfig reads a quota file (YAML or JSON).
func ParseQuotaConfig(b []byte) (*QuotaConfig, error) { return api.ParseQuotaConfig(b) }

// Server is an opened data dir ready to serve.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	store    store.Store
	sealer   *seal.Sealer
	identity *identity.Identity
	Service  *service.Service
	handler  http.Handler
	apiH     *api.Handler // the API alone, inside handler
	// Audit is the audit trail.
	Audit AuditTrail
	lock  *dirLock                                                   // held until Close
	feed  *postgres.Feed                                             // a cluster node's change feed; nil on the embedded store
	lead  func(context.Context) (release func(), ok bool, err error) // nil: always lead

	metrics *metrics
	adminLn net.Listener // ListenAdmin's; Serve serves it
	serving atomic.Bool  // between Serve's start and its shutdown
}

// AuditTrail is what a server needs of its audit trail: the segments and
// SQLite index in the data dir (audit.Log), or a cluster's PostgreSQL
// database (audit.PostgresLog).
type AuditTrail interface {
	Append(ctx context.Context, r *audit.Record) error
	Healthy() error
	Lookup(ctx context.Context, q audit.Query) (events []audit.Event, next string, err error)
	LastUsage(ctx context.Context, keyARN string) (u audit.LastUse, ok bool, err error)
	TrackingStart(ctx context.Context) (time.Time, error)
	Since(ctx context.Context, t time.Time, fn func(audit.Event) error) error
	Prune(ctx context.Context, before time.Time) (int, error)
	Stats() audit.Stats
	Close() error
}

const (
	dbFile          = "kms.db"
	auditFile       = "audit.db"
	credentialsFile = "credentials"
)

// auditSigningLabel derives the key that signs audit checkpoints from the
// root key: sealed like everything else, and never stored.
const auditSigningLabel = "audit-checkpoint-signing"

// AuditSigner returns the audit checkpoint signing key of a sealer.
func AuditSigner(sealer *seal.Sealer) ed25519.PrivateKey {
	seed := sealer.DeriveKey(auditSigningLabel)
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed)
}

// sealConfig is the seal that cfg selects, for the data dir dir.
func (cfg Config) sealConfig(dir string) seal.Config {
	return seal.Config{Dir: dir, KeyFile: cfg.SealKeyFile, Passphrase: cfg.Passphrase, PKCS11: cfg.PKCS11}
}

// openData opens the seal and the store of a data dir. create allows
// making them on a new (empty) data dir; fresh reports that it did.
func openData(cfg Config, create bool) (sealer *seal.Sealer, st store.Store, fresh bool, err error) {
	dbPath := filepath.Join(cfg.DataDir, dbFile)
	_, dbErr := os.Stat(dbPath)
	_, sealErr := os.Stat(filepath.Join(cfg.DataDir, "seal.json"))
	fresh = errors.Is(dbErr, os.ErrNotExist) && errors.Is(sealErr, os.ErrNotExist)
	if !fresh && errors.Is(sealErr, os.ErrNotExist) {
		return nil, nil, false, fmt.Errorf("data dir %s has a database but no seal.json: refusing to start", cfg.DataDir)
	}
	if fresh && !create {
		return nil, nil, false, fmt.Errorf("data dir %s is not initialised: start `kms server` on it first", cfg.DataDir)
	}
	sc := cfg.sealConfig(cfg.DataDir)
	sc.Create = fresh
	sealer, err = seal.Open(sc)
	if err != nil {
		return nil, nil, false, err
	}
	st, err = sqlite.Open(dbPath)
	if err != nil {
		return nil, nil, false, err
	}
	return sealer, st, fresh, nil
}

// EphemeralPrefix begins the name of an ephemeral server's data dir, so
// that one left behind by a kill -9 can be found and removed.
const EphemeralPrefix = "kms-ephemeral-"

// Open opens (or, on first start, creates) the data dir; with
// cfg.Ephemeral, a new temporary one.
func Open(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "111122223333"
	}
	sd, err := cfg.check()
	if err != nil {
		return nil, err
	}
	cfg.seed = sd
	if cfg.Ephemeral {
		dir, err := os.MkdirTemp("", EphemeralPrefix)
		if err != nil {
			return nil, err
		}
		cfg.DataDir = dir
		s, err := openDir(cfg)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		return s, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	return openDir(cfg)
}

// openDir locks and opens the data dir, which exists.
func openDir(cfg Config) (*Server, error) {
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s, err := open(cfg, lock)
	if err != nil {
		lock.abandon()
		return nil, err
	}
	return s, nil
}

// DataDir returns the server's data dir: the temporary one of an
// ephemeral server.
func (s *Server) DataDir() string { return s.cfg.DataDir }

// CredentialsFile returns the path of the first account's root
// credentials (an AWS shared-credentials file, profile default). A cluster
// node that did not make the account has none.
func (s *Server) CredentialsFile() string { return filepath.Join(s.cfg.DataDir, credentialsFile) }

// Check refuses a configuration that could not serve, before anything is
// written to disk: a bad account id, half of a TLS pair or of the pinned
// root credentials, pinned credentials no SDK could sign with, a
// certificate that does not load, plain HTTP off loopback, an ephemeral
// server given a place of the caller's to write to.
func (cfg Config) Check() error {
	_, err := cfg.check()
	return err
}

// check is Check, returning the parsed seed.
func (cfg Config) check() (*seed.Seed, error) {
	if cfg.Ephemeral {
		for _, c := range []struct {
			set  bool
			flag string
		}{{cfg.DataDir != "", "--data-dir (KMS_DATA_DIR)"}, {cfg.Store != "", "--store (KMS_STORE)"}, {cfg.SealKeyFile != "", "--seal-key-file (KMS_SEAL_KEY_FILE)"}, {cfg.PKCS11 != nil, "--seal pkcs11 (KMS_SEAL)"}} {
			if c.set {
				return nil, fmt.Errorf("--ephemeral cannot be combined with %s: an ephemeral server keeps everything in a temporary dir of its own, removed at exit", c.flag)
			}
		}
	}
	if cfg.AccountID != "" && !validAccountID(cfg.AccountID) {
		return nil, fmt.Errorf("account id %q must be 12 digits", cfg.AccountID)
	}
	if (cfg.RootAccessKeyID == "") != (cfg.RootSecretAccessKey == "") {
		return nil, errors.New("KMS_ROOT_ACCESS_KEY_ID and KMS_ROOT_SECRET_ACCESS_KEY (--root-access-key-id, --root-secret-access-key) must be set together")
	}
	if cfg.RootAccessKeyID != "" {
		if err := identity.CheckPinnedCredentials(cfg.RootAccessKeyID, cfg.RootSecretAccessKey); err != nil {
			return nil, fmt.Errorf("pinned root credentials: %w", err)
		}
	}
	if _, err := cfg.tlsConfig(); err != nil {
		return nil, err
	}
	if err := cfg.CheckAdmin(); err != nil {
		return nil, err
	}
	sd, err := cfg.parseSeed()
	if err != nil {
		return nil, err
	}
	return sd, checkStore(cfg.Store)
}

// tlsConfig checks the listen address against the TLS settings and loads
// the certificate; nil means plain HTTP.
func (cfg Config) tlsConfig() (*tls.Config, error) {
	addr := cfg.Listen
	if addr == "" {
		addr = DefaultListen
	}
	tlsOn := cfg.TLSCert != "" || cfg.TLSKey != ""
	if tlsOn && (cfg.TLSCert == "" || cfg.TLSKey == "") {
		return nil, errors.New("--tls-cert and --tls-key must be given together")
	}
	if !tlsOn {
		if !cfg.InsecureHTTP && !loopback(addr) {
			return nil, fmt.Errorf("refusing plain HTTP on non-loopback address %s: plaintext data keys travel in responses; give --tls-cert/--tls-key or --insecure-http", addr)
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// open opens the data dir, whose lock the caller holds, for Open.
func open(cfg Config, lock *dirLock) (*Server, error) {
	sd := cfg.seed
	var err error
	// The server's own account, listed with pinned credentials, is made
	// with them on a first start rather than with random ones.
	if sd != nil && cfg.RootAccessKeyID == "" {
		for _, a := range sd.Accounts {
			if a.ID == cfg.AccountID {
				cfg.RootAccessKeyID, cfg.RootSecretAccessKey = a.AccessKeyID, a.SecretAccessKey
			}
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, lock: lock}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.Store != "" {
		err = s.openCluster()
	} else {
		err = s.openEmbedded()
	}
	if err != nil {
		return nil, err
	}
	s.metrics = newMetrics()
	raw := s.store
	s.store = newTimedStore(raw, s.metrics.reg)
	// A cluster node's caches are used only while its change feed shows
	// it has every other node's changes; feed is set below, before the
	// server serves.
	var trusted func() bool
	if cfg.Store != "" {
		trusted = func() bool { return s.feed != nil && s.feed.Trusted() }
	}
	st, sealer := s.store, s.sealer
	s.identity, err = identity.New(identity.Config{Store: st, Sealer: sealer, Now: s.now, Logger: cfg.Logger, CacheTrusted: trusted})
	if err != nil {
		s.closeBackends()
		return nil, err
	}
	if err := s.bootstrap(context.Background()); err != nil {
		s.identity.Close()
		s.closeBackends()
		return nil, err
	}
	// The seed goes in before the data dir's audit trail opens (which
	// starts a segment), so a refused seed leaves the data dir unchanged.
	if sd != nil {
		err := s.applySeed(context.Background(), sd)
		sd.Wipe()
		s.cfg.Seed = nil // the server keeps no copy of the file's material
		if err != nil {
			s.identity.Close()
			s.closeBackends()
			return nil, err
		}
	}
	if cfg.Store == "" {
		if err := s.openAudit(); err != nil {
			s.identity.Close()
			s.closeBackends()
			return nil, err
		}
	}
	s.Service = service.New(service.Config{Store: st, Sealer: sealer, Now: s.now, Logger: cfg.Logger, Identities: s.identity,
		Audit: s.Audit, Trail: s.Audit, CacheTrusted: trusted, AllowCustomKeyIDs: cfg.AllowCustomKeyIDs})
	if pg, ok := raw.(*postgres.Store); ok {
		s.metrics.watchFeed()
		s.feed = pg.Watch(cfg.Logger, s.changed, func() {
			s.metrics.invalidated("reset")
			s.Service.Purge()
			s.identity.Purge()
		})
	}
	s.registerState()
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
	h := &api.Handler{
		Service:  s.Service,
		Identity: s.identity,
		// The SigV4 skew check keeps the real clock: clients sign with it.
		Verifier: &sigv4.Verifier{Service: "kms", Services: []string{"kms", "iam", "sts", "cloudtrail"}, Lookup: s.identity.Lookup},
		Region:   regionOK,
		Log:      cfg.Logger,
		Audit:    s.Audit,
		Now:      s.now,
		Observer: s.metrics,
	}
	if cfg.Quotas != nil {
		h.Quotas = api.NewQuotas(cfg.Quotas, s.now)
	}
	// The web console shares the API's listener: it is a client of the
	// API, served from the same origin so its signed calls need no CORS.
	consoleRegion := "us-east-1" // a server of any region: the usual default
	if len(cfg.Regions) > 0 {
		consoleRegion = cfg.Regions[0]
	}
	s.apiH = h
	s.handler = h
	if !cfg.NoConsole {
		s.handler = console.Mount(h, console.New(consoleRegion))
	}
	if cfg.Store != "" {
		s.handler = withDeadline(s.handler)
	}
	return s, nil
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Close wipes in-memory secrets and closes the store.
func (s *Server) Close() error {
	if s.feed != nil {
		s.feed.Close()
	}
	s.Service.Close()
	s.identity.Close()
	err := errors.Join(s.closeBackends(), s.lock.unlock())
	if s.cfg.Ephemeral {
		err = errors.Join(err, os.RemoveAll(s.cfg.DataDir))
	}
	return err
}

// closeBackends closes the audit trail and the store.
func (s *Server) closeBackends() error {
	var err error
	if s.Audit != nil {
		err = s.Audit.Close()
	}
	return errors.Join(err, s.store.Close())
}

// openEmbedded opens the seal and the store of the data dir; openAudit
// then opens its audit trail.
func (s *Server) openEmbedded() error {
	sealer, st, _, err := openData(s.cfg, true)
	if err != nil {
		return err
	}
	s.sealer, s.store = sealer, st
	return nil
}

// openAudit opens the audit trail of the data dir.
func (s *Server) openAudit() error {
	cfg, sealer := s.cfg, s.sealer
	var err error
	s.Audit, err = audit.Open(audit.Config{
		Path:         filepath.Join(cfg.DataDir, auditFile),
		Signer:       AuditSigner(sealer),
		Now:          s.now,
		Logger:       cfg.Logger,
		FailWrites:   cfg.AuditFailWrites,
		Sync:         cfg.AuditSync,
		SyncInterval: cfg.AuditSyncInterval,
	})
	if err != nil {
		s.Audit = nil
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// bootstrap makes sure the configured account exists with root credentials,
// written to DIR/credentials. It is idempotent, so a crash halfway through
// a first start is finished by the next start: the credentials file is
// written before the account, whose row identity.CreateAccount writes last.
func (s *Server) bootstrap(ctx context.Context) error {
	_, err := s.store.GetAccount(ctx, s.cfg.AccountID)
	if err == nil {
		if id := s.cfg.RootAccessKeyID; id != "" {
			// Pinning happens only on a new data dir; other credentials
			// pinned later would otherwise be ignored without a word.
			if err := s.identity.CheckRootKey(ctx, s.cfg.AccountID, id, s.cfg.RootSecretAccessKey); err != nil {
				return fmt.Errorf("pinned root credentials are set only when account %s is made, on the first start; "+
					"this data dir has other ones (unset KMS_ROOT_ACCESS_KEY_ID and KMS_ROOT_SECRET_ACCESS_KEY, or --root-access-key-id and --root-secret-access-key, "+
					"or start on a new data dir): %w",
					s.cfg.AccountID, err)
			}
		}
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	id, secret := s.cfg.RootAccessKeyID, s.cfg.RootSecretAccessKey
	if id == "" { // Check saw that both or neither are set
		id, secret = identity.NewAccessKey()
	}
	path := s.CredentialsFile()
	if err := writeCredentials(path, "default", id, secret); err != nil {
		return err
	}
	if _, err := s.identity.CreateAccount(ctx, s.cfg.AccountID, id, secret); err != nil {
		if errors.Is(err, identity.ErrAccountExists) {
			// Another node of the cluster made it first: its credentials
			// file is the one that works.
			os.Remove(path)
			s.log.Info("first account made by another node; its data dir has the credentials", "account", s.cfg.AccountID)
			return nil
		}
		return err
	}
	s.log.Info("root credentials written", "account", s.cfg.AccountID, "credentials_file", path)
	return nil
}

// CreateAccount creates another account with its own root credentials in
// an existing data dir (DataDir, SealKeyFile and Passphrase of cfg are
// used), with a random account id when id is "". It takes the data dir's
// lock, so it refuses with an *InUseError while a server runs there. With
// cfg.Store it adds the account to a cluster's database instead, which its
// running nodes see at once.
func CreateAccount(cfg Config, id string) (identity.RootCredentials, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if id != "" && !validAccountID(id) {
		return identity.RootCredentials{}, fmt.Errorf("account id %q must be 12 digits", id)
	}
	if cfg.Store != "" {
		return createClusterAccount(cfg, id)
	}
	// Not even the lock file goes into a dir that is not a data dir.
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "seal.json")); errors.Is(err, os.ErrNotExist) {
		return identity.RootCredentials{}, fmt.Errorf("data dir %s is not initialised: start `kms server` on it first", cfg.DataDir)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return identity.RootCredentials{}, err
	}
	sealer, st, _, err := openData(cfg, false)
	if err != nil {
		lock.abandon()
		return identity.RootCredentials{}, err
	}
	defer lock.unlock()
	defer st.Close()
	ids, err := identity.New(identity.Config{Store: st, Sealer: sealer, Now: cfg.Now, Logger: cfg.Logger})
	if err != nil {
		return identity.RootCredentials{}, err
	}
	defer ids.Close()
	return createAccount(ids, id)
}

// CreateAccount creates another account with its own root credentials in
// the server's data dir, with a random account id when id is "".
func (s *Server) CreateAccount(id string) (identity.RootCredentials, error) {
	if id != "" && !validAccountID(id) {
		return identity.RootCredentials{}, fmt.Errorf("account id %q must be 12 digits", id)
	}
	return createAccount(s.identity, id)
}

func createAccount(ids *identity.Identity, id string) (identity.RootCredentials, error) {
	ctx := context.Background()
	if id != "" {
		creds, err := ids.CreateAccount(ctx, id, "", "")
		if errors.Is(err, identity.ErrAccountExists) {
			return creds, fmt.Errorf("account %s exists already", id)
		}
		return creds, err
	}
	for {
		creds, err := ids.CreateAccount(ctx, randomAccountID(), "", "")
		if !errors.Is(err, identity.ErrAccountExists) {
			return creds, err
		}
	}
}

func randomAccountID() string {
	var b [12]byte
	rand.Read(b[:])
	for j := range b {
		b[j] = '0' + b[j]%10
	}
	if b[0] == '0' {
		b[0] = '1' // account ids print without surprises as numbers too
	}
	return string(b[:])
}

// writeCredentials writes an AWS shared-credentials file, mode 0600, via a
// temporary file so a crash never leaves half of one.
func writeCredentials(path, profile, id, secret string) error {
	content := CredentialsProfile(profile, id, secret)
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

// CredentialsProfile renders one profile of an AWS shared-credentials file.
func CredentialsProfile(profile, id, secret string) string {
	return "[" + profile + "]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n"
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
	tc, err := s.cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	addr := s.cfg.Listen
	if addr == "" {
		addr = DefaultListen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ln = bufferedListener{ln}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
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
		Handler: s.handler,
		// One deadline for headers and body (ReadHeaderTimeout unset):
		// net/http then sets the read deadline once per request rather
		// than twice, and a slow client is cut off after ReadTimeout
		// either way.
		ReadTimeout:    20 * time.Second,
		WriteTimeout:   30 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnContext:    connContext,
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.sweep(sweepCtx)
	}()
	if s.feed != nil {
		wg.Go(func() { s.countNodes(sweepCtx) })
	}
	defer func() {
		stopSweep()
		wg.Wait()
	}()

	ctl, err := s.listenControl()
	if err != nil {
		// Some file systems (network mounts, some container bind mounts)
		// hold no sockets: the server runs, `kms seal rotate` then needs
		// it stopped.
		s.log.Warn("no control socket; `kms seal rotate` needs the server stopped", "err", err)
	}
	if ctl != nil {
		defer s.serveControl(ctl)()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.serving.Store(true)
	defer s.serving.Store(false)
	if s.adminLn != nil {
		as := &http.Server{
			Handler:           s.AdminHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		go as.Serve(s.adminLn)
		// Closed, not shut down: a profile being taken would hold up the
		// drain of the API for its whole duration.
		defer as.Close()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.serving.Store(false) // readiness fails while the API drains
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
		s.sweepOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepOnce runs the background duties once; in a cluster only on the node
// that holds the duties' lock this round.
func (s *Server) sweepOnce(ctx context.Context) {
	if s.lead != nil {
		release, ok, err := s.lead(ctx)
		if err != nil {
			s.log.Warn("background duties: cannot reach the database", "err", err)
		}
		if !ok {
			return
		}
		defer release()
	}
	if n, err := s.Service.SweepDeletions(ctx, s.now()); err != nil {
		s.log.Error("deleting due keys", "err", err, "deleted", n)
	}
	if n, err := s.Service.SweepExpiredMaterial(ctx, s.now()); err != nil {
		s.log.Error("deleting expired key material", "err", err, "expired", n)
	}
	// Rotations missed while the server was down happen here, at the
	// first sweep after a start.
	if n, err := s.Service.SweepRotations(ctx, s.now()); err != nil {
		s.log.Error("rotating due keys", "err", err, "rotated", n)
	}
	if r := s.cfg.AuditRetention; r > 0 {
		if n, err := s.Audit.Prune(ctx, s.now().Add(-r)); err != nil {
			s.log.Error("pruning audit records", "err", err)
		} else if n > 0 {
			s.log.Info("audit records pruned", "records", n, "retention", r)
		}
	}
}
