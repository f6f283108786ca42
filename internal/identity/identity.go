package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/sigv4"
	"github.com/openkms/kms/internal/store"
)

// Config configures an Identity.
type Config struct {
	Store  store.Store
	Sealer *seal.Sealer
	// Now is the clock of session expiry and creation dates; nil means
	// time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// CacheTrusted, if set, says whether the caches may be used now: a
	// node of a cluster that may have missed another node's change (its
	// change feed is down) reads everything from the store until it is
	// back. nil means always.
	CacheTrusted func() bool
}

// Identity runs the IAM and STS operations and answers, from memory, who
// signed a request ([Identity.Lookup]) and which identity policies apply to
// it ([Identity.Policies]).
//
// # Caches
//
// Unsealed secrets, parsed policies and roles are cached in memory. Every
// change drops the entries it touches after the store has it, and bumps a
// generation counter, so a load that raced with the change is never cached:
// a request that starts after a change returns sees it. Secrets dropped from
// the cache are left to the garbage collector rather than wiped, because a
// request being verified may still hold them; [Identity.Close] wipes them all.
type Identity struct {
	store  store.Store
	sealer *seal.Sealer
	now    func() time.Time
	log    *slog.Logger
	tokens *tokenCodec

	// mu serializes IAM changes, so that check-then-write sequences (the
	// two-keys limit, the aggregate policy size) hold.
	mu sync.Mutex

	cacheMu  sync.RWMutex
	trusted  func() bool // nil: always
	gen      uint64
	creds    map[string]sigv4.Credential // long-term keys, by access key id
	sessions map[string]sessionEntry     // session keys, by access key id
	policies map[ownerRef][]*policy.Document
	roles    map[ownerRef]*roleEntry
}

type sessionEntry struct {
	token string
	sess  *Session
	cred  sigv4.Credential
}

// ownerRef names a user or role of an account, by its store.NameKey.
type ownerRef struct {
	account string
	kind    store.OwnerKind
	key     string
}

func ref(account string, kind store.OwnerKind, name string) ownerRef {
	return ownerRef{account, kind, store.NameKey(name)}
}

type roleEntry struct {
	role  store.Role
	trust *policy.Document // nil if the stored trust policy no longer parses
}

// maxSessions bounds the cache of opened session tokens; past it, expired
// entries go, and if that is not enough, all of them (tokens reopen cheaply).
const maxSessions = 10000

// New returns an Identity.
func New(cfg Config) (*Identity, error) {
	tokens, err := newTokenCodec(cfg.Sealer.DeriveKey("sts-session-token"))
	if err != nil {
		return nil, err
	}
	i := &Identity{
		store:    cfg.Store,
		sealer:   cfg.Sealer,
		now:      cfg.Now,
		log:      cfg.Logger,
		tokens:   tokens,
		trusted:  cfg.CacheTrusted,
		creds:    make(map[string]sigv4.Credential),
		sessions: make(map[string]sessionEntry),
		policies: make(map[ownerRef][]*policy.Document),
		roles:    make(map[ownerRef]*roleEntry),
	}
	if i.now == nil {
		i.now = time.Now
	}
	if i.log == nil {
		i.log = slog.Default()
	}
	return i, nil
}

// Close wipes the secrets held in memory. The Identity must not be used
// afterwards.
func (i *Identity) Close() {
	i.cacheMu.Lock()
	defer i.cacheMu.Unlock()
	for _, c := range i.creds {
		clear(c.Secret)
	}
	for _, s := range i.sessions {
		clear(s.cred.Secret)
	}
	clear(i.creds)
	clear(i.sessions)
	i.gen++
}

// Caller is who sent an IAM or STS request and how.
type Caller struct {
	Principal       kms.Principal
	Region          string
	RequestID       string
	SourceIP        string
	SecureTransport bool
}

// --- caches ---

// cacheOK says whether the caches may be read and filled now.
func (i *Identity) cacheOK() bool { return i.trusted == nil || i.trusted() }

// Purge drops every cache entry, as after changes made elsewhere (another
// node of a cluster) that this one cannot tell apart. Secrets are left to
// the garbage collector, as when a change drops them.
func (i *Identity) Purge() {
	i.invalidate(func() {
		clear(i.creds)
		clear(i.sessions)
		clear(i.policies)
		clear(i.roles)
	})
}

