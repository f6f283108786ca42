package storetest

// The identity side: accounts, IAM users and roles, their access keys and
// inline policies.

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openkms/kms/internal/store"
)

func newUser(account, name string, n int) store.User {
	return store.User{
		Account: account,
		Name:    name,
		ID:      fmt.Sprintf("AIDA%017d", n),
		Path:    "/",
		Created: at(time.Duration(n) * time.Second),
	}
}

func newRole(account, name string, n int) store.Role {
	return store.Role{
		Account:            account,
		Name:               name,
		ID:                 fmt.Sprintf("AROA%017d", n),
		Path:               "/",
		AssumeRolePolicy:   fmt.Sprintf(`{"Version":"2012-10-17","Id":"trust-%d","Statement":[]}`, n),
		MaxSessionDuration: 3600,
		Description:        fmt.Sprintf("role %d", n),
		Created:            at(time.Duration(n) * time.Second),
	}
}

// newAccessKey returns a key of a user ("" for the root); ids sort in the
// order of n.
func newAccessKey(account, user string, n int, created time.Time) store.AccessKey {
	arn := "arn:aws:iam::" + account + ":root"
	if user != "" {
		arn = "arn:aws:iam::" + account + ":user/" + user
	}
	return store.AccessKey{
		ID:           fmt.Sprintf("AKIA%016d", n),
		Account:      account,
		PrincipalARN: arn,
		SealedSecret: []byte(fmt.Sprintf("sealed-%d\x00\xff", n)),
		Active:       true,
		Created:      created,
		UserName:     user,
	}
}

