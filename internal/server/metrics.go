package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/openkms/kms/internal/api"
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
