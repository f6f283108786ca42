package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/identity"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/seed"
	"github.com/openkms/kms/internal/service"
	"github.com/openkms/kms/internal/store"
)

// parseSeed parses cfg.Seed, with the server's account and regions as the
// entries' defaults; nil if there is none.
func (cfg Config) parseSeed() (*seed.Seed, error) {
	if cfg.Seed == nil {
		return nil, nil
	}
	d := seed.Defaults{Account: cfg.AccountID, Regions: cfg.Regions}
	return seed.Parse(cfg.Seed, d)
}

// seedAction is one store write of a seed's apply.
type seedAction func(ctx context.Context) error

// applySeed makes what the seed file says exist, all or nothing: it first
// compares every entry with the store and refuses, naming the entry, if
// one conflicts; only then does it write what is missing, leaving what
// matches untouched (so a second start writes nothing).
//
// On a store that is a Bulker (SQLite) the writes are one transaction
// (runSeed). Elsewhere (PostgreSQL) each is its own, ordered so that what
// a crash leaves is a prefix that the next start's comparison finds
// matching and completes: an account's row after its root key, a key's row with its
// current material before its earlier ones and its copies, aliases last.
func (s *Server) applySeed(ctx context.Context, sd *seed.Seed) error {
	// A cluster's other node may apply the same file at the same time:
	// a write that finds its row made meanwhile plans again.
	for attempt := 0; ; attempt++ {
		actions, err := s.planSeed(ctx, sd)
		if err != nil {
			return err
		}
		if len(actions) == 0 {
			return nil
		}
		err = s.runSeed(ctx, actions)
		if err == nil || attempt == 2 || !errors.Is(err, store.ErrExists) && !errors.Is(err, identity.ErrAccountExists) {
			if err == nil {
				s.log.Info("seed file applied", "writes", len(actions))
			}
			return err
		}
	}
}

func (s *Server) runSeed(ctx context.Context, actions []seedAction) error {
	defer s.identity.Purge()
	run := func(ctx context.Context) error {
		for _, a := range actions {
			if err := a(ctx); err != nil {
				return fmt.Errorf("seed: %w", err)
			}
		}
		return nil
	}
	// One transaction where the store has them (SQLite): one commit for
	// the whole file, and all of it or nothing. Elsewhere each write is
	// its own, and a start that stops halfway is completed by the next
	// (see applySeed).
	if b, ok := s.store.(store.Bulker); ok {
		return b.Bulk(ctx, run)
	}
	return run(ctx)
}

func conflict(entry, format string, args ...any) error {
	return &seed.Error{Entry: entry, Msg: fmt.Sprintf(format, args...)}
}