func newPolicy(account string, kind store.OwnerKind, owner, name string) store.Policy {
	return store.Policy{
		Account:   account,
		OwnerKind: kind,
		Owner:     owner,
		Name:      name,
		Document: fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":%q,`+
			`"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, string(kind)+"/"+owner+"/"+name),
	}
}

func mustCreateUser(t *testing.T, s store.Store, u store.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%s %s): %v", u.Account, u.Name, err)
	}
}

func mustCreateRole(t *testing.T, s store.Store, r store.Role) {
	t.Helper()
	if err := s.CreateRole(t.Context(), r); err != nil {
		t.Fatalf("CreateRole(%s %s): %v", r.Account, r.Name, err)
	}
}

func mustPutAccessKey(t *testing.T, s store.Store, k store.AccessKey) {
	t.Helper()
	if err := s.PutAccessKey(t.Context(), k); err != nil {
		t.Fatalf("PutAccessKey(%s): %v", k.ID, err)
	}
}

func mustPutPolicy(t *testing.T, s store.Store, p store.Policy) {
	t.Helper()
	if err := s.PutPolicy(t.Context(), p); err != nil {
		t.Fatalf("PutPolicy(%s %s %s %s): %v", p.Account, p.OwnerKind, p.Owner, p.Name, err)
	}
}

func checkAccessKey(t *testing.T, got, want store.AccessKey) {
	t.Helper()
	if got.ID != want.ID || got.Account != want.Account || got.PrincipalARN != want.PrincipalARN ||
		!bytes.Equal(got.SealedSecret, want.SealedSecret) || got.Active != want.Active ||
		!got.Created.UTC().Equal(want.Created.UTC()) || got.UserName != want.UserName {
		t.Errorf("access key = %+v, want %+v", got, want)
	}
}

func checkAccessKeys(t *testing.T, what string, got, want []store.AccessKey) {
	t.Helper()
	if !slices.Equal(keyIDs(got), keyIDs(want)) {
		t.Errorf("%s = %v, want %v", what, keyIDs(got), keyIDs(want))
		return
	}
	for i := range got {
		checkAccessKey(t, got[i], want[i])
	}
}

func keyIDs(ks []store.AccessKey) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.ID)
	}
	return out
}

func checkUser(t *testing.T, got, want store.User) {
	t.Helper()
	g, w := got, want
	g.Created, w.Created = time.Time{}, time.Time{}
	if g != w || !got.Created.UTC().Equal(want.Created.UTC()) {
		t.Errorf("user = %+v, want %+v", got, want)
	}
}

func checkRole(t *testing.T, got, want store.Role) {
	t.Helper()
	g, w := got, want
	g.Created, w.Created = time.Time{}, time.Time{}
	if g != w || !got.Created.UTC().Equal(want.Created.UTC()) {
		t.Errorf("role = %+v, want %+v", got, want)
	}
}

func checkPolicies(t *testing.T, what string, got, want []store.Policy) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// spellings returns name in several mixes of case, all the same IAM name.
func spellings(name string) []string {
	return []string{name, strings.ToLower(name), strings.ToUpper(name), alternate(name, 0), alternate(name, 1)}
}

// alternate upper-cases every other ASCII letter of name, starting at index
// first, and lower-cases the rest.
func alternate(name string, first int) string {
	b := []byte(name)
	for i, c := range b {
		if i%2 == first {
			b[i] = strings.ToUpper(string(c))[0]
		} else {
			b[i] = strings.ToLower(string(c))[0]
		}
	}
	return string(b)
}

func testListAccounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ListAccounts(ctx)
	if err != nil {
		t.Fatalf("ListAccounts: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("ListAccounts of an empty store = %+v, want none", got)
	}
	// Created out of id order.
	want := []store.Account{{ID: acct1, Created: at(time.Hour)}, {ID: acct2, Created: at(0)}}
	for _, a := range []store.Account{want[1], want[0]} {
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatalf("CreateAccount(%s): %v", a.ID, err)
		}
	}
	got, err = s.ListAccounts(ctx)
	if err != nil {
		t.Fatalf("ListAccounts: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListAccounts = %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i].ID != want[i].ID || !got[i].Created.UTC().Equal(want[i].Created) {
			t.Errorf("ListAccounts[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := newUser(acct1, "Alice", 1)
	alice.Path = "/engineering/"
	alice.Created = at(time.Minute).In(time.FixedZone("UTC-7", -7*3600))
	mustCreateUser(t, s, alice)

	// Found in any case, returned as created.
	for _, name := range spellings("Alice") {
		got, err := s.GetUser(ctx, acct1, name)
		if err != nil {
			t.Fatalf("GetUser(%s): %v", name, err)
		}
		checkUser(t, got, alice)
	}

	// The name is taken in every case; a failed create changes nothing.
	for i, name := range spellings("Alice") {
		wantErr(t, "CreateUser "+name, s.CreateUser(ctx, newUser(acct1, name, 10+i)), store.ErrExists)
	}
	// So is the id, under any name.
	sameID := newUser(acct1, "bob", 2)
	sameID.ID = alice.ID
	wantErr(t, "CreateUser with a taken id", s.CreateUser(ctx, sameID), store.ErrExists)
	_, err := s.GetUser(ctx, acct1, "bob")
	wantErr(t, "GetUser after a failed create", err, store.ErrNotFound)
	if got, err := s.GetUser(ctx, acct1, "alice"); err != nil {
		t.Fatalf("GetUser: %v", err)
	} else {
		checkUser(t, got, alice)
	}

	// The path defaults to "/".
	carol := newUser(acct1, "carol", 3)
	carol.Path = ""
	mustCreateUser(t, s, carol)
	carol.Path = "/"
	if got, err := s.GetUser(ctx, acct1, "carol"); err != nil {
		t.Fatalf("GetUser(carol): %v", err)
	} else {
		checkUser(t, got, carol)
	}

	// The same name is free in another account, and roles have their own
	// namespace.
	other := newUser(acct2, "ALICE", 4)
	mustCreateUser(t, s, other)
	mustCreateRole(t, s, newRole(acct1, "alice", 5))
	if got, err := s.GetUser(ctx, acct2, "alice"); err != nil {
		t.Fatalf("GetUser(%s alice): %v", acct2, err)
	} else {
		checkUser(t, got, other)
	}
	if got, err := s.GetUser(ctx, acct1, "alice"); err != nil {
		t.Fatalf("GetUser(%s alice): %v", acct1, err)
	} else {
		checkUser(t, got, alice)
	}

	_, err = s.GetUser(ctx, acct1, "dave")
	wantErr(t, "GetUser missing", err, store.ErrNotFound)
	_, err = s.GetUser(ctx, acct2, "carol")
	wantErr(t, "GetUser in the wrong account", err, store.ErrNotFound)
	_, err = s.GetUser(ctx, acct1, "alic")
	wantErr(t, "GetUser prefix", err, store.ErrNotFound)

	// Only ASCII letters fold (store.NameKey): names IAM would refuse
	// anyway are kept apart rather than merged.
	mustCreateUser(t, s, newUser(acct1, "Émile", 6))
	mustCreateUser(t, s, newUser(acct1, "émile", 7))
}

// checkListByName checks a list of names of one account: the order, paging
// with every limit, After in any case and other accounts left out. create
// adds a named entity; list returns the names it lists.
func checkListByName(t *testing.T, what string,
	create func(account, name string, n int),
	list func(account, after string, limit int) ([]string, error)) {
	t.Helper()
	// Created out of order. Case-insensitive order differs from byte order
	// here: "Zed" would sort before "alice", and "XA" before "x_1".
	for i, name := range []string{"carol", "Zed", "XA", "Bob", "x_1", "alice"} {
		create(acct1, name, i+1)
	}
	want := []string{"alice", "Bob", "carol", "x_1", "XA", "Zed"}
	create(acct2, "aaron", 50)
	create(acct2, "zach", 51)

	mustList := func(after string, limit int) []string {
		t.Helper()
		got, err := list(acct1, after, limit)
		if err != nil {
			t.Fatalf("%s(after %q, limit %d): %v", what, after, limit, err)
		}
		return got
	}
	for _, limit := range []int{0, -1, len(want), len(want) + 1} {
		if got := mustList("", limit); !slices.Equal(got, want) {
			t.Errorf("%s(limit %d) = %v, want %v", what, limit, got, want)
		}
	}
	for limit := 1; limit <= len(want)+1; limit++ {
		var all []string
		after := ""
		for range len(want) + 2 {
			page := mustList(after, limit)
			if len(page) > limit {
				t.Fatalf("%s(limit %d) returned %d names", what, limit, len(page))
			}
			all = append(all, page...)
			if len(page) < limit {
				break
			}
			after = page[len(page)-1]
		}
		if !slices.Equal(all, want) {
			t.Errorf("%s pages of %d = %v, want %v", what, limit, all, want)
		}
	}
	for _, tc := range []struct {
		after string
		want  []string
	}{
		{"BOB", want[2:]},    // any case
		{"bz", want[2:]},     // need not be stored
		{"x", want[3:]},      // a prefix sorts before
		{"ZED", nil},         // the last
		{"zzz", nil},         // past the end
		{"ALICE", want[1:2]}, // with a limit
	} {
		limit := 0
		if tc.after == "ALICE" {
			limit = 1
		}
		if got := mustList(tc.after, limit); !slices.Equal(got, tc.want) {
			t.Errorf("%s(after %q, limit %d) = %v, want %v", what, tc.after, limit, got, tc.want)
		}
	}
	got, err := list("999999999999", "", 0)
	if err != nil || len(got) != 0 {
		t.Errorf("%s(unknown account) = %v, %v; want none", what, got, err)
	}
	got, err = list(acct2, "", 0)
	if err != nil || !slices.Equal(got, []string{"aaron", "zach"}) {
		t.Errorf("%s(%s) = %v, %v; want [aaron zach]", what, acct2, got, err)
	}
}

func testListUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	created := map[string]store.User{}
	checkListByName(t, "ListUsers",
		func(account, name string, n int) {
			u := newUser(account, name, n)
			u.Path = fmt.Sprintf("/p%d/", n)
			mustCreateUser(t, s, u)
			created[account+"/"+name] = u
		},
		func(account, after string, limit int) ([]string, error) {
			us, err := s.ListUsers(ctx, account, after, limit)
			var names []string
			for _, u := range us {
				names = append(names, u.Name)
			}
			return names, err
		})
	// Every field comes back in a list.
	us, err := s.ListUsers(ctx, acct1, "", 0)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	for _, u := range us {
		checkUser(t, u, created[u.Account+"/"+u.Name])
	}
}

func testListRoles(t *testing.T, s store.Store) {
	ctx := t.Context()
	created := map[string]store.Role{}
	checkListByName(t, "ListRoles",
		func(account, name string, n int) {
			r := newRole(account, name, n)
			r.MaxSessionDuration = 900 * n
			mustCreateRole(t, s, r)
			created[account+"/"+name] = r
		},
		func(account, after string, limit int) ([]string, error) {
			rs, err := s.ListRoles(ctx, account, after, limit)
			var names []string
			for _, r := range rs {
				names = append(names, r.Name)
			}
			return names, err
		})
	rs, err := s.ListRoles(ctx, acct1, "", 0)
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	for _, r := range rs {
		checkRole(t, r, created[r.Account+"/"+r.Name])
	}
}

func testDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := newUser(acct1, "Alice", 1)
	bob := newUser(acct1, "Bob", 2)
	mustCreateUser(t, s, alice)
	mustCreateUser(t, s, bob)
	// A role of the same name, with a policy, and root and Bob's keys do
	// not hold Alice back.
	mustCreateRole(t, s, newRole(acct1, "Alice", 3))
	rolePolicy := newPolicy(acct1, store.OwnerRole, "Alice", "p")
	mustPutPolicy(t, s, rolePolicy)
	rootKey := newAccessKey(acct1, "", 1, at(0))
	bobKey := newAccessKey(acct1, "Bob", 2, at(0))
	mustPutAccessKey(t, s, rootKey)
	mustPutAccessKey(t, s, bobKey)

	key := newAccessKey(acct1, "Alice", 3, at(0))
	mustPutAccessKey(t, s, key)
	policy := newPolicy(acct1, store.OwnerUser, "Alice", "p")
	mustPutPolicy(t, s, policy)

	wantErr(t, "DeleteUser with a key and a policy", s.DeleteUser(ctx, acct1, "alice"), store.ErrInUse)
	if err := s.DeleteAccessKey(ctx, key.ID); err != nil {
		t.Fatalf("DeleteAccessKey: %v", err)
	}
	wantErr(t, "DeleteUser with a policy", s.DeleteUser(ctx, acct1, "ALICE"), store.ErrInUse)
	if err := s.DeletePolicy(ctx, acct1, store.OwnerUser, "Alice", "p"); err != nil {
		t.Fatalf("DeletePolicy: %v", err)
	}
	// A key alone holds the user back too.
	mustPutAccessKey(t, s, key)
	wantErr(t, "DeleteUser with a key", s.DeleteUser(ctx, acct1, "Alice"), store.ErrInUse)
	if err := s.DeleteAccessKey(ctx, key.ID); err != nil {
		t.Fatalf("DeleteAccessKey: %v", err)
	}
	if _, err := s.GetUser(ctx, acct1, "Alice"); err != nil {
		t.Fatalf("GetUser after refused deletes: %v", err)
	}

	if err := s.DeleteUser(ctx, acct1, "aLiCe"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := s.GetUser(ctx, acct1, "Alice")
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteUser twice", s.DeleteUser(ctx, acct1, "Alice"), store.ErrNotFound)
	wantErr(t, "DeleteUser missing", s.DeleteUser(ctx, acct1, "nobody"), store.ErrNotFound)
	wantErr(t, "DeleteUser in the wrong account", s.DeleteUser(ctx, acct2, "Bob"), store.ErrNotFound)

	// Nothing else went.
	if got, err := s.GetUser(ctx, acct1, "Bob"); err != nil {
		t.Fatalf("GetUser(Bob): %v", err)
	} else {
		checkUser(t, got, bob)
	}
	for _, k := range []store.AccessKey{rootKey, bobKey} {
		got, err := s.GetAccessKey(ctx, k.ID)
		if err != nil {
			t.Fatalf("GetAccessKey(%s): %v", k.ID, err)
		}
		checkAccessKey(t, got, k)
	}
	if _, err := s.GetRole(ctx, acct1, "Alice"); err != nil {
		t.Errorf("GetRole of the user's namesake: %v", err)
	}
	if got, err := s.GetPolicy(ctx, acct1, store.OwnerRole, "Alice", "p"); err != nil || got != rolePolicy {
		t.Errorf("GetPolicy of the role = %+v, %v; want %+v", got, err, rolePolicy)
	}

	// The name is free again, in any case, for a user that starts clean.
	again := newUser(acct1, "ALICE", 4)
	mustCreateUser(t, s, again)
	if got, err := s.GetUser(ctx, acct1, "alice"); err != nil {
		t.Fatalf("GetUser(recreated): %v", err)
	} else {
		checkUser(t, got, again)
	}
	if ks, err := s.ListAccessKeys(ctx, acct1, "alice"); err != nil || len(ks) != 0 {
		t.Errorf("ListAccessKeys(recreated) = %v, %v; want none", keyIDs(ks), err)
	}
	if ps, err := s.ListPolicies(ctx, acct1, store.OwnerUser, "alice"); err != nil || len(ps) != 0 {
		t.Errorf("ListPolicies(recreated) = %+v, %v; want none", ps, err)
	}
}

func testUserAccessKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser(acct1, "Alice", 1))
	mustCreateUser(t, s, newUser(acct1, "bob", 2))
	mustCreateUser(t, s, newUser(acct2, "alice", 3))

	// A user key needs its user, in the key's account.
	for _, k := range []store.AccessKey{
		newAccessKey(acct1, "carol", 90, at(0)),
		newAccessKey(acct2, "bob", 91, at(0)),
	} {
		wantErr(t, "PutAccessKey for missing user "+k.UserName, s.PutAccessKey(ctx, k), store.ErrNotFound)
		_, err := s.GetAccessKey(ctx, k.ID)
		wantErr(t, "GetAccessKey after a refused put", err, store.ErrNotFound)
	}

	// Keys are listed by creation time, then id; the user name given in any
	// case is stored as the user's.
	root2 := newAccessKey(acct1, "", 5, at(2*time.Minute))
	root1 := newAccessKey(acct1, "", 6, at(time.Minute))
	a3 := newAccessKey(acct1, "ALICE", 13, at(time.Hour))
	a2 := newAccessKey(acct1, "alice", 12, at(time.Hour)) // same millisecond as a3
	a1 := newAccessKey(acct1, "Alice", 14, at(30*time.Minute))
	b := newAccessKey(acct1, "bob", 20, at(0))
	other := newAccessKey(acct2, "alice", 30, at(0))
	otherRoot := newAccessKey(acct2, "", 31, at(0))
	for _, k := range []store.AccessKey{root2, a3, b, a1, root1, other, a2, otherRoot} {
		mustPutAccessKey(t, s, k)
	}
	a2.UserName, a3.UserName = "Alice", "Alice"

	for _, tc := range []struct {
		account, user string
		want          []store.AccessKey
	}{
		{acct1, "Alice", []store.AccessKey{a1, a2, a3}},
		{acct1, "alice", []store.AccessKey{a1, a2, a3}},
		{acct1, "aLICE", []store.AccessKey{a1, a2, a3}},
		{acct1, "", []store.AccessKey{root1, root2}},
		{acct1, "BOB", []store.AccessKey{b}},
		{acct1, "carol", nil},
		{acct2, "ALICE", []store.AccessKey{other}},
		{acct2, "", []store.AccessKey{otherRoot}},
		{"999999999999", "", nil},
	} {
		got, err := s.ListAccessKeys(ctx, tc.account, tc.user)
		if err != nil {
			t.Fatalf("ListAccessKeys(%s, %q): %v", tc.account, tc.user, err)
		}
		checkAccessKeys(t, fmt.Sprintf("ListAccessKeys(%s, %q)", tc.account, tc.user), got, tc.want)
	}
	for _, want := range []store.AccessKey{a1, a2, a3, root1, b} {
		got, err := s.GetAccessKey(ctx, want.ID)
		if err != nil {
			t.Fatalf("GetAccessKey(%s): %v", want.ID, err)
		}
		checkAccessKey(t, got, want)
	}

	// An id is unique across users and accounts.
	dup := newAccessKey(acct2, "alice", 13, at(0))
	wantErr(t, "PutAccessKey with another user's id", s.PutAccessKey(ctx, dup), store.ErrExists)
}

func testAccessKeyActivation(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser(acct1, "alice", 1))
	k := newAccessKey(acct1, "alice", 1, at(0))
	root := newAccessKey(acct1, "", 2, at(0))
	mustPutAccessKey(t, s, k)
	mustPutAccessKey(t, s, root)

	check := func(want store.AccessKey) {
		t.Helper()
		got, err := s.GetAccessKey(ctx, want.ID)
		if err != nil {
			t.Fatalf("GetAccessKey(%s): %v", want.ID, err)
		}
		checkAccessKey(t, got, want)
	}
	for _, active := range []bool{false, false, true, true, false} {
		if err := s.SetAccessKeyActive(ctx, k.ID, active); err != nil {
			t.Fatalf("SetAccessKeyActive(%v): %v", active, err)
		}
		k.Active = active
		check(k)
		check(root)
		ks, err := s.ListAccessKeys(ctx, acct1, "alice")
		if err != nil {
			t.Fatalf("ListAccessKeys: %v", err)
		}
		checkAccessKeys(t, "ListAccessKeys", ks, []store.AccessKey{k})
	}

	missing := newAccessKey(acct1, "", 3, at(0)).ID
	wantErr(t, "SetAccessKeyActive missing", s.SetAccessKeyActive(ctx, missing, true), store.ErrNotFound)
	_, err := s.GetAccessKey(ctx, missing)
	wantErr(t, "GetAccessKey after SetAccessKeyActive missing", err, store.ErrNotFound)
}

func testDeleteAccessKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser(acct1, "alice", 1))
	k1 := newAccessKey(acct1, "alice", 1, at(0))
	k2 := newAccessKey(acct1, "alice", 2, at(time.Second))
	root := newAccessKey(acct1, "", 3, at(0))
	for _, k := range []store.AccessKey{k1, k2, root} {
		mustPutAccessKey(t, s, k)
	}

	if err := s.DeleteAccessKey(ctx, k1.ID); err != nil {
		t.Fatalf("DeleteAccessKey: %v", err)
	}
	_, err := s.GetAccessKey(ctx, k1.ID)
	wantErr(t, "GetAccessKey after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteAccessKey twice", s.DeleteAccessKey(ctx, k1.ID), store.ErrNotFound)
	wantErr(t, "DeleteAccessKey missing", s.DeleteAccessKey(ctx, "AKIAMISSINGMISSING00"), store.ErrNotFound)
	wantErr(t, "SetAccessKeyActive after delete", s.SetAccessKeyActive(ctx, k1.ID, true), store.ErrNotFound)

	ks, err := s.ListAccessKeys(ctx, acct1, "alice")
	if err != nil {
		t.Fatalf("ListAccessKeys: %v", err)
	}
	checkAccessKeys(t, "ListAccessKeys(alice) after delete", ks, []store.AccessKey{k2})
	ks, err = s.ListAccessKeys(ctx, acct1, "")
	if err != nil {
		t.Fatalf("ListAccessKeys: %v", err)
	}
	checkAccessKeys(t, "ListAccessKeys(root) after delete", ks, []store.AccessKey{root})

	// The id may be used again, and the new key is all new.
	again := newAccessKey(acct1, "", 1, at(time.Hour))
	again.SealedSecret = []byte("another secret")
	again.Active = false
	mustPutAccessKey(t, s, again)
	got, err := s.GetAccessKey(ctx, again.ID)
	if err != nil {
		t.Fatalf("GetAccessKey(reused id): %v", err)
	}
	checkAccessKey(t, got, again)
}

func testRoles(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRole(acct1, "AppRole", 1)
	r.Path = "/service/"
	r.MaxSessionDuration = 43200
	r.Description = "ünïcødé ✓ \"quoted\" 'single'"
	r.AssumeRolePolicy = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", " +
		"\"Principal\": {\"AWS\": \"arn:aws:iam::" + acct1 + ":user/alice\"}, \"Action\": \"sts:AssumeRole\"}]\n}"
	r.Created = at(time.Minute).In(time.FixedZone("UTC+9", 9*3600))
	mustCreateRole(t, s, r)
	for _, name := range spellings("AppRole") {
		got, err := s.GetRole(ctx, acct1, name)
		if err != nil {
			t.Fatalf("GetRole(%s): %v", name, err)
		}
		checkRole(t, got, r)
	}

	for i, name := range spellings("AppRole") {
		wantErr(t, "CreateRole "+name, s.CreateRole(ctx, newRole(acct1, name, 10+i)), store.ErrExists)
	}
	sameID := newRole(acct1, "other", 2)
	sameID.ID = r.ID
	wantErr(t, "CreateRole with a taken id", s.CreateRole(ctx, sameID), store.ErrExists)
	_, err := s.GetRole(ctx, acct1, "other")
	wantErr(t, "GetRole after a failed create", err, store.ErrNotFound)
	if got, err := s.GetRole(ctx, acct1, "approle"); err != nil {
		t.Fatalf("GetRole: %v", err)
	} else {
		checkRole(t, got, r)
	}

	// The path defaults to "/"; other empty fields stay empty.
	bare := store.Role{Account: acct1, Name: "bare", ID: newRole(acct1, "", 3).ID, Created: at(0)}
	mustCreateRole(t, s, bare)
	bare.Path = "/"
	if got, err := s.GetRole(ctx, acct1, "bare"); err != nil {
		t.Fatalf("GetRole(bare): %v", err)
	} else {
		checkRole(t, got, bare)
	}

	// Other accounts and users are other namespaces.
	other := newRole(acct2, "approle", 4)
	mustCreateRole(t, s, other)
	mustCreateUser(t, s, newUser(acct1, "AppRole", 5))

	_, err = s.GetRole(ctx, acct1, "missing")
	wantErr(t, "GetRole missing", err, store.ErrNotFound)
	_, err = s.GetRole(ctx, "999999999999", "AppRole")
	wantErr(t, "GetRole in the wrong account", err, store.ErrNotFound)

	// UpdateAssumeRolePolicy replaces the trust policy and nothing else.
	r.AssumeRolePolicy = `{"Version":"2012-10-17","Statement":[]}`
	if err := s.UpdateAssumeRolePolicy(ctx, acct1, "APPROLE", r.AssumeRolePolicy); err != nil {
		t.Fatalf("UpdateAssumeRolePolicy: %v", err)
	}
	if got, err := s.GetRole(ctx, acct1, "AppRole"); err != nil {
		t.Fatalf("GetRole: %v", err)
	} else {
		checkRole(t, got, r)
	}
	if got, err := s.GetRole(ctx, acct2, "AppRole"); err != nil {
		t.Fatalf("GetRole(other account): %v", err)
	} else {
		checkRole(t, got, other)
	}
	wantErr(t, "UpdateAssumeRolePolicy missing",
		s.UpdateAssumeRolePolicy(ctx, acct1, "missing", "{}"), store.ErrNotFound)
	_, err = s.GetRole(ctx, acct1, "missing")
	wantErr(t, "GetRole after UpdateAssumeRolePolicy missing", err, store.ErrNotFound)
}

func testDeleteRole(t *testing.T, s store.Store) {
	ctx := t.Context()
	role := newRole(acct1, "AppRole", 1)
	kept := newRole(acct1, "kept", 2)
	mustCreateRole(t, s, role)
	mustCreateRole(t, s, kept)
	// The namesake user's policy does not hold the role back.
	mustCreateUser(t, s, newUser(acct1, "AppRole", 3))
	userPolicy := newPolicy(acct1, store.OwnerUser, "AppRole", "p")
	mustPutPolicy(t, s, userPolicy)

	mustPutPolicy(t, s, newPolicy(acct1, store.OwnerRole, "AppRole", "p"))
	wantErr(t, "DeleteRole with a policy", s.DeleteRole(ctx, acct1, "approle"), store.ErrInUse)
	if _, err := s.GetRole(ctx, acct1, "AppRole"); err != nil {
		t.Fatalf("GetRole after a refused delete: %v", err)
	}
	if err := s.DeletePolicy(ctx, acct1, store.OwnerRole, "approle", "P"); err != nil {
		t.Fatalf("DeletePolicy: %v", err)
	}
	if err := s.DeleteRole(ctx, acct1, "APPROLE"); err != nil {
		t.Fatalf("DeleteRole: %v", err)
	}
	_, err := s.GetRole(ctx, acct1, "AppRole")
	wantErr(t, "GetRole after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteRole twice", s.DeleteRole(ctx, acct1, "AppRole"), store.ErrNotFound)
	wantErr(t, "DeleteRole in the wrong account", s.DeleteRole(ctx, acct2, "kept"), store.ErrNotFound)

	if got, err := s.GetRole(ctx, acct1, "kept"); err != nil {
		t.Fatalf("GetRole(kept): %v", err)
	} else {
		checkRole(t, got, kept)
	}
	if _, err := s.GetUser(ctx, acct1, "AppRole"); err != nil {
		t.Errorf("GetUser of the role's namesake: %v", err)
	}
	if got, err := s.GetPolicy(ctx, acct1, store.OwnerUser, "AppRole", "p"); err != nil || got != userPolicy {
		t.Errorf("GetPolicy of the user = %+v, %v; want %+v", got, err, userPolicy)
	}

	again := newRole(acct1, "approle", 4)
	mustCreateRole(t, s, again)
	if ps, err := s.ListPolicies(ctx, acct1, store.OwnerRole, "AppRole"); err != nil || len(ps) != 0 {
		t.Errorf("ListPolicies(recreated) = %+v, %v; want none", ps, err)
	}
}

func testPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser(acct1, "Alice", 1))
	mustCreateUser(t, s, newUser(acct1, "bob", 2))
	mustCreateUser(t, s, newUser(acct2, "alice", 3))
	mustCreateRole(t, s, newRole(acct1, "Alice", 4))

	// A policy needs its owner.
	for _, p := range []store.Policy{
		newPolicy(acct1, store.OwnerUser, "carol", "p"),
		newPolicy(acct1, store.OwnerRole, "bob", "p"),
		newPolicy(acct2, store.OwnerUser, "bob", "p"),
	} {
		wantErr(t, fmt.Sprintf("PutPolicy for missing %s %s", p.OwnerKind, p.Owner), s.PutPolicy(ctx, p), store.ErrNotFound)
		_, err := s.GetPolicy(ctx, p.Account, p.OwnerKind, p.Owner, p.Name)
		wantErr(t, "GetPolicy after a refused put", err, store.ErrNotFound)
	}
	if err := s.PutPolicy(ctx, newPolicy(acct1, "group", "Alice", "p")); err == nil {
		t.Errorf("PutPolicy with owner kind %q succeeded", "group")
	}

	// The owner is named in any case and stored as created.
	zeta := newPolicy(acct1, store.OwnerUser, "alice", "Zeta")
	alpha := newPolicy(acct1, store.OwnerUser, "ALICE", "alpha")
	beta := newPolicy(acct1, store.OwnerUser, "Alice", "Beta")
	beta.Document = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Sid\": \"ünïcødé ✓ '\\\"\"}\n}"
	roleAlpha := newPolicy(acct1, store.OwnerRole, "alice", "alpha")
	bobAlpha := newPolicy(acct1, store.OwnerUser, "bob", "alpha")
	otherAlpha := newPolicy(acct2, store.OwnerUser, "Alice", "alpha")
	for _, p := range []store.Policy{zeta, alpha, beta, roleAlpha, bobAlpha, otherAlpha} {
		mustPutPolicy(t, s, p)
	}
	zeta.Owner, alpha.Owner, roleAlpha.Owner, otherAlpha.Owner = "Alice", "Alice", "Alice", "alice"

	for _, want := range []store.Policy{zeta, alpha, beta, roleAlpha, bobAlpha, otherAlpha} {
		for i, owner := range spellings(want.Owner) {
			name := spellings(want.Name)[len(spellings(want.Name))-1-i]
			got, err := s.GetPolicy(ctx, want.Account, want.OwnerKind, owner, name)
			if err != nil {
				t.Fatalf("GetPolicy(%s %s %s %s): %v", want.Account, want.OwnerKind, owner, name, err)
			}
			if got != want {
				t.Errorf("GetPolicy(%s %s %s %s) = %+v, want %+v", want.Account, want.OwnerKind, owner, name, got, want)
			}
		}
	}

	list := func(account string, kind store.OwnerKind, owner string) []store.Policy {
		t.Helper()
		ps, err := s.ListPolicies(ctx, account, kind, owner)
		if err != nil {
			t.Fatalf("ListPolicies(%s %s %s): %v", account, kind, owner, err)
		}
		return ps
	}
	for _, tc := range []struct {
		account string
		kind    store.OwnerKind
		owner   string
		want    []store.Policy
	}{
		{acct1, store.OwnerUser, "alice", []store.Policy{alpha, beta, zeta}}, // by name, in any case
		{acct1, store.OwnerRole, "ALICE", []store.Policy{roleAlpha}},
		{acct1, store.OwnerUser, "bob", []store.Policy{bobAlpha}},
		{acct2, store.OwnerUser, "alice", []store.Policy{otherAlpha}},
		{acct1, store.OwnerUser, "carol", nil},
		{acct1, store.OwnerRole, "bob", nil},
		{acct1, "group", "Alice", nil},
	} {
		checkPolicies(t, fmt.Sprintf("ListPolicies(%s %s %s)", tc.account, tc.kind, tc.owner),
			list(tc.account, tc.kind, tc.owner), tc.want)
	}

	_, err := s.GetPolicy(ctx, acct1, store.OwnerUser, "Alice", "gamma")
	wantErr(t, "GetPolicy missing name", err, store.ErrNotFound)
	_, err = s.GetPolicy(ctx, acct1, store.OwnerRole, "bob", "alpha")
	wantErr(t, "GetPolicy of the wrong kind", err, store.ErrNotFound)
	_, err = s.GetPolicy(ctx, acct1, store.OwnerUser, "Alice", "alph")
	wantErr(t, "GetPolicy prefix", err, store.ErrNotFound)

	// Putting again under any case replaces the document and keeps the name.
	replaced := newPolicy(acct1, store.OwnerUser, "aLiCe", "ZETA")
	replaced.Document = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	mustPutPolicy(t, s, replaced)
	zeta.Document = replaced.Document
	checkPolicies(t, "ListPolicies after replace", list(acct1, store.OwnerUser, "Alice"), []store.Policy{alpha, beta, zeta})
	checkPolicies(t, "ListPolicies of the role after replace", list(acct1, store.OwnerRole, "Alice"), []store.Policy{roleAlpha})

	// Delete takes one policy of one owner.
	if err := s.DeletePolicy(ctx, acct1, store.OwnerUser, "ALICE", "ALPHA"); err != nil {
		t.Fatalf("DeletePolicy: %v", err)
	}
	checkPolicies(t, "ListPolicies after delete", list(acct1, store.OwnerUser, "Alice"), []store.Policy{beta, zeta})
	wantErr(t, "DeletePolicy twice", s.DeletePolicy(ctx, acct1, store.OwnerUser, "Alice", "alpha"), store.ErrNotFound)
	wantErr(t, "DeletePolicy of a missing owner", s.DeletePolicy(ctx, acct1, store.OwnerUser, "carol", "alpha"), store.ErrNotFound)
	wantErr(t, "DeletePolicy of the wrong kind", s.DeletePolicy(ctx, acct1, store.OwnerRole, "bob", "alpha"), store.ErrNotFound)
	for _, tc := range []struct {
		account string
		kind    store.OwnerKind
		owner   string
		want    []store.Policy
	}{
		{acct1, store.OwnerRole, "Alice", []store.Policy{roleAlpha}},
		{acct1, store.OwnerUser, "bob", []store.Policy{bobAlpha}},
		{acct2, store.OwnerUser, "alice", []store.Policy{otherAlpha}},
	} {
		checkPolicies(t, fmt.Sprintf("ListPolicies(%s %s %s) after delete", tc.account, tc.kind, tc.owner),
			list(tc.account, tc.kind, tc.owner), tc.want)
	}

	// The name is free again.
	mustPutPolicy(t, s, alpha)
	checkPolicies(t, "ListPolicies after re-put", list(acct1, store.OwnerUser, "Alice"), []store.Policy{alpha, beta, zeta})
}

// testIdentityConcurrency races creations of one name in different cases,
// and deletions of users and roles against additions of keys and policies
// to them; run it under -race.
func testIdentityConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, rounds = 8, 10

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins []string
	)
	for w := range workers {
		wg.Go(func() {
			name := spellings("contested")[w%5]
			switch err := s.CreateUser(ctx, newUser(acct1, name, 100+w)); {
			case err == nil:
				mu.Lock()
				wins = append(wins, name)
				mu.Unlock()
			case !errors.Is(err, store.ErrExists):
				t.Errorf("CreateUser(%s): %v", name, err)
			}
		})
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("contested user created %d times (%v), want once", len(wins), wins)
	}
	if got, err := s.GetUser(ctx, acct1, "CONTESTED"); err != nil || got.Name != wins[0] {
		t.Errorf("GetUser(contested) = %+v, %v; want the name %s", got, err, wins[0])
	}

	// A deletion and an addition to the same user or role: one of them must
	// lose, or a key or policy would outlive its owner.
	for i := range rounds {
		user, role := fmt.Sprintf("user%d", i), fmt.Sprintf("role%d", i)
		mustCreateUser(t, s, newUser(acct1, user, i))
		mustCreateRole(t, s, newRole(acct1, role, i))
		wg.Go(func() {
			err := s.PutAccessKey(ctx, newAccessKey(acct1, strings.ToUpper(user), i, at(0)))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("PutAccessKey(%s): %v", user, err)
			}
		})
		wg.Go(func() {
			err := s.PutPolicy(ctx, newPolicy(acct1, store.OwnerRole, role, "p"))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("PutPolicy(%s): %v", role, err)
			}
		})
		wg.Go(func() {
			err := s.DeleteUser(ctx, acct1, user)
			if err != nil && !errors.Is(err, store.ErrInUse) {
				t.Errorf("DeleteUser(%s): %v", user, err)
			}
		})
		wg.Go(func() {
			err := s.DeleteRole(ctx, acct1, role)
			if err != nil && !errors.Is(err, store.ErrInUse) {
				t.Errorf("DeleteRole(%s): %v", role, err)
			}
		})
		wg.Go(func() {
			if _, err := s.ListUsers(ctx, acct1, "", 3); err != nil {
				t.Errorf("ListUsers: %v", err)
			}
			if _, err := s.ListPolicies(ctx, acct1, store.OwnerRole, role); err != nil {
				t.Errorf("ListPolicies: %v", err)
			}
		})
	}
	wg.Wait()
	for i := range rounds {
		user, role := fmt.Sprintf("user%d", i), fmt.Sprintf("role%d", i)
		_, err := s.GetUser(ctx, acct1, user)
		userGone := errors.Is(err, store.ErrNotFound)
		if err != nil && !userGone {
			t.Fatalf("GetUser(%s): %v", user, err)
		}
		ks, err := s.ListAccessKeys(ctx, acct1, user)
		if err != nil {
			t.Fatalf("ListAccessKeys(%s): %v", user, err)
		}
		if userGone == (len(ks) == 1) || len(ks) > 1 {
			t.Errorf("user %s gone: %v, with %d keys", user, userGone, len(ks))
		}
		_, err = s.GetRole(ctx, acct1, role)
		roleGone := errors.Is(err, store.ErrNotFound)
		if err != nil && !roleGone {
			t.Fatalf("GetRole(%s): %v", role, err)
		}
		ps, err := s.ListPolicies(ctx, acct1, store.OwnerRole, role)
		if err != nil {
			t.Fatalf("ListPolicies(%s): %v", role, err)
		}
		if roleGone == (len(ps) == 1) || len(ps) > 1 {
			t.Errorf("role %s gone: %v, with %d policies", role, roleGone, len(ps))
		}
	}
}
