package guard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/hook"
)

// users is a small authenticator over a fixed user table: "alice" may do
// anything to ORDERS, "bob" may only read.
type users struct {
	calls atomic.Int64
	fail  atomic.Bool
	delay time.Duration
	gate  chan struct{}
}

func (u *users) Authenticate(ctx context.Context, req *hook.AuthRequest) (hook.Principal, error) {
	u.calls.Add(1)
	if u.gate != nil {
		select {
		case <-u.gate:
		case <-ctx.Done():
			return hook.Principal{}, ctx.Err()
		}
	}
	if u.delay > 0 {
		select {
		case <-time.After(u.delay):
		case <-ctx.Done():
			return hook.Principal{}, ctx.Err()
		}
	}
	if u.fail.Load() {
		return hook.Principal{}, errors.New("directory down")
	}
	switch {
	case req.Username == "alice" && req.Password == "pw" && req.App == "ORDERS":
		return hook.Principal{Name: "alice"}, nil
	case req.Username == "bob" && req.Password == "pw":
		if req.Operation == hook.OpRead {
			return hook.Principal{Name: "bob"}, nil
		}
		return hook.Principal{}, fmt.Errorf("bob may only read: %w", hook.ErrForbidden)
	}
	return hook.Principal{}, hook.ErrUnauthenticated
}

type fakeTime struct{ ns atomic.Int64 }

func (f *fakeTime) now() int64              { return f.ns.Load() }
func (f *fakeTime) advance(d time.Duration) { f.ns.Add(int64(d)) }

func newGuard(a hook.Authenticator, mod func(*Options)) (*Guard, *fakeTime) {
	o := DefaultOptions()
	if mod != nil {
		mod(&o)
	}
	g := New(a, &o)
	ft := &fakeTime{}
	g.clock = ft.now
	return g, ft
}

func req(op hook.Operation, app, user, pass string) *hook.AuthRequest {
	return &hook.AuthRequest{Operation: op, App: app, Username: user, Password: pass, Instance: "i-1", RemoteAddr: "127.0.0.1:5000"}
}

func TestCacheAndTTL(t *testing.T) {
	u := &users{}
	g, clk := newGuard(u, nil)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		p, err := g.Authenticate(ctx, req(hook.OpRenew, "ORDERS", "alice", "pw"))
		if err != nil || p.Name != "alice" {
			t.Fatalf("alice: %v %v", p, err)
		}
	}
	if u.calls.Load() != 1 {
		t.Fatalf("authenticator called %d times for one credential", u.calls.Load())
	}
	// A different password, operation or app is a different decision.
	if _, err := g.Authenticate(ctx, req(hook.OpRenew, "ORDERS", "alice", "wrong")); !errors.Is(err, hook.ErrUnauthenticated) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := g.Authenticate(ctx, req(hook.OpRenew, "PAYMENTS", "alice", "pw")); !errors.Is(err, hook.ErrUnauthenticated) {
		t.Fatalf("other app: %v", err)
	}
	if _, err := g.Authenticate(ctx, req(hook.OpRegister, "ORDERS", "bob", "pw")); !errors.Is(err, hook.ErrForbidden) {
		t.Fatalf("bob writes: %v", err)
	}
	if u.calls.Load() != 4 {
		t.Fatalf("calls %d, want 4", u.calls.Load())
	}
	// Denials are cached, shorter than allows.
	g.Authenticate(ctx, req(hook.OpRegister, "ORDERS", "bob", "pw"))
	if u.calls.Load() != 4 {
		t.Fatal("denial not cached")
	}
	clk.advance(DefaultOptions().DenyTTL + time.Millisecond)
	g.Authenticate(ctx, req(hook.OpRegister, "ORDERS", "bob", "pw"))
	g.Authenticate(ctx, req(hook.OpRenew, "ORDERS", "alice", "pw"))
	if u.calls.Load() != 5 {
		t.Fatalf("calls %d: the denial should have expired and the allow not", u.calls.Load())
	}
	clk.advance(DefaultOptions().AllowTTL)
	g.Authenticate(ctx, req(hook.OpRenew, "ORDERS", "alice", "pw"))
	if u.calls.Load() != 6 {
		t.Fatalf("calls %d: the allow should have expired", u.calls.Load())
	}
	st := g.Stats()
	if st.Hits != 6 || st.Misses != 6 || st.Allowed != 2 || st.Unauthenticated != 2 || st.Forbidden != 2 || st.Errors != 0 {
		t.Fatalf("stats %+v", st)
	}
	g.Purge()
	if g.Stats().Entries != 0 {
		t.Fatal("purge kept entries")
	}
}

