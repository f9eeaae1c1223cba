package cache

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/eurekad/eurekad/core/registry"
)

// fill registers n instances in n/20 applications.
func fill(tb testing.TB, n int) (*Cache, func(i int)) { return fillApps(tb, n, max(1, n/20)) }

// fillApps registers n instances in apps applications.
func fillApps(tb testing.TB, n, apps int) (*Cache, func(i int)) {
	c, reg := newCache(tb, func(o *Options) { o.MinRebuildInterval = 0 })
	for i := range n {
		reg.Register(inst(fmt.Sprint("APP", i%apps), fmt.Sprint("i", i)), false)
	}
	// change edits one instance's metadata: a change to one application.
	change := func(i int) {
		j := i % n
		reg.UpdateMetadata(fmt.Sprint("APP", j%apps), fmt.Sprint("i", j), map[string]string{"rev": strconv.Itoa(i)})
	}
	return c, change
}

// benchRebuild is the cost of encoding the whole registry from scratch
// (no application's piece kept), as at start-up or when every piece
// expired.
// cpu-ns/op is the process's CPU time per build, the collector's
// included: on 2 cores the encoders and compressors compete for it, and
// wall time moves with the neighbours' load. gz-B is the payload's size
// as that build leaves it.
func benchRebuild(b *testing.B, n, apps int) {
	c, _ := fillApps(b, n, apps)
	b.ReportAllocs()
	var size int
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		c.full[JSON].reset()
		size, _ = strconv.Atoi(c.build(appsJSON, nil).Gzip().Length[0])
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(size), "gz-B")
	// What the builds after it spend recompressing what it compressed
	// fast (assembler.settle), nothing changing: refreshes spaced
	// rebuildCostShare times their cost apart take rebuildCostShare+1
	// times as long.
	start := time.Now()
	builds, p := settle(c, JSON)
	b.ReportMetric(float64(time.Since(start).Nanoseconds()), "settle-ns")
	b.ReportMetric(float64(builds), "settle-builds")
	if p != nil {
		size, _ = strconv.Atoi(p.Gzip().Length[0])
	}
	b.ReportMetric(float64(size), "settled-gz-B")
}

// settle builds c's full payload in format f until no run its first
// build compressed fast is left (assembler.settle): what a change costs
// and what a payload weighs in the steady state, not in the seconds after
// a start. It returns how many builds that took and the last one's
// payload (nil when none was needed).
func settle(c *Cache, f Format) (builds int, p *Payload) {
	for c.full[f].backlog() {
		p = c.build(Key{Entity: EntityApps, Format: f}, nil)
		builds++
	}
	return builds, p
}

// skipMillion skips a benchmark of 1,000,000 instances with -short:
// setting it up takes a while.
func skipMillion(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000,000 instances")
	}
}

func BenchmarkRebuild1000(b *testing.B)   { benchRebuild(b, 1000, 50) }
func BenchmarkRebuild10000(b *testing.B)  { benchRebuild(b, 10000, 500) }
func BenchmarkRebuild100000(b *testing.B) { benchRebuild(b, 100000, 5000) }

// BenchmarkRebuildFleet100000 has the scale benchmark's fleet shape, 50
// applications.
func BenchmarkRebuildFleet100000(b *testing.B) { benchRebuild(b, 100000, 50) }

// BenchmarkRebuildFleet1000000 is the first build of a restart at the
// scale benchmark's size (issue 21): 1,000,000 instances in 50
// applications (skipMillion).
func BenchmarkRebuildFleet1000000(b *testing.B) {
	skipMillion(b)
	benchRebuild(b, 1000000, 50)
}

