package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testKey is a fixed signing key, so failures reproduce.
func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("audit test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testConfig is a config for a fresh file in a temporary directory; long
// intervals, so that only the test decides when checkpoints happen.
func testConfig(t *testing.T) Config {
	return Config{
		Path:               filepath.Join(t.TempDir(), "audit.db"),
		Signer:             testKey("log"),
		CheckpointEvery:    10,
		CheckpointInterval: time.Hour,
		RetryInterval:      time.Hour,
		Logger:             quiet,
	}
}

func openLog(t testing.TB, cfg Config) *Log {
	t.Helper()
	l, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

const (
	acct   = "111122223333"
	keyID1 = "1234abcd-12ab-34cd-56ef-1234567890ab"
	keyID2 = "0987dcba-09fe-87dc-65ba-ab0987654321"
)

func keyARN(region, id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, acct, id)
}

// alice is an IAM user's identity.
var alice = &UserIdentity{
	Type: "IAMUser", PrincipalID: "AIDAEXAMPLE", ARN: "arn:aws:iam::" + acct + ":user/Alice",
	AccountID: acct, AccessKeyID: "AKIAALICE", UserName: "Alice",
}

// kmsRecord is a successful KMS call by Alice on key id in region.
func kmsRecord(region, name, id string) *Record {
	r := &Record{
		UserIdentity:       alice,
		EventSource:        EventSourceKMS,
		EventName:          name,
		AWSRegion:          region,
		SourceIPAddress:    "192.0.2.1",
		UserAgent:          "test",
		RequestParameters:  map[string]any{"keyId": id},
		RequestID:          NewEventID(),
		ReadOnly:           true,
		EventType:          EventTypeAPICall,
		ManagementEvent:    true,
		RecipientAccountID: acct,
		EventCategory:      CategoryMgmt,
	}
	if id != "" {
		r.Resources = []Resource{{AccountID: acct, Type: ResourceTypeKey, ARN: keyARN(region, id)}}
	}
	return r
}

func appendN(t testing.TB, l *Log, region string, n int) []*Record {
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

// rawDB opens the file with a separate, writable connection, as an
// attacker (or a test) would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	d, err := dsn(path, "_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", d)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func verify(t *testing.T, path string, k ed25519.PrivateKey) *Report {
	t.Helper()
	rep, err := Verify(t.Context(), path, pub(k))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func mustVerify(t *testing.T, path string, k ed25519.PrivateKey) *Report {
	t.Helper()
	rep := verify(t, path, k)
	if !rep.OK() {
		t.Fatalf("Verify found problems:\n%s", rep)
	}
	return rep
}

func regionReport(t *testing.T, rep *Report, region string) RegionReport {
	t.Helper()
	for _, g := range rep.Regions {
		if g.Region == region {
			return g
		}
	}
	t.Fatalf("no report for region %s:\n%s", region, rep)
	return RegionReport{}
}

// waitFor polls cond until it holds, failing the test after a long while
// (which only a broken build takes: tests assert on outcomes, not time).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
