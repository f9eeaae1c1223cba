package memtrim

import (
	"context"
	"os"
	"runtime/debug"
	"sync/atomic"
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
// same live heap: the price of the memory. At 1,000,000 instances under
// 1,000 changes/s the collector took a fifth of the server's CPU samples;
// quiet, it has little to collect (renewals and cached reads allocate
// nothing).

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

// operatorChose reports whether GOGC or GOMEMLIMIT is set in the
// environment: the operator's policy then, which eurekad leaves alone.
func operatorChose() bool { return os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" }

// growing counts the Growing phases under way; Tune leaves GOGC to them.
var growing atomic.Int32

// GrowingPercent is GOGC while a heap only grows (Growing).
//
// A restore only grows the heap, up to the registry's whole live heap, and
// at GOGC=100 the collector marks it again at every doubling: restoring
// 1,000,000 instances from bolt ran 8 collections marking 2.5 GB in all,
// about a fifth of the restore's CPU (BenchmarkRestoreBolt in
// core/registry, cpu-s/op 6.8–7.4 at GOGC=100, 5.1–6.1 at 300). The price
// is a higher peak while it runs: at most four times the heap the last
// collection found live, which the collections after it return (Run).
const GrowingPercent = 300

// Growing sets GOGC to GrowingPercent for a phase that only grows the
// heap (a restore) and returns the function that ends it, setting the
// previous GOGC back. Tune leaves GOGC alone while one is under way. With
// an operator's GOGC or GOMEMLIMIT it does nothing.
func Growing() (end func()) {
	if operatorChose() {
		return func() {}
	}
	growing.Add(1)
	prev := debug.SetGCPercent(GrowingPercent)
	return func() {
		debug.SetGCPercent(prev)
		growing.Add(-1)
	}
}

// Tune sets GOGC after each collection from the live heap it found, by
// h, until ctx ends, except during Growing phases. It does nothing when
// the operator chose a GOGC or a GOMEMLIMIT (environment variables):
// theirs is the policy then. It returns nil.
func Tune(ctx context.Context, h Headroom, every time.Duration) error {
	if operatorChose() {
		return nil
	}
	t := tuner{h: h}
	return watch(ctx, every, []string{"/gc/heap/live:bytes", "/gc/cycles/total:gc-cycles", "/gc/gogc:percent"}, t.look)
}

// tuner is Tune's state between looks.
type tuner struct {
	h      Headroom
	cycles uint64
}

// look sets GOGC for the live heap v[0] when a collection ran since the
// last look (v[1] moved) and no growing phase is under way; v[2] is GOGC.
func (t *tuner) look(v []uint64) {
	if v[1] == t.cycles || growing.Load() > 0 {
		return
	}
	t.cycles = v[1]
	if p := t.h.Percent(v[0]); uint64(p) != v[2] {
		debug.SetGCPercent(p)
	}
}
