package postgres

import (
	"context"
	"time"
)

// dutiesLock is the key of the session advisory lock that the node running
// the background duties (deletions, rotations, expiries, audit retention)
// holds while it runs them ("duty" in ASCII).
const dutiesLock = 0x64757479

// TryLead takes the cluster-wide lock of the background duties, if no
// other node holds it, on a connection of its own; release gives it back.
// A node that dies, or loses that connection, loses the lock with it, and
// the next node to try takes over.
func (s *Store) TryLead(ctx context.Context) (release func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, wrap("lead", err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, dutiesLock).Scan(&ok); err != nil || !ok {
		conn.Release()
		return nil, false, wrap("lead", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, dutiesLock); err != nil {
			conn.Conn().Close(ctx) // the session, and so the lock, ends with it
		}
		conn.Release()
	}, true, nil
}

// accountLocks is the first key of the session advisory locks of
// LockAccount ("iam" in ASCII); the second is a hash of the account id.
const accountLocks = 0x69616d

// LockAccount implements [store.AccountLocker]: a session advisory lock on
// a connection of its own, held until unlock. It waits for another node
// that holds it, as long as ctx lasts.
func (s *Store) LockAccount(ctx context.Context, account string) (unlock func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, wrap("lock account", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, accountLocks, account); err != nil {
		conn.Release()
		return nil, wrap("lock account", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, accountLocks, account); err != nil {
			conn.Conn().Close(ctx) // the session, and so the lock, ends with it
		}
		conn.Release()
	}, nil
}
