package service

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/store"
)

// zeroed reports whether k was wiped; Bytes copies whatever k holds.
func zeroed(k *keys.SymmetricKey) bool {
	return bytes.Equal(k.Bytes(), make([]byte, keys.SymmetricKeySize))
}

func newMaterial(t testing.TB) *keys.SymmetricKey {
	t.Helper()
	k, err := keys.NewSymmetricKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// touch is what Service.acquire does: a hit, or a load and insert. The
// caller must release the entry.
func touch(c *keyCache, id string) *keyEntry {
	e, gen := c.acquire(id)
	if e == nil {
		e = c.insert(store.KeyForUse{Key: kms.Key{ID: id}}, gen)
	}
	return e
}

// cached reports whether id is in the cache, without touching its recency.
func cached(c *keyCache, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.entries[id]
	return ok
}

func gen(c *keyCache) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// checkInvariants checks that the map and the LRU list agree and that the
// bound holds.
func checkInvariants(t *testing.T, c *keyCache) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) > c.max || c.lru.Len() != len(c.entries) {
		t.Fatalf("%d entries, %d in LRU, max %d", len(c.entries), c.lru.Len(), c.max)
	}
	for el := c.lru.Front(); el != nil; el = el.Next() {
		e := c.entries[el.Value.(string)]
		if e == nil || e.elem != el || e.evicted {
			t.Fatalf("LRU element %v does not match its entry %+v", el.Value, e)
		}
	}
}

func TestCacheLRU(t *testing.T) {
	for _, tc := range []struct {
		max     int
		touches string // key ids, in order
		present string
		evicted string
	}{
		{2, "a b c", "b c", "a"},
		{2, "a b a c", "a c", "b"},
		{1, "a b", "b", "a"},
		{3, "a b c a b d", "a b d", "c"},
		{3, "a b c d e", "c d e", "a b"},
		{2, "a a a b", "a b", ""},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.max, tc.touches), func(t *testing.T) {
			c := newKeyCache(tc.max, nil)
			mats := map[string]*keys.SymmetricKey{}
			for _, id := range strings.Fields(tc.touches) {
				e := touch(c, id)
				if mats[id] == nil {
					mats[id] = e.addMaterial("m", newMaterial(t), time.Time{})
				}
				c.release(e)
				checkInvariants(t, c)
			}
			for _, id := range strings.Fields(tc.present) {
				if !cached(c, id) || zeroed(mats[id]) {
					t.Errorf("%s: want cached with its material", id)
				}
			}
			// Nobody holds an evicted entry, so its material is wiped at once.
			for _, id := range strings.Fields(tc.evicted) {
				if cached(c, id) || !zeroed(mats[id]) {
					t.Errorf("%s: want evicted and zeroed", id)
				}
			}
		})
	}
}

// TestCacheEvictedWhileAcquired: eviction must not pull material from
// under a request that still uses it; the last release wipes it.
func TestCacheEvictedWhileAcquired(t *testing.T) {
	for _, holders := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(holders, " holders"), func(t *testing.T) {
			c := newKeyCache(1, nil)
			held := []*keyEntry{touch(c, "a")}
			m := held[0].addMaterial("m", newMaterial(t), time.Time{})
			for len(held) < holders {
				held = append(held, touch(c, "a"))
			}
			c.release(touch(c, "b")) // evicts a
			if cached(c, "a") || !held[0].evicted {
				t.Fatal("a was not evicted")
			}
			for i, e := range held {
				if e != held[0] {
					t.Fatal("holders got different entries")
				}
				if zeroed(m) || materialOf(e, "m") != m {
					t.Fatalf("material wiped with %d of %d holders left", len(held)-i, holders)
				}
				c.release(e)
			}
			if !zeroed(m) || len(held[0].materials) != 0 {
				t.Fatal("material survived the last release")
			}
			// The next request loads a fresh entry.
			e := touch(c, "a")
			defer c.release(e)
			if e == held[0] || materialOf(e, "m") != nil {
				t.Fatal("an evicted entry came back")
			}
		})
	}
}

