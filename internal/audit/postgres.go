package audit

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openkms/kms"
)

// The PostgreSQL trail is the audit trail of a cluster: the server nodes
// share one database, and each appends to it directly (no segments).
//
// # Chains
//
// Each node, each time it opens, starts a chain of its own for each region
// it writes (registered in audit_chains with its region and a name made of
// the node, the start time and a random suffix), so nodes never wait for
// each other's records. Within a chain, records are numbered and linked as
// in the SQLite log (see recordHash), the first chaining to the chain's
// genesis hash (chainGenesis) rather than to zeros. Checkpoints and anchors
// are those of the SQLite log with the chain's name added ([ChainCheckpoint],
// [ChainAnchor]). The records of all chains of a region are one trail for
// lookups.
//
// # Group commit and durability
//
// One writer goroutine per node owns one connection and the heads of the
// node's chains. Appends that arrive while it commits queue up and go into
// its next transaction together: a pipeline of BEGIN, one INSERT of all
// the records (their columns passed as arrays and unnested, with their
// postings in the same statement), any checkpoints due and the keys' last
// uses, then COMMIT. A transaction holding a record that changes state
// (see needsSync, and [SyncAlways]) commits with synchronous_commit on: the
// record is on the database's disk (and its synchronous standbys', if
// configured) before Append returns. A transaction of uses only runs SET
// LOCAL synchronous_commit = off: its commit returns once the database has
// it, visible to every node, and only a crash of the database machine can
// lose it (PostgreSQL flushes it within 3×wal_writer_delay). WAL order
// keeps the chains whole: a later synchronous commit makes every earlier
// commit durable too.
//
// The batch holds COMMIT too: a transaction is one round trip. After a
// failed transaction, or on a new connection, the writer reloads its
// chains' heads from the database before it writes again: a database that
// crashed may have lost asynchronous commits; what the database holds is
// the chain. When the connection is lost with a transaction sent, the
// reloaded heads say whether it committed (the chains it extends are where
// it left them: its Appends succeed) or not (they are where it found them:
// it is retried once on the new connection), so a restart of the database
// costs no request.

// Defaults for the zero values of [PostgresConfig] fields.
const (
	DefaultPostgresWriteTimeout = 5 * time.Second
	defaultPostgresMaxConns     = 8
)

// PostgresConfig configures [OpenPostgres].
type PostgresConfig struct {
	// DSN is the database's postgres:// URL or key=value string. The log
	// opens a pool of its own from it, whose writer keeps one connection;
	// it may set pool_max_conns (default 8) and connect_timeout (default
	// WriteTimeout). Errors never quote it.
	DSN string
	// Node names this node in the names of its chains, e.g. its host:port.
	// Required.
	Node string
	// Signer signs checkpoints and anchors. Every node of a cluster signs
	// with the same key; VerifyPostgres needs its public half.
	Signer ed25519.PrivateKey
	// CheckpointEvery and CheckpointInterval are as in [Config], per chain.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// Sync says which records are durable before Append returns; ""
	// means SyncChanges (see the comment at the top of this file).
	Sync SyncMode
	// MaxBatch caps the records of one transaction; zero means
	// DefaultMaxBatch.
	MaxBatch int
	// WriteTimeout bounds each transaction of the writer, and how long
	// Append waits for its record to be committed; zero means
	// DefaultPostgresWriteTimeout.
	WriteTimeout time.Duration
	// RetryInterval is how often the writer tries the database while it
	// is failing, so that Healthy turns nil again without traffic; zero
	// means DefaultRetryInterval.
	RetryInterval time.Duration
	// Now returns the current time; defaults to time.Now.
	Now func() time.Time
	// Logger receives write failures and recoveries; defaults to
	// slog.Default().
	Logger *slog.Logger
}

// PostgresLog is an open PostgreSQL audit trail: this node's writer and,
// embedded, a reader of the whole cluster's trail.
type PostgresLog struct {
	PostgresReader

	cfg  PostgresConfig
	fp   string // Fingerprint of the signer
	reqs chan *request
	ops  chan *pgOp

	mu     sync.RWMutex // guards closed against Append and Prune sending
	closed bool
	quit   chan struct{}
	done   chan struct{} // closed when the writer ends

	hmu        sync.Mutex
	health     error // the last transaction's error
	healthLost bool  // whether the failure was logged

	progress // its notices are commits of records

	// Owned by the writer goroutine.
	conn     *pgxpool.Conn
	chains   map[string]*pgChain // this run's chains, by region
	stale    bool                // reload the chains before writing
	newCkpts int                 // checkpoints in the transaction being built
	closeErr error
}

