package bolt

import (
	"os"
	"syscall"
)

// datasync flushes f's data and the metadata needed to read it back, not
// its times: for a file overwritten in place, no file-system journal
// commit.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
