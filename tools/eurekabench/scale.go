package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The scale command measures eurekad under the load of a realistic fleet
// of N instances (issue 21): it starts a server, registers N instances
// over many connections, optionally times a restart from bolt and the
// start-up sync of a new peer, then runs the fleet open loop (every
// instance heartbeating and polling the delta once per interval, spread
// evenly, plus full fetches and a churn of changes) at each churn level
// in turn, and reports latencies from the due time, freshness of probe
// changes, the server's CPU (user/sys, and the part spent building
// payloads from its /metrics) and its memory.

// scaleConfig is the flags of "eurekabench scale".
type scaleConfig struct {
	bin, dir, store, label string
	env                    envList
	instances, apps        int
	interval               time.Duration
	fullRate               float64
	churn                  []float64
	maxRate                float64
	warmup, duration       time.Duration
	conns, loadConns       int
	probeGap, visTimeout   time.Duration
	restart, peer          bool
	drain                  time.Duration
	heartbeatsOnly         bool // the drain's windows: no delta polls
	timeout                time.Duration
	jsonOut                bool
}

// ScaleResult is one churn level of one scale run; the set-up figures
// (load, restart, peer sync) are repeated in every level's line so each
// line stands alone in the summary.
type ScaleResult struct {
	Label     string  `json:"label,omitempty"`
	Store     string  `json:"store"`
	Instances int     `json:"instances"`
	Apps      int     `json:"apps"`
	Churn     float64 `json:"churn_per_s"`
	WindowSec float64 `json:"window_s"`
	// IntervalSec is each instance's heartbeat and delta period; RateScale
	// is the share of the realistic fleet rate actually offered (below 1
	// when --max-rate capped it).
	IntervalSec float64 `json:"interval_s"`
	RateScale   float64 `json:"rate_scale"`

	Heartbeat *KindResult `json:"heartbeat"`
	Delta     *KindResult `json:"delta"`
	Full      *KindResult `json:"full,omitempty"`
	Changes   *KindResult `json:"changes,omitempty"`
	// Fresh is the delay from a probe change's acknowledgement until a
	// fetch of /apps or /apps/delta shows it.
	Fresh map[string]*VisResult `json:"freshness"`

	CPU     *ScaleCPU   `json:"cpu,omitempty"`
	Memory  *ProcMemory `json:"memory_end,omitempty"`
	Setup   *ScaleSetup `json:"setup"`
	Errors  int64       `json:"errors"`
	Comment string      `json:"comment,omitempty"`
}

// KindResult is one kind of request over the measured window.
type KindResult struct {
	OfferedPerSec float64          `json:"offered_per_s"`
	ServedPerSec  float64          `json:"served_per_s"`
	Scheduled     int64            `json:"scheduled"`
	Sent          int64            `json:"sent"`
	Missed        int64            `json:"missed"`
	OK            int64            `json:"ok"`
	ErrorDetail   map[string]int64 `json:"error_detail,omitempty"`
	// P50Ms and P99Ms run from the due time; -1 when that share of the
	// scheduled requests was not served at all. SvcP50Ms is from the send.
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	SvcP50Ms float64 `json:"service_p50_ms"`
	BytesAvg float64 `json:"bytes_avg"`
}

// ScaleCPU is the server's CPU over the window in percent of one core,
// split by the kernel's user/system accounting and, from the server's own
// eurekad_cache_build_seconds_total, into building payloads (wall time of
// builds, a close bound of their CPU) and the rest (serving).
type ScaleCPU struct {
	UserPct      float64 `json:"server_user_pct"`
	SysPct       float64 `json:"server_sys_pct"`
	BuildPct     float64 `json:"server_build_pct"`
	Builds       float64 `json:"server_builds"`
	GeneratorPct float64 `json:"generator_pct"`
	// OtherPct is the share of the whole machine used by other processes.
	OtherPct float64 `json:"other_machine_pct"`
}

// ScaleSetup is what building the registry measured.
type ScaleSetup struct {
	LoadSec        float64 `json:"load_s"`
	LoadRPS        float64 `json:"load_rps"`
	FetchMs        float64 `json:"first_fetch_ms"`
	FetchGzipBytes int64   `json:"fetch_gzip_bytes"`
	// Memory is the server's, idle after the load and a full fetch.
	Memory *ProcMemory `json:"memory_loaded,omitempty"`
	// RestartReadyMs and RestartServingMs: from the restarted process's
	// creation to GET /readyz 200 and to a full fetch holding all N.
	RestartReadyMs   float64 `json:"restart_ready_ms,omitempty"`
	RestartServingMs float64 `json:"restart_serving_ms,omitempty"`
	// PeerReadyMs and PeerServingMs: the same for a new eurekad whose peer
	// is the loaded one (its start-up sync).
	PeerReadyMs   float64 `json:"peer_ready_ms,omitempty"`
	PeerServingMs float64 `json:"peer_serving_ms,omitempty"`
}

