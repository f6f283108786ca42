package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// Keys, their tags and materials, and aliases.
//
// A key row is locked by every write that depends on it or changes it, so
// those serialize per key: CreateKey holds the row it inserts; UpdateKey,
// RotateKey and PromoteMaterial update it; AddMaterial locks it FOR NO KEY
// UPDATE (which also serializes the numbering of materials); CreateAlias,
// UpdateAlias and CreateGrant lock it FOR KEY SHARE, which keeps it from
// being deleted but lets the key itself be updated meanwhile; DeleteKey
// deletes it, waiting for all of them.

// keyColumns and keyFrom go together: one row per key, its tags aggregated
// in position order (NULL arrays when it has none), so that LIMIT counts
// keys and one statement reads everything.
const (
	keyColumns = `k.id, k.account, k.region, k.description, k.key_spec, k.key_usage,
	k.origin, k.manager, k.state, k.created, k.deletion_date, k.policy,
	k.current_material, k.rotation_enabled, k.rotation_period_days,
	k.next_rotation_date, k.expiration_model, k.valid_to, k.revision,
	k.primary_region, k.pending_window_days, t.tag_keys, t.tag_values`
	keyFrom = `keys k CROSS JOIN LATERAL (
		SELECT array_agg(tag_key ORDER BY position) AS tag_keys,
		       array_agg(tag_value ORDER BY position) AS tag_values
		FROM key_tags WHERE key_id = k.id) t`
)

// keyRow receives one row of keyColumns.
type keyRow struct {
	k                                   kms.Key
	description, policy                 []byte
	spec, usage, origin, manager, state string
	created, deletion, next, validTo    *int64
	tagKeys, tagValues                  [][]byte
}

// dest returns the scan destinations for keyColumns.
func (r *keyRow) dest() []any {
	return []any{&r.k.ID, &r.k.Account, &r.k.Region, &r.description, &r.spec, &r.usage,
		&r.origin, &r.manager, &r.state, &r.created, &r.deletion, &r.policy,
		&r.k.CurrentMaterialID, &r.k.RotationEnabled, &r.k.RotationPeriodDays,
		&r.next, &r.k.ExpirationModel, &r.validTo, &r.k.Revision,
		&r.k.PrimaryRegion, &r.k.PendingWindowDays, &r.tagKeys, &r.tagValues}
}

// key assembles the scanned key.
func (r *keyRow) key() (kms.Key, error) {
	k := r.k
	k.Description = string(r.description)
	k.Policy = string(r.policy)
	k.Spec = kms.KeySpec(r.spec)
	k.Usage = kms.KeyUsage(r.usage)
	k.Origin = kms.Origin(r.origin)
	k.Manager = kms.KeyManager(r.manager)
	k.State = kms.KeyState(r.state)
	k.CreationDate = fromMillis(r.created)
	k.DeletionDate = fromMillis(r.deletion)
	k.NextRotationDate = fromMillis(r.next)
	k.ValidTo = fromMillis(r.validTo)
	if len(r.tagKeys) != len(r.tagValues) {
		return kms.Key{}, fmt.Errorf("key %s: %d tag keys but %d values", k.ID, len(r.tagKeys), len(r.tagValues))
	}
	for i := range r.tagKeys {
		k.Tags = append(k.Tags, kms.Tag{Key: string(r.tagKeys[i]), Value: string(r.tagValues[i])})
	}
	return k, nil
}

func scanKey(row pgx.Row) (kms.Key, error) {
	var r keyRow
	if err := row.Scan(r.dest()...); err != nil {
		return kms.Key{}, err
	}
	return r.key()
}

