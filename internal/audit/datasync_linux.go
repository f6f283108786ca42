package audit

import (
	"os"
	"syscall"
)

// datasync makes f's data durable: fdatasync skips the metadata (times)
// that a read of the data does not need.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
