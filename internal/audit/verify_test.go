package audit

import (
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"strings"
	"testing"
	"time"
)

// storedRecord reads one record's chain columns with a raw connection, and
// its body from its segment.
func storedRecord(t *testing.T, db *sql.DB, path, region string, seq uint64) (prev, hash Hash, body []byte) {
	t.Helper()
	var p, h []byte
	var seg, off sql.NullInt64
	if err := db.QueryRow(`SELECT prev, hash, body, segment, segment_offset FROM records WHERE region = ? AND seq = ?`, region, seq).
		Scan(&p, &h, &body, &seg, &off); err != nil {
		t.Fatalf("record %s %d: %v", region, seq, err)
	}
	segs := newSegmentReader(path)
	defer segs.close()
	body, err := segs.recordBody(body, seg, off)
	if err != nil {
		t.Fatalf("record %s %d: %v", region, seq, err)
	}
	return Hash(p), Hash(h), body
}

// frameOf is where a record's frame is.
func frameOf(t *testing.T, db *sql.DB, path, region string, seq uint64) (file string, off int64) {
	t.Helper()
	var seg uint64
	if err := db.QueryRow(`SELECT segment, segment_offset FROM records WHERE region = ? AND seq = ?`, region, seq).
		Scan(&seg, &off); err != nil {
		t.Fatalf("record %s %d: %v", region, seq, err)
	}
	return segmentPath(path, seg), off
}

// setBody rewrites a record's frame in its segment with body, which must
// be as long as the old one, and a checksum to match, as an attacker able
// to write the files would.
func setBody(t *testing.T, db *sql.DB, path, region string, seq uint64, body []byte) {
	t.Helper()
	file, off := frameOf(t, db, path, region, seq)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	frame = binary.BigEndian.AppendUint32(frame, crc32.Checksum(body, crcTable))
	frame = append(frame, body...)
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var old [4]byte
	if _, err := f.ReadAt(old[:], off); err != nil || binary.BigEndian.Uint32(old[:]) != uint32(len(body)) {
		t.Fatalf("setBody: the new body must be as long as the old one (%v)", err)
	}
	if _, err := f.WriteAt(frame, off); err != nil {
		t.Fatal(err)
	}
}

// alterBody changes Encrypt to Decrypt in a record's frame.
func alterBody(t *testing.T, db *sql.DB, path, region string, seq uint64) []byte {
	t.Helper()
	_, _, body := storedRecord(t, db, path, region, seq)
	body = []byte(strings.Replace(string(body), `"Encrypt"`, `"Decrypt"`, 1))
	setBody(t, db, path, region, seq, body)
	return body
}

// shiftFrom renumbers a region's records from seq on by delta, as an
// attacker making room for, or closing the gap after, a change would.
func shiftFrom(t *testing.T, db *sql.DB, region string, seq uint64, delta int) {
	t.Helper()
	// Through negative numbers, so the UNIQUE constraint never sees two
	// records at once on one number.
	exec(t, db, `UPDATE records SET seq = -(seq + ?) WHERE region = ? AND seq >= ?`, delta, region, seq)
	exec(t, db, `UPDATE records SET seq = -seq WHERE region = ? AND seq < 0`, region)
}

// insertRecord stores a record at seq with the given chain columns.
func insertRecord(t *testing.T, db *sql.DB, region string, seq uint64, prev, hash Hash, body []byte) {
	t.Helper()
	exec(t, db, `INSERT INTO records (region, seq, prev, hash, body, event_time, event_id, event_name,
		event_source, user_name, access_key_id, request_id, read_only) VALUES (?, ?, ?, ?, ?, 0, '', '', '', '', '', '', 0)`,
		region, seq, prev[:], hash[:], string(body))
}

func forgedBody(eventID string) []byte {
	r := kmsRecord("us-east-1", "Decrypt", keyID1)
	r.EventID = eventID
	b, _ := r.MarshalJSON()
	return b
}

func randomHash() Hash {
	var h Hash
	rand.Read(h[:])
	return h
}