// queryKeys returns the keys that where (on keys k) selects, with their
// tags, ordered by id, then limited by limit when it is above 0.
func (s *Store) queryKeys(ctx context.Context, where string, limit int, args ...any) ([]kms.Key, error) {
	q := `SELECT ` + keyColumns + ` FROM ` + keyFrom + ` WHERE ` + where + ` ORDER BY k.id`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT $%d`, len(args)+1)
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	return collect(rows, err, scanKey)
}

// CreateKey implements [store.Store]. m.KeyID may be left empty; if set it
// must equal k.ID. The key's row, inserted first, stays locked until the
// commit, so nothing can be added to a half-created key.
func (s *Store) CreateKey(ctx context.Context, k kms.Key, m *store.Material) error {
	if m != nil && m.KeyID != "" && m.KeyID != k.ID {
		return fmt.Errorf("postgres: create key: material is for key %q, not %q", m.KeyID, k.ID)
	}
	return wrap("create key", s.write(ctx, func(tx pgx.Tx) error {
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		if m != nil {
			return insertMaterial(ctx, tx, k.ID, *m)
		}
		return nil
	}))
}

// insertKey inserts a key's row and its tags; ErrExists if the id is taken.
func insertKey(ctx context.Context, tx pgx.Tx, k kms.Key) error {
	ok, err := exec(ctx, tx, `INSERT INTO keys
		(id, account, region, description, key_spec, key_usage, origin, manager,
		 state, created, deletion_date, policy, current_material,
		 rotation_enabled, rotation_period_days, next_rotation_date, expiration_model, valid_to,
		 primary_region, pending_window_days)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT DO NOTHING`,
		k.ID, k.Account, k.Region, []byte(k.Description), string(k.Spec), string(k.Usage),
		string(k.Origin), string(k.Manager), string(k.State), millis(k.CreationDate),
		millis(k.DeletionDate), []byte(k.Policy), k.CurrentMaterialID,
		k.RotationEnabled, k.RotationPeriodDays, millis(k.NextRotationDate),
		k.ExpirationModel, millis(k.ValidTo), k.PrimaryRegion, k.PendingWindowDays)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrExists
	}
	return insertTags(ctx, tx, k.ID, k.Tags)
}

// ReplicateKey implements [store.Store]. It locks from's row FOR UPDATE,
// as RotateKey's UPDATE does: a rotation committed first is copied, one
// that waits for the lock finds k among the copies it rotates.
func (s *Store) ReplicateKey(ctx context.Context, k kms.Key, from string) error {
	return wrap("replicate key", s.write(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT current_material FROM keys WHERE id = $1 FOR UPDATE`, from).
			Scan(&k.CurrentMaterialID); err != nil {
			return err
		}
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO materials
			(key_id, id, seq, sealed, created, rotation_type, rotation_date, pending, valid_to, description)
			SELECT $1, id, seq, sealed, created, rotation_type, rotation_date, pending, valid_to, description
			FROM materials WHERE key_id = $2`, k.ID, from)
		return err
	}))
}

// regionRange bounds the store ids of every copy of multi-Region key id:
// id@region sorts at or after id@ and before idA ('A' follows '@'). The
// keys' id column is COLLATE "C" (byte order), so the bounds hold.
func regionRange(id string) (lo, hi string) { return id + "@", id + "A" }

// KeyRegions implements [store.Store].
func (s *Store) KeyRegions(ctx context.Context, id string) ([]kms.Key, error) {
	lo, hi := regionRange(id)
	keys, err := s.queryKeys(ctx, `k.id >= $1 AND k.id < $2`, 0, lo, hi)
	return keys, wrap("key regions", err)
}

// SetPrimaryRegion implements [store.Store]. It locks every copy first, so
// it serializes with rotations and replications of the key.
func (s *Store) SetPrimaryRegion(ctx context.Context, id, region string) error {
	lo, hi := regionRange(id)
	to := kms.RowID(region, id)
	return wrap("set primary region", s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM keys WHERE id >= $1 AND id < $2 FOR UPDATE`, lo, hi); err != nil {
			return err
		}
		var (
			from    string
			enabled bool
			period  int
			next    *int64
		)
		if err := tx.QueryRow(ctx, `SELECT id, rotation_enabled, rotation_period_days, next_rotation_date
			FROM keys WHERE id >= $1 AND id < $2 AND region = primary_region`, lo, hi).
			Scan(&from, &enabled, &period, &next); err != nil {
			return err
		}
		if err := execOr(ctx, tx, store.ErrNotFound, `UPDATE keys SET rotation_enabled = $1,
			rotation_period_days = $2, next_rotation_date = $3 WHERE id = $4`, enabled, period, next, to); err != nil {
			return err
		}
		if from != to {
			if _, err := tx.Exec(ctx, `UPDATE keys SET rotation_enabled = false, next_rotation_date = NULL
				WHERE id = $1`, from); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE keys SET primary_region = $1, revision = revision + 1
			WHERE id >= $2 AND id < $3`, region, lo, hi)
		return err
	}))
}

// insertTags stores tags in one statement, numbering them from 0.
func insertTags(ctx context.Context, tx pgx.Tx, keyID string, tags []kms.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	keys := make([][]byte, len(tags))
	values := make([][]byte, len(tags))
	for i, t := range tags {
		keys[i], values[i] = []byte(t.Key), []byte(t.Value)
	}
	_, err := tx.Exec(ctx, `INSERT INTO key_tags (key_id, position, tag_key, tag_value)
		SELECT $1, u.n - 1, u.k, u.v FROM unnest($2::bytea[], $3::bytea[]) WITH ORDINALITY AS u (k, v, n)`,
		keyID, keys, values)
	return err
}

// insertMaterial stores a material of a key whose row the transaction has
// locked, which keeps seq (MAX + 1) unique per key. ErrExists if the id is
// taken.
func insertMaterial(ctx context.Context, tx pgx.Tx, keyID string, m store.Material) error {
	return execOr(ctx, tx, store.ErrExists, `INSERT INTO materials
		(key_id, id, seq, sealed, created, rotation_type, rotation_date, pending, valid_to, description)
		VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM materials WHERE key_id = $1),
		        $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT DO NOTHING`,
		keyID, m.ID, m.Sealed, millis(m.Created), m.RotationType, millis(m.RotationDate), m.Pending,
		millis(m.ValidTo), []byte(m.Description))
}

// AddMaterial implements [store.Store]. It locks the key's row (FOR NO KEY
// UPDATE): that serializes the numbering of materials with the other
// writers of materials, and keeps the key from being deleted meanwhile.
func (s *Store) AddMaterial(ctx context.Context, m store.Material) error {
	return wrap("add material", s.write(ctx, func(tx pgx.Tx) error {
		ok, err := exists(ctx, tx, `SELECT 1 FROM keys WHERE id = $1 FOR NO KEY UPDATE`, m.KeyID)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		return insertMaterial(ctx, tx, m.KeyID, m)
	}))
}

// RotateKey implements [store.Store]. The conditional UPDATE is the
// compare-and-swap: of two rotations from the same prev, the second waits
// for the first's row lock, PostgreSQL re-checks its WHERE clause against
// the committed row, and it updates nothing (ErrConflict). ErrExists if m.ID
// is already a material of the key; the key then does not move either.
func (s *Store) RotateKey(ctx context.Context, m store.Material, prev string, next time.Time) error {
	return wrap("rotate key", s.write(ctx, func(tx pgx.Tx) error {
		ok, err := exec(ctx, tx, `UPDATE keys SET revision = revision + 1, current_material = $1, next_rotation_date = $2
			WHERE id = $3 AND current_material = $4`,
			m.ID, millis(next), m.KeyID, prev)
		if err != nil {
			return err
		}
		if !ok {
			// Whatever the key's material is by now (it may even be prev
			// again), this rotation did not happen.
			if _, err := currentMaterial(ctx, tx, m.KeyID); err != nil {
				return err
			}
			return store.ErrConflict
		}
		if err := insertMaterial(ctx, tx, m.KeyID, m); err != nil {
			return err
		}
		if kms.KeyIDOf(m.KeyID) == m.KeyID {
			return nil
		}
		// The other copies of a multi-Region key; the UPDATE locks each.
		lo, hi := regionRange(kms.KeyIDOf(m.KeyID))
		rows, err := tx.Query(ctx, `UPDATE keys SET revision = revision + 1, current_material = $1
			WHERE id >= $2 AND id < $3 AND id <> $4 RETURNING id`, m.ID, lo, hi, m.KeyID)
		others, err := collect(rows, err, func(r pgx.Row) (string, error) {
			var id string
			return id, r.Scan(&id)
		})
		if err != nil {
			return err
		}
		for _, o := range others {
			if err := insertMaterial(ctx, tx, o, m); err != nil {
				return err
			}
		}
		return nil
	}))
}

// currentMaterial reads a key's current material, after a compare-and-swap
// on it matched no row, to tell why; pgx.ErrNoRows (which wrap makes
// ErrNotFound) if the key is absent. It reads a newer snapshot than the
// failed UPDATE did, which is enough to classify the failure, never to
// retry the write.
func currentMaterial(ctx context.Context, tx pgx.Tx, keyID string) (string, error) {
	var current string
	err := tx.QueryRow(ctx, `SELECT current_material FROM keys WHERE id = $1`, keyID).Scan(&current)
	return current, err
}

// PromoteMaterial implements [store.Store]. Like RotateKey, the conditional
// UPDATE of the key is the compare-and-swap; on a mismatch a stale prev
// (ErrConflict) is reported before a material that is not pending
// (ErrNotFound), so the losers of a race learn that they lost. The
// material's own update is conditional on its still being pending, so a
// material deleted meanwhile undoes the promotion (ErrNotFound) rather than
// leaving the key on a missing material.
func (s *Store) PromoteMaterial(ctx context.Context, keyID, materialID, prev string, rotationType string, rotationDate time.Time) error {
	return wrap("promote material", s.write(ctx, func(tx pgx.Tx) error {
		ok, err := exec(ctx, tx, `UPDATE keys k SET revision = k.revision + 1, current_material = $1,
			valid_to = m.valid_to, expiration_model = CASE WHEN m.valid_to IS NULL THEN $2 ELSE $5 END
			FROM materials m
			WHERE k.id = $3 AND k.current_material = $4 AND m.key_id = $3 AND m.id = $1 AND m.pending`,
			materialID, materialDoesNotExpire, keyID, prev, materialExpires)
		if err != nil {
			return err
		}
		if !ok {
			current, err := currentMaterial(ctx, tx, keyID)
			switch {
			case err != nil:
				return err
			case current != prev:
				return store.ErrConflict
			}
			return store.ErrNotFound // no such pending material
		}
		return execOr(ctx, tx, store.ErrNotFound, `UPDATE materials
			SET pending = false, rotation_type = $1, rotation_date = $2
			WHERE key_id = $3 AND id = $4 AND pending`,
			rotationType, millis(rotationDate), keyID, materialID)
	}))
}

// The expiration models a promoted material gives its key (see
// [store.Store.PromoteMaterial]).
const (
	materialDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	materialExpires       = "KEY_MATERIAL_EXPIRES"
)

// UpdateMaterial implements [store.Store]. The material's key row is
// locked first, as by every other writer of its materials.
func (s *Store) UpdateMaterial(ctx context.Context, m store.Material) error {
	return wrap("update material", s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM keys WHERE id = $1 FOR NO KEY UPDATE`, m.KeyID); err != nil {
			return err
		}
		return execOr(ctx, tx, store.ErrNotFound, `UPDATE materials SET valid_to = $1, description = $2
			WHERE key_id = $3 AND id = $4`, millis(m.ValidTo), []byte(m.Description), m.KeyID, m.ID)
	}))
}

