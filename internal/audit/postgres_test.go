package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/pgtest"
)

// TestMain starts one throwaway PostgreSQL for the package's tests.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// pgTrail is the PostgresLog as a trail.
type pgTrail struct {
	*PostgresLog
	dsn string
}

// pgTestConfig is a config for a node on the database at dsn; long
// intervals, so that only the test decides when checkpoints happen.
func pgTestConfig(dsn, node string) PostgresConfig {
	return PostgresConfig{
		DSN:                dsn,
		Node:               node,
		Signer:             testKey("log"),
		CheckpointEvery:    10,
		CheckpointInterval: time.Hour,
		RetryInterval:      time.Hour,
		Logger:             quiet,
	}
}

func openPG(t testing.TB, cfg PostgresConfig) *PostgresLog {
	t.Helper()
	l, err := OpenPostgres(t.Context(), cfg)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func openPostgresTrail(t *testing.T) trail {
	dsn := pgtest.DSN(t)
	return pgTrail{PostgresLog: openPG(t, pgTestConfig(dsn, "node-a:8443")), dsn: dsn}
}

func (p pgTrail) verify(t *testing.T) *Report { return verifyPG(t, p.dsn, testKey("log")) }

func (p pgTrail) tamper(t *testing.T, eventID string) {
	t.Helper()
	if n := pgExec(t, p.dsn, `UPDATE audit_records
		SET body = convert_to(replace(convert_from(body, 'UTF8'), '"Encrypt"', '"Decrypt"'), 'UTF8')
		WHERE event_id = $1`, eventID); n != 1 {
		t.Fatalf("tamper: %d records changed", n)
	}
}

func TestPostgresTrail(t *testing.T) {
	t.Parallel()
	runTrailSuite(t, openPostgresTrail)
}

// pgConnect opens a connection of its own to the database at dsn, as
// another node, a tool or an attacker would.
func pgConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// pgExec runs sql on a connection of its own and returns the rows it
// affected.
func pgExec(t *testing.T, dsn, sql string, args ...any) int64 {
	t.Helper()
	tag, err := pgConnect(t, dsn).Exec(t.Context(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tag.RowsAffected()
}

func verifyPG(t *testing.T, dsn string, k ed25519.PrivateKey) *Report {
	t.Helper()
	rep, err := VerifyPostgres(t.Context(), dsn, pub(k))
	if err != nil {
		t.Fatalf("VerifyPostgres: %v", err)
	}
	return rep
}

func mustVerifyPG(t *testing.T, dsn string) *Report {
	t.Helper()
	rep := verifyPG(t, dsn, testKey("log"))
	if !rep.OK() {
		t.Fatalf("VerifyPostgres found problems:\n%s", rep)
	}
	return rep
}

// chainReports are the reports of the chains of a region.
func chainReports(rep *Report, region string) []RegionReport {
	var out []RegionReport
	for _, g := range rep.Regions {
		if strings.HasPrefix(g.Region, region+" chain ") {
			out = append(out, g)
		}
	}
	return out
}

// TestPostgresTwoNodes: nodes opening one database at once and appending
// concurrently each write chains of their own, which all verify, and
// lookups on either node see the records of both.
func TestPostgresTwoNodes(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	nodes := []string{"node-a:8443", "node-b:8443"}
	logs := make([]*PostgresLog, len(nodes))
	var wg sync.WaitGroup
	for i, node := range nodes {
		wg.Go(func() {
			l, err := OpenPostgres(t.Context(), pgTestConfig(dsn, node))
			if err != nil {
				t.Errorf("OpenPostgres %s: %v", node, err)
				return
			}
			t.Cleanup(func() { l.Close() })
			logs[i] = l
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	regions := []string{"us-east-1", "eu-west-1"}
	const writers, each = 4, 30
	errs := make(chan error, len(nodes)*writers)
	var mu sync.Mutex
	var ids []string
	var recs []*Record
	for n, l := range logs {
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					r := kmsRecord(regions[w%2], "Encrypt", keyID1)
					r.RequestParameters = map[string]any{"node": n, "writer": w, "i": i}
					if i%5 == 0 {
						r.EventName, r.ReadOnly = "TagResource", false // a change: synchronous commit
					}
					if err := l.Append(t.Context(), r); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					ids, recs = append(ids, r.EventID), append(recs, r)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	slices.Sort(ids)
	for _, l := range logs {
		got, _ := lookupPages(t, pgTrail{PostgresLog: l}, Query{}, MaxLookupResults)
		slices.Sort(got)
		if !slices.Equal(got, ids) {
			t.Errorf("a node's Lookup sees %d records, want %d", len(got), len(ids))
		}
		// The two nodes' transactions interleave, so their postings
		// overlap: each record is found once, whatever the page size.
		notRO := false
		for _, q := range []Query{{}, {EventName: "TagResource"}, {ReadOnly: &notRO}, {ResourceName: keyID1}} {
			q.AccountID, q.Region = acct, "eu-west-1"
			var want []string
			for _, r := range recs {
				if matches(q, r) {
					want = append(want, r.EventID)
				}
			}
			got, _ := lookupPages(t, pgTrail{PostgresLog: l}, q, 7)
			slices.Sort(got)
			slices.Sort(want)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("a node's lookup of %+v sees %d records, want %d", q, len(got), len(want))
			}
		}
	}
	// A use on one node is the key's last use on the other.
	use := kmsRecord("us-east-1", "Decrypt", keyID2)
	if err := logs[0].Append(t.Context(), use); err != nil {
		t.Fatal(err)
	}
	if u, ok, err := logs[1].LastUsage(t.Context(), keyARN("us-east-1", keyID2)); !ok || err != nil || u.EventID != use.EventID {
		t.Errorf("LastUsage on the other node: %+v, %v, %v", u, ok, err)
	}
	if s := logs[0].Stats(); s.Records != writers*each+1 || s.Batches > s.Records || s.Syncs == 0 || s.Failures != 0 {
		t.Errorf("Stats: %+v", s)
	}
	for _, l := range logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rep := mustVerifyPG(t, dsn)
	for _, region := range regions {
		chains := chainReports(rep, region)
		if len(chains) != len(nodes) {
			t.Fatalf("%d chains in %s, want %d:\n%s", len(chains), region, len(nodes), rep)
		}
		for i, g := range chains {
			if !strings.Contains(g.Region, nodes[i]+"@") || g.Records < writers*each/2 || g.UnsignedTail != 0 {
				t.Errorf("%+v", g)
			}
		}
	}

	// A node that opens again starts new chains; the old ones stay.
	l := openPG(t, pgTestConfig(dsn, nodes[0]))
	pgAppendN(t, l, "us-east-1", 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if chains := chainReports(mustVerifyPG(t, dsn), "us-east-1"); len(chains) != 3 {
		t.Errorf("%d chains in us-east-1 after a reopen, want 3", len(chains))
	}
}

// pgAppendN is appendN for a PostgresLog: n Encrypt records in region.
func pgAppendN(t *testing.T, l *PostgresLog, region string, n int) []*Record {
	t.Helper()
	var recs []*Record
	for range n {
		r := kmsRecord(region, "Encrypt", keyID1)
		if err := l.Append(t.Context(), r); err != nil {
			t.Fatalf("Append: %v", err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestPostgresDurability: a record is visible to every other connection
// once Append returned; a transaction with a change commits synchronously,
// one of uses only does not (unless SyncAlways).
func TestPostgresDurability(t *testing.T) {
	t.Parallel()
	change := func() *Record {
		r := kmsRecord("us-east-1", "DisableKey", keyID1)
		r.ReadOnly = false
		return r
	}
	failedChange := func() *Record {
		r := change()
		r.ErrorCode, r.ErrorMessage = "AccessDeniedException", "denied"
		return r
	}
	use := func() *Record { return kmsRecord("us-east-1", "Encrypt", keyID1) }
	tests := []struct {
		name  string
		sync  SyncMode
		rec   func() *Record
		syncs uint64
	}{
		{"change", SyncChanges, change, 1},
		{"use", SyncChanges, use, 0},
		{"failed change", SyncChanges, failedChange, 0},
		{"use, always", SyncAlways, use, 1},
	}
	dsn := pgtest.DSN(t)
	other := pgConnect(t, dsn)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pgTestConfig(dsn, "node-a")
			cfg.Sync = tt.sync
			l := openPG(t, cfg)
			r := tt.rec()
			if err := l.Append(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := other.QueryRow(t.Context(), `SELECT COUNT(*) FROM audit_records WHERE event_id = $1`, r.EventID).
				Scan(&n); err != nil || n != 1 {
				t.Errorf("another connection sees %d records, %v", n, err)
			}
			if s := l.Stats(); s.Records != 1 || s.Batches != 1 || s.Syncs != tt.syncs {
				t.Errorf("Stats %+v, want %d synchronous commits", s, tt.syncs)
			}
		})
	}
}

// pgProxy stands between a log and the database, so that a test can make
// the database unreachable for that log alone: refusing connections
// (down), or accepting them and never answering (hang).
type pgProxy struct {
	t      *testing.T
	target string
	addr   string
	dsn    string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn

	cut atomic.Int32 // what happens to the next bytes a client sends: cut*
}

// Cuts of a connection at the next bytes its client sends (pgProxy.cut).
const (
	cutNone   = iota
	cutBefore // dropped, and the connection cut: they never reach the database
	cutAfter  // passed on, the connection cut a moment later, before any answer
)

func newPGProxy(t *testing.T, dsn string) *pgProxy {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{t: t, target: u.Host, addr: ln.Addr().String()}
	u.Host = p.addr
	p.dsn = u.String()
	p.serve(ln, false)
	t.Cleanup(p.down)
	return p
}

func (p *pgProxy) serve(ln net.Listener, hang bool) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			if !hang {
				go p.forward(c)
			}
		}
	}()
}

func (p *pgProxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, s)
	p.mu.Unlock()
	var dropping atomic.Bool // answers are dropped: the connection is being cut
	go func() {
		defer s.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			switch p.cut.Swap(cutNone) {
			case cutBefore:
				c.Close()
				return
			case cutAfter:
				dropping.Store(true)
				s.Write(buf[:n])
				time.Sleep(300 * time.Millisecond) // the database answers meanwhile
				c.Close()
				return
			}
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if err != nil {
			break
		}
		if dropping.Load() {
			continue
		}
		if _, err := c.Write(buf[:n]); err != nil {
			break
		}
	}
	c.Close()
}

// down refuses connections and cuts those open.
func (p *pgProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *pgProxy) listen(hang bool) {
	p.down()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln, hang)
}

// hang accepts connections and never answers.
func (p *pgProxy) hang() { p.listen(true) }

// up forwards connections again.
func (p *pgProxy) up() { p.listen(false) }

// TestPostgresUnavailable: while the database is unreachable, Append fails
// within WriteTimeout, with an error that says so, and Healthy reports it;
// once it is back, Healthy recovers without traffic and Append works, and
// the chain has no hole where the failed records were.
func TestPostgresUnavailable(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	proxy := newPGProxy(t, dsn)
	cfg := pgTestConfig(proxy.dsn, "node-a")
	cfg.WriteTimeout = time.Second
	cfg.RetryInterval = 20 * time.Millisecond
	l := openPG(t, cfg)
	pgAppendN(t, l, "us-east-1", 2)
	if err := l.Healthy(); err != nil {
		t.Fatal(err)
	}

	var failed, maybe []string
	for _, tt := range []struct {
		name    string
		cut     func()
		within  time.Duration
		refused bool // the writer fails at once, so nothing is written later
	}{
		{"refused", proxy.down, 500 * time.Millisecond, true},
		{"no answer", proxy.hang, 3 * time.Second, false},
	} {
		tt.cut()
		for range 2 {
			r := kmsRecord("us-east-1", "Encrypt", keyID1)
			start := time.Now()
			err := l.Append(t.Context(), r)
			if took := time.Since(start); err == nil || took > tt.within {
				t.Fatalf("%s: Append returned %v after %v", tt.name, err, took)
			}
			if !errors.Is(err, kms.ErrUnavailable) {
				t.Errorf("%s: Append: %v, want kms.ErrUnavailable", tt.name, err)
			}
			if tt.refused {
				failed = append(failed, r.EventID)
			} else {
				// Append gave up waiting: its record may be written
				// late, as it documents.
				maybe = append(maybe, r.EventID)
			}
		}
		if err := l.Healthy(); err == nil {
			t.Errorf("%s: Healthy on an unreachable database", tt.name)
		}
		// The caller's context bounds Append too. Its record stays queued,
		// and may be written once the database is back.
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		start := time.Now()
		r := kmsRecord("us-east-1", "Encrypt", keyID1)
		if err := l.Append(ctx, r); err == nil || time.Since(start) > tt.within {
			t.Errorf("%s: Append with a short context returned %v after %v", tt.name, err, time.Since(start))
		}
		maybe = append(maybe, r.EventID)
		cancel()
	}

	proxy.up()
	waitFor(t, "Healthy after the database came back", func() bool { return l.Healthy() == nil })
	after := pgAppendN(t, l, "us-east-1", 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	c := pgConnect(t, dsn)
	stored := func(id string) int {
		var n int
		if err := c.QueryRow(t.Context(), `SELECT COUNT(*) FROM audit_records WHERE event_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, id := range failed {
		if n := stored(id); n != 0 {
			t.Errorf("failed record %s stored %d times", id, n)
		}
	}
	late := 0
	for _, id := range maybe {
		late += stored(id)
	}
	if n := stored(after[1].EventID); n != 1 {
		t.Errorf("record appended after recovery stored %d times", n)
	}
	g := reportFor(t, mustVerifyPG(t, dsn), "us-east-1")
	if want := uint64(4 + late); g.Records != want || g.LastSeq != want {
		t.Errorf("after recovery (%d records of given-up Appends written late): %+v", late, g)
	}
}

// TestPostgresCutConnection cuts the writer's connection as it sends a
// transaction: before it reaches the database (it did not commit: the
// writer retries it) or after (it committed: the chain says so). Either way
// Append succeeds and its record is stored once.
func TestPostgresCutConnection(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	proxy := newPGProxy(t, dsn)
	l := openPG(t, pgTestConfig(proxy.dsn, "node-a"))
	pgAppendN(t, l, "us-east-1", 1) // registers the chain
	c := pgConnect(t, dsn)
	n := 1
	for _, tt := range []struct {
		name string
		cut  int32
	}{{"before", cutBefore}, {"after", cutAfter}} {
		proxy.cut.Store(tt.cut)
		r := kmsRecord("us-east-1", "Encrypt", keyID1)
		if err := l.Append(t.Context(), r); err != nil {
			t.Fatalf("%s: Append: %v", tt.name, err)
		}
		n++
		if proxy.cut.Load() != cutNone {
			t.Fatalf("%s: the writer sent nothing", tt.name)
		}
		var stored int
		if err := c.QueryRow(t.Context(), `SELECT COUNT(*) FROM audit_records WHERE event_id = $1`, r.EventID).
			Scan(&stored); err != nil || stored != 1 {
			t.Errorf("%s: record stored %d times, %v", tt.name, stored, err)
		}
	}
	if s := l.Stats(); s.Failures != 0 || s.Records != uint64(n) {
		t.Errorf("Stats: %+v", s)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if g := reportFor(t, mustVerifyPG(t, dsn), "us-east-1"); g.Records != uint64(n) || g.UnsignedTail != 0 {
		t.Errorf("after the cuts: %+v", g)
	}
}

// TestPostgresRestart restarts the database between appends, cutting the
// writer's connection: the next Append retries on a new one and succeeds,
// and the chain goes on. Not parallel: it restarts the server every test
// shares.
func TestPostgresRestart(t *testing.T) {
	if os.Getenv(pgtest.EnvDSN) != "" {
		t.Skip("the server is not ours to restart")
	}
	dsn := pgtest.DSN(t)
	l := openPG(t, pgTestConfig(dsn, "node-a"))
	pgAppendN(t, l, "us-east-1", 3)
	if err := pgtest.Restart(); err != nil {
		t.Fatal(err)
	}
	change := kmsRecord("us-east-1", "DisableKey", keyID1)
	change.ReadOnly = false
	if err := l.Append(t.Context(), change); err != nil {
		t.Fatalf("Append after a restart: %v", err)
	}
	pgAppendN(t, l, "us-east-1", 2)
	if s := l.Stats(); s.Failures != 0 || s.Records != 6 {
		t.Errorf("Stats after a restart: %+v", s)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if g := reportFor(t, mustVerifyPG(t, dsn), "us-east-1"); g.Records != 6 || g.UnsignedTail != 0 {
		t.Errorf("after a restart: %+v", g)
	}
}

// TestPostgresFollow: Follow passes on the records of every node in the
// order of their transactions: its own node's at once (woken by the
// commit), another node's at its poll.
func TestPostgresFollow(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	a := openPG(t, pgTestConfig(dsn, "node-a"))
	b := openPG(t, pgTestConfig(dsn, "node-b"))
	for i, tt := range []struct {
		name string
		poll time.Duration
		from *PostgresLog
	}{
		{"own node", time.Hour, a},
		{"other node", 20 * time.Millisecond, b},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Each run's records are later than the runs' before.
			start := suiteStart.Add(time.Duration(i) * time.Hour)
			at := func(s int) *Record {
				return suiteRecord("eu-west-1", "Decrypt", keyID1, time.Duration(i)*time.Hour+time.Duration(s)*time.Second)
			}
			first := []*Record{at(0), at(1)}
			appendAll(t, pgTrail{PostgresLog: tt.from}, first...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			events := make(chan Event)
			done := make(chan error, 1)
			go func() {
				done <- a.Follow(ctx, start, tt.poll, func(e Event) error {
					select {
					case events <- e:
					case <-ctx.Done():
					}
					return nil
				})
			}()
			for _, r := range first {
				if e := <-events; e.EventID != r.EventID {
					t.Errorf("Follow started with %s, want %s", e.EventID, r.EventID)
				}
			}
			for s := range 3 {
				r := at(2 + s)
				if err := tt.from.Append(t.Context(), r); err != nil {
					t.Fatal(err)
				}
				if e := <-events; e.EventID != r.EventID {
					t.Errorf("Follow: got %s, want %s", e.EventID, r.EventID)
				}
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Follow returned %v", err)
			}
		})
	}
}

// TestPostgresPruneLiveChains: a prune on one node deletes the old records
// of every chain, its own and those another node is appending to (and
// checkpointing) meanwhile, and every chain still verifies.
func TestPostgresPruneLiveChains(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	a := openPG(t, pgTestConfig(dsn, "node-a"))
	cfgB := pgTestConfig(dsn, "node-b")
	cfgB.CheckpointEvery = 3
	b := openPG(t, cfgB)
	old := func(l *PostgresLog, n int, at time.Duration) {
		for i := range n {
			if err := l.Append(t.Context(), suiteRecord("us-east-1", "Encrypt", keyID1, at+time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	old(a, 10, 0)
	old(b, 10, 0)
	old(b, 5, time.Hour)

	// b keeps appending, and checkpointing every 3 records, while a prunes.
	stop := make(chan struct{})
	bDone := make(chan int)
	go func() {
		n := 0
		defer func() { bDone <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := b.Append(t.Context(), suiteRecord("us-east-1", "Encrypt", keyID1, 2*time.Hour)); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	n, err := a.Prune(t.Context(), suiteStart.Add(30*time.Minute))
	time.Sleep(50 * time.Millisecond)
	close(stop)
	more := <-bDone
	if err != nil || n != 20 {
		t.Fatalf("Prune: %d, %v; want 20", n, err)
	}
	old(a, 3, 3*time.Hour)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerifyPG(t, dsn)
	chains := chainReports(rep, "us-east-1")
	if len(chains) != 2 {
		t.Fatalf("chains:\n%s", rep)
	}
	if g := chains[0]; !g.Anchored || g.FirstSeq != 11 || g.LastSeq != 13 || g.Records != 3 {
		t.Errorf("node a's chain: %+v", g)
	}
	if g := chains[1]; !g.Anchored || g.FirstSeq != 11 || g.LastSeq != uint64(15+more) || g.UnsignedTail != 0 {
		t.Errorf("node b's chain after %d more records: %+v", more, g)
	}

	// What is left is still protected, and so is the anchor.
	pgExec(t, dsn, `UPDATE audit_anchors SET body = convert_to(replace(convert_from(body, 'UTF8'), '"seq":11', '"seq":12'), 'UTF8')
		WHERE chain = (SELECT id FROM audit_chains WHERE node = 'node-a')`)
	rep = verifyPG(t, dsn, testKey("log"))
	if !slices.ContainsFunc(rep.Problems, func(p Problem) bool {
		return p.Kind == BadSignature && strings.Contains(p.Region, "node-a@")
	}) {
		t.Errorf("a changed anchor was not found:\n%s", rep)
	}
}

// pgRecordRow reads the chain columns of record seq of region's one chain.
func pgRecordRow(t *testing.T, c *pgx.Conn, region string, seq uint64) (prev, hash Hash, body []byte) {
	t.Helper()
	var p, h []byte
	if err := c.QueryRow(t.Context(), `SELECT prev, hash, body FROM audit_records WHERE region = $1 AND seq = $2`,
		region, int64(seq)).Scan(&p, &h, &body); err != nil {
		t.Fatalf("record %s %d: %v", region, seq, err)
	}
	return Hash(p), Hash(h), body
}

func pgSetBody(t *testing.T, c *pgx.Conn, region string, seq uint64, body []byte) {
	t.Helper()
	if _, err := c.Exec(t.Context(), `UPDATE audit_records SET body = $1 WHERE region = $2 AND seq = $3`,
		body, region, int64(seq)); err != nil {
		t.Fatal(err)
	}
}

func pgAlterBody(t *testing.T, c *pgx.Conn, region string, seq uint64) []byte {
	t.Helper()
	_, _, body := pgRecordRow(t, c, region, seq)
	body = []byte(strings.Replace(string(body), `"Encrypt"`, `"Decrypt"`, 1))
	pgSetBody(t, c, region, seq, body)
	return body
}

func pgRun(t *testing.T, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestVerifyPostgresFindsTampering changes a closed trail in each way an
// attacker with write access to the database might, and checks that
// VerifyPostgres names the first record concerned and the kind of change.
// The trail has 35 records in us-east-1, with checkpoints after 10, 20, 30
// and (at Close) 35, and 3 in eu-west-1 that nothing touches.
func TestVerifyPostgresFindsTampering(t *testing.T) {
	t.Parallel()
	const region = "us-east-1"
	tests := []struct {
		name   string
		tamper func(t *testing.T, c *pgx.Conn)
		want   Problem // Detail and Region are not compared
		// eventOf, if not 0, is the original sequence number of the record
		// whose eventID the problem names.
		eventOf uint64
	}{{
		name:    "record altered",
		tamper:  func(t *testing.T, c *pgx.Conn) { pgAlterBody(t, c, region, 12) },
		want:    Problem{Kind: Altered, Seq: 12, Count: 1},
		eventOf: 12,
	}, {
		name: "record altered and its hash rewritten",
		tamper: func(t *testing.T, c *pgx.Conn) {
			prev, _, _ := pgRecordRow(t, c, region, 12)
			body := pgAlterBody(t, c, region, 12)
			h := recordHash(prev, 12, body)
			pgRun(t, c, `UPDATE audit_records SET hash = $1 WHERE region = $2 AND seq = 12`, h[:], region)
		},
		want:    Problem{Kind: Altered, Seq: 12, Count: 1},
		eventOf: 12,
	}, {
		name: "record altered and the chain recomputed to the end",
		tamper: func(t *testing.T, c *pgx.Conn) {
			prev, _, _ := pgRecordRow(t, c, region, 12)
			pgAlterBody(t, c, region, 12)
			for seq := uint64(12); seq <= 35; seq++ {
				_, _, body := pgRecordRow(t, c, region, seq)
				h := recordHash(prev, seq, body)
				pgRun(t, c, `UPDATE audit_records SET prev = $1, hash = $2 WHERE region = $3 AND seq = $4`,
					prev[:], h[:], region, int64(seq))
				prev = h
			}
		},
		// Found at the checkpoint after 20; the last good one covers 10.
		want: Problem{Kind: Rewritten, Seq: 11, Count: 10},
	}, {
		name: "record deleted",
		tamper: func(t *testing.T, c *pgx.Conn) {
			pgRun(t, c, `DELETE FROM audit_records WHERE region = $1 AND seq = 12`, region)
		},
		want: Problem{Kind: Deleted, Seq: 12, Count: 1},
	}, {
		name: "records deleted and the rest renumbered",
		tamper: func(t *testing.T, c *pgx.Conn) {
			pgRun(t, c, `DELETE FROM audit_records WHERE region = $1 AND seq IN (12, 13)`, region)
			pgRun(t, c, `UPDATE audit_records SET seq = -(seq - 2) WHERE region = $1 AND seq >= 14`, region)
			pgRun(t, c, `UPDATE audit_records SET seq = -seq WHERE region = $1 AND seq < 0`, region)
		},
		want:    Problem{Kind: Deleted, Seq: 12, Count: 2},
		eventOf: 14,
	}, {
		name: "last records deleted",
		tamper: func(t *testing.T, c *pgx.Conn) {
			pgRun(t, c, `DELETE FROM audit_records WHERE region = $1 AND seq > 33`, region)
		},
		want: Problem{Kind: Deleted, Seq: 34, Count: 2},
	}, {
		name: "link broken",
		tamper: func(t *testing.T, c *pgx.Conn) {
			h := randomHash()
			pgRun(t, c, `UPDATE audit_records SET prev = $1 WHERE region = $2 AND seq = 12`, h[:], region)
		},
		want: Problem{Kind: Deleted, Seq: 12, Count: 1},
	}, {
		name: "record inserted",
		tamper: func(t *testing.T, c *pgx.Conn) {
			_, prev, _ := pgRecordRow(t, c, region, 11)
			pgRun(t, c, `UPDATE audit_records SET seq = -(seq + 1) WHERE region = $1 AND seq >= 12`, region)
			pgRun(t, c, `UPDATE audit_records SET seq = -seq WHERE region = $1 AND seq < 0`, region)
			body := forgedBody(NewEventID())
			h := recordHash(prev, 12, body)
			pgRun(t, c, `INSERT INTO audit_records (txid, chain, seq, prev, hash, body, region, account, event_time,
					event_id, event_name, event_source, user_name, access_key_id, request_id, read_only)
				SELECT 0, chain, 12, $2, $3, $4, region, '', 0, '', '', '', '', '', '', true
				FROM audit_records WHERE region = $1 AND seq = 11`, region, prev[:], h[:], body)
		},
		want: Problem{Kind: Inserted, Seq: 12, Count: 1},
	}, {
		name: "checkpoint signature changed",
		tamper: func(t *testing.T, c *pgx.Conn) {
			pgRun(t, c, `UPDATE audit_checkpoints SET signature = set_byte(signature, 0, get_byte(signature, 0) # 1)
				WHERE seq = 20`)
		},
		want: Problem{Kind: BadSignature, Seq: 20},
	}, {
		name: "checkpoint changed",
		tamper: func(t *testing.T, c *pgx.Conn) {
			pgRun(t, c, `UPDATE audit_checkpoints SET body = convert_to(replace(convert_from(body, 'UTF8'), '"seq":20', '"seq":19'), 'UTF8')
				WHERE seq = 20`)
		},
		want: Problem{Kind: BadSignature, Seq: 20},
	}, {
		name:   "checkpoint deleted",
		tamper: func(t *testing.T, c *pgx.Conn) { pgRun(t, c, `DELETE FROM audit_checkpoints WHERE seq = 20`) },
		want:   Problem{Kind: CheckpointChain, Seq: 30},
	}, {
		name: "checkpoint of another chain copied in",
		tamper: func(t *testing.T, c *pgx.Conn) {
			pgRun(t, c, `UPDATE audit_checkpoints SET chain = (SELECT id FROM audit_chains WHERE region = 'us-east-1')
				WHERE chain = (SELECT id FROM audit_chains WHERE region = 'eu-west-1')`)
		},
		want: Problem{Kind: BadSignature, Seq: 3},
	}, {
		name:   "chain's row deleted",
		tamper: func(t *testing.T, c *pgx.Conn) { pgRun(t, c, `DELETE FROM audit_chains WHERE region = $1`, region) },
		want:   Problem{Kind: Deleted, Seq: 0},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dsn := pgtest.DSN(t)
			l := openPG(t, pgTestConfig(dsn, "node-a"))
			recs := pgAppendN(t, l, region, 35)
			pgAppendN(t, l, "eu-west-1", 3)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			g := reportFor(t, mustVerifyPG(t, dsn), region)
			if g.Records != 35 || g.Checkpoints != 4 || g.SignedSeq != 35 {
				t.Fatalf("before tampering: %+v", g)
			}
			tt.tamper(t, pgConnect(t, dsn))
			rep := verifyPG(t, dsn, testKey("log"))
			if len(rep.Problems) == 0 {
				t.Fatalf("no problem found:\n%s", rep)
			}
			got := rep.Problems[0]
			if !strings.HasPrefix(got.Region, region+" chain ") && !strings.Contains(got.Region, "unregistered") {
				t.Errorf("problem in %q", got.Region)
			}
			want := tt.want
			if tt.eventOf != 0 {
				want.EventID = recs[tt.eventOf-1].EventID
			}
			if got.Kind != want.Kind || got.Seq != want.Seq || (want.Count != 0 && got.Count != want.Count) ||
				(want.EventID != "" && got.EventID != want.EventID) {
				t.Errorf("first problem %s\nwant %+v; report:\n%s", got, want, rep)
			}
			// eu-west-1 is untouched.
			for _, p := range rep.Problems {
				if strings.HasPrefix(p.Region, "eu-west-1") && tt.name != "checkpoint of another chain copied in" {
					t.Errorf("problem in eu-west-1: %s", p)
				}
			}
		})
	}
}

// TestVerifyPostgresWrongKey: checkpoints signed by another key are bad
// signatures that name both keys.
func TestVerifyPostgresWrongKey(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	l := openPG(t, pgTestConfig(dsn, "node-a"))
	pgAppendN(t, l, "us-east-1", 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := verifyPG(t, dsn, testKey("other"))
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != BadSignature ||
		!strings.Contains(rep.Problems[0].Detail, Fingerprint(pub(testKey("log")))) {
		t.Errorf("report:\n%s", rep)
	}
	if _, err := VerifyPostgres(t.Context(), dsn, []byte("short")); err == nil {
		t.Error("VerifyPostgres took a short key")
	}
}

// TestPostgresIntervalCheckpoint: a chain with unsigned records gets a
// checkpoint every CheckpointInterval.
func TestPostgresIntervalCheckpoint(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	cfg := pgTestConfig(dsn, "node-a")
	cfg.CheckpointInterval = 20 * time.Millisecond
	l := openPG(t, cfg)
	pgAppendN(t, l, "us-east-1", 3)
	// A tick may fall between the appends and sign only the first
	// records: the next one signs the rest.
	waitFor(t, "an interval checkpoint of all three records", func() bool {
		if l.Stats().Checkpoints == 0 {
			return false
		}
		g := reportFor(t, mustVerifyPG(t, dsn), "us-east-1")
		return g.SignedSeq == 3 && g.UnsignedTail == 0
	})
}

func TestPostgresOpenAndClose(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	for _, tt := range []struct {
		name string
		edit func(*PostgresConfig)
		want string
	}{
		{"no node", func(c *PostgresConfig) { c.Node = "" }, "Node"},
		{"no signer", func(c *PostgresConfig) { c.Signer = nil }, "Signer"},
		{"bad sync mode", func(c *PostgresConfig) { c.Sync = "sometimes" }, "sync mode"},
		{"bad DSN", func(c *PostgresConfig) { c.DSN = "postgres://kms:s3cret@127.0.0.1:bad/x" }, "audit"},
		{"unreachable", func(c *PostgresConfig) { c.DSN = "postgres://kms:s3cret@127.0.0.1:1/x?connect_timeout=2" }, "audit: open"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pgTestConfig(dsn, "node-a")
			tt.edit(&cfg)
			l, err := OpenPostgres(t.Context(), cfg)
			if err == nil {
				l.Close()
				t.Fatal("OpenPostgres succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q", err)
			}
		})
	}

	l := openPG(t, pgTestConfig(dsn, "node-a"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Append(t.Context(), kmsRecord("us-east-1", "Encrypt", keyID1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if _, err := l.Prune(t.Context(), time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("Prune after Close: %v", err)
	}
}

// TestPostgresReader reads the trail from a connection of its own, as a
// tool beside the cluster would.
func TestPostgresReader(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	if _, err := OpenPostgresReader(t.Context(), dsn); err == nil || !strings.Contains(err.Error(), "no audit trail") {
		t.Errorf("OpenPostgresReader on an empty database: %v", err)
	}
	l := openPG(t, pgTestConfig(dsn, "node-a"))
	recs := pgAppendN(t, l, "us-east-1", 3)
	r, err := OpenPostgresReader(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	events, _, err := r.Lookup(t.Context(), Query{})
	if err != nil || len(events) != 3 || events[0].EventID != recs[2].EventID {
		t.Errorf("Lookup: %v, %v", events, err)
	}
}

// TestPostgresOddValues: values a TEXT column cannot hold, or an index
// cannot take, do not fail the insert; the record keeps them, and lookups
// by them still find it.
func TestPostgresOddValues(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	l := openPG(t, pgTestConfig(dsn, "node-a"))
	id := &UserIdentity{Type: "IAMUser", AccountID: acct, UserName: "nul\x00and\xffbad", AccessKeyID: strings.Repeat("K", 5000)}
	r := kmsRecord("us-east-1", "Encrypt", keyID1)
	r.UserIdentity = id
	other := kmsRecord("us-east-1", "Encrypt", keyID1)
	appendAll(t, pgTrail{PostgresLog: l}, r, other)
	for _, q := range []Query{{Username: id.UserName}, {AccessKeyID: id.AccessKeyID}, {EventID: r.EventID}} {
		events, _, err := l.Lookup(t.Context(), q)
		if err != nil || len(events) != 1 || events[0].EventID != r.EventID {
			t.Fatalf("Lookup(%.40v): %v, %v", q, events, err)
		}
		want, _ := r.MarshalJSON()
		if string(events[0].Raw) != string(want) {
			t.Errorf("Raw:\n got %s\nwant %s", events[0].Raw, want)
		}
	}
}

func TestPgIndexValue(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", pgMaxIndexValue) // two bytes each
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"Alice", "Alice"},
		{"a\x00b", "a\uFFFDb"},
		{"a\xffb", "a\uFFFDb"},
		{long, long[:pgMaxIndexValue]},
		{"x" + long, "x" + long[:pgMaxIndexValue-2]},
	} {
		if got := pgIndexValue(tt.in); got != tt.want {
			t.Errorf("pgIndexValue(%.20q) = %.20q (%d bytes), want %.20q (%d bytes)", tt.in, got, len(got), tt.want, len(tt.want))
		}
	}
}

// TestChainStatements: a chain's checkpoint never verifies as a SQLite
// region's, nor the other way round.
func TestChainStatements(t *testing.T) {
	t.Parallel()
	k := testKey("log")
	cp := Checkpoint{Version: 1, Region: "us-east-1", Seq: 1, Hash: Hash{}.String(), PreviousSignatureHash: Hash{}.String()}
	body, sig, err := signed(k, chainCheckpointDomain, ChainCheckpoint{Checkpoint: cp, Chain: "n@t/x"})
	if err != nil {
		t.Fatal(err)
	}
	var c ChainCheckpoint
	if err := parseSigned(pub(k), chainCheckpointDomain, body, sig, &c); err != nil || c.Chain != "n@t/x" || c.Seq != 1 {
		t.Errorf("parseSigned: %+v, %v", c, err)
	}
	var plain Checkpoint
	if err := parseSigned(pub(k), checkpointDomain, body, sig, &plain); err == nil {
		t.Error("a chain's checkpoint verified as a region's")
	}
	body, sig, _ = signed(k, checkpointDomain, cp)
	if err := parseSigned(pub(k), chainCheckpointDomain, body, sig, &c); err == nil {
		t.Error("a region's checkpoint verified as a chain's")
	}
	if chainGenesis("a") == chainGenesis("b") || chainGenesis("a") == (Hash{}) {
		t.Error("genesis hashes do not tell chains apart")
	}
}

// TestPostgresRefusesAsyncCommit: a database whose connections default to
// synchronous_commit off is refused, at Open and on every new connection
// of the writer (the setting may change for the database after Open).
func TestPostgresRefusesAsyncCommit(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	l := openPG(t, pgTestConfig(dsn, "node-a"))
	pgAppendN(t, l, "us-east-1", 1)
	pgExec(t, dsn, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', current_database()); END $$`)
	if _, err := OpenPostgres(t.Context(), pgTestConfig(dsn, "node-b")); err == nil || !strings.Contains(err.Error(), "synchronous_commit") {
		t.Errorf("OpenPostgres: %v", err)
	}
	// Cut the writer's connection: its next one has the new setting.
	pgExec(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err := l.Append(t.Context(), kmsRecord("us-east-1", "Encrypt", keyID1)); err == nil || !strings.Contains(err.Error(), "synchronous_commit") {
		t.Errorf("Append: %v", err)
	}
	if err := l.Healthy(); err == nil {
		t.Error("Healthy with synchronous_commit off")
	}
}

// BenchmarkPostgresAppend appends from many goroutines; the pgtest server
// runs with fsync off, so this measures the CPU and round trips of group
// commit rather than a disk.
func BenchmarkPostgresAppend(b *testing.B) {
	for _, bm := range []struct {
		name   string
		change bool
	}{{"uses", false}, {"changes", true}} {
		b.Run(bm.name, func(b *testing.B) {
			cfg := pgTestConfig(pgtest.DSN(b), "bench")
			cfg.CheckpointEvery = DefaultCheckpointEvery
			l := openPG(b, cfg)
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := kmsRecord("us-east-1", "Encrypt", keyID1)
					r.ReadOnly = !bm.change
					if err := l.Append(context.Background(), r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			s := l.Stats()
			b.ReportMetric(float64(s.Records)/float64(max(s.Batches, 1)), "records/batch")
		})
	}
}

// TestPostgresMigrationV2 takes a trail of schema version 1 (index entries
// per record and attribute, a table of resources) to postings: lookups
// find what they found before, and the writer goes on.
func TestPostgresMigrationV2(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	pool, err := newPool(t.Context(), dsn, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pgMigrateTo(t.Context(), pool, 0, 1); err != nil {
		t.Fatal(err)
	}
	// Version 1's rows, as its writer inserted them (the chain is not
	// checked here).
	var recs []*Record
	for i := range 40 {
		r := suiteRecord([]string{"us-east-1", "eu-west-1"}[i%2], []string{"Encrypt", "Decrypt", "TagResource"}[i%3],
			[]string{keyID1, keyID2}[i%4/2], time.Duration(i)*time.Second)
		r.ReadOnly = r.EventName != "TagResource"
		if i%5 == 0 {
			r.RecipientAccountID = otherAcct
		}
		if i%7 == 0 {
			r.Resources = nil
		}
		if err := r.fillIn(time.Now); err != nil {
			t.Fatal(err)
		}
		body, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		req := newRequest(r, body)
		var id int64
		if err := pool.QueryRow(t.Context(), `INSERT INTO audit_records (txid, chain, seq, prev, hash, body, region,
				account, event_time, event_id, event_name, event_source, user_name, access_key_id, request_id, read_only,
				has_resources)
			VALUES (1, -1, $1, '', '', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			i+1, body, req.region, req.account, req.eventTime, req.eventID, req.eventName, req.source, req.user,
			req.accessKey, req.requestID, req.readOnly, len(req.resources) > 0).Scan(&id); err != nil {
			t.Fatal(err)
		}
		for _, rs := range req.resources {
			if _, err := pool.Exec(t.Context(), `INSERT INTO audit_resources (record_id, token, account, region, event_time)
				VALUES ($1, $2, $4, $5, $6), ($1, $3, $4, $5, $6)`,
				id, rs.ARN, resourceName(rs.ARN), req.account, req.region, req.eventTime); err != nil {
				t.Fatal(err)
			}
		}
		recs = append(recs, r)
	}
	l := openPG(t, pgTestConfig(dsn, "node-a")) // migrates
	recs = append(recs, pgAppendN(t, l, "us-east-1", 3)...)
	notRO := false
	for _, q := range []Query{{}, {EventName: "Decrypt"}, {ReadOnly: &notRO}, {ResourceName: keyID2},
		{ResourceName: keyARN("us-east-1", keyID1)}, {ResourceType: ResourceTypeKey}, {Username: alice.UserName},
		{EventSource: EventSourceKMS}, {AccessKeyID: alice.AccessKeyID}, {StartTime: suiteStart.Add(10 * time.Second), EndTime: suiteStart.Add(20 * time.Second)}} {
		q.AccountID, q.Region = acct, "us-east-1"
		var want []string
		for _, r := range slices.Backward(recs) {
			if matches(q, r) {
				want = append(want, r.EventID)
			}
		}
		if got, _ := lookupPages(t, pgTrail{PostgresLog: l}, q, 4); len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("Lookup(%+v) after the migration:\n got %v\nwant %v", q, got, want)
		}
	}
}
