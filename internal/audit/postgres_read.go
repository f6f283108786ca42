package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresReader reads a PostgreSQL audit trail: the records of every
// chain of a region as one trail. It has the methods of [Reader], with the
// same meaning. A
// [PostgresLog] embeds one; [OpenPostgresReader] opens one for tools.
//
// An Append that returned has committed its record, so every node's reads
// see it at once.
type PostgresReader struct {
	pool *pgxpool.Pool
	// wake, if set, returns a channel closed at the next commit of this
	// process's writer, so that Follow need not wait for its poll.
	wake func() <-chan struct{}
}

// OpenPostgresReader connects to the trail in the database at dsn.
func OpenPostgresReader(ctx context.Context, dsn string) (*PostgresReader, error) {
	pool, err := newPool(ctx, dsn, DefaultPostgresWriteTimeout)
	if err != nil {
		return nil, err
	}
	if err := pgCheckVersion(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("audit: open: %w", pgErr(err))
	}
	return &PostgresReader{pool: pool}, nil
}

// Close closes the reader's connections.
func (r *PostgresReader) Close() error {
	r.pool.Close()
	return nil
}

const pgEventColumns = `r.id, r.region, r.chain, r.seq, r.event_time, r.event_id, r.event_name, r.event_source,
	r.user_name, r.access_key_id, r.request_id, r.read_only, r.body`

