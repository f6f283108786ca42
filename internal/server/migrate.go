package server

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/store"
	"github.com/openkms/kms/internal/store/postgres"
	"github.com/openkms/kms/internal/store/sqlite"
)

// A migration copies a data dir (the embedded store, its seal state and
// its audit trail) into an empty PostgreSQL database, which cluster nodes
// then open with the same root key or passphrase: the sealed material and
// secrets are copied as they are, so every ciphertext keeps decrypting.
//
// Rows are copied through the store.Store interface of both backends. It
// has no transaction spanning calls, so a migration that fails halfway
// leaves a partial copy: drop and recreate the database, then run the
// migration again (it refuses a database that is not empty). The audit
// trail is imported in one transaction of its own, first: its source is
// verified before anything is written.

// migratePage is the page size of the lists read from the source.
const migratePage = 500

// migrateWorkers copy keys (with their materials and grants) in parallel:
// each key costs a few round trips to the database.
const migrateWorkers = 4

// migratedTables are the store's tables, named alike in both backends'
// schemas, whose rows a migration copies and counts.
var migratedTables = []string{"accounts", "access_keys", "users", "roles", "policies",
	"managed_policies", "policy_versions", "policy_attachments",
	"keys", "key_tags", "materials", "aliases", "grants"}

// MigrateProgress is told how a migration advances: n of kind (a table's
// name, or "audit records") copied so far; final is set once kind is done.
type MigrateProgress func(kind string, n int, final bool)

// MigrateSummary is what a migration copied: rows per table of the store
// (as in migratedTables), and the audit import.
type MigrateSummary struct {
	Rows  map[string]int
	Audit audit.ImportSummary
}

// Migrate copies the data dir cfg.DataDir into the empty PostgreSQL
// database at cfg.Store. The data dir's seal must open with cfg's seal
// settings (SealKeyFile, Passphrase). It holds the data dir's lock
// throughout, so it refuses (*InUseError) while a server runs there and
// copies a data dir nothing changes meanwhile; it leaves the lock file as
// it was. It refuses, having written nothing (but the tables that opening
// the database creates), a target with a seal state, any row of the store
// or any audit record, and a source whose audit trail does not verify or
// has records not yet indexed.
//
// It copies, in this order: the audit trail (see audit.ImportToPostgres:
// new chains named "migrated from DIR@TIME/…", signed with the data dir's
// checkpoint key), seal.json's exact bytes as the seal state, users,
// roles, inline policies, managed policies with their versions and
// attachments, and access keys, keys with every material
// version, tags and grants, aliases, and last the accounts (whose row
// marks an account complete, as on a first start). It then compares the
// rows of every table in the source and the target.
func Migrate(ctx context.Context, cfg Config, progress MigrateProgress) (MigrateSummary, error) {
	sum := MigrateSummary{Rows: map[string]int{}}
	if progress == nil {
		progress = func(string, int, bool) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := CheckMigrateTarget(cfg.Store); err != nil {
		return sum, err
	}
	dir := cfg.DataDir
	if dir == "" {
		return sum, errors.New("no data dir given")
	}
	// Not even the lock file goes into a dir that is not a data dir.
	for _, name := range []string{sealFile, dbFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return sum, fmt.Errorf("data dir %s is not initialised (no %s): migrate a data dir a server has run on", dir, name)
		}
	}
	lock, err := lockDataDir(dir)
	if err != nil {
		return sum, err
	}
	defer lock.abandon() // a migration never owns the data dir
	sealer, src, _, err := openData(cfg, false)
	if err != nil {
		return sum, err
	}
	defer src.Close()
	sealData, err := os.ReadFile(filepath.Join(dir, sealFile))
	if err != nil {
		return sum, err
	}
	scope, srcRows, err := readSourceScope(ctx, filepath.Join(dir, dbFile))
	if err != nil {
		return sum, fmt.Errorf("source store: %w", err)
	}

	openCtx, cancel := context.WithTimeout(ctx, clusterOpenTimeout)
	defer cancel()
	dst, err := postgres.Open(openCtx, cfg.Store)
	if err != nil {
		return sum, fmt.Errorf("target database: %w", err)
	}
	defer dst.Close()
	if err := checkTargetEmpty(openCtx, dst, cfg.Store); err != nil {
		return sum, err
	}

	abs, err := filepath.Abs(dir)
	if err != nil {
		return sum, err
	}
	signer := AuditSigner(sealer)
	defer clear(signer)
	sum.Audit, err = audit.ImportToPostgres(ctx, audit.ImportConfig{
		Source:   AuditPath(dir),
		DSN:      cfg.Store,
		Signer:   signer,
		Node:     "migrated from " + strings.ToValidUTF8(abs, "?"),
		Now:      cfg.Now,
		Progress: func(n int) { progress("audit records", n, false) },
	})
	if err != nil {
		return sum, err
	}
	progress("audit records", sum.Audit.Records, true)

	// The same bytes, so that the same root key or passphrase opens it.
	stored, err := dst.CreateSealState(ctx, sealData)
	if err != nil {
		return sum, fmt.Errorf("target database: %w: %s", err, redoAdvice)
	}
	if !bytes.Equal(stored, sealData) {
		return sum, errors.New("target database: another seal state was stored meanwhile (did a node start on it?): " + redoAdvice)
	}
	c := &storeCopy{src: src, dst: dst, rows: sum.Rows, progress: progress}
	if err := c.run(ctx, scope); err != nil {
		return sum, fmt.Errorf("%w: %s", err, redoAdvice)
	}
	dstRows, err := countTargetRows(ctx, cfg.Store)
	if err != nil {
		return sum, err
	}
	for _, t := range migratedTables {
		if srcRows[t] != sum.Rows[t] || dstRows[t] != sum.Rows[t] {
			return sum, fmt.Errorf("%s: the source has %d rows, %d were copied and the target has %d: %s",
				t, srcRows[t], sum.Rows[t], dstRows[t], redoAdvice)
		}
	}
	return sum, nil
}

