// Package sqlite is the SQLite backend of [store.Store], built on the pure-Go
// driver modernc.org/sqlite so the server builds with CGO_ENABLED=0.
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: every commit fsyncs
// the write-ahead log before the method returns, so the server may
// acknowledge a change as soon as the store does.
//
// # Connections
//
// Writes go through a pool of one connection, so they queue in Go rather than
// fight over SQLite's lock, and each runs in a BEGIN IMMEDIATE transaction
// (which also serializes against other processes, such as an admin command,
// via busy_timeout). Reads use a separate small pool of read-only
// connections; in WAL mode they never block the writer nor wait for it.
//
// # Portability
//
// The SQL avoids SQLite-only functions so that the PostgreSQL backend can
// reuse it; conflicts are detected with ON CONFLICT DO NOTHING rather than
// driver error codes. IAM names, unique regardless of case, are matched
// through name_key columns holding [store.NameKey], computed in Go, rather
// than with COLLATE NOCASE or LOWER().
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const (
	// Read connections; WAL lets them run in parallel. Each has its own
	// page cache, so more of them cache the same pages twice.
	readers        = 2
	readerCacheKiB = 32768 // page cache per read connection
	busyTimeout    = 5000  // ms to wait for a lock held by another process
)

// Store is a [store.Store] kept in one SQLite file. Times are kept to the
// millisecond; creation times are required (a zero one fails NOT NULL).
type Store struct {
	w *sql.DB // one connection: writes serialize here
	r *readDB // read-only connections
}

var _ store.Store = (*Store)(nil)

// Open opens the database file at path, creating it with mode 0600 if it
// does not exist, and brings its schema up to date.
func Open(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// Create the file ourselves: SQLite would use 0644, and it gives the
	// -wal and -shm files the same mode as the database.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	// A file: URI with an escaped path, so '?' or '#' in a file name cannot
	// be mistaken for parameters.
	base := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + strings.Join([]string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout),
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(FULL)",
		"_pragma=fullfsync(1)", // macOS: fsync alone does not reach the disk
	}, "&")

	ctx := context.Background()
	w, err := sql.Open("sqlite", base+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// SQLite falls back silently when it cannot use WAL (some file systems).
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, want wal", path, mode)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	// A key not in the service's cache is read from B-trees far larger
	// than SQLite's default 2 MiB page cache once there are a million keys
	// (about 1 GiB); 32 MiB holds their interior pages and some leaves, and
	// is filled only as pages are read. (The pure-Go SQLite's allocator
	// takes about twice that much memory for it. Its page caches also
	// recycle each other's pages: in the server a full audit-index cache
	// takes pages from these; see BENCHMARKS.md.)
	r, err := sql.Open("sqlite", base+fmt.Sprintf("&_pragma=query_only(1)&_pragma=cache_size(%d)", -readerCacheKiB))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	return &Store{w: w, r: &readDB{DB: r}}, nil
}

// Bulk implements [store.Bulker]: fn's writes run in one transaction of
// the writer connection (write finds it in the context), through
// statements prepared once for the transaction: parsing an INSERT costs
// SQLite more than running it, and a seed makes thousands of each.
func (s *Store) Bulk(ctx context.Context, fn func(ctx context.Context) error) error {
	return InTx(ctx, s.w, func(tx *sql.Tx) error {
		return fn(context.WithValue(ctx, bulkTx{}, &bulk{tx: tx, stmts: map[string]*sql.Stmt{}}))
	})
}

// bulkTx is the context key of Bulk's transaction.
type bulkTx struct{}

// bulk is Bulk's transaction and its prepared statements, which close
// with it. One goroutine uses it (Bulker's contract), so it has no lock.
type bulk struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// stmt returns query prepared in the transaction of ctx's Bulk, if tx is
// that transaction; nil otherwise.
func bulkStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	b, ok := ctx.Value(bulkTx{}).(*bulk)
	if !ok || b.tx != tx {
		return nil, nil
	}
	if st, ok := b.stmts[query]; ok {
		return st, nil
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	b.stmts[query] = st
	return st, nil
}

var _ store.Bulker = (*Store)(nil)

// Close closes both pools. Closing the writer last lets SQLite checkpoint
// the WAL into the main file.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// write runs fn in a write transaction and commits it.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if b, ok := ctx.Value(bulkTx{}).(*bulk); ok {
		return fn(b.tx) // inside Bulk: its transaction, committed at its end
	}
	return InTx(ctx, s.w, fn)
}

