package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/server"
)

// runAudit is `kms audit verify|export|tail`: tools for the audit log of a
// local data dir. They open it read-only, so they work while the server
// runs.
func runAudit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(args[1:], stdout, stderr)
	case "export":
		return runAuditExport(args[1:], stdout, stderr)
	case "tail":
		return runAuditTail(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, auditUsage)
		return 0
	}
	fmt.Fprintf(stderr, "kms audit: unknown command %q\n", args[0])
	fmt.Fprint(stderr, auditUsage)
	return 2
}

const auditUsage = `Usage:
  kms audit verify [flags]   check the audit log's hash chain and signed checkpoints
  kms audit export [flags]   write records as CloudTrail JSON lines
  kms audit tail [flags]     print the last records; with -f, follow new ones
Each lists its flags with -h.
`

// auditFlags are the flags every audit command has.
type auditFlags struct {
	dataDir string
	file    string
	store   string
}

func (a *auditFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.dataDir, "data-dir", env(envDataDir, "./kms-data"), "data directory of the server")
	fs.StringVar(&a.file, "file", "", "audit database (default DATA_DIR/audit.db), e.g. a copy kept elsewhere")
	fs.StringVar(&a.store, "store", env(envStore, ""), "PostgreSQL URL of a cluster's database: its audit trail instead of the data dir's")
}

// where names the audit trail for messages.
func (a *auditFlags) where() string {
	if a.store != "" {
		return "in the cluster's database"
	}
	return a.path()
}

// auditReader is what export and tail read: a data dir's audit log or a
// cluster's.
type auditReader interface {
	Lookup(ctx context.Context, q audit.Query) ([]audit.Event, string, error)
	Since(ctx context.Context, t time.Time, fn func(audit.Event) error) error
	Follow(ctx context.Context, t time.Time, poll time.Duration, fn func(audit.Event) error) error
	Close() error
}

func (a *auditFlags) open() (auditReader, error) {
	if a.store != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return audit.OpenPostgresReader(ctx, a.store)
	}
	return openAudit(a.path())
}

func (a *auditFlags) path() string {
	if a.file != "" {
		return a.file
	}
	return server.AuditPath(a.dataDir)
}

// parseFlags parses args into fs, which takes no arguments.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false
	}
	return true
}

// existing fails unless the audit database is there: SQLite would report
// only that it cannot open it.
func existing(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no audit log: %w", err)
	}
	return nil
}

