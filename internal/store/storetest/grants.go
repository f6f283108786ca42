package storetest

// Grants: their fields, lists of a key's grants and of the grants a
// principal may retire, paging, and their deletion with their key.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// Principals the grant tests use.
const (
	alice   = "arn:aws:iam::" + acct1 + ":user/alice"
	bob     = "arn:aws:iam::" + acct1 + ":role/bob"
	carol   = "arn:aws:iam::" + acct2 + ":user/carol"
	issuer1 = "arn:aws:iam::" + acct1 + ":root"
	issuer2 = "arn:aws:iam::" + acct2 + ":root"
)

// grantID returns a 64-hex grant id; ids sort in the order of n.
func grantID(n int) string {
	return fmt.Sprintf("%064x", 0xa000+n)
}

func newGrant(n int, keyID, grantee string, created time.Time) store.Grant {
	return store.Grant{
		ID:               grantID(n),
		KeyID:            keyID,
		Name:             fmt.Sprintf("grant-%d", n),
		GranteePrincipal: grantee,
		IssuingAccount:   issuer1,
		Operations:       []string{"Encrypt", "Decrypt"},
		Created:          created,
	}
}

func mustCreateGrant(t *testing.T, s store.Store, g store.Grant) {
	t.Helper()
	if err := s.CreateGrant(t.Context(), g); err != nil {
		t.Fatalf("CreateGrant(%s on %s): %v", g.ID, g.KeyID, err)
	}
}

func checkGrant(t *testing.T, got, want store.Grant) {
	t.Helper()
	if d := grantDiff(got, want); d != "" {
		t.Errorf("grant %s differs: %s", want.ID, d)
	}
}

