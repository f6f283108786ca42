package server

import (
	"context"
	"fmt"

	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/store/postgres"
)

// rotateClusterSeal is RotateSeal for a cluster's database (cfg.Store):
// every node must be stopped (Exclusive refuses while one has joined, and
// no node can start until it is done). The re-sealed secrets and the new
// seal state commit in one transaction, compared against the state the
// current seal was opened from, so a failure at any point leaves the
// database on the old seal, and no step remains for the operator.
// cfg.DataDir is only where key-file seals' root.key is by default.
func rotateClusterSeal(cfg, next Config) (int, error) {
	if err := checkStore(cfg.Store); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpenTimeout)
	defer cancel()
	st, err := postgres.Open(ctx, cfg.Store)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	// Before the seal state is read: a node starting meanwhile would open
	// the old seal and go on sealing with it.
	release, err := st.Exclusive(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	sc := cfg.sealConfig(cfg.DataDir)
	sc.State = st
	old, err := seal.Open(sc)
	if err != nil {
		return 0, err
	}
	nc := next.sealConfig(cfg.DataDir)
	nc.State = st
	n := 0
	_, err = seal.RotateStored(old, nc, func(ns *seal.Sealer, oldState, newState []byte) error {
		var rerr error
		n, rerr = st.ResealState(context.Background(), oldState, newState, resealUnder(old, ns))
		return rerr
	})
	if err != nil {
		return 0, fmt.Errorf("the database is still on the old seal: %w", err)
	}
	return n, nil
}
