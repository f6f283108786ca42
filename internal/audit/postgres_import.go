package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

// Importing a data dir's audit log into a cluster's PostgreSQL trail, for
// `kms migrate`. The records keep their exact JSON bytes; they are chained
// anew, one chain per region as a node's run would make, because a chain's
// genesis and its checkpoints name the chain, so the SQLite log's own
// hashes and checkpoints cannot be carried over. The source is verified
// first, so the new chains vouch only for records whose old chain held,
// and they are signed with the same checkpoint key.

// importBatch is how many records go into one INSERT of an import.
const importBatch = DefaultMaxBatch

// ImportConfig configures [ImportToPostgres].
type ImportConfig struct {
	// Source is the SQLite audit database (a data dir's audit.db, its
	// segments beside it). Nothing writes to it during the import.
	Source string
	// DSN is the PostgreSQL database whose trail receives the records.
	// Errors never quote it.
	DSN string
	// Signer is the checkpoint key: the source's checkpoints must verify
	// under its public half, and it signs the new chains' checkpoints.
	Signer ed25519.PrivateKey
	// Node names the new chains as a node's name does: each is
	// "<Node>@<time>/<random>", e.g. Node "migrated from /var/lib/kms".
	Node string
	// Now stamps the chains and their checkpoints; defaults to time.Now.
	Now func() time.Time
	// Progress, if set, is called after each batch of records with the
	// number imported so far.
	Progress func(records int)
}

// ImportedChain is a chain an import wrote: its region and name, and the
// records in it.
type ImportedChain struct {
	Region, Name string
	Records      uint64
}

// ImportSummary is what [ImportToPostgres] did.
type ImportSummary struct {
	Records     int
	Chains      []ImportedChain // by region
	Checkpoints int
	LastUses    int // keys' last uses carried over
	// Truncations are the source's records lost with the end of a segment
	// (see [Truncation]): their JSON is gone, so they are not imported.
	Truncations []Truncation
}

// Lost counts the source's records that were lost with the end of a
// segment and so not imported.
func (s ImportSummary) Lost() uint64 {
	return (&Report{Truncations: s.Truncations}).Lost()
}

// ImportToPostgres copies every record of the SQLite audit log at
// cfg.Source into the PostgreSQL trail at cfg.DSN, which must have no
// records, chains or checkpoints yet (its tables are created if missing).
//
// It first verifies the source with [Verify] under the signer's public key
// and refuses, having written nothing, if it finds any [Problem] or
// records not yet indexed (a server indexes them when it starts). Records
// lost with the end of a segment are allowed: they are listed in the
// summary's Truncations.
//
// The records, with their exact JSON bytes, go into new chains of their
// own, one per region, hashed and checkpointed as a node's would be
// (checkpoints every DefaultCheckpointEvery records and at the end, signed
// with cfg.Signer), so that [VerifyPostgres], lookups and exports see them.
// The keys' last uses are carried over (the source keeps them past
// pruning), and the trail's TrackingStart becomes the source's when that
// is earlier. Everything is one transaction: a failed import leaves the
// trail as it was.
func ImportToPostgres(ctx context.Context, cfg ImportConfig) (ImportSummary, error) {
	var sum ImportSummary
	if cfg.Source == "" || cfg.DSN == "" || cfg.Node == "" {
		return sum, errors.New("audit: import: Source, DSN and Node are required")
	}
	if len(cfg.Signer) != ed25519.PrivateKeySize {
		return sum, errors.New("audit: import: Signer is not an Ed25519 private key")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pub := cfg.Signer.Public().(ed25519.PublicKey)
	if _, err := os.Stat(cfg.Source); err != nil {
		return sum, fmt.Errorf("audit: import: no audit log: %w", err)
	}
	rep, err := Verify(ctx, cfg.Source, pub)
	if err != nil {
		return sum, fmt.Errorf("audit: import: %w", err)
	}
	if err := rep.Err(); err != nil {
		return sum, fmt.Errorf("audit: import: the source log does not verify, nothing imported: %w", err)
	}
	if rep.Unindexed > 0 {
		return sum, fmt.Errorf("audit: import: %d records of the source log are not indexed yet, nothing imported: "+
			"start the server on its data dir once and stop it (it indexes them at start)", rep.Unindexed)
	}
	sum.Truncations = rep.Truncations
	var want uint64 // the records Since will pass on
	for _, g := range rep.Regions {
		want += g.Records
	}
	want -= rep.Lost()

	src, err := OpenReader(cfg.Source)
	if err != nil {
		return sum, err
	}
	defer src.Close()
	created, err := src.TrackingStart(ctx)
	if err != nil {
		return sum, fmt.Errorf("audit: import: %w", err)
	}

	pool, err := newPool(ctx, cfg.DSN, DefaultPostgresWriteTimeout)
	if err != nil {
		return sum, err
	}
	defer pool.Close()
	fail := func(err error) (ImportSummary, error) {
		return sum, fmt.Errorf("audit: import: %w", pgErr(err))
	}
	if err := checkDurable(ctx, pool); err != nil {
		return fail(err)
	}
	if err := pgMigrate(ctx, pool, created.UnixMilli()); err != nil {
		return fail(err)
	}
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return fail(err)
	}
	defer pc.Release()
	conn := pc.Conn()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(context.Background())
	// Nodes register their chains in audit_chains: the lock keeps any
	// that start meanwhile waiting until the import is committed, so the
	// emptiness checked here holds until then.
	if _, err := tx.Exec(ctx, `LOCK TABLE audit_chains IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fail(err)
	}
	var used bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_chains) OR EXISTS (SELECT 1 FROM audit_records)
		OR EXISTS (SELECT 1 FROM audit_checkpoints) OR EXISTS (SELECT 1 FROM audit_anchors)`).Scan(&used); err != nil {
		return fail(err)
	}
	if used {
		return sum, errors.New("audit: import: the PostgreSQL trail has records already: import only into a new one")
	}
	// Key usage was tracked since the source log was created.
	if _, err := tx.Exec(ctx, `UPDATE audit_meta SET value = $1 WHERE name = 'created' AND value::bigint > $2`,
		fmt.Sprint(created.UnixMilli()), created.UnixMilli()); err != nil {
		return fail(err)
	}

	// A writer of its own, never started: its queueRecords and
	// queueCheckpoint make the chains exactly as a node's writer does, on
	// the transaction's connection.
	l := &PostgresLog{
		cfg:    PostgresConfig{Node: cfg.Node, Signer: cfg.Signer, CheckpointEvery: DefaultCheckpointEvery, Now: cfg.Now},
		fp:     Fingerprint(pub),
		chains: map[string]*pgChain{},
	}
	batch := make([]*request, 0, importBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		if err := l.queueRecords(ctx, conn, b, batch); err != nil {
			return err
		}
		if err := conn.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		sum.Records += len(batch)
		batch = batch[:0]
		if cfg.Progress != nil {
			cfg.Progress(sum.Records)
		}
		return nil
	}
	err = src.Since(ctx, time.Time{}, func(e Event) error {
		var r Record
		if err := json.Unmarshal(e.Raw, &r); err != nil {
			return fmt.Errorf("record %s %d: %w", e.Region, e.Seq, err)
		}
		// The region names the chain; the SQLite log filed the record
		// under the one its JSON names.
		if r.AWSRegion != e.Region {
			return fmt.Errorf("record %s %d names region %q", e.Region, e.Seq, r.AWSRegion)
		}
		batch = append(batch, newRequest(&r, bytes.Clone(e.Raw)))
		if len(batch) == importBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fail(err)
	}
	if uint64(sum.Records) != want {
		return sum, fmt.Errorf("audit: import: read %d records of the source, but it verified %d: nothing imported", sum.Records, want)
	}

	// Each chain ends signed, and closed as a node's run ends.
	b := &pgx.Batch{}
	ids := []int64{}
	for _, c := range l.sortedChains() {
		if c.seq > c.ckptSeq {
			if err := l.queueCheckpoint(b, c, "close"); err != nil {
				return fail(err)
			}
		}
		ids = append(ids, c.id)
		sum.Chains = append(sum.Chains, ImportedChain{Region: c.region, Name: c.name, Records: c.seq})
	}
	b.Queue(`UPDATE audit_chains SET closed = $1 WHERE id = ANY($2)`, cfg.Now().UnixMilli(), ids)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fail(err)
	}
	sum.Checkpoints = l.newCkpts
	if sum.LastUses, err = importLastUses(ctx, src, tx); err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return sum, nil
}

