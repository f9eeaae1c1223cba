package agent_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/agent"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// fakeClock hands every timer the agent asks for to the test, which
// checks its duration and fires it: time moves only when the test says.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers chan fakeTimer
}

type fakeTimer struct {
	d time.Duration
	c chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.UnixMilli(1_700_000_000_000), timers: make(chan fakeTimer, 100)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	f.timers <- fakeTimer{d, c}
	return c
}

// next waits for the agent's next timer.
func (f *fakeClock) next(t *testing.T) fakeTimer {
	t.Helper()
	select {
	case tm := <-f.timers:
		return tm
	case <-time.After(10 * time.Second):
		t.Fatal("the agent asked for no timer")
		return fakeTimer{}
	}
}

// fire moves the clock to the timer's end and fires it.
func (f *fakeClock) fire(tm fakeTimer) {
	f.mu.Lock()
	f.now = f.now.Add(tm.d)
	now := f.now
	f.mu.Unlock()
	tm.c <- now
}

// fakeEureka answers the agent's calls. failRegister and failRenew make
// that many calls answer 500 first; renew404 makes renewals answer 404.
type fakeEureka struct {
	mu           sync.Mutex
	failRegister int
	failRenew    int
	renew404     bool
	registered   []*eureka.InstanceInfo
	renewQueries []string
	renewals     int
	cancels      int
	overrides    []string // "PUT OUT_OF_SERVICE", "DELETE UP"
	// served is closed after each request, for wait; nil when nobody waits.
	served chan struct{}
}

