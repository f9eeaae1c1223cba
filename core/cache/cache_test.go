package cache

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

func inst(app, id string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID:     id,
		HostName:       id + ".example.com",
		App:            app,
		IPAddr:         "10.0.0.1",
		Status:         eureka.StatusUp,
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		VIPAddress:     strings.ToLower(app),
	}
}

func newCache(t testing.TB, mod func(*Options)) (*Cache, *registry.Registry) {
	t.Helper()
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	o := DefaultOptions()
	if mod != nil {
		mod(&o)
	}
	c, err := New(reg, &o)
	if err != nil {
		t.Fatal(err)
	}
	return c, reg
}

var appsJSON = Key{Entity: EntityApps, Format: JSON}

func contains(p *Payload, s string) bool { return bytes.Contains(p.Plain().Body, []byte(s)) }

// eventually polls cond for up to two seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFreshModeFollowsRegistry(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = 0 })
	if p := c.Get(appsJSON); !contains(p, `"application":[]`) {
		t.Fatalf("empty registry payload = %s", p.Plain().Body)
	}
	reg.Register(inst("ORDERS", "o1"), false)
	if p := c.Get(appsJSON); !contains(p, `"o1"`) {
		t.Fatalf("registration not visible at once: %s", p.Plain().Body)
	}
	p1 := c.Get(appsJSON)
	if p2 := c.Get(appsJSON); p1 != p2 {
		t.Fatal("unchanged registry rebuilt the payload")
	}
	reg.Renew("ORDERS", "o1", registry.RenewArgs{})
	if p2 := c.Get(appsJSON); p1 != p2 {
		t.Fatal("a plain renewal rebuilt the payload")
	}
}

func TestFreshModeRebuildsAtMostOncePerInterval(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = 50 * time.Millisecond })
	c.Get(appsJSON)
	before := c.Builds()
	// A write storm with readers: builds are bounded by the interval, and
	// the last write becomes visible without any further read or write.
	start := time.Now()
	for i := 0; time.Since(start) < 300*time.Millisecond; i++ {
		reg.Register(inst("ORDERS", fmt.Sprint("o", i%100)), false)
		c.Get(appsJSON)
	}
	reg.Register(inst("ORDERS", "last"), false)
	c.Get(appsJSON)
	eventually(t, "the scheduled rebuild", func() bool {
		return contains(c.slot(appsJSON).rw.Load(), `"last"`)
	})
	after := c.Builds()
	// At most one build per 50 ms: six in the loop's 300 ms, one for the
	// last write, one scheduled. Timer delays only make it fewer.
	if n := after - before; n > 8 {
		t.Fatalf("%d rebuilds in 300 ms with a 50 ms interval", n)
	}
}

func TestConcurrentReadersShareOneBuild(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = 0 })
	for i := 0; i < 500; i++ {
		reg.Register(inst(fmt.Sprint("APP", i%20), fmt.Sprint("i", i)), false)
	}
	before := c.Builds()
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p := c.Get(appsJSON); !contains(p, `"i499"`) {
				t.Error("reader got an old payload")
			}
		}()
	}
	wg.Wait()
	if after := c.Builds(); after-before != 1 {
		t.Fatalf("%d builds for one version", after-before)
	}
}

func TestAppKeyIgnoresOtherApps(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = 0 })
	reg.Register(inst("A", "a1"), false)
	k := Key{Entity: EntityApp, Name: "A", Format: XML}
	p := c.Get(k)
	if !contains(p, "<application>") || !contains(p, "a1") {
		t.Fatalf("app payload = %s", p.Plain().Body)
	}
	reg.Register(inst("B", "b1"), false)
	if c.Get(k) != p {
		t.Fatal("a change to B rebuilt A's payload")
	}
	reg.Register(inst("A", "a2"), false)
	if !contains(c.Get(k), "a2") {
		t.Fatal("a change to A not visible")
	}
	if p := c.Get(Key{Entity: EntityApp, Name: "NOPE"}); p.Found() {
		t.Fatal("unknown app has a body")
	}
}

