package audit

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Defaults for the zero values of [Config] fields.
const (
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = time.Minute
	DefaultRetryInterval      = time.Second
	DefaultMaxBatch           = 512
	DefaultGroupCommitDelay   = 3 * time.Millisecond
	DefaultSyncInterval       = 10 * time.Millisecond
	// MaxSyncInterval bounds SyncInterval: what a power loss may take.
	MaxSyncInterval = time.Minute
)

// SyncMode says which records Append syncs to disk before it returns.
type SyncMode string

const (
	// SyncChanges, the default, syncs the records of requests that changed
	// state (records neither ReadOnly nor failed, and the server's own
	// events) before Append returns. Every other record Append returns as
	// soon as it is written to the segment (in the kernel's page cache: a
	// crash of the process loses nothing), and the syncer syncs those in
	// groups, at most SyncInterval after the write. A power loss or kernel
	// crash can lose that interval's worth of them, never the index's view
	// of them: the indexer takes in only synced records.
	SyncChanges SyncMode = "changes"
	// SyncAlways syncs every record before Append returns.
	SyncAlways SyncMode = "always"
)

// ParseSyncMode parses a SyncMode; "" is the default.
func ParseSyncMode(s string) (SyncMode, error) {
	switch m := SyncMode(s); m {
	case "":
		return SyncChanges, nil
	case SyncChanges, SyncAlways:
		return m, nil
	}
	return "", fmt.Errorf("audit: sync mode %q is neither %q nor %q", s, SyncChanges, SyncAlways)
}

// needsSync says whether the record of r must be synced before its caller
// is answered: it records a change of state (a use, a read, a denial or a
// failure changes nothing a later request depends on).
func needsSync(mode SyncMode, r *Record) bool {
	return mode == SyncAlways || !r.ReadOnly && r.ErrorCode == ""
}

// Config configures [Open].
type Config struct {
	// Path is the database file, created with mode 0600 if missing. The
	// segments holding the records are beside it (Path.seg.N).
	Path string
	// Signer signs checkpoints and anchors. The caller keeps it sealed;
	// Verify needs its public half.
	Signer ed25519.PrivateKey
	// CheckpointEvery is the number of records of a region after which a
	// checkpoint is signed (in the same transaction as the batch that
	// reaches it, so it may cover a few more).
	CheckpointEvery int
	// CheckpointInterval is how often regions with unsigned records get a
	// checkpoint.
	CheckpointInterval time.Duration
	// RetryInterval is how often the writer and the indexer try a test
	// write while they are failing, so that Healthy turns nil again
	// without traffic.
	RetryInterval time.Duration
	// MaxBatch caps the records written to a segment in one write.
	MaxBatch int
	// GroupCommitDelay is how long the writer (under SyncAlways) or the
	// syncer lingers for more records whose callers wait for a sync, while
	// such records arrive concurrently (never for a lone caller). Zero
	// means the default, 3ms; negative means never.
	GroupCommitDelay time.Duration
	// Sync says which records are synced before Append returns; "" means
	// SyncChanges.
	Sync SyncMode
	// SyncInterval is how long, at most, a record written but not synced
	// waits for its sync (SyncChanges). Zero means the default, 10ms.
	SyncInterval time.Duration
	// Now returns the current time; it stamps records without an eventTime
	// and checkpoints. Defaults to time.Now.
	Now func() time.Time
	// Logger receives write failures and recoveries; defaults to
	// slog.Default().
	Logger *slog.Logger
	// FailWrites, if set, is called before every segment write and database
	// transaction; when it returns an error the write is not attempted and
	// fails with it. It is for tests that need the store to fail on
	// demand, including tests of the whole server.
	FailWrites func() error

	// segmentSize is the size past which the writer starts a new segment;
	// zero means segmentRotateSize. Tests make it small.
	segmentSize int64
}

// ErrClosed is returned by calls on a closed [Log].
var ErrClosed = errors.New("audit: log closed")

