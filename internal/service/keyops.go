package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/store"
)

const (
	maxPolicyBytes = 32768
	maxTagsPerKey  = 50
	day            = 24 * time.Hour
)

// checkNewPolicy validates a key policy about to be stored on keyARN
// (spec §7.5) and, unless bypassed, runs the lockout safety check (§7.6):
// the caller must still be allowed kms:PutKeyPolicy under the new policy.
func (s *Service) checkNewPolicy(ctx context.Context, c *Caller, text, keyARN, account string, bypass bool, fill func(policy.Context)) error {
	if len(text) > maxPolicyBytes {
		return kms.Errorf(kms.ErrLimitExceeded, "Policy exceeds the maximum size of %d bytes.", maxPolicyBytes)
	}
	doc, err := policy.Parse(text, policy.KeyPolicy)
	if err == nil {
		err = doc.CheckNewKeyPolicy()
	}
	if err != nil {
		var pe *policy.ParseError
		if errors.As(err, &pe) {
			return kms.Errorf(kms.ErrMalformedPolicy, "%s", pe.Message)
		}
		return kms.Errorf(kms.ErrMalformedPolicy, "The policy is not valid.")
	}
	if bypass {
		return nil
	}
	pc := s.requestContext(c)
	if fill != nil {
		fill(pc)
	}
	ids, err := s.identityPolicies(ctx, c)
	if err != nil {
		return err
	}
	req := &policy.Request{Principal: policy.NewPrincipal(c.Principal, c.Principal.RoleARN), Context: pc}
	if !policy.LockoutSafe(req, keyARN, &policy.Inputs{ResourcePolicy: doc, ResourceAccount: account, IdentityPolicies: ids}) {
		return kms.Errorf(kms.ErrMalformedPolicy, "The new key policy will not allow you to update the key policy in the future.")
	}
	return nil
}

// checkTags rejects the tags of a request, in AWS's order (as LocalStack
// records it): duplicate keys, more than a key can have, reserved keys.
func checkTags(tags []kms.Tag) error {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if seen[t.Key] {
			return kms.Errorf(kms.ErrTag, "Duplicate tag keys")
		}
		seen[t.Key] = true
	}
	if len(tags) > maxTagsPerKey {
		return kms.Errorf(kms.ErrTag, "Too many tags")
	}
	for _, t := range tags {
		if err := checkTagKey(t.Key); err != nil {
			return err
		}
	}
	return nil
}

// checkTagKey rejects a reserved tag key: aws: in any case.
func checkTagKey(key string) error {
	if len(key) >= 4 && strings.EqualFold(key[:4], "aws:") {
		return kms.Errorf(kms.ErrTag, "Tags beginning with aws: are reserved")
	}
	return nil
}

