package cache

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// checkGoldenDelta builds the delta in both formats and asserts that it is,
// plain and inflated from gzip, byte for byte a from-scratch encoding of
// Registry.Delta with the same versions__delta (checkPayload).
func checkGoldenDelta(t *testing.T, c *Cache, reg *registry.Registry, step string) {
	t.Helper()
	for _, f := range []Format{JSON, XML} {
		checkGoldenDeltaFormat(t, c, reg, f, step)
	}
}

// checkGoldenDeltaFormat is checkGoldenDelta in format f alone.
func checkGoldenDeltaFormat(t *testing.T, c *Cache, reg *registry.Registry, f Format, step string) {
	t.Helper()
	// Built directly: the cache would serve a payload built before an
	// entry expired, as the registry version does not move then.
	p := c.build(Key{Entity: EntityDelta, Format: f}, nil)
	d := reg.Delta()
	d.VersionsDelta = c.DeltaVersion()
	want := eureka.AppendApplicationsJSON(nil, d)
	if f == XML {
		want = eureka.AppendApplicationsXML(nil, d)
	}
	checkPayload(t, p, want, fmt.Sprintf("%s, format %d", step, f))
}

// A property test: across random changes, with the window expiring as the
// clock moves (entries leave from the head; an instance changed twice
// moves back to its later change or leaves), the assembled delta equals a
// from-scratch encoding of Registry.Delta, hash code included.
func TestDeltaEqualsFreshEncoding(t *testing.T) { testDeltaFreshEncoding(t, deltaTarget) }

// The same with parts of a few hundred bytes: a part holds one to a few
// instances, so the steps split parts, join them, move instances between
// them and change the tails later parts are compressed against.
func TestDeltaEqualsFreshEncodingSmallParts(t *testing.T) { testDeltaFreshEncoding(t, 700) }

func testDeltaFreshEncoding(t *testing.T, target int) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			var clock *stepClock
			c, reg := newGoldenCache(t, func(o *registry.Options) {
				o.DeltaRetention = 150 * time.Millisecond
				clock = o.Clock.(*stepClock)
			})
			if c.delta == nil {
				t.Fatal("the registry does not give the cache its delta queue")
			}
			c.delta.target = target
			r := rand.New(rand.NewPCG(seed, 7))
			checkGoldenDelta(t, c, reg, "empty")
			expired, emptied, most := 0, false, 0
			for step := range 600 {
				what, ok := randomChange(r, reg, step)
				if !ok {
					continue
				}
				switch r.IntN(12) {
				case 0:
					// Everything leaves the window.
					clock.jump(time.Hour)
					fallthrough
				case 1, 2, 3:
					before := reg.Delta()
					reg.ExpireDelta()
					if n := len(reg.Delta().Applications); n < len(before.Applications) {
						expired++
					}
				}
				if len(reg.Delta().Applications) == 0 {
					emptied = true
				}
				if r.IntN(3) == 0 {
					checkGoldenDelta(t, c, reg, fmt.Sprintf("step %d (%s)", step, what))
					most = max(most, c.delta.parts[JSON].n, c.delta.parts[XML].n)
				}
			}
			checkGoldenDelta(t, c, reg, "end")
			if expired == 0 || !emptied {
				t.Fatalf("expiry shrank the delta %d times, emptied it: %v: the test did not exercise the window", expired, emptied)
			}
			if target < deltaTarget && most < 5 {
				t.Fatalf("at most %d parts: the test did not split any", most)
			}
		})
	}
}

