package httpd

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// durationBuckets are the upper bounds (seconds) of the request duration
// histogram: from a renewal (tens of microseconds) to a held long-poll.
var durationBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// histStripes spreads concurrent observations over cache lines; it is a
// power of two.
const histStripes = 16

// stripedHistogram is a request duration histogram that concurrent
// requests record into without sharing a cache line: each observation
// goes to a stripe picked by the runtime's per-thread random source, and a
// scrape sums the stripes. (prometheus.Histogram keeps one count, sum and
// bucket set that every observation writes: on the renewal path that would
// be a write shared by every core.)
type stripedHistogram struct {
	stripes [histStripes]histStripe
}

type histStripe struct {
	// counts[i] counts observations in bucket i (not cumulative); the last
	// is +Inf.
	counts [len(durationBuckets) + 1]atomic.Uint64
	sumNs  atomic.Int64
	_      [64]byte // keeps neighbouring stripes off this one's last line
}

// observe records one duration; it does not allocate.
func (h *stripedHistogram) observe(d time.Duration) {
	s := &h.stripes[rand.Uint32()&(histStripes-1)]
	sec := d.Seconds()
	i := 0
	for i < len(durationBuckets) && sec > durationBuckets[i] {
		i++
	}
	s.counts[i].Add(1)
	s.sumNs.Add(int64(d))
}

// snapshot returns the cumulative counts by upper bound, the total count
// and the sum in seconds, as prometheus.MustNewConstHistogram takes them.
func (h *stripedHistogram) snapshot() (buckets map[float64]uint64, count uint64, sum float64) {
	var per [len(durationBuckets) + 1]uint64
	var ns int64
	for i := range h.stripes {
		s := &h.stripes[i]
		for b := range per {
			per[b] += s.counts[b].Load()
		}
		ns += s.sumNs.Load()
	}
	buckets = make(map[float64]uint64, len(durationBuckets))
	for b, ub := range durationBuckets {
		count += per[b]
		buckets[ub] = count
	}
	count += per[len(durationBuckets)]
	return buckets, count, float64(ns) / 1e9
}
