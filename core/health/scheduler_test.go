package health

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// fakeChecker answers per instance id: a verdict, or an error.
type fakeChecker struct {
	mu      sync.Mutex
	passing map[string]bool
	err     error
	calls   map[string]int
	total   atomic.Int64
}

func newFake() *fakeChecker {
	return &fakeChecker{passing: map[string]bool{}, calls: map[string]int{}}
}

func (f *fakeChecker) set(id string, passing bool) {
	f.mu.Lock()
	f.passing[id] = passing
	f.mu.Unlock()
}

func (f *fakeChecker) Check(_ context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
	f.total.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[r.InstanceID]++
	if f.err != nil {
		return hook.CheckResult{}, f.err
	}
	if p, ok := f.passing[r.InstanceID]; !ok || p {
		return hook.CheckResult{Passing: true, Detail: "HTTP 200"}, nil
	}
	return hook.CheckResult{Detail: "HTTP 500"}, nil
}

func (f *fakeChecker) callsOf(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

// checked is an instance that opts in by metadata: http on /health every
// second, DOWN after 3 failures, UP after 2 successes.
func checked(id string, extra map[string]string) *eureka.InstanceInfo {
	md := map[string]string{MetaKind: "http", "eurekad.check.path": "/health", "eurekad.check.interval": "1s"}
	for k, v := range extra {
		md[k] = v
	}
	return &eureka.InstanceInfo{InstanceID: id, App: "ORDERS", HostName: id, IPAddr: "10.0.0.1", Status: eureka.StatusUp,
		Port: eureka.Port{Number: 8080, Enabled: true}, DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		LeaseInfo: &eureka.LeaseInfo{DurationInSecs: 3600}, Metadata: md}
}

type world struct {
	reg   *registry.Registry
	n     *node.Node
	f     *fakeChecker
	s     *Scheduler
	stop  context.CancelFunc
	done  chan struct{}
	sink  *sink
	peers *fixedMembers
}

type sink struct {
	mu     sync.Mutex
	events []hook.Event
}

func (s *sink) Publish(e hook.Event) { s.mu.Lock(); s.events = append(s.events, e); s.mu.Unlock() }
func (s *sink) WantsRenewals() bool  { return false }
func (s *sink) statusChanges(id string) (n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if e.Type == hook.EventStatusChanged && e.InstanceID == id {
			n++
		}
	}
	return n
}

type fixedMembers struct {
	mu        sync.Mutex
	self      string
	reachable []string
}

func (m *fixedMembers) Members() (string, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self, m.reachable
}

// start runs a scheduler in the synctest bubble; mod adjusts its options.
func start(t *testing.T, mod func(*Options)) *world {
	t.Helper()
	w := &world{f: newFake(), sink: &sink{}, peers: &fixedMembers{}}
	ro := registry.DefaultOptions()
	ro.Events = w.sink
	w.reg = registry.New(&ro)
	w.reg.OpenForTraffic(0)
	w.n = node.New(w.reg, node.Options{})
	o := DefaultOptions()
	if mod != nil {
		mod(&o)
	}
	w.s = New(w.reg, w.n, w.f, w.peers, &o)
	ctx, cancel := context.WithCancel(context.Background())
	w.stop, w.done = cancel, make(chan struct{})
	go func() { w.s.Run(ctx); close(w.done) }()
	t.Cleanup(func() { cancel(); <-w.done })
	return w
}

func (w *world) register(t *testing.T, in *eureka.InstanceInfo) {
	t.Helper()
	if err := w.n.Register(context.Background(), node.Caller{}, in.App, in); err != nil {
		t.Fatal(err)
	}
}

func (w *world) status(id string) eureka.Status { return w.reg.Instance("ORDERS", id).Status }

