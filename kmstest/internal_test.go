package kmstest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openkms/kms/internal/server"
)

// TestConfigure: the configure hooks (where seeding will plug in) run
// after the defaults are set, and the Server reports what they set.
func TestConfigure(t *testing.T) {
	const account = "444455556666"
	srv := NewServer(t, func(o *options) {
		o.configure = append(o.configure, func(c *server.Config) { c.AccountID = account })
	})
	id, err := sts.NewFromConfig(srv.Config).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if srv.AccountID != account || *id.Account != account {
		t.Fatalf("AccountID %s, caller's account %s; want %s", srv.AccountID, *id.Account, account)
	}
}

// TestTailBuffer: the kept log ends with the last lines written, and says
// when it dropped earlier ones.
func TestTailBuffer(t *testing.T) {
	for _, tc := range []struct {
		name        string
		lines       int
		wantDropped bool
	}{
		{"fits", 3, false},
		{"overflows", 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &tailBuffer{max: 64}
			for i := range tc.lines {
				b.Write([]byte(strings.Repeat("x", 9) + string(rune('a'+i%26)) + "\n"))
			}
			got := b.String()
			if dropped := strings.HasPrefix(got, "(earlier lines dropped)\n"); dropped != tc.wantDropped {
				t.Fatalf("dropped %v, want %v: %q", dropped, tc.wantDropped, got)
			}
			last := string(rune('a'+(tc.lines-1)%26)) + "\n"
			if !strings.HasSuffix(got, last) || len(got) > 64+len("(earlier lines dropped)\n") {
				t.Fatalf("kept %q", got)
			}
		})
	}
}

// fakeTB records what NewServer does with its test; the embedded TB (the
// real test) answers the rest.
type fakeTB struct {
	testing.TB
	failed   bool
	logs     []string
	cleanups []func()
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Failed() bool      { return f.failed }
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

// TestLogOnFailure: NewServer's default logger shows the server's log in
// the test's log only when the test failed.
func TestLogOnFailure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		failed  bool
		wantLog bool
	}{
		{"passed", false, false},
		{"failed", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTB{TB: t, failed: tc.failed}
			NewServer(f)
			for _, fn := range slices.Backward(f.cleanups) {
				fn()
			}
			logged := strings.Join(f.logs, "\n")
			if got := strings.Contains(logged, "root credentials written"); got != tc.wantLog {
				t.Fatalf("server log shown %v, want %v: %q", got, tc.wantLog, logged)
			}
		})
	}
}
