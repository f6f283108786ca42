package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/openkms/kms/internal/store"
)

// IAM customer managed policies, their versions and their attachments to
// users and roles. Every write runs on the one writer connection, so its
// checks and changes cannot interleave with another write.

// managedColumns are read FROM managed_policies m.
const managedColumns = `m.account, m.name, m.id, m.path, m.description, m.default_version, m.latest_version,
	m.created, m.updated, (SELECT count(*) FROM policy_attachments a
		WHERE a.account = m.account AND a.policy_key = m.name_key)`

func scanManaged(row scanner) (store.ManagedPolicy, error) {
	var p store.ManagedPolicy
	var created, updated sql.NullInt64
	err := row.Scan(&p.Account, &p.Name, &p.ID, &p.Path, &p.Description, &p.DefaultVersion,
		&p.LatestVersion, &created, &updated, &p.AttachmentCount)
	p.Created, p.Updated = fromMillis(created), fromMillis(updated)
	return p, err
}

// CreateManagedPolicy implements [store.Store].
func (s *Store) CreateManagedPolicy(ctx context.Context, p store.ManagedPolicy, versions []store.PolicyVersion) error {
	if err := store.CheckPolicyVersions(p, versions); err != nil {
		return wrap("create managed policy", err)
	}
	key := store.NameKey(p.Name)
	return wrap("create managed policy", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `INSERT INTO managed_policies
			(account, name_key, name, id, path, description, default_version, latest_version, created, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			p.Account, key, p.Name, p.ID, pathOrRoot(p.Path), p.Description, p.DefaultVersion, p.LatestVersion,
			millis(p.Created), millis(p.Updated))
		if err == nil && !ok {
			return store.ErrExists
		}
		if err != nil {
			return err
		}
		for _, v := range versions {
			if _, err := tx.ExecContext(ctx, `INSERT INTO policy_versions (account, policy_key, number, document, created)
				VALUES (?, ?, ?, ?, ?)`, p.Account, key, v.Number, v.Document, millis(v.Created)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// GetManagedPolicy implements [store.Store].
func (s *Store) GetManagedPolicy(ctx context.Context, account, name string) (store.ManagedPolicy, error) {
	p, err := scanManaged(s.r.QueryRowContext(ctx, `SELECT `+managedColumns+` FROM managed_policies m
		WHERE account = ? AND name_key = ?`, account, store.NameKey(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ManagedPolicy{}, wrap("get managed policy", store.ErrNotFound)
	}
	return p, wrap("get managed policy", err)
}

// ListManagedPolicies implements [store.Store].
func (s *Store) ListManagedPolicies(ctx context.Context, account, after string, limit int) ([]store.ManagedPolicy, error) {
	q, args := byName(`SELECT `+managedColumns+` FROM managed_policies m WHERE account = ?`,
		[]any{account}, after, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	ps, err := collect(rows, err, scanManaged)
	return ps, wrap("list managed policies", err)
}

// DeleteManagedPolicy implements [store.Store].
func (s *Store) DeleteManagedPolicy(ctx context.Context, account, name string) error {
	key := store.NameKey(name)
	return wrap("delete managed policy", s.write(ctx, func(tx *sql.Tx) error {
		var def int
		err := tx.QueryRowContext(ctx, `SELECT default_version FROM managed_policies
			WHERE account = ? AND name_key = ?`, account, key).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		attached, err := exists(ctx, tx, `SELECT 1 FROM policy_attachments
			WHERE account = ? AND policy_key = ? LIMIT 1`, account, key)
		if err != nil {
			return err
		}
		others, err := exists(ctx, tx, `SELECT 1 FROM policy_versions
			WHERE account = ? AND policy_key = ? AND number <> ? LIMIT 1`, account, key, def)
		if err != nil {
			return err
		}
		if attached || others {
			return store.ErrInUse
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM policy_versions WHERE account = ? AND policy_key = ?`,
			account, key); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM managed_policies WHERE account = ? AND name_key = ?`, account, key)
		return err
	}))
}

// AddPolicyVersion implements [store.Store].
func (s *Store) AddPolicyVersion(ctx context.Context, account, name string, v store.PolicyVersion, setDefault bool) (store.PolicyVersion, error) {
	key := store.NameKey(name)
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE managed_policies SET latest_version = latest_version + 1
			WHERE account = ? AND name_key = ? RETURNING latest_version`, account, key).Scan(&v.Number)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_versions (account, policy_key, number, document, created)
			VALUES (?, ?, ?, ?, ?)`, account, key, v.Number, v.Document, millis(v.Created)); err != nil {
			return err
		}
		if setDefault {
			_, err = tx.ExecContext(ctx, `UPDATE managed_policies SET default_version = ?, updated = ?
				WHERE account = ? AND name_key = ?`, v.Number, millis(v.Created), account, key)
		}
		return err
	})
	if err != nil {
		return store.PolicyVersion{}, wrap("add policy version", err)
	}
	return v, nil
}

func scanVersion(row scanner) (store.PolicyVersion, error) {
	var v store.PolicyVersion
	var created sql.NullInt64
	err := row.Scan(&v.Number, &v.Document, &created)
	v.Created = fromMillis(created)
	return v, err
}

// GetPolicyVersion implements [store.Store].
func (s *Store) GetPolicyVersion(ctx context.Context, account, name string, number int) (store.PolicyVersion, error) {
	v, err := scanVersion(s.r.QueryRowContext(ctx, `SELECT number, document, created FROM policy_versions
		WHERE account = ? AND policy_key = ? AND number = ?`, account, store.NameKey(name), number))
	if errors.Is(err, sql.ErrNoRows) {
		return store.PolicyVersion{}, wrap("get policy version", store.ErrNotFound)
	}
	return v, wrap("get policy version", err)
}

// ListPolicyVersions implements [store.Store].
func (s *Store) ListPolicyVersions(ctx context.Context, account, name string) ([]store.PolicyVersion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT number, document, created FROM policy_versions
		WHERE account = ? AND policy_key = ? ORDER BY number DESC`, account, store.NameKey(name))
	vs, err := collect(rows, err, scanVersion)
	return vs, wrap("list policy versions", err)
}

