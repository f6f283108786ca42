package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
	"github.com/openkms/kms/internal/store/storetest"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
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
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "kms.db"))
	})
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kms.db")
	k := kms.Key{
		ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Account: "111122223333", Region: "us-east-1",
		Spec: kms.KeySpecSymmetricDefault, Usage: kms.KeyUsageEncryptDecrypt,
		Origin: kms.OriginAWSKMS, Manager: kms.KeyManagerCustomer, State: kms.KeyStateEnabled,
		CreationDate: time.UnixMilli(1700000000123).UTC(),
		Tags:         []kms.Tag{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}},
	}
	m := &store.Material{KeyID: k.ID, ID: "00ff", Sealed: []byte{1, 2, 3}, Created: k.CreationDate}

	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.CreateKey(ctx, k, m); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatalf("GetKey after reopen: %v", err)
	}
	if !got.CreationDate.Equal(k.CreationDate) || len(got.Tags) != 2 || got.Tags[0] != k.Tags[0] {
		t.Errorf("GetKey after reopen = %+v, want %+v", got, k)
	}
	if _, err := s.GetMaterial(ctx, k.ID, m.ID); err != nil {
		t.Errorf("GetMaterial after reopen: %v", err)
	}
	// Reopening must not apply the migrations again.
	var versions int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != len(migrations) {
		t.Errorf("schema_version has %d rows, want %d", versions, len(migrations))
	}
}

// TestDurability checks the connection settings the durability promise rests on.
func TestDurability(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "kms.db"))
	for _, db := range []*sql.DB{s.w, s.r.DB} {
		var mode string
		var sync, fk int
		if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || sync != 2 || fk != 1 {
			t.Errorf("journal_mode=%s synchronous=%d foreign_keys=%d, want wal 2 (FULL) 1", mode, sync, fk)
		}
	}
	// The read pool must not be able to write.
	if _, err := s.r.Exec(`INSERT INTO accounts (id, created) VALUES ('x', 0)`); err == nil {
		t.Error("write through the read pool succeeded")
	}
}

func TestFileMode(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kms.db")
	s := open(t, path)
	// Write something so that the -wal and -shm files exist too.
	if err := s.CreateAccount(ctx, store.Account{ID: "111122223333", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccount(ctx, "111122223333"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), m)
		}
	}
}

func TestOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", "kms db?x=1")
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if err := s.CreateAccount(context.Background(), store.Account{ID: "1", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the given path: %v", err)
	}
}

func TestNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kms.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO schema_version (version) VALUES (?)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(path); err == nil {
		s.Close()
		t.Fatal("Open accepted a schema newer than it knows")
	}
}

// shippedMigrations pins the SHA-256 of every migration's statements. A
// shipped migration must never change: databases already past it would not
// get the change, and new ones would differ from them.
var shippedMigrations = []string{
	"4156f26e9a4fa16ae6bb7565421bf1ae3190967936c4d5560ae6c4cd17dcf7a9",
	"51b86a32160c1fb179c6dcdba6ffa7b063ededc9871225a2d8a7a67e7f781ad4",
	"154ba0e0591ea86c42b734fa5587cb73f3fc29884dfd874ef563ba1da405e22d",
	"b214c2facd599e846a7f03b5dbcea576c206fb7696eaf148aef12da7d3c82b99",
	"8fafd1c348b19f18c54040ab5c35d873d7ba73790648b45aee38056f3d0d4758",
	"080384825db273d3427b4e2dfcd06d4b58418cbed10fa19f2ed6fef2b012e57e",
	"53e18d1d4cd164f7a21a69584ee3f4fedc3fe1c816352d9bc577aa51ae6969aa",
	"12d3d5e3384773a4d30190f5f72cfceb0a0f83912d0b55b7b55de85a097253c4",
	"1ab3dbf29be4369d13cf79cd6f825898b41df3874064168f545e74dbdc4d8f23",
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

// openVersion creates a database at path with the schema of the given
// version, as a release that knew no later one would have left it.
func openVersion(t *testing.T, path string, version int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+
		"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if err := migrateTo(t.Context(), db, version); err != nil {
		db.Close()
		t.Fatalf("migrate to version %d: %v", version, err)
	}
	return db
}

// What TestUpgradeFromV1 stores in a version-1 database.
const (
	v1Account    = "111122223333"
	v1KeyID      = "1234abcd-12ab-34cd-56ef-1234567890ab"
	v1MaterialID = "00ff"
	v1Created    = int64(1700000000123)
)