// benchChurn is the cost of one change: one application edited, then the
// full gzip JSON payload fetched as a client would; n instances in apps
// applications.
func benchChurn(b *testing.B, n, apps int) {
	c, change := fillApps(b, n, apps)
	c.Get(appsJSON).Gzip()
	settle(c, JSON)
	compressed := c.full[JSON].compressed
	b.ReportAllocs()
	cpu, built := cpuTime(), c.BuildTime()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		change(i)
		i++
		// Served as a handler serves it.
		if n, _ := c.Get(appsJSON).Gzip().WriteTo(io.Discard); n == 0 {
			b.Fatal("empty payload")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(c.full[JSON].compressed-compressed)/float64(b.N), "compressed-B/op")
	// The process's CPU time, garbage collection included: on a shared
	// machine wall time per op moves with the neighbours' load.
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	// Building alone, without serving: what a change costs when nobody
	// reads every version.
	b.ReportMetric(float64(c.BuildTime()-built)/float64(b.N), "build-ns/op")
	// What the registry and the cache hold: c is kept alive through the
	// collection.
	b.ReportMetric(float64(liveHeap()), "heap-B")
	runtime.KeepAlive(c)
}

// liveHeap returns the bytes of live heap objects, after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkBulkLoadHeap100000 is the live heap of a quiet cache after a
// bulk load of 100,000 instances in 50 applications read through the
// delta queue (the registry was served before it): the full payloads'
// scratch must not stay sized by the bulk build. The timed loop is one
// change and a full fetch.
func BenchmarkBulkLoadHeap100000(b *testing.B) {
	c, reg := newCache(b, func(o *Options) { o.MinRebuildInterval = 0 })
	reg.Register(inst("APP0", "first"), false)
	c.Get(appsJSON).Gzip()
	c.Get(Key{Entity: EntityApps, Format: XML}).Gzip()
	for i := range 100000 {
		reg.Register(inst(fmt.Sprint("APP", i%50), fmt.Sprint("i", i)), false)
	}
	c.Get(appsJSON).Gzip()
	c.Get(Key{Entity: EntityApps, Format: XML}).Gzip()
	i := 0
	for b.Loop() {
		reg.UpdateMetadata(fmt.Sprint("APP", i%50), fmt.Sprint("i", i), map[string]string{"rev": strconv.Itoa(i)})
		i++
		c.Get(appsJSON).Gzip()
		c.Get(Key{Entity: EntityApps, Format: XML}).Gzip()
	}
	b.ReportMetric(float64(liveHeap()), "heap-B")
	runtime.KeepAlive(c)
	runtime.KeepAlive(reg)
}

// BenchmarkBulkLoadBuild100000 is the build that takes in a bulk load of
// 100,000 instances through the delta queue (a new peer's sync while
// /apps is read), 20,000 per application as in the 1,000,000 fleet:
// build-ns is that one build, JSON.
func BenchmarkBulkLoadBuild100000(b *testing.B) {
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		c, reg := newCache(b, func(o *Options) { o.MinRebuildInterval = 0 })
		reg.Register(inst("APP0", "first"), false)
		c.Get(appsJSON).Gzip()
		for i := range 100000 {
			reg.Register(inst(fmt.Sprint("APP", i%5), fmt.Sprint("i", i)), false)
		}
		b.StartTimer()
		start := time.Now()
		c.Get(appsJSON).Gzip()
		took += time.Since(start)
	}
	b.ReportMetric(float64(took.Nanoseconds())/float64(b.N), "build-ns/op")
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkChurn1000(b *testing.B)   { benchChurn(b, 1000, 50) }
func BenchmarkChurn10000(b *testing.B)  { benchChurn(b, 10000, 500) }
func BenchmarkChurn100000(b *testing.B) { benchChurn(b, 100000, 5000) }

// BenchmarkChurnFleet10000 has the scale benchmark's fleet shape: 10,000
// instances in 50 applications of 200, so every change falls in a large
// application.
func BenchmarkChurnFleet10000(b *testing.B) { benchChurn(b, 10000, 50) }

// BenchmarkChurnFleet100000 is the same with 2,000 instances per
// application: re-encoding a changed instance's whole application would
// cost hundreds of times the instance.
func BenchmarkChurnFleet100000(b *testing.B) { benchChurn(b, 100000, 50) }

