package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/discovery"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// startCache runs a cache in the background and waits for its first
// fetch; the returned stop cancels it and waits for Run to return.
func startCache(t testing.TB, c *discovery.Cache) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(within):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	rctx, rcancel := context.WithTimeout(context.Background(), within)
	defer rcancel()
	if err := c.Ready(rctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	return stop
}

// heldPolls is an http.RoundTripper that counts the long-polls in flight
// (requests with X-Eurekad-Wait, which eurekad holds until a change or the
// wait's end): a test waits until its caches are held in one instead of
// sleeping.
type heldPolls struct {
	next http.RoundTripper
	n    atomic.Int32
}

func (h *heldPolls) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-Eurekad-Wait") == "" {
		return h.next.RoundTrip(r)
	}
	h.n.Add(1)
	defer h.n.Add(-1) // eurekad answers a held poll with its headers
	return h.next.RoundTrip(r)
}

// wait waits until at least n long-polls are in flight.
func (h *heldPolls) wait(t testing.TB, n int32) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d long-polls held", n), func() error {
		if got := h.n.Load(); got < n {
			return fmt.Errorf("%d long-polls in flight", got)
		}
		return nil
	})
}

// pollingClient is newClient whose long-polls h counts.
func pollingClient(t testing.TB, base string) (*client.Client, *heldPolls) {
	t.Helper()
	h := &heldPolls{next: http.DefaultTransport}
	c, err := client.New(client.Options{ServiceURLs: []string{base}, Timeout: 2 * time.Second, HTTPClient: &http.Client{Transport: h}})
	if err != nil {
		t.Fatal(err)
	}
	return c, h
}

func register(t testing.TB, c *client.Client, in *eureka.InstanceInfo) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Register(ctx, in); err != nil {
		t.Fatalf("register %s/%s: %v", in.App, in.ID(), err)
	}
}

// holds reports whether the cache's view has the instance with the given
// status.
func holds(c *discovery.Cache, app, id string, st eureka.Status) bool {
	for _, a := range c.Applications().Applications {
		for _, in := range a.Instances {
			if in.App == app && in.ID() == id && in.Status == st {
				return true
			}
		}
	}
	return false
}

func count(c *discovery.Cache, app string, n int) func() error {
	return func() error {
		if got := len(c.Instances(app)); got != n {
			return fmt.Errorf("%d UP instances of %s in the cache, want %d", got, app, n)
		}
		return nil
	}
}

// TestDiscoveryFullThenDelta: the first fetch is full, later changes come
// as deltas (registration, status override, cancel), and the view's hash
// code always matches the server's.
func TestDiscoveryFullThenDelta(t *testing.T) {
	s := eurekadtest.Start(t)
	c := newClient(t, s.Base)
	register(t, c, instance("SHOP", "shop-1"))
	register(t, c, instance("SHOP", "shop-2"))

	cache := discovery.New(newClient(t, s.Base), &discovery.Options{Logger: testLogger(t)})
	startCache(t, cache)
	if n := len(cache.Instances("shop")); n != 2 {
		t.Fatalf("after the full fetch: %d instances, want 2", n)
	}

	register(t, c, instance("SHOP", "shop-3"))
	eventually(t, "registration in the cache", count(cache, "SHOP", 3))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.SetStatus(ctx, "SHOP", "shop-2", eureka.StatusOutOfService, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "status override in the cache", count(cache, "SHOP", 2))
	if !holds(cache, "SHOP", "shop-2", eureka.StatusOutOfService) {
		t.Error("Applications lost the OUT_OF_SERVICE instance (only Instances filters to UP)")
	}
	if err := c.Cancel(ctx, "SHOP", "shop-1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cancel in the cache", count(cache, "SHOP", 1))

	st := cache.Stats()
	if st.FullFetches != 1 || st.Deltas < 3 || st.HashMismatches != 0 {
		t.Errorf("stats %+v: want one full fetch, then deltas only", st)
	}
	// The server's full payload may be the one built before the cancel
	// for up to its rebuild interval (fresh mode, widened while builds are
	// slow): compare once it shows the cancel too.
	eventually(t, "the server's full payload and the cache agree", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		full, err := c.Applications(ctx)
		if err != nil {
			return err
		}
		if got, want := cache.Applications().HashCode(), full.AppsHashcode; got != want {
			return fmt.Errorf("cache hash code %q, server %q", got, want)
		}
		return nil
	})
}

// TestDiscoveryHashMismatch makes the delta lose changes before the cache
// reads it (1 ms delta retention, swept every 10 ms, and a cache polling
// once a second): the recomputed hash code differs from the server's and
// the cache falls back to a full fetch.
func TestDiscoveryHashMismatch(t *testing.T) {
	s := eurekadtest.Start(t,
		"EUREKAD_REGISTRY_DELTA_RETENTION=1ms",
		"EUREKAD_REGISTRY_DELTA_RETENTION_SWEEP_INTERVAL=10ms",
	)
	c := newClient(t, s.Base)
	cache := discovery.New(newClient(t, s.Base), &discovery.Options{
		DisableLongPoll: true,
		FetchInterval:   time.Second,
		Logger:          testLogger(t),
	})
	startCache(t, cache)

	// Right after a poll, register twice, 100 ms apart: by the time the
	// next poll comes, the first registration has left the delta, and the
	// delta built after the second cannot hold it.
	polls := func() uint64 { st := cache.Stats(); return st.Deltas + st.NotModified }
	n := polls()
	eventually(t, "a poll", func() error {
		if polls() == n {
			return errors.New("no poll yet")
		}
		return nil
	})
	register(t, c, instance("MISS", "miss-1"))
	// The span is the behaviour under test: more than the 1 ms retention
	// and the 10 ms sweep, less than the 1 s poll interval. (The served
	// delta is cached, so there is no event to wait on.)
	time.Sleep(100 * time.Millisecond)
	register(t, c, instance("MISS", "miss-2"))

	eventually(t, "both instances in the cache", count(cache, "MISS", 2))
	st := cache.Stats()
	if st.HashMismatches == 0 || st.FullFetches < 2 {
		t.Errorf("stats %+v: want a hash code mismatch and a second full fetch", st)
	}
	if got := cache.Applications().AppsHashcode; got != "UP_2_" {
		t.Errorf("hash code %q, want UP_2_", got)
	}
}