// An instance changed twice shows once, as of its second change, in the
// place of its first; when the first change leaves the window it moves
// to the place of the second.
func TestDeltaInstanceChangedTwice(t *testing.T) {
	var clock *stepClock
	c, reg := newGoldenCache(t, func(o *registry.Options) {
		o.DeltaRetention = time.Minute
		clock = o.Clock.(*stepClock)
	})
	reg.Register(inst("A", "a1"), false)
	reg.Register(inst("B", "b1"), false)
	reg.Register(inst("A", "a2"), false)
	checkGoldenDelta(t, c, reg, "three registrations")
	clock.jump(30 * time.Second)
	reg.SetStatus("A", "a1", eureka.StatusOutOfService, 0, false)
	checkGoldenDelta(t, c, reg, "a1 changed again")
	d := reg.Delta()
	if len(d.Applications) != 2 || d.Applications[0].Name != "A" || d.Applications[0].Instances[0].InstanceID != "a1" ||
		d.Applications[0].Instances[0].Status != eureka.StatusOutOfService {
		t.Fatalf("delta before expiry: %+v", d.Applications)
	}
	clock.jump(45 * time.Second)
	reg.ExpireDelta()
	checkGoldenDelta(t, c, reg, "first changes expired")
	d = reg.Delta()
	if len(d.Applications) != 1 || len(d.Applications[0].Instances) != 1 || d.Applications[0].Instances[0].ActionType != eureka.ActionModified {
		t.Fatalf("delta after expiry: %+v", d.Applications)
	}
}

// A change to a large delta recompresses the parts it falls in and maybe
// the next one, not the window: the cost of a change does not grow with
// the window.
func TestDeltaChangeRecompressesItsParts(t *testing.T) {
	c, reg := newGoldenCache(t, func(o *registry.Options) { o.DeltaRetention = time.Hour })
	const target = 2 << 10
	c.delta.target = target
	for i := range 300 {
		reg.Register(inst(fmt.Sprint("APP", i%30), fmt.Sprint("i", i)), false)
	}
	checkGoldenDelta(t, c, reg, "300 registrations")
	total := 0
	for _, f := range []Format{JSON, XML} {
		size := 0
		for p := c.delta.parts[f].first; p != nil; p = p.next {
			size += int(p.part.n)
		}
		if n := c.delta.parts[f].n; n < size/(2*target) {
			t.Fatalf("format %d: %d parts for %d plain bytes with a target of %d", f, n, size, target)
		}
		total += size
	}
	for i, what := range []string{"first", "middle", "last"} {
		before := c.delta.compressed
		id := []int{0, 165, 299}[i]
		reg.SetStatus(fmt.Sprint("APP", id%30), fmt.Sprint("i", id), eureka.StatusOutOfService, 0, false)
		checkGoldenDelta(t, c, reg, what+" instance changed")
		// Both formats: per format the instance's part, the next one
		// when its tail moved, and a split of either.
		if n := c.delta.compressed - before; n > 2*4*target {
			t.Errorf("changing the %s instance compressed %d plain bytes of %d", what, n, total)
		} else {
			t.Logf("changing the %s instance compressed %d plain bytes of %d", what, n, total)
		}
	}
}

// A bulk load puts the whole registry in one build: it must not hold every
// part's plain bytes at once, nor keep its scratch for the next build.
func TestDeltaKeepsNoBulkScratch(t *testing.T) {
	c, reg := newGoldenCache(t, func(o *registry.Options) { o.DeltaRetention = time.Hour })
	for i := range 3000 {
		reg.Register(inst(fmt.Sprint("APP", i%30), fmt.Sprint("i", i)), false)
	}
	checkGoldenDelta(t, c, reg, "3000 registrations")
	d := c.delta
	if cap(d.plan) > maxKeptPlan || cap(d.ends) > maxKeptEntries || cap(d.visited) > maxKeptEntries {
		t.Errorf("after the bulk build the assembler keeps %d bytes of plan, %d ends, %d visited", cap(d.plan), cap(d.ends), cap(d.visited))
	}
	// The build cut its parts as it encoded them (regroup): its plan never
	// grew past the bound, so it is kept, not dropped as a bulk's would be.
	if d.plan == nil {
		t.Errorf("the bulk build held more than %d plain bytes at once", maxKeptPlan)
	}
}

