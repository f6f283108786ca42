package audit

import (
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchLog(b *testing.B) *Log {
	b.Helper()
	return openLog(b, Config{
		Path:               filepath.Join(b.TempDir(), "audit.db"),
		Signer:             testKey("bench"),
		CheckpointInterval: time.Hour,
		Logger:             quiet,
	})
}

// reportRate reports records/s and the process's CPU time per record,
// counting the indexing of them all.
func reportRate(b *testing.B, l *Log, start time.Time, cpu0 time.Duration) {
	if err := l.Flush(b.Context()); err != nil {
		b.Fatal(err)
	}
	s := l.Stats()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(s.Records), "cpu-µs/record")
	b.ReportMetric(float64(s.Records)/time.Since(start).Seconds(), "records/s")
	if s.Batches > 0 {
		b.ReportMetric(float64(s.Records)/float64(s.Batches), "records/batch")
	}
}

// BenchmarkAppendSerial is one caller at a time: every record pays for a
// commit (and fsync) of its own.
func BenchmarkAppendSerial(b *testing.B) {
	l := benchLog(b)
	ctx := b.Context()
	start, cpu0 := time.Now(), cpuTime()
	for b.Loop() {
		if err := l.Append(ctx, kmsRecord("us-east-1", "Encrypt", keyID1)); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, l, start, cpu0)
}

// BenchmarkAppendParallel is 64 concurrent callers, as a busy server has:
// group commit shares each fsync among the records that queued meanwhile.
func BenchmarkAppendParallel(b *testing.B) {
	l := benchLog(b)
	ctx := b.Context()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Append(ctx, kmsRecord("us-east-1", "Encrypt", keyID1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, l, start, cpu0)
}