// BenchmarkChurnFleet1000000 is the scale benchmark's size: 20,000
// instances per application. What a build costs besides the change
// (walking the runs, combining checksums, joining the payload) shows
// here ten times as large as at 100,000 (skipMillion).
func BenchmarkChurnFleet1000000(b *testing.B) {
	skipMillion(b)
	benchChurn(b, 1000000, 50)
}

// benchSize reports the size of the assembled full gzip payload against a
// from-scratch compression of the same plain bytes at the default level:
// joining pieces compressed apart must not cost every client much more
// to download. The timed loop is a full fetch with nothing changed.
func benchSize(b *testing.B, n int) {
	c, _ := fill(b, n)
	for _, f := range []Format{JSON, XML} {
		name := map[Format]string{JSON: "json", XML: "xml"}[f]
		b.Run(name, func(b *testing.B) {
			k := Key{Entity: EntityApps, Format: f}
			c.Get(k).Gzip()
			settle(c, f)
			gz := body(c.build(k, nil).Gzip())
			scratch := scratchGzipSize(c.Get(k).Plain().Body)
			for b.Loop() {
				c.Get(k).Gzip()
			}
			b.ReportMetric(float64(len(gz)), "gz-B")
			b.ReportMetric(float64(scratch), "scratch-gz-B")
			b.ReportMetric(float64(len(gz))/float64(scratch), "gz/scratch")
		})
	}
}

// scratchGzipSize is the size of plain compressed whole at the default
// level: what an assembled payload's size is measured against.
func scratchGzipSize(plain []byte) int {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	z.Write(plain)
	z.Close()
	return b.Len()
}

func BenchmarkSize1000(b *testing.B)   { benchSize(b, 1000) }
func BenchmarkSize10000(b *testing.B)  { benchSize(b, 10000) }
func BenchmarkSize100000(b *testing.B) { benchSize(b, 100000) }

// manualClock is a registry clock that moves only when told.
type manualClock struct{ ms atomic.Int64 }

func (c *manualClock) Now() time.Time { return time.UnixMilli(1718000000000 + c.ms.Load()) }

// BenchmarkDeltaChurn10000 is the cost of one change with a full delta
// window: 10,000 instances in 500 applications, 5,000 changes in the
// window. scratch is the delta encoded whole (Registry.Delta), incremental
// the assembled one.
func BenchmarkDeltaChurn10000(b *testing.B) {
	b.Run("scratch", func(b *testing.B) { benchDeltaChurnWindow(b, 10000, 500, 5000, true) })
	b.Run("incremental", func(b *testing.B) { benchDeltaChurnWindow(b, 10000, 500, 5000, false) })
}

// BenchmarkDeltaBulkExpiry is a bulk load of 100,000 instances in 50
// applications leaving the delta window: the rebuild after the sweep.
// Dropping each expired entry once moved every other instance of its
// application, quadratic in the application's size (a million instances
// took minutes).
func BenchmarkDeltaBulkExpiry(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		clock := &manualClock{}
		ro := registry.DefaultOptions()
		ro.Clock = clock
		reg := registry.New(&ro)
		reg.OpenForTraffic(0)
		o := DefaultOptions()
		o.MinRebuildInterval = 0
		c, err := New(reg, &o)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 100000 {
			reg.Register(inst(fmt.Sprint("APP", i%50), fmt.Sprint("i", i)), false)
		}
		c.Get(Key{Entity: EntityDelta, Format: JSON}).Gzip()
		clock.ms.Add(ro.DeltaRetention.Milliseconds() + 1)
		reg.ExpireDelta()
		reg.UpdateMetadata("APP1", "i1", map[string]string{"k": "v"})
		b.StartTimer()
		c.Get(Key{Entity: EntityDelta, Format: JSON}).Gzip()
	}
}
