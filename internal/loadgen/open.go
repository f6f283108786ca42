package loadgen

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// schedule is the plan of an open-loop run: iteration i is due at
// start + i/rate; the warmup's iterations are [0, first), the measured
// window's [first, end).
type schedule struct {
	start       time.Time
	rate        float64
	first, end  int64
	windowStart time.Time // when iteration first is due
	deadline    time.Time // no iteration starts after it
	next        atomic.Int64
	sent        atomic.Int64 // the window's iterations started
}

func newSchedule(cfg *Config, start time.Time) *schedule {
	s := &schedule{start: start, rate: cfg.Rate, first: slotsBefore(cfg.Warmup, cfg.Rate)}
	if cfg.Requests > 0 {
		s.end = s.first + cfg.Requests
	} else {
		s.end = slotsBefore(cfg.Warmup+cfg.Duration, cfg.Rate)
	}
	s.windowStart = s.due(s.first)
	s.deadline = s.due(s.end).Add(Grace)
	return s
}

// dueOffset is when iteration i is due, after the start. Rounding each
// time from i, rather than adding 1/rate up, keeps errors from piling up.
func dueOffset(i int64, rate float64) time.Duration {
	return time.Duration(math.Round(float64(i) * 1e9 / rate))
}

// slotsBefore is the number of iterations due before d.
func slotsBefore(d time.Duration, rate float64) int64 {
	if d <= 0 {
		return 0
	}
	n := int64(math.Ceil(d.Seconds() * rate))
	for n > 0 && dueOffset(n-1, rate) >= d {
		n--
	}
	for dueOffset(n, rate) < d {
		n++
	}
	return n
}

func (s *schedule) due(i int64) time.Time { return s.start.Add(dueOffset(i, s.rate)) }

// skipWarmup moves the next iteration to the window's first, past the
// warmup's iterations not yet begun.
func (s *schedule) skipWarmup() {
	for {
		cur := s.next.Load()
		if cur >= s.first || s.next.CompareAndSwap(cur, s.first) {
			return
		}
	}
}

// runSchedule takes the next iteration due whenever the worker is free,
// waits for its time if it is early and sends it, until the schedule is
// done, its deadline has passed or ctx ends. Warmup iterations not begun
// by the window's start are skipped, so that a warmup the driver could not
// keep up with does not eat into the window.
//
// An iteration taken after its time, when every worker was busy, counts
// its latency from that time: the wait for a worker is the queue a slow
// server builds. One taken early counts from when the worker's timer
// released it. The Go runtime wakes an idle process's timers in whole
// milliseconds (its poller sleeps in ms), up to 1 ms late: counting from
// the due time would add that jitter, up to 1 ms and 0.5 ms on average, to
// every latency of an unsaturated run, and it owes nothing to the server;
// only a busy-wait, which would cost the driver a core, avoids it.
func (w *worker) runSchedule(ctx context.Context, s *schedule) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for !w.ps.stop.Load() {
		i := s.next.Add(1) - 1
		if i >= s.end {
			return
		}
		measured := i >= s.first
		if !measured && !time.Now().Before(s.windowStart) {
			s.skipWarmup()
			continue
		}
		due := s.due(i)
		d := time.Until(due)
		if d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		if measured {
			now := time.Now()
			if now.After(s.deadline) {
				return
			}
			s.sent.Add(1)
			w.lastStart = now
		}
		w.due, w.queued, w.measure = due, d <= 0, measured
		w.iterate()
	}
}

var errNoReading = errors.New("the window's start was not seen")

// runOpen is Run in the open loop: one phase, whose schedule runs through
// the warmup and the measured window.
func (b *Bench) runOpen(ctx context.Context, t Target) (*Result, error) {
	ps := &phaseState{}
	var (
		mu      sync.Mutex
		stopped time.Time // when ctx ended, if it did
	)
	defer context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = time.Now()
		ps.stop.Store(true)
	})()
	workers := b.workers(t, ps)
	start := time.Now()
	s := newSchedule(&b.cfg, start)

	// The CPU counters are read when the window's first iteration is due.
	var cpu0 cpuReading
	cpuRead := make(chan struct{})
	var cpuTimer *time.Timer
	if s.first == 0 {
		cpu0 = readCPU(t.ServerPID)
		close(cpuRead)
	} else {
		cpuTimer = time.AfterFunc(time.Until(s.windowStart), func() {
			cpu0 = readCPU(t.ServerPID)
			close(cpuRead)
		})
	}
	stopProgress := b.progress(func() Progress {
		now := time.Now()
		if now.Before(s.windowStart) {
			return Progress{Target: t.Name, Warmup: true, Elapsed: now.Sub(start),
				Requests: ps.warmupDone.Load(), Errors: ps.warmupErrs.Load()}
		}
		return Progress{Target: t.Name, Elapsed: now.Sub(s.windowStart), Requests: ps.done.Load(), Errors: ps.errs.Load()}
	})
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.runSchedule(ctx, s) })
	}
	wg.Wait()
	stopProgress()
	cpu1 := readCPU(t.ServerPID)
	if cpuTimer != nil {
		if cpuTimer.Stop() {
			cpu0 = cpuReading{srvErr: errNoReading, cliErr: errNoReading}
		} else {
			<-cpuRead
		}
	}

	interrupted := ctx.Err() != nil
	end := time.Now()
	if interrupted {
		mu.Lock()
		if !stopped.IsZero() {
			end = stopped
		}
		mu.Unlock()
		if end.Before(s.windowStart) {
			return nil, ctx.Err()
		}
	}

	var lastEnd, lastStart time.Time
	var late int64
	for _, w := range workers {
		if w.lastEnd.After(lastEnd) {
			lastEnd = w.lastEnd
		}
		if w.lastStart.After(lastStart) {
			lastStart = w.lastStart
		}
		late += w.late
	}
	if lastEnd.IsZero() {
		lastEnd = end
	}
	r := b.result(t, workers, max(lastEnd.Sub(s.windowStart), 0))
	r.Interrupted = interrupted
	r.setCPU(t.ServerPID, cpu0, cpu1)

	// The iterations due in the window: all of them, or those due before
	// an interruption.
	scheduled := s.end - s.first
	if interrupted {
		scheduled = min(max(slotsBefore(end.Sub(start), s.rate)-s.first, 0), scheduled)
	}
	sent := s.sent.Load()
	o := &OpenLoop{TargetRate: s.rate, Scheduled: scheduled, Late: late, LateAfterMs: float64(LateAfter) / 1e6, Unsent: max(scheduled-sent, 0)}
	if sent > 0 {
		// The rate they were sent at: over the span of their starts, plus
		// the one interval the last one opens.
		o.AchievedRate = float64(sent) / (lastStart.Sub(s.windowStart).Seconds() + 1/s.rate)
	}
	r.OpenLoop = o
	return r, nil
}
