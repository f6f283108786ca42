package storetest

import (
	"fmt"
	"testing"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// mrkID returns a well-formed multi-Region key id; ids sort in the order of n.
func mrkID(n int) string { return fmt.Sprintf("mrk-%032x", n) }

// multiRegionKey returns the copy in region of multi-Region key n, whose
// primary is in primary.
func multiRegionKey(n int, region, primary string) kms.Key {
	k := newKey(n, acct1, region)
	k.ID = kms.RowID(region, mrkID(n))
	k.PrimaryRegion = primary
	k.Tags = []kms.Tag{{Key: "region", Value: region}}
	return k
}

func regionsOf(t *testing.T, s store.Store, id string) []kms.Key {
	t.Helper()
	ks, err := s.KeyRegions(t.Context(), id)
	if err != nil {
		t.Fatalf("KeyRegions(%s): %v", id, err)
	}
	return ks
}

func testMultiRegion(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := multiRegionKey(1, region1, region1)
	p.RotationEnabled, p.RotationPeriodDays, p.NextRotationDate = true, 90, at(90*24*3600e9)
	first := newMaterial(p.ID, 1, at(0))
	mustCreateKey(t, s, p, first)
	// A single-Region key and another multi-Region key sort next to it.
	mustCreateKey(t, s, newKey(2, acct1, region1), nil)
	mustCreateKey(t, s, multiRegionKey(3, region1, region1), nil)

	if got := regionsOf(t, s, mrkID(1)); len(got) != 1 || got[0].ID != p.ID || got[0].PrimaryRegion != region1 {
		t.Fatalf("KeyRegions of a new primary = %+v", got)
	}
	if got := regionsOf(t, s, mrkID(9)); len(got) != 0 {
		t.Errorf("KeyRegions of an unknown key = %d keys, want none", len(got))
	}

	// A rotation before the replica exists is copied to it.
	second := rotation(p.ID, 2, onDemand, at(1e9))
	if err := s.RotateKey(ctx, second, first.ID, p.NextRotationDate); err != nil {
		t.Fatal(err)
	}
	r := multiRegionKey(1, region2, region1)
	r.CurrentMaterialID = "" // ReplicateKey takes the primary's
	if err := s.ReplicateKey(ctx, r, p.ID); err != nil {
		t.Fatalf("ReplicateKey: %v", err)
	}
	wantErr(t, "ReplicateKey again", s.ReplicateKey(ctx, r, p.ID), store.ErrExists)
	wantErr(t, "ReplicateKey from nothing", s.ReplicateKey(ctx, multiRegionKey(5, region2, region1), kms.RowID(region1, mrkID(5))), store.ErrNotFound)
	got := mustGetKey(t, s, r.ID)
	if got.CurrentMaterialID != second.ID || got.PrimaryRegion != region1 || got.KeyID() != mrkID(1) ||
		len(got.Tags) != 1 || got.Tags[0].Value != region2 || got.RotationEnabled {
		t.Errorf("replica = %+v", got)
	}
	copied := func(keyID string, m store.Material) store.Material { m.KeyID = keyID; return m }
	checkMaterials(t, s, r.ID, copied(r.ID, *first), copied(r.ID, second))

	// A rotation of the primary is a rotation of every copy.
	third := rotation(p.ID, 3, automatic, at(2e9))
	if err := s.RotateKey(ctx, third, second.ID, at(180*24*3600e9)); err != nil {
		t.Fatal(err)
	}
	checkMaterials(t, s, r.ID, copied(r.ID, *first), copied(r.ID, second), copied(r.ID, third))
	checkMaterials(t, s, p.ID, *first, second, third)
	if got := mustGetKey(t, s, r.ID); got.CurrentMaterialID != third.ID {
		t.Errorf("replica's current material = %s, want %s", got.CurrentMaterialID, third.ID)
	}
	if got := mustGetKey(t, s, kms.RowID(region1, mrkID(3))); got.CurrentMaterialID != materialID(3) {
		t.Errorf("another multi-Region key was rotated too: %s", got.CurrentMaterialID)
	}

	ks := regionsOf(t, s, mrkID(1))
	if len(ks) != 2 || ks[0].Region != region2 || ks[1].Region != region1 {
		t.Fatalf("KeyRegions = %d keys, want the eu-west-1 then the us-east-1 copy", len(ks))
	}

	// The primary moves, with its rotation settings.
	wantErr(t, "SetPrimaryRegion to no copy", s.SetPrimaryRegion(ctx, mrkID(1), "ap-south-1"), store.ErrNotFound)
	if err := s.SetPrimaryRegion(ctx, mrkID(1), region2); err != nil {
		t.Fatal(err)
	}
	np, op := mustGetKey(t, s, r.ID), mustGetKey(t, s, p.ID)
	if np.PrimaryRegion != region2 || op.PrimaryRegion != region2 {
		t.Errorf("primary regions = %s, %s; want %s", np.PrimaryRegion, op.PrimaryRegion, region2)
	}
	if !np.RotationEnabled || np.RotationPeriodDays != 90 || !np.NextRotationDate.Equal(at(180*24*3600e9)) || op.RotationEnabled {
		t.Errorf("rotation settings did not move: new primary %+v, old %+v", np, op)
	}
	if np.Revision == r.Revision {
		t.Error("SetPrimaryRegion left the revision alone")
	}

	// UpdateKey keeps the pending window and leaves the primary region.
	op.PendingWindowDays, op.State, op.PrimaryRegion = 7, kms.KeyStatePendingReplicaDeletion, "elsewhere"
	if err := s.UpdateKey(ctx, op); err != nil {
		t.Fatal(err)
	}
	if got := mustGetKey(t, s, p.ID); got.PendingWindowDays != 7 || got.State != kms.KeyStatePendingReplicaDeletion || got.PrimaryRegion != region2 {
		t.Errorf("after UpdateKey: %+v", got)
	}

	// Deleting one copy leaves the other.
	if err := s.DeleteKey(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if ks := regionsOf(t, s, mrkID(1)); len(ks) != 1 || ks[0].ID != p.ID {
		t.Errorf("KeyRegions after deleting the replica = %d keys", len(ks))
	}
	checkMaterials(t, s, p.ID, *first, second, third)
}
