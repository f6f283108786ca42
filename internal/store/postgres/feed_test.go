package postgres

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/pgtest"
	"github.com/openkms/kms/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestSealState(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	if _, err := s.LoadSealState(t.Context()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a new database has a seal state: %v", err)
	}
	got, err := s.CreateSealState(t.Context(), []byte("first"))
	if err != nil || string(got) != "first" {
		t.Fatalf("CreateSealState: %q, %v", got, err)
	}
	if got, err = s.CreateSealState(t.Context(), []byte("second")); err != nil || string(got) != "first" {
		t.Fatalf("a second CreateSealState: %q, %v; want the first state", got, err)
	}
	if got, err = s.LoadSealState(t.Context()); err != nil || string(got) != "first" {
		t.Fatalf("LoadSealState: %q, %v", got, err)
	}
}

// recorder collects what a Feed delivers.
type recorder struct {
	mu      sync.Mutex
	changes []Change
	resets  int
}

func (r *recorder) change(c Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resets++
}

func (r *recorder) saw(c Change) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, got := range r.changes {
		if got == c {
			return true
		}
	}
	return false
}

func (r *recorder) resetCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resets
}

// eventually polls cond until it holds; only a broken build waits long.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never: %s", what)
}

// TestFeed: changes committed on one node reach another node's feed, each
// as what its caches must drop; the feed trusts the caches only while it
// works, and after it was lost it resets them before trusting them again.
func TestFeed(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn), open(t, dsn)
	rec := &recorder{}
	f := b.Watch(quiet, rec.change, rec.reset)
	defer f.Close()
	eventually(t, "the feed is trusted", f.Trusted)
	if rec.resetCount() != 1 {
		t.Fatalf("%d resets on start, want 1", rec.resetCount())
	}

	k := testKey("11111111-2222-3333-4444-555555555555")
	m := testMaterial(k.ID, "01", k.CreationDate)
	for _, tc := range []struct {
		name   string
		change func() error
		want   Change
	}{
		{"create key", func() error { return a.CreateKey(ctx, k, &m) }, Change{ChangeKey, k.ID}},
		{"alias", func() error {
			return a.CreateAlias(ctx, kms.Alias{Name: "alias/x", Account: k.Account, Region: k.Region, TargetKeyID: k.ID, CreationDate: k.CreationDate, LastUpdatedDate: k.CreationDate})
		}, Change{ChangeAlias, k.ID}},
		{"account", func() error {
			return a.CreateAccount(ctx, store.Account{ID: "444455556666", Created: k.CreationDate})
		}, Change{ChangeIdentity, ""}},
		{"disable key", func() error {
			k2 := k
			k2.State = kms.KeyStateDisabled
			return a.UpdateKey(ctx, k2)
		}, Change{ChangeKey, k.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.changes = nil
			rec.mu.Unlock()
			if err := tc.change(); err != nil {
				t.Fatal(err)
			}
			eventually(t, "node b hears of "+tc.name, func() bool { return rec.saw(tc.want) })
		})
	}

	// The listening connection is cut (as a failover or a proxy would):
	// the caches are distrusted, reset, and trusted again.
	c := connect(t, dsn)
	if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN%' AND datname = current_database()`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the feed resets after losing its connection", func() bool { return rec.resetCount() >= 2 })
	eventually(t, "the feed is trusted again", f.Trusted)

	f.Close()
	if f.Trusted() {
		t.Fatal("a closed feed is trusted")
	}
}

// TestUnavailable: while the database restarts, statements fail with
// store.ErrUnavailable (a retryable error), and work again after, on the
// same Store.
func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.DSN(t))
	if err := s.CreateAccount(ctx, store.Account{ID: "111122223333", Created: time.UnixMilli(1)}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pgtest.Restart() }()
	var sawDown bool
	for restarting := true; restarting; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			restarting = false
		default:
		}
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := s.GetAccount(qctx, "111122223333")
		cancel()
		if err != nil {
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("while the database restarts: %v, want store.ErrUnavailable", err)
			}
			sawDown = true
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !sawDown {
		t.Log("no statement ran while the database was down (a fast restart)")
	}
	eventually(t, "the store works after the restart", func() bool {
		_, err := s.GetAccount(ctx, "111122223333")
		return err == nil
	})
	if _, err := s.GetAccount(ctx, "000000000000"); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a missing row after the restart: %v", err)
	}
}

// TestTryLead: one node at a time holds the duties; a node that goes
// (its connection with it) hands them over.
func TestTryLead(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn), open(t, dsn)
	release, ok, err := a.TryLead(ctx)
	if err != nil || !ok {
		t.Fatalf("a: %v %v", ok, err)
	}
	if _, ok, err := b.TryLead(ctx); err != nil || ok {
		t.Fatalf("b led beside a: %v %v", ok, err)
	}
	release()
	releaseB, ok, err := b.TryLead(ctx)
	if err != nil || !ok {
		t.Fatalf("b after a released: %v %v", ok, err)
	}
	// b's session ends (its node died, or the connection was cut), and a
	// takes over.
	c := connect(t, dsn)
	if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND objid = $1 AND granted`, dutiesLock); err != nil {
		t.Fatal(err)
	}
	defer releaseB() // finds its session gone, and closes the connection
	eventually(t, "a leads once b is gone", func() bool {
		r, ok, err := a.TryLead(ctx)
		if ok {
			r()
		}
		return err == nil && ok
	})
}

// TestLockAccount: one node at a time holds an account's lock; other
// accounts are not held up; a node waiting gives up with its context.
func TestLockAccount(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn), open(t, dsn)
	unlock, err := a.LockAccount(ctx, "111122223333")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = b.LockAccount(short, "111122223333")
	cancel()
	if err == nil {
		t.Fatal("b locked an account a holds")
	}
	other, err := b.LockAccount(ctx, "444455556666")
	if err != nil {
		t.Fatalf("another account: %v", err)
	}
	other()
	got := make(chan error, 1)
	go func() {
		u, err := b.LockAccount(ctx, "111122223333")
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("b after a unlocked: %v", err)
	}
}
