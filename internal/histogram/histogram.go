// Package histogram is a fixed-bucket histogram of durations, written
// with atomics from any goroutine and read as Prometheus's const
// histograms want it: cumulative counts by upper bound, a count and a sum.
package histogram

import (
	"sort"
	"sync/atomic"
	"time"
)

// MaxBounds is the most upper bounds a Durations takes.
const MaxBounds = 15

// Durations counts durations by bucket. The zero value is empty and
// ready; every call passes the same bounds (seconds, increasing, at most
// MaxBounds), so the bounds live with the caller.
type Durations struct {
	// counts[i] is the durations in (bounds[i-1], bounds[i]]; the one
	// after the last bound counts those past every bound.
	counts [MaxBounds + 1]atomic.Uint64
	sumNs  atomic.Int64
}

// Observe counts d.
func (h *Durations) Observe(bounds []float64, d time.Duration) {
	h.counts[sort.SearchFloat64s(bounds, d.Seconds())].Add(1)
	h.sumNs.Add(int64(d))
}

// Snapshot is a histogram's state.
type Snapshot struct {
	// Buckets maps each upper bound (seconds) to the cumulative count of
	// durations at or under it.
	Buckets map[float64]uint64
	// Count and Sum are the number of durations and their total.
	Count uint64
	Sum   time.Duration
}

// Snapshot returns the counts so far.
func (h *Durations) Snapshot(bounds []float64) Snapshot {
	out := Snapshot{Buckets: make(map[float64]uint64, len(bounds)), Sum: time.Duration(h.sumNs.Load())}
	for i, ub := range bounds {
		out.Count += h.counts[i].Load()
		out.Buckets[ub] = out.Count
	}
	out.Count += h.counts[len(bounds)].Load()
	return out
}
