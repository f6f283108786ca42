package audit

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
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
	DefaultGroupCommitDelay   = time.Millisecond
)

// Config configures [Open].
type Config struct {
	// Path is the database file, created with mode 0600 if missing.
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
	// RetryInterval is how often the writer tries a test write while the
	// store is failing, so that Healthy turns nil again without traffic.
	RetryInterval time.Duration
	// MaxBatch caps the records committed in one transaction.
	MaxBatch int
	// GroupCommitDelay is how long the writer lingers for more records
	// before a commit while records arrive concurrently (never for a lone
	// caller). Zero means the default, 1ms; negative means never.
	GroupCommitDelay time.Duration
	// Now returns the current time; it stamps records without an eventTime
	// and checkpoints. Defaults to time.Now.
	Now func() time.Time
	// Logger receives write failures and recoveries; defaults to
	// slog.Default().
	Logger *slog.Logger
	// FailWrites, if set, is called before every write transaction; when it
	// returns an error the transaction is not attempted and fails with it.
	// It is for tests that need the store to fail on demand, including
	// tests of the whole server.
	FailWrites func() error
}

// ErrClosed is returned by calls on a closed [Log].
var ErrClosed = errors.New("audit: log closed")

// Log is an open audit log: the writer and, embedded, a [Reader].
type Log struct {
	Reader

	cfg  Config
	w    *sql.DB // one connection, owned by the writer goroutine
	fp   string  // Fingerprint of the signer
	reqs chan *request
	ops  chan *op

	mu     sync.RWMutex // guards closed against Append and Prune sending
	closed bool
	quit   chan struct{}
	done   chan struct{}

	hmu    sync.Mutex
	health error // the last write's error, nil when it succeeded

	wmu  sync.Mutex
	wake chan struct{} // closed and replaced after each commit

	records, batches, checkpoints, failures atomic.Uint64

	// Owned by the writer goroutine.
	ctx       context.Context // for the writer's statements; never canceled
	stmts     map[string]*sql.Stmt
	regions   map[string]chain
	newCkpts  int   // checkpoints in the transaction being built
	closeErr  error // the final checkpoint's error, for Close
	lastBatch int   // records in the last batch collected
}

// chain is the writer's view of one region: the head of its chain and its
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
	done      chan error // buffered: the writer never blocks on it
}

// op is work other than appending that must run in the writer: a prune.
type op struct {
	fn   func(tx *sql.Tx) (int, error)
	n    int
	done chan error
}

// Stats counts the writer's work since Open.
type Stats struct {
	Records     uint64 // records committed
	Batches     uint64 // transactions that committed records
	Checkpoints uint64 // checkpoints committed
	Failures    uint64 // write transactions that failed
}

