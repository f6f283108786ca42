package service

import (
	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// SeedMaterial makes the sealed material of a seeded key k (package
// seed): fresh material when material is nil, else the given bytes,
// checked as an import checks them and named by importedMaterialID, so a
// later ImportKeyMaterial of the same bytes matches them and a seed
// applied again finds them by id. It writes nothing.
func (s *Service) SeedMaterial(k *kms.Key, material []byte) (*store.Material, error) {
	if material == nil {
		return s.newMaterial(k.ID, k.Spec)
	}
	b, err := checkMaterial(k, material)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	id := importedMaterialID(k.KeyID(), b)
	sealed, err := s.sealer.Seal(b, materialAAD(k.ID, id))
	if err != nil {
		return nil, err
	}
	return &store.Material{KeyID: k.ID, ID: id, Sealed: sealed, Created: s.now().UTC()}, nil
}
