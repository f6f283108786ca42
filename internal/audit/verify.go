package audit

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/openkms/kms/internal/store/sqlite"
)

// Kind classifies a problem [Verify] found.
type Kind string

// The kinds of problem. Which one a change to the file shows up as follows
// the rules in [Verify].
const (
	// Altered: a record's JSON no longer matches its chain hash (or its
	// frame cannot be read, unless it was lost with the end of its
	// segment: see [Truncation]).
	Altered Kind = "altered"
	// Deleted: records are missing: a gap in the sequence numbers, a record
	// that does not chain to the one before it, or records a signed
	// checkpoint covers that are not there.
	Deleted Kind = "deleted"
	// Inserted: records the chain around them skips.
	Inserted Kind = "inserted"
	// Rewritten: the chain holds together but does not end, at a
	// checkpoint, in the hash that checkpoint signed: records were changed
	// and every hash after them recomputed.
	Rewritten Kind = "rewritten"
	// BadSignature: a checkpoint or anchor whose signature does not verify
	// under the given key, or that is malformed.
	BadSignature Kind = "bad-signature"
	// CheckpointChain: a checkpoint does not chain to the one before it: a
	// checkpoint was deleted, or one was copied in.
	CheckpointChain Kind = "checkpoint-chain"
)

// Problem is one thing Verify found wrong.
type Problem struct {
	Kind   Kind
	Region string
	// Seq is the sequence number of the first record concerned (for a
	// checkpoint or anchor, the record it names), and Count how many
	// records are concerned from there on (0 when not known).
	Seq   uint64
	Count uint64
	// EventID is the eventID of the stored record at Seq, when there is
	// one and it is readable.
	EventID string
	Detail  string
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s: %s record %d", p.Kind, p.Region, p.Seq)
	if p.Count > 1 {
		s = fmt.Sprintf("%s: %s records %d to %d", p.Kind, p.Region, p.Seq, p.Seq+p.Count-1)
	}
	if p.EventID != "" {
		s += " (eventID " + p.EventID + ")"
	}
	return s + ": " + p.Detail
}

// RegionReport summarizes one region's chain.
type RegionReport struct {
	Region string
	// Anchored is true when the chain starts at a prune anchor rather than
	// at record 1.
	Anchored bool
	// FirstSeq and LastSeq bound the records checked (FirstSeq > LastSeq
	// when there are none); Records counts them.
	FirstSeq, LastSeq uint64
	Records           uint64
	// Checkpoints counts the valid checkpoints; SignedSeq is the last record
	// one of them covers and matched.
	Checkpoints int
	SignedSeq   uint64
	// UnsignedTail is the number of records after SignedSeq: not an error,
	// but protected by the chain only.
	UnsignedTail uint64
}

// Truncation is a run of a region's records lost with the end of a
// segment: the segment's frames stop being intact at Offset, and those of
// the records from FirstLost on are at or after it. A power loss on a disk
// that loses synced data, or an old copy of a segment put back, leaves
// this. It is not a [Problem]: the chain holds around the lost records,
// only their JSON is gone. See [Verify] for what is still checked.
type Truncation struct {
	Region  string
	Segment uint64 // the segment's epoch: its file is <database>.seg.<Segment>
	// Offset is where the segment's intact part ends: the byte where the
	// first frame that is cut short or fails its checksum starts (0 when
	// its header is cut).
	Offset int64
	// LastIntact is the last record of the region before the lost ones
	// whose JSON verified, 0 if there is none.
	LastIntact uint64
	// FirstLost is the first lost record and Lost how many are lost, in
	// sequence.
	FirstLost, Lost uint64
}

func (t Truncation) String() string {
	s := fmt.Sprintf("%s: segment %d ends early at byte %d: ", t.Region, t.Segment, t.Offset)
	if t.Lost == 1 {
		s += fmt.Sprintf("record %d is lost (its frame was cut off, as by a power loss)", t.FirstLost)
	} else {
		s += fmt.Sprintf("records %d to %d are lost (their frames were cut off, as by a power loss)",
			t.FirstLost, t.FirstLost+t.Lost-1)
	}
	if t.LastIntact == 0 {
		return s + "; no intact record comes before"
	}
	return s + fmt.Sprintf("; record %d is the last intact one", t.LastIntact)
}

