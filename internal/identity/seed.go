package identity

import (
	"context"
	"errors"
)

// What package server needs to apply a seed file's IAM entries straight
// to the store, with the ids, ARNs and sealing the IAM API uses.

// NewUserID and NewRoleID return fresh unique ids of a user and a role.
func NewUserID() string { return uniqueID(userIDPrefix, 17) }
func NewRoleID() string { return uniqueID(roleIDPrefix, 17) }

// NewManagedPolicyID returns a fresh unique id of a managed policy.
func NewManagedPolicyID() string { return uniqueID(policyIDPrefix, 17) }

// UserARN returns the ARN of a user.
func UserARN(account, path, name string) string { return userARN(account, path, name) }

// DefaultMaxSessionDuration is a new role's MaxSessionDuration, in seconds.
const DefaultMaxSessionDuration = defaultSessionMaxSecs

// SealAccessKey seals the secret of access key id as the store keeps it.
func (i *Identity) SealAccessKey(id, secret string) ([]byte, error) {
	return i.sealer.Seal([]byte(secret), accessKeyAAD(id))
}

// ErrOtherSecret: an access key id is stored with another secret.
var ErrOtherSecret = errors.New("exists with another secret")

// SameSecret checks, in constant time, that the stored access key id has
// secret: ErrOtherSecret if not, store.ErrNotFound if there is no such key.
func (i *Identity) SameSecret(ctx context.Context, id, secret string) error {
	return i.sameSecret(ctx, id, secret)
}