// TestUpgradeFromV1 opens a version-1 database, filled as the first release
// wrote its rows, and checks that it upgrades in place: old data intact,
// new tables usable.
func TestUpgradeFromV1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kms.db")
	db := openVersion(t, path, 1)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts (id, created) VALUES (?, ?)`, []any{v1Account, v1Created}},
		{`INSERT INTO access_keys (id, account, principal_arn, sealed_secret, active, created)
			VALUES (?, ?, ?, ?, ?, ?)`,
			[]any{"AKIAIOSFODNN7EXAMPLE", v1Account, "arn:aws:iam::" + v1Account + ":root", []byte{0, 1, 0xff}, 1, v1Created}},
		{`INSERT INTO access_keys (id, account, principal_arn, sealed_secret, active, created)
			VALUES (?, ?, ?, ?, ?, ?)`,
			[]any{"AKIAOLDINACTIVE00000", v1Account, "arn:aws:iam::" + v1Account + ":root", []byte("s"), 0, v1Created + 1}},
		{`INSERT INTO keys (id, account, region, description, key_spec, key_usage, origin, manager,
			state, created, deletion_date, policy, current_material)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{v1KeyID, v1Account, "us-east-1", "old key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS",
				"CUSTOMER", "Enabled", v1Created, nil, "{}", v1MaterialID}},
		{`INSERT INTO key_tags (key_id, position, tag_key, tag_value) VALUES (?, ?, ?, ?)`,
			[]any{v1KeyID, 0, "env", "prod"}},
		{`INSERT INTO materials (key_id, id, seq, sealed, created) VALUES (?, ?, ?, ?, ?)`,
			[]any{v1KeyID, v1MaterialID, 1, []byte{9, 9}, v1Created}},
		{`INSERT INTO aliases (account, region, name, key_id, created, updated) VALUES (?, ?, ?, ?, ?, ?)`,
			[]any{v1Account, "us-east-1", "alias/old", v1KeyID, v1Created, v1Created}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("v1 insert: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for reopen := range 2 {
		checkUpgraded(t, path, reopen)
	}
}

// checkUpgraded opens the database of TestUpgradeFromV1, checks what the
// first release stored and, on the first open, adds to the new tables.
func checkUpgraded(t *testing.T, path string, reopen int) {
	ctx := t.Context()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("open %d: %v", reopen, err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("open %d: Close: %v", reopen, err)
		}
	}()
	var versions, newest int
	if err := s.r.QueryRowContext(ctx,
		`SELECT COUNT(*), MAX(version) FROM schema_version`).Scan(&versions, &newest); err != nil {
		t.Fatal(err)
	}
	if versions != len(migrations) || newest != len(migrations) {
		t.Errorf("open %d: schema_version has %d rows up to %d, want %d", reopen, versions, newest, len(migrations))
	}

	if as, err := s.ListAccounts(ctx); err != nil || len(as) != 1 || as[0].ID != v1Account ||
		as[0].Created.UnixMilli() != v1Created {
		t.Errorf("open %d: ListAccounts = %+v, %v", reopen, as, err)
	}
	ak, err := s.GetAccessKey(ctx, "AKIAIOSFODNN7EXAMPLE")
	if err != nil {
		t.Fatalf("open %d: GetAccessKey: %v", reopen, err)
	}
	if ak.Account != v1Account || !ak.Active || ak.UserName != "" || string(ak.SealedSecret) != "\x00\x01\xff" ||
		ak.Created.UnixMilli() != v1Created {
		t.Errorf("open %d: GetAccessKey = %+v", reopen, ak)
	}
	// Old keys are the root's.
	ks, err := s.ListAccessKeys(ctx, v1Account, "")
	if err != nil || len(ks) != 2 || ks[0].ID != "AKIAIOSFODNN7EXAMPLE" || ks[1].Active {
		t.Errorf("open %d: ListAccessKeys(root) = %+v, %v", reopen, ks, err)
	}
	k, err := s.GetKey(ctx, v1KeyID)
	if err != nil {
		t.Fatalf("open %d: GetKey: %v", reopen, err)
	}
	if k.Description != "old key" || k.State != kms.KeyStateEnabled || k.CurrentMaterialID != v1MaterialID ||
		len(k.Tags) != 1 || k.Tags[0] != (kms.Tag{Key: "env", Value: "prod"}) || !k.DeletionDate.IsZero() {
		t.Errorf("open %d: GetKey = %+v", reopen, k)
	}
	if m, err := s.GetMaterial(ctx, v1KeyID, v1MaterialID); err != nil || string(m.Sealed) != "\x09\x09" {
		t.Errorf("open %d: GetMaterial = %+v, %v", reopen, m, err)
	}
	if a, err := s.GetAlias(ctx, v1Account, "us-east-1", "alias/old"); err != nil || a.TargetKeyID != v1KeyID {
		t.Errorf("open %d: GetAlias = %+v, %v", reopen, a, err)
	}

	if reopen > 0 {
		// What the first open added is still there.
		if ks, err := s.ListAccessKeys(ctx, v1Account, "alice"); err != nil || len(ks) != 1 || ks[0].UserName != "Alice" {
			t.Errorf("ListAccessKeys(alice) after reopen = %+v, %v", ks, err)
		}
		if p, err := s.GetPolicy(ctx, v1Account, store.OwnerRole, "app", "decrypt"); err != nil || p.Document != "{}" {
			t.Errorf("GetPolicy after reopen = %+v, %v", p, err)
		}
		return
	}
	// The new tables work.
	now := time.UnixMilli(v1Created + 1000).UTC()
	if err := s.CreateUser(ctx, store.User{Account: v1Account, Name: "Alice", ID: "AIDAAAAAAAAAAAAAAAAAA", Created: now}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := s.CreateUser(ctx, store.User{Account: v1Account, Name: "alice", ID: "AIDABBBBBBBBBBBBBBBBB", Created: now}); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateUser in another case: %v, want ErrExists", err)
	}
	if err := s.PutAccessKey(ctx, store.AccessKey{ID: "AKIAUSERKEY000000000", Account: v1Account,
		PrincipalARN: "arn:aws:iam::" + v1Account + ":user/Alice", SealedSecret: []byte("x"), Active: true,
		Created: now, UserName: "alice"}); err != nil {
		t.Fatalf("PutAccessKey(user): %v", err)
	}
	if err := s.CreateRole(ctx, store.Role{Account: v1Account, Name: "app", ID: "AROAAAAAAAAAAAAAAAAAA",
		AssumeRolePolicy: "{}", MaxSessionDuration: 3600, Created: now}); err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	if err := s.PutPolicy(ctx, store.Policy{Account: v1Account, OwnerKind: store.OwnerRole, Owner: "APP",
		Name: "decrypt", Document: "{}"}); err != nil {
		t.Fatalf("PutPolicy: %v", err)
	}
	if err := s.DeleteUser(ctx, v1Account, "Alice"); !errors.Is(err, store.ErrInUse) {
		t.Errorf("DeleteUser with a key: %v, want ErrInUse", err)
	}
}