// Report is the outcome of [Verify].
type Report struct {
	Regions  []RegionReport
	Problems []Problem // by region, then record; per region, the first break in the chain only
	// Truncations lists the records lost with the end of a segment, by
	// region, then record (up to the first break in the chain, if there is
	// one). They are not problems: OK may be true.
	Truncations []Truncation
	// Unindexed counts records written to segments but not yet in the
	// database, so not checked: those of a server that stopped without
	// indexing them (it does when it starts again).
	Unindexed int
}

// OK reports whether Verify found nothing wrong. Records lost with the end
// of a segment (Truncations) do not count: see [Report.Lost].
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Lost counts the records lost with the end of a segment.
func (r *Report) Lost() uint64 {
	var n uint64
	for _, t := range r.Truncations {
		n += t.Lost
	}
	return n
}

// Err returns nil if the log verified, or an error naming the first problem.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	if len(r.Problems) == 1 {
		return fmt.Errorf("audit: verify: %s", r.Problems[0])
	}
	return fmt.Errorf("audit: verify: %s (and %d more problems)", r.Problems[0], len(r.Problems)-1)
}

// String describes the report, one line per region, truncation and
// problem.
func (r *Report) String() string {
	var b strings.Builder
	for _, g := range r.Regions {
		fmt.Fprintf(&b, "%s: records %d..%d (%d), %d checkpoints, signed through %d, unsigned tail of %d records",
			g.Region, g.FirstSeq, g.LastSeq, g.Records, g.Checkpoints, g.SignedSeq, g.UnsignedTail)
		if g.Anchored {
			b.WriteString(", pruned before the first")
		}
		b.WriteByte('\n')
	}
	if r.Unindexed > 0 {
		fmt.Fprintf(&b, "%d records written but not yet indexed, not checked (the server indexes them when it starts)\n", r.Unindexed)
	}
	for _, t := range r.Truncations {
		b.WriteString(t.String())
		b.WriteByte('\n')
	}
	for _, p := range r.Problems {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Verify checks the audit database at path against the public key of the
// log's signer: every region's chain from its start (record 1, or its prune
// anchor) and every checkpoint and anchor signature. It opens the file
// read-only and reads one consistent snapshot, so the server may keep
// writing. The error is for failures to read; what is wrong with the log is
// in the report.
//
// For each region, Verify reports the first break in the chain it finds,
// walking records in sequence order, as follows:
//
//   - A missing sequence number, or checkpointed records past the last
//     one: [Deleted].
//   - A record that chains (by its stored prev) to the hash of an earlier
//     record than the one before it: the records in between are
//     [Inserted]; so is a record that the next one chains past.
//   - A record whose prev is right but whose JSON does not give its stored
//     hash: [Altered].
//   - A record whose prev is wrong but which is consistent with its own
//     stored prev and hash: the record before it was [Altered] and its
//     stored hash rewritten to hide it; unless that one matched a signed
//     checkpoint, when this one was [Inserted].
//   - A record whose stored hash was computed for a higher sequence
//     number: records before it were [Deleted] and the rest renumbered.
//   - Any other wrong prev: [Deleted].
//   - A chain that holds together up to a checkpoint but not with it:
//     [Rewritten].
//
// A record whose frame cannot be read is [Altered], unless it was lost with
// the end of its segment: the segment's frames, read from its start, stop
// being intact at some byte (a frame is cut short or fails its checksum, or
// the header is cut), the record's frame is at or after that byte, and no
// frame the database points at after it is intact (if one is, the break is
// damage in the middle of the segment, and [Altered]). A power loss on a
// disk that loses synced data, or an old copy of a segment put back, leaves
// such a segment. A lost record's JSON cannot be checked, but its place in
// the chain still is: its stored prev must be the hash expected, and the
// walk goes on from its stored hash, so the records after it (in the next
// segment, written after a restart) and the checkpoints still check it.
// Lost records are listed in Report.Truncations, not as problems, and
// counted in RegionReport.Records. A missing segment file, or one whose
// header is another's, is not a lost tail: its records are [Altered].
//
// Checkpoints with a bad signature are [BadSignature] and otherwise
// ignored; one that does not chain to the one before it is
// [CheckpointChain]. Records after the last checkpoint are counted in
// RegionReport.UnsignedTail.
func Verify(ctx context.Context, path string, pub ed25519.PublicKey) (*Report, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("audit: verify: not an Ed25519 public key")
	}
	d, err := dsn(path, "mode=ro", "_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	db, err := sql.Open("sqlite", d)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := checkVersion(ctx, db); err != nil {
		return nil, fmt.Errorf("audit: verify %s: %w", path, err)
	}
	// A running server indexes what it wrote within milliseconds.
	unindexed, err := waitIndexed(ctx, db, path)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}

	// One read transaction: a snapshot, whatever the writer does meanwhile.
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	defer tx.Rollback()
	if err := checkVersion(ctx, tx); err != nil {
		return nil, fmt.Errorf("audit: verify %s: %w", path, err)
	}
	regions, err := sqlite.Column[string](ctx, tx, `SELECT region FROM records UNION SELECT region FROM checkpoints
		UNION SELECT region FROM anchors ORDER BY region`)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	v := verifier{ctx: ctx, tx: tx, pub: pub, fp: Fingerprint(pub), segs: newSegmentReader(path),
		ends: map[uint64]segmentEnd{}}
	defer v.segs.close()
	rep := &Report{Unindexed: unindexed}
	for _, region := range regions {
		g, err := v.region(region)
		if err != nil {
			return nil, fmt.Errorf("audit: verify %s: %w", region, err)
		}
		rep.Regions = append(rep.Regions, g)
	}
	// Per region, the problem concerning the earliest record first.
	slices.SortStableFunc(v.problems, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Region, b.Region), cmp.Compare(a.Seq, b.Seq))
	})
	rep.Problems = v.problems
	rep.Truncations = v.truncations
	return rep, nil
}

