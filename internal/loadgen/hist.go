package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// histogram counts latencies in nanoseconds in log-linear buckets, as
// HdrHistogram does: below 2048 ns one bucket per value, above that 1024
// buckets per power of two. A percentile read from it is within 1/2048
// (0.05%) of the true value: 5 µs at 10 ms, 50 µs at 100 ms, so that p99
// and p99.9 compare to a fraction of a millisecond even behind a backlog.
// The buckets of a power of two (8 KiB) are allocated when a value first
// falls in it, so a histogram holds only the few octaves its latencies
// span; min, max and the sum are kept exactly.
type histogram struct {
	octaves  [numOctaves]*[subCount]uint64
	n        uint64
	sum      uint64
	min, max uint64
}

const (
	subBits  = 10
	subCount = 1 << subBits
	// maxShift bounds the buckets at 2^(maxShift+subBits+1) ns, about 9
	// minutes; a longer request (the client times out well before) is
	// counted in the last bucket.
	maxShift   = 28
	numOctaves = maxShift + 2
	numBuckets = numOctaves * subCount
)

// bucketOf maps a value to its bucket; buckets are contiguous and ordered,
// subCount to an octave.
func bucketOf(v uint64) int {
	if v < 2*subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // leaves v>>shift in [subCount, 2*subCount)
	if shift > maxShift {
		return numBuckets - 1
	}
	return shift*subCount + int(v>>shift)
}

// bucketRange is the range [lo, hi) of the values in bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*subCount {
		return uint64(i), uint64(i) + 1
	}
	shift := i/subCount - 1
	m := uint64(i - shift*subCount)
	return m << shift, (m + 1) << shift
}

func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.add(bucketOf(v), 1)
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += v
}

// add adds c to the count of bucket i.
func (h *histogram) add(i int, c uint64) {
	o := h.octaves[i/subCount]
	if o == nil {
		o = new([subCount]uint64)
		h.octaves[i/subCount] = o
	}
	o[i%subCount] += c
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for k, oct := range o.octaves {
		if oct == nil {
			continue
		}
		for j, c := range oct {
			if c > 0 {
				h.add(k*subCount+j, c)
			}
		}
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the nearest-rank q-quantile (0 < q <= 1) in nanoseconds:
// the middle of the bucket holding the ceil(q*n)-th smallest value, kept
// within the recorded min and max.
func (h *histogram) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	if rank == h.n {
		return h.max
	}
	var seen uint64
	for k, oct := range h.octaves {
		if oct == nil {
			continue
		}
		for j, c := range oct {
			if seen += c; c > 0 && seen >= rank {
				lo, hi := bucketRange(k*subCount + j)
				return min(max(lo+(hi-1-lo)/2, h.min), h.max)
			}
		}
	}
	return h.max
}

// Latency holds the percentiles of a set of requests, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func (h *histogram) latency() Latency {
	ms := func(ns uint64) float64 { return float64(ns) / 1e6 }
	l := Latency{
		P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)), P99: ms(h.quantile(0.99)),
		P999: ms(h.quantile(0.999)), Max: ms(h.max),
	}
	if h.n > 0 {
		l.Mean = ms(h.sum / h.n)
	}
	return l
}
