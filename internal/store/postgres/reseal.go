package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openkms/kms/internal/store"
)

var _ store.Resealer = (*Store)(nil)

// Reseal implements [store.Resealer]: every key material and access key
// secret is re-sealed in one transaction, as the SQLite backend does. Only
// the sealed columns change. The two tables are locked against writes
// (reads go on) for the transaction, so that no value sealed under the old
// seal can be added while the others are re-sealed.
func (s *Store) Reseal(ctx context.Context, fn func(store.SealedValue) ([]byte, error)) (int, error) {
	n := 0
	err := s.write(ctx, func(tx pgx.Tx) error {
		var err error
		n, err = reseal(ctx, tx, fn)
		return err
	})
	if err != nil {
		return 0, wrap("reseal", err)
	}
	return n, nil
}

// ResealState re-seals as Reseal does and, in the same transaction,
// replaces the stored seal state (see LoadSealState) with newState: the
// re-sealed values and the state that opens them commit together, so the
// database is never left with values that its seal state cannot open. It
// is a compare-and-swap: if the stored state is not oldState (another
// rotation won, or there is none) it fails with [store.ErrConflict] and
// changes nothing, without calling fn.
func (s *Store) ResealState(ctx context.Context, oldState, newState []byte, fn func(store.SealedValue) ([]byte, error)) (int, error) {
	if len(newState) == 0 {
		return 0, errors.New("postgres: reseal state: empty new state")
	}
	n := 0
	err := s.write(ctx, func(tx pgx.Tx) error {
		// The row lock makes a concurrent ResealState wait, then see our
		// state and fail the comparison.
		var cur []byte
		err := tx.QueryRow(ctx, `SELECT data FROM seal_state WHERE id = 1 FOR UPDATE`).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no seal state stored: %w", store.ErrConflict)
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(cur, oldState) {
			return fmt.Errorf("the stored seal state is not the one the rotation started from: %w", store.ErrConflict)
		}
		if n, err = reseal(ctx, tx, fn); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE seal_state SET data = $1 WHERE id = 1`, newState)
		return err
	})
	if err != nil {
		return 0, wrap("reseal state", err)
	}
	return n, nil
}

// reseal passes every sealed value read in tx to fn and writes the
// results back, returning how many; the first error aborts.
func reseal(ctx context.Context, tx pgx.Tx, fn func(store.SealedValue) ([]byte, error)) (int, error) {
	// EXCLUSIVE mode conflicts with INSERT, UPDATE and DELETE but not with
	// SELECT: a writer waits for the new seal, readers are not stopped.
	if _, err := tx.Exec(ctx, `LOCK TABLE materials, access_keys IN EXCLUSIVE MODE`); err != nil {
		return 0, err
	}
	rows, err := tx.Query(ctx, `SELECT key_id, id, sealed FROM materials ORDER BY key_id, id`)
	vals, err := collect(rows, err, func(r pgx.Row) (store.SealedValue, error) {
		v := store.SealedValue{Kind: store.SealedMaterial}
		err := r.Scan(&v.KeyID, &v.ID, &v.Sealed)
		return v, err
	})
	if err != nil {
		return 0, err
	}
	rows, err = tx.Query(ctx, `SELECT id, sealed_secret FROM access_keys ORDER BY id`)
	keys, err := collect(rows, err, func(r pgx.Row) (store.SealedValue, error) {
		v := store.SealedValue{Kind: store.SealedAccessKey}
		err := r.Scan(&v.ID, &v.Sealed)
		return v, err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range append(vals, keys...) {
		sealed, err := fn(v)
		if err != nil {
			return 0, fmt.Errorf("re-sealing %s %s: %w", v.Kind, v.ID, err)
		}
		var ok bool
		if v.Kind == store.SealedMaterial {
			ok, err = exec(ctx, tx, `UPDATE materials SET sealed = $1 WHERE key_id = $2 AND id = $3`, sealed, v.KeyID, v.ID)
		} else {
			ok, err = exec(ctx, tx, `UPDATE access_keys SET sealed_secret = $1 WHERE id = $2`, sealed, v.ID)
		}
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, fmt.Errorf("re-sealing %s %s: the row is gone", v.Kind, v.ID)
		}
		n++
	}
	return n, nil
}

// clusterLock is the key of the session advisory lock that tells running
// nodes from an offline seal rotation ("seal" in ASCII): every node holds
// it shared (JoinCluster), a rotation exclusively (Exclusive). Distinct
// from migrationLock and dutiesLock.
const clusterLock = 0x7365616c

// nodeLock is held shared, beside clusterLock, by nodes only (not by tools
// that join to write, such as `kms account --store`): Nodes counts its
// holders. Nothing takes it exclusively.
const nodeLock = 0x6e6f6465 // "node"

// ErrNodeRunning is Exclusive's error while a node has joined the cluster.
var ErrNodeRunning = errors.New("a node is running on this database: stop every node first")

// ErrExclusive is JoinCluster's error while a tool holds Exclusive.
var ErrExclusive = errors.New("a seal rotation (kms seal rotate) is running on this database: start the node when it is done")

// joined is the session that holds a node's shared clusterLock; a
// goroutine owns its connection and takes the lock again when the session
// is lost (the database restarted, the connection broke).
type joined struct {
	mu   sync.Mutex
	node bool          // a node's session: it holds nodeLock too
	stop chan struct{} // closed by leave
	done chan struct{} // closed when the goroutine has closed its connection
}

// rejoinEvery is how often a joined store checks its session: a node
// whose session was lost holds no lock for about that long once the
// database answers again.
var rejoinEvery = time.Second

// JoinCluster marks this store's process as a running node until Close:
// it takes clusterLock shared, on a connection of its own taken out of the
// pool, so that Exclusive refuses while the node runs. It does not wait:
// while a rotation holds the lock it fails with ErrExclusive. Joining
// twice is a no-op.
//
// The lock lives as long as that connection's session; should the session
// be lost, the store takes the lock again on a new one, checking every
// rejoinEvery. In between (an outage of the database, or one during which
// only the node's lock connection broke) an offline tool could take
// Exclusive: stopping every node before `kms seal rotate` remains the
// operator's duty, the lock only the guard against forgetting it.
func (s *Store) JoinCluster(ctx context.Context) error { return s.join1(ctx, true) }

// JoinAsTool is JoinCluster for a tool that writes sealed values (an
// account's secret) while nodes may run: a seal rotation refuses while it
// runs, but Nodes does not count it.
func (s *Store) JoinAsTool(ctx context.Context) error { return s.join1(ctx, false) }

func (s *Store) join1(ctx context.Context, node bool) error {
	s.join.mu.Lock()
	defer s.join.mu.Unlock()
	if s.join.stop != nil {
		return nil
	}
	s.join.node = node
	conn, err := s.joinSession(ctx)
	if err != nil {
		return err
	}
	s.join.stop, s.join.done = make(chan struct{}), make(chan struct{})
	go s.keepJoined(conn, s.join.stop, s.join.done)
	return nil
}

// joinSession takes clusterLock shared on a new session.
func (s *Store) joinSession(ctx context.Context) (*pgx.Conn, error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, wrap("join cluster", err)
	}
	conn := pc.Hijack() // Close must not wait for it, nor the pool lend it
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock_shared($1)`, int64(clusterLock)).Scan(&ok); err != nil || !ok {
		conn.Close(context.Background())
		if err == nil {
			return nil, fmt.Errorf("postgres: join cluster: %w", ErrExclusive)
		}
		return nil, wrap("join cluster", err)
	}
	if s.join.node {
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock_shared($1)`, int64(nodeLock)); err != nil {
			conn.Close(context.Background())
			return nil, wrap("join cluster", err)
		}
	}
	return conn, nil
}

// keepJoined holds conn's session until stop, replacing it when lost.
func (s *Store) keepJoined(conn *pgx.Conn, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(rejoinEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			if conn != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				// Unlocked first: the session's end would release the lock
				// too, but only once the server notices, after Close returned.
				conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`) // clusterLock, nodeLock
				conn.Close(ctx)
				cancel()
			}
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if conn != nil && conn.Ping(ctx) != nil {
			conn.Close(ctx)
			conn = nil
		}
		if conn == nil {
			conn, _ = s.joinSession(ctx) // nil until the database answers again
		}
		cancel()
	}
}