// churnList parses --churn 0,100,300.
type churnList []float64

func (c *churnList) String() string {
	s := make([]string, len(*c))
	for i, v := range *c {
		s[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}

func (c *churnList) Set(v string) error {
	*c = nil
	for _, f := range strings.Split(v, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || x < 0 {
			return fmt.Errorf("%q is not a change rate", f)
		}
		*c = append(*c, x)
	}
	return nil
}

func cmdScale(args []string) error {
	var c scaleConfig
	churn := churnList{0}
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.StringVar(&c.bin, "eurekad", "", "eurekad binary to start (required)")
	fs.StringVar(&c.dir, "dir", "", "working directory of the servers (default: a new temporary one, removed afterwards)")
	fs.StringVar(&c.store, "store", "memory", "memory or bolt (bolt also times a restart of the N instances)")
	fs.Var(&c.env, "env", "extra KEY=VALUE setting for eurekad (repeatable)")
	fs.StringVar(&c.label, "label", "", "label copied into the results")
	fs.IntVar(&c.instances, "instances", 10_000, "instances in the registry")
	fs.IntVar(&c.apps, "apps", 50, "applications they are spread over (at most 50)")
	fs.DurationVar(&c.interval, "interval", 30*time.Second, "each instance's heartbeat and delta poll period")
	fs.Float64Var(&c.fullRate, "full-rate", 2, "full fetches (GET /apps, gzip JSON) per second")
	fs.Var(&churn, "churn", "comma-separated change rates per second, one measured window each (status overrides, metadata edits, registrations and cancels)")
	fs.Float64Var(&c.maxRate, "max-rate", 0, "cap on heartbeats+delta polls per second offered; the fleet's rate is scaled down to it (0: no cap)")
	fs.DurationVar(&c.warmup, "warmup", 5*time.Second, "unrecorded load before each window")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "measured window per churn level")
	fs.IntVar(&c.conns, "conns", 32, "connections each of heartbeats and delta polls use")
	fs.IntVar(&c.loadConns, "load-conns", 64, "connections registering the instances")
	fs.DurationVar(&c.probeGap, "probe-gap", 100*time.Millisecond, "pause between freshness probes")
	fs.DurationVar(&c.visTimeout, "visibility-timeout", 5*time.Second, "give up on one probe after this long")
	fs.BoolVar(&c.restart, "restart", true, "with --store bolt: stop the loaded server and time its restart")
	fs.BoolVar(&c.peer, "peer", true, "time the start-up sync of a new peer of the loaded server")
	fs.DurationVar(&c.drain, "drain", 5*time.Minute, "before the first window, run the fleet unmeasured until the bulk load has left the delta (at most this long; 0: measure at once, the delta then holds every instance)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "hard limit on the whole command")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON line per churn level on stdout (and the readable form on stderr)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.churn = churn
	if c.bin == "" {
		return errors.New("scale: --eurekad is required")
	}
	if c.store != "memory" && c.store != "bolt" {
		return fmt.Errorf("scale: --store %q is not memory or bolt", c.store)
	}
	if c.instances < 1 || c.interval <= 0 || c.duration <= 0 || c.conns < 1 || c.loadConns < 1 || len(c.churn) == 0 {
		return errors.New("scale: instances, interval, duration, conns and churn must be positive")
	}
	var err error
	if c.bin, err = filepath.Abs(c.bin); err != nil {
		return err
	}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "eurekabench-scale-"); err != nil {
			return err
		}
		defer os.RemoveAll(c.dir)
	}
	s := newScaler(c)
	defer guardServers("scale", c.timeout, s.killAll)()
	out := os.Stdout
	if c.jsonOut {
		out = os.Stderr
	}
	err = s.run(func(r *ScaleResult) {
		printScale(out, r)
		if c.jsonOut {
			json.NewEncoder(os.Stdout).Encode(r)
		}
	})
	s.killAll()
	return err
}

