// The methods of timedStore (storetimer.go): one a method of store.Store,
// each timing the call it forwards. A method added to store.Store fails
// the build until it is added here.

package server

import (
	"context"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// storeCalls names the methods of store.Store, by their index in timedStore.
var storeCalls = [...]string{
	"CreateAccount",
	"GetAccount",
	"ListAccounts",
	"PutAccessKey",
	"GetAccessKey",
	"ListAccessKeys",
	"SetAccessKeyActive",
	"DeleteAccessKey",
	"CreateUser",
	"GetUser",
	"ListUsers",
	"DeleteUser",
	"CreateRole",
	"GetRole",
	"ListRoles",
	"UpdateAssumeRolePolicy",
	"DeleteRole",
	"PutPolicy",
	"GetPolicy",
	"ListPolicies",
	"DeletePolicy",
	"CreateManagedPolicy",
	"GetManagedPolicy",
	"ListManagedPolicies",
	"DeleteManagedPolicy",
	"AddPolicyVersion",
	"GetPolicyVersion",
	"ListPolicyVersions",
	"SetDefaultPolicyVersion",
	"DeletePolicyVersion",
	"AttachPolicy",
	"DetachPolicy",
	"ListAttachedPolicies",
	"ListPolicyAttachments",
	"CreateKey",
	"GetKey",
	"GetKeyForUse",
	"UpdateKey",
	"DeleteKey",
	"ListKeys",
	"KeysPendingDeletion",
	"GetMaterial",
	"AddMaterial",
	"RotateKey",
	"KeyRegions",
	"ReplicateKey",
	"SetPrimaryRegion",
	"PromoteMaterial",
	"UpdateMaterial",
	"DeleteMaterial",
	"KeysDueForRotation",
	"KeysWithExpiredMaterial",
	"ListMaterials",
	"CreateAlias",
	"GetAlias",
	"UpdateAlias",
	"DeleteAlias",
	"ListAliases",
	"CountAliases",
	"CreateGrant",
	"ListGrants",
	"ListRetirableGrants",
	"DeleteGrant",
	"CountGrants",
	"Close",
}

func (t *timedStore) CreateAccount(ctx context.Context, a1 store.Account) error {
	defer t.observe(0, time.Now())
	return t.s.CreateAccount(ctx, a1)
}

func (t *timedStore) GetAccount(ctx context.Context, a1 string) (store.Account, error) {
	defer t.observe(1, time.Now())
	return t.s.GetAccount(ctx, a1)
}

func (t *timedStore) ListAccounts(ctx context.Context) ([]store.Account, error) {
	defer t.observe(2, time.Now())
	return t.s.ListAccounts(ctx)
}

func (t *timedStore) PutAccessKey(ctx context.Context, a1 store.AccessKey) error {
	defer t.observe(3, time.Now())
	return t.s.PutAccessKey(ctx, a1)
}

func (t *timedStore) GetAccessKey(ctx context.Context, a1 string) (store.AccessKey, error) {
	defer t.observe(4, time.Now())
	return t.s.GetAccessKey(ctx, a1)
}

func (t *timedStore) ListAccessKeys(ctx context.Context, a1 string, a2 string) ([]store.AccessKey, error) {
	defer t.observe(5, time.Now())
	return t.s.ListAccessKeys(ctx, a1, a2)
}

func (t *timedStore) SetAccessKeyActive(ctx context.Context, a1 string, a2 bool) error {
	defer t.observe(6, time.Now())
	return t.s.SetAccessKeyActive(ctx, a1, a2)
}

func (t *timedStore) DeleteAccessKey(ctx context.Context, a1 string) error {
	defer t.observe(7, time.Now())
	return t.s.DeleteAccessKey(ctx, a1)
}

func (t *timedStore) CreateUser(ctx context.Context, a1 store.User) error {
	defer t.observe(8, time.Now())
	return t.s.CreateUser(ctx, a1)
}

func (t *timedStore) GetUser(ctx context.Context, a1 string, a2 string) (store.User, error) {
	defer t.observe(9, time.Now())
	return t.s.GetUser(ctx, a1, a2)
}

func (t *timedStore) ListUsers(ctx context.Context, a1 string, a2 string, a3 int) ([]store.User, error) {
	defer t.observe(10, time.Now())
	return t.s.ListUsers(ctx, a1, a2, a3)
}

func (t *timedStore) DeleteUser(ctx context.Context, a1 string, a2 string) error {
	defer t.observe(11, time.Now())
	return t.s.DeleteUser(ctx, a1, a2)
}

func (t *timedStore) CreateRole(ctx context.Context, a1 store.Role) error {
	defer t.observe(12, time.Now())
	return t.s.CreateRole(ctx, a1)
}

func (t *timedStore) GetRole(ctx context.Context, a1 string, a2 string) (store.Role, error) {
	defer t.observe(13, time.Now())
	return t.s.GetRole(ctx, a1, a2)
}

func (t *timedStore) ListRoles(ctx context.Context, a1 string, a2 string, a3 int) ([]store.Role, error) {
	defer t.observe(14, time.Now())
	return t.s.ListRoles(ctx, a1, a2, a3)
}

func (t *timedStore) UpdateAssumeRolePolicy(ctx context.Context, a1 string, a2 string, a3 string) error {
	defer t.observe(15, time.Now())
	return t.s.UpdateAssumeRolePolicy(ctx, a1, a2, a3)
}

func (t *timedStore) DeleteRole(ctx context.Context, a1 string, a2 string) error {
	defer t.observe(16, time.Now())
	return t.s.DeleteRole(ctx, a1, a2)
}

func (t *timedStore) PutPolicy(ctx context.Context, a1 store.Policy) error {
	defer t.observe(17, time.Now())
	return t.s.PutPolicy(ctx, a1)
}

func (t *timedStore) GetPolicy(ctx context.Context, a1 string, a2 store.OwnerKind, a3 string, a4 string) (store.Policy, error) {
	defer t.observe(18, time.Now())
	return t.s.GetPolicy(ctx, a1, a2, a3, a4)
}

func (t *timedStore) ListPolicies(ctx context.Context, a1 string, a2 store.OwnerKind, a3 string) ([]store.Policy, error) {
	defer t.observe(19, time.Now())
	return t.s.ListPolicies(ctx, a1, a2, a3)
}

func (t *timedStore) DeletePolicy(ctx context.Context, a1 string, a2 store.OwnerKind, a3 string, a4 string) error {
	defer t.observe(20, time.Now())
	return t.s.DeletePolicy(ctx, a1, a2, a3, a4)
}

func (t *timedStore) CreateManagedPolicy(ctx context.Context, a1 store.ManagedPolicy, a2 []store.PolicyVersion) error {
	defer t.observe(21, time.Now())
	return t.s.CreateManagedPolicy(ctx, a1, a2)
}

func (t *timedStore) GetManagedPolicy(ctx context.Context, a1 string, a2 string) (store.ManagedPolicy, error) {
	defer t.observe(22, time.Now())
	return t.s.GetManagedPolicy(ctx, a1, a2)
}

func (t *timedStore) ListManagedPolicies(ctx context.Context, a1 string, a2 string, a3 int) ([]store.ManagedPolicy, error) {
	defer t.observe(23, time.Now())
	return t.s.ListManagedPolicies(ctx, a1, a2, a3)
}

func (t *timedStore) DeleteManagedPolicy(ctx context.Context, a1 string, a2 string) error {
	defer t.observe(24, time.Now())
	return t.s.DeleteManagedPolicy(ctx, a1, a2)
}

func (t *timedStore) AddPolicyVersion(ctx context.Context, a1 string, a2 string, a3 store.PolicyVersion, a4 bool) (store.PolicyVersion, error) {
	defer t.observe(25, time.Now())
	return t.s.AddPolicyVersion(ctx, a1, a2, a3, a4)
}

func (t *timedStore) GetPolicyVersion(ctx context.Context, a1 string, a2 string, a3 int) (store.PolicyVersion, error) {
	defer t.observe(26, time.Now())
	return t.s.GetPolicyVersion(ctx, a1, a2, a3)
}

func (t *timedStore) ListPolicyVersions(ctx context.Context, a1 string, a2 string) ([]store.PolicyVersion, error) {
	defer t.observe(27, time.Now())
	return t.s.ListPolicyVersions(ctx, a1, a2)
}

func (t *timedStore) SetDefaultPolicyVersion(ctx context.Context, a1 string, a2 string, a3 int, a4 time.Time) error {
	defer t.observe(28, time.Now())
	return t.s.SetDefaultPolicyVersion(ctx, a1, a2, a3, a4)
}

func (t *timedStore) DeletePolicyVersion(ctx context.Context, a1 string, a2 string, a3 int) error {
	defer t.observe(29, time.Now())
	return t.s.DeletePolicyVersion(ctx, a1, a2, a3)
}

func (t *timedStore) AttachPolicy(ctx context.Context, a1 string, a2 store.OwnerKind, a3 string, a4 string) error {
	defer t.observe(30, time.Now())
	return t.s.AttachPolicy(ctx, a1, a2, a3, a4)
}

func (t *timedStore) DetachPolicy(ctx context.Context, a1 string, a2 store.OwnerKind, a3 string, a4 string) error {
	defer t.observe(31, time.Now())
	return t.s.DetachPolicy(ctx, a1, a2, a3, a4)
}

func (t *timedStore) ListAttachedPolicies(ctx context.Context, a1 string, a2 store.OwnerKind, a3 string) ([]store.AttachedPolicy, error) {
	defer t.observe(32, time.Now())
	return t.s.ListAttachedPolicies(ctx, a1, a2, a3)
}

func (t *timedStore) ListPolicyAttachments(ctx context.Context, a1 string, a2 string) ([]store.PolicyAttachment, error) {
	defer t.observe(33, time.Now())
	return t.s.ListPolicyAttachments(ctx, a1, a2)
}

func (t *timedStore) CreateKey(ctx context.Context, a1 kms.Key, a2 *store.Material) error {
	defer t.observe(34, time.Now())
	return t.s.CreateKey(ctx, a1, a2)
}

func (t *timedStore) GetKey(ctx context.Context, a1 string) (kms.Key, error) {
	defer t.observe(35, time.Now())
	return t.s.GetKey(ctx, a1)
}

func (t *timedStore) GetKeyForUse(ctx context.Context, a1 string) (store.KeyForUse, error) {
	defer t.observe(36, time.Now())
	return t.s.GetKeyForUse(ctx, a1)
}

func (t *timedStore) UpdateKey(ctx context.Context, a1 kms.Key) error {
	defer t.observe(37, time.Now())
	return t.s.UpdateKey(ctx, a1)
}

func (t *timedStore) DeleteKey(ctx context.Context, a1 string) error {
	defer t.observe(38, time.Now())
	return t.s.DeleteKey(ctx, a1)
}

func (t *timedStore) ListKeys(ctx context.Context, a1 store.KeyFilter) ([]kms.Key, error) {
	defer t.observe(39, time.Now())
	return t.s.ListKeys(ctx, a1)
}

func (t *timedStore) KeysPendingDeletion(ctx context.Context, a1 time.Time) ([]kms.Key, error) {
	defer t.observe(40, time.Now())
	return t.s.KeysPendingDeletion(ctx, a1)
}

func (t *timedStore) GetMaterial(ctx context.Context, a1 string, a2 string) (store.Material, error) {
	defer t.observe(41, time.Now())
	return t.s.GetMaterial(ctx, a1, a2)
}

func (t *timedStore) AddMaterial(ctx context.Context, a1 store.Material) error {
	defer t.observe(42, time.Now())
	return t.s.AddMaterial(ctx, a1)
}

func (t *timedStore) RotateKey(ctx context.Context, a1 store.Material, a2 string, a3 time.Time) error {
	defer t.observe(43, time.Now())
	return t.s.RotateKey(ctx, a1, a2, a3)
}

func (t *timedStore) KeyRegions(ctx context.Context, a1 string) ([]kms.Key, error) {
	defer t.observe(44, time.Now())
	return t.s.KeyRegions(ctx, a1)
}

func (t *timedStore) ReplicateKey(ctx context.Context, a1 kms.Key, a2 string) error {
	defer t.observe(45, time.Now())
	return t.s.ReplicateKey(ctx, a1, a2)
}

func (t *timedStore) SetPrimaryRegion(ctx context.Context, a1 string, a2 string) error {
	defer t.observe(46, time.Now())
	return t.s.SetPrimaryRegion(ctx, a1, a2)
}

func (t *timedStore) PromoteMaterial(ctx context.Context, a1 string, a2 string, a3 string, a4 string, a5 time.Time) error {
	defer t.observe(47, time.Now())
	return t.s.PromoteMaterial(ctx, a1, a2, a3, a4, a5)
}

func (t *timedStore) UpdateMaterial(ctx context.Context, a1 store.Material) error {
	defer t.observe(48, time.Now())
	return t.s.UpdateMaterial(ctx, a1)
}

func (t *timedStore) DeleteMaterial(ctx context.Context, a1 string, a2 string) error {
	defer t.observe(49, time.Now())
	return t.s.DeleteMaterial(ctx, a1, a2)
}

func (t *timedStore) KeysDueForRotation(ctx context.Context, a1 time.Time) ([]kms.Key, error) {
	defer t.observe(50, time.Now())
	return t.s.KeysDueForRotation(ctx, a1)
}

func (t *timedStore) KeysWithExpiredMaterial(ctx context.Context, a1 time.Time) ([]kms.Key, error) {
	defer t.observe(51, time.Now())
	return t.s.KeysWithExpiredMaterial(ctx, a1)
}

func (t *timedStore) ListMaterials(ctx context.Context, a1 string) ([]store.Material, error) {
	defer t.observe(52, time.Now())
	return t.s.ListMaterials(ctx, a1)
}

func (t *timedStore) CreateAlias(ctx context.Context, a1 kms.Alias) error {
	defer t.observe(53, time.Now())
	return t.s.CreateAlias(ctx, a1)
}

func (t *timedStore) GetAlias(ctx context.Context, a1 string, a2 string, a3 string) (kms.Alias, error) {
	defer t.observe(54, time.Now())
	return t.s.GetAlias(ctx, a1, a2, a3)
}

func (t *timedStore) UpdateAlias(ctx context.Context, a1 kms.Alias) error {
	defer t.observe(55, time.Now())
	return t.s.UpdateAlias(ctx, a1)
}

func (t *timedStore) DeleteAlias(ctx context.Context, a1 string, a2 string, a3 string) error {
	defer t.observe(56, time.Now())
	return t.s.DeleteAlias(ctx, a1, a2, a3)
}

func (t *timedStore) ListAliases(ctx context.Context, a1 store.AliasFilter) ([]kms.Alias, error) {
	defer t.observe(57, time.Now())
	return t.s.ListAliases(ctx, a1)
}

func (t *timedStore) CountAliases(ctx context.Context, a1 string) (int, error) {
	defer t.observe(58, time.Now())
	return t.s.CountAliases(ctx, a1)
}

func (t *timedStore) CreateGrant(ctx context.Context, a1 store.Grant) error {
	defer t.observe(59, time.Now())
	return t.s.CreateGrant(ctx, a1)
}

func (t *timedStore) ListGrants(ctx context.Context, a1 store.GrantFilter) ([]store.Grant, error) {
	defer t.observe(60, time.Now())
	return t.s.ListGrants(ctx, a1)
}

func (t *timedStore) ListRetirableGrants(ctx context.Context, a1 string, a2 string, a3 int) ([]store.Grant, error) {
	defer t.observe(61, time.Now())
	return t.s.ListRetirableGrants(ctx, a1, a2, a3)
}

func (t *timedStore) DeleteGrant(ctx context.Context, a1 string, a2 string) error {
	defer t.observe(62, time.Now())
	return t.s.DeleteGrant(ctx, a1, a2)
}

func (t *timedStore) CountGrants(ctx context.Context, a1 string) (int, error) {
	defer t.observe(63, time.Now())
	return t.s.CountGrants(ctx, a1)
}

func (t *timedStore) Close() error {
	defer t.observe(64, time.Now())
	return t.s.Close()
}
