// Package webhook is eurekad's built-in webhook listener: it POSTs each
// batch of registry events as one JSON document to a URL, retrying failed
// deliveries with exponential back-off and jitter.
//
// It serves in process and as an isolated plugin from the same
// zero-argument factory: New returns a listener that fails every batch
// until Configure loads its configuration.
//
// # Configuration
//
//	{
//	  "url": "https://hooks.example.com/eurekad",
//	  "headers": {"Authorization": "Bearer …"},
//	  "timeout": "5s",
//	  "max_attempts": 5,
//	  "initial_backoff": "500ms",
//	  "max_backoff": "30s",
//	  "types": ["registered", "cancelled", "evicted", "status-changed"]
//	}
//
// url is required (http or https). headers are added to every request.
// timeout bounds one attempt (default 10s). max_attempts counts the first
// try (default 5). The wait before retry n is initial_backoff·2^(n-1),
// capped at max_backoff, with full jitter over its upper half; a
// Retry-After header (seconds) on 429 or 503 is honoured up to max_backoff.
// Network errors, 429 and 5xx are retried; any other status (redirects
// included: they are not followed) is a permanent failure of the batch. The whole delivery also ends when the
// host's context does (events.SubscribeOptions.Timeout): set that above
// max_attempts × (timeout + max_backoff) if every retry should run. types
// works as in the log listener: what the host subscribes the listener to.
//
// # Body
//
//	POST <url>
//	Content-Type: application/json
//	User-Agent: eurekad-webhook/1
//
//	{"events": [
//	  {"seq": 41, "type": "registered", "time": "2026-01-02T15:04:05.123Z",
//	   "app": "ORDERS", "instanceId": "10.0.0.5:orders:8080", "replicated": false,
//	   "instance": {…the instance in Eureka's JSON, as GET apps/{app}/{id} shows it, unwrapped…}},
//	  {"seq": 57, "type": "gap", "time": "…", "dropped": 12},
//	  {"seq": 58, "type": "self-preservation-entered", "time": "…"}
//	]}
//
// seq numbers the events of one server run from 1 (it restarts with the
// server); a receiver that sees a gap event has missed events (dropped
// says how many, right before the gap's seq) and should resynchronise from
// GET apps. app, instanceId and instance are absent for server-wide
// events, dropped is present only on gaps.
//
// # Delivery
//
// A batch is delivered once the receiver answered 2xx. When every attempt
// above fails, Handle returns the error, and eurekad's event bus sends the
// batch again within the listener's retry_for and max_attempts (see
// hook.Listener); when those run out the batch is dropped, counted in
// eurekad_listener_events_dropped_total, and announced by a gap event in
// the next batch the receiver takes. Delivery is at least once (a batch
// whose 2xx was lost is sent again): seq makes duplicates easy to drop.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// Config is the JSON configuration; see the package documentation.
// Durations are Go duration strings ("500ms", "5s").
type Config struct {
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers"`
	Timeout        string            `json:"timeout"`
	MaxAttempts    int               `json:"max_attempts"`
	InitialBackoff string            `json:"initial_backoff"`
	MaxBackoff     string            `json:"max_backoff"`
	Types          []hook.EventType  `json:"types"`
}

// duration parses an optional duration setting; "" gives def.
func duration(v, name string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s %q: want a duration such as \"5s\"", name, v)
	case d <= 0:
		return 0, fmt.Errorf("%s %q: must be positive", name, v)
	}
	return d, nil
}

// Defaults of the configuration.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultMaxAttempts    = 5
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
)

type settings struct {
	url                 string
	headers             http.Header
	timeout             time.Duration
	attempts            int
	initial, maxBackoff time.Duration
	types               map[hook.EventType]bool
	list                []hook.EventType
}

// Listener posts events to a webhook. It is safe for concurrent use.
type Listener struct {
	hc  *http.Client
	cfg atomic.Pointer[settings]
	// sleep waits between attempts; tests shorten it.
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns an unconfigured webhook listener.
func New() *Listener {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConnsPerHost = 4
	// Redirects are not followed: a POST would turn into a GET, and the
	// configured headers could reach another host. A 3xx fails the batch.
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Listener{hc: &http.Client{Transport: t, CheckRedirect: noRedirects}, sleep: sleepCtx}
}

// Configure loads the JSON configuration.
func (l *Listener) Configure(_ context.Context, raw []byte) error {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	s, err := compile(&c)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	l.cfg.Store(s)
	return nil
}

func compile(c *Config) (*settings, error) {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return nil, errors.New("url is required")
	case err != nil:
		return nil, fmt.Errorf("url: %w", err)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("url %q: want an absolute http or https URL", u.Redacted())
	case c.MaxAttempts < 0 || c.MaxAttempts > 100:
		return nil, fmt.Errorf("max_attempts %d: want 1 to 100 (0: %d)", c.MaxAttempts, DefaultMaxAttempts)
	}
	s := &settings{url: u.String(), headers: http.Header{}, attempts: c.MaxAttempts}
	if s.timeout, err = duration(c.Timeout, "timeout", DefaultTimeout); err != nil {
		return nil, err
	}
	if s.initial, err = duration(c.InitialBackoff, "initial_backoff", DefaultInitialBackoff); err != nil {
		return nil, err
	}
	if s.maxBackoff, err = duration(c.MaxBackoff, "max_backoff", DefaultMaxBackoff); err != nil {
		return nil, err
	}
	if s.attempts == 0 {
		s.attempts = DefaultMaxAttempts
	}
	if s.initial > s.maxBackoff {
		return nil, fmt.Errorf("initial_backoff %v is above max_backoff %v", s.initial, s.maxBackoff)
	}
	for k, v := range c.Headers {
		if k == "" || !validHeader(k) {
			return nil, fmt.Errorf("headers: invalid header name %q", k)
		}
		s.headers.Set(k, v)
	}
	if len(c.Types) > 0 {
		s.types = map[hook.EventType]bool{}
		for i, t := range c.Types {
			if !t.Valid() {
				return nil, fmt.Errorf("types[%d]: unknown event type %q", i, t)
			}
			s.types[t] = true
		}
		s.list = append([]hook.EventType(nil), c.Types...)
	}
	return s, nil
}