// pgOp is work for the writer goroutine other than appending.
type pgOp struct {
	fn   func() error
	done chan error // buffered
}

// OpenPostgres connects to the database at cfg.DSN, creates or migrates the
// trail's tables, and starts the writer. Several nodes may open one
// database at once. The node's chains are started as records of their
// regions arrive.
func OpenPostgres(ctx context.Context, cfg PostgresConfig) (*PostgresLog, error) {
	if cfg.Node == "" {
		return nil, errors.New("audit: PostgresConfig.Node is required")
	}
	pub, err := checkSigner(cfg.Signer, "PostgresConfig")
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
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultPostgresWriteTimeout
	}
	if cfg.Sync, err = ParseSyncMode(string(cfg.Sync)); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pool, err := newPool(ctx, cfg.DSN, cfg.WriteTimeout)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*PostgresLog, error) {
		pool.Close()
		return nil, fmt.Errorf("audit: open: %w", pgErr(err))
	}
	if err := checkDurable(ctx, pool); err != nil {
		return fail(err)
	}
	if err := pgMigrate(ctx, pool, cfg.Now().UnixMilli()); err != nil {
		return fail(err)
	}
	l := &PostgresLog{
		cfg:    cfg,
		fp:     Fingerprint(pub),
		reqs:   make(chan *request, 4*cfg.MaxBatch),
		ops:    make(chan *pgOp),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		chains: map[string]*pgChain{},
	}
	l.PostgresReader = PostgresReader{pool: pool, wake: l.woken}
	go l.run()
	return l, nil
}

// newPool opens a pool on dsn. Connecting is bounded by connectTimeout
// unless the DSN says otherwise, so that a database that does not answer
// fails writes rather than holding them.
func newPool(ctx context.Context, dsn string, connectTimeout time.Duration) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err) // pgconn redacts the password
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		pc.MaxConns = defaultPostgresMaxConns
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return pool, nil
}

// checkDurable refuses a connection whose synchronous_commit is off (for
// the server, the database, the role or in the DSN): records of changes
// would not be durable when acknowledged.
func checkDurable(ctx context.Context, q pgQuerier) error {
	var sc string
	if err := q.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&sc); err != nil {
		return err
	}
	if sc == "off" {
		return errors.New("synchronous_commit is off: records of changes would not be durable when acknowledged")
	}
	return nil
}

// Append adds r to the trail and returns once it is committed: with
// synchronous_commit on if it records a change (see [SyncChanges]), else
// handed to the database. It fills in r's EventID, EventVersion and
// EventTime as [Log.Append] does. r.AWSRegion must be set.
//
// An error means the record may not have been written; the caller must fail
// the request. Append waits at most WriteTimeout (and while ctx lasts): if
// it gives up, the record may still be written.
func (l *PostgresLog) Append(ctx context.Context, r *Record) error {
	if err := r.fillIn(l.cfg.Now); err != nil {
		return err
	}
	body, err := r.MarshalJSON()
	if err != nil {
		return fmt.Errorf("audit: encode record: %w", err)
	}
	req := newRequest(r, body)
	req.sync = needsSync(l.cfg.Sync, r)
	req.done = make(chan error, 1)
	timer := time.NewTimer(l.cfg.WriteTimeout)
	defer timer.Stop()
	if err := l.send(ctx, timer.C, req); err != nil {
		return err
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: %w (the record may yet be written)", ctx.Err())
	case <-timer.C:
		return fmt.Errorf("audit: %w: no commit within %v (the record may yet be written)",
			kms.ErrUnavailable, l.cfg.WriteTimeout)
	}
}

// send hands req to the writer unless the log is closed. Holding the read
// lock while it waits lets Close wait for every send in flight.
func (l *PostgresLog) send(ctx context.Context, timeout <-chan time.Time, req *request) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	select {
	case l.reqs <- req:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: %w", ctx.Err())
	case <-timeout:
		return fmt.Errorf("audit: %w: the writer is %v behind", kms.ErrUnavailable, l.cfg.WriteTimeout)
	}
}

