package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// clusterConfig is the flags of "eurekabench cluster".
type clusterConfig struct {
	eurekad   string
	instances int
	interval  time.Duration
	duration  time.Duration
	env       envList
	// idleProbes is how many lone registrations measure the lag on the
	// idle cluster; lagOnly stops after them.
	idleProbes int
	lagOnly    bool
}

// ClusterResult is what "eurekabench cluster" measures.
type ClusterResult struct {
	Instances int `json:"instances"`
	// RegisterRate is registrations/s accepted by A; PropagateRate is
	// instances/s that reached both peers (N / time until B and C both
	// hold all N, counted from the first registration).
	RegisterRate  float64 `json:"register_per_s"`
	PropagateRate float64 `json:"propagated_per_s"`
	// Heartbeats/s driven at A during the CPU windows.
	HeartbeatRate float64 `json:"heartbeats_per_s"`
	// CPU (cores) of A standalone, A replicating to B and C, and B
	// applying A's batches, under the same heartbeat load.
	CPUStandalone float64 `json:"cpu_standalone"`
	CPUReplicate  float64 `json:"cpu_replicating"`
	CPUReceiver   float64 `json:"cpu_receiver"`
	// Lag of a change made on A until B serves it, during the load.
	LagP50 float64 `json:"lag_p50_ms"`
	LagP99 float64 `json:"lag_p99_ms"`
	Probes int     `json:"lag_probes"`
	// IdleLag is the lag of a lone registration on A, on an idle
	// cluster, until both B and C serve it.
	IdleLagP50 float64 `json:"idle_lag_p50_ms"`
	IdleLagP99 float64 `json:"idle_lag_p99_ms"`
	IdleProbes int     `json:"idle_lag_probes"`
}

func cmdCluster(args []string) error {
	var c clusterConfig
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.StringVar(&c.eurekad, "eurekad", "", "eurekad binary (required)")
	fs.IntVar(&c.instances, "instances", 20000, "instances registered and heartbeating")
	fs.DurationVar(&c.interval, "interval", 30*time.Second, "heartbeat interval of each instance")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "length of each CPU measurement window")
	fs.Var(&c.env, "env", "extra EUREKAD_X=y setting for every node (repeatable)")
	fs.IntVar(&c.idleProbes, "idle-probes", 100, "lone registrations timed on the idle cluster (0: none)")
	fs.BoolVar(&c.lagOnly, "lag-only", false, "measure only the idle lag: no standalone node, no fleet, no load")
	jsonOut := fs.Bool("json", false, "print the result as one JSON line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.eurekad == "" {
		return errors.New("cluster: --eurekad is required")
	}
	if c.lagOnly && c.idleProbes <= 0 {
		return errors.New("cluster: --lag-only needs --idle-probes above 0")
	}
	// The servers run in the temporary directory: a relative path would
	// name another binary there.
	abs, err := filepath.Abs(c.eurekad)
	if err != nil {
		return err
	}
	c.eurekad = abs
	res, err := runCluster(c)
	if err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("idle lag A→B,C p50 / p99      %.1f / %.1f ms (%d lone registrations)\n", res.IdleLagP50, res.IdleLagP99, res.IdleProbes)
	if c.lagOnly {
		return nil
	}
	fmt.Printf("instances                     %d\n", res.Instances)
	fmt.Printf("registrations on A            %.0f/s\n", res.RegisterRate)
	fmt.Printf("propagated to both peers      %.0f instances/s\n", res.PropagateRate)
	fmt.Printf("heartbeat load on A           %.0f/s\n", res.HeartbeatRate)
	fmt.Printf("lag A→B p50 / p99             %.1f / %.1f ms (%d probes)\n", res.LagP50, res.LagP99, res.Probes)
	fmt.Printf("CPU A standalone              %.3f cores\n", res.CPUStandalone)
	fmt.Printf("CPU A replicating to 2 peers  %.3f cores (replication: %.2f× serving)\n", res.CPUReplicate, (res.CPUReplicate-res.CPUStandalone)/res.CPUStandalone)
	fmt.Printf("CPU B applying A's batches    %.3f cores (%.2f× A's serving)\n", res.CPUReceiver, res.CPUReceiver/res.CPUStandalone)
	return nil
}

