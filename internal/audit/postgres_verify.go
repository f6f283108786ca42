package audit

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// VerifyPostgres checks the PostgreSQL trail in the database at dsn
// against the public key of the cluster's signer, as [Verify] checks a
// SQLite log: every chain from its start (record 1, chained to the chain's
// genesis hash, or its prune anchor), every checkpoint and anchor
// signature, and the links and hashes of every record, with the same rules
// and kinds of [Problem]. Each chain has its own [RegionReport]; its Region,
// and the Region of its problems, is "<region> chain <name>". It reads one
// snapshot (a REPEATABLE READ transaction), so nodes may keep writing. The
// error is for failures to read; what is wrong with the trail is in the
// report.
//
// Besides, a chain whose row in audit_chains is missing is [Deleted] (its
// genesis and name, which its checkpoints sign, are not known). A whole
// chain deleted (its records, checkpoints, anchor and row) is not found,
// as a whole region deleted from a SQLite log is not.
func VerifyPostgres(ctx context.Context, dsn string, pub ed25519.PublicKey) (*Report, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("audit: verify: not an Ed25519 public key")
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", pgErr(err)) // pgconn redacts the password
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", pgErr(err))
	}
	defer tx.Rollback(context.Background())
	if err := pgCheckVersion(ctx, tx); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", pgErr(err))
	}
	chains, err := pgVerifyChains(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", pgErr(err))
	}
	v := pgVerifier{ctx: ctx, tx: tx, pub: pub, fp: Fingerprint(pub)}
	rep := &Report{}
	for _, c := range chains {
		g, err := v.chain(c)
		if err != nil {
			return nil, fmt.Errorf("audit: verify %s: %w", c.label, pgErr(err))
		}
		rep.Regions = append(rep.Regions, g)
	}
	slices.SortStableFunc(v.problems, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Region, b.Region), cmp.Compare(a.Seq, b.Seq))
	})
	rep.Problems = v.problems
	return rep, nil
}

// pgChainInfo is a chain as Verify finds it.
type pgChainInfo struct {
	id           int64
	name, region string
	registered   bool // it has its row in audit_chains
	label        string
}

// pgVerifyChains lists the chains that have a row or anything else stored,
// by label (region, then name).
func pgVerifyChains(ctx context.Context, tx pgx.Tx) ([]pgChainInfo, error) {
	// The chains of the records are found by seeking from one to the
	// next in the (chain, seq) index, rather than reading them all.
	rows, err := tx.Query(ctx, `WITH RECURSIVE rc(chain) AS (
			SELECT MIN(chain) FROM audit_records
			UNION ALL
			SELECT (SELECT MIN(chain) FROM audit_records WHERE chain > rc.chain) FROM rc WHERE rc.chain IS NOT NULL
		), ids AS (
			SELECT id FROM audit_chains
			UNION SELECT chain FROM rc WHERE chain IS NOT NULL
			UNION SELECT chain FROM audit_checkpoints
			UNION SELECT chain FROM audit_anchors
		)
		SELECT ids.id, c.name, c.region FROM ids LEFT JOIN audit_chains c ON c.id = ids.id`)
	if err != nil {
		return nil, err
	}
	chains, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgChainInfo, error) {
		var c pgChainInfo
		var name, region *string
		if err := row.Scan(&c.id, &name, &region); err != nil {
			return c, err
		}
		if name != nil && region != nil {
			c.name, c.region, c.registered = *name, *region, true
			c.label = chainLabel(c.region, c.name)
		} else {
			c.label = fmt.Sprintf("unregistered chain #%d", c.id)
		}
		return c, nil
	})
	slices.SortFunc(chains, func(a, b pgChainInfo) int { return strings.Compare(a.label, b.label) })
	return chains, err
}

type pgVerifier struct {
	ctx      context.Context
	tx       pgx.Tx
	pub      ed25519.PublicKey
	fp       string
	problems []Problem
}

func (v *pgVerifier) report(p Problem) { v.problems = append(v.problems, p) }

// chain checks one chain, as verifier.region checks a region.
func (v *pgVerifier) chain(c pgChainInfo) (RegionReport, error) {
	label := c.label
	g := RegionReport{Region: label, FirstSeq: 1}
	if !c.registered {
		v.report(Problem{Kind: Deleted, Region: label, Detail: "the chain's row in audit_chains is missing"})
	}
	start, startPrev, ckptPrev, err := v.anchor(c)
	if err != nil {
		return g, err
	}
	if start > 1 {
		g.Anchored = true
		g.FirstSeq = start
	}
	ckpts, err := v.checkpoints(c, ckptPrev)
	if err != nil {
		return g, err
	}
	g.Checkpoints = len(ckpts)
	g.SignedSeq = start - 1

	rows, err := v.tx.Query(v.ctx, `SELECT seq, prev, hash, body FROM audit_records WHERE chain = $1 ORDER BY seq`, c.id)
	if err != nil {
		return g, err
	}
	defer rows.Close()
	read := func() (*record, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		var r record
		var seq int64
		var prev, hash []byte
		if err := rows.Scan(&seq, &prev, &hash, &r.body); err != nil {
			return nil, err
		}
		r.seq = uint64(seq)
		// A hash of the wrong length compares unequal to any real one.
		copy(r.prev[:], prev)
		copy(r.hash[:], hash)
		if len(prev) != len(Hash{}) {
			r.prev[0] ^= 0xff
		}
		if len(hash) != len(Hash{}) {
			r.hash[0] ^= 0xff
		}
		return &r, nil
	}

	if _, err := walkChain(&g, label, start, startPrev, ckpts, read, v.report); err != nil {
		return g, err
	}
	return g, rows.Err()
}

