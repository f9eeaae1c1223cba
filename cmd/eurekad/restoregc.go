package main

import (
	"os"
	"runtime/debug"
)

// restoreGCPercent is the collector's GOGC while a restore runs.
//
// A restore only grows the heap, up to the registry's whole live heap, and
// at GOGC=100 the collector marks it again at every doubling: restoring
// 1,000,000 instances from bolt ran 8 collections marking 2.5 GB in all,
// about a fifth of the restore's CPU (BenchmarkRestoreBolt in
// core/registry, cpu-s/op 6.8–7.4 at GOGC=100, 5.1–6.1 at 300). The price
// is a higher peak while it runs: at most four times the heap the last
// collection found live, which the collections after it return
// (memtrim).
const restoreGCPercent = 300

// restoreGC sets the collector's GOGC for a restore and returns the
// function that sets the previous value back. An operator's GOGC or
// GOMEMLIMIT (environment variables) is theirs to keep: then it does
// nothing.
func restoreGC() (undo func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(restoreGCPercent)
	return func() { debug.SetGCPercent(prev) }
}
