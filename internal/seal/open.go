package seal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/argon2"
)

// Config says where the seal lives and which kind to use.
type Config struct {
	Dir        string // data dir; the seal state file lives here as DIR/seal.json
	KeyFile    string // root key file; "" = DIR/root.key
	Passphrase string // non-empty selects the passphrase seal (Argon2id)
	// PKCS11, if set, selects the PKCS#11 seal: a key in an HSM wraps the
	// root key.
	PKCS11 *PKCS11Config
	Create bool // true on first start with an empty data dir: create the seal
	// State, if set, keeps the seal state (seal.json's content) instead of
	// DIR/seal.json: the database that the nodes of a cluster share, so
	// that every node opens the same seal or none.
	State StateStore
}

// StateStore keeps a seal's state elsewhere than in the data dir.
type StateStore interface {
	// LoadSealState returns the stored state, or an error wrapping
	// fs.ErrNotExist if there is none.
	LoadSealState(ctx context.Context) ([]byte, error)
	// CreateSealState stores data unless a state is stored already, and
	// returns the state stored afterwards: data, or the state another
	// node stored first.
	CreateSealState(ctx context.Context, data []byte) ([]byte, error)
}

// Errors of Open; compare with errors.Is. The messages name files and
// directories, never key bytes or passphrases.
var (
	ErrNotInitialized  = errors.New("data dir not initialised")
	ErrKindMismatch    = errors.New("seal kind mismatch")
	ErrWrongPassphrase = errors.New("wrong passphrase")
	ErrWrongRootKey    = errors.New("wrong root key")
	ErrRotationPending = errors.New("interrupted seal rotation")
)

const (
	stateFileName   = "seal.json"
	keyFileName     = "root.key"
	kindKeyFile     = "key-file"
	kindPassphrase  = "passphrase"
	kindPKCS11      = "pkcs11"
	stateVersion    = 1
	verifierText    = "openkms root key verifier"
	verifierAAD     = "openkms seal.json verifier v1\x00"
	deriveAAD       = "openkms seal.json derive v1"
	nextSuffix      = ".next"
	keyFileFormat   = "64 hex digits and an optional newline"
	argon2SaltSize  = 16
	maxKeyFileBytes = 2*RootKeySize + 1
)

// argon2Params are the Argon2id cost and salt of a passphrase seal.
type argon2Params struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
}

// argon2Cost is the cost of new passphrase seals: RFC 9106's second
// recommendation (64 MiB), with two lanes. Tests lower it to run fast; an
// existing seal always uses the parameters stored with it.
var argon2Cost = argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

// valid bounds stored parameters, so a damaged seal.json cannot make Open
// allocate gigabytes or spin for hours.
func (p *argon2Params) valid() bool {
	return p.Time >= 1 && p.Time <= 64 &&
		p.Threads >= 1 && p.MemoryKiB >= 8*uint32(p.Threads) && p.MemoryKiB <= 4<<20 &&
		len(p.Salt) >= argon2SaltSize && len(p.Salt) <= 64
}

func (p *argon2Params) key(passphrase string) []byte {
	return argon2.IDKey([]byte(passphrase), p.Salt, p.Time, p.MemoryKiB, p.Threads, RootKeySize)
}

// state is the content of seal.json. Nothing in it is secret.
type state struct {
	Version  int           `json:"version"`
	Kind     string        `json:"kind"`
	Argon2id *argon2Params `json:"argon2id,omitempty"`
	PKCS11   *pkcs11State  `json:"pkcs11,omitempty"`
	// Derive, after a rotation, is the secret DeriveKey uses (the first
	// seal's root key), sealed under this seal's root key.
	Derive   []byte `json:"derive,omitempty"`
	Verifier []byte `json:"verifier"`
}

// kindNames name the seal kinds in errors.
var kindNames = map[string]string{
	kindKeyFile:    "a root key file",
	kindPassphrase: "a passphrase",
	kindPKCS11:     "a PKCS#11 key",
}

// kind returns the seal kind cfg selects.
func (cfg *Config) kind() (string, error) {
	n := 0
	kind := kindKeyFile
	if cfg.KeyFile != "" {
		n++
	}
	if cfg.Passphrase != "" {
		n++
		kind = kindPassphrase
	}
	if cfg.PKCS11 != nil {
		n++
		kind = kindPKCS11
	}
	if n > 1 {
		return "", errors.New("seal: give one of a passphrase, a root key file or a PKCS#11 key")
	}
	return kind, nil
}

