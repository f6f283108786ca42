package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestDueTimes(t *testing.T) {
	tests := []struct {
		rate float64
		i    int64
		want time.Duration
	}{
		{1000, 0, 0},
		{1000, 1, time.Millisecond},
		{1000, 999, 999 * time.Millisecond},
		{3, 1, 333333333},
		{3, 2, 666666667},
		{3, 3, time.Second},
		{3, 3_000_000, 1_000_000 * time.Second}, // no drift from adding up 1/rate
		{0.5, 3, 6 * time.Second},
		{MaxRate, 7, 7 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := dueOffset(tt.i, tt.rate); got != tt.want {
			t.Errorf("dueOffset(%d, %g) = %v, want %v", tt.i, tt.rate, got, tt.want)
		}
	}
}

func TestSlotsBefore(t *testing.T) {
	tests := []struct {
		d    time.Duration
		rate float64
		want int64
	}{
		{0, 1000, 0},
		{-time.Second, 1000, 0},
		{time.Second, 1000, 1000},        // due at 0 ... 999 ms
		{time.Second + 1, 1000, 1001},    // and at 1 s
		{time.Second, 3, 3},              // 0, 333 ms, 667 ms
		{999 * time.Millisecond, 1.5, 2}, // 0, 667 ms
		{100 * time.Millisecond, 5, 1},   // only the one due at 0
		{10 * time.Second, MaxRate, 1e7},
		{time.Nanosecond, 1e-3, 1},    // a slow rate still sends at 0
		{1000 * time.Second, 1e-3, 1}, // 0; the next is due at 1000 s
		{1001 * time.Second, 1e-3, 2},
		{time.Hour, 7, 7 * 3600},
		{time.Millisecond, 1, 1},
		{3 * time.Millisecond, 1000, 3},
		{2500 * time.Microsecond, 1000, 3}, // 0, 1, 2 ms
	}
	for _, tt := range tests {
		got := slotsBefore(tt.d, tt.rate)
		if got != tt.want {
			t.Errorf("slotsBefore(%v, %g) = %d, want %d", tt.d, tt.rate, got, tt.want)
		}
		// By definition: the last one is due before d, the next one not.
		if got > 0 && dueOffset(got-1, tt.rate) >= tt.d || tt.d > 0 && dueOffset(got, tt.rate) < tt.d {
			t.Errorf("slotsBefore(%v, %g) = %d is not the count of those due before", tt.d, tt.rate, got)
		}
	}
}

// TestSchedule: the warmup's iterations come first, the window's follow
// on the same schedule, and the deadline is the end plus Grace.
func TestSchedule(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name             string
		cfg              Config
		first, end       int64
		windowStart, ddl time.Duration // after start
	}{
		{"duration, no warmup", Config{Rate: 100, Duration: time.Second}, 0, 100, 0, time.Second + Grace},
		{"duration after warmup", Config{Rate: 100, Duration: time.Second, Warmup: 500 * time.Millisecond},
			50, 150, 500 * time.Millisecond, 1500*time.Millisecond + Grace},
		{"requests after warmup", Config{Rate: 4, Requests: 10, Warmup: time.Second},
			4, 14, time.Second, 3500*time.Millisecond + Grace},
		{"warmup between two due times", Config{Rate: 3, Requests: 3, Warmup: 500 * time.Millisecond},
			2, 5, 666666667, 1666666667 + Grace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSchedule(&tt.cfg, start)
			if s.first != tt.first || s.end != tt.end {
				t.Errorf("iterations [%d, %d), want [%d, %d)", s.first, s.end, tt.first, tt.end)
			}
			if got := s.windowStart.Sub(start); got != tt.windowStart {
				t.Errorf("window starts at %v, want %v", got, tt.windowStart)
			}
			if got := s.deadline.Sub(start); got != tt.ddl {
				t.Errorf("deadline at %v, want %v", got, tt.ddl)
			}
			for i := s.first; i < s.end; i++ {
				if s.due(i).Before(s.windowStart) || !s.due(i).Before(s.deadline.Add(-Grace)) {
					t.Fatalf("iteration %d due at %v, outside the window", i, s.due(i).Sub(start))
				}
			}
		})
	}
}

