package storetest

// Rotation and imported material: the key and material fields they add,
// RotateKey as a compare-and-swap, DeleteMaterial, and the two lists the
// background jobs scan.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// Values of kms.Key.ExpirationModel and store.Material.RotationType.
const (
	expires       = "KEY_MATERIAL_EXPIRES"
	doesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	automatic     = "AUTOMATIC"
	onDemand      = "ON_DEMAND"
)

// rotatingKey returns an Enabled key with automatic rotation on, due at next.
func rotatingKey(n int, account, region string, next time.Time) kms.Key {
	k := newKey(n, account, region)
	k.RotationEnabled = true
	k.RotationPeriodDays = 365
	k.NextRotationDate = next
	k.Tags = []kms.Tag{{Key: "n", Value: fmt.Sprint(n)}}
	return k
}

// rotation returns material n of a key as a rotation of the given type made at when.
func rotation(keyID string, n int, typ string, when time.Time) store.Material {
	m := *newMaterial(keyID, n, when)
	m.RotationType = typ
	m.RotationDate = when
	return m
}

func mustGetKey(t *testing.T, s store.Store, id string) kms.Key {
	t.Helper()
	k, err := s.GetKey(t.Context(), id)
	if err != nil {
		t.Fatalf("GetKey(%s): %v", id, err)
	}
	return k
}

// checkMaterials checks that a key has exactly the materials want, in order.
func checkMaterials(t *testing.T, s store.Store, keyID string, want ...store.Material) {
	t.Helper()
	got, err := s.ListMaterials(t.Context(), keyID)
	if err != nil {
		t.Fatalf("ListMaterials(%s): %v", keyID, err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListMaterials(%s) returned %d materials, want %d", keyID, len(got), len(want))
	}
	for i := range got {
		checkMaterial(t, got[i], want[i])
	}
}

func testRotationFieldsRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC-3", -3*3600)

	rotating := rotatingKey(1, acct1, region1, at(365*24*time.Hour).In(zone))
	imported := newKey(2, acct1, region1)
	imported.Origin = kms.OriginExternal
	imported.ExpirationModel = expires
	imported.ValidTo = at(90 * 24 * time.Hour)
	forever := newKey(3, acct1, region1)
	forever.Origin = kms.OriginExternal
	forever.ExpirationModel = doesNotExpire
	plain := newKey(4, acct1, region1) // every new field zero

	// The first material has no rotation type; store what is given anyway.
	first := newMaterial(rotating.ID, 1, rotating.CreationDate)
	mustCreateKey(t, s, rotating, first)
	odd := rotation(imported.ID, 2, onDemand, at(time.Minute).In(zone))
	mustCreateKey(t, s, imported, &odd)
	mustCreateKey(t, s, forever, nil)
	mustCreateKey(t, s, plain, nil)

	all := []kms.Key{rotating, imported, forever, plain}
	for _, want := range all {
		got := mustGetKey(t, s, want.ID)
		checkKey(t, got, want)
		if want.NextRotationDate.IsZero() && !got.NextRotationDate.IsZero() ||
			want.ValidTo.IsZero() && !got.ValidTo.IsZero() {
			t.Errorf("key %s: zero times came back as %v, %v", want.ID, got.NextRotationDate, got.ValidTo)
		}
	}
	listed, err := s.ListKeys(ctx, store.KeyFilter{Account: acct1, Region: region1})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if !slices.Equal(ids(listed), ids(all)) {
		t.Fatalf("ListKeys = %v, want %v", ids(listed), ids(all))
	}
	for i := range listed {
		checkKey(t, listed[i], all[i])
	}

	// Materials keep their rotation type and date.
	auto := rotation(rotating.ID, 3, automatic, at(time.Hour))
	if err := s.AddMaterial(ctx, auto); err != nil {
		t.Fatalf("AddMaterial: %v", err)
	}
	checkMaterials(t, s, rotating.ID, *first, auto)
	checkMaterials(t, s, imported.ID, odd)
	for _, want := range []store.Material{*first, auto, odd} {
		got, err := s.GetMaterial(ctx, want.KeyID, want.ID)
		if err != nil {
			t.Fatalf("GetMaterial(%s): %v", want.ID, err)
		}
		checkMaterial(t, got, want)
	}

	// UpdateKey sets every new field, to values and back to zero.
	upd := plain
	upd.RotationEnabled = true
	upd.RotationPeriodDays = 90
	upd.NextRotationDate = at(90 * 24 * time.Hour)
	upd.ExpirationModel = expires
	upd.ValidTo = at(time.Hour)
	if err := s.UpdateKey(ctx, upd); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	checkKey(t, mustGetKey(t, s, upd.ID), upd)
	off := rotating
	off.RotationEnabled = false
	off.RotationPeriodDays = 0
	off.NextRotationDate = time.Time{}
	off.ExpirationModel = ""
	if err := s.UpdateKey(ctx, off); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	got := mustGetKey(t, s, off.ID)
	checkKey(t, got, off)
	if !got.NextRotationDate.IsZero() {
		t.Errorf("NextRotationDate after clearing = %v, want zero", got.NextRotationDate)
	}
}

func testRotateKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := rotatingKey(1, acct1, region1, at(time.Hour))
	first := newMaterial(k.ID, 1, k.CreationDate)
	mustCreateKey(t, s, k, first)
	other := rotatingKey(2, acct1, region1, at(time.Hour))
	otherFirst := newMaterial(other.ID, 1, other.CreationDate)
	mustCreateKey(t, s, other, otherFirst)

	// A rotation moves the current material and the next date, and nothing else.
	m2 := rotation(k.ID, 2, automatic, at(time.Hour))
	next := at(time.Hour + 365*24*time.Hour)
	if err := s.RotateKey(ctx, m2, first.ID, next); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	want := k
	want.CurrentMaterialID = m2.ID
	want.NextRotationDate = next
	checkKey(t, mustGetKey(t, s, k.ID), want)
	checkMaterials(t, s, k.ID, *first, m2)
	// A change made from a reading before the rotation would undo it.
	before := k
	before.Description = "read before the rotation"
	wantErr(t, "UpdateKey from before a rotation", s.UpdateKey(ctx, before), store.ErrConflict)
	checkKey(t, mustGetKey(t, s, k.ID), want)

	// On demand, on a key with rotation off: a zero next date stays zero.
	m3 := rotation(k.ID, 3, onDemand, at(2*time.Hour))
	if err := s.RotateKey(ctx, m3, m2.ID, time.Time{}); err != nil {
		t.Fatalf("RotateKey(on demand): %v", err)
	}
	want.CurrentMaterialID = m3.ID
	want.NextRotationDate = time.Time{}
	checkKey(t, mustGetKey(t, s, k.ID), want)
	checkMaterials(t, s, k.ID, *first, m2, m3)

	// A stale prev conflicts and writes nothing.
	for _, prev := range []string{first.ID, m2.ID, materialID(99), ""} {
		stale := rotation(k.ID, 4, automatic, at(3*time.Hour))
		wantErr(t, fmt.Sprintf("RotateKey(prev %.8s…)", prev),
			s.RotateKey(ctx, stale, prev, at(1000*time.Hour)), store.ErrConflict)
		_, err := s.GetMaterial(ctx, k.ID, stale.ID)
		wantErr(t, "GetMaterial of a conflicting rotation", err, store.ErrNotFound)
	}
	checkKey(t, mustGetKey(t, s, k.ID), want)
	checkMaterials(t, s, k.ID, *first, m2, m3)

	// A material id the key already has fails whole: the key does not move.
	dup := rotation(k.ID, 2, automatic, at(3*time.Hour))
	if err := s.RotateKey(ctx, dup, m3.ID, at(1000*time.Hour)); err == nil {
		t.Error("RotateKey with a material id already used succeeded")
	}
	checkKey(t, mustGetKey(t, s, k.ID), want)
	checkMaterials(t, s, k.ID, *first, m2, m3)

	// An unknown key is not found, whatever prev, and gets no material.
	for _, prev := range []string{"", first.ID} {
		lost := rotation(keyID(99), 5, automatic, at(3*time.Hour))
		wantErr(t, "RotateKey(unknown key)", s.RotateKey(ctx, lost, prev, at(1000*time.Hour)), store.ErrNotFound)
		if ms, err := s.ListMaterials(ctx, keyID(99)); err != nil || len(ms) != 0 {
			t.Errorf("ListMaterials(unknown key) = %d materials, %v; want none", len(ms), err)
		}
	}

	// The other key is untouched.
	checkKey(t, mustGetKey(t, s, other.ID), other)
	checkMaterials(t, s, other.ID, *otherFirst)
}

