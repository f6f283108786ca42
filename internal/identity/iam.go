package identity

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"unicode"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/store"
)

// IAM operations. Each one validates its input, resolves the entity it is
// about (whose path makes its ARN), authorizes the caller for iam:<Op> on
// that ARN, and only then reports a missing entity, so that a caller
// without permission learns nothing about what exists. Everything is
// scoped to the caller's account: other accounts' users and roles are
// invisible.

const (
	maxAccessKeysPerUser  = 2
	maxUserPolicyBytes    = 2048  // aggregate inline policy size of a user
	maxRolePolicyBytes    = 10240 // aggregate inline policy size of a role
	maxTrustPolicyBytes   = 2048
	defaultSessionMaxSecs = 3600
)

// authorize decides an IAM action by the caller's identity policies alone.
// cond are the action's own condition keys and values (iam:PolicyARN).
func (i *Identity) authorize(ctx context.Context, c *Caller, action, resource string, cond ...[2]string) error {
	if c.Principal.Type == kms.PrincipalRoot {
		return nil // the root holds every permission in its own account
	}
	docs, err := i.Policies(ctx, c.Principal)
	if err != nil {
		return kms.Internal(err)
	}
	req := &policy.Request{
		Action:    action,
		Resource:  resource,
		Principal: policy.NewPrincipal(c.Principal, c.Principal.RoleARN),
		Context:   i.requestContext(c),
	}
	for _, kv := range cond {
		req.Context.Set(kv[0], kv[1])
	}
	d := policy.Authorize(req, &policy.Inputs{ResourceAccount: c.Principal.Account, IdentityPolicies: docs})
	if !d.Allowed {
		return kms.Errorf(ErrAccessDenied, "%s", d.Message(req))
	}
	return nil
}

// requestContext returns the global condition keys of a request.
func (i *Identity) requestContext(c *Caller) policy.Context {
	ctx := policy.Context{}
	ctx.SetPrincipal(policy.NewPrincipal(c.Principal, c.Principal.RoleARN))
	ctx.SetTime(i.now())
	ctx.SetBool(policy.KeySecureTransport, c.SecureTransport)
	if c.SourceIP != "" {
		ctx.Set(policy.KeySourceIP, c.SourceIP)
	}
	if c.Region != "" {
		ctx.Set(policy.KeyRequestedRegion, c.Region)
	}
	return ctx
}

func internal(err error) error {
	var ke *kms.Error
	if errors.As(err, &ke) {
		return err
	}
	return kms.Internal(err)
}

func noSuchUser(name string) error {
	return kms.Errorf(ErrNoSuchEntity, "The user with name %s cannot be found.", name)
}

func noSuchRole(name string) error {
	return kms.Errorf(ErrNoSuchEntity, "The role with name %s cannot be found.", name)
}

// findUser looks up a user of the caller's account. It returns the user's
// ARN whether or not the user exists, for authorization, and found.
func (i *Identity) findUser(ctx context.Context, c *Caller, name string) (store.User, string, bool, error) {
	u, err := i.store.GetUser(ctx, c.Principal.Account, name)
	if errors.Is(err, store.ErrNotFound) {
		return u, userARN(c.Principal.Account, "/", name), false, nil
	}
	if err != nil {
		return u, "", false, kms.Internal(err)
	}
	return u, userARN(u.Account, u.Path, u.Name), true, nil
}

// authorizedUser resolves and authorizes an operation on a named user, and
// fails with NoSuchEntity if it does not exist.
func (i *Identity) authorizedUser(ctx context.Context, c *Caller, action, name string) (store.User, error) {
	u, arn, found, err := i.findUser(ctx, c, name)
	if err != nil {
		return u, err
	}
	if err := i.authorize(ctx, c, action, arn); err != nil {
		return u, err
	}
	if !found {
		return u, noSuchUser(name)
	}
	return u, nil
}

func (i *Identity) findRole(ctx context.Context, c *Caller, name string) (store.Role, string, bool, error) {
	r, err := i.store.GetRole(ctx, c.Principal.Account, name)
	if errors.Is(err, store.ErrNotFound) {
		return r, roleARN(c.Principal.Account, "/", name), false, nil
	}
	if err != nil {
		return r, "", false, kms.Internal(err)
	}
	return r, roleARN(r.Account, r.Path, r.Name), true, nil
}

