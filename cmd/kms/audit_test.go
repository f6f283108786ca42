package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"
	_ "modernc.org/sqlite"
)

// kmsCmd runs the kms binary with args and returns its stdout, stderr and
// exit code.
func kmsCmd(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(kmsBinary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("kms %s: %v", strings.Join(args, " "), err)
	return "", "", 0
}

// cloudTrailEvent is what the tests read of an exported record.
type cloudTrailEvent struct {
	EventVersion string    `json:"eventVersion"`
	EventTime    time.Time `json:"eventTime"`
	EventName    string    `json:"eventName"`
	EventID      string    `json:"eventID"`
	RequestID    string    `json:"requestID"`
	AWSRegion    string    `json:"awsRegion"`
}

func parseLines(t *testing.T, out string) []cloudTrailEvent {
	t.Helper()
	var evs []cloudTrailEvent
	for line := range strings.Lines(out) {
		var e cloudTrailEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.EventID == "" || e.EventVersion == "" {
			t.Fatalf("not a CloudTrail event line (%v): %q", err, line)
		}
		evs = append(evs, e)
	}
	return evs
}

func requestID(t *testing.T, md middleware.Metadata) string {
	t.Helper()
	id, ok := awsmiddleware.GetRequestIDMetadata(md)
	if !ok || id == "" {
		t.Fatal("no request id in the response")
	}
	return id
}

// TestAuditCLI drives `kms audit verify|export|tail` against the audit log
// of a real server, running and stopped, and `verify` against copies of the
// log that were tampered with.
func TestAuditCLI(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	c := p.client()
	ctx := context.Background()
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("audited")})
	if err != nil {
		t.Fatal(err)
	}
	encrypt := func() string {
		t.Helper()
		out, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("audit cli test")})
		if err != nil {
			t.Fatal(err)
		}
		return requestID(t, out.ResultMetadata)
	}
	var before []string
	for range 6 {
		before = append(before, encrypt())
	}

	// verify, while the server runs.
	stdout, stderr, code := kmsCmd(t, nil, "audit", "verify", "--data-dir", dir)
	fp := regexp.MustCompile(`checkpoint key fingerprint ([0-9a-f]{16})\n`).FindStringSubmatch(stdout)
	if code != 0 || fp == nil || !strings.HasSuffix(stdout, "OK\n") || !strings.Contains(stdout, "us-east-1: records 1..7 (7)") {
		t.Fatalf("verify of a running server's log: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := kmsCmd(t, nil, "audit", "verify", "--data-dir", dir, "--public-key-fingerprint", fp[1]); code != 0 {
		t.Fatalf("verify with the right pinned fingerprint: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := kmsCmd(t, nil, "audit", "verify", "--data-dir", dir, "--public-key-fingerprint", "0123456789abcdef"); code != 1 ||
		!strings.Contains(stderr, "not the pinned 0123456789abcdef") {
		t.Fatalf("verify with a wrong pinned fingerprint: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := kmsCmd(t, nil, "audit", "verify", "--data-dir", t.TempDir()); code != 1 || !strings.Contains(stderr, "no audit log") {
		t.Fatalf("verify of an empty dir: exit %d\n%s", code, stderr)
	}

	// tail -f shows the last records, then one logged while it runs.
	tail := exec.Command(kmsBinary, "audit", "tail", "-f", "-n", "2", "--poll", "50ms", "--data-dir", dir)
	tailOut, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var tailErr syncBuffer
	tail.Stderr = &tailErr
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(tailOut)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { tail.Process.Kill(); tail.Wait() })
	next := func() cloudTrailEvent {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("tail -f exited: %s", tailErr.String())
			}
			return parseLines(t, l)[0]
		case <-time.After(20 * time.Second):
			t.Fatal("tail -f printed nothing")
		}
		panic("unreachable")
	}
	for _, want := range before[4:] {
		if e := next(); e.RequestID != want {
			t.Fatalf("tail -n 2 printed request %s, want %s", e.RequestID, want)
		}
	}
	live := encrypt()
	if e := next(); e.RequestID != live || e.EventName != "Encrypt" {
		t.Fatalf("tail -f printed %+v, want the Encrypt with request id %s", e, live)
	}
	tail.Process.Signal(syscall.SIGTERM)
	if err := tail.Wait(); err != nil {
		t.Fatalf("tail -f after SIGTERM: %v\n%s", err, tailErr.String())
	}

	// export --since: wait for the next second (event times are whole
	// seconds), then log more; only those are exported.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	since := time.Now().UTC().Truncate(time.Second)
	var after []string
	for range 3 {
		after = append(after, encrypt())
	}
	stdout, stderr, code = kmsCmd(t, nil, "audit", "export", "--data-dir", dir, "--format", "jsonl", "--since", since.Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	evs := parseLines(t, stdout)
	if len(evs) != len(after) {
		t.Fatalf("export --since %s gave %d records, want %d:\n%s", since, len(evs), len(after), stdout)
	}
	for i, e := range evs {
		if e.RequestID != after[i] || e.EventTime.Before(since) || e.AWSRegion != testRegion {
			t.Fatalf("exported record %d: %+v, want request %s", i, e, after[i])
		}
	}
	stdout, _, code = kmsCmd(t, nil, "audit", "export", "--data-dir", dir, "--since", "1h")
	if evs := parseLines(t, stdout); code != 0 || len(evs) != 11 || evs[0].EventName != "CreateKey" {
		t.Fatalf("export --since 1h: exit %d, %d records", code, len(evs))
	}
	if _, _, code := kmsCmd(t, nil, "audit", "export", "--data-dir", dir, "--format", "csv"); code != 2 {
		t.Fatalf("export --format csv: exit %d", code)
	}

	// Stopped, the log is signed to its end.
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, p.stderr)
	}
	stdout, stderr, code = kmsCmd(t, nil, "audit", "verify", "--data-dir", dir, "--public-key-fingerprint", fp[1])
	if code != 0 || !strings.Contains(stdout, "us-east-1: records 1..11 (11)") || !strings.Contains(stdout, "unsigned tail of 0 records") {
		t.Fatalf("verify of a stopped server's log: exit %d\n%s%s", code, stdout, stderr)
	}

	// Tampered copies: verify fails and names the first record concerned.
	const seq = 5
	for _, tc := range []struct {
		name string
		// tamper returns the eventID to expect, "" for none. The segments
		// are in segDir.
		tamper func(t *testing.T, db *sql.DB, segDir, eventID string) string
		want   string
	}{
		{"edited", func(t *testing.T, db *sql.DB, segDir, eventID string) string {
			// The record's JSON is in its segment; an attacker may put an
			// edited copy in the database.
			body := storedBody(t, db, segDir, seq)
			edited := strings.Replace(body, `"sourceIPAddress":"127.0.0.1"`, `"sourceIPAddress":"192.0.2.1"`, 1)
			if edited == body {
				t.Fatalf("nothing to edit in %s", body)
			}
			exec1(t, db, `UPDATE records SET body = ? WHERE region = ? AND seq = ?`, edited, testRegion, seq)
			return eventID
		}, "altered: us-east-1 record 5"},
		{"deleted", func(t *testing.T, db *sql.DB, _, _ string) string {
			exec1(t, db, `DELETE FROM records WHERE region = ? AND seq = ?`, testRegion, seq)
			return ""
		}, "deleted: us-east-1 record 5"},
		{"inserted", func(t *testing.T, db *sql.DB, segDir, _ string) string {
			// A forged record chained to record 4, with the later records
			// moved up one place, as an attacker without the signing key
			// would do it.
			var prev []byte
			if err := db.QueryRow(`SELECT hash FROM records WHERE region = ? AND seq = ?`, testRegion, seq-1).Scan(&prev); err != nil {
				t.Fatal(err)
			}
			body := storedBody(t, db, segDir, seq-1)
			const forgedID = "00000000-0000-4000-8000-00000000f0f0"
			var rec map[string]any
			if err := json.Unmarshal([]byte(body), &rec); err != nil {
				t.Fatal(err)
			}
			rec["eventID"] = forgedID
			forged, _ := json.Marshal(rec)
			h := sha256.New()
			h.Write(prev)
			h.Write(binary.BigEndian.AppendUint64(nil, seq))
			h.Write(forged)
			exec1(t, db, `UPDATE records SET seq = -(seq + 1) WHERE region = ? AND seq >= ?`, testRegion, seq)
			exec1(t, db, `UPDATE records SET seq = -seq WHERE region = ? AND seq < 0`, testRegion)
			exec1(t, db, `INSERT INTO records (region, seq, prev, hash, body, event_time, event_id, event_name, event_source,
				user_name, access_key_id, request_id, read_only) VALUES (?, ?, ?, ?, ?, 0, ?, 'Encrypt', 'kms.amazonaws.com', '', '', '', 1)`,
				testRegion, seq, prev, h.Sum(nil), string(forged), forgedID)
			return forgedID
		}, "inserted: us-east-1 record 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := filepath.Join(t.TempDir(), "audit.db")
			copyFile(t, filepath.Join(dir, "audit.db"), cp)
			if _, err := os.Stat(filepath.Join(dir, "audit.db-wal")); err == nil {
				copyFile(t, filepath.Join(dir, "audit.db-wal"), cp+"-wal")
			}
			segs, _ := filepath.Glob(filepath.Join(dir, "audit.db.seg.*"))
			if len(segs) == 0 {
				t.Fatal("no audit segments")
			}
			for _, seg := range segs {
				copyFile(t, seg, filepath.Join(filepath.Dir(cp), filepath.Base(seg)))
			}
			db, err := sql.Open("sqlite", cp)
			if err != nil {
				t.Fatal(err)
			}
			eventID := queryString(t, db, `SELECT event_id FROM records WHERE region = ? AND seq = ?`, testRegion, seq)
			wantID := tc.tamper(t, db, filepath.Dir(cp), eventID)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := kmsCmd(t, nil, "audit", "verify", "--data-dir", dir, "--file", cp)
			want := tc.want
			if wantID != "" {
				want += " (eventID " + wantID + ")"
			}
			if code != 1 || !strings.Contains(stderr, "FAILED: "+want) || !strings.Contains(stdout, want) {
				t.Fatalf("verify of the %s copy: exit %d, want 1 and %q\n%s%s", tc.name, code, want, stdout, stderr)
			}
		})
	}
}

