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
// edits one instance, lets the oldest change leave and fetches the gzip
// JSON delta, assembled incrementally, without joining its parts
// for serving. A build should cost what changed,
// so its ns/op should hardly move with the window.
func benchDeltaChurnWindow(b *testing.B, n, apps, window int) {
	clock := &manualClock{}
	ro := registry.DefaultOptions()
	ro.Clock = clock
	ro.DeltaRetention = time.Duration(window) * time.Millisecond
	reg := registry.New(&ro)
	reg.OpenForTraffic(0)
	o := DefaultOptions()
	o.MinRebuildInterval = 0
	c, err := New(reg, &o)
	if err != nil {
		b.Fatal(err)
	}
	if c.delta == nil {
		b.Fatal("the registry does not give the cache its delta queue")
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
	compressed := c.delta.compressed
	b.ReportAllocs()
	b.ResetTimer()
	i := window
	for b.Loop() {
		change(i)
		i++
		// Built, not served: serving joins the parts (Representation.Bytes),
		// a copy of the whole compressed payload on each first fetch.
		if len(c.Get(k).Gzip().Parts) == 0 {
			b.Fatal("empty payload")
		}
	}
	b.StopTimer()
	p := c.Get(k)
	gz, plain := p.Gzip().Bytes(), p.Plain().Body
	b.ReportMetric(float64(len(gz)), "gz-B")
	b.ReportMetric(float64(len(plain)), "plain-B")
	b.ReportMetric(float64(c.delta.compressed-compressed)/float64(b.N), "compressed-B/op")
	// Against one compression of the whole delta, as benchSize.
	b.ReportMetric(float64(len(gz))/float64(scratchGzipSize(plain)), "gz/scratch")
}

// BenchmarkDeltaWindow5000 is BenchmarkDeltaChurn10000/incremental's case:
// 10,000 instances in 500 applications, 5,000 changes in the window.
func BenchmarkDeltaWindow5000(b *testing.B) { benchDeltaChurnWindow(b, 10000, 500, 5000) }

// BenchmarkDeltaChurn100000 has ten times the window: 100,000 instances
// in 5,000 applications, 50,000 changes in the window (about 50 MB of
// JSON). Walking the window on every build cost about 90 ns an entry.
func BenchmarkDeltaChurn100000(b *testing.B) { benchDeltaChurnWindow(b, 100000, 5000, 50000) }
