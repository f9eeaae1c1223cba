package cluster

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/faultproxy"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Chaos tests of anti-entropy (core/replication/doc.go): a node misses
// changes for longer than the replication task expiry, so replication
// alone never delivers them; once the fault heals every node serves the
// same instances, statuses, overrides and metadata within 10 s, no
// cancelled instance comes back, and the repair makes a bounded number of
// requests.

// chaosEnv is a short task expiry (so that the fault outlives it) and a
// short anti-entropy interval, with bolt stores.
func chaosEnv(t *testing.T, dataDir string) []string {
	return []string{
		"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + dataDir,
		"EUREKAD_CLUSTER_TASK_EXPIRY=2s", "EUREKAD_CLUSTER_ANTI_ENTROPY_INTERVAL=3s",
		"EUREKAD_CLUSTER_PEER_TIMEOUT=500ms", "EUREKAD_CLUSTER_MAX_BACKOFF=500ms",
		"EUREKAD_CLUSTER_PROBE_INTERVAL=1s", "EUREKAD_CLUSTER_SYNC_RETRY_WAIT=200ms",
		"EUREKAD_HTTP_METRICS=true", "EUREKAD_LOG_LEVEL=info",
	}
}

// faultOutlives is how long a fault lasts: longer than the task expiry.
const faultOutlives = 3 * time.Second

