package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The fleet tests start this test binary as a stand-in for eurekad: with
// fakeEurekadEnv set, TestMain runs fakeEurekad instead of the tests. It
// speaks just enough of eurekad (register, GET /apps with gzip, /readyz, the
// "registry restored" and "serving" log lines, SIGTERM) and keeps its
// registry in a file in its working directory unless its store is memory.
const fakeEurekadEnv = "EUREKABENCH_TEST_FAKE_EUREKAD"

func TestMain(m *testing.M) {
	if os.Getenv(fakeEurekadEnv) == "1" {
		if err := fakeEurekad(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "fake eurekad:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeEurekad(args []string) error {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	persist := os.Getenv("EUREKAD_STORAGE_KIND") != "memory"
	const file = "fake-registry.json"
	var mu sync.Mutex
	ids := map[string]string{} // id -> app
	start := time.Now()
	if persist {
		if b, err := os.ReadFile(file); err == nil {
			if err := json.Unmarshal(b, &ids); err != nil {
				return err
			}
		}
		// eurekad logs with slog's text handler.
		fmt.Fprintf(os.Stderr, "time=%s level=INFO msg=\"registry restored\" store=fake instances=%d skipped=0 took=%v\n",
			time.Now().Format(time.RFC3339), len(ids), time.Since(start).Round(time.Millisecond))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "time=%s level=INFO msg=serving addr=%s\n", time.Now().Format(time.RFC3339), ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"status":"ready"}`) })
	mux.HandleFunc("POST /eureka/apps/{app}", func(w http.ResponseWriter, r *http.Request) {
		var in baselineInstance
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Instance.InstanceID == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		ids[in.Instance.InstanceID] = in.Instance.App
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /eureka/apps", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		byApp := map[string][]string{}
		for id, app := range ids {
			byApp[app] = append(byApp[app], id)
		}
		mu.Unlock()
		var b bytes.Buffer
		b.WriteString(`{"applications":{"application":[`)
		first := true
		for app, list := range byApp {
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&b, `{"name":%q,"instance":[`, app)
			sort.Strings(list)
			for i, id := range list {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"instanceId":%q,"app":%q}`, id, app)
			}
			b.WriteString("]}")
		}
		b.WriteString("]}}")
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipBytes(b.Bytes()))
			return
		}
		w.Write(b.Bytes())
	})
	srv := &http.Server{Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	if persist && os.Getenv("FAKE_FORGET") != "1" {
		mu.Lock()
		b, _ := json.Marshal(ids)
		mu.Unlock()
		return os.WriteFile(file, b, 0o600)
	}
	return nil
}

// linuxOnly skips a test of process handling or /proc figures elsewhere
// (CI runs on Linux).
func linuxOnly(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the fleet's memory figures and process handling are exercised on Linux")
	}
}

func fakeFleetConfig(t *testing.T, env ...string) fleetConfig {
	t.Helper()
	linuxOnly(t)
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return fleetConfig{bin: bin, dir: t.TempDir(), env: append([]string{fakeEurekadEnv + "=1"}, env...),
		label: "fake", instances: 300, apps: 50, concurrency: 8, restart: true, settle: 10 * time.Millisecond,
		timeout: time.Minute, serveTimeout: 5 * time.Second, stopTimeout: 10 * time.Second,
		requestLimit: 5 * time.Second, poll: 2 * time.Millisecond, maxErrors: 10}
}