func (i *Identity) authorizedRole(ctx context.Context, c *Caller, action, name string) (store.Role, error) {
	r, arn, found, err := i.findRole(ctx, c, name)
	if err != nil {
		return r, err
	}
	if err := i.authorize(ctx, c, action, arn); err != nil {
		return r, err
	}
	if !found {
		return r, noSuchRole(name)
	}
	return r, nil
}

// selfUser names the user an operation defaults to when no UserName is
// given: the caller itself, "" for the account root. Role sessions have no
// user to default to.
func selfUser(c *Caller) (name string, err error) {
	switch c.Principal.Type {
	case kms.PrincipalRoot:
		return "", nil
	case kms.PrincipalUser:
		return c.Principal.Name, nil
	}
	return "", kms.Errorf(ErrValidation, "Must specify userName when calling with non-User credentials")
}

func userOut(u store.User) User {
	return User{Path: pathOrRoot(u.Path), UserName: u.Name, UserID: u.ID, Arn: userARN(u.Account, u.Path, u.Name), CreateDate: Time(u.Created)}
}

func roleOut(r store.Role) Role {
	return Role{
		Path:                     pathOrRoot(r.Path),
		RoleName:                 r.Name,
		RoleID:                   r.ID,
		Arn:                      roleARN(r.Account, r.Path, r.Name),
		CreateDate:               Time(r.Created),
		AssumeRolePolicyDocument: encodeDocument(r.AssumeRolePolicy),
		Description:              r.Description,
		MaxSessionDuration:       r.MaxSessionDuration,
	}
}

// --- users ---