// Column returns the one column of the rows of query, run on db (a
// *sql.DB or *sql.Tx). The audit log uses it for its own file too.
func Column[T any](ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// InTx runs fn in a transaction of db and commits it if fn succeeds. The
// audit log uses it for its own file too.
func InTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// wrap adds the operation name to unexpected errors, leaving ErrNotFound and
// ErrExists recognisable with errors.Is.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// millis encodes a time for storage; the zero time becomes NULL.
func millis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromMillis decodes a stored time, in UTC.
func fromMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// exec runs one statement and reports whether it touched any row.
func exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	st, err := bulkStmt(ctx, tx, query)
	if err != nil {
		return false, err
	}
	var res sql.Result
	if st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = tx.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// exists reports whether query selects any row, for checks that must hold
// within a write transaction.
func exists(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	var one int
	st, err := bulkStmt(ctx, tx, query)
	if err != nil {
		return false, err
	}
	if st != nil {
		err = st.QueryRowContext(ctx, args...).Scan(&one)
	} else {
		err = tx.QueryRowContext(ctx, query, args...).Scan(&one)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// keyExists reports whether a key is stored.
func keyExists(ctx context.Context, tx *sql.Tx, id string) (bool, error) {
	return exists(ctx, tx, `SELECT 1 FROM keys WHERE id = ?`, id)
}

// CreateAccount implements [store.Store].
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	return wrap("create account", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx,
			`INSERT INTO accounts (id, created) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			a.ID, millis(a.Created))
		if err == nil && !ok {
			err = store.ErrExists
		}
		return err
	}))
}

// GetAccount implements [store.Store].
func (s *Store) GetAccount(ctx context.Context, id string) (store.Account, error) {
	var created sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT created FROM accounts WHERE id = ?`, id).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Account{}, wrap("get account", store.ErrNotFound)
	}
	return store.Account{ID: id, Created: fromMillis(created)}, wrap("get account", err)
}

// ListAccounts implements [store.Store].
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, created FROM accounts ORDER BY id`)
	if err != nil {
		return nil, wrap("list accounts", err)
	}
	defer rows.Close()
	var as []store.Account
	for rows.Next() {
		var a store.Account
		var created sql.NullInt64
		if err := rows.Scan(&a.ID, &created); err != nil {
			return nil, wrap("list accounts", err)
		}
		a.Created = fromMillis(created)
		as = append(as, a)
	}
	return as, wrap("list accounts", rows.Err())
}

// PutAccessKey implements [store.Store].
func (s *Store) PutAccessKey(ctx context.Context, k store.AccessKey) error {
	return wrap("put access key", s.write(ctx, func(tx *sql.Tx) error {
		if k.UserName != "" {
			name, err := ownerName(ctx, tx, k.Account, store.OwnerUser, k.UserName)
			if err != nil {
				return err
			}
			k.UserName = name
		}
		ok, err := exec(ctx, tx, `INSERT INTO access_keys
			(id, account, principal_arn, sealed_secret, active, created, user_name, user_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			k.ID, k.Account, k.PrincipalARN, k.SealedSecret, boolInt(k.Active), millis(k.Created),
			k.UserName, store.NameKey(k.UserName))
		if err == nil && !ok {
			err = store.ErrExists
		}
		return err
	}))
}

// accessKeyColumns are the columns scanAccessKey reads, in its order.
const accessKeyColumns = `id, account, principal_arn, sealed_secret, active, created, user_name`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect scans every row of a query with scan, closing rows (as the
// PostgreSQL backend's collect does).
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
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

func scanAccessKey(row scanner) (store.AccessKey, error) {
	var k store.AccessKey
	var active int
	var created sql.NullInt64
	err := row.Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.SealedSecret, &active, &created, &k.UserName)
	k.Active = active != 0
	k.Created = fromMillis(created)
	return k, err
}