// do runs fn in the writer goroutine.
func (l *PostgresLog) do(ctx context.Context, fn func() error) error {
	o := &pgOp{fn: fn, done: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	select {
	case l.ops <- o:
	case <-ctx.Done():
		l.mu.RUnlock()
		return fmt.Errorf("audit: %w", ctx.Err())
	}
	l.mu.RUnlock()
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: %w (the operation may yet complete)", ctx.Err())
	}
}

// Healthy returns nil unless the writer's last transaction failed;
// callers check it before acting on a request they will have to audit.
// While it fails, the writer tries the database every RetryInterval.
func (l *PostgresLog) Healthy() error {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	return wrapHealth(l.health)
}

func (l *PostgresLog) setHealth(err error) {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	l.health = err
	switch {
	case err != nil && !l.healthLost:
		l.cfg.Logger.Error("audit trail cannot be written; requests will be refused", "err", err)
	case err == nil && l.healthLost:
		l.cfg.Logger.Info("audit trail writable again")
	}
	l.healthLost = err != nil
}

// Close stops accepting records, commits those already sent, signs a final
// checkpoint for each of the node's chains with unsigned records, marks
// them closed and closes the pool. The returned error includes a failed
// final commit or checkpoint.
func (l *PostgresLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	l.pool.Close()
	return l.closeErr
}

// run is the writer goroutine.
func (l *PostgresLog) run() {
	defer close(l.done)
	ckpt := time.NewTicker(l.cfg.CheckpointInterval)
	defer ckpt.Stop()
	retry := time.NewTicker(l.cfg.RetryInterval)
	defer retry.Stop()
	for {
		select {
		case req := <-l.reqs:
			l.commit(l.collect([]*request{req}))
		case o := <-l.ops:
			o.done <- o.fn()
		case <-ckpt.C:
			if err := l.checkpointAll("interval"); err != nil {
				l.cfg.Logger.Debug("audit: checkpoint", "err", err)
			}
		case <-retry.C:
			if l.Healthy() != nil {
				l.probe()
			}
		case <-l.quit:
			l.finish()
			return
		}
	}
}

// collect adds to batch what is queued, up to MaxBatch. It never waits:
// what arrives while a transaction commits is the next one's.
func (l *PostgresLog) collect(batch []*request) []*request {
	for len(batch) < l.cfg.MaxBatch {
		select {
		case req := <-l.reqs:
			batch = append(batch, req)
		default:
			return batch
		}
	}
	return batch
}

// commit writes reqs in one transaction and answers their callers.
func (l *PostgresLog) commit(reqs []*request) error {
	sync := slices.ContainsFunc(reqs, func(r *request) bool { return r.sync })
	start := time.Now()
	err := l.write(sync, func(ctx context.Context, conn *pgx.Conn, b *pgx.Batch) error {
		return l.queueRecords(ctx, conn, b, reqs)
	})
	if err != nil {
		err = fmt.Errorf("audit: write: %w", err)
	} else {
		l.records.Add(uint64(len(reqs)))
		l.batches.Add(1)
		if sync {
			l.countSync(time.Since(start))
		}
	}
	for _, req := range reqs {
		req.done <- err
	}
	if err == nil {
		l.notify()
	}
	return err
}

// finish is the writer's end, at Close: it commits what is queued and
// closes the node's chains.
func (l *PostgresLog) finish() {
	defer func() {
		if l.conn != nil {
			l.conn.Release()
			l.conn = nil
		}
	}()
	// Close waited for every send in flight: what is queued is all there
	// will be. Once a transaction fails the rest fail with it, so that
	// Close does not wait a timeout per batch.
	var failed error
	for len(l.reqs) > 0 {
		batch := l.collect(nil)
		if failed != nil {
			for _, req := range batch {
				req.done <- failed
			}
			continue
		}
		failed = l.commit(batch)
	}
	if failed != nil {
		l.closeErr = fmt.Errorf("audit: close: %w", failed)
		return
	}
	if len(l.chains) == 0 {
		return
	}
	err := l.write(true, func(ctx context.Context, _ *pgx.Conn, b *pgx.Batch) error {
		ids := make([]int64, 0, len(l.chains))
		for _, c := range l.sortedChains() {
			if c.seq > c.ckptSeq {
				if err := l.queueCheckpoint(b, c, "close"); err != nil {
					return err
				}
			}
			ids = append(ids, c.id)
		}
		b.Queue(`UPDATE audit_chains SET closed = $1 WHERE id = ANY($2)`, l.cfg.Now().UnixMilli(), ids)
		return nil
	})
	if err != nil {
		l.closeErr = fmt.Errorf("audit: close: checkpoint: %w", err)
	}
}

