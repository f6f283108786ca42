// Package store defines what the server keeps on disk and the interface every
// storage backend implements. Backends live in subpackages (sqlite, and later
// postgres); storetest holds the conformance suite each must pass.
//
// Secrets never cross this interface in plain: key material and secret access
// keys arrive already sealed (package seal) and are stored as opaque bytes.
//
// Every method that changes something returns only after the change is
// durable (fsynced), so the server can acknowledge it.
//
// # IAM names
//
// The names of users, roles, inline policies and managed policies are unique
// case-insensitively, as on AWS: "Alice" and "alice" are the same user.
// Lookups accept any case; a name comes back spelt as it was when created.
// [NameKey] is the form in which backends compare and order them.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openkms/kms"
)

// Errors returned by every backend; compare with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	// ErrConflict: a conditional write found the row changed meanwhile.
	ErrConflict = errors.New("store: conflict")
	// ErrInUse refuses to delete a user or role that still has access keys
	// or inline or attached policies, a managed policy still attached or
	// with versions besides its default, or a policy's default version
	// (AWS's DeleteConflictException).
	ErrInUse = errors.New("store: still in use")
	// ErrUnavailable wraps a failure to reach the database (a cluster's
	// PostgreSQL down, unreachable or too slow): requests fail with AWS's
	// retryable DependencyTimeoutException rather than an internal error.
	ErrUnavailable = kms.ErrUnavailable
)

// Bulker is implemented by a store that can make many writes one
// transaction: Bulk runs fn, and every write fn makes through the store
// with the context fn is given joins one transaction, committed (and
// synced once) if fn returns nil, rolled back otherwise. Reads see the
// transaction's writes only where a write method reads (existence checks
// and the like); fn must not wait for other goroutines' writes. It is for
// writes made before the server serves, such as a seed file applied at
// start: thousands of keys cost one commit, and all or none of them land.
type Bulker interface {
	Bulk(ctx context.Context, fn func(ctx context.Context) error) error
}

// A KeyCounter counts keys for the server's metrics (kms_keys), in one
// cheap query. Both backends are KeyCounters.
type KeyCounter interface {
	// CountKeys counts the keys of every account by state and spec.
	CountKeys(ctx context.Context) ([]KeyCount, error)
}

// KeyCount is the number of keys in one state of one spec.
type KeyCount struct {
	State kms.KeyState
	Spec  kms.KeySpec
	N     int
}

// AccountLocker is implemented by a store that several processes share (a
// cluster's PostgreSQL database). LockAccount serializes, across all of
// them, the IAM changes of one account that check before they write (at
// most two access keys per user, the total size of an owner's inline
// policies), which one process serializes with a mutex; unlock releases it.
type AccountLocker interface {
	LockAccount(ctx context.Context, account string) (unlock func(), err error)
}