// redoAdvice is what to do after a migration failed halfway.
const redoAdvice = "drop and recreate the database, then run migrate again"

// CheckMigrateTarget refuses a target that is not a PostgreSQL URL pgx
// accepts, without connecting.
func CheckMigrateTarget(dsn string) error {
	if dsn == "" {
		return errors.New("no target database given (a postgres:// URL)")
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return errors.New("the target must be a postgres:// URL")
	}
	if _, err := pgxpool.ParseConfig(dsn); err != nil {
		return fmt.Errorf("target URL: %w", err) // pgconn leaves the password out
	}
	return nil
}

// RedactedURL is dsn with its password, if any, replaced by "xxxxx", for
// messages.
func RedactedURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// checkTargetEmpty refuses a database with a seal state, a row in any of
// the store's tables, or an audit trail with anything in it.
func checkTargetEmpty(ctx context.Context, dst *postgres.Store, dsn string) error {
	const notEmpty = "target database is not empty (it has %s): migrate only into a new database"
	switch _, err := dst.LoadSealState(ctx); {
	case err == nil:
		return fmt.Errorf(notEmpty, "a seal state")
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("target database: %w", err)
	}
	rows, err := countTargetRows(ctx, dsn)
	if err != nil {
		return err
	}
	for _, t := range migratedTables {
		if rows[t] > 0 {
			return fmt.Errorf(notEmpty, fmt.Sprintf("%d rows in %s", rows[t], t))
		}
	}
	empty, err := audit.PostgresTrailEmpty(ctx, dsn)
	if err != nil {
		return fmt.Errorf("target database: %w", err)
	}
	if !empty {
		return fmt.Errorf(notEmpty, "an audit trail")
	}
	return nil
}

// countTargetRows counts the rows of migratedTables in the PostgreSQL
// store at dsn, whose schema postgres.Open made.
func countTargetRows(ctx context.Context, dsn string) (map[string]int, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("target database: %w", err) // pgconn redacts the password
	}
	defer conn.Close(context.Background())
	rows := map[string]int{}
	for _, t := range migratedTables {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("target database: counting %s: %w", t, err)
		}
		rows[t] = n
	}
	return rows, nil
}

// sourceScope is what the Store interface cannot list by itself: every
// account that owns something, and every (account, region) with keys or
// aliases (ListKeys and ListAliases take both).
type sourceScope struct {
	accounts []string
	regions  [][2]string
}

// readSourceScope reads the scope and the rows per table of the SQLite
// store at path, read-only. The caller holds the data dir's lock, so
// nothing changes them meanwhile.
func readSourceScope(ctx context.Context, path string) (sourceScope, map[string]int, error) {
	var scope sourceScope
	abs, err := filepath.Abs(path)
	if err != nil {
		return scope, nil, err
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		return scope, nil, err
	}
	defer db.Close()
	rows := map[string]int{}
	for _, t := range migratedTables {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return scope, nil, fmt.Errorf("counting %s: %w", t, err)
		}
		rows[t] = n
	}
	// Root keys are written before their account's row, and users, roles
	// and keys need none: list whatever account owns something.
	scope.accounts, err = sqlite.Column[string](ctx, db, `SELECT id FROM accounts UNION SELECT account FROM access_keys
		UNION SELECT account FROM users UNION SELECT account FROM roles UNION SELECT account FROM policies
		UNION SELECT account FROM managed_policies
		UNION SELECT account FROM keys UNION SELECT account FROM aliases ORDER BY 1`)
	if err != nil {
		return scope, nil, err
	}
	r, err := db.QueryContext(ctx, `SELECT account, region FROM keys UNION SELECT account, region FROM aliases ORDER BY 1, 2`)
	if err != nil {
		return scope, nil, err
	}
	defer r.Close()
	for r.Next() {
		var p [2]string
		if err := r.Scan(&p[0], &p[1]); err != nil {
			return scope, nil, err
		}
		scope.regions = append(scope.regions, p)
	}
	return scope, rows, r.Err()
}

