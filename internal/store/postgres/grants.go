package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/openkms/kms/internal/store"
)

// Grants. Operations and the encryption-context constraints are kept as JSON
// text, as in the SQLite backend. Lists are ordered by (created, id); After
// names a grant, and the query continues from its position, so paging is a
// keyset scan of the grants_by_key or grants_by_retiring index rather than
// an OFFSET.

// CreateGrant implements [store.Store]. Nil Operations are stored as an
// empty list. The strings in Operations and in the constraints must be valid
// UTF-8, as anything decoded from a JSON request is: JSON cannot hold other
// bytes, so they are refused rather than altered. The key's row is locked
// FOR KEY SHARE first: a concurrent DeleteKey either waits and deletes the
// grant with the key, or comes first and the grant finds no key.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant) error {
	ops, err := encodeOperations(g.Operations)
	if err != nil {
		return wrap("create grant", err)
	}
	equals, err := encodeConstraint(g.EncryptionContextEquals)
	if err != nil {
		return wrap("create grant", err)
	}
	subset, err := encodeConstraint(g.EncryptionContextSubset)
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
			 operations, context_equals, context_subset, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
			g.ID, g.KeyID, g.Name, g.GranteePrincipal, g.RetiringPrincipal, g.IssuingAccount,
			ops, equals, subset, millis(g.Created))
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
	operations, context_equals, context_subset, created`

func scanGrant(row pgx.Row) (store.Grant, error) {
	var (
		g              store.Grant
		ops            string
		equals, subset *string
		created        *int64
	)
	if err := row.Scan(&g.ID, &g.KeyID, &g.Name, &g.GranteePrincipal, &g.RetiringPrincipal,
		&g.IssuingAccount, &ops, &equals, &subset, &created); err != nil {
		return store.Grant{}, err
	}
	g.Created = fromMillis(created)
	return decodeGrant(g, ops, equals, subset)
}

// decodeGrant fills in g's operations and constraints from their columns.
func decodeGrant(g store.Grant, ops string, equals, subset *string) (store.Grant, error) {
	var err error
	if g.Operations, err = decodeOperations(ops); err != nil {
		return store.Grant{}, fmt.Errorf("grant %s: operations: %w", g.ID, err)
	}
	if g.EncryptionContextEquals, err = decodeConstraint(equals); err != nil {
		return store.Grant{}, fmt.Errorf("grant %s: context_equals: %w", g.ID, err)
	}
	if g.EncryptionContextSubset, err = decodeConstraint(subset); err != nil {
		return store.Grant{}, fmt.Errorf("grant %s: context_subset: %w", g.ID, err)
	}
	return g, nil
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

// encodeOperations stores the operations, in order, as a JSON array.
func encodeOperations(ops []string) (string, error) {
	for _, op := range ops {
		if !utf8.ValidString(op) {
			return "", errors.New("grant operation is not valid UTF-8")
		}
	}
	if ops == nil {
		ops = []string{} // "[]", not "null"
	}
	b, err := json.Marshal(ops)
	return string(b), err
}

// decodeOperations reverses encodeOperations; an empty list comes back nil.
func decodeOperations(s string) ([]string, error) {
	var ops []string
	if err := json.Unmarshal([]byte(s), &ops); err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, nil
	}
	return ops, nil
}

// encodeConstraint stores a constraint as a JSON object, and the absence of
// one (a nil map) as NULL. An empty map is a constraint, stored as "{}".
// JSON escapes control characters, NUL included, so the text always fits a
// TEXT column.
func encodeConstraint(m map[string]string) (*string, error) {
	if m == nil {
		return nil, nil
	}
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, errors.New("grant constraint is not valid UTF-8")
		}
	}
	b, err := json.Marshal(m) // keys sorted, so equal maps store equal text
	s := string(b)
	return &s, err
}

// decodeConstraint reverses encodeConstraint: NULL gives a nil map and "{}"
// an empty, non-nil one.
func decodeConstraint(s *string) (map[string]string, error) {
	if s == nil {
		return nil, nil
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(*s), &m); err != nil {
		return nil, err
	}
	return m, nil
}
