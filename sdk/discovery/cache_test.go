package discovery_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/discovery"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// runCache starts c.Run and waits for the first fetch; Run is stopped in
// t.Cleanup (or by the returned stop).
func runCache(t *testing.T, c *discovery.Cache) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if err := c.Ready(rctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	return stop
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	eurekadtest.Until(t, within, what, cond)
}

func has(c *discovery.Cache, app string, n int) func() bool {
	return func() bool { return len(c.Instances(app)) == n }
}

// TestLongPoll: against a long-polling server, changes arrive without
// waiting for the fetch interval.
func TestLongPoll(t *testing.T) {
	f := newFakeRegistry()
	c := discovery.New(newTestClient(t, f.start(t)), &discovery.Options{FetchInterval: time.Hour})
	runCache(t, c)
	f.put(inst("orders", "o1", eureka.StatusUp, "", ""))
	eventually(t, 2*time.Second, "registration visible", has(c, "orders", 1))
	f.remove("orders", "o1")
	eventually(t, 2*time.Second, "cancel visible", has(c, "orders", 0))
	st := c.Stats()
	if !st.LongPolling || st.FullFetches != 1 || st.Deltas < 2 || st.HashMismatches != 0 {
		t.Errorf("stats %+v: want long-polling, one full fetch, deltas, no mismatch", st)
	}
	if apps := c.Applications(); len(apps.Applications) != 0 || apps.AppsHashcode != "" {
		t.Errorf("view after the cancel: %d apps, hash %q", len(apps.Applications), apps.AppsHashcode)
	}
}

// TestJavaServerPolls: a server without entity tags is polled every
// FetchInterval.
func TestJavaServerPolls(t *testing.T) {
	f := newFakeRegistry()
	f.noETag = true
	clk := newFakeClock()
	c := discovery.New(newTestClient(t, f.start(t)), &discovery.Options{FetchInterval: 7 * time.Second, Clock: clk})
	runCache(t, c)
	tm := clk.next(t)
	if tm.d != 7*time.Second {
		t.Fatalf("wait %v, want the fetch interval", tm.d)
	}
	f.put(inst("orders", "o1", eureka.StatusUp, "", ""))
	tm.c <- time.Time{}
	if tm := clk.next(t); tm.d != 7*time.Second {
		t.Fatalf("wait %v, want the fetch interval", tm.d)
	}
	if n := len(c.Instances("ORDERS")); n != 1 {
		t.Fatalf("instances after the poll: %d", n)
	}
	if c.Stats().LongPolling {
		t.Error("LongPolling against a server without entity tags")
	}
	if full, delta := f.reads(); full != 1 || delta != 2 {
		t.Errorf("reads: %d full, %d delta; want 1, 2", full, delta)
	}
}

// TestLongPollOffFallsBack: a server that answers a long-poll with 304 at
// once (eurekad with http.max_long_poll 0) is polled every FetchInterval.
func TestLongPollOffFallsBack(t *testing.T) {
	f := newFakeRegistry()
	f.longPoll = false
	clk := newFakeClock()
	c := discovery.New(newTestClient(t, f.start(t)), &discovery.Options{FetchInterval: 5 * time.Second, Clock: clk})
	runCache(t, c)
	tm := clk.next(t)
	if tm.d != 5*time.Second {
		t.Fatalf("wait %v, want the fetch interval", tm.d)
	}
	f.put(inst("orders", "o1", eureka.StatusUp, "", ""))
	tm.c <- time.Time{}
	if tm := clk.next(t); tm.d != 5*time.Second {
		t.Fatalf("wait %v, want the fetch interval", tm.d)
	}
	if n := len(c.Instances("orders")); n != 1 {
		t.Fatalf("instances after the poll: %d", n)
	}
	if st := c.Stats(); st.LongPolling || st.NotModified != 2 {
		t.Errorf("stats %+v: want plain polling with two 304s", st)
	}
}

// TestHashMismatch: a delta that misses a change leaves the local hash
// code different from the server's; the cache fetches the full registry.
func TestHashMismatch(t *testing.T) {
	f := newFakeRegistry()
	f.put(inst("orders", "o1", eureka.StatusUp, "", ""))
	c := discovery.New(newTestClient(t, f.start(t)), nil)
	runCache(t, c)
	f.set(func(f *fakeRegistry) { f.loseDelta = true })
	f.put(inst("orders", "o2", eureka.StatusUp, "", ""))
	eventually(t, 2*time.Second, "the missed registration", has(c, "orders", 2))
	st := c.Stats()
	if st.HashMismatches != 1 || st.FullFetches != 2 {
		t.Errorf("stats %+v: want one mismatch and a second full fetch", st)
	}
	if got := c.Applications().AppsHashcode; got != "UP_2_" {
		t.Errorf("hash code %q", got)
	}
}

