package server_test

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/pgtest"
	"github.com/openkms/kms/internal/server"
)

// startAdmin is startServer with an admin listener; it returns the
// admin listener's base URL too.
func startAdmin(t testing.TB, cfg server.Config) (*testServer, string) {
	t.Helper()
	if cfg.DataDir == "" && !cfg.Ephemeral {
		cfg.DataDir = t.TempDir()
	}
	if onPostgres && cfg.Store == "" && !cfg.Ephemeral {
		cfg.Store = pgtest.DSN(t)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminListen = "127.0.0.1:0"
	cfg.RootAccessKeyID, cfg.RootSecretAccessKey = testAccessKeyID, testSecret
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := server.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.Listen()
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	aln, err := srv.ListenAdmin()
	if err != nil {
		ln.Close()
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	ts := &testServer{Server: srv, URL: "http://" + ln.Addr().String()}
	ts.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		srv.Close()
	})
	t.Cleanup(ts.stop)
	return ts, "http://" + aln.Addr().String()
}

// getAdmin returns the status and body of a GET of the admin listener.
func getAdmin(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape parses the admin listener's /metrics.
func scrape(t testing.TB, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	status, body := getAdmin(t, admin+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// sample finds the metric of family name with exactly the given labels
// (nil if there is none).
func sample(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.Metric {
		if len(m.Label) != len(labels) {
			continue
		}
		for _, l := range m.Label {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

func counter(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	m := sample(mfs, name, labels)
	if m == nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

func gauge(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	m := sample(mfs, name, labels)
	if m == nil {
		return -1
	}
	return m.GetGauge().GetValue()
}

func TestMetricsRequests(t *testing.T) {
	ts, admin := startAdmin(t, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{}))
	must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify}))
	for range 3 {
		must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")}))
	}
	_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: []byte("not a ciphertext blob at all, too short?")})
	wantCode(t, err, "InvalidCiphertextException")
	_, err = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k.KeyMetadata.Arn})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000")})
	wantCode(t, err, "NotFoundException")
	_, err = c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: k.KeyMetadata.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	// Loads the key into the cache again (DisableKey dropped it).
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
	wantCode(t, err, "DisabledException")
	bad := newClient(ts.URL, testRegion, testAccessKeyID, "wrong-secret")
	_, err = bad.ListKeys(ctx, &awskms.ListKeysInput{})
	wantCode(t, err, "InvalidSignatureException")
	// Not an operation: counted as unknown, not by the name asked.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "TrentService.NoSuchOperation-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	mfs := scrape(t, admin)
	for _, c := range []struct {
		op, code string
		want     float64
	}{
		{"CreateKey", "OK", 2},
		{"Encrypt", "OK", 3},
		{"Encrypt", "DisabledException", 1},
		{"Decrypt", "InvalidCiphertextException", 1},
		{"DescribeKey", "OK", 1},
		{"DescribeKey", "NotFoundException", 1},
		{"DisableKey", "OK", 1},
		{"ListKeys", "InvalidSignatureException", 1},
		{"unknown", "UnknownOperationException", 1},
	} {
		if got := counter(mfs, "kms_requests_total", map[string]string{"operation": c.op, "code": c.code}); got != c.want {
			t.Errorf("kms_requests_total{operation=%q,code=%q} = %v, want %v", c.op, c.code, got, c.want)
		}
	}
	for op, want := range map[string]uint64{"CreateKey": 2, "Encrypt": 4, "DescribeKey": 2, "unknown": 1} {
		m := sample(mfs, "kms_request_duration_seconds", map[string]string{"operation": op})
		if m == nil {
			t.Errorf("no kms_request_duration_seconds{operation=%q}", op)
			continue
		}
		h := m.GetHistogram()
		if h.GetSampleCount() != want {
			t.Errorf("kms_request_duration_seconds{operation=%q} count = %d, want %d", op, h.GetSampleCount(), want)
		}
		if h.GetSampleSum() <= 0 {
			t.Errorf("kms_request_duration_seconds{operation=%q} sum = %v", op, h.GetSampleSum())
		}
	}
	// Three Encrypts and a DisableKey of one key: loaded once, then
	// cached; a cluster node's cache is used only once its feed is
	// trusted, which it may not be yet.
	if got := counter(mfs, "kms_key_cache_hits_total", nil); got < 2 && !onPostgres {
		t.Errorf("kms_key_cache_hits_total = %v, want at least 2", got)
	}
	if got := counter(mfs, "kms_key_cache_misses_total", nil); got < 1 {
		t.Errorf("kms_key_cache_misses_total = %v, want at least 1", got)
	}
	if got := gauge(mfs, "kms_key_cache_keys", nil); got < 1 && !onPostgres || got < 0 {
		t.Errorf("kms_key_cache_keys = %v, want at least 1", got)
	}
	for _, c := range []struct {
		state, spec string
		want        float64
	}{
		{"Disabled", "SYMMETRIC_DEFAULT", 1},
		{"Enabled", "RSA_2048", 1},
		{"Enabled", "SYMMETRIC_DEFAULT", -1}, // none: no series
	} {
		if got := gauge(mfs, "kms_keys", map[string]string{"state": c.state, "spec": c.spec}); got != c.want {
			t.Errorf("kms_keys{state=%q,spec=%q} = %v, want %v", c.state, c.spec, got, c.want)
		}
	}
	if got := counter(mfs, "kms_audit_records_total", nil); got < 10 {
		t.Errorf("kms_audit_records_total = %v, want at least 10 (one a request)", got)
	}
	if got := counter(mfs, "kms_audit_failures_total", nil); got != 0 {
		t.Errorf("kms_audit_failures_total = %v, want 0", got)
	}
	if m := sample(mfs, "kms_audit_sync_duration_seconds", nil); m == nil || m.GetHistogram().GetSampleCount() < 1 {
		t.Errorf("kms_audit_sync_duration_seconds = %v, want a histogram of a sync at least (CreateKey waits for one)", m)
	} else {
		checkHistogram(t, "kms_audit_sync_duration_seconds", m.GetHistogram(), len(audit.SyncBounds)+1) // +Inf too
	}
	if got := gauge(mfs, "kms_audit_queue_length", nil); got < 0 {
		t.Errorf("kms_audit_queue_length = %v, want a value", got)
	}
	if onPostgres {
		if mfs["kms_cluster_invalidations_total"] == nil || mfs["kms_cluster_feed_trusted"] == nil || mfs["kms_cluster_nodes"] == nil {
			t.Error("a cluster node has no kms_cluster_* metrics")
		}
	} else if mfs["kms_cluster_invalidations_total"] != nil {
		t.Error("kms_cluster_invalidations_total on the embedded store")
	}
	// Every call to the store is timed: CreateKey wrote a key.
	if m := sample(mfs, "kms_store_duration_seconds", map[string]string{"call": "CreateKey"}); m == nil || m.GetHistogram().GetSampleCount() != 2 {
		t.Errorf("kms_store_duration_seconds{call=\"CreateKey\"} = %v, want 2 calls", m)
	}
	checkLabels(t, mfs)
}

