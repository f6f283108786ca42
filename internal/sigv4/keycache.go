package sigv4

import (
	"crypto/sha256"
	"strings"
	"sync"
)

// maxCachedKeys bounds the signing-key cache. One entry serves one access
// key for a day in one region, so this covers far more active callers
// than one server sees; past it, entries are evicted at random.
const maxCachedKeys = 4096

// cacheKey names one derived signing key. It holds a SHA-256 of the secret
// rather than the secret, so that a rotated secret never hits an old entry
// and the key holds nothing usable if it is ever printed.
type cacheKey struct {
	accessKeyID string
	scope       scope
	secret      [sha256.Size]byte
}

// keyCache memoizes the four HMACs that derive kSigning from a secret,
// which otherwise cost more than verifying the signature itself.
type keyCache struct {
	mu sync.RWMutex
	m  map[cacheKey][sha256.Size]byte
}

// signingKey returns kSigning for secret and s, deriving it on a miss.
func (c *keyCache) signingKey(accessKeyID string, secret []byte, s scope) [sha256.Size]byte {
	k := cacheKey{accessKeyID: accessKeyID, scope: s, secret: sha256.Sum256(secret)}
	if key, ok := c.get(k); ok {
		return key
	}
	key := deriveSigningKey(secret, s)
	// The strings point into the request's Authorization header; copy them
	// so a cached entry does not pin the header in memory.
	k.accessKeyID = strings.Clone(k.accessKeyID)
	k.scope = scope{strings.Clone(s.date), strings.Clone(s.region), strings.Clone(s.service)}
	c.put(k, key)
	return key
}

func (c *keyCache) get(k cacheKey) ([sha256.Size]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	key, ok := c.m[k]
	return key, ok
}

func (c *keyCache) put(k cacheKey, key [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[cacheKey][sha256.Size]byte)
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= maxCachedKeys {
		for old := range c.m { // map order is random enough for eviction
			delete(c.m, old)
			break
		}
	}
	c.m[k] = key
}

// deriveSigningKey computes kSigning (spec §1.6 step 9).
func deriveSigningKey(secret []byte, s scope) [sha256.Size]byte {
	k := make([]byte, 0, 4+len(secret))
	k = append(append(k, "AWS4"...), secret...)
	key := hmacSHA256(k, s.date)
	clear(k)
	key = hmacSHA256(key[:], s.region)
	key = hmacSHA256(key[:], s.service)
	return hmacSHA256(key[:], terminator)
}
