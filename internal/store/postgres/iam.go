package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openkms/kms/internal/store"
)

// IAM users, roles and inline policies. Names are matched and ordered by
// their store.NameKey in the name_key columns; the name column keeps the
// spelling they were created with.
//
// An access key, inline policy or attachment of a managed policy and the
// deletion of its owner must not both succeed. At READ COMMITTED a
// check-then-delete sees only what was committed when its statement began,
// so each side locks the owner's row first: PutAccessKey, PutPolicy and
// AttachPolicy FOR KEY SHARE, DeleteUser and DeleteRole FOR UPDATE, which
// conflicts with it. The deletion looks for keys and policies only once it
// holds the lock, in a statement of its own, whose snapshot then includes
// whatever the other side committed.

// ownerName returns the name, as created, of the user or role whose name is
// name in any case, locking its row FOR KEY SHARE until the transaction
// ends; ErrNotFound if there is none.
func ownerName(ctx context.Context, tx pgx.Tx, account string, kind store.OwnerKind, name string) (string, error) {
	var q string
	switch kind {
	case store.OwnerUser:
		q = `SELECT name FROM users WHERE account = $1 AND name_key = $2 FOR KEY SHARE`
	case store.OwnerRole:
		q = `SELECT name FROM roles WHERE account = $1 AND name_key = $2 FOR KEY SHARE`
	default:
		return "", fmt.Errorf("unknown policy owner kind %q", kind)
	}
	var stored string
	err := tx.QueryRow(ctx, q, account, store.NameKey(name)).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", store.ErrNotFound
	}
	return stored, err
}

// byName completes a list query whose WHERE clause is q: the names after
// after, in name_key order, at most limit of them (no cap if limit <= 0).
func byName(q string, args []any, after string, limit int) (string, []any) {
	if after != "" {
		args = append(args, store.NameKey(after))
		q += fmt.Sprintf(` AND name_key > $%d`, len(args))
	}
	q += ` ORDER BY name_key`
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
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

// deleteOwner deletes the user or role in table (users or roles) whose name
// key is key, unless inUse, run once the owner is locked, reports it still
// has dependents (ErrInUse). ErrNotFound if it is absent.
func (s *Store) deleteOwner(ctx context.Context, table, account, key, inUse string) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		ok, err := exists(ctx, tx, `SELECT 1 FROM `+table+`
			WHERE account = $1 AND name_key = $2 FOR UPDATE`, account, key)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		var used bool
		if err := tx.QueryRow(ctx, inUse, account, key).Scan(&used); err != nil {
			return err
		}
		if used {
			return store.ErrInUse
		}
		_, err = tx.Exec(ctx, `DELETE FROM `+table+` WHERE account = $1 AND name_key = $2`, account, key)
		return err
	})
}

// CreateUser implements [store.Store]. ON CONFLICT DO NOTHING covers both
// the name and the id.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return wrap("create user", execOr(ctx, s.pool, store.ErrExists,
		`INSERT INTO users (account, name_key, name, id, path, created)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		u.Account, store.NameKey(u.Name), u.Name, u.ID, pathOrRoot(u.Path), millis(u.Created)))
}

const userColumns = `account, name, id, path, created`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var created *int64
	err := row.Scan(&u.Account, &u.Name, &u.ID, &u.Path, &created)
	u.Created = fromMillis(created)
	return u, err
}

// GetUser implements [store.Store].
func (s *Store) GetUser(ctx context.Context, account, name string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users
		WHERE account = $1 AND name_key = $2`, account, store.NameKey(name)))
	if err != nil {
		return store.User{}, wrap("get user", err)
	}
	return u, nil
}

// ListUsers implements [store.Store].
func (s *Store) ListUsers(ctx context.Context, account, after string, limit int) ([]store.User, error) {
	q, args := byName(`SELECT `+userColumns+` FROM users WHERE account = $1`,
		[]any{account}, after, limit)
	rows, err := s.pool.Query(ctx, q, args...)
	us, err := collect(rows, err, scanUser)
	return us, wrap("list users", err)
}

// DeleteUser implements [store.Store].
func (s *Store) DeleteUser(ctx context.Context, account, name string) error {
	return wrap("delete user", s.deleteOwner(ctx, "users", account, store.NameKey(name),
		`SELECT EXISTS (SELECT 1 FROM access_keys WHERE account = $1 AND user_key = $2)
		     OR EXISTS (SELECT 1 FROM policies
		                WHERE account = $1 AND owner_kind = 'user' AND owner_key = $2)
		     OR EXISTS (SELECT 1 FROM policy_attachments
		                WHERE account = $1 AND owner_kind = 'user' AND owner_key = $2)`))
}