// DeleteMaterial implements [store.Store]. It leaves the key alone, even
// when the material is its current one.
func (s *Store) DeleteMaterial(ctx context.Context, keyID, materialID string) error {
	return wrap("delete material", execOr(ctx, s.pool, store.ErrNotFound,
		`DELETE FROM materials WHERE key_id = $1 AND id = $2`, keyID, materialID))
}

// grantJSON is a grant as GetKeyForUse aggregates it.
type grantJSON struct {
	ID       string  `json:"i"`
	Name     string  `json:"n"`
	Grantee  string  `json:"g"`
	Retiring string  `json:"r"`
	Issuing  string  `json:"a"`
	Ops      string  `json:"o"`
	Equals   *string `json:"e"`
	Subset   *string `json:"s"`
	Created  int64   `json:"c"`
	Source   string  `json:"src"`
}

// GetKeyForUse implements [store.Store] in one statement, so one round trip
// and one snapshot: the key and its tags, alias names, grants (aggregated
// as JSON, in list order) and current material.
func (s *Store) GetKeyForUse(ctx context.Context, id string) (store.KeyForUse, error) {
	var (
		r                 keyRow
		aliases           []string
		grants            *string
		mID, mRotType     *string
		sealed            []byte
		mCreated, rotated *int64
		pending           *bool
		mValidTo          *int64
		mDescription      []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT `+keyColumns+`,
			(SELECT array_agg(a.name) FROM aliases a WHERE a.key_id = k.id),
			(SELECT json_agg(json_build_object('i', g.id, 'n', g.name, 'g', g.grantee_principal,
				'r', g.retiring_principal, 'a', g.issuing_account, 'o', g.operations,
				'e', g.context_equals, 's', g.context_subset, 'c', g.created, 'src', g.source_arn)
				ORDER BY g.created, g.id)::text
			 FROM grants g WHERE g.key_id = k.id),
			m.id, m.sealed, m.created, m.rotation_type, m.rotation_date, m.pending, m.valid_to, m.description
		FROM `+keyFrom+`
		LEFT JOIN materials m ON m.key_id = k.id AND m.id = k.current_material
		WHERE k.id = $1`, id).
		Scan(append(r.dest(), &aliases, &grants, &mID, &sealed, &mCreated, &mRotType, &rotated, &pending, &mValidTo, &mDescription)...)
	if err != nil {
		return store.KeyForUse{}, wrap("get key for use", err)
	}
	k, err := r.key()
	if err != nil {
		return store.KeyForUse{}, wrap("get key for use", err)
	}
	u := store.KeyForUse{Key: k, Aliases: aliases}
	if mID != nil {
		u.Current = &store.Material{KeyID: id, ID: *mID, Sealed: sealed, Created: fromMillis(mCreated),
			RotationType: deref(mRotType), RotationDate: fromMillis(rotated), Pending: pending != nil && *pending,
			ValidTo: fromMillis(mValidTo), Description: string(mDescription)}
	}
	if grants != nil {
		var gs []grantJSON
		if err := json.Unmarshal([]byte(*grants), &gs); err != nil {
			return store.KeyForUse{}, wrap("get key for use", fmt.Errorf("grants of key %s: %w", id, err))
		}
		for _, j := range gs {
			g, err := store.DecodeGrantColumns(store.Grant{ID: j.ID, KeyID: id, Name: j.Name, GranteePrincipal: j.Grantee,
				RetiringPrincipal: j.Retiring, IssuingAccount: j.Issuing, SourceArn: j.Source, Created: fromMillis(&j.Created)},
				j.Ops, j.Equals, j.Subset)
			if err != nil {
				return store.KeyForUse{}, wrap("get key for use", err)
			}
			u.Grants = append(u.Grants, g)
		}
	}
	return u, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// GetKey implements [store.Store].
func (s *Store) GetKey(ctx context.Context, id string) (kms.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM `+keyFrom+` WHERE k.id = $1`, id))
	if err != nil {
		return kms.Key{}, wrap("get key", err)
	}
	return k, nil
}

