//go:build !linux

package main

import "syscall"

// sysProcAttr: no parent-death signal outside Linux; the fleet command
// still kills its servers on a signal and at its watchdog.
func sysProcAttr() *syscall.SysProcAttr { return nil }
