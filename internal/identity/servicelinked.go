package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// Service-linked roles are how an AWS service principal authenticates to
// this server. On AWS the service itself assumes its role; here nothing
// signs as "s3.amazonaws.com", so the role's trust policy names the service
// principal and the account root: a principal of the account whose IAM
// policies allow sts:AssumeRole on the role may assume it, and its session
// then acts as the service (kms.Principal.ServicePrincipal) — for grants to
// that service on the account's own keys only (package service).
//
// Roles under /aws-service-role/ are made only here: CreateRole refuses the
// path, and the role's trust and permissions policies cannot be changed.
// A session counts as the service only if its role also has the trust
// policy written here (lookupSession), which a role that an older release
// let CreateRole put at such a path does not.

// ErrUnmodifiableEntity is IAM's error for changes to a service-linked role.
const ErrUnmodifiableEntity = "UnmodifiableEntity"

// serviceLinkedPrincipal returns the service principal of a role path
// /aws-service-role/SERVICE/, or "".
func serviceLinkedPrincipal(path string) string {
	rest, ok := strings.CutPrefix(path, kms.ServiceLinkedRolePath)
	if !ok {
		return ""
	}
	svc, ok := strings.CutSuffix(rest, "/")
	if !ok || !kms.ValidServicePrincipal(svc) {
		return ""
	}
	return svc
}

// serviceLinkedRoleName names a service's role. AWS picks each service's
// name from its own table (AWSServiceRoleForECS,
// AWSServiceRoleForElasticLoadBalancing); this server has no such table,
// so it capitalizes the hyphen-separated parts of the principal's first
// label: s3.amazonaws.com -> AWSServiceRoleForS3, and
// auto-scaling.amazonaws.com -> AWSServiceRoleForAutoScaling. A custom
// suffix follows an underscore, as on AWS.
func serviceLinkedRoleName(service, suffix string) string {
	label, _, _ := strings.Cut(service, ".")
	var b strings.Builder
	b.WriteString("AWSServiceRoleFor")
	for part := range strings.SplitSeq(label, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	if suffix != "" {
		b.WriteString("_" + suffix)
	}
	return b.String()
}

// serviceLinkedTrust is the trust policy of a service-linked role: the
// service, and the account's principals that IAM allows sts:AssumeRole.
func serviceLinkedTrust(account, service string) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": service, "AWS": kms.RootARN(account)},
			"Action":    "sts:AssumeRole",
		}},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// unmodifiable refuses a change to a service-linked role, as IAM does: its
// trust and permissions decide what may act as the service.
func unmodifiable(r store.Role) error {
	if !strings.HasPrefix(r.Path, kms.ServiceLinkedRolePath) {
		return nil
	}
	return kms.Errorf(ErrUnmodifiableEntity,
		"Cannot perform the operation on the protected role '%s' - this role is only modifiable by AWS", r.Name)
}

// CreateServiceLinkedRole creates the role through which principals of the
// account act as an AWS service (see above).
func (i *Identity) CreateServiceLinkedRole(ctx context.Context, c *Caller, in *CreateServiceLinkedRoleInput) (*CreateServiceLinkedRoleOutput, error) {
	var v validator
	v.str("aWSServiceName", in.AWSServiceName, true, 1, 128, namePattern)
	v.str("description", in.Description, false, 0, 1000, descriptionPattern)
	v.str("customSuffix", in.CustomSuffix, false, 1, 64, namePattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	if !kms.ValidServicePrincipal(in.AWSServiceName) {
		return nil, kms.Errorf(ErrInvalidInput, "Invalid service name: %s. A service principal has the form service.amazonaws.com.", in.AWSServiceName)
	}
	name := serviceLinkedRoleName(in.AWSServiceName, in.CustomSuffix)
	if len(name) > 64 {
		return nil, kms.Errorf(ErrInvalidInput, "The role name %s is longer than 64 characters; use a shorter suffix.", name)
	}
	r := store.Role{Account: c.Principal.Account, Name: name, ID: uniqueID(roleIDPrefix, 17),
		Path:             kms.ServiceLinkedRolePath + in.AWSServiceName + "/",
		AssumeRolePolicy: serviceLinkedTrust(c.Principal.Account, in.AWSServiceName),
		Description:      in.Description, MaxSessionDuration: defaultSessionMaxSecs, Created: i.now().UTC()}
	if err := i.authorize(ctx, c, "iam:CreateServiceLinkedRole", roleARN(r.Account, r.Path, r.Name),
		[2]string{"iam:AWSServiceName", in.AWSServiceName}); err != nil {
		return nil, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	err := i.store.CreateRole(ctx, r)
	if errors.Is(err, store.ErrExists) {
		return nil, kms.Errorf(ErrInvalidInput, "Service role name %s has been taken in this account, please try a different suffix.", name)
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	i.dropRole(ref(r.Account, store.OwnerRole, r.Name))
	return &CreateServiceLinkedRoleOutput{Role: roleOut(r)}, nil
}

// DeleteServiceLinkedRole deletes a service-linked role at once; AWS does
// it in the background and reports on it through
// GetServiceLinkedRoleDeletionStatus, which this server does not have. The
// DeletionTaskId has AWS's form. The role's sessions stop at once, as with
// DeleteRole.
func (i *Identity) DeleteServiceLinkedRole(ctx context.Context, c *Caller, in *DeleteServiceLinkedRoleInput) (*DeleteServiceLinkedRoleOutput, error) {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	r, err := i.authorizedRole(ctx, c, "iam:DeleteServiceLinkedRole", in.RoleName)
	if err != nil {
		return nil, err
	}
	svc := serviceLinkedPrincipal(r.Path)
	if svc == "" {
		return nil, kms.Errorf(ErrInvalidInput, "Role %s is not a service-linked role.", r.Name)
	}
	if err := i.deleteRole(ctx, r); err != nil {
		return nil, err
	}
	var task [16]byte
	rand.Read(task[:])
	h := hex.EncodeToString(task[:])
	return &DeleteServiceLinkedRoleOutput{DeletionTaskID: "task" + r.Path + r.Name + "/" +
		h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]}, nil
}