// TestVerifyFindsTampering changes a closed log in each way an attacker
// with write access to the file might, and checks that Verify names the
// first record concerned and the kind of change. The log has 35 records in
// us-east-1, with checkpoints after 10, 20, 30 and (at Close) 35, and 3 in
// eu-west-1 that nothing touches.
func TestVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	const region = "us-east-1"
	tests := []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB, path string)
		want   Problem // Detail is not compared; Region is us-east-1 unless set
		// eventOf, if not 0, is the original sequence number of the record
		// whose eventID the problem names.
		eventOf uint64
	}{{
		name: "record altered",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			alterBody(t, db, path, region, 12)
		},
		want: Problem{Kind: Altered, Seq: 12, Count: 1}, eventOf: 12,
	}, {
		name: "record altered in the database",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			_, _, body := storedRecord(t, db, path, region, 12)
			body = []byte(strings.Replace(string(body), `"Encrypt"`, `"Decrypt"`, 1))
			exec(t, db, `UPDATE records SET body = ? WHERE region = ? AND seq = 12`, string(body), region)
		},
		want: Problem{Kind: Altered, Seq: 12, Count: 1}, eventOf: 12,
	}, {
		name: "record's frame damaged",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			file, off := frameOf(t, db, path, region, 12)
			f, err := os.OpenFile(file, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("x"), off+frameHeaderSize+20); err != nil {
				t.Fatal(err)
			}
		},
		want: Problem{Kind: Altered, Seq: 12, Count: 1},
	}, {
		name: "segment deleted",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			file, _ := frameOf(t, db, path, region, 1)
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
		},
		// The records of both regions are in it; eu-west-1 sorts first.
		want: Problem{Kind: Altered, Region: "eu-west-1", Seq: 1, Count: 1},
	}, {
		name: "record altered and its hash rewritten",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			prev, _, _ := storedRecord(t, db, path, region, 12)
			body := alterBody(t, db, path, region, 12)
			h := recordHash(prev, 12, body)
			exec(t, db, `UPDATE records SET hash = ? WHERE region = ? AND seq = 12`, h[:], region)
		},
		want: Problem{Kind: Altered, Seq: 12, Count: 1}, eventOf: 12,
	}, {
		name: "record altered and the chain recomputed to the end",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			prev, _, _ := storedRecord(t, db, path, region, 12)
			alterBody(t, db, path, region, 12)
			for seq := uint64(12); seq <= 35; seq++ {
				_, _, body := storedRecord(t, db, path, region, seq)
				h := recordHash(prev, seq, body)
				exec(t, db, `UPDATE records SET prev = ?, hash = ? WHERE region = ? AND seq = ?`,
					prev[:], h[:], region, seq)
				prev = h
			}
		},
		// Found at the checkpoint after 20; the last good one covers 10.
		want: Problem{Kind: Rewritten, Seq: 11, Count: 10},
	}, {
		name: "record deleted",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			exec(t, db, `DELETE FROM records WHERE region = ? AND seq = 12`, region)
		},
		want: Problem{Kind: Deleted, Seq: 12, Count: 1},
	}, {
		name: "records deleted and the rest renumbered",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			exec(t, db, `DELETE FROM records WHERE region = ? AND seq IN (12, 13)`, region)
			shiftFrom(t, db, region, 14, -2)
		},
		// Named by the record now at 12, which was 14.
		want: Problem{Kind: Deleted, Seq: 12, Count: 2}, eventOf: 14,
	}, {
		name: "first record deleted",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			exec(t, db, `DELETE FROM records WHERE region = ? AND seq = 1`, region)
		},
		want: Problem{Kind: Deleted, Seq: 1, Count: 1},
	}, {
		name: "signed tail deleted",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			exec(t, db, `DELETE FROM records WHERE region = ? AND seq > 33`, region)
		},
		want: Problem{Kind: Deleted, Seq: 34, Count: 2},
	}, {
		name: "record inserted, chained in",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			_, prev, _ := storedRecord(t, db, path, region, 11)
			shiftFrom(t, db, region, 12, 1)
			body := forgedBody("forged-event")
			insertRecord(t, db, region, 12, prev, recordHash(prev, 12, body), body)
		},
		want: Problem{Kind: Inserted, Seq: 12, Count: 1, EventID: "forged-event"},
	}, {
		name: "record inserted with made-up hashes",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			shiftFrom(t, db, region, 12, 1)
			insertRecord(t, db, region, 12, randomHash(), randomHash(), forgedBody("forged-event"))
		},
		want: Problem{Kind: Inserted, Seq: 12, Count: 1, EventID: "forged-event"},
	}, {
		name: "record appended that does not chain",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			prev := randomHash()
			body := forgedBody("forged-event")
			insertRecord(t, db, region, 36, prev, recordHash(prev, 36, body), body)
		},
		want: Problem{Kind: Inserted, Seq: 36, Count: 1, EventID: "forged-event"},
	}, {
		name: "checkpoint altered",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			exec(t, db, `UPDATE checkpoints SET body = replace(body, '"seq":20', '"seq":19') WHERE region = ? AND seq = 20`, region)
		},
		want: Problem{Kind: BadSignature, Seq: 20},
	}, {
		name: "checkpoint re-signed with another key",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			_, hash, _ := storedRecord(t, db, path, region, 20)
			var body string
			if err := db.QueryRow(`SELECT body FROM checkpoints WHERE region = ? AND seq = 20`, region).Scan(&body); err != nil {
				t.Fatal(err)
			}
			var c Checkpoint
			if err := json.Unmarshal([]byte(body), &c); err != nil {
				t.Fatal(err)
			}
			c.Hash = hash.String()
			k := testKey("attacker")
			c.KeyFingerprint = Fingerprint(pub(k))
			b, sig, err := signed(k, checkpointDomain, c)
			if err != nil {
				t.Fatal(err)
			}
			exec(t, db, `UPDATE checkpoints SET body = ?, signature = ? WHERE region = ? AND seq = 20`, string(b), sig, region)
		},
		want: Problem{Kind: BadSignature, Seq: 20},
	}, {
		name: "checkpoint deleted",
		tamper: func(t *testing.T, db *sql.DB, path string) {
			exec(t, db, `DELETE FROM checkpoints WHERE region = ? AND seq = 20`, region)
		},
		want: Problem{Kind: CheckpointChain, Seq: 30},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			l := openLog(t, cfg)
			recs := appendN(t, l, region, 35)
			appendN(t, l, "eu-west-1", 3)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			mustVerify(t, cfg.Path, cfg.Signer)

			tt.tamper(t, rawDB(t, cfg.Path), cfg.Path)
			rep := verify(t, cfg.Path, cfg.Signer)
			if rep.OK() {
				t.Fatalf("Verify missed it:\n%s", rep)
			}
			got := rep.Problems[0]
			want := tt.want
			if want.Region == "" {
				want.Region = region
			}
			if tt.eventOf != 0 {
				want.EventID = recs[tt.eventOf-1].EventID
			}
			got.Detail = ""
			if got != want {
				t.Errorf("first problem\n got %+v\nwant %+v\nreport:\n%s", got, want, rep)
			}
			if rep.Err() == nil {
				t.Error("Err() is nil")
			}
			for _, p := range rep.Problems {
				if p.Region != region && want.Region == region {
					t.Errorf("problem in the untouched region: %s", p)
				}
			}
			t.Logf("%s", rep)
		})
	}
}