// anchor returns where the chain starts: the sequence number of its first
// record, the hash that one chains to, and the signature hash its first
// checkpoint chains to.
func (v *pgVerifier) anchor(c pgChainInfo) (start uint64, prev, ckptPrev Hash, err error) {
	genesis := chainGenesis(c.name)
	var seq int64
	var body, sig []byte
	err = v.tx.QueryRow(v.ctx, `SELECT seq, body, signature FROM audit_anchors WHERE chain = $1`, c.id).Scan(&seq, &body, &sig)
	if errors.Is(err, pgx.ErrNoRows) {
		return 1, genesis, Hash{}, nil
	}
	if err != nil {
		return 0, prev, ckptPrev, err
	}
	bad := func(detail string) (uint64, Hash, Hash, error) {
		v.report(Problem{Kind: BadSignature, Region: c.label, Seq: uint64(seq), Detail: "anchor: " + detail})
		return 1, genesis, Hash{}, nil
	}
	var a ChainAnchor
	switch err := parseSigned(v.pub, chainAnchorDomain, body, sig, &a); {
	case errors.Is(err, errBadSignature):
		return bad(signedBy(v.fp, body))
	case err != nil:
		return bad(fmt.Sprintf("malformed: %v", err))
	case c.registered && (a.Region != c.region || a.Chain != c.name):
		return bad(fmt.Sprintf("signed for region %q chain %q", a.Region, a.Chain))
	}
	prev, ckptPrev, err = a.fields()
	if err != nil {
		return bad(fmt.Sprintf("malformed: %v", err))
	}
	return a.Seq, prev, ckptPrev, nil
}

// checkpoints checks the signatures and the chain of the chain's
// checkpoints and returns the valid ones in the order they were written.
func (v *pgVerifier) checkpoints(c pgChainInfo, prevSig Hash) ([]checkpointAt, error) {
	rows, err := v.tx.Query(v.ctx, `SELECT seq, body, signature FROM audit_checkpoints WHERE chain = $1 ORDER BY id`, c.id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []checkpointAt
	var lastSeq uint64
	for rows.Next() {
		var seq int64
		var body, sig []byte
		if err := rows.Scan(&seq, &body, &sig); err != nil {
			return nil, err
		}
		var cp ChainCheckpoint
		err := parseSigned(v.pub, chainCheckpointDomain, body, sig, &cp)
		if err == nil && c.registered && (cp.Region != c.region || cp.Chain != c.name) {
			err = fmt.Errorf("signed for region %q chain %q", cp.Region, cp.Chain)
		}
		var hash, prev Hash
		if err == nil {
			hash, prev, err = cp.fields()
		}
		switch {
		case errors.Is(err, errBadSignature):
			v.report(Problem{Kind: BadSignature, Region: c.label, Seq: uint64(seq), Detail: "checkpoint: " + signedBy(v.fp, body)})
		case err != nil:
			v.report(Problem{Kind: BadSignature, Region: c.label, Seq: uint64(seq), Detail: fmt.Sprintf("checkpoint: malformed: %v", err)})
		case prev != prevSig:
			v.report(Problem{Kind: CheckpointChain, Region: c.label, Seq: cp.Seq,
				Detail: "checkpoint does not chain to the one before it: a checkpoint was deleted or copied in"})
		case cp.Seq < lastSeq:
			v.report(Problem{Kind: CheckpointChain, Region: c.label, Seq: cp.Seq,
				Detail: fmt.Sprintf("checkpoint goes back from record %d", lastSeq)})
		default:
			out = append(out, checkpointAt{seq: cp.Seq, hash: hash})
			lastSeq = cp.Seq
		}
		// The next checkpoint chains to this signature whatever is wrong
		// with this one, so one bad checkpoint is reported once.
		prevSig = sigHash(sig)
	}
	return out, rows.Err()
}

// signedBy explains a signature that does not verify under the key whose
// fingerprint is fp.
func signedBy(fp string, body []byte) string {
	return (&verifier{fp: fp}).signedBy(body)
}
