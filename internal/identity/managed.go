package identity

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/store"
)

// Customer managed policies: named identity policies of an account, with
// up to five versions, attached to users and roles. The default version of
// every policy attached to a user or role joins its inline policies when a
// request is authorized (Identity.Policies). AWS managed policies
// (arn:aws:iam::aws:policy/...) do not exist here: they are NoSuchEntity.

const (
	policyIDPrefix        = "ANPA"
	maxPolicyVersions     = 5
	maxManagedPolicyBytes = 6144
	maxAttachedPolicies   = 10 // per user and per role: AWS's default quota
)

func policyARN(account, path, name string) string {
	return "arn:" + kms.Partition + ":iam::" + account + ":policy" + pathOrRoot(path) + name
}

// parsePolicyARN splits arn:aws:iam::ACCOUNT:policy/PATH/NAME; ACCOUNT is
// "aws" for AWS managed policies.
func parsePolicyARN(arn string) (account, path, name string, ok bool) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] != kms.Partition || p[2] != "iam" || p[3] != "" ||
		!validAccountID(p[4]) && p[4] != "aws" {
		return "", "", "", false
	}
	rest, ok := strings.CutPrefix(p[5], "policy/")
	if !ok {
		return "", "", "", false
	}
	j := strings.LastIndexByte(rest, '/')
	path, name = "/"+rest[:j+1], rest[j+1:]
	if !namePattern.re.MatchString(name) || len(name) > 128 || len(path) > 512 || !policyPathPattern.re.MatchString(path) {
		return "", "", "", false
	}
	return p[4], path, name, true
}

// versionNumber parses a version id that this server gives (v1, v2, ...).
func versionNumber(id string) (int, bool) {
	s, ok := strings.CutPrefix(id, "v")
	n, err := strconv.Atoi(s)
	return n, ok && err == nil && n > 0 && strconv.Itoa(n) == s
}

func versionID(n int) string { return "v" + strconv.Itoa(n) }

func noSuchPolicy(arn string) error {
	return kms.Errorf(ErrNoSuchEntity, "Policy %s was not found.", arn)
}

