package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock keys of the PostgreSQL trail. Advisory locks are per
// database; these differ from the key store's ("okms"), so that the two
// never wait for each other.
const (
	pgMigrationLock = 0x6f6b6d61 // "okma": schema migrations at open
	pgPruneLock     = 0x6f6b6d70 // "okmp": one prune at a time in a cluster
)

// pgMigrations[i] takes the PostgreSQL trail's schema from version i to
// version i+1, its version kept in audit_schema_version (the key store
// keeps its own in schema_version). Append only: a shipped migration is
// never edited.
//
// Every table is named audit_*, beside the key store's tables. Times are
// Unix milliseconds, UTC, in BIGINT columns. Record, checkpoint and anchor
// bodies are BYTEA holding the exact JSON bytes that were hashed or signed:
// TEXT would be transcoded by a database whose encoding is not UTF8. The
// TEXT columns are copies taken out of the records for lookups (see
// pgIndexValue), COLLATE "C" so that comparisons are bytewise whatever the
// database's collation.
var pgMigrations = [][]string{
	{ // version 1
		`CREATE TABLE audit_meta (
			name  TEXT COLLATE "C" PRIMARY KEY,
			value TEXT NOT NULL
		)`,
		// One row per chain: each node starts one per region it writes,
		// each time it opens, so nodes never wait for each other. name is
		// node, start time and a random suffix; checkpoints and anchors
		// sign it. closed is set by a clean Close (for operators only: it
		// is not evidence).
		`CREATE TABLE audit_chains (
			id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			name    TEXT COLLATE "C" NOT NULL UNIQUE,
			region  TEXT COLLATE "C" NOT NULL,
			node    TEXT COLLATE "C" NOT NULL,
			started BIGINT NOT NULL,
			closed  BIGINT
		)`,
		// (chain, seq) is the chain position; prev, hash and body are the
		// evidence, the columns after body copies for lookups. txid is the
		// inserting transaction's id (pg_current_xact_id): Since and Follow
		// read in (txid, id) order, which a transaction that commits late
		// cannot slip into behind a follower (see PostgresReader.Follow).
		// No foreign key to audit_chains: its check would cost a lookup
		// and a row lock per inserted record.
		`CREATE TABLE audit_records (
			id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			txid          BIGINT NOT NULL,
			chain         BIGINT NOT NULL,
			seq           BIGINT NOT NULL,
			prev          BYTEA NOT NULL,
			hash          BYTEA NOT NULL,
			body          BYTEA NOT NULL,
			region        TEXT COLLATE "C" NOT NULL,
			account       TEXT COLLATE "C" NOT NULL,
			event_time    BIGINT NOT NULL,
			event_id      TEXT COLLATE "C" NOT NULL,
			event_name    TEXT COLLATE "C" NOT NULL,
			event_source  TEXT COLLATE "C" NOT NULL,
			user_name     TEXT COLLATE "C" NOT NULL,
			access_key_id TEXT COLLATE "C" NOT NULL,
			request_id    TEXT COLLATE "C" NOT NULL,
			read_only     BOOLEAN NOT NULL,
			has_resources BOOLEAN NOT NULL,
			UNIQUE (chain, seq)
		)`,
		// Lookups return the newest first, (event_time, id) descending, and
		// LookupEvents always names an account and a region: each attribute
		// a lookup filters on has an index that starts with those, then the
		// attribute, then the order, so a page is one backward index scan.
		// Lookups without an account and a region (tools) use by_time.
		`CREATE INDEX audit_records_by_time ON audit_records (event_time, id)`,
		`CREATE INDEX audit_records_by_txid ON audit_records (txid, id)`,
		`CREATE INDEX audit_records_by_event_id ON audit_records (event_id)`,
		`CREATE INDEX audit_records_by_account ON audit_records (account, region, event_time, id)`,
		`CREATE INDEX audit_records_by_name ON audit_records (account, region, event_name, event_time, id)`,
		`CREATE INDEX audit_records_by_user ON audit_records (account, region, user_name, event_time, id)`,
		`CREATE INDEX audit_records_by_access_key ON audit_records (account, region, access_key_id, event_time, id)`,
		`CREATE INDEX audit_records_by_source ON audit_records (account, region, event_source, event_time, id)`,
		`CREATE INDEX audit_records_by_read_only ON audit_records (account, region, read_only, event_time, id)`,
		// The resources of records, for lookups by resource name: a row per
		// record and distinct token among its resources' ARNs and their
		// last path segments (a key id for a key ARN), so that a lookup by
		// key id or by ARN is one index scan, as the SQLite log matches
		// either. account, region and event_time are the record's.
		`CREATE TABLE audit_resources (
			record_id  BIGINT NOT NULL,
			token      TEXT COLLATE "C" NOT NULL,
			account    TEXT COLLATE "C" NOT NULL,
			region     TEXT COLLATE "C" NOT NULL,
			event_time BIGINT NOT NULL,
			PRIMARY KEY (record_id, token)
		)`,
		`CREATE INDEX audit_resources_by_token ON audit_resources (account, region, token, event_time, record_id)`,
		`CREATE INDEX audit_resources_by_token_only ON audit_resources (token, event_time, record_id)`,
		// Checkpoints in the order they were signed; a chain's form a chain.
		`CREATE TABLE audit_checkpoints (
			id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			chain     BIGINT NOT NULL,
			seq       BIGINT NOT NULL,
			body      BYTEA NOT NULL,
			signature BYTEA NOT NULL
		)`,
		`CREATE INDEX audit_checkpoints_by_chain ON audit_checkpoints (chain, id)`,
		// The signed start of each pruned chain.
		`CREATE TABLE audit_anchors (
			chain     BIGINT PRIMARY KEY,
			seq       BIGINT NOT NULL,
			body      BYTEA NOT NULL,
			signature BYTEA NOT NULL
		)`,
		// Each key's last successful cryptographic use, apart from the
		// records so that pruning them does not forget it.
		`CREATE TABLE audit_key_last_use (
			arn        TEXT COLLATE "C" PRIMARY KEY,
			event_time BIGINT NOT NULL,
			event_name TEXT COLLATE "C" NOT NULL,
			region     TEXT COLLATE "C" NOT NULL,
			event_id   TEXT COLLATE "C" NOT NULL,
			request_id TEXT COLLATE "C" NOT NULL
		)`,
	},
	{ // version 2
		// Lookups find records through postings, as the SQLite index does,
		// rather than seven index entries and two resource rows a record:
		// for each transaction of a writer, a row per account, region and
		// attribute value its records have, with the range of the ids the
		// transaction inserted (other nodes' records may fall in it: a
		// lookup filters the records in a range on their columns). attr is
		// one of: all (value empty), name, user, key (access key id),
		// source, ro (true or false), res (a resource's last path segment).
		// min_time and max_time bound the event times of the records with
		// the value. It costs the writer a row per value a transaction.
		`CREATE TABLE audit_postings (
			attr     TEXT COLLATE "C" NOT NULL,
			value    TEXT COLLATE "C" NOT NULL,
			account  TEXT COLLATE "C" NOT NULL,
			region   TEXT COLLATE "C" NOT NULL,
			last_id  BIGINT NOT NULL,
			first_id BIGINT NOT NULL,
			min_time BIGINT NOT NULL,
			max_time BIGINT NOT NULL,
			PRIMARY KEY (attr, value, account, region, last_id)
		)`,
		// The ARNs of a record's resources and their last path segments,
		// each with a space before and after, for lookups by resource.
		`ALTER TABLE audit_records ADD COLUMN resources TEXT COLLATE "C" NOT NULL DEFAULT ''`,
		`UPDATE audit_records r SET resources = ' ' || s.tokens || ' '
			FROM (SELECT record_id, string_agg(token, ' ' ORDER BY token) AS tokens
				FROM audit_resources GROUP BY record_id) s
			WHERE s.record_id = r.id`,
		`INSERT INTO audit_postings SELECT a.attr, a.value, r.account, r.region, r.id, r.id, r.event_time, r.event_time
			FROM audit_records r, LATERAL (VALUES ('all', ''), ('name', r.event_name), ('user', r.user_name),
				('key', r.access_key_id), ('source', r.event_source), ('ro', r.read_only::text)) AS a(attr, value)`,
		`INSERT INTO audit_postings SELECT DISTINCT 'res', regexp_replace(token, '^.*/', ''), account, region,
				record_id, record_id, event_time, event_time
			FROM audit_resources`,
		`DROP TABLE audit_resources`,
		`DROP INDEX audit_records_by_time, audit_records_by_account, audit_records_by_name, audit_records_by_user,
			audit_records_by_access_key, audit_records_by_source, audit_records_by_read_only`,
		`ALTER TABLE audit_records DROP COLUMN has_resources`,
	},
}

