package seal

import (
	"context"
	"errors"
	"fmt"
)

// RotateStored is Rotate for a seal whose state cfg.State keeps (a
// cluster's database): it moves the seal of old, opened from that state,
// to the seal that cfg selects, with a new root key (for a key file, the
// one in cfg.KeyFile, written fresh if missing; it must differ from the
// old one).
//
// Nothing is written to cfg.State here: reseal gets the new Sealer, the
// stored state old was opened from and the new state, and must, in one
// transaction, re-seal every value sealed under old with next and replace
// oldState with newState only if the stored state is still oldState
// (postgres.Store.ResealState does). The new state so never exists
// without the values it opens, and no seal.json.next is needed. cfg.Dir
// is only where a new root key file goes by default.
//
// The new seal's DeriveKey gives the same keys as old's.
func RotateStored(old *Sealer, cfg Config, reseal func(next *Sealer, oldState, newState []byte) error) (*Sealer, error) {
	if cfg.Dir == "" || cfg.State == nil {
		return nil, errors.New("seal: RotateStored works on a stored seal state only")
	}
	kind, keyFile, err := rotationTarget(cfg)
	if err != nil {
		return nil, err
	}
	oldState, err := cfg.State.LoadSealState(context.Background())
	if err != nil {
		return nil, fmt.Errorf("seal: reading the seal state: %w", err)
	}
	// The compare-and-swap is on oldState, so it must be the state old
	// was opened from: a rotation that ran since would otherwise be undone.
	st, err := parseState(oldState)
	if err != nil {
		return nil, fmt.Errorf("seal: the stored seal state is damaged: %w", err)
	}
	if got, err := old.Open(st.Verifier, []byte(verifierAAD+st.Kind)); err != nil || string(got) != verifierText {
		return nil, errors.New("seal: the stored seal state is no longer the one the current seal was opened from")
	}
	next, newData, err := newState(cfg, kind, keyFile, old.derive[:])
	if err != nil {
		return nil, err
	}
	if next.cur.Load().root == old.cur.Load().root {
		return nil, errors.New("seal: the new seal has the same root key as the old one")
	}
	if err := reseal(next, oldState, newData); err != nil {
		return nil, err
	}
	return next, nil
}
