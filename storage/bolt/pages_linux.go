package bolt

import "syscall"

// dontNeed drops the n bytes of file mapping at addr from the process's
// resident set; the page cache keeps them, and a later read maps them
// again. A failure only leaves them resident.
func dontNeed(addr uintptr, n int) {
	syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(n), syscall.MADV_DONTNEED)
}
