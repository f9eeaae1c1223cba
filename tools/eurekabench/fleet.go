package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The fleet command measures what a large registry costs eurekad outside the
// request path: memory with N instances registered, and how long a restart
// takes to serve them all again from its store. Unlike run, it starts the
// server itself, because it has to stop it and time its next start from the
// moment the process is created.

// fleetConfig holds the flags of the fleet subcommand.
type fleetConfig struct {
	bin          string
	dir          string
	env          []string
	label        string
	instances    int
	apps         int
	concurrency  int
	restart      bool
	settle       time.Duration
	timeout      time.Duration
	serveTimeout time.Duration
	stopTimeout  time.Duration
	requestLimit time.Duration
	poll         time.Duration
	maxErrors    int64
	jsonOut      bool
}

// FleetResult is what the fleet command measured. Times are milliseconds.
type FleetResult struct {
	// Env is the EUREKAD_* settings the server ran with (beyond the
	// inherited environment).
	Env []string `json:"env,omitempty"`
	// LoadSec and LoadRPS: registering the N instances.
	LoadSec float64 `json:"load_s"`
	LoadRPS float64 `json:"load_rps"`
	// FetchMs is the first full fetch after the load (JSON, gzip): the
	// cache builds and compresses the payload, then it is transferred.
	FetchMs         float64 `json:"fetch_ms"`
	FetchGzipBytes  int64   `json:"fetch_gzip_bytes"`
	FetchPlainBytes int64   `json:"fetch_plain_bytes"`
	// Memory is the server's memory once idle after the load and the fetch.
	Memory *ProcMemory `json:"memory,omitempty"`
	// StopMs is SIGTERM to exit: HTTP drain, final flush, store close.
	StopMs  float64        `json:"stop_ms,omitempty"`
	Restart *RestartResult `json:"restart,omitempty"`
}

// RestartResult times the second start on the same data. Every time is
// from just before the process was created.
type RestartResult struct {
	// RestoredLogMs and ServingLogMs are when eurekad's "registry
	// restored" and "serving" log lines were read.
	RestoredLogMs float64 `json:"restored_log_ms"`
	ServingLogMs  float64 `json:"serving_log_ms"`
	// RestoreTookMs and RestoredInstances are the took= and instances=
	// of the "registry restored" line: the restore alone, as eurekad
	// measured it.
	RestoreTookMs     float64 `json:"restore_took_ms"`
	RestoredInstances int     `json:"restored_instances"`
	// ListeningMs: the first GET /readyz answered 200.
	ListeningMs float64 `json:"listening_ms"`
	// ServingMs: the end of the first GET /apps (JSON, gzip) answered 200
	// with all N instances; FetchMs is that fetch alone, Fetches how many
	// it took.
	ServingMs float64     `json:"serving_ms"`
	FetchMs   float64     `json:"fetch_ms"`
	Fetches   int         `json:"fetches"`
	Memory    *ProcMemory `json:"memory,omitempty"`
}

// ProcMemory is a process's memory from /proc/PID/status, in KiB.
type ProcMemory struct {
	RSSKB  int64 `json:"vm_rss_kb"`
	HWMKB  int64 `json:"vm_hwm_kb"`
	AnonKB int64 `json:"rss_anon_kb"`
	FileKB int64 `json:"rss_file_kb"`
}

// envList collects repeated --env KEY=VALUE flags.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	for _, kv := range strings.Fields(v) {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("%q is not KEY=VALUE", kv)
		}
		*e = append(*e, kv)
	}
	return nil
}