// TestAuditVerifyTruncated cuts the audit segment of a stopped server in the
// middle of a record, as a disk that loses synced data would: the server
// starts again and logs on, and `kms audit verify` names the lost records
// and the last intact one, and exits with status 3; tampering besides the
// loss is still status 1.
func TestAuditVerifyTruncated(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	run := func(n int) {
		t.Helper()
		p := startKMS(t, dir, pinned...)
		c := p.client()
		k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.wait(); err != nil {
			t.Fatalf("server exit: %v\n%s", err, p.stderr)
		}
	}
	run(8)

	// Cut the segment inside the frame of record 5.
	dbPath := filepath.Join(dir, "audit.db")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	var seg, off int64
	if err := db.QueryRow(`SELECT segment, segment_offset FROM records WHERE region = ? AND seq = 5`, testRegion).
		Scan(&seg, &off); err != nil {
		t.Fatal(err)
	}
	var first, last, lost int
	if err := db.QueryRow(`SELECT MIN(seq), MAX(seq), COUNT(*) FROM records WHERE region = ? AND segment = ? AND segment_offset >= ?`,
		testRegion, seg, off).Scan(&first, &last, &lost); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if first != 5 || last < 9 || lost != last-4 {
		t.Fatalf("records %d to %d (%d) after record 5 in its segment", first, last, lost)
	}
	if err := os.Truncate(fmt.Sprintf("%s.seg.%d", dbPath, seg), off+20); err != nil {
		t.Fatal(err)
	}

	// The server starts and logs on after the loss.
	run(2)
	stdout, stderr, code := kmsCmd(t, nil, "audit", "verify", "--data-dir", dir)
	line := fmt.Sprintf("%s: segment %d ends early at byte %d: records 5 to %d are lost "+
		"(their frames were cut off, as by a power loss); record 4 is the last intact one\n", testRegion, seg, off, last)
	summary := fmt.Sprintf("%s: records 1..%d (%d)", testRegion, last+3, last+3)
	if code != 3 || !strings.Contains(stdout, line) || !strings.Contains(stdout, summary) || strings.HasSuffix(stdout, "OK\n") ||
		!strings.Contains(stderr, fmt.Sprintf("kms audit verify: TRUNCATED: %d records lost", lost)) {
		t.Fatalf("verify of the cut log: exit %d, want 3 and\n%s%s\ngot:\n%s%s", code, summary, line, stdout, stderr)
	}
	if strings.Contains(stdout, "altered") || strings.Contains(stderr, "FAILED") {
		t.Fatalf("the loss is reported as tampering:\n%s%s", stdout, stderr)
	}
	t.Logf("verify of the cut log, exit %d:\n%s%s", code, stdout, stderr)
	// Export leaves out the lost records.
	stdout, stderr, code = kmsCmd(t, nil, "audit", "export", "--data-dir", dir)
	if evs := parseLines(t, stdout); code != 0 || len(evs) != last+3-lost {
		t.Fatalf("export of the cut log: exit %d, %d records, want %d\n%s", code, len(evs), last+3-lost, stderr)
	}

	// Tampering besides the loss: status 1.
	cp := filepath.Join(t.TempDir(), "audit.db")
	copyFile(t, dbPath, cp)
	if _, err := os.Stat(dbPath + "-wal"); err == nil {
		copyFile(t, dbPath+"-wal", cp+"-wal")
	}
	segs, _ := filepath.Glob(dbPath + ".seg.*")
	for _, s := range segs {
		copyFile(t, s, filepath.Join(filepath.Dir(cp), filepath.Base(s)))
	}
	db, err = sql.Open("sqlite", cp)
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, db, `DELETE FROM records WHERE region = ? AND seq = ?`, testRegion, last+2)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = kmsCmd(t, nil, "audit", "verify", "--data-dir", dir, "--file", cp)
	if want := fmt.Sprintf("FAILED: deleted: %s record %d", testRegion, last+2); code != 1 || !strings.Contains(stderr, want) ||
		!strings.Contains(stdout, line) {
		t.Fatalf("verify of the cut and tampered copy: exit %d, want 1 and %q\n%s%s", code, want, stdout, stderr)
	}
}

