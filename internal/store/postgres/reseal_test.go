package postgres

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/pgtest"
	"github.com/openkms/kms/internal/store"
)

// TestResealState: the seal state is replaced with the re-sealed values,
// in one transaction, only if it is still the state the rotation started
// from; otherwise, or when fn fails, nothing changes.
func TestResealState(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	ctx := t.Context()
	now := time.Unix(1700000000, 0)
	mid := strings.Repeat("ab", 32)
	k := kms.Key{ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Account: "111122223333", Region: "us-east-1",
		Spec: kms.KeySpecSymmetricDefault, Usage: kms.KeyUsageEncryptDecrypt, Origin: kms.OriginAWSKMS,
		Manager: kms.KeyManagerCustomer, State: kms.KeyStateEnabled, CreationDate: now, Policy: "{}", CurrentMaterialID: mid}
	if err := s.CreateKey(ctx, k, &store.Material{KeyID: k.ID, ID: mid, Sealed: []byte("m1"), Created: now}); err != nil {
		t.Fatal(err)
	}
	bang := func(v store.SealedValue) ([]byte, error) { return append(v.Sealed, '!'), nil }
	boom := errors.New("boom")
	fail := func(store.SealedValue) ([]byte, error) { return nil, boom }

	// check says that the stored state and material are as given.
	check := func(what, wantState, wantSealed string) {
		t.Helper()
		st, err := s.LoadSealState(ctx)
		if err != nil && wantState != "" {
			t.Fatalf("%s: LoadSealState: %v", what, err)
		}
		m, err := s.GetMaterial(ctx, k.ID, mid)
		if err != nil {
			t.Fatal(err)
		}
		if string(st) != wantState || string(m.Sealed) != wantSealed {
			t.Fatalf("%s: state %q, material %q; want %q, %q", what, st, m.Sealed, wantState, wantSealed)
		}
	}

	if _, err := s.ResealState(ctx, nil, []byte("s1"), bang); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("ResealState with no state stored = %v, want ErrConflict", err)
	}
	check("no state", "", "m1")
	if _, err := s.CreateSealState(ctx, []byte("s0")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		old, new      string
		fn            func(store.SealedValue) ([]byte, error)
		wantErr       error
		state, sealed string
		wantN         int
	}{
		{"stale old state", "other", "s1", bang, store.ErrConflict, "s0", "m1", 0},
		{"fn fails", "s0", "s1", fail, boom, "s0", "m1", 0},
		{"swap", "s0", "s1", bang, nil, "s1", "m1!", 1},
		{"replayed swap", "s0", "s2", bang, store.ErrConflict, "s1", "m1!", 0},
		{"second swap", "s1", "s2", bang, nil, "s2", "m1!!", 1},
	}
	for _, tt := range tests {
		n, err := s.ResealState(ctx, []byte(tt.old), []byte(tt.new), tt.fn)
		if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) || n != tt.wantN {
			t.Fatalf("%s: ResealState = %d, %v; want %d, %v", tt.name, n, err, tt.wantN, tt.wantErr)
		}
		check(tt.name, tt.state, tt.sealed)
	}
}