// checkHistogram checks that h has the buckets asked for, cumulative
// and none above its count.
func checkHistogram(t *testing.T, name string, h *dto.Histogram, buckets int) {
	t.Helper()
	if len(h.Bucket) != buckets {
		t.Errorf("%s has %d buckets, want %d", name, len(h.Bucket), buckets)
	}
	var last uint64
	for _, b := range h.Bucket {
		if b.GetCumulativeCount() < last || b.GetCumulativeCount() > h.GetSampleCount() {
			t.Errorf("%s bucket le=%v has %d (count %d, previous bucket %d)", name, b.GetUpperBound(), b.GetCumulativeCount(), h.GetSampleCount(), last)
		}
		last = b.GetCumulativeCount()
	}
}

// idLike matches what must never be a label value: key ids, ARNs,
// account ids, access key ids.
var idLike = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-|arn:|\d{12}|AKIA|ASIA|alias/`)

// checkLabels fails on a label value that looks like an identifier.
func checkLabels(t *testing.T, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	for name, mf := range mfs {
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if idLike.MatchString(l.GetValue()) {
					t.Errorf("%s has label %s=%q, which looks like an identifier", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestAdminHealthAndReadiness(t *testing.T) {
	ts, admin := startAdmin(t, server.Config{})
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := getAdmin(t, admin+path); status != http.StatusOK || body != "ok\n" {
			t.Errorf("GET %s = %d %q, want 200 ok", path, status, body)
		}
	}
	// The profiler is off unless asked for, and the API is not served.
	if status, _ := getAdmin(t, admin+"/debug/pprof/"); status != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ without AdminPprof = %d, want 404", status)
	}
	ts.stop()
	if _, err := http.Get(admin + "/readyz"); err == nil {
		t.Error("the admin listener still answers after Serve returned")
	}
}

func TestAdminPprof(t *testing.T) {
	_, admin := startAdmin(t, server.Config{AdminPprof: true})
	if status, _ := getAdmin(t, admin+"/debug/pprof/"); status != http.StatusOK {
		t.Errorf("GET /debug/pprof/ with AdminPprof = %d, want 200", status)
	}
}

func TestAdminCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  server.Config
		want string // "" accepts
	}{
		{"loopback", server.Config{AdminListen: "127.0.0.1:7901"}, ""},
		{"localhost", server.Config{AdminListen: "localhost:7901"}, ""},
		{"public", server.Config{AdminListen: "0.0.0.0:7901"}, "non-loopback"},
		{"public insecure", server.Config{AdminListen: "0.0.0.0:7901", AdminInsecureHTTP: true}, ""},
		{"public pprof", server.Config{AdminListen: "0.0.0.0:7901", AdminInsecureHTTP: true, AdminPprof: true}, "--admin-pprof"},
		{"pprof alone", server.Config{AdminPprof: true}, "--admin-listen"},
		{"no port", server.Config{AdminListen: "127.0.0.1"}, "--admin-listen"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.DataDir = t.TempDir()
			err := c.cfg.Check()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("Check: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("Check = %v, want an error about %s", err, c.want)
			}
		})
	}
}

// TestMetricsOnPostgres: the same metrics on a cluster node, with its
// change feed's.
func TestMetricsOnPostgres(t *testing.T) {
	onPostgres = true
	defer func() { onPostgres = false }()
	TestMetricsRequests(t)
	ts, admin := startAdmin(t, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{}))
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: k.KeyMetadata.KeyId}))
	// The node hears of its own change through the feed, soon.
	var mfs map[string]*dto.MetricFamily
	for range 100 {
		mfs = scrape(t, admin)
		if counter(mfs, "kms_cluster_invalidations_total", map[string]string{"kind": "key"}) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := counter(mfs, "kms_cluster_invalidations_total", map[string]string{"kind": "key"}); got < 1 {
		t.Errorf("kms_cluster_invalidations_total{kind=\"key\"} = %v, want at least 1", got)
	}
	if got := gauge(mfs, "kms_cluster_last_invalidation_age_seconds", nil); got < 0 || got > 60 {
		t.Errorf("kms_cluster_last_invalidation_age_seconds = %v", got)
	}
	// Ready once the feed has brought back a ping of the node's.
	status, body := 0, ""
	for range 100 {
		if status, body = getAdmin(t, admin+"/readyz"); status == http.StatusOK {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status != http.StatusOK {
		t.Errorf("GET /readyz on a cluster node = %d %s", status, body)
	}
}

// TestAdminUsage: GET /usage reports the trail's requests and key-hours,
// as `kms usage` does, and refuses bad parameters.
func TestAdminUsage(t *testing.T) {
	ts, admin := startAdmin(t, server.Config{})
	c := ts.client(testRegion)
	// Two hours from the one the workload starts in: it is all inside
	// even if it crosses into the next, and the key is billed both.
	hour := time.Now().UTC().Truncate(time.Hour)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	for range 3 {
		must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")}))
	}
	q := "?since=" + hour.Format(time.RFC3339) + "&until=" + hour.Add(2*time.Hour).Format(time.RFC3339)
	status, body := getAdmin(t, admin+"/usage"+q+"&format=csv")
	if status != http.StatusOK {
		t.Fatalf("GET /usage = %d %s", status, body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var row []string
	for _, r := range rows {
		if len(r) > 1 && r[1] == *k.Arn {
			row = r
		}
	}
	// CreateKey and 3 Encrypt; the key's two hours.
	if row == nil || row[4] != "4" || row[12] != "2" {
		t.Fatalf("the key's row %v in\n%s", row, body)
	}
	if status, body := getAdmin(t, admin+"/usage"+q); status != http.StatusOK || !strings.HasPrefix(body, "{") {
		t.Errorf("GET /usage as JSON = %d %.80s", status, body)
	}
	for _, bad := range []string{"", "?since=yesterday", q + "&by=region", q + "&format=xml", "?since=" + hour.Format(time.RFC3339) + "&until=" + hour.Format(time.RFC3339)} {
		if status, _ := getAdmin(t, admin+"/usage"+bad); status != http.StatusBadRequest {
			t.Errorf("GET /usage%s = %d, want 400", bad, status)
		}
	}
}
