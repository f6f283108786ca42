package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openkms/kms"
)

// TestSnapshot: snapshots taken while keys are being created are databases
// of their own, mode 0600, each holding every key created before it began
// and keys in the order they were created (a prefix: one transaction's
// view), and the source goes on unharmed.
func TestSnapshot(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "kms.db"))
	newKey := func(i int) kms.Key {
		return kms.Key{
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Account: "111122223333", Region: "us-east-1",
			Spec: kms.KeySpecSymmetricDefault, Usage: kms.KeyUsageEncryptDecrypt,
			Origin: kms.OriginAWSKMS, Manager: kms.KeyManagerCustomer, State: kms.KeyStateEnabled,
			CreationDate: time.UnixMilli(1700000000000 + int64(i)).UTC(),
		}
	}
	var (
		mu      sync.Mutex
		created int
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.CreateKey(context.Background(), newKey(i), nil); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			created = i + 1
			mu.Unlock()
		}
	})
	for n := range 3 {
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		before := created
		mu.Unlock()
		dst := filepath.Join(dir, fmt.Sprintf("copy%d.db", n))
		if err := Snapshot(ctx, filepath.Join(dir, "kms.db"), dst); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("snapshot file: %v, %v", fi, err)
		}
		c := open(t, dst)
		var count int
		if err := c.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM keys`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count < before {
			t.Fatalf("snapshot %d holds %d keys, %d were created before it began", n, count, before)
		}
		for i := range count {
			if _, err := c.GetKey(ctx, newKey(i).ID); err != nil {
				t.Fatalf("snapshot %d of %d keys lacks key %d: %v", n, count, i, err)
			}
		}
	}
	close(stop)
	wg.Wait()

	// Refused: a missing source (not made), an existing target (not overwritten).
	if err := Snapshot(ctx, filepath.Join(dir, "none.db"), filepath.Join(dir, "x.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing source: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !os.IsNotExist(err) {
		t.Error("Snapshot made its missing source")
	}
	if err := Snapshot(ctx, filepath.Join(dir, "kms.db"), filepath.Join(dir, "copy0.db")); !errors.Is(err, os.ErrExist) {
		t.Errorf("existing target: %v", err)
	}
}
