package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/openkms/kms/internal/store"
)

// IAM users, roles and inline policies. Names are matched and ordered by
// their store.NameKey in the name_key columns; the name column keeps the
// spelling they were created with.

// ownerName returns the name, as created, of the user or role whose name is
// name in any case; ErrNotFound if there is none.
func ownerName(ctx context.Context, tx *sql.Tx, account string, kind store.OwnerKind, name string) (string, error) {
	var q string
	switch kind {
	case store.OwnerUser:
		q = `SELECT name FROM users WHERE account = ? AND name_key = ?`
	case store.OwnerRole:
		q = `SELECT name FROM roles WHERE account = ? AND name_key = ?`
	default:
		return "", fmt.Errorf("unknown policy owner kind %q", kind)
	}
	var stored string
	err := tx.QueryRowContext(ctx, q, account, store.NameKey(name)).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	return stored, err
}

// hasPolicies reports whether a user or role has inline policies or
// attached managed policies.
func hasPolicies(ctx context.Context, tx *sql.Tx, account string, kind store.OwnerKind, nameKey string) (bool, error) {
	return exists(ctx, tx, `SELECT 1 FROM policies
		WHERE account = ? AND owner_kind = ? AND owner_key = ?
		UNION ALL SELECT 1 FROM policy_attachments
		WHERE account = ? AND owner_kind = ? AND owner_key = ? LIMIT 1`,
		account, string(kind), nameKey, account, string(kind), nameKey)
}

// byName completes a list query whose WHERE clause is q: the names after
// after, in name_key order, at most limit of them (no cap if limit <= 0).
func byName(q string, args []any, after string, limit int) (string, []any) {
	if after != "" {
		q += ` AND name_key > ?`
		args = append(args, store.NameKey(after))
	}
	q += ` ORDER BY name_key`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return q, args
}

// pathOrRoot applies the default IAM path.
func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// CreateUser implements [store.Store].
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return wrap("create user", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `INSERT INTO users (account, name_key, name, id, path, created)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			u.Account, store.NameKey(u.Name), u.Name, u.ID, pathOrRoot(u.Path), millis(u.Created))
		if err == nil && !ok {
			err = store.ErrExists
		}
		return err
	}))
}

const userColumns = `account, name, id, path, created`

func scanUser(row scanner) (store.User, error) {
	var u store.User
	var created sql.NullInt64
	err := row.Scan(&u.Account, &u.Name, &u.ID, &u.Path, &created)
	u.Created = fromMillis(created)
	return u, err
}

// GetUser implements [store.Store].
func (s *Store) GetUser(ctx context.Context, account, name string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE account = ? AND name_key = ?`, account, store.NameKey(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, wrap("get user", store.ErrNotFound)
	}
	return u, wrap("get user", err)
}

// ListUsers implements [store.Store].
func (s *Store) ListUsers(ctx context.Context, account, after string, limit int) ([]store.User, error) {
	q, args := byName(`SELECT `+userColumns+` FROM users WHERE account = ?`,
		[]any{account}, after, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list users", err)
	}
	defer rows.Close()
	var us []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("list users", err)
		}
		us = append(us, u)
	}
	return us, wrap("list users", rows.Err())
}

// DeleteUser implements [store.Store].
func (s *Store) DeleteUser(ctx context.Context, account, name string) error {
	key := store.NameKey(name)
	return wrap("delete user", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, `SELECT 1 FROM users WHERE account = ? AND name_key = ?`, account, key)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		keys, err := exists(ctx, tx, `SELECT 1 FROM access_keys
			WHERE account = ? AND user_key = ? LIMIT 1`, account, key)
		if err != nil {
			return err
		}
		policies, err := hasPolicies(ctx, tx, account, store.OwnerUser, key)
		if err != nil {
			return err
		}
		if keys || policies {
			return store.ErrInUse
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM users WHERE account = ? AND name_key = ?`, account, key)
		return err
	}))
}

// CreateRole implements [store.Store].
func (s *Store) CreateRole(ctx context.Context, r store.Role) error {
	return wrap("create role", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `INSERT INTO roles
			(account, name_key, name, id, path, assume_role_policy, max_session_duration,
			 description, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			r.Account, store.NameKey(r.Name), r.Name, r.ID, pathOrRoot(r.Path),
			r.AssumeRolePolicy, r.MaxSessionDuration, r.Description, millis(r.Created))
		if err == nil && !ok {
			err = store.ErrExists
		}
		return err
	}))
}

const roleColumns = `account, name, id, path, assume_role_policy, max_session_duration,
	description, created`