// scaler is one scale run.
type scaler struct {
	cfg    scaleConfig
	server *fleet // the measured server(s), in cfg.dir
	peers  *fleet // the new peer
	addr   string // host:port of the measured server
	dirty  int64
	nonce  string
	next   map[string]int64 // the next index of each open loop
	probes int              // probe instances registered so far
}

func newScaler(c scaleConfig) *scaler {
	env := []string{"EUREKAD_STORAGE_KIND=" + c.store, "EUREKAD_LOG_LEVEL=info"}
	if c.store == "bolt" {
		env = append(env, "EUREKAD_STORAGE_DATA_DIR=./data")
	}
	fc := fleetConfig{bin: c.bin, dir: c.dir, env: append(env, c.env...), instances: c.instances, apps: c.apps,
		concurrency: c.loadConns, serveTimeout: 5 * time.Minute, stopTimeout: time.Minute,
		requestLimit: time.Minute, poll: 2 * time.Millisecond, settle: 2 * time.Second, timeout: c.timeout}
	pc := fc
	pc.env = nil // set once the server's address is known
	return &scaler{cfg: c, server: newFleet(fc), peers: newFleet(pc), dirty: 1_700_000_000_000,
		nonce: strconv.FormatInt(time.Now().UnixNano()%1e9, 36), next: map[string]int64{}}
}

func (s *scaler) killAll() {
	s.server.killAll()
	s.peers.killAll()
}

// run builds the registry, times the restart and the peer's sync, then
// measures each churn level and hands its result to emit.
func (s *scaler) run(emit func(*ScaleResult)) error {
	c := s.cfg
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	p, err := s.server.start(ctx, 1)
	if err != nil {
		return err
	}
	s.addr = strings.TrimPrefix(p.root, "http://")
	setup := &ScaleSetup{}
	t0 := time.Now()
	if err := s.load(ctx); err != nil {
		return err
	}
	setup.LoadSec = time.Since(t0).Seconds()
	setup.LoadRPS = float64(c.instances) / setup.LoadSec
	fmt.Fprintf(os.Stderr, "scale: %d instances registered in %.1fs (%.0f/s)\n", c.instances, setup.LoadSec, setup.LoadRPS)
	fetch, err := s.server.fetchAllUntil(ctx, p, time.Now())
	if err != nil {
		return err
	}
	setup.FetchMs, setup.FetchGzipBytes = ms(fetch.took), fetch.gzipBytes
	if setup.Memory, err = s.server.settleMemory(ctx, p); err != nil {
		return err
	}
	if c.store == "bolt" && c.restart {
		if _, err := s.server.stop(p); err != nil {
			return err
		}
		if p, err = s.server.spawn(2); err != nil {
			return err
		}
		ready, err := s.server.waitReady(ctx, p)
		if err != nil {
			return err
		}
		fetch, err := s.server.fetchAllUntil(ctx, p, p.start)
		if err != nil {
			return err
		}
		setup.RestartReadyMs, setup.RestartServingMs = ms(ready), ms(fetch.at)
		s.addr = strings.TrimPrefix(p.root, "http://")
		fmt.Fprintf(os.Stderr, "scale: restart from bolt: ready %.0f ms, serving all %d at %.0f ms\n", setup.RestartReadyMs, c.instances, setup.RestartServingMs)
	}
	if c.peer {
		s.peers.cfg.env = append([]string{"EUREKAD_STORAGE_KIND=memory", "EUREKAD_CLUSTER_PEERS=" + p.base + "/"}, c.env...)
		q, err := s.peers.spawn(3)
		if err != nil {
			return err
		}
		ready, err := s.peers.waitReady(ctx, q)
		if err != nil {
			return err
		}
		fetch, err := s.peers.fetchAllUntil(ctx, q, q.start)
		if err != nil {
			return err
		}
		setup.PeerReadyMs, setup.PeerServingMs = ms(ready), ms(fetch.at)
		fmt.Fprintf(os.Stderr, "scale: new peer: ready %.0f ms, serving all %d at %.0f ms\n", setup.PeerReadyMs, c.instances, setup.PeerServingMs)
		if _, err := s.peers.stop(q); err != nil {
			return err
		}
	}
	if c.drain > 0 {
		if err := s.drainDelta(ctx, p); err != nil {
			return err
		}
	}
	for _, churn := range c.churn {
		r, err := s.window(ctx, p, churn, true)
		if err != nil {
			return err
		}
		r.Setup = setup
		emit(r)
		if p.exited() {
			return fmt.Errorf("scale: server exited (%v); log %s:\n%s", p.err, p.logPath, p.log.tail())
		}
	}
	return nil
}