// runAuditVerify is `kms audit verify`. The checkpoint public key comes
// from the root key, opened like `kms server` opens it; a fingerprint
// pinned by the operator guards against a replaced seal.
func runAuditVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kms audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af auditFlags
	var sealKeyFile, pinned string
	af.register(fs)
	fs.StringVar(&sealKeyFile, "seal-key-file", env(envSealKeyFile, ""), "root key file (default DATA_DIR/root.key)")
	sf := addSealFlags(fs, "")
	fs.StringVar(&pinned, "public-key-fingerprint", "", "fail unless the checkpoint key has this fingerprint (printed by an earlier verify)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: kms audit verify [flags]

Checks every record's place in the hash chain of its region and every signed
checkpoint, and prints a summary per region. It exits with status 1 and names
the first record that was altered, deleted or inserted if the log was changed.
It exits with status 3 if nothing was changed but records were lost with the
end of a segment (as a power loss on a disk that loses synced data, or an old
copy of a segment put back, leaves it): their place in the chain verified, but
their JSON is gone. It names each such segment, where its intact part ends,
the records lost and the last intact one before them.
The root key (--seal-key-file, or the passphrase in %s, as for
kms server) gives the checkpoint public key; its fingerprint is printed, and
--public-key-fingerprint checks it. It may run while the server runs.

`, envSealPassphrase)
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kms audit verify: "+format+"\n", a...)
		return 1
	}
	path := af.path()
	if af.store == "" {
		if err := existing(path); err != nil {
			return fail("%v", err)
		}
	}
	scfg := server.Config{DataDir: af.dataDir, Store: af.store, SealKeyFile: sealKeyFile}
	if err := sf.apply(&scfg, envSealPassphrase, envPKCS11PIN); err != nil {
		return fail("%v", err)
	}
	pub, err := server.AuditPublicKey(scfg)
	if err != nil {
		return fail("%v", err)
	}
	fp := audit.Fingerprint(pub)
	fmt.Fprintf(stdout, "audit log %s\ncheckpoint key fingerprint %s\n", af.where(), fp)
	if pinned != "" && !strings.EqualFold(pinned, fp) {
		return fail("the root key gives checkpoint key %s, not the pinned %s: wrong root key, or the seal was replaced", fp, pinned)
	}
	var rep *audit.Report
	if af.store != "" {
		rep, err = audit.VerifyPostgres(context.Background(), af.store, pub)
	} else {
		rep, err = audit.Verify(context.Background(), path, pub)
	}
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprint(stdout, rep)
	if err := rep.Err(); err != nil {
		return fail("FAILED: %v", strings.TrimPrefix(err.Error(), "audit: verify: "))
	}
	if n := rep.Lost(); n > 0 {
		fmt.Fprintf(stderr, "kms audit verify: TRUNCATED: %d %s lost with the end of a segment; "+
			"the chain and checkpoints hold around them, and no tampering was found\n", n, plural(n, "record", "records"))
		return verifyTruncated
	}
	fmt.Fprintln(stdout, "OK")
	return 0
}

// verifyTruncated is the exit status of `kms audit verify` when the log
// verified but records were lost with the end of a segment: neither
// success (0) nor tampering or failure to read (1), nor a usage error (2).
const verifyTruncated = 3

func plural(n uint64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// runAuditExport is `kms audit export`: one record per line, exactly as
// stored (and hashed), which is CloudTrail's event JSON.
func runAuditExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kms audit export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af auditFlags
	var since, format string
	af.register(fs)
	fs.StringVar(&since, "since", "", "first event time: RFC 3339 time, date (YYYY-MM-DD, UTC) or age (90m, 24h, 7d); default: all")
	fs.StringVar(&format, "format", "jsonl", "output format: jsonl (one CloudTrail event per line)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: kms audit export [flags]

Writes the records whose eventTime is at or after --since to stdout, in the
order they were logged, one CloudTrail event JSON object per line, for a
SIEM. It may run while the server runs.

`)
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	t, err := parseSince(since, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "kms audit export: %v\n", err)
		return 2
	}
	if format != "jsonl" {
		fmt.Fprintf(stderr, "kms audit export: unsupported --format %q (jsonl is)\n", format)
		return 2
	}
	r, err := af.open()
	if err != nil {
		fmt.Fprintf(stderr, "kms audit export: %v\n", err)
		return 1
	}
	defer r.Close()
	w := bufio.NewWriter(stdout)
	err = r.Since(context.Background(), t, func(e audit.Event) error { return writeEvent(w, e) })
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "kms audit export: %v\n", err)
		return 1
	}
	return 0
}

// tailWindow is how far before the newest record shown `tail -f` looks for
// records logged since: a record's eventTime is when its request arrived,
// so one that took long to finish is logged after newer ones.
const tailWindow = time.Minute

