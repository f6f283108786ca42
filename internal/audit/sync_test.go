package audit

import (
	"testing"
	"time"
)

// TestSyncClasses: under SyncChanges a use's record is answered once
// written, and is neither synced nor indexed until the interval passes or
// a change's record (synced before its answer) takes it along; under
// SyncAlways every record is synced before its answer.
func TestSyncClasses(t *testing.T) {
	t.Parallel()
	change := func() *Record {
		r := kmsRecord("us-east-1", "DisableKey", keyID1)
		r.ReadOnly = false
		return r
	}
	failedChange := func() *Record {
		r := change()
		r.ErrorCode, r.ErrorMessage = "AccessDeniedException", "denied"
		return r
	}
	use := func() *Record { return kmsRecord("us-east-1", "Encrypt", keyID1) }

	t.Run("changes", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig(t)
		cfg.SyncInterval = time.Minute
		l := openLog(t, cfg)
		for _, r := range []*Record{use(), use(), failedChange()} {
			if err := l.Append(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
		// Nothing is synced, so the indexer has nothing either.
		time.Sleep(50 * time.Millisecond)
		if s := l.Stats(); s.Records != 3 || s.Syncs != 0 || l.indexed.Load() != 0 {
			t.Fatalf("after three uses: %+v, %d indexed", s, l.indexed.Load())
		}
		if err := l.Append(t.Context(), change()); err != nil {
			t.Fatal(err)
		}
		if s := l.Stats(); s.Syncs != 1 {
			t.Fatalf("a change's Append returned before its sync: %+v", s)
		}
		waitFor(t, "the four records indexed", func() bool { return l.indexed.Load() == 4 })
	})

	t.Run("interval", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig(t)
		cfg.SyncInterval = 20 * time.Millisecond
		l := openLog(t, cfg)
		if err := l.Append(t.Context(), use()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the interval's sync", func() bool { return l.Stats().Syncs == 1 && l.indexed.Load() == 1 })
	})

	t.Run("read waits", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig(t)
		cfg.SyncInterval = time.Minute
		l := openLog(t, cfg)
		r := use()
		if err := l.Append(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		// A read sees every record appended before it: it has the writer
		// sync now rather than wait a minute.
		events, _, err := l.Lookup(t.Context(), Query{EventID: r.EventID})
		if err != nil || len(events) != 1 {
			t.Fatalf("Lookup of a record not yet synced: %v %v", events, err)
		}
	})

	t.Run("always", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig(t)
		cfg.Sync = SyncAlways
		cfg.SyncInterval = time.Minute
		l := openLog(t, cfg)
		for i := range 3 {
			if err := l.Append(t.Context(), use()); err != nil {
				t.Fatal(err)
			}
			if s := l.Stats(); s.Syncs != uint64(i+1) {
				t.Fatalf("use %d answered before its sync: %+v", i+1, s)
			}
		}
	})
}

func TestSyncConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode     SyncMode
		interval time.Duration
		ok       bool
	}{
		{"", 0, true},
		{SyncChanges, time.Millisecond, true},
		{SyncAlways, MaxSyncInterval, true},
		{"sometimes", 0, false},
		{SyncChanges, -time.Millisecond, false},
		{SyncChanges, MaxSyncInterval + 1, false},
	} {
		cfg := testConfig(t)
		cfg.Sync, cfg.SyncInterval = tc.mode, tc.interval
		l, err := Open(cfg)
		if (err == nil) != tc.ok {
			t.Errorf("Open with sync %q every %v: %v", tc.mode, tc.interval, err)
		}
		if err == nil {
			l.Close()
		}
	}
}

// TestSyncBuckets: a sync is counted in the first bucket whose bound it
// does not exceed, or in the last past every bound.
func TestSyncBuckets(t *testing.T) {
	t.Parallel()
	var p progress
	for _, d := range []time.Duration{0, 50 * time.Microsecond, 51 * time.Microsecond, time.Second, time.Minute} {
		p.countSync(d)
	}
	s := p.Stats()
	want := [len(SyncBounds) + 1]uint64{0: 2, 1: 1, len(SyncBounds) - 1: 1, len(SyncBounds): 1}
	if s.SyncBuckets != want || s.Syncs != 5 || s.SyncTime != 0+50*time.Microsecond+51*time.Microsecond+time.Second+time.Minute {
		t.Errorf("Stats %+v, want buckets %v", s, want)
	}
}
