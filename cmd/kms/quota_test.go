package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestQuotasFlag: --quotas (KMS_QUOTAS) with a file turns on AWS's quotas
// with its adjustments; a file that does not parse stops the start.
func TestQuotasFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "quotas.yaml")
	os.WriteFile(file, []byte("default:\n  CreateKey: 1\n"), 0o600)
	p := startKMS(t, filepath.Join(t.TempDir(), "data"), append(pinned, "KMS_QUOTAS="+file)...)
	ctx, c := context.Background(), p.client()
	if _, err := c.CreateKey(ctx, &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if errorCode(err) != "ThrottlingException" {
		t.Fatalf("second CreateKey at 1 a second: %v, want ThrottlingException", err)
	}

	os.WriteFile(file, []byte("default:\n  CreateKeys: 1\n"), 0o600)
	stderr, code := serverExit(t, nil, "--data-dir", filepath.Join(t.TempDir(), "data"), "--quotas", file)
	if code != 2 || !strings.Contains(stderr, "--quotas") || !strings.Contains(stderr, `unknown quota "CreateKeys"`) {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
}
