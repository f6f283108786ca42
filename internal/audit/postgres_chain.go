package audit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// In PostgreSQL a region's trail is several chains, one per node and run
// (see [OpenPostgres]); checkpoints and anchors name their chain, so they
// are these statements rather than [Checkpoint] and [Anchor] themselves,
// with domains of their own: a statement about a chain never verifies as
// one about a SQLite region, nor the other way round.
const (
	chainCheckpointDomain = "openkms-audit-chain-checkpoint-v1\n"
	chainAnchorDomain     = "openkms-audit-chain-anchor-v1\n"
	chainGenesisDomain    = "openkms-audit-chain-v1\n"
)

// ChainCheckpoint is a [Checkpoint] of one chain of a PostgreSQL trail:
// Region is the chain's region, Chain its name. It is stored as the JSON
// bytes that were signed: the Checkpoint's members, then "chain".
type ChainCheckpoint struct {
	Checkpoint
	Chain string `json:"chain"`
}

// ChainAnchor is an [Anchor] of one chain of a PostgreSQL trail, written
// by [PostgresLog.Prune].
type ChainAnchor struct {
	Anchor
	Chain string `json:"chain"`
}

// chainGenesis is what the first record of the chain named name chains to:
// the records of one chain cannot be passed off as another's.
func chainGenesis(name string) Hash {
	return sha256.Sum256([]byte(chainGenesisDomain + name))
}

// newChainName names a chain that node starts at t: unique, and telling an
// operator where and when it was written.
func newChainName(node string, t time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s@%s/%s", node, t.UTC().Format("2006-01-02T15:04:05.000Z"), hex.EncodeToString(b[:]))
}

// chainLabel is how a report names a chain: its region and its name.
func chainLabel(region, name string) string {
	return region + " chain " + name
}

// pgChain is the writer's view of one of its own chains.
type pgChain struct {
	id      int64 // audit_chains.id
	name    string
	region  string
	seq     uint64
	hash    Hash
	ckptSeq uint64
	ckptSig Hash // sigHash of the last checkpoint's signature
}

// loadChain reads the head and the last checkpoint of the chain c names
// from the database: after a failed or uncertain transaction, what the
// database holds is the chain, whatever the writer thought. It reports
// false if the chain is not registered (its registration was lost).
func loadChain(ctx context.Context, q pgQuerier, c *pgChain) (bool, error) {
	var name string
	err := q.QueryRow(ctx, `SELECT name FROM audit_chains WHERE id = $1`, c.id).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if name != c.name {
		return false, fmt.Errorf("chain %d is named %q, not %q", c.id, name, c.name)
	}
	// A pruned chain continues from its anchor if no record of it is left.
	c.seq, c.hash, c.ckptSeq, c.ckptSig = 0, chainGenesis(c.name), 0, Hash{}
	var body []byte
	switch err := q.QueryRow(ctx, `SELECT body FROM audit_anchors WHERE chain = $1`, c.id).Scan(&body); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return false, err
	default:
		var a ChainAnchor
		if err := parseCanonical(body, &a); err != nil {
			return false, fmt.Errorf("anchor of %s: %w", c.name, err)
		}
		prev, prevSig, err := a.fields()
		if err != nil {
			return false, fmt.Errorf("anchor of %s: %w", c.name, err)
		}
		c.seq, c.hash, c.ckptSeq, c.ckptSig = a.Seq-1, prev, a.Seq-1, prevSig
	}
	var seq uint64
	var hash []byte
	switch err := q.QueryRow(ctx, `SELECT seq, hash FROM audit_records WHERE chain = $1 ORDER BY seq DESC LIMIT 1`,
		c.id).Scan(&seq, &hash); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return false, err
	default:
		if c.hash, err = toHash(hash); err != nil {
			return false, fmt.Errorf("chain %s record %d: %w", c.name, seq, err)
		}
		c.seq = seq
	}
	var sig []byte
	switch err := q.QueryRow(ctx, `SELECT seq, signature FROM audit_checkpoints WHERE chain = $1 ORDER BY id DESC LIMIT 1`,
		c.id).Scan(&seq, &sig); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return false, err
	default:
		c.ckptSeq, c.ckptSig = seq, sigHash(sig)
	}
	return true, nil
}
