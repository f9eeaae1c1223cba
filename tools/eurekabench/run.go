package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// deltaTrickle is how many registrations the delta scenario makes after the
// preregistration, so the delta is never empty.
const deltaTrickle = 20

// runConfig holds the flags of the run subcommand.
type runConfig struct {
	target       string // base URL, e.g. http://127.0.0.1:8761/eureka
	label        string // free text carried into the result (baseline, eurekad)
	scenario     string
	duration     time.Duration
	warmup       time.Duration
	concurrency  int
	instances    int
	apps         int
	maxRequests  int64
	visIters     int
	visTimeout   time.Duration
	jsonOut      bool
	requestLimit time.Duration
	client       string  // raw or stdlib
	basicAuth    string  // USER:PASS sent with every request ("": none)
	appPrefix    string  // prepended to every application name
	serverPID    int     // for CPU accounting; 0 if unknown
	storePID     int     // the store's process (redis-server), counted with the server; 0 if none
	maxOther     float64 // exit with errDisturbed above this share of other CPU use
}

// errDisturbed is returned, after the result is printed, when other
// processes took more of the machine than --max-other-cpu allows; the
// command exits with status 4 so a script can repeat the run.
var errDisturbed = errors.New("run disturbed by other processes")

// Result is what one run measured; --json prints it as one line.
type Result struct {
	Label       string  `json:"label,omitempty"`
	Scenario    string  `json:"scenario"`
	Target      string  `json:"target"`
	Concurrency int     `json:"concurrency"`
	Instances   int     `json:"instances"`
	DurationSec float64 `json:"duration_s"`
	Requests    int64   `json:"requests"`
	// Errors counts transport errors and unexpected answers (status codes
	// other than the protocol's success code, a fetch without gzip).
	Errors      int64            `json:"errors"`
	ErrorDetail map[string]int64 `json:"error_detail,omitempty"`
	RPS         float64          `json:"rps"`
	P50Ms       float64          `json:"p50_ms"`
	P99Ms       float64          `json:"p99_ms"`
	MaxMs       float64          `json:"max_ms"`
	Bytes       int64            `json:"bytes,omitempty"`
	BytesPerSec float64          `json:"bytes_per_s,omitempty"`
	// PayloadBytes and PayloadInstances describe the fetched document as
	// checked before the run (body size as sent, instances after decoding).
	PayloadBytes     int64                 `json:"payload_bytes,omitempty"`
	PayloadInstances int                   `json:"payload_instances,omitempty"`
	Visibility       map[string]*VisResult `json:"visibility,omitempty"`
	// CPU is the CPU time of the measured phase (Linux only).
	CPU *CPUUse `json:"cpu,omitempty"`
	// Fleet is set by the fleet command (scenario "fleet"): load, memory
	// and restart figures of a large registry.
	Fleet *FleetResult `json:"fleet,omitempty"`
}

