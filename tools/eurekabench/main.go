// Command eurekabench is eurekad's load generator and the gorilla/mux
// baseline it is compared with.
//
// Subcommands:
//
//	eurekabench baseline --addr 127.0.0.1:PORT
//	    A bare gorilla/mux server with Eureka's routes and the least work per
//	    request: the comparison point for eurekad.
//	eurekabench run --target http://127.0.0.1:PORT/eureka --scenario NAME [--duration 10s] [--concurrency N] [--json]
//	    Load one server with one scenario: renew, register, fetch-full, delta
//	    or visibility. Prints requests/s, p50/p99 latency, bytes/s and errors.
//	eurekabench summary FILE...
//	    Turn the JSON lines of many runs into the Markdown table of
//	    docs/benchmarks.md: medians per scenario and server, ratios, targets.
//	eurekabench fleet --eurekad BIN --dir DIR [--instances 100000] [--env EUREKAD_X=y]... [--restart=false]
//	    Start eurekad, register N instances, read its memory after a full
//	    fetch, stop it with SIGTERM, start it again on the same data and time
//	    it to listening and to serving all N.
//	eurekabench storage-summary FILE...
//	    The storage comparison's tables: each store's req/s against the
//	    memory store's, restart times and memory, with the targets.
//	eurekabench redis-wait --addr 127.0.0.1:PORT
//	    Wait until a redis-server answers PING.
//	eurekabench freeport
//	    Print a free loopback TCP port.
//	eurekabench wait --target URL [--timeout 30s]
//	    Wait until GET {target}/apps answers 200.
//	eurekabench quiet [--max-busy 10] [--timeout 60s]
//	    Wait until other processes leave the CPUs nearly idle.
//	eurekabench cluster --eurekad BIN [--instances 20000] [--interval 30s] [--duration 30s] [--idle-probes 100] [--lag-only] [--env EUREKAD_X=y]...
//	    Start eurekad standalone, then three replicating eurekads; measure
//	    the lag of lone registrations on the idle cluster until both peers
//	    serve them (--lag-only stops there), how fast registrations reach
//	    both peers, the lag of a change from A to B under load and the CPU
//	    replication costs against serving the same heartbeat load.
//	eurekabench scale --eurekad BIN [--instances 10000] [--churn 0,100,300] [--store memory|bolt] [--max-rate R] [--json]
//	    Start eurekad, register N instances, time a restart from bolt and a
//	    new peer's start-up sync, then run the realistic fleet open loop
//	    (heartbeat and delta poll per instance per interval, full fetches,
//	    churn) at each change rate: latency from schedule, polls served,
//	    freshness of probe changes, server CPU split and memory.
//	eurekabench scale-summary FILE...
//	    The Markdown table of scale results (JSON lines).
//
// The tool only ever talks to loopback addresses, and every loop in it is
// bounded by time and count, so it always stops by itself.
// scripts/bench.sh drives it; docs/benchmarks.md describes the method. It
// is a module of its own, outside the product (see go.mod).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const usage = `usage: eurekabench <command> [flags]

commands:
  baseline   serve the gorilla/mux comparison baseline
  run        load a server with one scenario
  summary    summarise JSON results as a Markdown table
  fleet      register N instances in an eurekad it starts; memory; restart time
  storage-summary
             summarise the storage comparison (stores against memory, fleet)
  redis-wait wait until a redis-server answers PING
  freeport   print a free loopback port
  wait       wait until a server answers GET /apps
  quiet      wait until other processes leave the CPUs nearly idle
  cluster    replication throughput, lag and CPU cost in a 3-node cluster
  scale      a realistic fleet of N instances, open loop, under churn
  scale-summary
             the scale runs' Markdown table

Run "eurekabench <command> -h" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "baseline":
		err = cmdBaseline(args)
	case "run":
		err = cmdRun(args)
	case "summary":
		err = cmdSummary(args)
	case "fleet":
		err = cmdFleet(args)
	case "storage-summary":
		err = cmdStorageSummary(args)
	case "redis-wait":
		err = cmdRedisWait(args)
	case "freeport":
		err = cmdFreeport()
	case "wait":
		err = cmdWait(args)
	case "quiet":
		err = cmdQuiet(args)
	case "cluster":
		err = cmdCluster(args)
	case "scale":
		err = cmdScale(args)
	case "scale-summary":
		err = cmdScaleSummary(args)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "eurekabench: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "eurekabench:", err)
		if errors.Is(err, errDisturbed) {
			os.Exit(4)
		}
		os.Exit(1)
	}
}

// cmdFreeport prints a port the kernel considers free on 127.0.0.1. Another
// process could take it before it is used; the script's wait step catches
// that.
func cmdFreeport() error {
	addr, err := freeLoopback()
	if err != nil {
		return err
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	fmt.Println(port)
	return nil
}

// checkBasicAuth refuses a --basic-auth value that is not USER:PASS ("" is
// none).
func checkBasicAuth(v string) error {
	if v != "" && !strings.Contains(v, ":") {
		return fmt.Errorf("--basic-auth %q is not USER:PASS", v)
	}
	return nil
}

// cmdWait polls GET {target}/apps until it answers 200 or the timeout passes.
func cmdWait(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	target := fs.String("target", "http://127.0.0.1:8761/eureka", "Eureka API base URL (loopback only)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	basicAuth := fs.String("basic-auth", "", "USER:PASS to send, for a server that authenticates reads")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkBasicAuth(*basicAuth); err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	u := strings.TrimSuffix(*target, "/") + "/apps"
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if err := checkLoopback(req.URL.Host); err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if user, pass, ok := strings.Cut(*basicAuth, ":"); ok {
		req.SetBasicAuth(user, pass)
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	last := "no answer"
	for {
		var ok bool
		if ok, last = probe(client, req.WithContext(ctx)); ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait: %s not ready after %v: %s", u, *timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
