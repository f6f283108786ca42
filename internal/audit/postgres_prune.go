package audit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// Prune deletes the records of every chain (every node's, live or not)
// older than before and returns how many. In each chain it deletes the
// longest prefix whose event times are all before it. It first has the
// writer sign a checkpoint of this node's chains; then, in one
// transaction, for each chain it prunes, it stores a signed [ChainAnchor]
// naming the first remaining record and the hash it chains to, and drops
// the checkpoints that covered only deleted records, so that
// VerifyPostgres checks what remains.
//
// Other nodes keep appending meanwhile: a prune only deletes records below
// the chain's head as it read it, and the anchor names what the records and
// checkpoints still to come chain to, whoever commits them. Prunes of
// several nodes take turns (an advisory lock).
func (l *PostgresLog) Prune(ctx context.Context, before time.Time) (int, error) {
	if err := l.do(ctx, func() error { return l.checkpointAll("prune") }); err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	total := 0
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		total = 0
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgPruneLock)); err != nil {
			return err
		}
		// Only chains with records: nodes start new ones at each open.
		rows, err := tx.Query(ctx, `SELECT c.id, c.name, c.region FROM audit_chains c
			WHERE EXISTS (SELECT 1 FROM audit_records r WHERE r.chain = c.id) ORDER BY c.id`)
		if err != nil {
			return err
		}
		type chainRow struct {
			id           int64
			name, region string
		}
		chains, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chainRow, error) {
			var c chainRow
			err := row.Scan(&c.id, &c.name, &c.region)
			return c, err
		})
		if err != nil {
			return err
		}
		for _, c := range chains {
			n, err := l.pruneChain(ctx, tx, c.id, c.name, c.region, before)
			if err != nil {
				return fmt.Errorf("chain %s: %w", c.name, err)
			}
			total += n
		}
		if total == 0 {
			return nil
		}
		// The postings that cover only deleted records. (A transaction in
		// flight may hold lower ids than the records left: its postings
		// are not visible here, and stay.)
		_, err = tx.Exec(ctx, `DELETE FROM audit_postings
			WHERE last_id < COALESCE((SELECT MIN(id) FROM audit_records), $1)`, int64(math.MaxInt64))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit: prune: %w", pgErr(err))
	}
	return total, nil
}

// pruneChain deletes the prefix of one chain older than before, in tx.
func (l *PostgresLog) pruneChain(ctx context.Context, tx pgx.Tx, id int64, name, region string, before time.Time) (int, error) {
	var first, head, keep *int64
	if err := tx.QueryRow(ctx, `SELECT
			(SELECT seq FROM audit_records WHERE chain = $1 ORDER BY seq LIMIT 1),
			(SELECT seq FROM audit_records WHERE chain = $1 ORDER BY seq DESC LIMIT 1),
			(SELECT MIN(seq) FROM audit_records WHERE chain = $1 AND event_time >= $2)`,
		id, before.UnixMilli()).Scan(&first, &head, &keep); err != nil {
		return 0, err
	}
	if first == nil {
		return 0, nil // nothing left to prune
	}
	firstKeep := *head + 1
	if keep != nil {
		firstKeep = *keep
	}
	if firstKeep <= *first {
		return 0, nil
	}
	var prev []byte
	if err := tx.QueryRow(ctx, `SELECT hash FROM audit_records WHERE chain = $1 AND seq = $2`,
		id, firstKeep-1).Scan(&prev); err != nil {
		return 0, fmt.Errorf("hash of record %d: %w", firstKeep-1, err)
	}
	prevHash, err := toHash(prev)
	if err != nil {
		return 0, fmt.Errorf("hash of record %d: %w", firstKeep-1, err)
	}
	var n int
	if err := tx.QueryRow(ctx, `WITH d AS (
			DELETE FROM audit_records WHERE chain = $1 AND seq < $2 RETURNING id
		)
		SELECT COUNT(*) FROM d`, id, firstKeep).Scan(&n); err != nil {
		return 0, err
	}
	// What the first checkpoint left chains to. The chain's owner may
	// commit checkpoints meanwhile; each chains to the latest one before
	// it, so the answer is the same whichever of them this transaction
	// sees: the first one left's previous signature; with none left, the
	// latest one deleted (found by the statement that deletes them, so
	// none slips in between); with none ever, the old anchor's.
	var deleted []byte
	err = tx.QueryRow(ctx, `WITH d AS (
			DELETE FROM audit_checkpoints WHERE chain = $1 AND seq < $2 RETURNING id, signature
		)
		SELECT signature FROM d ORDER BY id DESC LIMIT 1`, id, firstKeep).Scan(&deleted)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, err
	}
	var ckptPrev Hash
	var body []byte
	switch err := tx.QueryRow(ctx, `SELECT body FROM audit_checkpoints WHERE chain = $1 ORDER BY id LIMIT 1`,
		id).Scan(&body); {
	case err == nil:
		var c ChainCheckpoint
		if err := parseCanonical(body, &c); err != nil {
			return 0, fmt.Errorf("checkpoint: %w", err)
		}
		if _, ckptPrev, err = c.fields(); err != nil {
			return 0, fmt.Errorf("checkpoint: %w", err)
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, err
	case deleted != nil:
		ckptPrev = sigHash(deleted)
	default:
		if ckptPrev, err = pgAnchorBase(ctx, tx, id); err != nil {
			return 0, err
		}
	}
	body, sig, err := signed(l.cfg.Signer, chainAnchorDomain, ChainAnchor{
		Anchor: Anchor{
			Version:               1,
			Region:                region,
			Seq:                   uint64(firstKeep),
			PreviousHash:          prevHash.String(),
			PreviousSignatureHash: ckptPrev.String(),
			PrunedBefore:          before.UTC(),
			Time:                  l.cfg.Now().UTC(),
			KeyFingerprint:        l.fp,
		},
		Chain: name,
	})
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_anchors (chain, seq, body, signature) VALUES ($1, $2, $3, $4)
		ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, body = excluded.body, signature = excluded.signature`,
		id, firstKeep, body, sig); err != nil {
		return 0, err
	}
	return n, nil
}

// pgAnchorBase is what the chain's first checkpoint chains to by its
// anchor: zeros if it has none.
func pgAnchorBase(ctx context.Context, tx pgx.Tx, chain int64) (Hash, error) {
	var body []byte
	err := tx.QueryRow(ctx, `SELECT body FROM audit_anchors WHERE chain = $1`, chain).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return Hash{}, nil
	}
	if err != nil {
		return Hash{}, err
	}
	var a ChainAnchor
	if err := parseCanonical(body, &a); err != nil {
		return Hash{}, fmt.Errorf("anchor: %w", err)
	}
	_, prevSig, err := a.fields()
	return prevSig, err
}
