package loadgen

import (
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// processCPU returns the CPU time, user and system, that process pid has
// used so far, in all its threads, exited ones included. It reads the
// process CPU-time clock (the clock clock_getcpuclockid names, in ns); if
// that fails, utime+stime from /proc/PID/stat, in ticks of 1/100 s (USER_HZ).
func processCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, errors.New("not a process id")
	}
	// MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED). A pid too large for it
	// would wrap around to another clock, such as this process's own.
	if clock := (^int64(pid))<<3 | 2; clock >= math.MinInt32 {
		var ts unix.Timespec
		if err := unix.ClockGettime(int32(clock), &ts); err == nil {
			return time.Duration(ts.Nano()), nil
		}
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses; fields resume
	// after its last ')'.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc/PID/stat")
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// CheckPID reports whether the CPU time of process pid can be read.
func CheckPID(pid int) error {
	_, err := processCPU(pid)
	return err
}

// StartOnCPUsOf starts cmd with the CPU affinity of process pid, as if by
// `taskset -c CPUS`, so that a floor server runs on the cores the measured
// server runs on.
func StartOnCPUsOf(cmd *exec.Cmd, pid int) error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &set); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		// A child takes the CPU mask of the thread that forks it. This
		// thread takes pid's mask and stays locked, so the runtime discards
		// it when the goroutine returns: no other goroutine runs with that
		// mask, and the runtime never starts threads from a locked one.
		runtime.LockOSThread()
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			errc <- err
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// IsTerminal reports whether w is a terminal, for live progress.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