// VisResult summarises change-to-visible delays for one endpoint. A change
// that never became visible counts at the timeout in the percentiles.
type VisResult struct {
	Samples  int     `json:"samples"`
	Timeouts int     `json:"timeouts"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

func cmdRun(args []string) error {
	var c runConfig
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&c.target, "target", "http://127.0.0.1:8761/eureka", "Eureka API base URL (loopback only)")
	fs.StringVar(&c.label, "label", "", "label copied into the result, e.g. baseline or eurekad")
	fs.StringVar(&c.scenario, "scenario", "renew", "renew, register, fetch-full, delta or visibility")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time (visibility: upper bound)")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured load before the measured time")
	fs.IntVar(&c.concurrency, "concurrency", 8, "concurrent workers (connections)")
	fs.StringVar(&c.basicAuth, "basic-auth", "", "USER:PASS sent as basic credentials with every request, as clients with credentials in their service URL do")
	fs.StringVar(&c.appPrefix, "app-prefix", "", "prefix of every application name (e.g. a team's, for an authenticator that checks it)")
	fs.StringVar(&c.client, "client", "raw", "HTTP client of the measured requests: raw (one keep-alive connection per worker writing prepared requests, as wrk does: a few µs of CPU per request) or stdlib (net/http's Transport: 30-40 µs)")
	fs.IntVar(&c.instances, "instances", 0, "registry size (default 1000; register: distinct ids cycled, default 10000)")
	fs.IntVar(&c.apps, "apps", 50, "applications the instances are spread over (at most 50)")
	fs.Int64Var(&c.maxRequests, "max-requests", 50_000_000, "stop after this many measured requests")
	fs.IntVar(&c.visIters, "iterations", 200, "visibility: changes to time per endpoint")
	fs.DurationVar(&c.visTimeout, "visibility-timeout", 2*time.Second, "visibility: give up on one change after this long")
	fs.DurationVar(&c.requestLimit, "request-timeout", 10*time.Second, "timeout of one request")
	fs.IntVar(&c.serverPID, "server-pid", 0, "pid of the server process, to report its CPU time per request")
	fs.IntVar(&c.storePID, "store-pid", 0, "pid of the store process the server writes to (redis-server): its CPU is reported and not counted as other processes'")
	fs.Float64Var(&c.maxOther, "max-other-cpu", 0, "exit with status 4 if other processes used more than this percent of the machine (0: never)")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result as one JSON line on stdout (and the readable form on stderr)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.instances == 0 {
		c.instances = 1000
		if c.scenario == "register" {
			c.instances = 10000
		}
	}
	if err := checkBasicAuth(c.basicAuth); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if c.client != "raw" && c.client != "stdlib" {
		return fmt.Errorf("run: --client %q is not raw or stdlib", c.client)
	}
	if c.concurrency < 1 || c.instances < 1 || c.duration <= 0 || c.warmup < 0 || c.visIters < 1 {
		return errors.New("run: concurrency, instances, duration and iterations must be positive")
	}
	u, err := url.Parse(strings.TrimSuffix(c.target, "/"))
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("run: --target %q is not an http URL", c.target)
	}
	if err := checkLoopback(u.Host); err != nil {
		return err
	}
	c.target = u.String()

	// A hard stop in case a server hangs in a way no timeout catches: the
	// tool must always end by itself.
	budget := 2*time.Minute + c.warmup + c.duration + 3*c.requestLimit
	watchdog := time.AfterFunc(budget, func() {
		fmt.Fprintf(os.Stderr, "eurekabench: watchdog: run exceeded %v, exiting\n", budget)
		os.Exit(3)
	})
	defer watchdog.Stop()

	b := newBench(c)
	defer b.tr.CloseIdleConnections()
	res, err := b.run()
	if err != nil {
		return err
	}
	if c.jsonOut {
		// JSON on stdout for scripts, the readable form on stderr for people.
		printResult(os.Stderr, res)
		err = json.NewEncoder(os.Stdout).Encode(res)
	} else {
		printResult(os.Stdout, res)
	}
	if err == nil && c.maxOther > 0 && res.CPU != nil && res.CPU.OtherPct > c.maxOther {
		return fmt.Errorf("%w: they used %.0f%% of the machine", errDisturbed, res.CPU.OtherPct)
	}
	return err
}

// checkLoopback refuses any host that is not a loopback address: the tool
// generates heavy load and must never point it at another machine.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address; eurekabench only targets 127.0.0.1/::1", hostport)
	}
	return nil
}

// bench is one run against one target.
type bench struct {
	cfg   runConfig
	addr  string // host:port of the target, for the raw client
	tr    *http.Transport
	dirty int64 // lastDirtyTimestamp sent in every register body and renew
}

func newBench(c runConfig) *bench {
	tr := &http.Transport{
		Proxy: nil, // never route loopback load through an environment proxy
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        2*c.concurrency + 4,
		MaxIdleConnsPerHost: 2*c.concurrency + 4,
		IdleConnTimeout:     90 * time.Second,
		// Measure gzip bytes as sent and spare the generator the inflate.
		DisableCompression:    true,
		ResponseHeaderTimeout: c.requestLimit,
		// Large buffers mean fewer syscalls per fetched payload, keeping the
		// generator's share of the two cores small.
		ReadBufferSize:  64 << 10,
		WriteBufferSize: 16 << 10,
	}
	var addr string
	if u, err := url.Parse(c.target); err == nil {
		addr = u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	return &bench{cfg: c, tr: tr, addr: addr, dirty: time.Now().UnixMilli()}
}

// reqTemplate is a prepared request: each use is a shallow copy, so the URL
// is parsed and the headers built once. The transport only reads them.
type reqTemplate struct {
	req  *http.Request
	body []byte
	raw  []byte // the whole request as the raw client writes it
}

// spec is instance i of the run, its application under the run's prefix.
func (b *bench) spec(prefix string, i int) instanceSpec {
	s := specFor(prefix, i, b.cfg.apps)
	s.app = b.cfg.appPrefix + s.app
	return s
}

func (b *bench) template(ctx context.Context, method, path string, body []byte, hdr http.Header) *reqTemplate {
	u, err := url.Parse(b.cfg.target + path)
	if err != nil {
		panic(err) // paths are built from generated ASCII; cannot fail
	}
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr = hdr.Clone() // the template's own: SetBasicAuth below writes to it
	r := (&http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     hdr,
		Host:       u.Host,
	}).WithContext(ctx)
	if body != nil {
		r.ContentLength = int64(len(body))
	}
	if b.cfg.basicAuth != "" {
		user, pass, _ := strings.Cut(b.cfg.basicAuth, ":") // checked by checkBasicAuth
		r.SetBasicAuth(user, pass)
	}
	return &reqTemplate{req: r, body: body, raw: rawRequest(r, body)}
}

// do sends one request from t, reads the whole body into sink (or discards
// it) and returns the status, the body size and the response headers.
func (b *bench) do(t *reqTemplate, sink *bytes.Buffer) (status int, n int64, h http.Header, err error) {
	r := new(http.Request)
	*r = *t.req
	if t.body != nil {
		body := t.body
		r.Body = io.NopCloser(bytes.NewReader(body))
		// GetBody lets the transport retry on a keep-alive connection the
		// server closed just as we sent.
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := b.tr.RoundTrip(r)
	if err != nil {
		return 0, 0, nil, err
	}
	if sink != nil {
		n, err = sink.ReadFrom(resp.Body)
	} else {
		n, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	return resp.StatusCode, n, resp.Header, err
}

// do sends one measured request from t on the worker's client.
func (w *worker) do(t *reqTemplate, sink *bytes.Buffer) (status int, n int64, contentEncoding string, err error) {
	if w.rc == nil {
		status, n, h, err := w.b.do(t, sink)
		return status, n, h.Get("Content-Encoding"), err
	}
	res, err := w.rc.do(t.raw, sink)
	return res.status, res.n, res.contentEncoding, err
}

// errCounter counts errors by kind for one worker.
type errCounter map[string]int64

func (e errCounter) add(kind string) {
	// Distinct transport messages could grow without bound; fold them.
	if len(e) >= 32 {
		if _, ok := e[kind]; !ok {
			kind = "other"
		}
	}
	e[kind]++
}

func transportKind(err error) string {
	s := err.Error()
	if len(s) > 100 {
		s = s[:100]
	}
	return "transport: " + s
}

// op is one unit of load: it sends a request, counts an unexpected answer in
// the worker's errors and returns the body bytes read.
type op func(w *worker) int64

// worker is one goroutine's state: its own RNG, histogram and counters, so
// nothing is shared on the hot path.
type worker struct {
	b    *bench
	rc   *rawConn // nil: net/http's client
	rng  *rand.Rand
	hist histogram
	errs errCounter
	reqs int64
	n    int64
}

// phase runs make(w) on every worker until the duration passes or the shared
// request budget is used up, and returns the workers for merging.
func (b *bench) phase(d time.Duration, limit int64, mk func() op) ([]*worker, time.Duration) {
	var issued atomic.Int64
	ws := make([]*worker, b.cfg.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i := range ws {
		w := &worker{b: b, rng: rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i))), errs: errCounter{}}
		if b.cfg.client == "raw" {
			w.rc = &rawConn{addr: b.addr, timeout: b.cfg.requestLimit}
			defer w.rc.close()
		}
		ws[i] = w
		f := mk()
		wg.Add(1)
		go func() {
			defer wg.Done()
			now := time.Now()
			for now.Before(end) && issued.Add(1) <= limit {
				t0 := now
				n := f(w)
				now = time.Now()
				w.hist.record(now.Sub(t0))
				w.reqs++
				w.n += n
			}
		}()
	}
	wg.Wait()
	return ws, time.Since(start)
}

func (b *bench) run() (*Result, error) {
	c := b.cfg
	res := &Result{
		Label:       c.label,
		Scenario:    c.scenario,
		Target:      c.target,
		Concurrency: c.concurrency,
		Instances:   c.instances,
	}
	// Every request in the run shares one context; its deadline bounds the
	// run even if a server stops answering mid-request.
	ctx, cancel := context.WithTimeout(context.Background(),
		time.Minute+c.warmup+c.duration+2*c.requestLimit)
	defer cancel()

	var mk func() op
	switch c.scenario {
	case "renew":
		if err := b.preregister(ctx, c.instances); err != nil {
			return nil, err
		}
		mk = b.renewOp(ctx)
	case "register":
		mk = b.registerOp(ctx)
	case "fetch-full":
		if err := b.preregister(ctx, c.instances); err != nil {
			return nil, err
		}
		if err := b.preflight(ctx, "/apps", res); err != nil {
			return nil, err
		}
		mk = b.fetchOp(ctx, "/apps")
	case "delta":
		if err := b.preregister(ctx, c.instances); err != nil {
			return nil, err
		}
		if err := b.trickle(ctx); err != nil {
			return nil, err
		}
		if err := b.preflight(ctx, "/apps/delta", res); err != nil {
			return nil, err
		}
		mk = b.fetchOp(ctx, "/apps/delta")
	case "visibility":
		if err := b.preregister(ctx, c.instances); err != nil {
			return nil, err
		}
		return res, b.visibility(ctx, res)
	default:
		return nil, fmt.Errorf("run: unknown scenario %q", c.scenario)
	}

	if c.warmup > 0 {
		b.phase(c.warmup, 1<<62, mk)
	}
	cpu0 := sampleCPUWith(c.serverPID, c.storePID)
	ws, elapsed := b.phase(c.duration, c.maxRequests, mk)
	res.CPU = cpuUse(cpu0, sampleCPUWith(c.serverPID, c.storePID), c.serverPID)
	var h histogram
	errs := map[string]int64{}
	for _, w := range ws {
		h.merge(&w.hist)
		res.Requests += w.reqs
		res.Bytes += w.n
		for k, v := range w.errs {
			errs[k] += v
			res.Errors += v
		}
	}
	if len(errs) > 0 {
		res.ErrorDetail = errs
	}
	res.DurationSec = elapsed.Seconds()
	res.RPS = float64(res.Requests) / elapsed.Seconds()
	res.P50Ms = ms(h.quantile(0.50))
	res.P99Ms = ms(h.quantile(0.99))
	res.MaxMs = ms(time.Duration(h.max))
	if c.scenario == "fetch-full" || c.scenario == "delta" {
		res.BytesPerSec = float64(res.Bytes) / elapsed.Seconds()
	} else {
		res.Bytes = 0
	}
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

var jsonHeader = http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}

// registerTemplates prepares register requests for instances [0, n) with the
// given id prefix.
func (b *bench) registerTemplates(ctx context.Context, prefix string, from, n int) []*reqTemplate {
	ts := make([]*reqTemplate, n)
	for i := range ts {
		s := b.spec(prefix, from+i)
		ts[i] = b.template(ctx, http.MethodPost, "/apps/"+s.app, appendRegisterBody(nil, &s, b.dirty), jsonHeader)
	}
	return ts
}

// preregister registers instances 0..n-1 with a few workers and fails on the
// first unexpected answer: without the registry there is nothing to measure.
func (b *bench) preregister(ctx context.Context, n int) error {
	return b.registerAll(ctx, b.registerTemplates(ctx, "", 0, n))
}

// trickle adds a few registrations after the preregistration, so the delta
// always holds changes whatever the server's retention.
func (b *bench) trickle(ctx context.Context) error {
	return b.registerAll(ctx, b.registerTemplates(ctx, "", b.cfg.instances, deltaTrickle))
}

func (b *bench) registerAll(ctx context.Context, ts []*reqTemplate) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(b.cfg.concurrency, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ts) || ctx.Err() != nil {
					return
				}
				status, _, _, err := b.do(ts[i], nil)
				if err == nil && status != http.StatusNoContent {
					err = fmt.Errorf("status %d, want 204", status)
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("preregister %s: %w", ts[i].req.URL.Path, err) })
					next.Store(int64(len(ts)))
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// renewOp sends the Java client's heartbeat (PUT with status and
// lastDirtyTimestamp, equal to the registered one, so 200) for random
// preregistered instances.
func (b *bench) renewOp(ctx context.Context) func() op {
	ts := make([]*reqTemplate, b.cfg.instances)
	q := "?status=UP&lastDirtyTimestamp=" + strconv.FormatInt(b.dirty, 10)
	for i := range ts {
		s := b.spec("", i)
		ts[i] = b.template(ctx, http.MethodPut, "/apps/"+s.app+"/"+url.PathEscape(s.id)+q, nil, jsonHeader)
	}
	return func() op {
		return func(w *worker) int64 {
			status, n, ce, err := w.do(ts[w.rng.IntN(len(ts))], nil)
			w.check(http.StatusOK, false, status, ce, err)
			return n
		}
	}
}

// registerOp posts registrations of instance ids cycled over the pool; after
// the first pass they are re-registrations, as after a client restart.
func (b *bench) registerOp(ctx context.Context) func() op {
	ts := b.registerTemplates(ctx, "", 0, b.cfg.instances)
	var next atomic.Uint64
	return func() op {
		return func(w *worker) int64 {
			status, n, ce, err := w.do(ts[(next.Add(1)-1)%uint64(len(ts))], nil)
			w.check(http.StatusNoContent, false, status, ce, err)
			return n
		}
	}
}

// fetchOp fetches path as the Java client does (JSON, gzip) and discards it.
func (b *bench) fetchOp(ctx context.Context, path string) func() op {
	t := b.template(ctx, http.MethodGet, path, nil, http.Header{
		"Accept":          {"application/json"},
		"Accept-Encoding": {"gzip"},
	})
	return func() op {
		return func(w *worker) int64 {
			status, n, ce, err := w.do(t, nil)
			w.check(http.StatusOK, true, status, ce, err)
			return n
		}
	}
}

// check counts one answer as an error unless the status is want and, for
// gzip fetches, the body came gzip-encoded.
func (w *worker) check(want int, gz bool, status int, contentEncoding string, err error) {
	switch {
	case err != nil:
		w.errs.add(transportKind(err))
	case status != want:
		w.errs.add("status " + strconv.Itoa(status))
	case gz && contentEncoding != "gzip":
		w.errs.add("fetch not gzip-encoded")
	}
}

// preflight fetches path once before the run and checks it is a gzip JSON
// Applications document, recording its size and instance count so the two
// servers' payloads can be compared.
func (b *bench) preflight(ctx context.Context, path string, res *Result) error {
	t := b.template(ctx, http.MethodGet, path, nil, http.Header{
		"Accept":          {"application/json"},
		"Accept-Encoding": {"gzip"},
	})
	var buf bytes.Buffer
	status, n, h, err := b.do(t, &buf)
	if err != nil {
		return fmt.Errorf("preflight GET %s: %w", path, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("preflight GET %s: status %d, want 200", path, status)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("preflight GET %s: Content-Type %q, want application/json", path, ct)
	}
	r, err := inflated(&buf, h.Get("Content-Encoding") == "gzip")
	if err != nil {
		return fmt.Errorf("preflight GET %s: %w", path, err)
	}
	var doc struct {
		Applications struct {
			Application []struct {
				Instance []json.RawMessage `json:"instance"`
			} `json:"application"`
		} `json:"applications"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return fmt.Errorf("preflight GET %s: not an Applications document: %w", path, err)
	}
	res.PayloadBytes = n
	for _, a := range doc.Applications.Application {
		res.PayloadInstances += len(a.Instance)
	}
	if res.PayloadInstances == 0 {
		return fmt.Errorf("preflight GET %s: no instances in the payload", path)
	}
	return nil
}

