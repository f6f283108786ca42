package server

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/openkms/kms/internal/api"
	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/store"
)

// Metrics of a server, on a registry of its own: two servers in one
// process (tests, kmstest) keep theirs apart. No label carries a key id,
// an ARN, an account id or anything a request chose freely, so their
// number is bounded by the code: operations come from the route tables
// and error codes from the error constants.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	// ops holds each operation's children resolved once, so that a
	// request's Observe allocates nothing; read-only after newMetrics.
	ops     map[string]*opMetrics
	unknown *opMetrics

	// A cluster node's invalidations from its change feed, by kind, and
	// when the last one came (UnixNano; the feed's start before any).
	invalidations    *prometheus.CounterVec
	lastInvalidation atomic.Int64
	clusterNodes     atomic.Int64 // nodes joined to the database, last counted (quotashare.go)
}

type opMetrics struct {
	name    string
	ok      prometheus.Counter
	latency prometheus.Observer
}

// unknownOp labels requests that named no operation this server knows.
const unknownOp = "unknown"

// okCode is the code label of a request answered without an error.
const okCode = "OK"

// requestBuckets span a cached Encrypt (tens of microseconds) to a
// cluster request waiting for its database (seconds).
var requestBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), ops: map[string]*opMetrics{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kms_requests_total",
		Help: "API requests answered, by operation and error code (OK on success).",
	}, []string{"operation", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kms_request_duration_seconds",
		Help:    "Time from a request's arrival to its answer, by operation.",
		Buckets: requestBuckets,
	}, []string{"operation"})
	m.reg.MustRegister(m.requests, latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	resolve := func(name string) *opMetrics {
		return &opMetrics{name: name, ok: m.requests.WithLabelValues(name, okCode), latency: latency.WithLabelValues(name)}
	}
	for _, name := range api.Operations() {
		m.ops[name] = resolve(name)
	}
	m.unknown = resolve(unknownOp)
	return m
}

// Observe implements api.Observer.
func (m *metrics) Observe(op, code string, start time.Time) {
	o := m.ops[op]
	if o == nil {
		o = m.unknown
	}
	o.latency.Observe(time.Since(start).Seconds())
	if code == "" {
		o.ok.Inc()
		return
	}
	m.requests.WithLabelValues(o.name, code).Inc()
}

// watchFeed makes the counters of a change feed's invalidations; before
// the feed starts, which calls invalidated from its goroutine.
func (m *metrics) watchFeed() {
	m.invalidations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kms_cluster_invalidations_total",
		Help: "Cache invalidations this node received from the cluster's change feed, by kind (reset: the feed reconnected and every entry went).",
	}, []string{"kind"})
	for _, k := range invalidationKinds {
		m.invalidations.WithLabelValues(k)
	}
	m.lastInvalidation.Store(time.Now().UnixNano())
}

// invalidated counts an invalidation of a cluster node's caches.
func (m *metrics) invalidated(kind string) {
	if m.invalidations == nil {
		return
	}
	m.invalidations.WithLabelValues(kind).Inc()
	m.lastInvalidation.Store(time.Now().UnixNano())
}

// The kinds of invalidation counted: a change's kind, "other" for one
// this binary does not know, "reset" when the feed reconnected and every
// cache entry went.
var invalidationKinds = []string{"key", "alias", "identity", "other", "reset"}

// registerState adds the metrics read from the server's parts at each
// scrape; on a cluster node, those of its change feed too.
func (s *Server) registerState() {
	m := s.metrics
	m.reg.MustRegister(stateCollector{s})
	if s.feed == nil {
		return
	}
	m.reg.MustRegister(m.invalidations,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kms_cluster_last_invalidation_age_seconds",
			Help: "Seconds since the last invalidation from the change feed (since the feed started, before the first).",
		}, func() float64 { return time.Since(time.Unix(0, m.lastInvalidation.Load())).Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kms_cluster_nodes",
			Help: "Nodes running on the cluster's database, as this node last counted them (every 5 s).",
		}, func() float64 { return float64(m.clusterNodes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kms_cluster_feed_trusted",
			Help: "1 while the change feed is trusted (the node uses its caches), else 0.",
		}, func() float64 {
			if s.feed.Trusted() {
				return 1
			}
			return 0
		}))
}