// TestDiscoveryLongPoll: with long-poll, a registration reaches the cache
// in well under the fetch interval.
func TestDiscoveryLongPoll(t *testing.T) {
	s := eurekadtest.Start(t)
	c := newClient(t, s.Base)
	pc, held := pollingClient(t, s.Base)
	cache := discovery.New(pc, &discovery.Options{FetchInterval: time.Hour, Logger: testLogger(t)})
	changes, unsubscribe := cache.Subscribe()
	defer unsubscribe()
	startCache(t, cache)
	held.wait(t, 1)
	drain(changes)

	start := time.Now()
	register(t, c, instance("FAST", "fast-1"))
	for !holds(cache, "FAST", "fast-1", eureka.StatusUp) {
		select {
		case <-changes:
		case <-time.After(within):
			t.Fatal("registration not visible")
		}
	}
	took := time.Since(start)
	t.Logf("register → visible in the cache: %v", took)
	if took > 2*time.Second {
		t.Errorf("registration took %v to reach a long-polling cache", took)
	}
	if !cache.Stats().LongPolling {
		t.Error("Stats().LongPolling = false")
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// TestDiscoveryPlainPolling: against eurekad with long-poll off
// (EUREKAD_HTTP_MAX_LONG_POLL=0) the cache polls every FetchInterval and
// still sees changes, without spinning.
func TestDiscoveryPlainPolling(t *testing.T) {
	s := eurekadtest.Start(t, "EUREKAD_HTTP_MAX_LONG_POLL=0")
	c := newClient(t, s.Base)
	cache := discovery.New(newClient(t, s.Base), &discovery.Options{FetchInterval: 300 * time.Millisecond, Logger: testLogger(t)})
	startCache(t, cache)
	register(t, c, instance("SLOW", "slow-1"))
	eventually(t, "registration in the cache", count(cache, "SLOW", 1))

	before := cache.Stats()
	time.Sleep(1500 * time.Millisecond) // the polls of a span of time are what is tested
	after := cache.Stats()
	if after.LongPolling {
		t.Error("Stats().LongPolling = true against a server without long-poll")
	}
	// About five polls in 1.5 s; a loop that ignored the interval would
	// make hundreds.
	if n := after.NotModified - before.NotModified; n < 2 || n > 12 {
		t.Errorf("%d polls in 1.5 s at a 300 ms interval", n)
	}
}

// TestDiscoveryFailover: the cache reads through a client with three
// servers, the first one down; it fills from the second, and when that one
// dies too it carries on with the third.
func TestDiscoveryFailover(t *testing.T) {
	down := deadAddr(t)
	s2 := eurekadtest.Start(t)
	s3 := eurekadtest.Start(t)
	for _, s := range []*eurekadtest.Server{s2, s3} {
		register(t, newClient(t, s.Base), instance("HA", "ha-1"))
	}
	cache := discovery.New(newClient(t, "http://"+down+"/eureka/", s2.Base, s3.Base), &discovery.Options{
		RetryDelay: 50 * time.Millisecond,
		Logger:     testLogger(t),
	})
	startCache(t, cache)
	if n := len(cache.Instances("HA")); n != 1 {
		t.Fatalf("%d instances after the first fetch, want 1", n)
	}

	s2.Kill()
	register(t, newClient(t, s3.Base), instance("HA", "ha-2"))
	eventually(t, "the third server's registration in the cache", count(cache, "HA", 2))
	t.Logf("stats after fail-over: %+v", cache.Stats())
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestDiscoveryShutdownAndRestart: Run returns promptly when cancelled in
// the middle of a held long-poll, and a running cache recovers when its
// server restarts empty.
func TestDiscoveryShutdownAndRestart(t *testing.T) {
	s := eurekadtest.Start(t)
	c := newClient(t, s.Base)
	register(t, c, instance("BOUNCE", "b-1"))
	pc, held := pollingClient(t, s.Base)
	cache := discovery.New(pc, &discovery.Options{RetryDelay: 50 * time.Millisecond, Logger: testLogger(t)})
	stop := startCache(t, cache)
	if n := len(cache.Instances("BOUNCE")); n != 1 {
		t.Fatalf("%d instances, want 1", n)
	}

	s.Kill()
	s2 := eurekadtest.StartAt(t, s.Addr)
	// The restarted memory server is empty: the cache must drop b-1 (its
	// hash code no longer matches, or the delta comes from a new ETag) and
	// see b-2.
	register(t, newClient(t, s2.Base), instance("BOUNCE", "b-2"))
	eventually(t, "the restarted server's view", func() error {
		if !holds(cache, "BOUNCE", "b-2", eureka.StatusUp) || holds(cache, "BOUNCE", "b-1", eureka.StatusUp) {
			return fmt.Errorf("cache holds %d instances: %v", len(cache.Instances("BOUNCE")), cache.Applications().AppsHashcode)
		}
		return nil
	})

	held.wait(t, 1) // in a held long-poll again
	start := time.Now()
	stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v to return after cancel", d)
	}
}
