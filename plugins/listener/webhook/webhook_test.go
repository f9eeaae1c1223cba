package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// receiver is a real local webhook endpoint that answers the first fail
// requests with status (and Retry-After when set), then 204.
type receiver struct {
	mu         sync.Mutex
	fail       int
	status     int
	retryAfter string
	bodies     [][]byte
	headers    []http.Header
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.bodies = append(rc.bodies, b)
	rc.headers = append(rc.headers, r.Header.Clone())
	if len(rc.bodies) <= rc.fail {
		if rc.retryAfter != "" {
			w.Header().Set("Retry-After", rc.retryAfter)
		}
		w.WriteHeader(rc.status)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func newListener(t *testing.T, cfg string) (*Listener, *[]time.Duration) {
	t.Helper()
	l := New()
	if err := l.Configure(context.Background(), []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	l.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return sleepCtx(ctx, time.Millisecond) // the real wait, shortened
	}
	return l, &waits
}

func batch() []hook.Event {
	in := &eureka.InstanceInfo{InstanceID: "i-1", App: "ORDERS", HostName: "h1", IPAddr: "10.0.0.1",
		Status: eureka.StatusUp, Port: eureka.Port{Number: 8080, Enabled: true},
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}, Metadata: map[string]string{"zone": "a"}}
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 123e6, time.UTC)
	return []hook.Event{
		{Seq: 41, Type: hook.EventRegistered, Time: t0, App: "ORDERS", InstanceID: "i-1", Instance: in},
		{Seq: 57, Type: hook.EventGap, Time: t0, Dropped: 12},
		{Seq: 58, Type: hook.EventCancelled, Time: t0, App: "ORDERS", InstanceID: "i-1", Instance: in, Replicated: true},
		{Seq: 59, Type: hook.EventSelfPreservationEntered, Time: t0},
	}
}

func TestRetriesUntilDelivered(t *testing.T) {
	rc := &receiver{fail: 3, status: http.StatusBadGateway}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	l, waits := newListener(t, `{"url":"`+srv.URL+`/hook","headers":{"Authorization":"Bearer t0k"},
		"initial_backoff":"100ms","max_backoff":"300ms","max_attempts":5}`)
	if err := l.Handle(context.Background(), batch()); err != nil {
		t.Fatal(err)
	}
	if len(rc.bodies) != 4 {
		t.Fatalf("%d attempts, want 4", len(rc.bodies))
	}
	for i, b := range rc.bodies[1:] {
		if string(b) != string(rc.bodies[0]) {
			t.Fatalf("retry %d sent a different body", i+1)
		}
	}
	// Exponential with jitter over the upper half, capped.
	bounds := [][2]time.Duration{{50, 100}, {100, 200}, {150, 300}}
	if len(*waits) != 3 {
		t.Fatalf("waits %v", *waits)
	}
	for i, w := range *waits {
		lo, hi := bounds[i][0]*time.Millisecond, bounds[i][1]*time.Millisecond
		if w < lo || w > hi {
			t.Fatalf("wait %d = %v, want within [%v, %v]", i+1, w, lo, hi)
		}
	}
	h := rc.headers[3]
	if h.Get("Authorization") != "Bearer t0k" || h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "eurekad-webhook/1" {
		t.Fatalf("headers %v", h)
	}

	var got struct {
		Events []struct {
			Seq        uint64          `json:"seq"`
			Type       string          `json:"type"`
			Time       string          `json:"time"`
			App        *string         `json:"app"`
			InstanceID string          `json:"instanceId"`
			Replicated *bool           `json:"replicated"`
			Instance   json.RawMessage `json:"instance"`
			Dropped    *uint64         `json:"dropped"`
		} `json:"events"`
	}
	if err := json.Unmarshal(rc.bodies[3], &got); err != nil {
		t.Fatalf("body %s: %v", rc.bodies[3], err)
	}
	ev := got.Events
	if len(ev) != 4 {
		t.Fatalf("events %+v", ev)
	}
	if ev[0].Seq != 41 || ev[0].Type != "registered" || ev[0].Time != "2026-01-02T15:04:05.123Z" ||
		*ev[0].App != "ORDERS" || ev[0].InstanceID != "i-1" || *ev[0].Replicated || ev[0].Dropped != nil {
		t.Fatalf("registered %+v", ev[0])
	}
	in, err := eureka.DecodeInstanceJSON(ev[0].Instance)
	if err != nil || in.InstanceID != "i-1" || in.Metadata["zone"] != "a" || in.Port.Number != 8080 {
		t.Fatalf("instance %s: %+v %v", ev[0].Instance, in, err)
	}
	if ev[1].Type != "gap" || ev[1].Dropped == nil || *ev[1].Dropped != 12 || ev[1].App != nil || ev[1].Instance != nil {
		t.Fatalf("gap %+v", ev[1])
	}
	if ev[2].Type != "cancelled" || !*ev[2].Replicated {
		t.Fatalf("cancelled %+v", ev[2])
	}
	if ev[3].Type != "self-preservation-entered" || ev[3].App != nil {
		t.Fatalf("server event %+v", ev[3])
	}
}

