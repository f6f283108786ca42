// Package postgres is the PostgreSQL backend of [store.Store], built on
// pgx's native API and its connection pool (pgxpool). It behaves as the
// SQLite backend does, method for method, and passes the same conformance
// suite (storetest), but is meant for one database shared by several server
// nodes.
//
// # Durability
//
// Every method that changes something returns only after its transaction
// committed; with synchronous_commit on (PostgreSQL's default, which Open
// insists on) a commit has reached the WAL on disk first. Changes that must
// be atomic run in one transaction; single statements commit on their own.
//
// # Concurrency
//
// Transactions run at READ COMMITTED, where SQLite's single writer gave the
// SQLite backend serial transactions for free. What that serialization
// guarded is made explicit, per method family:
//
//   - Creations (accounts, users, roles, keys, aliases, grants, materials)
//     are INSERT ... ON CONFLICT DO NOTHING: a unique index makes the
//     second of two racing inserts wait for the first and then do nothing,
//     which is ErrExists.
//   - Compare-and-swaps (RotateKey, PromoteMaterial) are UPDATE ... WHERE
//     current_material = prev with a RowsAffected check: PostgreSQL re-checks
//     the WHERE clause against the row a concurrent winner committed, so
//     exactly one of them wins and the others get ErrConflict.
//   - Writes that depend on a parent row (a key for materials, aliases and
//     grants; a user or role for access keys and policies) lock it first
//     with SELECT ... FOR KEY SHARE (FOR NO KEY UPDATE where material
//     numbering must also be serialized), and deletions of a parent that
//     check for children (DeleteUser, DeleteRole) lock it FOR UPDATE before
//     looking. One side waits for the other to commit, so no child outlives
//     its parent and a check is never stale by the time it is acted on.
//   - Reads are single statements, each on one snapshot: GetKeyForUse
//     answers in one round trip.
//
// No transaction takes locks in an order another could reverse, so
// serialization failures and deadlocks are not expected; should one occur,
// the transaction is retried.
//
// # Types
//
// Times are Unix milliseconds, UTC, in BIGINT columns, as in the SQLite
// backend, NULL standing for the zero time; they come back in UTC. See
// schema.go for collations and for why some strings are BYTEA.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openkms/kms/internal/store"
)

const (
	// defaultMaxConns caps the pool unless the DSN sets pool_max_conns:
	// several nodes share the server's max_connections.
	defaultMaxConns = 16
	// writeAttempts bounds the retries of a transaction that failed on a
	// serialization failure or a deadlock.
	writeAttempts = 3
)

// SQLSTATEs the backend tells apart.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// Store is a [store.Store] kept in a PostgreSQL database. Times are kept to
// the millisecond; creation times are required (a zero one fails NOT NULL).
type Store struct {
	pool *pgxpool.Pool
	join joined // the session that JoinCluster holds, if any
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string, which may set pool_max_conns and pgx's other pool_ options) and
// brings its schema up to date. Several nodes may open one database at once.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgconn redacts the password
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := checkDurable(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool, migrations, len(migrations)); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &Store{pool: pool}, nil
}

// checkDurable refuses synchronous_commit=off (set for the server, database,
// role or in the DSN's options), under which a commit may be lost after the
// method returned. The stronger settings are left as the operator chose.
func checkDurable(ctx context.Context, pool *pgxpool.Pool) error {
	var sc string
	if err := pool.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&sc); err != nil {
		return err
	}
	if sc == "off" {
		return errors.New("synchronous_commit is off: commits would not be durable when acknowledged")
	}
	return nil
}

// Close leaves the cluster (JoinCluster) and closes the pool, waiting for
// connections in use to be released.
func (s *Store) Close() error {
	s.leave()
	s.pool.Close()
	return nil
}

// write runs fn in a transaction and commits it, retrying the whole
// transaction on a serialization failure or a deadlock (none is expected:
// see the package comment). fn must be safe to run again.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for range writeAttempts {
		if err = pgx.BeginFunc(ctx, s.pool, fn); !retryable(err) {
			return err
		}
	}
	return err
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected)
}

// wrap adds the operation name to errors. Like the SQLite backend it leaves
// ErrNotFound, ErrExists, ErrConflict and ErrInUse recognisable with
// errors.Is; it also maps what pgx and PostgreSQL report for the same cases,
// should a statement meet them rather than the checks before it: no row is
// ErrNotFound, a unique violation ErrExists, and a foreign-key violation
// (a key gone) ErrNotFound. Any other PostgreSQL error is cut off from the
// chain (see dbError).
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	switch {
	case unavailable(err):
		return fmt.Errorf("postgres: %s: %w: %v", op, store.ErrUnavailable, err)
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	case errors.As(err, &pe) && pe.Code == codeUniqueViolation:
		return fmt.Errorf("postgres: %s: %w (constraint %s)", op, store.ErrExists, pe.ConstraintName)
	case errors.As(err, &pe) && pe.Code == codeForeignKeyViolation:
		return fmt.Errorf("postgres: %s: %w (constraint %s)", op, store.ErrNotFound, pe.ConstraintName)
	case errors.As(err, &pe):
		// err.Error() is built from PgError.Error(), which leaves Detail out.
		return &dbError{msg: fmt.Sprintf("postgres: %s: %v", op, err), code: pe.Code}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailable says whether err means the database could not be reached or
// did not answer in time, rather than that it refused the statement:
// requests then fail with a retryable error (store.ErrUnavailable).
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, starting
			pe.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// dbError stands for a PostgreSQL error without its details: the Detail of
// a constraint violation can quote the failing row, sealed bytes included,
// so the *pgconn.PgError must not be reachable with errors.As.
type dbError struct{ msg, code string }

func (e *dbError) Error() string { return e.msg }

// SQLState returns the SQLSTATE, as pgconn.PgError's method of that name does.
func (e *dbError) SQLState() string { return e.code }

// millis encodes a time for storage; the zero time becomes NULL. The same
// conversion as the SQLite backend's, so times round-trip identically.
func millis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixMilli()
	return &n
}