// CreateKey creates a customer managed key.
func (s *Service) CreateKey(ctx context.Context, c *Caller, in *CreateKeyInput) (*CreateKeyOutput, error) {
	spec := kms.KeySpecSymmetricDefault
	switch {
	case in.KeySpec != nil && in.CustomerMasterKeySpec != nil && *in.KeySpec != *in.CustomerMasterKeySpec:
		return nil, validationf("You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.")
	case in.KeySpec != nil:
		spec = kms.KeySpec(*in.KeySpec)
	case in.CustomerMasterKeySpec != nil:
		spec = kms.KeySpec(*in.CustomerMasterKeySpec)
	}
	usage := kms.KeyUsageEncryptDecrypt
	if in.KeyUsage != nil {
		usage = kms.KeyUsage(*in.KeyUsage)
	} else if spec != kms.KeySpecSymmetricDefault {
		return nil, validationf("You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
	}
	if !keys.ValidUsage(spec, usage) {
		// AWS's message, without a period (LocalStack's validated
		// test_derive_shared_secret records it).
		return nil, validationf("KeyUsage %s is not compatible with KeySpec %s", usage, spec)
	}
	if keys.IsAsymmetric(spec) && !keys.Implemented(spec) {
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "KeySpec %s is not supported by this server.", spec)
	}
	origin := kms.OriginAWSKMS
	if in.Origin != nil {
		origin = kms.Origin(*in.Origin)
	}
	switch {
	case in.XksKeyId != nil && origin != "EXTERNAL_KEY_STORE":
		return nil, validationf("XksKeyId must be specified only when Origin is EXTERNAL_KEY_STORE.")
	case in.CustomKeyStoreId != nil || origin == "AWS_CLOUDHSM" || origin == "EXTERNAL_KEY_STORE":
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "Custom key stores are not supported by this server.")
	case origin != kms.OriginAWSKMS && origin != kms.OriginExternal:
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "Origin %s is not supported by this server yet.", origin)
	case origin == kms.OriginExternal && !keys.Importable(spec):
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "KeySpec %s does not support imported key material (Origin EXTERNAL).", spec)
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	custom, err := s.customKeyTags(in.Tags, spec, in.MultiRegion, origin)
	if err != nil {
		return nil, err
	}
	defer clear(custom.material)
	tags := custom.tags // without LocalStack's tags, which are no tags
	fill := func(pc policy.Context) {
		pc.Set(policy.KeyKeySpec, string(spec))
		pc.Set(policy.KeyKeyUsage, string(usage))
		pc.Set(policy.KeyKeyOrigin, string(origin))
		pc.SetBool(policy.KeyMultiRegion, in.MultiRegion)
		pc.SetBool(policy.KeyBypassPolicyLockoutSafetyCheck, in.BypassPolicyLockoutSafetyCheck)
		pc.SetRequestTags(tags)
	}
	if err := s.authorizeIAM(ctx, c, "CreateKey", "*", fill); err != nil {
		return nil, err
	}
	if len(tags) > 0 {
		if err := s.authorizeIAM(ctx, c, "TagResource", "*", fill); err != nil {
			return nil, err
		}
	}
	id := kms.NewUUID()
	if in.MultiRegion {
		id = kms.NewMultiRegionID()
	}
	if custom.id != "" {
		// Under the change lock until the key is stored: two requests
		// for one multi-Region id (rows in two regions) must not both
		// find it free. On one node; a cluster's nodes may still race.
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.claimCustomID(ctx, custom.id); err != nil {
			return nil, err
		}
		id = custom.id
	}
	keyPolicy := policy.DefaultKeyPolicy(c.Principal.Account)
	if in.Policy != nil {
		if err := s.checkNewPolicy(ctx, c, *in.Policy, kms.KeyARN(c.Region, c.Principal.Account, id), c.Principal.Account, in.BypassPolicyLockoutSafetyCheck, fill); err != nil {
			return nil, err
		}
		keyPolicy = *in.Policy
	}
	k := kms.Key{
		ID:           kms.RowID(c.Region, id),
		Account:      c.Principal.Account,
		Region:       c.Region,
		Spec:         spec,
		Usage:        usage,
		Origin:       origin,
		Manager:      kms.KeyManagerCustomer,
		State:        kms.KeyStateEnabled,
		CreationDate: s.now().UTC().Truncate(time.Millisecond),
		Policy:       keyPolicy,
		Tags:         slices.Clone(tags),
	}
	if in.Description != nil {
		k.Description = *in.Description
	}
	if in.MultiRegion {
		k.PrimaryRegion = c.Region
	}
	var m *store.Material
	// Held from sealing until the store has the material (seal.Hold).
	release := s.sealer.Hold()
	switch {
	case origin == kms.OriginExternal:
		k.State = kms.KeyStatePendingImport // until ImportKeyMaterial
	case custom.material != nil:
		// Named like imported material, so the same bytes under the same
		// custom id on another server are the same material.
		if m, err = sealImported(s.sealer, &k, custom.material, s.now()); err != nil {
			release()
			return nil, kms.Internal(err)
		}
		k.CurrentMaterialID = m.ID
	default:
		if m, err = s.newMaterial(k.ID, k.Spec); err != nil {
			release()
			return nil, kms.Internal(err)
		}
		k.CurrentMaterialID = m.ID
	}
	err = s.store.CreateKey(ctx, k, m)
	release()
	if err != nil {
		if errors.Is(err, store.ErrExists) && custom.id != "" {
			return nil, errCustomIDTaken(custom.id) // made meanwhile
		}
		return nil, kms.Internal(err)
	}
	c.noteKey(k.ARN())
	s.log.Info("key created", "key", k.ARN(), "principal", c.Principal.ARN, "request_id", c.RequestID)
	md, err := s.describe(ctx, &k)
	if err != nil {
		return nil, err
	}
	return &CreateKeyOutput{KeyMetadata: md}, nil
}