// importLastUses copies the source's key_last_use, which outlives pruned
// records, with the trail's rule: a later use wins.
func importLastUses(ctx context.Context, src *Reader, tx pgx.Tx) (int, error) {
	rows, err := src.db.QueryContext(ctx, `SELECT arn, event_time, event_name, region, event_id, request_id
		FROM key_last_use ORDER BY arn`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var arns, names, regions, ids, requestIDs []string
	var times []int64
	for rows.Next() {
		var arn, name, region, id, requestID string
		var t int64
		if err := rows.Scan(&arn, &t, &name, &region, &id, &requestID); err != nil {
			return 0, err
		}
		arns, times, names = append(arns, pgIndexValue(arn)), append(times, t), append(names, pgIndexValue(name))
		regions, ids = append(regions, pgIndexValue(region)), append(ids, pgIndexValue(id))
		requestIDs = append(requestIDs, pgIndexValue(requestID))
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(arns) == 0 {
		return 0, nil
	}
	if _, err := tx.Exec(ctx, pgUpsertLastUse, arns, times, names, regions, ids, requestIDs); err != nil {
		return 0, err
	}
	return len(arns), nil
}

// PostgresTrailEmpty reports whether the database at dsn holds no audit
// trail, or one without chains, records, checkpoints, anchors or keys'
// last uses. It reads only, and creates nothing.
func PostgresTrailEmpty(ctx context.Context, dsn string) (bool, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false, fmt.Errorf("audit: %w", pgErr(err)) // pgconn redacts the password
	}
	defer conn.Close(context.Background())
	var have bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('audit_records') IS NOT NULL`).Scan(&have); err != nil {
		return false, fmt.Errorf("audit: %w", pgErr(err))
	}
	if !have {
		return true, nil
	}
	var used bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_chains) OR EXISTS (SELECT 1 FROM audit_records)
		OR EXISTS (SELECT 1 FROM audit_checkpoints) OR EXISTS (SELECT 1 FROM audit_anchors)
		OR EXISTS (SELECT 1 FROM audit_key_last_use)`).Scan(&used); err != nil {
		return false, fmt.Errorf("audit: %w", pgErr(err))
	}
	return !used, nil
}