// UpdateKey implements [store.Store]; the rotation and expiration fields
// are mutable too. The immutable fields of k (account, region, spec, usage,
// origin, manager, creation date) are ignored. The UPDATE locks the key's
// row before its tags are replaced, so concurrent updates of one key apply
// whole, one after the other.
func (s *Store) UpdateKey(ctx context.Context, k kms.Key) error {
	return wrap("update key", s.write(ctx, func(tx pgx.Tx) error {
		ok, err := exec(ctx, tx, `UPDATE keys SET description = $1, state = $2,
			deletion_date = $3, policy = $4, current_material = $5,
			rotation_enabled = $6, rotation_period_days = $7, next_rotation_date = $8,
			expiration_model = $9, valid_to = $10, pending_window_days = $11, revision = revision + 1
			WHERE id = $12 AND revision = $13`,
			[]byte(k.Description), string(k.State), millis(k.DeletionDate), []byte(k.Policy),
			k.CurrentMaterialID, k.RotationEnabled, k.RotationPeriodDays,
			millis(k.NextRotationDate), k.ExpirationModel, millis(k.ValidTo), k.PendingWindowDays,
			k.ID, k.Revision)
		if err != nil {
			return err
		}
		if !ok {
			// PostgreSQL re-checked the revision against a concurrent
			// winner's committed row: the key changed, or is gone.
			found, err := exists(ctx, tx, `SELECT 1 FROM keys WHERE id = $1`, k.ID)
			if err != nil {
				return err
			}
			if !found {
				return store.ErrNotFound
			}
			return store.ErrConflict
		}
		if _, err := tx.Exec(ctx, `DELETE FROM key_tags WHERE key_id = $1`, k.ID); err != nil {
			return err
		}
		return insertTags(ctx, tx, k.ID, k.Tags)
	}))
}