func TestVerifyWrongKey(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	l := openLog(t, cfg)
	appendN(t, l, "us-east-1", 3)
	l.Close()
	rep := verify(t, cfg.Path, testKey("other"))
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != BadSignature ||
		!strings.Contains(rep.Problems[0].Detail, Fingerprint(pub(cfg.Signer))) {
		t.Errorf("with another key:\n%s", rep)
	}
}

// TestUnsignedTail verifies a running log: records after the last
// checkpoint are counted, not reported.
func TestUnsignedTail(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	l := openLog(t, cfg)
	appendN(t, l, "us-east-1", 25)
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, cfg.Path, cfg.Signer)
	g := regionReport(t, rep, "us-east-1")
	if g.UnsignedTail != 5 || g.SignedSeq != 20 || g.LastSeq != 25 || g.Checkpoints != 2 || g.Anchored {
		t.Errorf("running log: %+v", g)
	}
	if !strings.Contains(rep.String(), "unsigned tail of 5 records") {
		t.Errorf("report does not mention the tail:\n%s", rep)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	g = regionReport(t, mustVerify(t, cfg.Path, cfg.Signer), "us-east-1")
	if g.UnsignedTail != 0 || g.SignedSeq != 25 || g.Checkpoints != 3 {
		t.Errorf("after Close: %+v", g)
	}
}

func TestIntervalCheckpoint(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.CheckpointEvery = 1000
	cfg.CheckpointInterval = 10 * time.Millisecond
	l := openLog(t, cfg)
	appendN(t, l, "us-east-1", 3)
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A tick may fall between the appends; the next one signs the rest.
	waitFor(t, "an interval checkpoint of all records", func() bool {
		g := regionReport(t, mustVerify(t, cfg.Path, cfg.Signer), "us-east-1")
		return g.UnsignedTail == 0 && g.SignedSeq == 3
	})
	if s := l.Stats(); s.Checkpoints == 0 {
		t.Errorf("Stats: %+v", s)
	}
}