// GetAccessKey implements [store.Store].
func (s *Store) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	k, err := scanAccessKey(s.r.QueryRowContext(ctx,
		`SELECT `+accessKeyColumns+` FROM access_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.AccessKey{}, wrap("get access key", store.ErrNotFound)
	}
	return k, wrap("get access key", err)
}

// ListAccessKeys implements [store.Store].
func (s *Store) ListAccessKeys(ctx context.Context, account, userName string) ([]store.AccessKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+accessKeyColumns+` FROM access_keys
		WHERE account = ? AND user_key = ? ORDER BY created, id`,
		account, store.NameKey(userName))
	if err != nil {
		return nil, wrap("list access keys", err)
	}
	defer rows.Close()
	var ks []store.AccessKey
	for rows.Next() {
		k, err := scanAccessKey(rows)
		if err != nil {
			return nil, wrap("list access keys", err)
		}
		ks = append(ks, k)
	}
	return ks, wrap("list access keys", rows.Err())
}

// SetAccessKeyActive implements [store.Store].
func (s *Store) SetAccessKeyActive(ctx context.Context, id string, active bool) error {
	return wrap("set access key active", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `UPDATE access_keys SET active = ? WHERE id = ?`, boolInt(active), id)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

// DeleteAccessKey implements [store.Store].
func (s *Store) DeleteAccessKey(ctx context.Context, id string) error {
	return wrap("delete access key", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `DELETE FROM access_keys WHERE id = ?`, id)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateKey implements [store.Store]. m.KeyID may be left empty; if set it
// must equal k.ID.
func (s *Store) CreateKey(ctx context.Context, k kms.Key, m *store.Material) error {
	if m != nil && m.KeyID != "" && m.KeyID != k.ID {
		return fmt.Errorf("sqlite: create key: material is for key %q, not %q", m.KeyID, k.ID)
	}
	return wrap("create key", s.write(ctx, func(tx *sql.Tx) error {
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
func insertKey(ctx context.Context, tx *sql.Tx, k kms.Key) error {
	ok, err := exec(ctx, tx, `INSERT INTO keys
		(id, account, region, description, key_spec, key_usage, origin, manager,
		 state, created, deletion_date, policy, current_material,
		 rotation_enabled, rotation_period_days, next_rotation_date, expiration_model, valid_to,
		 primary_region, pending_window_days)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		k.ID, k.Account, k.Region, k.Description, string(k.Spec), string(k.Usage),
		string(k.Origin), string(k.Manager), string(k.State), millis(k.CreationDate),
		millis(k.DeletionDate), k.Policy, k.CurrentMaterialID,
		boolInt(k.RotationEnabled), k.RotationPeriodDays, millis(k.NextRotationDate),
		k.ExpirationModel, millis(k.ValidTo), k.PrimaryRegion, k.PendingWindowDays)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrExists
	}
	return insertTags(ctx, tx, k.ID, k.Tags)
}

// ReplicateKey implements [store.Store].
func (s *Store) ReplicateKey(ctx context.Context, k kms.Key, from string) error {
	return wrap("replicate key", s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT current_material FROM keys WHERE id = ?`, from).Scan(&k.CurrentMaterialID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO materials
			(key_id, id, seq, sealed, created, rotation_type, rotation_date, pending, valid_to, description)
			SELECT ?, id, seq, sealed, created, rotation_type, rotation_date, pending, valid_to, description
			FROM materials WHERE key_id = ?`, k.ID, from)
		return err
	}))
}

// regionRange bounds the store ids of every copy of multi-Region key id:
// id@region sorts at or after id@ and before idA ('A' follows '@').
func regionRange(id string) (lo, hi string) { return id + "@", id + "A" }

// KeyRegions implements [store.Store].
func (s *Store) KeyRegions(ctx context.Context, id string) ([]kms.Key, error) {
	lo, hi := regionRange(id)
	keys, err := s.queryKeys(ctx, `SELECT id FROM keys WHERE id >= ? AND id < ?`, lo, hi)
	return keys, wrap("key regions", err)
}

