package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationLock is the key of the transaction-scoped advisory lock that
// serializes migrations between nodes opening the same database at once
// ("okms" in ASCII). Advisory locks are per database, so databases on one
// server do not wait for each other.
const migrationLock = 0x6f6b6d73

// migrations[i] takes the schema from version i to version i+1. Append only:
// a shipped migration is never edited, so every database can be upgraded.
//
// Version 1 is the SQLite backend's schema at its version 5, in PostgreSQL's
// types: BIGINT Unix milliseconds (UTC; NULL for the zero time), BYTEA for
// sealed blobs, BOOLEAN for flags.
//
// Every TEXT column is COLLATE "C": lists are ordered, and paged with >, in
// byte order as in SQLite, whatever collation the database was created with
// (en_US.UTF-8 would sort "alias/B" after "alias/a" and ignore punctuation).
// The key's description and policy and its tag keys and values are BYTEA,
// not TEXT: they are free-form caller strings that may hold NUL bytes (JSON's
// \u0000), which a PostgreSQL TEXT value cannot, and SQLite keeps them as given.
//
// The foreign keys to keys(id) cascade, and PostgreSQL always enforces them,
// so DeleteKey is one DELETE. Every referencing column leads an index, which
// the cascade needs.
var migrations = [][]string{
	{ // version 1
		`CREATE TABLE accounts (
			id      TEXT COLLATE "C" PRIMARY KEY,
			created BIGINT NOT NULL
		)`,
		// user_name is '' for root keys; user_key is its store.NameKey.
		`CREATE TABLE access_keys (
			id            TEXT COLLATE "C" PRIMARY KEY,
			account       TEXT COLLATE "C" NOT NULL,
			principal_arn TEXT COLLATE "C" NOT NULL,
			sealed_secret BYTEA NOT NULL,
			active        BOOLEAN NOT NULL,
			created       BIGINT NOT NULL,
			user_name     TEXT COLLATE "C" NOT NULL,
			user_key      TEXT COLLATE "C" NOT NULL
		)`,
		`CREATE INDEX access_keys_by_user ON access_keys (account, user_key, created, id)`,
		// IAM names are unique case-insensitively: name_key holds the
		// store.NameKey, computed in Go, and carries uniqueness and order.
		`CREATE TABLE users (
			account  TEXT COLLATE "C" NOT NULL,
			name_key TEXT COLLATE "C" NOT NULL,
			name     TEXT COLLATE "C" NOT NULL,
			id       TEXT COLLATE "C" NOT NULL UNIQUE,
			path     TEXT COLLATE "C" NOT NULL,
			created  BIGINT NOT NULL,
			PRIMARY KEY (account, name_key)
		)`,
		`CREATE TABLE roles (
			account              TEXT COLLATE "C" NOT NULL,
			name_key             TEXT COLLATE "C" NOT NULL,
			name                 TEXT COLLATE "C" NOT NULL,
			id                   TEXT COLLATE "C" NOT NULL UNIQUE,
			path                 TEXT COLLATE "C" NOT NULL,
			assume_role_policy   TEXT COLLATE "C" NOT NULL,
			max_session_duration INTEGER NOT NULL,
			description          TEXT COLLATE "C" NOT NULL,
			created              BIGINT NOT NULL,
			PRIMARY KEY (account, name_key)
		)`,
		// owner_kind is 'user' or 'role'; owner is the owner's name as
		// created, copied so that reads need no join.
		`CREATE TABLE policies (
			account    TEXT COLLATE "C" NOT NULL,
			owner_kind TEXT COLLATE "C" NOT NULL,
			owner_key  TEXT COLLATE "C" NOT NULL,
			owner      TEXT COLLATE "C" NOT NULL,
			name_key   TEXT COLLATE "C" NOT NULL,
			name       TEXT COLLATE "C" NOT NULL,
			document   TEXT COLLATE "C" NOT NULL,
			PRIMARY KEY (account, owner_kind, owner_key, name_key)
		)`,
		`CREATE TABLE keys (
			id                   TEXT COLLATE "C" PRIMARY KEY,
			account              TEXT COLLATE "C" NOT NULL,
			region               TEXT COLLATE "C" NOT NULL,
			description          BYTEA NOT NULL,
			key_spec             TEXT COLLATE "C" NOT NULL,
			key_usage            TEXT COLLATE "C" NOT NULL,
			origin               TEXT COLLATE "C" NOT NULL,
			manager              TEXT COLLATE "C" NOT NULL,
			state                TEXT COLLATE "C" NOT NULL,
			created              BIGINT NOT NULL,
			deletion_date        BIGINT,
			policy               BYTEA NOT NULL,
			current_material     TEXT COLLATE "C" NOT NULL,
			rotation_enabled     BOOLEAN NOT NULL,
			rotation_period_days INTEGER NOT NULL,
			next_rotation_date   BIGINT,
			expiration_model     TEXT COLLATE "C" NOT NULL,
			valid_to             BIGINT
		)`,
		`CREATE INDEX keys_by_account ON keys (account, region, id)`,
		// For the background scans of KeysPendingDeletion,
		// KeysDueForRotation and KeysWithExpiredMaterial.
		`CREATE INDEX keys_by_deletion ON keys (state, deletion_date)`,
		`CREATE INDEX keys_by_rotation ON keys (state, next_rotation_date)`,
		`CREATE INDEX keys_by_expiry ON keys (expiration_model, valid_to)`,
		// position keeps tags in the order the caller gave them.
		`CREATE TABLE key_tags (
			key_id    TEXT COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
			position  INTEGER NOT NULL,
			tag_key   BYTEA NOT NULL,
			tag_value BYTEA NOT NULL,
			PRIMARY KEY (key_id, position)
		)`,
		// seq breaks ties between materials created in the same millisecond;
		// it is numbered per key under the key's row lock.
		`CREATE TABLE materials (
			key_id        TEXT COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
			id            TEXT COLLATE "C" NOT NULL,
			seq           INTEGER NOT NULL,
			sealed        BYTEA NOT NULL,
			created       BIGINT NOT NULL,
			rotation_type TEXT COLLATE "C" NOT NULL,
			rotation_date BIGINT,
			pending       BOOLEAN NOT NULL,
			PRIMARY KEY (key_id, id)
		)`,
		`CREATE TABLE aliases (
			account TEXT COLLATE "C" NOT NULL,
			region  TEXT COLLATE "C" NOT NULL,
			name    TEXT COLLATE "C" NOT NULL,
			key_id  TEXT COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			PRIMARY KEY (account, region, name)
		)`,
		`CREATE INDEX aliases_by_key ON aliases (key_id)`,
		// Grant ids are unique across keys. operations is a JSON array of
		// strings, in the caller's order; the constraint columns hold JSON
		// objects of strings, NULL meaning no constraint of that kind (which
		// differs from '{}'). TEXT rather than JSONB keeps the text as
		// written. retiring_principal is '' when not given.
		`CREATE TABLE grants (
			id                 TEXT COLLATE "C" PRIMARY KEY,
			key_id             TEXT COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
			name               TEXT COLLATE "C" NOT NULL,
			grantee_principal  TEXT COLLATE "C" NOT NULL,
			retiring_principal TEXT COLLATE "C" NOT NULL,
			issuing_account    TEXT COLLATE "C" NOT NULL,
			operations         TEXT COLLATE "C" NOT NULL,
			context_equals     TEXT COLLATE "C",
			context_subset     TEXT COLLATE "C",
			created            BIGINT NOT NULL
		)`,
		// Both lists are ordered by creation then id.
		`CREATE INDEX grants_by_key ON grants (key_id, created, id)`,
		`CREATE INDEX grants_by_retiring ON grants (retiring_principal, created, id)`,
	},
	{ // version 2
		// The seal's state (seal.json's content in a data dir): one row,
		// so that every node of a cluster opens the same seal or none.
		`CREATE TABLE seal_state (
			id   INTEGER PRIMARY KEY CHECK (id = 1),
			data BYTEA NOT NULL
		)`,
		// Every change to a row that a node caches is announced on the
		// channel kms_changes when its transaction commits: "key ID" for a
		// key and its tags, materials and grants, "alias ID" for an alias
		// of key ID, "identity" for accounts, access keys, users, roles and
		// policies. Triggers, so that no write can forget it; PostgreSQL
		// drops a transaction's duplicate notifications and delivers them
		// in commit order (see feed.go).
		`CREATE FUNCTION kms_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP <> 'INSERT' THEN
				PERFORM pg_notify('kms_changes', TG_ARGV[0] || ' ' || COALESCE(to_jsonb(OLD) ->> TG_ARGV[1], ''));
			END IF;
			IF TG_OP <> 'DELETE' THEN
				PERFORM pg_notify('kms_changes', TG_ARGV[0] || ' ' || COALESCE(to_jsonb(NEW) ->> TG_ARGV[1], ''));
			END IF;
			RETURN NULL;
		END
		$$`,
		`CREATE TRIGGER keys_changed AFTER INSERT OR UPDATE OR DELETE ON keys
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('key', 'id')`,
		`CREATE TRIGGER key_tags_changed AFTER INSERT OR UPDATE OR DELETE ON key_tags
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('key', 'key_id')`,
		`CREATE TRIGGER materials_changed AFTER INSERT OR UPDATE OR DELETE ON materials
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('key', 'key_id')`,
		`CREATE TRIGGER grants_changed AFTER INSERT OR UPDATE OR DELETE ON grants
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('key', 'key_id')`,
		`CREATE TRIGGER aliases_changed AFTER INSERT OR UPDATE OR DELETE ON aliases
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('alias', 'key_id')`,
		`CREATE TRIGGER accounts_changed AFTER INSERT OR UPDATE OR DELETE ON accounts
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('identity', '')`,
		`CREATE TRIGGER access_keys_changed AFTER INSERT OR UPDATE OR DELETE ON access_keys
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('identity', '')`,
		`CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('identity', '')`,
		`CREATE TRIGGER roles_changed AFTER INSERT OR UPDATE OR DELETE ON roles
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('identity', '')`,
		`CREATE TRIGGER policies_changed AFTER INSERT OR UPDATE OR DELETE ON policies
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('identity', '')`,
	},
	{ // version 3: the key's revision, which UpdateKey compares and bumps
		`ALTER TABLE keys ADD COLUMN revision BIGINT NOT NULL DEFAULT 0`,
	},
	{ // version 4: multi-Region keys, and each imported material's expiry (the SQLite backend's version 7)
		`ALTER TABLE keys ADD COLUMN primary_region TEXT COLLATE "C" NOT NULL DEFAULT ''`,
		`ALTER TABLE keys ADD COLUMN pending_window_days INTEGER NOT NULL DEFAULT 0`,
		// Each imported material's own expiry and description (BYTEA, as
		// a key's description: it may hold any character).
		`ALTER TABLE materials ADD COLUMN valid_to BIGINT`,
		`ALTER TABLE materials ADD COLUMN description BYTEA NOT NULL DEFAULT ''`,
		`UPDATE materials m SET valid_to = k.valid_to FROM keys k
			WHERE k.id = m.key_id AND k.current_material = m.id AND k.expiration_model = 'KEY_MATERIAL_EXPIRES'`,
	},
	{ // version 5: IAM customer managed policies and their attachments
		// As in the SQLite backend's version 8. Names are unique per
		// account, in any case (name_key). Versions are numbered (1 for
		// v1); default_version is the one in force, latest_version the
		// highest ever given. owner is the user's or role's name as created.
		`CREATE TABLE managed_policies (
			account         TEXT COLLATE "C" NOT NULL,
			name_key        TEXT COLLATE "C" NOT NULL,
			name            TEXT COLLATE "C" NOT NULL,
			id              TEXT COLLATE "C" NOT NULL UNIQUE,
			path            TEXT COLLATE "C" NOT NULL,
			description     TEXT COLLATE "C" NOT NULL,
			default_version INTEGER NOT NULL,
			latest_version  INTEGER NOT NULL,
			created         BIGINT NOT NULL,
			updated         BIGINT NOT NULL,
			PRIMARY KEY (account, name_key)
		)`,
		`CREATE TABLE policy_versions (
			account    TEXT COLLATE "C" NOT NULL,
			policy_key TEXT COLLATE "C" NOT NULL,
			number     INTEGER NOT NULL,
			document   TEXT COLLATE "C" NOT NULL,
			created    BIGINT NOT NULL,
			PRIMARY KEY (account, policy_key, number)
		)`,
		`CREATE TABLE policy_attachments (
			account    TEXT COLLATE "C" NOT NULL,
			owner_kind TEXT COLLATE "C" NOT NULL,
			owner_key  TEXT COLLATE "C" NOT NULL,
			owner      TEXT COLLATE "C" NOT NULL,
			policy_key TEXT COLLATE "C" NOT NULL,
			PRIMARY KEY (account, owner_kind, owner_key, policy_key)
		)`,
		`CREATE INDEX policy_attachments_by_policy ON policy_attachments (account, policy_key)`,
		// Nodes cache the policies of users and roles: announce changes.
		`CREATE TRIGGER managed_policies_changed AFTER INSERT OR UPDATE OR DELETE ON managed_policies
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('identity', '')`,
		`CREATE TRIGGER policy_versions_changed AFTER INSERT OR UPDATE OR DELETE ON policy_versions
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('identity', '')`,
		`CREATE TRIGGER policy_attachments_changed AFTER INSERT OR UPDATE OR DELETE ON policy_attachments
			FOR EACH ROW EXECUTE FUNCTION kms_notify_change('identity', '')`,
	},
	{ // version 6: grants to AWS service principals (the SQLite backend's version 9)
		// The grant's SourceArn constraint; '' when it has none. The
		// grants_changed trigger already announces changes to the row.
		`ALTER TABLE grants ADD COLUMN source_arn TEXT COLLATE "C" NOT NULL DEFAULT ''`,
	},
}

// migrate brings the schema up to version target of migrations, recording
// the version in a schema_version table, all in one transaction: a failed
// migration leaves the database as it was. The transaction first takes an
// advisory lock, so nodes opening a database at once queue there, and each
// reads the version only once it holds the lock: the first migrates, the
// others find nothing left to do. It refuses a database newer than
// len(migrations).
func migrate(ctx context.Context, pool *pgxpool.Pool, migrations [][]string, target int) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		// Created only when missing: CREATE TABLE IF NOT EXISTS would need
		// the CREATE privilege even on a database that is up to date.
		var have bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&have); err != nil {
			return err
		}
		if !have {
			if _, err := tx.Exec(ctx, `CREATE TABLE schema_version (version INTEGER PRIMARY KEY)`); err != nil {
				return err
			}
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this binary supports (%d)", v, len(migrations))
		}
		for ; v < target; v++ {
			for _, stmt := range migrations[v] {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration to version %d: %w", v+1, err)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, v+1); err != nil {
				return err
			}
		}
		return nil
	})
}