// Exclusive takes clusterLock exclusively, on a connection of its own,
// until release: for tools that must run with no node running (an offline
// seal rotation). It does not wait: if a node has joined (or another tool
// holds it) it fails with ErrNodeRunning. A node cannot join meanwhile.
func (s *Store) Exclusive(ctx context.Context) (release func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, wrap("exclusive", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(clusterLock)).Scan(&ok); err != nil || !ok {
		conn.Release()
		if err == nil {
			return nil, fmt.Errorf("postgres: %w", ErrNodeRunning)
		}
		return nil, wrap("exclusive", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(clusterLock)); err != nil {
			conn.Conn().Close(ctx) // the session, and so the lock, ends with it
		}
		conn.Release()
	}, nil
}

// leave ends JoinCluster's session, releasing its lock.
func (s *Store) leave() {
	s.join.mu.Lock()
	defer s.join.mu.Unlock()
	if s.join.stop != nil {
		close(s.join.stop)
		<-s.join.done
		s.join.stop, s.join.done = nil, nil
	}
}

// Nodes returns how many nodes have joined the cluster (JoinCluster) on
// this database: the sessions holding nodeLock. An advisory
// lock on a bigint key shows in pg_locks as classid (its high 32 bits),
// objid (its low 32 bits) and objsubid 1.
func (s *Store) Nodes(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND mode = 'ShareLock' AND granted
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = 0 AND objid = $1 AND objsubid = 1`, int64(nodeLock)).Scan(&n)
	if err != nil {
		return 0, wrap("nodes", err)
	}
	return n, nil
}