// visibility times how long a registration takes to show in /apps and in
// /apps/delta: register a new instance, then poll until its id appears.
func (b *bench) visibility(ctx context.Context, res *Result) error {
	c := b.cfg
	nonce := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	end := time.Now().Add(c.duration)
	eps := []string{"/apps", "/apps/delta"}
	delays := map[string][]time.Duration{}
	res.Visibility = map[string]*VisResult{}
	for _, ep := range eps {
		res.Visibility[ep] = &VisResult{}
	}
	errs := errCounter{}
	poll := map[string]*reqTemplate{}
	for _, ep := range eps {
		// JSON without gzip, so the id can be searched in the body as read.
		poll[ep] = b.template(ctx, http.MethodGet, ep, nil, http.Header{"Accept": {"application/json"}})
	}
	var buf bytes.Buffer
	start := time.Now()
	for k := 0; k < c.visIters && time.Now().Before(end); k++ {
		for ei, ep := range eps {
			s := b.spec("vis-"+nonce+"-", 2*k+ei)
			reg := b.template(ctx, http.MethodPost, "/apps/"+s.app, appendRegisterBody(nil, &s, b.dirty), jsonHeader)
			status, _, _, err := b.do(reg, nil)
			res.Requests++
			if err != nil || status != http.StatusNoContent {
				if err != nil {
					errs.add(transportKind(err))
				} else {
					errs.add("register status " + strconv.Itoa(status))
				}
				continue
			}
			t0 := time.Now()
			needle := []byte(`"` + s.id + `"`)
			seen := false
			for time.Since(t0) < c.visTimeout {
				buf.Reset()
				status, _, _, err := b.do(poll[ep], &buf)
				res.Requests++
				if err != nil || status != http.StatusOK {
					if err != nil {
						errs.add(transportKind(err))
					} else {
						errs.add(ep + " status " + strconv.Itoa(status))
					}
					time.Sleep(time.Millisecond) // do not spin on a failing server
					continue
				}
				if bytes.Contains(buf.Bytes(), needle) {
					delays[ep] = append(delays[ep], time.Since(t0))
					seen = true
					break
				}
			}
			if !seen {
				// Counted at the timeout, a lower bound of the real delay,
				// so timeouts push the percentiles up instead of vanishing.
				delays[ep] = append(delays[ep], c.visTimeout)
				res.Visibility[ep].Timeouts++
				errs.add(ep + " not visible within " + c.visTimeout.String())
			}
			// Cancel it again so the registry stays the size it was.
			del := b.template(ctx, http.MethodDelete, "/apps/"+s.app+"/"+url.PathEscape(s.id), nil, jsonHeader)
			if status, _, _, err := b.do(del, nil); err != nil || status != http.StatusOK {
				errs.add("cancel failed")
			}
			res.Requests++
		}
	}
	res.DurationSec = time.Since(start).Seconds()
	for ep, v := range res.Visibility {
		d := delays[ep]
		sortDurations(d)
		v.Samples = len(d)
		v.P50Ms = ms(exactQuantile(d, 0.50))
		v.P99Ms = ms(exactQuantile(d, 0.99))
		if len(d) > 0 {
			v.MaxMs = ms(d[len(d)-1])
		}
	}
	for k, v := range errs {
		res.Errors += v
		if res.ErrorDetail == nil {
			res.ErrorDetail = map[string]int64{}
		}
		res.ErrorDetail[k] = v
	}
	return nil
}

