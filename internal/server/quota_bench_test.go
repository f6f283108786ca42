package server_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openkms/kms/internal/loadgen"
	"github.com/openkms/kms/internal/server"
)

// BenchmarkQuotaNoisyNeighbour measures what a tenant flooding its quota
// does to another tenant's latency: account B sends Encrypt (4 KiB) at a
// moderate rate on an open loop, alone and then while account A floods at
// many times its symmetric quota, almost all of it throttled. It reports
// B's p99 in both windows and A's p99 (of mostly ThrottlingException
// answers). Server and driver share the process and the machine.
//
//	go test ./internal/server -run '^$' -bench QuotaNoisyNeighbour -benchtime 1x
//
// KMS_QUOTA_FLOOD sets A's rate (default 1000 a second),
// KMS_QUOTA_FLOOD_OP=sign makes it RSA_2048 Sign; KMS_QUOTA_OFF=1
// runs the same loads on a server without quotas.
func BenchmarkQuotaNoisyNeighbour(b *testing.B) {
	const (
		victimRate = 500 // requests a second
		quota      = 100 // A's symmetric and RSA quotas
		window     = 5 * time.Second
	)
	// A's rate, many times its quota: KMS_QUOTA_FLOOD, default 1000.
	floodRate := 1000.0
	if v := os.Getenv("KMS_QUOTA_FLOOD"); v != "" {
		if _, err := fmt.Sscan(v, &floodRate); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := server.ParseQuotaConfig([]byte(`{"accounts": {"` + testAccount + `": {"Symmetric": 100, "RSA": 100}}}`))
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("KMS_QUOTA_OFF") != "" {
		cfg = nil // the same flood without quotas, for comparison
	}
	ts := startServer(b, server.Config{Quotas: cfg})
	other, err := ts.CreateAccount("444455556666")
	if err != nil {
		b.Fatal(err)
	}
	client := func(id, secret string) *loadgenClient {
		c := loadgen.NewClient(aws.Config{Region: testRegion,
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}, ts.URL)
		return &loadgenClient{target: loadgen.Target{Name: id, Endpoint: ts.URL, Client: c}}
	}
	flooder, victim := client(testAccessKeyID, testSecret), client(other.AccessKeyID, other.SecretAccessKey)
	// KMS_QUOTA_FLOOD_OP=sign floods with RSA_2048 Sign (RSA quota)
	// instead of Encrypt (symmetric quota).
	floodOp, floodSpec := loadgen.OpEncrypt, ""
	if os.Getenv("KMS_QUOTA_FLOOD_OP") == "sign" {
		floodOp, floodSpec = loadgen.OpSign, "RSA_2048"
	}
	load := func(c *loadgenClient, op loadgen.Op, spec string, rate float64) *loadgen.Bench {
		lb, err := loadgen.New(ctx, loadgen.Config{Op: op, KeySpec: spec, Concurrency: 64, Duration: window,
			Warmup: time.Second, Rate: rate, Keys: 1, CreateKeys: true}, c.target.Client)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { lb.Close(context.Background()) })
		return lb
	}
	victimLoad, floodLoad := load(victim, loadgen.OpEncrypt, "", victimRate), load(flooder, floodOp, floodSpec, floodRate)

	for range b.N {
		alone, err := victimLoad.Run(ctx, victim.target)
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		var flood *loadgen.Result
		var ferr error
		wg.Go(func() { flood, ferr = floodLoad.Run(ctx, flooder.target) })
		time.Sleep(500 * time.Millisecond) // the flood's warmup is under way
		crowded, err := victimLoad.Run(ctx, victim.target)
		wg.Wait()
		if err != nil || ferr != nil {
			b.Fatal(err, ferr)
		}
		if crowded.ErrorCount > 0 || alone.ErrorCount > 0 {
			b.Fatalf("the victim got errors: %v %v", alone.Errors, crowded.Errors)
		}
		b.ReportMetric(alone.LatencyMs.P99, "victim-alone-p99-ms")
		b.ReportMetric(crowded.LatencyMs.P99, "victim-flooded-p99-ms")
		b.ReportMetric(crowded.LatencyMs.P99-alone.LatencyMs.P99, "victim-p99-delta-ms")
		b.ReportMetric(flood.LatencyMs.P99, "flooder-p99-ms")
		b.ReportMetric(float64(flood.Errors["ThrottlingException"])/float64(flood.Requests)*100, "flooder-throttled-%")
		b.Logf("victim alone: %.0f/s p50 %.2f p99 %.2f ms; flooded: %.0f/s p50 %.2f p99 %.2f ms; flooder: %.0f/s (target %.0f, quota %d), %d of %d throttled, p99 %.2f ms",
			alone.OpsPerS, alone.LatencyMs.P50, alone.LatencyMs.P99, crowded.OpsPerS, crowded.LatencyMs.P50, crowded.LatencyMs.P99,
			flood.OpsPerS, floodRate, quota, flood.Errors["ThrottlingException"], flood.Requests, flood.LatencyMs.P99)
	}
}

type loadgenClient struct{ target loadgen.Target }