// TestFleetRestart loads a fake eurekad, stops it, restarts it and expects
// the restart timed from the process start: listening before serving, the
// logged restore parsed, memory read.
func TestFleetRestart(t *testing.T) {
	c := fakeFleetConfig(t)
	f := newFleet(c)
	defer f.killAll()
	res, err := f.run()
	if err != nil {
		t.Fatal(err)
	}
	fr := res.Fleet
	if res.Errors != 0 || res.Requests != 300 || fr.LoadRPS <= 0 || fr.FetchGzipBytes == 0 || fr.FetchPlainBytes <= fr.FetchGzipBytes {
		t.Errorf("load/fetch: %+v %+v", res, fr)
	}
	if fr.Memory == nil || fr.Memory.RSSKB <= 0 || fr.Memory.HWMKB < fr.Memory.RSSKB {
		t.Errorf("memory %+v", fr.Memory)
	}
	r := fr.Restart
	if r == nil {
		t.Fatal("no restart figures")
	}
	if r.RestoredInstances != 300 || r.ListeningMs <= 0 || r.ServingMs < r.ListeningMs || r.Fetches < 1 ||
		r.RestoredLogMs <= 0 || r.ServingLogMs < r.RestoredLogMs || r.Memory == nil {
		t.Errorf("restart %+v", r)
	}
	// Both servers are gone and their logs kept.
	for _, p := range f.procs {
		if !p.exited() {
			t.Errorf("server %d still running", p.cmd.Process.Pid)
		}
	}
	for _, n := range []string{"eurekad-1.log", "eurekad-2.log"} {
		if b, err := os.ReadFile(filepath.Join(c.dir, n)); err != nil || !bytes.Contains(b, []byte("msg=serving")) {
			t.Errorf("%s: %v %q", n, err, b)
		}
	}
	var out bytes.Buffer
	printFleet(&out, res)
	if !strings.Contains(out.String(), "all 300 instances served at") {
		t.Errorf("printed:\n%s", out.String())
	}
}

// TestFleetNoRestart is the memory store's case: load, fetch, memory, stop.
func TestFleetNoRestart(t *testing.T) {
	c := fakeFleetConfig(t, "EUREKAD_STORAGE_KIND=memory")
	c.restart = false
	f := newFleet(c)
	defer f.killAll()
	res, err := f.run()
	if err != nil {
		t.Fatal(err)
	}
	if res.Fleet.Restart != nil || res.Fleet.Memory == nil || len(f.procs) != 1 || !f.procs[0].exited() {
		t.Errorf("%+v, %d servers", res.Fleet, len(f.procs))
	}
}

// TestFleetLostRegistrations fails when the restarted server does not serve
// every instance it acknowledged, within the serve timeout.
func TestFleetLostRegistrations(t *testing.T) {
	c := fakeFleetConfig(t, "FAKE_FORGET=1")
	c.serveTimeout = 500 * time.Millisecond
	f := newFleet(c)
	defer f.killAll()
	_, err := f.run()
	if err == nil || !strings.Contains(err.Error(), "never held all 300 instances") {
		t.Fatalf("err %v", err)
	}
}

// TestFleetServerFailsToStart fails at once, not at the timeout, when the
// server exits before it is ready.
func TestFleetServerFailsToStart(t *testing.T) {
	c := fakeFleetConfig(t)
	c.bin = "/bin/false" // exits at once, whatever its arguments
	f := newFleet(c)
	defer f.killAll()
	if _, err := f.run(); err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("err %v", err)
	}
}

