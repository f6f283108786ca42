package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/pgtest"
	"github.com/openkms/kms/internal/store"
	"github.com/openkms/kms/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a store on dsn, closed when t ends.
func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.DSN(t)) })
}

// connect opens a plain connection to dsn, closed when t ends.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) }) // t.Context() is done by now
	return c
}

// versions returns the rows of schema_version, in order.
func versions(t *testing.T, dsn string) []int {
	t.Helper()
	rows, _ := connect(t, dsn).Query(t.Context(), `SELECT version FROM schema_version ORDER BY version`)
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// allVersions is what schema_version holds once every migration ran once.
func allVersions() []int {
	var vs []int
	for v := range len(migrations) {
		vs = append(vs, v+1)
	}
	return vs
}

func testKey(id string) kms.Key {
	return kms.Key{
		ID: id, Account: "111122223333", Region: "us-east-1",
		Spec: kms.KeySpecSymmetricDefault, Usage: kms.KeyUsageEncryptDecrypt,
		Origin: kms.OriginAWSKMS, Manager: kms.KeyManagerCustomer, State: kms.KeyStateEnabled,
		CreationDate:      time.UnixMilli(1700000000123).UTC(),
		Policy:            `{"Version":"2012-10-17","Statement":[]}`,
		CurrentMaterialID: "01",
		Tags:              []kms.Tag{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}},
	}
}

func testMaterial(keyID, id string, created time.Time) store.Material {
	return store.Material{KeyID: keyID, ID: id, Sealed: []byte("sealed\x00\xff" + id), Created: created}
}

// TestReopen: data survives a reopen, which finds the schema up to date and
// runs no migration again.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	k := testKey("1234abcd-12ab-34cd-56ef-1234567890ab")
	m := testMaterial(k.ID, k.CurrentMaterialID, k.CreationDate)

	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.CreateKey(ctx, k, &m); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if err := s.CreateUser(ctx, store.User{Account: k.Account, Name: "Alice", ID: "AIDA1", Created: k.CreationDate}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	s.Close()

	for range 2 {
		s := open(t, dsn)
		got, err := s.GetKeyForUse(ctx, k.ID)
		if err != nil {
			t.Fatalf("GetKeyForUse after reopen: %v", err)
		}
		if got.Key.Description != k.Description || !slices.Equal(got.Key.Tags, k.Tags) ||
			!got.Key.CreationDate.Equal(k.CreationDate) || got.Current == nil ||
			string(got.Current.Sealed) != string(m.Sealed) {
			t.Errorf("after reopen: %+v, want key %+v with material %x", got, k, m.Sealed)
		}
		if u, err := s.GetUser(ctx, k.Account, "alice"); err != nil || u.Name != "Alice" {
			t.Errorf("GetUser after reopen = %+v, %v", u, err)
		}
		if got := versions(t, dsn); !slices.Equal(got, allVersions()) {
			t.Errorf("schema_version after reopen = %v, want %v", got, allVersions())
		}
	}
}

// TestConcurrentOpen: nodes opening one fresh database at once all succeed,
// and the schema is made once.
func TestConcurrentOpen(t *testing.T) {
	const nodes = 6
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	stores := make([]*Store, nodes)
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		stores[i].Close()
	}
	if got := versions(t, dsn); !slices.Equal(got, allVersions()) {
		t.Errorf("schema_version = %v, want %v", got, allVersions())
	}
}

func TestNewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_version (version) VALUES ($1)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(t.Context(), dsn)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a schema newer than it knows")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v", err)
	}
}