// NameKey returns the form in which IAM names are compared and ordered:
// ASCII letters lower-cased, every other byte kept. IAM names are ASCII
// ([\w+=,.@-]); folding only ASCII keeps the key independent of Unicode
// tables and database collations, so every backend agrees on it.
func NameKey(name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// Account is a tenant: keys, aliases and credentials belong to one.
type Account struct {
	ID      string // 12 digits
	Created time.Time
}

// AccessKey is a credential pair whose secret is sealed.
type AccessKey struct {
	ID           string // access key id, e.g. AKIA...
	Account      string
	PrincipalARN string
	SealedSecret []byte
	Active       bool
	Created      time.Time
	// UserName is the IAM user the key belongs to; "" for the account root.
	UserName string
}

// User is an IAM user.
type User struct {
	Account string
	Name    string
	ID      string // unique id, e.g. AIDA + 17 characters, made by the caller
	Path    string // "/" when empty
	Created time.Time
}

// Role is an IAM role.
type Role struct {
	Account string
	Name    string
	ID      string // unique id, e.g. AROA + 17 characters, made by the caller
	Path    string // "/" when empty
	// AssumeRolePolicy is the trust policy document: who may assume the role.
	AssumeRolePolicy   string
	MaxSessionDuration int // seconds
	Description        string
	Created            time.Time
}

// OwnerKind says whether an inline policy is embedded in a user or a role.
type OwnerKind string

// Owner kinds.
const (
	OwnerUser OwnerKind = "user"
	OwnerRole OwnerKind = "role"
)

// Policy is an inline IAM policy, embedded in one user or role. Its name is
// unique per owner.
type Policy struct {
	Account   string
	OwnerKind OwnerKind
	Owner     string // user or role name
	Name      string
	Document  string
}

// ManagedPolicy is a customer managed IAM policy: a named policy of an
// account, with up to five versions of its document, that users and roles
// are attached to. Its name is unique per account, in any case, whatever
// its path.
type ManagedPolicy struct {
	Account     string
	Name        string
	ID          string // unique id, e.g. ANPA + 17 characters, made by the caller
	Path        string // "/" when empty
	Description string
	// DefaultVersion is the number of the version in force (1 for v1).
	DefaultVersion int
	// LatestVersion is the highest version number the policy ever had:
	// numbers of deleted versions are not given again, as on AWS.
	LatestVersion int
	Created       time.Time
	Updated       time.Time // when the default version last changed
	// AttachmentCount is how many users and roles it is attached to;
	// filled in by reads, ignored by writes.
	AttachmentCount int
}

// PolicyVersion is one version of a managed policy's document.
type PolicyVersion struct {
	Number   int // 1 for v1
	Document string
	Created  time.Time
}

// AttachedPolicy is a managed policy attached to a user or role, with the
// document of its default version: all an authorizer needs.
type AttachedPolicy struct {
	Policy   ManagedPolicy
	Document string
}

// PolicyAttachment names a user or role a managed policy is attached to.
type PolicyAttachment struct {
	OwnerKind OwnerKind
	Owner     string // the user's or role's name as created
}

// Material is one version of a key's material, sealed.
type Material struct {
	KeyID   string
	ID      string // 64 lowercase hex
	Sealed  []byte
	Created time.Time
	// RotationType is "" for a key's first material (generated or
	// imported), else AUTOMATIC or ON_DEMAND; RotationDate is then when
	// the rotation made it.
	RotationType string
	RotationDate time.Time
	// Pending marks material imported for a future on-demand rotation of
	// an EXTERNAL key (KeyMaterialState PENDING_ROTATION): stored, but
	// never current. PromoteMaterial makes it current and clears it.
	Pending bool
	// ValidTo is when imported material expires (zero: never);
	// Description is its KeyMaterialDescription. Each imported material
	// has its own; the key's ValidTo repeats its current material's.
	ValidTo     time.Time
	Description string
}

// KeyForUse is a key with its aliases, grants and current material.
type KeyForUse struct {
	Key     kms.Key
	Aliases []string // names, in no particular order
	Grants  []Grant  // ordered as ListGrants orders them
	// Current is the key's current material version; nil if it has none
	// (a key pending import).
	Current *Material
}

// Grant lets a principal use a key for some operations (spec §8). Grants
// are deleted with their key.
//
// The grantee and the retiring principal are either principal ARNs or AWS
// service principals such as "s3.amazonaws.com" (CreateGrant's
// GranteeServicePrincipal and RetiringServicePrincipal). Both share a
// column: an ARN always begins "arn:" and a service principal never does,
// so IsServicePrincipal tells them apart, and filters on either kind work
// unchanged.
type Grant struct {
	ID                string // 64 lowercase hex
	KeyID             string
	Name              string // "" when not given
	GranteePrincipal  string
	RetiringPrincipal string // "" when not given
	IssuingAccount    string // arn:aws:iam::ACCOUNT:root
	Operations        []string
	// Constraints; a nil map means no constraint of that kind, an empty
	// one a constraint to the empty context.
	EncryptionContextEquals map[string]string
	EncryptionContextSubset map[string]string
	// SourceArn, when not "", is the SourceArn constraint: the grant
	// applies only to requests made on behalf of that resource.
	SourceArn string
	Created   time.Time
}

// IsServicePrincipal says whether a grant's grantee or retiring principal
// is an AWS service principal rather than a principal ARN.
func IsServicePrincipal(p string) bool {
	return p != "" && !strings.HasPrefix(p, "arn:")
}

// GrantFilter selects grants of one key, ordered by creation then id.
type GrantFilter struct {
	KeyID            string
	GrantID          string // only this grant, when set
	GranteePrincipal string // only grants to this principal, when set
	// After, when set, lists only grants after this grant id in the order;
	// ErrNotFound if it is not a grant of the key.
	After string
	Limit int // 0 means no cap
}

// KeyFilter selects keys of one account and region.
type KeyFilter struct {
	Account string
	Region  string
	// After, when set, lists only keys whose id sorts after it.
	After string
	// Limit caps the number returned; 0 means no cap.
	Limit int
}

// AliasFilter selects aliases of one account and region.
type AliasFilter struct {
	Account string
	Region  string
	KeyID   string // only aliases pointing at this key, when set
	After   string // only names sorting after it, when set
	Limit   int    // 0 means no cap
}

// Store is the persistence interface. Keys are addressed by their id, which is
// globally unique; callers check account and region themselves.
type Store interface {
	// CreateAccount adds an account; ErrExists if it is there already.
	CreateAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, id string) (Account, error)
	// ListAccounts lists every account, ordered by id.
	ListAccounts(ctx context.Context) ([]Account, error)

	// PutAccessKey adds a credential; ErrExists if the id is taken. A key
	// with a UserName needs that user to exist (ErrNotFound otherwise) and
	// is stored under the user's name as spelt at its creation. Root keys
	// need no account: the server stores its first one before the account.
	PutAccessKey(ctx context.Context, k AccessKey) error
	GetAccessKey(ctx context.Context, id string) (AccessKey, error)
	// ListAccessKeys lists the keys of one user of an account, or of the
	// account root when userName is "", ordered by creation time then id.
	// An unknown user has none, which is not an error.
	ListAccessKeys(ctx context.Context, account, userName string) ([]AccessKey, error)
	// SetAccessKeyActive activates or deactivates a key; ErrNotFound if absent.
	SetAccessKeyActive(ctx context.Context, id string, active bool) error
	// DeleteAccessKey removes a key; ErrNotFound if absent.
	DeleteAccessKey(ctx context.Context, id string) error

	// CreateUser adds a user; ErrExists if its account has a user of that
	// name in any case, or if its id is taken.
	CreateUser(ctx context.Context, u User) error
	// GetUser finds a user by name in any case; ErrNotFound if absent.
	GetUser(ctx context.Context, account, name string) (User, error)
	// ListUsers lists an account's users in NameKey order. after, when
	// set, lists only those sorting after it (in any case); limit caps the
	// number returned, 0 or below meaning no cap.
	ListUsers(ctx context.Context, account, after string, limit int) ([]User, error)
	// DeleteUser removes a user and nothing else: ErrInUse while it still
	// has access keys, inline policies or attached managed policies,
	// ErrNotFound if absent. The check
	// and the deletion are one transaction, so a key added concurrently
	// cannot be left orphaned.
	DeleteUser(ctx context.Context, account, name string) error

	// CreateRole adds a role; ErrExists if its account has a role of that
	// name in any case, or if its id is taken. Users and roles have
	// separate namespaces.
	CreateRole(ctx context.Context, r Role) error
	// GetRole finds a role by name in any case; ErrNotFound if absent.
	GetRole(ctx context.Context, account, name string) (Role, error)
	// ListRoles lists an account's roles like ListUsers lists users.
	ListRoles(ctx context.Context, account, after string, limit int) ([]Role, error)
	// UpdateAssumeRolePolicy replaces a role's trust policy; ErrNotFound if
	// the role is absent.
	UpdateAssumeRolePolicy(ctx context.Context, account, name, doc string) error
	// DeleteRole removes a role: ErrInUse while it still has inline
	// policies or attached managed policies, ErrNotFound if absent.
	DeleteRole(ctx context.Context, account, name string) error

	// PutPolicy creates an inline policy or replaces the document of the
	// one of that name in any case (which keeps the name it was created
	// with). ErrNotFound if the owner is absent. The policy is stored under
	// the owner's name as spelt at its creation.
	PutPolicy(ctx context.Context, p Policy) error
	// GetPolicy finds an inline policy by owner and name, both in any case;
	// ErrNotFound if absent.
	GetPolicy(ctx context.Context, account string, kind OwnerKind, owner, name string) (Policy, error)
	// ListPolicies returns every inline policy of a user or role, documents
	// included, in NameKey order: all an authorizer needs in one read. An
	// unknown owner has none, which is not an error.
	ListPolicies(ctx context.Context, account string, kind OwnerKind, owner string) ([]Policy, error)
	// DeletePolicy removes an inline policy; ErrNotFound if absent.
	DeletePolicy(ctx context.Context, account string, kind OwnerKind, owner, name string) error

	// CreateManagedPolicy stores a managed policy with its versions, as
	// given (DefaultVersion, LatestVersion and the versions' Numbers), in
	// one transaction: a new policy has the one version 1, a migration
	// copies them as they are. The default version must be among them.
	// ErrExists if its account has a managed policy of that name in any
	// case, or if its id is taken.
	CreateManagedPolicy(ctx context.Context, p ManagedPolicy, versions []PolicyVersion) error
	// GetManagedPolicy finds a managed policy by name in any case, with its
	// AttachmentCount; ErrNotFound if absent.
	GetManagedPolicy(ctx context.Context, account, name string) (ManagedPolicy, error)
	// ListManagedPolicies lists an account's managed policies like
	// ListUsers lists users, each with its AttachmentCount.
	ListManagedPolicies(ctx context.Context, account, after string, limit int) ([]ManagedPolicy, error)
	// DeleteManagedPolicy removes a managed policy and its default version:
	// ErrInUse while it is attached to a user or role or has other
	// versions, ErrNotFound if absent.
	DeleteManagedPolicy(ctx context.Context, account, name string) error
	// AddPolicyVersion adds a version to a managed policy, numbered one
	// above the highest it ever had, and makes it the default when
	// setDefault (setting Updated to its Created), in one transaction. It
	// returns the version stored; ErrNotFound if the policy is absent.
	AddPolicyVersion(ctx context.Context, account, name string, v PolicyVersion, setDefault bool) (PolicyVersion, error)
	// GetPolicyVersion returns one version of a managed policy;
	// ErrNotFound if the policy or the version is absent.
	GetPolicyVersion(ctx context.Context, account, name string, number int) (PolicyVersion, error)
	// ListPolicyVersions returns every version of a managed policy, newest
	// first. An unknown policy has none, which is not an error.
	ListPolicyVersions(ctx context.Context, account, name string) ([]PolicyVersion, error)
	// SetDefaultPolicyVersion makes a version the default and sets the
	// policy's Updated; ErrNotFound if the policy or version is absent.
	SetDefaultPolicyVersion(ctx context.Context, account, name string, number int, updated time.Time) error
	// DeletePolicyVersion removes a version: ErrInUse if it is the
	// default, ErrNotFound if the policy or version is absent.
	DeletePolicyVersion(ctx context.Context, account, name string, number int) error
	// AttachPolicy attaches a managed policy to a user or role; attaching
	// it again changes nothing. ErrNotFound if the owner or the policy is
	// absent.
	AttachPolicy(ctx context.Context, account string, kind OwnerKind, owner, policy string) error
	// DetachPolicy detaches a managed policy from a user or role;
	// ErrNotFound if it is not attached.
	DetachPolicy(ctx context.Context, account string, kind OwnerKind, owner, policy string) error
	// ListAttachedPolicies returns the managed policies attached to a user
	// or role, in NameKey order of the policies, each with its default
	// version's document. An unknown owner has none, which is not an error.
	ListAttachedPolicies(ctx context.Context, account string, kind OwnerKind, owner string) ([]AttachedPolicy, error)
	// ListPolicyAttachments returns the users and roles a managed policy
	// is attached to: users first, each kind in NameKey order.
	ListPolicyAttachments(ctx context.Context, account, policy string) ([]PolicyAttachment, error)

	// CreateKey stores a new key together with its first material (nil for
	// keys that have none yet) in one transaction. ErrExists if the id is taken.
	CreateKey(ctx context.Context, k kms.Key, m *Material) error
	// GetKey returns a key with its tags; ErrNotFound if absent.
	GetKey(ctx context.Context, id string) (kms.Key, error)
	// GetKeyForUse returns a key with its tags and what using it needs
	// besides: the names of its aliases, its grants and its current
	// material. It answers in one round where the backend can, because a
	// server with more keys than its cache calls it on most requests.
	// ErrNotFound if absent.
	GetKeyForUse(ctx context.Context, id string) (KeyForUse, error)
	// UpdateKey replaces every mutable field of a stored key (description,
	// state, deletion date, pending window, policy, current material, tags,
	// rotation and expiration settings; not PrimaryRegion), provided the
	// key is still at k.Revision, the revision it was read at: ErrConflict if anything changed the key's
	// row since (another UpdateKey, RotateKey, PromoteMaterial: each adds
	// one to the revision), ErrNotFound if absent. Callers read the key
	// again and retry.
	UpdateKey(ctx context.Context, k kms.Key) error
	// DeleteKey removes a key, its material, tags, grants and every alias
	// pointing at it.
	DeleteKey(ctx context.Context, id string) error
	// ListKeys lists keys ordered by id.
	ListKeys(ctx context.Context, f KeyFilter) ([]kms.Key, error)
	// KeysPendingDeletion lists keys in PendingDeletion whose deletion date is
	// at or before t, across all accounts and regions.
	KeysPendingDeletion(ctx context.Context, t time.Time) ([]kms.Key, error)

	// GetMaterial returns one material version of a key; ErrNotFound if absent.
	GetMaterial(ctx context.Context, keyID, materialID string) (Material, error)
	// AddMaterial stores a further material version of an existing key (for
	// rotation and import). ErrNotFound if the key is absent, ErrExists if
	// the material id is taken.
	AddMaterial(ctx context.Context, m Material) error
	// RotateKey adds m as a key's new current material and sets the key's
	// next rotation date, in one transaction, only if the key's current
	// material is still prev; ErrConflict otherwise (another node rotated
	// first), ErrNotFound if the key is absent. It is the one write that
	// makes a rotation, so a rotation can never happen twice. A rotation
	// of a multi-Region key (m.KeyID made by kms.RowID) is a rotation of
	// every copy: the same transaction adds m to each and makes it current.
	RotateKey(ctx context.Context, m Material, prev string, next time.Time) error

	// KeyRegions lists every copy of the multi-Region key whose key id
	// (mrk-…) is id, with tags, ordered by region; none is not an error.
	KeyRegions(ctx context.Context, id string) ([]kms.Key, error)
	// ReplicateKey stores k, a new copy of a multi-Region key, with a copy
	// of every material of the copy whose store id is from (and from's
	// current material as its own), in one transaction: a rotation of the
	// key either precedes it, and is copied, or follows it, and reaches k.
	// ErrExists if k.ID is taken, ErrNotFound if from is absent.
	ReplicateKey(ctx context.Context, k kms.Key, from string) error
	// SetPrimaryRegion makes the copy in region the primary of the
	// multi-Region key whose key id is id, in one transaction: every
	// copy's PrimaryRegion changes, and the automatic rotation settings
	// move from the old primary to the new one. ErrNotFound if the key has
	// no copy in region.
	SetPrimaryRegion(ctx context.Context, id, region string) error
	// PromoteMaterial makes the pending material materialID of a key its
	// current material, in one transaction, only if the key's current
	// material is still prev: it clears the material's Pending and sets its
	// RotationType and RotationDate. ErrConflict if the current material
	// is no longer prev (another node rotated first), ErrNotFound if the
	// key is absent or has no pending material of that id. It is to
	// imported material what RotateKey is to generated material. The same
	// write gives the key the material's expiry: ExpirationModel
	// KEY_MATERIAL_EXPIRES and its ValidTo, or KEY_MATERIAL_DOES_NOT_EXPIRE.
	PromoteMaterial(ctx context.Context, keyID, materialID, prev string, rotationType string, rotationDate time.Time) error
	// UpdateMaterial replaces the ValidTo and Description of a stored
	// material (a re-import of the same material); ErrNotFound if absent.
	UpdateMaterial(ctx context.Context, m Material) error
	// DeleteMaterial removes one material version (imported material that
	// expired or was deleted); ErrNotFound if absent.
	DeleteMaterial(ctx context.Context, keyID, materialID string) error
	// KeysDueForRotation lists Enabled keys with RotationEnabled whose
	// NextRotationDate is at or before t, across accounts and regions.
	KeysDueForRotation(ctx context.Context, t time.Time) ([]kms.Key, error)
	// KeysWithExpiredMaterial lists keys with ExpirationModel
	// KEY_MATERIAL_EXPIRES whose ValidTo is at or before t and whose state
	// is not PendingImport, across accounts and regions.
	KeysWithExpiredMaterial(ctx context.Context, t time.Time) ([]kms.Key, error)
	// ListMaterials returns every material version of a key, oldest first.
	ListMaterials(ctx context.Context, keyID string) ([]Material, error)

	// CreateAlias adds an alias; ErrExists if the name is taken in its
	// account and region.
	CreateAlias(ctx context.Context, a kms.Alias) error
	GetAlias(ctx context.Context, account, region, name string) (kms.Alias, error)
	// UpdateAlias re-points an alias (TargetKeyID, LastUpdatedDate).
	UpdateAlias(ctx context.Context, a kms.Alias) error
	DeleteAlias(ctx context.Context, account, region, name string) error
	// ListAliases lists aliases ordered by name.
	ListAliases(ctx context.Context, f AliasFilter) ([]kms.Alias, error)
	// CountAliases returns how many aliases point at a key.
	CountAliases(ctx context.Context, keyID string) (int, error)

	// CreateGrant stores a grant; ErrNotFound if its key is absent,
	// ErrExists if the id is taken.
	CreateGrant(ctx context.Context, g Grant) error
	// ListGrants lists grants of a key (see GrantFilter).
	ListGrants(ctx context.Context, f GrantFilter) ([]Grant, error)
	// ListRetirableGrants lists grants, on any key, whose retiring
	// principal is p, ordered by creation then id, after the grant id
	// after (when set; ErrNotFound if unknown), at most limit (0 = no cap).
	ListRetirableGrants(ctx context.Context, p, after string, limit int) ([]Grant, error)
	// DeleteGrant removes a grant of a key; ErrNotFound if absent.
	DeleteGrant(ctx context.Context, keyID, grantID string) error
	// CountGrants returns how many grants a key has.
	CountGrants(ctx context.Context, keyID string) (int, error)

	Close() error
}