// SetPrimaryRegion implements [store.Store].
func (s *Store) SetPrimaryRegion(ctx context.Context, id, region string) error {
	lo, hi := regionRange(id)
	to := kms.RowID(region, id)
	return wrap("set primary region", s.write(ctx, func(tx *sql.Tx) error {
		var (
			from    string
			enabled int
			period  int
			next    sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, `SELECT id, rotation_enabled, rotation_period_days, next_rotation_date
			FROM keys WHERE id >= ? AND id < ? AND region = primary_region`, lo, hi).Scan(&from, &enabled, &period, &next)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		ok, err := exec(ctx, tx, `UPDATE keys SET rotation_enabled = ?, rotation_period_days = ?, next_rotation_date = ?
			WHERE id = ?`, enabled, period, next, to)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if from != to {
			if _, err := tx.ExecContext(ctx, `UPDATE keys SET rotation_enabled = 0, next_rotation_date = NULL
				WHERE id = ?`, from); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE keys SET primary_region = ?, revision = revision + 1
			WHERE id >= ? AND id < ?`, region, lo, hi)
		return err
	}))
}

func insertTags(ctx context.Context, tx *sql.Tx, keyID string, tags []kms.Tag) error {
	for i, t := range tags {
		if _, err := exec(ctx, tx, `INSERT INTO key_tags
			(key_id, position, tag_key, tag_value) VALUES (?, ?, ?, ?)`,
			keyID, i, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

func insertMaterial(ctx context.Context, tx *sql.Tx, keyID string, m store.Material) error {
	ok, err := exec(ctx, tx, `INSERT INTO materials
		(key_id, id, seq, sealed, created, rotation_type, rotation_date, pending, valid_to, description)
		VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM materials WHERE key_id = ?), ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		keyID, m.ID, keyID, m.Sealed, millis(m.Created), m.RotationType, millis(m.RotationDate), boolInt(m.Pending),
		millis(m.ValidTo), m.Description)
	if err == nil && !ok {
		err = store.ErrExists
	}
	return err
}

// AddMaterial implements [store.Store].
func (s *Store) AddMaterial(ctx context.Context, m store.Material) error {
	return wrap("add material", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := keyExists(ctx, tx, m.KeyID)
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
// compare-and-swap: of two rotations from the same prev, the second finds
// the key's material changed and writes nothing. ErrExists if m.ID is
// already a material of the key; nothing is written then either.
func (s *Store) RotateKey(ctx context.Context, m store.Material, prev string, next time.Time) error {
	return wrap("rotate key", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `UPDATE keys SET revision = revision + 1, current_material = ?, next_rotation_date = ?
			WHERE id = ? AND current_material = ?`,
			m.ID, millis(next), m.KeyID, prev)
		if err != nil {
			return err
		}
		if !ok {
			ok, err := keyExists(ctx, tx, m.KeyID)
			switch {
			case err != nil:
				return err
			case !ok:
				return store.ErrNotFound
			}
			return store.ErrConflict
		}
		if err := insertMaterial(ctx, tx, m.KeyID, m); err != nil {
			return err
		}
		if kms.KeyIDOf(m.KeyID) == m.KeyID {
			return nil
		}
		lo, hi := regionRange(kms.KeyIDOf(m.KeyID))
		others, err := Column[string](ctx, tx, `SELECT id FROM keys WHERE id >= ? AND id < ? AND id <> ?`, lo, hi, m.KeyID)
		if err != nil {
			return err
		}
		for _, o := range others {
			if _, err := tx.ExecContext(ctx, `UPDATE keys SET revision = revision + 1, current_material = ? WHERE id = ?`, m.ID, o); err != nil {
				return err
			}
			if err := insertMaterial(ctx, tx, o, m); err != nil {
				return err
			}
		}
		return nil
	}))
}

// PromoteMaterial implements [store.Store]. Like RotateKey, the conditional
// UPDATE of the key is the compare-and-swap; on a mismatch a stale prev
// (ErrConflict) is reported before a material that is not pending
// (ErrNotFound), so the losers of a race learn that they lost.
func (s *Store) PromoteMaterial(ctx context.Context, keyID, materialID, prev string, rotationType string, rotationDate time.Time) error {
	return wrap("promote material", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `UPDATE keys SET revision = revision + 1, current_material = ?,
			valid_to = (SELECT valid_to FROM materials WHERE key_id = ? AND id = ?),
			expiration_model = CASE WHEN (SELECT valid_to FROM materials WHERE key_id = ? AND id = ?) IS NULL
				THEN ? ELSE ? END
			WHERE id = ? AND current_material = ? AND EXISTS
			(SELECT 1 FROM materials WHERE key_id = ? AND id = ? AND pending = 1)`,
			materialID, keyID, materialID, keyID, materialID, materialDoesNotExpire, materialExpires,
			keyID, prev, keyID, materialID)
		if err != nil {
			return err
		}
		if !ok {
			var current string
			err := tx.QueryRowContext(ctx, `SELECT current_material FROM keys WHERE id = ?`, keyID).Scan(&current)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return store.ErrNotFound
			case err != nil:
				return err
			case current != prev:
				return store.ErrConflict
			}
			return store.ErrNotFound // no such pending material
		}
		_, err = tx.ExecContext(ctx, `UPDATE materials SET pending = 0, rotation_type = ?, rotation_date = ?
			WHERE key_id = ? AND id = ?`,
			rotationType, millis(rotationDate), keyID, materialID)
		return err
	}))
}