// CreateRole implements [store.Store].
func (s *Store) CreateRole(ctx context.Context, r store.Role) error {
	return wrap("create role", execOr(ctx, s.pool, store.ErrExists, `INSERT INTO roles
		(account, name_key, name, id, path, assume_role_policy, max_session_duration,
		 description, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		r.Account, store.NameKey(r.Name), r.Name, r.ID, pathOrRoot(r.Path),
		r.AssumeRolePolicy, r.MaxSessionDuration, r.Description, millis(r.Created)))
}

const roleColumns = `account, name, id, path, assume_role_policy, max_session_duration,
	description, created`

func scanRole(row pgx.Row) (store.Role, error) {
	var r store.Role
	var created *int64
	err := row.Scan(&r.Account, &r.Name, &r.ID, &r.Path, &r.AssumeRolePolicy,
		&r.MaxSessionDuration, &r.Description, &created)
	r.Created = fromMillis(created)
	return r, err
}

// GetRole implements [store.Store].
func (s *Store) GetRole(ctx context.Context, account, name string) (store.Role, error) {
	r, err := scanRole(s.pool.QueryRow(ctx, `SELECT `+roleColumns+` FROM roles
		WHERE account = $1 AND name_key = $2`, account, store.NameKey(name)))
	if err != nil {
		return store.Role{}, wrap("get role", err)
	}
	return r, nil
}

// ListRoles implements [store.Store].
func (s *Store) ListRoles(ctx context.Context, account, after string, limit int) ([]store.Role, error) {
	q, args := byName(`SELECT `+roleColumns+` FROM roles WHERE account = $1`,
		[]any{account}, after, limit)
	rows, err := s.pool.Query(ctx, q, args...)
	rs, err := collect(rows, err, scanRole)
	return rs, wrap("list roles", err)
}

// UpdateAssumeRolePolicy implements [store.Store]. It changes no key
// column, so it does not wait for writers holding the role FOR KEY SHARE.
func (s *Store) UpdateAssumeRolePolicy(ctx context.Context, account, name, doc string) error {
	return wrap("update assume role policy", execOr(ctx, s.pool, store.ErrNotFound,
		`UPDATE roles SET assume_role_policy = $1 WHERE account = $2 AND name_key = $3`,
		doc, account, store.NameKey(name)))
}

// DeleteRole implements [store.Store].
func (s *Store) DeleteRole(ctx context.Context, account, name string) error {
	return wrap("delete role", s.deleteOwner(ctx, "roles", account, store.NameKey(name),
		`SELECT EXISTS (SELECT 1 FROM policies
		                WHERE account = $1 AND owner_kind = 'role' AND owner_key = $2)
		     OR EXISTS (SELECT 1 FROM policy_attachments
		                WHERE account = $1 AND owner_kind = 'role' AND owner_key = $2)`))
}

// PutPolicy implements [store.Store]. An OwnerKind other than user or role
// is an error. The upsert is atomic in PostgreSQL: of two racing puts of
// one name, the second waits and then replaces the document.
func (s *Store) PutPolicy(ctx context.Context, p store.Policy) error {
	return wrap("put policy", s.write(ctx, func(tx pgx.Tx) error {
		owner, err := ownerName(ctx, tx, p.Account, p.OwnerKind, p.Owner)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO policies
			(account, owner_kind, owner_key, owner, name_key, name, document)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (account, owner_kind, owner_key, name_key)
			DO UPDATE SET document = excluded.document`,
			p.Account, string(p.OwnerKind), store.NameKey(owner), owner,
			store.NameKey(p.Name), p.Name, p.Document)
		return err
	}))
}

const policyColumns = `account, owner_kind, owner, name, document`

func scanPolicy(row pgx.Row) (store.Policy, error) {
	var p store.Policy
	var kind string
	err := row.Scan(&p.Account, &kind, &p.Owner, &p.Name, &p.Document)
	p.OwnerKind = store.OwnerKind(kind)
	return p, err
}

// GetPolicy implements [store.Store].
func (s *Store) GetPolicy(ctx context.Context, account string, kind store.OwnerKind, owner, name string) (store.Policy, error) {
	p, err := scanPolicy(s.pool.QueryRow(ctx, `SELECT `+policyColumns+` FROM policies
		WHERE account = $1 AND owner_kind = $2 AND owner_key = $3 AND name_key = $4`,
		account, string(kind), store.NameKey(owner), store.NameKey(name)))
	if err != nil {
		return store.Policy{}, wrap("get policy", err)
	}
	return p, nil
}

// ListPolicies implements [store.Store].
func (s *Store) ListPolicies(ctx context.Context, account string, kind store.OwnerKind, owner string) ([]store.Policy, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+policyColumns+` FROM policies
		WHERE account = $1 AND owner_kind = $2 AND owner_key = $3 ORDER BY name_key`,
		account, string(kind), store.NameKey(owner))
	ps, err := collect(rows, err, scanPolicy)
	return ps, wrap("list policies", err)
}

// DeletePolicy implements [store.Store].
func (s *Store) DeletePolicy(ctx context.Context, account string, kind store.OwnerKind, owner, name string) error {
	return wrap("delete policy", execOr(ctx, s.pool, store.ErrNotFound, `DELETE FROM policies
		WHERE account = $1 AND owner_kind = $2 AND owner_key = $3 AND name_key = $4`,
		account, string(kind), store.NameKey(owner), store.NameKey(name)))
}
