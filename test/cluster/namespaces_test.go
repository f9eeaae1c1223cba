package cluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// TestNamespacesReplicateSeparately: in a 3-node cluster each namespace
// replicates to the same namespace of the peers (Options.Namespace of the
// SDK selects it): the same application and instance id registered in
// team-a on one node and in team-b on another stay two instances on every
// node, an override in team-a and a cancel in team-b touch only their
// namespace, and the default namespace sees none of it.
func TestNamespacesReplicateSeparately(t *testing.T) {
	nodes := startCluster(t, freeAddrs(t, 3), "EUREKAD_NAMESPACES_DECLARED=team-a,team-b")
	in := func(ns string) client.Options {
		return client.Options{Namespace: ns, Timeout: 5 * time.Second}
	}
	clients := map[string][]*client.Client{}
	for _, ns := range []string{"team-a", "team-b", "default"} {
		for _, n := range nodes {
			o := in(ns)
			o.ServiceURLs = []string{n.Base}
			c, err := client.New(o)
			if err != nil {
				t.Fatal(err)
			}
			clients[ns] = append(clients[ns], c)
		}
	}
	reg := func(ns string, node int) {
		i := instance("SHARED", "shared-1")
		i.Metadata = map[string]string{"namespace": ns}
		if err := clients[ns][node].Register(bg, i); err != nil {
			t.Fatalf("register in %s on node %d: %v", ns, node, err)
		}
	}
	reg("team-a", 0)
	reg("team-b", 1)

	// check waits until ns holds shared-1 on every node as want says
	// (nil: not there).
	check := func(what, ns string, want func(*eureka.InstanceInfo) error) {
		t.Helper()
		waitAll(t, nodes, 5*time.Second, what, func(n *node) error {
			c := clients[ns][indexOf(nodes, n)]
			got, err := c.Instance(bg, "SHARED", "shared-1")
			if want == nil {
				if !errors.Is(err, client.ErrNotFound) {
					return fmt.Errorf("%s on %s: shared-1 %v, %v; want not found", ns, n.Addr, got, err)
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s on %s: %w", ns, n.Addr, err)
			}
			if err := want(got); err != nil {
				return fmt.Errorf("%s on %s: %w", ns, n.Addr, err)
			}
			return nil
		})
	}
	own := func(ns string, status eureka.Status) func(*eureka.InstanceInfo) error {
		return func(got *eureka.InstanceInfo) error {
			if got.Metadata["namespace"] != ns || got.Status != status {
				return fmt.Errorf("shared-1 has metadata %v and status %s, want namespace %s and %s", got.Metadata, got.Status, ns, status)
			}
			return nil
		}
	}
	check("team-a's registration on every node, in team-a", "team-a", own("team-a", eureka.StatusUp))
	check("team-b's registration on every node, in team-b", "team-b", own("team-b", eureka.StatusUp))
	check("nothing in the default namespace", "default", nil)

	if err := clients["team-a"][2].SetStatus(bg, "SHARED", "shared-1", eureka.StatusOutOfService, 0); err != nil {
		t.Fatal(err)
	}
	check("team-a's override on every node", "team-a", own("team-a", eureka.StatusOutOfService))
	if err := clients["team-b"][0].Cancel(bg, "SHARED", "shared-1"); err != nil {
		t.Fatal(err)
	}
	check("team-b's cancel on every node", "team-b", nil)
	check("team-a untouched by team-b's cancel", "team-a", own("team-a", eureka.StatusOutOfService))

	// Each namespace's cluster reports its peers at their namespace path.
	var pv struct{ Peers []struct{ URL string } }
	getJSON(t, "http://"+nodes[0].Addr+"/admin/api/peers?namespace=team-a", &pv)
	if len(pv.Peers) != 2 || !strings.Contains(pv.Peers[0].URL, "/ns/team-a/eureka/") {
		t.Errorf("team-a's peers on node 0: %+v", pv.Peers)
	}
}

func indexOf(nodes []*node, n *node) int {
	for i, m := range nodes {
		if m == n {
			return i
		}
	}
	return -1
}

// TestNamespaceLimitHoldsForPeers: a node's instance limit holds for what
// its peers send, their replication batches and anti-entropy repairs, not
// only for its clients' registrations: a peer configured without the limit
// fills its own namespace, and the limited node keeps to its limit through
// every batch and repair round.
func TestNamespaceLimitHoldsForPeers(t *testing.T) {
	addrs := freeAddrs(t, 2)
	urls := peerURLs("http", addrs)
	env := []string{"EUREKAD_NAMESPACES_DECLARED=team-a", "EUREKAD_HTTP_METRICS=true", "EUREKAD_CLUSTER_ANTI_ENTROPY_INTERVAL=1s"}
	open := startNode(t, addrs[0], urls, env...)
	limited := startNode(t, addrs[1], urls, append(env, "EUREKAD_NAMESPACES_MAX_INSTANCES=team-a=3")...)
	c, err := client.New(client.Options{Namespace: "team-a", ServiceURLs: []string{open.Base}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := c.Register(bg, instance("LIMITED", fmt.Sprint("l-", i))); err != nil {
			t.Fatalf("register l-%d on the node without a limit: %v", i, err)
		}
	}
	held := func(n *node) int {
		var v struct {
			Namespaces []struct {
				Name      string
				Instances int
			}
		}
		getJSON(t, "http://"+n.Addr+"/admin/api/namespaces", &v)
		for _, ns := range v.Namespaces {
			if ns.Name == "team-a" {
				return ns.Instances
			}
		}
		return -1
	}
	// metric sums a team-a series of n over its peers.
	metric := func(n *node, name string) float64 {
		var sum float64
		for line := range strings.Lines(getText(t, "http://"+n.Addr+"/metrics")) {
			if strings.HasPrefix(line, name+"{") && strings.Contains(line, `namespace="team-a"`) {
				var v float64
				fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
				sum += v
			}
		}
		return sum
	}
	// Every registration replicated (the batch answered), then two
	// anti-entropy rounds of the limited node against the open one,
	// each of which offers it the instances it lacks.
	eurekadtest.Until(t, 10*time.Second, "the open node's five registrations replicated", func() bool {
		return metric(open, "eurekad_replication_sent_total") >= 5
	})
	rounds := metric(limited, "eurekad_replication_repair_requests_total")
	eurekadtest.Until(t, 15*time.Second, "two anti-entropy rounds of the limited node", func() bool {
		return metric(limited, "eurekad_replication_repair_requests_total") >= rounds+2
	})
	if got := held(limited); got != 3 {
		t.Errorf("the limited node holds %d instances in team-a, want its limit, 3", got)
	}
	if got := held(open); got != 5 {
		t.Errorf("the open node holds %d instances in team-a, want 5", got)
	}

	// A node with the limit that starts after the registrations copies
	// them in its start-up sync: that too stops at the limit. Its first
	// anti-entropy round waits for the sync, so after two rounds the sync
	// is over.
	lateAddr := freeAddrs(t, 1)[0]
	late := startNode(t, lateAddr, append(urls, peerURLs("http", []string{lateAddr})...), append(env, "EUREKAD_NAMESPACES_MAX_INSTANCES=team-a=3")...)
	eurekadtest.Until(t, 15*time.Second, "two anti-entropy rounds of the late node", func() bool {
		return metric(late, "eurekad_replication_repair_requests_total") >= 2
	})
	if got := held(late); got != 3 {
		t.Errorf("the node that synced at start holds %d instances in team-a, want its limit, 3", got)
	}
}
