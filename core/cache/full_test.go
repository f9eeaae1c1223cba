package cache

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Runs larger than their tail, under many builds that each change one
// instance: a changed run's successor, compressed against the old tail
// when the change missed it and against the new one when it did not,
// still inflates with the dictionary kept for it, and the payload equals
// a fresh encoding. Every run's kept tail and dictionary are checked
// against the runs' bytes inflated one after the other.
func TestFullPayloadRunTailsAfterManyBuilds(t *testing.T) {
	c, reg := newGoldenCache(t)
	const n = 400
	for i := range n {
		reg.Register(inst("BIG", fmt.Sprintf("i%03d", i)), false)
	}
	checkGoldenApps(t, c, reg, "loaded")
	if runs := len(c.full[JSON].chunks); runs < 4 {
		t.Fatalf("%d runs: the test needs runs larger than their tail", runs)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for step := range 120 {
		id := fmt.Sprintf("i%03d", r.IntN(n))
		// Some edits grow an instance, so runs also split.
		meta := map[string]string{"rev": fmt.Sprint(step)}
		if r.IntN(4) == 0 {
			meta["pad"] = string(bytes.Repeat([]byte{'x'}, r.IntN(4000)))
		}
		reg.UpdateMetadata("BIG", id, meta)
		if step%10 == 0 {
			checkGoldenApps(t, c, reg, fmt.Sprintf("step %d (%s)", step, id))
		} else {
			c.Get(appsJSON).Gzip()
		}
		checkRunTails(t, c.full[JSON], fmt.Sprintf("step %d", step))
	}
	checkGoldenApps(t, c, reg, "end")
}

// checkRunTails inflates a's runs in order, each against the last runTail
// plain bytes of the one before, and checks that each run's kept
// dictionary is those bytes and its kept tail the end of its own. A run
// with no dictionary (compressed alone, as buildAll's) is inflated alone;
// one compressed fast may have no tail yet.
func checkRunTails(t *testing.T, a *assembler, step string) {
	t.Helper()
	var prevTail []byte
	for i, c := range a.chunks {
		dict, err := decodeTail(c.dict)
		if err != nil || c.dict != nil && !bytes.Equal(dict, prevTail) {
			t.Fatalf("%s: run %d of %d: its dictionary (%v) is not the tail of the run before", step, i, len(a.chunks), err)
		}
		plain, err := io.ReadAll(flate.NewReaderDict(bytes.NewReader(c.part.z), dict))
		if err != nil && err != io.ErrUnexpectedEOF || int64(len(plain)) != c.part.n {
			t.Fatalf("%s: run %d: inflated %d of %d bytes: %v", step, i, len(plain), c.part.n, err)
		}
		prevTail = plain[max(0, len(plain)-runTail):]
		if c.fast && c.tail == nil {
			continue // taken when needed (tailOf)
		}
		tail, err := decodeTail(c.tail)
		if err != nil || !bytes.Equal(tail, prevTail) {
			t.Fatalf("%s: run %d: its kept tail (%v) is not the end of its bytes", step, i, err)
		}
	}
}

// decodeTail returns the plain bytes of a kept tail (none for none).
func decodeTail(z []byte) ([]byte, error) {
	if len(z) == 0 {
		return nil, nil
	}
	return s2.Decode(nil, z)
}

// A bulk load read through the delta queue, with every run expired, puts
// an entry per instance in the assembler's scratch: none of it may stay
// for the builds after.
func TestFullPayloadKeepsNoBulkScratch(t *testing.T) {
	c, reg := newGoldenCacheWith(t, func(o *Options) { o.AutoExpiration = time.Nanosecond })
	for _, a := range c.full {
		a.expiredBudget = 1 << 20 // every run rebuilt at once, no refresh beside the checks
	}
	reg.Register(inst("APP0", "first"), false)
	checkGoldenApps(t, c, reg, "one instance")
	const n = 2 * maxKeptItems
	for i := range n {
		reg.Register(inst(fmt.Sprint("APP", i%30), fmt.Sprint("i", i)), false)
	}
	for _, step := range []string{"bulk load", "again, every run expired"} {
		checkGoldenApps(t, c, reg, step)
		for f, a := range c.full {
			if a.compressed == 0 || a.encoded < n {
				t.Fatalf("format %d: the builds encoded %d items", f, a.encoded)
			}
			if cap(a.work) > maxKeptWork || len(a.fresh) > 0 || cap(a.changed) > maxKeptItems || cap(a.more) > maxKeptItems ||
				cap(a.segs) > maxKeptItems || cap(a.marked) > maxKeptItems || cap(a.expired) > maxKeptItems {
				t.Errorf("%s: format %d keeps %d bytes of work, %d fresh items, %d changed, %d more, %d segments, %d marked, %d expired",
					step, f, cap(a.work), len(a.fresh), cap(a.changed), cap(a.more), cap(a.segs), cap(a.marked), cap(a.expired))
			}
		}
	}
}

// A first build of a large registry compresses its runs fast and alone
// (buildAll), on every core: the payload equals a fresh encoding at once,
// larger. The refreshes scheduled after it recompress them at the normal
// level, a budget per build, with no reader asking, while changes go on:
// the payload stays equal to a fresh encoding, keeps its entity tag while
// nothing changes, and shrinks back to what a first build of a small
// registry makes, every run again compressed against its predecessor's
// tail.
func TestFullPayloadBulkBuildSettles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, reg := newGoldenCacheWith(t, func(o *Options) { o.MinRebuildInterval = time.Millisecond })
		for _, a := range c.full {
			a.target, a.bulkItems = 700, 1000
		}
		for i := range 2000 {
			reg.Register(inst(fmt.Sprint("APP", i%7), fmt.Sprintf("i%04d", i)), false)
		}
		a := c.full[JSON]
		p := c.Get(appsJSON)
		a.mu.Lock()
		runs, fast := len(a.chunks), 0
		for _, ch := range a.chunks {
			if ch.fast {
				fast++
				if ch.dict != nil {
					t.Error("a run compressed fast has a dictionary")
				}
			}
		}
		a.mu.Unlock()
		if runs < 4*fastPerBuild || fast != runs {
			t.Fatalf("%d of %d runs compressed fast: want all, and more than a few builds' budget", fast, runs)
		}
		if !p.behind {
			t.Fatal("the bulk build's payload does not say runs are left to recompress")
		}
		checkPayload(t, p, eureka.AppendApplicationsJSON(nil, reg.Applications()), "the bulk build")
		bulk := len(body(p.Gzip()))
		tag := p.ETag

		// The refreshes settle a budget of runs each, spaced.
		time.Sleep(time.Millisecond)
		synctest.Wait()
		p = c.Get(appsJSON)
		if p.ETag != tag {
			t.Fatal("recompressing runs changed the payload's entity tag")
		}
		checkPayload(t, p, eureka.AppendApplicationsJSON(nil, reg.Applications()), "settling")
		if n := len(body(p.Gzip())); n >= bulk || !a.backlog() {
			t.Fatalf("the payload is %d bytes after a refresh, %d after the bulk build, and has runs left: %v", n, bulk, a.backlog())
		}

		// Changes while settling go through the incremental path beside it.
		for i := 0; a.backlog(); i++ {
			if i > runs {
				t.Fatal("the runs compressed fast are never all recompressed")
			}
			reg.UpdateMetadata(fmt.Sprint("APP", i%7), fmt.Sprintf("i%04d", i*13%2000), map[string]string{"rev": fmt.Sprint(i)})
			c.Get(appsJSON)
			a.mu.Lock()
			checkRunTails(t, a, fmt.Sprintf("settling, change %d", i))
			a.mu.Unlock()
			time.Sleep(time.Millisecond) // the scheduled refresh, no reader
			synctest.Wait()
		}
		checkGoldenApps(t, c, reg, "settled")
		a.mu.Lock()
		for i, ch := range a.chunks {
			if ch.fast || i > 0 && ch.dict == nil {
				t.Fatalf("run %d of %d is still compressed fast or alone after settling", i, len(a.chunks))
			}
		}
		checkRunTails(t, a, "settled")
		a.mu.Unlock()
		settled := len(body(c.Get(appsJSON).Gzip()))

		// What a first build at the normal level makes of the same state.
		a.reset()
		a.bulkItems = 1 << 30
		normal := len(a.buildPayload(t))
		if settled > normal+normal/20 {
			t.Errorf("settled payload %d bytes, a first build at the normal level %d", settled, normal)
		}
		t.Logf("%d runs: %d bytes after the bulk build, %d settled, %d built at the normal level", runs, bulk, settled, normal)
	})
}

