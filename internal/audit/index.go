package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openkms/kms/internal/store/sqlite"
)

// init checks the journal mode, migrates, and loads each region's chain
// head and last checkpoint and the id of the next record.
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

	// Heads: the last record of each region. The regions are found by
	// seeking from one to the next in the (region, seq) index, and each
	// head by one more seek: a GROUP BY would read the whole index, about
	// a second per million records at every start.
	if err := l.eachRegion(ctx, `WITH RECURSIVE g(region) AS (`+distinctRegions("records")+`)
		SELECT r.region, r.seq, r.hash FROM g
		JOIN records r ON r.region = g.region AND r.seq = (SELECT MAX(seq) FROM records WHERE region = g.region)`,
		func(c *chain, seq uint64, hash []byte) {
			c.seq = seq
			copy(c.hash[:], hash)
		}); err != nil {
		return err
	}

	// The last checkpoint of each region.
	if err := l.eachRegion(ctx, `WITH RECURSIVE g(region) AS (`+distinctRegions("checkpoints")+`)
		SELECT c.region, c.seq, c.signature FROM g
		JOIN checkpoints c ON c.id = (SELECT MAX(id) FROM checkpoints WHERE region = g.region)`,
		func(c *chain, seq uint64, sig []byte) {
			c.ckptSeq, c.ckptSig = seq, sigHash(sig)
		}); err != nil {
		return err
	}

	// Record ids are given by the indexer (so that a batch's resources can
	// name them), continuing AUTOINCREMENT's sequence: ids are never
	// reused, even after a prune empties the table.
	var last sql.NullInt64
	if err := l.w.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'records'`).Scan(&last); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return err
	}
	l.nextID = last.Int64 + 1
	return nil
}

// eachRegion runs query, whose rows are (region, seq, blob), and lets set
// update the region's chain from each.
func (l *Log) eachRegion(ctx context.Context, query string, set func(c *chain, seq uint64, b []byte)) error {
	rows, err := l.w.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	for rows.Next() {
		var region string
		var seq uint64
		var b []byte
		if err := rows.Scan(&region, &seq, &b); err != nil {
			rows.Close()
			return err
		}
		c := l.regions[region]
		set(&c, seq, b)
		l.regions[region] = c
	}
	return errors.Join(rows.Err(), rows.Close())
}

// distinctRegions is the body of a recursive common table expression g
// listing the regions of table, each found by one seek in an index that
// starts with region (a loose index scan, which SQLite does not plan by
// itself).
func distinctRegions(table string) string {
	return `SELECT MIN(region) FROM ` + table + ` UNION ALL
		SELECT (SELECT MIN(region) FROM ` + table + ` WHERE region > g.region) FROM g WHERE g.region IS NOT NULL`
}

// setSegmentOffset records in tx that the segments have been taken in up
// to end in the one of epoch.
func (l *Log) setSegmentOffset(tx *sql.Tx, epoch uint64, end int64) error {
	_, err := l.stmt(tx, stSetMeta).ExecContext(l.ctx, "segment_epoch", strconv.FormatUint(epoch, 10))
	if err == nil {
		_, err = l.stmt(tx, stSetMeta).ExecContext(l.ctx, "segment_offset", strconv.FormatInt(end, 10))
	}
	return err
}

// removeSegments deletes the segments before epoch, which hold only pruned
// records.
func (l *Log) removeSegments(epoch uint64) {
	epochs, err := segmentFiles(l.cfg.Path)
	if err != nil {
		l.cfg.Logger.Warn("audit: listing segments", "err", err)
		return
	}
	for _, e := range epochs {
		if e >= epoch {
			break
		}
		if err := os.Remove(segmentPath(l.cfg.Path, e)); err != nil {
			l.cfg.Logger.Warn("audit: removing a segment", "err", err)
		}
	}
	l.Reader.segs.forget(epoch)
}

// The indexer's statements, prepared once: parsing them for every batch
// would cost more than running them. The INSERTs of records and postings
// are prefix and suffix around the rows (see multiRow).
var (
	stInsertRecords = [2]string{`INSERT INTO records (id, region, seq, prev, hash, body, segment, segment_offset,
		event_time, event_id, event_name, event_source, user_name, access_key_id, request_id, read_only, account, resources)
		VALUES `, ``}
	stInsertPostings = [2]string{`INSERT INTO postings (attr, value, account, region, last_id, first_id, min_time, max_time)
		VALUES `, ``}
)

const (
	recordColumns  = 18
	postingColumns = 8

	stLastUse = `INSERT INTO key_last_use (arn, event_time, event_name, region, event_id, request_id)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (arn) DO UPDATE SET event_time = excluded.event_time, event_name = excluded.event_name,
			region = excluded.region, event_id = excluded.event_id, request_id = excluded.request_id
		WHERE excluded.event_time >= key_last_use.event_time`
	stInsertCheckpoint = `INSERT INTO checkpoints (region, seq, body, signature) VALUES (?, ?, ?, ?)`
	stSetMeta          = `INSERT INTO meta (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`
)

func (l *Log) prepare() error {
	l.stmts = map[string]*sql.Stmt{}
	queries := []string{stLastUse, stInsertCheckpoint, stSetMeta}
	for _, rows := range rowChunks {
		queries = append(queries, multiRow(stInsertRecords, recordColumns, rows),
			multiRow(stInsertPostings, postingColumns, rows))
	}
	for _, q := range queries {
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

// runIndexer is the indexer goroutine: it owns the database. It ends after
// the writer, once it has taken in everything written.
func (l *Log) runIndexer() {
	defer close(l.done)
	ckpt := time.NewTicker(l.cfg.CheckpointInterval)
	defer ckpt.Stop()
	retry := time.NewTicker(l.cfg.RetryInterval)
	defer retry.Stop()
	for {
		// While a failed batch waits for its retry, later ones wait behind
		// it: the chain is built in the order records were written.
		from := l.toIndex
		if len(l.pending) > 0 {
			from = nil
		}
		select {
		case s, ok := <-from:
			if !ok {
				l.finish()
				return
			}
			l.pending = l.gather(append(l.pending, s))
			l.indexPending()
			// Requests that became ready during the transaction run
			// before the next one.
			runtime.Gosched()
		case o := <-l.ops:
			o.done <- l.runOp(o)
		case <-ckpt.C:
			l.checkpointAll("interval")
		case <-retry.C:
			switch {
			case len(l.pending) > 0:
				l.indexPending()
			case l.indexHealth() != nil:
				l.probe()
			}
		}
	}
}

// maxIndexBatch caps the records the indexer takes in per transaction
// (give or take a batch of the syncer). A transaction holds the server's
// processor while it runs, about 10µs a record, and requests that arrive
// meanwhile wait: with 4096, p99 at 1,000 Encrypt a second was 1.3-2.1 ms
// above the floor's; with 64, 0.8-1.5 ms (BENCHMARKS.md). The indexer
// yields between transactions.
const maxIndexBatch = 64

// indexDelay is how long the indexer waits for more synced records before
// a transaction of fewer than maxIndexBatch, unless a reader is waiting:
// the records are durable already, and one transaction for many costs less
// than many small ones. Readers in other processes see records that much
// later.
const indexDelay = 200 * time.Millisecond

// gather adds to batches what the writer writes within indexDelay, up to
// maxIndexBatch records, or until a reader asks for them.
func (l *Log) gather(batches []written) []written {
	n := 0
	for _, b := range batches {
		n += len(b.reqs)
	}
	t := time.NewTimer(indexDelay)
	defer t.Stop()
	for n < maxIndexBatch {
		select {
		case s, ok := <-l.toIndex:
			if !ok {
				// Closed: runIndexer sees it again on its next receive.
				return batches
			}
			batches = append(batches, s)
			n += len(s.reqs)
		case <-l.flush:
			return l.drain(batches, n)
		case <-t.C:
			return batches
		}
	}
	return batches
}

// drain adds to batches what is written already, up to maxIndexBatch
// records in all (n so far).
func (l *Log) drain(batches []written, n int) []written {
	for n < maxIndexBatch {
		select {
		case s, ok := <-l.toIndex:
			if !ok {
				return batches
			}
			batches = append(batches, s)
			n += len(s.reqs)
		default:
			return batches
		}
	}
	return batches
}

func (l *Log) indexPending() {
	if err := l.index(l.pending); err != nil {
		l.cfg.Logger.Debug("audit: index", "err", err)
		l.notify() // readers waiting to catch up see the failure
		return
	}
	l.pending = l.pending[:0]
}

// index takes written batches into the database in one transaction.
func (l *Log) index(batches []written) error {
	last := batches[len(batches)-1]
	reqs := batches[0].reqs
	if len(batches) > 1 {
		// One insert for all: its multi-row statements and its last-use
		// upserts (one per key) cost per call, and a batch of the writer
		// may hold a single record.
		reqs = make([]*request, 0, len(batches)*len(batches[0].reqs))
		for _, b := range batches {
			reqs = append(reqs, b.reqs...)
		}
	}
	err := l.write(func(tx *sql.Tx) error {
		p := postings{}
		if err := l.insert(tx, reqs, p); err != nil {
			return err
		}
		if err := l.insertPostings(tx, p); err != nil {
			return err
		}
		return l.setSegmentOffset(tx, last.epoch, last.end)
	})
	if err != nil {
		return err
	}
	n := 0
	for _, b := range batches {
		n += len(b.reqs)
	}
	l.indexed.Add(uint64(n))
	l.notify()
	// Everything written before this segment is in the database.
	l.epoch = last.epoch
	return nil
}

// finish is the indexer's end, at Close: a final checkpoint for each region
// with unsigned records.
func (l *Log) finish() {
	if len(l.pending) > 0 {
		l.indexPending()
	}
	if len(l.pending) > 0 {
		l.closeErr = fmt.Errorf("audit: %d written records not indexed (the next Open takes them in): %w",
			len(l.pending), l.indexHealth())
		return
	}
	if err := l.checkpointAll("close"); err != nil {
		l.closeErr = err
	}
}

// write runs fn in a write transaction and commits it. Commits are not
// synced: the segments have the records, and a lost checkpoint is signed
// again. On failure it restores the chain heads as they were, so the next
// attempt reuses the same sequence numbers and ids.
func (l *Log) write(fn func(tx *sql.Tx) error) error {
	saved, savedID := maps.Clone(l.regions), l.nextID
	l.newCkpts = 0
	err := l.tryWrite(fn)
	if err != nil {
		l.regions, l.nextID = saved, savedID
		l.failures.Add(1)
	} else {
		l.checkpoints.Add(uint64(l.newCkpts))
	}
	l.setHealth(&l.indexErr, err)
	return err
}

func (l *Log) tryWrite(fn func(tx *sql.Tx) error) error {
	if l.cfg.FailWrites != nil {
		if err := l.cfg.FailWrites(); err != nil {
			return err
		}
	}
	return sqlite.InTx(l.ctx, l.w, fn)
}

type lastUse struct {
	LastUse
	arn string
}

// postingKey is an attribute value of records of an account in a region.
type postingKey struct{ attr, value, account, region string }

// postings are the id ranges and event time ranges of the records with
// each attribute value, in one transaction.
type postings map[postingKey]*posting

type posting struct{ first, last, minTime, maxTime int64 }

// add notes a record with id and event time t under k.
func (p postings) add(k postingKey, id, t int64) {
	if r := p[k]; r != nil {
		r.last, r.minTime, r.maxTime = id, min(r.minTime, t), max(r.maxTime, t)
		return
	}
	p[k] = &posting{id, id, t, t}
}

// insert adds a batch of records to the chains and the records table, and
// their attribute values to p.
func (l *Log) insert(tx *sql.Tx, batch []*request, p postings) error {
	ctx := l.ctx
	recArgs := make([]any, 0, len(batch)*recordColumns)
	uses := map[string]lastUse{}
	var res strings.Builder
	for _, req := range batch {
		c := l.regions[req.region]
		seq := c.seq + 1
		prev, hash := c.hash, recordHash(c.hash, seq, req.body)
		id := l.nextID
		l.nextID++
		res.Reset()
		for _, rs := range req.resources {
			name := resourceName(rs.ARN)
			if !strings.Contains(res.String(), " "+rs.ARN+" ") {
				if res.Len() == 0 {
					res.WriteByte(' ')
				}
				res.WriteString(rs.ARN + " " + name + " ")
				p.add(postingKey{"res", name, req.account, req.region}, id, req.eventTime)
			}
			if req.keyUse && rs.Type == ResourceTypeKey {
				// Later records win ties: they were logged later.
				if u, ok := uses[rs.ARN]; !ok || req.eventTime >= u.Time.UnixMilli() {
					uses[rs.ARN] = lastUse{arn: rs.ARN, LastUse: LastUse{
						Time: time.UnixMilli(req.eventTime).UTC(), EventName: req.eventName,
						Region: req.region, EventID: req.eventID, RequestID: req.requestID,
					}}
				}
			}
		}
		// prev and hash are this iteration's own: the rows are executed
		// after the loop, when c has moved on. The body stays in its
		// segment: the row says where.
		recArgs = append(recArgs, id, req.region, seq, prev[:], hash[:], "", req.epoch, req.at,
			req.eventTime, req.eventID, req.eventName, req.source, req.user, req.accessKey, req.requestID,
			req.readOnly, req.account, res.String())
		for _, a := range [...][2]string{{"all", ""}, {"name", req.eventName}, {"user", req.user},
			{"key", req.accessKey}, {"source", req.source}, {"ro", strconv.FormatBool(req.readOnly)}} {
			p.add(postingKey{a[0], a[1], req.account, req.region}, id, req.eventTime)
		}
		c.seq, c.hash = seq, hash
		l.regions[req.region] = c
		// At the record that reaches the count, whatever the batch: the
		// checkpoint's row needs none of the records' rows.
		if c.seq >= c.ckptSeq+uint64(l.cfg.CheckpointEvery) {
			if err := l.checkpoint(tx, req.region, "count"); err != nil {
				return err
			}
		}
	}
	if err := l.insertRows(tx, stInsertRecords, recordColumns, recArgs); err != nil {
		return err
	}
	for _, u := range uses {
		if _, err := l.stmt(tx, stLastUse).ExecContext(ctx, u.arn, u.Time.UnixMilli(), u.EventName, u.Region, u.EventID, u.RequestID); err != nil {
			return err
		}
	}
	return nil
}

func (l *Log) insertPostings(tx *sql.Tx, p postings) error {
	args := make([]any, 0, len(p)*postingColumns)
	for k, r := range p {
		args = append(args, k.attr, k.value, k.account, k.region, r.last, r.first, r.minTime, r.maxTime)
	}
	return l.insertRows(tx, stInsertPostings, postingColumns, args)
}

// rowChunks are the numbers of rows the multi-row INSERT statements take:
// one statement per many rows costs far less than one per row.
var rowChunks = []int{256, 64, 16, 4, 1}

// insertRows inserts rows of n columns, args holding them one after another,
// with the statements made by prefix and suffix.
func (l *Log) insertRows(tx *sql.Tx, stmt [2]string, n int, args []any) error {
	for len(args) > 0 {
		for _, rows := range rowChunks {
			for len(args) >= rows*n {
				if _, err := l.stmt(tx, multiRow(stmt, n, rows)).ExecContext(l.ctx, args[:rows*n]...); err != nil {
					return err
				}
				args = args[rows*n:]
			}
		}
	}
	return nil
}

// multiRow is the text of stmt for rows rows of n columns.
func multiRow(stmt [2]string, n, rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
	return stmt[0] + strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ") + stmt[1]
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
	err := l.write(func(tx *sql.Tx) error {
		n, err := o.fn(tx)
		o.n = n
		return err
	})
	if err == nil && o.after != nil {
		o.after()
	}
	return err
}

// do runs fn in a write transaction in the indexer goroutine, and then, if
// it committed, after.
func (l *Log) do(ctx context.Context, fn func(tx *sql.Tx) (int, error), after func()) (int, error) {
	o := &op{fn: fn, after: after, done: make(chan error, 1)}
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
	// The records appended so far are in the database first, so that
	// none is left out of the prune.
	if err := l.caughtUp(ctx); err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	var keep uint64 // the first segment still needed
	n, err := l.do(ctx, func(tx *sql.Tx) (n int, err error) {
		if n, err = l.prune(tx, before); err == nil {
			keep, err = l.firstSegment(tx)
		}
		return n, err
	}, func() { l.removeSegments(keep) })
	if err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	return n, nil
}

// firstSegment is the first segment that holds records not pruned, or
// records not yet indexed. Ids follow the order records were written in, so
// the lowest id with a segment has the first one.
func (l *Log) firstSegment(tx *sql.Tx) (uint64, error) {
	var seg int64
	err := tx.QueryRowContext(l.ctx, `SELECT segment FROM records WHERE segment IS NOT NULL ORDER BY id LIMIT 1`).Scan(&seg)
	if errors.Is(err, sql.ErrNoRows) {
		return l.epoch, nil
	}
	if err != nil {
		return 0, err
	}
	return min(uint64(seg), l.epoch), nil
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
	if total > 0 {
		// Postings of pruned records only. One that still covers a record
		// left in another region stays; the lookup skips the gone ids.
		if _, err := tx.ExecContext(ctx, `DELETE FROM postings WHERE last_id < COALESCE((SELECT MIN(id) FROM records), ?)`,
			l.nextID); err != nil {
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
