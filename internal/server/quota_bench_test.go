package server_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/loadgen"
	"github.com/openkms/kms/internal/server"
)

// BenchmarkQuotaNoisyNeighbour measures what a tenant flooding its quota
// does to another tenant's latency: account B sends Encrypt (4 KiB) at a
// moderate rate on an open loop (loadgen, latency from the scheduled time)
// in three windows: alone, while account A sends at exactly its quota, and
// while A floods at many times its quota, almost all of it throttled. It
// reports B's p99 in each, and A's share throttled.
//
//	go test ./internal/server -run '^$' -bench QuotaNoisyNeighbour -benchtime 1x
//
// KMS_QUOTA_FLOOD sets A's flood rate (default 1000 a second; 0 floods
// nothing, for the spread of B's p99 between two windows alone) and
// KMS_QUOTA_WINDOW the length of each of B's windows (default 5s);
// KMS_QUOTA_FLOOD_OP=sign makes A's requests RSA_2048 Sign (RSA quota)
// instead of Encrypt (symmetric quota); KMS_QUOTA_OFF=1 runs the same
// loads on a server without quotas.
//
// Server and drivers share the process and the machine. B's driver is the
// SDK (loadgen). A's is, by default, a pre-signed request replayed over raw
// keep-alive connections (rawflood_test.go), which costs a few microseconds
// a request like a client on another machine would cost this one nothing
// much; KMS_QUOTA_FLOODER=process runs that flooder in a process of its
// own (this test binary again), under taskset -c $KMS_QUOTA_FLOOD_CPUS if
// set; KMS_QUOTA_FLOODER=sdk makes it loadgen's SDK client (each request
// signed and parsed by aws-sdk-go-v2, in this process).
func BenchmarkQuotaNoisyNeighbour(b *testing.B) {
	const (
		victimRate = 500 // requests a second
		quota      = 100 // A's symmetric and RSA quotas
		warmup     = time.Second
	)
	// Each of B's measured windows: KMS_QUOTA_WINDOW, default 5s.
	window := 5 * time.Second
	if v := os.Getenv("KMS_QUOTA_WINDOW"); v != "" {
		var err error
		if window, err = time.ParseDuration(v); err != nil {
			b.Fatal(err)
		}
	}
	// A's rate, many times its quota: KMS_QUOTA_FLOOD, default 1000.
	floodRate := 1000.0
	if v := os.Getenv("KMS_QUOTA_FLOOD"); v != "" {
		if _, err := fmt.Sscan(v, &floodRate); err != nil {
			b.Fatal(err)
		}
	}
	sdkFlooder := os.Getenv("KMS_QUOTA_FLOODER") == "sdk"
	floodProc := os.Getenv("KMS_QUOTA_FLOODER") == "process"
	cfg, err := server.ParseQuotaConfig(fmt.Appendf(nil, `{"accounts": {"%s": {"Symmetric": %d, "RSA": %d}}}`, testAccount, quota, quota))
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
	floodOp, floodSpec := loadgen.OpEncrypt, ""
	if os.Getenv("KMS_QUOTA_FLOOD_OP") == "sign" {
		floodOp, floodSpec = loadgen.OpSign, "RSA_2048"
	}
	// A flood covers the victim's whole run: its warmup, its window and
	// the half second the victim starts after it.
	floodFor := warmup/2 + warmup + window + warmup/2
	load := func(c *loadgenClient, op loadgen.Op, spec string, rate float64, d time.Duration) *loadgen.Bench {
		lb, err := loadgen.New(ctx, loadgen.Config{Op: op, KeySpec: spec, Concurrency: 64, Duration: d,
			Warmup: warmup, Rate: rate, Keys: 1, CreateKeys: true}, c.target.Client)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { lb.Close(context.Background()) })
		return lb
	}
	victimLoad := load(victim, loadgen.OpEncrypt, "", victimRate, window)
	floodLoad := load(flooder, floodOp, floodSpec, max(floodRate, 1), floodFor-warmup)
	atQuotaLoad := load(flooder, floodOp, floodSpec, quota, floodFor-warmup)

	// flood sends A's load at rate while B runs, and returns B's result
	// and A's: requests sent, throttled, p99 in ms.
	flood := func(rate float64) (crowded *loadgen.Result, sent, throttled int, p99 float64) {
		var wg sync.WaitGroup
		var ferr error
		switch {
		case rate == 0:
			// KMS_QUOTA_FLOOD=0: no flood, a second window of B alone,
			// which shows how much B's p99 moves by chance.
		case sdkFlooder:
			lb := floodLoad
			if rate == quota {
				lb = atQuotaLoad
			}
			wg.Go(func() {
				var r *loadgen.Result
				if r, ferr = lb.Run(ctx, flooder.target); ferr == nil {
					sent, throttled, p99 = int(r.Requests), int(r.Errors["ThrottlingException"]), r.LatencyMs.P99
					if r.ErrorCount > r.Errors["ThrottlingException"] {
						ferr = fmt.Errorf("the flooder got errors: %v", r.ErrorMessages)
					}
				}
			})
		default:
			req := presign(b, ts.URL, testRegion, aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecret},
				rawTarget(floodOp), rawBody(floodOp, floodLoad.Keys()[0]))
			wg.Go(func() {
				addr := strings.TrimPrefix(ts.URL, "http://")
				var r floodResult
				if floodProc {
					r = rawFloodProcess(b, addr, req, rate, floodFor, os.Getenv("KMS_QUOTA_FLOOD_CPUS"))
				} else {
					r = rawFlood(ctx, addr, req, rate, floodFor, 64)
				}
				sent, throttled, p99, ferr = r.Sent, r.Throttled, float64(r.P99)/1e6, r.Err
				if ferr == nil && (r.Other > 0 || r.Dropped > 0) {
					ferr = fmt.Errorf("the flooder got %d errors other than throttling and dropped %d requests", r.Other, r.Dropped)
				}
			})
		}
		time.Sleep(warmup / 2) // the flood is under way
		crowded, err := victimLoad.Run(ctx, victim.target)
		wg.Wait()
		if err != nil || ferr != nil {
			b.Fatal(err, ferr)
		}
		return crowded, sent, throttled, p99
	}
	for range b.N {
		alone, err := victimLoad.Run(ctx, victim.target)
		if err != nil {
			b.Fatal(err)
		}
		atQuota, qSent, qThrottled, _ := flood(quota)
		crowded, sent, throttled, floodP99 := flood(floodRate)
		for _, r := range []*loadgen.Result{alone, atQuota, crowded} {
			if r.ErrorCount > 0 {
				b.Fatalf("the victim got errors: %v", r.Errors)
			}
		}
		b.ReportMetric(alone.LatencyMs.P99, "victim-alone-p99-ms")
		b.ReportMetric(atQuota.LatencyMs.P99, "victim-atquota-p99-ms")
		b.ReportMetric(crowded.LatencyMs.P99, "victim-flooded-p99-ms")
		b.ReportMetric(crowded.LatencyMs.P99-alone.LatencyMs.P99, "victim-p99-delta-ms")
		b.ReportMetric(float64(throttled)/float64(max(sent, 1))*100, "flooder-throttled-%")
		b.Logf("victim alone: p50 %.2f p99 %.2f ms; A at its quota (%d/s, %d of %d throttled): p50 %.2f p99 %.2f ms; "+
			"A flooding at %.0f/s: p50 %.2f p99 %.2f ms, %d of %d throttled, A's p99 %.2f ms (flooder: %s)",
			alone.LatencyMs.P50, alone.LatencyMs.P99, quota, qThrottled, qSent, atQuota.LatencyMs.P50, atQuota.LatencyMs.P99,
			floodRate, crowded.LatencyMs.P50, crowded.LatencyMs.P99, throttled, sent, floodP99, cmp.Or(os.Getenv("KMS_QUOTA_FLOODER"), "raw"))
	}
}