func cmdFleet(args []string) error {
	var c fleetConfig
	var env envList
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.StringVar(&c.bin, "eurekad", "", "eurekad binary to start (required)")
	fs.StringVar(&c.dir, "dir", "", "working directory of the server, kept across the restart: its ./data is the bolt store's default (required)")
	fs.Var(&env, "env", "KEY=VALUE setting for eurekad, e.g. EUREKAD_STORAGE_KIND=bolt (repeatable; space-separated lists too)")
	fs.StringVar(&c.label, "label", "", "label copied into the result, e.g. bolt")
	fs.IntVar(&c.instances, "instances", 100_000, "instances to register")
	fs.IntVar(&c.apps, "apps", 50, "applications the instances are spread over (at most 50)")
	fs.IntVar(&c.concurrency, "concurrency", 64, "concurrent registering workers (connections)")
	fs.BoolVar(&c.restart, "restart", true, "stop the server with SIGTERM and time its restart on the same data (false for the memory store)")
	fs.DurationVar(&c.settle, "settle", 3*time.Second, "idle time before memory is read")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "hard limit on the whole command")
	fs.DurationVar(&c.serveTimeout, "serve-timeout", time.Minute, "give up when a (re)started server does not serve all instances within this")
	fs.DurationVar(&c.stopTimeout, "stop-timeout", time.Minute, "SIGKILL a server still running this long after SIGTERM")
	fs.DurationVar(&c.requestLimit, "request-timeout", 30*time.Second, "timeout of one request")
	fs.DurationVar(&c.poll, "poll", 2*time.Millisecond, "pause between GET /readyz attempts while the server starts")
	fs.Int64Var(&c.maxErrors, "max-errors", 100, "abort the load after this many failed registrations")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result as one JSON line on stdout (and the readable form on stderr)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.env = env
	if c.bin == "" || c.dir == "" {
		return errors.New("fleet: --eurekad and --dir are required")
	}
	if c.instances < 1 || c.concurrency < 1 || c.timeout <= 0 || c.serveTimeout <= 0 || c.poll <= 0 {
		return errors.New("fleet: instances, concurrency, timeouts and poll must be positive")
	}
	var err error
	if c.bin, err = filepath.Abs(c.bin); err != nil {
		return err
	}

	f := newFleet(c)
	defer guardServers("fleet", c.timeout, f.killAll)()

	res, err := f.run()
	f.killAll()
	if res != nil {
		if c.jsonOut {
			printFleet(os.Stderr, res)
			if jerr := json.NewEncoder(os.Stdout).Encode(res); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			printFleet(os.Stdout, res)
		}
	}
	return err
}

// fleet is one fleet measurement.
type fleet struct {
	cfg    fleetConfig
	client *http.Client
	tr     *http.Transport

	mu    sync.Mutex
	procs []*serverProc
}

func newFleet(c fleetConfig) *fleet {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2*c.concurrency + 4,
		MaxIdleConnsPerHost: 2*c.concurrency + 4,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // gzip is asked for and inflated explicitly
		ReadBufferSize:      64 << 10,
		WriteBufferSize:     16 << 10,
	}
	return &fleet{cfg: c, tr: tr, client: &http.Client{Transport: tr, Timeout: c.requestLimit}}
}

// killAll SIGKILLs every server still running.
func (f *fleet) killAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.procs {
		p.kill()
	}
	f.tr.CloseIdleConnections()
}