// invalidate drops cache entries after a change; call it once the store
// has the change.
func (i *Identity) invalidate(f func()) {
	i.cacheMu.Lock()
	defer i.cacheMu.Unlock()
	i.gen++
	f()
}

func (i *Identity) dropCred(id string) {
	i.invalidate(func() { delete(i.creds, id) })
}

func (i *Identity) dropPolicies(r ownerRef) {
	i.invalidate(func() { delete(i.policies, r) })
}

func (i *Identity) dropRole(r ownerRef) {
	i.invalidate(func() {
		delete(i.roles, r)
		delete(i.policies, r)
	})
}

// --- credentials (sigv4.Lookup) ---

// Lookup finds the credential of an access key for sigv4: a long-term key
// (AKIA...) from the store, or a session key (ASIA...) from its session
// token. Unknown, inactive and deleted keys, and tokens that are invalid,
// belong to another key or whose role is gone, give
// sigv4.ErrUnknownAccessKey; expired ones sigv4.ErrExpiredToken.
func (i *Identity) Lookup(ctx context.Context, accessKeyID, sessionToken string) (sigv4.Credential, error) {
	if strings.HasPrefix(accessKeyID, sessionKeyPrefix) {
		return i.lookupSession(ctx, accessKeyID, sessionToken)
	}
	if sessionToken != "" {
		// A session token belongs to temporary credentials only.
		return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
	}
	i.cacheMu.RLock()
	c, ok := i.creds[accessKeyID]
	gen := i.gen
	i.cacheMu.RUnlock()
	if ok && i.cacheOK() {
		return c, nil
	}
	c, err := i.loadCredential(ctx, accessKeyID)
	if err != nil {
		return c, err
	}
	i.cacheMu.Lock()
	defer i.cacheMu.Unlock()
	if i.gen == gen && i.cacheOK() {
		i.creds[accessKeyID] = c
	}
	return c, nil
}

func (i *Identity) loadCredential(ctx context.Context, id string) (sigv4.Credential, error) {
	ak, err := i.store.GetAccessKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !ak.Active {
		return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
	}
	if err != nil {
		return sigv4.Credential{}, err
	}
	p := kms.RootPrincipal(ak.Account, id)
	if ak.UserName != "" {
		u, err := i.store.GetUser(ctx, ak.Account, ak.UserName)
		if errors.Is(err, store.ErrNotFound) {
			return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
		}
		if err != nil {
			return sigv4.Credential{}, err
		}
		p = userPrincipal(u, id)
	}
	secret, err := i.sealer.Open(ak.SealedSecret, accessKeyAAD(id))
	if err != nil {
		return sigv4.Credential{}, fmt.Errorf("unseal access key %s: %w", id, err)
	}
	return sigv4.Credential{Secret: secret, Principal: p}, nil
}

func (i *Identity) lookupSession(ctx context.Context, akid, token string) (sigv4.Credential, error) {
	if token == "" {
		return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
	}
	i.cacheMu.RLock()
	e, ok := i.sessions[akid]
	gen := i.gen
	i.cacheMu.RUnlock()
	ok = ok && i.cacheOK()
	if !ok || subtle.ConstantTimeCompare([]byte(e.token), []byte(token)) != 1 {
		s, err := i.tokens.decode(token)
		if err != nil || subtle.ConstantTimeCompare([]byte(s.AccessKeyID), []byte(akid)) != 1 {
			return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
		}
		e = sessionEntry{token: token, sess: s}
		ok = false
	}
	if !i.now().Before(e.sess.Expiration) {
		return sigv4.Credential{}, sigv4.ErrExpiredToken
	}
	// A session lives only as long as its role: a role deleted (or deleted
	// and made again, with a new id) ends every session of it.
	r, err := i.role(ctx, e.sess.Account, e.sess.RoleName)
	if errors.Is(err, store.ErrNotFound) || err == nil && r.role.ID != e.sess.RoleID {
		return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
	}
	if err != nil {
		return sigv4.Credential{}, err
	}
	if ok {
		return e.cred, nil
	}
	p := sessionPrincipal(e.sess, akid)
	if p.ServicePrincipal != "" && r.role.AssumeRolePolicy != serviceLinkedTrust(p.Account, p.ServicePrincipal) {
		// Not made by CreateServiceLinkedRole (a role that an older
		// release let CreateRole put at such a path): not the service.
		p.ServicePrincipal = ""
	}
	e.cred = sigv4.Credential{Secret: []byte(e.sess.Secret), Principal: p}
	i.cacheMu.Lock()
	defer i.cacheMu.Unlock()
	if i.gen == gen && i.cacheOK() {
		if len(i.sessions) >= maxSessions {
			now := i.now()
			for k, s := range i.sessions {
				if !now.Before(s.sess.Expiration) {
					delete(i.sessions, k)
				}
			}
			if len(i.sessions) >= maxSessions {
				clear(i.sessions)
			}
		}
		i.sessions[akid] = e
	}
	return e.cred, nil
}

