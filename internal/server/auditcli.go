package server

import (
	"bytes"
	"crypto/ed25519"
	"path/filepath"

	"github.com/openkms/kms/internal/seal"
)

// AuditPath is where the audit log of a data dir lives.
func AuditPath(dataDir string) string { return filepath.Join(dataDir, auditFile) }

// AuditPublicKey returns the public key that verifies the audit log's
// checkpoints, for `kms audit verify`. It opens only the seal of the data
// dir in cfg (DataDir, SealKeyFile, Passphrase), read-only, and neither
// opens nor creates the store or the audit log, so it is safe beside a
// running server. The signing key it derives on the way is wiped.
func AuditPublicKey(cfg Config) (ed25519.PublicKey, error) {
	sealer, err := seal.Open(seal.Config{Dir: cfg.DataDir, KeyFile: cfg.SealKeyFile, Passphrase: cfg.Passphrase})
	if err != nil {
		return nil, err
	}
	priv := AuditSigner(sealer)
	defer clear(priv)
	// Public aliases the second half of priv: copy it before the wipe.
	return bytes.Clone(priv.Public().(ed25519.PublicKey)), nil
}
