package service

import (
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/store"
)

// SeedMaterial makes the sealed material of a seeded key k (package
// seed), created at now: fresh material when material is nil, else the
// given bytes, checked as an import checks them and named by
// importedMaterialID, so that a later ImportKeyMaterial of the same bytes
// matches them and a seed applied again finds them by id. It writes
// nothing, and needs no Service: the server applies a seed before it
// opens the audit trail that a Service needs, so a refused seed leaves
// the data dir as it was.
func SeedMaterial(sealer *seal.Sealer, k *kms.Key, material []byte, now time.Time) (*store.Material, error) {
	if material == nil {
		return sealNewMaterial(sealer, k.ID, k.Spec, now)
	}
	b, err := checkMaterial(k, material)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return sealImported(sealer, k, b, now)
}
