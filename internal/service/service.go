// Package service implements the KMS operations: one method per operation,
// each taking the authenticated caller and the request shape. It is the only
// place that orders the checks of a request: resolve the key, authorize,
// check state and usage, then act (spec §1.7).
package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/store"
)

// Config configures a Service.
type Config struct {
	Store  store.Store
	Sealer *seal.Sealer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheSize bounds the number of keys kept unsealed in memory.
	CacheSize int
	// CacheTrusted, if set, says whether cached keys and aliases may be
	// used now: a node of a cluster that may have missed another node's
	// change (its change feed is down) loads every key for each request
	// until it is back. nil means always.
	CacheTrusted func() bool
	Logger       *slog.Logger
	// Identities supplies the IAM policies of callers; nil means callers
	// have none (so only account roots and key policies that name a
	// principal directly allow anything).
	Identities Identities
	// Audit records the actions the server takes by itself; nil records
	// nothing.
	Audit Auditor
	// Trail reads the audit trail for LookupEvents and GetKeyLastUsage;
	// nil makes them unsupported.
	Trail Trail
	// AllowCustomKeyIDs honours LocalStack's _custom_id_ and
	// _custom_key_material_ CreateKey tags (see customkeys.go); off, they
	// are refused.
	AllowCustomKeyIDs bool
}

// Identities is the IAM side of authorization (package identity).
type Identities interface {
	// Policies returns the identity policies that apply to p, parsed. It is
	// called on every request and must answer from memory.
	Policies(ctx context.Context, p kms.Principal) ([]*policy.Document, error)
}

// Service runs KMS operations against a store.
type Service struct {
	store     store.Store
	sealer    *seal.Sealer
	now       func() time.Time
	log       *slog.Logger
	cache     *keyCache
	markerKey []byte
	grantKey  []byte
	ids       Identities
	audit     Auditor
	trail     Trail
	customIDs bool // Config.AllowCustomKeyIDs

	// mu serializes changes, so a read-modify-write of a key or alias
	// never loses a concurrent update. Reads and crypto do not take it.
	mu sync.Mutex
}

// Caller is who sent a request and where.
type Caller struct {
	Principal kms.Principal
	Region    string
	// SecureTransport says the request came over TLS (aws:SecureTransport).
	SecureTransport bool
	RequestID       string
	SourceIP        string
	UserAgent       string
	// SourceArn is the resource an AWS service acts for: the signed
	// X-Amz-Source-Arn header, "" when absent or unsigned. It is matched
	// against grants' SourceArn constraint and sets aws:SourceArn.
	SourceArn string
	// Quota, when set, charges the request to the request-rate quota of a
	// key spec: the spec of the first key it resolves, or of the data key
	// pair it makes. It is called once at most, before the key is used.
	Quota func(spec string) error

	charged bool
	// keys are the ARNs of the keys the request resolved, for its audit
	// record.
	keys []string
}

// Keys returns the ARNs of the keys the request used, in the order it
// resolved them.
func (c *Caller) Keys() []string { return c.keys }

// chargeQuota charges the request to the quota of spec, once.
func (c *Caller) chargeQuota(spec string) error {
	if c.Quota == nil || c.charged {
		return nil
	}
	c.charged = true
	return c.Quota(spec)
}