// role returns a role of an account, from the cache or the store.
func (i *Identity) role(ctx context.Context, account, name string) (*roleEntry, error) {
	r := ref(account, store.OwnerRole, name)
	i.cacheMu.RLock()
	e, ok := i.roles[r]
	gen := i.gen
	i.cacheMu.RUnlock()
	if ok && i.cacheOK() {
		return e, nil
	}
	role, err := i.store.GetRole(ctx, account, name)
	if err != nil {
		return nil, err
	}
	e = &roleEntry{role: role}
	if e.trust, err = policy.Parse(role.AssumeRolePolicy, policy.TrustPolicy); err != nil {
		i.log.Error("stored trust policy does not parse", "account", account, "role", role.Name, "err", err)
	}
	i.cacheMu.Lock()
	defer i.cacheMu.Unlock()
	if i.gen == gen && i.cacheOK() {
		i.roles[r] = e
	}
	return e, nil
}

// --- identity policies (service.Identities) ---

// Policies returns the inline policies of the user, or of the role of a
// session, and the default versions of the managed policies attached to
// it; the account root has none. They are parsed once and kept until
// a change to them or their owner. A stored document that no longer parses
// is an error rather than skipped: skipping it could drop a Deny.
func (i *Identity) Policies(ctx context.Context, p kms.Principal) ([]*policy.Document, error) {
	var r ownerRef
	var owner string
	switch p.Type {
	case kms.PrincipalUser:
		owner = p.Name
		r = ref(p.Account, store.OwnerUser, owner)
	case kms.PrincipalAssumedRole:
		owner = p.RoleARN[strings.LastIndexByte(p.RoleARN, '/')+1:]
		r = ref(p.Account, store.OwnerRole, owner)
	default:
		return nil, nil
	}
	if owner == "" {
		return nil, nil
	}
	i.cacheMu.RLock()
	docs, ok := i.policies[r]
	gen := i.gen
	i.cacheMu.RUnlock()
	if ok && i.cacheOK() {
		return docs, nil
	}
	ps, err := i.store.ListPolicies(ctx, p.Account, r.kind, owner)
	if err != nil {
		return nil, err
	}
	attached, err := i.store.ListAttachedPolicies(ctx, p.Account, r.kind, owner)
	if err != nil {
		return nil, err
	}
	docs = make([]*policy.Document, 0, len(ps)+len(attached))
	for _, sp := range ps {
		d, err := policy.Parse(sp.Document, policy.IdentityPolicy)
		if err != nil {
			return nil, fmt.Errorf("stored policy %s of %s %s does not parse: %w", sp.Name, r.kind, owner, err)
		}
		docs = append(docs, d)
	}
	// The default versions of attached managed policies count alike.
	for _, a := range attached {
		d, err := policy.Parse(a.Document, policy.IdentityPolicy)
		if err != nil {
			return nil, fmt.Errorf("stored managed policy %s attached to %s %s does not parse: %w", a.Policy.Name, r.kind, owner, err)
		}
		docs = append(docs, d)
	}
	i.cacheMu.Lock()
	defer i.cacheMu.Unlock()
	if i.gen == gen && i.cacheOK() {
		i.policies[r] = docs
	}
	return docs, nil
}

// --- accounts ---

// ErrAccountExists is returned by CreateAccount for an account that exists.
var ErrAccountExists = errors.New("identity: account exists")

// RootCredentials are the root access key of an account.
type RootCredentials struct {
	AccountID       string
	AccessKeyID     string
	SecretAccessKey string
}

// NewAccessKey returns a fresh long-term access key id and secret.
func NewAccessKey() (id, secret string) {
	return uniqueID(accessKeyPrefix, 16), newSecret()
}

