package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

const maxAliasesPerKey = 50

// checkAliasName applies the alias rules beyond the model pattern (spec §3.4).
func checkAliasName(name string) error {
	if !strings.HasPrefix(name, "alias/") {
		return validationf(`Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	}
	if strings.HasPrefix(name, "alias/aws/") || name == "alias/aws" {
		return kms.Errorf(kms.ErrInvalidAliasName, "Alias %s is reserved: alias/aws/ names belong to AWS managed keys.", name)
	}
	if name == "alias/" {
		return kms.Errorf(kms.ErrInvalidAliasName, "Alias name must have a name after the alias/ prefix.")
	}
	return nil
}

// checkNewAliasName is checkAliasName for a name being given to a key
// (CreateAlias, UpdateAlias): the model pattern allows ':', AWS does not
// (its message, as recorded by moto's tests of real AWS).
func checkNewAliasName(name string) error {
	if err := checkAliasName(name); err != nil {
		return err
	}
	if strings.Contains(name, ":") {
		return validationf("%s contains invalid characters for an alias", name)
	}
	return nil
}

// aliasTarget resolves and checks the key an alias is to point at.
func (s *Service) aliasTarget(ctx context.Context, c *Caller, id, action string) (kms.Key, error) {
	e, err := s.lookup(ctx, c, id, false)
	if err != nil {
		return kms.Key{}, err
	}
	err = s.authorizeKey(ctx, c, e, access{action: action, id: id})
	k := e.key
	s.cache.release(e)
	if err != nil {
		return k, err
	}
	if k.Manager == kms.KeyManagerAWS {
		return k, kms.Errorf(kms.ErrAccessDenied, "Aliases cannot point at AWS managed key %s.", k.ARN())
	}
	if err := notPendingDeletion(&k); err != nil {
		return k, err
	}
	n, err := s.store.CountAliases(ctx, k.ID)
	if err != nil {
		return k, kms.Internal(err)
	}
	if n >= maxAliasesPerKey {
		return k, kms.Errorf(kms.ErrLimitExceeded, "Key %s already has %d aliases.", k.ARN(), maxAliasesPerKey)
	}
	return k, nil
}

// CreateAlias names a key.
func (s *Service) CreateAlias(ctx context.Context, c *Caller, in *AliasInput) (*struct{}, error) {
	name := *in.AliasName
	if err := checkNewAliasName(name); err != nil {
		return nil, err
	}
	aliasARN := kms.AliasARN(c.Region, c.Principal.Account, name)
	if err := s.authorizeIAM(ctx, c, "CreateAlias", aliasARN, nil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.aliasTarget(ctx, c, *in.TargetKeyId, "CreateAlias")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	a := kms.Alias{Name: name, Account: c.Principal.Account, Region: c.Region, TargetKeyID: k.ID, CreationDate: now, LastUpdatedDate: now}
	err = s.store.CreateAlias(ctx, a)
	if errors.Is(err, store.ErrExists) {
		return nil, kms.Errorf(kms.ErrAlreadyExists, "An alias with the name %s already exists", a.ARN())
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	s.aliasesChanged(k.ID)
	return nil, nil
}

// aliasesChanged drops cached alias resolutions and the cached keys whose
// alias list (kms:ResourceAliases) changed.
func (s *Service) aliasesChanged(keyIDs ...string) {
	s.cache.invalidateAliases()
	for _, id := range keyIDs {
		s.cache.invalidateKey(id)
	}
}

// keyAuthorized authorizes action on a key known by id, if it still
// exists (an alias may outlive nothing, but be defensive).
func (s *Service) keyAuthorized(ctx context.Context, c *Caller, id, action string) (*kms.Key, error) {
	e, err := s.acquire(ctx, id)
	if errors.Is(err, errKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	k := e.key
	return &k, s.authorizeKey(ctx, c, e, access{action: action})
}

// UpdateAlias points an existing alias at another key of the same kind.
func (s *Service) UpdateAlias(ctx context.Context, c *Caller, in *AliasInput) (*struct{}, error) {
	name := *in.AliasName
	if err := checkNewAliasName(name); err != nil {
		return nil, err
	}
	if err := s.authorizeIAM(ctx, c, "UpdateAlias", kms.AliasARN(c.Region, c.Principal.Account, name), nil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.getAlias(ctx, c, name)
	if err != nil {
		return nil, err
	}
	k, err := s.aliasTarget(ctx, c, *in.TargetKeyId, "UpdateAlias")
	if err != nil {
		return nil, err
	}
	old, err := s.keyAuthorized(ctx, c, a.TargetKeyID, "UpdateAlias")
	if err != nil {
		return nil, err
	}
	if old != nil {
		if old.Usage != k.Usage || old.Spec != k.Spec && (old.Spec == kms.KeySpecSymmetricDefault || k.Spec == kms.KeySpecSymmetricDefault) {
			return nil, validationf("Alias %s cannot be changed from a key with usage %s and spec %s to a key with usage %s and spec %s.",
				name, old.Usage, old.Spec, k.Usage, k.Spec)
		}
	}
	oldID := a.TargetKeyID
	a.TargetKeyID = k.ID
	a.LastUpdatedDate = s.now().UTC().Truncate(time.Millisecond)
	if err := s.store.UpdateAlias(ctx, a); err != nil {
		return nil, kms.Internal(err)
	}
	s.aliasesChanged(oldID, k.ID)
	return nil, nil
}

func (s *Service) getAlias(ctx context.Context, c *Caller, name string) (kms.Alias, error) {
	a, err := s.store.GetAlias(ctx, c.Principal.Account, c.Region, name)
	if errors.Is(err, store.ErrNotFound) {
		return a, kms.Errorf(kms.ErrNotFound, "Alias %s is not found.", kms.AliasARN(c.Region, c.Principal.Account, name))
	}
	if err != nil {
		return a, kms.Internal(err)
	}
	return a, nil
}

// DeleteAlias removes an alias; the key is unaffected.
func (s *Service) DeleteAlias(ctx context.Context, c *Caller, in *DeleteAliasInput) (*struct{}, error) {
	name := *in.AliasName
	if err := checkAliasName(name); err != nil {
		return nil, err
	}
	if err := s.authorizeIAM(ctx, c, "DeleteAlias", kms.AliasARN(c.Region, c.Principal.Account, name), nil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.getAlias(ctx, c, name)
	if err != nil {
		return nil, err
	}
	if _, err := s.keyAuthorized(ctx, c, a.TargetKeyID, "DeleteAlias"); err != nil {
		return nil, err
	}
	if err := s.store.DeleteAlias(ctx, a.Account, a.Region, a.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, kms.Internal(err)
	}
	s.aliasesChanged(a.TargetKeyID)
	return nil, nil
}

// ListAliases lists the aliases of the caller's account and region, by name.
func (s *Service) ListAliases(ctx context.Context, c *Caller, in *ListAliasesInput) (*ListAliasesOutput, error) {
	if err := s.authorizeIAM(ctx, c, "ListAliases", "*", nil); err != nil {
		return nil, err
	}
	f := store.AliasFilter{Account: c.Principal.Account, Region: c.Region}
	if in.KeyId != nil {
		e, err := s.lookup(ctx, c, *in.KeyId, false)
		if err != nil {
			return nil, err
		}
		f.KeyID = e.key.ID
		s.cache.release(e)
	}
	after, err := s.parseMarker("ListAliases", in.Marker)
	if err != nil {
		return nil, err
	}
	limit := pageLimit(in.Limit, 50, 100)
	f.After, f.Limit = after, limit+1
	as, err := s.store.ListAliases(ctx, f)
	if err != nil {
		return nil, kms.Internal(err)
	}
	entries := make([]AliasListEntry, 0, len(as))
	for i := range as {
		a := &as[i]
		created, updated := Timestamp(a.CreationDate), Timestamp(a.LastUpdatedDate)
		entries = append(entries, AliasListEntry{
			AliasName: a.Name, AliasArn: a.ARN(), TargetKeyId: kms.KeyIDOf(a.TargetKeyID),
			CreationDate: &created, LastUpdatedDate: &updated,
		})
	}
	if in.KeyId == nil {
		entries = withPredefinedAliases(entries, c.Principal.Account, c.Region, after, len(as) == limit+1)
	}
	out := &ListAliasesOutput{Aliases: entries}
	if len(entries) > limit {
		out.Aliases = entries[:limit]
		out.Truncated = true
		out.NextMarker = s.newMarker("ListAliases", entries[limit-1].AliasName)
	}
	return out, nil
}

// withPredefinedAliases adds to a page of stored aliases (names after
// after, in order) the predefined alias/aws/<service> names of the AWS
// managed keys that do not exist yet, as AWS lists them: without a target
// or dates. full says the page ended before the store did: names past its
// last are left to the next page, which knows whether they are stored.
func withPredefinedAliases(entries []AliasListEntry, account, region, after string, full bool) []AliasListEntry {
	stored := make(map[string]bool, len(entries))
	for _, e := range entries {
		stored[e.AliasName] = true
	}
	n := len(entries)
	for service := range managedServices {
		name := "alias/aws/" + service
		if name <= after || stored[name] || full && n > 0 && name > entries[n-1].AliasName {
			continue
		}
		entries = append(entries, AliasListEntry{AliasName: name, AliasArn: kms.AliasARN(region, account, name)})
	}
	if len(entries) > n {
		slices.SortFunc(entries, func(a, b AliasListEntry) int { return strings.Compare(a.AliasName, b.AliasName) })
	}
	return entries
}
