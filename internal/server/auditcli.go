package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"

	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/store/postgres"
)

// AuditPath is where the audit log of a data dir lives.
func AuditPath(dataDir string) string { return filepath.Join(dataDir, auditFile) }

// AuditPublicKey returns the public key that verifies the audit log's
// checkpoints, for `kms audit verify`. It opens only the seal of the data
// dir in cfg (DataDir, SealKeyFile, Passphrase), read-only, and neither
// opens nor creates the store or the audit log, so it is safe beside a
// running server. The signing key it derives on the way is wiped.
//
// With cfg.Store, the seal's state is read from the cluster's database,
// which is not changed either.
func AuditPublicKey(cfg Config) (ed25519.PublicKey, error) {
	sc := cfg.sealConfig(cfg.DataDir)
	if cfg.Store != "" {
		if err := checkStore(cfg.Store); err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), clusterOpenTimeout)
		defer cancel()
		data, err := postgres.ReadSealState(ctx, cfg.Store)
		if err != nil {
			return nil, err
		}
		sc.State = fixedState(data)
	}
	sealer, err := seal.Open(sc)
	if err != nil {
		return nil, err
	}
	priv := AuditSigner(sealer)
	defer clear(priv)
	// Public aliases the second half of priv: copy it before the wipe.
	return bytes.Clone(priv.Public().(ed25519.PublicKey)), nil
}

// fixedState is a seal state read once, for tools that never create one.
type fixedState []byte

func (f fixedState) LoadSealState(context.Context) ([]byte, error) { return f, nil }

func (f fixedState) CreateSealState(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("a read-only tool does not create a seal")
}