func TestEurekaModeReadOnlyLag(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.Mode = ModeEureka })
	reg.Register(inst("A", "a1"), false)
	if !contains(c.Get(appsJSON), "a1") {
		t.Fatal("first read must load through")
	}
	reg.Register(inst("A", "a2"), false)
	if contains(c.Get(appsJSON), "a2") {
		t.Fatal("read-only layer changed before its refresh")
	}
	c.refreshReadOnly()
	if !contains(c.Get(appsJSON), "a2") {
		t.Fatal("refresh did not copy the rebuilt payload")
	}

	direct, reg2 := newCache(t, func(o *Options) { o.Mode = ModeEureka; o.UseReadOnly = false })
	direct.Get(appsJSON)
	reg2.Register(inst("A", "a9"), false)
	if !contains(direct.Get(appsJSON), "a9") {
		t.Fatal("without the read-only layer a change must be visible at once")
	}
}

func TestAutoExpiration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, reg := newCache(t, func(o *Options) { o.AutoExpiration = 20 * time.Millisecond; o.MinRebuildInterval = 0 })
		reg.Register(inst("A", "a1"), false)
		p := c.Get(appsJSON)
		time.Sleep(19 * time.Millisecond)
		if c.Get(appsJSON) != p {
			t.Fatal("payload younger than AutoExpiration was rebuilt")
		}
		time.Sleep(2 * time.Millisecond)
		if c.Get(appsJSON) == p {
			t.Fatal("payload older than AutoExpiration was served")
		}
	})
}

func TestDeltaVersionCountsGenerations(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = 0 })
	k := Key{Entity: EntityDelta, Format: JSON}
	reg.Register(inst("A", "a1"), false)
	if p := c.Get(k); !contains(p, `"versions__delta":"1"`) {
		t.Fatalf("first delta: %s", p.Plain().Body)
	}
	c.Get(k)
	reg.Register(inst("A", "a2"), false)
	if p := c.Get(k); !contains(p, `"versions__delta":"2"`) || c.DeltaVersion() != 2 {
		t.Fatalf("second delta: %s", p.Plain().Body)
	}
}

func TestGzipAndETag(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = 0 })
	reg.Register(inst("A", "a1"), false)
	p := c.Get(appsJSON)
	zr, err := gzip.NewReader(bytes.NewReader(body(p.Gzip())))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, p.Plain().Body) {
		t.Fatal("gzip does not inflate to the raw payload")
	}
	if p.ETag == p.Gzip().ETag[0] || !strings.HasPrefix(p.ETag, `"`) || p.Plain().Length[0] != fmt.Sprint(len(p.Plain().Body)) {
		t.Fatalf("etags %s %s", p.ETag, p.Gzip().ETag[0])
	}
	// A change that leaves the bytes unchanged keeps the tag.
	reg.Register(inst("B", "b1"), false)
	reg.Cancel("B", "b1", false)
	if q := c.Get(appsJSON); q == p || q.ETag != p.ETag {
		t.Fatalf("same bytes, different tag: %s vs %s", q.ETag, p.ETag)
	}
}

func TestMaxEntries(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MaxEntries = 2; o.MinRebuildInterval = 0 })
	reg.Register(inst("A", "a1"), false)
	for _, name := range []string{"X", "Y", "Z", "A"} {
		c.Get(Key{Entity: EntityApp, Name: name})
	}
	if n := len(*c.slots.Load()); n != 2 {
		t.Fatalf("%d keys cached, cap 2", n)
	}
	if p := c.Get(Key{Entity: EntityApp, Name: "A"}); !contains(p, "a1") {
		t.Fatal("over the cap a payload must still be served")
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := DefaultOptions()
	bad.Mode = "sometimes"
	if _, err := New(registry.New(nil), &bad); err == nil {
		t.Fatal("bad mode accepted")
	}
}

func BenchmarkGetFresh(b *testing.B) {
	c, reg := newCache(b, nil)
	for i := 0; i < 1000; i++ {
		reg.Register(inst(fmt.Sprint("APP", i%50), fmt.Sprint("i", i)), false)
	}
	c.Get(appsJSON)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Get(appsJSON)
		}
	})
}

