package service

import (
	"context"
	"errors"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/store"
)

const (
	defaultRotationDays     = 365
	maxOnDemandRotations    = 25
	rotationConflictWindow  = 20 * time.Minute
	rotationAutomatic       = "AUTOMATIC"
	rotationOnDemand        = "ON_DEMAND"
	materialStateCurrent    = "CURRENT"
	materialStateNonCurrent = "NON_CURRENT"
	materialStatePending    = "PENDING_ROTATION"
	importStateImported     = "IMPORTED"
)

// canRotate applies the rotation eligibility rules (spec §9.1) and the
// state rules of EnableKeyRotation, DisableKeyRotation and
// RotateKeyOnDemand (spec §4.3 note 5). Keys with imported material
// (EXTERNAL) rotate only on demand, so only onDemand admits them.
//
// A disabled key, or one pending deletion, says so before anything else, as
// AWS answers RotateKeyOnDemand on a disabled RSA key (LocalStack's
// validated test_rotate_key_on_demand_raises_error_given_key_is_disabled);
// a key pending import says its origin is not valid (AWS-validated too).
func canRotate(k *kms.Key, onDemand bool) error {
	switch {
	case k.State == kms.KeyStateDisabled:
		return kms.Errorf(kms.ErrDisabled, "%s is disabled.", k.ARN())
	case k.State != kms.KeyStateEnabled && k.State != kms.KeyStatePendingImport:
		return stateError(k)
	case (k.Spec != kms.KeySpecSymmetricDefault || k.Usage != kms.KeyUsageEncryptDecrypt) && onDemand:
		// AWS answers with no message (LocalStack's validated
		// test_rotate_key_on_demand_raises_error_given_non_symmetric_key).
		return kms.Errorf(kms.ErrUnsupportedOperation, "")
	case k.Spec != kms.KeySpecSymmetricDefault || k.Usage != kms.KeyUsageEncryptDecrypt:
		return kms.Errorf(kms.ErrUnsupportedOperation, "%s key spec %s cannot be rotated.", k.ARN(), k.Spec)
	case k.Origin != kms.OriginAWSKMS &&
		!(onDemand && k.Origin == kms.OriginExternal && k.State != kms.KeyStatePendingImport):
		return kms.Errorf(kms.ErrUnsupportedOperation, "%s origin is %s which is not valid for this operation.", k.ARN(), k.Origin)
	case k.Manager == kms.KeyManagerAWS:
		return kms.Errorf(kms.ErrUnsupportedOperation, "%s is an AWS managed key, whose rotation cannot be changed.", k.ARN())
	case k.MultiRegion() && !k.IsPrimary():
		// Rotation is the primary's; it reaches every replica.
		return kms.Errorf(kms.ErrUnsupportedOperation, "%s is a multi-Region replica key: rotate its primary key, in %s.", k.ARN(), k.PrimaryRegion)
	case onDemand && k.MultiRegion() && k.Origin == kms.OriginExternal:
		return kms.Errorf(kms.ErrUnsupportedOperation, "%s is a multi-Region key with imported key material, which this server cannot rotate on demand.", k.ARN())
	case k.State != kms.KeyStateEnabled:
		return stateError(k)
	}
	return nil
}

// EnableKeyRotation turns automatic rotation on, or changes its period.
func (s *Service) EnableKeyRotation(ctx context.Context, c *Caller, in *EnableKeyRotationInput) (*struct{}, error) {
	days := int32(defaultRotationDays)
	if in.RotationPeriodInDays != nil {
		days = *in.RotationPeriodInDays
	}
	_, err := s.mutateKey(ctx, c, *in.KeyId, access{action: "EnableKeyRotation", fill: func(pc policy.Context) {
		pc.SetInt(policy.KeyRotationPeriodInDays, int64(days))
	}}, func(k *kms.Key) error {
		if err := canRotate(k, false); err != nil {
			return err
		}
		k.RotationEnabled, k.RotationPeriodDays = true, int(days)
		k.NextRotationDate = s.now().UTC().Truncate(time.Millisecond).Add(time.Duration(days) * day)
		return nil
	})
	return nil, err
}

// DisableKeyRotation turns automatic rotation off.
func (s *Service) DisableKeyRotation(ctx context.Context, c *Caller, in *KeyIDInput) (*struct{}, error) {
	_, err := s.mutateKey(ctx, c, *in.KeyId, access{action: "DisableKeyRotation"}, func(k *kms.Key) error {
		if err := canRotate(k, false); err != nil {
			return err
		}
		k.RotationEnabled, k.RotationPeriodDays, k.NextRotationDate = false, 0, time.Time{}
		return nil
	})
	return nil, err
}

