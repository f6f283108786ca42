package audit

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openkms/kms/internal/pgtest"
)

// exportAll returns the Raw of every record a reader's Since passes on.
func exportAll(t *testing.T, since func(fn func(Event) error) error) []string {
	t.Helper()
	var out []string
	if err := since(func(e Event) error {
		out = append(out, string(e.Raw))
		return nil
	}); err != nil {
		t.Fatalf("Since: %v", err)
	}
	return out
}

// TestImportToPostgres imports a pruned SQLite log of two regions, big
// enough for several batches and checkpoints, into an empty database: the
// trail verifies, its export holds the source's records byte for byte and
// in order, lookups, last uses and the tracking start are the source's,
// and a second import is refused without writing.
func TestImportToPostgres(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	cfg := testConfig(t)
	cfg.Now = clk.Now
	l := openLog(t, cfg)
	appendN(t, l, "us-east-1", 5) // pruned below; key 1's last use survives
	clk.Add(2 * time.Hour)
	for i := range 1100 {
		appendN(t, l, "us-east-1", 1)
		if i%50 == 0 {
			appendN(t, l, "eu-west-1", 1)
		}
	}
	use := kmsRecord("eu-west-1", "Decrypt", keyID2)
	failed := kmsRecord("eu-west-1", "Decrypt", keyID2)
	failed.ErrorCode = "DisabledException" // a failure is no use
	for _, r := range []*Record{use, failed} {
		if err := l.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.Prune(ctx, clk.Now().Add(-time.Hour)); err != nil || n != 5 {
		t.Fatalf("Prune: %d, %v", n, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := OpenReader(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := exportAll(t, func(fn func(Event) error) error { return src.Since(ctx, time.Time{}, fn) })

	dsn := pgtest.DSN(t)
	var progress []int
	sum, err := ImportToPostgres(ctx, ImportConfig{Source: cfg.Path, DSN: dsn, Signer: cfg.Signer,
		Node: "migrated from /data", Progress: func(n int) { progress = append(progress, n) }})
	if err != nil {
		t.Fatalf("ImportToPostgres: %v", err)
	}
	if sum.Records != len(want) || sum.Records != 1124 || len(sum.Chains) != 2 || sum.LastUses != 3 || sum.Lost() != 0 {
		t.Errorf("summary %+v, want 1124 records in 2 chains and 3 last uses (key 1 in both regions, key 2)", sum)
	}
	if !slices.IsSorted(progress) || progress[len(progress)-1] != sum.Records || len(progress) != 3 {
		t.Errorf("progress %v", progress)
	}
	for _, c := range sum.Chains {
		if !strings.HasPrefix(c.Name, "migrated from /data@") {
			t.Errorf("chain name %q", c.Name)
		}
	}

	rep := mustVerifyPG(t, dsn)
	if len(rep.Regions) != 2 {
		t.Fatalf("chains:\n%s", rep)
	}
	for _, g := range rep.Regions {
		if g.UnsignedTail != 0 || g.Records != g.LastSeq || g.Checkpoints < 1 {
			t.Errorf("chain not signed to its end: %+v", g)
		}
	}
	if g := chainReports(rep, "us-east-1"); len(g) != 1 || g[0].Records != 1100 || g[0].Checkpoints != 2 {
		t.Errorf("us-east-1 chains: %+v", g)
	}

	r, err := OpenPostgresReader(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := exportAll(t, func(fn func(Event) error) error { return r.Since(ctx, time.Time{}, fn) })
	if !slices.Equal(got, want) {
		t.Fatalf("export after the import differs from the source's: %d records, want %d", len(got), len(want))
	}
	for _, q := range []Query{
		{Region: "eu-west-1", AccountID: acct, EventID: use.EventID},
		{Region: "eu-west-1", AccountID: acct, ResourceName: keyID2, EventName: "Decrypt", MaxResults: 1},
	} {
		events, _, err := r.Lookup(ctx, q)
		if err != nil || len(events) != 1 || events[0].EventID != failed.EventID && events[0].EventID != use.EventID {
			t.Errorf("Lookup(%+v): %v, %v", q, events, err)
		}
	}
	for _, arn := range []string{keyARN("us-east-1", keyID1), keyARN("eu-west-1", keyID2)} {
		wantUse, ok1, err1 := src.LastUsage(ctx, arn)
		gotUse, ok2, err2 := r.LastUsage(ctx, arn)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || gotUse != wantUse {
			t.Errorf("LastUsage(%s): %+v %v %v, want %+v %v %v", arn, gotUse, ok2, err2, wantUse, ok1, err1)
		}
	}
	if u, _, _ := r.LastUsage(ctx, keyARN("eu-west-1", keyID2)); u.EventID != use.EventID {
		t.Errorf("last use of key 2 is %s, not the successful Decrypt %s", u.EventID, use.EventID)
	}
	srcStart, _ := src.TrackingStart(ctx)
	if start, err := r.TrackingStart(ctx); err != nil || !start.Equal(srcStart) {
		t.Errorf("TrackingStart %v, %v; want the source's %v", start, err, srcStart)
	}

	// Once is all: a trail with records is refused, and left alone.
	if _, err := ImportToPostgres(ctx, ImportConfig{Source: cfg.Path, DSN: dsn, Signer: cfg.Signer, Node: "again"}); err == nil ||
		!strings.Contains(err.Error(), "has records already") {
		t.Errorf("second import: %v", err)
	}
	if after := mustVerifyPG(t, dsn); len(after.Regions) != 2 {
		t.Errorf("second import changed the trail:\n%s", after)
	}
	if empty, err := PostgresTrailEmpty(ctx, dsn); empty || err != nil {
		t.Errorf("PostgresTrailEmpty after an import: %v, %v", empty, err)
	}
}

// TestImportToPostgresRefuses: a source that does not verify, or has
// records not yet indexed, is refused and nothing is written; one whose
// segment lost its tail is imported without the lost records, which the
// summary lists.
func TestImportToPostgresRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		damage  func(t *testing.T, cfg Config)
		signer  string // key name; "" is the log's
		wantErr string // "" for an import
		lost    uint64
	}{{
		name:    "altered record",
		damage:  func(t *testing.T, cfg Config) { alterBody(t, rawDB(t, cfg.Path), cfg.Path, "us-east-1", 12) },
		wantErr: "does not verify",
	}, {
		name: "deleted record",
		damage: func(t *testing.T, cfg Config) {
			exec(t, rawDB(t, cfg.Path), `DELETE FROM records WHERE region = 'eu-west-1' AND seq = 3`)
		},
		wantErr: "does not verify",
	}, {
		name:    "another checkpoint key",
		signer:  "other",
		wantErr: "does not verify",
	}, {
		name: "records not indexed",
		damage: func(t *testing.T, cfg Config) {
			frames := indexedFrames(t, cfg.Path)
			writeUnindexed(t, cfg.Path, frames[len(frames)-1].seg+1, "us-east-1", 2)
		},
		wantErr: "not indexed",
	}, {
		name: "segment tail lost",
		damage: func(t *testing.T, cfg Config) {
			frames := indexedFrames(t, cfg.Path)
			last := frames[len(frames)-3] // its record and the two after are lost
			cut(t, cfg.Path, last.seg, last.off+5, false)
		},
		lost: 3,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			recs := truncLog(t, cfg)
			if tt.damage != nil {
				tt.damage(t, cfg)
			}
			signer := cfg.Signer
			if tt.signer != "" {
				signer = testKey(tt.signer)
			}
			dsn := pgtest.DSN(t)
			sum, err := ImportToPostgres(t.Context(), ImportConfig{Source: cfg.Path, DSN: dsn, Signer: signer, Node: "migrated"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ImportToPostgres: %v, want an error with %q", err, tt.wantErr)
				}
				if empty, err := PostgresTrailEmpty(t.Context(), dsn); !empty || err != nil {
					t.Errorf("a refused import wrote to the trail: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ImportToPostgres: %v", err)
			}
			total := len(recs["us-east-1"]) + len(recs["eu-west-1"])
			if sum.Lost() != tt.lost || sum.Records != total-int(tt.lost) {
				t.Errorf("imported %d records, %d lost; want %d and %d", sum.Records, sum.Lost(), total-int(tt.lost), tt.lost)
			}
			mustVerifyPG(t, dsn)
		})
	}
}

func TestImportToPostgresConfig(t *testing.T) {
	t.Parallel()
	path := testConfig(t).Path
	for _, cfg := range []ImportConfig{
		{DSN: "postgres://x", Signer: testKey("log"), Node: "n"},
		{Source: path, Signer: testKey("log"), Node: "n"},
		{Source: path, DSN: "postgres://x", Signer: testKey("log")},
		{Source: path, DSN: "postgres://x", Node: "n"},
	} {
		if _, err := ImportToPostgres(t.Context(), cfg); err == nil {
			t.Errorf("ImportToPostgres(%+v) accepted", cfg)
		}
	}
	if _, err := ImportToPostgres(t.Context(), ImportConfig{Source: path, DSN: "postgres://x", Signer: testKey("log"), Node: "n"}); err == nil ||
		!strings.Contains(err.Error(), "no audit log") {
		t.Errorf("a missing source: %v", err)
	}
}
