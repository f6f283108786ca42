package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestAuditSyncFlags: --audit-sync and --audit-sync-interval, and their
// variables, are checked before anything is written to disk.
func TestAuditSyncFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--audit-sync", "sometimes"}, nil, "bad --audit-sync "},
		{nil, []string{"KMS_AUDIT_SYNC=never"}, "bad --audit-sync "},
		{[]string{"--audit-sync-interval", "0"}, nil, "bad --audit-sync-interval"},
		{[]string{"--audit-sync-interval", "-5ms"}, nil, "bad --audit-sync-interval"},
		{[]string{"--audit-sync-interval", "2m"}, nil, "bad --audit-sync-interval"},
		{nil, []string{"KMS_AUDIT_SYNC_INTERVAL=soon"}, "bad --audit-sync-interval"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		_, stderr, code := kmsCmd(t, tc.env, append([]string{"server", "--data-dir", dir, "--listen", "127.0.0.1:0"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Fatalf("%v %v: exit %d\n%s", tc.args, tc.env, code, stderr)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v %v: a bad flag created the data dir: %v", tc.args, tc.env, err)
		}
	}
	// Good values serve.
	p := startKMS(t, t.TempDir(), append([]string{"KMS_AUDIT_SYNC=always", "KMS_AUDIT_SYNC_INTERVAL=250ms"}, pinned...)...)
	if _, err := p.client().CreateKey(context.Background(), &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
}