// storedBody reads the JSON of record seq from its segment in segDir: the
// frame at the record's offset is a 4-byte length, a 4-byte checksum, then
// the JSON.
func storedBody(t *testing.T, db *sql.DB, segDir string, seq int) string {
	t.Helper()
	var seg, off int64
	if err := db.QueryRow(`SELECT segment, segment_offset FROM records WHERE region = ? AND seq = ?`, testRegion, seq).
		Scan(&seg, &off); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(segDir, fmt.Sprintf("audit.db.seg.%d", seg)))
	if err != nil {
		t.Fatal(err)
	}
	n := int64(binary.BigEndian.Uint32(b[off:]))
	return string(b[off+8 : off+8+n])
}

// TestAuditRetentionFlag: --audit-retention and its variable are parsed
// before anything is opened.
func TestAuditRetentionFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
	}{
		{[]string{"--audit-retention", "5x"}, nil},
		{nil, []string{"KMS_AUDIT_RETENTION=-1h"}},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		_, stderr, code := kmsCmd(t, tc.env, append([]string{"server", "--data-dir", dir, "--listen", "127.0.0.1:0"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, "bad --audit-retention") {
			t.Fatalf("%v %v: exit %d\n%s", tc.args, tc.env, code, stderr)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a bad flag created the data dir: %v", err)
		}
	}
}

func queryString(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	var s string
	if err := db.QueryRow(query, args...).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func exec1(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAuditVerifySeal: verify opens the root key as the server does, from a
// key file kept elsewhere or a passphrase, and fails without it.
func TestAuditVerifySeal(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "root.key")
	for _, tc := range []struct {
		name   string
		server []string // environment of the server and of a good verify
		bad    []string // environment of a verify that must fail
		want   string
	}{
		{"key file", []string{"KMS_SEAL_KEY_FILE=" + keyFile}, nil, "cannot read root key file"},
		{"passphrase", []string{"KMS_SEAL_PASSPHRASE=correct horse battery staple"},
			[]string{"KMS_SEAL_PASSPHRASE=wrong horse battery staple"}, "wrong passphrase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := startKMS(t, dir, append(tc.server, pinned...)...)
			if _, err := p.client().CreateKey(context.Background(), &awskms.CreateKeyInput{}); err != nil {
				t.Fatal(err)
			}
			if stdout, stderr, code := kmsCmd(t, tc.server, "audit", "verify", "--data-dir", dir); code != 0 || !strings.HasSuffix(stdout, "OK\n") {
				t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
			}
			if _, stderr, code := kmsCmd(t, tc.bad, "audit", "verify", "--data-dir", dir); code != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("verify without the root key: exit %d, want 1 and %q\n%s", code, tc.want, stderr)
			}
		})
	}
}