func (f *fleet) run() (*Result, error) {
	c := f.cfg
	res := &Result{Label: c.label, Scenario: "fleet", Concurrency: c.concurrency, Instances: c.instances,
		Fleet: &FleetResult{Env: c.env}}
	fr := res.Fleet
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()

	p1, err := f.start(ctx, 1)
	if err != nil {
		return nil, err
	}
	res.Target = p1.base
	// Load.
	t0 := time.Now()
	ok, errs := f.load(ctx, p1.base)
	fr.LoadSec = time.Since(t0).Seconds()
	fr.LoadRPS = float64(ok) / fr.LoadSec
	res.Requests = ok + sumCounts(errs)
	for _, v := range errs {
		res.Errors += v
	}
	if len(errs) > 0 {
		res.ErrorDetail = errs
		return res, fmt.Errorf("fleet: %d of %d registrations failed", res.Errors, c.instances)
	}
	// A full fetch, so the cache holds the payload as it does on a server
	// clients poll.
	fetch, err := f.fetchAllUntil(ctx, p1, p1.start)
	if err != nil {
		return res, err
	}
	fr.FetchMs = ms(fetch.took)
	fr.FetchGzipBytes, fr.FetchPlainBytes = fetch.gzipBytes, fetch.plainBytes
	if fr.Memory, err = f.settleMemory(ctx, p1); err != nil {
		return res, err
	}
	if !c.restart {
		_, err := f.stop(p1)
		return res, err
	}
	stopTook, err := f.stop(p1)
	fr.StopMs = ms(stopTook)
	if err != nil {
		return res, err
	}

	// Restart on the same data.
	r := &RestartResult{}
	fr.Restart = r
	p2, err := f.spawn(2)
	if err != nil {
		return res, err
	}
	listening, err := f.waitReady(ctx, p2)
	if err != nil {
		return res, err
	}
	r.ListeningMs = ms(listening)
	fetch, err = f.fetchAllUntil(ctx, p2, p2.start)
	if err != nil {
		return res, err
	}
	r.ServingMs = ms(fetch.at)
	r.FetchMs = ms(fetch.took)
	r.Fetches = fetch.attempts
	lg := p2.log.snapshot()
	r.RestoredLogMs, r.ServingLogMs = ms(lg.restoredAt), ms(lg.servingAt)
	r.RestoreTookMs, r.RestoredInstances = ms(lg.took), lg.instances
	if r.Memory, err = f.settleMemory(ctx, p2); err != nil {
		return res, err
	}
	if _, err := f.stop(p2); err != nil {
		return res, err
	}
	if !lg.restoredSeen {
		return res, fmt.Errorf("fleet: the restarted server never logged \"registry restored\" (see %s)", p2.logPath)
	}
	return res, nil
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// start spawns server n and waits until it answers GET /readyz.
func (f *fleet) start(ctx context.Context, n int) (*serverProc, error) {
	p, err := f.spawn(n)
	if err != nil {
		return nil, err
	}
	if _, err := f.waitReady(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// spawn starts server n (1, 2) on a free loopback port, in the fleet's
// directory, its output in eurekad-N.log there.
func (f *fleet) spawn(n int) (*serverProc, error) {
	c := f.cfg
	addr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(c.dir, "eurekad-"+strconv.Itoa(n)+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// The log lines are parsed, so the text format is forced.
	cmd := eurekadCmd(c.bin, addr, c.dir, append(slices.Clip(c.env), "EUREKAD_LOG_FORMAT=text")...)
	lw := &logWatch{w: lf}
	cmd.Stdout, cmd.Stderr = lw, lw
	f.mu.Lock()
	defer f.mu.Unlock()
	start := time.Now()
	lw.start = start
	pr, err := startProc(cmd, func() { lf.Close() })
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("fleet: start %s: %w", c.bin, err)
	}
	p := &serverProc{proc: pr, base: "http://" + addr + "/eureka", root: "http://" + addr, logPath: logPath, log: lw, start: start}
	f.procs = append(f.procs, p)
	return p, nil
}

// waitReady polls GET /readyz until it answers 200 and returns the time
// since the process was started.
func (f *fleet) waitReady(ctx context.Context, p *serverProc) (time.Duration, error) {
	client := &http.Client{Transport: f.tr, Timeout: time.Second}
	err := p.proc.waitReady(ctx, client, p.root+"/readyz", f.cfg.serveTimeout, f.cfg.poll)
	switch {
	case errors.Is(err, errExitedEarly):
		return 0, fmt.Errorf("fleet: server exited before it was ready (%v); log %s:\n%s", p.err, p.logPath, p.log.tail())
	case err != nil:
		return 0, fmt.Errorf("fleet: %s/readyz %w", p.root, err)
	}
	return time.Since(p.start), nil
}

// load registers instances 0..N-1 with the configured workers and returns
// how many were acknowledged (204) and the failures by kind.
func (f *fleet) load(ctx context.Context, base string) (int64, map[string]int64) {
	c := f.cfg
	var next, okCount, failed atomic.Int64
	errs := errCounter{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && failed.Load() < c.maxErrors {
				i := int(next.Add(1)) - 1
				if i >= c.instances {
					return
				}
				s := specFor("", i, c.apps)
				body := appendRegisterBody(make([]byte, 0, 1280), &s, 1_700_000_000_000+int64(i))
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/apps/"+s.app, bytes.NewReader(body))
				if err != nil {
					panic(err) // generated ASCII URL
				}
				req.Header = jsonHeader.Clone()
				kind := ""
				resp, err := f.client.Do(req)
				if err != nil {
					kind = transportKind(err)
				} else {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusNoContent {
						kind = "status " + strconv.Itoa(resp.StatusCode)
					}
				}
				if kind == "" {
					okCount.Add(1)
					continue
				}
				failed.Add(1)
				mu.Lock()
				errs.add(kind)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) == 0 {
		return okCount.Load(), nil
	}
	if n := int64(c.instances) - okCount.Load() - failed.Load(); n > 0 {
		errs["not sent (load aborted)"] += n
	}
	return okCount.Load(), errs
}

// fetchResult is one full fetch that held every instance.
type fetchResult struct {
	at         time.Duration // end of the fetch, from the process start
	took       time.Duration // the fetch alone
	attempts   int
	gzipBytes  int64
	plainBytes int64
}

// fetchAllUntil fetches GET /apps as the Java client does (JSON, gzip)
// until an answer holds exactly instances 0..N-1, and times that answer's
// end from since. The body is checked after the clock is read, so decoding
// it is not counted.
func (f *fleet) fetchAllUntil(ctx context.Context, p *serverProc, since time.Time) (*fetchResult, error) {
	c := f.cfg
	deadline := time.Now().Add(c.serveTimeout)
	last := ""
	for attempt := 1; ; attempt++ {
		if p.exited() {
			return nil, fmt.Errorf("fleet: server exited (%v); log %s:\n%s", p.err, p.logPath, p.log.tail())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/apps", nil)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Accept-Encoding", "gzip")
		t0 := time.Now()
		resp, err := f.client.Do(req)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		end := time.Now()
		switch {
		case err != nil:
			last = err.Error()
		case resp.StatusCode != http.StatusOK:
			last = resp.Status
		case headCountsOther(body, resp.Header.Get("Content-Encoding") == "gzip", c.instances):
			// Not all there yet: the head's hash code says so without
			// decoding a gigabyte of JSON (at 1,000,000 instances that
			// took seconds and delayed the next poll by as much).
			last = "apps__hashcode counts fewer instances"
		default:
			n, plain, cerr := countFleet(body, resp.Header.Get("Content-Encoding") == "gzip", c.instances, c.apps)
			if cerr == nil && n == c.instances {
				return &fetchResult{at: end.Sub(since), took: end.Sub(t0), attempts: attempt,
					gzipBytes: int64(len(body)), plainBytes: plain}, nil
			}
			if cerr != nil {
				last = cerr.Error()
			} else {
				last = fmt.Sprintf("%d of %d instances", n, c.instances)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("fleet: GET %s/apps never held all %d instances within %v: %s", p.base, c.instances, c.serveTimeout, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countFleet decodes an Applications document and counts the fleet's
// instances in it; any other instance, or one twice, is an error.
func countFleet(body []byte, gz bool, n, apps int) (count int, plainBytes int64, err error) {
	r, err := inflated(bytes.NewReader(body), gz)
	if err != nil {
		return 0, 0, err
	}
	cr := &countingReader{r: r}
	var doc struct {
		Applications struct {
			Application []struct {
				Instance []struct {
					InstanceID string `json:"instanceId"`
				} `json:"instance"`
			} `json:"application"`
		} `json:"applications"`
	}
	if err := json.NewDecoder(cr).Decode(&doc); err != nil {
		return 0, 0, fmt.Errorf("not an Applications document: %w", err)
	}
	io.Copy(io.Discard, cr)
	want := make(map[string]bool, n)
	for i := range n {
		s := specFor("", i, apps)
		want[s.id] = true
	}
	for _, a := range doc.Applications.Application {
		for _, in := range a.Instance {
			if !want[in.InstanceID] {
				return 0, cr.n, fmt.Errorf("unexpected or repeated instance %q", in.InstanceID)
			}
			want[in.InstanceID] = false
			count++
		}
	}
	return count, cr.n, nil
}

// headCountsOther reports whether the document's hash code counts other
// than n instances (a document without one is left to countFleet).
func headCountsOther(body []byte, gz bool, n int) bool {
	c := hashCount(body, gz)
	return c >= 0 && c != n
}

// hashCount returns the number of instances the apps__hashcode at the
// head of an Applications document counts (STATUS_count_ pairs), or -1.
func hashCount(body []byte, gz bool) int {
	r, err := inflated(bytes.NewReader(body), gz)
	if err != nil {
		return -1
	}
	head := make([]byte, 4096)
	n, _ := io.ReadFull(r, head)
	head = head[:n]
	const key = `"apps__hashcode":"`
	i := bytes.Index(head, []byte(key))
	if i < 0 {
		return -1
	}
	v := head[i+len(key):]
	if j := bytes.IndexByte(v, '"'); j >= 0 {
		v = v[:j]
	} else {
		return -1
	}
	// "DOWN_2_OUT_OF_SERVICE_1_UP_998_": the numbers are the counts
	// (status names hold underscores, never digits).
	total := 0
	for _, f := range strings.Split(string(v), "_") {
		if c, err := strconv.Atoi(f); err == nil {
			total += c
		}
	}
	return total
}

// inflated reads r's plain bytes: r itself, or through gzip when gz.
func inflated(r io.Reader, gz bool) (io.Reader, error) {
	if !gz {
		return r, nil
	}
	return gzip.NewReader(r)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// settleMemory waits for the server to idle, then reads its memory.
func (f *fleet) settleMemory(ctx context.Context, p *serverProc) (*ProcMemory, error) {
	f.tr.CloseIdleConnections()
	select {
	case <-time.After(f.cfg.settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if p.exited() {
		return nil, fmt.Errorf("fleet: server exited (%v); log %s:\n%s", p.err, p.logPath, p.log.tail())
	}
	m, err := readProcMemory(p.cmd.Process.Pid)
	if err != nil {
		return nil, nil // not Linux: no figures, not a failure
	}
	return m, nil
}

// stop sends SIGTERM and waits for the exit, killing the server after the
// stop timeout. A server that did not exit cleanly is an error: its final
// flush may not have happened.
func (f *fleet) stop(p *serverProc) (time.Duration, error) {
	f.tr.CloseIdleConnections()
	t0 := time.Now()
	killed, err := p.proc.stop(f.cfg.stopTimeout)
	took := time.Since(t0)
	switch {
	case err != nil:
		return 0, err
	case killed:
		return took, fmt.Errorf("fleet: server still running %v after SIGTERM; killed", f.cfg.stopTimeout)
	case p.err != nil:
		return took, fmt.Errorf("fleet: server did not exit cleanly after SIGTERM: %v; log %s:\n%s", p.err, p.logPath, p.log.tail())
	}
	return took, nil
}

// serverProc is one eurekad process the fleet started.
type serverProc struct {
	*proc
	base    string // http://addr/eureka
	root    string // http://addr
	logPath string
	log     *logWatch
	start   time.Time
}

// logWatch copies the server's output to its log file and notes when the
// lines the fleet times appear.
type logWatch struct {
	w     io.Writer
	start time.Time

	mu      sync.Mutex
	partial []byte
	lines   []string // the last few, for error messages
	st      logState
}

// logState is what the log said, with times from the process start.
type logState struct {
	restoredSeen bool
	restoredAt   time.Duration
	took         time.Duration
	instances    int
	servingAt    time.Duration
}

var (
	reTook      = regexp.MustCompile(`\btook=(\S+)`)
	reInstances = regexp.MustCompile(`\binstances=(\d+)`)
)

func (l *logWatch) Write(b []byte) (int, error) {
	now := time.Since(l.start)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(b)
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]), now)
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 { // a runaway line: keep memory bounded
		l.partial = l.partial[:0]
	}
	return len(b), nil
}

func (l *logWatch) line(s string, now time.Duration) {
	if len(l.lines) >= 20 {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, s)
	switch {
	case strings.Contains(s, `msg="registry restored"`) && !l.st.restoredSeen:
		l.st.restoredSeen = true
		l.st.restoredAt = now
		if m := reTook.FindStringSubmatch(s); m != nil {
			l.st.took, _ = time.ParseDuration(m[1])
		}
		if m := reInstances.FindStringSubmatch(s); m != nil {
			l.st.instances, _ = strconv.Atoi(m[1])
		}
	case strings.Contains(s, "msg=serving ") && l.st.servingAt == 0:
		l.st.servingAt = now
	}
}

func (l *logWatch) snapshot() logState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

func (l *logWatch) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// readProcMemory reads VmRSS, VmHWM, RssAnon and RssFile (KiB) of pid.
func readProcMemory(pid int) (*ProcMemory, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &ProcMemory{}
	fields := map[string]*int64{"VmRSS:": &m.RSSKB, "VmHWM:": &m.HWMKB, "RssAnon:": &m.AnonKB, "RssFile:": &m.FileKB}
	sc := bufio.NewScanner(f)
	seen := 0
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 2 {
			continue
		}
		if p, ok := fields[fl[0]]; ok {
			if *p, err = strconv.ParseInt(fl[1], 10, 64); err != nil {
				return nil, err
			}
			seen++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if seen < 2 {
		return nil, errors.New("no VmRSS/VmHWM in /proc status")
	}
	return m, nil
}

// mb converts KiB to MB (10^6 bytes).
func mb(kib int64) float64 { return float64(kib) * 1024 / 1e6 }

func printFleet(w io.Writer, r *Result) {
	f := r.Fleet
	name := "fleet"
	if r.Label != "" {
		name = r.Label + " fleet"
	}
	fmt.Fprintf(w, "%s  %d instances  concurrency=%d  env=%s\n", name, r.Instances, r.Concurrency, strings.Join(f.Env, " "))
	fmt.Fprintf(w, "  load: %.1fs, %.0f registrations/s\n", f.LoadSec, f.LoadRPS)
	if f.FetchMs > 0 {
		fmt.Fprintf(w, "  first full fetch (JSON, gzip): %.0f ms, %d bytes gzip, %d plain\n", f.FetchMs, f.FetchGzipBytes, f.FetchPlainBytes)
	}
	printMem := func(what string, m *ProcMemory) {
		if m != nil {
			fmt.Fprintf(w, "  memory %s: VmRSS %.0f MB (anon %.0f, file %.0f), VmHWM %.0f MB\n",
				what, mb(m.RSSKB), mb(m.AnonKB), mb(m.FileKB), mb(m.HWMKB))
		}
	}
	printMem("idle after load and fetch", f.Memory)
	if f.StopMs > 0 {
		fmt.Fprintf(w, "  SIGTERM to exit: %.0f ms\n", f.StopMs)
	}
	if rs := f.Restart; rs != nil {
		fmt.Fprintf(w, "  restart: restored %d instances (took=%.0f ms, logged at %.0f ms), serving logged at %.0f ms\n",
			rs.RestoredInstances, rs.RestoreTookMs, rs.RestoredLogMs, rs.ServingLogMs)
		fmt.Fprintf(w, "  restart: listening (GET /readyz 200) at %.0f ms; all %d instances served at %.0f ms (that fetch %.0f ms, %d fetches)\n",
			rs.ListeningMs, r.Instances, rs.ServingMs, rs.FetchMs, rs.Fetches)
		printMem("after restart and fetch", rs.Memory)
	}
	if r.Errors == 0 {
		fmt.Fprintln(w, "  errors: 0")
		return
	}
	fmt.Fprintf(w, "  !!! ERRORS: %d !!!\n", r.Errors)
	for k, v := range r.ErrorDetail {
		fmt.Fprintf(w, "    %6d  %s\n", v, k)
	}
}