// grantDiff describes how got differs from want. Nil and empty operations
// are equal; a nil constraint (none) and an empty one are not.
func grantDiff(got, want store.Grant) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	constraint := func(name string, g, w map[string]string) {
		if (g == nil) != (w == nil) || !maps.Equal(g, w) {
			d = append(d, fmt.Sprintf("%s = %#v, want %#v", name, g, w))
		}
	}
	str("ID", got.ID, want.ID)
	str("KeyID", got.KeyID, want.KeyID)
	str("Name", got.Name, want.Name)
	str("GranteePrincipal", got.GranteePrincipal, want.GranteePrincipal)
	str("RetiringPrincipal", got.RetiringPrincipal, want.RetiringPrincipal)
	str("IssuingAccount", got.IssuingAccount, want.IssuingAccount)
	if !slices.Equal(got.Operations, want.Operations) {
		d = append(d, fmt.Sprintf("Operations = %q, want %q", got.Operations, want.Operations))
	}
	constraint("EncryptionContextEquals", got.EncryptionContextEquals, want.EncryptionContextEquals)
	constraint("EncryptionContextSubset", got.EncryptionContextSubset, want.EncryptionContextSubset)
	str("SourceArn", got.SourceArn, want.SourceArn)
	if !got.Created.UTC().Equal(want.Created.UTC()) {
		d = append(d, fmt.Sprintf("Created = %v, want %v", got.Created, want.Created))
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

func grantIDs(gs []store.Grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

// sortGrants puts grants in list order: by creation, then id.
func sortGrants(gs []store.Grant) {
	sort.SliceStable(gs, func(i, j int) bool {
		if c := gs[i].Created.Compare(gs[j].Created); c != 0 {
			return c < 0
		}
		return gs[i].ID < gs[j].ID
	})
}

func testGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := newKey(1, acct1, region1)
	k2 := newKey(2, acct1, region1)
	mustCreateKey(t, s, k1, nil)
	mustCreateKey(t, s, k2, nil)
	zone := time.FixedZone("UTC-3", -3*3600)

	// Every field set; operations out of any order; constraints with odd
	// strings. Created in another zone, last of k1's grants.
	full := store.Grant{
		ID:                grantID(1),
		KeyID:             k1.ID,
		Name:              "ünïcødé name ✓",
		GranteePrincipal:  alice,
		RetiringPrincipal: bob,
		IssuingAccount:    issuer1,
		Operations:        []string{"ReEncryptFrom", "Decrypt", "GenerateDataKey", "CreateGrant", "Decrypt"},
		EncryptionContextEquals: map[string]string{
			"Department": "IT",
			"quote":      `'"\<>&`,
			"":           "empty key",
			"nul":        "a\x00b",
		},
		EncryptionContextSubset: map[string]string{"ünï": "cødé ✓", "empty": ""},
		Created:                 at(3 * time.Hour).In(zone),
	}
	// Only what is required: no name, no retiring principal, no constraint.
	bare := store.Grant{
		ID:               grantID(2),
		KeyID:            k1.ID,
		GranteePrincipal: bob,
		IssuingAccount:   issuer1,
		Operations:       []string{"Sign"},
		Created:          at(time.Hour),
	}
	// Empty constraints are constraints, unlike nil ones: an empty
	// EncryptionContextEquals admits only an empty context.
	empty := newGrant(3, k1.ID, alice, at(2*time.Hour))
	empty.EncryptionContextEquals = map[string]string{}
	empty.EncryptionContextSubset = map[string]string{}
	// No operations come back as none.
	noOps := newGrant(4, k1.ID, carol, at(2*time.Hour))
	noOps.Operations = nil
	onK2 := newGrant(5, k2.ID, alice, at(0))
	onK2.IssuingAccount = issuer2

	for _, g := range []store.Grant{full, bare, empty, noOps, onK2} {
		mustCreateGrant(t, s, g)
	}
	ofK1 := []store.Grant{bare, empty, noOps, full} // by creation, then id

	list := func(f store.GrantFilter) []store.Grant {
		t.Helper()
		got, err := s.ListGrants(ctx, f)
		if err != nil {
			t.Fatalf("ListGrants(%+v): %v", f, err)
		}
		return got
	}
	got := list(store.GrantFilter{KeyID: k1.ID})
	if !slices.Equal(grantIDs(got), grantIDs(ofK1)) {
		t.Fatalf("ListGrants(k1) = %v, want %v", grantIDs(got), grantIDs(ofK1))
	}
	for i := range got {
		checkGrant(t, got[i], ofK1[i])
	}
	if got := list(store.GrantFilter{KeyID: k2.ID}); len(got) != 1 {
		t.Errorf("ListGrants(k2) = %v, want [%s]", grantIDs(got), onK2.ID)
	} else {
		checkGrant(t, got[0], onK2)
	}
	if got := list(store.GrantFilter{KeyID: keyID(99)}); len(got) != 0 {
		t.Errorf("ListGrants(unknown key) = %v, want none", grantIDs(got))
	}

	// Filters, alone and together.
	for _, tc := range []struct {
		f    store.GrantFilter
		want []store.Grant
	}{
		{store.GrantFilter{KeyID: k1.ID, GrantID: full.ID}, []store.Grant{full}},
		{store.GrantFilter{KeyID: k1.ID, GrantID: onK2.ID}, nil}, // another key's
		{store.GrantFilter{KeyID: k1.ID, GrantID: grantID(99)}, nil},
		{store.GrantFilter{KeyID: k1.ID, GranteePrincipal: alice}, []store.Grant{empty, full}},
		{store.GrantFilter{KeyID: k1.ID, GranteePrincipal: carol}, []store.Grant{noOps}},
		{store.GrantFilter{KeyID: k1.ID, GranteePrincipal: "arn:aws:iam::" + acct1 + ":user/ALICE"}, nil},
		{store.GrantFilter{KeyID: k2.ID, GranteePrincipal: bob}, nil},
		{store.GrantFilter{KeyID: k1.ID, GrantID: full.ID, GranteePrincipal: alice}, []store.Grant{full}},
		{store.GrantFilter{KeyID: k1.ID, GrantID: full.ID, GranteePrincipal: bob}, nil},
	} {
		got := list(tc.f)
		if !slices.Equal(grantIDs(got), grantIDs(tc.want)) {
			t.Errorf("ListGrants(%+v) = %v, want %v", tc.f, grantIDs(got), grantIDs(tc.want))
			continue
		}
		for i := range got {
			checkGrant(t, got[i], tc.want[i])
		}
	}

	// A grant needs its key.
	orphan := newGrant(6, keyID(99), alice, at(0))
	wantErr(t, "CreateGrant on a missing key", s.CreateGrant(ctx, orphan), store.ErrNotFound)
	if got := list(store.GrantFilter{KeyID: orphan.KeyID}); len(got) != 0 {
		t.Errorf("failed CreateGrant left %v", grantIDs(got))
	}

	// Grant ids are unique across keys; a duplicate changes nothing.
	for _, dup := range []store.Grant{
		newGrant(1, k1.ID, carol, at(time.Minute)),
		newGrant(1, k2.ID, carol, at(time.Minute)),
	} {
		wantErr(t, "CreateGrant duplicate on "+dup.KeyID, s.CreateGrant(ctx, dup), store.ErrExists)
	}
	if got := list(store.GrantFilter{KeyID: k1.ID, GrantID: full.ID}); len(got) != 1 {
		t.Errorf("ListGrants(full) after duplicates = %v", grantIDs(got))
	} else {
		checkGrant(t, got[0], full)
	}
	if got := list(store.GrantFilter{KeyID: k2.ID}); !slices.Equal(grantIDs(got), []string{onK2.ID}) {
		t.Errorf("ListGrants(k2) after duplicates = %v, want [%s]", grantIDs(got), onK2.ID)
	}

	count := func(key string, want int) {
		t.Helper()
		n, err := s.CountGrants(ctx, key)
		if err != nil {
			t.Fatalf("CountGrants(%s): %v", key, err)
		}
		if n != want {
			t.Errorf("CountGrants(%s) = %d, want %d", key, n, want)
		}
	}
	count(k1.ID, 4)
	count(k2.ID, 1)
	count(keyID(99), 0)

	// DeleteGrant addresses a grant through its key.
	wantErr(t, "DeleteGrant of another key's grant", s.DeleteGrant(ctx, k1.ID, onK2.ID), store.ErrNotFound)
	wantErr(t, "DeleteGrant on an unknown key", s.DeleteGrant(ctx, keyID(99), full.ID), store.ErrNotFound)
	wantErr(t, "DeleteGrant unknown", s.DeleteGrant(ctx, k1.ID, grantID(99)), store.ErrNotFound)
	count(k1.ID, 4)
	count(k2.ID, 1)
	if err := s.DeleteGrant(ctx, k1.ID, empty.ID); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	wantErr(t, "DeleteGrant twice", s.DeleteGrant(ctx, k1.ID, empty.ID), store.ErrNotFound)
	count(k1.ID, 3)
	want := []store.Grant{bare, noOps, full}
	if got := list(store.GrantFilter{KeyID: k1.ID}); !slices.Equal(grantIDs(got), grantIDs(want)) {
		t.Errorf("ListGrants(k1) after delete = %v, want %v", grantIDs(got), grantIDs(want))
	}
	if got := list(store.GrantFilter{KeyID: k1.ID, GrantID: empty.ID}); len(got) != 0 {
		t.Errorf("ListGrants(deleted grant) = %v, want none", grantIDs(got))
	}
	// The id is free again, on any key.
	again := newGrant(3, k2.ID, bob, at(time.Minute))
	mustCreateGrant(t, s, again)
	count(k2.ID, 2)
}

func testListGrantsPages(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := newKey(1, acct1, region1)
	k2 := newKey(2, acct1, region1)
	mustCreateKey(t, s, k1, nil)
	mustCreateKey(t, s, k2, nil)

	// Ids do not sort in creation order, and several grants share a
	// millisecond: those come in id order. k2's grants, interleaved in
	// time, must not show up.
	var all, ofAlice []store.Grant
	for i, spec := range []struct{ n, minute int }{
		{5, 1}, {3, 2}, {9, 2}, {1, 2}, {7, 3}, {2, 4}, {8, 4}, {4, 0},
	} {
		who := alice
		if i%3 == 1 {
			who = bob
		}
		g := newGrant(spec.n, k1.ID, who, at(time.Duration(spec.minute)*time.Minute))
		mustCreateGrant(t, s, g)
		all = append(all, g)
		mustCreateGrant(t, s, newGrant(100+spec.n, k2.ID, who, g.Created))
	}
	sortGrants(all)
	for _, g := range all {
		if g.GranteePrincipal == alice {
			ofAlice = append(ofAlice, g)
		}
	}

	list := func(f store.GrantFilter) []store.Grant {
		t.Helper()
		f.KeyID = k1.ID
		got, err := s.ListGrants(ctx, f)
		if err != nil {
			t.Fatalf("ListGrants(%+v): %v", f, err)
		}
		return got
	}
	if got := list(store.GrantFilter{}); !slices.Equal(grantIDs(got), grantIDs(all)) {
		t.Fatalf("ListGrants = %v, want %v", grantIDs(got), grantIDs(all))
	}
	for _, tc := range []struct {
		grantee string
		want    []store.Grant
	}{{"", all}, {alice, ofAlice}} {
		for limit := 1; limit <= len(tc.want)+1; limit++ {
			var pages []store.Grant
			after := ""
			for range len(tc.want) + 2 {
				page := list(store.GrantFilter{GranteePrincipal: tc.grantee, After: after, Limit: limit})
				if len(page) > limit {
					t.Fatalf("ListGrants(limit %d) returned %d grants", limit, len(page))
				}
				pages = append(pages, page...)
				if len(page) < limit {
					break
				}
				after = page[len(page)-1].ID
			}
			if !slices.Equal(grantIDs(pages), grantIDs(tc.want)) {
				t.Errorf("grantee %q: pages of %d = %v, want %v", tc.grantee, limit, grantIDs(pages), grantIDs(tc.want))
			}
		}
	}

	// After counts from the grant's place in the order, whatever the other
	// filters: here a grant to bob, then grants to alice.
	var bobs int
	for bobs < len(all) && all[bobs].GranteePrincipal != bob {
		bobs++
	}
	var wantAfterBob []string
	for _, g := range all[bobs+1:] {
		if g.GranteePrincipal == alice {
			wantAfterBob = append(wantAfterBob, g.ID)
		}
	}
	if got := list(store.GrantFilter{GranteePrincipal: alice, After: all[bobs].ID}); !slices.Equal(grantIDs(got), wantAfterBob) {
		t.Errorf("ListGrants(alice, after a grant to bob) = %v, want %v", grantIDs(got), wantAfterBob)
	}
	if got := list(store.GrantFilter{After: all[2].ID, Limit: 2}); !slices.Equal(grantIDs(got), grantIDs(all[3:5])) {
		t.Errorf("ListGrants(after, limit) = %v, want %v", grantIDs(got), grantIDs(all[3:5]))
	}
	if got := list(store.GrantFilter{After: all[len(all)-1].ID}); len(got) != 0 {
		t.Errorf("ListGrants(after the last) = %v, want none", grantIDs(got))
	}
	if got := list(store.GrantFilter{GrantID: all[4].ID, After: all[3].ID}); !slices.Equal(grantIDs(got), []string{all[4].ID}) {
		t.Errorf("ListGrants(id, after the one before) = %v, want [%s]", grantIDs(got), all[4].ID)
	}
	if got := list(store.GrantFilter{GrantID: all[3].ID, After: all[3].ID}); len(got) != 0 {
		t.Errorf("ListGrants(id, after itself) = %v, want none", grantIDs(got))
	}

	// After must name a grant of the key.
	for _, after := range []string{grantID(99), grantID(101)} { // unknown; k2's
		_, err := s.ListGrants(ctx, store.GrantFilter{KeyID: k1.ID, After: after})
		wantErr(t, "ListGrants after "+after, err, store.ErrNotFound)
	}
	// A deleted grant has no place any more.
	if err := s.DeleteGrant(ctx, k1.ID, all[2].ID); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	_, err := s.ListGrants(ctx, store.GrantFilter{KeyID: k1.ID, After: all[2].ID})
	wantErr(t, "ListGrants after a deleted grant", err, store.ErrNotFound)
}

func testRetirableGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Keys in two accounts and regions.
	k1 := newKey(1, acct1, region1)
	k2 := newKey(2, acct2, region2)
	k3 := newKey(3, acct1, region2)
	for _, k := range []kms.Key{k1, k2, k3} {
		mustCreateKey(t, s, k, nil)
	}

	retirable := func(n int, keyID, retiring string, minute int) store.Grant {
		g := newGrant(n, keyID, carol, at(time.Duration(minute)*time.Minute))
		g.RetiringPrincipal = retiring
		return g
	}
	grants := []store.Grant{
		retirable(1, k1.ID, alice, 5),
		retirable(2, k2.ID, alice, 1),
		retirable(3, k3.ID, alice, 5), // ties with 1: id order
		retirable(4, k2.ID, bob, 2),
		retirable(5, k1.ID, "", 0),
		retirable(6, k1.ID, alice, 3),
		retirable(7, k2.ID, carol, 4),
		retirable(8, k3.ID, bob, 0),
		retirable(9, k2.ID, alice, 0),
	}
	grants[1].IssuingAccount = issuer2
	grants[1].EncryptionContextSubset = map[string]string{"app": "billing"}
	for _, g := range grants {
		mustCreateGrant(t, s, g)
	}
	byRetiring := func(p string) []store.Grant {
		var out []store.Grant
		for _, g := range grants {
			if g.RetiringPrincipal == p {
				out = append(out, g)
			}
		}
		sortGrants(out)
		return out
	}
	list := func(p, after string, limit int) []store.Grant {
		t.Helper()
		got, err := s.ListRetirableGrants(ctx, p, after, limit)
		if err != nil {
			t.Fatalf("ListRetirableGrants(%s, %q, %d): %v", p, after, limit, err)
		}
		return got
	}

	for _, p := range []string{alice, bob, carol} {
		want := byRetiring(p)
		got := list(p, "", 0)
		if !slices.Equal(grantIDs(got), grantIDs(want)) {
			t.Errorf("ListRetirableGrants(%s) = %v, want %v", p, grantIDs(got), grantIDs(want))
			continue
		}
		for i := range got {
			checkGrant(t, got[i], want[i])
		}
	}
	// Nobody retires grants that name no retiring principal; principals
	// match exactly.
	for _, p := range []string{"", "arn:aws:iam::" + acct1 + ":user/ALICE", "arn:aws:iam::" + acct2 + ":user/alice"} {
		if got := list(p, "", 0); len(got) != 0 {
			t.Errorf("ListRetirableGrants(%q) = %v, want none", p, grantIDs(got))
		}
	}

	ofAlice := byRetiring(alice)
	for limit := 1; limit <= len(ofAlice)+1; limit++ {
		var pages []store.Grant
		after := ""
		for range len(ofAlice) + 2 {
			page := list(alice, after, limit)
			if len(page) > limit {
				t.Fatalf("ListRetirableGrants(limit %d) returned %d grants", limit, len(page))
			}
			pages = append(pages, page...)
			if len(page) < limit {
				break
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(grantIDs(pages), grantIDs(ofAlice)) {
			t.Errorf("pages of %d = %v, want %v", limit, grantIDs(pages), grantIDs(ofAlice))
		}
	}
	// after must name a grant the principal may retire.
	for _, after := range []string{grantID(99), grantID(4), grantID(5)} { // unknown; bob's; nobody's
		_, err := s.ListRetirableGrants(ctx, alice, after, 0)
		wantErr(t, "ListRetirableGrants after "+after, err, store.ErrNotFound)
	}

	// Retiring one grant, or deleting a key, takes grants off the list.
	if err := s.DeleteGrant(ctx, k3.ID, grantID(3)); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	if err := s.DeleteKey(ctx, k2.ID); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	want := []string{grantID(6), grantID(1)}
	if got := list(alice, "", 0); !slices.Equal(grantIDs(got), want) {
		t.Errorf("ListRetirableGrants(alice) after deletions = %v, want %v", grantIDs(got), want)
	}
	if got := list(bob, "", 0); !slices.Equal(grantIDs(got), []string{grantID(8)}) {
		t.Errorf("ListRetirableGrants(bob) after deletions = %v, want [%s]", grantIDs(got), grantID(8))
	}
}

// testDeleteKeyGrants: a key's grants go with it, and only its.
func testDeleteKeyGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	doomed := newKey(1, acct1, region1)
	kept := newKey(2, acct1, region1)
	mustCreateKey(t, s, doomed, newMaterial(doomed.ID, 1, doomed.CreationDate))
	mustCreateKey(t, s, kept, nil)
	var doomedGrants []store.Grant
	for n := 1; n <= 3; n++ {
		g := newGrant(n, doomed.ID, alice, at(time.Duration(n)*time.Minute))
		g.RetiringPrincipal = bob
		g.EncryptionContextEquals = map[string]string{"n": fmt.Sprint(n)}
		mustCreateGrant(t, s, g)
		doomedGrants = append(doomedGrants, g)
	}
	keptGrant := newGrant(4, kept.ID, alice, at(0))
	keptGrant.RetiringPrincipal = bob
	mustCreateGrant(t, s, keptGrant)

	if err := s.DeleteKey(ctx, doomed.ID); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	if n, err := s.CountGrants(ctx, doomed.ID); err != nil || n != 0 {
		t.Errorf("CountGrants after DeleteKey = %d, %v; want 0", n, err)
	}
	if gs, err := s.ListGrants(ctx, store.GrantFilter{KeyID: doomed.ID}); err != nil || len(gs) != 0 {
		t.Errorf("ListGrants after DeleteKey = %v, %v; want none", grantIDs(gs), err)
	}
	if gs, err := s.ListRetirableGrants(ctx, bob, "", 0); err != nil || !slices.Equal(grantIDs(gs), []string{keptGrant.ID}) {
		t.Errorf("ListRetirableGrants after DeleteKey = %v, %v; want [%s]", grantIDs(gs), err, keptGrant.ID)
	}
	for _, g := range doomedGrants {
		wantErr(t, "DeleteGrant after DeleteKey", s.DeleteGrant(ctx, doomed.ID, g.ID), store.ErrNotFound)
	}

	// A key created again under the same id has no grants, and the old
	// grant ids are free.
	mustCreateKey(t, s, newKey(1, acct1, region1), nil)
	if n, err := s.CountGrants(ctx, doomed.ID); err != nil || n != 0 {
		t.Errorf("CountGrants(recreated) = %d, %v; want 0", n, err)
	}
	mustCreateGrant(t, s, doomedGrants[0])

	// The other key keeps its grant.
	gs, err := s.ListGrants(ctx, store.GrantFilter{KeyID: kept.ID})
	if err != nil || len(gs) != 1 {
		t.Fatalf("ListGrants(kept) = %v, %v; want [%s]", grantIDs(gs), err, keptGrant.ID)
	}
	checkGrant(t, gs[0], keptGrant)
}

// testGrantsConcurrency has grant writers, readers and a key deletion share
// the store; run it under -race.
func testGrantsConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, perWorker = 8, 10
	doomed := newKey(99, acct1, region1)
	mustCreateKey(t, s, doomed, nil)
	for w := range workers {
		mustCreateKey(t, s, newKey(w+1, acct1, region1), nil)
	}
	var (
		wg       sync.WaitGroup
		contests atomic.Int32 // successful creations of the contested grant id
		// landed is closed once a grant is on the doomed key (or a worker
		// gave up), which starts its deletion.
		landed = make(chan struct{})
		once   sync.Once
	)
	signal := func() { once.Do(func() { close(landed) }) }
	for w := range workers {
		key := keyID(w + 1)
		wg.Go(func() {
			defer signal()
			for i := range perWorker {
				n := 1 + w*perWorker + i
				g := newGrant(n, key, alice, at(time.Duration(n)*time.Millisecond))
				g.RetiringPrincipal = bob
				if err := s.CreateGrant(ctx, g); err != nil {
					t.Errorf("CreateGrant(%d): %v", n, err)
					return
				}
				// Every other grant is retired again.
				if i%2 == 1 {
					if err := s.DeleteGrant(ctx, key, g.ID); err != nil {
						t.Errorf("DeleteGrant(%d): %v", n, err)
					}
				}
				switch err := s.CreateGrant(ctx, newGrant(0, key, bob, at(0))); {
				case err == nil:
					contests.Add(1)
				case !errors.Is(err, store.ErrExists):
					t.Errorf("CreateGrant(contested): %v", err)
				}
				// Grants on a key being deleted either land before the
				// deletion, and go with the key, or find no key.
				g = newGrant(1000+n, doomed.ID, alice, at(0))
				g.RetiringPrincipal = bob
				switch err := s.CreateGrant(ctx, g); {
				case err == nil:
					signal()
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("CreateGrant(doomed key): %v", err)
				}
			}
		})
		wg.Go(func() {
			for range perWorker {
				if _, err := s.ListGrants(ctx, store.GrantFilter{KeyID: key, Limit: 3}); err != nil {
					t.Errorf("ListGrants: %v", err)
				}
				if _, err := s.ListRetirableGrants(ctx, bob, "", 5); err != nil {
					t.Errorf("ListRetirableGrants: %v", err)
				}
				if _, err := s.CountGrants(ctx, key); err != nil {
					t.Errorf("CountGrants: %v", err)
				}
			}
		})
	}
	wg.Go(func() {
		<-landed
		if err := s.DeleteKey(ctx, doomed.ID); err != nil {
			t.Errorf("DeleteKey: %v", err)
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	if n := contests.Load(); n != 1 {
		t.Errorf("contested grant id created %d times, want 1", n)
	}
	total := 0
	for w := range workers {
		n, err := s.CountGrants(ctx, keyID(w+1))
		if err != nil {
			t.Fatalf("CountGrants: %v", err)
		}
		total += n
	}
	if want := workers*perWorker/2 + 1; total != want {
		t.Errorf("%d grants left on the workers' keys, want %d", total, want)
	}
	if n, err := s.CountGrants(ctx, doomed.ID); err != nil || n != 0 {
		t.Errorf("CountGrants(deleted key) = %d, %v; want 0", n, err)
	}
	// The deleted key's grants are nobody's to retire either.
	gs, err := s.ListRetirableGrants(ctx, bob, "", 0)
	if err != nil {
		t.Fatalf("ListRetirableGrants: %v", err)
	}
	if len(gs) != workers*perWorker/2 {
		t.Errorf("ListRetirableGrants(bob) returned %d grants, want %d", len(gs), workers*perWorker/2)
	}
}

// testServicePrincipalGrants: grants to and retirable by AWS service
// principals, with a SourceArn constraint, read back by every path and
// selected by the grantee and retiring filters like any principal.
func testServicePrincipalGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := newKey(1, acct1, region1)
	mustCreateKey(t, s, k, nil)
	const (
		s3     = "s3.amazonaws.com"
		logs   = "logs.us-east-1.amazonaws.com"
		bucket = "arn:aws:s3:::amzn-s3-demo-bucket"
	)
	service := newGrant(1, k.ID, s3, at(time.Minute))
	service.RetiringPrincipal = logs
	service.SourceArn = bucket
	service.EncryptionContextSubset = map[string]string{"aws:s3:arn": bucket}
	// A SourceArn on a grant to an ARN, retired by a service.
	mixed := newGrant(2, k.ID, alice, at(2*time.Minute))
	mixed.RetiringPrincipal = s3
	mixed.SourceArn = "arn:aws:logs:us-east-1:" + acct1 + ":log-group:app"
	plain := newGrant(3, k.ID, s3, at(3*time.Minute)) // no SourceArn: stored as ""
	for _, g := range []store.Grant{service, mixed, plain} {
		mustCreateGrant(t, s, g)
	}
	if !store.IsServicePrincipal(service.GranteePrincipal) || store.IsServicePrincipal(mixed.GranteePrincipal) ||
		store.IsServicePrincipal("") {
		t.Errorf("IsServicePrincipal does not tell %q from %q and \"\"", s3, alice)
	}

	all, err := s.ListGrants(ctx, store.GrantFilter{KeyID: k.ID})
	if err != nil || len(all) != 3 {
		t.Fatalf("ListGrants = %d grants, %v; want 3", len(all), err)
	}
	for i, want := range []store.Grant{service, mixed, plain} {
		checkGrant(t, all[i], want)
	}
	u, err := s.GetKeyForUse(ctx, k.ID)
	if err != nil || len(u.Grants) != 3 {
		t.Fatalf("GetKeyForUse = %d grants, %v; want 3", len(u.Grants), err)
	}
	for i, want := range []store.Grant{service, mixed, plain} {
		checkGrant(t, u.Grants[i], want)
	}

	for _, c := range []struct {
		grantee string
		want    []string
	}{
		{s3, []string{grantID(1), grantID(3)}},
		{alice, []string{grantID(2)}},
		{logs, nil},
	} {
		gs, err := s.ListGrants(ctx, store.GrantFilter{KeyID: k.ID, GranteePrincipal: c.grantee})
		if err != nil || !slices.Equal(grantIDs(gs), c.want) {
			t.Errorf("ListGrants(grantee %s) = %v, %v; want %v", c.grantee, grantIDs(gs), err, c.want)
		}
	}
	for _, c := range []struct {
		retiring string
		want     []string
	}{
		{logs, []string{grantID(1)}},
		{s3, []string{grantID(2)}},
	} {
		gs, err := s.ListRetirableGrants(ctx, c.retiring, "", 0)
		if err != nil || !slices.Equal(grantIDs(gs), c.want) {
			t.Errorf("ListRetirableGrants(%s) = %v, %v; want %v", c.retiring, grantIDs(gs), err, c.want)
		}
		if len(gs) == 1 {
			checkGrant(t, gs[0], map[string]store.Grant{logs: service, s3: mixed}[c.retiring])
		}
	}
}