// pgMigrate brings the trail's schema up to date in one transaction, under
// an advisory lock so that nodes opening at once migrate one after the
// other, and records when the trail was created (TrackingStart) if it was
// not yet.
func pgMigrate(ctx context.Context, pool *pgxpool.Pool, created int64) error {
	return pgMigrateTo(ctx, pool, created, len(pgMigrations))
}

// pgMigrateTo is pgMigrate up to version to (tests make old trails).
func pgMigrateTo(ctx context.Context, pool *pgxpool.Pool, created int64, to int) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrationLock)); err != nil {
			return err
		}
		// Created only when missing: CREATE TABLE IF NOT EXISTS would need
		// the CREATE privilege even on a database that is up to date.
		var have bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('audit_schema_version') IS NOT NULL`).Scan(&have); err != nil {
			return err
		}
		if !have {
			if _, err := tx.Exec(ctx, `CREATE TABLE audit_schema_version (version INTEGER PRIMARY KEY)`); err != nil {
				return err
			}
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM audit_schema_version`).Scan(&v); err != nil {
			return err
		}
		if v > len(pgMigrations) {
			return fmt.Errorf("audit schema version %d is newer than this binary supports (%d)", v, len(pgMigrations))
		}
		for ; v < to; v++ {
			for _, stmt := range pgMigrations[v] {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration to version %d: %w", v+1, err)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO audit_schema_version (version) VALUES ($1)`, v+1); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO audit_meta (name, value) VALUES ('created', $1) ON CONFLICT DO NOTHING`,
			fmt.Sprint(created))
		return err
	})
}