// What TestUpgradeFromV2 stores in a version-2 database, besides v1's.
const (
	v2UserKeyID = "AKIAUSERKEY000000000"
	v2GoneKeyID = "5678abcd-12ab-34cd-56ef-1234567890ab" // deleted after the upgrade
	v2Grantee   = "arn:aws:iam::" + v1Account + ":user/Alice"
	v2Retiring  = "arn:aws:iam::" + v1Account + ":role/app"
)

// TestUpgradeFromV2 opens a version-2 database, filled as the second
// release wrote its rows, and checks that it upgrades in place: old data
// intact, grants usable and deleted with their key.
func TestUpgradeFromV2(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kms.db")
	db := openVersion(t, path, 2)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts (id, created) VALUES (?, ?)`, []any{v1Account, v1Created}},
		{`INSERT INTO users (account, name_key, name, id, path, created) VALUES (?, ?, ?, ?, ?, ?)`,
			[]any{v1Account, "alice", "Alice", "AIDAAAAAAAAAAAAAAAAAA", "/", v1Created}},
		{`INSERT INTO access_keys (id, account, principal_arn, sealed_secret, active, created, user_name, user_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{v2UserKeyID, v1Account, v2Grantee, []byte{0, 1, 0xff}, 1, v1Created, "Alice", "alice"}},
		{`INSERT INTO roles (account, name_key, name, id, path, assume_role_policy, max_session_duration,
			description, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{v1Account, "app", "App", "AROAAAAAAAAAAAAAAAAAA", "/", `{"trust":1}`, 3600, "old role", v1Created}},
		{`INSERT INTO policies (account, owner_kind, owner_key, owner, name_key, name, document)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			[]any{v1Account, "role", "app", "App", "decrypt", "Decrypt", `{"doc":1}`}},
		{`INSERT INTO keys (id, account, region, description, key_spec, key_usage, origin, manager,
			state, created, deletion_date, policy, current_material)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{v1KeyID, v1Account, "us-east-1", "old key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS",
				"CUSTOMER", "Enabled", v1Created, nil, "{}", v1MaterialID}},
		{`INSERT INTO keys (id, account, region, description, key_spec, key_usage, origin, manager,
			state, created, deletion_date, policy, current_material)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{v2GoneKeyID, v1Account, "us-east-1", "", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS",
				"CUSTOMER", "Enabled", v1Created, nil, "{}", ""}},
		{`INSERT INTO key_tags (key_id, position, tag_key, tag_value) VALUES (?, ?, ?, ?)`,
			[]any{v1KeyID, 0, "env", "prod"}},
		{`INSERT INTO materials (key_id, id, seq, sealed, created) VALUES (?, ?, ?, ?, ?)`,
			[]any{v1KeyID, v1MaterialID, 1, []byte{9, 9}, v1Created}},
		{`INSERT INTO aliases (account, region, name, key_id, created, updated) VALUES (?, ?, ?, ?, ?, ?)`,
			[]any{v1Account, "us-east-1", "alias/old", v1KeyID, v1Created, v1Created}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("v2 insert: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for reopen := range 2 {
		checkUpgradedV2(t, path, reopen)
	}
}

// checkUpgradedV2 opens the database of TestUpgradeFromV2, checks what the
// second release stored and, on the first open, adds grants.
func checkUpgradedV2(t *testing.T, path string, reopen int) {
	ctx := t.Context()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("open %d: %v", reopen, err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("open %d: Close: %v", reopen, err)
		}
	}()
	var versions, newest int
	if err := s.r.QueryRowContext(ctx,
		`SELECT COUNT(*), MAX(version) FROM schema_version`).Scan(&versions, &newest); err != nil {
		t.Fatal(err)
	}
	if versions != len(migrations) || newest != len(migrations) {
		t.Errorf("open %d: schema_version has %d rows up to %d, want %d", reopen, versions, newest, len(migrations))
	}

	if u, err := s.GetUser(ctx, v1Account, "ALICE"); err != nil || u.Name != "Alice" || u.Created.UnixMilli() != v1Created {
		t.Errorf("open %d: GetUser = %+v, %v", reopen, u, err)
	}
	if ks, err := s.ListAccessKeys(ctx, v1Account, "alice"); err != nil || len(ks) != 1 || ks[0].ID != v2UserKeyID ||
		ks[0].UserName != "Alice" || string(ks[0].SealedSecret) != "\x00\x01\xff" {
		t.Errorf("open %d: ListAccessKeys(alice) = %+v, %v", reopen, ks, err)
	}
	if r, err := s.GetRole(ctx, v1Account, "app"); err != nil || r.Name != "App" || r.AssumeRolePolicy != `{"trust":1}` ||
		r.MaxSessionDuration != 3600 {
		t.Errorf("open %d: GetRole = %+v, %v", reopen, r, err)
	}
	if p, err := s.GetPolicy(ctx, v1Account, store.OwnerRole, "APP", "decrypt"); err != nil || p.Name != "Decrypt" ||
		p.Owner != "App" || p.Document != `{"doc":1}` {
		t.Errorf("open %d: GetPolicy = %+v, %v", reopen, p, err)
	}
	k, err := s.GetKey(ctx, v1KeyID)
	if err != nil {
		t.Fatalf("open %d: GetKey: %v", reopen, err)
	}
	if k.Description != "old key" || k.CurrentMaterialID != v1MaterialID ||
		len(k.Tags) != 1 || k.Tags[0] != (kms.Tag{Key: "env", Value: "prod"}) {
		t.Errorf("open %d: GetKey = %+v", reopen, k)
	}
	if m, err := s.GetMaterial(ctx, v1KeyID, v1MaterialID); err != nil || string(m.Sealed) != "\x09\x09" {
		t.Errorf("open %d: GetMaterial = %+v, %v", reopen, m, err)
	}
	if a, err := s.GetAlias(ctx, v1Account, "us-east-1", "alias/old"); err != nil || a.TargetKeyID != v1KeyID {
		t.Errorf("open %d: GetAlias = %+v, %v", reopen, a, err)
	}

	g := store.Grant{
		ID: strings.Repeat("ab", 32), KeyID: v1KeyID, Name: "upgraded",
		GranteePrincipal: v2Grantee, RetiringPrincipal: v2Retiring,
		IssuingAccount:          "arn:aws:iam::" + v1Account + ":root",
		Operations:              []string{"Encrypt", "Decrypt"},
		EncryptionContextSubset: map[string]string{"app": "x"},
		Created:                 time.UnixMilli(v1Created + 1000).UTC(),
	}
	if reopen > 0 {
		// What the first open added is still there, and only that.
		gs, err := s.ListRetirableGrants(ctx, v2Retiring, "", 0)
		if err != nil || len(gs) != 1 || gs[0].ID != g.ID || gs[0].Name != g.Name ||
			gs[0].EncryptionContextSubset["app"] != "x" || gs[0].EncryptionContextEquals != nil ||
			!gs[0].Created.Equal(g.Created) {
			t.Errorf("ListRetirableGrants after reopen = %+v, %v", gs, err)
		}
		return
	}
	// Grants work on the old keys.
	if err := s.CreateGrant(ctx, g); err != nil {
		t.Fatalf("CreateGrant: %v", err)
	}
	gone := g
	gone.ID = strings.Repeat("cd", 32)
	gone.KeyID = v2GoneKeyID
	if err := s.CreateGrant(ctx, gone); err != nil {
		t.Fatalf("CreateGrant(gone key): %v", err)
	}
	if n, err := s.CountGrants(ctx, v1KeyID); err != nil || n != 1 {
		t.Errorf("CountGrants = %d, %v; want 1", n, err)
	}
	// The schema itself deletes a key's grants with it, whoever deletes
	// the key.
	if _, err := s.w.ExecContext(ctx, `DELETE FROM keys WHERE id = ?`, v2GoneKeyID); err != nil {
		t.Fatalf("delete key row: %v", err)
	}
	if n, err := s.CountGrants(ctx, v2GoneKeyID); err != nil || n != 0 {
		t.Errorf("CountGrants(deleted key) = %d, %v; want 0", n, err)
	}
}

