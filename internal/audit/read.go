package audit

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Reader reads an audit database: lookups, exports and key usage. A [Log]
// embeds one; [OpenReader] opens one on its own, read-only, for tools that
// run beside the server.
//
// Lookups and exports skip a record whose frame is not there to read (cut
// off with the end of its segment, as a disk that loses synced data or an
// old copy of a segment put back leaves it; damaged, so that its checksum
// fails; or in a segment that is missing or whose header is not its own)
// rather than fail: a record without its JSON has nothing to show
// (LookupEvents' CloudTrailEvent is that JSON), and failing would stop
// every lookup that reaches it, for good. [Verify] reports such records,
// as lost to a truncation or as altered. Other failures, such as I/O
// errors, fail the read.
type Reader struct {
	db   *sql.DB
	segs *segmentReader
	// wake, if set, returns a channel closed at the next commit, so that
	// Follow in the writing process need not wait for its poll.
	wake func() <-chan struct{}
	// sync, if set, waits until the records acknowledged so far can be
	// read: in the writing process, a caller reads its own writes.
	sync func(context.Context) error
}

func (r *Reader) caughtUp(ctx context.Context) error {
	if r.sync == nil {
		return nil
	}
	return r.sync(ctx)
}

// OpenReader opens the audit database at path read-only. The server may be
// writing it at the same time: each read first waits (a little) for the
// server to index the records written before it.
func OpenReader(path string) (*Reader, error) {
	d, err := dsn(path, "mode=ro", "_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	db, err := sql.Open("sqlite", d)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	if err := checkVersion(context.Background(), db); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	r := &Reader{db: db, segs: newSegmentReader(path)}
	r.sync = func(ctx context.Context) error {
		_, err := waitIndexed(ctx, db, path)
		return err
	}
	return r, nil
}

// Close closes the reader's connections and files.
func (r *Reader) Close() error { return errors.Join(r.db.Close(), r.segs.close()) }

// Event is a stored record with the members lookups need already decoded.
type Event struct {
	Region string
	// Chain names the hash chain of a cluster's trail (a node's, from one
	// start) that the record is in; "" in a data dir's log, which has one
	// chain per region.
	Chain       string
	Seq         uint64 // position in its chain
	EventID     string
	EventName   string
	EventSource string
	EventTime   time.Time
	Username    string // see [Username]
	AccessKeyID string
	RequestID   string
	ReadOnly    bool
	Resources   []Resource
	// Raw is the record's JSON exactly as stored and hashed: the
	// CloudTrailEvent of a LookupEvents result.
	Raw json.RawMessage
}

// Query selects records for [Reader.Lookup]. Empty members match anything;
// the others must all match.
type Query struct {
	// Region matches the region of a record (awsRegion): CloudTrail
	// answers a lookup with the events of the region it was sent to.
	Region string
	// AccountID matches the account a record is filed with: its
	// recipientAccountId.
	AccountID   string
	EventName   string
	EventSource string
	// ResourceName matches a resource's ARN, or the last path segment of
	// it: a key id finds records of the key's ARN.
	ResourceName string
	// ResourceType matches a resource's type. Records name only KMS keys
	// (ResourceTypeKey), so any other type matches nothing.
	ResourceType string
	Username     string // see [Username]
	AccessKeyID  string
	EventID      string
	ReadOnly     *bool
	// StartTime and EndTime bound eventTime, both inclusive.
	StartTime, EndTime time.Time
	// MaxResults is the page size: 1 to MaxLookupResults; other values
	// mean MaxLookupResults.
	MaxResults int
	// NextToken continues an earlier lookup with the same query.
	NextToken string
}

// MaxLookupResults is the largest page Lookup returns, as in CloudTrail.
const MaxLookupResults = 50

// ErrBadToken is returned for a NextToken that Lookup did not make.
var ErrBadToken = errors.New("audit: invalid NextToken")

// cursor is a position in the newest-first order of Lookup.
type cursor struct {
	time int64 // event_time, ms
	id   int64
}

const tokenVersion = 1

// token encodes c: a version byte, then both members as big-endian 64-bit
// integers, in unpadded base64url. It is not secret or authenticated;
// callers that hand it out should MAC it.
func (c cursor) token() string {
	b := []byte{tokenVersion}
	b = binary.BigEndian.AppendUint64(b, uint64(c.time))
	b = binary.BigEndian.AppendUint64(b, uint64(c.id))
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseToken decodes a token; only what token produces is accepted, so a
// token has one encoding.
func parseToken(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 17 || b[0] != tokenVersion {
		return cursor{}, ErrBadToken
	}
	c := cursor{
		time: int64(binary.BigEndian.Uint64(b[1:9])),
		id:   int64(binary.BigEndian.Uint64(b[9:17])),
	}
	if c.id <= 0 {
		return cursor{}, ErrBadToken
	}
	return c, nil
}

const eventColumns = `r.id, r.region, r.seq, r.event_time, r.event_id, r.event_name, r.event_source,
	r.user_name, r.access_key_id, r.request_id, r.read_only, r.body, r.segment, r.segment_offset`

// Lookup returns the records matching q, newest first (in the order they
// were logged, which may differ from eventTime order by the length of a
// request), a page at a time. next is empty on the last page.
//
// A lookup with an AccountID and a Region (as LookupEvents makes) walks the
// postings of the attribute it names (or of all the account's records in
// the region) newest first and filters the records in their id ranges; one
// without, as only tools on the database make, scans the records.
func (r *Reader) Lookup(ctx context.Context, q Query) (events []Event, next string, err error) {
	if err := r.caughtUp(ctx); err != nil {
		return nil, "", err
	}
	limit, before, err := q.page()
	if err != nil {
		return nil, "", err
	}

	// The conditions on a record's columns.
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	// The postings to walk: by the attribute the query names.
	attr, value := "all", ""
	if q.ResourceName != "" {
		attr, value = "res", resourceName(q.ResourceName)
		add(`instr(r.resources, ?) > 0`, " "+q.ResourceName+" ")
	}
	switch q.ResourceType {
	case "":
	case ResourceTypeKey:
		add(`r.resources != ''`)
	default:
		return nil, "", nil
	}
	for _, f := range []struct{ attr, col, value string }{
		{"name", "event_name", q.EventName},
		{"source", "event_source", q.EventSource},
		{"user", "user_name", q.Username},
		{"key", "access_key_id", q.AccessKeyID},
	} {
		if f.value != "" {
			attr, value = f.attr, f.value
			add(`r.`+f.col+` = ?`, f.value)
		}
	}
	if q.ReadOnly != nil {
		attr, value = "ro", strconv.FormatBool(*q.ReadOnly)
		add(`r.read_only = ?`, *q.ReadOnly)
	}
	if q.EventID != "" {
		add(`r.event_id = ?`, q.EventID)
	}
	if q.Region != "" {
		add(`r.region = ?`, q.Region)
	}
	if q.AccountID != "" {
		add(`r.account = ?`, q.AccountID)
	}
	if !q.StartTime.IsZero() {
		add(`r.event_time >= ?`, q.StartTime.UnixMilli())
	}
	if !q.EndTime.IsZero() {
		add(`r.event_time <= ?`, q.EndTime.UnixMilli())
	}
	query := `SELECT ` + eventColumns + ` FROM records r WHERE r.id BETWEEN ? AND ?`
	if len(where) > 0 {
		query += ` AND ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY r.id DESC LIMIT ?`

	var ids []int64
	// fetch adds the matching records with ids from first to last.
	fetch := func(first, last int64) error {
		last = min(last, before-1)
		if first > last {
			return nil
		}
		// Until the range is done or the page full: records whose frames
		// are lost take up rows but give no events.
		for first <= last && len(events) <= limit {
			want := limit + 1 - len(events)
			evs, evIDs, n, lastID, err := r.events(ctx, query, append(append([]any{first, last}, args...), want)...)
			events, ids = append(events, evs...), append(ids, evIDs...)
			if err != nil || n < want {
				return err
			}
			last = lastID - 1
		}
		return nil
	}
	err = lookupRanges(q, before, func() bool { return len(events) > limit }, fetch,
		func(after, upper int64) ([][2]int64, error) { return r.postingsPage(ctx, attr, value, q, after, upper) })
	if err != nil {
		return nil, "", fmt.Errorf("audit: lookup: %w", err)
	}
	events, next = pageEnd(events, ids, limit)
	return events, next, nil
}

// lookupRanges has fetch read the id ranges a lookup of q reads, until the
// page is full: with an AccountID and a Region, those of the postings that
// page reads (see walkPostings); else every id (the event id index finds an
// event at once; without an account and a region there are no postings).
func lookupRanges(q Query, before int64, full func() bool, fetch func(first, last int64) error,
	page func(after, upper int64) ([][2]int64, error)) error {
	if q.AccountID == "" || q.Region == "" || q.EventID != "" {
		return fetch(0, math.MaxInt64)
	}
	return walkPostings(before, page, func(first, last int64) (bool, error) {
		err := fetch(first, last)
		return full(), err
	})
}

// page returns the size of q's page (1 to MaxLookupResults) and the id its
// records come before (from NextToken; MaxInt64 for the first page).
func (q Query) page() (limit int, before int64, err error) {
	limit = q.MaxResults
	if limit <= 0 || limit > MaxLookupResults {
		limit = MaxLookupResults
	}
	before = math.MaxInt64
	if q.NextToken != "" {
		c, err := parseToken(q.NextToken)
		if err != nil {
			return 0, 0, err
		}
		before = c.id
	}
	return limit, before, nil
}

// pageEnd cuts a lookup's page of up to limit+1 events (ids beside them)
// to limit, and returns the token of the next page if there is one.
func pageEnd(events []Event, ids []int64, limit int) ([]Event, string) {
	if len(events) <= limit {
		return events, ""
	}
	return events[:limit], cursor{time: events[limit-1].EventTime.UnixMilli(), id: ids[limit-1]}.token()
}

// postingsPage is how many postings a lookup reads at a time.
const postingsPage = 64

// walkPostings calls fn with the id ranges of postings, newest first,
// below before, until fn reports it is done. page reads the next
// postingsPage postings (first and last id) of the lookup, newest first:
// those with last_id < after and first_id < upper.
//
// In the SQLite log the postings of one value never overlap: each covers
// one transaction's records. In PostgreSQL they may: a range holds whatever
// every node inserted meanwhile. Every id from upper up was read with a
// posting before, so each posting is read below upper, the lowest first id
// yet; after is the last id of the posting read last. The one holding id
// before-1 ends at or after it, hence first_id < upper rather than
// last_id < upper.
func walkPostings(before int64, page func(after, upper int64) ([][2]int64, error),
	fn func(first, last int64) (done bool, err error)) error {
	upper, after := before, int64(math.MaxInt64)
	for {
		ranges, err := page(after, upper)
		if err != nil {
			return err
		}
		for _, rg := range ranges {
			after = rg[1]
			if rg[0] >= upper {
				continue // read with an earlier posting
			}
			if done, err := fn(rg[0], min(rg[1], upper-1)); err != nil || done {
				return err
			}
			upper = rg[0]
		}
		if len(ranges) < postingsPage {
			return nil
		}
	}
}

// timeBounds is q's time range in Unix milliseconds, both inclusive.
func timeBounds(q Query) (start, end int64) {
	start, end = math.MinInt64, math.MaxInt64
	if !q.StartTime.IsZero() {
		start = q.StartTime.UnixMilli()
	}
	if !q.EndTime.IsZero() {
		end = q.EndTime.UnixMilli()
	}
	return start, end
}

// postingsPage reads a page of the postings of attr = value in q's account
// and region within q's time range (see walkPostings).
func (r *Reader) postingsPage(ctx context.Context, attr, value string, q Query, after, upper int64) ([][2]int64, error) {
	start, end := timeBounds(q)
	rows, err := r.db.QueryContext(ctx, `SELECT first_id, last_id FROM postings
		WHERE attr = ? AND value = ? AND account = ? AND region = ? AND last_id < ? AND first_id < ?
			AND max_time >= ? AND min_time <= ?
		ORDER BY last_id DESC LIMIT ?`, attr, value, q.AccountID, q.Region, after, upper, start, end, postingsPage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ranges [][2]int64
	for rows.Next() {
		var rg [2]int64
		if err := rows.Scan(&rg[0], &rg[1]); err != nil {
			return nil, err
		}
		ranges = append(ranges, rg)
	}
	return ranges, rows.Err()
}

// events runs query, which selects eventColumns. It returns the records'
// ids beside them, and how many rows it read and the id of the last: a
// record whose frame is lost is skipped (see [Reader]), so the callers
// page on by the rows, not by the events.
func (r *Reader) events(ctx context.Context, query string, args ...any) (events []Event, ids []int64, n int, lastID int64, err error) {
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var e Event
		var id, t int64
		var body []byte
		var seg, off sql.NullInt64
		if err := rows.Scan(&id, &e.Region, &e.Seq, &t, &e.EventID, &e.EventName, &e.EventSource,
			&e.Username, &e.AccessKeyID, &e.RequestID, &e.ReadOnly, &body, &seg, &off); err != nil {
			return nil, nil, 0, 0, err
		}
		n, lastID = n+1, id
		body, err := r.segs.recordBody(body, seg, off)
		if errors.Is(err, errLost) {
			continue // see Reader
		}
		if err != nil {
			return nil, nil, 0, 0, fmt.Errorf("record %s %d: %w", e.Region, e.Seq, err)
		}
		e.EventTime = time.UnixMilli(t).UTC()
		e.Raw = body
		// The resources are read from the record itself: the index keeps
		// each ARN once per record, and not the other members.
		var res struct {
			Resources []Resource `json:"resources"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			return nil, nil, 0, 0, fmt.Errorf("record %s %d: %w", e.Region, e.Seq, err)
		}
		e.Resources = res.Resources
		events = append(events, e)
		ids = append(ids, id)
	}
	return events, ids, n, lastID, rows.Err()
}

// headerState is what the start of a segment file holds.
type headerState int

const (
	headerWhole headerState = iota // the segment's header
	// headerCut: the file ends in its header, or holds only zeros from
	// some byte of it on; the bytes before are the header's. A lost tail
	// that reaches into the header leaves this.
	headerCut
	headerOther // another file's, or another segment's
)

// segmentHeader reads the header of the segment file at name, which should
// be epoch's.
func segmentHeader(name string, epoch uint64) (headerState, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return readHeader(f, epoch)
}

// readHeader reads the header of the segment file f, which should be
// epoch's.
func readHeader(f *os.File, epoch uint64) (headerState, error) {
	want := binary.BigEndian.AppendUint64([]byte(segmentMagic), epoch)
	got := make([]byte, len(want))
	n, err := io.ReadFull(io.NewSectionReader(f, 0, int64(len(got))), got)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, err
	}
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	if i == len(want) {
		return headerWhole, nil
	}
	for _, c := range got[i:n] {
		if c != 0 {
			return headerOther, nil
		}
	}
	return headerCut, nil
}

// exportPage is how many records Since reads per query. Each page is read
// whole before fn sees it, so a slow consumer holds no read transaction
// open (which would keep the WAL from being checkpointed).
const exportPage = 256

// Since calls fn for each record whose eventTime is at or after t, in the
// order they were logged (which may differ from eventTime order by the
// length of a request), until fn returns an error, which Since returns.
func (r *Reader) Since(ctx context.Context, t time.Time, fn func(Event) error) error {
	_, err := r.since(ctx, 0, t, fn)
	return err
}

// since is Since for records logged after the one with id after; it
// returns the id of the last record it passed to fn (or after).
func (r *Reader) since(ctx context.Context, after int64, t time.Time, fn func(Event) error) (int64, error) {
	if err := r.caughtUp(ctx); err != nil {
		return after, err
	}
	for {
		events, ids, n, lastID, err := r.events(ctx, `SELECT `+eventColumns+` FROM records r
			WHERE r.id > ? AND r.event_time >= ? ORDER BY r.id LIMIT ?`, after, t.UnixMilli(), exportPage)
		if err != nil {
			return after, fmt.Errorf("audit: export: %w", err)
		}
		for i, e := range events {
			if err := fn(e); err != nil {
				return after, err
			}
			after = ids[i]
		}
		// Past the rows of lost records too.
		after = max(after, lastID)
		if n < exportPage {
			return after, nil
		}
	}
}

// Follow is Since that does not stop: after the records logged so far, it
// passes on new ones as they are committed, checking every poll (and, in
// the process that writes the log, at every commit). It returns when ctx
// ends, with ctx's error, or when fn fails.
func (r *Reader) Follow(ctx context.Context, t time.Time, poll time.Duration, fn func(Event) error) error {
	var after int64
	return follow(ctx, poll, r.wake, func() (time.Duration, error) {
		var err error
		after, err = r.since(ctx, after, t, fn)
		return 0, err
	})
}

// follow calls read until it fails or ctx ends, then again after poll (or
// after the shorter wait read asks for), or at once when wake (if set)
// reports a commit of the process's writer.
func follow(ctx context.Context, poll time.Duration, wake func() <-chan struct{}, read func() (wait time.Duration, err error)) error {
	if poll <= 0 {
		poll = time.Second
	}
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		// Take the wake channel before reading, so a commit between the
		// read and the wait is not missed.
		var woken <-chan struct{}
		if wake != nil {
			woken = wake()
		}
		wait, err := read()
		if err != nil {
			return err
		}
		if wait <= 0 || wait > poll {
			wait = poll
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-woken:
		case <-timer.C:
		}
	}
}

// LastUse is a key's most recent successful cryptographic use.
type LastUse struct {
	Time      time.Time
	EventName string // the operation
	Region    string
	EventID   string // the record's eventID (CloudTrailEventId)
	RequestID string // KmsRequestId
}

// LastUsage returns the most recent record that counts as a use of the key
// with ARN keyARN (see [IsKeyUse]); ok is false if there is none. It
// survives Prune.
func (r *Reader) LastUsage(ctx context.Context, keyARN string) (u LastUse, ok bool, err error) {
	if err := r.caughtUp(ctx); err != nil {
		return LastUse{}, false, err
	}
	var t int64
	err = r.db.QueryRowContext(ctx, `SELECT event_time, event_name, region, event_id, request_id
		FROM key_last_use WHERE arn = ?`, keyARN).Scan(&t, &u.EventName, &u.Region, &u.EventID, &u.RequestID)
	if errors.Is(err, sql.ErrNoRows) {
		return LastUse{}, false, nil
	}
	if err != nil {
		return LastUse{}, false, fmt.Errorf("audit: last usage: %w", err)
	}
	u.Time = time.UnixMilli(t).UTC()
	return u, true, nil
}

// TrackingStart is when the log was created: key usage before it is not
// known (GetKeyLastUsage's TrackingStartDate).
func (r *Reader) TrackingStart(ctx context.Context) (time.Time, error) {
	var v string
	if err := r.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'created'`).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("audit: tracking start: %w", err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("audit: tracking start: %w", err)
	}
	return time.UnixMilli(ms).UTC(), nil
}