func TestFieldsDoNotRunTogether(t *testing.T) {
	g, _ := newGuard(&users{}, nil)
	a := g.keyOf(&hook.AuthRequest{Username: "ab", Password: "c"})
	b := g.keyOf(&hook.AuthRequest{Username: "a", Password: "bc"})
	c := g.keyOf(&hook.AuthRequest{Username: "a", Password: "bc", TLS: &hook.TLSIdentity{}})
	if a == b || b == c {
		t.Fatal("distinct credentials share a key")
	}
}

func TestFailClosedAndFailOpenReads(t *testing.T) {
	for _, open := range []bool{false, true} {
		t.Run(fmt.Sprint("fail_open_reads=", open), func(t *testing.T) {
			u := &users{}
			u.fail.Store(true)
			g, _ := newGuard(u, func(o *Options) { o.FailOpenReads = open })
			ctx := context.Background()
			if _, err := g.Authenticate(ctx, req(hook.OpRegister, "ORDERS", "alice", "pw")); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("write during outage: %v", err)
			}
			p, err := g.Authenticate(ctx, req(hook.OpRead, "ORDERS", "alice", "pw"))
			if open && (err != nil || p.Name != FailOpenPrincipal) {
				t.Fatalf("read during outage with fail-open: %v %v", p, err)
			}
			if !open && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("read during outage: %v", err)
			}
			// Failures are not cached: the next call asks again.
			u.fail.Store(false)
			if _, err := g.Authenticate(ctx, req(hook.OpRegister, "ORDERS", "alice", "pw")); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
			if st := g.Stats(); st.Errors != 2 || st.Allowed != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestTimeoutAndPanic(t *testing.T) {
	u := &users{delay: time.Hour}
	g, _ := newGuard(u, func(o *Options) { o.Timeout = 20 * time.Millisecond })
	start := time.Now()
	_, err := g.Authenticate(context.Background(), req(hook.OpRenew, "ORDERS", "alice", "pw"))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow authenticator: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("deadline not applied: %v", d)
	}
	p := hook.AuthenticatorFunc(func(context.Context, *hook.AuthRequest) (hook.Principal, error) { panic("bug") })
	g2, _ := newGuard(p, nil)
	if _, err := g2.Authenticate(context.Background(), req(hook.OpRenew, "A", "x", "y")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("panicking authenticator: %v", err)
	}
}

func TestSingleFlight(t *testing.T) {
	u := &users{gate: make(chan struct{})}
	g, _ := newGuard(u, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := g.Authenticate(context.Background(), req(hook.OpRenew, "ORDERS", "alice", "pw"))
			errs <- err
		}()
	}
	// Let the callers pile up behind the one flight, then release it.
	until(t, "50 misses", func() bool { return g.Stats().Misses >= 50 })
	close(u.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := u.calls.Load(); n != 1 {
		t.Fatalf("%d calls for 50 concurrent misses", n)
	}
}

func TestCallerGivingUpDoesNotCancelTheFlight(t *testing.T) {
	u := &users{gate: make(chan struct{})}
	g, _ := newGuard(u, nil)
	ctx, cancel := context.WithCancel(context.Background())
	r := req(hook.OpRenew, "ORDERS", "alice", "pw")
	done := make(chan error)
	go func() {
		_, err := g.Authenticate(ctx, r)
		done <- err
	}()
	until(t, "the flight to start", func() bool { return u.calls.Load() > 0 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	// The caller may reuse its request now; the flight must not see it.
	r.Password = "scribbled"
	close(u.gate)
	until(t, "the flight's decision", func() bool { return g.Stats().Allowed > 0 })
	if _, err := g.Authenticate(context.Background(), req(hook.OpRenew, "ORDERS", "alice", "pw")); err != nil || u.calls.Load() != 1 {
		t.Fatalf("decision of the finished flight not cached: %v, %d calls", err, u.calls.Load())
	}
}

func TestBoundedCache(t *testing.T) {
	a := hook.AuthenticatorFunc(func(context.Context, *hook.AuthRequest) (hook.Principal, error) {
		return hook.Principal{Name: "x"}, nil
	})
	g, _ := newGuard(a, func(o *Options) { o.MaxEntries = 64 })
	for i := 0; i < 2000; i++ {
		g.Authenticate(context.Background(), req(hook.OpRenew, "A", fmt.Sprint("u", i), "p"))
	}
	if n := g.Stats().Entries; n > 64 || n == 0 {
		t.Fatalf("%d entries for a 64-entry cache", n)
	}
}

func TestValidate(t *testing.T) {
	for _, o := range []Options{{Timeout: 0}, {Timeout: time.Second, AllowTTL: -1}, {Timeout: time.Second, MaxEntries: -1},
		{Timeout: time.Second, FailureRate: -1}, {Timeout: time.Second, FailureRate: 1, FailureBurst: 0}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	d := DefaultOptions()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestHitDoesNotAllocate(t *testing.T) {
	g, _ := newGuard(&users{}, nil)
	r := req(hook.OpRenew, "ORDERS", "alice", "pw")
	ctx := context.Background()
	g.Authenticate(ctx, r)
	allocs := testing.AllocsPerRun(1000, func() { g.Authenticate(ctx, r) })
	if allocs != 0 {
		t.Fatalf("a cache hit allocates %.1f times", allocs)
	}
	// Credentials too long for keyOf's buffer take its other path.
	long := req(hook.OpRenew, "ORDERS", "alice", strings.Repeat("x", 300))
	g.Authenticate(ctx, long)
	if allocs := testing.AllocsPerRun(1000, func() { g.Authenticate(ctx, long) }); allocs != 0 {
		t.Fatalf("a cache hit with long credentials allocates %.1f times", allocs)
	}
}

func BenchmarkHit(b *testing.B) {
	g := New(&users{}, nil)
	r := req(hook.OpRenew, "ORDERS", "alice", "pw")
	ctx := context.Background()
	g.Authenticate(ctx, r)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.Authenticate(ctx, r)
		}
	})
}

func TestLongCredentialsKey(t *testing.T) {
	g, _ := newGuard(&users{}, nil)
	long := strings.Repeat("x", 300)
	a := g.keyOf(&hook.AuthRequest{Username: "u", Password: long + "1"})
	b := g.keyOf(&hook.AuthRequest{Username: "u", Password: long + "2"})
	c := g.keyOf(&hook.AuthRequest{Username: "u", Password: long + "1"})
	d := g.keyOf(&hook.AuthRequest{Username: "u", Password: long + "1", TLS: &hook.TLSIdentity{}})
	if a == b || a != c || a == d {
		t.Fatal("keys of long credentials are wrong")
	}
}

// until is eurekadtest.Eventually for a condition without a reason.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eurekadtest.Eventually(t, 10*time.Second, what, func() error {
		if !cond() {
			return errors.New("not yet")
		}
		return nil
	})
}

