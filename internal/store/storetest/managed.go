package storetest

// IAM customer managed policies, their versions and attachments.

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openkms/kms/internal/store"
)

func newManaged(account, name string, n int) store.ManagedPolicy {
	return store.ManagedPolicy{
		Account:        account,
		Name:           name,
		ID:             fmt.Sprintf("ANPA%017d", n),
		Path:           "/",
		Description:    fmt.Sprintf("policy %d", n),
		DefaultVersion: 1,
		LatestVersion:  1,
		Created:        at(time.Duration(n) * time.Second),
		Updated:        at(time.Duration(n) * time.Second),
	}
}

func managedDoc(n int) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"s%d","Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, n)
}

func mustCreateManaged(t *testing.T, s store.Store, p store.ManagedPolicy, doc string) {
	t.Helper()
	if err := s.CreateManagedPolicy(t.Context(), p, []store.PolicyVersion{{Number: 1, Document: doc, Created: p.Created}}); err != nil {
		t.Fatalf("CreateManagedPolicy(%s %s): %v", p.Account, p.Name, err)
	}
}

func checkManaged(t *testing.T, got, want store.ManagedPolicy) {
	t.Helper()
	g, w := got, want
	g.Created, w.Created, g.Updated, w.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if g != w || !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) {
		t.Errorf("managed policy = %+v, want %+v", got, want)
	}
}

func checkVersion(t *testing.T, got, want store.PolicyVersion) {
	t.Helper()
	if got.Number != want.Number || got.Document != want.Document || !got.Created.Equal(want.Created) {
		t.Errorf("policy version = %+v, want %+v", got, want)
	}
}

func mustGetManaged(t *testing.T, s store.Store, account, name string) store.ManagedPolicy {
	t.Helper()
	p, err := s.GetManagedPolicy(t.Context(), account, name)
	if err != nil {
		t.Fatalf("GetManagedPolicy(%s %s): %v", account, name, err)
	}
	return p
}

func testManagedPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newManaged(acct1, "ReadKeys", 1)
	p.Path = "/team/a/"
	p.Description = "ünïcødé ✓ \"quoted\""
	doc := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"kms:Decrypt\", \"Resource\": \"*\"}]\n}"
	mustCreateManaged(t, s, p, doc)
	for _, name := range spellings("ReadKeys") {
		checkManaged(t, mustGetManaged(t, s, acct1, name), p)
	}
	v, err := s.GetPolicyVersion(ctx, acct1, "readkeys", 1)
	if err != nil {
		t.Fatalf("GetPolicyVersion(v1): %v", err)
	}
	checkVersion(t, v, store.PolicyVersion{Number: 1, Document: doc, Created: p.Created})

	// Names are unique per account in any case, whatever the path; ids
	// are unique everywhere. A refused create leaves nothing behind.
	for i, name := range spellings("ReadKeys") {
		dup := newManaged(acct1, name, 10+i)
		dup.Path = "/other/"
		wantErr(t, "CreateManagedPolicy "+name, s.CreateManagedPolicy(ctx, dup, []store.PolicyVersion{{Number: 1, Document: "{}"}}), store.ErrExists)
	}
	sameID := newManaged(acct2, "other", 2)
	sameID.ID = p.ID
	wantErr(t, "CreateManagedPolicy with a taken id", s.CreateManagedPolicy(ctx, sameID, []store.PolicyVersion{{Number: 1, Document: "{}"}}), store.ErrExists)
	_, err = s.GetManagedPolicy(ctx, acct2, "other")
	wantErr(t, "GetManagedPolicy after a refused create", err, store.ErrNotFound)
	if v, err := s.GetPolicyVersion(ctx, acct1, "ReadKeys", 1); err != nil || v.Document != doc {
		t.Errorf("GetPolicyVersion after refused creates = %+v, %v; want the first document", v, err)
	}

	// Another account, users and roles are other namespaces; the path
	// defaults to "/".
	other := newManaged(acct2, "readkeys", 3)
	other.Path = ""
	mustCreateManaged(t, s, other, managedDoc(3))
	other.Path = "/"
	checkManaged(t, mustGetManaged(t, s, acct2, "READKEYS"), other)
	mustCreateUser(t, s, newUser(acct1, "ReadKeys", 4))
	_, err = s.GetManagedPolicy(ctx, acct1, "missing")
	wantErr(t, "GetManagedPolicy missing", err, store.ErrNotFound)
	_, err = s.GetManagedPolicy(ctx, "999999999999", "ReadKeys")
	wantErr(t, "GetManagedPolicy in the wrong account", err, store.ErrNotFound)

	// Listing is by name key, paged like users.
	created := map[string]store.ManagedPolicy{p.Name: p}
	for i, name := range []string{"zeta", "Alpha", "beta", "Gamma"} {
		q := newManaged(acct1, name, 20+i)
		mustCreateManaged(t, s, q, managedDoc(i))
		created[name] = q
	}
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 0, []string{"Alpha", "beta", "Gamma", "ReadKeys", "zeta"}},
		{"", 2, []string{"Alpha", "beta"}},
		{"BETA", 2, []string{"Gamma", "ReadKeys"}},
		{"readkeys", 0, []string{"zeta"}},
		{"zz", 0, nil},
	} {
		ps, err := s.ListManagedPolicies(ctx, acct1, tc.after, tc.limit)
		if err != nil {
			t.Fatalf("ListManagedPolicies(%q, %d): %v", tc.after, tc.limit, err)
		}
		var got []string
		for _, q := range ps {
			got = append(got, q.Name)
			checkManaged(t, q, created[q.Name])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ListManagedPolicies(%q, %d) = %v, want %v", tc.after, tc.limit, got, tc.want)
		}
	}
	if ps, err := s.ListManagedPolicies(ctx, "999999999999", "", 0); err != nil || len(ps) != 0 {
		t.Errorf("ListManagedPolicies of an empty account = %v, %v", ps, err)
	}

	// Delete takes the policy and its version; the name is free again, for
	// a policy that starts at v1.
	if err := s.DeleteManagedPolicy(ctx, acct1, "READKEYS"); err != nil {
		t.Fatalf("DeleteManagedPolicy: %v", err)
	}
	_, err = s.GetManagedPolicy(ctx, acct1, "ReadKeys")
	wantErr(t, "GetManagedPolicy after delete", err, store.ErrNotFound)
	_, err = s.GetPolicyVersion(ctx, acct1, "ReadKeys", 1)
	wantErr(t, "GetPolicyVersion after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteManagedPolicy twice", s.DeleteManagedPolicy(ctx, acct1, "ReadKeys"), store.ErrNotFound)
	checkManaged(t, mustGetManaged(t, s, acct2, "readkeys"), other)
	again := newManaged(acct1, "readKEYS", 30)
	mustCreateManaged(t, s, again, managedDoc(30))
	if vs, err := s.ListPolicyVersions(ctx, acct1, "ReadKeys"); err != nil || len(vs) != 1 || vs[0].Document != managedDoc(30) {
		t.Errorf("ListPolicyVersions(recreated) = %+v, %v; want v1 only", vs, err)
	}
}

func testPolicyVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newManaged(acct1, "Versioned", 1)
	mustCreateManaged(t, s, p, managedDoc(1))
	v1 := store.PolicyVersion{Number: 1, Document: managedDoc(1), Created: p.Created}

	add := func(n int, setDefault bool) store.PolicyVersion {
		t.Helper()
		v, err := s.AddPolicyVersion(ctx, acct1, "versioned", store.PolicyVersion{Document: managedDoc(n), Created: at(time.Duration(n) * time.Minute)}, setDefault)
		if err != nil {
			t.Fatalf("AddPolicyVersion(%d): %v", n, err)
		}
		return v
	}
	v2 := add(2, false)
	checkVersion(t, v2, store.PolicyVersion{Number: 2, Document: managedDoc(2), Created: at(2 * time.Minute)})
	checkManaged(t, mustGetManaged(t, s, acct1, "Versioned"), func() store.ManagedPolicy { q := p; q.LatestVersion = 2; return q }())
	v3 := add(3, true)
	if v3.Number != 3 {
		t.Fatalf("third version numbered %d", v3.Number)
	}
	p.DefaultVersion, p.LatestVersion, p.Updated = 3, 3, v3.Created
	checkManaged(t, mustGetManaged(t, s, acct1, "Versioned"), p)

	list := func() []store.PolicyVersion {
		t.Helper()
		vs, err := s.ListPolicyVersions(ctx, acct1, "VERSIONED")
		if err != nil {
			t.Fatalf("ListPolicyVersions: %v", err)
		}
		return vs
	}
	checkList := func(what string, want ...store.PolicyVersion) {
		t.Helper()
		got := list()
		if len(got) != len(want) {
			t.Fatalf("%s: %d versions, want %d", what, len(got), len(want))
		}
		for i := range got {
			checkVersion(t, got[i], want[i])
		}
	}
	checkList("ListPolicyVersions", v3, v2, v1)

	// The default version cannot go; others can, and their numbers are not
	// given again.
	wantErr(t, "DeletePolicyVersion of the default", s.DeletePolicyVersion(ctx, acct1, "Versioned", 3), store.ErrInUse)
	if err := s.DeletePolicyVersion(ctx, acct1, "versioned", 2); err != nil {
		t.Fatalf("DeletePolicyVersion(v2): %v", err)
	}
	wantErr(t, "DeletePolicyVersion twice", s.DeletePolicyVersion(ctx, acct1, "Versioned", 2), store.ErrNotFound)
	wantErr(t, "DeletePolicyVersion of a missing policy", s.DeletePolicyVersion(ctx, acct1, "nope", 1), store.ErrNotFound)
	_, err := s.GetPolicyVersion(ctx, acct1, "Versioned", 2)
	wantErr(t, "GetPolicyVersion after delete", err, store.ErrNotFound)
	v4 := add(4, false)
	if v4.Number != 4 {
		t.Fatalf("version after a deleted one numbered %d, want 4", v4.Number)
	}
	checkList("ListPolicyVersions after a delete", v4, v3, v1)

	// SetDefaultPolicyVersion switches the version in force.
	if err := s.SetDefaultPolicyVersion(ctx, acct1, "VERSIONED", 1, at(time.Hour)); err != nil {
		t.Fatalf("SetDefaultPolicyVersion(v1): %v", err)
	}
	p.DefaultVersion, p.LatestVersion, p.Updated = 1, 4, at(time.Hour)
	checkManaged(t, mustGetManaged(t, s, acct1, "Versioned"), p)
	wantErr(t, "SetDefaultPolicyVersion to a deleted version", s.SetDefaultPolicyVersion(ctx, acct1, "Versioned", 2, at(0)), store.ErrNotFound)
	wantErr(t, "SetDefaultPolicyVersion of a missing policy", s.SetDefaultPolicyVersion(ctx, acct1, "nope", 1, at(0)), store.ErrNotFound)
	checkManaged(t, mustGetManaged(t, s, acct1, "Versioned"), p)
	_, err = s.AddPolicyVersion(ctx, acct1, "nope", store.PolicyVersion{Document: "{}"}, true)
	wantErr(t, "AddPolicyVersion of a missing policy", err, store.ErrNotFound)
	if vs, err := s.ListPolicyVersions(ctx, acct1, "nope"); err != nil || len(vs) != 0 {
		t.Errorf("ListPolicyVersions of a missing policy = %v, %v", vs, err)
	}

	// A policy with versions besides its default is not deleted.
	wantErr(t, "DeleteManagedPolicy with versions", s.DeleteManagedPolicy(ctx, acct1, "Versioned"), store.ErrInUse)
	for _, n := range []int{3, 4} {
		if err := s.DeletePolicyVersion(ctx, acct1, "Versioned", n); err != nil {
			t.Fatalf("DeletePolicyVersion(v%d): %v", n, err)
		}
	}
	if err := s.DeleteManagedPolicy(ctx, acct1, "Versioned"); err != nil {
		t.Fatalf("DeleteManagedPolicy: %v", err)
	}
	if vs := list(); len(vs) != 0 {
		t.Errorf("versions left after delete: %+v", vs)
	}
}

