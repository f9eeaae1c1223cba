//go:build linux

package cluster

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/proctest"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Storm settings: 5,000 instances heartbeating (every 10 s, three times
// Eureka's rate), one peer down for 60 s.
const (
	stormInstances = 5000
	stormInterval  = 10 * time.Second
	stormDown      = 60 * time.Second
	stormQueue     = 2000
)

// driver sends heartbeats for instances spread over nodes, with a few
// workers and keep-alive connections, as a fleet of clients would.
type driver struct {
	hc    *http.Client
	homes []*node
}

func (d *driver) each(t *testing.T, f func(n *node, i int) error) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < stormInstances; i += 8 {
				if err := f(d.homes[i%len(d.homes)], i); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func (d *driver) send(method, url string, body []byte) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d", method, url, resp.StatusCode)
	}
	return nil
}

func stormID(i int) string { return "storm-" + strconv.Itoa(i) }

// 5,000 instances heartbeat on A and C while B is down for 60 s: the
// survivors' replication queues for B stay within the configured bound
// (overflow dropped and counted), each survivor uses less than one core,
// and B, restarted, catches up with the whole registry.
func TestStormWithPeerDown(t *testing.T) {
	addrs := freeAddrs(t, 3)
	env := []string{"EUREKAD_LOG_LEVEL=info", "EUREKAD_CLUSTER_QUEUE_SIZE=" + strconv.Itoa(stormQueue)}
	nodes := startCluster(t, addrs, env...)
	a, b, c := nodes[0], nodes[1], nodes[2]
	d := &driver{
		hc:    &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
		homes: []*node{a, c},
	}
	start := time.Now()
	d.each(t, func(n *node, i int) error {
		in := instance("STORM", stormID(i))
		return d.send("POST", n.Base+"apps/STORM", eureka.AppendInstanceJSONWrapped(nil, in))
	})
	t.Logf("registered %d instances in %v", stormInstances, time.Since(start).Round(time.Millisecond))
	all := func(n *node) error {
		app, err := n.c.Application(bg, "STORM")
		if err == nil && len(app.Instances) != stormInstances {
			err = fmt.Errorf("%s has %d instances", n.Addr, len(app.Instances))
		}
		return err
	}
	waitAll(t, nodes, 30*time.Second, "all nodes have the fleet", all)

	b.Kill()
	cpuA0, cpuC0, t0 := proctest.CPU(t, a.PID()).Seconds(), proctest.CPU(t, c.PID()).Seconds(), time.Now()
	for time.Since(t0) < stormDown {
		round := time.Now()
		d.each(t, func(n *node, i int) error {
			return d.send("PUT", n.Base+"apps/STORM/"+stormID(i), nil)
		})
		if left := stormInterval - time.Since(round); left > 0 && time.Since(t0)+left < stormDown {
			time.Sleep(left) // the storm's heartbeat interval: the load under test
		} else if left > 0 {
			break
		}
	}
	wall := time.Since(t0).Seconds()
	for _, m := range []struct {
		n    *node
		cpu0 float64
	}{{a, cpuA0}, {c, cpuC0}} {
		cores := (proctest.CPU(t, m.n.PID()).Seconds() - m.cpu0) / wall
		t.Logf("%s used %.2f cores while B was down", m.n.Addr, cores)
		if cores >= 1.0 {
			t.Errorf("%s used %.2f cores (want < 1) serving %d heartbeats per %v with a peer down", m.n.Addr, cores, stormInstances, stormInterval)
		}
		checkBacklog(t, m.n, peerURL("http", addrs[1]))
	}

	t1 := time.Now()
	b2 := startNode(t, addrs[1], peerURLs("http", addrs), env...)
	waitAll(t, []*node{b2}, 30*time.Second, "restarted B catches up", all)
	t.Logf("B caught up %v after restart", time.Since(t1).Round(time.Millisecond))
}

var backlogRE = regexp.MustCompile(`msg="replication backlog"[^\n]*? peer=(\S+) available=(\w+) queue=(\d+) dropped=(\d+)`)

// checkBacklog reads the node's backlog log lines about peer: the queue
// never exceeded its bound, and the overflow was dropped and counted.
func checkBacklog(t *testing.T, n *node, peer string) {
	t.Helper()
	var lines, maxQueue, dropped int
	for _, m := range backlogRE.FindAllStringSubmatch(n.Output(), -1) {
		if m[1] != peer {
			continue
		}
		lines++
		q, _ := strconv.Atoi(m[3])
		dr, _ := strconv.Atoi(m[4])
		maxQueue, dropped = max(maxQueue, q), max(dropped, dr)
	}
	t.Logf("%s: %d backlog reports for the down peer, largest queue %d, dropped %d", n.Addr, lines, maxQueue, dropped)
	if lines == 0 {
		t.Errorf("%s never reported its backlog for %s", n.Addr, peer)
	}
	if maxQueue > stormQueue {
		t.Errorf("%s: queue for the down peer reached %d, above the bound %d", n.Addr, maxQueue, stormQueue)
	}
	if dropped == 0 {
		t.Errorf("%s: nothing dropped although %d instances heartbeat into a queue of %d", n.Addr, stormInstances/2, stormQueue)
	}
}