func printResult(w io.Writer, r *Result) {
	name := r.Scenario
	if r.Label != "" {
		name = r.Label + " " + name
	}
	fmt.Fprintf(w, "%s  target=%s  concurrency=%d  instances=%d  %.1fs\n",
		name, r.Target, r.Concurrency, r.Instances, r.DurationSec)
	if r.Visibility != nil {
		for _, ep := range []string{"/apps", "/apps/delta"} {
			v := r.Visibility[ep]
			fmt.Fprintf(w, "  visible in %-12s samples %d  p50 %.2f ms  p99 %.2f ms  max %.2f ms  timeouts %d\n",
				ep, v.Samples, v.P50Ms, v.P99Ms, v.MaxMs, v.Timeouts)
		}
	} else {
		fmt.Fprintf(w, "  %d requests  %.0f req/s  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n",
			r.Requests, r.RPS, r.P50Ms, r.P99Ms, r.MaxMs)
		if r.BytesPerSec > 0 {
			fmt.Fprintf(w, "  %.1f MB/s received; payload %d bytes as sent, %d instances\n",
				r.BytesPerSec/1e6, r.PayloadBytes, r.PayloadInstances)
		}
		if u := r.CPU; u != nil {
			fmt.Fprintf(w, "  CPU: generator %.2fs", u.GeneratorSec)
			if u.ServerSec > 0 && r.Requests > 0 {
				fmt.Fprintf(w, ", server %.2fs (%.1f µs/request)", u.ServerSec, 1e6*u.ServerSec/float64(r.Requests))
				if u.StoreSec > 0 {
					fmt.Fprintf(w, ", store %.2fs (%.1f µs/request)", u.StoreSec, 1e6*u.StoreSec/float64(r.Requests))
				}
				fmt.Fprintf(w, ", other processes %.0f%% of the machine", u.OtherPct)
			}
			fmt.Fprintln(w)
		}
	}
	if r.Errors == 0 {
		fmt.Fprintln(w, "  errors: 0")
		return
	}
	fmt.Fprintf(w, "  !!! ERRORS: %d", r.Errors)
	if r.Requests > 0 {
		fmt.Fprintf(w, " (%.2f%% of requests)", 100*float64(r.Errors)/float64(r.Requests))
	}
	fmt.Fprintln(w, " !!!")
	for k, v := range r.ErrorDetail {
		fmt.Fprintf(w, "    %6d  %s\n", v, k)
	}
}