// An address that keeps failing gets ErrThrottled on its uncached
// requests, without a call; other addresses, 403s, cached allows, lately
// allowed credentials and the refilled bucket are not affected.
func TestFailuresThrottled(t *testing.T) {
	u := &users{}
	g, ft := newGuard(u, func(o *Options) { o.FailureRate, o.FailureBurst = 0.01, 3 })
	from := func(addr, user, pass string) *hook.AuthRequest {
		r := req(hook.OpRegister, "ORDERS", user, pass)
		r.RemoteAddr = addr
		return r
	}
	ctx := t.Context()
	if _, err := g.Authenticate(ctx, from("10.0.0.1:1000", "alice", "pw")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := g.Authenticate(ctx, from("10.0.0.1:1000", "mallory", fmt.Sprint(i))); !errors.Is(err, hook.ErrUnauthenticated) {
			t.Fatalf("failure %d = %v, want ErrUnauthenticated", i, err)
		}
	}
	calls := u.calls.Load()
	// Another port of the same host is the same client.
	if _, err := g.Authenticate(ctx, from("10.0.0.1:2000", "mallory", "guess")); !errors.Is(err, hook.ErrThrottled) {
		t.Fatalf("after the burst = %v, want ErrThrottled", err)
	}
	if u.calls.Load() != calls {
		t.Error("a throttled request reached the authenticator")
	}
	if _, err := g.Authenticate(ctx, from("10.0.0.1:1000", "alice", "pw")); err != nil {
		t.Errorf("cached allow while throttled = %v", err)
	}
	if _, err := g.Authenticate(ctx, from("10.0.0.2:1000", "mallory", "x")); !errors.Is(err, hook.ErrUnauthenticated) {
		t.Errorf("another address = %v, want its own decision", err)
	}
	for i := range 5 { // 403s are known callers, not guesses
		r := from("10.0.0.3:1000", "bob", "pw")
		r.App = fmt.Sprint("APP", i)
		if _, err := g.Authenticate(ctx, r); !errors.Is(err, hook.ErrForbidden) {
			t.Fatalf("403 number %d = %v", i, err)
		}
	}
	// alice's allow has left the cache, her bucket is still empty: a
	// credential allowed lately is not throttled.
	ft.advance(11 * time.Second)
	calls = u.calls.Load()
	if _, err := g.Authenticate(ctx, from("10.0.0.1:1000", "alice", "pw")); err != nil || u.calls.Load() != calls+1 {
		t.Errorf("lately allowed, uncached, while throttled = %v (calls %d → %d)", err, calls, u.calls.Load())
	}
	if _, err := g.Authenticate(ctx, from("10.0.0.1:1000", "alice", "wrong")); !errors.Is(err, hook.ErrThrottled) {
		t.Errorf("a new credential from the throttled address = %v, want ErrThrottled", err)
	}
	if st := g.Stats(); st.Throttled != 2 {
		t.Errorf("Stats.Throttled = %d, want 2", st.Throttled)
	}
	ft.advance(100 * time.Second) // 0.01/s refills one failure
	if _, err := g.Authenticate(ctx, from("10.0.0.1:1000", "mallory", "later")); !errors.Is(err, hook.ErrUnauthenticated) {
		t.Errorf("after the refill = %v, want a decision again", err)
	}

	off, _ := newGuard(&users{}, func(o *Options) { o.FailureRate = 0 })
	for i := range 100 {
		if _, err := off.Authenticate(ctx, from("10.0.0.1:1000", "mallory", fmt.Sprint(i))); !errors.Is(err, hook.ErrUnauthenticated) {
			t.Fatalf("failure_rate 0: failure %d = %v", i, err)
		}
	}
}