// benchNode is one eurekad process of the benchmark.
type benchNode struct {
	*proc
	base string
	pid  string
}

func startBenchNode(c clusterConfig, addr string, peers []string) (*benchNode, error) {
	cmd := eurekadCmd(c.eurekad, addr, os.TempDir(), append([]string{"EUREKAD_STORAGE_KIND=memory", "EUREKAD_LOG_LEVEL=warn",
		"EUREKAD_CLUSTER_PEERS=" + strings.Join(peers, ",")}, c.env...)...)
	cmd.Stderr = os.Stderr
	p, err := startProc(cmd, nil)
	if err != nil {
		return nil, err
	}
	n := &benchNode{proc: p, base: "http://" + addr + "/eureka/", pid: strconv.Itoa(cmd.Process.Pid)}
	if err := p.waitReady(context.Background(), http.DefaultClient, n.base+"apps", 20*time.Second, 20*time.Millisecond); err != nil {
		n.stop()
		return nil, fmt.Errorf("eurekad on %s did not start: %w", addr, err)
	}
	return n, nil
}

func (n *benchNode) stop() { n.proc.stop(10 * time.Second) }

func (n *benchNode) cpu() float64 {
	t, _ := readProcCPU(n.pid)
	return float64(t) / clockTick
}

var benchHTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func benchSend(method, url string, body []byte) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := benchHTTP.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d", method, url, resp.StatusCode)
	}
	return nil
}

// registerFleet registers instances 0..n-1 on node with 16 workers.
func registerFleet(node *benchNode, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				s := specFor("", i, 0)
				if err := benchSend("POST", node.base+"apps/"+s.app, appendRegisterBody(nil, &s, time.Now().UnixMilli())); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return nil
}

// heartbeat drives n instances' heartbeats at node at n/interval per
// second for d, and returns the rate achieved.
func heartbeat(ctx context.Context, node *benchNode, n int, interval, d time.Duration) float64 {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	ids := make(chan int, 1024)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range ids {
				s := specFor("", i, 0)
				if benchSend("PUT", node.base+"apps/"+s.app+"/"+s.id, nil) == nil {
					sent.Add(1)
				}
			}
		})
	}
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	perTick := float64(n) * float64(10*time.Millisecond) / float64(interval)
	due, i := 0.0, 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			due += perTick
			for ; due >= 1; due-- {
				select {
				case ids <- i % n:
					i++
				case <-ctx.Done():
					break loop
				}
			}
		}
	}
	tick.Stop()
	close(ids)
	wg.Wait()
	return float64(sent.Load()) / time.Since(start).Seconds()
}