// SealedValue is one value the store keeps sealed under the root key: a
// key material (KeyID and ID name it) or an access key's secret (ID).
type SealedValue struct {
	Kind   string // SealedMaterial or SealedAccessKey
	KeyID  string // the material's key; "" for an access key
	ID     string // the material id or access key id
	Sealed []byte
}

// Kinds of SealedValue.
const (
	SealedMaterial  = "material"
	SealedAccessKey = "access key"
)

// Resealer is implemented by a store that can replace every sealed value
// in one transaction, for a change of seal (`kms seal rotate`): fn gets
// each value and returns it sealed anew; the first error rolls everything
// back. It returns how many values were re-sealed.
type Resealer interface {
	Reseal(ctx context.Context, fn func(SealedValue) ([]byte, error)) (int, error)
}

// CheckPolicyVersions refuses versions that do not fit the policy p: none
// the default, or one numbered outside 1 to p.LatestVersion. Both
// backends check CreateManagedPolicy's versions with it.
func CheckPolicyVersions(p ManagedPolicy, versions []PolicyVersion) error {
	def := false
	for _, v := range versions {
		if v.Number < 1 || v.Number > p.LatestVersion {
			return fmt.Errorf("version %d of a policy whose latest is %d", v.Number, p.LatestVersion)
		}
		def = def || v.Number == p.DefaultVersion
	}
	if !def {
		return fmt.Errorf("default version %d not among the versions", p.DefaultVersion)
	}
	return nil
}
