package main

import "syscall"

// sysProcAttr makes the kernel SIGKILL a server the fleet command started
// when the thread that started it dies, so a killed eurekabench leaves no
// orphan eurekad.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
