// Package memtrim gives idle heap memory back to the operating system
// after a burst. The Go runtime keeps the pages a burst of garbage used
// (bulk registration, a first full-registry build, a restore) and its
// background scavenger returns only part of them: measured on eurekad with
// 100,000 instances, a live heap of 94 MB sat in 393 MB of RSS, 256 MB of it
// free heap kept for reuse, long after the burst; and an idle server runs
// no collection, so a burst's garbage stays too (6.9 GB of anonymous RSS
// for 1,000,000 instances on bolt). Run checks now and then and, when the
// free heap (or, while the runtime is idle, its garbage) is large against
// the live heap, collects and returns it (runtime/debug.FreeOSMemory). A
// busy server collects by itself, and nothing is done.
//
// Tune keeps the collector's headroom from growing with the registry
// (headroom.go): a large live heap is collected at a quarter of its size
// over, not twice its size.
package memtrim

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Interval is how often Run looks at the heap.
const Interval = 30 * time.Second

// minFree is the least free heap worth releasing; below it a collection
// costs more than the memory is worth.
const minFree = 64 << 20

// Heap is what Run reads of the heap, in bytes.
type Heap struct {
	// Free is heap memory collected and kept for reuse.
	Free uint64
	// Objects is heap memory in objects: live ones and garbage not yet
	// collected.
	Objects uint64
	// Live is the heap the last collection found live.
	Live uint64
	// Collected says a collection ran since the previous look: the
	// runtime is busy and its garbage is being reused.
	Collected bool
}

// Worth reports whether the heap is worth collecting and releasing: its
// free memory, or while no collection runs its uncollected garbage too,
// is at least minFree and more than half the live heap (the headroom the
// next cycle's growth, GOGC, takes back anyway).
func Worth(h Heap) bool {
	spare := h.Free
	if !h.Collected && h.Objects > h.Live {
		spare += h.Objects - h.Live
	}
	return spare >= minFree && spare > h.Live/2
}

// Run checks the heap every interval until ctx ends and releases free
// memory when Worth says so. It returns nil.
func Run(ctx context.Context, interval time.Duration) error {
	var cycles uint64
	return watch(ctx, interval, []string{
		"/memory/classes/heap/free:bytes",
		"/memory/classes/heap/objects:bytes",
		"/gc/heap/live:bytes",
		"/gc/cycles/total:gc-cycles",
	}, func(v []uint64) {
		h := Heap{Free: v[0], Objects: v[1], Live: v[2], Collected: v[3] != cycles}
		cycles = v[3]
		if Worth(h) {
			debug.FreeOSMemory()
			cycles++ // its own collection does not count as the runtime's
		}
	})
}

// watch reads the named runtime metrics every interval until ctx ends
// and hands their values to fn. It returns nil, at once when a metric is
// not a count of this runtime (nothing to go by).
func watch(ctx context.Context, interval time.Duration, names []string, fn func([]uint64)) error {
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	v := make([]uint64, len(names))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		metrics.Read(samples)
		for i, s := range samples {
			if s.Value.Kind() != metrics.KindUint64 {
				return nil
			}
			v[i] = s.Value.Uint64()
		}
		fn(v)
	}
}
