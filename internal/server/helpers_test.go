package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/openkms/kms/internal/pgtest"
	"github.com/openkms/kms/internal/server"
)

const (
	testAccessKeyID = "AKIAIOSFODNN7EXAMPLE"
	testSecret      = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion      = "us-east-1"
	testAccount     = "111122223333"
)

// testServer is a real server on 127.0.0.1, served in-process.
type testServer struct {
	*server.Server
	URL  string
	stop func()
}

func startServer(t testing.TB, cfg server.Config) *testServer {
	t.Helper()
	if cfg.DataDir == "" && !cfg.Ephemeral {
		cfg.DataDir = t.TempDir()
	}
	if onPostgres && cfg.Store == "" && !cfg.Ephemeral {
		cfg.Store = pgtest.DSN(t)
	}
	cfg.Listen = "127.0.0.1:0"
	if cfg.RootAccessKeyID == "" {
		cfg.RootAccessKeyID, cfg.RootSecretAccessKey = testAccessKeyID, testSecret
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := server.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	ts := &testServer{Server: srv, URL: "http://" + ln.Addr().String()}
	var stopped bool
	ts.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		srv.Close()
	}
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) client(region string) *awskms.Client {
	return newClient(ts.URL, region, testAccessKeyID, testSecret)
}

func newClient(url, region, id, secret string) *awskms.Client {
	return awskms.New(awskms.Options{
		Region:           region,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{},
	})
}

// wantCode fails unless err is an AWS API error with the given code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("got %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

// wantMessage is wantCode plus a check that the message contains substr.
func wantMessage(t testing.TB, err error, code, substr string) {
	t.Helper()
	wantCode(t, err, code)
	var ae smithy.APIError
	errors.As(err, &ae)
	if !strings.Contains(ae.ErrorMessage(), substr) {
		t.Fatalf("%s message %q does not contain %q", code, ae.ErrorMessage(), substr)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