// GetKeyRotationStatus reports whether a key rotates automatically.
func (s *Service) GetKeyRotationStatus(ctx context.Context, c *Caller, in *KeyIDInput) (*GetKeyRotationStatusOutput, error) {
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if err := s.authorizeKey(ctx, c, e, access{action: "GetKeyRotationStatus", cross: true, id: *in.KeyId}); err != nil {
		return nil, err
	}
	k := &e.key
	out := &GetKeyRotationStatusOutput{KeyId: k.ARN()}
	if k.MultiRegion() && !k.IsPrimary() {
		// A replica rotates with its primary, which holds the setting.
		p, ok, err := s.primaryOf(ctx, k)
		if err != nil || !ok {
			return out, err
		}
		p.State = k.State
		k = &p
	}
	// Keys that cannot rotate automatically (asymmetric, HMAC, imported
	// material) are no error: AWS reports false for them ("always false"),
	// and Terraform's provider reads this for every key at every refresh.
	if k.Spec != kms.KeySpecSymmetricDefault || k.Origin == kms.OriginExternal {
		return out, nil
	}
	// While a deletion is pending the status reads false; cancelling the
	// deletion brings the setting back.
	if k.RotationEnabled && k.State != kms.KeyStatePendingDeletion && k.State != kms.KeyStatePendingReplicaDeletion {
		days := int32(k.RotationPeriodDays)
		next := Timestamp(k.NextRotationDate)
		out.KeyRotationEnabled, out.RotationPeriodInDays, out.NextRotationDate = true, &days, &next
	}
	return out, nil
}

// RotateKeyOnDemand rotates a key now. Rotation is immediate here, so no
// OnDemandRotationStartDate is ever left pending. A key with imported
// material rotates to the material imported for it with ImportType
// NEW_KEY_MATERIAL, and cannot rotate without.
func (s *Service) RotateKeyOnDemand(ctx context.Context, c *Caller, in *KeyIDInput) (*RotateKeyOnDemandOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	k := e.key
	err = s.authorizeKey(ctx, c, e, access{action: "RotateKeyOnDemand", id: *in.KeyId})
	s.cache.release(e)
	if err != nil {
		return nil, err
	}
	if err := canRotate(&k, true); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if k.RotationEnabled && k.NextRotationDate.Sub(now) < rotationConflictWindow {
		return nil, kms.Errorf("ConflictException", "An automatic rotation of %s is due within 20 minutes.", k.ARN())
	}
	ms, err := s.store.ListMaterials(ctx, k.ID)
	if err != nil {
		return nil, kms.Internal(err)
	}
	n := 0
	var pending *store.Material
	for i := range ms {
		if ms[i].RotationType == rotationOnDemand {
			n++
		}
		if ms[i].Pending {
			pending = &ms[i]
		}
	}
	if k.Origin == kms.OriginExternal && pending == nil {
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "%s has no key material pending rotation; import new key material with ImportType NEW_KEY_MATERIAL first.", k.ARN())
	}
	if pending != nil && !pending.ValidTo.IsZero() && !now.Before(pending.ValidTo) {
		return nil, kms.Errorf(kms.ErrInvalidState, "The key material %s pending rotation of %s expired at %s; import it again, or new key material.",
			pending.ID, k.ARN(), pending.ValidTo.UTC().Format(time.RFC3339))
	}
	if n >= maxOnDemandRotations {
		// AWS's message (LocalStack's validated test_key_rotations_limits).
		return nil, kms.Errorf(kms.ErrLimitExceeded, "The on-demand rotations limit has been reached for the given keyId. "+
			"No more on-demand rotations can be performed for this key: %s", k.ARN())
	}
	if k.Origin == kms.OriginExternal {
		err = s.promote(ctx, &k, pending, now)
	} else {
		err = s.rotate(ctx, &k, rotationOnDemand, now, k.NextRotationDate)
	}
	if errors.Is(err, store.ErrConflict) {
		return nil, kms.Errorf("ConflictException", "%s is being rotated.", k.ARN())
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	s.log.Info("key rotated", "key", k.ARN(), "type", rotationOnDemand, "request_id", c.RequestID)
	return &RotateKeyOnDemandOutput{KeyId: k.ARN()}, nil
}

// rotate gives a key new current material in one conditional write, so
// two servers sharing a store can never rotate the same key twice.
func (s *Service) rotate(ctx context.Context, k *kms.Key, kind string, now, next time.Time) error {
	release := s.sealer.Hold() // from sealing until stored
	m, err := s.newMaterial(k.ID, k.Spec)
	if err != nil {
		release()
		return kms.Internal(err)
	}
	m.RotationType, m.RotationDate = kind, now
	err = s.store.RotateKey(ctx, *m, k.CurrentMaterialID, next)
	release()
	if k.MultiRegion() {
		s.cache.invalidateCopies(k.KeyID()) // its copies rotated too
	} else {
		s.cache.invalidateKey(k.ID)
	}
	return err
}