// TestCountFleet accepts exactly the fleet and rejects strangers and twins.
func TestCountFleet(t *testing.T) {
	doc := func(ids ...string) []byte {
		var b strings.Builder
		b.WriteString(`{"applications":{"application":[{"name":"X","instance":[`)
		for i, id := range ids {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"instanceId":` + strconv.Quote(id) + `}`)
		}
		b.WriteString(`]}]}}`)
		return []byte(b.String())
	}
	a, b := specFor("", 0, 50).id, specFor("", 1, 50).id
	if n, plain, err := countFleet(gzipBytes(doc(a, b)), true, 2, 50); err != nil || n != 2 || plain != int64(len(doc(a, b))) {
		t.Errorf("full: %d %d %v", n, plain, err)
	}
	if n, _, err := countFleet(doc(a), false, 2, 50); err != nil || n != 1 {
		t.Errorf("partial: %d %v", n, err)
	}
	if _, _, err := countFleet(doc(a, a), false, 2, 50); err == nil {
		t.Error("a repeated instance passed")
	}
	if _, _, err := countFleet(doc(a, "other"), false, 2, 50); err == nil {
		t.Error("a stranger passed")
	}
	if _, _, err := countFleet([]byte("<xml/>"), false, 2, 50); err == nil {
		t.Error("not JSON passed")
	}
}

// TestLogWatch parses eurekad's restore line, split across writes.
func TestLogWatch(t *testing.T) {
	var sink bytes.Buffer
	l := &logWatch{w: &sink, start: time.Now()}
	line := `time=2026-11-22T08:26:14.655Z level=INFO msg="registry restored" store=bolt instances=100000 skipped=0 took=2.104s` + "\n" +
		`time=2026-11-22T08:26:14.656Z level=INFO msg=serving addr=127.0.0.1:1 storage=bolt` + "\n"
	for _, part := range []string{line[:40], line[40:130], line[130:]} {
		l.Write([]byte(part))
	}
	st := l.snapshot()
	if !st.restoredSeen || st.instances != 100000 || st.took != 2104*time.Millisecond || st.servingAt == 0 || sink.String() != line {
		t.Errorf("%+v", st)
	}
}

// TestReadProcMemory reads this process's own figures.
func TestReadProcMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	m, err := readProcMemory(os.Getpid())
	if err != nil || m.RSSKB <= 0 || m.HWMKB < m.RSSKB || m.AnonKB <= 0 {
		t.Errorf("%+v %v", m, err)
	}
}

// TestStoreCPU checks a store pid's CPU is reported and not counted as
// other processes'.
func TestStoreCPU(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc")
	}
	pid := os.Getpid()
	a := sampleCPUWith(0, pid)
	for i := 0; i < 3e6; i++ {
		_ = strconv.Itoa(i)
	}
	b := sampleCPUWith(0, pid)
	if !a.ok || !b.ok || b.store < a.store {
		t.Fatalf("%+v %+v", a, b)
	}
	if u := cpuUse(a, b, 0); u == nil || u.StoreSec < 0 {
		t.Errorf("%+v", u)
	}
}

// TestRedisWait answers a fake Redis's PONG and times out on silence.
func TestRedisWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if l, _ := bufio.NewReader(c).ReadString('\n'); l == "PING\r\n" {
					io.WriteString(c, "+PONG\r\n")
				}
			}()
		}
	}()
	if err := cmdRedisWait([]string{"--addr", ln.Addr().String(), "--timeout", "2s"}); err != nil {
		t.Fatal(err)
	}
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := free.Addr().String()
	free.Close()
	if err := cmdRedisWait([]string{"--addr", addr, "--timeout", "100ms"}); err == nil {
		t.Error("no server, no error")
	}
	if err := cmdRedisWait([]string{"--addr", "10.1.2.3:6379"}); err == nil {
		t.Error("a non-loopback address was accepted")
	}
}

// TestStorageSummary checks medians, ratios to memory, the targets at the
// judged concurrency, and the fleet tables.
func TestStorageSummary(t *testing.T) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	cpu := func(s float64) *CPUUse { return &CPUUse{ServerSec: s} }
	for _, r := range []Result{
		{Label: "memory", Scenario: "register", Concurrency: 64, RPS: 30000, Requests: 1000, CPU: cpu(0.04)},
		{Label: "memory", Scenario: "register", Concurrency: 64, RPS: 20000, Requests: 1000, CPU: cpu(0.05)},
		{Label: "memory", Scenario: "register", Concurrency: 64, RPS: 25000, Requests: 1000, CPU: cpu(0.06)},
		{Label: "bolt-sync", Scenario: "register", Concurrency: 64, RPS: 14000, Requests: 1000, CPU: cpu(0.1)},
		{Label: "bolt-async", Scenario: "register", Concurrency: 64, RPS: 21000, Requests: 1000},
		{Label: "boltiso-sync", Scenario: "register", Concurrency: 64, RPS: 11500, Requests: 1000},
		{Label: "redis-sync-always", Scenario: "register", Concurrency: 64, RPS: 5000, Requests: 1000,
			CPU: &CPUUse{ServerSec: 0.1, StoreSec: 0.02, OtherPct: 30}},
		{Label: "memory", Scenario: "register", Concurrency: 16, RPS: 20000},
		{Label: "bolt-sync", Scenario: "register", Concurrency: 16, RPS: 4000},
		{Label: "memory", Scenario: "renew", Concurrency: 16, RPS: 40000},
		{Label: "bolt-sync", Scenario: "renew", Concurrency: 16, RPS: 37000, Errors: 2, Requests: 1000},
		{Label: "bolt", Scenario: "fleet", Instances: 100000, Concurrency: 64, Fleet: &FleetResult{LoadRPS: 12000,
			Memory:  &ProcMemory{RSSKB: 600000, HWMKB: 610000, AnonKB: 500000, FileKB: 100000},
			Restart: &RestartResult{ListeningMs: 2100, ServingMs: 3040, RestoreTookMs: 2090, FetchMs: 920}}},
		{Label: "memory", Scenario: "fleet", Instances: 100000, Concurrency: 64, Fleet: &FleetResult{LoadRPS: 20000,
			Memory: &ProcMemory{RSSKB: 400000, HWMKB: 420000}}},
		{Label: "redis", Scenario: "fleet", Instances: 100000, Concurrency: 64, Fleet: &FleetResult{
			Restart: &RestartResult{ListeningMs: 1500, ServingMs: 2500}}},
	} {
		enc.Encode(r)
	}
	rs, err := readResults(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	writeStorageSummary(&out, rs, "memory")
	s := out.String()
	for _, want := range []string{
		"| register c=64 | memory | 25000 | — | reference | — | 50.0 |",
		// 14000/s is 0.56× but under the 15k/s floor.
		"| register c=64 | bolt-sync | 14000 | 0.56× | ≥ 15000/s and ≥ 0.4× | **MISSED** | 100.0 |",
		"| register c=64 | bolt-async | 21000 | 0.84× | ≥ 0.8× | met | — |",
		// Isolated bolt is judged against bolt in process: 11500/14000.
		"| register c=64 | boltiso-sync | 11500 | 0.46× | ≥ 0.8× bolt-sync | met (0.82×) | — |",
		// CPU-bound ratio: memory's 50 µs over (100 + 20) µs.
		"| register c=64 | redis-sync-always | 5000 | 0.20× | — | — | 100.0 | 20.0 | 0.42× |",
		"| register c=64 | bolt-sync | 14000 | 0.56× | ≥ 15000/s and ≥ 0.4× | **MISSED** | 100.0 | — | 0.50× |",
		"| register c=16 | bolt-sync | 4000 | 0.20× | judged at c=64 | — |",
		"| renew c=16 | bolt-sync | 37000 | 0.93× | ≥ 0.95× | **MISSED** (runs had errors) |",
		"other processes used up to 30% of the machine",
		"| bolt | 100000 | 2.10 s | 3.04 s | ≤ 2 s | **MISSED** | 2.09 s | 920 ms |",
		"| redis | 100000 | 1.50 s | 2.50 s | — | — |",
		"| memory | 100000 | 410 (0 + 0) | 430 | ≤ 500 MB | met |",
		"| bolt | 100000 | 614 (512 + 102) | 625 | ≤ 500 MB | **MISSED** |",
		"| redis | 100000 | — | — | — | — |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	// register rows come before renew rows, c=64 before c=16, memory first.
	if i, j, k := strings.Index(s, "| register c=64 | memory"), strings.Index(s, "| register c=16 |"), strings.Index(s, "| renew c=16 |"); !(i >= 0 && i < j && j < k) {
		t.Errorf("row order:\n%s", s)
	}
	if strings.Index(s, "| memory | 100000 |") > strings.Index(s, "| bolt | 100000 | 614") {
		t.Errorf("fleet order:\n%s", s)
	}
}

// TestEnvList accepts repeated and space-separated settings only.
func TestEnvList(t *testing.T) {
	var e envList
	if err := e.Set("A=1 B=2"); err != nil {
		t.Fatal(err)
	}
	if err := e.Set("C="); err != nil {
		t.Fatal(err)
	}
	if err := e.Set("oops"); err == nil {
		t.Error("a word without = was accepted")
	}
	if strings.Join(e, ",") != "A=1,B=2,C=" {
		t.Errorf("%v", e)
	}
}

func TestHashCount(t *testing.T) {
	body := []byte(`{"applications":{"versions__delta":"1","apps__hashcode":"DOWN_2_OUT_OF_SERVICE_1_UP_998_","application":[]}}`)
	if n := hashCount(body, false); n != 1001 {
		t.Fatalf("hashCount = %d, want 1001", n)
	}
	if n := hashCount([]byte(`{"applications":{}}`), false); n != -1 {
		t.Fatalf("hashCount without a hash code = %d, want -1", n)
	}
}