// CreateAccount creates an account with a root access key: the pinned one
// when given, a random one otherwise. It is safe to retry after a crash:
// the account row is written last, and root keys a failed attempt left
// behind are removed. ErrAccountExists if the account is there already.
func (i *Identity) CreateAccount(ctx context.Context, id, pinnedAKID, pinnedSecret string) (RootCredentials, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !validAccountID(id) {
		return RootCredentials{}, fmt.Errorf("account id %q must be 12 digits", id)
	}
	if (pinnedAKID == "") != (pinnedSecret == "") {
		return RootCredentials{}, errors.New("the root access key id and secret must be given together")
	}
	if pinnedAKID != "" {
		if err := CheckPinnedCredentials(pinnedAKID, pinnedSecret); err != nil {
			return RootCredentials{}, err
		}
	}
	_, err := i.store.GetAccount(ctx, id)
	if err == nil {
		return RootCredentials{}, ErrAccountExists
	}
	if !errors.Is(err, store.ErrNotFound) {
		return RootCredentials{}, err
	}
	creds := RootCredentials{AccountID: id, AccessKeyID: pinnedAKID, SecretAccessKey: pinnedSecret}
	if creds.AccessKeyID == "" {
		creds.AccessKeyID, creds.SecretAccessKey = NewAccessKey()
	}
	// Root keys of an account that does not exist yet are what an
	// interrupted attempt left; nobody can know their secrets but the
	// pinned one.
	leftovers, err := i.store.ListAccessKeys(ctx, id, "")
	if err != nil {
		return RootCredentials{}, err
	}
	have := false
	for _, k := range leftovers {
		if k.ID == creds.AccessKeyID {
			have = true
			continue
		}
		if err := i.store.DeleteAccessKey(ctx, k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return RootCredentials{}, err
		}
		i.dropCred(k.ID)
	}
	if have {
		if err := i.sameSecret(ctx, creds.AccessKeyID, creds.SecretAccessKey); err != nil {
			return RootCredentials{}, err
		}
	} else {
		release := i.sealer.Hold() // from sealing until stored
		sealed, err := i.sealer.Seal([]byte(creds.SecretAccessKey), accessKeyAAD(creds.AccessKeyID))
		if err == nil {
			err = i.store.PutAccessKey(ctx, store.AccessKey{ID: creds.AccessKeyID, Account: id,
				PrincipalARN: kms.RootARN(id), SealedSecret: sealed, Active: true, Created: i.now().UTC()})
		}
		release()
		if errors.Is(err, store.ErrExists) {
			return RootCredentials{}, fmt.Errorf("access key id %s is taken", creds.AccessKeyID)
		}
		if err != nil {
			return RootCredentials{}, err
		}
	}
	// The account row goes last: its presence marks the account complete.
	if err := i.store.CreateAccount(ctx, store.Account{ID: id, Created: i.now().UTC()}); err != nil {
		if errors.Is(err, store.ErrExists) {
			return RootCredentials{}, ErrAccountExists
		}
		return RootCredentials{}, err
	}
	i.log.Info("account created", "account", id, "access_key_id", creds.AccessKeyID)
	return creds, nil
}

// Limits of pinned root credentials. AWS's own are 16-128 word characters
// and 40-character secrets; CI setups pin whatever their SDKs sign with
// (LocalStack's test/test), so only what would break signing, the
// credentials file or the logs is refused.
const (
	maxPinnedKeyID  = 128
	maxPinnedSecret = 128
)

// CheckPinnedCredentials checks an access key id and secret that an
// operator pins as an account's root key: each 1 to 128 printable ASCII
// characters without spaces, not starting with '#' or ';' (aws-sdk-go-v2
// reads such a value in the credentials file as a comment), the id
// without '/' or ',' (they split the SigV4 Credential and Authorization
// header) and not starting with ASIA (session keys). Its errors never
// show the secret.
func CheckPinnedCredentials(id, secret string) error {
	switch {
	case id == "" || len(id) > maxPinnedKeyID || !printable(id) || strings.ContainsAny(id, "/,") || strings.ContainsAny(id[:1], "#;"):
		return fmt.Errorf("the pinned access key id must be 1 to %d printable ASCII characters without spaces, '/' or ',', not starting with '#' or ';'", maxPinnedKeyID)
	case strings.HasPrefix(id, sessionKeyPrefix):
		return fmt.Errorf("the pinned access key id must not start with %s, the prefix of temporary credentials", sessionKeyPrefix)
	case secret == "" || len(secret) > maxPinnedSecret || !printable(secret) || strings.ContainsAny(secret[:1], "#;"):
		return fmt.Errorf("the pinned secret access key must be 1 to %d printable ASCII characters without spaces, not starting with '#' or ';'", maxPinnedSecret)
	}
	return nil
}