// Open opens (creating if needed) the audit database at cfg.Path and starts
// its writer.
func Open(cfg Config) (*Log, error) {
	if len(cfg.Signer) != ed25519.PrivateKeySize {
		return nil, errors.New("audit: Config.Signer is not an Ed25519 private key")
	}
	// A pair-wise test: a key whose halves do not match would sign
	// checkpoints that nothing verifies.
	pub := cfg.Signer.Public().(ed25519.PublicKey)
	if msg := []byte("openkms-audit-self-test"); !ed25519.Verify(pub, msg, ed25519.Sign(cfg.Signer, msg)) {
		return nil, errors.New("audit: Config.Signer fails its sign/verify self-test")
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
	if cfg.Now == nil {
		cfg.Now = time.Now
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
	wdsn, err := dsn(cfg.Path, "_pragma=journal_mode(WAL)", "_txlock=immediate")
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
		cfg:     cfg,
		w:       w,
		fp:      Fingerprint(pub),
		reqs:    make(chan *request, 4*cfg.MaxBatch),
		ops:     make(chan *op),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		wake:    make(chan struct{}),
		ctx:     context.Background(),
		regions: map[string]chain{},
	}
	if err := l.init(); err != nil {
		w.Close()
		return nil, fmt.Errorf("audit: open %s: %w", cfg.Path, err)
	}
	if err := l.prepare(); err != nil {
		l.closeStmts()
		w.Close()
		return nil, fmt.Errorf("audit: open %s: %w", cfg.Path, err)
	}
	rdsn, err := dsn(cfg.Path, "_pragma=query_only(1)")
	if err != nil {
		l.closeStmts()
		w.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	r, err := sql.Open("sqlite", rdsn)
	if err != nil {
		l.closeStmts()
		w.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	l.Reader = Reader{db: r, wake: l.woken}
	go l.run()
	return l, nil
}

// init checks the journal mode, migrates, and loads each region's chain
// head and last checkpoint.
func (l *Log) init() error {
	ctx := l.ctx
	var mode string
	if err := l.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	// SQLite falls back silently when it cannot use WAL (some file systems).
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	if err := migrate(ctx, l.w); err != nil {
		return err
	}
	if _, err := l.w.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ('created', ?) ON CONFLICT DO NOTHING`,
		fmt.Sprint(l.cfg.Now().UnixMilli())); err != nil {
		return err
	}

	// Anchors first: a pruned region's chain continues from its anchor if
	// no record of it is left.
	rows, err := l.w.QueryContext(ctx, `SELECT body FROM anchors`)
	if err != nil {
		return err
	}
	var anchors []Anchor
	for rows.Next() {
		var body []byte
		var a Anchor
		if err := rows.Scan(&body); err != nil {
			rows.Close()
			return err
		}
		if err := parseCanonical(body, &a); err != nil {
			rows.Close()
			return fmt.Errorf("anchor: %w", err)
		}
		anchors = append(anchors, a)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, a := range anchors {
		prev, prevSig, err := a.fields()
		if err != nil {
			return fmt.Errorf("anchor of %s: %w", a.Region, err)
		}
		l.regions[a.Region] = chain{seq: a.Seq - 1, hash: prev, ckptSeq: a.Seq - 1, ckptSig: prevSig}
	}

	// Heads: the last record of each region.
	rows, err = l.w.QueryContext(ctx, `SELECT r.region, r.seq, r.hash FROM records r
		JOIN (SELECT region, MAX(seq) AS seq FROM records GROUP BY region) m
		ON r.region = m.region AND r.seq = m.seq`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var region string
		var seq uint64
		var hash []byte
		if err := rows.Scan(&region, &seq, &hash); err != nil {
			rows.Close()
			return err
		}
		c := l.regions[region]
		c.seq = seq
		copy(c.hash[:], hash)
		l.regions[region] = c
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}

	// The last checkpoint of each region.
	rows, err = l.w.QueryContext(ctx, `SELECT region, seq, signature FROM checkpoints
		WHERE id IN (SELECT MAX(id) FROM checkpoints GROUP BY region)`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var region string
		var seq uint64
		var sig []byte
		if err := rows.Scan(&region, &seq, &sig); err != nil {
			rows.Close()
			return err
		}
		c := l.regions[region]
		c.ckptSeq, c.ckptSig = seq, sigHash(sig)
		l.regions[region] = c
	}
	return errors.Join(rows.Err(), rows.Close())
}

// The writer's statements, prepared once: parsing them for every batch
// would cost more than running them.
const (
	stInsertRecord = `INSERT INTO records (region, seq, prev, hash, body,
		event_time, event_id, event_name, event_source, user_name, access_key_id, request_id, read_only, account)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	stInsertResource = `INSERT INTO resources (record_id, arn, name, event_time)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
	stLastUse = `INSERT INTO key_last_use (arn, event_time, event_name, region, event_id, request_id)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (arn) DO UPDATE SET event_time = excluded.event_time, event_name = excluded.event_name,
			region = excluded.region, event_id = excluded.event_id, request_id = excluded.request_id
		WHERE excluded.event_time >= key_last_use.event_time`
	stInsertCheckpoint = `INSERT INTO checkpoints (region, seq, body, signature) VALUES (?, ?, ?, ?)`
)

func (l *Log) prepare() error {
	l.stmts = map[string]*sql.Stmt{}
	for _, q := range []string{stInsertRecord, stInsertResource, stLastUse, stInsertCheckpoint} {
		st, err := l.w.PrepareContext(l.ctx, q)
		if err != nil {
			return err
		}
		l.stmts[q] = st
	}
	return nil
}

func (l *Log) closeStmts() error {
	var errs []error
	for _, st := range l.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// stmt returns a prepared statement for use in tx.
func (l *Log) stmt(tx *sql.Tx, query string) *sql.Stmt {
	return tx.StmtContext(l.ctx, l.stmts[query])
}

// Append adds r to the log and returns once it is durable. It fills in r's
// EventID (from NewEventID), EventVersion and EventTime (now) when they are
// empty, and truncates EventTime to the second, as records write it.
// r.AWSRegion must be set: it names the chain.
//
// An error means the record may not have been written; the caller must fail
// the request. If ctx ends while the record waits for its commit, Append
// returns ctx's error, and the record may still be written.
func (l *Log) Append(ctx context.Context, r *Record) error {
	if r.AWSRegion == "" {
		return errors.New("audit: record has no awsRegion")
	}
	if r.EventID == "" {
		r.EventID = NewEventID()
	}
	if r.EventVersion == "" {
		r.EventVersion = EventVersion
	}
	if r.EventTime.IsZero() {
		r.EventTime = l.cfg.Now()
	}
	r.EventTime = r.EventTime.UTC().Truncate(time.Second)
	body, err := r.MarshalJSON()
	if err != nil {
		return fmt.Errorf("audit: encode record: %w", err)
	}
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
		done:      make(chan error, 1),
	}
	if r.UserIdentity != nil {
		req.accessKey = r.UserIdentity.AccessKeyID
	}

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

// send hands v to the writer over ch unless the log is closed. Holding the
// read lock while it waits lets Close wait for every send in flight before
// it stops the writer.
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

// Healthy returns nil unless the last write to the store failed; callers
// check it before acting on a request they will have to audit. While it
// fails, the writer retries every RetryInterval, and the next Append also
// tries.
func (l *Log) Healthy() error {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	return l.health
}

func (l *Log) setHealth(err error) {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	switch {
	case err != nil && l.health == nil:
		l.cfg.Logger.Error("audit log cannot be written; requests will be refused", "err", err)
	case err == nil && l.health != nil:
		l.cfg.Logger.Info("audit log writable again")
	}
	if err != nil {
		err = fmt.Errorf("audit: store failing: %w", err)
	}
	l.health = err
}

// Stats returns counts of the writer's work since Open.
func (l *Log) Stats() Stats {
	return Stats{
		Records:     l.records.Load(),
		Batches:     l.batches.Load(),
		Checkpoints: l.checkpoints.Load(),
		Failures:    l.failures.Load(),
	}
}

// Close stops accepting records, waits for those already sent, signs a
// final checkpoint for every region with unsigned records, and closes the
// database. The returned error includes a failed final checkpoint.
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

// woken returns a channel closed at the next commit of records.
func (l *Log) woken() <-chan struct{} {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.wake
}

func (l *Log) notify() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	close(l.wake)
	l.wake = make(chan struct{})
}

// run is the writer goroutine.
func (l *Log) run() {
	defer close(l.done)
	ckpt := time.NewTicker(l.cfg.CheckpointInterval)
	defer ckpt.Stop()
	retry := time.NewTicker(l.cfg.RetryInterval)
	defer retry.Stop()
	batch := make([]*request, 0, l.cfg.MaxBatch)
	for {
		select {
		case req := <-l.reqs:
			l.commit(l.collect(append(batch[:0], req)))
		case o := <-l.ops:
			o.done <- l.runOp(o)
		case <-ckpt.C:
			l.checkpointAll("interval")
		case <-retry.C:
			if l.Healthy() != nil {
				l.probe()
			}
		case <-l.quit:
			// Close waited for every send in flight: what is queued is all
			// there will be.
			for len(l.reqs) > 0 {
				l.commit(l.collect(batch[:0]))
			}
			l.closeErr = l.checkpointAll("close")
			return
		}
	}
}

// collect adds to batch what is queued, up to MaxBatch.
func (l *Log) collect(batch []*request) []*request {
	// Under concurrency (the last batch had company), linger a moment for
	// the records that are on their way: one commit and one fsync for all
	// of them costs less than several small ones, and the CPU saved goes to
	// requests. A lone caller never waits.
	var linger <-chan time.Time
	if l.lastBatch > 1 && l.cfg.GroupCommitDelay > 0 {
		t := time.NewTimer(l.cfg.GroupCommitDelay)
		defer t.Stop()
		linger = t.C
	}
	for len(batch) < l.cfg.MaxBatch {
		select {
		case req := <-l.reqs:
			batch = append(batch, req)
			continue
		default:
		}
		if linger == nil {
			break
		}
		select {
		case req := <-l.reqs:
			batch = append(batch, req)
		case <-linger:
			linger = nil
		}
	}
	l.lastBatch = len(batch)
	return batch
}

// write runs fn in a write transaction and commits it. On failure it
// restores the chain heads as they were, so the next attempt reuses the
// same sequence numbers.
func (l *Log) write(fn func(tx *sql.Tx) error) error {
	saved := maps.Clone(l.regions)
	l.newCkpts = 0
	err := l.tryWrite(fn)
	if err != nil {
		l.regions = saved
		l.failures.Add(1)
	} else {
		l.checkpoints.Add(uint64(l.newCkpts))
	}
	l.setHealth(err)
	return err
}

func (l *Log) tryWrite(fn func(tx *sql.Tx) error) error {
	if l.cfg.FailWrites != nil {
		if err := l.cfg.FailWrites(); err != nil {
			return err
		}
	}
	tx, err := l.w.BeginTx(l.ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// commit writes a batch of records in one transaction and reports the
// outcome to each.
func (l *Log) commit(batch []*request) {
	if len(batch) == 0 {
		return
	}
	err := l.write(func(tx *sql.Tx) error { return l.insert(tx, batch) })
	if err == nil {
		l.records.Add(uint64(len(batch)))
		l.batches.Add(1)
		l.notify()
	} else {
		err = fmt.Errorf("audit: write: %w", err)
	}
	for _, req := range batch {
		req.done <- err
	}
}

type lastUse struct {
	LastUse
	arn string
}

func (l *Log) insert(tx *sql.Tx, batch []*request) error {
	ctx := l.ctx
	insRecord := l.stmt(tx, stInsertRecord)
	insResource := l.stmt(tx, stInsertResource)

	uses := map[string]lastUse{}
	touched := map[string]bool{}
	for _, req := range batch {
		c := l.regions[req.region]
		seq := c.seq + 1
		hash := recordHash(c.hash, seq, req.body)
		res, err := insRecord.ExecContext(ctx, req.region, seq, c.hash[:], hash[:], string(req.body),
			req.eventTime, req.eventID, req.eventName, req.source, req.user, req.accessKey, req.requestID, req.readOnly, req.account)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for _, rs := range req.resources {
			if _, err := insResource.ExecContext(ctx, id, rs.ARN, resourceName(rs.ARN), req.eventTime); err != nil {
				return err
			}
			if req.keyUse && rs.Type == ResourceTypeKey {
				// Later records win ties: they committed later.
				if u, ok := uses[rs.ARN]; !ok || req.eventTime >= u.Time.UnixMilli() {
					uses[rs.ARN] = lastUse{arn: rs.ARN, LastUse: LastUse{
						Time: time.UnixMilli(req.eventTime).UTC(), EventName: req.eventName,
						Region: req.region, EventID: req.eventID, RequestID: req.requestID,
					}}
				}
			}
		}
		c.seq, c.hash = seq, hash
		l.regions[req.region] = c
		touched[req.region] = true
	}
	for _, u := range uses {
		if _, err := l.stmt(tx, stLastUse).ExecContext(ctx, u.arn, u.Time.UnixMilli(), u.EventName, u.Region, u.EventID, u.RequestID); err != nil {
			return err
		}
	}
	for region := range touched {
		if c := l.regions[region]; c.seq >= c.ckptSeq+uint64(l.cfg.CheckpointEvery) {
			if err := l.checkpoint(tx, region, "count"); err != nil {
				return err
			}
		}
	}
	return nil
}

// resourceName is the last path segment of an ARN: the key id of a key ARN.
func resourceName(arn string) string {
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// checkpoint signs and stores a checkpoint of region's current head.
func (l *Log) checkpoint(tx *sql.Tx, region, reason string) error {
	c := l.regions[region]
	body, sig, err := signed(l.cfg.Signer, checkpointDomain, Checkpoint{
		Version:               1,
		Region:                region,
		Seq:                   c.seq,
		Hash:                  c.hash.String(),
		PreviousSignatureHash: c.ckptSig.String(),
		Time:                  l.cfg.Now().UTC(),
		Reason:                reason,
		KeyFingerprint:        l.fp,
	})
	if err != nil {
		return err
	}
	if _, err := l.stmt(tx, stInsertCheckpoint).ExecContext(l.ctx, region, c.seq, string(body), sig); err != nil {
		return err
	}
	c.ckptSeq, c.ckptSig = c.seq, sigHash(sig)
	l.regions[region] = c
	l.newCkpts++
	return nil
}

// unsigned lists the regions with records after their last checkpoint.
func (l *Log) unsigned() []string {
	var regions []string
	for region, c := range l.regions {
		if c.seq > c.ckptSeq {
			regions = append(regions, region)
		}
	}
	slices.Sort(regions)
	return regions
}

// checkpointAll signs a checkpoint for each region with unsigned records.
func (l *Log) checkpointAll(reason string) error {
	regions := l.unsigned()
	if len(regions) == 0 {
		return nil
	}
	err := l.write(func(tx *sql.Tx) error {
		for _, region := range regions {
			if err := l.checkpoint(tx, region, reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit: checkpoint: %w", err)
	}
	return nil
}

// probe tries a write that needs new pages, like a batch would, and leaves
// nothing behind.
func (l *Log) probe() {
	l.write(func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(l.ctx, `INSERT INTO probe (id, data) VALUES (1, ?)`, make([]byte, 16<<10)); err != nil {
			return err
		}
		_, err := tx.ExecContext(l.ctx, `DELETE FROM probe`)
		return err
	})
}

func (l *Log) runOp(o *op) error {
	return l.write(func(tx *sql.Tx) error {
		n, err := o.fn(tx)
		o.n = n
		return err
	})
}

// do runs fn in a write transaction in the writer goroutine.
func (l *Log) do(ctx context.Context, fn func(tx *sql.Tx) (int, error)) (int, error) {
	o := &op{fn: fn, done: make(chan error, 1)}
	if err := send(l, ctx, l.ops, o); err != nil {
		return 0, err
	}
	select {
	case err := <-o.done:
		return o.n, err
	case <-ctx.Done():
		return 0, fmt.Errorf("audit: %w (the operation may yet complete)", ctx.Err())
	}
}

// Prune deletes the records older than before and returns how many. In each
// region it deletes the longest prefix of the chain whose event times are
// all before it (records are in the chain in commit order, which may differ
// slightly from event time order). Before deleting, it signs a checkpoint
// covering everything written so far, then a new [Anchor] for the region,
// and drops the checkpoints that covered only deleted records, so that
// Verify can check what remains.
func (l *Log) Prune(ctx context.Context, before time.Time) (int, error) {
	n, err := l.do(ctx, func(tx *sql.Tx) (int, error) { return l.prune(tx, before) })
	if err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	return n, nil
}

func (l *Log) prune(tx *sql.Tx, before time.Time) (int, error) {
	ctx := l.ctx
	cut := before.UnixMilli()
	total := 0
	for _, region := range slices.Sorted(maps.Keys(l.regions)) {
		var first, keep sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(seq) FROM records WHERE region = ?`, region).Scan(&first); err != nil {
			return 0, err
		}
		if !first.Valid {
			continue // nothing left to prune
		}
		if err := tx.QueryRowContext(ctx, `SELECT MIN(seq) FROM records WHERE region = ? AND event_time >= ?`,
			region, cut).Scan(&keep); err != nil {
			return 0, err
		}
		c := l.regions[region]
		firstKeep := c.seq + 1
		if keep.Valid {
			firstKeep = uint64(keep.Int64)
		}
		if firstKeep <= uint64(first.Int64) {
			continue
		}

		if c.seq > c.ckptSeq {
			if err := l.checkpoint(tx, region, "prune"); err != nil {
				return 0, err
			}
		}
		var prev []byte
		if err := tx.QueryRowContext(ctx, `SELECT hash FROM records WHERE region = ? AND seq = ?`,
			region, firstKeep-1).Scan(&prev); err != nil {
			return 0, fmt.Errorf("hash of %s record %d: %w", region, firstKeep-1, err)
		}
		prevHash, err := toHash(prev)
		if err != nil {
			return 0, fmt.Errorf("hash of %s record %d: %w", region, firstKeep-1, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM resources WHERE record_id IN
			(SELECT id FROM records WHERE region = ? AND seq < ?)`, region, firstKeep); err != nil {
			return 0, err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM records WHERE region = ? AND seq < ?`, region, firstKeep)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		total += int(n)
		if _, err := tx.ExecContext(ctx, `DELETE FROM checkpoints WHERE region = ? AND seq < ?`, region, firstKeep); err != nil {
			return 0, err
		}
		// The first checkpoint left chains to the last one dropped.
		ckptPrev, err := l.firstCheckpointPrev(tx, region)
		if err != nil {
			return 0, err
		}
		body, asig, err := signed(l.cfg.Signer, anchorDomain, Anchor{
			Version:               1,
			Region:                region,
			Seq:                   firstKeep,
			PreviousHash:          prevHash.String(),
			PreviousSignatureHash: ckptPrev.String(),
			PrunedBefore:          before.UTC(),
			Time:                  l.cfg.Now().UTC(),
			KeyFingerprint:        l.fp,
		})
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO anchors (region, seq, body, signature) VALUES (?, ?, ?, ?)
			ON CONFLICT (region) DO UPDATE SET seq = excluded.seq, body = excluded.body, signature = excluded.signature`,
			region, firstKeep, string(body), asig); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// firstCheckpointPrev is what region's first stored checkpoint chains to;
// with none stored, what the next one will chain to.
func (l *Log) firstCheckpointPrev(tx *sql.Tx, region string) (Hash, error) {
	var body []byte
	err := tx.QueryRowContext(l.ctx, `SELECT body FROM checkpoints WHERE region = ? ORDER BY id LIMIT 1`, region).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return l.regions[region].ckptSig, nil
	}
	if err != nil {
		return Hash{}, err
	}
	var c Checkpoint
	if err := parseCanonical(body, &c); err != nil {
		return Hash{}, err
	}
	_, prev, err := c.fields()
	return prev, err
}
