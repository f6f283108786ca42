package identity

import (
	"context"

	"github.com/openkms/kms"
)

// Reads of things this server does not have (groups, instance profiles,
// tags, SSH keys, MFA devices, signing certificates, service-specific
// credentials, login profiles). Tools that manage users and roles, such as
// the Terraform AWS provider, make these calls on every refresh and before
// every deletion; each is authorized and checks its user or role like any
// other read, then answers an empty list (or, for a login profile,
// NoSuchEntity), as AWS does for an entity that has none.

// emptyUser resolves and authorizes a read of a named user's things.
func (i *Identity) emptyUser(ctx context.Context, c *Caller, action string, in *UserListInput) error {
	var v validator
	v.str("userName", in.UserName, true, 1, 128, namePattern)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return err
	}
	_, err := i.authorizedUser(ctx, c, action, in.UserName)
	return err
}

// emptyOwnUser is emptyUser where UserName defaults to the caller.
func (i *Identity) emptyOwnUser(ctx context.Context, c *Caller, action string, in *UserListInput) error {
	var v validator
	v.str("userName", in.UserName, false, 1, 128, namePattern)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return err
	}
	_, _, err := i.keyOwner(ctx, c, action, in.UserName)
	return err
}

func (i *Identity) emptyRole(ctx context.Context, c *Caller, action string, in *RoleListInput) error {
	var v validator
	v.str("roleName", in.RoleName, true, 1, 64, namePattern)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return err
	}
	_, err := i.authorizedRole(ctx, c, action, in.RoleName)
	return err
}

// ListGroupsForUser answers that a user is in no group.
func (i *Identity) ListGroupsForUser(ctx context.Context, c *Caller, in *UserListInput) (*ListGroupsForUserOutput, error) {
	if err := i.emptyUser(ctx, c, "iam:ListGroupsForUser", in); err != nil {
		return nil, err
	}
	return &ListGroupsForUserOutput{}, nil
}

// ListUserTags answers that a user has no tags.
func (i *Identity) ListUserTags(ctx context.Context, c *Caller, in *UserListInput) (*ListTagsOutput, error) {
	if err := i.emptyUser(ctx, c, "iam:ListUserTags", in); err != nil {
		return nil, err
	}
	return &ListTagsOutput{}, nil
}

// ListSSHPublicKeys answers that a user has no SSH public keys.
func (i *Identity) ListSSHPublicKeys(ctx context.Context, c *Caller, in *UserListInput) (*ListSSHPublicKeysOutput, error) {
	if err := i.emptyOwnUser(ctx, c, "iam:ListSSHPublicKeys", in); err != nil {
		return nil, err
	}
	return &ListSSHPublicKeysOutput{}, nil
}

// ListMFADevices answers that a user has no MFA devices.
func (i *Identity) ListMFADevices(ctx context.Context, c *Caller, in *UserListInput) (*ListMFADevicesOutput, error) {
	if err := i.emptyOwnUser(ctx, c, "iam:ListMFADevices", in); err != nil {
		return nil, err
	}
	return &ListMFADevicesOutput{}, nil
}

// ListSigningCertificates answers that a user has no signing certificates.
func (i *Identity) ListSigningCertificates(ctx context.Context, c *Caller, in *UserListInput) (*ListSigningCertificatesOutput, error) {
	if err := i.emptyOwnUser(ctx, c, "iam:ListSigningCertificates", in); err != nil {
		return nil, err
	}
	return &ListSigningCertificatesOutput{}, nil
}

// ListServiceSpecificCredentials answers that a user has none.
func (i *Identity) ListServiceSpecificCredentials(ctx context.Context, c *Caller, in *ListServiceSpecificCredentialsInput) (*ListServiceSpecificCredentialsOutput, error) {
	var v validator
	v.str("userName", in.UserName, false, 1, 64, namePattern)
	v.str("serviceName", in.ServiceName, false, 0, 128, nil)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, _, err := i.keyOwner(ctx, c, "iam:ListServiceSpecificCredentials", in.UserName); err != nil {
		return nil, err
	}
	return &ListServiceSpecificCredentialsOutput{}, nil
}

// ListVirtualMFADevices answers that the account has no virtual MFA
// devices.
func (i *Identity) ListVirtualMFADevices(ctx context.Context, c *Caller, in *ListVirtualMFADevicesInput) (*ListVirtualMFADevicesOutput, error) {
	var v validator
	v.enum("assignmentStatus", in.AssignmentStatus, false, "Assigned", "Unassigned", "Any")
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := i.authorize(ctx, c, "iam:ListVirtualMFADevices", "*"); err != nil {
		return nil, err
	}
	return &ListVirtualMFADevicesOutput{}, nil
}

// DeleteLoginProfile answers that a user has no login profile (console
// password): there is nothing to delete.
func (i *Identity) DeleteLoginProfile(ctx context.Context, c *Caller, in *DeleteLoginProfileInput) error {
	var v validator
	v.str("userName", in.UserName, true, 1, 64, namePattern)
	if err := v.err(); err != nil {
		return err
	}
	u, err := i.authorizedUser(ctx, c, "iam:DeleteLoginProfile", in.UserName)
	if err != nil {
		return err
	}
	return kms.Errorf(ErrNoSuchEntity, "Login Profile for User %s cannot be found.", u.Name)
}

// ListInstanceProfilesForRole answers that a role is in no instance
// profile.
func (i *Identity) ListInstanceProfilesForRole(ctx context.Context, c *Caller, in *RoleListInput) (*ListInstanceProfilesForRoleOutput, error) {
	if err := i.emptyRole(ctx, c, "iam:ListInstanceProfilesForRole", in); err != nil {
		return nil, err
	}
	return &ListInstanceProfilesForRoleOutput{}, nil
}

// ListRoleTags answers that a role has no tags.
func (i *Identity) ListRoleTags(ctx context.Context, c *Caller, in *RoleListInput) (*ListTagsOutput, error) {
	if err := i.emptyRole(ctx, c, "iam:ListRoleTags", in); err != nil {
		return nil, err
	}
	return &ListTagsOutput{}, nil
}

// ListPolicyTags answers that a managed policy has no tags.
func (i *Identity) ListPolicyTags(ctx context.Context, c *Caller, in *ListPolicyTagsInput) (*ListTagsOutput, error) {
	var v validator
	validatePolicyARN(&v, in.PolicyArn)
	v.pagination(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, err := i.authorizedPolicy(ctx, c, "iam:ListPolicyTags", in.PolicyArn); err != nil {
		return nil, err
	}
	return &ListTagsOutput{}, nil
}