// A registry payload is built compressed; the plain form exists only once
// asked for, and is then exactly the encoder's output, in both formats.
func TestRegistryPayloadPlainOnDemand(t *testing.T) {
	c, reg := newCache(t, nil)
	for i := range 3000 {
		reg.Register(inst(fmt.Sprintf("APP%d", i%7), fmt.Sprintf("i-%d", i)), false)
	}
	for _, f := range []Format{JSON, XML} {
		k := Key{Entity: EntityApps, Format: f}
		p := c.Get(k)
		gz := p.Gzip()
		if p.plain.Body != nil {
			t.Fatalf("format %d: plain body held before anyone asked for it", f)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body(gz)))
		if err != nil {
			t.Fatal(err)
		}
		inflated, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		want := eureka.AppendApplicationsJSON(nil, reg.Applications())
		if f == XML {
			want = eureka.AppendApplicationsXML(nil, reg.Applications())
		}
		if !bytes.Equal(inflated, want) {
			t.Fatalf("format %d: gzip body inflates to %d bytes, encoder gives %d", f, len(inflated), len(want))
		}
		plain := p.Plain()
		if !bytes.Equal(plain.Body, want) || plain.Length[0] != fmt.Sprint(len(want)) || plain.ETag[0] != p.ETag {
			t.Fatalf("format %d: plain representation differs from the encoder's output", f)
		}
		if gz.ETag[0] != strings.TrimSuffix(p.ETag, `"`)+`-gzip"` {
			t.Fatalf("gzip etag %s for plain %s", gz.ETag[0], p.ETag)
		}
	}
}

// A payload that took longer to build than the interval allows widens the
// interval: the stale payload is served rather than rebuilt.
func TestCostlyRebuildWidensInterval(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = time.Millisecond })
	reg.Register(inst("A", "a1"), false)
	p := c.Get(appsJSON)
	p.cost = time.Hour // as if building it had taken that long
	reg.Register(inst("A", "a2"), false)
	if q := c.Get(appsJSON); q != p {
		t.Fatal("a payload that cost an hour to build was rebuilt a moment later")
	}
}

// Readers are served the current payload while a rebuild runs, not queued
// behind it; only a key with no payload yet makes them wait.
func TestReadersDoNotWaitForARebuild(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = time.Millisecond })
	reg.Register(inst("A", "a1"), false)
	p := c.Get(appsJSON)
	reg.Register(inst("A", "a2"), false)
	s := c.slot(appsJSON)
	s.buildMu.Lock() // a rebuild in progress
	p.built = time.Now().Add(-time.Second)
	if q := c.Get(appsJSON); q != p {
		t.Fatal("reader did not get the payload in place while a rebuild ran")
	}
	s.buildMu.Unlock()
	// The turned-away reader scheduled a look behind the rebuild, which may
	// hold the lock in turn: the change is served once it is built.
	eventually(t, "the change served after the rebuild", func() bool { return contains(c.Get(appsJSON), `"a2"`) })
}

// heldSource holds a build of the full payload after it has read the
// registry, until the test releases it.
type heldSource struct {
	*registry.Registry
	hold     atomic.Bool
	read     chan struct{}
	released chan struct{}
}

func (h *heldSource) AppStates(visit func(string, uint64) bool) (uint64, []*eureka.Application) {
	v, apps := h.Registry.AppStates(visit)
	h.wait()
	return v, apps
}

func (h *heldSource) ChangedInstances(seq, since uint64, more []registry.InstanceKey, visit func(app, id string, in *eureka.InstanceInfo)) (uint64, uint64, bool) {
	next, v, ok := h.Registry.ChangedInstances(seq, since, more, visit)
	h.wait()
	return next, v, ok
}

// wait holds a read of the registry, once, when hold is set.
func (h *heldSource) wait() {
	if h.hold.CompareAndSwap(true, false) {
		h.read <- struct{}{}
		<-h.released
	}
}