// DescribeKey returns a key's metadata.
func (s *Service) DescribeKey(ctx context.Context, c *Caller, in *DescribeKeyInput) (*DescribeKeyOutput, error) {
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	e, err := s.lookup(ctx, c, *in.KeyId, true)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if err := s.authorizeKey(ctx, c, e, access{action: "DescribeKey", cross: true, id: *in.KeyId}); err != nil {
		return nil, err
	}
	md, err := s.describe(ctx, &e.key)
	if err != nil {
		return nil, err
	}
	return &DescribeKeyOutput{KeyMetadata: md}, nil
}

// ListKeys lists the keys of the caller's account in the request's region.
func (s *Service) ListKeys(ctx context.Context, c *Caller, in *ListInput) (*ListKeysOutput, error) {
	if err := s.authorizeIAM(ctx, c, "ListKeys", "*", nil); err != nil {
		return nil, err
	}
	after, err := s.parseMarker("ListKeys", in.Marker)
	if err != nil {
		return nil, err
	}
	limit := pageLimit(in.Limit, 100, 1000)
	ks, err := s.store.ListKeys(ctx, store.KeyFilter{Account: c.Principal.Account, Region: c.Region, After: after, Limit: limit + 1})
	if err != nil {
		return nil, kms.Internal(err)
	}
	out := &ListKeysOutput{Keys: make([]KeyListEntry, 0, min(len(ks), limit))}
	if len(ks) > limit {
		ks = ks[:limit]
		out.Truncated = true
		out.NextMarker = s.newMarker("ListKeys", ks[limit-1].ID)
	}
	for i := range ks {
		out.Keys = append(out.Keys, KeyListEntry{KeyId: ks[i].KeyID(), KeyArn: ks[i].ARN()})
	}
	return out, nil
}

// mutateKey authorizes a change (key id or ARN only), runs f on a fresh
// copy of the key under the change lock, then stores the result and drops
// the cached copy. If the key changed meanwhile in the store (another node
// of a cluster changed it from its own reading), it reads the key again
// and starts over: authorization and f see the change they follow.
func (s *Service) mutateKey(ctx context.Context, c *Caller, id string, a access, f func(k *kms.Key) error) (*kms.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 1; ; attempt++ {
		k, err := s.mutateKeyOnce(ctx, c, id, a, f)
		if !errors.Is(err, store.ErrConflict) {
			return k, err
		}
		if attempt == maxKeyChangeAttempts {
			return nil, kms.Internal(err)
		}
	}
}

// maxKeyChangeAttempts bounds mutateKey's retries: each one means that
// another node changed the same key in the meantime.
const maxKeyChangeAttempts = 5

// mutateKeyOnce is one attempt of mutateKey; store.ErrConflict means the
// key changed since it was read (its cached copy is dropped).
func (s *Service) mutateKeyOnce(ctx context.Context, c *Caller, id string, a access, f func(k *kms.Key) error) (*kms.Key, error) {
	e, err := s.lookup(ctx, c, id, false)
	if err != nil {
		return nil, err
	}
	a.id = id
	err = s.authorizeKey(ctx, c, e, a)
	k := e.key
	s.cache.release(e)
	if err != nil {
		return nil, err
	}
	k.Tags = slices.Clone(k.Tags)
	if err := f(&k); err != nil {
		return nil, err
	}
	if err := s.store.UpdateKey(ctx, k); err != nil {
		if errors.Is(err, store.ErrConflict) {
			s.cache.invalidateKey(k.ID)
			return nil, err
		}
		return nil, kms.Internal(err)
	}
	s.cache.invalidateKey(k.ID)
	k.Revision++
	return &k, nil
}

// notPendingDeletion is the state rule of UpdateKeyDescription, TagResource,
// UntagResource and CreateAlias.
func notPendingDeletion(k *kms.Key) error {
	if k.State == kms.KeyStatePendingDeletion || k.State == kms.KeyStatePendingReplicaDeletion {
		return stateError(k)
	}
	return nil
}