// testManagedPolicyAsGiven: a policy stored with its versions as they are
// (as a migration copies it) reads back so, and numbers on from them.
func testManagedPolicyAsGiven(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newManaged(acct1, "copied", 1)
	p.DefaultVersion, p.LatestVersion, p.Updated = 3, 6, at(time.Hour)
	vs := []store.PolicyVersion{
		{Number: 5, Document: managedDoc(5), Created: at(5 * time.Minute)},
		{Number: 3, Document: managedDoc(3), Created: at(3 * time.Minute)},
		{Number: 1, Document: managedDoc(1), Created: at(time.Minute)},
	}
	for _, tc := range []struct {
		name string
		p    store.ManagedPolicy
		vs   []store.PolicyVersion
	}{
		{"no default", p, vs[:1]},
		{"no versions", p, nil},
		{"a version above the latest", p, append(slices.Clone(vs), store.PolicyVersion{Number: 7, Document: "{}"})},
		{"a version 0", p, append(slices.Clone(vs), store.PolicyVersion{Number: 0, Document: "{}"})},
	} {
		if err := s.CreateManagedPolicy(ctx, tc.p, tc.vs); err == nil {
			t.Errorf("CreateManagedPolicy with %s succeeded", tc.name)
		}
		_, err := s.GetManagedPolicy(ctx, acct1, "copied")
		wantErr(t, "GetManagedPolicy after a refused create with "+tc.name, err, store.ErrNotFound)
	}
	if err := s.CreateManagedPolicy(ctx, p, vs); err != nil {
		t.Fatalf("CreateManagedPolicy: %v", err)
	}
	checkManaged(t, mustGetManaged(t, s, acct1, "copied"), p)
	got, err := s.ListPolicyVersions(ctx, acct1, "copied")
	if err != nil || len(got) != len(vs) {
		t.Fatalf("ListPolicyVersions = %+v, %v", got, err)
	}
	for i := range vs {
		checkVersion(t, got[i], vs[i])
	}
	if v, err := s.AddPolicyVersion(ctx, acct1, "copied", store.PolicyVersion{Document: "{}", Created: at(0)}, false); err != nil || v.Number != 7 {
		t.Errorf("AddPolicyVersion after the copy = %+v, %v; want v7", v, err)
	}
}