// TestExclusive: a tool's Exclusive refuses while a node's store has
// joined the cluster, and succeeds once that store is closed; a node
// cannot join while a tool holds it.
func TestExclusive(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := t.Context()
	node, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	tool := open(t, dsn)
	nodes := func(want int) {
		t.Helper()
		if n, err := tool.Nodes(ctx); err != nil || n != want {
			t.Fatalf("Nodes = %d, %v; want %d", n, err, want)
		}
	}
	// A node of another database is not counted.
	other := open(t, pgtest.DSN(t))
	if err := other.JoinCluster(ctx); err != nil {
		t.Fatal(err)
	}
	nodes(0)
	// A tool that joined keeps rotations off but is no node.
	tool2 := open(t, dsn)
	if err := tool2.JoinAsTool(ctx); err != nil {
		t.Fatal(err)
	}
	nodes(0)
	if _, err := tool.Exclusive(ctx); !errors.Is(err, ErrNodeRunning) {
		t.Fatalf("Exclusive while a tool has joined = %v", err)
	}
	tool2.Close()

	// Before any node joined, Exclusive works and can be taken again.
	release, err := tool.Exclusive(ctx)
	if err != nil {
		t.Fatalf("Exclusive with no node = %v", err)
	}
	if err := node.JoinCluster(ctx); !errors.Is(err, ErrExclusive) {
		t.Fatalf("JoinCluster during Exclusive = %v, want ErrExclusive", err)
	}
	release()

	for _, n := range []*Store{node, open(t, dsn)} { // two nodes share it
		if err := n.JoinCluster(ctx); err != nil {
			t.Fatalf("JoinCluster = %v", err)
		}
	}
	if err := node.JoinCluster(ctx); err != nil {
		t.Fatalf("JoinCluster again = %v", err)
	}
	nodes(2)
	if _, err := tool.Exclusive(ctx); !errors.Is(err, ErrNodeRunning) ||
		!strings.Contains(err.Error(), "a node is running on this database: stop every node first") {
		t.Fatalf("Exclusive while a node runs = %v", err)
	}
	// The joined connection is not the pool's: Close does not wait for it.
	done := make(chan struct{})
	go func() { node.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close of a joined store hangs")
	}
	// The other node still runs.
	if _, err := tool.Exclusive(ctx); !errors.Is(err, ErrNodeRunning) {
		t.Fatalf("Exclusive while the second node runs = %v", err)
	}
	nodes(1)
}

// TestExclusiveAfterClose: once every node has closed its store,
// Exclusive succeeds, and a second tool is refused meanwhile.
func TestExclusiveAfterClose(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := t.Context()
	node, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.JoinCluster(ctx); err != nil {
		t.Fatal(err)
	}
	tool := open(t, dsn)
	if _, err := tool.Exclusive(ctx); !errors.Is(err, ErrNodeRunning) {
		t.Fatalf("Exclusive while a node runs = %v", err)
	}
	node.Close()
	release, err := tool.Exclusive(ctx)
	if err != nil {
		t.Fatalf("Exclusive after the node closed = %v", err)
	}
	if _, err := open(t, dsn).Exclusive(ctx); !errors.Is(err, ErrNodeRunning) {
		t.Fatalf("a second Exclusive = %v", err)
	}
	release()
	// Released: a node can join again.
	n2 := open(t, dsn)
	if err := n2.JoinCluster(ctx); err != nil {
		t.Fatalf("JoinCluster after release = %v", err)
	}
}

// TestRejoin: a node whose lock session is lost (here terminated) takes
// the lock again on a new session, so Exclusive refuses again shortly.
func TestRejoin(t *testing.T) {
	old := rejoinEvery
	rejoinEvery = 20 * time.Millisecond
	t.Cleanup(func() { rejoinEvery = old })
	dsn := pgtest.DSN(t)
	ctx := t.Context()
	node, tool := open(t, dsn), open(t, dsn)
	if err := node.JoinCluster(ctx); err != nil {
		t.Fatal(err)
	}
	holders := func() []int {
		t.Helper()
		rows, err := tool.pool.Query(ctx, `SELECT pid FROM pg_locks
			WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND objsubid = 1 AND mode = 'ShareLock' AND granted`, int64(clusterLock))
		pids, err := collect(rows, err, func(r pgx.Row) (int, error) {
			var pid int
			err := r.Scan(&pid)
			return pid, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return pids
	}
	pids := holders()
	if len(pids) != 1 {
		t.Fatalf("holders of the shared lock: %v", pids)
	}
	if _, err := tool.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pids[0]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	// pg_terminate_backend only signals: wait for the session to end.
	for slices.Contains(holders(), pids[0]) {
		if time.Now().After(deadline) {
			t.Fatal("the terminated session still holds the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		release, err := tool.Exclusive(ctx)
		if errors.Is(err, ErrNodeRunning) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		release() // the session is gone: let the node take it again
		if time.Now().After(deadline) {
			t.Fatal("the node did not join again after its session was lost")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if now := holders(); len(now) != 1 || now[0] == pids[0] {
		t.Fatalf("holders after the rejoin: %v (before %v)", now, pids)
	}
}