// promote makes a key's pending imported material current, in one
// conditional write like rotate; the same write gives the key the
// material's own expiry.
func (s *Service) promote(ctx context.Context, k *kms.Key, m *store.Material, now time.Time) error {
	err := s.store.PromoteMaterial(ctx, k.ID, m.ID, k.CurrentMaterialID, rotationOnDemand, now)
	s.cache.invalidateKey(k.ID)
	if err != nil {
		return err
	}
	k.CurrentMaterialID, k.ExpirationModel, k.ValidTo = m.ID, expirationNotExpires, m.ValidTo
	if !m.ValidTo.IsZero() {
		k.ExpirationModel = expirationExpires
	}
	return nil
}

// SweepRotations rotates every Enabled key whose automatic rotation is due
// at now; the server calls it periodically and once at start, so rotations
// missed while it was down happen then (once, not once per missed period).
func (s *Service) SweepRotations(ctx context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	due, err := s.store.KeysDueForRotation(ctx, now)
	if err != nil {
		return 0, err
	}
	n := 0
	now = now.UTC().Truncate(time.Millisecond)
	for i := range due {
		k := &due[i]
		next := now.Add(time.Duration(k.RotationPeriodDays) * day)
		if err := s.auditReady(); err != nil {
			return n, err
		}
		err := s.rotate(ctx, k, rotationAutomatic, now, next)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			continue // another node rotated it, or it is gone
		}
		if err != nil {
			return n, err
		}
		n++
		s.log.Info("key rotated", "key", k.ARN(), "type", rotationAutomatic, "next", next)
		if err := s.serviceEvent(ctx, "RotateKey", k); err != nil {
			return n, err
		}
	}
	return n, nil
}

// ListKeyRotations lists a key's rotations, oldest first; with
// IncludeKeyMaterial ALL_KEY_MATERIAL also its first material and any
// imported material pending rotation.
func (s *Service) ListKeyRotations(ctx context.Context, c *Caller, in *ListKeyRotationsInput) (*ListKeyRotationsOutput, error) {
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if err := s.authorizeKey(ctx, c, e, access{action: "ListKeyRotations", id: *in.KeyId}); err != nil {
		return nil, err
	}
	k := &e.key
	if k.Spec != kms.KeySpecSymmetricDefault {
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "%s key spec %s cannot be rotated.", k.ARN(), k.Spec)
	}
	after, err := s.parseMarker("ListKeyRotations", in.Marker)
	if err != nil {
		return nil, err
	}
	ms, err := s.store.ListMaterials(ctx, k.ID)
	if err != nil {
		return nil, kms.Internal(err)
	}
	all := in.IncludeKeyMaterial != nil && *in.IncludeKeyMaterial == "ALL_KEY_MATERIAL"
	var entries []RotationsListEntry
	for i := range ms {
		m := &ms[i]
		if m.RotationType == "" && !all {
			continue
		}
		st := materialStateNonCurrent
		switch {
		case m.ID == k.CurrentMaterialID:
			st = materialStateCurrent
		case m.Pending:
			st = materialStatePending
		}
		r := RotationsListEntry{KeyId: k.KeyID(), KeyMaterialId: m.ID, KeyMaterialState: st, RotationType: m.RotationType}
		if !m.RotationDate.IsZero() {
			d := Timestamp(m.RotationDate)
			r.RotationDate = &d
		}
		if k.Origin == kms.OriginExternal {
			// Listed materials are stored, so imported; each has its own
			// expiry and description.
			r.ImportState, r.ExpirationModel, r.KeyMaterialDescription = importStateImported, expirationNotExpires, m.Description
			if !m.ValidTo.IsZero() {
				v := Timestamp(m.ValidTo)
				r.ExpirationModel, r.ValidTo = expirationExpires, &v
			}
		}
		entries = append(entries, r)
	}
	if after != "" {
		i := 0
		for i < len(entries) && entries[i].KeyMaterialId != after {
			i++
		}
		if i == len(entries) {
			return nil, kms.Errorf(kms.ErrInvalidMarker, "Invalid marker: %s", *in.Marker)
		}
		entries = entries[i+1:]
	}
	limit := pageLimit(in.Limit, 100, 1000)
	out := &ListKeyRotationsOutput{Rotations: entries}
	if len(entries) > limit {
		out.Rotations = entries[:limit]
		out.Truncated = true
		out.NextMarker = s.newMarker("ListKeyRotations", entries[limit-1].KeyMaterialId)
	}
	if out.Rotations == nil {
		out.Rotations = []RotationsListEntry{}
	}
	return out, nil
}