// Requests in flight hold their token: many connections guessing at once
// get no more authenticator calls than the burst.
func TestConcurrentGuessesThrottled(t *testing.T) {
	u := &users{gate: make(chan struct{})}
	g, _ := newGuard(u, func(o *Options) { o.FailureRate, o.FailureBurst = 0.01, 3 })
	errs := make(chan error, 10)
	for i := range 10 {
		go func() {
			r := req(hook.OpRegister, "ORDERS", "mallory", fmt.Sprint(i))
			r.RemoteAddr = "10.0.0.1:1000"
			_, err := g.Authenticate(context.Background(), r)
			errs <- err
		}()
	}
	throttled := 0
	for range 7 {
		select {
		case err := <-errs:
			if !errors.Is(err, hook.ErrThrottled) {
				t.Errorf("a guess beyond the burst = %v, want ErrThrottled", err)
			}
			throttled++
		case <-time.After(10 * time.Second):
			t.Fatalf("%d guesses throttled, want 7", throttled)
		}
	}
	close(u.gate)
	for range 3 {
		if err := <-errs; !errors.Is(err, hook.ErrUnauthenticated) {
			t.Errorf("a guess within the burst = %v, want ErrUnauthenticated", err)
		}
	}
	if n := u.calls.Load(); n != 3 {
		t.Errorf("authenticator called %d times, want 3", n)
	}
}

