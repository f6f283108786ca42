//go:build !linux

package audit

import "os"

// datasync makes f's data durable (on macOS, Sync uses F_FULLFSYNC).
func datasync(f *os.File) error { return f.Sync() }