// Open returns the Sealer of a data dir.
//
// Without Create, DIR/seal.json must exist, its kind must be the one cfg
// selects, and the key file or passphrase must open its verifier; Open only
// reads. With Create and no seal.json yet, Open creates the seal: for the
// key-file kind it uses KeyFile if that already exists (a key the operator
// provided) and otherwise writes a new random key there; for the passphrase
// kind it derives the key with a fresh salt. It then writes seal.json. With
// Create and an existing seal.json, Open opens it as without Create.
func Open(cfg Config) (*Sealer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("seal: no data dir given")
	}
	kind, err := cfg.kind()
	if err != nil {
		return nil, err
	}
	keyFile := cfg.KeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.Dir, keyFileName)
	}
	statePath := filepath.Join(cfg.Dir, stateFileName)
	if cfg.State != nil {
		return openStored(cfg, kind, keyFile)
	}

	if _, err := os.Stat(statePath + nextSuffix); err == nil {
		return nil, fmt.Errorf("seal: %s%s exists: a seal rotation was interrupted; see the README's \"Seal rotation\" (%w)", statePath, nextSuffix, ErrRotationPending)
	}
	data, err := os.ReadFile(statePath)
	switch {
	case err == nil:
		return openExisting(cfg, kind, keyFile, statePath, data)
	case errors.Is(err, fs.ErrNotExist) && cfg.Create:
		return create(cfg, kind, keyFile, statePath)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("seal: no %s in %s (%w)", stateFileName, cfg.Dir, ErrNotInitialized)
	default:
		return nil, fmt.Errorf("seal: %w", err)
	}
}

func openExisting(cfg Config, kind, keyFile, statePath string, data []byte) (*Sealer, error) {
	st, err := parseState(data)
	if err != nil {
		return nil, fmt.Errorf("seal: %s is damaged: %w", statePath, err)
	}
	sealed := "data dir " + cfg.Dir
	if cfg.State != nil {
		sealed = "the store"
	}
	if st.Kind != kind {
		return nil, fmt.Errorf("seal: %s is sealed with %s, not %s (%w)", sealed, kindNames[st.Kind], kindNames[kind], ErrKindMismatch)
	}

	var root []byte
	switch kind {
	case kindPassphrase:
		root = st.Argon2id.key(cfg.Passphrase)
	case kindPKCS11:
		if root, err = openPKCS11Root(cfg.PKCS11, st.PKCS11); err != nil {
			return nil, err
		}
	default:
		if root, err = readKeyFile(keyFile); err != nil {
			return nil, err
		}
	}
	defer clear(root)
	s, err := New(root)
	if err != nil {
		return nil, err
	}
	if got, err := s.Open(st.Verifier, []byte(verifierAAD+st.Kind)); err != nil || string(got) != verifierText {
		switch kind {
		case kindPassphrase:
			return nil, fmt.Errorf("seal: wrong passphrase for %s (%w)", sealed, ErrWrongPassphrase)
		case kindPKCS11:
			return nil, fmt.Errorf("seal: the PKCS#11 key does not match %s (%w)", sealed, ErrWrongRootKey)
		}
		return nil, fmt.Errorf("seal: root key file %s does not match %s (%w)", keyFile, sealed, ErrWrongRootKey)
	}
	if st.Derive != nil {
		d, err := s.Open(st.Derive, []byte(deriveAAD))
		if err != nil || len(d) != RootKeySize {
			return nil, fmt.Errorf("seal: the seal state of %s is damaged: its derivation key does not open (%w)", sealed, ErrWrongRootKey)
		}
		copy(s.derive[:], d)
		clear(d)
	}
	return s, nil
}

// parseState strictly decodes seal.json.
func parseState(data []byte) (*state, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st state
	if err := dec.Decode(&st); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("unsupported version %d", st.Version)
	}
	switch st.Kind {
	case kindKeyFile:
		if st.Argon2id != nil || st.PKCS11 != nil {
			return nil, errors.New("argon2id or pkcs11 parameters in a key-file seal")
		}
	case kindPassphrase:
		if st.Argon2id == nil || !st.Argon2id.valid() || st.PKCS11 != nil {
			return nil, errors.New("missing or out-of-range argon2id parameters")
		}
	case kindPKCS11:
		if st.PKCS11 == nil || st.PKCS11.KeyLabel == "" || len(st.PKCS11.Wrapped) == 0 || st.Argon2id != nil {
			return nil, errors.New("missing pkcs11 parameters")
		}
	default:
		return nil, fmt.Errorf("unknown kind %q", st.Kind)
	}
	if len(st.Verifier) == 0 {
		return nil, errors.New("no verifier")
	}
	return &st, nil
}

