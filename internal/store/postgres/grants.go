package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openkms/kms/internal/store"
)

// Grants. Operations and the encryption-context constraints are kept as JSON
// text (store.EncodeGrantColumns), as in the SQLite backend. Lists are ordered by (created, id); After
// names a grant, and the query continues from its position, so paging is a
// keyset scan of the grants_by_key or grants_by_retiring index rather than
// an OFFSET.

// CreateGrant implements [store.Store]. The key's row is locked
// FOR KEY SHARE first: a concurrent DeleteKey either waits and deletes the
// grant with the key, or comes first and the grant finds no key.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant) error {
	ops, equals, subset, err := store.EncodeGrantColumns(g)
	if err != nil {
		return wrap("create grant", err)
	}
	return wrap("create grant", s.write(ctx, func(tx pgx.Tx) error {
		ok, err := keyShare(ctx, tx, g.KeyID)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		return execOr(ctx, tx, store.ErrExists, `INSERT INTO grants
			(id, key_id, name, grantee_principal, retiring_principal, issuing_account,
			 operations, context_equals, context_subset, created, source_arn)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
			g.ID, g.KeyID, g.Name, g.GranteePrincipal, g.RetiringPrincipal, g.IssuingAccount,
			ops, equals, subset, millis(g.Created), g.SourceArn)
	}))
}

// ListGrants implements [store.Store]. A key without grants, or an unknown
// one, has none, which is not an error. After must name a grant of the key
// (whether or not it passes the other filters); ErrNotFound otherwise, so
// that a stale or forged marker is told apart from the end of the list. A
// Limit below 0 counts as no cap.
func (s *Store) ListGrants(ctx context.Context, f store.GrantFilter) ([]store.Grant, error) {
	q := `SELECT ` + grantColumns + ` FROM grants WHERE key_id = $1`
	args := []any{f.KeyID}
	if f.GrantID != "" {
		args = append(args, f.GrantID)
		q += fmt.Sprintf(` AND id = $%d`, len(args))
	}
	if f.GranteePrincipal != "" {
		args = append(args, f.GranteePrincipal)
		q += fmt.Sprintf(` AND grantee_principal = $%d`, len(args))
	}
	gs, err := s.queryGrants(ctx, q, args, `key_id`, f.KeyID, f.After, f.Limit)
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
	gs, err := s.queryGrants(ctx, `SELECT `+grantColumns+` FROM grants WHERE retiring_principal = $1`,
		[]any{p}, `retiring_principal`, p, after, limit)
	return gs, wrap("list retirable grants", err)
}

// DeleteGrant implements [store.Store]. The grant must belong to the key: the
// id of another key's grant is not found.
func (s *Store) DeleteGrant(ctx context.Context, keyID, grantID string) error {
	return wrap("delete grant", execOr(ctx, s.pool, store.ErrNotFound,
		`DELETE FROM grants WHERE id = $1 AND key_id = $2`, grantID, keyID))
}

// CountGrants implements [store.Store].
func (s *Store) CountGrants(ctx context.Context, keyID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM grants WHERE key_id = $1`, keyID).Scan(&n)
	return n, wrap("count grants", err)
}

// grantColumns are the columns scanGrant reads, in its order.
const grantColumns = `id, key_id, name, grantee_principal, retiring_principal, issuing_account,
	operations, context_equals, context_subset, created, source_arn`

func scanGrant(row pgx.Row) (store.Grant, error) {
	var (
		g              store.Grant
		ops            string
		equals, subset *string
		created        *int64
	)
	if err := row.Scan(&g.ID, &g.KeyID, &g.Name, &g.GranteePrincipal, &g.RetiringPrincipal,
		&g.IssuingAccount, &ops, &equals, &subset, &created, &g.SourceArn); err != nil {
		return store.Grant{}, err
	}
	g.Created = fromMillis(created)
	return store.DecodeGrantColumns(g, ops, equals, subset)
}

// queryGrants completes the list query q (whose WHERE clause selects the
// grants in scope, with args) with paging, runs it and scans the grants.
// When after is set, it must name a grant whose column scope equals
// scopeArg, and only grants past its (created, id) are listed. The position
// is read first and kept, so the grant may go away before the list is read.
func (s *Store) queryGrants(ctx context.Context, q string, args []any,
	scope string, scopeArg any, after string, limit int) ([]store.Grant, error) {
	if after != "" {
		var created int64
		err := s.pool.QueryRow(ctx, `SELECT created FROM grants WHERE id = $1 AND `+scope+` = $2`,
			after, scopeArg).Scan(&created)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("grant %q to list after: %w", after, store.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		// The OR form rather than a row-value comparison, as in the SQLite
		// backend; PostgreSQL plans both as a range on the index.
		args = append(args, created, after)
		q += fmt.Sprintf(` AND (created > $%d OR (created = $%d AND id > $%d))`,
			len(args)-1, len(args)-1, len(args))
	}
	q += ` ORDER BY created, id`
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	return collect(rows, err, scanGrant)
}
