package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openkms/kms/internal/identity"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/service"
	"github.com/openkms/kms/internal/store"
)

// RotateSeal moves the data dir of cfg (opened with cfg's seal) to the seal
// of next (its SealKeyFile, Passphrase or PKCS11; its DataDir is ignored)
// with a new root key: every key material and access key secret is
// re-sealed in one transaction, then seal.json names the new seal, which
// alone opens the data dir afterwards. Ciphertexts, key and material ids
// and derived keys (the audit trail's signing key) are unchanged. It takes
// the data dir's lock, so it refuses while a server runs there. It returns
// how many secrets it re-sealed.
//
// With cfg.Store, it rotates a cluster's seal instead: every node must be
// stopped (see rotateClusterSeal).
func RotateSeal(cfg, next Config) (int, error) {
	if cfg.Store != "" {
		return rotateClusterSeal(cfg, next)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "seal.json")); errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("data dir %s is not initialised: start `kms server` on it first", cfg.DataDir)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return 0, err
	}
	old, st, _, err := openData(cfg, false)
	if err != nil {
		lock.abandon()
		return 0, err
	}
	defer lock.unlock()
	defer st.Close()
	rs, ok := st.(store.Resealer)
	if !ok {
		return 0, errors.New("this store cannot re-seal its secrets")
	}
	n := 0
	_, err = seal.Rotate(old, next.sealConfig(cfg.DataDir), func(ns *seal.Sealer) error {
		var rerr error
		n, rerr = rs.Reseal(context.Background(), func(v store.SealedValue) ([]byte, error) {
			aad := identity.AccessKeyAAD(v.ID)
			if v.Kind == store.SealedMaterial {
				aad = service.MaterialAAD(v.KeyID, v.ID)
			}
			plain, err := old.Open(v.Sealed, aad)
			if err != nil {
				return nil, err
			}
			defer clear(plain)
			return ns.Seal(plain, aad)
		})
		return rerr
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