// send sends one prepared request on a fresh raw connection and wants 2xx.
func (s *scaler) send(req []byte) error {
	rc := &rawConn{addr: s.addr, timeout: 30 * time.Second}
	defer rc.close()
	res, err := rc.do(req, nil)
	if err == nil && (res.status < 200 || res.status > 299) {
		err = fmt.Errorf("status %d", res.status)
	}
	return err
}

// load registers instances 0..N-1 over loadConns raw connections.
func (s *scaler) load(ctx context.Context) error {
	c := s.cfg
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range c.loadConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := &rawConn{addr: s.addr, timeout: time.Minute}
			defer rc.close()
			var buf []byte
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= c.instances {
					return
				}
				sp := specFor("", i, c.apps)
				buf = s.appendRegister(buf[:0], &sp)
				res, err := rc.do(buf, nil)
				if err == nil && res.status != http.StatusNoContent {
					err = fmt.Errorf("status %d", res.status)
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("scale: register %s: %w", sp.id, err) })
					next.Store(int64(c.instances))
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// appendHead appends a request line and the headers every request sends.
func (s *scaler) appendHead(b []byte, method, path string, bodyLen int) []byte {
	b = append(b, method...)
	b = append(b, " /eureka"...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, s.addr...)
	b = append(b, "\r\nAccept: application/json\r\n"...)
	if bodyLen >= 0 {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(bodyLen), 10)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendRegister appends the whole POST registering sp.
func (s *scaler) appendRegister(b []byte, sp *instanceSpec) []byte {
	body := appendRegisterBody(nil, sp, s.dirty)
	b = s.appendHead(b, http.MethodPost, "/apps/"+sp.app, len(body))
	return append(b, body...)
}

func instancePath(sp *instanceSpec) string { return "/apps/" + sp.app + "/" + url.PathEscape(sp.id) }

func (s *scaler) cancelRequest(sp instanceSpec) []byte {
	return s.appendHead(nil, http.MethodDelete, instancePath(&sp), -1)
}

// heartbeat is the Java client's renew of fleet instance i.
func (s *scaler) heartbeat(b []byte, i int) []byte {
	sp := specFor("", i, s.cfg.apps)
	return s.appendHead(b, http.MethodPut, instancePath(&sp)+"?status=UP&lastDirtyTimestamp="+strconv.FormatInt(s.dirty, 10), 0)
}

// fetch is a gzip JSON GET of path, as the Java client sends it.
func (s *scaler) fetch(path string) []byte {
	b := s.appendHead(nil, http.MethodGet, path, -1)
	b = b[:len(b)-2]
	return append(b, "Accept-Encoding: gzip\r\n\r\n"...)
}

// churnRequest is change i of the churn, cycling through a status override,
// its removal, a metadata edit and a registration or a cancel, so the
// registry keeps its size and every kind of change is in the mix.
func (s *scaler) churnRequest(b []byte, i int64) []byte {
	n := int64(s.cfg.instances)
	j := i / 4
	// A multiplicative hash spreads the changed instances over the fleet.
	target := int((uint64(j) * 2654435761) % uint64(n))
	sp := specFor("", target, s.cfg.apps)
	switch i % 4 {
	case 0:
		return s.appendHead(b, http.MethodPut, instancePath(&sp)+"/status?value=OUT_OF_SERVICE", 0)
	case 1:
		return s.appendHead(b, http.MethodDelete, instancePath(&sp)+"/status?value=UP", -1)
	case 2:
		return s.appendHead(b, http.MethodPut, instancePath(&sp)+"/metadata?scale-edit="+strconv.FormatInt(j, 10), 0)
	}
	// Registrations and cancels alternate; a cancel removes the extra
	// instance registered churnLag registrations earlier, long enough
	// before that requests reordered by the load do not cancel it first.
	if j%2 == 0 {
		extra := specFor("churn-"+s.nonce+"-", int(j/2), s.cfg.apps)
		return s.appendRegister(b, &extra)
	}
	if k := j/2 - churnLag; k >= 0 {
		extra := specFor("churn-"+s.nonce+"-", int(k), s.cfg.apps)
		return s.appendHead(b, http.MethodDelete, instancePath(&extra), -1)
	}
	return s.appendHead(b, http.MethodPut, instancePath(&sp)+"/metadata?scale-edit="+strconv.FormatInt(j, 10), 0)
}

// churnLag is how many extra instances the churn keeps registered.
const churnLag = 32

// probeSpec is probe k's instance. Its application sorts first, so a
// probe shows near the start of /apps and the search can stop there.
func probeSpec(nonce string, k int) instanceSpec {
	sp := specFor("probe-"+nonce+"-"+strconv.Itoa(k)+"-", 0, 1)
	sp.app, sp.vip = "AAA-SCALE-PROBE", "aaa-scale-probe"
	return sp
}

func (sp instanceSpec) registerRequest(s *scaler) []byte { return s.appendRegister(nil, &sp) }

// rates returns the heartbeat and delta rates offered: the fleet's, scaled
// down to maxRate when that is lower, and the scale applied.
func fleetRates(instances int, interval time.Duration, maxRate float64) (perKind, scale float64) {
	perKind = float64(instances) / interval.Seconds()
	scale = 1
	if maxRate > 0 && 2*perKind > maxRate {
		scale = maxRate / (2 * perKind)
	}
	return perKind * scale, scale
}

// gapOf is the time between two requests at rate per second.
func gapOf(rate float64) time.Duration { return time.Duration(float64(time.Second) / rate) }

// window runs the fleet at one churn level: warm-up, then the measured
// window with probes, CPU and memory readings.
func (s *scaler) window(ctx context.Context, p *serverProc, churn float64, probe bool) (*ScaleResult, error) {
	c := s.cfg
	rate, scale := fleetRates(c.instances, c.interval, c.maxRate)
	deltaRate := rate
	if c.heartbeatsOnly {
		deltaRate = 0
	}
	r := &ScaleResult{Label: c.label, Store: c.store, Instances: c.instances, Apps: min(max(c.apps, 1), len(serviceNames)),
		Churn: churn, WindowSec: c.duration.Seconds(), IntervalSec: c.interval.Seconds(), RateScale: scale}
	start := time.Now().Add(20 * time.Millisecond)
	from := start.Add(c.warmup)
	end := from.Add(c.duration)
	pid := p.cmd.Process.Pid

	type kind struct {
		name    string
		rate    float64
		workers int
		req     func(b []byte, i int64) []byte
		ok      func(status int) bool
		out     **KindResult
	}
	is2xx := func(st int) bool { return st >= 200 && st <= 299 }
	kinds := []kind{
		{"heartbeat", rate, c.conns, func(b []byte, i int64) []byte { return s.heartbeat(b, int(i%int64(c.instances))) },
			func(st int) bool { return st == http.StatusOK }, &r.Heartbeat},
		{"delta", deltaRate, c.conns, func(b []byte, _ int64) []byte { return append(b, s.fetch("/apps/delta")...) },
			func(st int) bool { return st == http.StatusOK }, &r.Delta},
		{"full", c.fullRate, 4, func(b []byte, _ int64) []byte { return append(b, s.fetch("/apps")...) },
			func(st int) bool { return st == http.StatusOK }, &r.Full},
		{"changes", churn, 16, s.churnRequest, is2xx, &r.Changes},
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, k := range kinds {
		if k.rate <= 0 {
			continue
		}
		conns := make([]*rawConn, k.workers)
		bufs := make([][]byte, k.workers)
		for w := range conns {
			conns[w] = &rawConn{addr: s.addr, timeout: 30 * time.Second}
		}
		o := &openLoop{gap: gapOf(k.rate), workers: k.workers, queue: k.workers,
			do: func(w int, i int64) (int64, string) {
				bufs[w] = k.req(bufs[w][:0], i)
				res, err := conns[w].do(bufs[w], nil)
				switch {
				case err != nil:
					return res.n, transportKind(err)
				case !k.ok(res.status):
					return res.n, "status " + strconv.Itoa(res.status)
				}
				return res.n, ""
			}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			first := s.next[k.name]
			mu.Unlock()
			st, next := o.run(start, from, end, first)
			for _, rc := range conns {
				rc.close()
			}
			mu.Lock()
			s.next[k.name] = next
			*k.out = kindResult(&st, k.rate, c.duration)
			mu.Unlock()
		}()
	}
	// Readings at the window's edges, not after the loops drain.
	time.Sleep(time.Until(from))
	cpu0, m0 := sampleServer(pid), s.scrape(p)
	var fresh map[string]*VisResult
	var fwg sync.WaitGroup
	if probe {
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			fresh = s.probe(ctx, p, end)
		}()
	}
	time.Sleep(time.Until(end))
	cpu1, m1 := sampleServer(pid), s.scrape(p)
	r.Memory, _ = readProcMemory(pid)
	wg.Wait()
	fwg.Wait()
	r.Fresh = fresh
	r.CPU = scaleCPU(cpu0, cpu1, m0, m1)
	for _, k := range []*KindResult{r.Heartbeat, r.Delta, r.Full, r.Changes} {
		if k != nil {
			r.Errors += sumCounts(k.ErrorDetail)
		}
	}
	if scale < 1 {
		r.Comment = fmt.Sprintf("fleet rate capped at %.0f%% of %d instances' (--max-rate %.0f)", 100*scale, c.instances, c.maxRate)
	}
	return r, ctx.Err()
}

// drainDelta runs the fleet, unmeasured, in 10 s slices until the delta
// holds under 1 % of the registry (the bulk load has aged out of its
// retention) or --drain has passed: a real fleet's delta holds recent
// changes, not every instance.
func (s *scaler) drainDelta(ctx context.Context, p *serverProc) error {
	c := s.cfg
	deadline := time.Now().Add(c.drain)
	defer func() { s.cfg = c }()
	for {
		// The cached delta is rebuilt only after a change, not when the
		// retention sweep drops old ones: one metadata edit lets it shrink.
		sp := specFor("", 0, c.apps)
		if err := s.send(s.appendHead(nil, http.MethodPut, instancePath(&sp)+"/metadata?scale-drain="+strconv.FormatInt(time.Now().UnixNano(), 10), 0)); err != nil {
			return fmt.Errorf("scale: drain: %w", err)
		}
		n, err := s.deltaSize(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "scale: delta holds %d instances\n", n)
		if n <= c.instances/100 || time.Now().After(deadline) {
			return nil
		}
		cfg := c
		cfg.warmup, cfg.duration = 0, 10*time.Second
		// Heartbeats keep the leases; the delta the drain waits out holds
		// every instance (a gigabyte at 1,000,000): polling it would only
		// measure how fast the loopback carries it.
		cfg.heartbeatsOnly, cfg.fullRate = true, 0
		s.cfg = cfg
		if _, err := s.window(ctx, p, 0, false); err != nil {
			return err
		}
		s.cfg = c
	}
}

// deltaSize counts the instances in GET /apps/delta.
func (s *scaler) deltaSize(p *serverProc) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, p.base+"/apps/delta", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Client{Transport: s.server.tr, Timeout: time.Minute}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := inflated(resp.Body, resp.Header.Get("Content-Encoding") == "gzip")
	if err != nil {
		return 0, fmt.Errorf("scale: GET /apps/delta: %w", err)
	}
	var doc struct {
		Applications struct {
			Application []struct {
				Instance []struct{} `json:"instance"`
			} `json:"application"`
		} `json:"applications"`
	}
	if err := json.NewDecoder(body).Decode(&doc); err != nil {
		return 0, fmt.Errorf("scale: GET /apps/delta: %w", err)
	}
	n := 0
	for _, a := range doc.Applications.Application {
		n += len(a.Instance)
	}
	return n, nil
}

