package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChangeKind says what a Change touched.
type ChangeKind string

// The kinds of change the schema's triggers announce.
const (
	ChangeKey      ChangeKind = "key"      // a key, its tags, materials or grants
	ChangeAlias    ChangeKind = "alias"    // an alias of the key
	ChangeIdentity ChangeKind = "identity" // an account, access key, user, role or policy
)

// Change is a committed change to rows a node caches.
type Change struct {
	Kind  ChangeKind
	KeyID string // for ChangeKey and ChangeAlias
}

// changeChannel is the channel the triggers notify on.
const changeChannel = "kms_changes"

// Feed timing. A node trusts its caches for trustWindow after sending a
// ping that has come back: PostgreSQL delivers notifications in commit
// order, so by then every change committed before the ping was sent has
// reached the node's handler. Pings go every pingEvery, so while the feed
// works the window never closes; when it stops, it closes within a second.
const (
	pingEvery   = 200 * time.Millisecond
	trustWindow = 900 * time.Millisecond
	pingTimeout = 2 * time.Second
	maxBackoff  = 2 * time.Second
	// silence is how long the listening connection may deliver nothing,
	// not even this node's pings, before it is taken for dead (a peer that
	// vanished without closing the TCP connection) and replaced.
	silence = 3 * time.Second
)

// Feed delivers the changes committed by every node to this node's caches.
// Trusted says whether the caches may be used: only while the feed has
// delivered, within the last trustWindow, a ping this node sent, and so
// every change committed before it. A node whose listening connection
// fails stops trusting its caches at once, reconnects, and drops them all
// (OnReset) before it trusts them again.
type Feed struct {
	store    *Store
	log      *slog.Logger
	onChange func(Change)
	onReset  func()
	token    string // this feed's pings carry it

	// Times are offsets from epoch on the monotonic clock, so that a
	// change of the wall clock cannot stretch the trust.
	epoch        time.Time
	trustedUntil atomic.Int64
	stop         context.CancelFunc
	wg           sync.WaitGroup
}

// Watch starts a Feed: onChange is called, from one goroutine and in
// commit order, for every change (this node's own too); onReset when
// changes may have been missed, so that every cache entry must go. Stop
// it with Close.
func (s *Store) Watch(log *slog.Logger, onChange func(Change), onReset func()) *Feed {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Feed{store: s, log: log, onChange: onChange, onReset: onReset,
		token: hex.EncodeToString(randomBytes(8)), epoch: time.Now(), stop: cancel}
	f.wg.Go(func() { f.listen(ctx) })
	f.wg.Go(func() { f.ping(ctx) })
	return f
}

// Trusted says whether caches may be used now.
func (f *Feed) Trusted() bool { return int64(time.Since(f.epoch)) < f.trustedUntil.Load() }

// Close stops the feed; the caches are no longer trusted.
func (f *Feed) Close() {
	f.stop()
	f.wg.Wait()
	f.trustedUntil.Store(0)
}

func (f *Feed) listen(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := f.session(ctx)
		f.trustedUntil.Store(0)
		if ctx.Err() != nil {
			return
		}
		f.log.Warn("cluster change feed lost; caches distrusted until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// session listens on one connection until it fails.
func (f *Feed) session(ctx context.Context) error {
	cfg := f.store.pool.Config().ConnConfig.Copy()
	cctx, cancel := context.WithTimeout(ctx, pingTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		return err
	}
	// Whatever was committed while no connection listened is unknown:
	// drop everything, then trust again once a ping comes back.
	f.onReset()
	for {
		wctx, cancel := context.WithTimeout(ctx, silence)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			return err
		}
		kind, rest, _ := strings.Cut(n.Payload, " ")
		if kind == "ping" {
			token, sent, _ := strings.Cut(rest, " ")
			if ns, err := strconv.ParseInt(sent, 10, 64); err == nil && token == f.token {
				until := ns + int64(trustWindow)
				if until > f.trustedUntil.Load() {
					f.trustedUntil.Store(until)
				}
			}
			continue
		}
		f.onChange(Change{Kind: ChangeKind(kind), KeyID: rest})
	}
}

// ping sends a ping through the channel every pingEvery, stamped with the
// time (since epoch) before it was sent.
func (f *Feed) ping(ctx context.Context) {
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		sent := int64(time.Since(f.epoch))
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		_, err := f.store.pool.Exec(pctx, `SELECT pg_notify($1, $2)`, changeChannel, fmt.Sprintf("ping %s %d", f.token, sent))
		cancel()
		if err != nil && ctx.Err() == nil {
			f.log.Debug("cluster change feed ping", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