var (
	descCacheHits    = prometheus.NewDesc("kms_key_cache_hits_total", "Lookups of a key by id that found it in the key cache.", nil, nil)
	descCacheMisses  = prometheus.NewDesc("kms_key_cache_misses_total", "Lookups of a key by id that read it from the store.", nil, nil)
	descCacheKeys    = prometheus.NewDesc("kms_key_cache_keys", "Keys in the key cache now.", nil, nil)
	descAuditRecords = prometheus.NewDesc("kms_audit_records_total", "Audit records written.", nil, nil)
	descAuditFails   = prometheus.NewDesc("kms_audit_failures_total", "Audit writes, syncs and transactions that failed (requests are refused meanwhile).", nil, nil)
	descAuditSync    = prometheus.NewDesc("kms_audit_sync_duration_seconds", "Time of the syncs that made audit records durable (fdatasync; on a cluster, synchronous commits).", nil, nil)
	descAuditQueue   = prometheus.NewDesc("kms_audit_queue_length", "Audit records waiting for the writer now.", nil, nil)
	descKeys         = prometheus.NewDesc("kms_keys", "Keys of every account, by state and key spec.", []string{"state", "spec"}, nil)
)

// stateCollector reads the key cache's and the audit trail's counts, and
// the keys by state and spec (one GROUP BY query of the store), at each
// scrape.
type stateCollector struct{ s *Server }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCacheHits, descCacheMisses, descCacheKeys, descAuditRecords, descAuditFails, descAuditSync, descAuditQueue, descKeys} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	cs := s.Service.CacheStats()
	ch <- prometheus.MustNewConstMetric(descCacheHits, prometheus.CounterValue, float64(cs.Hits))
	ch <- prometheus.MustNewConstMetric(descCacheMisses, prometheus.CounterValue, float64(cs.Misses))
	ch <- prometheus.MustNewConstMetric(descCacheKeys, prometheus.GaugeValue, float64(cs.Keys))
	if s.Audit != nil {
		as := s.Audit.Stats()
		ch <- prometheus.MustNewConstMetric(descAuditRecords, prometheus.CounterValue, float64(as.Records))
		ch <- prometheus.MustNewConstMetric(descAuditFails, prometheus.CounterValue, float64(as.Failures))
		ch <- auditSyncHistogram(as)
		ch <- prometheus.MustNewConstMetric(descAuditQueue, prometheus.GaugeValue, float64(as.Queued))
	}
	kc, ok := s.store.(store.KeyCounter)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := kc.CountKeys(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descKeys, err)
		return
	}
	for _, k := range counts {
		ch <- prometheus.MustNewConstMetric(descKeys, prometheus.GaugeValue, float64(k.N), string(k.State), string(k.Spec))
	}
}

// auditSyncHistogram makes the trail's counts of syncs by time
// (audit.SyncBounds) a histogram, so that dashboards can show its p99
// and not only the mean. The count is the buckets' total, not as.Syncs:
// both are read while syncs go on, and a histogram whose count is below
// its last bucket would confuse histogram_quantile.
func auditSyncHistogram(as audit.Stats) prometheus.Metric {
	buckets := make(map[float64]uint64, len(audit.SyncBounds))
	var n uint64
	for i, b := range audit.SyncBounds {
		n += as.SyncBuckets[i]
		buckets[b.Seconds()] = n
	}
	n += as.SyncBuckets[len(audit.SyncBounds)]
	return prometheus.MustNewConstHistogram(descAuditSync, n, as.SyncTime.Seconds(), buckets)
}