// DeleteKey implements [store.Store]; ErrNotFound if the key is absent. Its
// tags, materials, aliases and grants go with it through the foreign keys'
// ON DELETE CASCADE, which PostgreSQL always enforces, in the same statement.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	return wrap("delete key", execOr(ctx, s.pool, store.ErrNotFound,
		`DELETE FROM keys WHERE id = $1`, id))
}

// ListKeys implements [store.Store]. A Limit below 0 counts as no cap.
func (s *Store) ListKeys(ctx context.Context, f store.KeyFilter) ([]kms.Key, error) {
	where := `k.account = $1 AND k.region = $2`
	args := []any{f.Account, f.Region}
	if f.After != "" {
		where += ` AND k.id > $3`
		args = append(args, f.After)
	}
	keys, err := s.queryKeys(ctx, where, f.Limit, args...)
	return keys, wrap("list keys", err)
}

// KeysPendingDeletion implements [store.Store]; the keys come ordered by id.
func (s *Store) KeysPendingDeletion(ctx context.Context, t time.Time) ([]kms.Key, error) {
	keys, err := s.queryKeys(ctx,
		`k.state = $1 AND k.deletion_date IS NOT NULL AND k.deletion_date <= $2`, 0,
		string(kms.KeyStatePendingDeletion), t.UnixMilli())
	return keys, wrap("keys pending deletion", err)
}