func validHeader(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// Types returns the configured event types, nil for all; the host
// subscribes the listener to these.
func (l *Listener) Types() []hook.EventType {
	if s := l.cfg.Load(); s != nil {
		return s.list
	}
	return nil
}

// ErrNotConfigured is returned by Handle before Configure succeeded.
var ErrNotConfigured = errors.New("webhook: not configured")

// Handle posts events as one batch, retrying as configured.
func (l *Listener) Handle(ctx context.Context, events []hook.Event) error {
	s := l.cfg.Load()
	if s == nil {
		return ErrNotConfigured
	}
	body := encode(events, s.types)
	if body == nil {
		return nil
	}
	var err error
	for attempt := 1; ; attempt++ {
		var retryAfter time.Duration
		var retry bool
		retry, retryAfter, err = l.post(ctx, s, body)
		if err == nil {
			return nil
		}
		if !retry || attempt >= s.attempts || ctx.Err() != nil {
			return fmt.Errorf("webhook: %d attempt(s): %w", attempt, err)
		}
		wait := backoff(s.initial, s.maxBackoff, attempt)
		if retryAfter > 0 {
			wait = min(retryAfter, s.maxBackoff)
		}
		if serr := l.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("webhook: %d attempt(s), then %w: %w", attempt, serr, err)
		}
	}
}

// backoff is initial·2^(n-1) capped at max, jittered over its upper half.
func backoff(initial, max time.Duration, n int) time.Duration {
	d := initial
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// post makes one attempt and says whether a failure is worth retrying.
func (l *Listener) post(ctx context.Context, s *settings, body []byte) (retry bool, retryAfter time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return false, 0, err
	}
	for k, v := range s.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "eurekad-webhook/1")
	resp, err := l.hc.Do(req)
	if err != nil {
		return true, 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, 0, nil
	}
	err = fmt.Errorf("POST %s: %s", req.URL.Redacted(), resp.Status)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		if n, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && n >= 0 {
			retryAfter = time.Duration(n) * time.Second
		}
		return true, retryAfter, err
	case resp.StatusCode >= 500:
		return true, 0, err
	}
	return false, 0, err
}

// encode writes the batch body; nil when the filter leaves nothing.
func encode(events []hook.Event, types map[hook.EventType]bool) []byte {
	b := make([]byte, 0, 256+len(events)*1024)
	b = append(b, `{"events":[`...)
	n := 0
	for i := range events {
		e := &events[i]
		// Not redundant with the bus: an entry's events replace Types as
		// the subscription (see the log listener).
		if types != nil && e.Type != hook.EventGap && !types[e.Type] {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"seq":`...)
		b = strconv.AppendUint(b, e.Seq, 10)
		b = append(b, `,"type":`...)
		b = eureka.AppendJSONString(b, string(e.Type))
		b = append(b, `,"time":"`...)
		b = e.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, '"')
		if e.App != "" || e.InstanceID != "" {
			b = append(b, `,"app":`...)
			b = eureka.AppendJSONString(b, e.App)
			b = append(b, `,"instanceId":`...)
			b = eureka.AppendJSONString(b, e.InstanceID)
			b = append(b, `,"replicated":`...)
			b = strconv.AppendBool(b, e.Replicated)
		}
		if e.Instance != nil {
			b = append(b, `,"instance":`...)
			b = eureka.AppendInstanceJSON(b, e.Instance)
		}
		if e.Type == hook.EventGap {
			b = append(b, `,"dropped":`...)
			b = strconv.AppendUint(b, e.Dropped, 10)
		}
		b = append(b, '}')
	}
	if n == 0 {
		return nil
	}
	return append(b, "]}\n"...)
}

// Close releases idle connections to the webhook.
func (l *Listener) Close() error {
	l.hc.CloseIdleConnections()
	return nil
}

// Interface guards.
var (
	_ hook.Listener   = (*Listener)(nil)
	_ hook.Configurer = (*Listener)(nil)
	_ io.Closer       = (*Listener)(nil)
)