// SetDefaultPolicyVersion implements [store.Store].
func (s *Store) SetDefaultPolicyVersion(ctx context.Context, account, name string, number int, updated time.Time) error {
	key := store.NameKey(name)
	return wrap("set default policy version", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `UPDATE managed_policies SET default_version = ?, updated = ?
			WHERE account = ? AND name_key = ? AND EXISTS (SELECT 1 FROM policy_versions
				WHERE account = ? AND policy_key = ? AND number = ?)`,
			number, millis(updated), account, key, account, key, number)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

// DeletePolicyVersion implements [store.Store].
func (s *Store) DeletePolicyVersion(ctx context.Context, account, name string, number int) error {
	key := store.NameKey(name)
	return wrap("delete policy version", s.write(ctx, func(tx *sql.Tx) error {
		var def int
		err := tx.QueryRowContext(ctx, `SELECT default_version FROM managed_policies
			WHERE account = ? AND name_key = ?`, account, key).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		ok, err := exists(ctx, tx, `SELECT 1 FROM policy_versions
			WHERE account = ? AND policy_key = ? AND number = ?`, account, key, number)
		switch {
		case err != nil:
			return err
		case !ok:
			return store.ErrNotFound
		case number == def:
			return store.ErrInUse
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM policy_versions
			WHERE account = ? AND policy_key = ? AND number = ?`, account, key, number)
		return err
	}))
}

// AttachPolicy implements [store.Store].
func (s *Store) AttachPolicy(ctx context.Context, account string, kind store.OwnerKind, owner, policy string) error {
	return wrap("attach policy", s.write(ctx, func(tx *sql.Tx) error {
		name, err := ownerName(ctx, tx, account, kind, owner)
		if err != nil {
			return err
		}
		pkey := store.NameKey(policy)
		ok, err := exists(ctx, tx, `SELECT 1 FROM managed_policies WHERE account = ? AND name_key = ?`, account, pkey)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO policy_attachments (account, owner_kind, owner_key, owner, policy_key)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, account, string(kind), store.NameKey(name), name, pkey)
		return err
	}))
}

// DetachPolicy implements [store.Store].
func (s *Store) DetachPolicy(ctx context.Context, account string, kind store.OwnerKind, owner, policy string) error {
	return wrap("detach policy", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `DELETE FROM policy_attachments
			WHERE account = ? AND owner_kind = ? AND owner_key = ? AND policy_key = ?`,
			account, string(kind), store.NameKey(owner), store.NameKey(policy))
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

// ListAttachedPolicies implements [store.Store].
func (s *Store) ListAttachedPolicies(ctx context.Context, account string, kind store.OwnerKind, owner string) ([]store.AttachedPolicy, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+managedColumns+`, v.document
		FROM policy_attachments t
		JOIN managed_policies m ON m.account = t.account AND m.name_key = t.policy_key
		JOIN policy_versions v ON v.account = t.account AND v.policy_key = t.policy_key
			AND v.number = m.default_version
		WHERE t.account = ? AND t.owner_kind = ? AND t.owner_key = ?
		ORDER BY m.name_key`, account, string(kind), store.NameKey(owner))
	out, err := collect(rows, err, func(row scanner) (store.AttachedPolicy, error) {
		var a store.AttachedPolicy
		var created, updated sql.NullInt64
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
	rows, err := s.r.QueryContext(ctx, `SELECT owner_kind, owner FROM policy_attachments
		WHERE account = ? AND policy_key = ?
		ORDER BY CASE owner_kind WHEN 'user' THEN 0 ELSE 1 END, owner_key`, account, store.NameKey(policy))
	out, err := collect(rows, err, func(row scanner) (store.PolicyAttachment, error) {
		var a store.PolicyAttachment
		var kind string
		err := row.Scan(&kind, &a.Owner)
		a.OwnerKind = store.OwnerKind(kind)
		return a, err
	})
	return out, wrap("list policy attachments", err)
}