// A window that shrinks gives back what it held: after a bulk load leaves
// the window, the assembler keeps about what one that saw only the
// remaining change keeps (Go maps keep the room of their largest size,
// and slices cut from the front their whole array).
func TestDeltaDrainedWindowLetsGo(t *testing.T) {
	const n = 20000
	clock := &manualClock{}
	ro := registry.DefaultOptions()
	ro.Clock = clock
	reg := registry.New(&ro)
	reg.OpenForTraffic(0)
	drained := heldBy(func() any {
		a := newDeltaAssembler(reg)
		for i := range n {
			reg.Register(inst(fmt.Sprint("APP", i%10), fmt.Sprint("i", i)), false)
			if i%2000 == 0 {
				a.build(JSON, 1) // the window grows over several builds
			}
		}
		for i := range 500 {
			// Bursts on a few instances: their entries pile up.
			reg.UpdateMetadata("APP1", fmt.Sprint("i", i%5*10+1), map[string]string{"rev": fmt.Sprint(i)})
		}
		a.build(JSON, 1)
		a.build(XML, 1)
		clock.ms.Add(ro.DeltaRetention.Milliseconds() + 1)
		reg.ExpireDelta()
		reg.UpdateMetadata("APP1", "i1", map[string]string{"k": "v"})
		a.build(JSON, 1)
		a.build(XML, 1)
		if len(a.insts) != 1 {
			t.Fatalf("%d instances in the window, want 1", len(a.insts))
		}
		return a
	})
	fresh := heldBy(func() any {
		a := newDeltaAssembler(reg)
		a.build(JSON, 1)
		a.build(XML, 1)
		return a
	})
	// The slack covers the scratch a build keeps (trimScratch bounds it)
	// and a little more; without letting go the drained one held 2.2 MB.
	slack := int64(maxKeptPlan + maxKeptEntries*int(unsafe.Sizeof(visitedEntry{})+unsafe.Sizeof(0)) + 64<<10)
	if drained > fresh+slack {
		t.Fatalf("the drained assembler holds %d bytes, a fresh one on the same window %d", drained, fresh)
	}
	t.Logf("the drained assembler holds %d bytes, a fresh one on the same window %d", drained, fresh)
	runtime.KeepAlive(reg) // else it goes with the last assembler measured
}

// heldBy returns the live heap bytes that what make returns keeps: the
// heap after a GC with it alive, less the heap once it is dropped. What
// the caller uses after heldBy must stay alive (runtime.KeepAlive), or
// it is counted if this was its last use.
func heldBy(make func() any) int64 {
	live := func() int64 {
		// Twice: a sync.Pool's victims go in the second.
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	x := make()
	with := live()
	runtime.KeepAlive(x)
	x = nil
	return with - live()
}

// A property test of the bookkeeping: many random changes, expiries
// (which move applications back in the payload) and jumps that empty the
// window, with parts of a few hundred bytes to a few kilobytes, and a
// build in one format, the other, both or neither after each step. Every
// build equals a from-scratch encoding, and the lists it keeps hold
// together: the instances in the payload's order, each format's parts
// covering them in runs, every instance's shape that of its place, and
// the built format's parts all compressed against their predecessor's
// tail. The payloads' checksums (gzip's CRC-32, the entity tag's CRC-32C)
// are combined by runs of parts, kept while none of their parts changes.
func TestDeltaRandomBuildsEqualFreshEncoding(t *testing.T) {
	for seed := range uint64(5) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 21))
			var clock *stepClock
			c, reg := newGoldenCache(t, func(o *registry.Options) {
				o.DeltaRetention = time.Duration(40+r.IntN(160)) * time.Millisecond
				clock = o.Clock.(*stepClock)
			})
			c.delta.target = 200 + r.IntN(3000)
			// Runs of a few parts: their checksums are combined again as
			// parts change, split, merge and leave.
			c.delta.parts[JSON].run, c.delta.parts[XML].run = 1+r.IntN(4), 1+r.IntN(4)
			builds, moves, most := 0, 0, 0
			for step := range 500 {
				what, ok := randomChange(r, reg, step)
				if !ok {
					continue
				}
				switch r.IntN(40) {
				case 0:
					clock.jump(time.Hour)
					reg.ExpireDelta()
				case 1, 2, 3, 4, 5, 6, 7, 8:
					reg.ExpireDelta()
				}
				formats := [][]Format{nil, {JSON}, {XML}, {JSON, XML}, {XML, JSON}}[r.IntN(5)]
				for _, f := range formats {
					before := c.delta.firstApp()
					checkGoldenDeltaFormat(t, c, reg, f, fmt.Sprintf("step %d (%s)", step, what))
					checkDeltaLists(t, c.delta, f, fmt.Sprintf("step %d (%s)", step, what))
					if after := c.delta.firstApp(); before != nil && after != nil && before != after {
						moves++
					}
					builds++
					most = max(most, c.delta.parts[f].n)
				}
			}
			if builds < 300 || moves < 10 || most < 5 {
				t.Fatalf("%d builds, %d changed the first application, at most %d parts: the test did not exercise the delta", builds, moves, most)
			}
		})
	}
}

