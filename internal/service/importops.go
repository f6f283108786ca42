package service

// Import of key material (BYOK, spec §10): a key created with Origin
// EXTERNAL waits in PendingImport until its owner wraps material of their
// own (32 bytes, an HMAC key, or the PKCS #8 private key of a key pair)
// under a fresh RSA key from GetParametersForImport and sends it with
// ImportKeyMaterial. The material is then sealed and stored exactly like
// generated material. When it expires or is deleted the key returns to
// PendingImport, and only the same material can bring it back, so the
// key's old ciphertexts decrypt again.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/store"
)

const (
	// importTokenTTL is how long GetParametersForImport's public key and
	// token may be used.
	importTokenTTL = 24 * time.Hour
	// maxValidTo is how far ahead imported material may expire.
	maxValidTo = 365 * day
	// maxImportToken is the model's limit on ImportToken.
	maxImportToken = 6144

	// Condition keys of the import operations.
	keyWrappingAlgorithm = "kms:WrappingAlgorithm"
	keyWrappingKeySpec   = "kms:WrappingKeySpec"
	keyExpirationModel   = "kms:ExpirationModel"
	keyValidTo           = "kms:ValidTo"
)

var wrappingKeyBits = map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}

// importable applies the origin and state rules of GetParametersForImport
// and ImportKeyMaterial (spec §4.3 note 7): only EXTERNAL keys, and not
// while a deletion is pending. ImportKeyMaterial also works while Updating.
func importable(k *kms.Key, op string) error {
	if k.Origin != kms.OriginExternal {
		return errOrigin(k)
	}
	switch k.State {
	case kms.KeyStatePendingImport, kms.KeyStateEnabled, kms.KeyStateDisabled:
		return nil
	case kms.KeyStateUpdating:
		if op == "ImportKeyMaterial" {
			return nil
		}
	}
	return stateError(k)
}

func errOrigin(k *kms.Key) error {
	return kms.Errorf(kms.ErrUnsupportedOperation, "%s origin is %s which is not valid for this operation.", k.ARN(), k.Origin)
}

// GetParametersForImport returns a fresh RSA public key to wrap key
// material with, and the token that ImportKeyMaterial needs to unwrap it.
// Nothing is stored: the token itself carries the private key, sealed.
func (s *Service) GetParametersForImport(ctx context.Context, c *Caller, in *GetParametersForImportInput) (*GetParametersForImportOutput, error) {
	alg, spec := *in.WrappingAlgorithm, *in.WrappingKeySpec
	switch {
	case alg == wrapPKCS1v15:
		// Refused by AWS since October 2023: PKCS #1 v1.5 encryption is
		// open to padding-oracle attacks.
		return nil, validationf("The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported. Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.")
	case alg == wrapSM2PKE || spec == "SM2":
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "SM2 wrapping keys are available only in China Regions.")
	}
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if err := s.authorizeKey(ctx, c, e, access{action: "GetParametersForImport", id: *in.KeyId, fill: func(pc policy.Context) {
		pc.Set(keyWrappingAlgorithm, alg)
		pc.Set(keyWrappingKeySpec, spec)
	}}); err != nil {
		return nil, err
	}
	k := &e.key
	if err := importable(k, "GetParametersForImport"); err != nil {
		return nil, err
	}
	if err := checkWrapping(k, alg, spec); err != nil {
		return nil, err
	}
	priv, err := newWrappingKey(wrappingKeyBits[spec], alg)
	if err != nil {
		return nil, kms.Internal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, kms.Internal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, kms.Internal(err)
	}
	defer clear(der)
	expires := s.now().UTC().Truncate(time.Millisecond).Add(importTokenTTL)
	aead, err := s.importAEAD()
	if err != nil {
		return nil, kms.Internal(err)
	}
	token, err := sealImportToken(aead, &importToken{keyID: k.ID, algorithm: alg, expires: expires, private: der})
	if err != nil {
		return nil, kms.Internal(err)
	}
	return &GetParametersForImportOutput{KeyId: k.ARN(), ImportToken: token, PublicKey: pub, ParametersValidTo: Timestamp(expires)}, nil
}