// wait lets fake time pass and the bubble settle.
func wait(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func TestFailingThenPassing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := start(t, nil)
		w.register(t, checked("o1", nil))
		w.register(t, checked("o2", nil))
		wait(3 * time.Second)
		if w.f.callsOf("o1") < 2 || w.status("o1") != eureka.StatusUp {
			t.Fatalf("passing: %d calls, %s", w.f.callsOf("o1"), w.status("o1"))
		}
		w.f.set("o1", false)
		wait(2 * time.Second)
		if w.status("o1") != eureka.StatusUp {
			t.Fatal("DOWN before 3 failures")
		}
		wait(1100 * time.Millisecond) // the third failure: within interval × threshold
		in := w.reg.Instance("ORDERS", "o1")
		if in.Status != eureka.StatusDown || in.Metadata[registry.HealthDetailKey] != "HTTP 500" {
			t.Fatalf("after 3 failures: %s %v", in.Status, in.Metadata)
		}
		if w.status("o2") != eureka.StatusUp || w.sink.statusChanges("o1") != 1 {
			t.Errorf("o2 %s, o1 status changes %d", w.status("o2"), w.sink.statusChanges("o1"))
		}
		if st := w.s.Stats(); st.Checks[ResultFailing] < 3 || st.Failing != 1 || st.Checked != 2 {
			t.Errorf("stats %+v", st)
		}
		// The client re-registers UP while failing: still DOWN.
		w.register(t, checked("o1", nil))
		if w.status("o1") != eureka.StatusDown {
			t.Fatal("a re-registration undid the verdict")
		}
		w.f.set("o1", true)
		wait(1 * time.Second)
		if w.status("o1") != eureka.StatusDown {
			t.Fatal("UP after one success")
		}
		wait(1100 * time.Millisecond)
		if in := w.reg.Instance("ORDERS", "o1"); in.Status != eureka.StatusUp || registry.HealthFailing(in) {
			t.Fatalf("after 2 successes: %s %v", in.Status, in.Metadata)
		}
	})
}

func TestOverrideNeverUndone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := start(t, nil)
		w.register(t, checked("o1", nil))
		w.f.set("o1", false)
		wait(5 * time.Second)
		if w.status("o1") != eureka.StatusDown {
			t.Fatal("not DOWN")
		}
		if err := w.n.SetStatus(context.Background(), node.Caller{}, "ORDERS", "o1", "OUT_OF_SERVICE", 0); err != nil {
			t.Fatal(err)
		}
		w.f.set("o1", true)
		wait(5 * time.Second)
		if w.status("o1") != eureka.StatusOutOfService {
			t.Fatalf("passing checks undid the override: %s", w.status("o1"))
		}
		w.f.set("o1", false)
		wait(5 * time.Second)
		if w.status("o1") != eureka.StatusOutOfService {
			t.Fatalf("failing checks undid the override: %s", w.status("o1"))
		}
	})
}

// A checker that cannot decide changes nothing: neither a passing nor a
// failing instance.
func TestUndecidedChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := start(t, nil)
		w.register(t, checked("o1", nil))
		w.register(t, checked("o2", nil))
		w.f.set("o2", false)
		wait(5 * time.Second)
		w.f.mu.Lock()
		w.f.err = errors.New("plugin exited")
		w.f.mu.Unlock()
		before := w.s.Stats().Checks[ResultUndecided]
		wait(10 * time.Second)
		if w.status("o1") != eureka.StatusUp || w.status("o2") != eureka.StatusDown {
			t.Fatalf("undecided checks changed statuses: o1 %s, o2 %s", w.status("o1"), w.status("o2"))
		}
		if n := w.s.Stats().Checks[ResultUndecided] - before; n < 18 {
			t.Errorf("%d undecided checks counted", n)
		}
	})
}

// A checker that hangs past the probe's timeout and grace is undecided,
// and holds no worker beyond it.
func TestHangingCheckerIsUndecided(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := registry.New(nil)
		reg.OpenForTraffic(0)
		n := node.New(reg, node.Options{})
		hang := hook.CheckerFunc(func(ctx context.Context, _ *hook.CheckRequest) (hook.CheckResult, error) {
			<-ctx.Done()
			return hook.CheckResult{Detail: "late"}, nil // a verdict past the deadline is not trusted
		})
		o := DefaultOptions()
		o.Concurrency = 1
		s := New(reg, n, hang, nil, &o)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		in := checked("o1", map[string]string{"eurekad.check.timeout": "500ms"})
		n.Register(context.Background(), node.Caller{}, "ORDERS", in)
		wait(10 * time.Second)
		st := s.Stats()
		if reg.Instance("ORDERS", "o1").Status != eureka.StatusUp || st.Checks[ResultUndecided] < 3 || st.Checks[ResultFailing] != 0 {
			t.Errorf("status %s, stats %+v", reg.Instance("ORDERS", "o1").Status, st)
		}
	})
}

