package events

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/hook"
)

// recorder is a listener that keeps what it receives.
type recorder struct {
	mu     sync.Mutex
	events []hook.Event
	calls  int
	got    chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 1)} }

func (r *recorder) Handle(_ context.Context, ev []hook.Event) error {
	r.mu.Lock()
	r.events = append(r.events, ev...)
	r.calls++
	r.mu.Unlock()
	select {
	case r.got <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) snapshot() []hook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hook.Event(nil), r.events...)
}

// waitFor polls until cond holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eurekadtest.Until(t, 10*time.Second, what, cond)
}

func start(t *testing.T, b *Bus) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestOrderSeqAndFilter(t *testing.T) {
	b := New(nil)
	all, regs, renewals := newRecorder(), newRecorder(), newRecorder()
	if err := b.Subscribe("all", all, SubscribeOptions{MaxBatch: 7}); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe("regs", regs, SubscribeOptions{Types: []hook.EventType{hook.EventRegistered}}); err != nil {
		t.Fatal(err)
	}
	if b.WantsRenewals() {
		t.Fatal("nobody asked for renewals yet")
	}
	if err := b.Subscribe("renewals", renewals, SubscribeOptions{Types: []hook.EventType{hook.EventRenewed}}); err != nil {
		t.Fatal(err)
	}
	if !b.WantsRenewals() {
		t.Fatal("WantsRenewals false with a renewal subscriber")
	}
	if err := b.Subscribe("all", all, SubscribeOptions{}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate name: %v", err)
	}
	stop := start(t, b)
	// Publish from several goroutines: Seq must still come out dense and in
	// order for every subscriber.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				typ := hook.EventRegistered
				switch i % 3 {
				case 1:
					typ = hook.EventRenewed
				case 2:
					typ = hook.EventCancelled
				}
				b.Publish(hook.Event{Type: typ, App: "A"})
			}
		}()
	}
	wg.Wait()
	waitFor(t, "delivery", func() bool {
		return len(all.snapshot())+len(renewals.snapshot()) == 1000
	})
	stop()
	if err := b.Subscribe("late", newRecorder(), SubscribeOptions{}); !errors.Is(err, ErrRunning) {
		t.Fatalf("subscribe after Run: %v", err)
	}

	seen := map[uint64]bool{}
	for name, r := range map[string]*recorder{"all": all, "regs": regs, "renewals": renewals} {
		var last uint64
		for _, e := range r.snapshot() {
			if e.Seq <= last {
				t.Fatalf("%s: seq %d after %d", name, e.Seq, last)
			}
			last = e.Seq
			if e.Time.IsZero() {
				t.Fatalf("%s: event without time", name)
			}
			switch name {
			case "all":
				if e.Type == hook.EventRenewed {
					t.Fatal("the default filter delivered a renewal")
				}
				seen[e.Seq] = true
			case "regs":
				if e.Type != hook.EventRegistered {
					t.Fatalf("regs got %s", e.Type)
				}
			case "renewals":
				if e.Type != hook.EventRenewed {
					t.Fatalf("renewals got %s", e.Type)
				}
				seen[e.Seq] = true
			}
		}
	}
	// Renewals plus everything else cover 1..1000 exactly.
	for i := uint64(1); i <= 1000; i++ {
		if !seen[i] {
			t.Fatalf("seq %d never delivered", i)
		}
	}
	if all.calls < 1000*2/3/7 {
		t.Fatalf("MaxBatch 7 not honoured: %d calls", all.calls)
	}
	for _, st := range b.Stats() {
		if st.Dropped != 0 || st.Queued != 0 || st.Errors != 0 {
			t.Fatalf("stats %+v", st)
		}
	}
}

// blocker blocks in Handle until released, counting what it got.
type blocker struct {
	release chan struct{}
	entered chan struct{}
	rec     *recorder
	once    sync.Once
}

