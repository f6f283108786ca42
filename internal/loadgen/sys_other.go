//go:build !linux

package loadgen

import (
	"errors"
	"io"
	"os/exec"
	"time"
)

var errNoCPU = errors.New("reading a process's CPU time needs Linux")

func processCPU(pid int) (time.Duration, error) { return 0, errNoCPU }

// CheckPID reports whether the CPU time of process pid can be read.
func CheckPID(pid int) error { return errNoCPU }

// StartOnCPUsOf starts cmd; setting its CPU affinity needs Linux.
func StartOnCPUsOf(cmd *exec.Cmd, pid int) error {
	return errors.New("setting CPU affinity needs Linux")
}

// IsTerminal reports whether w is a terminal; off Linux, never.
func IsTerminal(w io.Writer) bool { return false }
