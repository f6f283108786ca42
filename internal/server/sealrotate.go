package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

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
		n, rerr = rs.Reseal(context.Background(), resealUnder(old, ns))
		return rerr
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// resealUnder re-seals a stored value that old opens under next.
func resealUnder(old, next *seal.Sealer) func(store.SealedValue) ([]byte, error) {
	return func(v store.SealedValue) ([]byte, error) {
		aad := identity.AccessKeyAAD(v.ID)
		if v.Kind == store.SealedMaterial {
			aad = service.MaterialAAD(v.KeyID, v.ID)
		}
		plain, err := old.Open(v.Sealed, aad)
		if err != nil {
			return nil, err
		}
		defer clear(plain)
		return next.Seal(plain, aad)
	}
}

// RotateSealLive is RotateSeal on the running server s (its control socket
// calls it; `kms seal rotate` beside a running server): every secret is
// re-sealed in one transaction while requests go on, then seal.json names
// the new seal. Requests that seal (CreateKey, rotations, imports, access
// keys) wait for the transaction; the others do not.
func (s *Server) RotateSealLive(next Config) (int, error) {
	if s.cfg.Store != "" {
		return 0, errors.New("seal rotation of a cluster's database (--store) is not supported on a running node")
	}
	rs, ok := s.rawStore().(store.Resealer)
	if !ok {
		return 0, errors.New("this store cannot re-seal its secrets")
	}
	n := 0
	start := time.Now()
	err := s.sealer.RotateLive(next.sealConfig(s.cfg.DataDir), func(ns *seal.Sealer) error {
		var err error
		n, err = rs.Reseal(context.Background(), resealUnder(s.sealer, ns))
		return err
	})
	// Cached sealed values are read again, under the new root key.
	s.Service.Purge()
	s.identity.Purge()
	if err != nil {
		s.log.Error("seal rotation failed", "err", err)
		return 0, err
	}
	s.log.Info("seal rotated", "resealed", n, "took", time.Since(start).Round(time.Millisecond))
	return n, nil
}
