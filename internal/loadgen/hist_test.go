package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestBuckets: buckets are contiguous and ordered, every value falls in the
// range of its bucket, and a bucket is at most 1/subCount of its values wide.
func TestBuckets(t *testing.T) {
	prevHi := uint64(0)
	for i := range numBuckets - 1 {
		lo, hi := bucketRange(i)
		if lo != prevHi || hi <= lo {
			t.Fatalf("bucket %d is [%d, %d), previous ended at %d", i, lo, hi, prevHi)
		}
		if w := hi - lo; w > 1 && float64(w)/float64(lo) > 1.0/subCount {
			t.Fatalf("bucket %d [%d, %d) is too wide", i, lo, hi)
		}
		for _, v := range []uint64{lo, hi - 1, lo + (hi-lo)/2} {
			if got := bucketOf(v); got != i {
				t.Fatalf("bucketOf(%d) = %d, want %d", v, got, i)
			}
		}
		prevHi = hi
	}
	if got := bucketOf(math.MaxUint64); got != numBuckets-1 {
		t.Fatalf("bucketOf(max) = %d", got)
	}
}

// TestQuantiles compares the histogram's percentiles with the exact
// nearest-rank ones on several distributions.
func TestQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		gen  func(i int) time.Duration
		n    int
	}{
		{"small exact values", func(i int) time.Duration { return time.Duration(i % 200) }, 1000},
		{"uniform 1ms-10ms", func(int) time.Duration {
			return time.Millisecond + time.Duration(rng.Int64N(int64(9*time.Millisecond)))
		}, 100000},
		{"long tail", func(int) time.Duration {
			return time.Duration(math.Exp(rng.NormFloat64()*1.5) * float64(time.Millisecond))
		}, 50000},
		{"one value", func(int) time.Duration { return 1234567 }, 1},
		{"two values", func(i int) time.Duration { return time.Duration(1000 + 9000*i) }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			vals := make([]uint64, tt.n)
			for i := range vals {
				d := tt.gen(i)
				h.record(d)
				vals[i] = uint64(d)
			}
			slices.Sort(vals)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				rank := int(math.Ceil(q * float64(tt.n)))
				want := vals[max(rank, 1)-1]
				got := h.quantile(q)
				if diff := math.Abs(float64(got) - float64(want)); diff > float64(want)/subCount+0.5 {
					t.Errorf("q%v = %d, want %d (±1/%d)", q, got, want, subCount)
				}
			}
			if h.max != vals[len(vals)-1] || h.min != vals[0] {
				t.Errorf("min, max = %d, %d, want %d, %d", h.min, h.max, vals[0], vals[len(vals)-1])
			}
		})
	}
}

// TestMerge: merging per-worker histograms gives the histogram of all.
func TestMerge(t *testing.T) {
	var a, b, all histogram
	for i := range 1000 {
		d := time.Duration(i*i) * time.Microsecond
		all.record(d)
		if i%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	var m histogram
	m.merge(&a)
	m.merge(&histogram{})
	m.merge(&b)
	if !sameHistogram(&m, &all) {
		t.Fatal("merged histogram differs from the histogram of all values")
	}
	// The 500th of 0², 1², ... 999² µs is 499² µs.
	if l := m.latency(); math.Abs(l.P50-249.001) > 249.001/subCount || m.max != 999*999*1000 {
		t.Errorf("latency %+v", l)
	}
	if (&histogram{}).latency() != (Latency{}) {
		t.Error("empty histogram has latencies")
	}
}

// sameHistogram reports whether a and b hold the same counts.
func sameHistogram(a, b *histogram) bool {
	if a.n != b.n || a.sum != b.sum || a.min != b.min || a.max != b.max {
		return false
	}
	for i := range numBuckets {
		if a.count(i) != b.count(i) {
			return false
		}
	}
	return true
}

func (h *histogram) count(i int) uint64 {
	if o := h.octaves[i/subCount]; o != nil {
		return o[i%subCount]
	}
	return 0
}

// TestSubMillisecondPercentiles: p99 and p99.9 of latencies behind a
// backlog (hundreds of milliseconds) are still told apart to well under a
// millisecond, and a histogram allocates only the octaves it uses.
func TestSubMillisecondPercentiles(t *testing.T) {
	var h histogram
	// 10,000 requests from 300 ms to 310 ms, 1 µs apart: p99 is the
	// 9,900th, p99.9 the 9,990th.
	for i := range 10000 {
		h.record(300*time.Millisecond + time.Duration(i)*time.Microsecond)
	}
	for _, tt := range []struct {
		q    float64
		want float64 // ms
	}{{0.99, 300 + 9.899}, {0.999, 300 + 9.989}} {
		if got := float64(h.quantile(tt.q)) / 1e6; math.Abs(got-tt.want) > 0.2 {
			t.Errorf("q%v = %.4f ms, want %.4f ± 0.2", tt.q, got, tt.want)
		}
	}
	used := 0
	for _, o := range h.octaves {
		if o != nil {
			used++
		}
	}
	if used != 1 {
		t.Errorf("%d octaves allocated for values within one", used)
	}
}