// TestMigrationIsAtomic: a migration that fails part way leaves the
// database as it was, so that a fixed binary can try again.
func TestMigrationIsAtomic(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	s := open(t, dsn) // at the current version
	n := len(migrations)
	broken := append(slices.Clone(migrations), []string{
		`CREATE TABLE extra (x INTEGER)`,
		`ALTER TABLE keys ADD COLUMN extra INTEGER`,
		`CREATE TABLE keys (x INTEGER)`, // fails: exists
	})
	if err := migrate(ctx, s.pool, broken, n+1); err == nil {
		t.Fatal("a failing migration succeeded")
	}
	if got := versions(t, dsn); !slices.Equal(got, allVersions()) {
		t.Errorf("schema_version after a failed migration = %v, want %v", got, allVersions())
	}
	c := connect(t, dsn)
	if _, err := c.Exec(ctx, `SELECT 1 FROM extra`); err == nil {
		t.Error("the failed migration left table extra behind")
	}
	if _, err := c.Exec(ctx, `SELECT extra FROM keys`); err == nil {
		t.Error("the failed migration left keys.extra behind")
	}
	// A good one then applies, once.
	fixed := append(slices.Clone(migrations), []string{`CREATE TABLE extra (x INTEGER)`})
	for range 2 {
		if err := migrate(ctx, s.pool, fixed, n+1); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	if got := versions(t, dsn); !slices.Equal(got, append(allVersions(), n+1)) {
		t.Errorf("schema_version = %v, want %v", got, append(allVersions(), n+1))
	}
}

// shippedMigrations pins the SHA-256 of every migration's statements. A
// shipped migration must never change: databases already past it would not
// get the change, and new ones would differ from them.
var shippedMigrations = []string{
	"1b32189177e4bb911d8a0297c9a73d9d4232050bcd59c681c9522b0ec87b0219",
	"3a3802b0b27de01a1998a5a8d29bd6e45729641faec708fae834fd7ff8e558ca",
	"080384825db273d3427b4e2dfcd06d4b58418cbed10fa19f2ed6fef2b012e57e",
	"f4e0b4527936def9139df47916abd85ab6ceddf58601b3a4a198f3033c74d705",
	"b7812999cfc18b9aa276c81afb9d6ac3d896984d47d2049d3bec2e2d4441c521",
	"b8407d90347cccc55714f024f4a9e7575d43b7a873d8b9b3911d0b7153a66628",
}

func TestMigrationsFrozen(t *testing.T) {
	if len(shippedMigrations) != len(migrations) {
		t.Errorf("%d migrations, %d pinned: pin the new one here", len(migrations), len(shippedMigrations))
	}
	for i, m := range migrations[:min(len(migrations), len(shippedMigrations))] {
		sum := sha256.Sum256([]byte(strings.Join(m, "\x00")))
		if got := hex.EncodeToString(sum[:]); got != shippedMigrations[i] {
			t.Errorf("migration to version %d changed (sha256 %s): append a new migration instead; "+
				"only if this one never shipped, update its hash", i+1, got)
		}
	}
}

// TestSynchronousCommitOff: a connection that would acknowledge commits
// before they are durable is refused.
func TestSynchronousCommitOff(t *testing.T) {
	dsn := pgtest.DSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s, err := Open(t.Context(), dsn+sep+"options="+url.QueryEscape("-c synchronous_commit=off"))
	if err == nil {
		s.Close()
		t.Fatal("Open accepted synchronous_commit=off")
	}
	if !strings.Contains(err.Error(), "synchronous_commit") {
		t.Errorf("Open with synchronous_commit=off: %v", err)
	}
}

// TestTextColumnsCollateC: every text column compares in byte order,
// whatever the database's default collation, as SQLite's do.
func TestTextColumnsCollateC(t *testing.T) {
	dsn := pgtest.DSN(t)
	open(t, dsn)
	rows, _ := connect(t, dsn).Query(t.Context(), `SELECT table_name || '.' || column_name
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type = 'text'
		AND collation_name IS DISTINCT FROM 'C'`)
	bad, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 0 {
		t.Errorf("text columns without COLLATE \"C\": %v", bad)
	}
}

// linguisticDSN creates a database whose default collation is ICU's en-US,
// which orders "alias/a" before "alias/B", dropped when t ends.
func linguisticDSN(t *testing.T) string {
	t.Helper()
	base := pgtest.DSN(t)
	c := connect(t, base)
	name := "linguistic_" + strings.TrimPrefix(baseName(t, base), "t_")
	if _, err := c.Exec(t.Context(), `CREATE DATABASE `+name+
		` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`); err != nil {
		t.Fatalf("create an ICU database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func baseName(t *testing.T, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// TestByteOrderInLinguisticDatabase: lists and their paging keep byte order
// in a database that would sort otherwise.
func TestByteOrderInLinguisticDatabase(t *testing.T) {
	ctx := t.Context()
	dsn := linguisticDSN(t)
	var linguistic bool
	if err := connect(t, dsn).QueryRow(ctx, `SELECT 'alias/a' < 'alias/B'`).Scan(&linguistic); err != nil {
		t.Fatal(err)
	}
	if !linguistic {
		t.Fatal("the database sorts in byte order: the test would prove nothing")
	}
	s := open(t, dsn)
	k := testKey("1234abcd-12ab-34cd-56ef-1234567890ab")
	if err := s.CreateKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	names := []string{"alias/a", "alias/B", "alias/_x", "alias/Z", "alias/a-b", "alias/ab", "alias/a/c"}
	for _, n := range names {
		if err := s.CreateAlias(ctx, kms.Alias{Name: n, Account: k.Account, Region: k.Region,
			TargetKeyID: k.ID, CreationDate: k.CreationDate, LastUpdatedDate: k.CreationDate}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(names) // byte order
	var paged []string
	after := ""
	for range len(names) + 1 {
		page, err := s.ListAliases(ctx, store.AliasFilter{Account: k.Account, Region: k.Region, After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page {
			paged = append(paged, a.Name)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].Name
	}
	if !slices.Equal(paged, names) {
		t.Errorf("aliases in pages of 2 = %q, want %q", paged, names)
	}

	// User names compare by NameKey, whose punctuation sorts by byte too.
	users := []string{"a_b", "ab", "a-c", "a.d", "a+e", "a@f", "a=g", "a,h"}
	for i, n := range users {
		if err := s.CreateUser(ctx, store.User{Account: k.Account, Name: n, ID: fmt.Sprint("AIDA", i), Created: k.CreationDate}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(users)
	us, err := s.ListUsers(ctx, k.Account, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range us {
		got = append(got, u.Name)
	}
	if !slices.Equal(got, users) {
		t.Errorf("users = %q, want %q", got, users)
	}
}

// TestArbitraryKeyStrings: a key's description, policy and tags come back
// byte for byte, NUL and invalid UTF-8 included, as from SQLite.
func TestArbitraryKeyStrings(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.DSN(t))
	k := testKey("1234abcd-12ab-34cd-56ef-1234567890ab")
	k.Description = "nul \x00 and \xff\xfe"
	k.Policy = "{\"a\": \"\x00\"}"
	k.Tags = []kms.Tag{{Key: "k\x00", Value: "\x00"}, {Key: "\xc3", Value: ""}}
	if err := s.CreateKey(ctx, k, nil); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	check := func(what string, got kms.Key) {
		t.Helper()
		if got.Description != k.Description || got.Policy != k.Policy || !slices.Equal(got.Tags, k.Tags) {
			t.Errorf("%s = %q %q %q, want %q %q %q", what, got.Description, got.Policy, got.Tags,
				k.Description, k.Policy, k.Tags)
		}
	}
	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("GetKey", got)
	u, err := s.GetKeyForUse(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("GetKeyForUse", u.Key)
	k.Description, k.Tags = "\x00", []kms.Tag{{Key: "\x00\x00", Value: "\xff"}}
	if err := s.UpdateKey(ctx, k); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	ks, err := s.ListKeys(ctx, store.KeyFilter{Account: k.Account, Region: k.Region})
	if err != nil || len(ks) != 1 {
		t.Fatalf("ListKeys = %d keys, %v", len(ks), err)
	}
	check("ListKeys after UpdateKey", ks[0])
}

// TestErrorsKeepSecretsOut: a failed write of sealed bytes reports neither
// them nor the database's details of the failing row.
func TestErrorsKeepSecretsOut(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.DSN(t))
	k := testKey("1234abcd-12ab-34cd-56ef-1234567890ab")
	if err := s.CreateKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	secret := []byte("TOP-SECRET-SEALED")
	for _, tc := range []struct {
		name string
		err  error
	}{
		// A zero creation time fails NOT NULL, whose detail quotes the row.
		{"AddMaterial", s.AddMaterial(ctx, store.Material{KeyID: k.ID, ID: "02", Sealed: secret})},
		{"PutAccessKey", s.PutAccessKey(ctx, store.AccessKey{ID: "AKIA1", Account: k.Account, SealedSecret: secret})},
	} {
		if tc.err == nil {
			t.Errorf("%s with a zero creation time succeeded", tc.name)
			continue
		}
		msg := tc.err.Error()
		if strings.Contains(msg, string(secret)) || strings.Contains(msg, hex.EncodeToString(secret)) {
			t.Errorf("%s: error quotes the secret: %s", tc.name, msg)
		}
		var pe *pgconn.PgError
		if errors.As(tc.err, &pe) {
			t.Errorf("%s: error carries PostgreSQL's details: %q", tc.name, pe.Detail)
		}
		var coded interface{ SQLState() string }
		if !errors.As(tc.err, &coded) || coded.SQLState() != "23502" {
			t.Errorf("%s: error %v has no SQLSTATE 23502", tc.name, tc.err)
		}
	}
}

// TestConcurrentNodes races conditional writes from two stores on one
// database, as two server nodes would, each through its own pool.
func TestConcurrentNodes(t *testing.T) {
	const workers = 8
	created := time.UnixMilli(1700000000123).UTC()
	for _, tc := range []struct {
		name string
		// setup prepares the database; race runs in each of the workers,
		// worker w on node w%2; check looks at the outcome.
		setup func(t *testing.T, s *Store)
		race  func(ctx context.Context, s *Store, w int) error
		check func(t *testing.T, s *Store, errs []error)
	}{{
		name: "RotateKey",
		setup: func(t *testing.T, s *Store) {
			k := testKey("k1")
			m := testMaterial(k.ID, k.CurrentMaterialID, created)
			if err := s.CreateKey(t.Context(), k, &m); err != nil {
				t.Fatal(err)
			}
		},
		race: func(ctx context.Context, s *Store, w int) error {
			m := testMaterial("k1", fmt.Sprintf("r%d", w), created.Add(time.Hour))
			m.RotationType, m.RotationDate = "AUTOMATIC", m.Created
			return s.RotateKey(ctx, m, "01", created.Add(2*time.Hour))
		},
		check: func(t *testing.T, s *Store, errs []error) {
			w := oneWinner(t, errs, store.ErrConflict)
			k, err := s.GetKey(t.Context(), "k1")
			if err != nil || k.CurrentMaterialID != fmt.Sprintf("r%d", w) {
				t.Errorf("key = %s, %v; want the winner's material r%d", k.CurrentMaterialID, err, w)
			}
			checkMaterialIDs(t, s, "k1", "01", fmt.Sprintf("r%d", w))
		},
	}, {
		name: "PromoteMaterial",
		setup: func(t *testing.T, s *Store) {
			k := testKey("k1")
			m := testMaterial(k.ID, k.CurrentMaterialID, created)
			if err := s.CreateKey(t.Context(), k, &m); err != nil {
				t.Fatal(err)
			}
			p := testMaterial(k.ID, "02", created.Add(time.Minute))
			p.Pending = true
			if err := s.AddMaterial(t.Context(), p); err != nil {
				t.Fatal(err)
			}
		},
		race: func(ctx context.Context, s *Store, w int) error {
			return s.PromoteMaterial(ctx, "k1", "02", "01", "ON_DEMAND", created.Add(time.Hour))
		},
		check: func(t *testing.T, s *Store, errs []error) {
			oneWinner(t, errs, store.ErrConflict)
			m, err := s.GetMaterial(t.Context(), "k1", "02")
			if err != nil || m.Pending || m.RotationType != "ON_DEMAND" {
				t.Errorf("promoted material = %+v, %v", m, err)
			}
		},
	}, {
		name: "AddMaterial",
		setup: func(t *testing.T, s *Store) {
			k := testKey("k1")
			if err := s.CreateKey(t.Context(), k, nil); err != nil {
				t.Fatal(err)
			}
		},
		// All in the same millisecond: only seq orders them.
		race: func(ctx context.Context, s *Store, w int) error {
			return s.AddMaterial(ctx, testMaterial("k1", fmt.Sprintf("m%d", w), created))
		},
		check: func(t *testing.T, s *Store, errs []error) {
			for w, err := range errs {
				if err != nil {
					t.Errorf("AddMaterial %d: %v", w, err)
				}
			}
			rows, _ := s.pool.Query(t.Context(), `SELECT seq FROM materials WHERE key_id = 'k1' ORDER BY seq`)
			seqs, err := pgx.CollectRows(rows, pgx.RowTo[int])
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			for i := range workers {
				want = append(want, i+1)
			}
			if !slices.Equal(seqs, want) {
				t.Errorf("seqs = %v, want %v", seqs, want)
			}
		},
	}, {
		name: "CreateAlias",
		setup: func(t *testing.T, s *Store) {
			for _, id := range []string{"k1", "k2"} {
				if err := s.CreateKey(t.Context(), testKey(id), nil); err != nil {
					t.Fatal(err)
				}
			}
		},
		race: func(ctx context.Context, s *Store, w int) error {
			return s.CreateAlias(ctx, kms.Alias{Name: "alias/contested", Account: "111122223333",
				Region: "us-east-1", TargetKeyID: fmt.Sprintf("k%d", 1+w%2), CreationDate: created, LastUpdatedDate: created})
		},
		check: func(t *testing.T, s *Store, errs []error) { oneWinner(t, errs, store.ErrExists) },
	}, {
		// Half the workers add a key to a user, half delete the user: either
		// the user goes with no key, or it stays with every key added.
		name: "DeleteUser",
		setup: func(t *testing.T, s *Store) {
			if err := s.CreateUser(t.Context(), store.User{Account: "111122223333", Name: "Alice", ID: "AIDA1", Created: created}); err != nil {
				t.Fatal(err)
			}
		},
		race: func(ctx context.Context, s *Store, w int) error {
			if w%2 == 0 {
				return s.DeleteUser(ctx, "111122223333", "alice")
			}
			return s.PutAccessKey(ctx, store.AccessKey{ID: fmt.Sprint("AKIA", w), Account: "111122223333",
				PrincipalARN: "arn:aws:iam::111122223333:user/Alice", SealedSecret: []byte{1}, Active: true,
				Created: created, UserName: "ALICE"})
		},
		check: func(t *testing.T, s *Store, errs []error) {
			var deleted, added int
			for w, err := range errs {
				switch {
				case err == nil && w%2 == 0:
					deleted++
				case err == nil:
					added++
				case w%2 == 0 && !errors.Is(err, store.ErrInUse) && !errors.Is(err, store.ErrNotFound):
					t.Errorf("DeleteUser: %v", err)
				case w%2 == 1 && !errors.Is(err, store.ErrNotFound):
					t.Errorf("PutAccessKey: %v", err)
				}
			}
			ks, err := s.ListAccessKeys(t.Context(), "111122223333", "alice")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.GetUser(t.Context(), "111122223333", "alice")
			gone := errors.Is(err, store.ErrNotFound)
			if deleted > 1 || gone != (deleted == 1) || len(ks) != added || gone && added > 0 {
				t.Errorf("%d deletions, %d keys added, %d stored, user gone: %v", deleted, added, len(ks), gone)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.DSN(t)
			nodes := [2]*Store{open(t, dsn), open(t, dsn)}
			tc.setup(t, nodes[0])
			for round := range 3 {
				if round > 0 { // again, on a fresh database
					dsn = pgtest.DSN(t)
					nodes = [2]*Store{open(t, dsn), open(t, dsn)}
					tc.setup(t, nodes[0])
				}
				errs := make([]error, workers)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for w := range workers {
					wg.Go(func() {
						<-start
						errs[w] = tc.race(t.Context(), nodes[w%2], w)
					})
				}
				close(start)
				wg.Wait()
				tc.check(t, nodes[1], errs)
			}
		})
	}
}

// oneWinner checks that exactly one of errs is nil and the others are
// lose, and returns the winner's index.
func oneWinner(t *testing.T, errs []error, lose error) int {
	t.Helper()
	winner := -1
	for w, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("workers %d and %d both won", winner, w)
		case err == nil:
			winner = w
		case !errors.Is(err, lose):
			t.Errorf("worker %d: %v, want %v", w, err, lose)
		}
	}
	if winner < 0 {
		t.Error("nobody won")
	}
	return winner
}

// checkMaterialIDs checks a key's materials, in list order.
func checkMaterialIDs(t *testing.T, s *Store, keyID string, want ...string) {
	t.Helper()
	ms, err := s.ListMaterials(t.Context(), keyID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("materials of %s = %v, want %v", keyID, got, want)
	}
}