// What TestUpgradeFromV3 stores in a version-3 database, besides v1's.
const (
	v3ImportedKeyID = "9abcdef0-12ab-34cd-56ef-1234567890ab" // EXTERNAL, awaiting material
	v3GrantID       = "abababababababababababababababababababababababababababababababab"
	v3RotatedID     = "0100" // material of the rotation after the upgrade
	v3ImportedID    = "0200" // material imported after the upgrade
)

// TestUpgradeFromV3 opens a version-3 database, filled as the third release
// wrote its rows, and checks that it upgrades in place: old data intact, old
// keys without rotation or expiry, and rotation and expiry usable on them.
func TestUpgradeFromV3(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kms.db")
	db := openVersion(t, path, 3)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts (id, created) VALUES (?, ?)`, []any{v1Account, v1Created}},
		{`INSERT INTO keys (id, account, region, description, key_spec, key_usage, origin, manager,
			state, created, deletion_date, policy, current_material)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{v1KeyID, v1Account, "us-east-1", "old key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS",
				"CUSTOMER", "Enabled", v1Created, nil, "{}", v1MaterialID}},
		{`INSERT INTO keys (id, account, region, description, key_spec, key_usage, origin, manager,
			state, created, deletion_date, policy, current_material)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{v3ImportedKeyID, v1Account, "us-east-1", "", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "EXTERNAL",
				"CUSTOMER", "PendingImport", v1Created, nil, "{}", ""}},
		{`INSERT INTO key_tags (key_id, position, tag_key, tag_value) VALUES (?, ?, ?, ?)`,
			[]any{v1KeyID, 0, "env", "prod"}},
		{`INSERT INTO materials (key_id, id, seq, sealed, created) VALUES (?, ?, ?, ?, ?)`,
			[]any{v1KeyID, v1MaterialID, 1, []byte{9, 9}, v1Created}},
		{`INSERT INTO aliases (account, region, name, key_id, created, updated) VALUES (?, ?, ?, ?, ?, ?)`,
			[]any{v1Account, "us-east-1", "alias/old", v1KeyID, v1Created, v1Created}},
		{`INSERT INTO grants (id, key_id, name, grantee_principal, retiring_principal, issuing_account,
			operations, context_equals, context_subset, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{v3GrantID, v1KeyID, "old", v2Grantee, v2Retiring, "arn:aws:iam::" + v1Account + ":root",
				`["Decrypt"]`, nil, `{"app":"x"}`, v1Created}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("v3 insert: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for reopen := range 2 {
		checkUpgradedV3(t, path, reopen)
	}
}

// checkUpgradedV3 opens the database of TestUpgradeFromV3, checks what the
// third release stored and, on the first open, rotates the old key and
// imports expiring material into the other.
func checkUpgradedV3(t *testing.T, path string, reopen int) {
	ctx := t.Context()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("open %d: %v", reopen, err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("open %d: Close: %v", reopen, err)
		}
	}()
	var versions, newest int
	if err := s.r.QueryRowContext(ctx,
		`SELECT COUNT(*), MAX(version) FROM schema_version`).Scan(&versions, &newest); err != nil {
		t.Fatal(err)
	}
	if versions != len(migrations) || newest != len(migrations) {
		t.Errorf("open %d: schema_version has %d rows up to %d, want %d", reopen, versions, newest, len(migrations))
	}

	created := time.UnixMilli(v1Created).UTC()
	rotated := created.Add(time.Hour)
	nextRotation := rotated.Add(365 * 24 * time.Hour)
	validTo := rotated.Add(30 * 24 * time.Hour)
	rotation := store.Material{KeyID: v1KeyID, ID: v3RotatedID, Sealed: []byte("rotated"), Created: rotated,
		RotationType: "AUTOMATIC", RotationDate: rotated}
	imported := store.Material{KeyID: v3ImportedKeyID, ID: v3ImportedID, Sealed: []byte("imported"), Created: rotated}

	k, err := s.GetKey(ctx, v1KeyID)
	if err != nil {
		t.Fatalf("open %d: GetKey: %v", reopen, err)
	}
	if k.Description != "old key" || k.State != kms.KeyStateEnabled || k.Origin != kms.OriginAWSKMS ||
		len(k.Tags) != 1 || k.Tags[0] != (kms.Tag{Key: "env", Value: "prod"}) || !k.DeletionDate.IsZero() ||
		k.ExpirationModel != "" || !k.ValidTo.IsZero() {
		t.Errorf("open %d: GetKey = %+v", reopen, k)
	}
	ik, err := s.GetKey(ctx, v3ImportedKeyID)
	if err != nil {
		t.Fatalf("open %d: GetKey(imported): %v", reopen, err)
	}
	if ik.Origin != kms.OriginExternal || ik.RotationEnabled || ik.RotationPeriodDays != 0 ||
		!ik.NextRotationDate.IsZero() {
		t.Errorf("open %d: GetKey(imported) = %+v", reopen, ik)
	}
	if a, err := s.GetAlias(ctx, v1Account, "us-east-1", "alias/old"); err != nil || a.TargetKeyID != v1KeyID {
		t.Errorf("open %d: GetAlias = %+v, %v", reopen, a, err)
	}
	if gs, err := s.ListGrants(ctx, store.GrantFilter{KeyID: v1KeyID}); err != nil || len(gs) != 1 ||
		gs[0].ID != v3GrantID || gs[0].EncryptionContextSubset["app"] != "x" || gs[0].EncryptionContextEquals != nil {
		t.Errorf("open %d: ListGrants = %+v, %v", reopen, gs, err)
	}

	if reopen > 0 {
		// What the first open did is still there.
		if k.CurrentMaterialID != v3RotatedID || !k.RotationEnabled || k.RotationPeriodDays != 365 ||
			!k.NextRotationDate.Equal(nextRotation) {
			t.Errorf("GetKey after reopen = %+v", k)
		}
		ms, err := s.ListMaterials(ctx, v1KeyID)
		if err != nil || len(ms) != 2 || ms[0].RotationType != "" || !ms[0].RotationDate.IsZero() ||
			ms[1].ID != v3RotatedID || ms[1].RotationType != "AUTOMATIC" || !ms[1].RotationDate.Equal(rotated) {
			t.Errorf("ListMaterials after reopen = %+v, %v", ms, err)
		}
		if ik.State != kms.KeyStateEnabled || ik.CurrentMaterialID != v3ImportedID ||
			ik.ExpirationModel != "KEY_MATERIAL_EXPIRES" || !ik.ValidTo.Equal(validTo) {
			t.Errorf("GetKey(imported) after reopen = %+v", ik)
		}
		if ks, err := s.KeysWithExpiredMaterial(ctx, validTo); err != nil || len(ks) != 1 || ks[0].ID != v3ImportedKeyID {
			t.Errorf("KeysWithExpiredMaterial after reopen = %+v, %v", ks, err)
		}
		return
	}

	// Old keys and materials have no rotation and no expiry.
	if k.CurrentMaterialID != v1MaterialID || k.RotationEnabled || k.RotationPeriodDays != 0 ||
		!k.NextRotationDate.IsZero() {
		t.Errorf("GetKey = %+v, want no rotation", k)
	}
	if ik.ExpirationModel != "" || !ik.ValidTo.IsZero() || ik.State != kms.KeyStatePendingImport {
		t.Errorf("GetKey(imported) = %+v, want no expiry", ik)
	}
	if m, err := s.GetMaterial(ctx, v1KeyID, v1MaterialID); err != nil || string(m.Sealed) != "\x09\x09" ||
		m.RotationType != "" || !m.RotationDate.IsZero() {
		t.Errorf("GetMaterial = %+v, %v", m, err)
	}
	far := created.Add(100 * 365 * 24 * time.Hour)
	if ks, err := s.KeysDueForRotation(ctx, far); err != nil || len(ks) != 0 {
		t.Errorf("KeysDueForRotation = %+v, %v; want none", ks, err)
	}
	if ks, err := s.KeysWithExpiredMaterial(ctx, far); err != nil || len(ks) != 0 {
		t.Errorf("KeysWithExpiredMaterial = %+v, %v; want none", ks, err)
	}

	// Turn rotation on and rotate the old key.
	k.RotationEnabled = true
	k.RotationPeriodDays = 365
	k.NextRotationDate = rotated
	if err := s.UpdateKey(ctx, k); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	if ks, err := s.KeysDueForRotation(ctx, rotated); err != nil || len(ks) != 1 || ks[0].ID != v1KeyID ||
		len(ks[0].Tags) != 1 {
		t.Errorf("KeysDueForRotation = %+v, %v; want the old key", ks, err)
	}
	if err := s.RotateKey(ctx, rotation, v1MaterialID, nextRotation); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	stale := rotation
	stale.ID = "0101"
	if err := s.RotateKey(ctx, stale, v1MaterialID, nextRotation); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RotateKey from the old material again: %v, want ErrConflict", err)
	}
	if m, err := s.GetMaterial(ctx, v1KeyID, v3RotatedID); err != nil || m.RotationType != "AUTOMATIC" ||
		!m.RotationDate.Equal(rotated) {
		t.Errorf("GetMaterial(rotated) = %+v, %v", m, err)
	}

	// Import expiring material into the other key.
	if err := s.AddMaterial(ctx, imported); err != nil {
		t.Fatalf("AddMaterial: %v", err)
	}
	ik.State = kms.KeyStateEnabled
	ik.CurrentMaterialID = v3ImportedID
	ik.ExpirationModel = "KEY_MATERIAL_EXPIRES"
	ik.ValidTo = validTo
	if err := s.UpdateKey(ctx, ik); err != nil {
		t.Fatalf("UpdateKey(imported): %v", err)
	}
}

