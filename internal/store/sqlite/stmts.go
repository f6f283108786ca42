package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// readDB runs queries through statements prepared once per query text.
// Parsing a query costs SQLite more than running a point lookup, and a key
// that is not in the service's cache (the key-per-tenant case) takes four
// of them. Query texts are built from fixed fragments only (values are
// always arguments), so the set of statements is small and bounded.
type readDB struct {
	*sql.DB
	stmts sync.Map // query text → *sql.Stmt
}

func (d *readDB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := d.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := d.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := d.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// QueryContext is [sql.DB.QueryContext] through a prepared statement.
func (d *readDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext is [sql.DB.QueryRowContext] through a prepared statement.
func (d *readDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := d.stmt(ctx, query)
	if err != nil {
		// The plain call fails the same way and carries the error in its Row.
		return d.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Close closes the statements, then the database.
func (d *readDB) Close() error {
	d.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return d.DB.Close()
}