// TestCacheStaleInsert: a key loaded before an invalidation may be the old
// row, so it serves the one request that loaded it and is never cached.
func TestCacheStaleInsert(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(c *keyCache)
	}{
		{"invalidateKey same", func(c *keyCache) { c.invalidateKey("a") }},
		{"invalidateKey other", func(c *keyCache) { c.invalidateKey("z") }},
		{"invalidateAliases", func(c *keyCache) { c.invalidateAliases() }},
		{"purge", func(c *keyCache) { c.purge() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newKeyCache(10, nil)
			e, g := c.acquire("a")
			if e != nil {
				t.Fatal("hit in an empty cache")
			}
			tc.invalidate(c) // a change lands while "a" is read from the store
			e = c.insert(store.KeyForUse{Key: kms.Key{ID: "a", Description: "old"}}, g)
			if e == nil || e.key.Description != "old" || e.refs != 1 {
				t.Fatalf("stale insert returned %+v, want an acquired entry", e)
			}
			if cached(c, "a") {
				t.Fatal("stale load was cached")
			}
			checkInvariants(t, c)
			m := e.addMaterial("m", newMaterial(t), time.Time{})
			c.release(e)
			if !zeroed(m) {
				t.Fatal("material of an uncached entry survived its release")
			}
			// A load after the change is cached as usual.
			e = touch(c, "a")
			c.release(e)
			if !cached(c, "a") {
				t.Fatal("fresh load was not cached")
			}
		})
	}
}

// TestCacheInsertReplaces: two requests that miss together both load and
// insert; the second entry wins and the first lives until released.
func TestCacheInsertReplaces(t *testing.T) {
	c := newKeyCache(10, nil)
	_, g1 := c.acquire("a")
	_, g2 := c.acquire("a")
	e1 := c.insert(store.KeyForUse{Key: kms.Key{ID: "a"}}, g1)
	m1 := e1.addMaterial("m", newMaterial(t), time.Time{})
	e2 := c.insert(store.KeyForUse{Key: kms.Key{ID: "a"}}, g2)
	checkInvariants(t, c)
	if !e1.evicted || e2.evicted {
		t.Fatal("the second insert did not replace the first")
	}
	if zeroed(m1) {
		t.Fatal("replaced entry wiped while held")
	}
	c.release(e1)
	if !zeroed(m1) {
		t.Fatal("replaced entry not wiped on release")
	}
	c.release(e2)
	if e, _ := c.acquire("a"); e != e2 {
		t.Fatal("the cache does not hold the second entry")
	} else {
		c.release(e)
	}
}

func TestCacheInvalidation(t *testing.T) {
	ref := aliasRef{"111122223333", "us-east-1", "alias/a"}
	for _, tc := range []struct {
		name        string
		invalidate  func(c *keyCache)
		keyGone     bool // is "a" dropped?
		aliasesGone bool
	}{
		{"invalidateKey", func(c *keyCache) { c.invalidateKey("a") }, true, false},
		{"invalidateKey other", func(c *keyCache) { c.invalidateKey("b") }, false, false},
		{"invalidateKey unknown", func(c *keyCache) { c.invalidateKey("nope") }, false, false},
		{"invalidateAliases", func(c *keyCache) { c.invalidateAliases() }, false, true},
		{"purge", func(c *keyCache) { c.purge() }, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newKeyCache(10, nil)
			e := touch(c, "a")
			m := e.addMaterial("m", newMaterial(t), time.Time{})
			c.release(e)
			c.release(touch(c, "b"))
			_, g, _ := c.alias(ref)
			c.putAlias(ref, "a", g)

			before := gen(c)
			tc.invalidate(c)
			if gen(c) != before+1 {
				t.Fatalf("generation %d -> %d, want one bump", before, gen(c))
			}
			checkInvariants(t, c)
			if cached(c, "a") == tc.keyGone || zeroed(m) != tc.keyGone {
				t.Fatalf("key cached %v, material zeroed %v; want gone %v", cached(c, "a"), zeroed(m), tc.keyGone)
			}
			if _, _, ok := c.alias(ref); ok == tc.aliasesGone {
				t.Fatalf("alias cached %v, want gone %v", ok, tc.aliasesGone)
			}
			// A resolution read before the bump must not be cached after it.
			c.invalidateAliases()
			c.putAlias(ref, "b", g)
			if id, _, ok := c.alias(ref); ok {
				t.Fatalf("stale alias resolution cached: %s", id)
			}
		})
	}
}

// TestCacheAliasBound: alias resolutions are bounded like keys.
func TestCacheAliasBound(t *testing.T) {
	c := newKeyCache(3, nil)
	for i := range 10 {
		ref := aliasRef{"111122223333", "us-east-1", fmt.Sprint("alias/", i)}
		_, g, _ := c.alias(ref)
		c.putAlias(ref, "k", g)
		if id, _, ok := c.alias(ref); !ok || id != "k" {
			t.Fatalf("alias %d not cached", i)
		}
		if n := len(c.aliases); n > 3 {
			t.Fatalf("%d aliases cached, max 3", n)
		}
	}
}

