package service

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/store"
)

// Multi-Region keys (spec §2.10). One server serves every region, so a
// replica is another row of the store (kms.RowID), made at once: the key
// id, spec, usage, origin and material are the key's, while the policy,
// description, tags, aliases, grants and enabled state are each copy's.
// Rotations are the primary's and reach every copy in the same write.

// Multi-Region key types.
const (
	multiRegionPrimary = "PRIMARY"
	multiRegionReplica = "REPLICA"
)

func multiRegionKeyType(k *kms.Key) string {
	if k.IsPrimary() {
		return multiRegionPrimary
	}
	return multiRegionReplica
}

// MultiRegionKey names one copy of a multi-Region key.
type MultiRegionKey struct{ Arn, Region string }

// MultiRegionConfiguration lists the copies of a multi-Region key.
type MultiRegionConfiguration struct {
	MultiRegionKeyType string
	PrimaryKey         *MultiRegionKey
	ReplicaKeys        []MultiRegionKey
}

// describe returns a key's metadata; for a multi-Region key it reads the
// key's other copies for MultiRegionConfiguration.
func (s *Service) describe(ctx context.Context, k *kms.Key) (*KeyMetadata, error) {
	m := metadata(k)
	if !k.MultiRegion() {
		return m, nil
	}
	copies, err := s.store.KeyRegions(ctx, k.KeyID())
	if err != nil {
		return nil, kms.Internal(err)
	}
	cfg := &MultiRegionConfiguration{MultiRegionKeyType: multiRegionKeyType(k), ReplicaKeys: []MultiRegionKey{}}
	for i := range copies {
		c := &copies[i]
		if c.Region == k.PrimaryRegion {
			cfg.PrimaryKey = &MultiRegionKey{Arn: c.ARN(), Region: c.Region}
		} else {
			cfg.ReplicaKeys = append(cfg.ReplicaKeys, MultiRegionKey{Arn: c.ARN(), Region: c.Region})
		}
	}
	if cfg.PrimaryKey == nil {
		// The primary was deleted (its replicas outlived it); AWS still
		// names it.
		cfg.PrimaryKey = &MultiRegionKey{Arn: kms.KeyARN(k.PrimaryRegion, k.Account, k.KeyID()), Region: k.PrimaryRegion}
	}
	m.MultiRegionConfiguration = cfg
	return m, nil
}

// primaryOf returns the primary copy of multi-Region key k; ok is false if
// it no longer exists.
func (s *Service) primaryOf(ctx context.Context, k *kms.Key) (p kms.Key, ok bool, err error) {
	if k.IsPrimary() {
		return *k, true, nil
	}
	copies, err := s.store.KeyRegions(ctx, k.KeyID())
	if err != nil {
		return p, false, kms.Internal(err)
	}
	i := slices.IndexFunc(copies, func(c kms.Key) bool { return c.Region == k.PrimaryRegion })
	if i < 0 {
		return p, false, nil
	}
	return copies[i], true, nil
}

// errNotPrimary refuses an operation that only a multi-Region primary key
// can perform.
func errNotPrimary(k *kms.Key, op string) error {
	if !k.MultiRegion() {
		return kms.Errorf(kms.ErrUnsupportedOperation, "%s is not a multi-Region key: %s needs a multi-Region primary key.", k.ARN(), op)
	}
	return kms.Errorf(kms.ErrUnsupportedOperation, "%s is a multi-Region replica key: %s needs the primary key, in %s.", k.ARN(), op, k.PrimaryRegion)
}

// regionRE is the model's pattern of ReplicaRegion and PrimaryRegion.
var regionRE = &pattern{regexp.MustCompile(`^([a-z]+-){2,3}\d+$`), `^([a-z]+-){2,3}\d+$`}

// ReplicateKeyInput is the request of ReplicateKey.
type ReplicateKeyInput struct {
	KeyId                          *string
	ReplicaRegion                  *string
	Policy                         *string
	BypassPolicyLockoutSafetyCheck bool
	Description                    *string
	Tags                           []kms.Tag
}

// Validate implements the model constraints.
func (in *ReplicateKeyInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("replicaRegion", in.ReplicaRegion != nil) {
		v.str("replicaRegion", in.ReplicaRegion, 1, 32, regionRE)
	}
	v.str("policy", in.Policy, 1, 131072, policyRE)
	v.str("description", in.Description, 0, 8192, nil)
	v.tags("tags", in.Tags)
	return v.err()
}