// UpdateKeyDescription replaces a key's description.
func (s *Service) UpdateKeyDescription(ctx context.Context, c *Caller, in *UpdateKeyDescriptionInput) (*struct{}, error) {
	_, err := s.mutateKey(ctx, c, *in.KeyId, access{action: "UpdateKeyDescription"}, func(k *kms.Key) error {
		if err := notPendingDeletion(k); err != nil {
			return err
		}
		k.Description = *in.Description
		return nil
	})
	return nil, err
}

// EnableKey makes a key usable.
func (s *Service) EnableKey(ctx context.Context, c *Caller, in *KeyIDInput) (*struct{}, error) {
	return nil, s.setEnabled(ctx, c, *in.KeyId, "EnableKey", kms.KeyStateEnabled)
}

// DisableKey stops cryptographic use of a key.
func (s *Service) DisableKey(ctx context.Context, c *Caller, in *KeyIDInput) (*struct{}, error) {
	return nil, s.setEnabled(ctx, c, *in.KeyId, "DisableKey", kms.KeyStateDisabled)
}

func (s *Service) setEnabled(ctx context.Context, c *Caller, id, action string, to kms.KeyState) error {
	_, err := s.mutateKey(ctx, c, id, access{action: action}, func(k *kms.Key) error {
		if k.State != kms.KeyStateEnabled && k.State != kms.KeyStateDisabled {
			return stateError(k)
		}
		k.State = to
		return nil
	})
	return err
}