// readKeyFile reads a root key in the documented text form. Errors never
// quote the file's content.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: cannot read root key file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, maxKeyFileBytes+1)
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("seal: cannot read root key file: %w", err)
	}
	text := bytes.TrimSuffix(buf[:n], []byte("\n"))
	root := make([]byte, RootKeySize)
	if len(text) != 2*RootKeySize {
		return nil, fmt.Errorf("seal: root key file %s is malformed: want %s (%w)", path, keyFileFormat, ErrWrongRootKey)
	}
	if _, err := hex.Decode(root, text); err != nil || allZero(root) {
		clear(root)
		return nil, fmt.Errorf("seal: root key file %s is malformed: want %s (%w)", path, keyFileFormat, ErrWrongRootKey)
	}
	return root, nil
}

func allZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// openStored opens (or, with cfg.Create, makes) the seal whose state
// cfg.State keeps. Two nodes creating at once agree: the state stored
// first wins, and the other node opens it as any later node does.
func openStored(cfg Config, kind, keyFile string) (*Sealer, error) {
	ctx := context.Background()
	where := "the store"
	data, err := cfg.State.LoadSealState(ctx)
	switch {
	case err == nil:
		return openExisting(cfg, kind, keyFile, where, data)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("seal: reading the seal state: %w", err)
	case !cfg.Create:
		return nil, fmt.Errorf("seal: no seal state in %s (%w)", where, ErrNotInitialized)
	}
	s, data, err := newState(cfg, kind, keyFile, nil)
	if err != nil {
		return nil, err
	}
	stored, err := cfg.State.CreateSealState(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("seal: storing the seal state: %w", err)
	}
	if bytes.Equal(stored, data) {
		return s, nil
	}
	return openExisting(cfg, kind, keyFile, where, stored)
}

// create makes a new seal in cfg.Dir. On failure it leaves no seal.json.
func create(cfg Config, kind, keyFile, statePath string) (*Sealer, error) {
	s, data, err := newState(cfg, kind, keyFile, nil)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(statePath, data); err != nil {
		return nil, fmt.Errorf("seal: writing %s: %w", statePath, err)
	}
	return s, nil
}

// newState makes a new seal: its root key (from the passphrase, or the key
// file, written with a fresh key if missing) and its state.
// With derive (a rotation), DeriveKey of the new Sealer derives from it,
// and the state keeps it sealed under the new root key.
func newState(cfg Config, kind, keyFile string, derive []byte) (*Sealer, []byte, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("seal: %w", err)
	}
	st := state{Version: stateVersion, Kind: kind}
	var root []byte
	var err error
	switch kind {
	case kindPassphrase:
		p := argon2Cost
		p.Salt = make([]byte, argon2SaltSize)
		if _, err := rand.Read(p.Salt); err != nil {
			return nil, nil, err
		}
		st.Argon2id = &p
		root = p.key(cfg.Passphrase)
	case kindPKCS11:
		if root, st.PKCS11, err = newPKCS11Root(cfg.PKCS11); err != nil {
			return nil, nil, err
		}
	default:
		root, err = readKeyFile(keyFile)
		if errors.Is(err, fs.ErrNotExist) {
			root, err = writeNewKeyFile(keyFile)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	defer clear(root)

	s, err := New(root)
	if err != nil {
		return nil, nil, err
	}
	if st.Verifier, err = s.Seal([]byte(verifierText), []byte(verifierAAD+kind)); err != nil {
		return nil, nil, err
	}
	if derive != nil {
		copy(s.derive[:], derive)
		if st.Derive, err = s.Seal(derive, []byte(deriveAAD)); err != nil {
			return nil, nil, err
		}
	}
	data, err := json.MarshalIndent(&st, "", "\t")
	if err != nil {
		return nil, nil, err
	}
	return s, append(data, '\n'), nil
}

// writeNewKeyFile writes a fresh random root key to path, which must not
// exist (O_EXCL: never overwrite a key that may protect other data).
func writeNewKeyFile(path string) ([]byte, error) {
	root := make([]byte, RootKeySize)
	if _, err := rand.Read(root); err != nil {
		return nil, err
	}
	text := make([]byte, 2*RootKeySize+1)
	defer clear(text)
	hex.Encode(text, root)
	text[len(text)-1] = '\n'

	err := writeNew(path, text)
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		clear(root)
		return nil, fmt.Errorf("seal: writing root key file %s: %w", path, err)
	}
	return root, nil
}

