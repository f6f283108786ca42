package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestServer: each DSN is a database of its own that takes writes, and
// one survives a restart of the server.
func TestServer(t *testing.T) {
	ctx := context.Background()
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatal("two tests share a database")
	}
	c, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	if err := Restart(); err != nil {
		t.Fatal(err)
	}
	c, err = pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var v int
	if err := c.QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != 1 {
		t.Fatalf("after a restart: %d, %v", v, err)
	}
	d, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	if _, err := d.Exec(ctx, "SELECT 1 FROM t"); err == nil {
		t.Fatal("the second database sees the first's table")
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range [][3]string{
		{"postgres://kms@127.0.0.1:5432/postgres?sslmode=disable", "x", "postgres://kms@127.0.0.1:5432/x?sslmode=disable"},
		{"postgres://kms@127.0.0.1:5432", "x", "postgres://kms@127.0.0.1:5432/x"},
		{"postgres://u:p@h/db", "y", "postgres://u:p@h/y"},
	} {
		if got := withDatabase(tc[0], tc[1]); got != tc[2] {
			t.Errorf("withDatabase(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}