func (bl *blocker) Handle(ctx context.Context, ev []hook.Event) error {
	bl.once.Do(func() { close(bl.entered) })
	select {
	case <-bl.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return bl.rec.Handle(ctx, ev)
}

func TestOverflowReportsGap(t *testing.T) {
	b := New(nil)
	bl := &blocker{release: make(chan struct{}), entered: make(chan struct{}), rec: newRecorder()}
	if err := b.Subscribe("slow", bl, SubscribeOptions{QueueSize: 10, MaxBatch: 100}); err != nil {
		t.Fatal(err)
	}
	stop := start(t, b)
	defer stop()
	b.Publish(hook.Event{Type: hook.EventRegistered}) // seq 1, taken at once
	<-bl.entered
	start := time.Now()
	for i := 0; i < 1000; i++ { // seq 2..1001; only the last 10 fit
		b.Publish(hook.Event{Type: hook.EventRegistered})
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("publishing to a blocked listener took %v", d)
	}
	close(bl.release)
	waitFor(t, "gap delivery", func() bool { return len(bl.rec.snapshot()) == 12 })
	ev := bl.rec.snapshot()
	if ev[0].Seq != 1 || ev[1].Type != hook.EventGap || ev[1].Dropped != 990 || ev[1].Seq != 991 {
		t.Fatalf("want seq 1 then a gap of 990 ending at 991, got %+v %+v", ev[0], ev[1])
	}
	for i, e := range ev[2:] {
		if e.Seq != uint64(992+i) || e.Type != hook.EventRegistered {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	st := b.Stats()[0]
	if st.Dropped != 990 || st.Delivered != 11 {
		t.Fatalf("stats %+v", st)
	}
}

// TestStuckListenerDoesNotHoldShutdown: Run returns soon after its context
// ends even while a listener ignores its context.
func TestStuckListenerDoesNotHoldShutdown(t *testing.T) {
	b := New(&Options{FlushTimeout: 50 * time.Millisecond})
	forever := make(chan struct{})
	defer close(forever)
	entered := make(chan struct{})
	var once sync.Once
	b.Subscribe("stuck", hook.ListenerFunc(func(context.Context, []hook.Event) error {
		once.Do(func() { close(entered) })
		<-forever
		return nil
	}), SubscribeOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	b.Publish(hook.Event{Type: hook.EventRegistered})
	<-entered
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run waited for a stuck listener")
	}
}

func TestSubscribeValidates(t *testing.T) {
	b := New(nil)
	for _, o := range []SubscribeOptions{
		{QueueSize: -1}, {MaxBatch: -1}, {Timeout: -time.Second}, {Types: []hook.EventType{"born"}},
	} {
		if err := b.Subscribe("x", newRecorder(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if err := b.Subscribe("x", nil, SubscribeOptions{}); err == nil {
		t.Error("nil listener accepted")
	}
	if err := b.Subscribe("", newRecorder(), SubscribeOptions{}); err == nil {
		t.Error("empty name accepted")
	}
}

func TestPublishDoesNotAllocate(t *testing.T) {
	b := New(nil)
	b.Subscribe("a", newRecorder(), SubscribeOptions{QueueSize: 16})
	b.Subscribe("b", newRecorder(), SubscribeOptions{QueueSize: 16, Types: []hook.EventType{hook.EventRenewed}})
	now := time.Now()
	// Run is not started, so the queues overflow: the drop path is measured
	// too.
	allocs := testing.AllocsPerRun(1000, func() {
		b.Publish(hook.Event{Type: hook.EventRenewed, Time: now, App: "A", InstanceID: "i"})
		b.Publish(hook.Event{Type: hook.EventRegistered, App: "A", InstanceID: "i"})
	})
	if allocs != 0 {
		t.Fatalf("Publish allocates %.1f times", allocs)
	}
}

func BenchmarkPublish(b *testing.B) {
	for _, subs := range []int{0, 1, 4} {
		b.Run(map[int]string{0: "subs=0", 1: "subs=1", 4: "subs=4"}[subs], func(b *testing.B) {
			bus := New(nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := 0; i < subs; i++ {
				bus.Subscribe(string(rune('a'+i)), hook.ListenerFunc(func(context.Context, []hook.Event) error { return nil }), SubscribeOptions{})
			}
			go bus.Run(ctx)
			e := hook.Event{Type: hook.EventRegistered, App: "ORDERS", InstanceID: "i-1"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bus.Publish(e)
			}
		})
	}
}
