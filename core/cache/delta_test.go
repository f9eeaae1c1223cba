package cache

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// checkGoldenDelta builds the delta in both formats and asserts that it is,
// plain and inflated from gzip, byte for byte a from-scratch encoding of
// Registry.Delta with the same versions__delta (checkPayload).
func checkGoldenDelta(t *testing.T, c *Cache, reg *registry.Registry, step string) {
	t.Helper()
	for _, f := range []Format{JSON, XML} {
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
}

// A property test: across random changes, with the window expiring as the
// clock moves (entries leave from the head; an instance changed twice
// moves back to its later change or leaves), the assembled delta equals a
// from-scratch encoding of Registry.Delta, hash code included.
func TestDeltaEqualsFreshEncoding(t *testing.T) {
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
			r := rand.New(rand.NewPCG(seed, 7))
			checkGoldenDelta(t, c, reg, "empty")
			expired, emptied := 0, false
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
				}
			}
			checkGoldenDelta(t, c, reg, "end")
			if expired == 0 || !emptied {
				t.Fatalf("expiry shrank the delta %d times, emptied it: %v: the test did not exercise the window", expired, emptied)
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
