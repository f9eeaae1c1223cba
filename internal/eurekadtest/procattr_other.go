//go:build !linux

package eurekadtest

import "syscall"

// sysProcAttr has no parent-death signal outside Linux: the server is killed
// in t.Cleanup, but a test binary killed with SIGKILL leaves it running.
func sysProcAttr() *syscall.SysProcAttr { return nil }
