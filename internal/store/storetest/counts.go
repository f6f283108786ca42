package storetest

import (
	"maps"
	"testing"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// testCountKeys: every backend counts its keys for the metrics
// (store.KeyCounter): every account's and region's, by state and spec.
func testCountKeys(t *testing.T, s store.Store) {
	kc, ok := s.(store.KeyCounter)
	if !ok {
		t.Fatal("the store does not count its keys (store.KeyCounter): kms_keys would be empty")
	}
	ctx := t.Context()
	count := func() map[store.KeyCount]bool {
		t.Helper()
		cs, err := kc.CountKeys(ctx)
		if err != nil {
			t.Fatalf("CountKeys: %v", err)
		}
		m := map[store.KeyCount]bool{}
		for _, c := range cs {
			if c.N <= 0 || m[c] {
				t.Fatalf("CountKeys gave %+v", cs)
			}
			m[c] = true
		}
		return m
	}
	if got := count(); len(got) != 0 {
		t.Fatalf("an empty store counts %v", got)
	}
	mk := func(n int, account, region string, state kms.KeyState, spec kms.KeySpec) {
		k := newKey(n, account, region)
		k.State, k.Spec = state, spec
		mustCreateKey(t, s, k, nil)
	}
	mk(1, acct1, region1, kms.KeyStateEnabled, kms.KeySpecSymmetricDefault)
	mk(2, acct2, region2, kms.KeyStateEnabled, kms.KeySpecSymmetricDefault)
	mk(3, acct1, region2, kms.KeyStateDisabled, kms.KeySpecSymmetricDefault)
	mk(4, acct1, region1, kms.KeyStateEnabled, kms.KeySpecRSA2048)
	mk(5, acct2, region1, kms.KeyStatePendingDeletion, kms.KeySpecRSA2048)
	want := map[store.KeyCount]bool{
		{State: kms.KeyStateEnabled, Spec: kms.KeySpecSymmetricDefault, N: 2}:  true,
		{State: kms.KeyStateDisabled, Spec: kms.KeySpecSymmetricDefault, N: 1}: true,
		{State: kms.KeyStateEnabled, Spec: kms.KeySpecRSA2048, N: 1}:           true,
		{State: kms.KeyStatePendingDeletion, Spec: kms.KeySpecRSA2048, N: 1}:   true,
	}
	if got := count(); !maps.Equal(got, want) {
		t.Errorf("CountKeys = %v, want %v", got, want)
	}
}
