package registry

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// sink records what the registry publishes.
type sink struct {
	mu       sync.Mutex
	events   []hook.Event
	renewals bool
}

func (s *sink) Publish(e hook.Event) {
	s.mu.Lock()
	e.Seq = uint64(len(s.events) + 1)
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *sink) WantsRenewals() bool { return s.renewals }

func (s *sink) take() []hook.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.events
	s.events = nil
	return ev
}

func newEventRegistry(t *testing.T, mod func(*Options)) (*Registry, *fakeClock, *sink) {
	s := &sink{}
	r, clk := newTestRegistry(t, func(o *Options) {
		o.Events = s
		if mod != nil {
			mod(o)
		}
	})
	return r, clk, s
}

func expectEvents(t *testing.T, s *sink, want ...string) []hook.Event {
	t.Helper()
	got := s.take()
	var names []string
	for _, e := range got {
		n := string(e.Type)
		if e.InstanceID != "" {
			n += " " + e.App + "/" + e.InstanceID
		}
		if e.Replicated {
			n += " replicated"
		}
		names = append(names, n)
	}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", names, want)
	}
	return got
}

func TestInstanceEvents(t *testing.T) {
	r, clk, s := newEventRegistry(t, nil)
	r.Register(inst("orders", "i1", eureka.StatusUp), false)
	ev := expectEvents(t, s, "registered ORDERS/i1")
	if ev[0].Instance == nil || ev[0].Instance.Status != eureka.StatusUp || !ev[0].Time.Equal(clk.Now().Truncate(time.Millisecond)) {
		t.Fatalf("registered event %+v", ev[0])
	}
	if ev[0].Instance != r.lookup("ORDERS", "i1").instance.Load() {
		t.Fatal("the event must carry the stored instance")
	}
	// A re-registration is a registration, as in Eureka's delta.
	r.Register(inst("ORDERS", "i1", eureka.StatusUp), true)
	expectEvents(t, s, "registered ORDERS/i1 replicated")

	// Renewals are silent unless asked for.
	r.Renew("ORDERS", "i1", RenewArgs{})
	expectEvents(t, s)
	s.renewals = true
	r.Renew("ORDERS", "i1", RenewArgs{Replication: true})
	expectEvents(t, s, "renewed ORDERS/i1 replicated")
	s.renewals = false

	r.SetStatus("ORDERS", "i1", eureka.StatusOutOfService, 0, true)
	ev = expectEvents(t, s, "status-changed ORDERS/i1 replicated")
	if in := ev[0].Instance; in.Status != eureka.StatusOutOfService || in.OverriddenStatus != eureka.StatusOutOfService {
		t.Fatalf("status event carries %s/%s", in.Status, in.OverriddenStatus)
	}
	r.SetStatus("ORDERS", "i1", eureka.StatusOutOfService, 0, false) // no change
	expectEvents(t, s)
	r.DeleteStatusOverride("ORDERS", "i1", eureka.StatusUp, 0, false)
	ev = expectEvents(t, s, "status-changed ORDERS/i1")
	if ev[0].Instance.Status != eureka.StatusUp {
		t.Fatalf("override removal left %s", ev[0].Instance.Status)
	}

	r.UpdateMetadata("ORDERS", "i1", map[string]string{"version": "2"})
	ev = expectEvents(t, s, "metadata-changed ORDERS/i1")
	if ev[0].Instance.Metadata["version"] != "2" || ev[0].Instance.Metadata["zone"] != "zone-a" {
		t.Fatalf("metadata event carries %v", ev[0].Instance.Metadata)
	}

	before := r.lookup("ORDERS", "i1").instance.Load()
	r.Cancel("ORDERS", "i1", true)
	ev = expectEvents(t, s, "cancelled ORDERS/i1 replicated")
	if ev[0].Instance != before {
		t.Fatal("a cancelled event carries the instance as it stood before")
	}
	r.Cancel("ORDERS", "i1", false) // gone already
	expectEvents(t, s)
}

