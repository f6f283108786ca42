package audit

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests cut a segment as a power loss on a disk that loses synced
// data, or an old copy of a segment put back, would: the server must start,
// take in what the segments still hold, chain on and keep answering
// lookups, and Verify must say exactly which records were lost.

// frame is where an indexed record's frame is, and where it ends.
type frame struct {
	region   string
	seq      uint64
	seg      uint64
	off, end int64
}

// indexedFrames lists the frames of the records the database at path took
// in, in the order they are in the segments.
func indexedFrames(t *testing.T, path string) []frame {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	rows, err := db.Query(`SELECT region, seq, segment, segment_offset FROM records ORDER BY segment, segment_offset`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []frame
	for rows.Next() {
		var f frame
		if err := rows.Scan(&f.region, &f.seq, &f.seg, &f.off); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// The length is in the frame's header.
	for i, f := range out {
		b, err := os.ReadFile(segmentPath(path, f.seg))
		if err != nil {
			t.Fatal(err)
		}
		out[i].end = f.off + frameHeaderSize + int64(binary.BigEndian.Uint32(b[f.off:]))
	}
	return out
}

// frameOfRecord finds a record's frame in frames.
func frameOfRecord(t *testing.T, frames []frame, region string, seq uint64) frame {
	t.Helper()
	for _, f := range frames {
		if f.region == region && f.seq == seq {
			return f
		}
	}
	t.Fatalf("no frame of %s %d", region, seq)
	return frame{}
}

// cut makes the segment of epoch end at byte at: the rest is gone, or, with
// zeros, overwritten with zeros (the file keeps its size, as a file system
// that had allocated the blocks may leave it).
func cut(t *testing.T, path string, epoch uint64, at int64, zeros bool) {
	t.Helper()
	name := segmentPath(path, epoch)
	if !zeros {
		if err := os.Truncate(name, at); err != nil {
			t.Fatal(err)
		}
		return
	}
	st, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if at < st.Size() {
		if _, err := f.WriteAt(make([]byte, st.Size()-at), at); err != nil {
			t.Fatal(err)
		}
	}
}

// writeUnindexed writes a segment of epoch holding n records of region that
// no database took in: what a server that wrote them and was killed before
// indexing them leaves. It returns their eventIDs.
func writeUnindexed(t *testing.T, path string, epoch uint64, region string, n int) []string {
	t.Helper()
	b := binary.BigEndian.AppendUint64([]byte(segmentMagic), epoch)
	var ids []string
	for range n {
		r := kmsRecord(region, "Decrypt", keyID2)
		r.EventID, r.EventVersion, r.EventTime = NewEventID(), EventVersion, time.Now().UTC().Truncate(time.Second)
		body, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
		b = binary.BigEndian.AppendUint32(b, crc32.Checksum(body, crcTable))
		b = append(b, body...)
		ids = append(ids, r.EventID)
	}
	if err := os.WriteFile(segmentPath(path, epoch), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return ids
}

// wantTruncations is what Verify should report for indexed frames once the
// segment of epoch is cut at byte at: the frames from the one that at
// falls in (or starts) on are lost; a cut in the header loses them all.
func wantTruncations(frames []frame, epoch uint64, at int64) []Truncation {
	intact := int64(0)
	if at >= int64(segmentHeaderSize) {
		intact = -1
		for _, f := range frames {
			if f.seg == epoch && f.end > at {
				intact = f.off
				break
			}
		}
		if intact < 0 {
			return nil // cut after the last frame: nothing lost
		}
	}
	byRegion := map[string]*Truncation{}
	for _, f := range frames {
		if f.seg != epoch || f.off < intact {
			continue
		}
		tr := byRegion[f.region]
		if tr == nil {
			tr = &Truncation{Region: f.region, Segment: epoch, Offset: intact, LastIntact: f.seq - 1, FirstLost: f.seq}
			byRegion[f.region] = tr
		}
		tr.Lost++
	}
	var out []Truncation
	for _, tr := range byRegion {
		out = append(out, *tr)
	}
	slices.SortFunc(out, func(a, b Truncation) int { return strings.Compare(a.Region, b.Region) })
	return out
}

// lost is the set of records (region and seq) the truncations name.
func lost(trs []Truncation) map[frame]bool {
	m := map[frame]bool{}
	for _, tr := range trs {
		for s := tr.FirstLost; s < tr.FirstLost+tr.Lost; s++ {
			m[frame{region: tr.Region, seq: s}] = true
		}
	}
	return m
}

// truncLog fills a log with 30 records of us-east-1 and, interleaved with
// them, 12 of eu-west-1, and closes it: one segment, signed to its end
// (CheckpointEvery is 10). It returns the records by region.
func truncLog(t *testing.T, cfg Config) map[string][]*Record {
	t.Helper()
	l := openLog(t, cfg)
	recs := map[string][]*Record{}
	for i := range 30 {
		recs["us-east-1"] = append(recs["us-east-1"], appendN(t, l, "us-east-1", 1)...)
		if i%5 < 2 {
			recs["eu-west-1"] = append(recs["eu-west-1"], appendN(t, l, "eu-west-1", 1)...)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestTruncatedSegment cuts the log's segment at various bytes, and
// restarts the log: it must take in the records still in segments that the
// database lacks, keep answering lookups without the lost records, chain
// new records on, and Verify must report the lost records as such, with no
// problem.
func TestTruncatedSegment(t *testing.T) {
	t.Parallel()
	const region = "us-east-1"
	tests := []struct {
		name string
		// at is where to cut, given the indexed frames.
		at func(t *testing.T, fs []frame) int64
		// zeros: the bytes after the cut are zeros rather than gone.
		zeros bool
		// unindexed: before the cut, a server wrote 3 more records of
		// us-east-1 to a new segment and died before indexing them.
		unindexed bool
	}{{
		name: "inside a frame header",
		at:   func(t *testing.T, fs []frame) int64 { return frameOfRecord(t, fs, region, 21).off + 3 },
	}, {
		name:  "inside a frame header, zeros after",
		at:    func(t *testing.T, fs []frame) int64 { return frameOfRecord(t, fs, region, 21).off + 3 },
		zeros: true,
	}, {
		name: "inside a body",
		at: func(t *testing.T, fs []frame) int64 {
			f := frameOfRecord(t, fs, region, 17)
			return f.off + frameHeaderSize + (f.end-f.off-frameHeaderSize)/2
		},
	}, {
		name: "inside a body, zeros after",
		at: func(t *testing.T, fs []frame) int64 {
			f := frameOfRecord(t, fs, region, 17)
			return f.off + frameHeaderSize + (f.end-f.off-frameHeaderSize)/2
		},
		zeros: true,
	}, {
		name: "at a frame boundary",
		at:   func(t *testing.T, fs []frame) int64 { return frameOfRecord(t, fs, region, 26).off },
	}, {
		name:  "at a frame boundary, zeros after",
		at:    func(t *testing.T, fs []frame) int64 { return frameOfRecord(t, fs, region, 26).off },
		zeros: true,
	}, {
		name: "at the first frame",
		at:   func(t *testing.T, fs []frame) int64 { return int64(segmentHeaderSize) },
	}, {
		name: "inside the segment header",
		at:   func(t *testing.T, fs []frame) int64 { return 7 },
	}, {
		name: "at an arbitrary byte",
		at: func(t *testing.T, fs []frame) int64 {
			// Seeded, so that a failure reproduces.
			at := int64(segmentHeaderSize) + rand.New(rand.NewPCG(16, 1)).Int64N(fs[len(fs)-1].end-int64(segmentHeaderSize))
			t.Logf("cut at byte %d of %d", at, fs[len(fs)-1].end)
			return at
		},
	}, {
		name: "last frame cut",
		at:   func(t *testing.T, fs []frame) int64 { return fs[len(fs)-1].end - 1 },
	}, {
		name: "after the last frame",
		at:   func(t *testing.T, fs []frame) int64 { return fs[len(fs)-1].end },
	}, {
		name:      "inside a body, with unindexed records after",
		at:        func(t *testing.T, fs []frame) int64 { return frameOfRecord(t, fs, region, 17).off + 20 },
		unindexed: true,
	}, {
		name:      "inside the segment header, with unindexed records after",
		at:        func(t *testing.T, fs []frame) int64 { return 3 },
		unindexed: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			recs := truncLog(t, cfg)
			frames := indexedFrames(t, cfg.Path)
			epoch := frames[0].seg
			if last := frames[len(frames)-1]; last.seg != epoch {
				t.Fatalf("records in segments %d to %d, want one", epoch, last.seg)
			}
			var crashed []string
			if tt.unindexed {
				crashed = writeUnindexed(t, cfg.Path, epoch+1, region, 3)
			}
			at := tt.at(t, frames)
			want := wantTruncations(frames, epoch, at)
			cut(t, cfg.Path, epoch, at, tt.zeros)
			gone := lost(want)

			// The server starts, and takes in what the database lacks.
			l := openLog(t, cfg)
			for _, id := range crashed {
				if events, _, err := l.Lookup(t.Context(), Query{EventID: id}); err != nil || len(events) != 1 {
					t.Errorf("unindexed record %s after the restart: %v %v", id, events, err)
				}
			}
			// Lookups, a page of 7 at a time, show every record but the
			// lost ones.
			for reg, rs := range recs {
				var wantIDs []string
				for i, r := range rs {
					if !gone[frame{region: reg, seq: uint64(i + 1)}] {
						wantIDs = append(wantIDs, r.EventID)
					}
				}
				if reg == region {
					wantIDs = append(wantIDs, crashed...)
				}
				slices.Reverse(wantIDs) // newest first
				if got := lookupAll(t, &l.Reader, Query{Region: reg, AccountID: acct, MaxResults: 7}); !slices.Equal(got, wantIDs) {
					t.Errorf("%s: lookup found\n%v\nwant\n%v", reg, got, wantIDs)
				}
				if got := lookupAll(t, &l.Reader, Query{Region: reg, MaxResults: 7}); !slices.Equal(got, wantIDs) {
					t.Errorf("%s: lookup without account found\n%v\nwant\n%v", reg, got, wantIDs)
				}
			}

			// New records chain on.
			more := appendN(t, l, region, 5)
			appendN(t, l, "eu-west-1", 2)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			rep := verify(t, cfg.Path, cfg.Signer)
			if !rep.OK() || len(rep.Problems) != 0 {
				t.Fatalf("Verify found problems:\n%s", rep)
			}
			if !slices.Equal(rep.Truncations, want) {
				t.Errorf("truncations\n got %+v\nwant %+v\nreport:\n%s", rep.Truncations, want, rep)
			}
			var n uint64
			for _, tr := range want {
				n += tr.Lost
				if !strings.Contains(rep.String(), tr.String()+"\n") {
					t.Errorf("the report does not say %q:\n%s", tr, rep)
				}
			}
			if rep.Lost() != n {
				t.Errorf("Lost() = %d, want %d", rep.Lost(), n)
			}
			g := regionReport(t, rep, region)
			if wantLast := uint64(30 + len(crashed) + len(more)); g.LastSeq != wantLast || g.Records != wantLast || g.UnsignedTail != 0 {
				t.Errorf("%s: %+v, want records 1..%d, signed to the end", region, g, wantLast)
			}
			if g := regionReport(t, rep, "eu-west-1"); g.LastSeq != 14 || g.UnsignedTail != 0 {
				t.Errorf("eu-west-1: %+v, want records 1..14, signed to the end", g)
			}
			t.Logf("%s", rep)

			// A reader beside the server exports all but the lost records.
			r, err := OpenReader(cfg.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			exported := 0
			if err := r.Since(t.Context(), time.Time{}, func(e Event) error {
				if gone[frame{region: e.Region, seq: e.Seq}] {
					t.Errorf("exported lost record %s %d", e.Region, e.Seq)
				}
				exported++
				return nil
			}); err != nil {
				t.Fatalf("Since: %v", err)
			}
			if total := 30 + 12 + len(crashed) + len(more) + 2; exported != total-len(gone) {
				t.Errorf("exported %d records, want %d of %d", exported, total-len(gone), total)
			}
		})
	}
}

// lookupAll pages through a lookup and returns the eventIDs, newest first.
func lookupAll(t *testing.T, r *Reader, q Query) []string {
	t.Helper()
	var ids []string
	for {
		events, next, err := r.Lookup(t.Context(), q)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if len(events) > q.MaxResults {
			t.Fatalf("Lookup: a page of %d, want at most %d", len(events), q.MaxResults)
		}
		for _, e := range events {
			ids = append(ids, e.EventID)
		}
		if next == "" {
			return ids
		}
		q.NextToken = next
	}
}

// TestTruncatedSegmentUnindexed cuts a segment whose records the database
// never took in: those after the cut never had a place in the chain, so
// nothing is lost to Verify; those before it are taken in.
func TestTruncatedSegmentUnindexed(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	truncLog(t, cfg)
	frames := indexedFrames(t, cfg.Path)
	epoch := frames[len(frames)-1].seg + 1
	crashed := writeUnindexed(t, cfg.Path, epoch, "us-east-1", 4)
	st, err := os.Stat(segmentPath(cfg.Path, epoch))
	if err != nil {
		t.Fatal(err)
	}
	cut(t, cfg.Path, epoch, st.Size()-10, false) // inside the last body

	l := openLog(t, cfg)
	for i, id := range crashed {
		events, _, err := l.Lookup(t.Context(), Query{EventID: id})
		if err != nil || len(events) != min(1, 3-i) {
			t.Errorf("record %d of the cut segment after the restart: %v %v", i, events, err)
		}
	}
	appendN(t, l, "us-east-1", 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, cfg.Path, cfg.Signer)
	if len(rep.Truncations) != 0 {
		t.Errorf("truncations of records never indexed:\n%s", rep)
	}
	if g := regionReport(t, rep, "us-east-1"); g.LastSeq != 35 {
		t.Errorf("us-east-1: %+v, want records 1..35", g)
	}
}

// TestTruncationIsNotCover: a cut segment hides nothing else. Damage in
// the middle of a segment, with intact frames after it, is an altered
// record; and a chain that breaks at a lost record, at the records after
// the loss or at a checkpoint over it is reported as such, beside the
// truncation.
func TestTruncationIsNotCover(t *testing.T) {
	// signedBefore30 in a Problem's Seq stands for the record after the
	// last checkpoint before record 30, which depends on how the indexer
	// batched the records.
	const signedBefore30 = ^uint64(0)
	t.Parallel()
	const region = "us-east-1"
	damage := func(t *testing.T, path string, f frame) {
		t.Helper()
		file, err := os.OpenFile(segmentPath(path, f.seg), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		if _, err := file.WriteAt([]byte("x"), f.off+frameHeaderSize+20); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// cutAt is the us-east-1 record at whose frame the segment is cut
		// (0: none); restart restarts the log after the cut and appends 5
		// records of us-east-1.
		cutAt   uint64
		restart bool
		tamper  func(t *testing.T, path string, fs []frame)
		want    Problem // the first problem of us-east-1; Detail not compared
		// lost is how many lost records of us-east-1 Verify lists: those
		// before the break. Damage in the middle is no truncation at all.
		lost uint64
	}{{
		name: "frame damaged in the middle",
		tamper: func(t *testing.T, path string, fs []frame) {
			damage(t, path, frameOfRecord(t, fs, region, 12))
		},
		want: Problem{Kind: Altered, Seq: 12, Count: 1},
	}, {
		name:  "frame damaged in the middle, tail cut",
		cutAt: 25,
		tamper: func(t *testing.T, path string, fs []frame) {
			damage(t, path, frameOfRecord(t, fs, region, 12))
		},
		want: Problem{Kind: Altered, Seq: 12, Count: 1},
	}, {
		name:  "frames after the cut point intact",
		cutAt: 0,
		tamper: func(t *testing.T, path string, fs []frame) {
			// Zeros over three frames in the middle: the segment's frames
			// stop there, but the database points at intact ones after.
			file, err := os.OpenFile(segmentPath(path, fs[0].seg), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			from, to := frameOfRecord(t, fs, region, 12).off, frameOfRecord(t, fs, region, 15).off
			if _, err := file.WriteAt(make([]byte, to-from), from); err != nil {
				t.Fatal(err)
			}
		},
		want: Problem{Kind: Altered, Seq: 12, Count: 1},
	}, {
		name:  "lost record's hash changed under a checkpoint",
		cutAt: 25,
		tamper: func(t *testing.T, path string, _ []frame) {
			h := randomHash()
			exec(t, rawDB(t, path), `UPDATE records SET hash = ? WHERE region = ? AND seq = 30`, h[:], region)
		},
		// The checkpoint at 30 (Close signs one) does not match; the one
		// before it did.
		want: Problem{Kind: Rewritten, Seq: signedBefore30}, lost: 6,
	}, {
		name:  "lost record does not chain",
		cutAt: 25,
		tamper: func(t *testing.T, path string, _ []frame) {
			h := randomHash()
			exec(t, rawDB(t, path), `UPDATE records SET prev = ? WHERE region = ? AND seq = 27`, h[:], region)
		},
		want: Problem{Kind: Deleted, Seq: 27, Count: 1}, lost: 2,
	}, {
		name:  "lost record deleted",
		cutAt: 25,
		tamper: func(t *testing.T, path string, _ []frame) {
			exec(t, rawDB(t, path), `DELETE FROM records WHERE region = ? AND seq = 27`, region)
		},
		want: Problem{Kind: Deleted, Seq: 27, Count: 1}, lost: 2,
	}, {
		name:    "record after the loss does not chain",
		cutAt:   25,
		restart: true,
		tamper: func(t *testing.T, path string, _ []frame) {
			h := randomHash()
			exec(t, rawDB(t, path), `UPDATE records SET prev = ? WHERE region = ? AND seq = 31`, h[:], region)
		},
		want: Problem{Kind: Deleted, Seq: 31, Count: 1}, lost: 6,
	}, {
		name:    "lost records' hashes rewritten to a record after the loss",
		cutAt:   25,
		restart: true,
		tamper: func(t *testing.T, path string, _ []frame) {
			// A lost record's stored hash changed, and the prev of the
			// record after it to match: the checkpoint at 30 catches it.
			h := randomHash()
			db := rawDB(t, path)
			exec(t, db, `UPDATE records SET hash = ? WHERE region = ? AND seq = 30`, h[:], region)
			exec(t, db, `UPDATE records SET prev = ? WHERE region = ? AND seq = 31`, h[:], region)
		},
		want: Problem{Kind: Rewritten, Seq: signedBefore30}, lost: 6,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			truncLog(t, cfg)
			frames := indexedFrames(t, cfg.Path)
			var want []Truncation
			if tt.cutAt != 0 {
				f := frameOfRecord(t, frames, region, tt.cutAt)
				cut(t, cfg.Path, f.seg, f.off, false)
				want = wantTruncations(frames, f.seg, f.off)
			}
			if tt.restart {
				l := openLog(t, cfg)
				appendN(t, l, region, 5)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if rep := verify(t, cfg.Path, cfg.Signer); !rep.OK() || !slices.Equal(rep.Truncations, want) {
				t.Fatalf("before the tampering: truncations %+v, want %+v\n%s", rep.Truncations, want, rep)
			}
			want1 := tt.want
			if want1.Seq == signedBefore30 {
				// Records after the last checkpoint before 30, to 30.
				var signed uint64
				if err := rawDB(t, cfg.Path).QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM checkpoints WHERE region = ? AND seq < 30`,
					region).Scan(&signed); err != nil {
					t.Fatal(err)
				}
				want1.Seq, want1.Count = signed+1, 30-signed
			}
			tt.tamper(t, cfg.Path, frames)

			rep := verify(t, cfg.Path, cfg.Signer)
			if rep.OK() || rep.Err() == nil {
				t.Fatalf("Verify missed it:\n%s", rep)
			}
			got := rep.Problems[slices.IndexFunc(rep.Problems, func(p Problem) bool { return p.Region == region })]
			got.Detail, got.EventID = "", ""
			if w := want1; got != (Problem{Kind: w.Kind, Region: region, Seq: w.Seq, Count: w.Count}) {
				t.Errorf("first problem of %s\n got %+v\nwant %+v\nreport:\n%s", region, got, w, rep)
			}
			// The truncations found before the break are still told.
			var wantBefore []Truncation
			for _, tr := range want {
				if tt.lost == 0 {
					break
				}
				if tr.Region == region {
					tr.Lost = tt.lost
				}
				wantBefore = append(wantBefore, tr)
			}
			if !slices.Equal(rep.Truncations, wantBefore) {
				t.Errorf("truncations\n got %+v\nwant %+v\nreport:\n%s", rep.Truncations, wantBefore, rep)
			}
			t.Logf("%s", rep)
		})
	}
}

// TestTruncatedSegmentRestarts restarts the log several times after its
// only segment lost all its frames or part of its header, as the writer
// goes on in new segments: the lost records must stay lost, not become
// altered.
func TestTruncatedSegmentRestarts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		at    int64
		zeros bool
	}{
		{"inside the segment header", 7, false},
		{"inside the first frame", int64(segmentHeaderSize) + 3, false},
		{"inside the segment header, zeros after", 7, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			truncLog(t, cfg)
			frames := indexedFrames(t, cfg.Path)
			want := wantTruncations(frames, frames[0].seg, tc.at)
			cut(t, cfg.Path, frames[0].seg, tc.at, tc.zeros)
			for i := range 3 {
				l := openLog(t, cfg)
				appendN(t, l, "us-east-1", 1)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				rep := verify(t, cfg.Path, cfg.Signer)
				if !rep.OK() || !slices.Equal(rep.Truncations, want) {
					t.Fatalf("after start %d: truncations %+v, want %+v\n%s", i+1, rep.Truncations, want, rep)
				}
			}
		})
	}
}

// TestLookupSkipsUnreadableFrames: a reader beside the log skips records
// whose frames are damaged in the middle of a segment, or whose segment's
// header is not its own, rather than fail every lookup that reaches them.
func TestLookupSkipsUnreadableFrames(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	recs := truncLog(t, cfg)["us-east-1"]
	// A restart moves the log to a new segment: readers beside it then
	// wait for no record of the first (they read the header of the
	// current one; see waitIndexed).
	if err := openLog(t, cfg).Close(); err != nil {
		t.Fatal(err)
	}
	frames := indexedFrames(t, cfg.Path)
	f, err := os.OpenFile(segmentPath(cfg.Path, frames[0].seg), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(b []byte, at int64) {
		t.Helper()
		if _, err := f.WriteAt(b, at); err != nil {
			t.Fatal(err)
		}
	}
	open := func() *Reader {
		t.Helper()
		r, err := OpenReader(cfg.Path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	q := Query{Region: "us-east-1", AccountID: acct, MaxResults: 4}

	write([]byte("x"), frameOfRecord(t, frames, "us-east-1", 12).off+frameHeaderSize+20)
	var want []string
	for i, rec := range slices.Backward(recs) {
		if i != 12-1 {
			want = append(want, rec.EventID)
		}
	}
	if got := lookupAll(t, open(), q); !slices.Equal(got, want) {
		t.Errorf("with record 12 damaged: lookup found\n%v\nwant\n%v", got, want)
	}

	// (A new reader: one checks a segment's header when it opens it.)
	write([]byte("NOTASEGMENT"), 0)
	if got := lookupAll(t, open(), q); len(got) != 0 {
		t.Errorf("with the segment's header overwritten: lookup found %d records", len(got))
	}
}
