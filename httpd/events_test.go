package httpd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/plugins/listener/webhook"
	"github.com/eurekad/eurekad/sdk/hook"
)

// eventServer serves the API over loopback with the registry publishing to
// a running Bus, as eurekad wires them.
func eventServer(t *testing.T, subscribe func(*events.Bus)) (*httptest.Server, *events.Bus) {
	t.Helper()
	bus := events.New(nil)
	subscribe(bus)
	ro := registry.DefaultOptions()
	ro.Events = bus
	reg := registry.New(&ro)
	reg.OpenForTraffic(0)
	c, err := cache.New(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(node.New(reg, node.Options{}), c, nil).Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { bus.Run(ctx); close(done) }()
	t.Cleanup(func() { ts.Close(); cancel(); <-done })
	return ts, bus
}

func register(t *testing.T, base string, i int) {
	t.Helper()
	id := fmt.Sprintf("10.0.%d.%d:orders:8080", i/250, i%250)
	body := strings.Replace(springBody, "10.0.0.5:orders:8080", id, 1)
	resp, err := http.Post(base+"/eureka/apps/ORDERS", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("register %d: %d", i, resp.StatusCode)
	}
}

// stuck blocks in Handle until released; it ignores its context, the worst
// case of a listener.
type stuck struct {
	release chan struct{}
	entered chan struct{}
	once    sync.Once
	mu      sync.Mutex
	got     []hook.Event
}

func (s *stuck) Handle(_ context.Context, ev []hook.Event) error {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	s.mu.Lock()
	s.got = append(s.got, ev...)
	s.mu.Unlock()
	return nil
}

func (s *stuck) events() []hook.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hook.Event(nil), s.got...)
}

type eventCollector struct {
	mu  sync.Mutex
	got []hook.Event
}

func (c *eventCollector) Handle(_ context.Context, ev []hook.Event) error {
	c.mu.Lock()
	c.got = append(c.got, ev...)
	c.mu.Unlock()
	return nil
}

func (c *eventCollector) events() []hook.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]hook.Event(nil), c.got...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBlockedListenerNeverDelaysRegistrations: with one listener stuck for
// good, 1,000 registrations over HTTP complete; a healthy listener sees all
// of them in order with dense sequence numbers; once the stuck one moves,
// it is told how many it missed.
func TestBlockedListenerNeverDelaysRegistrations(t *testing.T) {
	blocked := &stuck{release: make(chan struct{}), entered: make(chan struct{})}
	healthy := &eventCollector{}
	ts, bus := eventServer(t, func(b *events.Bus) {
		b.Subscribe("stuck", blocked, events.SubscribeOptions{QueueSize: 64})
		b.Subscribe("healthy", healthy, events.SubscribeOptions{QueueSize: 4096})
	})
	register(t, ts.URL, 0)
	<-blocked.entered // the stuck listener holds its first batch
	start := time.Now()
	for i := 1; i < 1000; i++ {
		register(t, ts.URL, i)
	}
	elapsed := time.Since(start)
	t.Logf("999 registrations with a stuck listener: %v", elapsed)

	eventually(t, "healthy delivery", func() bool { return len(healthy.events()) == 1000 })
	for i, e := range healthy.events() {
		if e.Seq != uint64(i+1) || e.Type != hook.EventRegistered || e.App != "ORDERS" {
			t.Fatalf("healthy event %d: %+v", i, e)
		}
		want := fmt.Sprintf("10.0.%d.%d:orders:8080", i/250, i%250)
		if e.InstanceID != want || e.Instance.InstanceID != want {
			t.Fatalf("event %d is for %s, want %s: order differs from the registrations", i, e.InstanceID, want)
		}
	}
	var st events.Stats
	for _, s := range bus.Stats() {
		if s.Name == "stuck" {
			st = s
		}
	}
	if st.Dropped != 1000-1-64 || st.Queued != 64 {
		t.Fatalf("stuck stats %+v", st)
	}

	close(blocked.release)
	eventually(t, "the gap report", func() bool { return len(blocked.events()) >= 1+1+64 })
	got := blocked.events()
	if got[0].Seq != 1 || got[1].Type != hook.EventGap || got[1].Dropped != 1000-1-64 || got[2].Seq != 1000-64+1 {
		t.Fatalf("after release: %+v, %+v, %+v", got[0], got[1], got[2])
	}
	if got[len(got)-1].Seq != 1000 {
		t.Fatalf("last event %+v", got[len(got)-1])
	}
}

// TestWebhookReceivesRegistryEvents wires the webhook listener to the bus
// and a real receiver that fails the first attempt.
func TestWebhookReceivesRegistryEvents(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	calls := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		bodies = append(bodies, string(b))
	}))
	defer recv.Close()
	wh := webhook.New()
	if err := wh.Configure(context.Background(), []byte(`{"url":"`+recv.URL+`","initial_backoff":"10ms","max_backoff":"50ms"}`)); err != nil {
		t.Fatal(err)
	}
	ts, _ := eventServer(t, func(b *events.Bus) {
		b.Subscribe("webhook", wh, events.SubscribeOptions{Types: wh.Types()})
	})
	register(t, ts.URL, 0)
	req, _ := http.NewRequest("DELETE", ts.URL+"/eureka/apps/ORDERS/10.0.0.0:orders:8080", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("cancel: %v %v", resp, err)
	}
	resp.Body.Close()
	var seen []string
	eventually(t, "both events at the webhook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		seen = seen[:0]
		for _, b := range bodies {
			var doc struct {
				Events []struct {
					Seq      uint64
					Type     string
					Instance map[string]any
				}
			}
			if err := json.Unmarshal([]byte(b), &doc); err != nil {
				t.Fatalf("body %s: %v", b, err)
			}
			for _, e := range doc.Events {
				seen = append(seen, fmt.Sprint(e.Seq, " ", e.Type, " ", e.Instance["instanceId"]))
			}
		}
		return len(seen) == 2
	})
	want := []string{"1 registered 10.0.0.0:orders:8080", "2 cancelled 10.0.0.0:orders:8080"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("webhook saw %q, want %q", seen, want)
	}
}

// TestRenewalsOnlyWhenAsked: renewals reach only the listener that asked
// for them, numbered in the same sequence as everything else.
func TestRenewalsOnlyWhenAsked(t *testing.T) {
	plain, renewals := &eventCollector{}, &eventCollector{}
	ts, bus := eventServer(t, func(b *events.Bus) {
		b.Subscribe("plain", plain, events.SubscribeOptions{})
		b.Subscribe("renewals", renewals, events.SubscribeOptions{Types: []hook.EventType{hook.EventRenewed}})
	})
	if !bus.WantsRenewals() {
		t.Fatal("WantsRenewals is false")
	}
	register(t, ts.URL, 0)
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("PUT", ts.URL+"/eureka/apps/ORDERS/10.0.0.0:orders:8080?status=UP", nil)
		req.Header.Set("x-netflix-discovery-replication", "true")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("renew: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	eventually(t, "renewals", func() bool { return len(renewals.events()) == 3 })
	for i, e := range renewals.events() {
		if e.Type != hook.EventRenewed || e.Seq != uint64(i+2) || !e.Replicated || e.InstanceID != "10.0.0.0:orders:8080" {
			t.Fatalf("renewal %d: %+v", i, e)
		}
	}
	eventually(t, "the registration", func() bool { return len(plain.events()) >= 1 })
	if got := plain.events(); len(got) != 1 || got[0].Type != hook.EventRegistered {
		t.Fatalf("plain listener got %+v", got)
	}
}