// Log is an open audit log: the writer and, embedded, a [Reader].
type Log struct {
	Reader

	cfg  Config
	w    *sql.DB // one connection, owned by the indexer goroutine
	fp   string  // Fingerprint of the signer
	reqs chan *request
	ops  chan *op
	// syncNow asks the syncer to sync what is written: a reader is
	// waiting for it to be indexed.
	syncNow chan struct{}
	// kick tells the syncer that the writer gave it work.
	kick chan struct{}
	// toIndex carries synced batches from the syncer to the indexer, in
	// the order they were written. When it is full the syncer keeps them
	// and offers them again (it never waits for the indexer); Append's
	// backlog bounds how many pile up.
	toIndex chan written
	// flush asks the indexer not to wait for more records: a reader is
	// waiting.
	flush chan struct{}

	mu     sync.RWMutex // guards closed against Append and Prune sending
	closed bool
	quit   chan struct{}
	done   chan struct{} // closed when the indexer, which outlives the writer and the syncer, ends
	// writerDone is closed when the writer has written its last record.
	writerDone chan struct{}

	hmu        sync.Mutex
	segErr     error // the last segment write's error
	syncErr    error // the last segment sync's error
	indexErr   error // the last database transaction's error
	healthLost bool  // whether the failure was logged

	progress // its notices are index commits
	// acked counts records acknowledged to Append callers, indexed those
	// in the database; reads wait for indexed to catch up with acked.
	acked, indexed atomic.Uint64

	// Owned by the writer goroutine.
	seg       *segment
	lastBatch int // records in the last batch written

	// The writer's work for the syncer.
	smu          sync.Mutex
	unsynced     []written  // written batches not yet synced, in order
	dirtySince   time.Time  // when the first of them was written
	waiting      []*request // records of those whose callers wait for the sync
	waitingSince time.Time  // when the first of them was written
	segs         []*segment // the segments they are in, and the writer's current one

	// Owned by the syncer goroutine.
	synced      []written // synced batches not yet handed to the indexer
	lastWaiting int       // callers the last sync answered

	// Owned by the indexer goroutine (and by Open before it starts).
	ctx      context.Context // for the indexer's statements; never canceled
	stmts    map[string]*sql.Stmt
	regions  map[string]chain
	nextID   int64  // the id of the next record row
	epoch    uint64 // the segment epoch the database has taken in up to
	pending  []written
	newCkpts int   // checkpoints in the transaction being built
	closeErr error // the final checkpoint's error, for Close
}

// chain is the indexer's view of one region: the head of its chain and its
// last checkpoint.
type chain struct {
	seq     uint64
	hash    Hash
	ckptSeq uint64
	ckptSig Hash // sigHash of the last checkpoint's signature
}

// request is one record on its way to the writer.
type request struct {
	region    string
	body      []byte
	eventTime int64 // ms
	eventID   string
	eventName string
	source    string
	account   string
	user      string
	accessKey string
	requestID string
	readOnly  bool
	resources []Resource
	keyUse    bool
	sync      bool       // answer only once the record is synced
	done      chan error // buffered: the writer and the syncer never block on it; nil in replay
	// Where the record's frame is: the segment's epoch and the offset.
	epoch uint64
	at    int64
}

// written is a batch of records written to a segment, and where it ends
// there.
type written struct {
	reqs  []*request
	epoch uint64
	end   int64
}

// op is work other than appending that must run in the indexer: a prune.
type op struct {
	fn    func(tx *sql.Tx) (int, error)
	after func() // if set, run after fn's transaction committed
	n     int
	done  chan error
}

// Stats counts a log's work since it was opened. For a PostgresLog, a
// batch is a transaction of records and a sync one committed with
// synchronous_commit on.
type Stats struct {
	Records     uint64 // records written to a segment
	Batches     uint64 // segment writes of records
	Syncs       uint64 // segment syncs that made written records durable
	Checkpoints uint64 // checkpoints committed
	Failures    uint64 // segment writes and syncs, and transactions, that failed
	// SyncTime is the time the syncs took, together.
	SyncTime time.Duration
	// SyncBuckets counts the syncs by the time each took: SyncBuckets[i]
	// those above SyncBounds[i-1] and at most SyncBounds[i], the last
	// those above every bound. Not cumulative.
	SyncBuckets [len(SyncBounds) + 1]uint64
	// Queued is the number of records waiting for the writer now.
	Queued int
}

// progress is what both logs keep of their work: the counts Stats reports,
// and a channel closed and replaced at each commit of records, on which
// readers that follow the log wait.
type progress struct {
	records, batches, syncs, checkpoints, failures atomic.Uint64
	syncNanos                                      atomic.Int64
	syncBuckets                                    [len(SyncBounds) + 1]atomic.Uint64

	wmu  sync.Mutex
	wake chan struct{} // made on first use
}

// Stats returns counts of the log's work since it was opened.
func (p *progress) Stats() Stats {
	return Stats{
		Records:     p.records.Load(),
		Batches:     p.batches.Load(),
		Syncs:       p.syncs.Load(),
		Checkpoints: p.checkpoints.Load(),
		Failures:    p.failures.Load(),
		SyncTime:    time.Duration(p.syncNanos.Load()),
		SyncBuckets: p.syncBucketCounts(),
	}
}

