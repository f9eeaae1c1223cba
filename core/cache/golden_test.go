package cache

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// stepClock moves one millisecond each time it is read, so every change
// writes new timestamps and a piece built from an older state shows.
type stepClock struct{ ms atomic.Int64 }

func (c *stepClock) Now() time.Time { return time.UnixMilli(1718000000000 + c.ms.Add(1)) }

// jump moves the clock d on.
func (c *stepClock) jump(d time.Duration) { c.ms.Add(d.Milliseconds()) }

func newGoldenCache(t *testing.T, mods ...func(*registry.Options)) (*Cache, *registry.Registry) {
	t.Helper()
	return newGoldenCacheWith(t, nil, mods...)
}

// newGoldenCacheWith is newGoldenCache with co changing the cache's options.
func newGoldenCacheWith(t *testing.T, co func(*Options), mods ...func(*registry.Options)) (*Cache, *registry.Registry) {
	t.Helper()
	ro := registry.DefaultOptions()
	ro.Clock = &stepClock{}
	for _, m := range mods {
		m(&ro)
	}
	reg := registry.New(&ro)
	reg.OpenForTraffic(0)
	o := DefaultOptions()
	o.MinRebuildInterval = 0
	if co != nil {
		co(&o)
	}
	c, err := New(reg, &o)
	if err != nil {
		t.Fatal(err)
	}
	if c.full[JSON] == nil {
		t.Fatal("the registry does not give the cache per-application pieces")
	}
	return c, reg
}

// checkGoldenApps asserts that the assembled full payload, in both formats,
// plain and inflated from gzip, is byte for byte a from-scratch encoding of
// the registry, and that its tag is the content sum of those bytes.
func checkGoldenApps(t *testing.T, c *Cache, reg *registry.Registry, step string) {
	t.Helper()
	snap := reg.Applications()
	for _, f := range []Format{JSON, XML} {
		want := eureka.AppendApplicationsJSON(nil, snap)
		if f == XML {
			want = eureka.AppendApplicationsXML(nil, snap)
		}
		checkPayload(t, c.Get(Key{Entity: EntityApps, Format: f}), want, fmt.Sprintf("%s, format %d", step, f))
	}
}

// checkPayload asserts that p, plain and inflated from gzip, is want byte
// for byte and that its tag is the content sum of want.
func checkPayload(t *testing.T, p *Payload, want []byte, what string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body(p.Gzip())))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	zr.Multistream(false)
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: inflating: %v", what, err)
	}
	if i := diffAt(got, want); !bytes.Equal(got, want) {
		t.Fatalf("%s: assembled payload differs from a fresh encoding at byte %d of %d:\n got …%s…\nwant …%s…",
			what, i, len(want), around(got, i), around(want, i))
	}
	if !bytes.Equal(p.Plain().Body, want) {
		t.Fatalf("%s: plain representation differs", what)
	}
	if tag := etagOf(ContentSum(want)); p.ETag != tag {
		t.Fatalf("%s: etag %s, want %s", what, p.ETag, tag)
	}
}

