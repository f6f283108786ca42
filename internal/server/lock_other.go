//go:build !unix

package server

import "os"

// tryLock does not lock on systems without flock: the server runs on Linux
// and macOS; elsewhere nothing stops a second server on one data dir.
func tryLock(*os.File) error { return nil }