func scanRole(row scanner) (store.Role, error) {
	var r store.Role
	var created sql.NullInt64
	err := row.Scan(&r.Account, &r.Name, &r.ID, &r.Path, &r.AssumeRolePolicy,
		&r.MaxSessionDuration, &r.Description, &created)
	r.Created = fromMillis(created)
	return r, err
}

// GetRole implements [store.Store].
func (s *Store) GetRole(ctx context.Context, account, name string) (store.Role, error) {
	r, err := scanRole(s.r.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles
		WHERE account = ? AND name_key = ?`, account, store.NameKey(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Role{}, wrap("get role", store.ErrNotFound)
	}
	return r, wrap("get role", err)
}

// ListRoles implements [store.Store].
func (s *Store) ListRoles(ctx context.Context, account, after string, limit int) ([]store.Role, error) {
	q, args := byName(`SELECT `+roleColumns+` FROM roles WHERE account = ?`,
		[]any{account}, after, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list roles", err)
	}
	defer rows.Close()
	var rs []store.Role
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, wrap("list roles", err)
		}
		rs = append(rs, r)
	}
	return rs, wrap("list roles", rows.Err())
}

// UpdateAssumeRolePolicy implements [store.Store].
func (s *Store) UpdateAssumeRolePolicy(ctx context.Context, account, name, doc string) error {
	return wrap("update assume role policy", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `UPDATE roles SET assume_role_policy = ?
			WHERE account = ? AND name_key = ?`, doc, account, store.NameKey(name))
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

// DeleteRole implements [store.Store].
func (s *Store) DeleteRole(ctx context.Context, account, name string) error {
	key := store.NameKey(name)
	return wrap("delete role", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, `SELECT 1 FROM roles WHERE account = ? AND name_key = ?`, account, key)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		policies, err := hasPolicies(ctx, tx, account, store.OwnerRole, key)
		if err != nil {
			return err
		}
		if policies {
			return store.ErrInUse
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM roles WHERE account = ? AND name_key = ?`, account, key)
		return err
	}))
}

// PutPolicy implements [store.Store]. An OwnerKind other than user or role
// is an error.
func (s *Store) PutPolicy(ctx context.Context, p store.Policy) error {
	return wrap("put policy", s.write(ctx, func(tx *sql.Tx) error {
		owner, err := ownerName(ctx, tx, p.Account, p.OwnerKind, p.Owner)
		if err != nil {
			return err
		}
		// ON CONFLICT ... DO UPDATE is shared by SQLite (3.24+) and PostgreSQL.
		_, err = tx.ExecContext(ctx, `INSERT INTO policies
			(account, owner_kind, owner_key, owner, name_key, name, document)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (account, owner_kind, owner_key, name_key)
			DO UPDATE SET document = excluded.document`,
			p.Account, string(p.OwnerKind), store.NameKey(owner), owner,
			store.NameKey(p.Name), p.Name, p.Document)
		return err
	}))
}

const policyColumns = `account, owner_kind, owner, name, document`

func scanPolicy(row scanner) (store.Policy, error) {
	var p store.Policy
	var kind string
	err := row.Scan(&p.Account, &kind, &p.Owner, &p.Name, &p.Document)
	p.OwnerKind = store.OwnerKind(kind)
	return p, err
}

// GetPolicy implements [store.Store].
func (s *Store) GetPolicy(ctx context.Context, account string, kind store.OwnerKind, owner, name string) (store.Policy, error) {
	p, err := scanPolicy(s.r.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM policies
		WHERE account = ? AND owner_kind = ? AND owner_key = ? AND name_key = ?`,
		account, string(kind), store.NameKey(owner), store.NameKey(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Policy{}, wrap("get policy", store.ErrNotFound)
	}
	return p, wrap("get policy", err)
}

// ListPolicies implements [store.Store].
func (s *Store) ListPolicies(ctx context.Context, account string, kind store.OwnerKind, owner string) ([]store.Policy, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+policyColumns+` FROM policies
		WHERE account = ? AND owner_kind = ? AND owner_key = ? ORDER BY name_key`,
		account, string(kind), store.NameKey(owner))
	if err != nil {
		return nil, wrap("list policies", err)
	}
	defer rows.Close()
	var ps []store.Policy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, wrap("list policies", err)
		}
		ps = append(ps, p)
	}
	return ps, wrap("list policies", rows.Err())
}

// DeletePolicy implements [store.Store].
func (s *Store) DeletePolicy(ctx context.Context, account string, kind store.OwnerKind, owner, name string) error {
	return wrap("delete policy", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `DELETE FROM policies
			WHERE account = ? AND owner_kind = ? AND owner_key = ? AND name_key = ?`,
			account, string(kind), store.NameKey(owner), store.NameKey(name))
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}
