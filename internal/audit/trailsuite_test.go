package audit

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// trail is what the conformance suite needs of an audit backend: the SQLite
// Log and the PostgresLog both have these methods, and the test adapters
// below add verify and tamper.
type trail interface {
	Append(ctx context.Context, r *Record) error
	Lookup(ctx context.Context, q Query) ([]Event, string, error)
	LastUsage(ctx context.Context, keyARN string) (LastUse, bool, error)
	TrackingStart(ctx context.Context) (time.Time, error)
	Since(ctx context.Context, t time.Time, fn func(Event) error) error
	Prune(ctx context.Context, before time.Time) (int, error)
	Close() error
	// verify checks what is stored, after Close, against the signer's
	// public key.
	verify(t *testing.T) *Report
	// tamper changes "Encrypt" to "Decrypt" in the stored JSON of the
	// record with eventID id, after Close, as someone able to write the
	// store would.
	tamper(t *testing.T, eventID string)
}

// sqliteTrail is the SQLite Log as a trail.
type sqliteTrail struct {
	*Log
	cfg Config
}

func openSQLiteTrail(t *testing.T) trail {
	cfg := testConfig(t)
	return sqliteTrail{Log: openLog(t, cfg), cfg: cfg}
}

func (s sqliteTrail) verify(t *testing.T) *Report { return verify(t, s.cfg.Path, s.cfg.Signer) }

func (s sqliteTrail) tamper(t *testing.T, eventID string) {
	t.Helper()
	db := rawDB(t, s.cfg.Path)
	var region string
	var seq uint64
	if err := db.QueryRowContext(t.Context(), `SELECT region, seq FROM records WHERE event_id = ?`, eventID).
		Scan(&region, &seq); err != nil {
		t.Fatalf("record %s: %v", eventID, err)
	}
	alterBody(t, db, s.cfg.Path, region, seq)
}

func TestSQLiteTrail(t *testing.T) {
	t.Parallel()
	runTrailSuite(t, openSQLiteTrail)
}

// suiteStart is when the suite's records happen: they carry their own
// eventTime, so that the suite needs no control of the backend's clock.
var suiteStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const otherAcct = "444455556666"

// suiteRecord is a KMS call at suiteStart plus at.
func suiteRecord(region, name, keyID string, at time.Duration) *Record {
	r := kmsRecord(region, name, keyID)
	r.EventTime = suiteStart.Add(at)
	return r
}

// matches is what Lookup should find for q, as Query documents it.
func matches(q Query, r *Record) bool {
	var accessKey string
	if r.UserIdentity != nil {
		accessKey = r.UserIdentity.AccessKeyID
	}
	for _, f := range [][2]string{
		{q.Region, r.AWSRegion}, {q.AccountID, r.RecipientAccountID}, {q.EventName, r.EventName},
		{q.EventSource, r.EventSource}, {q.Username, Username(r.UserIdentity)}, {q.AccessKeyID, accessKey},
		{q.EventID, r.EventID},
	} {
		if f[0] != "" && f[0] != f[1] {
			return false
		}
	}
	if q.ReadOnly != nil && *q.ReadOnly != r.ReadOnly {
		return false
	}
	if q.ResourceName != "" && !slices.ContainsFunc(r.Resources, func(rs Resource) bool {
		return rs.ARN == q.ResourceName || resourceName(rs.ARN) == q.ResourceName
	}) {
		return false
	}
	switch q.ResourceType {
	case "":
	case ResourceTypeKey:
		if len(r.Resources) == 0 {
			return false
		}
	default:
		return false
	}
	return (q.StartTime.IsZero() || !r.EventTime.Before(q.StartTime)) &&
		(q.EndTime.IsZero() || !r.EventTime.After(q.EndTime))
}

// lookupPages reads every page of q, pageSize at a time, checking the
// pages' sizes, and returns the eventIDs.
func lookupPages(t *testing.T, tr trail, q Query, pageSize int) ([]string, []Event) {
	t.Helper()
	q.MaxResults = pageSize
	var ids []string
	var all []Event
	for page := 0; ; page++ {
		if page > 200 {
			t.Fatal("pagination does not end")
		}
		events, next, err := tr.Lookup(t.Context(), q)
		if err != nil {
			t.Fatalf("Lookup(%+v): %v", q, err)
		}
		if len(events) > pageSize || (next != "" && len(events) != pageSize) {
			t.Fatalf("page of %d, next %q", len(events), next)
		}
		for _, e := range events {
			ids = append(ids, e.EventID)
		}
		all = append(all, events...)
		if next == "" {
			return ids, all
		}
		q.NextToken = next
	}
}