func (c *Caller) noteKey(arn string) {
	for _, k := range c.keys {
		if k == arn {
			return
		}
	}
	c.keys = append(c.keys, arn)
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{
		store:     cfg.Store,
		sealer:    cfg.Sealer,
		now:       cfg.Now,
		log:       cfg.Logger,
		cache:     newKeyCache(cfg.CacheSize, cfg.CacheTrusted),
		markerKey: cfg.Sealer.DeriveKey("pagination-marker"),
		grantKey:  cfg.Sealer.DeriveKey("grant-token"),
		ids:       cfg.Identities,
		audit:     cfg.Audit,
		customIDs: cfg.AllowCustomKeyIDs,
		trail:     cfg.Trail,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Close wipes every unsealed key held in memory.
func (s *Service) Close() { s.cache.purge() }

// InvalidateKey drops a key from the cache after a change made elsewhere
// (another node of a cluster); changes made through s drop it already.
func (s *Service) InvalidateKey(id string) { s.cache.invalidateKey(id) }

// InvalidateAliases drops every cached alias resolution after an alias
// change made elsewhere.
func (s *Service) InvalidateAliases() { s.cache.invalidateAliases() }

// Purge drops (and wipes) every cached key and alias, as after changes
// made elsewhere that this node cannot tell apart.
func (s *Service) Purge() { s.cache.purge() }

// CacheStats reports the key cache's use, for metrics.
func (s *Service) CacheStats() CacheStats { return s.cache.stats() }

// --- key identifiers ---

// lookup resolves a key identifier (spec §3.3) to an acquired cache entry;
// callers must release it. allowAlias says whether the operation accepts
// alias names and alias ARNs.
func (s *Service) lookup(ctx context.Context, c *Caller, id string, allowAlias bool) (*keyEntry, error) {
	e, err := s.resolve(ctx, c, id, allowAlias)
	if err != nil {
		return nil, err
	}
	return s.charged(c, e)
}

// charged names an acquired key in the caller's audit record and charges
// the request to its key family's quota; a throttled request releases it.
func (s *Service) charged(c *Caller, e *keyEntry) (*keyEntry, error) {
	c.noteKey(e.key.ARN())
	if err := c.chargeQuota(string(e.key.Spec)); err != nil {
		s.cache.release(e)
		return nil, err
	}
	return e, nil
}

func (s *Service) resolve(ctx context.Context, c *Caller, id string, allowAlias bool) (*keyEntry, error) {
	switch {
	case strings.HasPrefix(id, "arn:"):
		a, err := parseARN(id)
		if err != nil {
			return nil, err
		}
		if a.region != c.Region {
			return nil, kms.Errorf(kms.ErrNotFound, "Invalid arn %s", a.region)
		}
		if name, ok := strings.CutPrefix(a.resource, "alias/"); ok {
			if !allowAlias {
				return nil, kms.Errorf(kms.ErrInvalidArn, "Key Aliases are not supported for this operation.")
			}
			return s.lookupAlias(ctx, a.account, a.region, "alias/"+name, a.account == c.Principal.Account)
		}
		keyID, _ := strings.CutPrefix(a.resource, "key/")
		return s.lookupID(ctx, a.account, a.region, keyID)
	case strings.HasPrefix(id, "alias/"):
		if !allowAlias {
			return nil, kms.Errorf(kms.ErrNotFound, "Invalid keyId '%s'", id)
		}
		return s.lookupAlias(ctx, c.Principal.Account, c.Region, id, true)
	}
	return s.lookupID(ctx, c.Principal.Account, c.Region, id)
}

func (s *Service) lookupID(ctx context.Context, account, region, id string) (*keyEntry, error) {
	if !validKeyID(id) {
		return nil, kms.Errorf(kms.ErrNotFound, "Invalid keyId '%s'", id)
	}
	e, err := s.acquire(ctx, kms.RowID(region, id))
	if err == nil && (e.key.Account != account || e.key.Region != region) {
		s.cache.release(e)
		err = errKeyNotFound
	}
	if errors.Is(err, errKeyNotFound) {
		return nil, kms.Errorf(kms.ErrNotFound, "Key '%s' does not exist", kms.KeyARN(region, account, id))
	}
	return e, err
}

var errKeyNotFound = errors.New("key not found")

// lookupAlias resolves an alias. With own (the alias is in the caller's
// account) a predefined alias/aws/<service> makes its AWS managed key on
// first use. It must not be called with s.mu held.
func (s *Service) lookupAlias(ctx context.Context, account, region, name string, own bool) (*keyEntry, error) {
	ref := aliasRef{account, region, name}
	keyID, gen, ok := s.cache.alias(ref)
	if !ok {
		a, err := s.store.GetAlias(ctx, account, region, name)
		if errors.Is(err, store.ErrNotFound) {
			if own {
				if e, ok, err := s.managedKey(ctx, account, region, name); ok {
					return e, err
				}
			}
			return nil, kms.Errorf(kms.ErrNotFound, "Alias %s is not found.", kms.AliasARN(region, account, name))
		}
		if err != nil {
			return nil, kms.Internal(err)
		}
		keyID = a.TargetKeyID
		s.cache.putAlias(ref, keyID, gen)
	}
	e, err := s.acquire(ctx, keyID)
	if errors.Is(err, errKeyNotFound) {
		return nil, kms.Errorf(kms.ErrNotFound, "Alias %s is not found.", kms.AliasARN(region, account, name))
	}
	return e, err
}

// acquire returns the cache entry of a key id, loading it on a miss.
func (s *Service) acquire(ctx context.Context, id string) (*keyEntry, error) {
	e, gen := s.cache.acquire(id)
	if e != nil && s.materialExpired(&e.key) {
		// Cached before its material expired: load it again, expired.
		s.cache.release(e)
		s.cache.invalidateKey(id)
		e, gen = s.cache.acquire(id)
	}
	if e != nil {
		return e, nil
	}
	u, err := s.store.GetKeyForUse(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errKeyNotFound
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	if s.materialExpired(&u.Key) {
		// From its ValidTo on the key is PendingImport and its material
		// unusable, whenever the sweep (SweepExpiredMaterial) deletes it.
		u.Key.State, u.Current = kms.KeyStatePendingImport, nil
	}
	return s.cache.insert(u, gen), nil
}

// materialExpired reports whether k's imported material has reached its
// ValidTo while k is still enabled or disabled (not yet swept).
func (s *Service) materialExpired(k *kms.Key) bool {
	return !k.ValidTo.IsZero() && (k.State == kms.KeyStateEnabled || k.State == kms.KeyStateDisabled) &&
		!s.now().Before(k.ValidTo)
}

type arn struct{ region, account, resource string }

func parseARN(s string) (arn, error) {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] != kms.Partition || p[2] != "kms" || p[3] == "" || p[4] == "" ||
		!(strings.HasPrefix(p[5], "key/") || strings.HasPrefix(p[5], "alias/")) {
		return arn{}, kms.Errorf(kms.ErrInvalidArn, "Invalid arn %s", s)
	}
	return arn{region: p[3], account: p[4], resource: p[5]}, nil
}

// validKeyID reports whether s is a lowercase UUID or a multi-Region key id
// (mrk- and 32 lowercase hex digits).
func validKeyID(s string) bool {
	if h, ok := strings.CutPrefix(s, kms.MultiRegionPrefix); ok {
		return len(h) == 32 && isLowerHex(h)
	}
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validRowID reports whether s is a store id made by kms.RowID.
func validRowID(s string) bool {
	id, region, ok := strings.Cut(s, "@")
	multi := strings.HasPrefix(id, kms.MultiRegionPrefix)
	return validKeyID(id) && ok == multi && (!ok || region != "")
}

// --- authorization and state ---

// usable checks that a key's state allows cryptographic use (spec §4.3).
func usable(k *kms.Key) error {
	switch k.State {
	case kms.KeyStateEnabled, kms.KeyStateUpdating:
		return nil
	case kms.KeyStateDisabled:
		return kms.Errorf(kms.ErrDisabled, "%s is disabled.", k.ARN())
	}
	return stateError(k)
}

func stateError(k *kms.Key) error {
	var what string
	switch k.State {
	case kms.KeyStatePendingDeletion, kms.KeyStatePendingReplicaDeletion:
		what = "pending deletion"
	case kms.KeyStatePendingImport:
		what = "pending import"
	default:
		what = strings.ToLower(string(k.State))
	}
	return kms.Errorf(kms.ErrInvalidState, "%s is %s.", k.ARN(), what)
}

var errDryRun = kms.Errorf(kms.ErrDryRunOperation, "The request would have succeeded, but the DryRun option is set.")

func errRecipient() error {
	return kms.Errorf(kms.ErrUnsupportedOperation, "Recipient is not supported by this server.")
}

// --- material ---

// material returns the unsealed material version id of a cached key. An
// imported material is refused from its ValidTo on, whenever the sweep
// deletes it.
func (s *Service) material(ctx context.Context, e *keyEntry, id string) (*keys.SymmetricKey, error) {
	if m, validTo := e.material(id); m != nil {
		return m, s.checkValidTo(e, id, validTo)
	}
	b, validTo, err := s.unseal(ctx, e, id)
	if b == nil || err != nil {
		return nil, err
	}
	m, err := keys.SymmetricKeyFromBytes(b)
	clear(b)
	if err != nil {
		return nil, kms.Internal(fmt.Errorf("material of key %s: %w", e.key.ID, err))
	}
	return e.addMaterial(id, m, validTo), s.checkValidTo(e, id, validTo)
}

func (s *Service) checkValidTo(e *keyEntry, id string, validTo time.Time) error {
	if !validTo.IsZero() && !s.now().Before(validTo) {
		return kms.Errorf(kms.ErrInvalidState, "The key material %s of %s expired at %s.", id, e.key.ARN(), validTo.UTC().Format(time.RFC3339))
	}
	return nil
}

// unseal reads and unseals material version id of a key, with its ValidTo;
// nil bytes and no error if the version does not exist. Callers clear the
// bytes after use.
func (s *Service) unseal(ctx context.Context, e *keyEntry, id string) ([]byte, time.Time, error) {
	var sm store.Material
	if e.current != nil && e.current.ID == id {
		sm = *e.current // read with the key
	} else {
		var err error
		sm, err = s.store.GetMaterial(ctx, e.key.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, time.Time{}, nil
		}
		if err != nil {
			return nil, time.Time{}, kms.Internal(err)
		}
	}
	b, err := s.sealer.Open(sm.Sealed, materialAAD(e.key.ID, id))
	if err != nil {
		return nil, time.Time{}, kms.Internal(fmt.Errorf("unseal material of key %s: %w", e.key.ID, err))
	}
	return b, sm.ValidTo, nil
}

// materialAAD binds sealed material to its key and version, so sealed
// blobs cannot be swapped between rows. It names the key id, not the
// store id: the copies of a multi-Region key share their sealed material.
// MaterialAAD is the additional data a key material is sealed with, for
// tools that re-seal it (`kms seal rotate`).
func MaterialAAD(keyID, materialID string) []byte { return materialAAD(keyID, materialID) }

func materialAAD(keyID, materialID string) []byte {
	return []byte("kms-material\x00" + kms.KeyIDOf(keyID) + "\x00" + materialID)
}

// newMaterial creates and seals a fresh material version for a key of
// spec: an AES key, an HMAC key, or a key pair (which has passed its
// pair-wise consistency test) as PKCS#8.
func (s *Service) newMaterial(keyID string, spec kms.KeySpec) (*store.Material, error) {
	return sealNewMaterial(s.sealer, keyID, spec, s.now())
}

func sealNewMaterial(sealer *seal.Sealer, keyID string, spec kms.KeySpec, now time.Time) (*store.Material, error) {
	var b []byte
	switch {
	case spec == kms.KeySpecSymmetricDefault:
		k, err := keys.NewSymmetricKey()
		if err != nil {
			return nil, err
		}
		defer k.Zero()
		b = k.Bytes()
	case keys.IsHMAC(spec):
		k, err := keys.NewHMACKey(spec)
		if err != nil {
			return nil, err
		}
		defer k.Zero()
		b = k.Bytes()
	default:
		k, err := keys.GenerateKeyPair(spec)
		if err != nil {
			return nil, err
		}
		if b, err = k.Marshal(); err != nil {
			return nil, err
		}
	}
	defer clear(b)
	mid, err := keys.NewMaterialID()
	if err != nil {
		return nil, err
	}
	sealed, err := sealer.Seal(b, materialAAD(keyID, mid.String()))
	if err != nil {
		return nil, err
	}
	return &store.Material{KeyID: keyID, ID: mid.String(), Sealed: sealed, Created: now.UTC()}, nil
}

// --- pagination markers ---

// newMarker returns an opaque marker for op that resumes after last. The
// MAC stops clients from forging markers or moving them between operations.
func (s *Service) newMarker(op, last string) string {
	payload := []byte(op + "\x00" + last)
	m := hmac.New(sha256.New, s.markerKey)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(append(payload, m.Sum(nil)[:16]...))
}

func (s *Service) parseMarker(op string, marker *string) (string, error) {
	if marker == nil {
		return "", nil
	}
	bad := kms.Errorf(kms.ErrInvalidMarker, "Invalid marker: %s", *marker)
	// Strict decoding (which still skips CR and LF), so each marker has
	// exactly one spelling.
	b, err := base64.RawURLEncoding.Strict().DecodeString(*marker)
	if err != nil || len(b) < 16 || strings.ContainsAny(*marker, "\r\n") {
		return "", bad
	}
	payload, tag := b[:len(b)-16], b[len(b)-16:]
	m := hmac.New(sha256.New, s.markerKey)
	m.Write(payload)
	if !hmac.Equal(tag, m.Sum(nil)[:16]) {
		return "", bad
	}
	gotOp, last, ok := strings.Cut(string(payload), "\x00")
	if !ok || gotOp != op {
		return "", bad
	}
	return last, nil
}

func pageLimit(l *int32, def, max int) int {
	if l == nil {
		return def
	}
	return min(int(*l), max)
}
