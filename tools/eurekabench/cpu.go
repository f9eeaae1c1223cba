package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

// The machine is shared (two cores, other builds and tests may run), so each
// run also records CPU time from /proc: the server's, the generator's and
// everyone else's. CPU per request holds up under contention far better than
// requests per second, and the share used by other processes tells whether
// a run's figures can be trusted. Linux only; elsewhere the fields stay zero.

// clockTick is USER_HZ, the unit of /proc CPU times; 100 on every Linux
// architecture Go supports in practice (reading it needs sysconf, i.e. cgo).
const clockTick = 100

// cpuSample is a reading of the machine-wide and per-process CPU counters.
type cpuSample struct {
	ok          bool
	busy, total uint64 // machine-wide ticks, all CPUs
	self        uint64 // this process, ticks
	server      uint64 // the server process, ticks (0 without a pid)
	// store is the CPU of a process the server depends on (redis-server),
	// children it has reaped included (Redis rewrites its append-only file
	// in a forked child), ticks; 0 without a pid.
	store uint64
}

// readMachineCPU returns the busy and total ticks from /proc/stat's first line.
func readMachineCPU() (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, errors.New("unexpected /proc/stat format")
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		// guest and guest_nice (fields 9 and 10) are already in user/nice.
		if i >= 8 {
			break
		}
		total += n
		// idle (3) and iowait (4) are not busy.
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total, nil
}

// readProcCPU returns utime+stime of a process in ticks.
func readProcCPU(pid string) (uint64, error) {
	return readProcCPUFields(pid, false)
}

// readProcCPUFields returns utime+stime of a process in ticks, plus
// cutime+cstime (its waited-for children) when children is true.
func readProcCPUFields(pid string, children bool) (uint64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces; fields resume after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/pid/stat format")
	}
	f := bytes.Fields(b[i+1:])
	// After ')': state is field 3 of the full line, utime 14 and stime 15,
	// cutime 16 and cstime 17.
	if len(f) < 15 {
		return 0, errors.New("unexpected /proc/pid/stat format")
	}
	last := 12
	if children {
		last = 14
	}
	var sum uint64
	for _, v := range f[11 : last+1] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

func sampleCPU(serverPID int) cpuSample {
	return sampleCPUWith(serverPID, 0)
}

// sampleCPUWith also reads the CPU time of storePID (0: none).
func sampleCPUWith(serverPID, storePID int) cpuSample {
	var s cpuSample
	var err error
	if s.busy, s.total, err = readMachineCPU(); err != nil {
		return s
	}
	if s.self, err = readProcCPU("self"); err != nil {
		return s
	}
	if serverPID > 0 {
		if s.server, err = readProcCPU(strconv.Itoa(serverPID)); err != nil {
			return s
		}
	}
	if storePID > 0 {
		if s.store, err = readProcCPUFields(strconv.Itoa(storePID), true); err != nil {
			return s
		}
	}
	s.ok = true
	return s
}

// CPUUse is the CPU time spent during a measured phase.
type CPUUse struct {
	// ServerSec and GeneratorSec are CPU seconds of the server (when its pid
	// was given) and of eurekabench.
	ServerSec    float64 `json:"server_cpu_s"`
	GeneratorSec float64 `json:"generator_cpu_s"`
	// StoreSec is the CPU seconds of the store process the server writes
	// to (redis-server, with --store-pid); it counts as the system under
	// test, not as other processes.
	StoreSec float64 `json:"store_cpu_s,omitempty"`
	// OtherPct is the share of the whole machine (all cores) used by other
	// processes; above a few percent the run shared the machine.
	OtherPct float64 `json:"other_cpu_pct"`
}

func cpuUse(a, b cpuSample, serverPID int) *CPUUse {
	if !a.ok || !b.ok || b.total <= a.total {
		return nil
	}
	u := &CPUUse{
		ServerSec:    float64(b.server-a.server) / clockTick,
		GeneratorSec: float64(b.self-a.self) / clockTick,
		StoreSec:     float64(b.store-a.store) / clockTick,
	}
	ours := (b.self - a.self) + (b.server - a.server) + (b.store - a.store)
	busy := b.busy - a.busy
	if serverPID > 0 && busy > ours {
		u.OtherPct = 100 * float64(busy-ours) / float64(b.total-a.total)
	}
	return u
}

// cmdQuiet waits until the machine is nearly idle (other processes using
// less than --max-busy percent of all cores over 300 ms), so a run does
// not start in the middle of someone else's build. It gives up after
// --timeout and says so; the run then goes ahead and its other_cpu_pct shows
// the contention.
func cmdQuiet(args []string) error {
	fs := flag.NewFlagSet("quiet", flag.ContinueOnError)
	maxBusy := fs.Float64("max-busy", 10, "percent of all cores others may use")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	deadline := time.Now().Add(*timeout)
	busy := 0.0
	for {
		b0, t0, err := readMachineCPU()
		if err != nil {
			return nil // not Linux: nothing to wait for
		}
		time.Sleep(300 * time.Millisecond)
		b1, t1, err := readMachineCPU()
		if err != nil || t1 <= t0 {
			return nil
		}
		busy = 100 * float64(b1-b0) / float64(t1-t0)
		if busy <= *maxBusy {
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "eurekabench: machine still %.0f%% busy (%d cores) after %v; running anyway\n",
				busy, runtime.NumCPU(), *timeout)
			return nil
		}
	}
}