// countOn returns how many instances node serves in GET apps.
func countOn(node *benchNode) int {
	req, _ := http.NewRequest("GET", node.base+"apps", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := benchHTTP.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return bytes.Count(b, []byte(`"instanceId":`))
}

func runCluster(c clusterConfig) (*ClusterResult, error) {
	res := &ClusterResult{Instances: c.instances}
	ctx := context.Background()

	// 1. Standalone A: the CPU of serving the heartbeat load.
	if !c.lagOnly {
		addr, err := freeLoopback()
		if err != nil {
			return nil, err
		}
		solo, err := startBenchNode(c, addr, nil)
		if err != nil {
			return nil, err
		}
		if err := registerFleet(solo, c.instances); err != nil {
			solo.stop()
			return nil, err
		}
		cpu0, t0 := solo.cpu(), time.Now()
		heartbeat(ctx, solo, c.instances, c.interval, c.duration)
		res.CPUStandalone = (solo.cpu() - cpu0) / time.Since(t0).Seconds()
		solo.stop()
	}

	// 2. A, B, C replicating.
	var addrs, urls []string
	for range 3 {
		a, err := freeLoopback()
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
		urls = append(urls, "http://"+a+"/eureka/")
	}
	var nodes []*benchNode
	defer func() {
		for _, n := range nodes {
			n.stop()
		}
	}()
	for _, a := range addrs {
		n, err := startBenchNode(c, a, urls)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	a, b, cc := nodes[0], nodes[1], nodes[2]

	// The lag of lone changes, before any load.
	if c.idleProbes > 0 {
		lags, err := idleLag(a, []*benchNode{b, cc}, c.idleProbes)
		if err != nil {
			return nil, err
		}
		res.IdleProbes = len(lags)
		res.IdleLagP50 = ms(exactQuantile(lags, 0.5))
		res.IdleLagP99 = ms(exactQuantile(lags, 0.99))
	}
	if c.lagOnly {
		return res, nil
	}

	start := time.Now()
	if err := registerFleet(a, c.instances); err != nil {
		return nil, err
	}
	res.RegisterRate = float64(c.instances) / time.Since(start).Seconds()
	for countOn(b) < c.instances || countOn(cc) < c.instances {
		if time.Since(start) > 5*time.Minute {
			return nil, errors.New("the peers did not receive every instance within 5 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.PropagateRate = float64(c.instances) / time.Since(start).Seconds()

	// CPU under the heartbeat load alone.
	cpuA, cpuB, t1 := a.cpu(), b.cpu(), time.Now()
	res.HeartbeatRate = heartbeat(ctx, a, c.instances, c.interval, c.duration)
	el := time.Since(t1).Seconds()
	res.CPUReplicate = (a.cpu() - cpuA) / el
	res.CPUReceiver = (b.cpu() - cpuB) / el

	// Lag, in a second window of the same load (the probes' polling would
	// count as B's CPU): a metadata change on A, replicated as a
	// Register, until B's GET apps/{app}/{id} shows it.
	probe := specFor("probe-", 0, 0)
	if err := benchSend("POST", a.base+"apps/"+probe.app, appendRegisterBody(nil, &probe, time.Now().UnixMilli())); err != nil {
		return nil, err
	}
	var lags []time.Duration
	probeCtx, stopProbes := context.WithCancel(ctx)
	probesDone := make(chan struct{})
	go func() {
		defer close(probesDone)
		for seq := 0; probeCtx.Err() == nil; seq++ {
			v := "v" + strconv.Itoa(seq)
			t := time.Now()
			if benchSend("PUT", a.base+"apps/"+probe.app+"/"+probe.id+"/metadata?probe="+v, nil) != nil {
				continue
			}
			for probeCtx.Err() == nil && time.Since(t) < 30*time.Second {
				req, _ := http.NewRequest("GET", b.base+"apps/"+probe.app+"/"+probe.id, nil)
				req.Header.Set("Accept", "application/json")
				resp, err := benchHTTP.Do(req)
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if bytes.Contains(body, []byte(`"probe":"`+v+`"`)) {
						lags = append(lags, time.Since(t))
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	heartbeat(ctx, a, c.instances, c.interval, c.duration)
	stopProbes()
	<-probesDone
	slices.Sort(lags)
	res.Probes = len(lags)
	if len(lags) > 0 {
		res.LagP50 = ms(exactQuantile(lags, 0.5))
		res.LagP99 = ms(exactQuantile(lags, 0.99))
	}
	return res, nil
}

// idleLag registers n instances on a one at a time, each once the
// previous one is served everywhere and the peers' pipes are idle again,
// and returns, sorted, how long each took from the register request until
// every one of others served it (GET apps/{app}/{id}).
func idleLag(a *benchNode, others []*benchNode, n int) ([]time.Duration, error) {
	lags := make([]time.Duration, 0, n)
	for i := range n {
		s := specFor("idle-", i, 0)
		body := appendRegisterBody(nil, &s, time.Now().UnixMilli())
		t := time.Now()
		if err := benchSend("POST", a.base+"apps/"+s.app, body); err != nil {
			return nil, err
		}
		var wg sync.WaitGroup
		errs := make([]error, len(others))
		for j, o := range others {
			wg.Go(func() { errs[j] = waitServed(o.base+"apps/"+s.app+"/"+s.id, t) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		lags = append(lags, time.Since(t))
		// Let the peers' pipes go idle, well past the pace of a busy
		// pipe (cluster.batch_interval): the next change must be lone.
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(lags)
	return lags, nil
}

// waitServed polls url every 200 µs until it answers 200, for at most
// 10 s from start.
func waitServed(url string, start time.Time) error {
	for time.Since(start) < 10*time.Second {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept", "application/json")
		if resp, err := benchHTTP.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return fmt.Errorf("%s not served within 10 s", url)
}