func TestRetryAfterAndGivingUp(t *testing.T) {
	rc := &receiver{fail: 100, status: http.StatusTooManyRequests, retryAfter: "2"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	l, waits := newListener(t, `{"url":"`+srv.URL+`","max_attempts":3,"max_backoff":"1500ms"}`)
	err := l.Handle(context.Background(), batch())
	if err == nil || !strings.Contains(err.Error(), "3 attempt(s)") || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err %v", err)
	}
	if len(rc.bodies) != 3 || len(*waits) != 2 || (*waits)[0] != 1500*time.Millisecond {
		t.Fatalf("%d attempts, waits %v: Retry-After capped at max_backoff expected", len(rc.bodies), *waits)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	rc := &receiver{fail: 100, status: http.StatusBadRequest}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	l, _ := newListener(t, `{"url":"`+srv.URL+`"}`)
	if err := l.Handle(context.Background(), batch()); err == nil || len(rc.bodies) != 1 {
		t.Fatalf("err %v after %d attempts", err, len(rc.bodies))
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	target := &receiver{}
	tsrv := httptest.NewServer(target)
	defer tsrv.Close()
	redir := httptest.NewServer(http.RedirectHandler(tsrv.URL, http.StatusTemporaryRedirect))
	defer redir.Close()
	l, waits := newListener(t, `{"url":"`+redir.URL+`","headers":{"Authorization":"Bearer secret"}}`)
	if err := l.Handle(context.Background(), batch()); err == nil || !strings.Contains(err.Error(), "307") {
		t.Fatalf("err %v", err)
	}
	if len(target.bodies) != 0 || len(*waits) != 0 {
		t.Fatalf("redirect followed (%d) or retried (%d)", len(target.bodies), len(*waits))
	}
}

func TestContextEndsRetries(t *testing.T) {
	rc := &receiver{fail: 100, status: http.StatusInternalServerError}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	l := New()
	l.Configure(context.Background(), []byte(`{"url":"`+srv.URL+`","initial_backoff":"1h","max_backoff":"1h"}`))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := l.Handle(ctx, batch())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestUnreachableIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	l, waits := newListener(t, `{"url":"`+url+`","max_attempts":2,"timeout":"1s"}`)
	if err := l.Handle(context.Background(), batch()); err == nil || len(*waits) != 1 {
		t.Fatalf("err %v, waits %v", err, *waits)
	}
}

func TestTypesFilterAndNotConfigured(t *testing.T) {
	if err := New().Handle(context.Background(), batch()); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("unconfigured: %v", err)
	}
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	l, _ := newListener(t, `{"url":"`+srv.URL+`","types":["cancelled"]}`)
	if got := l.Types(); len(got) != 1 || got[0] != hook.EventCancelled {
		t.Fatalf("types %v", got)
	}
	l.Handle(context.Background(), batch())
	var got struct{ Events []map[string]any }
	json.Unmarshal(rc.bodies[0], &got)
	if len(got.Events) != 2 || got.Events[0]["type"] != "gap" || got.Events[1]["type"] != "cancelled" {
		t.Fatalf("filtered body %s", rc.bodies[0])
	}
	// A batch with nothing wanted sends nothing.
	l.Handle(context.Background(), []hook.Event{{Seq: 1, Type: hook.EventRegistered}})
	if len(rc.bodies) != 1 {
		t.Fatal("posted an empty batch")
	}
}

// TestBodyEscapesStrings: ids reach the receiver intact whatever they hold
// (the body is built by hand, with sdk/eureka's string escaping).
func TestBodyEscapesStrings(t *testing.T) {
	const app, id = "A\"B\\C<>&", "i\n\x01\u2028-1"
	body := encode([]hook.Event{{Seq: 1, Type: hook.EventCancelled, App: app, InstanceID: id}}, nil)
	var got struct {
		Events []struct{ App, InstanceID string }
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if len(got.Events) != 1 || got.Events[0].App != app || got.Events[0].InstanceID != id {
		t.Fatalf("body %s decodes to %+v", body, got.Events)
	}
}

func TestConfigErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		`{}`:                                     "url is required",
		`{"url":"ftp://x"}`:                      "want an absolute http or https URL",
		`{"url":"/relative"}`:                    "want an absolute http or https URL",
		`{"url":"http://x","timeout":5}`:         "cannot unmarshal number",
		`{"url":"http://x","timeout":"5 s"}`:     `timeout "5 s": want a duration`,
		`{"url":"http://x","max_backoff":"-1s"}`: `max_backoff "-1s": must be positive`,
		`{"url":"http://x","max_attempts":-1}`:   "max_attempts -1",
		`{"url":"http://x","initial_backoff":"1m","max_backoff":"1s"}`: "initial_backoff 1m0s is above max_backoff 1s",
		`{"url":"http://x","headers":{"Bad Header":"v"}}`:              `invalid header name "Bad Header"`,
		`{"url":"http://x","types":["x"]}`:                             `types[0]: unknown event type "x"`,
		`{"url":"http://x","retries":3}`:                               `unknown field "retries"`,
	} {
		if err := New().Configure(context.Background(), []byte(cfg)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", cfg, err, want)
		}
	}
}

func FuzzConfigure(f *testing.F) {
	f.Add([]byte(`{"url":"http://x","headers":{"A":"b"},"timeout":"1s","max_attempts":3,"types":["gap"]}`))
	f.Add([]byte(`{"url":"https://u:p@h/p?q","initial_backoff":"1ns"}`))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		l := New()
		if l.Configure(context.Background(), cfg) != nil {
			return
		}
		s := l.cfg.Load()
		if s.attempts < 1 || s.timeout <= 0 || s.initial <= 0 || s.initial > s.maxBackoff {
			t.Fatalf("accepted %s as %+v", cfg, s)
		}
	})
}