// TestMismatchPacedWhilePolling: against a server without long-poll whose
// deltas never match, each mismatch costs one full fetch per fetch
// interval, not a tight loop.
func TestMismatchPacedWhilePolling(t *testing.T) {
	f := newFakeRegistry()
	f.noETag, f.badHash = true, true
	clk := newFakeClock()
	c := discovery.New(newTestClient(t, f.start(t)), &discovery.Options{FetchInterval: 4 * time.Second, Clock: clk})
	runCache(t, c)
	for range 2 {
		tm := clk.next(t)
		if tm.d != 4*time.Second {
			t.Fatalf("wait %v, want the fetch interval", tm.d)
		}
		tm.c <- time.Time{}
	}
	clk.next(t)
	full, delta := f.reads()
	if st := c.Stats(); st.HashMismatches != 3 || full != 4 || delta != 3 {
		t.Errorf("stats %+v, reads %d full %d delta: want each interval one delta, one mismatch, one full fetch", st, full, delta)
	}
}

// TestDeltaForbidden: a refused delta is replaced by a full fetch, and the
// next delta waits a fetch interval.
func TestDeltaForbidden(t *testing.T) {
	f := newFakeRegistry()
	f.forbidden = true
	clk := newFakeClock()
	c := discovery.New(newTestClient(t, f.start(t)), &discovery.Options{FetchInterval: 3 * time.Second, Clock: clk})
	runCache(t, c)
	if tm := clk.next(t); tm.d != 3*time.Second {
		t.Fatalf("wait %v, want the fetch interval", tm.d)
	}
	if full, delta := f.reads(); full != 2 || delta != 1 {
		t.Errorf("reads: %d full, %d delta; want 2, 1", full, delta)
	}
}

// TestDisableDelta long-polls the full registry.
func TestDisableDelta(t *testing.T) {
	f := newFakeRegistry()
	c := discovery.New(newTestClient(t, f.start(t)), &discovery.Options{DisableDelta: true, FetchInterval: time.Hour})
	runCache(t, c)
	f.put(inst("orders", "o1", eureka.StatusUp, "", ""))
	eventually(t, 2*time.Second, "registration visible", has(c, "orders", 1))
	if _, delta := f.reads(); delta != 0 {
		t.Errorf("%d delta reads with DisableDelta", delta)
	}
}

