package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockFile is the file in a data dir whose lock a server holds for its
// life, and which holds the server's PID for the message a second one gets.
const lockFile = "lock"

// InUseError is the error of a server, or of a command that writes, on a
// data dir that another process holds.
type InUseError struct {
	Dir string
	PID int // 0 if the holder has not written it yet
}

func (e *InUseError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data dir %s is in use by %s (a running kms server?): stop it first, or use another data dir", e.Dir, holder)
}

// dirLock is an exclusive OS lock on a data dir. The kernel releases it
// when its holder exits, however it exits, so a kill -9 leaves no stale
// lock behind.
type dirLock struct {
	f    *os.File
	prev []byte // the file's content before this holder's PID
}

// lockDataDir takes the lock of dir, which must exist, or fails at once
// with an *InUseError. It creates the lock file if it is missing; it
// writes into it only once it holds the lock.
func lockDataDir(dir string) (*dirLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := tryLock(f); err != nil {
		defer f.Close()
		if errors.Is(err, errLocked) {
			return nil, &InUseError{Dir: dir, PID: readPID(f)}
		}
		return nil, fmt.Errorf("lock data dir %s: %w", dir, err)
	}
	prev, err := io.ReadAll(io.NewSectionReader(f, 0, 64))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(pid, 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	return &dirLock{f: f, prev: prev}, nil
}

// unlock releases the lock. The PID stays in the file: the next holder
// overwrites it, and nobody reads it unless the lock is held.
func (l *dirLock) unlock() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}

// abandon releases the lock of a holder that failed to open the data dir,
// putting back what the lock file held: a refused start changes nothing.
func (l *dirLock) abandon() {
	if err := l.f.Truncate(0); err == nil {
		l.f.WriteAt(l.prev, 0)
	}
	l.f.Close()
}

func readPID(f *os.File) int {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid < 0 {
		return 0
	}
	return pid
}

// errLocked is tryLock's error when another process holds the lock.
var errLocked = errors.New("locked")