func kindResult(st *openStats, rate float64, window time.Duration) *KindResult {
	k := &KindResult{OfferedPerSec: rate, ServedPerSec: float64(st.OK) / window.Seconds(),
		Scheduled: st.Scheduled, Sent: st.Sent, Missed: st.Missed, OK: st.OK,
		MaxMs: ms(time.Duration(st.lat.max)), SvcP50Ms: ms(st.svc.quantile(0.5))}
	if len(st.Errors) > 0 {
		k.ErrorDetail = st.Errors
	}
	if st.Sent > 0 {
		k.BytesAvg = float64(st.Bytes) / float64(st.Sent)
	}
	k.P50Ms, k.P99Ms = openMs(st, 0.5), openMs(st, 0.99)
	return k
}

// openMs is quantileOpen in milliseconds, -1 for "not served".
func openMs(st *openStats, q float64) float64 {
	d, ok := st.quantileOpen(q)
	if !ok {
		return -1
	}
	return ms(d)
}

// serverSample is the server's user and system CPU ticks plus the
// machine's, for the share others used.
type serverSample struct {
	ok               bool
	user, sys, self  uint64
	busy, total, now int64
}

func sampleServer(pid int) serverSample {
	var s serverSample
	b, t, err := readMachineCPU()
	if err != nil {
		return s
	}
	s.busy, s.total = int64(b), int64(t)
	u, sy, err := readUserSys(strconv.Itoa(pid))
	if err != nil {
		return s
	}
	self, err := readProcCPU("self")
	if err != nil {
		return s
	}
	s.user, s.sys, s.self, s.now, s.ok = u, sy, self, time.Now().UnixNano(), true
	return s
}