func diffAt(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func around(b []byte, i int) []byte { return b[max(0, i-60):min(len(b), i+60)] }

// The application that sorts first is written without the comma the
// others carry; when it leaves, the next one must be re-encoded without it
// although it did not change.
func TestFullPayloadFirstApplicationChanges(t *testing.T) {
	c, reg := newGoldenCache(t)
	checkGoldenApps(t, c, reg, "empty")
	reg.Register(inst("C", "c1"), false)
	reg.Register(inst("B", "b1"), false)
	checkGoldenApps(t, c, reg, "B and C")
	reg.Register(inst("A", "a1"), false)
	checkGoldenApps(t, c, reg, "A first")
	reg.Cancel("A", "a1", false)
	checkGoldenApps(t, c, reg, "B first again")
	reg.Cancel("B", "b1", false)
	checkGoldenApps(t, c, reg, "C first")
	reg.Cancel("C", "c1", false)
	checkGoldenApps(t, c, reg, "empty again")
}

// A property test: after every step of a random sequence of registrations,
// cancels, status overrides, override removals and metadata edits, the
// assembled payloads equal a from-scratch encoding of the same state.
func TestFullPayloadEqualsFreshEncoding(t *testing.T) { testFreshEncoding(t, chunkTarget) }

// The same with runs of a few hundred bytes: a run holds one to a few
// applications, so the steps split runs, join them, move the first one and
// change the tails later runs are compressed against.
func TestFullPayloadEqualsFreshEncodingSmallRuns(t *testing.T) { testFreshEncoding(t, 700) }

func testFreshEncoding(t *testing.T, target int) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			c, reg := newGoldenCache(t)
			for _, a := range c.full {
				a.target = target
			}
			r := rand.New(rand.NewPCG(seed, 99))
			for step := range 300 {
				what, ok := randomChange(r, reg, step)
				if !ok {
					continue
				}
				// Read after some steps only, so pieces also go stale
				// several changes at a time.
				if r.IntN(3) == 0 {
					checkGoldenApps(t, c, reg, fmt.Sprintf("step %d (%s)", step, what))
				}
			}
			checkGoldenApps(t, c, reg, "end")
			if n := len(c.full[JSON].chunks); target < chunkTarget && n < 3 {
				t.Fatalf("%d runs at the end: the test did not split any", n)
			}
		})
	}
}

// randomChange makes one random change to a registry of 8 applications of
// up to 12 instances: a registration, cancel, status override, override
// removal or metadata edit. ok is false when the pick changed nothing.
func randomChange(r *rand.Rand, reg *registry.Registry, step int) (what string, ok bool) {
	statuses := []eureka.Status{eureka.StatusUp, eureka.StatusDown, eureka.StatusStarting, eureka.StatusOutOfService, eureka.StatusUnknown}
	app := func() string { return fmt.Sprint("APP", r.IntN(8)) }
	id := func() string { return fmt.Sprint("i", r.IntN(12)) }
	switch op := r.IntN(10); {
	case op < 4:
		in := inst(app(), id())
		in.Status = statuses[r.IntN(len(statuses))]
		if r.IntN(3) == 0 {
			in.Metadata = map[string]string{"zone": fmt.Sprint("z", r.IntN(3)), "<odd>": "a&b\"c"}
		}
		reg.Register(in, r.IntN(4) == 0)
		what = "register " + in.App + "/" + in.InstanceID
	case op < 6:
		a, i := app(), id()
		reg.Cancel(a, i, false)
		what = "cancel " + a + "/" + i
	case op < 8:
		// A status override that changes the status; one that does not
		// only renews, silently.
		a, i := app(), id()
		in := reg.Instance(a, i)
		if in == nil {
			return "", false
		}
		st := statuses[r.IntN(len(statuses)-1)]
		if st == in.Status {
			return "", false
		}
		reg.SetStatus(a, i, st, 0, false)
		what = "status " + a + "/" + i + " " + string(st)
	case op < 9:
		a, i := app(), id()
		if reg.Override(a, i) == "" || reg.Instance(a, i) == nil {
			return "", false
		}
		reg.DeleteStatusOverride(a, i, "", 0, false)
		what = "delete override " + a + "/" + i
	default:
		a, i := app(), id()
		reg.UpdateMetadata(a, i, map[string]string{"rev": fmt.Sprint(step)})
		what = "metadata " + a + "/" + i
	}
	return what, true
}

// A change to one instance of a large application recompresses the runs
// that hold it (and the next, when it falls in the dictionary that run is
// compressed against), not the whole application: under churn a fleet of
// a few large applications would otherwise recompress nearly all of them
// on every build.
func TestFullPayloadInstanceChangeRecompressesItsRuns(t *testing.T) {
	c, reg := newGoldenCache(t)
	const target = 4 << 10
	for _, a := range c.full {
		a.target = target
	}
	for i := range 300 {
		reg.Register(inst("BIG", fmt.Sprintf("i%03d", i)), false)
	}
	reg.Register(inst("SMALL", "s1"), false)
	checkGoldenApps(t, c, reg, "loaded")
	a := c.full[JSON]
	plain := len(c.Get(appsJSON).Plain().Body)
	for _, id := range []string{"i000", "i150", "i299"} {
		before := a.compressed
		reg.UpdateMetadata("BIG", id, map[string]string{"rev": "2"})
		checkGoldenApps(t, c, reg, "metadata of "+id)
		// Its run and the next are at most 2×target each, with the
		// dictionary (tailSize) covering a whole small run.
		if n := a.compressed - before; n > 4*target+tailSize {
			t.Fatalf("changing %s recompressed %d of %d plain bytes", id, n, plain)
		}
	}
}