// planSeed compares the seed with the store and returns the writes that
// make it exist, or the first conflict.
func (s *Server) planSeed(ctx context.Context, sd *seed.Seed) ([]seedAction, error) {
	var acts []seedAction
	now := s.now().UTC().Truncate(time.Millisecond)
	st := s.store

	// checkKey: is access key id absent (true), or stored for this owner
	// with this secret?
	checkKey := func(entry, account, user, id, secret string) (missing bool, err error) {
		ak, err := st.GetAccessKey(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if ak.Account != account || store.NameKey(ak.UserName) != store.NameKey(user) {
			return false, conflict(entry, "access key id %s belongs to another principal", id)
		}
		if err := s.identity.SameSecret(ctx, id, secret); errors.Is(err, identity.ErrOtherSecret) {
			return false, conflict(entry, "access key id %s exists with another secret", id)
		} else if err != nil {
			return false, err
		}
		return false, nil
	}

	for _, a := range sd.Accounts {
		missing, err := checkKey(a.Entry, a.ID, "", a.AccessKeyID, a.SecretAccessKey)
		if err != nil {
			return nil, err
		}
		_, err = st.GetAccount(ctx, a.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			acts = append(acts, func(ctx context.Context) error {
				_, err := s.identity.CreateAccount(ctx, a.ID, a.AccessKeyID, a.SecretAccessKey)
				return err
			})
		case err != nil:
			return nil, err
		case missing:
			// An existing account gets the pinned key as a further root key.
			acts = append(acts, func(ctx context.Context) error {
				sealed, err := s.identity.SealAccessKey(a.AccessKeyID, a.SecretAccessKey)
				if err != nil {
					return err
				}
				return st.PutAccessKey(ctx, store.AccessKey{ID: a.AccessKeyID, Account: a.ID, PrincipalARN: kms.RootARN(a.ID),
					SealedSecret: sealed, Active: true, Created: now})
			})
		}
	}

	checkPolicies := func(entry, account string, kind store.OwnerKind, owner string, ps []seed.Policy, exists bool) error {
		for _, p := range ps {
			if exists {
				old, err := st.GetPolicy(ctx, account, kind, owner, p.Name)
				if err == nil {
					if old.Document != p.Document {
						return conflict(entry, "policy %s exists with another document", p.Name)
					}
					continue
				}
				if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			acts = append(acts, func(ctx context.Context) error {
				return st.PutPolicy(ctx, store.Policy{Account: account, OwnerKind: kind, Owner: owner, Name: p.Name, Document: p.Document})
			})
		}
		return nil
	}

	for _, p := range sd.ManagedPolicies {
		old, err := st.GetManagedPolicy(ctx, p.Account, p.Name)
		switch {
		case err == nil:
			v, err := st.GetPolicyVersion(ctx, p.Account, p.Name, old.DefaultVersion)
			if err != nil {
				return nil, err
			}
			if v.Document != p.Document {
				return nil, conflict(p.Entry, "exists with another default version")
			}
		case errors.Is(err, store.ErrNotFound):
			acts = append(acts, func(ctx context.Context) error {
				mp := store.ManagedPolicy{Account: p.Account, Name: p.Name, ID: identity.NewManagedPolicyID(), Path: pathOrRoot(p.Path),
					Description: p.Description, DefaultVersion: 1, LatestVersion: 1, Created: now, Updated: now}
				return st.CreateManagedPolicy(ctx, mp, []store.PolicyVersion{{Number: 1, Document: p.Document, Created: now}})
			})
		default:
			return nil, err
		}
	}

	// attach attaches the managed policies an owner lacks; AttachPolicy
	// of one attached already changes nothing, but is a write.
	attach := func(account string, kind store.OwnerKind, owner string, names []string, exists bool) error {
		var have []store.AttachedPolicy
		if exists {
			var err error
			if have, err = st.ListAttachedPolicies(ctx, account, kind, owner); err != nil {
				return err
			}
		}
		for _, n := range names {
			if slices.ContainsFunc(have, func(a store.AttachedPolicy) bool { return store.NameKey(a.Policy.Name) == store.NameKey(n) }) {
				continue
			}
			acts = append(acts, func(ctx context.Context) error { return st.AttachPolicy(ctx, account, kind, owner, n) })
		}
		return nil
	}

	for _, u := range sd.Users {
		_, err := st.GetUser(ctx, u.Account, u.Name)
		exists := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if !exists {
			acts = append(acts, func(ctx context.Context) error {
				return st.CreateUser(ctx, store.User{Account: u.Account, Name: u.Name, ID: identity.NewUserID(), Path: pathOrRoot(u.Path), Created: now})
			})
		}
		var have []store.AccessKey
		if exists {
			if have, err = st.ListAccessKeys(ctx, u.Account, u.Name); err != nil {
				return nil, err
			}
		}
		added := 0
		for _, ak := range u.AccessKeys {
			missing, err := checkKey(u.Entry, u.Account, u.Name, ak.ID, ak.Secret)
			if err != nil {
				return nil, err
			}
			if !missing {
				continue
			}
			added++
			acts = append(acts, func(ctx context.Context) error {
				sealed, err := s.identity.SealAccessKey(ak.ID, ak.Secret)
				if err != nil {
					return err
				}
				return st.PutAccessKey(ctx, store.AccessKey{ID: ak.ID, Account: u.Account, UserName: u.Name,
					PrincipalARN: identity.UserARN(u.Account, pathOrRoot(u.Path), u.Name), SealedSecret: sealed, Active: true, Created: now})
			})
		}
		if len(have)+added > 2 {
			return nil, conflict(u.Entry, "the user would have more than 2 access keys")
		}
		if err := checkPolicies(u.Entry, u.Account, store.OwnerUser, u.Name, u.Policies, exists); err != nil {
			return nil, err
		}
		if err := attach(u.Account, store.OwnerUser, u.Name, u.Attached, exists); err != nil {
			return nil, err
		}
	}

	for _, r := range sd.Roles {
		old, err := st.GetRole(ctx, r.Account, r.Name)
		exists := err == nil
		switch {
		case exists:
			if old.AssumeRolePolicy != r.TrustPolicy {
				return nil, conflict(r.Entry, "exists with another trust policy")
			}
		case errors.Is(err, store.ErrNotFound):
			acts = append(acts, func(ctx context.Context) error {
				return st.CreateRole(ctx, store.Role{Account: r.Account, Name: r.Name, ID: identity.NewRoleID(), Path: pathOrRoot(r.Path),
					AssumeRolePolicy: r.TrustPolicy, MaxSessionDuration: identity.DefaultMaxSessionDuration, Description: r.Description, Created: now})
			})
		default:
			return nil, err
		}
		if err := checkPolicies(r.Entry, r.Account, store.OwnerRole, r.Name, r.Policies, exists); err != nil {
			return nil, err
		}
		if err := attach(r.Account, store.OwnerRole, r.Name, r.Attached, exists); err != nil {
			return nil, err
		}
	}

	for i := range sd.Keys {
		ka, err := s.planKey(ctx, &sd.Keys[i], now)
		if err != nil {
			return nil, err
		}
		acts = append(acts, ka...)
	}

	for _, a := range sd.Aliases {
		target := kms.RowID(a.Region, a.KeyID)
		old, err := st.GetAlias(ctx, a.Account, a.Region, a.Name)
		switch {
		case err == nil:
			if old.TargetKeyID != target {
				return nil, conflict(a.Entry, "alias %s in %s points at another key", a.Name, a.Region)
			}
		case errors.Is(err, store.ErrNotFound):
			acts = append(acts, func(ctx context.Context) error {
				return st.CreateAlias(ctx, kms.Alias{Name: a.Name, Account: a.Account, Region: a.Region, TargetKeyID: target,
					CreationDate: now, LastUpdatedDate: now})
			})
		default:
			return nil, err
		}
	}
	return acts, nil
}

// planKey compares one seeded key, in each of its regions, with the store.
// Only what makes the key the key (account, region, spec, usage, origin,
// material) must match; settings that the API changes later (description,
// state, policy, tags, rotation) are the seed's only when it creates the
// key, so a key disabled since is left disabled.
func (s *Server) planKey(ctx context.Context, k *seed.Key, now time.Time) ([]seedAction, error) {
	st := s.store
	primary := k.Regions[0]
	base := kms.Key{ID: kms.RowID(primary, k.ID), Account: k.Account, Region: primary, Description: k.Description,
		Spec: k.Spec, Usage: k.Usage, Origin: k.Origin, Manager: kms.KeyManagerCustomer, State: kms.KeyStateEnabled,
		CreationDate: now, Policy: k.Policy, Tags: slices.Clone(k.Tags)}
	if !k.Enabled {
		base.State = kms.KeyStateDisabled
	}
	if base.Policy == "" {
		base.Policy = policy.DefaultKeyPolicy(k.Account)
	}
	if k.Origin == kms.OriginExternal {
		base.ExpirationModel = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	}
	if k.MultiRegion() {
		base.PrimaryRegion = primary
	}

	// The materials, sealed once: the copies of a multi-Region key share
	// them. Earlier ones are dated before the current, a second apart,
	// so that listings order them as the file does.
	var ms []store.Material
	given := k.Materials
	if given == nil {
		given = [][]byte{nil}
	}
	for i, b := range given {
		m, err := service.SeedMaterial(s.sealer, &base, b, now)
		if err != nil {
			var ae *kms.Error
			if errors.As(err, &ae) {
				return nil, conflict(k.Entry, "%s", ae.Message)
			}
			return nil, err
		}
		m.Created = now.Add(time.Duration(i-len(given)+1) * time.Second)
		if i > 0 {
			m.RotationType, m.RotationDate = "ON_DEMAND", m.Created
		}
		ms = append(ms, *m)
	}
	current := ms[len(ms)-1]
	base.CurrentMaterialID = current.ID

	var acts []seedAction
	primaryMissing := false
	for ri, region := range k.Regions {
		rowID := kms.RowID(region, k.ID)
		old, err := st.GetKey(ctx, rowID)
		if errors.Is(err, store.ErrNotFound) {
			if ri == 0 {
				primaryMissing = true
				acts = append(acts, s.createSeededKey(k, base, ms))
				continue
			}
			replica := base
			replica.ID, replica.Region = rowID, region
			replica.Policy = policy.DefaultKeyPolicy(k.Account)
			if k.Policy != "" {
				replica.Policy = k.Policy
			}
			acts = append(acts, func(ctx context.Context) error { return st.ReplicateKey(ctx, replica, base.ID) })
			continue
		}
		if err != nil {
			return nil, err
		}
		if primaryMissing {
			// Copies are made from the primary, which comes first.
			return nil, conflict(k.Entry, "a copy in %s exists but not the primary in %s", region, primary)
		}
		switch {
		case old.Account != k.Account:
			return nil, conflict(k.Entry, "exists in another account")
		case old.Region != region:
			return nil, conflict(k.Entry, "exists in region %s", old.Region)
		case old.Spec != k.Spec:
			return nil, conflict(k.Entry, "exists with other key spec %s", old.Spec)
		case old.Usage != k.Usage:
			return nil, conflict(k.Entry, "exists with other key usage %s", old.Usage)
		case old.Origin != k.Origin:
			return nil, conflict(k.Entry, "exists with other origin %s", old.Origin)
		}
		if k.Materials == nil {
			continue // generated: whatever it has is its material
		}
		stored, err := st.ListMaterials(ctx, rowID)
		if err != nil {
			return nil, err
		}
		has := func(id string) bool {
			return slices.ContainsFunc(stored, func(m store.Material) bool { return m.ID == id })
		}
		// The current material must be there; it may have rotated since.
		i := slices.IndexFunc(stored, func(m store.Material) bool { return m.ID == current.ID })
		if i < 0 {
			return nil, conflict(k.Entry, "exists with other key material")
		}
		// Earlier materials missing (a start stopped after the key's
		// first write) are dated as that start would have dated them.
		cur := stored[i].Created
		for j, m := range ms[:len(ms)-1] {
			if !has(m.ID) {
				m.KeyID = rowID
				m.Created = cur.Add(time.Duration(j-len(ms)+1) * time.Second)
				if j > 0 {
					m.RotationDate = m.Created
				}
				acts = append(acts, func(ctx context.Context) error { return st.AddMaterial(ctx, m) })
			}
		}
	}
	return acts, nil
}

// createSeededKey writes a new key with its current material, then its
// earlier materials.
func (s *Server) createSeededKey(k *seed.Key, base kms.Key, ms []store.Material) seedAction {
	if k.RotationEnabled {
		base.RotationEnabled, base.RotationPeriodDays = true, k.RotationPeriodDays
		base.NextRotationDate = k.NextRotation.UTC()
		if base.NextRotationDate.IsZero() {
			base.NextRotationDate = base.CreationDate.AddDate(0, 0, k.RotationPeriodDays)
		}
	}
	return func(ctx context.Context) error {
		cur := ms[len(ms)-1]
		if err := s.store.CreateKey(ctx, base, &cur); err != nil {
			return err
		}
		for _, m := range ms[:len(ms)-1] {
			if err := s.store.AddMaterial(ctx, m); err != nil {
				return err
			}
		}
		return nil
	}
}

func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
