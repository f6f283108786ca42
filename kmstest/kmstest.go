// Package kmstest starts a real KMS server in-process for Go tests, as
// [net/http/httptest] does for HTTP handlers.
//
// # Use
//
// NewServer starts a server on a free port of 127.0.0.1, with its data in
// a new temporary directory, and stops it and removes the directory when
// the test ends:
//
//	func TestSecrets(t *testing.T) {
//		srv := kmstest.NewServer(t)
//		client := kms.NewFromConfig(srv.Config)
//		key, err := client.CreateKey(ctx, &kms.CreateKeyInput{})
//		...
//	}
//
// Server.Config is an [aws.Config] with the endpoint, a region and the
// account's root credentials set, so it serves every client of the
// endpoint alike: kms, iam, sts and cloudtrail (for LookupEvents).
//
// It is the server `kms server --ephemeral` runs, with the embedded store,
// the audit trail and SigV4 authentication of a production server: what a
// test sees is what a deployment would answer. Each server is independent
// of the others, so a test may start several.
//
// For a server shared by a package's tests, call Start from TestMain and
// Close after m.Run.
//
// # Seeding
//
// A server starts with one account and no keys. WithSeed gives it the keys
// (with fixed ids and material, so fixtures made by one run decrypt in
// the next), aliases, accounts and IAM users, roles and policies of a
// seed file, in this server's format or local-kms's (see the README's
// "Seeding keys at startup").
package kmstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/internal/identity"
	"github.com/openkms/kms/internal/server"
)

// DefaultRegion is the region of Config unless WithRegion says otherwise.
const DefaultRegion = "us-east-1"

// AccountID is the account of the server's root credentials.
const AccountID = "111122223333"

// Server is a running KMS server.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:PORT.
	URL string
	// AccountID, AccessKeyID and SecretAccessKey are the account and its
	// root credentials, fresh for each server.
	AccountID       string
	AccessKeyID     string
	SecretAccessKey string
	// Region is the region of Config. The server serves every region.
	Region string
	// Config is ready for kms.NewFromConfig (and iam, sts, cloudtrail):
	// BaseEndpoint, Region and the root credentials are set, and retries
	// are off, so a test sees each error as the server answered it.
	Config aws.Config
	// DataDir is the server's temporary data dir, removed by Close. It
	// holds the credentials file (DataDir/credentials) for tools run as
	// a separate process, such as the AWS CLI
	// (AWS_SHARED_CREDENTIALS_FILE).
	DataDir string

	srv       *server.Server
	transport *http.Transport
	stop      context.CancelFunc
	done      chan error
	closeOnce sync.Once
	closeErr  error
}

// Option configures a Server.
type Option func(*options)

type options struct {
	region string
	logger *slog.Logger
	// configure adjusts the server's configuration before it opens, after
	// everything else is set: the options that map onto server.Config.
	configure []func(*server.Config)
}

// WithRegion sets the region of Server.Config (DefaultRegion otherwise).
// Keys are regional, as on AWS.
func WithRegion(region string) Option {
	return func(o *options) { o.region = region }
}

// WithSeed applies seed, the content of a seed file (the YAML that
// `kms server --seed` reads), as the server starts. A seed that does not
// parse or apply fails NewServer, and Start returns its error, which names
// the entry.
func WithSeed(seed []byte) Option {
	return func(o *options) {
		o.configure = append(o.configure, func(c *server.Config) { c.Seed = seed })
	}
}

// WithLogger sends the server's logs to l. By default NewServer keeps them
// and hands them to the test's log if the test fails, and Start drops
// them.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// NewServer starts a server for the test or benchmark tb, or fails it. The
// server stops and its data dir is removed when tb's cleanup runs.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	var logs *tailBuffer
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		// tb.Log cannot take the server's logs directly: a server
		// goroutine may log after the test has ended.
		logs = &tailBuffer{max: maxLogBytes}
		o.logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	s, err := start(o)
	if err != nil {
		tb.Fatalf("kmstest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("kmstest: %v", err)
		}
		if logs != nil && tb.Failed() {
			tb.Logf("kmstest: the server's log:\n%s", logs)
		}
	})
	return s
}

// Start starts a server that runs until Close, for a TestMain or a program
// of its own.
func Start(opts ...Option) (*Server, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return start(o)
}

func start(o options) (*Server, error) {
	if o.region == "" {
		o.region = DefaultRegion
	}
	id, secret := identity.NewAccessKey()
	cfg := server.Config{
		Ephemeral:           true,
		Listen:              "127.0.0.1:0",
		AccountID:           AccountID,
		RootAccessKeyID:     id,
		RootSecretAccessKey: secret,
		Logger:              o.logger,
	}
	for _, fn := range o.configure {
		fn(&cfg)
	}
	srv, err := server.Open(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := srv.Listen()
	if err != nil {
		srv.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	url := "http://" + ln.Addr().String()
	// A transport of its own, whose idle connections Close can end: the
	// test's goroutines are then what they were before the server.
	tr := &http.Transport{
		Proxy:               nil, // HTTP_PROXY must not catch 127.0.0.1
		DialContext:         (&net.Dialer{}).DialContext,
		MaxIdleConnsPerHost: 64,
	}
	s := &Server{
		URL:             url,
		AccountID:       cfg.AccountID,
		AccessKeyID:     id,
		SecretAccessKey: secret,
		Region:          o.region,
		DataDir:         srv.DataDir(),
		srv:             srv,
		transport:       tr,
		stop:            stop,
		done:            done,
	}
	s.Config = aws.Config{
		Region:           o.region,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		HTTPClient:       &http.Client{Transport: tr},
		RetryMaxAttempts: 1,
	}
	return s, nil
}

// Client returns a KMS client of Config.
func (s *Server) Client(optFns ...func(*awskms.Options)) *awskms.Client {
	return awskms.NewFromConfig(s.Config, optFns...)
}

// Close stops the server, waiting for requests in flight, and removes its
// data dir. It may be called more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		err := <-s.done
		s.transport.CloseIdleConnections()
		s.closeErr = errors.Join(err, s.srv.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("closing the server: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// maxLogBytes bounds the log NewServer keeps for a failing test.
const maxLogBytes = 1 << 20

// tailBuffer keeps the last max bytes or so written to it, whole lines.
type tailBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	max     int
	dropped bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if t.b.Len() > t.max {
		// Drop the older half, up to a line end.
		rest := t.b.Bytes()[t.b.Len()-t.max/2:]
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			rest = rest[i+1:]
		}
		kept := bytes.Clone(rest)
		t.b.Reset()
		t.b.Write(kept)
		t.dropped = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropped {
		return "(earlier lines dropped)\n" + t.b.String()
	}
	return t.b.String()
}