// CreateUser creates an IAM user.
func (i *Identity) CreateUser(ctx context.Context, c *Caller, in *CreateUserInput) (*CreateUserOutput, error) {
	var v validator
	v.str("userName", in.UserName, true, 1, 64, namePattern)
	v.str("path", in.Path, false, 1, 512, pathPattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	u := store.User{Account: c.Principal.Account, Name: in.UserName, ID: uniqueID(userIDPrefix, 17),
		Path: pathOrRoot(in.Path), Created: i.now().UTC()}
	if err := i.authorize(ctx, c, "iam:CreateUser", userARN(u.Account, u.Path, u.Name)); err != nil {
		return nil, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	err := i.store.CreateUser(ctx, u)
	if errors.Is(err, store.ErrExists) {
		return nil, kms.Errorf(ErrEntityAlreadyExists, "User with name %s already exists.", in.UserName)
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	// A user of the same name deleted earlier may have left cached policies.
	i.dropPolicies(ref(u.Account, store.OwnerUser, u.Name))
	return &CreateUserOutput{User: userOut(u)}, nil
}

// GetUser describes a user, by default the caller (the account root too).
func (i *Identity) GetUser(ctx context.Context, c *Caller, in *GetUserInput) (*GetUserOutput, error) {
	var v validator
	v.str("userName", in.UserName, false, 1, 128, namePattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	name := in.UserName
	if name == "" {
		self, err := selfUser(c)
		if err != nil {
			return nil, err
		}
		if self == "" {
			a, err := i.store.GetAccount(ctx, c.Principal.Account)
			if err != nil {
				return nil, kms.Internal(err)
			}
			return &GetUserOutput{User: User{UserID: c.Principal.Account, Arn: kms.RootARN(c.Principal.Account), CreateDate: Time(a.Created)}}, nil
		}
		name = self
	}
	u, err := i.authorizedUser(ctx, c, "iam:GetUser", name)
	if err != nil {
		return nil, err
	}
	return &GetUserOutput{User: userOut(u)}, nil
}

// ListUsers lists the account's users whose path starts with PathPrefix.
func (i *Identity) ListUsers(ctx context.Context, c *Caller, in *ListUsersInput) (*ListUsersOutput, error) {
	var v validator
	v.str("pathPrefix", in.PathPrefix, false, 1, 512, pathPrefixPattern)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	after, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	prefix := pathOrRoot(in.PathPrefix)
	if err := i.authorize(ctx, c, "iam:ListUsers", userARN(c.Principal.Account, prefix, "")); err != nil {
		return nil, err
	}
	users, truncated, err := page(pageSize(in.MaxItems), after,
		func(after string, n int) ([]store.User, error) {
			return i.store.ListUsers(ctx, c.Principal.Account, after, n)
		},
		func(u store.User) (string, bool) { return u.Name, strings.HasPrefix(u.Path, prefix) })
	if err != nil {
		return nil, kms.Internal(err)
	}
	out := &ListUsersOutput{IsTruncated: truncated, Users: List[User]{Members: []User{}}}
	for _, u := range users {
		out.Users.Members = append(out.Users.Members, userOut(u))
	}
	if truncated {
		out.Marker = encodeMarker(users[len(users)-1].Name)
	}
	return out, nil
}

// page collects up to n items after a name from a store listing, keeping
// those keep accepts, and says whether more remain.
func page[T any](n int, after string, list func(after string, n int) ([]T, error), keep func(T) (string, bool)) ([]T, bool, error) {
	var out []T
	for {
		batch, err := list(after, n+1)
		if err != nil {
			return nil, false, err
		}
		for _, it := range batch {
			name, ok := keep(it)
			after = name
			if !ok {
				continue
			}
			if len(out) == n {
				return out, true, nil
			}
			out = append(out, it)
		}
		if len(batch) < n+1 {
			return out, false, nil
		}
	}
}

// Markers are opaque to clients; they hold the name key to continue after.
func encodeMarker(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(store.NameKey(name)))
}

func decodeMarker(m string) (string, error) {
	if m == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || len(b) == 0 {
		return "", kms.Errorf(ErrValidation, "Invalid Marker.")
	}
	return string(b), nil
}

// DeleteUser deletes a user that has no access keys, no inline policies
// and no attached managed policies.
func (i *Identity) DeleteUser(ctx context.Context, c *Caller, in *DeleteUserInput) error {
	var v validator
	v.str("userName", in.UserName, true, 1, 128, namePattern)
	if err := v.err(); err != nil {
		return err
	}
	u, err := i.authorizedUser(ctx, c, "iam:DeleteUser", in.UserName)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	err = i.store.DeleteUser(ctx, u.Account, u.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return noSuchUser(in.UserName)
	case errors.Is(err, store.ErrInUse):
		keys, lerr := i.store.ListAccessKeys(ctx, u.Account, u.Name)
		if lerr == nil && len(keys) > 0 {
			return kms.Errorf(ErrDeleteConflict, "Cannot delete entity, must delete access keys first.")
		}
		return i.policiesConflict(ctx, u.Account, store.OwnerUser, u.Name)
	case err != nil:
		return kms.Internal(err)
	}
	i.invalidate(func() {
		delete(i.policies, ref(u.Account, store.OwnerUser, u.Name))
		for id, cred := range i.creds {
			if cred.Principal.Type == kms.PrincipalUser && cred.Principal.Account == u.Account && cred.Principal.UserID == u.ID {
				delete(i.creds, id)
			}
		}
	})
	return nil
}

// policiesConflict is the DeleteConflict of a user or role that still has
// policies: attached managed policies are named first, as AWS does.
func (i *Identity) policiesConflict(ctx context.Context, account string, kind store.OwnerKind, name string) error {
	if as, err := i.store.ListAttachedPolicies(ctx, account, kind, name); err == nil && len(as) > 0 {
		return kms.Errorf(ErrDeleteConflict, "Cannot delete entity, must detach all policies first.")
	}
	return kms.Errorf(ErrDeleteConflict, "Cannot delete entity, must delete policies first.")
}

// --- access keys ---

// keyOwner resolves the user an access key operation is about: UserName,
// or the caller. root is true for the account root's own keys.
func (i *Identity) keyOwner(ctx context.Context, c *Caller, action, userName string) (u store.User, root bool, err error) {
	if userName == "" {
		self, err := selfUser(c)
		if err != nil {
			return u, false, err
		}
		if self == "" {
			return u, true, nil
		}
		userName = self
	}
	u, err = i.authorizedUser(ctx, c, action, userName)
	return u, false, err
}

func keyOwnerName(u store.User, root bool) string {
	if root {
		return ""
	}
	return u.Name
}

// CreateAccessKey creates an access key for a user (or the account root),
// at most two per user.
func (i *Identity) CreateAccessKey(ctx context.Context, c *Caller, in *CreateAccessKeyInput) (*CreateAccessKeyOutput, error) {
	var v validator
	v.str("userName", in.UserName, false, 1, 128, namePattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, root, err := i.keyOwner(ctx, c, "iam:CreateAccessKey", in.UserName)
	if err != nil {
		return nil, err
	}
	owner := keyOwnerName(u, root)
	i.mu.Lock()
	defer i.mu.Unlock()
	unlock, err := i.lockAccount(ctx, c.Principal.Account)
	if err != nil {
		return nil, kms.Internal(err)
	}
	defer unlock()
	keys, err := i.store.ListAccessKeys(ctx, c.Principal.Account, owner)
	if err != nil {
		return nil, kms.Internal(err)
	}
	if len(keys) >= maxAccessKeysPerUser {
		return nil, kms.Errorf(ErrLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeysPerUser)
	}
	id, secret := NewAccessKey()
	release := i.sealer.Hold() // from sealing until stored
	defer release()
	sealed, err := i.sealer.Seal([]byte(secret), accessKeyAAD(id))
	if err != nil {
		return nil, kms.Internal(err)
	}
	principalARN := kms.RootARN(c.Principal.Account)
	if !root {
		principalARN = userARN(u.Account, u.Path, u.Name)
	}
	ak := store.AccessKey{ID: id, Account: c.Principal.Account, PrincipalARN: principalARN, SealedSecret: sealed,
		Active: true, Created: i.now().UTC(), UserName: owner}
	err = i.store.PutAccessKey(ctx, ak)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchUser(u.Name) // deleted meanwhile
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	i.log.Info("access key created", "account", ak.Account, "user", owner, "access_key_id", id)
	return &CreateAccessKeyOutput{AccessKey: AccessKey{UserName: owner, AccessKeyID: id, Status: StatusActive,
		SecretAccessKey: secret, CreateDate: Time(ak.Created)}}, nil
}

// ListAccessKeys lists the access keys of a user (or the account root).
func (i *Identity) ListAccessKeys(ctx context.Context, c *Caller, in *ListAccessKeysInput) (*ListAccessKeysOutput, error) {
	var v validator
	v.str("userName", in.UserName, false, 1, 128, namePattern)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	after, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	u, root, err := i.keyOwner(ctx, c, "iam:ListAccessKeys", in.UserName)
	if err != nil {
		return nil, err
	}
	keys, err := i.store.ListAccessKeys(ctx, c.Principal.Account, keyOwnerName(u, root))
	if err != nil {
		return nil, kms.Internal(err)
	}
	out := &ListAccessKeysOutput{AccessKeyMetadata: List[AccessKeyMetadata]{Members: []AccessKeyMetadata{}}}
	n := pageSize(in.MaxItems)
	skipping := after != ""
	for _, k := range keys {
		if skipping {
			skipping = store.NameKey(k.ID) != after
			continue
		}
		if len(out.AccessKeyMetadata.Members) == n {
			out.IsTruncated = true
			out.Marker = encodeMarker(out.AccessKeyMetadata.Members[n-1].AccessKeyID)
			break
		}
		status := StatusActive
		if !k.Active {
			status = StatusInactive
		}
		out.AccessKeyMetadata.Members = append(out.AccessKeyMetadata.Members,
			AccessKeyMetadata{UserName: k.UserName, AccessKeyID: k.ID, Status: status, CreateDate: Time(k.Created)})
	}
	return out, nil
}

// ownKey finds an access key of the given owner in the caller's account.
func (i *Identity) ownKey(ctx context.Context, c *Caller, id string, u store.User, root bool) (store.AccessKey, error) {
	ak, err := i.store.GetAccessKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil &&
		(ak.Account != c.Principal.Account || store.NameKey(ak.UserName) != store.NameKey(keyOwnerName(u, root))) {
		return ak, kms.Errorf(ErrNoSuchEntity, "The Access Key with id %s cannot be found.", id)
	}
	if err != nil {
		return ak, kms.Internal(err)
	}
	return ak, nil
}

// checkAccessKeyID applies AWS's model constraint on an access key id
// (16-128 word characters), except to a root key pinned in another shape
// (LocalStack's test) of the caller's account: IAM calls on it must reach
// it. Other accounts' callers get the model's answer, as for any id.
func (i *Identity) checkAccessKeyID(ctx context.Context, c *Caller, v *validator, id string) {
	if !accessKeyIDPattern.re.MatchString(id) || len(id) < 16 || len(id) > 128 {
		if CheckPinnedCredentials(id, "x") == nil {
			if ak, err := i.store.GetAccessKey(ctx, id); err == nil && ak.UserName == "" && ak.Account == c.Principal.Account {
				return
			}
		}
	}
	v.str("accessKeyId", id, true, 16, 128, accessKeyIDPattern)
}

// UpdateAccessKey activates or deactivates an access key. A deactivated
// key is refused from the very next request.
func (i *Identity) UpdateAccessKey(ctx context.Context, c *Caller, in *UpdateAccessKeyInput) error {
	var v validator
	v.str("userName", in.UserName, false, 1, 128, namePattern)
	i.checkAccessKeyID(ctx, c, &v, in.AccessKeyID)
	v.enum("status", in.Status, true, StatusActive, StatusInactive)
	if err := v.err(); err != nil {
		return err
	}
	u, root, err := i.keyOwner(ctx, c, "iam:UpdateAccessKey", in.UserName)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	ak, err := i.ownKey(ctx, c, in.AccessKeyID, u, root)
	if err != nil {
		return err
	}
	if err := i.store.SetAccessKeyActive(ctx, ak.ID, in.Status == StatusActive); err != nil {
		return internal(err)
	}
	i.dropCred(ak.ID)
	i.log.Info("access key updated", "account", ak.Account, "user", ak.UserName, "access_key_id", ak.ID, "status", in.Status)
	return nil
}

// DeleteAccessKey deletes an access key; it is refused from the very next
// request.
func (i *Identity) DeleteAccessKey(ctx context.Context, c *Caller, in *DeleteAccessKeyInput) error {
	var v validator
	v.str("userName", in.UserName, false, 1, 128, namePattern)
	i.checkAccessKeyID(ctx, c, &v, in.AccessKeyID)
	if err := v.err(); err != nil {
		return err
	}
	u, root, err := i.keyOwner(ctx, c, "iam:DeleteAccessKey", in.UserName)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	ak, err := i.ownKey(ctx, c, in.AccessKeyID, u, root)
	if err != nil {
		return err
	}
	if err := i.store.DeleteAccessKey(ctx, ak.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return kms.Internal(err)
	}
	i.dropCred(ak.ID)
	i.log.Info("access key deleted", "account", ak.Account, "user", ak.UserName, "access_key_id", ak.ID)
	return nil
}

// --- inline policies ---

// policySize is the size IAM counts against its quotas: every character
// but whitespace.
func policySize(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

func malformed(err error) error {
	var pe *policy.ParseError
	if errors.As(err, &pe) {
		return kms.Errorf(ErrMalformedPolicyDocument, "%s", pe.Message)
	}
	return kms.Internal(err)
}

// putPolicy stores an inline policy of a user or role, within the
// aggregate size quota of its owner.
func (i *Identity) putPolicy(ctx context.Context, account string, kind store.OwnerKind, owner, name, doc string) error {
	if _, err := policy.Parse(doc, policy.IdentityPolicy); err != nil {
		return malformed(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	unlock, err := i.lockAccount(ctx, account)
	if err != nil {
		return kms.Internal(err)
	}
	defer unlock()
	existing, err := i.store.ListPolicies(ctx, account, kind, owner)
	if err != nil {
		return kms.Internal(err)
	}
	size := policySize(doc)
	for _, p := range existing {
		if store.NameKey(p.Name) != store.NameKey(name) {
			size += policySize(p.Document)
		}
	}
	limit := maxUserPolicyBytes
	if kind == store.OwnerRole {
		limit = maxRolePolicyBytes
	}
	if size > limit {
		return kms.Errorf(ErrLimitExceeded, "Maximum policy size of %d bytes exceeded for %s %s", limit, kind, owner)
	}
	err = i.store.PutPolicy(ctx, store.Policy{Account: account, OwnerKind: kind, Owner: owner, Name: name, Document: doc})
	if errors.Is(err, store.ErrNotFound) {
		if kind == store.OwnerRole {
			return noSuchRole(owner)
		}
		return noSuchUser(owner)
	}
	if err != nil {
		return kms.Internal(err)
	}
	i.dropPolicies(ref(account, kind, owner))
	return nil
}

func (i *Identity) getPolicy(ctx context.Context, account string, kind store.OwnerKind, owner, name string) (store.Policy, error) {
	p, err := i.store.GetPolicy(ctx, account, kind, owner, name)
	if errors.Is(err, store.ErrNotFound) {
		return p, kms.Errorf(ErrNoSuchEntity, "The %s policy with name %s cannot be found.", kind, name)
	}
	if err != nil {
		return p, kms.Internal(err)
	}
	return p, nil
}

func (i *Identity) deletePolicy(ctx context.Context, account string, kind store.OwnerKind, owner, name string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	err := i.store.DeletePolicy(ctx, account, kind, owner, name)
	if errors.Is(err, store.ErrNotFound) {
		return kms.Errorf(ErrNoSuchEntity, "The %s policy with name %s cannot be found.", kind, name)
	}
	if err != nil {
		return kms.Internal(err)
	}
	i.dropPolicies(ref(account, kind, owner))
	return nil
}

func (i *Identity) listPolicies(ctx context.Context, account string, kind store.OwnerKind, owner, marker string, maxItems *int) (*ListPoliciesOutput, error) {
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, err
	}
	ps, err := i.store.ListPolicies(ctx, account, kind, owner)
	if err != nil {
		return nil, kms.Internal(err)
	}
	out := &ListPoliciesOutput{PolicyNames: List[string]{Members: []string{}}}
	n := pageSize(maxItems)
	for _, p := range ps {
		if after != "" && store.NameKey(p.Name) <= after {
			continue
		}
		if len(out.PolicyNames.Members) == n {
			out.IsTruncated = true
			out.Marker = encodeMarker(out.PolicyNames.Members[n-1])
			break
		}
		out.PolicyNames.Members = append(out.PolicyNames.Members, p.Name)
	}
	return out, nil
}

// PutUserPolicy creates or replaces an inline policy of a user.
func (i *Identity) PutUserPolicy(ctx context.Context, c *Caller, in *PutUserPolicyInput) error {
	var v validator
	v.str("userName", in.UserName, true, 1, 128, namePattern)
	v.str("policyName", in.PolicyName, true, 1, 128, namePattern)
	v.doc("policyDocument", in.PolicyDocument)
	if err := v.err(); err != nil {
		return err
	}
	u, err := i.authorizedUser(ctx, c, "iam:PutUserPolicy", in.UserName)
	if err != nil {
		return err
	}
	return i.putPolicy(ctx, u.Account, store.OwnerUser, u.Name, in.PolicyName, in.PolicyDocument)
}

// GetUserPolicy returns an inline policy of a user.
func (i *Identity) GetUserPolicy(ctx context.Context, c *Caller, in *GetUserPolicyInput) (*GetUserPolicyOutput, error) {
	var v validator
	v.str("userName", in.UserName, true, 1, 128, namePattern)
	v.str("policyName", in.PolicyName, true, 1, 128, namePattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, err := i.authorizedUser(ctx, c, "iam:GetUserPolicy", in.UserName)
	if err != nil {
		return nil, err
	}
	p, err := i.getPolicy(ctx, u.Account, store.OwnerUser, u.Name, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &GetUserPolicyOutput{UserName: u.Name, PolicyName: p.Name, PolicyDocument: encodeDocument(p.Document)}, nil
}

// ListUserPolicies lists the names of a user's inline policies.
func (i *Identity) ListUserPolicies(ctx context.Context, c *Caller, in *ListUserPoliciesInput) (*ListPoliciesOutput, error) {
	var v validator
	v.str("userName", in.UserName, true, 1, 128, namePattern)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, err := i.authorizedUser(ctx, c, "iam:ListUserPolicies", in.UserName)
	if err != nil {
		return nil, err
	}
	return i.listPolicies(ctx, u.Account, store.OwnerUser, u.Name, in.Marker, in.MaxItems)
}

// DeleteUserPolicy deletes an inline policy of a user; what it allowed is
// refused from the very next request.
func (i *Identity) DeleteUserPolicy(ctx context.Context, c *Caller, in *DeleteUserPolicyInput) error {
	var v validator
	v.str("userName", in.UserName, true, 1, 128, namePattern)
	v.str("policyName", in.PolicyName, true, 1, 128, namePattern)
	if err := v.err(); err != nil {
		return err
	}
	u, err := i.authorizedUser(ctx, c, "iam:DeleteUserPolicy", in.UserName)
	if err != nil {
		return err
	}
	return i.deletePolicy(ctx, u.Account, store.OwnerUser, u.Name, in.PolicyName)
}

// PutRolePolicy creates or replaces an inline policy of a role.
func (i *Identity) PutRolePolicy(ctx context.Context, c *Caller, in *PutRolePolicyInput) error {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	v.str("policyName", in.PolicyName, true, 1, 128, namePattern)
	v.doc("policyDocument", in.PolicyDocument)
	if err := v.err(); err != nil {
		return err
	}
	r, err := i.authorizedRole(ctx, c, "iam:PutRolePolicy", in.RoleName)
	if err != nil {
		return err
	}
	if err := unmodifiable(r); err != nil {
		return err
	}
	return i.putPolicy(ctx, r.Account, store.OwnerRole, r.Name, in.PolicyName, in.PolicyDocument)
}

// GetRolePolicy returns an inline policy of a role.
func (i *Identity) GetRolePolicy(ctx context.Context, c *Caller, in *GetRolePolicyInput) (*GetRolePolicyOutput, error) {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	v.str("policyName", in.PolicyName, true, 1, 128, namePattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	r, err := i.authorizedRole(ctx, c, "iam:GetRolePolicy", in.RoleName)
	if err != nil {
		return nil, err
	}
	p, err := i.getPolicy(ctx, r.Account, store.OwnerRole, r.Name, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &GetRolePolicyOutput{RoleName: r.Name, PolicyName: p.Name, PolicyDocument: encodeDocument(p.Document)}, nil
}

// ListRolePolicies lists the names of a role's inline policies.
func (i *Identity) ListRolePolicies(ctx context.Context, c *Caller, in *ListRolePoliciesInput) (*ListPoliciesOutput, error) {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	r, err := i.authorizedRole(ctx, c, "iam:ListRolePolicies", in.RoleName)
	if err != nil {
		return nil, err
	}
	return i.listPolicies(ctx, r.Account, store.OwnerRole, r.Name, in.Marker, in.MaxItems)
}

// DeleteRolePolicy deletes an inline policy of a role.
func (i *Identity) DeleteRolePolicy(ctx context.Context, c *Caller, in *DeleteRolePolicyInput) error {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	v.str("policyName", in.PolicyName, true, 1, 128, namePattern)
	if err := v.err(); err != nil {
		return err
	}
	r, err := i.authorizedRole(ctx, c, "iam:DeleteRolePolicy", in.RoleName)
	if err != nil {
		return err
	}
	return i.deletePolicy(ctx, r.Account, store.OwnerRole, r.Name, in.PolicyName)
}

// --- roles ---

// checkTrustPolicy validates a role's trust policy.
func checkTrustPolicy(doc string) error {
	if _, err := policy.Parse(doc, policy.TrustPolicy); err != nil {
		return malformed(err)
	}
	if policySize(doc) > maxTrustPolicyBytes {
		return kms.Errorf(ErrLimitExceeded, "Cannot exceed quota for ACLSizePerRole: %d", maxTrustPolicyBytes)
	}
	return nil
}

// CreateRole creates an IAM role with its trust policy.
func (i *Identity) CreateRole(ctx context.Context, c *Caller, in *CreateRoleInput) (*CreateRoleOutput, error) {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	v.str("path", in.Path, false, 1, 512, pathPattern)
	v.doc("assumeRolePolicyDocument", in.AssumeRolePolicyDocument)
	v.str("description", in.Description, false, 0, 1000, descriptionPattern)
	v.num("maxSessionDuration", in.MaxSessionDuration, 3600, 43200)
	if err := v.err(); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.Path, kms.ServiceLinkedRolePath) {
		// Such a path is what makes a role's sessions act as a service.
		return nil, kms.Errorf(ErrInvalidInput, "Path prefix '%s' can only be used for AWS Service linked Roles", kms.ServiceLinkedRolePath)
	}
	r := store.Role{Account: c.Principal.Account, Name: in.RoleName, ID: uniqueID(roleIDPrefix, 17), Path: pathOrRoot(in.Path),
		AssumeRolePolicy: in.AssumeRolePolicyDocument, MaxSessionDuration: defaultSessionMaxSecs,
		Description: in.Description, Created: i.now().UTC()}
	if in.MaxSessionDuration != nil {
		r.MaxSessionDuration = *in.MaxSessionDuration
	}
	if err := i.authorize(ctx, c, "iam:CreateRole", roleARN(r.Account, r.Path, r.Name)); err != nil {
		return nil, err
	}
	if err := checkTrustPolicy(in.AssumeRolePolicyDocument); err != nil {
		return nil, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	err := i.store.CreateRole(ctx, r)
	if errors.Is(err, store.ErrExists) {
		return nil, kms.Errorf(ErrEntityAlreadyExists, "Role with name %s already exists.", in.RoleName)
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	i.dropRole(ref(r.Account, store.OwnerRole, r.Name))
	return &CreateRoleOutput{Role: roleOut(r)}, nil
}

// GetRole describes a role.
func (i *Identity) GetRole(ctx context.Context, c *Caller, in *GetRoleInput) (*GetRoleOutput, error) {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	r, err := i.authorizedRole(ctx, c, "iam:GetRole", in.RoleName)
	if err != nil {
		return nil, err
	}
	return &GetRoleOutput{Role: roleOut(r)}, nil
}

// ListRoles lists the account's roles whose path starts with PathPrefix.
func (i *Identity) ListRoles(ctx context.Context, c *Caller, in *ListRolesInput) (*ListRolesOutput, error) {
	var v validator
	v.str("pathPrefix", in.PathPrefix, false, 1, 512, pathPrefixPattern)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	after, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	prefix := pathOrRoot(in.PathPrefix)
	if err := i.authorize(ctx, c, "iam:ListRoles", roleARN(c.Principal.Account, prefix, "")); err != nil {
		return nil, err
	}
	roles, truncated, err := page(pageSize(in.MaxItems), after,
		func(after string, n int) ([]store.Role, error) {
			return i.store.ListRoles(ctx, c.Principal.Account, after, n)
		},
		func(r store.Role) (string, bool) { return r.Name, strings.HasPrefix(r.Path, prefix) })
	if err != nil {
		return nil, kms.Internal(err)
	}
	out := &ListRolesOutput{IsTruncated: truncated, Roles: List[Role]{Members: []Role{}}}
	for _, r := range roles {
		out.Roles.Members = append(out.Roles.Members, roleOut(r))
	}
	if truncated {
		out.Marker = encodeMarker(roles[len(roles)-1].Name)
	}
	return out, nil
}

// DeleteRole deletes a role that has no inline policies and no attached
// managed policies. Its sessions are refused from the very next request.
func (i *Identity) DeleteRole(ctx context.Context, c *Caller, in *DeleteRoleInput) error {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	if err := v.err(); err != nil {
		return err
	}
	r, err := i.authorizedRole(ctx, c, "iam:DeleteRole", in.RoleName)
	if err != nil {
		return err
	}
	if err := unmodifiable(r); err != nil {
		return err
	}
	return i.deleteRole(ctx, r)
}

// deleteRole deletes a role and ends its sessions.
func (i *Identity) deleteRole(ctx context.Context, r store.Role) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	err := i.store.DeleteRole(ctx, r.Account, r.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return noSuchRole(r.Name)
	case errors.Is(err, store.ErrInUse):
		return i.policiesConflict(ctx, r.Account, store.OwnerRole, r.Name)
	case err != nil:
		return kms.Internal(err)
	}
	i.invalidate(func() {
		delete(i.roles, ref(r.Account, store.OwnerRole, r.Name))
		delete(i.policies, ref(r.Account, store.OwnerRole, r.Name))
		for id, s := range i.sessions {
			if s.sess.Account == r.Account && s.sess.RoleID == r.ID {
				delete(i.sessions, id)
			}
		}
	})
	return nil
}

// UpdateAssumeRolePolicy replaces a role's trust policy.
func (i *Identity) UpdateAssumeRolePolicy(ctx context.Context, c *Caller, in *UpdateAssumeRolePolicyInput) error {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	v.doc("policyDocument", in.PolicyDocument)
	if err := v.err(); err != nil {
		return err
	}
	r, err := i.authorizedRole(ctx, c, "iam:UpdateAssumeRolePolicy", in.RoleName)
	if err != nil {
		return err
	}
	if err := unmodifiable(r); err != nil {
		return err
	}
	if err := checkTrustPolicy(in.PolicyDocument); err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	err = i.store.UpdateAssumeRolePolicy(ctx, r.Account, r.Name, in.PolicyDocument)
	if errors.Is(err, store.ErrNotFound) {
		return noSuchRole(in.RoleName)
	}
	if err != nil {
		return kms.Internal(err)
	}
	i.dropRole(ref(r.Account, store.OwnerRole, r.Name))
	return nil
}

// lockAccount takes the cluster-wide lock of an account's IAM changes when
// the store is shared by several nodes (store.AccountLocker); i.mu is
// enough for one process.
func (i *Identity) lockAccount(ctx context.Context, account string) (unlock func(), err error) {
	if l, ok := i.store.(store.AccountLocker); ok {
		return l.LockAccount(ctx, account)
	}
	return func() {}, nil
}