// scanEvent reads a row that starts with pgEventColumns, and the columns
// after them into extra. It returns the record's id beside it.
func scanEvent(rows pgx.Rows, extra ...any) (Event, int64, error) {
	var e Event
	var id, chain, seq, t int64
	var body []byte
	dest := append([]any{&id, &e.Region, &chain, &seq, &t, &e.EventID, &e.EventName, &e.EventSource,
		&e.Username, &e.AccessKeyID, &e.RequestID, &e.ReadOnly, &body}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return Event{}, 0, err
	}
	e.Seq = uint64(seq)
	e.Chain = strconv.FormatInt(chain, 10)
	e.EventTime = time.UnixMilli(t).UTC()
	e.Raw = body
	// The resources are read from the record itself: the index keeps
	// each ARN once per record, and not the other members.
	var res struct {
		Resources []Resource `json:"resources"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return Event{}, 0, fmt.Errorf("record %s %d: %w", e.Region, e.Seq, err)
	}
	e.Resources = res.Resources
	return e, id, nil
}

// Lookup returns the records matching q, newest first (in the order they
// were inserted: by one node, the order they were logged), a page at a
// time; next is empty on the last page.
//
// A lookup with an AccountID and a Region (as LookupEvents makes) walks the
// postings of the attribute it names (or of all the account's records in
// the region) newest first and filters the records in their id ranges; one
// without, as only tools make, scans the records.
func (r *PostgresReader) Lookup(ctx context.Context, q Query) (events []Event, next string, err error) {
	limit, before, err := q.page()
	if err != nil {
		return nil, "", err
	}
	query, args, attr, value, none := pgLookupQuery(q)
	if none {
		return nil, "", nil
	}
	var ids []int64
	// fetch adds the matching records with ids from first to last.
	fetch := func(first, last int64) error {
		last = min(last, before-1)
		if first > last {
			return nil
		}
		rows, err := r.pool.Query(ctx, query, append(args, first, last, limit+1-len(events))...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, id, err := scanEvent(rows)
			if err != nil {
				return err
			}
			events, ids = append(events, e), append(ids, id)
		}
		return rows.Err()
	}
	err = lookupRanges(q, before, func() bool { return len(events) > limit }, fetch,
		func(after, upper int64) ([][2]int64, error) { return r.postingsPage(ctx, attr, value, q, after, upper) })
	if err != nil {
		return nil, "", fmt.Errorf("audit: lookup: %w", pgErr(err))
	}
	events, next = pageEnd(events, ids, limit)
	return events, next, nil
}

// pgLookupQuery is the query of the records a Lookup of q finds in an id
// range, its last three parameters (the range's first and last id, and a
// LIMIT) left to add to args; and the postings to walk, attr = value.
// none says that q matches nothing.
func pgLookupQuery(q Query) (query string, args []any, attr, value string, none bool) {
	var where []string
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, "$"+strconv.Itoa(len(args))))
	}
	attr = "all"
	if q.ResourceName != "" {
		attr, value = "res", pgIndexValue(resourceName(q.ResourceName))
		add("strpos(r.resources, %s) > 0", " "+pgIndexValue(q.ResourceName)+" ")
	}
	switch q.ResourceType {
	case "":
	case ResourceTypeKey:
		where = append(where, "r.resources <> ''")
	default:
		return "", nil, "", "", true // records name only keys
	}
	for _, f := range []struct{ attr, col, value string }{
		{"name", "r.event_name", q.EventName},
		{"source", "r.event_source", q.EventSource},
		{"user", "r.user_name", q.Username},
		{"key", "r.access_key_id", q.AccessKeyID},
	} {
		if f.value != "" {
			attr, value = f.attr, pgIndexValue(f.value)
			add(f.col+" = %s", value)
		}
	}
	if q.ReadOnly != nil {
		attr, value = "ro", strconv.FormatBool(*q.ReadOnly)
		add("r.read_only = %s", *q.ReadOnly)
	}
	for _, f := range []struct{ col, value string }{
		{"r.event_id", q.EventID}, {"r.region", q.Region}, {"r.account", q.AccountID},
	} {
		if f.value != "" {
			add(f.col+" = %s", pgIndexValue(f.value))
		}
	}
	if !q.StartTime.IsZero() {
		add("r.event_time >= %s", q.StartTime.UnixMilli())
	}
	if !q.EndTime.IsZero() {
		add("r.event_time <= %s", q.EndTime.UnixMilli())
	}
	n := len(args)
	where = append(where, fmt.Sprintf("r.id BETWEEN $%d AND $%d", n+1, n+2))
	query = `SELECT ` + pgEventColumns + ` FROM audit_records r WHERE ` + strings.Join(where, ` AND `) +
		fmt.Sprintf(` ORDER BY r.id DESC LIMIT $%d`, n+3)
	return query, args, attr, value, false
}

// postingsPage reads a page of the postings of attr = value in q's account
// and region within q's time range (see walkPostings).
func (r *PostgresReader) postingsPage(ctx context.Context, attr, value string, q Query, after, upper int64) ([][2]int64, error) {
	start, end := timeBounds(q)
	rows, err := r.pool.Query(ctx, `SELECT first_id, last_id FROM audit_postings
		WHERE attr = $1 AND value = $2 AND account = $3 AND region = $4 AND last_id < $5 AND first_id < $6
			AND max_time >= $7 AND min_time <= $8
		ORDER BY last_id DESC LIMIT $9`,
		attr, value, pgIndexValue(q.AccountID), pgIndexValue(q.Region), after, upper, start, end, postingsPage)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]int64, error) {
		var rg [2]int64
		err := row.Scan(&rg[0], &rg[1])
		return rg, err
	})
}

// pgPosition is a place in the order Since and Follow read in: the
// inserting transaction's id, then the record's.
type pgPosition struct{ txid, id int64 }

// pgSettlePoll is how soon Follow reads again when it held records back
// (see since), whatever its poll.
const pgSettlePoll = 20 * time.Millisecond

// Since calls fn for each record whose eventTime is at or after t, in the
// order of the transactions that inserted them (for one node, the order
// they were logged), until fn returns an error, which Since returns.
func (r *PostgresReader) Since(ctx context.Context, t time.Time, fn func(Event) error) error {
	_, _, err := r.since(ctx, pgPosition{}, t, false, fn)
	return err
}

// since is Since for the records after position at. With settled, it stops
// at the first record of a transaction that is not older than every
// transaction still running (reporting held): one of those may yet commit
// records that sort before it, which a follower that moved past would
// miss. Record ids are given at insert, not at commit, so no order of ids
// alone has that property. It returns the position of the last record it
// passed to fn.
func (r *PostgresReader) since(ctx context.Context, at pgPosition, t time.Time, settled bool,
	fn func(Event) error) (pgPosition, bool, error) {
	for {
		// Each page is read whole before fn sees it, so that a slow
		// consumer holds no query open.
		events, pos, held, err := r.sincePage(ctx, at, t, settled)
		if err != nil {
			return at, false, fmt.Errorf("audit: export: %w", pgErr(err))
		}
		for i, e := range events {
			if err := fn(e); err != nil {
				return at, false, err
			}
			at = pos[i]
		}
		if held || len(events) < exportPage {
			return at, held, nil
		}
	}
}

func (r *PostgresReader) sincePage(ctx context.Context, at pgPosition, t time.Time, settled bool) (
	events []Event, pos []pgPosition, held bool, err error) {
	// xmin is the oldest transaction still running as of the query's
	// snapshot: every one before it has committed or aborted.
	rows, err := r.pool.Query(ctx, `SELECT `+pgEventColumns+`, r.txid, h.xmin
		FROM audit_records r, (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) h
		WHERE (r.txid, r.id) > ($1, $2) AND r.event_time >= $3
		ORDER BY r.txid, r.id LIMIT $4`, at.txid, at.id, t.UnixMilli(), exportPage)
	if err != nil {
		return nil, nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var txid, xmin int64
		e, id, err := scanEvent(rows, &txid, &xmin)
		if err != nil {
			return nil, nil, false, err
		}
		if settled && txid >= xmin {
			return events, pos, true, nil
		}
		events, pos = append(events, e), append(pos, pgPosition{txid, id})
	}
	return events, pos, false, rows.Err()
}

// Follow is Since that does not stop: after the records logged so far, it
// passes on new ones as they are committed, checking every poll (and, in
// the process of a PostgresLog, at each of its commits). Records of every
// node come in the order of their transactions, none missed: a record is
// passed on once no transaction that could still commit records before it
// is running (see since). It returns when ctx ends, with ctx's error, or
// when fn fails.
func (r *PostgresReader) Follow(ctx context.Context, t time.Time, poll time.Duration, fn func(Event) error) error {
	var at pgPosition
	return follow(ctx, poll, r.wake, func() (time.Duration, error) {
		var held bool
		var err error
		if at, held, err = r.since(ctx, at, t, true, fn); held {
			return pgSettlePoll, err
		}
		return 0, err
	})
}

// LastUsage returns the most recent record of any node that counts as a use
// of the key with ARN keyARN (see [IsKeyUse]); ok is false if there is
// none. It survives Prune.
func (r *PostgresReader) LastUsage(ctx context.Context, keyARN string) (u LastUse, ok bool, err error) {
	var t int64
	err = r.pool.QueryRow(ctx, `SELECT event_time, event_name, region, event_id, request_id
		FROM audit_key_last_use WHERE arn = $1`, pgIndexValue(keyARN)).Scan(&t, &u.EventName, &u.Region, &u.EventID, &u.RequestID)
	if errors.Is(err, pgx.ErrNoRows) {
		return LastUse{}, false, nil
	}
	if err != nil {
		return LastUse{}, false, fmt.Errorf("audit: last usage: %w", pgErr(err))
	}
	u.Time = time.UnixMilli(t).UTC()
	return u, true, nil
}

// TrackingStart is when the trail was created, by the first node that
// opened it: key usage before it is not known.
func (r *PostgresReader) TrackingStart(ctx context.Context) (time.Time, error) {
	var v string
	if err := r.pool.QueryRow(ctx, `SELECT value FROM audit_meta WHERE name = 'created'`).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("audit: tracking start: %w", pgErr(err))
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("audit: tracking start: %w", err)
	}
	return time.UnixMilli(ms).UTC(), nil
}
