package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openkms/kms/internal/store"
)

// IAM customer managed policies, their versions and their attachments to
// users and roles.
//
// Writes that check before they change lock the policy's row first, as
// the owners' deletions do (iam.go): DeleteManagedPolicy FOR UPDATE, which
// conflicts with AttachPolicy's FOR KEY SHARE; AddPolicyVersion,
// SetDefaultPolicyVersion and DeletePolicyVersion FOR NO KEY UPDATE (or an
// UPDATE of the row), which conflict with each other and with the
// deletion. Each then checks in a statement of its own, whose snapshot
// includes what the other side committed.

// managedColumns are read FROM managed_policies m.
const managedColumns = `m.account, m.name, m.id, m.path, m.description, m.default_version, m.latest_version,
	m.created, m.updated, (SELECT count(*) FROM policy_attachments a
		WHERE a.account = m.account AND a.policy_key = m.name_key)`

func scanManaged(row pgx.Row) (store.ManagedPolicy, error) {
	var p store.ManagedPolicy
	var created, updated *int64
	err := row.Scan(&p.Account, &p.Name, &p.ID, &p.Path, &p.Description, &p.DefaultVersion,
		&p.LatestVersion, &created, &updated, &p.AttachmentCount)
	p.Created, p.Updated = fromMillis(created), fromMillis(updated)
	return p, err
}