// rawTarget and rawBody are the request of op (encrypt or sign, 4 KiB) on
// key, as loadgen sends it.
func rawTarget(op loadgen.Op) string {
	if op == loadgen.OpSign {
		return "Sign"
	}
	return "Encrypt"
}

func rawBody(op loadgen.Op, key string) string {
	data := base64.StdEncoding.EncodeToString(make([]byte, loadgen.DefaultSize))
	if op == loadgen.OpSign {
		return fmt.Sprintf(`{"KeyId":%q,"Message":%q,"MessageType":"RAW","SigningAlgorithm":"RSASSA_PSS_SHA_256"}`, key, data)
	}
	return fmt.Sprintf(`{"KeyId":%q,"Plaintext":%q}`, key, data)
}

// processCPU returns the CPU time (user and system) this process used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type loadgenClient struct{ target loadgen.Target }

// BenchmarkThrottledRequest is the server's cost of one request, throttled
// or served, replayed pre-signed over one connection (rawflood_test.go),
// so that the client's share of the time is a write and a short read:
//
//	go test ./internal/server -run '^$' -bench ThrottledRequest -cpuprofile cpu.out
func BenchmarkThrottledRequest(b *testing.B) {
	for _, c := range []struct {
		name  string
		quota float64 // A's symmetric and RSA quotas; 0: none
	}{
		{"Sign/throttled", 0.001}, {"Encrypt/throttled", 0.001}, {"Encrypt/served", 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg, err := server.ParseQuotaConfig(fmt.Appendf(nil, `{"default": {"Symmetric": %v, "RSA": %v}}`, c.quota, c.quota))
			if err != nil {
				b.Fatal(err)
			}
			ts := startServer(b, server.Config{Quotas: cfg})
			creds := aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecret}
			op, spec, usage := loadgen.OpEncrypt, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt
			if strings.HasPrefix(c.name, "Sign") {
				op, spec, usage = loadgen.OpSign, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify
			}
			k := createKey(b, ts.client(testRegion), spec, usage)
			req := presign(b, ts.URL, testRegion, creds, rawTarget(op), rawBody(op, *k.KeyId))
			rc, err := dialRaw(strings.TrimPrefix(ts.URL, "http://"))
			if err != nil {
				b.Fatal(err)
			}
			defer rc.c.Close()
			want, wantType := http.StatusOK, ""
			if c.quota > 0 {
				rc.do(req) // the one request of the burst
				want, wantType = http.StatusBadRequest, "ThrottlingException"
			}
			b.ReportAllocs()
			cpu0 := processCPU(b)
			b.ResetTimer()
			for b.Loop() {
				status, typ, err := rc.do(req)
				if err != nil || status != want || typ != wantType {
					b.Fatalf("%d %s %v, want %d %s", status, typ, err, want, wantType)
				}
			}
			b.StopTimer()
			// The process's CPU: the server's, the audit trail's
			// background work and the raw client's write and read.
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
		})
	}
}
