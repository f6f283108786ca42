package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/openkms/kms/internal/store"
)

// Grants. Operations and the encryption-context constraints are kept as JSON
// text (store.EncodeGrantColumns), which both SQLite and PostgreSQL store as
// is. Lists are ordered by
// (created, id); After names a grant, and the query continues from its
// position, so paging is a keyset scan of the grants_by_key or
// grants_by_retiring index rather than an OFFSET.

// CreateGrant implements [store.Store].
func (s *Store) CreateGrant(ctx context.Context, g store.Grant) error {
	ops, equals, subset, err := store.EncodeGrantColumns(g)
	if err != nil {
		return wrap("create grant", err)
	}
	return wrap("create grant", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := keyExists(ctx, tx, g.KeyID)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		ok, err = exec(ctx, tx, `INSERT INTO grants
			(id, key_id, name, grantee_principal, retiring_principal, issuing_account,
			 operations, context_equals, context_subset, created, source_arn)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			g.ID, g.KeyID, g.Name, g.GranteePrincipal, g.RetiringPrincipal, g.IssuingAccount,
			ops, equals, subset, millis(g.Created), g.SourceArn)
		if err == nil && !ok {
			err = store.ErrExists
		}
		return err
	}))
}

// ListGrants implements [store.Store]. A key without grants, or an unknown
// one, has none, which is not an error. After must name a grant of the key
// (whether or not it passes the other filters); ErrNotFound otherwise, so
// that a stale or forged marker is told apart from the end of the list. A
// Limit below 0 counts as no cap.
func (s *Store) ListGrants(ctx context.Context, f store.GrantFilter) ([]store.Grant, error) {
	q := `SELECT ` + grantColumns + ` FROM grants WHERE key_id = ?`
	args := []any{f.KeyID}
	if f.GrantID != "" {
		q += ` AND id = ?`
		args = append(args, f.GrantID)
	}
	if f.GranteePrincipal != "" {
		q += ` AND grantee_principal = ?`
		args = append(args, f.GranteePrincipal)
	}
	gs, err := s.queryGrants(ctx, q, args, `key_id = ?`, f.KeyID, f.After, f.Limit)
	return gs, wrap("list grants", err)
}

// ListRetirableGrants implements [store.Store]. No grant has the retiring
// principal "", so p == "" lists none. As in ListGrants, after must name a
// grant that p may retire; ErrNotFound otherwise. A limit below 0 counts as
// no cap.
func (s *Store) ListRetirableGrants(ctx context.Context, p, after string, limit int) ([]store.Grant, error) {
	if p == "" {
		return nil, nil
	}
	gs, err := s.queryGrants(ctx, `SELECT `+grantColumns+` FROM grants WHERE retiring_principal = ?`,
		[]any{p}, `retiring_principal = ?`, p, after, limit)
	return gs, wrap("list retirable grants", err)
}

// DeleteGrant implements [store.Store]. The grant must belong to the key: the
// id of another key's grant is not found.
func (s *Store) DeleteGrant(ctx context.Context, keyID, grantID string) error {
	return wrap("delete grant", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `DELETE FROM grants WHERE id = ? AND key_id = ?`, grantID, keyID)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

// CountGrants implements [store.Store].
func (s *Store) CountGrants(ctx context.Context, keyID string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM grants WHERE key_id = ?`, keyID).Scan(&n)
	return n, wrap("count grants", err)
}

// grantColumns are the columns scanGrant reads, in its order.
const grantColumns = `id, key_id, name, grantee_principal, retiring_principal, issuing_account,
	operations, context_equals, context_subset, created, source_arn`

func scanGrant(row scanner) (store.Grant, error) {
	var (
		g              store.Grant
		ops            string
		equals, subset *string
		created        sql.NullInt64
	)
	if err := row.Scan(&g.ID, &g.KeyID, &g.Name, &g.GranteePrincipal, &g.RetiringPrincipal,
		&g.IssuingAccount, &ops, &equals, &subset, &created, &g.SourceArn); err != nil {
		return store.Grant{}, err
	}
	g.Created = fromMillis(created)
	return store.DecodeGrantColumns(g, ops, equals, subset)
}

// queryGrants completes the list query q (whose WHERE clause selects the
// grants in scope) with paging, runs it and scans the grants. When after is
// set, it must name a grant matching scope, with scopeArg as its argument,
// and only grants past its (created, id) are listed. The position is read
// first and kept, so the grant may go away before the list is read.
func (s *Store) queryGrants(ctx context.Context, q string, args []any,
	scope string, scopeArg any, after string, limit int) ([]store.Grant, error) {
	if after != "" {
		var created int64
		err := s.r.QueryRowContext(ctx, `SELECT created FROM grants WHERE id = ? AND `+scope,
			after, scopeArg).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("grant %q to list after: %w", after, store.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		// The OR form rather than a row-value comparison: both databases
		// plan it as a range on the index.
		q += ` AND (created > ? OR (created = ? AND id > ?))`
		args = append(args, created, created, after)
	}
	q += ` ORDER BY created, id`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var gs []store.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	return gs, rows.Err()
}