// firstApp is the application that opens the delta, nil when it is empty.
func (a *deltaAssembler) firstApp() *deltaApp {
	if len(a.order) == 0 {
		return nil
	}
	return a.order[0]
}

// checkDeltaLists asserts that a's lists agree with its applications,
// right after a build in format f.
func checkDeltaLists(t *testing.T, a *deltaAssembler, f Format, step string) {
	t.Helper()
	var want []*deltaInst
	entries := 0
	for ai, app := range a.order {
		if a.apps[app.name] != app || app.moved {
			t.Fatalf("%s: application %s in order: in the map %v, moved %v", step, app.name, a.apps[app.name] == app, app.moved)
		}
		for ii, in := range app.insts {
			var shape segShape
			if ii == 0 {
				shape |= shapeOpens
				if ai == 0 {
					shape |= shapeFirstApp
				}
			}
			if ii == len(app.insts)-1 {
				shape |= shapeCloses
			}
			if in.shape != shape || !in.linked || a.insts[in.key] != in {
				t.Fatalf("%s: %v: shape %b, want %b; linked %v", step, in.key, in.shape, shape, in.linked)
			}
			want = append(want, in)
			entries += len(in.seqs)
		}
	}
	if len(a.moved) != 0 || len(a.insts) != len(want) || len(a.window)-a.head != entries {
		t.Fatalf("%s: %d moved left, %d instances mapped, %d listed; %d entries, %d held by instances", step, len(a.moved), len(a.insts), len(want), len(a.window)-a.head, entries)
	}
	var prev *deltaInst
	in := a.first
	for i, w := range want {
		if in != w || in.prev != prev {
			t.Fatalf("%s: instance %d of the list is %v, want %v (or its prev is wrong)", step, i, in.key, w.key)
		}
		prev, in = in, in.next
	}
	if in != nil || a.last != prev {
		t.Fatalf("%s: the list does not end with the last instance", step)
	}
	for g := range a.parts {
		ps := &a.parts[g]
		n, at := 0, 0
		var prevPart *deltaPart
		var tailID uint64
		for p := ps.first; p != nil; p = p.next {
			if p.prev != prevPart || at == len(want) || p.first != want[at] {
				t.Fatalf("%s: format %d: part %d does not start where the one before it ends", step, g, n)
			}
			for {
				if want[at].part[g] != p {
					t.Fatalf("%s: format %d: %v is not in the part it lies in", step, g, want[at].key)
				}
				at++
				if want[at-1] == p.last {
					break
				}
				if at == len(want) {
					t.Fatalf("%s: format %d: part %d runs past the end", step, g, n)
				}
			}
			if Format(g) == f && (p.dirty || p.dictID != tailID) {
				t.Fatalf("%s: format %d: part %d is left dirty (%v) or compressed against another tail", step, g, n, p.dirty)
			}
			tailID, prevPart = p.tailID, p
			n++
		}
		if at != len(want) || ps.n != n || ps.last != prevPart {
			t.Fatalf("%s: format %d: %d parts (counted %d) cover %d of %d instances", step, g, n, ps.n, at, len(want))
		}
	}
}