// CreateManagedPolicy implements [store.Store]. ON CONFLICT DO NOTHING
// covers both the name and the id.
func (s *Store) CreateManagedPolicy(ctx context.Context, p store.ManagedPolicy, versions []store.PolicyVersion) error {
	if err := store.CheckPolicyVersions(p, versions); err != nil {
		return wrap("create managed policy", err)
	}
	key := store.NameKey(p.Name)
	return wrap("create managed policy", s.write(ctx, func(tx pgx.Tx) error {
		ok, err := exec(ctx, tx, `INSERT INTO managed_policies
			(account, name_key, name, id, path, description, default_version, latest_version, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
			p.Account, key, p.Name, p.ID, pathOrRoot(p.Path), p.Description, p.DefaultVersion, p.LatestVersion,
			millis(p.Created), millis(p.Updated))
		if err == nil && !ok {
			return store.ErrExists
		}
		if err != nil {
			return err
		}
		for _, v := range versions {
			if _, err := tx.Exec(ctx, `INSERT INTO policy_versions (account, policy_key, number, document, created)
				VALUES ($1, $2, $3, $4, $5)`, p.Account, key, v.Number, v.Document, millis(v.Created)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// GetManagedPolicy implements [store.Store].
func (s *Store) GetManagedPolicy(ctx context.Context, account, name string) (store.ManagedPolicy, error) {
	p, err := scanManaged(s.pool.QueryRow(ctx, `SELECT `+managedColumns+` FROM managed_policies m
		WHERE account = $1 AND name_key = $2`, account, store.NameKey(name)))
	if err != nil {
		return store.ManagedPolicy{}, wrap("get managed policy", err)
	}
	return p, nil
}

// ListManagedPolicies implements [store.Store].
func (s *Store) ListManagedPolicies(ctx context.Context, account, after string, limit int) ([]store.ManagedPolicy, error) {
	q, args := byName(`SELECT `+managedColumns+` FROM managed_policies m WHERE account = $1`,
		[]any{account}, after, limit)
	rows, err := s.pool.Query(ctx, q, args...)
	ps, err := collect(rows, err, scanManaged)
	return ps, wrap("list managed policies", err)
}

// lockPolicy locks a managed policy's row (lock is a locking clause) and
// returns its default version; ErrNotFound if it is absent.
func lockPolicy(ctx context.Context, tx pgx.Tx, account, key, lock string) (int, error) {
	var def int
	err := tx.QueryRow(ctx, `SELECT default_version FROM managed_policies
		WHERE account = $1 AND name_key = $2 `+lock, account, key).Scan(&def)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	return def, err
}

// DeleteManagedPolicy implements [store.Store].
func (s *Store) DeleteManagedPolicy(ctx context.Context, account, name string) error {
	key := store.NameKey(name)
	return wrap("delete managed policy", s.write(ctx, func(tx pgx.Tx) error {
		def, err := lockPolicy(ctx, tx, account, key, "FOR UPDATE")
		if err != nil {
			return err
		}
		var used bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM policy_attachments
				WHERE account = $1 AND policy_key = $2)
			OR EXISTS (SELECT 1 FROM policy_versions
				WHERE account = $1 AND policy_key = $2 AND number <> $3)`, account, key, def).Scan(&used); err != nil {
			return err
		}
		if used {
			return store.ErrInUse
		}
		if _, err := tx.Exec(ctx, `DELETE FROM policy_versions WHERE account = $1 AND policy_key = $2`,
			account, key); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM managed_policies WHERE account = $1 AND name_key = $2`, account, key)
		return err
	}))
}

// AddPolicyVersion implements [store.Store]. The UPDATE that numbers the
// version locks the policy's row until the version is in.
func (s *Store) AddPolicyVersion(ctx context.Context, account, name string, v store.PolicyVersion, setDefault bool) (store.PolicyVersion, error) {
	key := store.NameKey(name)
	err := s.write(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE managed_policies SET latest_version = latest_version + 1
			WHERE account = $1 AND name_key = $2 RETURNING latest_version`, account, key).Scan(&v.Number)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO policy_versions (account, policy_key, number, document, created)
			VALUES ($1, $2, $3, $4, $5)`, account, key, v.Number, v.Document, millis(v.Created)); err != nil {
			return err
		}
		if setDefault {
			_, err = tx.Exec(ctx, `UPDATE managed_policies SET default_version = $1, updated = $2
				WHERE account = $3 AND name_key = $4`, v.Number, millis(v.Created), account, key)
		}
		return err
	})
	if err != nil {
		return store.PolicyVersion{}, wrap("add policy version", err)
	}
	return v, nil
}

func scanVersion(row pgx.Row) (store.PolicyVersion, error) {
	var v store.PolicyVersion
	var created *int64
	err := row.Scan(&v.Number, &v.Document, &created)
	v.Created = fromMillis(created)
	return v, err
}

// GetPolicyVersion implements [store.Store].
func (s *Store) GetPolicyVersion(ctx context.Context, account, name string, number int) (store.PolicyVersion, error) {
	v, err := scanVersion(s.pool.QueryRow(ctx, `SELECT number, document, created FROM policy_versions
		WHERE account = $1 AND policy_key = $2 AND number = $3`, account, store.NameKey(name), number))
	if err != nil {
		return store.PolicyVersion{}, wrap("get policy version", err)
	}
	return v, nil
}

// ListPolicyVersions implements [store.Store].
func (s *Store) ListPolicyVersions(ctx context.Context, account, name string) ([]store.PolicyVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT number, document, created FROM policy_versions
		WHERE account = $1 AND policy_key = $2 ORDER BY number DESC`, account, store.NameKey(name))
	vs, err := collect(rows, err, scanVersion)
	return vs, wrap("list policy versions", err)
}

// SetDefaultPolicyVersion implements [store.Store].
func (s *Store) SetDefaultPolicyVersion(ctx context.Context, account, name string, number int, updated time.Time) error {
	key := store.NameKey(name)
	return wrap("set default policy version", s.write(ctx, func(tx pgx.Tx) error {
		if _, err := lockPolicy(ctx, tx, account, key, "FOR NO KEY UPDATE"); err != nil {
			return err
		}
		ok, err := exists(ctx, tx, `SELECT 1 FROM policy_versions
			WHERE account = $1 AND policy_key = $2 AND number = $3`, account, key, number)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		_, err = tx.Exec(ctx, `UPDATE managed_policies SET default_version = $1, updated = $2
			WHERE account = $3 AND name_key = $4`, number, millis(updated), account, key)
		return err
	}))
}

// DeletePolicyVersion implements [store.Store].
func (s *Store) DeletePolicyVersion(ctx context.Context, account, name string, number int) error {
	key := store.NameKey(name)
	return wrap("delete policy version", s.write(ctx, func(tx pgx.Tx) error {
		def, err := lockPolicy(ctx, tx, account, key, "FOR NO KEY UPDATE")
		if err != nil {
			return err
		}
		if number == def {
			ok, err := exists(ctx, tx, `SELECT 1 FROM policy_versions
				WHERE account = $1 AND policy_key = $2 AND number = $3`, account, key, number)
			if err != nil {
				return err
			}
			if ok {
				return store.ErrInUse
			}
			return store.ErrNotFound
		}
		return execOr(ctx, tx, store.ErrNotFound, `DELETE FROM policy_versions
			WHERE account = $1 AND policy_key = $2 AND number = $3`, account, key, number)
	}))
}

// AttachPolicy implements [store.Store]. It locks the owner's row and the
// policy's FOR KEY SHARE, so that neither is deleted meanwhile.
func (s *Store) AttachPolicy(ctx context.Context, account string, kind store.OwnerKind, owner, policy string) error {
	return wrap("attach policy", s.write(ctx, func(tx pgx.Tx) error {
		name, err := ownerName(ctx, tx, account, kind, owner)
		if err != nil {
			return err
		}
		pkey := store.NameKey(policy)
		if _, err := lockPolicy(ctx, tx, account, pkey, "FOR KEY SHARE"); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO policy_attachments (account, owner_kind, owner_key, owner, policy_key)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, account, string(kind), store.NameKey(name), name, pkey)
		return err
	}))
}