// ReplicateKeyOutput is the response of ReplicateKey.
type ReplicateKeyOutput struct {
	ReplicaKeyMetadata *KeyMetadata
	ReplicaPolicy      string
	ReplicaTags        []kms.Tag
}

// ReplicateKey makes a copy of a multi-Region primary key in another region
// of the same account.
func (s *Service) ReplicateKey(ctx context.Context, c *Caller, in *ReplicateKeyInput) (*ReplicateKeyOutput, error) {
	region := *in.ReplicaRegion
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	p := e.key
	err = s.authorizeKey(ctx, c, e, access{action: "ReplicateKey", id: *in.KeyId, fill: func(pc policy.Context) {
		pc.Set(policy.KeyReplicaRegion, region)
	}})
	s.cache.release(e)
	if err != nil {
		return nil, err
	}
	if p.MultiRegion() && !p.IsPrimary() {
		// AWS's message (LocalStack's validated
		// test_replicate_replica_key_should_fail).
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "%s is not a multi-region primary key.", p.ARN())
	}
	if !p.IsPrimary() {
		return nil, errNotPrimary(&p, "ReplicateKey")
	}
	// Only an Enabled primary replicates (spec §4.3), one with imported
	// material too: its replica then waits for the same material.
	if err := enabledForChange(&p); err != nil {
		return nil, err
	}
	if region == p.Region {
		return nil, validationf("The replica region %s is the region of the primary key %s.", region, p.ARN())
	}
	// The replica is created in its region: the caller's IAM policies must
	// allow kms:CreateKey (and kms:TagResource for tags) there.
	rc := *c
	rc.Region = region
	fill := func(pc policy.Context) {
		pc.Set(policy.KeyKeySpec, string(p.Spec))
		pc.Set(policy.KeyKeyUsage, string(p.Usage))
		pc.Set(policy.KeyKeyOrigin, string(p.Origin))
		pc.SetBool(policy.KeyMultiRegion, true)
		pc.Set(policy.KeyMultiRegionKeyType, multiRegionReplica)
		pc.SetRequestTags(in.Tags)
		pc.Set(policy.KeyReplicaRegion, region)
		pc.SetBool(policy.KeyBypassPolicyLockoutSafetyCheck, in.BypassPolicyLockoutSafetyCheck)
	}
	if err := s.authorizeIAM(ctx, &rc, "CreateKey", "*", fill); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if err := s.authorizeIAM(ctx, &rc, "TagResource", "*", fill); err != nil {
			return nil, err
		}
	}
	r := kms.Key{
		ID:            kms.RowID(region, p.KeyID()),
		Account:       p.Account,
		Region:        region,
		Spec:          p.Spec,
		Usage:         p.Usage,
		Origin:        p.Origin,
		Manager:       p.Manager,
		State:         kms.KeyStateEnabled,
		CreationDate:  s.now().UTC().Truncate(time.Millisecond),
		Policy:        policy.DefaultKeyPolicy(p.Account),
		Tags:          slices.Clone(in.Tags),
		PrimaryRegion: p.PrimaryRegion,
	}
	if in.Policy != nil {
		if err := s.checkNewPolicy(ctx, &rc, *in.Policy, r.ARN(), r.Account, in.BypassPolicyLockoutSafetyCheck, fill); err != nil {
			return nil, err
		}
		r.Policy = *in.Policy
	}
	if in.Description != nil {
		r.Description = *in.Description
	}
	if p.Origin == kms.OriginExternal {
		// Each copy of an imported key gets the same material imported
		// into it separately (AWS's rule).
		r.State = kms.KeyStatePendingImport
		err = s.store.CreateKey(ctx, r, nil)
	} else {
		err = s.store.ReplicateKey(ctx, r, p.ID)
	}
	switch {
	case errors.Is(err, store.ErrExists):
		return nil, kms.Errorf(kms.ErrAlreadyExists, "Replica key %s already exists.", r.ARN())
	case errors.Is(err, store.ErrNotFound):
		return nil, kms.Errorf(kms.ErrNotFound, "Key '%s' does not exist", p.ARN())
	case err != nil:
		return nil, kms.Internal(err)
	}
	// Read it back: ReplicateKey set its current material.
	if r, err = s.store.GetKey(ctx, r.ID); err != nil {
		return nil, kms.Internal(err)
	}
	c.noteKey(r.ARN())
	s.log.Info("key replicated", "key", p.ARN(), "replica", r.ARN(), "principal", c.Principal.ARN, "request_id", c.RequestID)
	m, err := s.describe(ctx, &r)
	if err != nil {
		return nil, err
	}
	tags := r.Tags
	if tags == nil {
		tags = []kms.Tag{}
	}
	return &ReplicateKeyOutput{ReplicaKeyMetadata: m, ReplicaPolicy: r.Policy, ReplicaTags: tags}, nil
}