// A reader that finds a rebuild under way serves the old payload, but that
// rebuild read the registry before the reader's change: another rebuild
// follows without any further read, so the change is not left unserved.
func TestFreshModeChangeDuringRebuildIsServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := registry.New(nil)
		reg.OpenForTraffic(0)
		src := &heldSource{Registry: reg, read: make(chan struct{}), released: make(chan struct{})}
		o := DefaultOptions()
		c, err := New(src, &o)
		if err != nil {
			t.Fatal(err)
		}
		reg.Register(inst("ORDERS", "first"), false)
		c.Get(appsJSON)
		time.Sleep(time.Second) // past the rebuild interval

		reg.Register(inst("ORDERS", "second"), false)
		src.hold.Store(true)
		go c.Get(appsJSON) // rebuilds, and is held after reading the registry
		<-src.read
		reg.Register(inst("ORDERS", "last"), false)
		if p := c.Get(appsJSON); contains(p, `"second"`) {
			t.Fatal("a reader waited for the rebuild under way")
		}
		close(src.released)
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		if p := c.slot(appsJSON).rw.Load(); !contains(p, `"last"`) {
			t.Fatalf("the change made during a rebuild is not served:\n%s", p.Plain().Body)
		}
	})
}

// The work on what changed does not widen the interval: it is paid once
// per change however often the payload is rebuilt, and counting it made
// the interval grow with the changes a longer interval gathers.
func TestChangeCostDoesNotWidenInterval(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = time.Millisecond })
	reg.Register(inst("A", "a1"), false)
	p := c.Get(appsJSON)
	// As if it had taken 40 ms, all but 0.1 ms on what changed, 50 ms ago:
	// the interval is that build's cost, not four times it.
	p.cost, p.changeCost = 40*time.Millisecond, 39900*time.Microsecond
	p.built = time.Now().Add(-50 * time.Millisecond)
	reg.Register(inst("A", "a2"), false)
	if q := c.Get(appsJSON); q == p || !contains(q, `"a2"`) {
		t.Fatal("a payload whose cost was the changes' was not rebuilt after its cost had passed")
	}
}

// In fresh mode the full payload, once read, is rebuilt as the registry
// changes, so the next reader finds the change built rather than waiting
// for every change since its last read to be encoded; a payload nobody
// read for warmFor is left to be built by its next reader.
func TestFullPayloadKeptWarmWhileRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = 10 * time.Millisecond })
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Run(ctx)
		}()
		defer func() {
			cancel()
			<-done
		}()
		synctest.Wait() // Run waits for changes
		reg.Register(inst("A", "a1"), false)
		c.Get(appsJSON)
		reg.Register(inst("A", "a2"), false)
		time.Sleep(10 * time.Millisecond) // the rebuild interval
		synctest.Wait()
		if !contains(c.slot(appsJSON).rw.Load(), `"a2"`) {
			t.Fatal("a change to a payload read lately was not built before the next read")
		}
		if (*c.slots.Load())[Key{Entity: EntityApps, Format: XML}] != nil {
			t.Fatal("a payload nobody read was built")
		}

		time.Sleep(warmFor)
		builds := c.Builds()
		reg.Register(inst("A", "a3"), false)
		time.Sleep(time.Second)
		synctest.Wait()
		if c.Builds() != builds {
			t.Fatal("a payload nobody read for warmFor was rebuilt")
		}
		if !contains(c.Get(appsJSON), `"a3"`) {
			t.Fatal("the next reader did not get the change")
		}
	})
}

// A reader turned away by a rebuild under way gets the payload in place,
// which that rebuild, begun before the reader's change, may not hold
// either: the change is built after it without waiting for another read.
func TestChangeDuringRebuildIsBuiltAfterIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = time.Millisecond })
		reg.Register(inst("A", "a1"), false)
		p := c.Get(appsJSON)
		s := c.slot(appsJSON)
		time.Sleep(time.Millisecond) // the interval is over
		if !c.tryBuild(s) {
			t.Fatal("no rebuild under way, yet tryBuild failed")
		}
		reg.Register(inst("A", "a2"), false)
		if q := c.Get(appsJSON); q != p {
			t.Fatal("the reader did not get the payload in place")
		}
		c.endBuild(s) // the rebuild under way ends, without a2
		synctest.Wait()
		if !contains(s.rw.Load(), `"a2"`) {
			t.Fatal("the change of a reader turned away was not built after the rebuild")
		}
	})
}

