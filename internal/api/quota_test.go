package api

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	for _, c := range []struct {
		rate  float64
		burst int           // requests allowed at once from full
		next  time.Duration // after which one more is allowed
	}{
		{5, 5, 200 * time.Millisecond},
		{0.25, 1, 4 * time.Second},
		{0.1, 1, 10 * time.Second},
		{2.5, 2, 400 * time.Millisecond},
	} {
		b := newBucket(c.rate)
		now := time.Now().UnixNano()
		for i := range c.burst {
			if !b.take(now) {
				t.Fatalf("rate %v: request %d of the burst refused", c.rate, i)
			}
		}
		if b.take(now) {
			t.Fatalf("rate %v: request %d allowed, want a burst of %d", c.rate, c.burst+1, c.burst)
		}
		if b.take(now + int64(c.next) - 1) {
			t.Fatalf("rate %v: allowed before %v", c.rate, c.next)
		}
		if !b.take(now + int64(c.next)) {
			t.Fatalf("rate %v: refused after %v", c.rate, c.next)
		}
	}
	b := newBucket(0)
	for i := range 1000 {
		if !b.take(0) {
			t.Fatalf("rate 0 (no limit) refused request %d", i)
		}
	}
}

// TestBucketConcurrent checks that racing takers get exactly the burst.
func TestBucketConcurrent(t *testing.T) {
	b := newBucket(100)
	now := time.Now().UnixNano()
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if b.take(now) {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 100 {
		t.Fatalf("%d of 400 racing requests allowed, want the burst of 100", allowed)
	}
}

// BenchmarkQuotaTake is the cost a quota adds to a request, allowed or
// throttled, with goroutines of 100 accounts at once.
func BenchmarkQuotaTake(b *testing.B) {
	q := NewQuotas(&QuotaConfig{Default: map[string]float64{QuotaSymmetric: 1e9}}, nil)
	accounts := make([]string, 100)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("%012d", i)
	}
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		a := accounts[int(n.Add(1))%len(accounts)]
		for pb.Next() {
			q.Take(a, "us-east-1", QuotaSymmetric)
		}
	})
}

// TestQuotasSetNodes: a node of N allows 1/N of a rate; telling it the
// same N again keeps its buckets, a new N starts them afresh.
func TestQuotasSetNodes(t *testing.T) {
	now := time.Unix(1700000000, 0)
	q := NewQuotas(&QuotaConfig{Default: map[string]float64{QuotaSymmetric: 10}}, func() time.Time { return now })
	// burst takes from the bucket until it refuses (the clock is still).
	burst := func() int {
		n := 0
		for q.Take("111122223333", "us-east-1", QuotaSymmetric) == nil {
			n++
		}
		return n
	}
	steps := []struct {
		nodes, want int // SetNodes(nodes) (none if 0), then a burst
	}{
		{0, 10}, // alone from the start
		{1, 0},  // the same count: the same, empty, bucket
		{2, 5},
		{2, 0},
		{-1, 10}, // fewer than one node is one
		{4, 2},   // 2.5 a second: a burst of 2
	}
	for i, st := range steps {
		if st.nodes != 0 {
			q.SetNodes(st.nodes)
		}
		if got := burst(); got != st.want {
			t.Errorf("step %d, SetNodes(%d): burst %d, want %d", i, st.nodes, got, st.want)
		}
	}
}