func TestOverrideAppliedByRenewIsAStatusChange(t *testing.T) {
	r, _, s := newEventRegistry(t, nil)
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	r.SetStatus("A", "i1", eureka.StatusOutOfService, 0, false)
	// The instance re-registers UP; the override wins in resolveStatus.
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	s.take()
	// A peer renews with an override that differs from the stored status:
	// Eureka applies it on the next renewal, silently for the delta.
	r.mu.Lock()
	r.overrides[storage.Key{App: "A", ID: "i1"}] = newOverride(eureka.StatusDown, r.nowMs())
	r.mu.Unlock()
	r.Renew("A", "i1", RenewArgs{})
	ev := expectEvents(t, s, "status-changed A/i1")
	if ev[0].Instance.Status != eureka.StatusDown {
		t.Fatalf("status %s", ev[0].Instance.Status)
	}
}

func TestEvictionAndSelfPreservationEvents(t *testing.T) {
	r, clk, s := newEventRegistry(t, nil)
	r.Register(inst("A", "live", eureka.StatusUp), false)
	r.Register(inst("A", "dead", eureka.StatusUp), false)
	s.take()
	// No renewals in the last minute: below the threshold.
	clk.Advance(2 * time.Minute)
	r.evict()
	expectEvents(t, s, "self-preservation-entered")
	r.evict()
	expectEvents(t, s) // reported once
	if st := r.SelfPreservationState(); st.LeaseExpirationEnabled {
		t.Fatalf("state %+v", st)
	}

	// A minute full of renewals lifts it; the stale lease is then evicted.
	clk.Advance(time.Minute - clk.Now().Sub(clk.Now().Truncate(time.Minute)))
	for i := 0; i < 10; i++ {
		r.Renew("A", "live", RenewArgs{})
	}
	clk.Advance(time.Minute)
	r.Renew("A", "live", RenewArgs{})
	r.opts.RenewalPercentThreshold = 0.5 // let one of two go in this run
	r.evict()
	ev := expectEvents(t, s, "self-preservation-left", "evicted A/dead")
	if ev[1].Replicated || ev[1].Instance == nil || ev[1].Instance.InstanceID != "dead" {
		t.Fatalf("evicted event %+v", ev[1])
	}
}

func TestSelfPreservationDisabledPublishesNothing(t *testing.T) {
	r, clk, s := newEventRegistry(t, func(o *Options) { o.EnableSelfPreservation = false })
	clk.Advance(10 * time.Minute)
	r.evict()
	expectEvents(t, s)
}

func TestRenewDoesNotAllocateWithEvents(t *testing.T) {
	r, _, _ := newEventRegistry(t, nil)
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	allocs := testing.AllocsPerRun(1000, func() {
		r.Renew("A", "i1", RenewArgs{LastDirtyTimestamp: 1})
	})
	if allocs != 0 {
		t.Fatalf("renew with a sink that wants no renewals allocates %.1f times", allocs)
	}
}

// TestEventOrderMatchesRegistry hammers one instance from several
// goroutines; the last event published for it must agree with the
// registry's final state, for every instance.
func TestEventOrderMatchesRegistry(t *testing.T) {
	r, _, s := newEventRegistry(t, func(o *Options) { o.EnableSelfPreservation = false })
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				id := fmt.Sprint("i", i%5)
				switch (i + g) % 4 {
				case 0, 1:
					r.Register(inst("A", id, eureka.StatusUp), false)
				case 2:
					r.Cancel("A", id, false)
				case 3:
					r.SetStatus("A", id, eureka.StatusOutOfService, 0, false)
				}
			}
		}()
	}
	wg.Wait()
	last := map[string]hook.Event{}
	for _, e := range s.take() {
		last[e.InstanceID] = e
	}
	for i := 0; i < 5; i++ {
		id := fmt.Sprint("i", i)
		e, ok := last[id]
		live := r.Instance("A", id)
		switch {
		case !ok:
			t.Fatalf("%s: no event", id)
		case live == nil && e.Type != hook.EventCancelled:
			t.Fatalf("%s is gone but its last event is %s", id, e.Type)
		case live != nil && (e.Type == hook.EventCancelled || e.Instance != r.lookup("A", id).instance.Load()):
			t.Fatalf("%s: last event %s does not carry the stored instance", id, e.Type)
		}
	}
}