// TestCacheConcurrent runs requests, changes and loads against one small
// cache. Under -race it checks the locking; after it, no material may be
// left unwiped once the cache is purged, and none may have been wiped while
// a request held it.
func TestCacheConcurrent(t *testing.T) {
	const (
		workers = 8
		rounds  = 2000
	)
	c := newKeyCache(4, nil)
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	var (
		mu   sync.Mutex
		mats []*keys.SymmetricKey // every material ever added
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				id := ids[r.IntN(len(ids))]
				switch n := r.IntN(20); {
				case n == 0:
					c.invalidateKey(id)
				case n == 1:
					c.invalidateAliases()
				case n < 5:
					ref := aliasRef{"111122223333", "us-east-1", "alias/" + id}
					if _, g, ok := c.alias(ref); !ok {
						c.putAlias(ref, id, g)
					}
				default:
					e := touch(c, id)
					if e.key.ID != id {
						t.Errorf("asked for %s, got %s", id, e.key.ID)
					}
					mid := fmt.Sprint("m", r.IntN(2))
					m := materialOf(e, mid)
					if m == nil {
						k, err := keys.NewSymmetricKey()
						if err != nil {
							t.Error(err)
							c.release(e)
							return
						}
						mu.Lock()
						mats = append(mats, k)
						mu.Unlock()
						m = e.addMaterial(mid, k, time.Time{})
					}
					if zeroed(m) {
						t.Errorf("%s: material wiped while held", id)
					}
					c.release(e)
				}
			}
		}()
	}
	wg.Wait()
	checkInvariants(t, c)
	for _, e := range c.entries {
		if e.refs != 0 {
			t.Fatalf("%s: %d references left after every release", e.key.ID, e.refs)
		}
	}
	c.purge()
	if len(c.entries) != 0 || c.lru.Len() != 0 || len(c.aliases) != 0 {
		t.Fatal("purge left entries")
	}
	if i := slices.IndexFunc(mats, func(k *keys.SymmetricKey) bool { return !zeroed(k) }); i >= 0 {
		t.Fatalf("material %d of %d survived the purge", i, len(mats))
	}
}

// TestPolicyCache: the same policy text gives the same parsed document,
// one that does not parse gives nil, and the cache stays bounded.
func TestPolicyCache(t *testing.T) {
	c := policyCache{docs: map[string]*policy.Document{}}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	a, b := c.get(doc), c.get(doc)
	if a == nil || a != b {
		t.Fatalf("same policy: %p and %p", a, b)
	}
	if d := c.get("{not json"); d != nil {
		t.Fatalf("unparsable policy gave %v", d)
	}
	for i := range maxParsedPolicies + 10 {
		c.get(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"s%d","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`, i))
	}
	if n := len(c.docs); n > maxParsedPolicies {
		t.Fatalf("%d parsed policies cached, bound %d", n, maxParsedPolicies)
	}
}

// TestCacheUntrusted: while the cache is not trusted (a cluster node whose
// change feed is down) nothing cached is used and nothing loaded is kept;
// an entry loaded then is wiped once released. Trusted again, it caches.
func TestCacheUntrusted(t *testing.T) {
	trusted := true
	c := newKeyCache(10, func() bool { return trusted })
	ref := aliasRef{"111122223333", "us-east-1", "alias/a"}
	_, gen := c.acquire("a")
	c.release(c.insert(store.KeyForUse{Key: kms.Key{ID: "a"}}, gen))
	_, gen, _ = c.alias(ref)
	c.putAlias(ref, "a", gen)

	trusted = false
	if e, _ := c.acquire("a"); e != nil {
		t.Fatal("an untrusted cache answered from its entries")
	}
	if _, _, ok := c.alias(ref); ok {
		t.Fatal("an untrusted cache resolved an alias")
	}
	_, gen = c.acquire("b")
	e := c.insert(store.KeyForUse{Key: kms.Key{ID: "b"}}, gen)
	m := e.addMaterial("m", newMaterial(t), time.Time{})
	c.putAlias(aliasRef{"111122223333", "us-east-1", "alias/b"}, "b", gen)
	c.release(e)
	if !zeroed(m) {
		t.Fatal("a key loaded while untrusted was kept")
	}
	checkInvariants(t, c)

	trusted = true
	if cached(c, "b") {
		t.Fatal("a key loaded while untrusted was cached")
	}
	if _, _, ok := c.alias(aliasRef{"111122223333", "us-east-1", "alias/b"}); ok {
		t.Fatal("an alias resolved while untrusted was cached")
	}
	if !cached(c, "a") {
		t.Fatal("entries from before were lost (Purge, not distrust, drops them)")
	}
}

// materialOf returns a cached material without its expiry.
func materialOf(e *keyEntry, id string) *keys.SymmetricKey {
	m, _ := e.material(id)
	return m
}
