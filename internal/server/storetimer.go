package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openkms/kms/internal/store"
)

// timedStore is a store.Store that times every call of the one it wraps
// (kms_store_duration_seconds{call}), its methods in storetimer_gen.go.
// It passes on the optional interfaces of its store (store.Bulker,
// store.AccountLocker, store.KeyCounter) with what their callers do
// without them, so wrapping changes nothing but the metrics.
type timedStore struct {
	s store.Store
	// h holds each method's histogram, resolved once: a call allocates
	// nothing for its metrics.
	h [len(storeCalls)]prometheus.Observer
}

var _ interface {
	store.Store
	store.Bulker
	store.AccountLocker
	store.KeyCounter
} = (*timedStore)(nil)

// storeBuckets span a read of SQLite's page cache (microseconds) to a
// cluster's transaction waiting for a lock (seconds).
var storeBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

func newTimedStore(s store.Store, reg prometheus.Registerer) *timedStore {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kms_store_duration_seconds",
		Help:    "Time of the calls to the store (SQLite or PostgreSQL), by method; errors included.",
		Buckets: storeBuckets,
	}, []string{"call"})
	reg.MustRegister(h)
	t := &timedStore{s: s}
	for i, name := range storeCalls {
		t.h[i] = h.WithLabelValues(name)
	}
	return t
}

// rawStore is the server's store without its timing decorator, for the
// optional interfaces the decorator does not pass on.
func (s *Server) rawStore() store.Store {
	if t, ok := s.store.(*timedStore); ok {
		return t.s
	}
	return s.store
}

func (t *timedStore) observe(call int, start time.Time) {
	t.h[call].Observe(time.Since(start).Seconds())
}

// Bulk implements store.Bulker: in one transaction where the store has
// them, else fn alone (as seed.go does without one).
func (t *timedStore) Bulk(ctx context.Context, fn func(ctx context.Context) error) error {
	if b, ok := t.s.(store.Bulker); ok {
		return b.Bulk(ctx, fn)
	}
	return fn(ctx)
}

// LockAccount implements store.AccountLocker: the store's lock where it
// has one, else none (as package identity does without one).
func (t *timedStore) LockAccount(ctx context.Context, account string) (unlock func(), err error) {
	if l, ok := t.s.(store.AccountLocker); ok {
		return l.LockAccount(ctx, account)
	}
	return func() {}, nil
}

// CountKeys implements store.KeyCounter; nothing for a store without it.
func (t *timedStore) CountKeys(ctx context.Context) ([]store.KeyCount, error) {
	if c, ok := t.s.(store.KeyCounter); ok {
		return c.CountKeys(ctx)
	}
	return nil, nil
}