// UpdatePrimaryRegionInput is the request of UpdatePrimaryRegion.
type UpdatePrimaryRegionInput struct {
	KeyId         *string
	PrimaryRegion *string
}

// Validate implements the model constraints.
func (in *UpdatePrimaryRegionInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("primaryRegion", in.PrimaryRegion != nil) {
		v.str("primaryRegion", in.PrimaryRegion, 1, 32, regionRE)
	}
	return v.err()
}

// UpdatePrimaryRegion makes a replica the primary key of its multi-Region
// key, and the primary a replica. Both change in one write, so neither is
// ever left Updating.
func (s *Service) UpdatePrimaryRegion(ctx context.Context, c *Caller, in *UpdatePrimaryRegionInput) (*struct{}, error) {
	region := *in.PrimaryRegion
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	p := e.key
	fill := func(pc policy.Context) { pc.Set(policy.KeyPrimaryRegion, region) }
	err = s.authorizeKey(ctx, c, e, access{action: "UpdatePrimaryRegion", id: *in.KeyId, fill: fill})
	s.cache.release(e)
	if err != nil {
		return nil, err
	}
	if !p.IsPrimary() {
		return nil, errNotPrimary(&p, "UpdatePrimaryRegion")
	}
	if err := enabledForChange(&p); err != nil {
		return nil, err
	}
	if region == p.Region {
		return nil, nil // already the primary
	}
	// The replica's key policy must allow it too.
	rc := *c
	rc.Region = region
	re, err := s.lookupID(ctx, p.Account, region, p.KeyID())
	var ke *kms.Error
	if errors.As(err, &ke) && ke.Code == kms.ErrNotFound {
		return nil, kms.Errorf(kms.ErrNotFound, "The multi-Region key %s has no replica in %s.", p.ARN(), region)
	}
	if err != nil {
		return nil, err
	}
	r := re.key
	err = s.authorizeKey(ctx, &rc, re, access{action: "UpdatePrimaryRegion", id: r.ARN(), fill: fill})
	s.cache.release(re)
	if err != nil {
		return nil, err
	}
	c.noteKey(r.ARN())
	if err := enabledForChange(&r); err != nil {
		return nil, err
	}
	if err := s.store.SetPrimaryRegion(ctx, p.KeyID(), region); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, kms.Errorf(kms.ErrNotFound, "The multi-Region key %s has no replica in %s.", p.ARN(), region)
		}
		return nil, kms.Internal(err)
	}
	s.cache.invalidateCopies(p.KeyID())
	s.log.Info("primary region updated", "key", p.ARN(), "primary", r.ARN(), "principal", c.Principal.ARN, "request_id", c.RequestID)
	return nil, nil
}

// enabledForChange is the state rule of ReplicateKey and
// UpdatePrimaryRegion for the keys they change.
func enabledForChange(k *kms.Key) error {
	switch k.State {
	case kms.KeyStateEnabled:
		return nil
	case kms.KeyStateDisabled:
		return kms.Errorf(kms.ErrDisabled, "%s is disabled.", k.ARN())
	}
	return stateError(k)
}

// replicaDeleted starts the waiting period of a multi-Region primary in
// PendingReplicaDeletion once its last replica, k, is gone.
func (s *Service) replicaDeleted(ctx context.Context, k *kms.Key, now time.Time) error {
	if !k.MultiRegion() || k.IsPrimary() {
		return nil
	}
	for range maxKeyChangeAttempts {
		copies, err := s.store.KeyRegions(ctx, k.KeyID())
		if err != nil || len(copies) != 1 || copies[0].State != kms.KeyStatePendingReplicaDeletion {
			return err
		}
		p := copies[0]
		p.State = kms.KeyStatePendingDeletion
		p.DeletionDate = now.UTC().Truncate(time.Millisecond).Add(time.Duration(p.PendingWindowDays) * day)
		p.PendingWindowDays = 0
		err = s.store.UpdateKey(ctx, p)
		s.cache.invalidateKey(p.ID)
		if !errors.Is(err, store.ErrConflict) {
			if err == nil {
				s.log.Info("key deletion scheduled", "key", p.ARN(), "deletion_date", p.DeletionDate, "after", "last replica deleted")
			}
			return err
		}
	}
	return store.ErrConflict
}
