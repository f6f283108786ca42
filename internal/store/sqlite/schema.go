package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] takes the schema from version i to version i+1. Append only:
// a shipped migration is never edited, so every database can be upgraded.
//
// The SQL sticks to types and syntax PostgreSQL shares (BLOB becomes BYTEA
// there), so the later backend can start from the same schema. Times are Unix
// milliseconds, UTC, in BIGINT columns (SQLite reads BIGINT as INTEGER; a
// PostgreSQL INTEGER would be only 32 bits). NULL stands for the zero time.
var migrations = [][]string{
	{ // version 1
		`CREATE TABLE accounts (
			id      TEXT PRIMARY KEY,
			created BIGINT NOT NULL
		)`,
		`CREATE TABLE access_keys (
			id            TEXT PRIMARY KEY,
			account       TEXT NOT NULL,
			principal_arn TEXT NOT NULL,
			sealed_secret BLOB NOT NULL,
			active        INTEGER NOT NULL,
			created       BIGINT NOT NULL
		)`,
		`CREATE TABLE keys (
			id               TEXT PRIMARY KEY,
			account          TEXT NOT NULL,
			region           TEXT NOT NULL,
			description      TEXT NOT NULL,
			key_spec         TEXT NOT NULL,
			key_usage        TEXT NOT NULL,
			origin           TEXT NOT NULL,
			manager          TEXT NOT NULL,
			state            TEXT NOT NULL,
			created          BIGINT NOT NULL,
			deletion_date    BIGINT,
			policy           TEXT NOT NULL,
			current_material TEXT NOT NULL
		)`,
		`CREATE INDEX keys_by_account ON keys (account, region, id)`,
		`CREATE INDEX keys_by_deletion ON keys (state, deletion_date)`,
		// position keeps tags in the order the caller gave them.
		`CREATE TABLE key_tags (
			key_id    TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
			position  INTEGER NOT NULL,
			tag_key   TEXT NOT NULL,
			tag_value TEXT NOT NULL,
			PRIMARY KEY (key_id, position)
		)`,
		// seq breaks ties between materials created in the same millisecond.
		`CREATE TABLE materials (
			key_id  TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
			id      TEXT NOT NULL,
			seq     INTEGER NOT NULL,
			sealed  BLOB NOT NULL,
			created BIGINT NOT NULL,
			PRIMARY KEY (key_id, id)
		)`,
		`CREATE TABLE aliases (
			account TEXT NOT NULL,
			region  TEXT NOT NULL,
			name    TEXT NOT NULL,
			key_id  TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			PRIMARY KEY (account, region, name)
		)`,
		`CREATE INDEX aliases_by_key ON aliases (key_id)`,
	},
	{ // version 2: IAM users, roles and inline policies
		// IAM names are unique case-insensitively. Each table keeps the name
		// as created and, in name_key, its store.NameKey, which carries the
		// uniqueness and the order. The key is computed in Go rather than
		// with LOWER() or COLLATE NOCASE so that every backend agrees on it.
		//
		// user_name is "" for root keys, which all existing keys are.
		`ALTER TABLE access_keys ADD COLUMN user_name TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE access_keys ADD COLUMN user_key TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX access_keys_by_user ON access_keys (account, user_key, created)`,
		`CREATE TABLE users (
			account  TEXT NOT NULL,
			name_key TEXT NOT NULL,
			name     TEXT NOT NULL,
			id       TEXT NOT NULL UNIQUE,
			path     TEXT NOT NULL,
			created  BIGINT NOT NULL,
			PRIMARY KEY (account, name_key)
		)`,
		`CREATE TABLE roles (
			account              TEXT NOT NULL,
			name_key             TEXT NOT NULL,
			name                 TEXT NOT NULL,
			id                   TEXT NOT NULL UNIQUE,
			path                 TEXT NOT NULL,
			assume_role_policy   TEXT NOT NULL,
			max_session_duration INTEGER NOT NULL,
			description          TEXT NOT NULL,
			created              BIGINT NOT NULL,
			PRIMARY KEY (account, name_key)
		)`,
		// owner_kind is "user" or "role"; owner is the owner's name as
		// created, copied so that reads need no join.
		`CREATE TABLE policies (
			account    TEXT NOT NULL,
			owner_kind TEXT NOT NULL,
			owner_key  TEXT NOT NULL,
			owner      TEXT NOT NULL,
			name_key   TEXT NOT NULL,
			name       TEXT NOT NULL,
			document   TEXT NOT NULL,
			PRIMARY KEY (account, owner_kind, owner_key, name_key)
		)`,
	},
	{ // version 3: grants
		// Grant ids are unique across keys. operations is a JSON array of
		// strings, in the caller's order. The constraint columns hold JSON
		// objects of strings; NULL means no constraint of that kind, which
		// differs from '{}'. retiring_principal is '' when not given.
		`CREATE TABLE grants (
			id                 TEXT PRIMARY KEY,
			key_id             TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
			name               TEXT NOT NULL,
			grantee_principal  TEXT NOT NULL,
			retiring_principal TEXT NOT NULL,
			issuing_account    TEXT NOT NULL,
			operations         TEXT NOT NULL,
			context_equals     TEXT,
			context_subset     TEXT,
			created            BIGINT NOT NULL
		)`,
		// Both lists are ordered by creation then id.
		`CREATE INDEX grants_by_key ON grants (key_id, created, id)`,
		`CREATE INDEX grants_by_retiring ON grants (retiring_principal, created, id)`,
	},
	{ // version 4: automatic rotation and imported material
		// Existing keys do not rotate and have no imported material;
		// existing materials are first materials (rotation_type '').
		// rotation_enabled is 0 or 1, like access_keys.active.
		`ALTER TABLE keys ADD COLUMN rotation_enabled INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE keys ADD COLUMN rotation_period_days INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE keys ADD COLUMN next_rotation_date BIGINT`,
		`ALTER TABLE keys ADD COLUMN expiration_model TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE keys ADD COLUMN valid_to BIGINT`,
		`ALTER TABLE materials ADD COLUMN rotation_type TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE materials ADD COLUMN rotation_date BIGINT`,
		// For the background scans of KeysDueForRotation and
		// KeysWithExpiredMaterial.
		`CREATE INDEX keys_by_rotation ON keys (state, next_rotation_date)`,
		`CREATE INDEX keys_by_expiry ON keys (expiration_model, valid_to)`,
	},
	{ // version 5: imported material pending an on-demand rotation
		// pending is 0 or 1; existing materials are all made current or
		// were current once.
		`ALTER TABLE materials ADD COLUMN pending INTEGER NOT NULL DEFAULT 0`,
	},
	{ // version 6: the key's revision, which UpdateKey compares and bumps
		`ALTER TABLE keys ADD COLUMN revision BIGINT NOT NULL DEFAULT 0`,
	},
	{ // version 7: multi-Region keys, and each imported material's expiry
		// primary_region is '' for single-Region keys (all existing ones);
		// pending_window_days is set only in PendingReplicaDeletion.
		`ALTER TABLE keys ADD COLUMN primary_region TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE keys ADD COLUMN pending_window_days INTEGER NOT NULL DEFAULT 0`,
		// Each imported material's own expiry and description; the key's
		// valid_to was its current material's until now.
		`ALTER TABLE materials ADD COLUMN valid_to BIGINT`,
		`ALTER TABLE materials ADD COLUMN description TEXT NOT NULL DEFAULT ''`,
		`UPDATE materials SET valid_to = (SELECT k.valid_to FROM keys k
			WHERE k.id = materials.key_id AND k.current_material = materials.id
			AND k.expiration_model = 'KEY_MATERIAL_EXPIRES')`,
	},
	{ // version 8: IAM customer managed policies and their attachments
		// Names are unique per account, in any case, like users' (name_key).
		// Versions are numbered (1 for v1); default_version is the one in
		// force, latest_version the highest ever given.
		`CREATE TABLE managed_policies (
			account         TEXT NOT NULL,
			name_key        TEXT NOT NULL,
			name            TEXT NOT NULL,
			id              TEXT NOT NULL UNIQUE,
			path            TEXT NOT NULL,
			description     TEXT NOT NULL,
			default_version INTEGER NOT NULL,
			latest_version  INTEGER NOT NULL,
			created         BIGINT NOT NULL,
			updated         BIGINT NOT NULL,
			PRIMARY KEY (account, name_key)
		)`,
		`CREATE TABLE policy_versions (
			account    TEXT NOT NULL,
			policy_key TEXT NOT NULL,
			number     INTEGER NOT NULL,
			document   TEXT NOT NULL,
			created    BIGINT NOT NULL,
			PRIMARY KEY (account, policy_key, number)
		)`,
		// owner_kind is "user" or "role"; owner is the owner's name as
		// created, copied so that reads need no join.
		`CREATE TABLE policy_attachments (
			account    TEXT NOT NULL,
			owner_kind TEXT NOT NULL,
			owner_key  TEXT NOT NULL,
			owner      TEXT NOT NULL,
			policy_key TEXT NOT NULL,
			PRIMARY KEY (account, owner_kind, owner_key, policy_key)
		)`,
		`CREATE INDEX policy_attachments_by_policy ON policy_attachments (account, policy_key)`,
	},
	{ // version 9: grants to AWS service principals
		// The grant's SourceArn constraint; '' (all existing grants) when
		// it has none. Service principals share the grantee and retiring
		// columns with ARNs (see store.Grant).
		`ALTER TABLE grants ADD COLUMN source_arn TEXT NOT NULL DEFAULT ''`,
	},
}

// migrate brings the schema up to the newest version in one transaction, so
// two processes opening a new file at once cannot both apply a migration.
func migrate(ctx context.Context, db *sql.DB) error {
	return migrateTo(ctx, db, len(migrations))
}

// migrateTo brings the schema up to version target; tests use it to build
// databases as older releases left them.
func migrateTo(ctx context.Context, db *sql.DB, target int) error {
	return Migrate(ctx, db, migrations, target)
}

// Migrate brings a SQLite database up to version target of migrations
// (migrations[i] takes the schema from version i to i+1), recording the
// version in a schema_version table, all in one transaction. It refuses a
// database newer than len(migrations). The audit log uses it for its own
// file too.
func Migrate(ctx context.Context, db *sql.DB, migrations [][]string, target int) error {
	return InTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRowContext(ctx,
			`SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this binary supports (%d)", v, len(migrations))
		}
		for ; v < target; v++ {
			for _, stmt := range migrations[v] {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration to version %d: %w", v+1, err)
				}
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
				return err
			}
		}
		return nil
	})
}