// KeysDueForRotation implements [store.Store]; the keys come ordered by id.
// A key with rotation on but no next rotation date is never due.
func (s *Store) KeysDueForRotation(ctx context.Context, t time.Time) ([]kms.Key, error) {
	keys, err := s.queryKeys(ctx, `k.state = $1 AND k.rotation_enabled
		AND k.next_rotation_date IS NOT NULL AND k.next_rotation_date <= $2`, 0,
		string(kms.KeyStateEnabled), t.UnixMilli())
	return keys, wrap("keys due for rotation", err)
}

// expiresModel is the ExpirationModel of material with a ValidTo.
const expiresModel = "KEY_MATERIAL_EXPIRES"

// KeysWithExpiredMaterial implements [store.Store]; the keys come ordered
// by id. A key without a ValidTo never expires.
func (s *Store) KeysWithExpiredMaterial(ctx context.Context, t time.Time) ([]kms.Key, error) {
	keys, err := s.queryKeys(ctx, `k.expiration_model = $1
		AND k.valid_to IS NOT NULL AND k.valid_to <= $2 AND k.state <> $3`, 0,
		expiresModel, t.UnixMilli(), string(kms.KeyStatePendingImport))
	return keys, wrap("keys with expired material", err)
}

// materialColumns are the columns scanMaterial reads, in its order.
const materialColumns = `key_id, id, sealed, created, rotation_type, rotation_date, pending, valid_to, description`

func scanMaterial(row pgx.Row) (store.Material, error) {
	var m store.Material
	var created, rotated, validTo *int64
	var description []byte
	err := row.Scan(&m.KeyID, &m.ID, &m.Sealed, &created, &m.RotationType, &rotated, &m.Pending, &validTo, &description)
	m.Created = fromMillis(created)
	m.RotationDate = fromMillis(rotated)
	m.ValidTo = fromMillis(validTo)
	m.Description = string(description)
	return m, err
}

// GetMaterial implements [store.Store].
func (s *Store) GetMaterial(ctx context.Context, keyID, materialID string) (store.Material, error) {
	m, err := scanMaterial(s.pool.QueryRow(ctx, `SELECT `+materialColumns+`
		FROM materials WHERE key_id = $1 AND id = $2`, keyID, materialID))
	if err != nil {
		return store.Material{}, wrap("get material", err)
	}
	return m, nil
}

// ListMaterials implements [store.Store]. An unknown key has no materials,
// which is not an error.
func (s *Store) ListMaterials(ctx context.Context, keyID string) ([]store.Material, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+materialColumns+`
		FROM materials WHERE key_id = $1 ORDER BY created, seq`, keyID)
	ms, err := collect(rows, err, scanMaterial)
	return ms, wrap("list materials", err)
}