// readUserSys returns utime and stime of a process in ticks.
func readUserSys(pid string) (user, sys uint64, err error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, errors.New("unexpected /proc/pid/stat format")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, errors.New("unexpected /proc/pid/stat format")
	}
	if user, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return 0, 0, err
	}
	sys, err = strconv.ParseUint(f[12], 10, 64)
	return user, sys, err
}

func scaleCPU(a, b serverSample, m0, m1 map[string]float64) *ScaleCPU {
	if !a.ok || !b.ok || b.now <= a.now || b.total <= a.total {
		return nil
	}
	sec := float64(b.now-a.now) / 1e9
	pct := func(ticks uint64) float64 { return 100 * float64(ticks) / clockTick / sec }
	u := &ScaleCPU{UserPct: pct(b.user - a.user), SysPct: pct(b.sys - a.sys), GeneratorPct: pct(b.self - a.self)}
	ours := int64(b.user-a.user) + int64(b.sys-a.sys) + int64(b.self-a.self)
	if busy := b.busy - a.busy; busy > ours {
		u.OtherPct = 100 * float64(busy-ours) / float64(b.total-a.total)
	}
	if m0 != nil && m1 != nil {
		u.BuildPct = 100 * (m1["eurekad_cache_build_seconds_total"] - m0["eurekad_cache_build_seconds_total"]) / sec
		u.Builds = m1["eurekad_cache_builds_total"] - m0["eurekad_cache_builds_total"]
	}
	return u
}