// storeCopy copies the rows of one store into another through the Store
// interface.
type storeCopy struct {
	src, dst store.Store
	progress MigrateProgress

	mu   sync.Mutex // guards rows, and progress while keys are copied
	rows map[string]int
}

// add counts n rows of table copied.
func (c *storeCopy) add(table string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows[table] += n
}

func (c *storeCopy) done(table string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.progress(table, c.rows[table], true)
}

func (c *storeCopy) run(ctx context.Context, scope sourceScope) error {
	if err := c.identities(ctx, scope.accounts); err != nil {
		return err
	}
	if err := c.keys(ctx, scope.regions); err != nil {
		return err
	}
	if err := c.aliases(ctx, scope.regions); err != nil {
		return err
	}
	accounts, err := c.src.ListAccounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		if err := c.dst.CreateAccount(ctx, a); err != nil {
			return fmt.Errorf("account %s: %w", a.ID, err)
		}
	}
	c.add("accounts", len(accounts))
	c.done("accounts")
	return nil
}

// owner is a user or role, whose policies are copied.
type owner struct {
	kind store.OwnerKind
	name string
}

// identities copies the users, roles, inline policies, managed policies
// and access keys of each account: owners before what needs them.
func (c *storeCopy) identities(ctx context.Context, accounts []string) error {
	for _, acct := range accounts {
		var users []store.User
		for after := ""; ; {
			page, err := c.src.ListUsers(ctx, acct, after, migratePage)
			if err != nil {
				return err
			}
			for _, u := range page {
				if err := c.dst.CreateUser(ctx, u); err != nil {
					return fmt.Errorf("user %s of account %s: %w", u.Name, acct, err)
				}
			}
			users = append(users, page...)
			if len(page) < migratePage {
				break
			}
			after = page[len(page)-1].Name
		}
		c.add("users", len(users))
		var roles []store.Role
		for after := ""; ; {
			page, err := c.src.ListRoles(ctx, acct, after, migratePage)
			if err != nil {
				return err
			}
			for _, r := range page {
				if err := c.dst.CreateRole(ctx, r); err != nil {
					return fmt.Errorf("role %s of account %s: %w", r.Name, acct, err)
				}
			}
			roles = append(roles, page...)
			if len(page) < migratePage {
				break
			}
			after = page[len(page)-1].Name
		}
		c.add("roles", len(roles))

		var owners []owner
		for _, u := range users {
			owners = append(owners, owner{store.OwnerUser, u.Name})
		}
		for _, r := range roles {
			owners = append(owners, owner{store.OwnerRole, r.Name})
		}
		for _, o := range owners {
			ps, err := c.src.ListPolicies(ctx, acct, o.kind, o.name)
			if err != nil {
				return err
			}
			for _, p := range ps {
				if err := c.dst.PutPolicy(ctx, p); err != nil {
					return fmt.Errorf("policy %s of %s %s: %w", p.Name, o.kind, o.name, err)
				}
			}
			c.add("policies", len(ps))
		}

		if err := c.managedPolicies(ctx, acct, owners); err != nil {
			return err
		}

		// The account root's keys (""), then each user's.
		holders := []string{""}
		for _, u := range users {
			holders = append(holders, u.Name)
		}
		for _, h := range holders {
			ks, err := c.src.ListAccessKeys(ctx, acct, h)
			if err != nil {
				return err
			}
			for _, k := range ks {
				if err := c.dst.PutAccessKey(ctx, k); err != nil {
					return fmt.Errorf("access key %s: %w", k.ID, err)
				}
			}
			c.add("access_keys", len(ks))
		}
	}
	for _, t := range []string{"users", "roles", "policies", "managed_policies", "policy_versions",
		"policy_attachments", "access_keys"} {
		c.done(t)
	}
	return nil
}

