package persist

import "github.com/eurekad/eurekad/internal/histogram"

// CommitBuckets are the upper bounds, in seconds, of the commit latency
// histogram: from a memory-speed batch to a slow remote store.
var CommitBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// CommitLatency is the distribution of successful flush durations, by
// the upper bounds in CommitBuckets.
type CommitLatency = histogram.Snapshot

// CommitLatency returns the flush latency distribution since start.
func (p *Persister) CommitLatency() CommitLatency { return p.latency.Snapshot(CommitBuckets) }