// view is what a node serves, one line per instance: id, status,
// override and metadata, sorted.
func view(n *node) (string, error) {
	apps, err := n.c.Applications(bg)
	if err != nil {
		return "", err
	}
	var lines []string
	for _, a := range apps.Applications {
		for _, in := range a.Instances {
			var md []string
			for k, v := range in.Metadata {
				md = append(md, k+"="+v)
			}
			slices.Sort(md)
			lines = append(lines, fmt.Sprintf("%s/%s %s %s %s", a.Name, in.ID(), in.Status, in.OverriddenStatus, strings.Join(md, ",")))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), nil
}

// settled waits until n serves a view that holds, and returns it. A
// node's own write is not read back at once: the fresh cache serves a
// payload built within the last cache.min_rebuild_interval (or while a
// rebuild runs), so the view is awaited, not sampled.
func settled(t *testing.T, n *node, what string, holds func(view string) error) string {
	t.Helper()
	var got string
	eurekadtest.Eventually(t, 10*time.Second, what, func() error {
		v, err := view(n)
		if err != nil {
			return err
		}
		if err := holds(v); err != nil {
			return fmt.Errorf("%s serves\n%s\n%w", n.Addr, v, err)
		}
		got = v
		return nil
	})
	return got
}

// serves is a holds for settled: every line in has is in the view,
// none in hasNot.
func serves(has []string, hasNot ...string) func(string) error {
	return func(v string) error {
		for _, h := range has {
			if !strings.Contains(v, h) {
				return fmt.Errorf("without %q", h)
			}
		}
		for _, h := range hasNot {
			if strings.Contains(v, h) {
				return fmt.Errorf("with %q", h)
			}
		}
		return nil
	}
}

// missed is what a view holds once the changes of missedChanges are in.
var missed = serves([]string{"SVC/i1 OUT_OF_SERVICE OUT_OF_SERVICE", "owner=ops", "BULK/b0 UP UNKNOWN"}, "SVC/i2 ")

// converged waits until every node serves want.
func converged(t *testing.T, nodes []*node, want string, what string) {
	t.Helper()
	waitAll(t, nodes, 10*time.Second, what, func(n *node) error {
		got, err := view(n)
		if err == nil && got != want {
			err = fmt.Errorf("%s serves\n%s\nwant\n%s", n.Addr, got, want)
		}
		return err
	})
}

// repaired sums eurekad_replication_repaired_total over every node,
// peer and kind.
func repaired(t *testing.T, nodes []*node) float64 {
	var sum float64
	for _, n := range nodes {
		for line := range strings.Lines(getText(t, "http://"+n.Addr+"/metrics")) {
			if strings.HasPrefix(line, "eurekad_replication_repaired_total{") {
				var v float64
				fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
				sum += v
			}
		}
	}
	return sum
}

// repairRequests sums eurekad_replication_repair_requests_total and
// eurekad_replication_sent_total over every node and peer.
func repairRequests(t *testing.T, nodes []*node) (repair, sent float64) {
	for _, n := range nodes {
		for line := range strings.Lines(getText(t, "http://"+n.Addr+"/metrics")) {
			var v float64
			if strings.HasPrefix(line, "eurekad_replication_repair_requests_total{") {
				fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
				repair += v
			}
			if strings.HasPrefix(line, "eurekad_replication_sent_total{") {
				fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
				sent += v
			}
		}
	}
	return repair, sent
}

// seed registers SVC/i1..i3 and 20 instances of BULK on n and waits
// until all nodes serve them.
func seed(t *testing.T, n *node, nodes []*node) {
	t.Helper()
	for i := 1; i <= 3; i++ {
		if err := n.c.Register(bg, instance("SVC", fmt.Sprintf("i%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if err := n.c.Register(bg, instance("BULK", fmt.Sprintf("b%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	want := settled(t, n, "seeded", func(v string) error {
		if c := strings.Count(v, "\n") + 1; c != 23 {
			return fmt.Errorf("%d instances, want 23", c)
		}
		return nil
	})
	converged(t, nodes, want, "seeded")
}

// missedChanges makes, on n, the changes of the measured failure: an
// override, a cancel and a metadata edit (none moves lastDirtyTimestamp),
// and removes an override set before the fault.
func missedChanges(t *testing.T, n *node) {
	t.Helper()
	if err := n.c.SetStatus(bg, "SVC", "i1", eureka.StatusOutOfService, 0); err != nil {
		t.Fatal(err)
	}
	if err := n.c.Cancel(bg, "SVC", "i2"); err != nil {
		t.Fatal(err)
	}
	if err := n.c.UpdateMetadata(bg, "SVC", "i3", map[string]string{"owner": "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := n.c.DeleteStatusOverride(bg, "BULK", "b0", eureka.StatusUp, 0); err != nil {
		t.Fatal(err)
	}
}

// checkRepair waits for convergence to want after a heal, checks that
// i2 stays cancelled through another round, and bounds the requests.
func checkRepair(t *testing.T, nodes []*node, want string, repair0, sent0 float64, what string) {
	t.Helper()
	start := time.Now()
	converged(t, nodes, want, what+": converged")
	t.Logf("%s: converged %v after the heal", what, time.Since(start).Round(time.Millisecond))
	if strings.Contains(want, "SVC/i2 ") {
		t.Fatalf("want holds the cancelled i2")
	}
	repair, sent := repairRequests(t, nodes)
	// Each node runs a round per peer every 3 s and on each trigger; a
	// round is one digest and, here, at most one exchange: a few dozen
	// requests, not one per instance; replication sends a handful of
	// changes (the repair itself is not replicated).
	if d := repair - repair0; d > 40 {
		t.Errorf("%s: %v anti-entropy requests during the repair", what, d)
	}
	if d := sent - sent0; d > 60 {
		t.Errorf("%s: %v changes replicated during the repair", what, d)
	}
	t.Logf("%s: %v anti-entropy requests, %v replicated changes", what, repair-repair0, sent-sent0)
}

// prepare sets an override on BULK/b0 (removed during the fault) and
// returns what every node must serve after the changes of missedChanges.
func prepare(t *testing.T, n *node, nodes []*node) {
	t.Helper()
	if err := n.c.SetStatus(bg, "BULK", "b0", eureka.StatusOutOfService, 0); err != nil {
		t.Fatal(err)
	}
	want := settled(t, n, "override on b0", serves([]string{"BULK/b0 OUT_OF_SERVICE OUT_OF_SERVICE"}))
	converged(t, nodes, want, "override on b0")
}

// A node killed for longer than the task expiry, restarted from its bolt
// store, converges; the cancelled i2 it still stores does not come back.
func TestAntiEntropyAfterKill(t *testing.T) {
	addrs := freeAddrs(t, 3)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	urls := peerURLs("http", addrs)
	var nodes []*node
	for i, a := range addrs {
		nodes = append(nodes, startNode(t, a, urls, chaosEnv(t, dirs[i])...))
	}
	seed(t, nodes[0], nodes)
	prepare(t, nodes[0], nodes)

	nodes[2].Kill()
	missedChanges(t, nodes[0])
	want := settled(t, nodes[0], "missed changes", missed)
	// Waiting out the outage is the behaviour under test.
	time.Sleep(faultOutlives)
	repair0, sent0 := repairRequests(t, nodes[:2])
	nodes[2] = startNode(t, addrs[2], urls, chaosEnv(t, dirs[2])...)
	checkRepair(t, nodes, want, repair0, sent0, "kill")
}

// A node stopped (SIGSTOP) for longer than the task expiry, then
// continued (SIGCONT), converges: it gets what it missed while stopped.
func TestAntiEntropyAfterPause(t *testing.T) {
	addrs := freeAddrs(t, 3)
	urls := peerURLs("http", addrs)
	var nodes []*node
	for _, a := range addrs {
		nodes = append(nodes, startNode(t, a, urls, chaosEnv(t, t.TempDir())...))
	}
	seed(t, nodes[0], nodes)
	prepare(t, nodes[0], nodes)

	if err := nodes[2].Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	missedChanges(t, nodes[0])
	want := settled(t, nodes[0], "missed changes", missed)
	// Waiting out the pause is the behaviour under test.
	time.Sleep(faultOutlives)
	repair0, sent0 := repairRequests(t, nodes[:2])
	if err := nodes[2].Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	checkRepair(t, nodes, want, repair0, sent0, "pause")
}

// Node 3 is cut off through fault proxies, first from the others' sends
// (it still reaches them), then from its own sends (the others still
// reach it). Changes on both sides during each partition converge.
func TestAntiEntropyAfterPartition(t *testing.T) {
	addrs := freeAddrs(t, 3)
	to3, err := faultproxy.New(addrs[2])
	if err != nil {
		t.Fatal(err)
	}
	defer to3.Close()
	to1, err := faultproxy.New(addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer to1.Close()
	to2, err := faultproxy.New(addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer to2.Close()
	peers12 := peerURLs("http", []string{addrs[0], addrs[1], to3.Addr()})
	peers3 := peerURLs("http", []string{to1.Addr(), to2.Addr(), addrs[2]})
	nodes := []*node{
		startNode(t, addrs[0], peers12, chaosEnv(t, t.TempDir())...),
		startNode(t, addrs[1], peers12, chaosEnv(t, t.TempDir())...),
		startNode(t, addrs[2], peers3, chaosEnv(t, t.TempDir())...),
	}
	seed(t, nodes[0], nodes)
	prepare(t, nodes[0], nodes)

	// Toward node 3: it misses node 1's changes; its own reach the others.
	// Node 3 still reaches node 1, so its own rounds may pull the changes
	// before the heal: either way anti-entropy, not replication, repairs.
	fixed := repaired(t, nodes)
	to3.SetMode(faultproxy.Drop)
	missedChanges(t, nodes[0])
	if err := nodes[2].c.UpdateMetadata(bg, "BULK", "b5", map[string]string{"side": "three"}); err != nil {
		t.Fatal(err)
	}
	// Waiting out the partition is the behaviour under test.
	time.Sleep(faultOutlives)
	// Node 3's change reaches node 1 while only the way to node 3 is cut.
	want := settled(t, nodes[0], "node 3's change on node 1", func(v string) error {
		if err := missed(v); err != nil {
			return err
		}
		return serves([]string{"side=three"})(v)
	})
	repair0, sent0 := repairRequests(t, nodes)
	to3.SetMode(faultproxy.Pass)
	checkRepair(t, nodes, want, repair0, sent0, "partition toward node 3")
	if now := repaired(t, nodes); now <= fixed {
		t.Fatalf("partition toward node 3: nothing counted as repaired (%v)", now)
	}
	fixed = repaired(t, nodes)

	// From node 3: the others miss its changes; theirs reach it.
	to1.SetMode(faultproxy.Drop)
	to2.SetMode(faultproxy.Drop)
	if err := nodes[2].c.SetStatus(bg, "BULK", "b7", eureka.StatusOutOfService, 0); err != nil {
		t.Fatal(err)
	}
	if err := nodes[2].c.Cancel(bg, "BULK", "b8"); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].c.UpdateMetadata(bg, "BULK", "b9", map[string]string{"side": "one"}); err != nil {
		t.Fatal(err)
	}
	// Waiting out the partition is the behaviour under test.
	time.Sleep(faultOutlives)
	// Node 3 serves its own changes and node 1's.
	want = settled(t, nodes[2], "node 3's and node 1's changes on node 3",
		serves([]string{"side=one", "BULK/b7 OUT_OF_SERVICE OUT_OF_SERVICE"}, "BULK/b8 "))
	repair0, sent0 = repairRequests(t, nodes)
	to1.SetMode(faultproxy.Pass)
	to2.SetMode(faultproxy.Pass)
	checkRepair(t, nodes, want, repair0, sent0, "partition from node 3")
	if now := repaired(t, nodes); now <= fixed {
		t.Fatalf("partition from node 3: nothing counted as repaired (%v)", now)
	}
}