// keyShare locks a key's row FOR KEY SHARE, so that it cannot be deleted
// before the transaction ends (but may be updated), and reports whether it
// exists. A DeleteKey that came first makes it wait, then find nothing.
func keyShare(ctx context.Context, tx pgx.Tx, id string) (bool, error) {
	return exists(ctx, tx, `SELECT 1 FROM keys WHERE id = $1 FOR KEY SHARE`, id)
}

// CreateAlias implements [store.Store]. ErrNotFound if the target key is
// absent: an alias always names a stored key.
func (s *Store) CreateAlias(ctx context.Context, a kms.Alias) error {
	return wrap("create alias", s.write(ctx, func(tx pgx.Tx) error {
		ok, err := keyShare(ctx, tx, a.TargetKeyID)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		return execOr(ctx, tx, store.ErrExists, `INSERT INTO aliases
			(account, region, name, key_id, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			a.Account, a.Region, a.Name, a.TargetKeyID,
			millis(a.CreationDate), millis(a.LastUpdatedDate))
	}))
}

// GetAlias implements [store.Store].
func (s *Store) GetAlias(ctx context.Context, account, region, name string) (kms.Alias, error) {
	a := kms.Alias{Name: name, Account: account, Region: region}
	var created, updated *int64
	err := s.pool.QueryRow(ctx, `SELECT key_id, created, updated FROM aliases
		WHERE account = $1 AND region = $2 AND name = $3`, account, region, name).
		Scan(&a.TargetKeyID, &created, &updated)
	if err != nil {
		return kms.Alias{}, wrap("get alias", err)
	}
	a.CreationDate = fromMillis(created)
	a.LastUpdatedDate = fromMillis(updated)
	return a, nil
}

// UpdateAlias implements [store.Store]. ErrNotFound if the alias or the new
// target key is absent.
func (s *Store) UpdateAlias(ctx context.Context, a kms.Alias) error {
	return wrap("update alias", s.write(ctx, func(tx pgx.Tx) error {
		ok, err := keyShare(ctx, tx, a.TargetKeyID)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		return execOr(ctx, tx, store.ErrNotFound, `UPDATE aliases SET key_id = $1, updated = $2
			WHERE account = $3 AND region = $4 AND name = $5`,
			a.TargetKeyID, millis(a.LastUpdatedDate), a.Account, a.Region, a.Name)
	}))
}

// DeleteAlias implements [store.Store]; ErrNotFound if the alias is absent.
func (s *Store) DeleteAlias(ctx context.Context, account, region, name string) error {
	return wrap("delete alias", execOr(ctx, s.pool, store.ErrNotFound, `DELETE FROM aliases
		WHERE account = $1 AND region = $2 AND name = $3`, account, region, name))
}

// ListAliases implements [store.Store]. A Limit below 0 counts as no cap.
func (s *Store) ListAliases(ctx context.Context, f store.AliasFilter) ([]kms.Alias, error) {
	q := `SELECT name, key_id, created, updated FROM aliases WHERE account = $1 AND region = $2`
	args := []any{f.Account, f.Region}
	if f.KeyID != "" {
		args = append(args, f.KeyID)
		q += fmt.Sprintf(` AND key_id = $%d`, len(args))
	}
	if f.After != "" {
		args = append(args, f.After)
		q += fmt.Sprintf(` AND name > $%d`, len(args))
	}
	q += ` ORDER BY name`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	as, err := collect(rows, err, func(row pgx.Row) (kms.Alias, error) {
		a := kms.Alias{Account: f.Account, Region: f.Region}
		var created, updated *int64
		err := row.Scan(&a.Name, &a.TargetKeyID, &created, &updated)
		a.CreationDate = fromMillis(created)
		a.LastUpdatedDate = fromMillis(updated)
		return a, err
	})
	return as, wrap("list aliases", err)
}

// CountAliases implements [store.Store].
func (s *Store) CountAliases(ctx context.Context, keyID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM aliases WHERE key_id = $1`, keyID).Scan(&n)
	return n, wrap("count aliases", err)
}

// CountKeys implements [store.KeyCounter].
func (s *Store) CountKeys(ctx context.Context) ([]store.KeyCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT state, key_spec, count(*) FROM keys GROUP BY state, key_spec`)
	counts, err := collect(rows, err, func(row pgx.Row) (c store.KeyCount, err error) {
		err = row.Scan(&c.State, &c.Spec, &c.N)
		return c, err
	})
	return counts, wrap("count keys", err)
}
