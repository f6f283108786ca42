package audit

import (
	"slices"
	"testing"

	"github.com/openkms/kms/internal/store/sqlite"
)

// TestLookupByAccount: a lookup by account sees the records filed with it
// (recipientAccountId) and no others; so does a lookup by event source.
func TestLookupByAccount(t *testing.T) {
	cfg := testConfig(t)
	l := openLog(t, cfg)
	const other = "444455556666"
	mine := kmsRecord("us-east-1", "Encrypt", keyID1)
	theirs := kmsRecord("us-east-1", "Encrypt", keyID2)
	theirs.RecipientAccountID = other
	iam := kmsRecord("eu-west-1", "CreateUser", "")
	iam.EventSource = EventSourceIAM
	anonymous := kmsRecord("us-east-1", "Encrypt", "")
	anonymous.RecipientAccountID = "" // failed authentication
	for _, r := range []*Record{mine, theirs, iam, anonymous} {
		if err := l.Append(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func(q Query) []string {
		t.Helper()
		events, _, err := l.Lookup(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, e := range events {
			ids = append(ids, e.EventID)
		}
		return ids
	}
	for _, tt := range []struct {
		name string
		q    Query
		want []string
	}{
		{"mine", Query{AccountID: acct}, []string{iam.EventID, mine.EventID}},
		{"theirs", Query{AccountID: other}, []string{theirs.EventID}},
		{"nobody's", Query{AccountID: "999999999999"}, []string{}},
		{"their key from mine", Query{AccountID: acct, ResourceName: keyID2}, []string{}},
		{"their key", Query{AccountID: other, ResourceName: keyID2}, []string{theirs.EventID}},
		{"event source", Query{EventSource: EventSourceIAM}, []string{iam.EventID}},
		{"event source and account", Query{AccountID: other, EventSource: EventSourceIAM}, []string{}},
	} {
		if got := lookup(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}

	// A database of schema version 1 (bodies in it, no account column, a
	// resources table) gets the columns and postings of the later ones.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cfg = testConfig(t)
	db := rawDB(t, cfg.Path)
	if err := sqlite.Migrate(t.Context(), db, migrations, 1); err != nil {
		t.Fatal(err)
	}
	var prev Hash
	for i, r := range []*Record{mine, theirs, iam} {
		body, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		seq := uint64(i + 1)
		hash := recordHash(prev, seq, body)
		exec(t, db, `INSERT INTO records (id, region, seq, prev, hash, body, event_time, event_id, event_name, event_source,
			user_name, access_key_id, request_id, read_only) VALUES (?, 'us-east-1', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			seq, seq, prev[:], hash[:], string(body), r.EventTime.UnixMilli(), r.EventID, r.EventName, r.EventSource,
			Username(r.UserIdentity), r.UserIdentity.AccessKeyID, r.RequestID, r.ReadOnly)
		for _, rs := range r.Resources {
			exec(t, db, `INSERT INTO resources (record_id, arn, name, event_time) VALUES (?, ?, ?, ?)`,
				seq, rs.ARN, resourceName(rs.ARN), r.EventTime.UnixMilli())
		}
		prev = hash
	}
	db.Close()
	l = openLog(t, cfg)
	for _, tt := range []struct {
		name string
		q    Query
		want []string
	}{
		{"theirs", Query{AccountID: other}, []string{theirs.EventID}},
		{"their key", Query{AccountID: other, ResourceName: keyARN("us-east-1", keyID2)}, []string{theirs.EventID}},
		{"mine by name", Query{AccountID: acct, EventName: "Encrypt"}, []string{mine.EventID}},
	} {
		if got := lookup(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("after the migration, %s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	appendN(t, l, "us-east-1", 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if g := regionReport(t, mustVerify(t, cfg.Path, cfg.Signer), "us-east-1"); g.Records != 5 {
		t.Errorf("Verify after the migration: %+v", g)
	}
}
