package audit

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// lookupLog fills a log with records a second apart: for each i in 0..119,
// region us-east-1, key 1 or 2 alternately, Encrypt (read-only) or
// CreateKey, by Alice or by the root user.
func lookupLog(t *testing.T) (*Log, *clock, []*Record) {
	t.Helper()
	c := newClock()
	cfg := testConfig(t)
	cfg.Now = c.Now
	l := openLog(t, cfg)
	root := &UserIdentity{Type: "Root", PrincipalID: acct, ARN: "arn:aws:iam::" + acct + ":root",
		AccountID: acct, AccessKeyID: "AKIAROOT"}
	var recs []*Record
	for i := range 120 {
		id := keyID1
		if i%2 == 1 {
			id = keyID2
		}
		r := kmsRecord("us-east-1", "Encrypt", id)
		if i%3 == 0 {
			r.EventName, r.ReadOnly = "CreateKey", false
		}
		if i%4 == 0 {
			r.UserIdentity = root
		}
		if err := l.Append(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
		c.Add(time.Second)
	}
	return l, c, recs
}

func TestLookup(t *testing.T) {
	t.Parallel()
	l, _, recs := lookupLog(t)
	start := recs[0].EventTime
	yes, no := true, false
	match := func(f func(i int, r *Record) bool) []int {
		var want []int
		for i := len(recs) - 1; i >= 0; i-- { // newest first
			if f(i, recs[i]) {
				want = append(want, i)
			}
		}
		return want
	}
	tests := []struct {
		name string
		q    Query
		want []int
	}{
		{"all", Query{}, match(func(int, *Record) bool { return true })},
		{"event name", Query{EventName: "CreateKey"}, match(func(i int, _ *Record) bool { return i%3 == 0 })},
		{"key id", Query{ResourceName: keyID2}, match(func(i int, _ *Record) bool { return i%2 == 1 })},
		{"key ARN", Query{ResourceName: keyARN("us-east-1", keyID1)}, match(func(i int, _ *Record) bool { return i%2 == 0 })},
		{"other key", Query{ResourceName: "nope"}, nil},
		{"user", Query{Username: "Alice"}, match(func(i int, _ *Record) bool { return i%4 != 0 })},
		{"root", Query{Username: "root"}, match(func(i int, _ *Record) bool { return i%4 == 0 })},
		{"access key", Query{AccessKeyID: "AKIAROOT"}, match(func(i int, _ *Record) bool { return i%4 == 0 })},
		{"read-only", Query{ReadOnly: &yes}, match(func(i int, _ *Record) bool { return i%3 != 0 })},
		{"not read-only", Query{ReadOnly: &no}, match(func(i int, _ *Record) bool { return i%3 == 0 })},
		{"event id", Query{EventID: recs[7].EventID}, []int{7}},
		{"time range", Query{StartTime: start.Add(10 * time.Second), EndTime: start.Add(20 * time.Second)},
			match(func(i int, _ *Record) bool { return i >= 10 && i <= 20 })},
		{"combined", Query{EventName: "CreateKey", ResourceName: keyID1, Username: "root"},
			match(func(i int, _ *Record) bool { return i%3 == 0 && i%2 == 0 && i%4 == 0 })},
	}
	// Scoped to an account and a region, as LookupEvents asks, a lookup
	// walks postings; unscoped, it scans the records. Same answers.
	for _, scoped := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if scoped {
				name += " scoped"
			}
			t.Run(name, func(t *testing.T) {
				var got []int
				q := tt.q
				q.MaxResults = 7
				if scoped {
					q.AccountID, q.Region = acct, "us-east-1"
				}
				for page := 0; ; page++ {
					if page > 100 {
						t.Fatal("pagination does not end")
					}
					events, next, err := l.Lookup(t.Context(), q)
					if err != nil {
						t.Fatal(err)
					}
					if len(events) > 7 || (next != "" && len(events) != 7) {
						t.Fatalf("page of %d, next %q", len(events), next)
					}
					for _, e := range events {
						i := slices.IndexFunc(recs, func(r *Record) bool { return r.EventID == e.EventID })
						if i < 0 {
							t.Fatalf("unknown event %s", e.EventID)
						}
						got = append(got, i)
					}
					if next == "" {
						break
					}
					q.NextToken = next
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("got records %v\nwant %v", got, tt.want)
				}
			})
		}
	}

	// An event carries its record as stored, and the decoded members.
	events, _, err := l.Lookup(t.Context(), Query{EventID: recs[4].EventID})
	if err != nil || len(events) != 1 {
		t.Fatalf("Lookup: %v, %v", events, err)
	}
	e := events[0]
	want, _ := recs[4].MarshalJSON()
	if string(e.Raw) != string(want) {
		t.Errorf("Raw:\n got %s\nwant %s", e.Raw, want)
	}
	if e.Region != "us-east-1" || e.Seq != 5 || e.EventName != "Encrypt" || e.Username != "root" ||
		e.AccessKeyID != "AKIAROOT" || !e.ReadOnly || !e.EventTime.Equal(recs[4].EventTime) ||
		e.RequestID != recs[4].RequestID || e.EventSource != EventSourceKMS ||
		!slices.Equal(e.Resources, recs[4].Resources) {
		t.Errorf("event %+v", e)
	}
	var back Record
	if err := json.Unmarshal(e.Raw, &back); err != nil || back.EventID != recs[4].EventID {
		t.Errorf("Raw does not decode: %v", err)
	}
}