// stalling is the floor server, but the first Encrypt it gets waits for
// stall before answering, and every request for each after it.
func stalling(first, each time.Duration, got *atomic.Int64) *httptest.Server {
	floor := FloorHandler("")
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "TrentService.Encrypt" {
			if got.Add(1) == 1 {
				time.Sleep(first)
			}
			time.Sleep(each)
		}
		floor.ServeHTTP(w, r)
	}))
}

// TestOpenLoopCountsFromTheSchedule: when the server stalls, the requests
// due meanwhile start late, and their latencies include the wait, which a
// closed loop would leave out. The figures checked are lower bounds the
// stall makes certain, however fast the machine.
func TestOpenLoopCountsFromTheSchedule(t *testing.T) {
	const stall = 200 * time.Millisecond
	var got atomic.Int64
	srv := stalling(stall, 0, &got)
	defer srv.Close()
	ctx := context.Background()
	// One worker, a request due every 10 ms: those due at 10 ... 190 ms
	// wait for the first, which ends after 200 ms.
	cfg := Config{Op: OpEncrypt, Concurrency: 1, Rate: 100, Requests: 20, KeyIDs: []string{"k"}, Size: 10}
	b, err := New(ctx, cfg, testClient(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Run(ctx, target(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	o := r.OpenLoop
	if o == nil {
		t.Fatal("no open-loop figures")
	}
	sent := o.Scheduled - o.Unsent
	if o.Scheduled != 20 || r.Requests != sent || r.ErrorCount != 0 || o.TargetRate != 100 {
		t.Fatalf("scheduled %d, unsent %d, requests %d, errors %v, rate %g", o.Scheduled, o.Unsent, r.Requests, r.Errors, o.TargetRate)
	}
	if o.Late < sent-1 {
		t.Errorf("%d late of %d sent; every one after the first waited for it", o.Late, sent)
	}
	// Iteration i (due at 10i ms) ended after 200 ms: its latency is at
	// least 200 - 10i ms. The max is the first's; the median (the 10th
	// of 20) is at least the 10th smallest of those bounds, 100 ms.
	precision := 1 - 1.0/subCount
	if r.LatencyMs.Max < 200 {
		t.Errorf("max latency %.3f ms, want at least the %v stall", r.LatencyMs.Max, stall)
	}
	if sent == 20 && r.LatencyMs.P50 < 100*precision {
		t.Errorf("p50 %.3f ms, want at least 100 ms: latencies leave out the wait", r.LatencyMs.P50)
	}

	// The closed loop, for contrast, measures the same stall once.
	got.Store(0)
	cfg.Rate = 0
	b, err = New(ctx, cfg, testClient(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	r, err = b.Run(ctx, target(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if r.OpenLoop != nil || r.Requests != 20 || r.LatencyMs.Max < 200 {
		t.Errorf("closed loop: open-loop figures %v, %d requests, max %.3f ms", r.OpenLoop, r.Requests, r.LatencyMs.Max)
	}
}

// TestOpenLoopFallsBehind: a server far slower than the rate does not
// make the run last longer than its schedule plus Grace and the requests
// in flight, and the result says how many were not sent.
func TestOpenLoopFallsBehind(t *testing.T) {
	const each = 50 * time.Millisecond
	var got atomic.Int64
	srv := stalling(0, each, &got)
	defer srv.Close()
	ctx := context.Background()
	// 100 due in 100 ms; 2 workers at 50 ms a request send at most 2 ×
	// (1.1 s / 50 ms + 1) = 46 of them by the deadline.
	cfg := Config{Op: OpEncrypt, Concurrency: 2, Rate: 1000, Duration: 100 * time.Millisecond, KeyIDs: []string{"k"}, Size: 10}
	b, err := New(ctx, cfg, testClient(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Run(ctx, target(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	o := r.OpenLoop
	if o.Scheduled != 100 || o.Unsent < 100-46 || r.Requests != o.Scheduled-o.Unsent || got.Load() != r.Requests {
		t.Fatalf("scheduled %d, unsent %d, requests %d, the server got %d", o.Scheduled, o.Unsent, r.Requests, got.Load())
	}
	if o.AchievedRate >= o.TargetRate {
		t.Errorf("achieved %g/s of %g/s with most requests unsent", o.AchievedRate, o.TargetRate)
	}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "FELL BEHIND") {
		t.Errorf("the table does not say the driver fell behind:\n%s", table.String())
	}
}

// TestOpenLoopEveryOp runs each op in the open loop against the floor
// server, with a warmup that is sent but not counted.
func TestOpenLoopEveryOp(t *testing.T) {
	floor := FloorHandler("")
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		floor.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, op := range Ops {
		t.Run(string(op), func(t *testing.T) {
			cfg := Config{Op: op, Concurrency: 2, Rate: 500, Requests: 15, Warmup: 10 * time.Millisecond, KeyIDs: []string{"k1", "k2"}}
			b, err := New(ctx, cfg, testClient(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			served.Store(0)
			r, err := b.Run(ctx, target(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			o := r.OpenLoop
			perIteration := int64(1)
			if op == OpEncryptDecrypt {
				perIteration = 2
			}
			sent := o.Scheduled - o.Unsent
			if o.Scheduled != 15 || r.Requests != sent*perIteration || r.ErrorCount != 0 {
				t.Fatalf("scheduled %d, unsent %d, requests %d, errors %v", o.Scheduled, o.Unsent, r.Requests, r.ErrorMessages)
			}
			// The warmup's 5 iterations (due at 0, 2, ... 8 ms) are
			// sent unless the window starts first, and never counted.
			if n := served.Load(); n < r.Requests || n > r.Requests+5*perIteration {
				t.Errorf("the server got %d requests, the window %d", n, r.Requests)
			}
			if o.Late > sent || o.AchievedRate <= 0 || r.DurationS <= 0 {
				t.Errorf("late %d, achieved %g/s, duration %gs", o.Late, o.AchievedRate, r.DurationS)
			}
		})
	}
}

// TestOpenLoopInterrupted: an interruption during the window ends the run
// at once with what was measured; during the warmup, with ctx's error.
func TestOpenLoopInterrupted(t *testing.T) {
	floor := FloorHandler("")
	for _, tt := range []struct {
		name   string
		warmup time.Duration
	}{{"in the window", 0}, {"in the warmup", time.Hour}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 10 {
					cancel()
				}
				floor.ServeHTTP(w, r)
			}))
			defer srv.Close()
			cfg := Config{Op: OpGenerateDataKey, Concurrency: 4, Rate: 200, Duration: time.Hour, Warmup: tt.warmup, KeyIDs: []string{"k"}}
			b, err := New(ctx, cfg, testClient(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			r, err := b.Run(ctx, target(srv.URL))
			if tt.warmup > 0 {
				if err == nil {
					t.Fatalf("interrupted warmup: no error, result %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !r.Interrupted || r.Requests < 10 || r.ErrorCount != 0 || r.Scheduled >= 3600*200 || r.Scheduled < r.Requests {
				t.Fatalf("interrupted %v, requests %d, scheduled %d, errors %v", r.Interrupted, r.Requests, r.Scheduled, r.Errors)
			}
		})
	}
}

// TestOpenLoopJSON: the open loop's fields are in the JSON object, and
// absent in the closed loop's.
func TestOpenLoopJSON(t *testing.T) {
	srv := httptest.NewServer(FloorHandler(""))
	defer srv.Close()
	ctx := context.Background()
	fields := []string{"target_rate_per_s", "achieved_rate_per_s", "scheduled", "late", "late_after_ms", "unsent"}
	for _, rate := range []float64{0, 250} {
		b, err := New(ctx, Config{Op: OpSign, Concurrency: 2, Rate: rate, Requests: 10, KeyIDs: []string{"k"}, KeySpec: "ed25519"}, testClient(srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		r, err := b.Run(ctx, target(srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := r.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m["key_spec"] != "ECC_NIST_EDWARDS25519" {
			t.Errorf("key_spec = %v", m["key_spec"])
		}
		for _, f := range fields {
			v, ok := m[f].(float64)
			switch {
			case rate == 0 && m[f] != nil:
				t.Errorf("closed loop: %s = %v", f, m[f])
			case rate > 0 && !ok:
				t.Errorf("open loop: %s = %#v, want a number", f, m[f])
			case f == "target_rate_per_s" && rate > 0 && v != rate, f == "late_after_ms" && rate > 0 && v != 2:
				t.Errorf("%s = %v", f, v)
			}
		}
		// And back: a Result read from the JSON has the same figures.
		var back Result
		if err := json.Unmarshal(out.Bytes(), &back); err != nil {
			t.Fatal(err)
		}
		if (back.OpenLoop != nil) != (rate > 0) || rate > 0 && *back.OpenLoop != *r.OpenLoop {
			t.Errorf("read back: %+v, want %+v", back.OpenLoop, r.OpenLoop)
		}
		var table bytes.Buffer
		r.WriteTable(&table)
		if want := rate > 0; strings.Contains(table.String(), "achieved/s") != want || strings.Contains(table.String(), "open loop at 250/s") != want {
			t.Errorf("rate %g, table:\n%s", rate, table.String())
		}
	}
}

// TestOpenLoopMedian: rounds of an open loop without CPU figures are
// ordered by p99, and carry their late and unsent counts.
func TestOpenLoopMedian(t *testing.T) {
	run := func(p99 float64, late int64) *Result {
		return &Result{LatencyMs: Latency{P99: p99}, OpsPerS: 100, OpenLoop: &OpenLoop{TargetRate: 100, Late: late}}
	}
	m := Median([]*Result{run(3, 30), run(1, 10), run(2, 20)})
	if m.LatencyMs.P99 != 2 || len(m.Rounds) != 3 || m.Rounds[0].Late == nil || *m.Rounds[0].Late != 30 {
		t.Fatalf("median p99 %g, rounds %+v", m.LatencyMs.P99, m.Rounds)
	}
	var b strings.Builder
	m.WriteTable(&b)
	if !strings.Contains(b.String(), "30 late, 0 unsent") {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestLatencyOrigin: an open-loop iteration taken after its time (it
// waited for a worker) counts its latency from that time; one a worker
// waited for, from when it was sent; a closed-loop one from when it was
// sent. An hour stands for the wait, far beyond any real request.
func TestLatencyOrigin(t *testing.T) {
	srv := httptest.NewServer(FloorHandler(""))
	defer srv.Close()
	ctx := context.Background()
	b, err := New(ctx, Config{Op: OpEncryptDecrypt, Concurrency: 1, Requests: 1, KeyIDs: []string{"k"}, Size: 10}, testClient(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		due    time.Time
		queued bool
		waited bool // the Encrypt's latency includes the hour
		late   int64
	}{
		{"waited for a worker", time.Now().Add(-time.Hour), true, true, 1},
		{"a worker waited for it, woken late", time.Now().Add(-time.Hour), false, false, 1},
		{"closed loop", time.Time{}, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := b.workers(target(srv.URL), &phaseState{})[0]
			w.due, w.queued = tt.due, tt.queued
			w.iterate()
			enc, dec := w.stats[apiEncrypt], w.stats[apiDecrypt]
			if enc == nil || dec == nil || enc.hist.n != 1 || dec.hist.n != 1 {
				t.Fatalf("stats %+v %+v", enc, dec)
			}
			if got := time.Duration(enc.hist.max) >= time.Hour; got != tt.waited {
				t.Errorf("Encrypt latency %v", time.Duration(enc.hist.max))
			}
			// The Decrypt follows the Encrypt's answer: from its own start.
			if time.Duration(dec.hist.max) >= time.Hour || w.late != tt.late {
				t.Errorf("Decrypt latency %v, late %d", time.Duration(dec.hist.max), w.late)
			}
		})
	}
}
