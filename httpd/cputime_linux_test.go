package httpd

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used; the
// benchmarks lock their goroutine to a thread and report CPU time per
// operation, which a busy shared machine distorts far less than wall time.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// processCPU returns the CPU time of the whole process (client and server
// of a loopback benchmark together).
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