func testPolicyAttachments(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser(acct1, "Alice", 1))
	mustCreateRole(t, s, newRole(acct1, "App", 2))
	mustCreateUser(t, s, newUser(acct1, "bob", 3))
	mustCreateUser(t, s, newUser(acct2, "alice", 4))
	read := newManaged(acct1, "Read", 1)
	write := newManaged(acct1, "write", 2)
	mustCreateManaged(t, s, read, managedDoc(1))
	mustCreateManaged(t, s, write, managedDoc(2))
	mustCreateManaged(t, s, newManaged(acct2, "read", 3), managedDoc(3))

	// Attaching needs the owner and the policy, in the same account.
	for _, tc := range []struct {
		account string
		kind    store.OwnerKind
		owner   string
		policy  string
	}{
		{acct1, store.OwnerUser, "carol", "Read"},
		{acct1, store.OwnerRole, "Alice", "Read"},
		{acct1, store.OwnerUser, "Alice", "missing"},
		{acct2, store.OwnerUser, "alice", "write"},
	} {
		wantErr(t, fmt.Sprintf("AttachPolicy(%s %s %s %s)", tc.account, tc.kind, tc.owner, tc.policy),
			s.AttachPolicy(ctx, tc.account, tc.kind, tc.owner, tc.policy), store.ErrNotFound)
	}
	if err := s.AttachPolicy(ctx, acct1, "group", "Alice", "Read"); err == nil {
		t.Errorf("AttachPolicy with owner kind %q succeeded", "group")
	}

	attach := func(kind store.OwnerKind, owner, policy string) {
		t.Helper()
		if err := s.AttachPolicy(ctx, acct1, kind, owner, policy); err != nil {
			t.Fatalf("AttachPolicy(%s %s %s): %v", kind, owner, policy, err)
		}
	}
	attach(store.OwnerUser, "alice", "WRITE")
	attach(store.OwnerUser, "ALICE", "read")
	attach(store.OwnerUser, "Alice", "Read") // again: no change
	attach(store.OwnerRole, "app", "read")

	attached := func(account string, kind store.OwnerKind, owner string) []store.AttachedPolicy {
		t.Helper()
		as, err := s.ListAttachedPolicies(ctx, account, kind, owner)
		if err != nil {
			t.Fatalf("ListAttachedPolicies(%s %s): %v", kind, owner, err)
		}
		return as
	}
	read.AttachmentCount, write.AttachmentCount = 2, 1
	as := attached(acct1, store.OwnerUser, "aLiCe")
	if len(as) != 2 || as[0].Document != managedDoc(1) || as[1].Document != managedDoc(2) {
		t.Fatalf("ListAttachedPolicies(Alice) = %+v", as)
	}
	checkManaged(t, as[0].Policy, read)
	checkManaged(t, as[1].Policy, write)
	if as := attached(acct1, store.OwnerRole, "APP"); len(as) != 1 || as[0].Policy.Name != "Read" {
		t.Errorf("ListAttachedPolicies(App) = %+v", as)
	}
	for _, tc := range []struct {
		account string
		kind    store.OwnerKind
		owner   string
	}{{acct1, store.OwnerUser, "bob"}, {acct1, store.OwnerRole, "Alice"}, {acct2, store.OwnerUser, "alice"}, {acct1, store.OwnerUser, "carol"}} {
		if as := attached(tc.account, tc.kind, tc.owner); len(as) != 0 {
			t.Errorf("ListAttachedPolicies(%s %s %s) = %+v, want none", tc.account, tc.kind, tc.owner, as)
		}
	}
	checkManaged(t, mustGetManaged(t, s, acct1, "read"), read)
	ents, err := s.ListPolicyAttachments(ctx, acct1, "READ")
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.PolicyAttachment{{OwnerKind: store.OwnerUser, Owner: "Alice"}, {OwnerKind: store.OwnerRole, Owner: "App"}}; !slices.Equal(ents, want) {
		t.Errorf("ListPolicyAttachments(Read) = %+v, want %+v", ents, want)
	}

	// The document attached is the default version's, whichever it is.
	if _, err := s.AddPolicyVersion(ctx, acct1, "read", store.PolicyVersion{Document: managedDoc(9), Created: at(time.Hour)}, true); err != nil {
		t.Fatal(err)
	}
	if as := attached(acct1, store.OwnerRole, "App"); len(as) != 1 || as[0].Document != managedDoc(9) || as[0].Policy.DefaultVersion != 2 {
		t.Errorf("ListAttachedPolicies after a new default = %+v", as)
	}

	// Attached policies hold back the deletion of the policy and of its
	// users and roles.
	wantErr(t, "DeleteManagedPolicy attached", s.DeleteManagedPolicy(ctx, acct1, "write"), store.ErrInUse)
	wantErr(t, "DeleteUser with an attached policy", s.DeleteUser(ctx, acct1, "Alice"), store.ErrInUse)
	wantErr(t, "DeleteRole with an attached policy", s.DeleteRole(ctx, acct1, "App"), store.ErrInUse)

	detach := func(kind store.OwnerKind, owner, policy string) {
		t.Helper()
		if err := s.DetachPolicy(ctx, acct1, kind, owner, policy); err != nil {
			t.Fatalf("DetachPolicy(%s %s %s): %v", kind, owner, policy, err)
		}
	}
	detach(store.OwnerUser, "ALICE", "Write")
	wantErr(t, "DetachPolicy twice", s.DetachPolicy(ctx, acct1, store.OwnerUser, "Alice", "write"), store.ErrNotFound)
	wantErr(t, "DetachPolicy of the wrong kind", s.DetachPolicy(ctx, acct1, store.OwnerRole, "Alice", "read"), store.ErrNotFound)
	wantErr(t, "DetachPolicy never attached", s.DetachPolicy(ctx, acct1, store.OwnerUser, "bob", "read"), store.ErrNotFound)
	if err := s.DeleteManagedPolicy(ctx, acct1, "write"); err != nil {
		t.Fatalf("DeleteManagedPolicy after detach: %v", err)
	}
	detach(store.OwnerUser, "Alice", "read")
	if err := s.DeleteUser(ctx, acct1, "Alice"); err != nil {
		t.Fatalf("DeleteUser after detach: %v", err)
	}
	detach(store.OwnerRole, "App", "READ")
	if err := s.DeleteRole(ctx, acct1, "App"); err != nil {
		t.Fatalf("DeleteRole after detach: %v", err)
	}
	if ents, err := s.ListPolicyAttachments(ctx, acct1, "Read"); err != nil || len(ents) != 0 {
		t.Errorf("ListPolicyAttachments after detaching all = %+v, %v", ents, err)
	}
	if p := mustGetManaged(t, s, acct1, "Read"); p.AttachmentCount != 0 {
		t.Errorf("AttachmentCount after detaching all = %d", p.AttachmentCount)
	}
	// A user of the same name made again starts with nothing attached.
	mustCreateUser(t, s, newUser(acct1, "alice", 9))
	if as := attached(acct1, store.OwnerUser, "Alice"); len(as) != 0 {
		t.Errorf("ListAttachedPolicies(recreated) = %+v", as)
	}
}

