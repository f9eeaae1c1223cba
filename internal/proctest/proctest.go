// Package proctest reads what tests need to know of a process from Linux's
// /proc: its CPU time, resident memory, whether it still runs, and its
// children (a plugin's subprocess).
package proctest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTick = time.Second / 100

// stat returns the fields of /proc/<pid>/stat after the command name (which
// is parenthesised and may hold spaces): field 0 is the state.
func stat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("proctest: /proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// CPU is the CPU time pid has used, user and system; it fails tb when it
// cannot be read.
func CPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	f, err := stat(pid)
	if err == nil && len(f) < 13 {
		err = fmt.Errorf("proctest: /proc/%d/stat: %d fields", pid, len(f))
	}
	if err != nil {
		tb.Fatal(err)
	}
	// utime and stime are fields 14 and 15 of the whole line.
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(u+s) * clockTick
}

// RSS is pid's resident set size in bytes (VmRSS); it fails tb when it
// cannot be read.
func RSS(tb testing.TB, pid int) int64 {
	tb.Helper()
	return Status(tb, pid, "VmRSS")
}

// Status is the memory field of /proc/<pid>/status named field (VmRSS,
// RssAnon, RssFile…) in bytes; it fails tb when it cannot be read.
func Status(tb testing.TB, pid int, field string) int64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				tb.Fatalf("proctest: %s %q: %v", field, v, err)
			}
			return kb << 10
		}
	}
	tb.Fatalf("proctest: no %s in /proc/%d/status", field, pid)
	return 0
}

// Alive reports whether pid runs: it exists and is not a zombie (one that
// exited and was not yet reaped).
func Alive(pid int) bool {
	f, err := stat(pid)
	return err == nil && len(f) > 0 && f[0] != "Z"
}

// Process is a child process: its pid and command line, arguments joined
// by spaces.
type Process struct {
	PID     int
	Cmdline string
}

// Children lists the children of pid, from every thread's list.
func Children(tb testing.TB, pid int) []Process {
	tb.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		tb.Fatal(err)
	}
	var out []Process
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, field := range strings.Fields(string(b)) {
			c, err := strconv.Atoi(field)
			if err != nil {
				continue
			}
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
			out = append(out, Process{c, strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " ")})
		}
	}
	return out
}

// Child returns the one child of pid whose command line contains what,
// and fails tb unless there is exactly one.
func Child(tb testing.TB, pid int, what string) Process {
	tb.Helper()
	var found []Process
	all := Children(tb, pid)
	for _, c := range all {
		if strings.Contains(c.Cmdline, what) {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		tb.Fatalf("children of %d matching %q: %v (all: %v)", pid, what, found, all)
	}
	return found[0]
}