// A healthCheckUrl on another host is never probed.
func TestForeignHealthURLRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := start(t, nil)
		in := checked("o1", nil)
		delete(in.Metadata, "eurekad.check.path")
		in.HealthCheckURL = "http://169.254.169.254/latest/meta-data/"
		w.register(t, in)
		wait(3 * time.Second)
		if w.f.total.Load() != 0 || w.s.Stats().Checks[ResultRefused] < 2 {
			t.Errorf("probed %d times, refused %d", w.f.total.Load(), w.s.Stats().Checks[ResultRefused])
		}
	})
}

func TestDeregisterAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := start(t, func(o *Options) { o.MinDeregisterAfter = time.Second })
		w.register(t, checked("o1", map[string]string{"eurekad.check.deregister_after": "5s"}))
		w.f.set("o1", false)
		wait(6 * time.Second)
		if w.reg.Instance("ORDERS", "o1") == nil {
			t.Fatal("deregistered before deregister_after")
		}
		wait(3 * time.Second)
		if w.reg.Instance("ORDERS", "o1") != nil || w.s.Stats().Deregistered != 1 {
			t.Fatal("not deregistered after deregister_after")
		}
	})
}

// Only the instances this node owns are probed; when a peer is no longer
// reached, its share comes here.
func TestOwnership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := start(t, nil)
		w.peers.self = "http://a/eureka/"
		w.peers.reachable = []string{"http://b/eureka/"}
		ids := make([]string, 40)
		for i := range ids {
			ids[i] = "o" + strconv.Itoa(i)
			w.register(t, checked(ids[i], nil))
		}
		wait(3 * time.Second)
		mine := 0
		for _, id := range ids {
			owned := Owner("http://a/eureka/", []string{"http://b/eureka/"}, "ORDERS", id)
			if owned {
				mine++
			}
			if c := w.f.callsOf(id); owned != (c > 0) {
				t.Errorf("%s: owned %v, probed %d times", id, owned, c)
			}
		}
		if mine == 0 || mine == len(ids) {
			t.Fatalf("owns %d of %d", mine, len(ids))
		}
		w.peers.mu.Lock()
		w.peers.reachable = nil
		w.peers.mu.Unlock()
		wait(2 * time.Second)
		for _, id := range ids {
			if w.f.callsOf(id) == 0 {
				t.Errorf("%s not probed once b is gone", id)
			}
		}
	})
}

// 10,000 checked instances cost Concurrency workers and one loop, not a
// goroutine each, and each is probed once per interval.
func TestManyInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := runtime.NumGoroutine()
		w := start(t, func(o *Options) { o.Concurrency = 16 })
		for i := range 10000 {
			in := checked("o"+strconv.Itoa(i), map[string]string{"eurekad.check.interval": "10s"})
			w.register(t, in)
		}
		wait(30 * time.Second)
		if g := runtime.NumGoroutine() - base; g > 16+4 {
			t.Errorf("%d goroutines for 10,000 instances", g)
		}
		if n := w.f.total.Load(); n < 29000 || n > 31000 {
			t.Errorf("%d probes in 3 intervals of 10,000 instances", n)
		}
	})
}

// Options left zero take the defaults (a probe every 10 s), instead of a
// zero interval.
func TestZeroOptionsTakeDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := start(t, func(o *Options) { *o = Options{Metadata: true} })
		in := checked("o1", nil)
		delete(in.Metadata, "eurekad.check.interval")
		w.register(t, in)
		wait(25 * time.Second)
		if n := w.f.callsOf("o1"); n < 2 || n > 3 {
			t.Errorf("%d probes in 25 s at the default 10 s interval", n)
		}
	})
}