// testRotateKeyConcurrency races rotations from the same prev, round after
// round: each round exactly one wins. Run it under -race.
func testRotateKeyConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, rounds = 8, 5
	k := rotatingKey(1, acct1, region1, at(time.Hour))
	first := newMaterial(k.ID, 1, k.CreationDate)
	mustCreateKey(t, s, k, first)

	want := []store.Material{*first}
	prev := first.ID
	for r := range rounds {
		var (
			wg      sync.WaitGroup
			wins    atomic.Int32
			winner  atomic.Int32
			results = make([]error, workers)
		)
		when := at(time.Duration(r+1) * time.Hour)
		for w := range workers {
			wg.Go(func() {
				m := rotation(k.ID, 100*(r+1)+w, automatic, when)
				err := s.RotateKey(ctx, m, prev, when.Add(365*24*time.Hour))
				results[w] = err
				if err == nil {
					wins.Add(1)
					winner.Store(int32(w))
				}
			})
			// A reader alongside, which must never see a half-made rotation.
			wg.Go(func() {
				got, err := s.GetKey(ctx, k.ID)
				if err != nil {
					t.Errorf("GetKey: %v", err)
					return
				}
				if _, err := s.GetMaterial(ctx, k.ID, got.CurrentMaterialID); err != nil {
					t.Errorf("current material %s of a concurrently rotated key: %v", got.CurrentMaterialID, err)
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d rotations from the same prev succeeded, want 1", r, n)
		}
		for w, err := range results {
			if err != nil && !errors.Is(err, store.ErrConflict) {
				t.Errorf("round %d: losing RotateKey %d: %v, want ErrConflict", r, w, err)
			}
		}
		m := rotation(k.ID, 100*(r+1)+int(winner.Load()), automatic, when)
		want = append(want, m)
		prev = m.ID
		got := mustGetKey(t, s, k.ID)
		if got.CurrentMaterialID != m.ID || !got.NextRotationDate.Equal(when.Add(365*24*time.Hour)) {
			t.Fatalf("round %d: key has material %s due %v, want the winner's %s due %v",
				r, got.CurrentMaterialID, got.NextRotationDate, m.ID, when.Add(365*24*time.Hour))
		}
	}
	checkMaterials(t, s, k.ID, want...)
}

func testDeleteMaterial(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := newKey(1, acct1, region1)
	k.Origin = kms.OriginExternal
	k.ExpirationModel = expires
	k.ValidTo = at(time.Hour)
	m1 := newMaterial(k.ID, 1, k.CreationDate)
	mustCreateKey(t, s, k, m1)
	m2 := rotation(k.ID, 2, onDemand, at(time.Minute))
	if err := s.AddMaterial(ctx, m2); err != nil {
		t.Fatalf("AddMaterial: %v", err)
	}
	// The same material id under another key is another material.
	other := newKey(2, acct1, region1)
	om := newMaterial(other.ID, 2, other.CreationDate)
	mustCreateKey(t, s, other, om)

	if err := s.DeleteMaterial(ctx, k.ID, m2.ID); err != nil {
		t.Fatalf("DeleteMaterial: %v", err)
	}
	_, err := s.GetMaterial(ctx, k.ID, m2.ID)
	wantErr(t, "GetMaterial after delete", err, store.ErrNotFound)
	checkMaterials(t, s, k.ID, *m1)
	wantErr(t, "DeleteMaterial twice", s.DeleteMaterial(ctx, k.ID, m2.ID), store.ErrNotFound)
	wantErr(t, "DeleteMaterial unknown key", s.DeleteMaterial(ctx, keyID(99), m1.ID), store.ErrNotFound)
	wantErr(t, "DeleteMaterial unknown material", s.DeleteMaterial(ctx, k.ID, materialID(99)), store.ErrNotFound)

	// Deleting the current material leaves the key as it is; what the
	// key's state should become is the caller's business.
	if err := s.DeleteMaterial(ctx, k.ID, m1.ID); err != nil {
		t.Fatalf("DeleteMaterial(current): %v", err)
	}
	checkMaterials(t, s, k.ID)
	checkKey(t, mustGetKey(t, s, k.ID), k)

	checkKey(t, mustGetKey(t, s, other.ID), other)
	checkMaterials(t, s, other.ID, *om)

	// The id may be used again.
	if err := s.AddMaterial(ctx, m2); err != nil {
		t.Fatalf("AddMaterial after delete: %v", err)
	}
	checkMaterials(t, s, k.ID, m2)
}

func testKeysDueForRotation(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(24 * time.Hour)
	due := []kms.Key{
		rotatingKey(1, acct1, region1, now.Add(-time.Hour)),
		rotatingKey(2, acct2, region2, now),                        // exactly now counts
		rotatingKey(3, acct1, region2, now.Add(-time.Millisecond)), // just before
	}
	notDue := []kms.Key{
		rotatingKey(4, acct1, region1, now.Add(time.Millisecond)),
		rotatingKey(5, acct2, region1, now.Add(365*24*time.Hour)),
		rotatingKey(6, acct1, region1, time.Time{}), // no date
	}
	off := rotatingKey(7, acct1, region1, now.Add(-time.Hour))
	off.RotationEnabled = false
	notDue = append(notDue, off)
	// Only Enabled keys rotate, whatever their dates.
	for i, st := range []kms.KeyState{kms.KeyStateDisabled, kms.KeyStatePendingDeletion,
		kms.KeyStatePendingImport, kms.KeyStateUnavailable, kms.KeyStateCreating, kms.KeyStateUpdating} {
		k := rotatingKey(10+i, acct1, region1, now.Add(-time.Hour))
		k.State = st
		if st == kms.KeyStatePendingDeletion {
			k.DeletionDate = now.Add(time.Hour)
		}
		notDue = append(notDue, k)
	}
	for _, k := range append(slices.Clone(due), notDue...) {
		mustCreateKey(t, s, k, nil)
	}

	got, err := s.KeysDueForRotation(ctx, now)
	if err != nil {
		t.Fatalf("KeysDueForRotation: %v", err)
	}
	sortKeys(got)
	if !slices.Equal(ids(got), ids(due)) {
		t.Fatalf("KeysDueForRotation = %v, want %v", ids(got), ids(due))
	}
	for i := range got {
		checkKey(t, got[i], due[i])
	}
	if got, err := s.KeysDueForRotation(ctx, at(0)); err != nil || len(got) != 0 {
		t.Errorf("KeysDueForRotation(before all) = %v, %v; want none", ids(got), err)
	}

	// A rotation moves the key out of the list.
	m := rotation(due[0].ID, 50, automatic, now)
	if err := s.RotateKey(ctx, m, due[0].CurrentMaterialID, now.Add(365*24*time.Hour)); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	got, err = s.KeysDueForRotation(ctx, now)
	if err != nil {
		t.Fatalf("KeysDueForRotation: %v", err)
	}
	sortKeys(got)
	if !slices.Equal(ids(got), ids(due[1:])) {
		t.Errorf("KeysDueForRotation after a rotation = %v, want %v", ids(got), ids(due[1:]))
	}
}

func testKeysWithExpiredMaterial(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(24 * time.Hour)
	imported := func(n int, state kms.KeyState, model string, validTo time.Time) kms.Key {
		k := newKey(n, acct1, region1)
		k.Origin = kms.OriginExternal
		k.State = state
		k.ExpirationModel = model
		k.ValidTo = validTo
		k.Tags = []kms.Tag{{Key: "n", Value: fmt.Sprint(n)}}
		if state == kms.KeyStatePendingDeletion {
			k.DeletionDate = now.Add(time.Hour)
		}
		return k
	}
	due := []kms.Key{
		imported(1, kms.KeyStateEnabled, expires, now.Add(-time.Hour)),
		imported(2, kms.KeyStateEnabled, expires, now), // exactly now counts
		imported(3, kms.KeyStateDisabled, expires, now.Add(-time.Millisecond)),
		imported(4, kms.KeyStatePendingDeletion, expires, now.Add(-time.Hour)),
	}
	other := newKey(5, acct2, region2)
	other.Origin = kms.OriginExternal
	other.ExpirationModel = expires
	other.ValidTo = now.Add(-time.Hour)
	due = append(due, other)
	notDue := []kms.Key{
		imported(6, kms.KeyStateEnabled, expires, now.Add(time.Millisecond)),
		imported(7, kms.KeyStateEnabled, expires, time.Time{}),
		// Expired already: the material is gone until the next import.
		imported(8, kms.KeyStatePendingImport, expires, now.Add(-time.Hour)),
		imported(9, kms.KeyStateEnabled, doesNotExpire, now.Add(-time.Hour)),
		imported(10, kms.KeyStatePendingImport, "", time.Time{}),
	}
	for _, k := range append(slices.Clone(due), notDue...) {
		mustCreateKey(t, s, k, nil)
	}

	got, err := s.KeysWithExpiredMaterial(ctx, now)
	if err != nil {
		t.Fatalf("KeysWithExpiredMaterial: %v", err)
	}
	sortKeys(got)
	if !slices.Equal(ids(got), ids(due)) {
		t.Fatalf("KeysWithExpiredMaterial = %v, want %v", ids(got), ids(due))
	}
	for i := range got {
		checkKey(t, got[i], due[i])
	}
	if got, err := s.KeysWithExpiredMaterial(ctx, at(0)); err != nil || len(got) != 0 {
		t.Errorf("KeysWithExpiredMaterial(before all) = %v, %v; want none", ids(got), err)
	}

	// Once the key is PendingImport it drops out.
	gone := due[0]
	gone.State = kms.KeyStatePendingImport
	if err := s.UpdateKey(ctx, gone); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	got, err = s.KeysWithExpiredMaterial(ctx, now)
	if err != nil {
		t.Fatalf("KeysWithExpiredMaterial: %v", err)
	}
	sortKeys(got)
	if !slices.Equal(ids(got), ids(due[1:])) {
		t.Errorf("KeysWithExpiredMaterial after expiry = %v, want %v", ids(got), ids(due[1:]))
	}
}

// sortKeys orders keys by id; the due-lists promise no order.
func sortKeys(keys []kms.Key) {
	slices.SortFunc(keys, func(a, b kms.Key) int { return strings.Compare(a.ID, b.ID) })
}

// externalKey returns an Enabled EXTERNAL key whose current material is n.
func externalKey(n int, account, region string) kms.Key {
	k := newKey(n, account, region)
	k.Origin = kms.OriginExternal
	k.ExpirationModel = doesNotExpire
	return k
}

// pendingMaterial returns material n of a key, imported for a future rotation.
func pendingMaterial(keyID string, n int, created time.Time) store.Material {
	m := *newMaterial(keyID, n, created)
	m.Pending = true
	return m
}

func testPendingMaterialRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := externalKey(1, acct1, region1)
	first := newMaterial(k.ID, 1, k.CreationDate)
	mustCreateKey(t, s, k, first)
	p := pendingMaterial(k.ID, 2, at(time.Minute))
	if err := s.AddMaterial(ctx, p); err != nil {
		t.Fatalf("AddMaterial(pending): %v", err)
	}
	checkMaterials(t, s, k.ID, *first, p)
	got, err := s.GetMaterial(ctx, k.ID, p.ID)
	if err != nil {
		t.Fatalf("GetMaterial(pending): %v", err)
	}
	checkMaterial(t, got, p)
	if got, err := s.GetMaterial(ctx, k.ID, first.ID); err != nil || got.Pending {
		t.Errorf("GetMaterial(first) = pending %t, %v; want not pending", got.Pending, err)
	}
	// Adding pending material leaves the key alone.
	checkKey(t, mustGetKey(t, s, k.ID), k)
}

func testPromoteMaterial(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := externalKey(1, acct1, region1)
	// The current material expires; the promoted one must not.
	k.ExpirationModel, k.ValidTo = expires, at(48*time.Hour)
	first := newMaterial(k.ID, 1, k.CreationDate)
	first.ValidTo, first.Description = k.ValidTo, "first\x00material"
	mustCreateKey(t, s, k, first)
	other := externalKey(2, acct1, region1)
	otherFirst := newMaterial(other.ID, 1, other.CreationDate)
	mustCreateKey(t, s, other, otherFirst)
	p := pendingMaterial(k.ID, 2, at(time.Minute))
	if err := s.AddMaterial(ctx, p); err != nil {
		t.Fatalf("AddMaterial(pending): %v", err)
	}

	// Not found: unknown key, unknown material, a material that is not
	// pending, and the pending material of another key. Nothing changes.
	when := at(time.Hour)
	wantErr(t, "PromoteMaterial(unknown key)",
		s.PromoteMaterial(ctx, keyID(99), p.ID, first.ID, onDemand, when), store.ErrNotFound)
	wantErr(t, "PromoteMaterial(unknown material)",
		s.PromoteMaterial(ctx, k.ID, materialID(99), first.ID, onDemand, when), store.ErrNotFound)
	wantErr(t, "PromoteMaterial(current material)",
		s.PromoteMaterial(ctx, k.ID, first.ID, first.ID, onDemand, when), store.ErrNotFound)
	wantErr(t, "PromoteMaterial(another key's material)",
		s.PromoteMaterial(ctx, other.ID, p.ID, other.CurrentMaterialID, onDemand, when), store.ErrNotFound)

	// A stale prev conflicts and writes nothing.
	for _, prev := range []string{materialID(99), p.ID, ""} {
		wantErr(t, fmt.Sprintf("PromoteMaterial(prev %.8s…)", prev),
			s.PromoteMaterial(ctx, k.ID, p.ID, prev, onDemand, when), store.ErrConflict)
	}
	checkKey(t, mustGetKey(t, s, k.ID), k)
	checkMaterials(t, s, k.ID, *first, p)

	// Success: the material becomes current and a rotation; nothing else moves.
	if err := s.PromoteMaterial(ctx, k.ID, p.ID, first.ID, onDemand, when); err != nil {
		t.Fatalf("PromoteMaterial: %v", err)
	}
	want := k
	want.CurrentMaterialID = p.ID
	want.ExpirationModel, want.ValidTo = doesNotExpire, time.Time{}
	checkKey(t, mustGetKey(t, s, k.ID), want)
	promoted := p
	promoted.Pending, promoted.RotationType, promoted.RotationDate = false, onDemand, when
	checkMaterials(t, s, k.ID, *first, promoted)

	// Once promoted it is no longer pending.
	wantErr(t, "PromoteMaterial twice",
		s.PromoteMaterial(ctx, k.ID, p.ID, p.ID, onDemand, when), store.ErrNotFound)
	checkKey(t, mustGetKey(t, s, k.ID), want)
	checkKey(t, mustGetKey(t, s, other.ID), other)
	checkMaterials(t, s, other.ID, *otherFirst)

	// A pending material that expires gives the key its own expiry.
	p3 := pendingMaterial(k.ID, 3, at(2*time.Minute))
	p3.ValidTo, p3.Description = at(72*time.Hour), "third"
	if err := s.AddMaterial(ctx, p3); err != nil {
		t.Fatal(err)
	}
	if err := s.PromoteMaterial(ctx, k.ID, p3.ID, p.ID, onDemand, when); err != nil {
		t.Fatalf("PromoteMaterial(expiring): %v", err)
	}
	want.CurrentMaterialID, want.ExpirationModel, want.ValidTo = p3.ID, expires, p3.ValidTo
	checkKey(t, mustGetKey(t, s, k.ID), want)
	u, err := s.GetKeyForUse(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	p3.Pending, p3.RotationType, p3.RotationDate = false, onDemand, when
	checkMaterial(t, *u.Current, p3)

	// UpdateMaterial changes a material's expiry and description only.
	first.ValidTo, first.Description = time.Time{}, "re-imported"
	if err := s.UpdateMaterial(ctx, *first); err != nil {
		t.Fatalf("UpdateMaterial: %v", err)
	}
	checkMaterials(t, s, k.ID, *first, promoted, p3)
	checkKey(t, mustGetKey(t, s, k.ID), want)
	wantErr(t, "UpdateMaterial(unknown)", s.UpdateMaterial(ctx, *newMaterial(k.ID, 99, when)), store.ErrNotFound)
}

// testPromoteMaterialConcurrency races promotions of the same pending
// material from the same prev: exactly one wins. Run it under -race.
func testPromoteMaterialConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers = 8
	k := externalKey(1, acct1, region1)
	first := newMaterial(k.ID, 1, k.CreationDate)
	mustCreateKey(t, s, k, first)
	p := pendingMaterial(k.ID, 2, at(time.Minute))
	if err := s.AddMaterial(ctx, p); err != nil {
		t.Fatalf("AddMaterial(pending): %v", err)
	}
	var (
		wg      sync.WaitGroup
		wins    atomic.Int32
		results = make([]error, workers)
	)
	when := at(time.Hour)
	for w := range workers {
		wg.Go(func() {
			err := s.PromoteMaterial(ctx, k.ID, p.ID, first.ID, onDemand, when)
			results[w] = err
			if err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d promotions of the same material succeeded, want 1", n)
	}
	for w, err := range results {
		if err != nil && !errors.Is(err, store.ErrConflict) {
			t.Errorf("losing PromoteMaterial %d: %v, want ErrConflict", w, err)
		}
	}
	if got := mustGetKey(t, s, k.ID); got.CurrentMaterialID != p.ID {
		t.Fatalf("key has material %s, want %s", got.CurrentMaterialID, p.ID)
	}
	promoted := p
	promoted.Pending, promoted.RotationType, promoted.RotationDate = false, onDemand, when
	checkMaterials(t, s, k.ID, *first, promoted)
}