type verifier struct {
	ctx         context.Context
	tx          *sql.Tx
	segs        *segmentReader
	pub         ed25519.PublicKey
	fp          string
	problems    []Problem
	truncations []Truncation // in region order, as the regions are walked
	// ends holds where the segments in which a frame failed to read stop
	// being intact, found the first time one fails.
	ends map[uint64]segmentEnd
}

// segmentEnd is where a segment's intact frames end, and whether what the
// database points at after that is all gone (cut) or not (the segment is
// damaged in the middle).
type segmentEnd struct {
	at  int64
	cut bool
}

// segmentEnd reads the segment of epoch from its start to find where its
// frames stop being intact, and then whether any frame the database points
// at from there on is intact. A segment that is missing or whose header is
// not its own is not cut. Only failures to read are errors.
func (v *verifier) segmentEnd(epoch uint64) (segmentEnd, error) {
	if e, ok := v.ends[epoch]; ok {
		return e, nil
	}
	e, err := v.findEnd(epoch)
	if err != nil {
		return e, fmt.Errorf("segment %d: %w", epoch, err)
	}
	v.ends[epoch] = e
	return e, nil
}

func (v *verifier) findEnd(epoch uint64) (segmentEnd, error) {
	name := segmentPath(v.segs.path, epoch)
	h, err := segmentHeader(name, epoch)
	if errors.Is(err, os.ErrNotExist) || err == nil && h == headerOther {
		return segmentEnd{}, nil // not a lost tail
	}
	if err != nil {
		return segmentEnd{}, err
	}
	f, err := os.Open(name)
	if err != nil {
		return segmentEnd{}, err
	}
	defer f.Close()
	var at int64 // 0 if the header is cut
	if h == headerWhole {
		at = int64(segmentHeaderSize)
		for {
			body, err := readFrame(f, at)
			if errors.Is(err, errNoFrame) {
				break
			}
			if err != nil {
				return segmentEnd{}, err
			}
			at += frameHeaderSize + int64(len(body))
		}
	}
	// Is anything the database points at after that intact? Only the rows
	// of records whose JSON is in a frame: older ones keep it in body.
	offs, err := sqlite.Column[int64](v.ctx, v.tx, `SELECT segment_offset FROM records
		WHERE segment = ? AND segment_offset >= ? AND length(body) = 0`, epoch, at)
	if err != nil {
		return segmentEnd{}, err
	}
	for _, off := range offs {
		switch _, err := readFrame(f, off); {
		case err == nil:
			return segmentEnd{at: at}, nil // damaged in the middle
		case !errors.Is(err, errNoFrame):
			return segmentEnd{}, err
		}
	}
	return segmentEnd{at: at, cut: true}, nil
}

func (v *verifier) report(p Problem) { v.problems = append(v.problems, p) }

// signedBy explains a signature that does not verify.
func (v *verifier) signedBy(body []byte) string {
	var s struct {
		KeyFingerprint string `json:"keyFingerprint"`
	}
	if json.Unmarshal(body, &s) == nil && s.KeyFingerprint != "" && s.KeyFingerprint != v.fp {
		return fmt.Sprintf("signature does not verify: it names key %s, not the given key %s", s.KeyFingerprint, v.fp)
	}
	return "signature does not verify (forged or changed)"
}