// probe tries a transaction that needs a transaction id, as a batch does
// (a standby that a failover left behind cannot give one).
func (l *PostgresLog) probe() {
	l.write(true, func(_ context.Context, _ *pgx.Conn, b *pgx.Batch) error {
		b.Queue(`SELECT pg_current_xact_id()`)
		return nil
	})
}

func (l *PostgresLog) sortedChains() []*pgChain {
	return slices.SortedFunc(maps.Values(l.chains), func(a, b *pgChain) int { return cmp.Compare(a.region, b.region) })
}

// checkpointAll signs a checkpoint for each of the node's chains with
// unsigned records.
func (l *PostgresLog) checkpointAll(reason string) error {
	if !l.stale && !slices.ContainsFunc(l.sortedChains(), func(c *pgChain) bool { return c.seq > c.ckptSeq }) {
		return nil
	}
	err := l.write(true, func(_ context.Context, _ *pgx.Conn, b *pgx.Batch) error {
		for _, c := range l.sortedChains() {
			if c.seq > c.ckptSeq {
				if err := l.queueCheckpoint(b, c, reason); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit: checkpoint: %w", err)
	}
	return nil
}

// errMaybeCommitted marks a transaction whose connection was lost after
// its COMMIT was sent, when the chains could not tell whether it committed.
var errMaybeCommitted = errors.New("the commit may or may not have happened")

// write runs one transaction on the writer's connection: build queues its
// statements on a batch (and may run statements of its own before, outside
// the transaction), and write sends the batch, BEGIN to COMMIT, in one round
// trip. sync says whether the commit waits for the WAL flush. If the
// connection is lost, the chains the transaction extends tell whether it
// committed; if it did not, it is retried once on a new connection. On
// failure the chains are reloaded before the next write.
func (l *PostgresLog) write(sync bool, build func(ctx context.Context, conn *pgx.Conn, b *pgx.Batch) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.WriteTimeout)
	defer cancel()
	var err error
	for attempt := 1; ; attempt++ {
		var retry bool
		retry, err = l.tryWrite(ctx, sync, build)
		if err == nil || !retry || attempt == 2 || ctx.Err() != nil {
			break
		}
		l.cfg.Logger.Debug("audit: retrying a transaction on a new connection", "err", err)
	}
	if err != nil {
		l.failures.Add(1)
		err = pgErr(err)
	} else {
		l.checkpoints.Add(uint64(l.newCkpts))
	}
	l.setHealth(err)
	return err
}

func (l *PostgresLog) tryWrite(ctx context.Context, sync bool, build func(ctx context.Context, conn *pgx.Conn, b *pgx.Batch) error) (retry bool, err error) {
	pc, err := l.connection(ctx)
	if err != nil {
		return false, err
	}
	conn := pc.Conn()
	l.newCkpts = 0
	before := l.heads()
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	if !sync {
		b.Queue(`SET LOCAL synchronous_commit = off`)
	}
	sent := false
	if err = build(ctx, conn, b); err == nil {
		// COMMIT in the batch saves a round trip a transaction. If a
		// statement fails, PostgreSQL skips the rest of the batch, COMMIT
		// with it.
		b.Queue(`COMMIT`)
		sent = true
		if err = conn.SendBatch(ctx, b).Close(); err == nil {
			return false, nil
		}
	}
	// Whatever the writer thought, the database holds the chains.
	l.stale = true
	if !conn.IsClosed() {
		if conn.PgConn().TxStatus() != 'I' {
			if _, rerr := conn.Exec(ctx, `ROLLBACK`); rerr != nil && !conn.IsClosed() {
				conn.Close(ctx)
			}
		}
		if !conn.IsClosed() {
			return false, err
		}
	}
	pc.Release()
	l.conn = nil
	if !sent {
		return true, err
	}
	// The connection was lost with the batch sent: the transaction may
	// have committed. A new connection reloads the chains; each chain the
	// batch extends is either where the batch left it or where it found it.
	after := l.heads()
	if _, cerr := l.connection(ctx); cerr != nil {
		return false, fmt.Errorf("%w: %w; reconnecting: %w", errMaybeCommitted, err, cerr)
	}
	if !maps.Equal(before, after) && l.headsAre(after) {
		return false, nil // it committed
	}
	if l.headsAre(before) {
		return true, err // it did not, or it extends no chain (a probe): again
	}
	return false, fmt.Errorf("%w: %w", errMaybeCommitted, err)
}

// chainHead is where a chain is: its last record and last checkpoint.
type chainHead struct {
	seq, ckptSeq  uint64
	hash, ckptSig Hash
}

// heads returns where each of the node's chains is.
func (l *PostgresLog) heads() map[*pgChain]chainHead {
	h := make(map[*pgChain]chainHead, len(l.chains))
	for _, c := range l.chains {
		h[c] = chainHead{c.seq, c.ckptSeq, c.hash, c.ckptSig}
	}
	return h
}

// headsAre reports whether every chain of the node is where h says (a
// chain h does not know is at its start), and every chain h knows is still
// the node's.
func (l *PostgresLog) headsAre(h map[*pgChain]chainHead) bool {
	for c := range h {
		if l.chains[c.region] != c {
			return false
		}
	}
	for _, c := range l.chains {
		want, ok := h[c]
		if !ok {
			want = chainHead{hash: chainGenesis(c.name)}
		}
		if (chainHead{c.seq, c.ckptSeq, c.hash, c.ckptSig}) != want {
			return false
		}
	}
	return true
}

// connection returns the writer's connection, acquiring one if it has
// none, and reloads the chains if they may be stale or the connection is
// new (the database may have restarted and lost asynchronous commits).
func (l *PostgresLog) connection(ctx context.Context) (*pgxpool.Conn, error) {
	if l.conn != nil && l.conn.Conn().IsClosed() {
		l.conn.Release()
		l.conn = nil
	}
	if l.conn == nil {
		c, err := l.pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		// The setting may have been changed for the role or the database
		// since Open.
		if err := checkDurable(ctx, c); err != nil {
			c.Release()
			return nil, err
		}
		l.conn = c
		l.stale = true
	}
	if l.stale {
		for region, c := range l.chains {
			ok, err := loadChain(ctx, l.conn.Conn(), c)
			if err != nil {
				if l.conn.Conn().IsClosed() {
					l.conn.Release()
					l.conn = nil
				}
				return nil, fmt.Errorf("reload chain %s: %w", c.name, err)
			}
			if !ok {
				delete(l.chains, region) // its registration was lost
			}
		}
		l.stale = false
	}
	return l.conn, nil
}

// chainFor returns the node's chain for region, registering a new one in
// its own transaction if there is none yet: an empty chain is harmless,
// and records can then name it in the batch.
func (l *PostgresLog) chainFor(ctx context.Context, conn *pgx.Conn, region string) (*pgChain, error) {
	if c := l.chains[region]; c != nil {
		return c, nil
	}
	now := l.cfg.Now()
	name := newChainName(l.cfg.Node, now)
	c := &pgChain{name: name, region: region, hash: chainGenesis(name)}
	if err := conn.QueryRow(ctx, `INSERT INTO audit_chains (name, region, node, started) VALUES ($1, $2, $3, $4)
		RETURNING id`, name, region, pgIndexValue(l.cfg.Node), now.UnixMilli()).Scan(&c.id); err != nil {
		return nil, fmt.Errorf("register chain: %w", err)
	}
	l.chains[region] = c
	return c, nil
}

// pgInsertRecords inserts records, their columns unnested from arrays, and
// the transaction's postings (see audit_postings): each covers the ids the
// statement inserted. txid is the transaction's id (see audit_records).
// The arrays are unnested in the select list, where they go in step
// without the tuplestore that unnest in FROM fills first.
const pgInsertRecords = `WITH ins AS (
	INSERT INTO audit_records (txid, chain, seq, prev, hash, body, region, account, event_time, event_id,
		event_name, event_source, user_name, access_key_id, request_id, read_only, resources)
	SELECT pg_current_xact_id()::text::bigint, unnest($1::bigint[]), unnest($2::bigint[]), unnest($3::bytea[]),
		unnest($4::bytea[]), unnest($5::bytea[]), unnest($6::text[]), unnest($7::text[]), unnest($8::bigint[]),
		unnest($9::text[]), unnest($10::text[]), unnest($11::text[]), unnest($12::text[]), unnest($13::text[]),
		unnest($14::text[]), unnest($15::boolean[]), unnest($16::text[])
	RETURNING id
), b AS (
	SELECT MIN(id) AS first_id, MAX(id) AS last_id FROM ins
)
INSERT INTO audit_postings (attr, value, account, region, last_id, first_id, min_time, max_time)
SELECT unnest($17::text[]), unnest($18::text[]), unnest($19::text[]), unnest($20::text[]), b.last_id, b.first_id,
	unnest($21::bigint[]), unnest($22::bigint[])
FROM b`

// pgUpsertLastUse records keys' last uses. The rows come sorted by ARN, so
// that two nodes updating the same keys lock their rows in one order and
// never deadlock; a later event wins, and of equal ones the last written.
const pgUpsertLastUse = `INSERT INTO audit_key_last_use AS k (arn, event_time, event_name, region, event_id, request_id)
	SELECT * FROM (SELECT unnest($1::text[]) AS arn, unnest($2::bigint[]), unnest($3::text[]), unnest($4::text[]),
		unnest($5::text[]), unnest($6::text[])) u
	ORDER BY u.arn
	ON CONFLICT (arn) DO UPDATE SET event_time = excluded.event_time, event_name = excluded.event_name,
		region = excluded.region, event_id = excluded.event_id, request_id = excluded.request_id
	WHERE excluded.event_time >= k.event_time`

// pgRecordRows are the arguments of pgInsertRecords: a column each.
type pgRecordRows struct {
	chains, seqs, times                                                        []int64
	prevs, hashes, bodies                                                      [][]byte
	regions, accounts, ids, names, sources, users, keys, requestIDs, resources []string
	readOnly                                                                   []bool
	postings                                                                   postings
}

func (p *pgRecordRows) args() []any {
	n := len(p.postings)
	attrs, values, accounts, regions := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	minTimes, maxTimes := make([]int64, 0, n), make([]int64, 0, n)
	for k, r := range p.postings {
		attrs, values, accounts, regions = append(attrs, k.attr), append(values, k.value), append(accounts, k.account), append(regions, k.region)
		minTimes, maxTimes = append(minTimes, r.minTime), append(maxTimes, r.maxTime)
	}
	return []any{p.chains, p.seqs, p.prevs, p.hashes, p.bodies, p.regions, p.accounts, p.times, p.ids, p.names,
		p.sources, p.users, p.keys, p.requestIDs, p.readOnly, p.resources,
		attrs, values, accounts, regions, minTimes, maxTimes}
}

// queueRecords adds reqs to the node's chains and queues their inserts on
// b, with the checkpoints they make due.
func (l *PostgresLog) queueRecords(ctx context.Context, conn *pgx.Conn, b *pgx.Batch, reqs []*request) error {
	p := pgRecordRows{postings: postings{}}
	var due []*pgChain
	uses := map[string]lastUse{}
	var res strings.Builder
	for _, req := range reqs {
		c, err := l.chainFor(ctx, conn, pgIndexValue(req.region))
		if err != nil {
			return err
		}
		// prev and hash are this iteration's own: c moves on.
		seq, prev := c.seq+1, c.hash
		hash := recordHash(prev, seq, req.body)
		account, name, user := pgIndexValue(req.account), pgIndexValue(req.eventName), pgIndexValue(req.user)
		source, key := pgIndexValue(req.source), pgIndexValue(req.accessKey)
		post := func(attr, value string) {
			// The ids are the statement's (see pgInsertRecords): only the
			// times are the records'.
			p.postings.add(postingKey{attr, value, account, c.region}, 0, req.eventTime)
		}
		res.Reset()
		for _, rs := range req.resources {
			arn := pgIndexValue(rs.ARN)
			if !strings.Contains(res.String(), " "+arn+" ") {
				if res.Len() == 0 {
					res.WriteByte(' ')
				}
				last := pgIndexValue(resourceName(rs.ARN))
				res.WriteString(arn + " " + last + " ")
				post("res", last)
			}
			if req.keyUse && rs.Type == ResourceTypeKey {
				// Later records win ties: they were logged later.
				if u, ok := uses[arn]; !ok || req.eventTime >= u.Time.UnixMilli() {
					uses[arn] = lastUse{arn: arn, LastUse: LastUse{
						Time: time.UnixMilli(req.eventTime).UTC(), EventName: name,
						Region: c.region, EventID: pgIndexValue(req.eventID), RequestID: pgIndexValue(req.requestID),
					}}
				}
			}
		}
		for _, a := range [...][2]string{{"all", ""}, {"name", name}, {"user", user}, {"key", key}, {"source", source},
			{"ro", strconv.FormatBool(req.readOnly)}} {
			post(a[0], a[1])
		}
		p.chains, p.seqs, p.times = append(p.chains, c.id), append(p.seqs, int64(seq)), append(p.times, req.eventTime)
		p.prevs, p.hashes, p.bodies = append(p.prevs, prev[:]), append(p.hashes, hash[:]), append(p.bodies, req.body)
		p.regions, p.accounts = append(p.regions, c.region), append(p.accounts, account)
		p.ids, p.names = append(p.ids, pgIndexValue(req.eventID)), append(p.names, name)
		p.sources, p.users = append(p.sources, source), append(p.users, user)
		p.keys, p.requestIDs = append(p.keys, key), append(p.requestIDs, pgIndexValue(req.requestID))
		p.readOnly, p.resources = append(p.readOnly, req.readOnly), append(p.resources, res.String())
		c.seq, c.hash = seq, hash
		if c.seq >= c.ckptSeq+uint64(l.cfg.CheckpointEvery) && !slices.Contains(due, c) {
			due = append(due, c)
		}
	}
	b.Queue(pgInsertRecords, p.args()...)
	// A checkpoint covers the chain's head at the end of the batch: one
	// per chain and batch, however far past the count.
	for _, c := range due {
		if err := l.queueCheckpoint(b, c, "count"); err != nil {
			return err
		}
	}
	if len(uses) > 0 {
		var arns, names, regions, ids, requestIDs []string
		var times []int64
		for _, arn := range slices.Sorted(maps.Keys(uses)) {
			u := uses[arn]
			arns, times, names = append(arns, arn), append(times, u.Time.UnixMilli()), append(names, u.EventName)
			regions, ids, requestIDs = append(regions, u.Region), append(ids, u.EventID), append(requestIDs, u.RequestID)
		}
		// Last: its rows stay locked until the commit.
		b.Queue(pgUpsertLastUse, arns, times, names, regions, ids, requestIDs)
	}
	return nil
}

// queueCheckpoint signs a checkpoint of c's current head and queues its
// insert on b.
func (l *PostgresLog) queueCheckpoint(b *pgx.Batch, c *pgChain, reason string) error {
	body, sig, err := signed(l.cfg.Signer, chainCheckpointDomain, ChainCheckpoint{
		Checkpoint: Checkpoint{
			Version:               1,
			Region:                c.region,
			Seq:                   c.seq,
			Hash:                  c.hash.String(),
			PreviousSignatureHash: c.ckptSig.String(),
			Time:                  l.cfg.Now().UTC(),
			Reason:                reason,
			KeyFingerprint:        l.fp,
		},
		Chain: c.name,
	})
	if err != nil {
		return err
	}
	b.Queue(`INSERT INTO audit_checkpoints (chain, seq, body, signature) VALUES ($1, $2, $3, $4)`, c.id, int64(c.seq), body, sig)
	c.ckptSeq, c.ckptSig = c.seq, sigHash(sig)
	l.newCkpts++
	return nil
}

// pgErr marks errors that mean the database is not answering (down,
// unreachable, too slow, restarting, out of connections, or a standby) as
// [kms.ErrUnavailable], so that requests fail with a retryable error. It
// also cuts a *pgconn.PgError off the chain: its Detail may quote a row.
func pgErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg := err.Error()
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, starting up
			pe.Code == "53300", // too many connections
			pe.Code == "25006": // read-only transaction: a standby
			return fmt.Errorf("%w: %s", kms.ErrUnavailable, msg)
		}
		return errors.New(msg)
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errMaybeCommitted) {
		return fmt.Errorf("%w: %w", kms.ErrUnavailable, err)
	}
	return err
}

// Stats returns counts of the log's work since it was opened.
func (l *PostgresLog) Stats() Stats {
	s := l.progress.Stats()
	s.Queued = len(l.reqs)
	return s
}