func TestLookupPageSize(t *testing.T) {
	t.Parallel()
	l, _, recs := lookupLog(t)
	for _, n := range []int{0, -1, 51, 1000} {
		events, next, err := l.Lookup(t.Context(), Query{MaxResults: n})
		if err != nil || len(events) != MaxLookupResults || next == "" {
			t.Errorf("MaxResults %d: %d events, next %q, %v", n, len(events), next, err)
		}
		if events[0].EventID != recs[len(recs)-1].EventID {
			t.Errorf("MaxResults %d: not newest first", n)
		}
	}
	for _, tok := range []string{"x", "AQ", strings.Repeat("A", 23), "AAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, _, err := l.Lookup(t.Context(), Query{NextToken: tok}); !errors.Is(err, ErrBadToken) {
			t.Errorf("NextToken %q: %v, want ErrBadToken", tok, err)
		}
	}
}

// TestLookupSameSecond: records with one eventTime page in commit order,
// newest first, with nothing lost or repeated.
func TestLookupSameSecond(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	c := newClock()
	cfg.Now = c.Now
	l := openLog(t, cfg)
	recs := appendN(t, l, "us-east-1", 11)
	var got []string
	q := Query{MaxResults: 3}
	for {
		events, next, err := l.Lookup(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			got = append(got, e.EventID)
		}
		if next == "" {
			break
		}
		q.NextToken = next
	}
	var want []string
	for i := len(recs) - 1; i >= 0; i-- {
		want = append(want, recs[i].EventID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func FuzzNextToken(f *testing.F) {
	f.Add(cursor{time: 1700000000000, id: 42}.token())
	f.Add(cursor{time: -1, id: 1}.token())
	f.Add("")
	f.Add("AQ==")
	f.Add("AQAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseToken(s)
		if err != nil {
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("parseToken(%q): %v", s, err)
			}
			return
		}
		// A token has one encoding.
		if got := c.token(); got != s {
			t.Fatalf("parseToken(%q) = %+v, which encodes as %q", s, c, got)
		}
	})
}

func TestSinceAndFollow(t *testing.T) {
	t.Parallel()
	l, c, recs := lookupLog(t)
	since := recs[100].EventTime
	var got []string
	if err := l.Since(t.Context(), since, func(e Event) error {
		got = append(got, e.EventID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range recs[100:] {
		want = append(want, r.EventID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Since: got %d records, want %d", len(got), len(want))
	}
	stop := errors.New("stop")
	n := 0
	if err := l.Since(t.Context(), time.Time{}, func(Event) error {
		if n++; n == 300 {
			return stop
		}
		return nil
	}); err != nil || n != len(recs) {
		t.Errorf("Since from the start: %d records, %v", n, err)
	}
	if err := l.Since(t.Context(), time.Time{}, func(Event) error { return stop }); err != stop {
		t.Errorf("Since does not return fn's error: %v", err)
	}

	// Follow from the last record on: it sees it, then what is appended.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := make(chan Event)
	done := make(chan error, 1)
	go func() {
		done <- l.Follow(ctx, recs[119].EventTime, time.Hour, func(e Event) error {
			events <- e
			return nil
		})
	}()
	if e := <-events; e.EventID != recs[119].EventID {
		t.Errorf("Follow started with %s", e.EventID)
	}
	c.Add(time.Second)
	for range 3 {
		r := kmsRecord("us-east-1", "Decrypt", keyID1)
		if err := l.Append(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		// Woken by the commit: the poll interval is an hour.
		if e := <-events; e.EventID != r.EventID {
			t.Errorf("Follow: got %s, want %s", e.EventID, r.EventID)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Follow returned %v", err)
	}
}

// TestReader reads, and follows by polling, a log that another connection
// writes, as `kms audit tail -f` beside the server would.
func TestReader(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	l := openLog(t, cfg)
	recs := appendN(t, l, "us-east-1", 3)
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReader(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	events, _, err := r.Lookup(t.Context(), Query{})
	if err != nil || len(events) != 3 || events[0].EventID != recs[2].EventID {
		t.Fatalf("Lookup: %v, %v", events, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan string, 10)
	go r.Follow(ctx, time.Time{}, 5*time.Millisecond, func(e Event) error {
		got <- e.EventID
		return nil
	})
	more := appendN(t, l, "us-east-1", 2)
	for _, want := range append(recs, more...) {
		if id := <-got; id != want.EventID {
			t.Errorf("Follow: got %s, want %s", id, want.EventID)
		}
	}
	if _, err := r.db.ExecContext(t.Context(), `DELETE FROM records`); err == nil {
		t.Error("a Reader could write")
	}
}

func TestLastUsage(t *testing.T) {
	t.Parallel()
	c := newClock()
	cfg := testConfig(t)
	cfg.Now = c.Now
	l := openLog(t, cfg)
	ctx := t.Context()
	arn1, arn2 := keyARN("us-east-1", keyID1), keyARN("us-east-1", keyID2)
	tracking, err := l.TrackingStart(ctx)
	if err != nil || !tracking.Equal(c.Now()) {
		t.Errorf("TrackingStart: %v, %v", tracking, err)
	}

	if _, ok, err := l.LastUsage(ctx, arn1); ok || err != nil {
		t.Fatalf("LastUsage of an unused key: %v, %v", ok, err)
	}
	enc := kmsRecord("us-east-1", "Encrypt", keyID1)
	l.Append(ctx, enc)
	c.Add(time.Minute)
	// Neither a failed call nor a non-cryptographic one counts.
	failed := kmsRecord("us-east-1", "Decrypt", keyID1)
	failed.ErrorCode = "InvalidCiphertextException"
	l.Append(ctx, failed)
	l.Append(ctx, kmsRecord("us-east-1", "DescribeKey", keyID1))
	// A ReEncrypt uses both keys.
	c.Add(time.Minute)
	re := kmsRecord("us-east-1", "ReEncrypt", keyID2)
	re.Resources = append(re.Resources, Resource{AccountID: acct, Type: ResourceTypeKey, ARN: arn1})
	if err := l.Append(ctx, re); err != nil {
		t.Fatal(err)
	}
	// An older event logged later does not win.
	old := kmsRecord("us-east-1", "Sign", keyID1)
	old.EventTime = enc.EventTime.Add(-time.Hour)
	l.Append(ctx, old)

	for _, arn := range []string{arn1, arn2} {
		u, ok, err := l.LastUsage(ctx, arn)
		want := LastUse{Time: re.EventTime, EventName: "ReEncrypt", Region: "us-east-1", EventID: re.EventID, RequestID: re.RequestID}
		if err != nil || !ok || u != want {
			t.Errorf("LastUsage(%s) = %+v, %v, %v; want %+v", arn, u, ok, err, want)
		}
	}

	// Pruning every record forgets no usage.
	c.Add(time.Hour)
	if _, err := l.Prune(ctx, c.Now()); err != nil {
		t.Fatal(err)
	}
	if u, ok, err := l.LastUsage(ctx, arn1); !ok || err != nil || u.EventID != re.EventID {
		t.Errorf("LastUsage after Prune: %+v, %v, %v", u, ok, err)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	c := newClock()
	cfg := testConfig(t)
	cfg.Now = c.Now
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// 25 records a minute apart in us-east-1, 5 in eu-west-1 at the start.
	var recs []*Record
	for i := range 25 {
		r := kmsRecord("us-east-1", "Encrypt", keyID1)
		l.Append(ctx, r)
		recs = append(recs, r)
		if i < 5 {
			l.Append(ctx, kmsRecord("eu-west-1", "Encrypt", keyID1))
		}
		c.Add(time.Minute)
	}

	n, err := l.Prune(ctx, recs[12].EventTime)
	if err != nil {
		t.Fatal(err)
	}
	if n != 12+5 {
		t.Errorf("Prune deleted %d records, want 17", n)
	}
	rep := mustVerify(t, cfg.Path, cfg.Signer)
	if g := regionReport(t, rep, "us-east-1"); !g.Anchored || g.FirstSeq != 13 || g.LastSeq != 25 ||
		g.Records != 13 || g.UnsignedTail != 0 {
		t.Errorf("us-east-1 after Prune: %+v", g)
	}
	if g := regionReport(t, rep, "eu-west-1"); !g.Anchored || g.FirstSeq != 6 || g.Records != 0 {
		t.Errorf("eu-west-1 after Prune: %+v", g)
	}
	events, _, err := l.Lookup(ctx, Query{})
	if err != nil || len(events) != 13 || events[12].EventID != recs[12].EventID {
		t.Errorf("Lookup after Prune: %d events, %v", len(events), err)
	}
	if n, err := l.Prune(ctx, recs[12].EventTime); n != 0 || err != nil {
		t.Errorf("Prune again: %d, %v", n, err)
	}

	// The chains go on, across a restart, and prune again.
	appendN(t, l, "us-east-1", 4)
	appendN(t, l, "eu-west-1", 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, cfg)
	appendN(t, l, "eu-west-1", 1)
	c.Add(time.Minute)
	if n, err := l.Prune(ctx, recs[20].EventTime); n != 8 || err != nil {
		t.Errorf("second Prune: %d, %v", n, err)
	}
	appendN(t, l, "us-east-1", 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep = mustVerify(t, cfg.Path, cfg.Signer)
	if g := regionReport(t, rep, "us-east-1"); g.FirstSeq != 21 || g.LastSeq != 30 || g.Records != 10 {
		t.Errorf("us-east-1 after the second Prune: %+v", g)
	}
	if g := regionReport(t, rep, "eu-west-1"); g.FirstSeq != 6 || g.LastSeq != 8 || g.Records != 3 {
		t.Errorf("eu-west-1 after the second Prune: %+v", g)
	}
}

// TestPruneThenTamper: what is left after a prune is still protected, and
// so is the anchor.
func TestPruneThenTamper(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(t *testing.T, path string)
		want   Kind
		seq    uint64
	}{
		{"record altered", func(t *testing.T, path string) {
			alterBody(t, rawDB(t, path), path, "us-east-1", 16)
		}, Altered, 16},
		{"first remaining record deleted", func(t *testing.T, path string) {
			exec(t, rawDB(t, path), `DELETE FROM records WHERE seq = 11`)
		}, Deleted, 11},
		{"anchor deleted", func(t *testing.T, path string) {
			exec(t, rawDB(t, path), `DELETE FROM anchors`)
		}, Deleted, 1},
		{"anchor moved on", func(t *testing.T, path string) {
			exec(t, rawDB(t, path), `UPDATE anchors SET body = replace(body, '"seq":11', '"seq":12')`)
		}, BadSignature, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			cfg := testConfig(t)
			cfg.Now = c.Now
			l := openLog(t, cfg)
			appendN(t, l, "us-east-1", 10)
			c.Add(time.Minute)
			appendN(t, l, "us-east-1", 15)
			if n, err := l.Prune(t.Context(), c.Now()); n != 10 || err != nil {
				t.Fatalf("Prune: %d, %v", n, err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			mustVerify(t, cfg.Path, cfg.Signer)
			tt.tamper(t, cfg.Path)
			rep := verify(t, cfg.Path, cfg.Signer)
			if !slices.ContainsFunc(rep.Problems, func(p Problem) bool { return p.Kind == tt.want && p.Seq == tt.seq }) {
				t.Errorf("want %s at %d; report:\n%s", tt.want, tt.seq, rep)
			}
		})
	}
}

// TestLookupResourceTwice: a record naming one key twice (a ReEncrypt under
// the same key) is found once and keeps both entries.
func TestLookupResourceTwice(t *testing.T) {
	t.Parallel()
	l := openLog(t, testConfig(t))
	r := kmsRecord("us-east-1", "ReEncrypt", keyID1)
	r.Resources = append(r.Resources, r.Resources[0])
	if err := l.Append(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	events, _, err := l.Lookup(t.Context(), Query{ResourceName: keyID1})
	if err != nil || len(events) != 1 || len(events[0].Resources) != 2 {
		t.Errorf("Lookup: %+v, %v", events, err)
	}
}

// TestPruneRemovesSegments: segments whose records were all pruned are
// deleted; the rest of the log still reads and verifies, also after a
// restart.
func TestPruneRemovesSegments(t *testing.T) {
	t.Parallel()
	c := newClock()
	cfg := testConfig(t)
	cfg.Now = c.Now
	cfg.segmentSize = 1 // a new segment after every write
	l := openLog(t, cfg)
	appendN(t, l, "us-east-1", 10)
	c.Add(time.Minute)
	kept := appendN(t, l, "us-east-1", 5)
	before, err := segmentFiles(cfg.Path)
	if err != nil || len(before) < 15 {
		t.Fatalf("segments before Prune: %v %v", before, err)
	}
	if n, err := l.Prune(t.Context(), c.Now()); n != 10 || err != nil {
		t.Fatalf("Prune: %d, %v", n, err)
	}
	// Left: the five segments of the kept records, and the writer's
	// current one (which may be a sixth, empty, or one of the five: the
	// writer answers before it rotates).
	after, err := segmentFiles(cfg.Path)
	if err != nil || len(after) > 6 {
		t.Errorf("segments after Prune: %d of %d left (%v)", len(after), len(before), err)
	}
	events, _, err := l.Lookup(t.Context(), Query{})
	if err != nil || len(events) != 5 || events[0].EventID != kept[4].EventID {
		t.Fatalf("Lookup after Prune: %d events, %v", len(events), err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, cfg.Path, cfg.Signer)
	l = openLog(t, cfg)
	appendN(t, l, "us-east-1", 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if g := regionReport(t, mustVerify(t, cfg.Path, cfg.Signer), "us-east-1"); g.Records != 6 || g.FirstSeq != 11 {
		t.Errorf("after a restart: %+v", g)
	}
}

func TestLookupResourceType(t *testing.T) {
	t.Parallel()
	l := openLog(t, testConfig(t))
	withKey := appendN(t, l, "us-east-1", 2)
	if err := l.Append(t.Context(), kmsRecord("us-east-1", "ListKeys", "")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ  string
		want int
	}{{ResourceTypeKey, 2}, {"AWS::S3::Bucket", 0}, {"", 3}} {
		events, _, err := l.Lookup(t.Context(), Query{ResourceType: tc.typ})
		if err != nil || len(events) != tc.want {
			t.Errorf("ResourceType %q: %d events, %v; want %d", tc.typ, len(events), err, tc.want)
		}
		if tc.typ == ResourceTypeKey && len(events) == 2 && events[0].EventID != withKey[1].EventID {
			t.Errorf("ResourceType %q: first %s, want %s", tc.typ, events[0].EventID, withKey[1].EventID)
		}
	}
}