// SyncBounds are the upper bounds of Stats.SyncBuckets: from an fdatasync
// on a disk with a write cache (tens of microseconds) to a synchronous
// commit waiting for a slow replica (a second). The log counts its syncs
// into them itself, so that a scraper can export a histogram without the
// log depending on one.
var SyncBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second,
}

// countSync counts a sync that succeeded after taking d.
func (p *progress) countSync(d time.Duration) {
	i, _ := slices.BinarySearch(SyncBounds[:], d)
	p.syncBuckets[i].Add(1)
	p.syncs.Add(1)
	p.syncNanos.Add(int64(d))
}

func (p *progress) syncBucketCounts() (n [len(SyncBounds) + 1]uint64) {
	for i := range p.syncBuckets {
		n[i] = p.syncBuckets[i].Load()
	}
	return n
}

// Stats returns counts of the log's work since it was opened.
func (l *Log) Stats() Stats {
	s := l.progress.Stats()
	s.Queued = len(l.reqs)
	return s
}

// woken returns a channel closed at the next commit of records.
func (p *progress) woken() <-chan struct{} {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.wake == nil {
		p.wake = make(chan struct{})
	}
	return p.wake
}

// notify wakes the readers waiting for a commit.
func (p *progress) notify() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.wake != nil {
		close(p.wake)
	}
	p.wake = make(chan struct{})
}

// checkSigner returns the public key of a checkpoint signer, after a
// pair-wise test: a key whose halves do not match would sign checkpoints
// that nothing verifies. config names the configuration, for errors.
func checkSigner(signer ed25519.PrivateKey, config string) (ed25519.PublicKey, error) {
	if len(signer) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("audit: %s.Signer is not an Ed25519 private key", config)
	}
	pub := signer.Public().(ed25519.PublicKey)
	if msg := []byte("openkms-audit-self-test"); !ed25519.Verify(pub, msg, ed25519.Sign(signer, msg)) {
		return nil, fmt.Errorf("audit: %s.Signer fails its sign/verify self-test", config)
	}
	return pub, nil
}

