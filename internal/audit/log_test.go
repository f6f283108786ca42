package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentAppend: many goroutines appending at once share
// transactions, and the chains come out whole.
func TestConcurrentAppend(t *testing.T) {
	t.Parallel()
	const goroutines, each = 64, 200
	cfg := testConfig(t)
	cfg.CheckpointEvery = 1000
	l := openLog(t, cfg)
	regions := []string{"us-east-1", "eu-west-1"}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r := kmsRecord(regions[g%2], "Encrypt", keyID1)
				r.RequestParameters = map[string]any{"goroutine": g, "i": i}
				if err := l.Append(t.Context(), r); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	s := l.Stats()
	if s.Records != goroutines*each {
		t.Errorf("Stats.Records = %d, want %d", s.Records, goroutines*each)
	}
	if s.Batches >= s.Records {
		t.Errorf("%d batches for %d records: no group commit", s.Batches, s.Records)
	}
	t.Logf("%d records in %d batches (%.1f per batch), %d checkpoints",
		s.Records, s.Batches, float64(s.Records)/float64(s.Batches), s.Checkpoints)

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, cfg.Path, cfg.Signer)
	for _, region := range regions {
		g := regionReport(t, rep, region)
		if g.Records != goroutines*each/2 || g.UnsignedTail != 0 || g.Checkpoints < 3 {
			t.Errorf("%s: %+v, want %d records, all signed", region, g, goroutines*each/2)
		}
	}
}

// failSwitch is a FailWrites hook that tests flip.
type failSwitch struct{ err atomic.Pointer[error] }

func (f *failSwitch) set(err error) {
	if err == nil {
		f.err.Store(nil)
	} else {
		f.err.Store(&err)
	}
}

func (f *failSwitch) hook() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// TestFailureAndRecovery: while the store fails, Append fails and Healthy
// says so; when it works again, Healthy recovers without any Append, and
// the chain has no hole where the failed records were.
func TestFailureAndRecovery(t *testing.T) {
	t.Parallel()
	var fail failSwitch
	cfg := testConfig(t)
	cfg.FailWrites = fail.hook
	cfg.RetryInterval = 5 * time.Millisecond
	l := openLog(t, cfg)
	appendN(t, l, "us-east-1", 3)
	if err := l.Healthy(); err != nil {
		t.Fatalf("Healthy: %v", err)
	}

	errDisk := errors.New("disk on fire")
	fail.set(errDisk)
	var failed []string
	for range 4 {
		r := kmsRecord("us-east-1", "Encrypt", keyID1)
		err := l.Append(t.Context(), r)
		if !errors.Is(err, errDisk) {
			t.Fatalf("Append on a failing store: %v, want %v", err, errDisk)
		}
		failed = append(failed, r.EventID)
	}
	if err := l.Healthy(); !errors.Is(err, errDisk) {
		t.Errorf("Healthy on a failing store: %v", err)
	}

	fail.set(nil)
	waitFor(t, "Healthy after the store recovered", func() bool { return l.Healthy() == nil })
	appendN(t, l, "us-east-1", 2)
	if s := l.Stats(); s.Records != 5 || s.Failures == 0 {
		t.Errorf("Stats: %+v", s)
	}

	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	g := regionReport(t, mustVerify(t, cfg.Path, cfg.Signer), "us-east-1")
	if g.Records != 5 || g.LastSeq != 5 {
		t.Errorf("after recovery: %+v", g)
	}
	for _, id := range failed {
		if events, _, err := l.Lookup(t.Context(), Query{EventID: id}); err != nil || len(events) != 0 {
			t.Errorf("failed record %s was stored: %v, %v", id, events, err)
		}
	}
}