// TestBackoff: failed fetches wait RetryDelay, doubling, up to
// MaxBackoffMultiplier fetch intervals.
func TestBackoff(t *testing.T) {
	f := newFakeRegistry()
	f.failures = 6
	clk := newFakeClock()
	c := discovery.New(newTestClient(t, f.start(t)), &discovery.Options{
		FetchInterval: 2 * time.Second, MaxBackoffMultiplier: 5, RetryDelay: time.Second, Clock: clk,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	s := time.Second
	for i, want := range []time.Duration{s, 2 * s, 4 * s, 8 * s, 10 * s, 10 * s} {
		tm := clk.next(t)
		if tm.d != want {
			t.Fatalf("wait after failure %d = %v, want %v", i+1, tm.d, want)
		}
		if c.Ready(canceled()) == nil {
			t.Fatal("Ready before a successful fetch")
		}
		tm.c <- time.Time{}
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	if err := c.Ready(rctx); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Failures != 6 || st.FullFetches != 1 {
		t.Errorf("stats %+v", st)
	}
	cancel()
	<-done
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestPick checks the UP filter, zone preference, round robin, VIPs and
// ErrNoInstance.
func TestPick(t *testing.T) {
	f := newFakeRegistry()
	f.put(inst("orders", "a1", eureka.StatusUp, "z1", "orders,orders-v2"))
	f.put(inst("orders", "a2", eureka.StatusUp, "z1", "orders"))
	f.put(inst("orders", "b1", eureka.StatusUp, "z2", "orders"))
	f.put(inst("orders", "a3", eureka.StatusDown, "z1", "orders"))
	amazon := inst("orders", "b2", eureka.StatusUp, "", "orders")
	amazon.DataCenterInfo = &eureka.DataCenterInfo{Name: eureka.DataCenterAmazon, Metadata: map[string]string{"availability-zone": "z2", "instance-id": "b2"}}
	f.put(amazon)
	base := f.start(t)

	c := discovery.New(newTestClient(t, base), &discovery.Options{Zone: "z1"})
	runCache(t, c)
	if n := len(c.Instances("Orders")); n != 4 {
		t.Errorf("Instances: %d, want the 4 UP ones", n)
	}
	for _, in := range c.Instances("orders") {
		if got := discovery.InstanceZone(in); in.ID() == "b2" && got != "z2" {
			t.Errorf("zone of the Amazon instance: %q, want its availability-zone", got)
		}
	}
	seen := map[string]int{}
	for range 10 {
		in, err := c.Pick("orders")
		if err != nil {
			t.Fatal(err)
		}
		seen[in.ID()]++
	}
	if len(seen) != 2 || seen["a1"] != 5 || seen["a2"] != 5 {
		t.Errorf("picks %v: want a1 and a2 (zone z1, UP) alternating", seen)
	}
	if in, err := c.PickVIP("ORDERS-V2"); err != nil || in.ID() != "a1" {
		t.Errorf("PickVIP(ORDERS-V2) = %v, %v", in, err)
	}
	if n := len(c.InstancesByVIP("orders")); n != 4 {
		t.Errorf("InstancesByVIP(orders): %d", n)
	}

	// With the own zone empty, Pick falls back to the other zones.
	f.put(inst("orders", "a1", eureka.StatusOutOfService, "z1", "orders"))
	f.remove("orders", "a2")
	eventually(t, 2*time.Second, "changes visible", has(c, "orders", 2))
	seen = map[string]int{}
	for range 4 {
		in, err := c.Pick("orders")
		if err != nil {
			t.Fatal(err)
		}
		seen[in.ID()]++
	}
	if seen["b1"] != 2 || seen["b2"] != 2 {
		t.Errorf("picks %v: want b1 and b2 alternating", seen)
	}

	if _, err := c.Pick("nothing"); !errors.Is(err, discovery.ErrNoInstance) {
		t.Errorf("Pick(unknown) = %v, want ErrNoInstance", err)
	}
	if _, err := c.PickSecureVIP("orders"); !errors.Is(err, discovery.ErrNoInstance) {
		t.Errorf("PickSecureVIP = %v, want ErrNoInstance", err)
	}

	all := discovery.New(newTestClient(t, base), &discovery.Options{AllStatuses: true})
	runCache(t, all)
	if n := len(all.Instances("orders")); n != 4 {
		t.Errorf("AllStatuses: %d instances, want 4 (a1 OUT_OF_SERVICE, a3 DOWN, b1, b2)", n)
	}
	if n := len(c.Applications().Applications[0].Instances); n != 4 {
		t.Errorf("Applications holds %d instances, want all 4", n)
	}
}

// TestSubscribe: a change notifies; a registration that changes nothing
// but lease bookkeeping does not.
func TestSubscribe(t *testing.T) {
	f := newFakeRegistry()
	c := discovery.New(newTestClient(t, f.start(t)), nil)
	changes, cancel := c.Subscribe()
	runCache(t, c)
	in := inst("orders", "o1", eureka.StatusUp, "", "")
	f.put(in)
	select {
	case <-changes:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification for a registration")
	}
	deltas := c.Stats().Deltas
	in.LeaseInfo.LastRenewalTimestamp = 12345
	f.put(in)
	eventually(t, 2*time.Second, "the second delta", func() bool { return c.Stats().Deltas > deltas })
	select {
	case <-changes:
		t.Error("notification for a lease-only change")
	default:
	}
	cancel()
	cancel()
	if _, ok := <-changes; ok {
		t.Error("channel open after cancel")
	}
}

// TestRunOnce: a Cache runs once, and Ready honours its context.
func TestRunOnce(t *testing.T) {
	f := newFakeRegistry()
	c := discovery.New(newTestClient(t, f.start(t)), nil)
	if err := c.Ready(canceled()); !errors.Is(err, context.Canceled) {
		t.Errorf("Ready = %v, want context.Canceled", err)
	}
	runCache(t, c)
	if err := c.Run(context.Background()); !errors.Is(err, discovery.ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}
