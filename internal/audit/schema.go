package audit

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/openkms/kms/internal/store/sqlite"
)

// migrations[i] takes the schema from version i to version i+1. Append only:
// a shipped migration is never edited (TestMigrationsFrozen pins them).
//
// Times are Unix milliseconds, UTC, in BIGINT columns; event times are whole
// seconds, as records write them. Hashes and signatures are BLOBs; record,
// checkpoint and anchor bodies are the exact JSON bytes that were hashed or
// signed, as TEXT.
var migrations = [][]string{
	{ // version 1
		// id orders records by commit (AUTOINCREMENT: never reused, even
		// after a prune empties the table, so a follower's cursor holds).
		// (region, seq) is the chain position. The columns after body are
		// copied out of it for lookups.
		`CREATE TABLE records (
			id            INTEGER PRIMARY KEY AUTOINCREMENT,
			region        TEXT NOT NULL,
			seq           BIGINT NOT NULL,
			prev          BLOB NOT NULL,
			hash          BLOB NOT NULL,
			body          TEXT NOT NULL,
			event_time    BIGINT NOT NULL,
			event_id      TEXT NOT NULL,
			event_name    TEXT NOT NULL,
			event_source  TEXT NOT NULL,
			user_name     TEXT NOT NULL,
			access_key_id TEXT NOT NULL,
			request_id    TEXT NOT NULL,
			read_only     INTEGER NOT NULL,
			UNIQUE (region, seq)
		)`,
		// Lookups return the newest first: (event_time, id) descending.
		`CREATE INDEX records_by_time ON records (event_time, id)`,
		`CREATE INDEX records_by_name ON records (event_name, event_time, id)`,
		`CREATE INDEX records_by_user ON records (user_name, event_time, id)`,
		`CREATE INDEX records_by_access_key ON records (access_key_id, event_time, id)`,
		`CREATE INDEX records_by_event_id ON records (event_id)`,
		// An index of the ARNs in records' resources (each once per
		// record). name is the ARN's last path segment (a key id for a key
		// ARN): the one index, on name, serves lookups by ARN too, as an
		// ARN's name is known. event_time is the record's, so that a
		// lookup by resource walks the index newest first.
		`CREATE TABLE resources (
			record_id  BIGINT NOT NULL,
			arn        TEXT NOT NULL,
			name       TEXT NOT NULL,
			event_time BIGINT NOT NULL,
			PRIMARY KEY (record_id, arn)
		) WITHOUT ROWID`,
		`CREATE INDEX resources_by_name ON resources (name, event_time, record_id)`,
		// Checkpoints in the order they were signed; a region's form a chain.
		`CREATE TABLE checkpoints (
			id        INTEGER PRIMARY KEY AUTOINCREMENT,
			region    TEXT NOT NULL,
			seq       BIGINT NOT NULL,
			body      TEXT NOT NULL,
			signature BLOB NOT NULL
		)`,
		`CREATE INDEX checkpoints_by_region ON checkpoints (region, id)`,
		// The signed start of each pruned region's chain.
		`CREATE TABLE anchors (
			region    TEXT PRIMARY KEY,
			seq       BIGINT NOT NULL,
			body      TEXT NOT NULL,
			signature BLOB NOT NULL
		)`,
		// Each key's last successful cryptographic use, kept apart from the
		// records so that pruning them does not forget it.
		`CREATE TABLE key_last_use (
			arn        TEXT PRIMARY KEY,
			event_time BIGINT NOT NULL,
			event_name TEXT NOT NULL,
			region     TEXT NOT NULL,
			event_id   TEXT NOT NULL,
			request_id TEXT NOT NULL
		) WITHOUT ROWID`,
		`CREATE TABLE meta (
			name  TEXT PRIMARY KEY,
			value TEXT NOT NULL
		)`,
		// Scratch space for the health probe's test writes.
		`CREATE TABLE probe (
			id   INTEGER PRIMARY KEY,
			data BLOB NOT NULL
		)`,
	},
	{ // version 2
		// The account a record is filed with (its recipientAccountId), so
		// that a lookup sees one account's records.
		`ALTER TABLE records ADD COLUMN account TEXT NOT NULL DEFAULT ''`,
		`UPDATE records SET account = COALESCE(json_extract(body, '$.recipientAccountId'), '') WHERE json_valid(body)`,
		`CREATE INDEX records_by_account ON records (account, event_time, id)`,
	},
	{ // version 3
		// Where a record's frame is, in the segments beside the database
		// (segment epoch and byte offset). Such a record's body is empty:
		// its JSON is in the frame. Records of versions 1 and 2 keep their
		// body and have neither.
		`ALTER TABLE records ADD COLUMN segment BIGINT`,
		`ALTER TABLE records ADD COLUMN segment_offset BIGINT`,
		// The ARNs of a record's resources and their last path segments,
		// each with a space before and after, for lookups by resource.
		`ALTER TABLE records ADD COLUMN resources TEXT NOT NULL DEFAULT ''`,
		`UPDATE records SET resources = COALESCE((SELECT ' ' || group_concat(arn || ' ' || name, ' ') || ' '
			FROM resources s WHERE s.record_id = records.id), '')`,
		// Lookups find records through postings rather than an index entry
		// per record and attribute: for each indexer transaction, one row
		// per account, region and attribute value its records have, with the
		// range of their ids; the records in the range are then filtered on
		// their columns. attr is one of: all (value empty), name, user, key
		// (access key id), source, ro (read-only: true or false), res (a
		// resource's last path segment).
		// min_time and max_time bound the event times of the records.
		`CREATE TABLE postings (
			attr     TEXT NOT NULL,
			value    TEXT NOT NULL,
			account  TEXT NOT NULL,
			region   TEXT NOT NULL,
			last_id  BIGINT NOT NULL,
			first_id BIGINT NOT NULL,
			min_time BIGINT NOT NULL,
			max_time BIGINT NOT NULL,
			PRIMARY KEY (attr, value, account, region, last_id)
		) WITHOUT ROWID`,
		`INSERT INTO postings SELECT 'all', '', account, region, id, id, event_time, event_time FROM records`,
		`INSERT INTO postings SELECT 'name', event_name, account, region, id, id, event_time, event_time FROM records`,
		`INSERT INTO postings SELECT 'user', user_name, account, region, id, id, event_time, event_time FROM records`,
		`INSERT INTO postings SELECT 'key', access_key_id, account, region, id, id, event_time, event_time FROM records`,
		`INSERT INTO postings SELECT 'source', event_source, account, region, id, id, event_time, event_time FROM records`,
		`INSERT INTO postings SELECT 'ro', CASE WHEN read_only THEN 'true' ELSE 'false' END, account, id, id,
			region, event_time, event_time FROM records`,
		`INSERT INTO postings SELECT DISTINCT 'res', s.name, r.account, r.region, r.id, r.id, r.event_time, r.event_time
			FROM resources s JOIN records r ON r.id = s.record_id`,
		`DROP TABLE resources`,
		`DROP INDEX records_by_time`,
		`DROP INDEX records_by_name`,
		`DROP INDEX records_by_user`,
		`DROP INDEX records_by_access_key`,
		`DROP INDEX records_by_account`,
	},
}

// migrate brings the schema up to date in one transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	if err := sqlite.Migrate(ctx, db, migrations, len(migrations)); err != nil {
		return fmt.Errorf("audit database: %w", err)
	}
	return nil
}

// checkVersion fails unless a database opened for reading has a schema this
// binary knows.
func checkVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) error {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("not an audit database: %w", err)
	}
	if v < 1 || v > len(migrations) {
		return fmt.Errorf("audit database schema version %d, this binary reads 1 to %d", v, len(migrations))
	}
	return nil
}

const busyTimeout = 5000 // ms to wait for a lock held by another connection

// dsn is the driver URI for the file at path. A file: URI with an escaped
// path, so '?' or '#' in a file name cannot be mistaken for parameters.
func dsn(path string, params ...string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	params = append([]string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout),
		"_pragma=synchronous(FULL)",
		"_pragma=fullfsync(1)", // macOS: fsync alone does not reach the disk
	}, params...)
	return "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + strings.Join(params, "&"), nil
}
