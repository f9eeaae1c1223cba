package memtrim

import (
	"context"
	"os"
	"runtime/debug"
	"time"
)

// A registry's heap is mostly its instances and payloads, which live as
// long as the process; what a request allocates is small against it. Go's
// default collector (GOGC=100) lets the heap grow to twice the live heap
// before collecting, so at 1,000,000 instances a 1.2 GB live heap sat in
// 2.6 GB of RSS. The headroom a collection needs is what is allocated
// between two of them, which depends on the load, not on the registry's
// size: Headroom keeps GOGC's proportional headroom for a small heap and
// caps it at a quarter of a large one. A collection then comes four times
// as often as with GOGC=100 at the same allocation rate, each marking the
// same live heap: with eurekad's hot paths nearly free of allocation, a
// few percent of a core at 1,000,000 instances (docs/benchmarks.md).

// Headroom is a GC policy: GOGC for a live heap.
type Headroom struct {
	// Min is the headroom every heap keeps at least (GOGC=100 up to a live
	// heap of this size).
	Min uint64
	// Floor is the lowest GOGC set: a quarter of the live heap.
	Floor int
}

// DefaultHeadroom is eurekad's policy: GOGC=100 up to 256 MB of live heap,
// then a headroom of 256 MB, down to GOGC=25 from 1 GB on.
var DefaultHeadroom = Headroom{Min: 256 << 20, Floor: 25}

// Percent is the GOGC for a live heap of live bytes.
func (h Headroom) Percent(live uint64) int {
	if live == 0 {
		return 100
	}
	p := h.Min * 100 / live
	return int(min(100, max(uint64(h.Floor), p)))
}

// TuneEvery is how often Tune looks at the live heap: a bulk load grows it
// by hundreds of megabytes a second.
const TuneEvery = time.Second

// Tune sets GOGC after each collection from the live heap it found, by
// h, until ctx ends. It does nothing when the operator chose a GOGC or a
// GOMEMLIMIT (environment variables): theirs is the policy then. It
// returns nil.
func Tune(ctx context.Context, h Headroom, every time.Duration) error {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	var cycles uint64
	set := 100
	return watch(ctx, every, []string{"/gc/heap/live:bytes", "/gc/cycles/total:gc-cycles"}, func(v []uint64) {
		if v[1] == cycles {
			return
		}
		cycles = v[1]
		if p := h.Percent(v[0]); p != set {
			debug.SetGCPercent(p)
			set = p
		}
	})
}