// Runs expire a few at a time, and a build looks only at the runs that
// expired or changed and their neighbours: after every build the payload
// is a fresh encoding, the expiry heap holds exactly the runs, and their
// combined checksums are theirs combined one by one.
func TestFullPayloadRunsExpireApart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, reg := newGoldenCache(t)
		for _, a := range c.full {
			// Runs built a millisecond apart expire apart. Every
			// expired run is rebuilt by the build that finds it, so no
			// refresh runs beside the checks of the runs.
			a.target, a.ttl, a.perBlock, a.expiredBudget = 700, 4*time.Millisecond, 3, 1<<20
		}
		r := rand.New(rand.NewPCG(5, 6))
		expired := 0
		var last *Payload
		var lastBody []byte
		for step := range 300 {
			randomChange(r, reg, step)
			time.Sleep(time.Millisecond) // the bubble's clock: runs age
			checkGoldenApps(t, c, reg, fmt.Sprint("step ", step))
			for _, a := range c.full {
				checkRuns(t, a)
			}
			// A payload served keeps its bytes while later ones are built
			// from the same blocks.
			if last != nil {
				var b bytes.Buffer
				last.Gzip().WriteTo(&b)
				if !bytes.Equal(b.Bytes(), lastBody) {
					t.Fatalf("step %d: the payload before changed", step)
				}
			}
			last = c.Get(appsJSON)
			var b bytes.Buffer
			last.Gzip().WriteTo(&b)
			lastBody = b.Bytes()
			if n := len(c.full[JSON].expired); n > 0 && n < len(c.full[JSON].chunks) {
				expired++
			}
		}
		if expired < 10 {
			t.Fatalf("only %d builds found some runs expired and not all", expired)
		}
	})
}

// checkRuns asserts that a's expiry heap, checksum tree and bytes hold its
// runs.
func checkRuns(t *testing.T, a *assembler) {
	t.Helper()
	if len(a.expiry) != len(a.chunks) {
		t.Fatalf("%d runs, %d in the expiry heap", len(a.chunks), len(a.expiry))
	}
	var zs [][]byte
	for i, b := range a.blocks {
		if len(b) != a.perBlock && i < len(a.blocks)-1 || len(b) == 0 {
			t.Fatalf("block %d of %d holds %d runs", i, len(a.blocks), len(b))
		}
		zs = append(zs, b...)
	}
	if len(zs) != len(a.chunks) {
		t.Fatalf("%d runs, %d runs' bytes", len(a.chunks), len(zs))
	}
	want := noPart
	for i, c := range a.chunks {
		if c.at < 0 || a.expiry[c.at] != c {
			t.Fatalf("a run is not where the expiry heap says (%d)", c.at)
		}
		if len(c.part.z) == 0 || &zs[i][0] != &c.part.z[0] {
			t.Fatalf("run %d's bytes are not the run's", i)
		}
		want.then(&c.part)
	}
	if got := *a.sums.root(); !sameSums(got, want) {
		t.Fatalf("combined checksums %+v, the runs' one by one %+v", got, want)
	}
}

// countingWriter keeps what is written to it and counts the writes.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// A body in parts is written whole, in order, a batch of small parts per
// write and a part of a batch's size or more in a write of its own; the
// plain form inflates from the parts (nothing in the package joins them).
func TestRepresentationWriteToBatchesParts(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	var parts [][]byte
	large := 0
	for i := range 400 {
		n := r.IntN(4000)
		if i%100 == 7 {
			n = writeBatch + r.IntN(1000)
			large++
		}
		parts = append(parts, randomText(r, n))
	}
	want := bytes.Join(parts, nil)
	rep := newPartsRepresentation([][][]byte{parts[:10], parts[10:11], nil, parts[11:]}, len(want), `"x"`)
	var w countingWriter
	n, err := rep.WriteTo(&w)
	if err != nil || n != int64(len(want)) || !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("wrote %d bytes (%v), want the %d of the parts joined", n, err, len(want))
	}
	// Each large part may cut a batch short.
	if most := len(want)/writeBatch + 2*large + 1; w.writes > most {
		t.Fatalf("%d writes of %d bytes in %d parts, want at most %d", w.writes, len(want), len(parts), most)
	}

	c, reg := newCache(t, nil)
	for i := range 2000 {
		reg.Register(inst(fmt.Sprint("APP", i%7), fmt.Sprint("i", i)), false)
	}
	p := c.Get(appsJSON)
	if n := len(p.Gzip().Parts); n < 3 {
		t.Fatalf("the full payload is in %d blocks of parts", n)
	}
	if want := eureka.AppendApplicationsJSON(nil, reg.Applications()); !bytes.Equal(p.Plain().Body, want) {
		t.Fatal("the plain form inflated from the parts differs from the encoder's output")
	}
}