// An authenticator's own ErrThrottled is a decision: never cached, never
// let through as a fail-open read.
func TestAuthenticatorThrottles(t *testing.T) {
	var calls atomic.Int64
	a := hook.AuthenticatorFunc(func(context.Context, *hook.AuthRequest) (hook.Principal, error) {
		calls.Add(1)
		return hook.Principal{}, fmt.Errorf("slow down: %w", hook.ErrThrottled)
	})
	g, _ := newGuard(a, func(o *Options) { o.FailOpenReads = true })
	for range 2 {
		if _, err := g.Authenticate(t.Context(), req(hook.OpRead, "ORDERS", "x", "y")); !errors.Is(err, hook.ErrThrottled) {
			t.Errorf("read = %v, want ErrThrottled", err)
		}
	}
	if calls.Load() != 2 {
		t.Errorf("calls = %d, want 2 (not cached)", calls.Load())
	}
	if st := g.Stats(); st.Throttled != 2 || st.Errors != 0 {
		t.Errorf("Stats = %+v, want 2 throttled, no errors", st)
	}
}

// IPv6 clients are one client per /64; the table stays bounded, and once
// full, new addresses share one bucket while the tracked ones keep theirs.
func TestFailureBuckets(t *testing.T) {
	var now int64
	f := failures{rate: 0.001, burst: 2, max: 100, now: func() int64 { return now }}
	for range 2 {
		if !f.take("[2001:db8:1:2::1]:1") {
			t.Fatal("first failures refused")
		}
	}
	if f.take("[2001:db8:1:2::ffff]:1") {
		t.Error("another address of the same /64 has its own bucket")
	}
	if !f.take("[2001:db8:1:3::1]:1") {
		t.Error("another /64 shares the bucket")
	}
	if !f.take("[::ffff:10.0.0.1]:1") || !f.take("10.0.0.1:2") || f.take("10.0.0.1:3") {
		t.Error("an IPv4-mapped address is not its IPv4 address")
	}
	for i := range 1000 {
		f.take(fmt.Sprintf("10.1.%d.%d:1", i/256, i%256))
	}
	if n := len(f.by); n > 101 {
		t.Errorf("%d buckets, want at most 101", n)
	}
	if f.take("[2001:db8:1:2::1]:1") {
		t.Error("a tracked, exhausted address got a fresh bucket when the table filled")
	}
	if !f.take("not an address") {
		t.Error("a request without a network address is throttled")
	}
}

// TestNamespaceInKey: a decision cached for one namespace is never reused
// for another, or a caller confined to one namespace would be let into
// the next after one allowed request.
func TestNamespaceInKey(t *testing.T) {
	g, _ := newGuard(&users{}, nil)
	a := g.keyOf(&hook.AuthRequest{Operation: hook.OpRead, Namespace: "team-a", Username: "u", Password: "p"})
	b := g.keyOf(&hook.AuthRequest{Operation: hook.OpRead, Namespace: "team-b", Username: "u", Password: "p"})
	long := strings.Repeat("x", 300) // past the stack buffer: hashed field by field
	c := g.keyOf(&hook.AuthRequest{Operation: hook.OpRead, Namespace: "team-a", Username: long})
	d := g.keyOf(&hook.AuthRequest{Operation: hook.OpRead, Namespace: "team-b", Username: long})
	if a == b || c == d {
		t.Fatal("two namespaces share a decision key")
	}
}