// record is one stored record, as Verify reads it.
type record struct {
	seq        uint64
	prev, hash Hash
	body       []byte
	// lost is set for a record whose frame was cut off with the end of its
	// segment, which is seg; its intact part ends at cutAt.
	lost  bool
	seg   uint64
	cutAt int64
}

// eventID digs the eventID out of a record for the report.
func (r *record) eventID() string {
	var s struct {
		EventID string `json:"eventID"`
	}
	json.Unmarshal(r.body, &s)
	return s.EventID
}

// checkpointAt is a valid checkpoint's claim.
type checkpointAt struct {
	seq  uint64
	hash Hash
}

func (v *verifier) region(region string) (RegionReport, error) {
	g := RegionReport{Region: region, FirstSeq: 1}
	start, startPrev, ckptPrev, err := v.anchor(region)
	if err != nil {
		return g, err
	}
	if start > 1 {
		g.Anchored = true
		g.FirstSeq = start
	}
	ckpts, err := v.checkpoints(region, ckptPrev)
	if err != nil {
		return g, err
	}
	g.Checkpoints = len(ckpts)
	g.SignedSeq = start - 1

	rows, err := v.tx.QueryContext(v.ctx, `SELECT seq, prev, hash, body, segment, segment_offset
		FROM records WHERE region = ? ORDER BY seq`, region)
	if err != nil {
		return g, err
	}
	defer rows.Close()
	read := func() (*record, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		var r record
		var prev, hash []byte
		var seg, off sql.NullInt64
		if err := rows.Scan(&r.seq, &prev, &hash, &r.body, &seg, &off); err != nil {
			return nil, err
		}
		// A frame that cannot be read (missing, cut or changed: its
		// checksum fails) is a body that does not match its hash, unless it
		// was lost with the end of its segment.
		body, err := v.segs.recordBody(r.body, seg, off)
		r.body = body
		if err != nil && seg.Valid && off.Valid {
			e, err := v.segmentEnd(uint64(seg.Int64))
			if err != nil {
				return nil, err
			}
			r.lost = e.cut && off.Int64 >= e.at
			r.seg, r.cutAt = uint64(seg.Int64), e.at
		}
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

	trs, err := walkChain(&g, region, start, startPrev, ckpts, read, v.report)
	if err != nil {
		return g, err
	}
	v.truncations = append(v.truncations, trs...)
	return g, rows.Err()
}

// walkChain checks the records of one chain, read in order with read, from
// start (chaining to startPrev) against its valid checkpoints, reporting
// problems and filling in g's counts: the walk of a region of a data dir's
// log and of a chain of a cluster's.
func walkChain(g *RegionReport, region string, start uint64, startPrev Hash, ckpts []checkpointAt,
	read func() (*record, error), report func(Problem)) ([]Truncation, error) {
	w := walk{
		region: region, start: start, expectSeq: start, expectPrev: startPrev,
		signed: start - 1,
	}
	w.remember(start-1, startPrev)
	ci := 0 // next checkpoint to check against
	for ci < len(ckpts) && ckpts[ci].seq < start {
		ci++ // covers only pruned records; nothing left to compare
	}
	cur, err := read()
	if err != nil {
		return nil, err
	}
	for cur != nil {
		next, err := read()
		if err != nil {
			return nil, err
		}
		if p, ok := w.step(cur, next); !ok {
			report(p)
			break
		}
		g.Records++
		for ; ci < len(ckpts) && ckpts[ci].seq == cur.seq; ci++ {
			if ckpts[ci].hash != w.expectPrev {
				report(Problem{Kind: Rewritten, Region: region, Seq: w.signed + 1, Count: cur.seq - w.signed,
					Detail: fmt.Sprintf("the chain does not match the checkpoint signed for record %d: "+
						"records after %d were changed and their hashes recomputed", cur.seq, w.signed)})
				w.broken = true
				break
			}
			w.signed = cur.seq
		}
		if w.broken {
			break
		}
		cur = next
	}
	g.LastSeq = w.expectSeq - 1
	g.SignedSeq = w.signed
	if !w.broken && ci < len(ckpts) {
		// Checkpoints past the last record: records they covered are gone.
		last := ckpts[len(ckpts)-1].seq
		if last > g.LastSeq {
			report(Problem{Kind: Deleted, Region: region, Seq: g.LastSeq + 1, Count: last - g.LastSeq,
				Detail: fmt.Sprintf("a signed checkpoint covers records through %d", last)})
		}
	}
	if !w.broken && g.LastSeq > g.SignedSeq {
		g.UnsignedTail = g.LastSeq - g.SignedSeq
	}
	return w.truncations, nil
}

// anchor returns where region's chain starts: the sequence number of its
// first record, the hash that one chains to, and the signature hash its
// first checkpoint chains to.
func (v *verifier) anchor(region string) (start uint64, prev, ckptPrev Hash, err error) {
	var seq uint64
	var body, sig []byte
	err = v.tx.QueryRowContext(v.ctx, `SELECT seq, body, signature FROM anchors WHERE region = ?`, region).Scan(&seq, &body, &sig)
	if errors.Is(err, sql.ErrNoRows) {
		return 1, Hash{}, Hash{}, nil
	}
	if err != nil {
		return 0, prev, ckptPrev, err
	}
	bad := func(detail string) (uint64, Hash, Hash, error) {
		v.report(Problem{Kind: BadSignature, Region: region, Seq: seq, Detail: "anchor: " + detail})
		return 1, Hash{}, Hash{}, nil
	}
	var a Anchor
	switch err := parseSigned(v.pub, anchorDomain, body, sig, &a); {
	case errors.Is(err, errBadSignature):
		return bad(v.signedBy(body))
	case err != nil:
		return bad(fmt.Sprintf("malformed: %v", err))
	case a.Region != region:
		return bad(fmt.Sprintf("signed for region %q", a.Region))
	}
	prev, ckptPrev, err = a.fields()
	if err != nil {
		return bad(fmt.Sprintf("malformed: %v", err))
	}
	return a.Seq, prev, ckptPrev, nil
}

// checkpoints checks the signatures and the chain of region's checkpoints
// and returns the valid ones in the order they were written.
func (v *verifier) checkpoints(region string, prevSig Hash) ([]checkpointAt, error) {
	rows, err := v.tx.QueryContext(v.ctx, `SELECT seq, body, signature FROM checkpoints WHERE region = ? ORDER BY id`, region)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []checkpointAt
	var lastSeq uint64
	for rows.Next() {
		var seq uint64
		var body, sig []byte
		if err := rows.Scan(&seq, &body, &sig); err != nil {
			return nil, err
		}
		var c Checkpoint
		err := parseSigned(v.pub, checkpointDomain, body, sig, &c)
		if err == nil && c.Region != region {
			err = fmt.Errorf("signed for region %q", c.Region)
		}
		var hash, prev Hash
		if err == nil {
			hash, prev, err = c.fields()
		}
		switch {
		case errors.Is(err, errBadSignature):
			v.report(Problem{Kind: BadSignature, Region: region, Seq: seq, Detail: "checkpoint: " + v.signedBy(body)})
		case err != nil:
			v.report(Problem{Kind: BadSignature, Region: region, Seq: seq, Detail: fmt.Sprintf("checkpoint: malformed: %v", err)})
		case prev != prevSig:
			v.report(Problem{Kind: CheckpointChain, Region: region, Seq: c.Seq,
				Detail: "checkpoint does not chain to the one before it: a checkpoint was deleted or copied in"})
		case c.Seq < lastSeq:
			v.report(Problem{Kind: CheckpointChain, Region: region, Seq: c.Seq,
				Detail: fmt.Sprintf("checkpoint goes back from record %d", lastSeq)})
		default:
			out = append(out, checkpointAt{seq: c.Seq, hash: hash})
			lastSeq = c.Seq
		}
		// The next checkpoint chains to this signature whatever is wrong
		// with this one, so one bad checkpoint is reported once.
		prevSig = sigHash(sig)
	}
	return out, rows.Err()
}

// walk follows one region's chain.
type walk struct {
	region     string
	start      uint64
	expectSeq  uint64
	expectPrev Hash // the chain hash of record expectSeq-1
	signed     uint64
	// recent holds the chain hashes of the last records (and the start),
	// by sequence number modulo its size, to recognise a record that
	// chains past inserted ones.
	recent [recentWindow]struct {
		seq  uint64
		hash Hash
		ok   bool
	}
	last   *record // the last record that fit
	broken bool
	// intact is the last record that fit whose JSON was checked;
	// truncations, the runs of lost records so far.
	intact      uint64
	truncations []Truncation
}

const recentWindow = 64

// step checks r, the record expected next, given the record after it (nil
// at the end). It returns false and the problem when the chain breaks.
func (w *walk) step(r, next *record) (Problem, bool) {
	p := Problem{Region: w.region, Seq: r.seq, Count: 1, EventID: r.eventID()}
	switch {
	case r.seq < w.expectSeq:
		p.Kind = Inserted
		p.Detail = fmt.Sprintf("record before the start of the chain (%d)", w.start)
	case r.seq > w.expectSeq:
		p.Kind, p.Seq, p.Count, p.EventID = Deleted, w.expectSeq, r.seq-w.expectSeq, ""
		p.Detail = fmt.Sprintf("sequence number %d is missing", w.expectSeq)
		if p.Count > 1 {
			p.Detail = fmt.Sprintf("sequence numbers %d to %d are missing", w.expectSeq, r.seq-1)
		}
	case r.lost && r.prev == w.expectPrev:
		// Its JSON is gone; the chain goes on from its stored hash, which
		// the records after it and the checkpoints check.
		w.expectSeq++
		w.expectPrev = r.hash
		w.remember(r.seq, r.hash)
		w.last = r
		if n := len(w.truncations); n > 0 && w.truncations[n-1].Segment == r.seg &&
			w.truncations[n-1].FirstLost+w.truncations[n-1].Lost == r.seq {
			w.truncations[n-1].Lost++
		} else {
			w.truncations = append(w.truncations, Truncation{Region: w.region, Segment: r.seg, Offset: r.cutAt,
				LastIntact: w.intact, FirstLost: r.seq, Lost: 1})
		}
		return Problem{}, true
	default:
		computed := recordHash(w.expectPrev, r.seq, r.body)
		if r.prev == w.expectPrev && computed == r.hash {
			w.expectSeq++
			w.expectPrev = computed
			w.remember(r.seq, computed)
			w.last = r
			w.intact = r.seq
			return Problem{}, true
		}
		w.classify(&p, r, next)
	}
	w.broken = true
	return p, false
}

func (w *walk) remember(seq uint64, h Hash) {
	e := &w.recent[seq%recentWindow]
	e.seq, e.hash, e.ok = seq, h, true
}

// find returns the sequence number of a recent record with chain hash h.
func (w *walk) find(h Hash) (uint64, bool) {
	for _, e := range w.recent {
		if e.ok && e.hash == h {
			return e.seq, true
		}
	}
	return 0, false
}

// classify explains a record at the expected position that does not fit
// the chain; see Verify for the rules.
func (w *walk) classify(p *Problem, r, next *record) {
	if r.prev != w.expectPrev {
		if k, ok := w.find(r.prev); ok && k+1 < r.seq {
			p.Kind, p.Seq, p.Count, p.EventID = Inserted, k+1, r.seq-k-1, ""
			if w.last != nil && w.last.seq == k+1 {
				p.EventID = w.last.eventID()
			}
			p.Detail = fmt.Sprintf("record %d chains to record %d: the records between do not belong", r.seq, k)
			return
		}
	}
	if next != nil && next.seq == r.seq+1 && next.prev == w.expectPrev {
		p.Kind = Inserted
		p.Detail = fmt.Sprintf("record %d chains to record %d: this record does not belong", next.seq, r.seq-1)
		return
	}
	if r.prev == w.expectPrev {
		p.Kind = Altered
		p.Detail = "the record's JSON does not match its hash"
		return
	}
	if r.seq == w.start {
		p.Kind = Deleted
		p.Detail = "the first record does not chain to the start of the chain: records before it were deleted"
		return
	}
	if recordHash(r.prev, r.seq, r.body) == r.hash {
		if w.signed == r.seq-1 {
			p.Kind = Inserted
			p.Detail = fmt.Sprintf("the record does not chain to record %d", r.seq-1)
			return
		}
		p.Kind, p.Seq, p.EventID = Altered, r.seq-1, ""
		if w.last != nil {
			p.EventID = w.last.eventID()
		}
		p.Detail = fmt.Sprintf("record %d chains to a different hash: this record was changed and its stored hash rewritten", r.seq)
		return
	}
	for d := uint64(1); d <= recentWindow; d++ {
		if recordHash(r.prev, r.seq+d, r.body) == r.hash {
			p.Kind, p.Count = Deleted, d
			p.Detail = fmt.Sprintf("the record was number %d: %d records before it were deleted and the rest renumbered", r.seq+d, d)
			return
		}
	}
	p.Kind = Deleted
	p.Detail = fmt.Sprintf("the record does not chain to record %d (prev-hash mismatch)", r.seq-1)
}