// ScheduleKeyDeletion starts a key's waiting period.
func (s *Service) ScheduleKeyDeletion(ctx context.Context, c *Caller, in *ScheduleKeyDeletionInput) (*ScheduleKeyDeletionOutput, error) {
	days := int32(30)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
	}
	k, err := s.mutateKey(ctx, c, *in.KeyId, access{action: "ScheduleKeyDeletion", fill: func(pc policy.Context) {
		pc.SetInt(policy.KeyScheduleKeyDeletionWindow, int64(days))
	}}, func(k *kms.Key) error {
		if k.State == kms.KeyStatePendingDeletion || k.State == kms.KeyStatePendingReplicaDeletion || k.State == kms.KeyStateUpdating {
			return stateError(k)
		}
		if k.IsPrimary() {
			// A primary outlives its replicas: its waiting period starts
			// when the last of them is deleted (replicaDeleted).
			copies, err := s.store.KeyRegions(ctx, k.KeyID())
			if err != nil {
				return kms.Internal(err)
			}
			if len(copies) > 1 {
				k.State, k.PendingWindowDays = kms.KeyStatePendingReplicaDeletion, int(days)
				return nil
			}
		}
		k.State = kms.KeyStatePendingDeletion
		k.DeletionDate = s.now().UTC().Truncate(time.Millisecond).Add(time.Duration(days) * day)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &ScheduleKeyDeletionOutput{KeyId: k.ARN(), KeyState: k.State, PendingWindowInDays: days}
	if k.State == kms.KeyStatePendingDeletion {
		d := Timestamp(k.DeletionDate)
		out.DeletionDate = &d
	}
	s.log.Info("key deletion scheduled", "key", k.ARN(), "state", k.State, "deletion_date", k.DeletionDate, "request_id", c.RequestID)
	return out, nil
}

// CancelKeyDeletion ends a key's waiting period; the key comes back Disabled.
func (s *Service) CancelKeyDeletion(ctx context.Context, c *Caller, in *KeyIDInput) (*CancelKeyDeletionOutput, error) {
	k, err := s.mutateKey(ctx, c, *in.KeyId, access{action: "CancelKeyDeletion"}, func(k *kms.Key) error {
		if k.State != kms.KeyStatePendingDeletion && k.State != kms.KeyStatePendingReplicaDeletion {
			return kms.Errorf(kms.ErrInvalidState, "%s is not pending deletion.", k.ARN())
		}
		var err error
		if k.State, err = s.stateAfterCancel(ctx, k); err != nil {
			return err
		}
		k.DeletionDate, k.PendingWindowDays = time.Time{}, 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &CancelKeyDeletionOutput{KeyId: k.ARN()}, nil
}

// SweepDeletions deletes every key whose waiting period ended at or before
// now, with its material, tags and aliases. The server calls it periodically.
func (s *Service) SweepDeletions(ctx context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	due, err := s.store.KeysPendingDeletion(ctx, now)
	if err != nil {
		return 0, err
	}
	for i := range due {
		k := &due[i]
		if err := s.auditReady(); err != nil {
			return i, err
		}
		if err := s.store.DeleteKey(ctx, k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return i, err
		}
		s.cache.invalidateKey(k.ID)
		s.log.Info("key deleted", "key", k.ARN(), "deletion_date", k.DeletionDate)
		if err := s.serviceEvent(ctx, "DeleteKey", k); err != nil {
			return i + 1, err
		}
		if err := s.replicaDeleted(ctx, k, now); err != nil {
			return i + 1, err
		}
	}
	if len(due) > 0 {
		s.cache.invalidateAliases()
	}
	return len(due), nil
}

// TagResource adds or overwrites tags on a key.
func (s *Service) TagResource(ctx context.Context, c *Caller, in *TagResourceInput) (*struct{}, error) {
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		if t.Key == CustomIDTag || t.Key == CustomKeyMaterialTag {
			// Key material must never be stored as a tag.
			return nil, validationf("The %s tag is read by CreateKey only; it cannot be a tag of a key.", t.Key)
		}
	}
	_, err := s.mutateKey(ctx, c, *in.KeyId, access{action: "TagResource", fill: func(pc policy.Context) {
		pc.SetRequestTags(in.Tags)
	}}, func(k *kms.Key) error {
		if err := notPendingDeletion(k); err != nil {
			return err
		}
		for _, t := range in.Tags {
			i := slices.IndexFunc(k.Tags, func(old kms.Tag) bool { return old.Key == t.Key })
			if i >= 0 {
				k.Tags[i].Value = t.Value
			} else {
				k.Tags = append(k.Tags, t)
			}
		}
		if len(k.Tags) > maxTagsPerKey {
			return kms.Errorf(kms.ErrLimitExceeded, "A key can have at most %d tags.", maxTagsPerKey)
		}
		return nil
	})
	return nil, err
}

// UntagResource removes tags from a key; absent tag keys are ignored.
func (s *Service) UntagResource(ctx context.Context, c *Caller, in *UntagResourceInput) (*struct{}, error) {
	for _, t := range in.TagKeys {
		if err := checkTagKey(t); err != nil {
			return nil, err
		}
	}
	_, err := s.mutateKey(ctx, c, *in.KeyId, access{action: "UntagResource", fill: func(pc policy.Context) {
		pc.SetMulti(policy.KeyTagKeys, in.TagKeys)
	}}, func(k *kms.Key) error {
		if err := notPendingDeletion(k); err != nil {
			return err
		}
		k.Tags = slices.DeleteFunc(k.Tags, func(t kms.Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
		return nil
	})
	return nil, err
}

// ListResourceTags lists a key's tags in the order they were added.
func (s *Service) ListResourceTags(ctx context.Context, c *Caller, in *ListResourceTagsInput) (*ListResourceTagsOutput, error) {
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if err := s.authorizeKey(ctx, c, e, access{action: "ListResourceTags", id: *in.KeyId}); err != nil {
		return nil, err
	}
	after, err := s.parseMarker("ListResourceTags", in.Marker)
	if err != nil {
		return nil, err
	}
	tags := e.key.Tags
	if after != "" {
		i := slices.IndexFunc(tags, func(t kms.Tag) bool { return t.Key == after })
		tags = tags[i+1:] // a tag removed meanwhile restarts the listing
	}
	limit := pageLimit(in.Limit, 50, 50)
	out := &ListResourceTagsOutput{Tags: slices.Clone(tags)}
	if len(out.Tags) > limit {
		out.Tags = out.Tags[:limit]
		out.Truncated = true
		out.NextMarker = s.newMarker("ListResourceTags", out.Tags[limit-1].Key)
	}
	if out.Tags == nil {
		out.Tags = []kms.Tag{}
	}
	return out, nil
}
