// Package storetest is the conformance suite every [store.Store] backend must
// pass. A backend's own test calls [Run] with a function that opens a fresh,
// empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := Open(filepath.Join(t.TempDir(), "kms.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Times in the suite have millisecond precision, the least a backend must
// keep; they are compared with [time.Time.Equal].
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// Run runs the suite. open must return a new, empty store and arrange for it
// to be closed when the test ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Accounts", testAccounts},
		{"AccessKeys", testAccessKeys},
		{"CreateKeyWithMaterial", testCreateKeyWithMaterial},
		{"CreateKeyWithoutMaterial", testCreateKeyWithoutMaterial},
		{"CreateKeyDuplicate", testCreateKeyDuplicate},
		{"GetKeyRoundTrip", testGetKeyRoundTrip},
		{"GetKeyForUse", testGetKeyForUse},
		{"UpdateKey", testUpdateKey},
		{"KeyNotFound", testKeyNotFound},
		{"DeleteKey", testDeleteKey},
		{"ListKeys", testListKeys},
		{"KeysPendingDeletion", testKeysPendingDeletion},
		{"Materials", testMaterials},
		{"MaterialsOrder", testMaterialsOrder},
		{"Aliases", testAliases},
		{"ListAliases", testListAliases},
		{"Concurrency", testConcurrency},
		{"ListAccounts", testListAccounts},
		{"Users", testUsers},
		{"ListUsers", testListUsers},
		{"DeleteUser", testDeleteUser},
		{"UserAccessKeys", testUserAccessKeys},
		{"AccessKeyActivation", testAccessKeyActivation},
		{"DeleteAccessKey", testDeleteAccessKey},
		{"Roles", testRoles},
		{"ListRoles", testListRoles},
		{"DeleteRole", testDeleteRole},
		{"Policies", testPolicies},
		{"IdentityConcurrency", testIdentityConcurrency},
		{"ManagedPolicies", testManagedPolicies},
		{"PolicyVersions", testPolicyVersions},
		{"ManagedPolicyAsGiven", testManagedPolicyAsGiven},
		{"PolicyAttachments", testPolicyAttachments},
		{"ManagedConcurrency", testManagedConcurrency},
		{"Grants", testGrants},
		{"ListGrantsPages", testListGrantsPages},
		{"RetirableGrants", testRetirableGrants},
		{"DeleteKeyGrants", testDeleteKeyGrants},
		{"GrantsConcurrency", testGrantsConcurrency},
		{"ServicePrincipalGrants", testServicePrincipalGrants},
		{"RotationFieldsRoundTrip", testRotationFieldsRoundTrip},
		{"RotateKey", testRotateKey},
		{"RotateKeyConcurrency", testRotateKeyConcurrency},
		{"DeleteMaterial", testDeleteMaterial},
		{"KeysDueForRotation", testKeysDueForRotation},
		{"KeysWithExpiredMaterial", testKeysWithExpiredMaterial},
		{"PendingMaterialRoundTrip", testPendingMaterialRoundTrip},
		{"PromoteMaterial", testPromoteMaterial},
		{"PromoteMaterialConcurrency", testPromoteMaterialConcurrency},
		{"MultiRegion", testMultiRegion},
		{"CountKeys", testCountKeys},
		{"Reseal", testReseal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

const (
	acct1   = "111122223333"
	acct2   = "444455556666"
	region1 = "us-east-1"
	region2 = "eu-west-1"
)

// base is a millisecond-precise instant that the tests offset from.
var base = time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// keyID returns a well-formed key id; ids sort in the order of n.
func keyID(n int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-000000000000", n)
}

// materialID returns a 64-hex material id.
func materialID(n int) string {
	return fmt.Sprintf("%064x", n)
}

func newKey(n int, account, region string) kms.Key {
	return kms.Key{
		ID:                keyID(n),
		Account:           account,
		Region:            region,
		Description:       fmt.Sprintf("key %d", n),
		Spec:              kms.KeySpecSymmetricDefault,
		Usage:             kms.KeyUsageEncryptDecrypt,
		Origin:            kms.OriginAWSKMS,
		Manager:           kms.KeyManagerCustomer,
		State:             kms.KeyStateEnabled,
		CreationDate:      at(time.Duration(n) * time.Second),
		Policy:            `{"Version":"2012-10-17","Statement":[]}`,
		CurrentMaterialID: materialID(n),
	}
}

func newMaterial(keyID string, n int, created time.Time) *store.Material {
	return &store.Material{
		KeyID:   keyID,
		ID:      materialID(n),
		Sealed:  []byte(fmt.Sprintf("sealed-%d\x00\xff", n)),
		Created: created,
	}
}

func mustCreateKey(t *testing.T, s store.Store, k kms.Key, m *store.Material) {
	t.Helper()
	if err := s.CreateKey(t.Context(), k, m); err != nil {
		t.Fatalf("CreateKey(%s): %v", k.ID, err)
	}
}

func mustCreateAlias(t *testing.T, s store.Store, a kms.Alias) {
	t.Helper()
	if err := s.CreateAlias(t.Context(), a); err != nil {
		t.Fatalf("CreateAlias(%s %s %s): %v", a.Account, a.Region, a.Name, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func checkKey(t *testing.T, got, want kms.Key) {
	t.Helper()
	if d := keyDiff(got, want); d != "" {
		t.Errorf("key %s differs: %s", want.ID, d)
	}
}

// keyDiff describes how got differs from want; nil and empty tags are equal.
func keyDiff(got, want kms.Key) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	tm := func(name string, g, w time.Time) {
		if !g.UTC().Equal(w.UTC()) {
			d = append(d, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	str("ID", got.ID, want.ID)
	str("Account", got.Account, want.Account)
	str("Region", got.Region, want.Region)
	str("Description", got.Description, want.Description)
	str("Spec", string(got.Spec), string(want.Spec))
	str("Usage", string(got.Usage), string(want.Usage))
	str("Origin", string(got.Origin), string(want.Origin))
	str("Manager", string(got.Manager), string(want.Manager))
	str("State", string(got.State), string(want.State))
	tm("CreationDate", got.CreationDate, want.CreationDate)
	tm("DeletionDate", got.DeletionDate, want.DeletionDate)
	str("Policy", got.Policy, want.Policy)
	str("CurrentMaterialID", got.CurrentMaterialID, want.CurrentMaterialID)
	if got.RotationEnabled != want.RotationEnabled {
		d = append(d, fmt.Sprintf("RotationEnabled = %v, want %v", got.RotationEnabled, want.RotationEnabled))
	}
	if got.RotationPeriodDays != want.RotationPeriodDays {
		d = append(d, fmt.Sprintf("RotationPeriodDays = %d, want %d", got.RotationPeriodDays, want.RotationPeriodDays))
	}
	tm("NextRotationDate", got.NextRotationDate, want.NextRotationDate)
	str("ExpirationModel", got.ExpirationModel, want.ExpirationModel)
	tm("ValidTo", got.ValidTo, want.ValidTo)
	if !slices.Equal(got.Tags, want.Tags) {
		d = append(d, fmt.Sprintf("Tags = %v, want %v", got.Tags, want.Tags))
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

func checkMaterial(t *testing.T, got, want store.Material) {
	t.Helper()
	if got.KeyID != want.KeyID || got.ID != want.ID ||
		!bytes.Equal(got.Sealed, want.Sealed) || !got.Created.UTC().Equal(want.Created.UTC()) ||
		got.RotationType != want.RotationType || !got.RotationDate.UTC().Equal(want.RotationDate.UTC()) ||
		got.Pending != want.Pending || !got.ValidTo.Equal(want.ValidTo) || got.Description != want.Description {
		t.Errorf("material = {%s %s %x %v %q %v pending %t valid to %v %q}, want {%s %s %x %v %q %v pending %t valid to %v %q}",
			got.KeyID, got.ID, got.Sealed, got.Created, got.RotationType, got.RotationDate, got.Pending, got.ValidTo, got.Description,
			want.KeyID, want.ID, want.Sealed, want.Created, want.RotationType, want.RotationDate, want.Pending, want.ValidTo, want.Description)
	}
}

func checkAlias(t *testing.T, got, want kms.Alias) {
	t.Helper()
	if got.Name != want.Name || got.Account != want.Account || got.Region != want.Region ||
		got.TargetKeyID != want.TargetKeyID ||
		!got.CreationDate.UTC().Equal(want.CreationDate.UTC()) ||
		!got.LastUpdatedDate.UTC().Equal(want.LastUpdatedDate.UTC()) {
		t.Errorf("alias = %+v, want %+v", got, want)
	}
}

func ids(keys []kms.Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

func names(as []kms.Alias) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

func testAccounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := store.Account{ID: acct1, Created: at(0)}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	got, err := s.GetAccount(ctx, acct1)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	if got.ID != a.ID || !got.Created.UTC().Equal(a.Created) {
		t.Errorf("GetAccount = %+v, want %+v", got, a)
	}
	wantErr(t, "CreateAccount duplicate", s.CreateAccount(ctx, store.Account{ID: acct1, Created: at(time.Hour)}), store.ErrExists)
	if got, _ := s.GetAccount(ctx, acct1); !got.Created.Equal(a.Created) {
		t.Errorf("duplicate CreateAccount changed Created to %v", got.Created)
	}
	_, err = s.GetAccount(ctx, acct2)
	wantErr(t, "GetAccount missing", err, store.ErrNotFound)
}

func testAccessKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys := []store.AccessKey{{
		ID:           "AKIAAAAAAAAAAAAAAAAA",
		Account:      acct1,
		PrincipalARN: "arn:aws:iam::" + acct1 + ":root",
		SealedSecret: []byte{0, 1, 2, 0xfe, 0xff},
		Active:       true,
		Created:      at(0),
	}, {
		ID:           "AKIABBBBBBBBBBBBBBBB",
		Account:      acct2,
		PrincipalARN: "arn:aws:iam::" + acct2 + ":user/alice",
		SealedSecret: []byte("sealed"),
		Active:       false,
		Created:      at(time.Minute),
	}}
	for _, k := range keys {
		if err := s.PutAccessKey(ctx, k); err != nil {
			t.Fatalf("PutAccessKey(%s): %v", k.ID, err)
		}
	}
	for _, want := range keys {
		got, err := s.GetAccessKey(ctx, want.ID)
		if err != nil {
			t.Fatalf("GetAccessKey(%s): %v", want.ID, err)
		}
		checkAccessKey(t, got, want)
	}
	dup := keys[0]
	dup.SealedSecret = []byte("other")
	wantErr(t, "PutAccessKey duplicate", s.PutAccessKey(ctx, dup), store.ErrExists)
	if got, _ := s.GetAccessKey(ctx, dup.ID); !bytes.Equal(got.SealedSecret, keys[0].SealedSecret) {
		t.Errorf("duplicate PutAccessKey replaced the secret")
	}
	_, err := s.GetAccessKey(ctx, "AKIAMISSINGMISSING00")
	wantErr(t, "GetAccessKey missing", err, store.ErrNotFound)
}

func testCreateKeyWithMaterial(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := newKey(1, acct1, region1)
	k.Tags = []kms.Tag{{Key: "env", Value: "prod"}, {Key: "app", Value: "web"}}
	m := newMaterial(k.ID, 1, k.CreationDate)
	mustCreateKey(t, s, k, m)

	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	checkKey(t, got, k)
	gm, err := s.GetMaterial(ctx, k.ID, m.ID)
	if err != nil {
		t.Fatalf("GetMaterial: %v", err)
	}
	checkMaterial(t, gm, *m)
	ms, err := s.ListMaterials(ctx, k.ID)
	if err != nil {
		t.Fatalf("ListMaterials: %v", err)
	}
	if len(ms) != 1 {
		t.Fatalf("ListMaterials returned %d materials, want 1", len(ms))
	}
	checkMaterial(t, ms[0], *m)
}

func testCreateKeyWithoutMaterial(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := newKey(1, acct1, region1)
	k.Origin = kms.OriginExternal
	k.State = kms.KeyStatePendingImport
	k.CurrentMaterialID = ""
	mustCreateKey(t, s, k, nil)

	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	checkKey(t, got, k)
	ms, err := s.ListMaterials(ctx, k.ID)
	if err != nil {
		t.Fatalf("ListMaterials: %v", err)
	}
	if len(ms) != 0 {
		t.Errorf("ListMaterials returned %d materials for a key without any", len(ms))
	}
}

// testCreateKeyDuplicate checks that a failed CreateKey leaves nothing behind.
func testCreateKeyDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := newKey(1, acct1, region1)
	k.Tags = []kms.Tag{{Key: "a", Value: "1"}}
	m := newMaterial(k.ID, 1, k.CreationDate)
	mustCreateKey(t, s, k, m)

	dup := newKey(1, acct2, region2)
	dup.Description = "duplicate"
	dup.Tags = []kms.Tag{{Key: "b", Value: "2"}, {Key: "c", Value: "3"}}
	dm := newMaterial(k.ID, 2, dup.CreationDate)
	wantErr(t, "CreateKey duplicate with material", s.CreateKey(ctx, dup, dm), store.ErrExists)
	wantErr(t, "CreateKey duplicate without material", s.CreateKey(ctx, dup, nil), store.ErrExists)

	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	checkKey(t, got, k)
	_, err = s.GetMaterial(ctx, k.ID, dm.ID)
	wantErr(t, "GetMaterial of the duplicate's material", err, store.ErrNotFound)
	ms, err := s.ListMaterials(ctx, k.ID)
	if err != nil {
		t.Fatalf("ListMaterials: %v", err)
	}
	if len(ms) != 1 || ms[0].ID != m.ID {
		t.Errorf("ListMaterials = %d materials, want only the original", len(ms))
	}
	keys, err := s.ListKeys(ctx, store.KeyFilter{Account: acct2, Region: region2})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if len(keys) != 0 {
		t.Errorf("ListKeys of the duplicate's account = %v, want none", ids(keys))
	}
}

func testGetKeyRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)

	pending := newKey(1, acct1, region1)
	pending.State = kms.KeyStatePendingDeletion
	pending.DeletionDate = at(7 * 24 * time.Hour)

	// Times given in another zone must come back as the same instant.
	zoned := newKey(2, acct1, region1)
	zoned.CreationDate = at(time.Hour).In(zone)

	// Tags keep the order given, which is not sorted.
	tagged := newKey(3, acct2, region2)
	tagged.Tags = []kms.Tag{
		{Key: "zeta", Value: "last"},
		{Key: "alpha", Value: ""},
		{Key: "mu", Value: "ünïcødé ✓"},
		{Key: "Alpha", Value: "case differs"},
	}

	odd := newKey(4, acct1, region2)
	odd.Description = ""
	odd.Policy = "{\n  \"quote\": \"'\\\"\",\n  \"nul\": \"a\x00b\"\n}"
	odd.Manager = kms.KeyManagerAWS
	odd.State = kms.KeyStateDisabled
	odd.Usage = kms.KeyUsageGenerateVerifyMAC
	odd.CreationDate = time.Date(1999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)

	for _, k := range []kms.Key{pending, zoned, tagged, odd} {
		mustCreateKey(t, s, k, nil)
	}
	for _, want := range []kms.Key{pending, zoned, tagged, odd} {
		got, err := s.GetKey(ctx, want.ID)
		if err != nil {
			t.Fatalf("GetKey(%s): %v", want.ID, err)
		}
		checkKey(t, got, want)
	}
}

// testGetKeyForUse: the key with its tags, alias names, grants and current
// material, whatever of these it has.
func testGetKeyForUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := newKey(1, acct1, region1)
	full.Tags = []kms.Tag{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}}
	mustCreateKey(t, s, full, newMaterial(full.ID, 1, full.CreationDate))
	// A newer material version that is not current must not be returned.
	if err := s.AddMaterial(ctx, *newMaterial(full.ID, 9, full.CreationDate.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alias/zz", "alias/a-b_c/d"} {
		mustCreateAlias(t, s, kms.Alias{Account: acct1, Region: region1, Name: name, TargetKeyID: full.ID,
			CreationDate: base, LastUpdatedDate: base})
	}
	g1, g2 := newGrant(1, full.ID, "arn:aws:iam::111122223333:user/a", at(time.Minute)), newGrant(2, full.ID, "arn:aws:iam::111122223333:user/b", at(0))
	mustCreateGrant(t, s, g1)
	mustCreateGrant(t, s, g2)
	bare := newKey(2, acct1, region1)
	bare.State = kms.KeyStatePendingImport
	mustCreateKey(t, s, bare, nil)

	u, err := s.GetKeyForUse(ctx, full.ID)
	if err != nil {
		t.Fatalf("GetKeyForUse(%s): %v", full.ID, err)
	}
	checkKey(t, u.Key, full)
	slices.Sort(u.Aliases)
	if !slices.Equal(u.Aliases, []string{"alias/a-b_c/d", "alias/zz"}) {
		t.Errorf("aliases %q, want alias/a-b_c/d and alias/zz", u.Aliases)
	}
	if len(u.Grants) != 2 || u.Grants[0].ID != g2.ID || u.Grants[1].ID != g1.ID {
		t.Errorf("grants %v, want %s then %s", grantIDs(u.Grants), g2.ID, g1.ID)
	} else {
		checkGrant(t, u.Grants[0], g2)
	}
	if u.Current == nil {
		t.Errorf("no current material")
	} else {
		checkMaterial(t, *u.Current, *newMaterial(full.ID, 1, full.CreationDate))
	}

	u, err = s.GetKeyForUse(ctx, bare.ID)
	if err != nil {
		t.Fatalf("GetKeyForUse(%s): %v", bare.ID, err)
	}
	checkKey(t, u.Key, bare)
	if len(u.Aliases) != 0 || len(u.Grants) != 0 || u.Current != nil {
		t.Errorf("key without aliases, grants or material: got %q, %d grants, material %v", u.Aliases, len(u.Grants), u.Current)
	}
	_, err = s.GetKeyForUse(ctx, keyID(3))
	wantErr(t, "GetKeyForUse of a missing key", err, store.ErrNotFound)
}

func testUpdateKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := newKey(1, acct1, region1)
	orig.Tags = []kms.Tag{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "c", Value: "3"}}
	mustCreateKey(t, s, orig, newMaterial(orig.ID, 1, orig.CreationDate))
	other := newKey(2, acct1, region1)
	other.Tags = []kms.Tag{{Key: "keep", Value: "me"}}
	mustCreateKey(t, s, other, nil)

	want := orig
	want.Description = "changed"
	want.State = kms.KeyStatePendingDeletion
	want.DeletionDate = at(30 * 24 * time.Hour)
	want.Policy = `{"changed":true}`
	want.CurrentMaterialID = materialID(99)
	want.Tags = []kms.Tag{{Key: "c", Value: "33"}, {Key: "a", Value: "1"}}

	// Immutable fields in the argument are ignored.
	upd := want
	upd.Account = acct2
	upd.Region = region2
	upd.Spec = "OTHER_SPEC"
	upd.Usage = kms.KeyUsageSignVerify
	upd.Origin = kms.OriginExternal
	upd.Manager = kms.KeyManagerAWS
	upd.CreationDate = at(time.Hour)
	if err := s.UpdateKey(ctx, upd); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	got, err := s.GetKey(ctx, orig.ID)
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	checkKey(t, got, want)

	// A change made from the reading before the first one would undo it:
	// refused, and nothing changes.
	stale := orig
	stale.Description = "stale"
	wantErr(t, "UpdateKey at an old revision", s.UpdateKey(ctx, stale), store.ErrConflict)
	got, err = s.GetKey(ctx, orig.ID)
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	checkKey(t, got, want)
	if got.Revision == orig.Revision {
		t.Errorf("Revision %d after an update, as before it", got.Revision)
	}

	// Back to Enabled: no deletion date, no tags.
	want.State = kms.KeyStateEnabled
	want.DeletionDate = time.Time{}
	want.Tags = nil
	want.Revision = got.Revision
	if err := s.UpdateKey(ctx, want); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	got, err = s.GetKey(ctx, orig.ID)
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	checkKey(t, got, want)
	if !got.DeletionDate.IsZero() {
		t.Errorf("DeletionDate = %v after clearing, want zero", got.DeletionDate)
	}

	// The other key is untouched.
	got, err = s.GetKey(ctx, other.ID)
	if err != nil {
		t.Fatalf("GetKey(other): %v", err)
	}
	checkKey(t, got, other)
}

func testKeyNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateKey(t, s, newKey(1, acct1, region1), nil)
	missing := newKey(2, acct1, region1)

	_, err := s.GetKey(ctx, missing.ID)
	wantErr(t, "GetKey", err, store.ErrNotFound)
	wantErr(t, "UpdateKey", s.UpdateKey(ctx, missing), store.ErrNotFound)
	wantErr(t, "DeleteKey", s.DeleteKey(ctx, missing.ID), store.ErrNotFound)
	_, err = s.GetMaterial(ctx, missing.ID, materialID(2))
	wantErr(t, "GetMaterial", err, store.ErrNotFound)
	if _, err := s.GetKey(ctx, missing.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateKey of a missing key created it")
	}
}

func testDeleteKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	doomed := newKey(1, acct1, region1)
	doomed.Tags = []kms.Tag{{Key: "a", Value: "1"}}
	mustCreateKey(t, s, doomed, newMaterial(doomed.ID, 1, doomed.CreationDate))
	kept := newKey(2, acct1, region1)
	kept.Tags = []kms.Tag{{Key: "b", Value: "2"}}
	km := newMaterial(kept.ID, 2, kept.CreationDate)
	mustCreateKey(t, s, kept, km)

	doomedAliases := []kms.Alias{
		{Name: "alias/one", Account: acct1, Region: region1, TargetKeyID: doomed.ID, CreationDate: at(0), LastUpdatedDate: at(0)},
		{Name: "alias/two", Account: acct1, Region: region1, TargetKeyID: doomed.ID, CreationDate: at(0), LastUpdatedDate: at(0)},
	}
	keptAlias := kms.Alias{Name: "alias/kept", Account: acct1, Region: region1, TargetKeyID: kept.ID, CreationDate: at(0), LastUpdatedDate: at(0)}
	for _, a := range append(doomedAliases, keptAlias) {
		mustCreateAlias(t, s, a)
	}

	if err := s.DeleteKey(ctx, doomed.ID); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	_, err := s.GetKey(ctx, doomed.ID)
	wantErr(t, "GetKey after delete", err, store.ErrNotFound)
	_, err = s.GetMaterial(ctx, doomed.ID, materialID(1))
	wantErr(t, "GetMaterial after delete", err, store.ErrNotFound)
	if ms, err := s.ListMaterials(ctx, doomed.ID); err != nil || len(ms) != 0 {
		t.Errorf("ListMaterials after delete = %d materials, %v; want none", len(ms), err)
	}
	for _, a := range doomedAliases {
		_, err := s.GetAlias(ctx, a.Account, a.Region, a.Name)
		wantErr(t, "GetAlias "+a.Name+" after delete", err, store.ErrNotFound)
	}
	if n, err := s.CountAliases(ctx, doomed.ID); err != nil || n != 0 {
		t.Errorf("CountAliases after delete = %d, %v; want 0", n, err)
	}
	wantErr(t, "DeleteKey twice", s.DeleteKey(ctx, doomed.ID), store.ErrNotFound)

	// A key created again under the same id starts clean.
	again := newKey(1, acct1, region1)
	mustCreateKey(t, s, again, nil)
	got, err := s.GetKey(ctx, again.ID)
	if err != nil {
		t.Fatalf("GetKey(recreated): %v", err)
	}
	checkKey(t, got, again)
	if ms, err := s.ListMaterials(ctx, again.ID); err != nil || len(ms) != 0 {
		t.Errorf("ListMaterials(recreated) = %d materials, %v; want none", len(ms), err)
	}
	if n, err := s.CountAliases(ctx, again.ID); err != nil || n != 0 {
		t.Errorf("CountAliases(recreated) = %d, %v; want 0", n, err)
	}

	// The other key keeps everything.
	got, err = s.GetKey(ctx, kept.ID)
	if err != nil {
		t.Fatalf("GetKey(kept): %v", err)
	}
	checkKey(t, got, kept)
	gm, err := s.GetMaterial(ctx, kept.ID, km.ID)
	if err != nil {
		t.Fatalf("GetMaterial(kept): %v", err)
	}
	checkMaterial(t, gm, *km)
	ga, err := s.GetAlias(ctx, acct1, region1, keptAlias.Name)
	if err != nil {
		t.Fatalf("GetAlias(kept): %v", err)
	}
	checkAlias(t, ga, keptAlias)
}

func testListKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Created out of id order; only 10..14 are in acct1/region1.
	var want []kms.Key
	for _, n := range []int{13, 10, 14, 12, 11} {
		k := newKey(n, acct1, region1)
		if n%2 == 0 {
			k.Tags = []kms.Tag{{Key: "n", Value: fmt.Sprint(n)}, {Key: "even", Value: "yes"}}
		}
		mustCreateKey(t, s, k, nil)
		want = append(want, k)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	mustCreateKey(t, s, newKey(1, acct1, region2), nil)
	mustCreateKey(t, s, newKey(20, acct2, region1), nil)
	mustCreateKey(t, s, newKey(30, acct2, region2), nil)

	got, err := s.ListKeys(ctx, store.KeyFilter{Account: acct1, Region: region1})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("ListKeys = %v, want %v", ids(got), ids(want))
	}
	for i := range got {
		checkKey(t, got[i], want[i])
	}

	// Page through with every limit; the pages must join up to the whole.
	for limit := 1; limit <= len(want)+1; limit++ {
		var all []kms.Key
		after := ""
		for range len(want) + 2 {
			page, err := s.ListKeys(ctx, store.KeyFilter{Account: acct1, Region: region1, After: after, Limit: limit})
			if err != nil {
				t.Fatalf("ListKeys(limit %d, after %q): %v", limit, after, err)
			}
			if len(page) > limit {
				t.Fatalf("ListKeys(limit %d) returned %d keys", limit, len(page))
			}
			all = append(all, page...)
			if len(page) < limit {
				break
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(ids(all), ids(want)) {
			t.Errorf("pages of %d = %v, want %v", limit, ids(all), ids(want))
		}
		for i := range all {
			checkKey(t, all[i], want[i])
		}
	}

	// After need not be a stored id.
	got, err = s.ListKeys(ctx, store.KeyFilter{Account: acct1, Region: region1, After: want[1].ID + "x"})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if !slices.Equal(ids(got), ids(want[2:])) {
		t.Errorf("ListKeys(after %s+x) = %v, want %v", want[1].ID, ids(got), ids(want[2:]))
	}

	for _, f := range []store.KeyFilter{
		{Account: acct1, Region: region1, After: want[len(want)-1].ID},
		{Account: "999999999999", Region: region1},
		{Account: acct1, Region: "ap-south-1"},
	} {
		got, err := s.ListKeys(ctx, f)
		if err != nil {
			t.Fatalf("ListKeys(%+v): %v", f, err)
		}
		if len(got) != 0 {
			t.Errorf("ListKeys(%+v) = %v, want none", f, ids(got))
		}
	}
	for _, f := range []store.KeyFilter{
		{Account: acct1, Region: region2},
		{Account: acct2, Region: region1},
		{Account: acct2, Region: region2},
	} {
		got, err := s.ListKeys(ctx, f)
		if err != nil {
			t.Fatalf("ListKeys(%+v): %v", f, err)
		}
		if len(got) != 1 || got[0].Account != f.Account || got[0].Region != f.Region {
			t.Errorf("ListKeys(%+v) = %v, want the one key there", f, ids(got))
		}
	}
}

func testKeysPendingDeletion(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(24 * time.Hour)
	pending := func(n int, account, region string, when time.Time) kms.Key {
		k := newKey(n, account, region)
		k.State = kms.KeyStatePendingDeletion
		k.DeletionDate = when
		k.Tags = []kms.Tag{{Key: "n", Value: fmt.Sprint(n)}}
		return k
	}
	due := []kms.Key{
		pending(1, acct1, region1, now.Add(-time.Hour)),
		pending(2, acct2, region2, now),                        // exactly now counts
		pending(3, acct1, region2, now.Add(-time.Millisecond)), // just before
	}
	notDue := []kms.Key{
		pending(4, acct1, region1, now.Add(time.Millisecond)),
		pending(5, acct2, region1, now.Add(7*24*time.Hour)),
	}
	enabled := newKey(6, acct1, region1)
	disabled := newKey(7, acct1, region1)
	disabled.State = kms.KeyStateDisabled
	// A key whose state says otherwise is not due, whatever its date.
	stale := newKey(8, acct1, region1)
	stale.DeletionDate = now.Add(-time.Hour)

	for _, k := range append(append(slices.Clone(due), notDue...), enabled, disabled, stale) {
		mustCreateKey(t, s, k, nil)
	}

	got, err := s.KeysPendingDeletion(ctx, now)
	if err != nil {
		t.Fatalf("KeysPendingDeletion: %v", err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	if !slices.Equal(ids(got), ids(due)) {
		t.Fatalf("KeysPendingDeletion = %v, want %v", ids(got), ids(due))
	}
	for i := range got {
		checkKey(t, got[i], due[i])
	}

	got, err = s.KeysPendingDeletion(ctx, at(0))
	if err != nil {
		t.Fatalf("KeysPendingDeletion: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("KeysPendingDeletion(before all) = %v, want none", ids(got))
	}
}

func testMaterials(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := newKey(1, acct1, region1)
	m1 := newMaterial(k1.ID, 1, k1.CreationDate)
	mustCreateKey(t, s, k1, m1)
	// The same material id under another key is a different material.
	k2 := newKey(2, acct1, region1)
	m2 := newMaterial(k2.ID, 1, k2.CreationDate)
	m2.Sealed = []byte("other key")
	mustCreateKey(t, s, k2, m2)

	for _, want := range []*store.Material{m1, m2} {
		got, err := s.GetMaterial(ctx, want.KeyID, want.ID)
		if err != nil {
			t.Fatalf("GetMaterial(%s, %s): %v", want.KeyID, want.ID, err)
		}
		checkMaterial(t, got, *want)
	}
	_, err := s.GetMaterial(ctx, k1.ID, materialID(2))
	wantErr(t, "GetMaterial unknown material", err, store.ErrNotFound)
	_, err = s.GetMaterial(ctx, keyID(3), materialID(1))
	wantErr(t, "GetMaterial unknown key", err, store.ErrNotFound)
}

func testMaterialsOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := newKey(1, acct1, region1)
	first := newMaterial(k.ID, 5, at(0))
	mustCreateKey(t, s, k, first)
	// Material ids do not sort in creation order; two share a millisecond and
	// keep the order they were added in.
	want := []*store.Material{
		first,
		newMaterial(k.ID, 3, at(time.Hour)),
		newMaterial(k.ID, 9, at(2*time.Hour)),
		newMaterial(k.ID, 1, at(2*time.Hour)),
	}
	for _, m := range want[1:] {
		if err := s.AddMaterial(ctx, *m); err != nil {
			t.Fatalf("AddMaterial(%s): %v", m.ID, err)
		}
	}
	wantErr(t, "AddMaterial duplicate", s.AddMaterial(ctx, *want[1]), store.ErrExists)
	wantErr(t, "AddMaterial unknown key", s.AddMaterial(ctx, *newMaterial(keyID(2), 1, at(0))), store.ErrNotFound)

	got, err := s.ListMaterials(ctx, k.ID)
	if err != nil {
		t.Fatalf("ListMaterials: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListMaterials returned %d materials, want %d", len(got), len(want))
	}
	for i := range got {
		checkMaterial(t, got[i], *want[i])
	}
}

func testAliases(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := newKey(1, acct1, region1)
	k2 := newKey(2, acct1, region1)
	mustCreateKey(t, s, k1, nil)
	mustCreateKey(t, s, k2, nil)

	a := kms.Alias{Name: "alias/app", Account: acct1, Region: region1, TargetKeyID: k1.ID,
		CreationDate: at(time.Minute), LastUpdatedDate: at(time.Minute)}
	mustCreateAlias(t, s, a)
	got, err := s.GetAlias(ctx, acct1, region1, a.Name)
	if err != nil {
		t.Fatalf("GetAlias: %v", err)
	}
	checkAlias(t, got, a)

	dup := a
	dup.TargetKeyID = k2.ID
	wantErr(t, "CreateAlias duplicate", s.CreateAlias(ctx, dup), store.ErrExists)
	if got, _ := s.GetAlias(ctx, acct1, region1, a.Name); got.TargetKeyID != k1.ID {
		t.Errorf("duplicate CreateAlias re-pointed the alias to %s", got.TargetKeyID)
	}

	// The same name is free in another region or account. Stores do not
	// check that the key lives in the alias's account and region.
	for _, other := range []kms.Alias{
		{Name: a.Name, Account: acct1, Region: region2, TargetKeyID: k2.ID, CreationDate: at(0), LastUpdatedDate: at(0)},
		{Name: a.Name, Account: acct2, Region: region1, TargetKeyID: k2.ID, CreationDate: at(0), LastUpdatedDate: at(0)},
	} {
		mustCreateAlias(t, s, other)
		got, err := s.GetAlias(ctx, other.Account, other.Region, other.Name)
		if err != nil {
			t.Fatalf("GetAlias: %v", err)
		}
		checkAlias(t, got, other)
	}

	// Names are case sensitive.
	_, err = s.GetAlias(ctx, acct1, region1, "alias/APP")
	wantErr(t, "GetAlias other case", err, store.ErrNotFound)
	_, err = s.GetAlias(ctx, acct1, region1, "alias/missing")
	wantErr(t, "GetAlias missing", err, store.ErrNotFound)

	// An alias must point at a stored key.
	missing := kms.Alias{Name: "alias/dangling", Account: acct1, Region: region1, TargetKeyID: keyID(99),
		CreationDate: at(0), LastUpdatedDate: at(0)}
	wantErr(t, "CreateAlias to a missing key", s.CreateAlias(ctx, missing), store.ErrNotFound)

	// Update re-points and stamps; the creation date stays.
	upd := a
	upd.TargetKeyID = k2.ID
	upd.LastUpdatedDate = at(time.Hour)
	upd.CreationDate = at(2 * time.Hour) // ignored
	if err := s.UpdateAlias(ctx, upd); err != nil {
		t.Fatalf("UpdateAlias: %v", err)
	}
	want := a
	want.TargetKeyID = k2.ID
	want.LastUpdatedDate = upd.LastUpdatedDate
	got, err = s.GetAlias(ctx, acct1, region1, a.Name)
	if err != nil {
		t.Fatalf("GetAlias: %v", err)
	}
	checkAlias(t, got, want)
	wantErr(t, "UpdateAlias missing", s.UpdateAlias(ctx, missing), store.ErrNotFound)
	toMissing := want
	toMissing.TargetKeyID = keyID(99)
	wantErr(t, "UpdateAlias to a missing key", s.UpdateAlias(ctx, toMissing), store.ErrNotFound)
	if got, _ := s.GetAlias(ctx, acct1, region1, a.Name); got.TargetKeyID != k2.ID {
		t.Errorf("failed UpdateAlias re-pointed the alias to %s", got.TargetKeyID)
	}

	if err := s.DeleteAlias(ctx, acct1, region1, a.Name); err != nil {
		t.Fatalf("DeleteAlias: %v", err)
	}
	_, err = s.GetAlias(ctx, acct1, region1, a.Name)
	wantErr(t, "GetAlias after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteAlias twice", s.DeleteAlias(ctx, acct1, region1, a.Name), store.ErrNotFound)
	// The namesakes elsewhere survive, and the name can be taken again.
	if _, err := s.GetAlias(ctx, acct1, region2, a.Name); err != nil {
		t.Errorf("GetAlias in the other region after delete: %v", err)
	}
	mustCreateAlias(t, s, a)
}

func testListAliases(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := newKey(1, acct1, region1)
	k2 := newKey(2, acct1, region1)
	mustCreateKey(t, s, k1, nil)
	mustCreateKey(t, s, k2, nil)

	alias := func(name, target string, min int) kms.Alias {
		return kms.Alias{Name: name, Account: acct1, Region: region1, TargetKeyID: target,
			CreationDate: at(time.Duration(min) * time.Minute), LastUpdatedDate: at(time.Duration(min+1) * time.Minute)}
	}
	// Created out of name order.
	all := []kms.Alias{
		alias("alias/c", k1.ID, 1),
		alias("alias/a", k2.ID, 2),
		alias("alias/e", k1.ID, 3),
		alias("alias/b", k1.ID, 4),
		alias("alias/d", k2.ID, 5),
	}
	for _, a := range all {
		mustCreateAlias(t, s, a)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	// Aliases elsewhere must not show up.
	mustCreateAlias(t, s, kms.Alias{Name: "alias/a2", Account: acct1, Region: region2, TargetKeyID: k1.ID, CreationDate: at(0), LastUpdatedDate: at(0)})
	mustCreateAlias(t, s, kms.Alias{Name: "alias/a3", Account: acct2, Region: region1, TargetKeyID: k1.ID, CreationDate: at(0), LastUpdatedDate: at(0)})

	list := func(f store.AliasFilter) []kms.Alias {
		t.Helper()
		f.Account, f.Region = acct1, region1
		got, err := s.ListAliases(ctx, f)
		if err != nil {
			t.Fatalf("ListAliases(%+v): %v", f, err)
		}
		return got
	}
	got := list(store.AliasFilter{})
	if !slices.Equal(names(got), names(all)) {
		t.Fatalf("ListAliases = %v, want %v", names(got), names(all))
	}
	for i := range got {
		checkAlias(t, got[i], all[i])
	}

	var ofK1 []kms.Alias
	for _, a := range all {
		if a.TargetKeyID == k1.ID {
			ofK1 = append(ofK1, a)
		}
	}
	if got := list(store.AliasFilter{KeyID: k1.ID}); !slices.Equal(names(got), names(ofK1)) {
		t.Errorf("ListAliases(key %s) = %v, want %v", k1.ID, names(got), names(ofK1))
	}
	if got := list(store.AliasFilter{KeyID: keyID(99)}); len(got) != 0 {
		t.Errorf("ListAliases(unknown key) = %v, want none", names(got))
	}

	for limit := 1; limit <= len(all)+1; limit++ {
		var pages []kms.Alias
		after := ""
		for range len(all) + 2 {
			page := list(store.AliasFilter{After: after, Limit: limit})
			if len(page) > limit {
				t.Fatalf("ListAliases(limit %d) returned %d aliases", limit, len(page))
			}
			pages = append(pages, page...)
			if len(page) < limit {
				break
			}
			after = page[len(page)-1].Name
		}
		if !slices.Equal(names(pages), names(all)) {
			t.Errorf("pages of %d = %v, want %v", limit, names(pages), names(all))
		}
	}
	// Filters combine.
	if got := list(store.AliasFilter{KeyID: k1.ID, After: "alias/b", Limit: 1}); !slices.Equal(names(got), []string{"alias/c"}) {
		t.Errorf("ListAliases(key, after, limit) = %v, want [alias/c]", names(got))
	}

	for _, tc := range []struct {
		key  string
		want int
	}{{k1.ID, 5}, {k2.ID, 2}, {keyID(99), 0}} {
		n, err := s.CountAliases(ctx, tc.key)
		if err != nil {
			t.Fatalf("CountAliases(%s): %v", tc.key, err)
		}
		if n != tc.want {
			t.Errorf("CountAliases(%s) = %d, want %d", tc.key, n, tc.want)
		}
	}
}

// testConcurrency has writers and readers share the store; run it under -race.
func testConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, perWorker = 8, 10
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		contests int // successful creations of the contested alias
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				n := 1 + w*perWorker + i
				k := newKey(n, acct1, region1)
				k.Tags = []kms.Tag{{Key: "worker", Value: fmt.Sprint(w)}}
				if err := s.CreateKey(ctx, k, newMaterial(k.ID, n, k.CreationDate)); err != nil {
					t.Errorf("CreateKey(%d): %v", n, err)
					return
				}
				a := kms.Alias{Name: fmt.Sprintf("alias/k%03d", n), Account: acct1, Region: region1,
					TargetKeyID: k.ID, CreationDate: at(0), LastUpdatedDate: at(0)}
				if err := s.CreateAlias(ctx, a); err != nil {
					t.Errorf("CreateAlias(%s): %v", a.Name, err)
				}
				a.Name = "alias/contested"
				switch err := s.CreateAlias(ctx, a); {
				case err == nil:
					mu.Lock()
					contests++
					mu.Unlock()
				case !errors.Is(err, store.ErrExists):
					t.Errorf("CreateAlias(contested): %v", err)
				}
				if _, err := s.GetKey(ctx, k.ID); err != nil {
					t.Errorf("GetKey(%d): %v", n, err)
				}
			}
		})
		wg.Go(func() {
			for range perWorker {
				if _, err := s.ListKeys(ctx, store.KeyFilter{Account: acct1, Region: region1, Limit: 5}); err != nil {
					t.Errorf("ListKeys: %v", err)
				}
				if _, err := s.ListAliases(ctx, store.AliasFilter{Account: acct1, Region: region1}); err != nil {
					t.Errorf("ListAliases: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if contests != 1 {
		t.Errorf("contested alias created %d times, want 1", contests)
	}
	keys, err := s.ListKeys(ctx, store.KeyFilter{Account: acct1, Region: region1})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if len(keys) != workers*perWorker {
		t.Errorf("ListKeys returned %d keys, want %d", len(keys), workers*perWorker)
	}
	for _, k := range keys {
		if len(k.Tags) != 1 {
			t.Errorf("key %s has tags %v, want one", k.ID, k.Tags)
		}
	}
	aliases, err := s.ListAliases(ctx, store.AliasFilter{Account: acct1, Region: region1})
	if err != nil {
		t.Fatalf("ListAliases: %v", err)
	}
	if len(aliases) != workers*perWorker+1 {
		t.Errorf("ListAliases returned %d aliases, want %d", len(aliases), workers*perWorker+1)
	}
}