func notAttachable(arn string) error {
	return kms.Errorf(ErrNoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
}

func noSuchVersion(arn, version string) error {
	return kms.Errorf(ErrNoSuchEntity, "Policy %s version %s does not exist or is not attachable.", arn, version)
}

// findPolicy resolves a policy ARN to a managed policy of the caller's
// account, and says whether it exists: the ARN must name it by its path,
// and its name in any case. An ARN that is not a policy's is InvalidInput.
func (i *Identity) findPolicy(ctx context.Context, c *Caller, arn string) (store.ManagedPolicy, bool, error) {
	account, path, name, ok := parsePolicyARN(arn)
	if !ok {
		return store.ManagedPolicy{}, false, kms.Errorf(ErrInvalidInput, "ARN %s is not valid.", arn)
	}
	if account != c.Principal.Account {
		return store.ManagedPolicy{}, false, nil
	}
	p, err := i.store.GetManagedPolicy(ctx, account, name)
	if errors.Is(err, store.ErrNotFound) {
		return p, false, nil
	}
	if err != nil {
		return p, false, kms.Internal(err)
	}
	return p, p.Path == path, nil
}

// authorizedPolicy resolves and authorizes an operation on a managed
// policy, and fails with NoSuchEntity if it does not exist.
func (i *Identity) authorizedPolicy(ctx context.Context, c *Caller, action, arn string) (store.ManagedPolicy, error) {
	p, found, err := i.findPolicy(ctx, c, arn)
	if err != nil {
		return p, err
	}
	if err := i.authorize(ctx, c, action, arn); err != nil {
		return p, err
	}
	if !found {
		return p, noSuchPolicy(arn)
	}
	return p, nil
}

func managedOut(p store.ManagedPolicy, description bool) ManagedPolicy {
	out := ManagedPolicy{
		PolicyName:       p.Name,
		PolicyID:         p.ID,
		Arn:              policyARN(p.Account, p.Path, p.Name),
		Path:             pathOrRoot(p.Path),
		DefaultVersionID: versionID(p.DefaultVersion),
		AttachmentCount:  p.AttachmentCount,
		IsAttachable:     true,
		CreateDate:       Time(p.Created),
		UpdateDate:       Time(p.Updated),
	}
	if description {
		out.Description = p.Description
	}
	return out
}

// checkManagedDocument validates a managed policy's document.
func checkManagedDocument(doc string) error {
	if _, err := policy.Parse(doc, policy.IdentityPolicy); err != nil {
		return malformed(err)
	}
	if policySize(doc) > maxManagedPolicyBytes {
		return kms.Errorf(ErrLimitExceeded, "Cannot exceed quota for PolicySize: %d", maxManagedPolicyBytes)
	}
	return nil
}

// dropAllPolicies empties the cache of identity policies, after a change
// to a managed policy that any number of users and roles may have attached.
func (i *Identity) dropAllPolicies() {
	i.invalidate(func() { clear(i.policies) })
}

// CreatePolicy creates a customer managed policy whose default version is
// v1.
func (i *Identity) CreatePolicy(ctx context.Context, c *Caller, in *CreatePolicyInput) (*PolicyOutput, error) {
	var v validator
	v.str("policyName", in.PolicyName, true, 1, 128, namePattern)
	v.str("path", in.Path, false, 1, 512, policyPathPattern)
	v.doc("policyDocument", in.PolicyDocument)
	v.str("description", in.Description, false, 0, 1000, nil)
	if err := v.err(); err != nil {
		return nil, err
	}
	now := i.now().UTC()
	p := store.ManagedPolicy{Account: c.Principal.Account, Name: in.PolicyName, ID: uniqueID(policyIDPrefix, 17),
		Path: pathOrRoot(in.Path), Description: in.Description, DefaultVersion: 1, LatestVersion: 1, Created: now, Updated: now}
	if err := i.authorize(ctx, c, "iam:CreatePolicy", policyARN(p.Account, p.Path, p.Name)); err != nil {
		return nil, err
	}
	if err := checkManagedDocument(in.PolicyDocument); err != nil {
		return nil, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	err := i.store.CreateManagedPolicy(ctx, p, []store.PolicyVersion{{Number: 1, Document: in.PolicyDocument, Created: now}})
	if errors.Is(err, store.ErrExists) {
		return nil, kms.Errorf(ErrEntityAlreadyExists, "A policy called %s already exists. Duplicate names are not allowed.", in.PolicyName)
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	return &PolicyOutput{Policy: managedOut(p, true)}, nil
}

func validatePolicyARN(v *validator, arn string) {
	v.str("policyArn", arn, true, 20, 2048, nil)
}

// GetPolicy describes a managed policy.
func (i *Identity) GetPolicy(ctx context.Context, c *Caller, in *PolicyArnInput) (*PolicyOutput, error) {
	var v validator
	validatePolicyARN(&v, in.PolicyArn)
	if err := v.err(); err != nil {
		return nil, err
	}
	p, err := i.authorizedPolicy(ctx, c, "iam:GetPolicy", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	return &PolicyOutput{Policy: managedOut(p, true)}, nil
}

// DeletePolicy deletes a managed policy that is attached to nothing and
// has no version but its default.
func (i *Identity) DeletePolicy(ctx context.Context, c *Caller, in *PolicyArnInput) error {
	var v validator
	validatePolicyARN(&v, in.PolicyArn)
	if err := v.err(); err != nil {
		return err
	}
	p, err := i.authorizedPolicy(ctx, c, "iam:DeletePolicy", in.PolicyArn)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	err = i.store.DeleteManagedPolicy(ctx, p.Account, p.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return noSuchPolicy(in.PolicyArn)
	case errors.Is(err, store.ErrInUse):
		if now, gerr := i.store.GetManagedPolicy(ctx, p.Account, p.Name); gerr == nil && now.AttachmentCount > 0 {
			return kms.Errorf(ErrDeleteConflict, "Cannot delete a policy attached to entities.")
		}
		return kms.Errorf(ErrDeleteConflict, "This policy has more than one version. Before you delete a policy, "+
			"you must delete the policy's versions. The default version is deleted with the policy.")
	case err != nil:
		return kms.Internal(err)
	}
	return nil
}

// ListPolicies lists the account's managed policies. AWS managed policies
// (Scope AWS) and permissions boundaries are none.
func (i *Identity) ListPolicies(ctx context.Context, c *Caller, in *ListManagedPoliciesInput) (*ListManagedPoliciesOutput, error) {
	var v validator
	v.enum("scope", in.Scope, false, "All", "AWS", "Local")
	v.enum("onlyAttached", in.OnlyAttached, false, "true", "false")
	v.str("pathPrefix", in.PathPrefix, false, 1, 512, pathPrefixPattern)
	v.enum("policyUsageFilter", in.PolicyUsageFilter, false, "PermissionsPolicy", "PermissionsBoundary")
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	after, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	if err := i.authorize(ctx, c, "iam:ListPolicies", "*"); err != nil {
		return nil, err
	}
	out := &ListManagedPoliciesOutput{Policies: List[ManagedPolicy]{Members: []ManagedPolicy{}}}
	if in.Scope == "AWS" || in.PolicyUsageFilter == "PermissionsBoundary" {
		return out, nil
	}
	prefix := pathOrRoot(in.PathPrefix)
	ps, truncated, err := page(pageSize(in.MaxItems), after,
		func(after string, n int) ([]store.ManagedPolicy, error) {
			return i.store.ListManagedPolicies(ctx, c.Principal.Account, after, n)
		},
		func(p store.ManagedPolicy) (string, bool) {
			return p.Name, strings.HasPrefix(p.Path, prefix) && (in.OnlyAttached != "true" || p.AttachmentCount > 0)
		})
	if err != nil {
		return nil, kms.Internal(err)
	}
	for _, p := range ps {
		out.Policies.Members = append(out.Policies.Members, managedOut(p, false))
	}
	out.IsTruncated = truncated
	if truncated {
		out.Marker = encodeMarker(ps[len(ps)-1].Name)
	}
	return out, nil
}

// CreatePolicyVersion adds a version to a managed policy, at most five.
func (i *Identity) CreatePolicyVersion(ctx context.Context, c *Caller, in *CreatePolicyVersionInput) (*PolicyVersionOutput, error) {
	var v validator
	validatePolicyARN(&v, in.PolicyArn)
	v.doc("policyDocument", in.PolicyDocument)
	v.enum("setAsDefault", in.SetAsDefault, false, "true", "false")
	if err := v.err(); err != nil {
		return nil, err
	}
	p, err := i.authorizedPolicy(ctx, c, "iam:CreatePolicyVersion", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	if err := checkManagedDocument(in.PolicyDocument); err != nil {
		return nil, err
	}
	setDefault := in.SetAsDefault == "true"
	i.mu.Lock()
	defer i.mu.Unlock()
	unlock, err := i.lockAccount(ctx, p.Account)
	if err != nil {
		return nil, kms.Internal(err)
	}
	defer unlock()
	versions, err := i.store.ListPolicyVersions(ctx, p.Account, p.Name)
	if err != nil {
		return nil, kms.Internal(err)
	}
	if len(versions) >= maxPolicyVersions {
		return nil, kms.Errorf(ErrLimitExceeded, "A managed policy can have up to %d versions. "+
			"Before you create a new version, you must delete an existing version.", maxPolicyVersions)
	}
	pv, err := i.store.AddPolicyVersion(ctx, p.Account, p.Name,
		store.PolicyVersion{Document: in.PolicyDocument, Created: i.now().UTC()}, setDefault)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchPolicy(in.PolicyArn) // deleted meanwhile
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	if setDefault {
		i.dropAllPolicies()
	}
	return &PolicyVersionOutput{PolicyVersion: PolicyVersion{VersionID: versionID(pv.Number),
		IsDefaultVersion: setDefault, CreateDate: Time(pv.Created)}}, nil
}

// policyVersion resolves and authorizes an operation on one version.
func (i *Identity) policyVersion(ctx context.Context, c *Caller, action string, in *PolicyVersionInput) (store.ManagedPolicy, int, error) {
	var v validator
	validatePolicyARN(&v, in.PolicyArn)
	v.str("versionId", in.VersionID, true, 0, 128, versionIDPattern)
	if err := v.err(); err != nil {
		return store.ManagedPolicy{}, 0, err
	}
	p, err := i.authorizedPolicy(ctx, c, action, in.PolicyArn)
	if err != nil {
		return p, 0, err
	}
	n, ok := versionNumber(in.VersionID)
	if !ok {
		return p, 0, noSuchVersion(in.PolicyArn, in.VersionID)
	}
	return p, n, nil
}

// GetPolicyVersion returns a version of a managed policy, its document
// URL-encoded as AWS returns it.
func (i *Identity) GetPolicyVersion(ctx context.Context, c *Caller, in *PolicyVersionInput) (*PolicyVersionOutput, error) {
	p, n, err := i.policyVersion(ctx, c, "iam:GetPolicyVersion", in)
	if err != nil {
		return nil, err
	}
	pv, err := i.store.GetPolicyVersion(ctx, p.Account, p.Name, n)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchVersion(in.PolicyArn, in.VersionID)
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	return &PolicyVersionOutput{PolicyVersion: PolicyVersion{Document: encodeDocument(pv.Document),
		VersionID: versionID(pv.Number), IsDefaultVersion: pv.Number == p.DefaultVersion, CreateDate: Time(pv.Created)}}, nil
}

// DeletePolicyVersion deletes a version of a managed policy other than its
// default.
func (i *Identity) DeletePolicyVersion(ctx context.Context, c *Caller, in *PolicyVersionInput) error {
	p, n, err := i.policyVersion(ctx, c, "iam:DeletePolicyVersion", in)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	err = i.store.DeletePolicyVersion(ctx, p.Account, p.Name, n)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return noSuchVersion(in.PolicyArn, in.VersionID)
	case errors.Is(err, store.ErrInUse):
		return kms.Errorf(ErrDeleteConflict, "Cannot delete the default version of a policy.")
	case err != nil:
		return kms.Internal(err)
	}
	return nil
}

// SetDefaultPolicyVersion makes a version of a managed policy the one in
// force, from the very next request.
func (i *Identity) SetDefaultPolicyVersion(ctx context.Context, c *Caller, in *PolicyVersionInput) error {
	p, n, err := i.policyVersion(ctx, c, "iam:SetDefaultPolicyVersion", in)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	err = i.store.SetDefaultPolicyVersion(ctx, p.Account, p.Name, n, i.now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return noSuchVersion(in.PolicyArn, in.VersionID)
	}
	if err != nil {
		return kms.Internal(err)
	}
	i.dropAllPolicies()
	return nil
}

// ListPolicyVersions lists the versions of a managed policy, newest first.
func (i *Identity) ListPolicyVersions(ctx context.Context, c *Caller, in *ListPolicyVersionsInput) (*ListPolicyVersionsOutput, error) {
	var v validator
	validatePolicyARN(&v, in.PolicyArn)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	after, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	p, err := i.authorizedPolicy(ctx, c, "iam:ListPolicyVersions", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	vs, err := i.store.ListPolicyVersions(ctx, p.Account, p.Name)
	if err != nil {
		return nil, kms.Internal(err)
	}
	below, _ := versionNumber(after) // 0 when there is no marker
	out := &ListPolicyVersionsOutput{Versions: List[PolicyVersion]{Members: []PolicyVersion{}}}
	n := pageSize(in.MaxItems)
	for _, pv := range vs {
		if below > 0 && pv.Number >= below {
			continue
		}
		if len(out.Versions.Members) == n {
			out.IsTruncated = true
			out.Marker = encodeMarker(out.Versions.Members[n-1].VersionID)
			break
		}
		out.Versions.Members = append(out.Versions.Members, PolicyVersion{VersionID: versionID(pv.Number),
			IsDefaultVersion: pv.Number == p.DefaultVersion, CreateDate: Time(pv.Created)})
	}
	return out, nil
}

// --- attachments ---

// attach attaches a managed policy to a user or role, at most
// maxAttachedPolicies each; attaching it again changes nothing.
func (i *Identity) attach(ctx context.Context, c *Caller, kind store.OwnerKind, owner, arn string) error {
	p, found, err := i.findPolicy(ctx, c, arn)
	if err != nil {
		return err
	}
	if !found {
		return notAttachable(arn)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	unlock, err := i.lockAccount(ctx, p.Account)
	if err != nil {
		return kms.Internal(err)
	}
	defer unlock()
	attached, err := i.store.ListAttachedPolicies(ctx, p.Account, kind, owner)
	if err != nil {
		return kms.Internal(err)
	}
	for _, a := range attached {
		if store.NameKey(a.Policy.Name) == store.NameKey(p.Name) {
			return nil
		}
	}
	if len(attached) >= maxAttachedPolicies {
		quota := "PoliciesPerUser"
		if kind == store.OwnerRole {
			quota = "PoliciesPerRole"
		}
		return kms.Errorf(ErrLimitExceeded, "Cannot exceed quota for %s: %d", quota, maxAttachedPolicies)
	}
	err = i.store.AttachPolicy(ctx, p.Account, kind, owner, p.Name)
	if errors.Is(err, store.ErrNotFound) {
		// The owner or the policy was deleted meanwhile.
		if kind == store.OwnerRole {
			if _, gerr := i.store.GetRole(ctx, p.Account, owner); errors.Is(gerr, store.ErrNotFound) {
				return noSuchRole(owner)
			}
		} else if _, gerr := i.store.GetUser(ctx, p.Account, owner); errors.Is(gerr, store.ErrNotFound) {
			return noSuchUser(owner)
		}
		return notAttachable(arn)
	}
	if err != nil {
		return kms.Internal(err)
	}
	i.dropPolicies(ref(p.Account, kind, owner))
	return nil
}

// detach detaches a managed policy from a user or role; what it allowed is
// refused from the very next request.
func (i *Identity) detach(ctx context.Context, c *Caller, kind store.OwnerKind, owner, arn string) error {
	p, found, err := i.findPolicy(ctx, c, arn)
	if err != nil {
		return err
	}
	if !found {
		return noSuchPolicy(arn)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	err = i.store.DetachPolicy(ctx, p.Account, kind, owner, p.Name)
	if errors.Is(err, store.ErrNotFound) {
		return noSuchPolicy(arn)
	}
	if err != nil {
		return kms.Internal(err)
	}
	i.dropPolicies(ref(p.Account, kind, owner))
	return nil
}

// AttachUserPolicy attaches a managed policy to a user.
func (i *Identity) AttachUserPolicy(ctx context.Context, c *Caller, in *UserPolicyInput) error {
	u, err := i.userPolicy(ctx, c, "iam:AttachUserPolicy", in)
	if err != nil {
		return err
	}
	return i.attach(ctx, c, store.OwnerUser, u.Name, in.PolicyArn)
}

// DetachUserPolicy detaches a managed policy from a user.
func (i *Identity) DetachUserPolicy(ctx context.Context, c *Caller, in *UserPolicyInput) error {
	u, err := i.userPolicy(ctx, c, "iam:DetachUserPolicy", in)
	if err != nil {
		return err
	}
	return i.detach(ctx, c, store.OwnerUser, u.Name, in.PolicyArn)
}

// userPolicy resolves and authorizes an attachment or detachment on a
// user: the user is the resource, and iam:PolicyARN names the policy.
func (i *Identity) userPolicy(ctx context.Context, c *Caller, action string, in *UserPolicyInput) (store.User, error) {
	var v validator
	v.str("userName", in.UserName, true, 1, 128, namePattern)
	validatePolicyARN(&v, in.PolicyArn)
	if err := v.err(); err != nil {
		return store.User{}, err
	}
	u, arn, found, err := i.findUser(ctx, c, in.UserName)
	if err != nil {
		return u, err
	}
	if err := i.authorize(ctx, c, action, arn, [2]string{"iam:PolicyARN", in.PolicyArn}); err != nil {
		return u, err
	}
	if !found {
		return u, noSuchUser(in.UserName)
	}
	return u, nil
}

// AttachRolePolicy attaches a managed policy to a role.
func (i *Identity) AttachRolePolicy(ctx context.Context, c *Caller, in *RolePolicyInput) error {
	r, err := i.rolePolicy(ctx, c, "iam:AttachRolePolicy", in)
	if err != nil {
		return err
	}
	if err := unmodifiable(r); err != nil {
		return err
	}
	return i.attach(ctx, c, store.OwnerRole, r.Name, in.PolicyArn)
}

// DetachRolePolicy detaches a managed policy from a role.
func (i *Identity) DetachRolePolicy(ctx context.Context, c *Caller, in *RolePolicyInput) error {
	r, err := i.rolePolicy(ctx, c, "iam:DetachRolePolicy", in)
	if err != nil {
		return err
	}
	return i.detach(ctx, c, store.OwnerRole, r.Name, in.PolicyArn)
}

// rolePolicy is userPolicy for a role.
func (i *Identity) rolePolicy(ctx context.Context, c *Caller, action string, in *RolePolicyInput) (store.Role, error) {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	validatePolicyARN(&v, in.PolicyArn)
	if err := v.err(); err != nil {
		return store.Role{}, err
	}
	r, arn, found, err := i.findRole(ctx, c, in.RoleName)
	if err != nil {
		return r, err
	}
	if err := i.authorize(ctx, c, action, arn, [2]string{"iam:PolicyARN", in.PolicyArn}); err != nil {
		return r, err
	}
	if !found {
		return r, noSuchRole(in.RoleName)
	}
	return r, nil
}

// listAttached pages the policies attached to a user or role whose path
// starts with prefix.
func (i *Identity) listAttached(ctx context.Context, account string, kind store.OwnerKind, owner, prefix, marker string, maxItems *int) (*ListAttachedPoliciesOutput, error) {
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, err
	}
	as, err := i.store.ListAttachedPolicies(ctx, account, kind, owner)
	if err != nil {
		return nil, kms.Internal(err)
	}
	prefix = pathOrRoot(prefix)
	out := &ListAttachedPoliciesOutput{AttachedPolicies: List[AttachedPolicy]{Members: []AttachedPolicy{}}}
	n := pageSize(maxItems)
	last := ""
	for _, a := range as {
		p := a.Policy
		if after != "" && store.NameKey(p.Name) <= after || !strings.HasPrefix(p.Path, prefix) {
			continue
		}
		if len(out.AttachedPolicies.Members) == n {
			out.IsTruncated = true
			out.Marker = encodeMarker(last)
			break
		}
		out.AttachedPolicies.Members = append(out.AttachedPolicies.Members,
			AttachedPolicy{PolicyName: p.Name, PolicyArn: policyARN(p.Account, p.Path, p.Name)})
		last = p.Name
	}
	return out, nil
}

// ListAttachedUserPolicies lists the managed policies attached to a user.
func (i *Identity) ListAttachedUserPolicies(ctx context.Context, c *Caller, in *ListAttachedUserPoliciesInput) (*ListAttachedPoliciesOutput, error) {
	var v validator
	v.str("userName", in.UserName, true, 1, 128, namePattern)
	v.str("pathPrefix", in.PathPrefix, false, 1, 512, pathPrefixPattern)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, err := i.authorizedUser(ctx, c, "iam:ListAttachedUserPolicies", in.UserName)
	if err != nil {
		return nil, err
	}
	return i.listAttached(ctx, u.Account, store.OwnerUser, u.Name, in.PathPrefix, in.Marker, in.MaxItems)
}

// ListAttachedRolePolicies lists the managed policies attached to a role.
func (i *Identity) ListAttachedRolePolicies(ctx context.Context, c *Caller, in *ListAttachedRolePoliciesInput) (*ListAttachedPoliciesOutput, error) {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	v.str("pathPrefix", in.PathPrefix, false, 1, 512, pathPrefixPattern)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	r, err := i.authorizedRole(ctx, c, "iam:ListAttachedRolePolicies", in.RoleName)
	if err != nil {
		return nil, err
	}
	return i.listAttached(ctx, r.Account, store.OwnerRole, r.Name, in.PathPrefix, in.Marker, in.MaxItems)
}

// ListEntitiesForPolicy lists the users and roles a managed policy is
// attached to. There are no groups, and no permissions boundaries.
func (i *Identity) ListEntitiesForPolicy(ctx context.Context, c *Caller, in *ListEntitiesForPolicyInput) (*ListEntitiesForPolicyOutput, error) {
	var v validator
	validatePolicyARN(&v, in.PolicyArn)
	v.enum("entityFilter", in.EntityFilter, false, "User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
	v.str("pathPrefix", in.PathPrefix, false, 1, 512, pathPrefixPattern)
	v.enum("policyUsageFilter", in.PolicyUsageFilter, false, "PermissionsPolicy", "PermissionsBoundary")
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	after, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	p, err := i.authorizedPolicy(ctx, c, "iam:ListEntitiesForPolicy", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	out := &ListEntitiesForPolicyOutput{PolicyGroups: List[struct{}]{Members: []struct{}{}},
		PolicyUsers: List[PolicyUser]{Members: []PolicyUser{}}, PolicyRoles: List[PolicyRole]{Members: []PolicyRole{}}}
	if in.EntityFilter == "Group" || in.EntityFilter == "AWSManagedPolicy" || in.PolicyUsageFilter == "PermissionsBoundary" {
		return out, nil
	}
	ents, err := i.store.ListPolicyAttachments(ctx, p.Account, p.Name)
	if err != nil {
		return nil, kms.Internal(err)
	}
	prefix := pathOrRoot(in.PathPrefix)
	n := pageSize(in.MaxItems)
	last := ""
	for _, e := range ents {
		// Users sort before roles: the marker's key carries the kind.
		key := "1" + store.NameKey(e.Owner)
		if e.OwnerKind == store.OwnerUser {
			key = "0" + store.NameKey(e.Owner)
		}
		if after != "" && key <= after || in.EntityFilter == "User" && e.OwnerKind != store.OwnerUser ||
			in.EntityFilter == "Role" && e.OwnerKind != store.OwnerRole {
			continue
		}
		var path string
		var member func()
		switch e.OwnerKind {
		case store.OwnerUser:
			u, err := i.store.GetUser(ctx, p.Account, e.Owner)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, kms.Internal(err)
			}
			path = u.Path
			member = func() {
				out.PolicyUsers.Members = append(out.PolicyUsers.Members, PolicyUser{UserName: u.Name, UserID: u.ID})
			}
		default:
			r, err := i.store.GetRole(ctx, p.Account, e.Owner)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, kms.Internal(err)
			}
			path = r.Path
			member = func() {
				out.PolicyRoles.Members = append(out.PolicyRoles.Members, PolicyRole{RoleName: r.Name, RoleID: r.ID})
			}
		}
		if !strings.HasPrefix(path, prefix) {
			continue
		}
		if len(out.PolicyUsers.Members)+len(out.PolicyRoles.Members) == n {
			out.IsTruncated = true
			out.Marker = encodeMarker(last)
			break
		}
		member()
		last = key
	}
	return out, nil
}