// testManagedConcurrency races attachments against deletions of the policy
// and of its owners, and versions against each other; run it under -race.
func testManagedConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()
	const rounds = 10
	var wg sync.WaitGroup
	for i := range rounds {
		user, role, pol := fmt.Sprintf("user%d", i), fmt.Sprintf("role%d", i), fmt.Sprintf("pol%d", i)
		mustCreateUser(t, s, newUser(acct1, user, i))
		mustCreateRole(t, s, newRole(acct1, role, i))
		mustCreateManaged(t, s, newManaged(acct1, pol, i), managedDoc(i))
		for _, a := range []struct {
			kind  store.OwnerKind
			owner string
		}{{store.OwnerUser, user}, {store.OwnerRole, role}} {
			wg.Go(func() {
				if err := s.AttachPolicy(ctx, acct1, a.kind, a.owner, pol); err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("AttachPolicy(%s %s): %v", a.owner, pol, err)
				}
			})
		}
		wg.Go(func() {
			if err := s.DeleteUser(ctx, acct1, user); err != nil && !errors.Is(err, store.ErrInUse) {
				t.Errorf("DeleteUser(%s): %v", user, err)
			}
		})
		wg.Go(func() {
			if err := s.DeleteRole(ctx, acct1, role); err != nil && !errors.Is(err, store.ErrInUse) {
				t.Errorf("DeleteRole(%s): %v", role, err)
			}
		})
		wg.Go(func() {
			if err := s.DeleteManagedPolicy(ctx, acct1, pol); err != nil && !errors.Is(err, store.ErrInUse) {
				t.Errorf("DeleteManagedPolicy(%s): %v", pol, err)
			}
		})
	}
	// Versions added at once are numbered apart.
	mustCreateManaged(t, s, newManaged(acct1, "shared", 100), managedDoc(100))
	numbers := make(chan int, 8)
	for n := range 8 {
		wg.Go(func() {
			v, err := s.AddPolicyVersion(ctx, acct1, "shared", store.PolicyVersion{Document: managedDoc(n), Created: at(0)}, n%2 == 0)
			if err != nil {
				t.Errorf("AddPolicyVersion: %v", err)
				return
			}
			numbers <- v.Number
		})
	}
	wg.Wait()
	close(numbers)
	var got []int
	for n := range numbers {
		got = append(got, n)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("concurrent versions numbered %v", got)
	}

	// No attachment outlives its owner or its policy.
	for i := range rounds {
		user, role, pol := fmt.Sprintf("user%d", i), fmt.Sprintf("role%d", i), fmt.Sprintf("pol%d", i)
		_, err := s.GetManagedPolicy(ctx, acct1, pol)
		polGone := errors.Is(err, store.ErrNotFound)
		if err != nil && !polGone {
			t.Fatal(err)
		}
		ents, err := s.ListPolicyAttachments(ctx, acct1, pol)
		if err != nil {
			t.Fatal(err)
		}
		if polGone && len(ents) > 0 {
			t.Errorf("policy %s gone with attachments %+v", pol, ents)
		}
		for _, e := range ents {
			var err error
			if e.OwnerKind == store.OwnerUser {
				_, err = s.GetUser(ctx, acct1, user)
			} else {
				_, err = s.GetRole(ctx, acct1, role)
			}
			if err != nil {
				t.Errorf("%s %s attached to %s: %v", e.OwnerKind, e.Owner, pol, err)
			}
		}
	}
}
