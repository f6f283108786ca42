package service

import (
	"container/list"
	"sync"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/store"
)

// keyEntry is a cached key: its metadata and the unsealed material versions
// loaded so far. Entries are never changed in place except to add material;
// a state change replaces the whole entry.
type keyEntry struct {
	key kms.Key
	// aliases are the names pointing at the key (kms:ResourceAliases);
	// alias changes invalidate the entries of the keys they touch.
	aliases []string
	// grants are the key's grants; grant changes invalidate the entry.
	grants []store.Grant
	// current is the key's current material, still sealed, as read with
	// the key (nil if it had none), so that its first use reads nothing more.
	current *store.Material

	policyOnce sync.Once
	policyDoc  *policy.Document // parsed key policy; nil if unparsable

	mu        sync.Mutex // guards materials, validTo, pair and mac
	materials map[string]*keys.SymmetricKey
	// validTo holds the expiry of the materials that have one (imported).
	validTo map[string]time.Time
	// pair and mac are the material of asymmetric and HMAC keys, which
	// have exactly one version.
	pair *keys.PrivateKey
	mac  *keys.HMACKey

	// refs counts users between acquire and release; material is zeroed only
	// when the entry is evicted and no request still uses it.
	refs    int
	evicted bool
	elem    *list.Element
}

// keyPolicy returns the parsed key policy, parsing it on first use. A policy
// that does not parse (one stored before validation existed) yields nil,
// which callers treat as allowing nothing.
func (e *keyEntry) keyPolicy() *policy.Document {
	e.policyOnce.Do(func() {
		e.policyDoc = parsedPolicies.get(e.key.Policy)
	})
	return e.policyDoc
}

// parsedPolicies shares parsed key policies between keys: most keys of an
// account have the same one (the default), and with more keys than the
// cache holds every request would otherwise parse it again. Documents are
// never changed once parsed.
var parsedPolicies = policyCache{docs: map[string]*policy.Document{}}

type policyCache struct {
	mu   sync.Mutex
	docs map[string]*policy.Document // by policy text; nil: does not parse
}

// maxParsedPolicies bounds the cache; past it, it starts over.
const maxParsedPolicies = 1024

func (c *policyCache) get(text string) *policy.Document {
	c.mu.Lock()
	d, ok := c.docs[text]
	c.mu.Unlock()
	if ok {
		return d
	}
	d, _ = policy.Parse(text, policy.KeyPolicy)
	c.mu.Lock()
	if len(c.docs) >= maxParsedPolicies {
		clear(c.docs)
	}
	c.docs[text] = d
	c.mu.Unlock()
	return d
}

func (e *keyEntry) material(id string) (*keys.SymmetricKey, time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.materials[id], e.validTo[id]
}

func (e *keyEntry) addMaterial(id string, k *keys.SymmetricKey, validTo time.Time) *keys.SymmetricKey {
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.materials[id]; ok {
		k.Zero()
		return old
	}
	e.materials[id] = k
	if !validTo.IsZero() {
		if e.validTo == nil {
			e.validTo = map[string]time.Time{}
		}
		e.validTo[id] = validTo
	}
	return k
}

func (e *keyEntry) zero() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.materials {
		m.Zero()
	}
	clear(e.materials)
	if e.mac != nil {
		e.mac.Zero()
		e.mac = nil
	}
	// Go's private key types cannot be wiped; dropping the reference is
	// the best we can do.
	e.pair = nil
}

// keyCache is a bounded LRU of keyEntry by key id, plus alias resolutions.
// It exists so that Encrypt, Decrypt and GenerateDataKey never touch the
// database once a key is warm.
type keyCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*keyEntry
	lru     list.List // front = most recently used; values are key ids
	aliases map[aliasRef]string
	// gen increases on every invalidation, so a load that raced with a
	// change is not cached (it may have read the old row).
	gen uint64
	// hits and misses count acquire's answers, for metrics.
	hits, misses uint64
	// trusted, if set, says whether entries may be used now (see
	// Config.CacheTrusted); while it says no, every key is loaded, used
	// once and dropped.
	trusted func() bool
}

type aliasRef struct{ account, region, name string }

func newKeyCache(max int, trusted func() bool) *keyCache {
	if max <= 0 {
		max = 10000
	}
	return &keyCache{max: max, entries: make(map[string]*keyEntry), aliases: make(map[aliasRef]string), trusted: trusted}
}

// acquire returns a cached entry and holds a reference to it; callers must
// release it.
func (c *keyCache) acquire(id string) (*keyEntry, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || !c.ok() {
		c.misses++
		return nil, c.gen
	}
	c.hits++
	c.lru.MoveToFront(e.elem)
	e.refs++
	return e, c.gen
}

// insert caches a freshly loaded key unless the cache changed since gen was
// read; it returns an acquired entry either way.
func (c *keyCache) insert(u store.KeyForUse, gen uint64) *keyEntry {
	k := u.Key
	e := &keyEntry{key: k, aliases: u.Aliases, grants: u.Grants, current: u.Current,
		materials: make(map[string]*keys.SymmetricKey), refs: 1}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.ok() {
		e.evicted = true // used once, then dropped
		return e
	}
	if old, ok := c.entries[k.ID]; ok {
		c.removeLocked(old)
	}
	e.elem = c.lru.PushFront(k.ID)
	c.entries[k.ID] = e
	for len(c.entries) > c.max {
		back := c.lru.Back()
		c.removeLocked(c.entries[back.Value.(string)])
	}
	return e
}

func (c *keyCache) release(e *keyEntry) {
	c.mu.Lock()
	e.refs--
	done := e.evicted && e.refs == 0
	c.mu.Unlock()
	if done {
		e.zero()
	}
}

func (c *keyCache) removeLocked(e *keyEntry) {
	delete(c.entries, e.key.ID)
	c.lru.Remove(e.elem)
	e.evicted = true
	if e.refs == 0 {
		e.zero()
	}
}

// invalidateKey drops a key after any change to it.
func (c *keyCache) invalidateKey(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e, ok := c.entries[id]; ok {
		c.removeLocked(e)
	}
}

// invalidateCopies drops every copy of multi-Region key id after a change
// to all of them (a rotation, a new primary region).
func (c *keyCache) invalidateCopies(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for rowID, e := range c.entries {
		if kms.KeyIDOf(rowID) == id {
			c.removeLocked(e)
		}
	}
}

func (c *keyCache) alias(r aliasRef) (string, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.aliases[r]
	return id, c.gen, ok && c.ok()
}

func (c *keyCache) ok() bool { return c.trusted == nil || c.trusted() }

func (c *keyCache) putAlias(r aliasRef, id string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.ok() {
		return
	}
	if len(c.aliases) >= c.max {
		clear(c.aliases) // crude bound; alias churn is rare
	}
	c.aliases[r] = id
}

// invalidateAliases drops every alias resolution after an alias change.
func (c *keyCache) invalidateAliases() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.aliases)
}

// purge zeroes and drops everything (entries still in use are zeroed when
// released).
func (c *keyCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, e := range c.entries {
		c.removeLocked(e)
	}
	clear(c.aliases)
}

// CacheStats is the key cache's use since the service started.
type CacheStats struct {
	Hits, Misses uint64 // lookups of a key by id that found it cached, or not
	Keys         int    // keys cached now
}

func (c *keyCache) stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Keys: len(c.entries)}
}
