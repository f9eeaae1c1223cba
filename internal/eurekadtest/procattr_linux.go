package eurekadtest

import "syscall"

// sysProcAttr makes the kernel SIGKILL eurekad when the thread that
// started it dies, so a killed test binary leaves no orphan server.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