// fromMillis decodes a stored time, in UTC.
func fromMillis(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.UnixMilli(*n).UTC()
}

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// exec runs one statement and reports whether it touched any row. Run on
// the pool, the statement is its own transaction, committed on return.
func exec(ctx context.Context, db execer, query string, args ...any) (bool, error) {
	tag, err := db.Exec(ctx, query, args...)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

// execOr runs one statement and returns orErr if it touched no row.
func execOr(ctx context.Context, db execer, orErr error, query string, args ...any) error {
	ok, err := exec(ctx, db, query, args...)
	if err == nil && !ok {
		err = orErr
	}
	return err
}

// exists reports whether query selects a row. With a locking clause (FOR
// KEY SHARE, FOR UPDATE) it also locks that row until the transaction ends.
func exists(ctx context.Context, tx pgx.Tx, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// collect scans every row with scan, closing rows.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// CreateAccount implements [store.Store].
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	return wrap("create account", execOr(ctx, s.pool, store.ErrExists,
		`INSERT INTO accounts (id, created) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		a.ID, millis(a.Created)))
}

// GetAccount implements [store.Store].
func (s *Store) GetAccount(ctx context.Context, id string) (store.Account, error) {
	var created *int64
	if err := s.pool.QueryRow(ctx, `SELECT created FROM accounts WHERE id = $1`, id).Scan(&created); err != nil {
		return store.Account{}, wrap("get account", err)
	}
	return store.Account{ID: id, Created: fromMillis(created)}, nil
}

// ListAccounts implements [store.Store].
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, created FROM accounts ORDER BY id`)
	as, err := collect(rows, err, func(row pgx.Row) (store.Account, error) {
		var a store.Account
		var created *int64
		err := row.Scan(&a.ID, &created)
		a.Created = fromMillis(created)
		return a, err
	})
	return as, wrap("list accounts", err)
}

// PutAccessKey implements [store.Store]. A user's key locks the user's row
// (FOR KEY SHARE) before it is inserted: a concurrent DeleteUser, which
// locks it FOR UPDATE before checking for keys, either waits for this key
// and sees it, or deletes the user first, and the lock then finds no user.
func (s *Store) PutAccessKey(ctx context.Context, k store.AccessKey) error {
	insert := func(db execer) error {
		return execOr(ctx, db, store.ErrExists, `INSERT INTO access_keys
			(id, account, principal_arn, sealed_secret, active, created, user_name, user_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			k.ID, k.Account, k.PrincipalARN, k.SealedSecret, k.Active, millis(k.Created),
			k.UserName, store.NameKey(k.UserName))
	}
	if k.UserName == "" {
		return wrap("put access key", insert(s.pool)) // a root key depends on nothing
	}
	return wrap("put access key", s.write(ctx, func(tx pgx.Tx) error {
		name, err := ownerName(ctx, tx, k.Account, store.OwnerUser, k.UserName)
		if err != nil {
			return err
		}
		k.UserName = name
		return insert(tx)
	}))
}

// accessKeyColumns are the columns scanAccessKey reads, in its order.
const accessKeyColumns = `id, account, principal_arn, sealed_secret, active, created, user_name`

func scanAccessKey(row pgx.Row) (store.AccessKey, error) {
	var k store.AccessKey
	var created *int64
	err := row.Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.SealedSecret, &k.Active, &created, &k.UserName)
	k.Created = fromMillis(created)
	return k, err
}

// GetAccessKey implements [store.Store].
func (s *Store) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	k, err := scanAccessKey(s.pool.QueryRow(ctx,
		`SELECT `+accessKeyColumns+` FROM access_keys WHERE id = $1`, id))
	if err != nil {
		return store.AccessKey{}, wrap("get access key", err)
	}
	return k, nil
}

// ListAccessKeys implements [store.Store].
func (s *Store) ListAccessKeys(ctx context.Context, account, userName string) ([]store.AccessKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+accessKeyColumns+` FROM access_keys
		WHERE account = $1 AND user_key = $2 ORDER BY created, id`,
		account, store.NameKey(userName))
	ks, err := collect(rows, err, scanAccessKey)
	return ks, wrap("list access keys", err)
}

// SetAccessKeyActive implements [store.Store].
func (s *Store) SetAccessKeyActive(ctx context.Context, id string, active bool) error {
	return wrap("set access key active", execOr(ctx, s.pool, store.ErrNotFound,
		`UPDATE access_keys SET active = $1 WHERE id = $2`, active, id))
}

// DeleteAccessKey implements [store.Store].
func (s *Store) DeleteAccessKey(ctx context.Context, id string) error {
	return wrap("delete access key", execOr(ctx, s.pool, store.ErrNotFound,
		`DELETE FROM access_keys WHERE id = $1`, id))
}