func appendAll(t *testing.T, tr trail, recs ...*Record) {
	t.Helper()
	for _, r := range recs {
		if err := tr.Append(t.Context(), r); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

// reportFor finds a region's report: in PostgreSQL, of its one chain.
func reportFor(t *testing.T, rep *Report, region string) RegionReport {
	t.Helper()
	var found []RegionReport
	for _, g := range rep.Regions {
		if g.Region == region || strings.HasPrefix(g.Region, region+" chain ") {
			found = append(found, g)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d reports for region %s:\n%s", len(found), region, rep)
	}
	return found[0]
}

// runTrailSuite runs the behaviours every audit backend shares; open
// returns a fresh, empty trail, closed when the test ends.
func runTrailSuite(t *testing.T, open func(t *testing.T) trail) {
	t.Run("lookup", func(t *testing.T) {
		t.Parallel()
		tr := open(t)
		root := &UserIdentity{Type: "Root", PrincipalID: acct, ARN: "arn:aws:iam::" + acct + ":root",
			AccountID: acct, AccessKeyID: "AKIAROOT"}
		// Records a second apart with attributes in overlapping patterns,
		// in two regions and two accounts.
		var recs []*Record
		for i := range 72 {
			region := "us-east-1"
			if i%6 == 5 {
				region = "eu-west-1"
			}
			id := keyID1
			if i%2 == 1 {
				id = keyID2
			}
			r := suiteRecord(region, "Encrypt", id, time.Duration(i)*time.Second)
			switch {
			case i%3 == 0:
				r.EventName, r.ReadOnly = "CreateKey", false
			case i%10 == 7:
				r.EventName, r.Resources = "ListKeys", nil
			}
			if i%4 == 0 {
				r.UserIdentity = root
			}
			if i%5 == 0 {
				r.EventSource = EventSourceIAM
			}
			if i%7 == 0 {
				r.RecipientAccountID = otherAcct
			}
			recs = append(recs, r)
		}
		// Two records in one second, to page through ties.
		recs = append(recs, suiteRecord("us-east-1", "Decrypt", keyID1, 100*time.Second),
			suiteRecord("us-east-1", "Decrypt", keyID1, 100*time.Second))
		appendAll(t, tr, recs...)

		yes, no := true, false
		queries := []struct {
			name string
			q    Query
		}{
			{"all", Query{}},
			{"event name", Query{EventName: "CreateKey"}},
			{"event source", Query{EventSource: EventSourceIAM}},
			{"key id", Query{ResourceName: keyID2}},
			{"key ARN", Query{ResourceName: keyARN("us-east-1", keyID1)}},
			{"other region's key ARN", Query{ResourceName: keyARN("eu-west-1", keyID2)}},
			{"unknown key", Query{ResourceName: "nope"}},
			{"user", Query{Username: "Alice"}},
			{"root", Query{Username: "root"}},
			{"access key", Query{AccessKeyID: "AKIAROOT"}},
			{"read-only", Query{ReadOnly: &yes}},
			{"not read-only", Query{ReadOnly: &no}},
			{"event id", Query{EventID: recs[7].EventID}},
			{"time range", Query{StartTime: suiteStart.Add(10 * time.Second), EndTime: suiteStart.Add(20 * time.Second)}},
			{"start only", Query{StartTime: suiteStart.Add(60 * time.Second)}},
			{"resource type key", Query{ResourceType: ResourceTypeKey}},
			{"resource type other", Query{ResourceType: "AWS::S3::Bucket"}},
			{"combined", Query{EventName: "CreateKey", ResourceName: keyID1, Username: "root"}},
			{"combined with time", Query{ReadOnly: &yes, AccessKeyID: "AKIAALICE", StartTime: suiteStart.Add(30 * time.Second)}},
		}
		// Scoped to an account and a region, as LookupEvents asks; and
		// not, as tools ask.
		for _, scope := range []struct{ name, account, region string }{
			{"", "", ""}, {" scoped", acct, "us-east-1"}, {" other account", otherAcct, "us-east-1"},
			{" account only", acct, ""},
		} {
			for _, tt := range queries {
				t.Run(tt.name+scope.name, func(t *testing.T) {
					q := tt.q
					q.AccountID, q.Region = scope.account, scope.region
					var want []string
					for i := len(recs) - 1; i >= 0; i-- { // newest first
						if matches(q, recs[i]) {
							want = append(want, recs[i].EventID)
						}
					}
					got, _ := lookupPages(t, tr, q, 7)
					if !slices.Equal(got, want) {
						t.Errorf("got  %v\nwant %v", got, want)
					}
				})
			}
		}

		// An event carries its record as stored, and the decoded members;
		// Seq is its place in its region's chain.
		for _, i := range []int{4, 5, 7} {
			events, _, err := tr.Lookup(t.Context(), Query{EventID: recs[i].EventID})
			if err != nil || len(events) != 1 {
				t.Fatalf("Lookup: %v, %v", events, err)
			}
			e, r := events[0], recs[i]
			want, _ := r.MarshalJSON()
			if string(e.Raw) != string(want) {
				t.Errorf("Raw:\n got %s\nwant %s", e.Raw, want)
			}
			seq := 0
			for _, o := range recs[:i+1] {
				if o.AWSRegion == r.AWSRegion {
					seq++
				}
			}
			if e.Region != r.AWSRegion || e.Seq != uint64(seq) || e.EventName != r.EventName ||
				e.Username != Username(r.UserIdentity) || e.AccessKeyID != r.UserIdentity.AccessKeyID ||
				e.ReadOnly != r.ReadOnly || !e.EventTime.Equal(r.EventTime) || e.RequestID != r.RequestID ||
				e.EventSource != r.EventSource || !slices.Equal(e.Resources, r.Resources) {
				t.Errorf("event %+v\nfor record %d (seq %d)", e, i, seq)
			}
		}

		// Page sizes out of range mean the largest; tokens are checked.
		for _, n := range []int{0, -1, 51} {
			events, next, err := tr.Lookup(t.Context(), Query{MaxResults: n})
			if err != nil || len(events) != MaxLookupResults || next == "" {
				t.Errorf("MaxResults %d: %d events, next %q, %v", n, len(events), next, err)
			}
		}
		for _, tok := range []string{"x", "AQ", strings.Repeat("A", 23)} {
			if _, _, err := tr.Lookup(t.Context(), Query{NextToken: tok}); !errors.Is(err, ErrBadToken) {
				t.Errorf("NextToken %q: %v, want ErrBadToken", tok, err)
			}
		}
	})

	t.Run("append fills in", func(t *testing.T) {
		t.Parallel()
		tr := open(t)
		before := time.Now().Truncate(time.Second)
		r := kmsRecord("us-east-1", "Encrypt", keyID1)
		appendAll(t, tr, r)
		if r.EventID == "" || r.EventVersion != EventVersion || r.EventTime.Before(before) ||
			r.EventTime.After(time.Now()) || r.EventTime.Nanosecond() != 0 || r.EventTime.Location() != time.UTC {
			t.Errorf("Append filled in %q %q %v", r.EventID, r.EventVersion, r.EventTime)
		}
		// A given eventTime is kept, to the second.
		r2 := kmsRecord("us-east-1", "Encrypt", keyID1)
		r2.EventTime = r.EventTime.Add(1500 * time.Millisecond)
		appendAll(t, tr, r2)
		if !r2.EventTime.Equal(r.EventTime.Add(time.Second)) {
			t.Errorf("eventTime %v", r2.EventTime)
		}
		if err := tr.Append(t.Context(), kmsRecord("", "Encrypt", keyID1)); err == nil {
			t.Error("a record without a region was appended")
		}
		ids, _ := lookupPages(t, tr, Query{}, 50)
		if !slices.Equal(ids, []string{r2.EventID, r.EventID}) {
			t.Errorf("Lookup: %v", ids)
		}
	})

	t.Run("last usage", func(t *testing.T) {
		t.Parallel()
		tr := open(t)
		ctx := t.Context()
		arn1, arn2 := keyARN("us-east-1", keyID1), keyARN("us-east-1", keyID2)
		if _, ok, err := tr.LastUsage(ctx, arn1); ok || err != nil {
			t.Fatalf("LastUsage of an unused key: %v, %v", ok, err)
		}
		enc := suiteRecord("us-east-1", "Encrypt", keyID1, 0)
		appendAll(t, tr, enc)
		if u, ok, err := tr.LastUsage(ctx, arn1); !ok || err != nil || u.EventID != enc.EventID {
			t.Fatalf("LastUsage after Encrypt: %+v, %v, %v", u, ok, err)
		}
		// Neither a failed call nor a non-cryptographic one counts.
		failed := suiteRecord("us-east-1", "Decrypt", keyID1, time.Minute)
		failed.ErrorCode = "InvalidCiphertextException"
		appendAll(t, tr, failed, suiteRecord("us-east-1", "DescribeKey", keyID1, time.Minute))
		if u, ok, err := tr.LastUsage(ctx, arn1); !ok || err != nil || u.EventID != enc.EventID {
			t.Fatalf("LastUsage after a failed Decrypt and a DescribeKey: %+v, %v, %v", u, ok, err)
		}
		// A Decrypt counts; a ReEncrypt uses both keys.
		dec := suiteRecord("us-east-1", "Decrypt", keyID2, 90*time.Second)
		re := suiteRecord("us-east-1", "ReEncrypt", keyID2, 2*time.Minute)
		re.Resources = append(re.Resources, Resource{AccountID: acct, Type: ResourceTypeKey, ARN: arn1})
		appendAll(t, tr, dec)
		if u, ok, err := tr.LastUsage(ctx, arn2); !ok || err != nil || u.EventID != dec.EventID || u.EventName != "Decrypt" {
			t.Fatalf("LastUsage after Decrypt: %+v, %v, %v", u, ok, err)
		}
		appendAll(t, tr, re)
		// An older event logged later does not win.
		appendAll(t, tr, suiteRecord("us-east-1", "Sign", keyID1, -time.Hour))
		want := LastUse{Time: re.EventTime, EventName: "ReEncrypt", Region: "us-east-1", EventID: re.EventID, RequestID: re.RequestID}
		for _, arn := range []string{arn1, arn2} {
			if u, ok, err := tr.LastUsage(ctx, arn); err != nil || !ok || u != want {
				t.Errorf("LastUsage(%s) = %+v, %v, %v; want %+v", arn, u, ok, err, want)
			}
		}
		// Pruning every record forgets no usage.
		if _, err := tr.Prune(ctx, suiteStart.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if u, ok, err := tr.LastUsage(ctx, arn1); !ok || err != nil || u != want {
			t.Errorf("LastUsage after Prune: %+v, %v, %v", u, ok, err)
		}
	})

	t.Run("tracking start", func(t *testing.T) {
		t.Parallel()
		before := time.Now().Truncate(time.Millisecond)
		tr := open(t)
		after := time.Now()
		start, err := tr.TrackingStart(t.Context())
		if err != nil || start.Before(before) || start.After(after) || start.Location() != time.UTC {
			t.Errorf("TrackingStart = %v, %v; want between %v and %v", start, err, before, after)
		}
		appendAll(t, tr, suiteRecord("us-east-1", "Encrypt", keyID1, 0))
		if again, err := tr.TrackingStart(t.Context()); err != nil || !again.Equal(start) {
			t.Errorf("TrackingStart moved to %v, %v", again, err)
		}
	})

	t.Run("since", func(t *testing.T) {
		t.Parallel()
		tr := open(t)
		var recs []*Record
		for i := range 30 {
			region := "us-east-1"
			if i%3 == 0 {
				region = "eu-west-1"
			}
			recs = append(recs, suiteRecord(region, "Encrypt", keyID1, time.Duration(i)*time.Second))
		}
		appendAll(t, tr, recs...)
		since := func(from time.Time) []string {
			var got []string
			if err := tr.Since(t.Context(), from, func(e Event) error {
				got = append(got, e.EventID)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		var want []string
		for _, r := range recs {
			want = append(want, r.EventID)
		}
		if got := since(time.Time{}); !slices.Equal(got, want) {
			t.Errorf("Since the start:\n got %v\nwant %v", got, want)
		}
		if got := since(recs[20].EventTime); !slices.Equal(got, want[20:]) {
			t.Errorf("Since record 20:\n got %v\nwant %v", got, want[20:])
		}
		stop := errors.New("stop")
		n := 0
		if err := tr.Since(t.Context(), time.Time{}, func(Event) error {
			if n++; n == 5 {
				return stop
			}
			return nil
		}); err != stop || n != 5 {
			t.Errorf("Since does not stop at fn's error: %d records, %v", n, err)
		}
	})

	t.Run("prune", func(t *testing.T) {
		t.Parallel()
		tr := open(t)
		ctx := t.Context()
		// 25 records a minute apart in us-east-1, 5 in eu-west-1 at the start.
		var recs []*Record
		for i := range 25 {
			r := suiteRecord("us-east-1", "Encrypt", keyID1, time.Duration(i)*time.Minute)
			appendAll(t, tr, r)
			recs = append(recs, r)
			if i < 5 {
				appendAll(t, tr, suiteRecord("eu-west-1", "Encrypt", keyID1, time.Duration(i)*time.Minute))
			}
		}
		n, err := tr.Prune(ctx, recs[12].EventTime)
		if err != nil || n != 12+5 {
			t.Fatalf("Prune: %d, %v; want 17", n, err)
		}
		ids, _ := lookupPages(t, tr, Query{}, 50)
		var want []string
		for i := 24; i >= 12; i-- {
			want = append(want, recs[i].EventID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("Lookup after Prune:\n got %v\nwant %v", ids, want)
		}
		if n, err := tr.Prune(ctx, recs[12].EventTime); n != 0 || err != nil {
			t.Errorf("Prune again: %d, %v", n, err)
		}
		// The chains go on, and prune again.
		more := suiteRecord("us-east-1", "Encrypt", keyID1, 30*time.Minute)
		appendAll(t, tr, more, suiteRecord("eu-west-1", "Encrypt", keyID1, 30*time.Minute))
		if n, err := tr.Prune(ctx, recs[20].EventTime); n != 8 || err != nil {
			t.Errorf("second Prune: %d, %v; want 8", n, err)
		}
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		rep := tr.verify(t)
		if !rep.OK() {
			t.Fatalf("Verify after Prune:\n%s", rep)
		}
		if g := reportFor(t, rep, "us-east-1"); !g.Anchored || g.FirstSeq != 21 || g.LastSeq != 26 ||
			g.Records != 6 || g.UnsignedTail != 0 {
			t.Errorf("us-east-1 after Prune: %+v", g)
		}
		if g := reportFor(t, rep, "eu-west-1"); !g.Anchored || g.FirstSeq != 6 || g.LastSeq != 6 || g.Records != 1 {
			t.Errorf("eu-west-1 after Prune: %+v", g)
		}
	})

	t.Run("concurrent appends", func(t *testing.T) {
		t.Parallel()
		tr := open(t)
		const goroutines, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					r := suiteRecord([]string{"us-east-1", "eu-west-1"}[g%2], "Encrypt", keyID1, time.Duration(i)*time.Second)
					r.RequestParameters = map[string]any{"goroutine": g, "i": i}
					if err := tr.Append(t.Context(), r); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Append: %v", err)
		}
		n := 0
		if err := tr.Since(t.Context(), time.Time{}, func(Event) error { n++; return nil }); err != nil || n != goroutines*each {
			t.Errorf("Since: %d records, %v", n, err)
		}
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		rep := tr.verify(t)
		if !rep.OK() {
			t.Fatalf("Verify:\n%s", rep)
		}
		for _, region := range []string{"us-east-1", "eu-west-1"} {
			if g := reportFor(t, rep, region); g.Records != goroutines*each/2 || g.UnsignedTail != 0 {
				t.Errorf("%s: %+v", region, g)
			}
		}
	})

	t.Run("tamper", func(t *testing.T) {
		t.Parallel()
		tr := open(t)
		var recs []*Record
		for i := range 15 {
			recs = append(recs, suiteRecord("us-east-1", "Encrypt", keyID1, time.Duration(i)*time.Second))
		}
		appendAll(t, tr, recs...)
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		if rep := tr.verify(t); !rep.OK() || reportFor(t, rep, "us-east-1").Records != 15 {
			t.Fatalf("Verify before tampering:\n%s", rep)
		}
		tr.tamper(t, recs[12].EventID)
		rep := tr.verify(t)
		if len(rep.Problems) != 1 {
			t.Fatalf("want one problem:\n%s", rep)
		}
		if p := rep.Problems[0]; p.Kind != Altered || p.Seq != 13 || p.EventID != recs[12].EventID {
			t.Errorf("problem %s; want record 13 altered", p)
		}
		if !strings.Contains(rep.String(), "altered: us-east-1") {
			t.Errorf("the report does not name the region:\n%s", rep)
		}
	})
}