// pgQuerier is what reads need of a pool, a connection or a transaction.
type pgQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pgCheckVersion fails unless the database holds a trail whose schema this
// binary reads.
func pgCheckVersion(ctx context.Context, q pgQuerier) error {
	var have bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('audit_schema_version') IS NOT NULL`).Scan(&have); err != nil {
		return err
	}
	if !have {
		return errors.New("no audit trail in this database")
	}
	var v int
	if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM audit_schema_version`).Scan(&v); err != nil {
		return err
	}
	if v < 1 || v > len(pgMigrations) {
		return fmt.Errorf("audit schema version %d, this binary reads 1 to %d", v, len(pgMigrations))
	}
	return nil
}

// pgMaxIndexValue bounds the bytes of an indexed TEXT value: a B-tree entry
// must fit in a third of a page, and no value the server logs comes near.
const pgMaxIndexValue = 1024

// pgIndexValue is s as the lookup columns store it, and as lookups compare
// with it: valid UTF-8 without NUL bytes (which a TEXT value cannot hold),
// cut to pgMaxIndexValue bytes. The record's JSON keeps the value as it
// was; one odd value must not fail the insert of a whole group commit. Two
// values alike up to the cut match each other's lookups.
func pgIndexValue(s string) string {
	if len(s) <= pgMaxIndexValue && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s // the usual case, without allocating
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) > pgMaxIndexValue {
		cut := pgMaxIndexValue
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