// DetachPolicy implements [store.Store].
func (s *Store) DetachPolicy(ctx context.Context, account string, kind store.OwnerKind, owner, policy string) error {
	return wrap("detach policy", execOr(ctx, s.pool, store.ErrNotFound, `DELETE FROM policy_attachments
		WHERE account = $1 AND owner_kind = $2 AND owner_key = $3 AND policy_key = $4`,
		account, string(kind), store.NameKey(owner), store.NameKey(policy)))
}

// ListAttachedPolicies implements [store.Store] in one statement.
func (s *Store) ListAttachedPolicies(ctx context.Context, account string, kind store.OwnerKind, owner string) ([]store.AttachedPolicy, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+managedColumns+`, v.document
		FROM policy_attachments t
		JOIN managed_policies m ON m.account = t.account AND m.name_key = t.policy_key
		JOIN policy_versions v ON v.account = t.account AND v.policy_key = t.policy_key
			AND v.number = m.default_version
		WHERE t.account = $1 AND t.owner_kind = $2 AND t.owner_key = $3
		ORDER BY m.name_key`, account, string(kind), store.NameKey(owner))
	out, err := collect(rows, err, func(row pgx.Row) (store.AttachedPolicy, error) {
		var a store.AttachedPolicy
		var created, updated *int64
		p := &a.Policy
		err := row.Scan(&p.Account, &p.Name, &p.ID, &p.Path, &p.Description, &p.DefaultVersion,
			&p.LatestVersion, &created, &updated, &p.AttachmentCount, &a.Document)
		p.Created, p.Updated = fromMillis(created), fromMillis(updated)
		return a, err
	})
	return out, wrap("list attached policies", err)
}

// ListPolicyAttachments implements [store.Store].
func (s *Store) ListPolicyAttachments(ctx context.Context, account, policy string) ([]store.PolicyAttachment, error) {
	rows, err := s.pool.Query(ctx, `SELECT owner_kind, owner FROM policy_attachments
		WHERE account = $1 AND policy_key = $2
		ORDER BY CASE owner_kind WHEN 'user' THEN 0 ELSE 1 END, owner_key`, account, store.NameKey(policy))
	out, err := collect(rows, err, func(row pgx.Row) (store.PolicyAttachment, error) {
		var a store.PolicyAttachment
		var kind string
		err := row.Scan(&kind, &a.Owner)
		a.OwnerKind = store.OwnerKind(kind)
		return a, err
	})
	return out, wrap("list policy attachments", err)
}