// buildPayload builds a's payload and returns its gzip bytes.
func (a *assembler) buildPayload(t *testing.T) []byte {
	t.Helper()
	blocks, _, _, _, _ := a.build(false)
	var b bytes.Buffer
	(&Representation{Parts: blocks}).WriteTo(&b)
	return b.Bytes()
}

// racingStates is a registry whose first AppStates call is followed by a
// registration before it returns, and whose other calls copy after it: a
// first build's calls (allStates) see different states.
type racingStates struct {
	*registry.Registry
	calls      atomic.Int32
	registered chan struct{}
}

func (r *racingStates) AppStates(visit func(string, uint64) bool) (uint64, []*eureka.Application) {
	first := r.calls.Add(1) == 1
	if !first {
		<-r.registered
	}
	v, apps := r.Registry.AppStates(visit)
	if first {
		r.Register(inst("APP1", "late"), false)
		close(r.registered)
	}
	return v, apps
}

// A first build copies the applications in several calls at once; a
// change between them is in the payload by the next build, and the first
// shows a version it holds every change up to.
func TestFullPayloadFirstBuildStatesApart(t *testing.T) {
	ro := registry.DefaultOptions()
	ro.Clock = &stepClock{}
	reg := registry.New(&ro)
	reg.OpenForTraffic(0)
	for i := range 200 {
		reg.Register(inst(fmt.Sprint("APP", i%9), fmt.Sprint("i", i)), false)
	}
	before := reg.Version()
	src := &racingStates{Registry: reg, registered: make(chan struct{})}
	a := newAssembler(src, JSON, time.Hour)
	blocks, _, _, version, _ := a.build(false)
	if version < before || version >= reg.Version() {
		t.Fatalf("the first build shows version %d, want from %d to before the late change's %d", version, before, reg.Version())
	}
	if got := gunzipParts(t, blocks); !bytes.Contains(got, []byte(`"instanceId":"i0"`)) {
		t.Fatal("the first build lost an instance")
	}
	blocks, _, _, version, _ = a.build(false)
	if version != reg.Version() {
		t.Fatalf("the second build shows version %d, want %d", version, reg.Version())
	}
	if got, want := gunzipParts(t, blocks), eureka.AppendApplicationsJSON(nil, reg.Applications()); !bytes.Equal(got, want) {
		t.Fatalf("the build after the late change differs from a fresh encoding at byte %d", diffAt(got, want))
	}
}

// gunzipParts inflates a payload's gzip member from its blocks.
func gunzipParts(t *testing.T, blocks [][][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	(&Representation{Parts: blocks}).WriteTo(&b)
	plain, err := gunzip(&b, 0)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}
