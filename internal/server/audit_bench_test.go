package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/server"
)

// discardAuditor takes every record and keeps none.
type discardAuditor struct{}

func (discardAuditor) Append(context.Context, *audit.Record) error { return nil }
func (discardAuditor) Healthy() error                              { return nil }

// benchClients is the number of concurrent clients of BenchmarkEncryptAudited.
const benchClients = 64

// BenchmarkEncryptAudited measures what the audit trail costs: Encrypt
// throughput over HTTP on 127.0.0.1 from 64 concurrent clients, with the
// real audit store (a durable, fsynced record per request, group-committed)
// and with the same server whose handler discards its records:
//
//	go test ./internal/server -run '^$' -bench EncryptAudited -benchtime 2000x -cpu 2
func BenchmarkEncryptAudited(b *testing.B) {
	for _, mode := range []string{"real", "discard"} {
		b.Run(mode, func(b *testing.B) {
			url := startBenchServer(b, mode == "discard")
			// One connection per client, kept alive: the benchmark is of
			// the server, not of TCP handshakes.
			hc := &http.Client{Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				MaxIdleConnsPerHost: benchClients,
			}}
			defer hc.CloseIdleConnections()
			c := awskms.New(awskms.Options{
				Region:           testRegion,
				BaseEndpoint:     aws.String(url),
				Credentials:      credentials.NewStaticCredentialsProvider(testAccessKeyID, testSecret, ""),
				RetryMaxAttempts: 1,
				HTTPClient:       hc,
			})
			k := must[*awskms.CreateKeyOutput](b)(c.CreateKey(ctx, &awskms.CreateKeyInput{}))
			in := &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: make([]byte, 32)}
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for range benchClients {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := c.Encrypt(ctx, in); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// startBenchServer is startServer with, if discard is set, an auditor that
// keeps nothing, put in before the server serves.
func startBenchServer(b *testing.B, discard bool) string {
	b.Helper()
	srv, err := server.Open(server.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0",
		RootAccessKeyID: testAccessKeyID, RootSecretAccessKey: testSecret,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if discard {
		srv.SetAuditor(discardAuditor{})
	}
	ln, err := srv.Listen()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("serve: %v", err)
		}
		if srv.Audit != nil {
			b.Logf("audit stats %+v", srv.Audit.Stats())
		}
		srv.Close()
	})
	return "http://" + ln.Addr().String()
}