// What TestUpgradeFromV4 stores in a version-4 database, besides v1's.
const (
	v4ImportedKeyID = "9abcdef0-12ab-34cd-56ef-1234567890ab" // EXTERNAL, with material
	v4ImportedID    = "0200"                                 // its material, imported before the upgrade
	v4PendingID     = "0300"                                 // material imported for rotation after it
)

// TestUpgradeFromV4 opens a version-4 database, filled as the fourth
// release wrote its rows, and checks that it upgrades in place: old
// materials are not pending, and pending material can be added and
// promoted.
func TestUpgradeFromV4(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kms.db")
	db := openVersion(t, path, 4)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts (id, created) VALUES (?, ?)`, []any{v1Account, v1Created}},
		{`INSERT INTO keys (id, account, region, description, key_spec, key_usage, origin, manager,
			state, created, deletion_date, policy, current_material,
			rotation_enabled, rotation_period_days, next_rotation_date, expiration_model, valid_to)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{v4ImportedKeyID, v1Account, "us-east-1", "", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "EXTERNAL",
				"CUSTOMER", "Enabled", v1Created, nil, "{}", v4ImportedID, 0, 0, nil, "KEY_MATERIAL_DOES_NOT_EXPIRE", nil}},
		{`INSERT INTO materials (key_id, id, seq, sealed, created, rotation_type, rotation_date)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			[]any{v4ImportedKeyID, v4ImportedID, 1, []byte{7, 7}, v1Created, "", nil}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("v4 insert: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for reopen := range 2 {
		checkUpgradedV4(t, path, reopen)
	}
}

// checkUpgradedV4 opens the database of TestUpgradeFromV4, checks what the
// fourth release stored and, on the first open, imports pending material
// and promotes it.
func checkUpgradedV4(t *testing.T, path string, reopen int) {
	ctx := t.Context()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("open %d: %v", reopen, err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("open %d: Close: %v", reopen, err)
		}
	}()
	var versions, newest int
	if err := s.r.QueryRowContext(ctx,
		`SELECT COUNT(*), MAX(version) FROM schema_version`).Scan(&versions, &newest); err != nil {
		t.Fatal(err)
	}
	if versions != len(migrations) || newest != len(migrations) {
		t.Errorf("open %d: schema_version has %d rows up to %d, want %d", reopen, versions, newest, len(migrations))
	}
	created := time.UnixMilli(v1Created).UTC()
	rotated := created.Add(time.Hour)

	if m, err := s.GetMaterial(ctx, v4ImportedKeyID, v4ImportedID); err != nil || m.Pending ||
		string(m.Sealed) != "\x07\x07" || m.RotationType != "" || !m.Created.Equal(created) {
		t.Errorf("open %d: GetMaterial(old) = %+v, %v", reopen, m, err)
	}
	k, err := s.GetKey(ctx, v4ImportedKeyID)
	if err != nil {
		t.Fatalf("open %d: GetKey: %v", reopen, err)
	}

	if reopen > 0 {
		// What the first open did is still there.
		ms, err := s.ListMaterials(ctx, v4ImportedKeyID)
		if err != nil || len(ms) != 2 || ms[0].Pending || ms[1].ID != v4PendingID || ms[1].Pending ||
			ms[1].RotationType != "ON_DEMAND" || !ms[1].RotationDate.Equal(rotated) {
			t.Errorf("ListMaterials after reopen = %+v, %v", ms, err)
		}
		if k.CurrentMaterialID != v4PendingID || k.Origin != kms.OriginExternal ||
			k.ExpirationModel != "KEY_MATERIAL_DOES_NOT_EXPIRE" {
			t.Errorf("GetKey after reopen = %+v", k)
		}
		return
	}

	if k.CurrentMaterialID != v4ImportedID {
		t.Errorf("GetKey = %+v, want material %s", k, v4ImportedID)
	}
	pending := store.Material{KeyID: v4ImportedKeyID, ID: v4PendingID, Sealed: []byte("pending"),
		Created: created.Add(time.Minute), Pending: true}
	if err := s.AddMaterial(ctx, pending); err != nil {
		t.Fatalf("AddMaterial(pending): %v", err)
	}
	if m, err := s.GetMaterial(ctx, v4ImportedKeyID, v4PendingID); err != nil || !m.Pending {
		t.Errorf("GetMaterial(pending) = %+v, %v", m, err)
	}
	if err := s.PromoteMaterial(ctx, v4ImportedKeyID, v4PendingID, v4ImportedID, "ON_DEMAND", rotated); err != nil {
		t.Fatalf("PromoteMaterial: %v", err)
	}
}

// TestUpgradeIsAtomic: a migration that fails part way leaves the database
// as it was, at the old version, so that a fixed binary can try again.
func TestUpgradeIsAtomic(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kms.db")
	db := openVersion(t, path, 1)
	// A table in the way of migration 2, after its ALTER TABLEs.
	if _, err := db.ExecContext(ctx, `CREATE TABLE roles (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if s, err := Open(path); err == nil {
		s.Close()
		t.Fatal("Open succeeded despite a failing migration")
	}
	db = openVersion(t, path, 1) // a no-op at version 1
	defer db.Close()
	var v int
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != 1 {
		t.Errorf("schema version %d after a failed upgrade, want 1", v)
	}
	if _, err := db.ExecContext(ctx, `SELECT user_name FROM access_keys`); err == nil {
		t.Error("the failed upgrade left access_keys.user_name behind")
	}
	for _, table := range []string{"users", "policies"} {
		if _, err := db.ExecContext(ctx, `SELECT 1 FROM `+table); err == nil {
			t.Errorf("the failed upgrade left table %s behind", table)
		}
	}
}

// TestUpgradeFromV6 checks that version 7 gives the current material of a
// key with expiring imported material the key's ValidTo, and no other
// material an expiry.
func TestUpgradeFromV6(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kms.db")
	db := openVersion(t, path, 6)
	const validTo = v1Created + 86_400_000
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO keys (id, account, region, description, key_spec, key_usage, origin, manager,
			state, created, deletion_date, policy, current_material, expiration_model, valid_to)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{v1KeyID, v1Account, "us-east-1", "", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "EXTERNAL",
				"CUSTOMER", "Enabled", v1Created, nil, "{}", "bb", "KEY_MATERIAL_EXPIRES", validTo}},
		{`INSERT INTO materials (key_id, id, seq, sealed, created) VALUES (?, ?, ?, ?, ?)`,
			[]any{v1KeyID, "aa", 1, []byte{1}, v1Created}},
		{`INSERT INTO materials (key_id, id, seq, sealed, created) VALUES (?, ?, ?, ?, ?)`,
			[]any{v1KeyID, "bb", 2, []byte{2}, v1Created + 1}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("v6 insert: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := s.ListMaterials(ctx, v1KeyID)
	if err != nil || len(ms) != 2 {
		t.Fatalf("ListMaterials: %d, %v", len(ms), err)
	}
	if !ms[0].ValidTo.IsZero() || ms[1].ValidTo.UnixMilli() != validTo {
		t.Errorf("materials' ValidTo after the upgrade: %v, %v; want none, %d", ms[0].ValidTo, ms[1].ValidTo, validTo)
	}
	k, err := s.GetKey(ctx, v1KeyID)
	if err != nil || k.PrimaryRegion != "" || k.PendingWindowDays != 0 {
		t.Errorf("key after the upgrade: %+v, %v", k, err)
	}
}

// TestBulk: the writes made in a Bulk are one transaction: all of them
// when fn succeeds, none when it fails, and they see each other (an alias
// of a key made earlier in the same Bulk).
func TestBulk(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "kms.db"))
	key := func(n int) kms.Key {
		return kms.Key{ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", n), Account: "111122223333", Region: "us-east-1",
			Spec: kms.KeySpecSymmetricDefault, Usage: kms.KeyUsageEncryptDecrypt, Origin: kms.OriginAWSKMS,
			Manager: kms.KeyManagerCustomer, State: kms.KeyStateEnabled, Policy: "{}", CreationDate: time.Now(),
			Tags: []kms.Tag{{Key: "n", Value: fmt.Sprint(n)}}}
	}
	write := func(ctx context.Context, from, to int) error {
		for n := from; n < to; n++ {
			if err := s.CreateKey(ctx, key(n), nil); err != nil {
				return err
			}
			if err := s.CreateAlias(ctx, kms.Alias{Name: fmt.Sprintf("alias/k%d", n), Account: "111122223333", Region: "us-east-1", TargetKeyID: key(n).ID,
				CreationDate: time.Now(), LastUpdatedDate: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.Bulk(ctx, func(ctx context.Context) error { return write(ctx, 0, 50) }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.Bulk(ctx, func(ctx context.Context) error {
		if err := write(ctx, 50, 60); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Bulk returned %v, want fn's error", err)
	}
	ks, err := s.ListKeys(ctx, store.KeyFilter{Account: "111122223333", Region: "us-east-1"})
	if err != nil || len(ks) != 50 || len(ks[49].Tags) != 1 {
		t.Fatalf("after a Bulk of 50 and a failed one: %d keys, %v", len(ks), err)
	}
	if n, err := s.CountAliases(ctx, key(10).ID); err != nil || n != 1 {
		t.Fatalf("aliases of key 10: %d, %v", n, err)
	}
	// Outside a Bulk, writes are their own transactions again.
	if err := write(ctx, 60, 61); err != nil {
		t.Fatal(err)
	}
}
