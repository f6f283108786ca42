package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Snapshot copies the database at src, as of one transaction, into a new
// file dst (mode 0600), with VACUUM INTO. It reads src as any reader does,
// so it may run beside a process writing to it: in WAL mode neither waits
// for the other. The audit log's database is copied with it too.
func Snapshot(ctx context.Context, src, dst string) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return err // the driver would create a missing file
	}
	// Made first, empty, so that it has our mode: VACUUM INTO writes into
	// an empty file as into a new one.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: abs}).EscapedPath()+fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeout))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("snapshot of %s: %w", src, err)
	}
	return nil
}