// newWrappingKey generates an RSA key pair and checks it pair-wise, by
// wrapping and unwrapping a test value with alg's hash, before handing
// out its public half.
func newWrappingKey(bits int, alg string) (*rsa.PrivateKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	probe := []byte("openkms wrapping key self-test")
	ct, err := rsa.EncryptOAEP(wrappingHash(alg), rand.Reader, &priv.PublicKey, probe, nil)
	if err != nil {
		return nil, err
	}
	pt, err := rsa.DecryptOAEP(wrappingHash(alg), nil, priv, ct, nil)
	if err != nil || !hmac.Equal(pt, probe) {
		return nil, fmt.Errorf("wrapping key failed its pair-wise self-test: %v", err)
	}
	return priv, nil
}

// wrappingHash is the OAEP hash (and MGF1 hash) of a wrapping algorithm.
func wrappingHash(alg string) hash.Hash {
	if alg == wrapOAEPSHA1 || alg == wrapRSAAESSHA1 {
		return sha1.New()
	}
	return sha256.New()
}

// ImportKeyMaterial unwraps key material with the token's private key and
// makes it the key's material. The first import fixes which material the
// key has; later imports must bring the same bytes, and may change the
// expiration, except NEW_KEY_MATERIAL ones, which bring different bytes
// for the next on-demand rotation (see importForRotation).
func (s *Service) ImportKeyMaterial(ctx context.Context, c *Caller, in *ImportKeyMaterialInput) (*ImportKeyMaterialOutput, error) {
	model := in.expirationModel()
	var validTo time.Time
	if model == expirationExpires {
		now := s.now()
		validTo = time.Time(*in.ValidTo).UTC().Truncate(time.Millisecond)
		switch {
		case !validTo.After(now):
			return nil, validationf("The ValidTo date must be in the future.")
		case validTo.After(now.Add(maxValidTo)):
			return nil, validationf("The ValidTo date must be no more than 365 days in the future.")
		}
	}
	aead, err := s.importAEAD()
	if err != nil {
		return nil, kms.Internal(err)
	}
	var mid string
	k, err := s.mutateKey(ctx, c, *in.KeyId, access{action: "ImportKeyMaterial", fill: func(pc policy.Context) {
		pc.Set(keyExpirationModel, model)
		if model == expirationExpires {
			pc.Set(keyValidTo, strconv.FormatInt(validTo.Unix(), 10))
		}
	}}, func(k *kms.Key) error {
		if err := importable(k, "ImportKeyMaterial"); err != nil {
			return err
		}
		// NEW_KEY_MATERIAL on a key that has material already is material
		// for its next on-demand rotation (spec §9.1): stored pending,
		// while the key keeps its state, material and expiration.
		forRotation := in.ImportType != nil && *in.ImportType == importNewMaterial && k.CurrentMaterialID != ""
		switch {
		case in.KeyMaterialDescription != nil && k.Spec != kms.KeySpecSymmetricDefault:
			// AWS: "only usable with symmetric encryption keys".
			return validationf("KeyMaterialDescription is only usable with symmetric encryption keys; %s has key spec %s.", k.ARN(), k.Spec)
		case forRotation && k.MultiRegion():
			return kms.Errorf(kms.ErrUnsupportedOperation, "%s is a multi-Region key with imported key material, which this server cannot rotate to new key material.", k.ARN())
		case forRotation && k.Spec != kms.KeySpecSymmetricDefault:
			// AWS: "For asymmetric and HMAC keys, you cannot change the
			// key material after the initial import" (ImportKeyMaterial).
			return kms.Errorf(kms.ErrUnsupportedOperation, "%s key spec %s cannot import new key material; "+
				"only symmetric encryption keys rotate to new imported key material.", k.ARN(), k.Spec)
		case forRotation && k.State == kms.KeyStatePendingImport:
			return stateError(k)
		case in.ImportType != nil && *in.ImportType == importExisting && k.CurrentMaterialID == "":
			return validationf("%s has no key material to re-import; use ImportType NEW_KEY_MATERIAL.", k.ARN())
		}
		t, err := openImportToken(aead, in.ImportToken)
		if err != nil || t.keyID != k.ID {
			return kms.Errorf(kms.ErrInvalidImportToken, "The import token is invalid or was issued for another key.")
		}
		defer clear(t.private)
		if !s.now().Before(t.expires) {
			return kms.Errorf(kms.ErrExpiredImportToken, "The import token expired at %s.", t.expires.Format(time.RFC3339))
		}
		unwrapped, err := unwrapMaterial(t, in.EncryptedKeyMaterial)
		if err != nil {
			return kms.Errorf(kms.ErrInvalidCiphertext, "The key material could not be unwrapped with the wrapping key and algorithm of the import token.")
		}
		material, err := checkMaterial(k, unwrapped)
		clear(unwrapped)
		if err != nil {
			return err
		}
		defer clear(material)
		// Held from sealing until the store has the material (seal.Hold);
		// only store calls follow.
		release := s.sealer.Hold()
		defer release()
		m, err := sealImported(s.sealer, k, material, s.now())
		if err != nil {
			return kms.Internal(err)
		}
		id := m.ID
		m.ValidTo = validTo
		if in.KeyMaterialDescription != nil {
			m.Description = *in.KeyMaterialDescription
		}
		if forRotation {
			if err := s.importForRotation(ctx, k, *m); err != nil {
				return err
			}
			mid = id
			return nil
		}
		if k.CurrentMaterialID != "" && id != k.CurrentMaterialID || in.KeyMaterialId != nil && *in.KeyMaterialId != id {
			return kms.Errorf(kms.ErrIncorrectKeyMaterial, "The key material is not the key material previously imported into %s.", k.ARN())
		}
		if err := s.sameAsCopies(ctx, k, id); err != nil {
			return err
		}
		// The material may be stored already: a re-import while the key
		// has it, or a retry after a failure between these two writes.
		// Its id is a function of its bytes, so the stored row is right;
		// the import sets its expiry, and its description if it has one.
		err = s.store.AddMaterial(ctx, *m)
		if errors.Is(err, store.ErrExists) {
			err = s.updateMaterial(ctx, *m, in.KeyMaterialDescription != nil)
		}
		if err != nil {
			return kms.Internal(err)
		}
		k.CurrentMaterialID, k.ExpirationModel, k.ValidTo = id, model, validTo
		if k.State == kms.KeyStatePendingImport {
			k.State = kms.KeyStateEnabled
		}
		mid = id
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("key material imported", "key", k.ARN(), "material", mid, "expiration_model", model,
		"valid_to", validTo, "principal", c.Principal.ARN, "request_id", c.RequestID)
	return &ImportKeyMaterialOutput{KeyId: k.ARN(), KeyMaterialId: mid}, nil
}

// checkMaterial checks unwrapped material against the key's spec (spec
// §10.3) and returns the bytes to store: symmetric and HMAC material as it
// is, a key pair as the PKCS #8 re-encoding of its private key, so that
// the same key sent in another valid encoding is the same material. Its
// errors never show the material.
func checkMaterial(k *kms.Key, material []byte) ([]byte, error) {
	switch {
	case k.Spec == kms.KeySpecSymmetricDefault:
		sk, err := keys.SymmetricKeyFromBytes(material)
		if err != nil {
			return nil, kms.Errorf(kms.ErrIncorrectKeyMaterial, "The key material of a %s key must be %d random bytes.", k.Spec, keys.SymmetricKeySize)
		}
		sk.Zero()
		return bytes.Clone(material), nil
	case keys.IsHMAC(k.Spec):
		if lo, hi := keys.HMACKeySizes(k.Spec); len(material) < lo || len(material) > hi {
			return nil, kms.Errorf(kms.ErrIncorrectKeyMaterial, "The key material of a %s key must be %d to %d random bytes.", k.Spec, lo, hi)
		}
		return bytes.Clone(material), nil
	}
	p, err := keys.ImportPrivateKey(k.Spec, material)
	if err != nil {
		return nil, kms.Errorf(kms.ErrIncorrectKeyMaterial, "The key material of a %s key must be a DER-encoded PKCS #8 private key of that key spec.", k.Spec)
	}
	der, err := p.Marshal()
	if err != nil {
		return nil, kms.Internal(err)
	}
	return der, nil
}

// checkWrapping applies AWS's rules on which wrapping algorithm and key
// wrap which material (the GetParametersForImport reference, WrappingAlgorithm
// and WrappingKeySpec): an RSA private key only with an RSA_AES algorithm
// (its PKCS #8 is longer than RSA-OAEP can encrypt), and ECC_NIST_P521
// material not with RSAES_OAEP under an RSA_2048 wrapping key (its PKCS #8
// is too long for it).
func checkWrapping(k *kms.Key, alg, spec string) error {
	oaep := alg == wrapOAEPSHA1 || alg == wrapOAEPSHA256
	rsaKey := k.Spec == kms.KeySpecRSA2048 || k.Spec == kms.KeySpecRSA3072 || k.Spec == kms.KeySpecRSA4096
	switch {
	case oaep && rsaKey:
		return validationf("%s key material cannot be wrapped with %s. To import an RSA private key, use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.", k.Spec, alg)
	case oaep && k.Spec == kms.KeySpecECCNISTP521 && spec == "RSA_2048":
		return validationf("ECC_NIST_P521 key material cannot be wrapped with %s under an RSA_2048 wrapping key. Use a larger wrapping key or an RSA_AES_KEY_WRAP_SHA_* wrapping algorithm.", alg)
	}
	return nil
}

// importForRotation stores material as a key's material pending rotation.
// It must differ from every material the key has or had as current, and
// the key may have only one pending material at a time: a second is
// refused, as AWS refuses it, rather than silently replacing the first
// (DeleteImportedKeyMaterial with its KeyMaterialId removes it).
func (s *Service) importForRotation(ctx context.Context, k *kms.Key, m store.Material) error {
	id := m.ID
	if id == k.CurrentMaterialID {
		return kms.Errorf(kms.ErrIncorrectKeyMaterial, "The key material is already key material of %s; import new key material for a rotation.", k.ARN())
	}
	ms, err := s.store.ListMaterials(ctx, k.ID)
	if err != nil {
		return kms.Internal(err)
	}
	for i := range ms {
		if ms[i].ID == id {
			return kms.Errorf(kms.ErrIncorrectKeyMaterial, "The key material is already key material of %s; import new key material for a rotation.", k.ARN())
		}
	}
	for i := range ms {
		if ms[i].Pending {
			return validationf("%s already has key material %s pending rotation; rotate the key with RotateKeyOnDemand, or delete that material, before importing more.", k.ARN(), ms[i].ID)
		}
	}
	m.Pending = true
	if err := s.store.AddMaterial(ctx, m); err != nil {
		return kms.Internal(err)
	}
	return nil
}

// updateMaterial gives a re-imported material the import's expiry, and its
// description when the import has one (AWS keeps the last one otherwise).
func (s *Service) updateMaterial(ctx context.Context, m store.Material, described bool) error {
	if !described {
		old, err := s.store.GetMaterial(ctx, m.KeyID, m.ID)
		if err != nil {
			return err
		}
		m.Description = old.Description
	}
	return s.store.UpdateMaterial(ctx, m)
}

// sameAsCopies refuses to import into a copy of a multi-Region key
// material other than its other copies' (AWS: "import the same key
// material into the replica").
func (s *Service) sameAsCopies(ctx context.Context, k *kms.Key, id string) error {
	if !k.MultiRegion() || k.CurrentMaterialID != "" {
		return nil
	}
	copies, err := s.store.KeyRegions(ctx, k.KeyID())
	if err != nil {
		return kms.Internal(err)
	}
	for i := range copies {
		if c := &copies[i]; c.ID != k.ID && c.CurrentMaterialID != "" && c.CurrentMaterialID != id {
			return kms.Errorf(kms.ErrIncorrectKeyMaterial, "The key material is not the key material of %s, a copy of the same multi-Region key.", c.ARN())
		}
	}
	return nil
}

// sealImported names and seals material of k given from outside (imported,
// seeded, or LocalStack's custom material), as of now. The copies of a
// multi-Region key share the id of their material.
func sealImported(sealer *seal.Sealer, k *kms.Key, material []byte, now time.Time) (*store.Material, error) {
	id := importedMaterialID(k.KeyID(), material)
	sealed, err := sealer.Seal(material, materialAAD(k.ID, id))
	if err != nil {
		return nil, err
	}
	return &store.Material{KeyID: k.ID, ID: id, Sealed: sealed, Created: now.UTC()}, nil
}

// importedMaterialID names imported material: the same bytes imported into
// the same key always get the same id, which is how a re-import is told
// from different material (spec §10.4). The HMAC is keyed by the material,
// so the id reveals nothing of it, and the key id in the message makes the
// same bytes in two keys look unrelated.
func importedMaterialID(keyID string, material []byte) string {
	m := hmac.New(sha256.New, material)
	m.Write([]byte("openkms key material id\x00" + keyID))
	return hex.EncodeToString(m.Sum(nil))
}

// unwrapMaterial decrypts EncryptedKeyMaterial as the token's algorithm
// says (spec §10.2). Its errors say nothing about what failed.
func unwrapMaterial(t *importToken, wrapped []byte) ([]byte, error) {
	errUnwrap := errors.New("cannot unwrap key material")
	k, err := x509.ParsePKCS8PrivateKey(t.private)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errUnwrap
	}
	h := wrappingHash(t.algorithm)
	switch t.algorithm {
	case wrapOAEPSHA1, wrapOAEPSHA256:
		return rsa.DecryptOAEP(h, nil, priv, wrapped, nil)
	case wrapRSAAESSHA1, wrapRSAAESSHA256:
		// RSA-OAEP of an ephemeral AES-256 key, then the material under
		// that key with AES Key Wrap with Padding (RFC 5649).
		n := priv.Size()
		if len(wrapped) <= n {
			return nil, errUnwrap
		}
		kek, err := rsa.DecryptOAEP(h, nil, priv, wrapped[:n], nil)
		if err != nil {
			return nil, err
		}
		defer clear(kek)
		if len(kek) != 32 {
			return nil, errUnwrap
		}
		return keys.UnwrapKeyWithPadding(kek, wrapped[n:])
	}
	return nil, errUnwrap
}

// DeleteImportedKeyMaterial removes a key's imported material at once; the
// key goes to PendingImport (a pending deletion stays pending) and keeps
// everything else, so importing the same material restores it.
func (s *Service) DeleteImportedKeyMaterial(ctx context.Context, c *Caller, in *DeleteImportedKeyMaterialInput) (*DeleteImportedKeyMaterialOutput, error) {
	deleted := ""
	k, err := s.mutateKey(ctx, c, *in.KeyId, access{action: "DeleteImportedKeyMaterial"}, func(k *kms.Key) error {
		if k.Origin != kms.OriginExternal {
			return errOrigin(k)
		}
		switch k.State {
		case kms.KeyStateCreating, kms.KeyStateUpdating:
			return stateError(k)
		}
		if in.KeyMaterialId != nil && *in.KeyMaterialId != k.CurrentMaterialID {
			// Only material pending rotation can be deleted besides the
			// current one; the key keeps its state and material.
			m, err := s.store.GetMaterial(ctx, k.ID, *in.KeyMaterialId)
			switch {
			case errors.Is(err, store.ErrNotFound) || err == nil && !m.Pending:
				return kms.Errorf(kms.ErrNotFound, "Key material %s is not found in %s.", *in.KeyMaterialId, k.ARN())
			case err != nil:
				return kms.Internal(err)
			}
			if err := s.store.DeleteMaterial(ctx, k.ID, m.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return kms.Internal(err)
			}
			deleted = m.ID
			return nil
		}
		if _, err := s.deleteImported(ctx, k); err != nil {
			return err
		}
		if k.State != kms.KeyStatePendingDeletion {
			k.State = kms.KeyStatePendingImport
		}
		deleted = k.CurrentMaterialID
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("imported key material deleted", "key", k.ARN(), "material", deleted,
		"principal", c.Principal.ARN, "request_id", c.RequestID)
	return &DeleteImportedKeyMaterialOutput{KeyId: k.ARN(), KeyMaterialId: deleted}, nil
}

// deleteImported deletes a key's current material if it is still stored.
// The key keeps CurrentMaterialID: a re-import must bring that material.
// The caller updates the key and drops it from the cache, which wipes the
// unsealed copy.
func (s *Service) deleteImported(ctx context.Context, k *kms.Key) (deleted bool, err error) {
	if k.CurrentMaterialID == "" {
		return false, nil // never imported
	}
	err = s.store.DeleteMaterial(ctx, k.ID, k.CurrentMaterialID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, kms.Internal(err)
	}
	return true, nil
}

// SweepExpiredMaterial deletes the imported material whose ValidTo is at or
// before now and moves its keys to PendingImport (keys pending deletion
// stay so). The server calls it periodically, next to SweepDeletions.
func (s *Service) SweepExpiredMaterial(ctx context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	due, err := s.store.KeysWithExpiredMaterial(ctx, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range due {
		k := &due[i]
		if err := s.auditReady(); err != nil {
			return n, err
		}
		deleted, err := s.deleteImported(ctx, k)
		if err != nil {
			return n, err
		}
		// Dropped twice: now, to wipe the unsealed material, and after the
		// update, since a Decrypt (which takes no lock) may cache the key
		// again in between.
		s.cache.invalidateKey(k.ID)
		if deleted {
			if err := s.serviceEvent(ctx, "DeleteExpiredKeyMaterial", k); err != nil {
				return n, err
			}
		}
		if k.State == kms.KeyStatePendingDeletion {
			continue // material gone, state kept; listed again until deleted
		}
		k.State = kms.KeyStatePendingImport
		// A key changed since it was listed (by another node) is listed
		// again at the next sweep, if its material is still expired.
		if err := s.store.UpdateKey(ctx, *k); err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
			return n, err
		}
		s.cache.invalidateKey(k.ID)
		n++
		s.log.Info("imported key material expired", "key", k.ARN(), "material", k.CurrentMaterialID, "valid_to", k.ValidTo)
	}
	return n, nil
}

// stateAfterCancel is the state CancelKeyDeletion gives a key: Disabled,
// or PendingImport for an EXTERNAL key whose material is gone (never
// imported, deleted or expired during the waiting period).
func (s *Service) stateAfterCancel(ctx context.Context, k *kms.Key) (kms.KeyState, error) {
	if k.Origin != kms.OriginExternal {
		return kms.KeyStateDisabled, nil
	}
	if k.CurrentMaterialID == "" {
		return kms.KeyStatePendingImport, nil
	}
	_, err := s.store.GetMaterial(ctx, k.ID, k.CurrentMaterialID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return kms.KeyStatePendingImport, nil
	case err != nil:
		return "", kms.Internal(err)
	}
	return kms.KeyStateDisabled, nil
}

// --- import tokens ---

// importToken is what an import token says: which key it is for, the
// wrapping private key and algorithm, and until when it may be used.
//
// The server keeps no state for it. The token is the record below, sealed
// with AES-256-GCM under a key derived from the root key, so only this
// server can read the private key in it, and nobody can forge or alter one.
//
// Sealed form: 0x01 || 12-byte nonce || GCM(record) || 16-byte tag, with
// the version byte and a label as additional data.
//
// Record: version 0x01 | algorithm (1 byte, see importAlgorithms) | expiry
// (int64 Unix milliseconds, big-endian) | key id length (1 byte) | key id |
// private key length (uint16, big-endian) | private key (PKCS #8 DER).
type importToken struct {
	keyID     string
	algorithm string
	expires   time.Time
	private   []byte
}

const importTokenVersion = 1

// importAlgorithms numbers the wrapping algorithms in a record; 0 is
// invalid.
var importAlgorithms = []string{1: wrapOAEPSHA1, 2: wrapOAEPSHA256, 3: wrapRSAAESSHA1, 4: wrapRSAAESSHA256}

var errImportToken = errors.New("invalid import token")

// importAEAD returns the cipher that seals import tokens.
func (s *Service) importAEAD() (cipher.AEAD, error) {
	k := s.sealer.DeriveKey("import-token")
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// importTokenAAD is the additional data of every token: its version byte
// and a label.
func importTokenAAD() []byte { return []byte("\x01openkms import token") }

func sealImportToken(aead cipher.AEAD, t *importToken) ([]byte, error) {
	rec, err := t.appendBinary(nil)
	if err != nil {
		return nil, err
	}
	defer clear(rec)
	out := aead.Seal([]byte{importTokenVersion}, nil, rec, importTokenAAD())
	if len(out) > maxImportToken {
		return nil, fmt.Errorf("import token of %d bytes is over the limit", len(out))
	}
	return out, nil
}

// openImportToken authenticates and parses a token; every failure is
// errImportToken.
func openImportToken(aead cipher.AEAD, b []byte) (*importToken, error) {
	if len(b) < 1 || b[0] != importTokenVersion {
		return nil, errImportToken
	}
	rec, err := aead.Open(nil, nil, b[1:], importTokenAAD())
	if err != nil {
		return nil, errImportToken
	}
	t, err := parseImportRecord(rec)
	clear(rec)
	return t, err
}

func (t *importToken) appendBinary(b []byte) ([]byte, error) {
	alg := 0
	for i, a := range importAlgorithms {
		if a != "" && a == t.algorithm {
			alg = i
		}
	}
	if alg == 0 || !validRowID(t.keyID) || len(t.private) == 0 || len(t.private) > 0xffff {
		return nil, errImportToken
	}
	b = append(b, importTokenVersion, byte(alg))
	b = binary.BigEndian.AppendUint64(b, uint64(t.expires.UnixMilli()))
	b = append(b, byte(len(t.keyID)))
	b = append(b, t.keyID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.private)))
	return append(b, t.private...), nil
}

// parseImportRecord parses an opened record strictly: whatever it accepts
// encodes back to exactly the same bytes.
func parseImportRecord(b []byte) (*importToken, error) {
	const fixed = 1 + 1 + 8 + 1
	if len(b) < fixed || b[0] != importTokenVersion || b[1] == 0 || int(b[1]) >= len(importAlgorithms) {
		return nil, errImportToken
	}
	t := &importToken{algorithm: importAlgorithms[b[1]]}
	t.expires = time.UnixMilli(int64(binary.BigEndian.Uint64(b[2:10]))).UTC()
	n := int(b[10])
	b = b[fixed:]
	if len(b) < n+2 {
		return nil, errImportToken
	}
	t.keyID = string(b[:n])
	m := int(binary.BigEndian.Uint16(b[n : n+2]))
	b = b[n+2:]
	if !validRowID(t.keyID) || m == 0 || len(b) != m {
		return nil, errImportToken
	}
	t.private = append([]byte(nil), b...)
	return t, nil
}
