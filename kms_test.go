package kms

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestInternalUnavailable: a cause that is a dependency not answering is a
// retryable 503 that says so; any other stays a 500 that says nothing.
func TestInternalUnavailable(t *testing.T) {
	down := fmt.Errorf("postgres: get key: %w: dial tcp 127.0.0.1:5432: connection refused", ErrUnavailable)
	other := errors.New("postgres: get key: syntax error")
	for _, tc := range []struct {
		err    *Error
		code   string
		status int
	}{
		{Internal(down), ErrDependencyTimeout, 503},
		{Internal(other), ErrInternal, 500},
		{InternalFailure(down), ErrServiceUnavailable, 503},
		{InternalFailure(other), ErrInternalFailure, 500},
	} {
		if tc.err.Code != tc.code || tc.err.Status() != tc.status {
			t.Errorf("%v: %s %d, want %s %d", tc.err, tc.err.Code, tc.err.Status(), tc.code, tc.status)
		}
		if strings.Contains(tc.err.Message, "127.0.0.1") || strings.Contains(tc.err.Message, "postgres") {
			t.Errorf("message %q shows the cause", tc.err.Message)
		}
		if !errors.Is(tc.err, ErrUnavailable) != (tc.status == 500) {
			t.Errorf("%v: the cause is lost", tc.err)
		}
	}
}

func TestValidServicePrincipal(t *testing.T) {
	for s, want := range map[string]bool{
		"s3.amazonaws.com":               true,
		"logs.us-east-1.amazonaws.com":   true,
		"auto-scaling.amazonaws.com":     true,
		"amazonaws.com":                  false,
		".amazonaws.com":                 false,
		"S3.amazonaws.com":               false,
		"-s3.amazonaws.com":              false,
		"s3..amazonaws.com":              false,
		"s3.amazonaws.com.cn":            false,
		"s3.example.com":                 false,
		"*.amazonaws.com":                false,
		"arn:aws:iam::111122223333:root": false,
		"":                               false,
	} {
		if got := ValidServicePrincipal(s); got != want {
			t.Errorf("ValidServicePrincipal(%q) = %v, want %v", s, got, want)
		}
	}
}