// writeNew creates path with mode 0600, writes data and fsyncs it. If that
// fails after the file was created, the file is removed.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// writeFileAtomic replaces path with data: a crash leaves either the old
// file or the complete new one, never a torn one.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a directory entry change (create, rename) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Rotate moves the data dir of old (opened from DIR/seal.json) to the seal
// that cfg selects, with a new random root key (or, for a key file, the
// one in cfg.KeyFile, written fresh if missing; it must differ from the
// old one). reseal must re-seal, in one transaction, every value sealed
// under old so that the new Sealer opens it; Rotate calls it between
// writing the new state to DIR/seal.json.next and renaming that over
// DIR/seal.json. Open refuses to start while seal.json.next exists: a
// crash in between leaves it for the operator (see the README).
//
// The new seal's DeriveKey gives the same keys as old's.
func Rotate(old *Sealer, cfg Config, reseal func(next *Sealer) error) (*Sealer, error) {
	if cfg.Dir == "" || cfg.State != nil {
		return nil, errors.New("seal: Rotate works on a data dir's seal.json only")
	}
	kind, keyFile, err := rotationTarget(cfg)
	if err != nil {
		return nil, err
	}
	next, data, err := newState(cfg, kind, keyFile, old.derive[:])
	if err != nil {
		return nil, err
	}
	if next.cur.Load().root == old.cur.Load().root {
		return nil, errors.New("seal: the new seal has the same root key as the old one")
	}
	statePath := filepath.Join(cfg.Dir, stateFileName)
	if err := writeNew(statePath+nextSuffix, data); err != nil {
		return nil, fmt.Errorf("seal: writing %s%s: %w", statePath, nextSuffix, err)
	}
	if err := reseal(next); err != nil {
		os.Remove(statePath + nextSuffix)
		return nil, err
	}
	if err := os.Rename(statePath+nextSuffix, statePath); err != nil {
		return nil, fmt.Errorf("seal: the secrets are re-sealed, but renaming %s%s over %s failed (do it by hand): %w", statePath, nextSuffix, statePath, err)
	}
	if err := syncDir(cfg.Dir); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return next, nil
}

// rotationTarget is the kind and key file of the seal a rotation moves to.
// A key file must be named, and must not be the data dir's current one.
func rotationTarget(cfg Config) (kind, keyFile string, err error) {
	kind, err = cfg.kind()
	if err != nil {
		return "", "", err
	}
	keyFile = cfg.KeyFile
	if kind == kindKeyFile {
		if keyFile == "" {
			return "", "", errors.New("seal: rotating to a root key file needs the new file's path (it may not exist yet)")
		}
		if abs, _ := filepath.Abs(keyFile); abs == mustAbs(filepath.Join(cfg.Dir, keyFileName)) {
			if _, err := os.Stat(abs); err == nil {
				return "", "", fmt.Errorf("seal: the new root key file %s is the data dir's current one", keyFile)
			}
		}
	}
	return kind, keyFile, nil
}

// RotateLive is Rotate on the Sealer of a running server: s itself moves to
// the new root key, with no moment at which a value in the store or in use
// cannot be opened. It waits for the values being sealed and stored (Hold)
// and keeps new ones waiting until it is done. While reseal's transaction
// commits, s opens values under either root key; afterwards it seals under
// the new one only, and still opens values under the old one, for those
// read before the rotation and opened after it, until the process exits
// (the old key then opens nothing in the store).
func (s *Sealer) RotateLive(cfg Config, reseal func(next *Sealer) error) error {
	s.writers.Lock()
	defer s.writers.Unlock()
	old, other := s.cur.Load(), s.other.Load()
	resealed := false
	next, err := Rotate(s, cfg, func(next *Sealer) error {
		s.other.Store(next.cur.Load())
		err := reseal(next)
		resealed = err == nil
		return err
	})
	if !resealed {
		s.other.Store(other) // nothing was stored under next
		return err
	}
	// Past reseal, the store holds values under next only, even if
	// seal.json could not be renamed (err says so): seal under next.
	s.cur.Store(next.cur.Load())
	s.other.Store(old)
	return err
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}