// scrape reads the unlabelled samples of the server's /metrics (nil when
// it has none or refuses).
func (s *scaler) scrape(p *serverProc) map[string]float64 {
	client := &http.Client{Transport: s.server.tr, Timeout: 5 * time.Second}
	resp, err := client.Get(p.root + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads "name value" lines of the Prometheus text format,
// skipping comments and labelled samples.
func parseMetrics(r io.Reader) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.Contains(line, "{") {
			continue
		}
		name, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			m[name] = f
		}
	}
	return m
}

// probes makes one change after another until end, alternating a new
// registration and a metadata edit of it, and times each from its
// acknowledgement until a fetch of /apps and of /apps/delta shows it.
func (s *scaler) probe(ctx context.Context, p *serverProc, end time.Time) map[string]*VisResult {
	c := s.cfg
	eps := []string{"/apps", "/apps/delta"}
	delays := map[string][]time.Duration{}
	res := map[string]*VisResult{}
	for _, ep := range eps {
		res[ep] = &VisResult{}
	}
	client := &http.Client{Transport: s.server.tr, Timeout: 30 * time.Second}
	for k := 0; time.Now().Before(end) && ctx.Err() == nil; k++ {
		if k%2 == 0 {
			s.probes++
		}
		sp := probeSpec(s.nonce, s.probes)
		var req []byte
		var needle string
		if k%2 == 0 {
			req, needle = sp.registerRequest(s), `"`+sp.id+`"`
		} else {
			v := "v" + strconv.Itoa(k)
			req = s.appendHead(nil, http.MethodPut, instancePath(&sp)+"/metadata?probe="+v, 0)
			needle = `"probe":"` + v + `"`
		}
		if err := s.send(req); err != nil {
			continue
		}
		acked := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, ep := range eps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// /apps is in name order and the probe's application
				// sorts first: a payload without the change is known
				// once the second application starts, not after
				// inflating all of them (at 10,000 instances that took
				// the probe 60-150 ms a miss, on a busy machine, and
				// the next poll waited for it).
				var stop []byte
				if ep == "/apps" {
					stop = []byte(`,{"name":`)
				}
				d, ok := pollFor(ctx, client, p.base+ep, []byte(needle), stop, acked, c.visTimeout)
				mu.Lock()
				defer mu.Unlock()
				if !ok {
					res[ep].Timeouts++
				}
				delays[ep] = append(delays[ep], d)
			}()
		}
		wg.Wait()
		if k%2 == 1 {
			s.send(s.cancelRequest(sp))
		}
		time.Sleep(c.probeGap)
	}
	for ep, v := range res {
		d := delays[ep]
		sortDurations(d)
		v.Samples = len(d)
		v.P50Ms = ms(exactQuantile(d, 0.50))
		v.P99Ms = ms(exactQuantile(d, 0.99))
		if len(d) > 0 {
			v.MaxMs = ms(d[len(d)-1])
		}
	}
	return res
}