// runAuditTail is `kms audit tail`.
func runAuditTail(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kms audit tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af auditFlags
	var since string
	var n int
	var follow bool
	var poll time.Duration
	af.register(fs)
	fs.IntVar(&n, "n", 10, "number of records to print first")
	fs.StringVar(&since, "since", "", "print the records from this time on instead of the last -n (as for export)")
	fs.BoolVar(&follow, "f", false, "follow: keep printing records as they are logged, until interrupted")
	fs.DurationVar(&poll, "poll", time.Second, "with -f, how often to look for new records")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: kms audit tail [flags]

Prints the last records of the audit log (or those since --since), oldest
first, one CloudTrail event JSON object per line; with -f it then prints
records as they are logged until interrupted.

`)
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if n < 0 || poll <= 0 {
		fmt.Fprintln(stderr, "kms audit tail: -n must be 0 or more and --poll positive")
		return 2
	}
	t, err := parseSince(since, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "kms audit tail: %v\n", err)
		return 2
	}
	r, err := af.open()
	if err != nil {
		fmt.Fprintf(stderr, "kms audit tail: %v\n", err)
		return 1
	}
	defer r.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	w := bufio.NewWriter(stdout)
	// Flush after each record's line when following: lines must show up
	// as they come.
	emit := func(e audit.Event) error {
		if err := writeEvent(w, e); err != nil {
			return err
		}
		if follow {
			return w.Flush()
		}
		return nil
	}
	if since != "" {
		if follow {
			err = r.Follow(ctx, t, poll, emit)
		} else {
			err = r.Since(ctx, t, emit)
		}
	} else {
		err = tail(ctx, r, n, follow, poll, emit)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil && !(follow && ctx.Err() != nil) {
		fmt.Fprintf(stderr, "kms audit tail: %v\n", err)
		return 1
	}
	return 0
}

// tail prints the last n records and, with follow, those logged after.
//
// Records are ordered by eventTime in lookups but by commit in a follow, so
// the follow starts tailWindow before the newest record seen and skips what
// was there already: in a chain (a region's, or in a cluster a node's), a
// record was there if its sequence number is at most that of the newest
// record seen in that chain (sequence numbers grow in commit order). To know that for as many regions as it
// can, tail reads at least a page of records, printing only n of them.
func tail(ctx context.Context, r auditReader, n int, follow bool, poll time.Duration, emit func(audit.Event) error) error {
	want := n
	if follow {
		want = max(n, audit.MaxLookupResults)
	}
	var seen []audit.Event // newest first
	var next string
	for len(seen) < want {
		page, tok, err := r.Lookup(ctx, audit.Query{MaxResults: min(want-len(seen), audit.MaxLookupResults), NextToken: next})
		if err != nil {
			return err
		}
		seen = append(seen, page...)
		if next = tok; next == "" {
			break
		}
	}
	shown := seen[:min(n, len(seen))]
	for _, e := range slices.Backward(shown) {
		if err := emit(e); err != nil {
			return err
		}
	}
	if !follow {
		return nil
	}
	type chain struct{ region, name string }
	last := map[chain]uint64{} // highest sequence number seen
	var from time.Time         // zero: the log was empty, follow from its start
	for _, e := range seen {
		c := chain{e.Region, e.Chain}
		last[c] = max(last[c], e.Seq)
		if e.EventTime.After(from) {
			from = e.EventTime
		}
	}
	if !from.IsZero() {
		from = from.Add(-tailWindow)
	}
	return r.Follow(ctx, from, poll, func(e audit.Event) error {
		if e.Seq <= last[chain{e.Region, e.Chain}] {
			return nil
		}
		return emit(e)
	})
}

func openAudit(path string) (*audit.Reader, error) {
	if err := existing(path); err != nil {
		return nil, err
	}
	return audit.OpenReader(path)
}

func writeEvent(w *bufio.Writer, e audit.Event) error {
	if _, err := w.Write(e.Raw); err != nil {
		return err
	}
	return w.WriteByte('\n')
}

// parseSince reads a --since value: an RFC 3339 time, a date (midnight UTC),
// or an age before now as a Go duration or a number of days ("7d"). Empty
// means the beginning.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := parseAge(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("bad --since %q: want an RFC 3339 time, a date (YYYY-MM-DD) or an age (90m, 24h, 7d)", s)
}

// parseAge reads a non-negative Go duration or a whole number of days
// ("30d"); --audit-retention uses it too.
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("bad number of days %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, errors.New("negative duration")
	}
	return d, nil
}
