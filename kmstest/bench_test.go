package kmstest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/kmstest"
)

// BenchmarkStart: from Start to the first ListKeys answered; the median
// start is reported as start-ms (Close is not timed).
func BenchmarkStart(b *testing.B) {
	var starts []time.Duration
	for b.Loop() {
		t0 := time.Now()
		srv, err := kmstest.Start()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := srv.Client().ListKeys(context.Background(), &awskms.ListKeysInput{}); err != nil {
			b.Fatal(err)
		}
		starts = append(starts, time.Since(t0))
		b.StopTimer()
		if err := srv.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(starts)
	b.ReportMetric(float64(starts[len(starts)/2].Microseconds())/1000, "start-ms")
}