// managedPolicies copies the managed policies of an account with their
// versions as they are (numbers, default), then their attachments to
// owners, which are copied already.
func (c *storeCopy) managedPolicies(ctx context.Context, acct string, owners []owner) error {
	for after := ""; ; {
		page, err := c.src.ListManagedPolicies(ctx, acct, after, migratePage)
		if err != nil {
			return err
		}
		for _, p := range page {
			vs, err := c.src.ListPolicyVersions(ctx, acct, p.Name)
			if err != nil {
				return err
			}
			if err := c.dst.CreateManagedPolicy(ctx, p, vs); err != nil {
				return fmt.Errorf("managed policy %s of account %s: %w", p.Name, acct, err)
			}
			c.add("policy_versions", len(vs))
		}
		c.add("managed_policies", len(page))
		if len(page) < migratePage {
			break
		}
		after = page[len(page)-1].Name
	}
	for _, o := range owners {
		as, err := c.src.ListAttachedPolicies(ctx, acct, o.kind, o.name)
		if err != nil {
			return err
		}
		for _, a := range as {
			if err := c.dst.AttachPolicy(ctx, acct, o.kind, o.name, a.Policy.Name); err != nil {
				return fmt.Errorf("managed policy %s attached to %s %s: %w", a.Policy.Name, o.kind, o.name, err)
			}
		}
		c.add("policy_attachments", len(as))
	}
	return nil
}

// keys copies every key of every (account, region), each with its
// materials and grants, migrateWorkers at a time.
func (c *storeCopy) keys(ctx context.Context, regions [][2]string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan kms.Key)
	var copied atomic.Int64
	var wg sync.WaitGroup
	for range migrateWorkers {
		wg.Go(func() {
			for k := range work {
				if err := c.key(ctx, k); err != nil {
					cancel(fmt.Errorf("key %s: %w", k.ID, err))
					return
				}
				if n := copied.Add(1); n%1000 == 0 {
					c.mu.Lock()
					c.progress("keys", int(n), false)
					c.mu.Unlock()
				}
			}
		})
	}
	err := func() error {
		defer close(work)
		for _, r := range regions {
			for after := ""; ; {
				page, err := c.src.ListKeys(ctx, store.KeyFilter{Account: r[0], Region: r[1], After: after, Limit: migratePage})
				if err != nil {
					return err
				}
				for _, k := range page {
					select {
					case work <- k:
					case <-ctx.Done():
						return context.Cause(ctx)
					}
				}
				if len(page) < migratePage {
					break
				}
				after = page[len(page)-1].ID
			}
		}
		return nil
	}()
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil {
		return cause // a worker's error, or the caller's cancellation
	}
	if err != nil {
		return err
	}
	for _, t := range []string{"keys", "key_tags", "materials", "grants"} {
		c.done(t)
	}
	return nil
}

// key copies one key: CreateKey with its oldest material, which stores the
// key's fields as they are (current material, state, deletion date,
// rotation and expiry settings, tags, policy), then its later materials in
// order (rotations, pending imports), which keeps ListMaterials' order;
// then its grants.
func (c *storeCopy) key(ctx context.Context, k kms.Key) error {
	ms, err := c.src.ListMaterials(ctx, k.ID)
	if err != nil {
		return err
	}
	var first *store.Material
	if len(ms) > 0 {
		first = &ms[0]
	}
	if err := c.dst.CreateKey(ctx, k, first); err != nil {
		return err
	}
	for _, m := range ms[min(1, len(ms)):] {
		if err := c.dst.AddMaterial(ctx, m); err != nil {
			return fmt.Errorf("material %s: %w", m.ID, err)
		}
	}
	grants := 0
	for after := ""; ; {
		page, err := c.src.ListGrants(ctx, store.GrantFilter{KeyID: k.ID, After: after, Limit: migratePage})
		if err != nil {
			return err
		}
		for _, g := range page {
			if err := c.dst.CreateGrant(ctx, g); err != nil {
				return fmt.Errorf("grant %s: %w", g.ID, err)
			}
		}
		grants += len(page)
		if len(page) < migratePage {
			break
		}
		after = page[len(page)-1].ID
	}
	c.add("keys", 1)
	c.add("key_tags", len(k.Tags))
	c.add("materials", len(ms))
	c.add("grants", grants)
	return nil
}

// aliases copies the aliases of every (account, region).
func (c *storeCopy) aliases(ctx context.Context, regions [][2]string) error {
	for _, r := range regions {
		for after := ""; ; {
			page, err := c.src.ListAliases(ctx, store.AliasFilter{Account: r[0], Region: r[1], After: after, Limit: migratePage})
			if err != nil {
				return err
			}
			for _, a := range page {
				if err := c.dst.CreateAlias(ctx, a); err != nil {
					return fmt.Errorf("alias %s: %w", a.Name, err)
				}
			}
			c.add("aliases", len(page))
			if len(page) < migratePage {
				break
			}
			after = page[len(page)-1].Name
		}
	}
	c.done("aliases")
	return nil
}