func (f *fakeEureka) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer func() {
		if f.served != nil {
			close(f.served)
			f.served = nil
		}
	}()
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/eureka/apps/"), "/"), "/")
	switch {
	case r.Method == http.MethodPost && len(parts) == 1:
		if f.failRegister > 0 {
			f.failRegister--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		b, _ := io.ReadAll(r.Body)
		in, err := eureka.DecodeInstanceJSON(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.registered = append(f.registered, in)
		f.renew404 = false
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut && len(parts) == 2:
		f.renewQueries = append(f.renewQueries, r.URL.RawQuery)
		if f.failRenew > 0 {
			f.failRenew--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if f.renew404 {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		f.renewals++
		w.WriteHeader(http.StatusOK)
	case (r.Method == http.MethodPut || r.Method == http.MethodDelete) && len(parts) == 3 && parts[2] == "status":
		f.overrides = append(f.overrides, r.Method+" "+r.URL.Query().Get("value"))
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodDelete && len(parts) == 2:
		f.cancels++
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// wait blocks until cond, called with the fake's lock held, is true; it is
// checked again after every request the fake serves.
func (f *fakeEureka) wait(cond func() bool) {
	for {
		f.mu.Lock()
		if cond() {
			f.mu.Unlock()
			return
		}
		if f.served == nil {
			f.served = make(chan struct{})
		}
		served := f.served
		f.mu.Unlock()
		<-served
	}
}

func (f *fakeEureka) snapshot() (registered []*eureka.InstanceInfo, renewals, cancels int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.registered), f.renewals, f.cancels
}

func (f *fakeEureka) set(fn func(*fakeEureka)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func newClient(t *testing.T, h http.Handler) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(client.Options{ServiceURLs: []string{srv.URL + "/eureka/"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testInstance() *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID: "i-1",
		App:        "ORDERS",
		HostName:   "h1",
		IPAddr:     "10.0.0.1",
		Port:       eureka.Port{Number: 8080, Enabled: true},
	}
}

// runAgent starts a.Run and returns a function that stops it and returns
// Run's result.
func runAgent(t *testing.T, a *agent.Agent) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eurekadtest.Until(t, 10*time.Second, what, cond)
}

// TestBackoff checks the heartbeat schedule of Eureka's supervised task:
// every failure doubles the wait, up to 10 intervals, and a success brings
// it back to one interval.
func TestBackoff(t *testing.T) {
	f := &fakeEureka{failRenew: 5}
	clk := newFakeClock()
	a := agent.New(newClient(t, f), testInstance(), &agent.Options{Clock: clk})
	if got := a.RenewalInterval(); got != 30*time.Second {
		t.Fatalf("RenewalInterval = %v, want the 30 s default", got)
	}
	stop := runAgent(t, a)

	s := time.Second
	want := []time.Duration{30 * s, 60 * s, 120 * s, 240 * s, 300 * s, 300 * s, 30 * s, 30 * s}
	var got []time.Duration
	for range want {
		tm := clk.next(t)
		got = append(got, tm.d)
		clk.fire(tm)
	}
	if !slices.Equal(got, want) {
		t.Errorf("heartbeat waits = %v, want %v", got, want)
	}
	clk.next(t) // the heartbeat after the last one fired has run
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	registered, renewals, cancels := f.snapshot()
	if len(registered) != 1 || renewals != 3 || cancels != 1 {
		t.Errorf("registrations %d, successful renewals %d, cancels %d; want 1, 3, 1", len(registered), renewals, cancels)
	}
	ts := registered[0].LastDirtyTimestamp
	for _, q := range f.renewQueries {
		if q != "lastDirtyTimestamp="+strconv.FormatInt(ts, 10) {
			t.Errorf("renew query %q, want lastDirtyTimestamp=%d", q, ts)
		}
	}
}

// TestBackoffCustom checks the options: a renewal interval from the
// instance's LeaseInfo and another multiplier bound.
func TestBackoffCustom(t *testing.T) {
	f := &fakeEureka{failRenew: 4}
	clk := newFakeClock()
	in := testInstance()
	in.LeaseInfo = &eureka.LeaseInfo{RenewalIntervalInSecs: 5, DurationInSecs: 15}
	a := agent.New(newClient(t, f), in, &agent.Options{Clock: clk, MaxBackoffMultiplier: 3})
	runAgent(t, a)
	s := time.Second
	want := []time.Duration{5 * s, 10 * s, 15 * s, 15 * s, 15 * s, 5 * s}
	var got []time.Duration
	for range want {
		tm := clk.next(t)
		got = append(got, tm.d)
		clk.fire(tm)
	}
	if !slices.Equal(got, want) {
		t.Errorf("heartbeat waits = %v, want %v", got, want)
	}
}

// TestRegisterRetryAndReregister: a failing first registration backs off
// like a heartbeat, and a renewal answered 404 registers again at once.
func TestRegisterRetryAndReregister(t *testing.T) {
	f := &fakeEureka{failRegister: 2}
	clk := newFakeClock()
	a := agent.New(newClient(t, f), testInstance(), &agent.Options{Clock: clk, RenewalInterval: 10 * time.Second})
	runAgent(t, a)
	s := time.Second
	for i, want := range []time.Duration{20 * s, 40 * s, 10 * s} {
		tm := clk.next(t)
		if tm.d != want {
			t.Fatalf("wait %d = %v, want %v", i, tm.d, want)
		}
		clk.fire(tm)
	}
	waitFor(t, "a renewal", func() bool { _, n, _ := f.snapshot(); return n == 1 })
	if !a.Registered() {
		t.Error("Registered() = false after a successful registration")
	}

	f.set(func(f *fakeEureka) { f.renew404 = true })
	tm := clk.next(t)
	clk.fire(tm)
	if d := clk.next(t).d; d != 10*s {
		t.Errorf("wait after re-registering = %v, want one interval (a success)", d)
	}
	registered, _, _ := f.snapshot()
	if len(registered) != 2 {
		t.Errorf("registrations = %d, want 2 (the first, then one after the 404)", len(registered))
	}
}

// TestPush checks that SetStatus and SetMetadata push the instance with a
// newer lastDirtyTimestamp, that bursts beyond PushBurst wait for a token
// (coalesced into one push), and that unchanged values push nothing.
func TestPush(t *testing.T) {
	f := &fakeEureka{}
	clk := newFakeClock()
	a := agent.New(newClient(t, f), testInstance(), &agent.Options{Clock: clk})
	runAgent(t, a)
	if tm := clk.next(t); tm.d != 30*time.Second {
		t.Fatalf("first heartbeat wait %v", tm.d)
	}
	registeredN := func(n int) func() bool {
		return func() bool { r, _, _ := f.snapshot(); return len(r) == n }
	}
	waitFor(t, "the first registration", registeredN(1))

	if err := a.SetStatus(eureka.StatusDown); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the status push", registeredN(2))
	if err := a.SetStatus(eureka.StatusDown); err != nil { // unchanged: no push
		t.Fatal(err)
	}
	a.SetMetadata(map[string]string{"zone": "z1"})
	waitFor(t, "the metadata push", registeredN(3))
	a.SetMetadata(map[string]string{"zone": "z1"}) // unchanged: no push

	// The burst of two is spent: these two changes wait for one token and
	// go out together.
	if err := a.SetStatus(eureka.StatusUp); err != nil {
		t.Fatal(err)
	}
	a.SetMetadata(map[string]string{"version": "2"})
	tm := clk.next(t)
	if tm.d != agent.DefaultPushInterval {
		t.Fatalf("push wait = %v, want %v", tm.d, agent.DefaultPushInterval)
	}
	if r, _, _ := f.snapshot(); len(r) != 3 {
		t.Fatalf("registrations before the token = %d, want 3", len(r))
	}
	clk.fire(tm)
	waitFor(t, "the rate-limited push", registeredN(4))

	r, _, _ := f.snapshot()
	last := r[3]
	if last.Status != eureka.StatusUp || last.Metadata["zone"] != "z1" || last.Metadata["version"] != "2" {
		t.Errorf("last push status %s metadata %v", last.Status, last.Metadata)
	}
	for i := 1; i < len(r); i++ {
		if r[i].LastDirtyTimestamp <= r[i-1].LastDirtyTimestamp {
			t.Errorf("push %d lastDirtyTimestamp %d not after %d", i, r[i].LastDirtyTimestamp, r[i-1].LastDirtyTimestamp)
		}
	}
	if got := a.Instance(); got.LastDirtyTimestamp != last.LastDirtyTimestamp || got.Status != eureka.StatusUp {
		t.Errorf("Instance() = %s/%d, want the pushed copy", got.Status, got.LastDirtyTimestamp)
	}
	if err := a.SetStatus("BROKEN"); err == nil {
		t.Error("SetStatus accepted an unknown status")
	}
}

// TestFailedPushRetriedByHeartbeat: a push that fails leaves the instance
// dirty, and the next heartbeat registers instead of renewing.
func TestFailedPushRetriedByHeartbeat(t *testing.T) {
	f := &fakeEureka{}
	clk := newFakeClock()
	a := agent.New(newClient(t, f), testInstance(), &agent.Options{Clock: clk})
	runAgent(t, a)
	hb := clk.next(t)
	f.set(func(f *fakeEureka) { f.failRegister = 1 })
	if err := a.SetStatus(eureka.StatusOutOfService); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed push", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.failRegister == 0
	})
	clk.fire(hb)
	clk.next(t)
	r, renewals, _ := f.snapshot()
	if len(r) != 2 || renewals != 0 || r[1].Status != eureka.StatusOutOfService {
		t.Errorf("registrations %d (last %s), renewals %d; want 2 (OUT_OF_SERVICE), 0", len(r), r[len(r)-1].Status, renewals)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Equal(f.overrides, []string{"PUT OUT_OF_SERVICE"}) {
		t.Errorf("override calls %q", f.overrides)
	}
}

// TestOutOfServiceOverride: OUT_OF_SERVICE goes through a status
// override after the registration, and leaving it lifts the override with
// the new status.
func TestOutOfServiceOverride(t *testing.T) {
	f := &fakeEureka{}
	clk := newFakeClock()
	a := agent.New(newClient(t, f), testInstance(), &agent.Options{Clock: clk})
	runAgent(t, a)
	clk.next(t)
	overrides := func(n int) func() bool {
		return func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.overrides) == n }
	}
	if err := a.SetStatus(eureka.StatusOutOfService); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the override", overrides(1))
	if err := a.SetStatus(eureka.StatusUp); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the override removal", overrides(2))
	f.mu.Lock()
	got := slices.Clone(f.overrides)
	f.mu.Unlock()
	if !slices.Equal(got, []string{"PUT OUT_OF_SERVICE", "DELETE UP"}) {
		t.Errorf("override calls %q", got)
	}
	if r, _, _ := f.snapshot(); len(r) != 3 || r[1].Status != eureka.StatusOutOfService || r[2].Status != eureka.StatusUp {
		t.Errorf("%d registrations; want 3 (UP, OUT_OF_SERVICE, UP)", len(r))
	}
}

// TestDefaults checks the fields New fills in.
func TestDefaults(t *testing.T) {
	clk := newFakeClock()
	in := testInstance()
	a := agent.New(newClient(t, &fakeEureka{}), in, &agent.Options{Clock: clk})
	got := a.Instance()
	if got.Status != eureka.StatusUp || got.DataCenterInfo == nil || got.DataCenterInfo.Name != eureka.DataCenterMyOwn ||
		got.LeaseInfo == nil || got.LeaseInfo.RenewalIntervalInSecs != 30 || got.LeaseInfo.DurationInSecs != 90 ||
		got.LastDirtyTimestamp != clk.Now().UnixMilli() {
		t.Errorf("defaults not filled: %+v", got)
	}
	if in.Status != "" || in.LeaseInfo != nil {
		t.Error("New modified the caller's instance")
	}
}

// TestRunTwice: an Agent runs once.
func TestRunTwice(t *testing.T) {
	clk := newFakeClock()
	a := agent.New(newClient(t, &fakeEureka{}), testInstance(), &agent.Options{Clock: clk})
	stop := runAgent(t, a)
	clk.next(t)
	if err := a.Run(context.Background()); err != agent.ErrRunning {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}