// The expiration models a promoted material gives its key (see
// [store.Store.PromoteMaterial]).
const (
	materialDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	materialExpires       = "KEY_MATERIAL_EXPIRES"
)

// UpdateMaterial implements [store.Store].
func (s *Store) UpdateMaterial(ctx context.Context, m store.Material) error {
	return wrap("update material", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `UPDATE materials SET valid_to = ?, description = ? WHERE key_id = ? AND id = ?`,
			millis(m.ValidTo), m.Description, m.KeyID, m.ID)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

// DeleteMaterial implements [store.Store]. It leaves the key alone, even
// when the material is its current one.
func (s *Store) DeleteMaterial(ctx context.Context, keyID, materialID string) error {
	return wrap("delete material", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `DELETE FROM materials WHERE key_id = ? AND id = ?`, keyID, materialID)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

// keyColumns and queryKeys go together: one row per key and tag, in key id
// then tag position order.
const keyColumns = `k.id, k.account, k.region, k.description, k.key_spec, k.key_usage,
	k.origin, k.manager, k.state, k.created, k.deletion_date, k.policy,
	k.current_material, k.rotation_enabled, k.rotation_period_days,
	k.next_rotation_date, k.expiration_model, k.valid_to, k.revision,
	k.primary_region, k.pending_window_days, t.tag_key, t.tag_value`

// queryKeys returns the keys whose ids the subquery sub selects, with their
// tags, ordered by id. Selecting ids in a subquery keeps LIMIT counting
// keys, not key-tag rows.
func (s *Store) queryKeys(ctx context.Context, sub string, args ...any) ([]kms.Key, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+keyColumns+`
		FROM keys k LEFT JOIN key_tags t ON t.key_id = k.id
		WHERE k.id IN (`+sub+`)
		ORDER BY k.id, t.position`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []kms.Key
	for rows.Next() {
		if keys, err = scanKeyRow(rows, keys); err != nil {
			return nil, err
		}
	}
	return keys, rows.Err()
}

// scanKeyRow scans one row of keyColumns followed by extra into keys: a
// new key, or one more tag of the last.
func scanKeyRow(rows *sql.Rows, keys []kms.Key, extra ...any) ([]kms.Key, error) {
	var (
		k                            kms.Key
		spec, usage, origin, manager string
		state                        string
		created, deletion            sql.NullInt64
		rotation                     int
		nextRotation, validTo        sql.NullInt64
		tagKey, tagValue             sql.NullString
	)
	if err := rows.Scan(append([]any{&k.ID, &k.Account, &k.Region, &k.Description, &spec, &usage,
		&origin, &manager, &state, &created, &deletion, &k.Policy,
		&k.CurrentMaterialID, &rotation, &k.RotationPeriodDays,
		&nextRotation, &k.ExpirationModel, &validTo, &k.Revision,
		&k.PrimaryRegion, &k.PendingWindowDays, &tagKey, &tagValue}, extra...)...); err != nil {
		return nil, err
	}
	if n := len(keys); n == 0 || keys[n-1].ID != k.ID {
		k.Spec = kms.KeySpec(spec)
		k.Usage = kms.KeyUsage(usage)
		k.Origin = kms.Origin(origin)
		k.Manager = kms.KeyManager(manager)
		k.State = kms.KeyState(state)
		k.CreationDate = fromMillis(created)
		k.DeletionDate = fromMillis(deletion)
		k.RotationEnabled = rotation != 0
		k.NextRotationDate = fromMillis(nextRotation)
		k.ValidTo = fromMillis(validTo)
		keys = append(keys, k)
	}
	if tagKey.Valid {
		last := &keys[len(keys)-1]
		last.Tags = append(last.Tags, kms.Tag{Key: tagKey.String, Value: tagValue.String})
	}
	return keys, nil
}

// GetKeyForUse implements [store.Store]: the key, its tags, alias names,
// whether it has grants and its current material in one statement; a
// second reads the grants of a key that has some.
func (s *Store) GetKeyForUse(ctx context.Context, id string) (store.KeyForUse, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+keyColumns+`,
			(SELECT group_concat(a.name, ' ') FROM aliases a WHERE a.key_id = k.id),
			EXISTS (SELECT 1 FROM grants g WHERE g.key_id = k.id),
			m.id, m.sealed, m.created, m.rotation_type, m.rotation_date, m.pending, m.valid_to, m.description
		FROM keys k LEFT JOIN key_tags t ON t.key_id = k.id
		LEFT JOIN materials m ON m.key_id = k.id AND m.id = k.current_material
		WHERE k.id = ?
		ORDER BY t.position`, id)
	if err != nil {
		return store.KeyForUse{}, wrap("get key for use", err)
	}
	defer rows.Close()
	var (
		keys              []kms.Key
		aliases           sql.NullString
		hasGrants         bool
		mID, mRotType     sql.NullString
		sealed            []byte
		mCreated, rotated sql.NullInt64
		pending           sql.NullInt64
		mValidTo          sql.NullInt64
		mDescription      sql.NullString
	)
	for rows.Next() {
		if keys, err = scanKeyRow(rows, keys, &aliases, &hasGrants, &mID, &sealed, &mCreated, &mRotType, &rotated, &pending, &mValidTo, &mDescription); err != nil {
			return store.KeyForUse{}, wrap("get key for use", err)
		}
	}
	if err := rows.Err(); err != nil {
		return store.KeyForUse{}, wrap("get key for use", err)
	}
	if len(keys) == 0 {
		return store.KeyForUse{}, wrap("get key for use", store.ErrNotFound)
	}
	u := store.KeyForUse{Key: keys[0]}
	if aliases.Valid {
		u.Aliases = strings.Fields(aliases.String) // alias names have no spaces
	}
	if mID.Valid {
		u.Current = &store.Material{KeyID: id, ID: mID.String, Sealed: sealed, Created: fromMillis(mCreated),
			RotationType: mRotType.String, RotationDate: fromMillis(rotated), Pending: pending.Int64 != 0,
			ValidTo: fromMillis(mValidTo), Description: mDescription.String}
	}
	if hasGrants {
		if u.Grants, err = s.ListGrants(ctx, store.GrantFilter{KeyID: id}); err != nil {
			return store.KeyForUse{}, err
		}
	}
	return u, nil
}

// GetKey implements [store.Store].
func (s *Store) GetKey(ctx context.Context, id string) (kms.Key, error) {
	keys, err := s.queryKeys(ctx, `SELECT id FROM keys WHERE id = ?`, id)
	if err != nil {
		return kms.Key{}, wrap("get key", err)
	}
	if len(keys) == 0 {
		return kms.Key{}, wrap("get key", store.ErrNotFound)
	}
	return keys[0], nil
}

// UpdateKey implements [store.Store]; the rotation and expiration fields
// are mutable too. The immutable fields of k (account, region, spec, usage,
// origin, manager, creation date) are ignored.
func (s *Store) UpdateKey(ctx context.Context, k kms.Key) error {
	return wrap("update key", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `UPDATE keys SET description = ?, state = ?,
			deletion_date = ?, policy = ?, current_material = ?,
			rotation_enabled = ?, rotation_period_days = ?, next_rotation_date = ?,
			expiration_model = ?, valid_to = ?, pending_window_days = ?, revision = revision + 1
			WHERE id = ? AND revision = ?`,
			k.Description, string(k.State), millis(k.DeletionDate), k.Policy,
			k.CurrentMaterialID, boolInt(k.RotationEnabled), k.RotationPeriodDays,
			millis(k.NextRotationDate), k.ExpirationModel, millis(k.ValidTo), k.PendingWindowDays,
			k.ID, k.Revision)
		if err != nil {
			return err
		}
		if !ok {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM keys WHERE id = ?`, k.ID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			return store.ErrConflict
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM key_tags WHERE key_id = ?`, k.ID); err != nil {
			return err
		}
		return insertTags(ctx, tx, k.ID, k.Tags)
	}))
}

