package cache

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/registry"
)

// benchDeltaChurnWindow is the cost of one change with a full delta window
// of window changes: n instances in apps applications; each iteration
// edits one instance, lets the oldest change leave and builds the gzip
// JSON delta (serving it, Representation.WriteTo, copies the parts and is
// left out). scratch hides Registry.DeltaSince, so the cache encodes the
// whole delta (Registry.Delta) on every build. An incremental build should
// cost what changed: its ns/op should hardly move with the window.
func benchDeltaChurnWindow(b *testing.B, n, apps, window int, scratch bool) {
	clock := &manualClock{}
	ro := registry.DefaultOptions()
	ro.Clock = clock
	ro.DeltaRetention = time.Duration(window) * time.Millisecond
	reg := registry.New(&ro)
	reg.OpenForTraffic(0)
	var src Source = reg
	if scratch {
		src = struct{ Source }{reg}
	}
	o := DefaultOptions()
	o.MinRebuildInterval = 0
	c, err := New(src, &o)
	if err != nil {
		b.Fatal(err)
	}
	if (c.delta == nil) != scratch {
		b.Fatal("the cache's delta assembler is not as the case wants")
	}
	for i := range n {
		reg.Register(inst(fmt.Sprint("APP", i%apps), fmt.Sprint("i", i)), false)
	}
	clock.ms.Add(2 * int64(window))
	reg.ExpireDelta()
	change := func(i int) {
		clock.ms.Add(1)
		j := i * 7919 % n
		reg.UpdateMetadata(fmt.Sprint("APP", j%apps), fmt.Sprint("i", j), map[string]string{"rev": strconv.Itoa(i)})
		reg.ExpireDelta()
	}
	k := Key{Entity: EntityDelta, Format: JSON}
	for i := range window {
		change(i)
	}
	c.Get(k).Gzip()
	var compressed int64
	if !scratch {
		compressed = c.delta.compressed
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := window
	for b.Loop() {
		change(i)
		i++
		if gz := c.Get(k).Gzip(); gz.Body == nil && gz.Parts == nil {
			b.Fatal("empty payload")
		}
	}
	b.StopTimer()
	p := c.Get(k)
	gz, plain := body(p.Gzip()), p.Plain().Body
	b.ReportMetric(float64(len(gz)), "gz-B")
	b.ReportMetric(float64(len(plain)), "plain-B")
	if !scratch {
		b.ReportMetric(float64(c.delta.compressed-compressed)/float64(b.N), "compressed-B/op")
	}
	// Against one compression of the whole delta, as benchSize.
	b.ReportMetric(float64(len(gz))/float64(scratchGzipSize(plain)), "gz/scratch")
}

// BenchmarkDeltaChurn100000 has ten times the window: 100,000 instances
// in 5,000 applications, 50,000 changes in the window (about 50 MB of
// JSON). Walking the window on every build cost about 90 ns an entry.
func BenchmarkDeltaChurn100000(b *testing.B) { benchDeltaChurnWindow(b, 100000, 5000, 50000, false) }

// BenchmarkDeltaWindowMemory is a window of 100,000 instances (a bulk load
// in 5,000 applications) assembled from scratch in both formats: ns/op is
// that first build, B/inst the live heap the assembler holds for each
// instance of the window (its parts included), measured after a GC.
func BenchmarkDeltaWindowMemory(b *testing.B) {
	const n = 100000
	ro := registry.DefaultOptions()
	ro.Clock = &manualClock{}
	reg := registry.New(&ro)
	reg.OpenForTraffic(0)
	for i := range n {
		reg.Register(inst(fmt.Sprint("APP", i%5000), fmt.Sprint("i", i)), false)
	}
	// Measured first: b.Loop keeps what its body made alive a while.
	held := heldBy(func() any {
		a := newDeltaAssembler(reg)
		a.build(JSON, 1)
		a.build(XML, 1)
		return a
	})
	b.ReportAllocs()
	for b.Loop() {
		a := newDeltaAssembler(reg)
		a.build(JSON, 1)
		a.build(XML, 1)
	}
	b.ReportMetric(float64(held)/n, "B/inst")
}
