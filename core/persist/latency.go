package persist

import (
	"sync/atomic"
	"time"
)

// CommitBuckets are the upper bounds, in seconds, of the commit latency
// histogram: from a memory-speed batch to a slow remote store.
var CommitBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// latency is a fixed-bucket histogram of successful flush durations,
// written by the single flushing goroutine and read by metrics.
type latency struct {
	counts [14]atomic.Uint64 // len(CommitBuckets)+1; the last is +Inf
	sumNs  atomic.Int64
}

func (h *latency) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(CommitBuckets) && s > CommitBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

// CommitLatency is the distribution of successful flush durations.
type CommitLatency struct {
	// Buckets maps each upper bound in CommitBuckets (seconds) to the
	// cumulative count of flushes at or under it.
	Buckets map[float64]uint64
	// Count and Sum are the number of flushes and their total duration.
	Count uint64
	Sum   time.Duration
}

// CommitLatency returns the flush latency distribution since start.
func (p *Persister) CommitLatency() CommitLatency {
	out := CommitLatency{Buckets: make(map[float64]uint64, len(CommitBuckets))}
	var cum uint64
	for i, ub := range CommitBuckets {
		cum += p.latency.counts[i].Load()
		out.Buckets[ub] = cum
	}
	out.Count = cum + p.latency.counts[len(CommitBuckets)].Load()
	out.Sum = time.Duration(p.latency.sumNs.Load())
	return out
}