// Open opens (creating if needed) the audit database at cfg.Path, takes in
// the records its segments hold beyond it (those of a crash), and starts the
// writer and the indexer.
func Open(cfg Config) (*Log, error) {
	pub, err := checkSigner(cfg.Signer, "Config")
	if err != nil {
		return nil, err
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = DefaultCheckpointEvery
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.GroupCommitDelay == 0 {
		cfg.GroupCommitDelay = DefaultGroupCommitDelay
	}
	if cfg.Sync, err = ParseSyncMode(string(cfg.Sync)); err != nil {
		return nil, err
	}
	switch {
	case cfg.SyncInterval == 0:
		cfg.SyncInterval = DefaultSyncInterval
	case cfg.SyncInterval < 0 || cfg.SyncInterval > MaxSyncInterval:
		return nil, fmt.Errorf("audit: sync interval %v is not between 0 and %v", cfg.SyncInterval, MaxSyncInterval)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.segmentSize <= 0 {
		cfg.segmentSize = segmentRotateSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}

	// Create the file ourselves: SQLite would use 0644, and it gives the
	// -wal and -shm files the same mode as the database.
	f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	// synchronous=NORMAL: a commit is not synced (the segment already
	// made its records durable), and WAL mode keeps the file consistent
	// whatever a crash cuts off.
	// temp_store(MEMORY): a multi-row INSERT keeps a statement journal,
	// which would otherwise be a temporary file written at every insert.
	// cache_size: the postings and last-use tables take rows at places
	// spread over the whole table, one per key used; 8 MiB keeps their
	// interior pages cached with a million keys. Once full, it recycles
	// other connections' pages too (the pure-Go SQLite shares one page
	// cache in a process), the key store's included: see BENCHMARKS.md.
	wdsn, err := dsn(cfg.Path, "_pragma=journal_mode(WAL)", "_txlock=immediate", "_pragma=synchronous(NORMAL)",
		"_pragma=temp_store(MEMORY)", "_pragma=cache_size(-8192)")
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	l := &Log{
		cfg:        cfg,
		w:          w,
		fp:         Fingerprint(pub),
		reqs:       make(chan *request, 4*cfg.MaxBatch),
		ops:        make(chan *op),
		syncNow:    make(chan struct{}, 1),
		kick:       make(chan struct{}, 1),
		toIndex:    make(chan written, 1024),
		flush:      make(chan struct{}, 1),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
		ctx:        context.Background(),
		regions:    map[string]chain{},
	}
	fail := func(err error) (*Log, error) {
		if l.seg != nil {
			l.seg.close()
		}
		l.closeStmts()
		w.Close()
		return nil, fmt.Errorf("audit: open %s: %w", cfg.Path, err)
	}
	if err := l.init(); err != nil {
		return fail(err)
	}
	if err := l.prepare(); err != nil {
		return fail(err)
	}
	if err := l.recover(); err != nil {
		return fail(err)
	}
	rdsn, err := dsn(cfg.Path, "_pragma=query_only(1)")
	if err != nil {
		return fail(err)
	}
	r, err := sql.Open("sqlite", rdsn)
	if err != nil {
		return fail(err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	l.Reader = Reader{db: r, segs: newSegmentReader(cfg.Path), wake: l.woken, sync: l.caughtUp}
	l.segs = []*segment{l.seg}
	go l.runWriter()
	go l.runSyncer()
	go l.runIndexer()
	return l, nil
}

// recover indexes what the segments hold beyond the database (the records
// of a crash), removes segments without records, and starts a new segment.
func (l *Log) recover() error {
	epochs, err := segmentFiles(l.cfg.Path)
	if err != nil {
		return err
	}
	var from int64
	if l.epoch, from, err = indexedUpTo(l.ctx, l.w); err != nil {
		return err
	}
	next := l.epoch + 1
	var batch []*request
	var at written
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		at.reqs = batch
		batch = nil
		return l.index([]written{at})
	}
	replayed := 0
	for _, e := range epochs {
		next = max(next, e+1)
		start := int64(0)
		switch {
		case e < l.epoch:
			start = -1 // indexed already; only see whether it is empty
		case e == l.epoch:
			start = from
		}
		frames := 0
		err := readSegment(l.cfg.Path, e, max(start, 0), func(body []byte, off, end int64) error {
			frames++
			if start < 0 {
				return errStop
			}
			var r Record
			if err := json.Unmarshal(body, &r); err != nil {
				return fmt.Errorf("segment %d at %d: %w", e, off, err)
			}
			if r.AWSRegion == "" {
				return fmt.Errorf("segment %d at %d: record has no awsRegion", e, off)
			}
			req := newRequest(&r, body)
			req.epoch, req.at = e, off
			batch = append(batch, req)
			at.epoch, at.end = e, end
			replayed++
			if len(batch) == l.cfg.MaxBatch {
				return flush()
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return fmt.Errorf("segment: %w", err)
		}
		if err := flush(); err != nil {
			return fmt.Errorf("segment: %w", err)
		}
		if frames == 0 && start <= 0 {
			// Started and never written (or only torn), unless records
			// point into it: then it lost its frames (a power loss cut
			// it), and Verify needs it to tell that from a deletion.
			var referred int
			err := l.w.QueryRowContext(l.ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM records WHERE segment = ? LIMIT 1)`, e).Scan(&referred)
			switch {
			case err != nil:
				return fmt.Errorf("segment %d: %w", e, err)
			case referred > 0:
				l.cfg.Logger.Warn("audit: a segment has lost its records (cut short, as by a power loss); kms audit verify lists them", "segment", e)
			default:
				if err := os.Remove(segmentPath(l.cfg.Path, e)); err != nil {
					l.cfg.Logger.Warn("audit: removing an empty segment", "err", err)
				}
			}
		}
	}
	if replayed > 0 {
		l.cfg.Logger.Info("audit: indexed records found in segments after a crash", "records", replayed)
	}
	if l.seg, err = createSegment(l.cfg.Path, next); err != nil {
		return fmt.Errorf("segment: %w", err)
	}
	l.epoch = next
	return l.write(func(tx *sql.Tx) error {
		return l.setSegmentOffset(tx, next, int64(segmentHeaderSize))
	})
}

// errStop ends a read early.
var errStop = errors.New("stop")

// newRequest is what the writer and the indexer need of r, whose JSON is
// body.
func newRequest(r *Record, body []byte) *request {
	req := &request{
		region:    r.AWSRegion,
		body:      body,
		eventTime: r.EventTime.UnixMilli(),
		eventID:   r.EventID,
		eventName: r.EventName,
		source:    r.EventSource,
		account:   r.RecipientAccountID,
		user:      Username(r.UserIdentity),
		requestID: r.RequestID,
		readOnly:  r.ReadOnly,
		resources: slices.Clone(r.Resources),
		keyUse:    IsKeyUse(r),
	}
	if r.UserIdentity != nil {
		req.accessKey = r.UserIdentity.AccessKeyID
	}
	return req
}

// Append adds r to the log and returns once it is written to a segment,
// and, if the log's SyncMode says so for r, synced (see [SyncChanges]). It
// fills in r's EventID (from NewEventID), EventVersion and EventTime (now)
// when they are empty, and truncates EventTime to the second, as records
// write it.
// r.AWSRegion must be set: it names the chain.
//
// An error means the record may not have been written; the caller must fail
// the request. If ctx ends while the record waits for its write, Append
// returns ctx's error, and the record may still be written.
func (l *Log) Append(ctx context.Context, r *Record) error {
	if err := r.fillIn(l.cfg.Now); err != nil {
		return err
	}
	// A failing database is not retried by Append (the indexer does
	// that): records would only pile up unindexed.
	if err := l.indexHealth(); err != nil {
		return err
	}
	if err := l.backlog(ctx); err != nil {
		return err
	}
	body, err := r.MarshalJSON()
	if err != nil {
		return fmt.Errorf("audit: encode record: %w", err)
	}
	req := newRequest(r, body)
	req.sync = needsSync(l.cfg.Sync, r)
	req.done = make(chan error, 1)
	if err := send(l, ctx, l.reqs, req); err != nil {
		return err
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: %w (the record may yet be written)", ctx.Err())
	}
}

// maxUnindexed bounds the records acknowledged but not yet indexed: past
// it, Append waits for the indexer, so that a slow index slows requests
// down rather than filling memory.
const maxUnindexed = 16384

// backlog waits while the indexer is maxUnindexed records behind.
func (l *Log) backlog(ctx context.Context) error {
	// indexed also counts the records Open took in from the segments.
	within := func() bool { return l.acked.Load() < l.indexed.Load()+maxUnindexed }
	if within() {
		return nil // the usual case, without waiting
	}
	return l.waitIndex(ctx, within)
}

// send hands v to the writer or the indexer over ch unless the log is
// closed. Holding the read lock while it waits lets Close wait for every
// send in flight before it stops them.
func send[T any](l *Log, ctx context.Context, ch chan<- T, v T) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	select {
	case ch <- v:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: %w", ctx.Err())
	}
}

// Healthy returns nil unless the last write or sync of the segment or the
// last database transaction failed; callers check it before acting on a
// request they will have to audit. While it fails, the writer, the syncer
// and the indexer retry every RetryInterval, and the next Append also tries
// the segment.
func (l *Log) Healthy() error {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	return wrapHealth(errors.Join(l.segErr, l.syncErr, l.indexErr))
}

func (l *Log) indexHealth() error {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	return wrapHealth(l.indexErr)
}

func wrapHealth(err error) error {
	if err != nil {
		return fmt.Errorf("audit: store failing: %w", err)
	}
	return nil
}

// setHealth records the outcome of a segment write, a segment sync or a
// database transaction in its field (segErr, syncErr or indexErr).
func (l *Log) setHealth(field *error, err error) {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	*field = err
	failing := l.segErr != nil || l.syncErr != nil || l.indexErr != nil
	switch {
	case failing && !l.healthLost:
		l.cfg.Logger.Error("audit log cannot be written; requests will be refused", "err", err)
	case !failing && l.healthLost:
		l.cfg.Logger.Info("audit log writable again")
	}
	l.healthLost = failing
}

// Close stops accepting records, waits for those already sent, indexes
// them, signs a final checkpoint for every region with unsigned records,
// and closes the database. The returned error includes a failed final
// checkpoint.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	return errors.Join(l.closeErr, l.Reader.Close(), l.closeStmts(), l.w.Close())
}

// Flush waits until every record appended before the call is in the
// database, where readers in other processes (OpenReader, Verify) see it.
// Reads through l need no Flush: they wait the same way.
func (l *Log) Flush(ctx context.Context) error { return l.caughtUp(ctx) }

// caughtUp waits until every record acknowledged before the call is in the
// database, so that a read after a write sees it.
func (l *Log) caughtUp(ctx context.Context) error {
	target := l.acked.Load()
	return l.waitIndex(ctx, func() bool { return l.indexed.Load() >= target })
}

// waitIndex waits until done holds, asking the syncer and the indexer not
// to wait for more records meanwhile.
func (l *Log) waitIndex(ctx context.Context, done func() bool) error {
	for {
		wake := l.woken()
		if done() {
			return nil
		}
		if err := l.indexHealth(); err != nil {
			return err
		}
		select {
		case l.syncNow <- struct{}{}:
		default: // asked already
		}
		select {
		case l.flush <- struct{}{}:
		default: // asked already
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("audit: %w", ctx.Err())
		}
	}
}
