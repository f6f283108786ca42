// Package store defines what the server keeps on disk and the interface every
// storage backend implements. Backends live in subpackages (sqlite, and later
// postgres); storetest holds the conformance suite each must pass.
//
// Secrets never cross this interface in plain: key material and secret access
// keys arrive already sealed (package seal) and are stored as opaque bytes.
//
// Every method that changes something returns only after the change is
// durable (fsynced), so the server can acknowledge it.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/openkms/kms"
)

// Errors returned by every backend; compare with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

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
}

// Material is one version of a key's material, sealed.
type Material struct {
	KeyID   string
	ID      string // 64 lowercase hex
	Sealed  []byte
	Created time.Time
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

	// PutAccessKey adds a credential; ErrExists if the id is taken.
	PutAccessKey(ctx context.Context, k AccessKey) error
	GetAccessKey(ctx context.Context, id string) (AccessKey, error)

	// CreateKey stores a new key together with its first material (nil for
	// keys that have none yet) in one transaction. ErrExists if the id is taken.
	CreateKey(ctx context.Context, k kms.Key, m *Material) error
	// GetKey returns a key with its tags; ErrNotFound if absent.
	GetKey(ctx context.Context, id string) (kms.Key, error)
	// UpdateKey replaces every mutable field of a stored key (description,
	// state, deletion date, policy, current material, tags). ErrNotFound if absent.
	UpdateKey(ctx context.Context, k kms.Key) error
	// DeleteKey removes a key, its material, tags and every alias pointing at it.
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

	Close() error
}
