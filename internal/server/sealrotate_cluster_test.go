package server_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/openkms/kms/internal/pgtest"
	"github.com/openkms/kms/internal/server"
	"github.com/openkms/kms/internal/store/postgres"
)

// TestRotateSealClusterAtomic: a value that does not open under the
// current seal fails the whole rotation of a cluster's seal: the seal
// state and every sealed value stay as they were, and nodes go on with the
// old seal; once it is gone, the rotation succeeds.
func TestRotateSealClusterAtomic(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	cfg := server.Config{DataDir: t.TempDir(), Store: dsn}
	ts := startServer(t, cfg)
	k, err := ts.client(testRegion).CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := ts.client(testRegion).Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	ts.stop()

	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	snapshot := func() []byte {
		t.Helper()
		var b []byte
		if err := db.QueryRow(ctx, `SELECT (SELECT data FROM seal_state) ||
			(SELECT string_agg(sealed, '' ORDER BY key_id, id) FROM materials) ||
			(SELECT string_agg(sealed_secret, '' ORDER BY id) FROM access_keys)`).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := db.Exec(ctx, `INSERT INTO access_keys (id, account, principal_arn, sealed_secret, active, created, user_name, user_key)
		SELECT 'AKIAZZZZZZZZZZZZZZZZ', account, principal_arn, '\x00ba', active, created, user_name, user_key FROM access_keys LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	before := snapshot()
	const pass = "the-new-cluster-passphrase"
	next := server.Config{Passphrase: pass}
	if _, err := server.RotateSeal(cfg, next); err == nil || strings.Contains(err.Error(), pass) ||
		!strings.Contains(err.Error(), "still on the old seal") {
		t.Fatalf("RotateSeal over a damaged value = %v", err)
	}
	if !bytes.Equal(snapshot(), before) {
		t.Fatal("a failed rotation changed the database")
	}
	startServer(t, cfg).stop() // the old seal still opens it

	if _, err := db.Exec(ctx, `DELETE FROM access_keys WHERE id = 'AKIAZZZZZZZZZZZZZZZZ'`); err != nil {
		t.Fatal(err)
	}
	// One material, the root's access key.
	if n, err := server.RotateSeal(cfg, next); err != nil || n != 2 {
		t.Fatalf("RotateSeal = %d, %v", n, err)
	}
	cfg.Passphrase = pass
	ts = startServer(t, cfg)
	if d, err := ts.client(testRegion).Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: e.CiphertextBlob}); err != nil || string(d.Plaintext) != "x" {
		t.Fatalf("Decrypt after rotation: %v", err)
	}
	if _, err := server.RotateSeal(cfg, server.Config{Passphrase: "another"}); !errors.Is(err, postgres.ErrNodeRunning) {
		t.Fatalf("RotateSeal beside a running node = %v", err)
	}
}

// TestClusterNodeRefusedDuringRotation: a node does not start on a database
// while a tool holds it exclusively (a seal rotation), and starts once it
// is released.
func TestClusterNodeRefusedDuringRotation(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	tool, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer tool.Close()
	release, err := tool.Exclusive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{DataDir: t.TempDir(), Store: dsn, Listen: "127.0.0.1:0",
		RootAccessKeyID: testAccessKeyID, RootSecretAccessKey: testSecret}
	if srv, err := server.Open(cfg); !errors.Is(err, postgres.ErrExclusive) {
		if err == nil {
			srv.Close()
		}
		t.Fatalf("server.Open during a rotation = %v", err)
	}
	release()
	startServer(t, cfg).stop()
}
