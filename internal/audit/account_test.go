package audit

import (
	"database/sql"
	"slices"
	"testing"
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

	// A database made before the account column gets it filled in.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Such a database kept the bodies in it, not in segments.
	db := rawDB(t, cfg.Path)
	var ids []int64
	rows, err := db.Query(`SELECT id FROM records`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	segs := newSegmentReader(cfg.Path)
	for _, id := range ids {
		var seg, off sql.NullInt64
		if err := db.QueryRow(`SELECT segment, segment_offset FROM records WHERE id = ?`, id).Scan(&seg, &off); err != nil {
			t.Fatal(err)
		}
		body, err := segs.recordBody(nil, seg, off)
		if err != nil {
			t.Fatal(err)
		}
		exec(t, db, `UPDATE records SET body = ? WHERE id = ?`, string(body), id)
	}
	segs.close()
	exec(t, db, `ALTER TABLE records DROP COLUMN segment`)
	exec(t, db, `ALTER TABLE records DROP COLUMN segment_offset`)
	exec(t, db, `DROP INDEX records_by_account`)
	exec(t, db, `ALTER TABLE records DROP COLUMN account`)
	exec(t, db, `DELETE FROM schema_version WHERE version >= 2`)
	db.Close()
	l = openLog(t, cfg)
	if got, want := lookup(Query{AccountID: other}), []string{theirs.EventID}; !slices.Equal(got, want) {
		t.Errorf("after the migration: got %v, want %v", got, want)
	}
	if rep := verify(t, cfg.Path, cfg.Signer); !rep.OK() {
		t.Errorf("Verify after the migration: %+v", rep)
	}
}