// TestStoreFull fails writes for real: SQLite's page limit stands in for a
// full disk (SQLITE_FULL either way), and lifting it for freeing space.
func TestStoreFull(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.RetryInterval = 5 * time.Millisecond
	l := openLog(t, cfg)
	appendN(t, l, "us-east-1", 3)

	// The limit is a setting of the writer's connection, the only one.
	var pages int
	if err := l.w.QueryRowContext(t.Context(), `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	setLimit := func(n int) {
		if _, err := l.w.ExecContext(t.Context(), fmt.Sprintf(`PRAGMA max_page_count = %d`, n)); err != nil {
			t.Fatal(err)
		}
	}
	setLimit(pages)

	// The free room in the last pages fills first.
	var err error
	for i := 0; err == nil; i++ {
		if i == 10000 {
			t.Fatal("appends still succeed on a full store")
		}
		r := kmsRecord("us-east-1", "Encrypt", keyID1)
		r.RequestParameters = map[string]any{"pad": strings.Repeat("x", 500)}
		err = l.Append(t.Context(), r)
	}
	t.Logf("Append on a full store: %v", err)
	if !strings.Contains(err.Error(), "full") {
		t.Errorf("Append on a full store: %v", err)
	}
	if l.Healthy() == nil {
		t.Error("Healthy on a full store")
	}
	// The probe keeps failing while the store is full.
	before := l.Stats().Failures
	waitFor(t, "a failed probe", func() bool { return l.Stats().Failures > before })
	if l.Healthy() == nil {
		t.Error("Healthy on a full store after a probe")
	}

	setLimit(1 << 30)
	waitFor(t, "Healthy after room was made", func() bool { return l.Healthy() == nil })
	appendN(t, l, "us-east-1", 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, cfg.Path, cfg.Signer)
}

// TestAppendContext: an Append whose context ends while the writer is
// stuck returns, and the log carries on.
func TestAppendContext(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	var blocking atomic.Bool
	cfg := testConfig(t)
	cfg.FailWrites = func() error {
		if blocking.Load() {
			<-block
		}
		return nil
	}
	l := openLog(t, cfg)
	blocking.Store(true)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Append(ctx, kmsRecord("us-east-1", "Encrypt", "")) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a canceled context: %v", err)
	}
	blocking.Store(false)
	close(block)
	appendN(t, l, "us-east-1", 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, cfg.Path, cfg.Signer)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Signer = nil
	if _, err := Open(cfg); err == nil {
		t.Error("Open without a signer")
	}
	cfg = testConfig(t)
	cfg.Signer = append(ed25519.PrivateKey{}, cfg.Signer...)
	cfg.Signer[40] ^= 1 // public half no longer matches
	if _, err := Open(cfg); err == nil {
		t.Error("Open with a broken signer")
	}
	cfg = testConfig(t)
	cfg.Path = t.TempDir() + "/missing/audit.db"
	if _, err := Open(cfg); err == nil {
		t.Error("Open in a missing directory")
	}
	if _, err := OpenReader(t.TempDir() + "/nothing.db"); err == nil {
		t.Error("OpenReader of a missing file")
	}
}

// TestRecoverFromSegments: records in a segment that the database never
// took in (a crash between the write and the index) are indexed by the next
// Open, up to a torn last frame, and the chain comes out whole.
func TestRecoverFromSegments(t *testing.T) {
	cfg := testConfig(t)
	l := openLog(t, cfg)
	appendN(t, l, "us-east-1", 4)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// What a writer killed before its indexer ran leaves behind: a new
	// segment with three whole frames and a torn fourth.
	epochs, err := segmentFiles(cfg.Path)
	if err != nil || len(epochs) == 0 {
		t.Fatalf("segments: %v %v", epochs, err)
	}
	seg, err := createSegment(cfg.Path, epochs[len(epochs)-1]+1)
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	var crashed []string
	for range 3 {
		r := kmsRecord("us-east-1", "Decrypt", keyID2)
		r.EventID, r.EventVersion, r.EventTime = NewEventID(), EventVersion, time.Now().UTC().Truncate(time.Second)
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
		crashed = append(crashed, r.EventID)
	}
	if _, err := seg.appendFrames(bodies); err != nil {
		t.Fatal(err)
	}
	torn := binary.BigEndian.AppendUint32(nil, 500)
	torn = append(torn, "half a frame"...)
	if _, err := seg.f.WriteAt(torn, seg.end); err != nil {
		t.Fatal(err)
	}
	seg.close()

	// Before the restart, Verify says what it could not check.
	// (Not parallel: other tests read indexWait.)
	defer func(d time.Duration) { indexWait = d }(indexWait)
	indexWait = 10 * time.Millisecond
	if rep := verify(t, cfg.Path, cfg.Signer); rep.Unindexed != 3 || !rep.OK() {
		t.Errorf("Verify before the restart: %d unindexed, want 3\n%s", rep.Unindexed, rep)
	}

	l = openLog(t, cfg)
	for _, id := range crashed {
		if events, _, err := l.Lookup(t.Context(), Query{EventID: id}); err != nil || len(events) != 1 {
			t.Errorf("record %s after the restart: %v %v", id, events, err)
		}
	}
	appendN(t, l, "us-east-1", 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, cfg.Path, cfg.Signer)
	if g := regionReport(t, rep, "us-east-1"); g.Records != 9 || g.UnsignedTail != 0 || rep.Unindexed != 0 {
		t.Errorf("after the restart: %+v, %d unindexed", g, rep.Unindexed)
	}
}
