package kmstest

import (
	"context"
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