// body is r's whole body in one slice, for tests: serving writes the
// parts (WriteTo) and never joins them.
func body(r *Representation) []byte {
	if r.Parts == nil {
		return r.Body
	}
	var b bytes.Buffer
	r.WriteTo(&b)
	return b.Bytes()
}

// TestExpiredRunsCatchUpApart: a payload nobody read for longer than its
// runs live finds them all expired. The next build rebuilds only its
// budget of them, so a change made meanwhile shows at once, and refreshes
// scheduled after it catch up with the rest, with no reader asking.
// With no rebuild interval a refresh's timer may fire before the build
// that set it lets go of the key (a lost refresh stopped the catch-up).
func TestExpiredRunsCatchUpApart(t *testing.T) {
	for _, interval := range []time.Duration{time.Millisecond, 0} {
		t.Run(interval.String(), func(t *testing.T) { testExpiredRunsCatchUpApart(t, interval) })
	}
}

func testExpiredRunsCatchUpApart(t *testing.T, interval time.Duration) {
	s := func(c *Cache) *slot { return c.slot(appsJSON) }
	synctest.Test(t, func(t *testing.T) {
		c, reg := newGoldenCacheWith(t, func(o *Options) { o.MinRebuildInterval = interval })
		a := c.full[JSON]
		a.target, a.ttl = 300, time.Minute
		for i := range 3000 {
			reg.Register(inst(fmt.Sprint("APP", i%20), fmt.Sprint("i", i)), false)
		}
		c.Get(appsJSON)
		runs := len(a.chunks)
		budget := expiredPerBuild
		if runs < 4*budget {
			t.Fatalf("%d runs: too few for a budget of %d", runs, budget)
		}
		time.Sleep(2 * time.Minute) // every run expired
		reg.Register(inst("APP0", "late"), false)
		p := c.Get(appsJSON)
		// With no interval the first refresh may be under way already.
		a.mu.Lock()
		if n := len(a.expired); n != budget && interval > 0 {
			t.Fatalf("a build after every run expired rebuilt %d of %d runs, want its budget of %d", n, runs, budget)
		}
		a.mu.Unlock()
		if !p.behind {
			t.Fatal("the payload does not say expired runs are left")
		}
		checkPayload(t, p, eureka.AppendApplicationsJSON(nil, reg.Applications()), "the build after the change")
		if interval > 0 {
			// A change while the refresh is pending: its build leaves the
			// expired runs to the refresh.
			// (Built here, before the bubble's clock lets the refresh run.)
			if !s(c).refreshing.Load() {
				t.Fatal("no refresh is pending after a build left expired runs")
			}
			reg.Register(inst("APP1", "later"), false)
			a.build(true)
			a.mu.Lock()
			n := len(a.expired)
			a.mu.Unlock()
			if n != 0 {
				t.Fatalf("a change's build while a refresh was pending rebuilt %d expired runs", n)
			}
		}
		before := c.Builds() - 1
		for i := 0; a.backlog(); i++ {
			if i > runs {
				t.Fatalf("the expired runs are never all rebuilt after %d builds", c.Builds()-before)
			}
			time.Sleep(time.Millisecond) // the scheduled rebuilds, no reader
			synctest.Wait()
		}
		// Rebuilt runs may merge with their neighbours: fewer builds.
		if builds, most := c.Builds()-before, uint64(runs+budget-1)/uint64(budget); builds < 2 || builds > most {
			t.Errorf("caught up after %d builds, want 2 to %d", builds, most)
		}
		now := time.Now()
		for _, ch := range a.chunks {
			if !now.Before(ch.expires) {
				t.Fatal("a run is still expired after the catch-up")
			}
		}
		p = c.Get(appsJSON)
		if p.behind {
			t.Fatal("the last payload still says runs are left")
		}
		checkGoldenApps(t, c, reg, "after the catch-up")
	})
}