// DeleteKey implements [store.Store]; ErrNotFound if the key is absent. The
// key's grants go with it. Dependents are deleted explicitly rather than left to ON DELETE CASCADE,
// which works only while foreign keys are enabled.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	return wrap("delete key", s.write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM grants WHERE key_id = ?`,
			`DELETE FROM aliases WHERE key_id = ?`,
			`DELETE FROM materials WHERE key_id = ?`,
			`DELETE FROM key_tags WHERE key_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		ok, err := exec(ctx, tx, `DELETE FROM keys WHERE id = ?`, id)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

// ListKeys implements [store.Store]. A Limit below 0 counts as no cap.
func (s *Store) ListKeys(ctx context.Context, f store.KeyFilter) ([]kms.Key, error) {
	sub := `SELECT id FROM keys WHERE account = ? AND region = ?`
	args := []any{f.Account, f.Region}
	if f.After != "" {
		sub += ` AND id > ?`
		args = append(args, f.After)
	}
	sub += ` ORDER BY id`
	if f.Limit > 0 {
		sub += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	keys, err := s.queryKeys(ctx, sub, args...)
	return keys, wrap("list keys", err)
}

// KeysPendingDeletion implements [store.Store]; the keys come ordered by id.
func (s *Store) KeysPendingDeletion(ctx context.Context, t time.Time) ([]kms.Key, error) {
	keys, err := s.queryKeys(ctx, `SELECT id FROM keys
		WHERE state = ? AND deletion_date IS NOT NULL AND deletion_date <= ?`,
		string(kms.KeyStatePendingDeletion), t.UnixMilli())
	return keys, wrap("keys pending deletion", err)
}

// KeysDueForRotation implements [store.Store]; the keys come ordered by id.
// A key with rotation on but no next rotation date is never due.
func (s *Store) KeysDueForRotation(ctx context.Context, t time.Time) ([]kms.Key, error) {
	keys, err := s.queryKeys(ctx, `SELECT id FROM keys
		WHERE state = ? AND rotation_enabled = 1
		AND next_rotation_date IS NOT NULL AND next_rotation_date <= ?`,
		string(kms.KeyStateEnabled), t.UnixMilli())
	return keys, wrap("keys due for rotation", err)
}

// expiresModel is the ExpirationModel of material with a ValidTo.
const expiresModel = "KEY_MATERIAL_EXPIRES"

// KeysWithExpiredMaterial implements [store.Store]; the keys come ordered
// by id. A key without a ValidTo never expires.
func (s *Store) KeysWithExpiredMaterial(ctx context.Context, t time.Time) ([]kms.Key, error) {
	keys, err := s.queryKeys(ctx, `SELECT id FROM keys
		WHERE expiration_model = ? AND valid_to IS NOT NULL AND valid_to <= ? AND state <> ?`,
		expiresModel, t.UnixMilli(), string(kms.KeyStatePendingImport))
	return keys, wrap("keys with expired material", err)
}

// GetMaterial implements [store.Store].
func (s *Store) GetMaterial(ctx context.Context, keyID, materialID string) (store.Material, error) {
	m := store.Material{KeyID: keyID, ID: materialID}
	var created, rotated, validTo sql.NullInt64
	var pending int
	err := s.r.QueryRowContext(ctx, `SELECT sealed, created, rotation_type, rotation_date, pending, valid_to, description
		FROM materials WHERE key_id = ? AND id = ?`, keyID, materialID).
		Scan(&m.Sealed, &created, &m.RotationType, &rotated, &pending, &validTo, &m.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Material{}, wrap("get material", store.ErrNotFound)
	}
	m.Created = fromMillis(created)
	m.RotationDate = fromMillis(rotated)
	m.ValidTo = fromMillis(validTo)
	m.Pending = pending != 0
	return m, wrap("get material", err)
}

// ListMaterials implements [store.Store]. An unknown key has no materials,
// which is not an error.
func (s *Store) ListMaterials(ctx context.Context, keyID string) ([]store.Material, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, sealed, created, rotation_type, rotation_date, pending, valid_to, description
		FROM materials WHERE key_id = ? ORDER BY created, seq`, keyID)
	if err != nil {
		return nil, wrap("list materials", err)
	}
	defer rows.Close()
	var ms []store.Material
	for rows.Next() {
		m := store.Material{KeyID: keyID}
		var created, rotated, validTo sql.NullInt64
		var pending int
		if err := rows.Scan(&m.ID, &m.Sealed, &created, &m.RotationType, &rotated, &pending, &validTo, &m.Description); err != nil {
			return nil, wrap("list materials", err)
		}
		m.Created = fromMillis(created)
		m.RotationDate = fromMillis(rotated)
		m.ValidTo = fromMillis(validTo)
		m.Pending = pending != 0
		ms = append(ms, m)
	}
	return ms, wrap("list materials", rows.Err())
}