// The per-instance path (changes read from the delta queue) under renewals,
// which change lease timestamps without a delta entry, with every run
// expired at each read so the refreshed instances are compared too, and
// with the delta queue emptied now and then, so builds also fall back on
// comparing whole applications and come back.
func TestFullPayloadInstancePathEqualsFreshEncoding(t *testing.T) {
	for seed := range uint64(2) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			clock := &stepClock{}
			// Every read rebuilds, with every run expired.
			c, reg := newGoldenCacheWith(t, func(o *Options) { o.AutoExpiration = time.Nanosecond },
				func(o *registry.Options) { o.Clock = clock })
			for _, a := range c.full {
				// Every expired run rebuilt by the build that finds it,
				// so renewals show as in a fresh encoding.
				a.target, a.expiredBudget = 700, 1<<20
			}
			r := rand.New(rand.NewPCG(seed, 7))
			fallbacks := 0
			for step := range 150 {
				switch r.IntN(12) {
				case 0:
					reg.Renew(fmt.Sprint("APP", r.IntN(8)), fmt.Sprint("i", r.IntN(12)), registry.RenewArgs{})
				case 1:
					clock.jump(time.Hour)
					reg.ExpireDelta()
					fallbacks++
				default:
					randomChange(r, reg, step)
				}
				if r.IntN(3) == 0 {
					checkGoldenApps(t, c, reg, fmt.Sprintf("step %d", step))
				}
			}
			checkGoldenApps(t, c, reg, "end")
			if fallbacks == 0 {
				t.Fatal("the delta queue was never emptied")
			}
		})
	}
}

// A change to one instance of a large application re-encodes that
// instance, not the application.
func TestFullPayloadInstanceChangeEncodesTheInstance(t *testing.T) {
	c, reg := newGoldenCache(t)
	for i := range 2000 {
		reg.Register(inst("BIG", fmt.Sprintf("i%04d", i)), false)
	}
	checkGoldenApps(t, c, reg, "loaded")
	before := c.full[JSON].encoded
	reg.UpdateMetadata("BIG", "i1000", map[string]string{"rev": "2"})
	checkGoldenApps(t, c, reg, "after the edit")
	if n := c.full[JSON].encoded - before; n != 1 {
		t.Fatalf("one metadata edit encoded %d items", n)
	}
}

// An application whose last instance leaves and whose first comes back
// between two builds (the scale benchmark's freshness probe: register,
// edit, cancel, register again): its opening and closing are still in
// their run when the new ones are taken in, and are not doubled.
func TestFullPayloadApplicationLeavesAndComesBack(t *testing.T) {
	c, reg := newGoldenCache(t)
	for _, a := range c.full {
		a.target = 2000
	}
	for i := range 300 {
		reg.Register(inst(fmt.Sprint("APP", i%10), fmt.Sprint("i", i)), false)
	}
	checkGoldenApps(t, c, reg, "loaded")
	for k := range 30 {
		id := fmt.Sprint("probe", k)
		reg.Register(inst("AAAPROBE", id), false)
		checkGoldenApps(t, c, reg, "register "+id)
		reg.UpdateMetadata("AAAPROBE", id, map[string]string{"probe": fmt.Sprint("v", k)})
		checkGoldenApps(t, c, reg, "metadata "+id)
		reg.Cancel("AAAPROBE", id, false)
		if k%3 == 0 {
			checkGoldenApps(t, c, reg, "cancel "+id)
		}
	}
}
