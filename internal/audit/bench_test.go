package audit

import (
	"database/sql"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/openkms/kms"
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

// BenchmarkIndex is the indexer's work per record alone: records like the
// server's Encrypt ones, each with its own event id, taken into the
// database 1000 to a transaction. BENCH_EVENT_ID=random gives them random
// (version 4) event ids instead of time-ordered ones, to compare.
func BenchmarkIndex(b *testing.B) {
	l := benchLog(b)
	ctx := b.Context()
	const per = 1000
	newID := NewEventID
	if os.Getenv("BENCH_EVENT_ID") == "random" {
		newID = kms.NewUUID
	}
	reqs := make([]*request, b.N)
	for i := range reqs {
		r := kmsRecord("us-east-1", "Encrypt", keyID1)
		r.EventID, r.EventVersion, r.EventTime = newID(), EventVersion, time.Now().UTC().Truncate(time.Second)
		r.UserAgent = "aws-sdk-go-v2/1.48.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/kms#1.62.6 m/E"
		r.RequestParameters = map[string]any{"keyId": keyID1, "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
			"encryptionContext": map[string]string{"tenant": "customer-000123"}}
		body, err := r.MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = newRequest(r, body)
		reqs[i].epoch, reqs[i].at = 1, int64(i)*1500
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += per {
		batch := reqs[done:min(done+per, b.N)]
		if _, err := l.do(ctx, func(tx *sql.Tx) (int, error) {
			p := postings{}
			if err := l.insert(tx, batch, p); err != nil {
				return 0, err
			}
			return 0, l.insertPostings(tx, p)
		}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