// CreateAlias implements [store.Store]. ErrNotFound if the target key is
// absent: an alias always names a stored key.
func (s *Store) CreateAlias(ctx context.Context, a kms.Alias) error {
	return wrap("create alias", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := keyExists(ctx, tx, a.TargetKeyID)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		ok, err = exec(ctx, tx, `INSERT INTO aliases
			(account, region, name, key_id, created, updated)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			a.Account, a.Region, a.Name, a.TargetKeyID,
			millis(a.CreationDate), millis(a.LastUpdatedDate))
		if err == nil && !ok {
			err = store.ErrExists
		}
		return err
	}))
}

// GetAlias implements [store.Store].
func (s *Store) GetAlias(ctx context.Context, account, region, name string) (kms.Alias, error) {
	a := kms.Alias{Name: name, Account: account, Region: region}
	var created, updated sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT key_id, created, updated FROM aliases
		WHERE account = ? AND region = ? AND name = ?`, account, region, name).
		Scan(&a.TargetKeyID, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return kms.Alias{}, wrap("get alias", store.ErrNotFound)
	}
	a.CreationDate = fromMillis(created)
	a.LastUpdatedDate = fromMillis(updated)
	return a, wrap("get alias", err)
}

// UpdateAlias implements [store.Store]. ErrNotFound if the alias or the new
// target key is absent.
func (s *Store) UpdateAlias(ctx context.Context, a kms.Alias) error {
	return wrap("update alias", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := keyExists(ctx, tx, a.TargetKeyID)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		ok, err = exec(ctx, tx, `UPDATE aliases SET key_id = ?, updated = ?
			WHERE account = ? AND region = ? AND name = ?`,
			a.TargetKeyID, millis(a.LastUpdatedDate), a.Account, a.Region, a.Name)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

// DeleteAlias implements [store.Store]; ErrNotFound if the alias is absent.
func (s *Store) DeleteAlias(ctx context.Context, account, region, name string) error {
	return wrap("delete alias", s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exec(ctx, tx, `DELETE FROM aliases
			WHERE account = ? AND region = ? AND name = ?`, account, region, name)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}))
}

// ListAliases implements [store.Store]. A Limit below 0 counts as no cap.
func (s *Store) ListAliases(ctx context.Context, f store.AliasFilter) ([]kms.Alias, error) {
	q := `SELECT name, key_id, created, updated FROM aliases WHERE account = ? AND region = ?`
	args := []any{f.Account, f.Region}
	if f.KeyID != "" {
		q += ` AND key_id = ?`
		args = append(args, f.KeyID)
	}
	if f.After != "" {
		q += ` AND name > ?`
		args = append(args, f.After)
	}
	q += ` ORDER BY name`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list aliases", err)
	}
	defer rows.Close()
	var as []kms.Alias
	for rows.Next() {
		a := kms.Alias{Account: f.Account, Region: f.Region}
		var created, updated sql.NullInt64
		if err := rows.Scan(&a.Name, &a.TargetKeyID, &created, &updated); err != nil {
			return nil, wrap("list aliases", err)
		}
		a.CreationDate = fromMillis(created)
		a.LastUpdatedDate = fromMillis(updated)
		as = append(as, a)
	}
	return as, wrap("list aliases", rows.Err())
}

// CountAliases implements [store.Store].
func (s *Store) CountAliases(ctx context.Context, keyID string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM aliases WHERE key_id = ?`, keyID).Scan(&n)
	return n, wrap("count aliases", err)
}

// CountKeys implements [store.KeyCounter].
func (s *Store) CountKeys(ctx context.Context) ([]store.KeyCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT state, key_spec, count(*) FROM keys GROUP BY state, key_spec`)
	counts, err := collect(rows, err, func(row scanner) (c store.KeyCount, err error) {
		err = row.Scan(&c.State, &c.Spec, &c.N)
		return c, err
	})
	return counts, wrap("count keys", err)
}