// printable reports whether s is all printable ASCII other than space.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// CheckRootKey checks that id and secret are a root access key of account,
// as it was pinned when the account was made: a later start that pins
// other credentials is refused rather than silently ignored.
func (i *Identity) CheckRootKey(ctx context.Context, account, id, secret string) error {
	ak, err := i.store.GetAccessKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (ak.Account != account || ak.UserName != "") {
		return fmt.Errorf("access key id %s is not a root access key of account %s", id, account)
	}
	if err != nil {
		return err
	}
	if err := i.sameSecret(ctx, id, secret); err != nil {
		return err
	}
	if !ak.Active {
		return fmt.Errorf("root access key %s of account %s is inactive", id, account)
	}
	return nil
}

// sameSecret checks that a stored key has the given secret.
func (i *Identity) sameSecret(ctx context.Context, id, secret string) error {
	ak, err := i.store.GetAccessKey(ctx, id)
	if err != nil {
		return err
	}
	stored, err := i.sealer.Open(ak.SealedSecret, accessKeyAAD(id))
	if err != nil {
		return fmt.Errorf("unseal access key %s: %w", id, err)
	}
	defer clear(stored)
	if subtle.ConstantTimeCompare(stored, []byte(secret)) != 1 {
		return fmt.Errorf("access key id %s %w", id, ErrOtherSecret)
	}
	return nil
}

// --- names, ids and ARNs ---

const (
	accessKeyPrefix  = "AKIA"
	sessionKeyPrefix = "ASIA"
	userIDPrefix     = "AIDA"
	roleIDPrefix     = "AROA"
)

// accessKeyAAD binds a sealed secret to its key id. The server has sealed
// root keys with it since the first release; keep it.
func accessKeyAAD(id string) []byte { return []byte("kms-access-key\x00" + id) }

// AccessKeyAAD is the additional data an access key's secret is sealed
// with, for tools that re-seal it (`kms seal rotate`).
func AccessKeyAAD(id string) []byte { return accessKeyAAD(id) }

// uniqueID returns prefix and n characters of AWS's id alphabet (RFC 4648
// base32: A-Z, 2-7).
func uniqueID(prefix string, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	rand.Read(b)
	for j := range b {
		b[j] = alphabet[b[j]&31]
	}
	return prefix + string(b)
}

// newSecret returns a 40-character secret access key, like AWS's.
func newSecret() string {
	var b [30]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
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

func userARN(account, path, name string) string {
	return "arn:" + kms.Partition + ":iam::" + account + ":user" + pathOrRoot(path) + name
}

func roleARN(account, path, name string) string {
	return "arn:" + kms.Partition + ":iam::" + account + ":role" + pathOrRoot(path) + name
}

func sessionARN(account, role, session string) string {
	return "arn:" + kms.Partition + ":sts::" + account + ":assumed-role/" + role + "/" + session
}

func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func userPrincipal(u store.User, accessKeyID string) kms.Principal {
	return kms.Principal{
		Account:     u.Account,
		ARN:         userARN(u.Account, u.Path, u.Name),
		Type:        kms.PrincipalUser,
		UserID:      u.ID,
		AccessKeyID: accessKeyID,
		Name:        u.Name,
	}
}

func sessionPrincipal(s *Session, accessKeyID string) kms.Principal {
	return kms.Principal{
		Account:        s.Account,
		ARN:            sessionARN(s.Account, s.RoleName, s.SessionName),
		Type:           kms.PrincipalAssumedRole,
		UserID:         s.RoleID + ":" + s.SessionName,
		AccessKeyID:    accessKeyID,
		RoleARN:        roleARN(s.Account, s.RolePath, s.RoleName),
		SessionCreated: s.Created,
		// Only CreateServiceLinkedRole makes roles at such paths;
		// lookupSession also checks the role's trust policy.
		ServicePrincipal: serviceLinkedPrincipal(s.RolePath),
	}
}