// pollFor fetches url (gzip JSON, If-None-Match the last entity tag, so an
// unchanged payload costs a 304) until its body holds needle before stop
// (nil: anywhere; see containsBefore), and returns
// the time from since to the moment it was found; after timeout it gives
// up and returns timeout, which then counts as a lower bound.
func pollFor(ctx context.Context, client *http.Client, url string, needle, stop []byte, since time.Time, timeout time.Duration) (time.Duration, bool) {
	etag := ""
	for time.Since(since) < timeout && ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Accept-Encoding", "gzip")
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := client.Do(req)
		if err != nil {
			time.Sleep(time.Millisecond) // do not spin on a failing server
			continue
		}
		found := false
		if resp.StatusCode == http.StatusOK {
			etag = resp.Header.Get("Etag")
			if r, err := inflated(resp.Body, resp.Header.Get("Content-Encoding") == "gzip"); err == nil {
				found, _ = containsBefore(r, needle, stop)
			}
		}
		resp.Body.Close()
		if found {
			return time.Since(since), true
		}
		time.Sleep(time.Millisecond)
	}
	return timeout, false
}

func printScale(w io.Writer, r *ScaleResult) {
	fmt.Fprintf(w, "scale %s  %d instances  churn %.0f/s  window %.0fs  fleet rate x%.2f\n", r.Store, r.Instances, r.Churn, r.WindowSec, r.RateScale)
	for _, k := range []struct {
		name string
		k    *KindResult
	}{{"heartbeat", r.Heartbeat}, {"delta", r.Delta}, {"full", r.Full}, {"changes", r.Changes}} {
		if k.k == nil {
			continue
		}
		fmt.Fprintf(w, "  %-9s offered %7.1f/s served %7.1f/s (missed %d, errors %d)  from schedule p50 %s p99 %s max %.1f ms  service p50 %.2f ms  %.0f B avg\n",
			k.name, k.k.OfferedPerSec, k.k.ServedPerSec, k.k.Missed, sumCounts(k.k.ErrorDetail), cell(k.k.P50Ms)+" ms", cell(k.k.P99Ms)+" ms", k.k.MaxMs, k.k.SvcP50Ms, k.k.BytesAvg)
		for e, v := range k.k.ErrorDetail {
			fmt.Fprintf(w, "      %6d  %s\n", v, e)
		}
	}
	for _, ep := range []string{"/apps", "/apps/delta"} {
		if v := r.Fresh[ep]; v != nil {
			fmt.Fprintf(w, "  fresh in %-11s p50 %.1f ms  p99 %.1f ms  max %.1f ms  (%d probes, %d timeouts)\n", ep, v.P50Ms, v.P99Ms, v.MaxMs, v.Samples, v.Timeouts)
		}
	}
	if u := r.CPU; u != nil {
		fmt.Fprintf(w, "  server CPU %.0f%% user + %.0f%% sys of a core; building payloads %.0f%% (%.0f builds); generator %.0f%%; others %.0f%% of the machine\n",
			u.UserPct, u.SysPct, u.BuildPct, u.Builds, u.GeneratorPct, u.OtherPct)
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "  server RSS %.0f MB (%.0f B/instance)\n", mb(m.RSSKB), float64(m.RSSKB)*1024/float64(r.Instances))
	}
	if st := r.Setup; st != nil {
		fmt.Fprintf(w, "  set-up: load %.1fs (%.0f/s), first full fetch %.0f ms (%d B gzip)", st.LoadSec, st.LoadRPS, st.FetchMs, st.FetchGzipBytes)
		if st.RestartServingMs > 0 {
			fmt.Fprintf(w, ", restart ready %.0f ms / serving all %.0f ms", st.RestartReadyMs, st.RestartServingMs)
		}
		if st.PeerServingMs > 0 {
			fmt.Fprintf(w, ", new peer ready %.0f ms / serving all %.0f ms", st.PeerReadyMs, st.PeerServingMs)
		}
		fmt.Fprintln(w)
	}
	if r.Comment != "" {
		fmt.Fprintln(w, "  note:", r.Comment)
	}
}
