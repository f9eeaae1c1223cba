// Package cluster runs real eurekad processes on loopback as a replicating
// cluster: propagation of every write, restart and partition recovery,
// the lastDirtyTimestamp conflict paths and a heartbeat storm with a peer
// down.
package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

func TestMain(m *testing.M) {
	code := m.Run()
	eurekadtest.RemoveBinary()
	os.Exit(code)
}

// node is one cluster member with a client bound to it alone.
type node struct {
	*eurekadtest.Server
	c *client.Client
}

func newNode(t testing.TB, s *eurekadtest.Server) *node {
	t.Helper()
	return newNodeTLS(t, s, nil)
}

// newNodeTLS is newNode whose client uses tlsConfig (nil: Go's defaults).
func newNodeTLS(t testing.TB, s *eurekadtest.Server, tlsConfig *tls.Config) *node {
	t.Helper()
	c, err := client.New(client.Options{ServiceURLs: []string{s.Base}, Timeout: 5 * time.Second, TLSConfig: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	return &node{Server: s, c: c}
}

// startCluster starts one eurekad per address, each configured with the
// whole list as its peers (its own URL is skipped) plus env.
func startCluster(t testing.TB, addrs []string, env ...string) []*node {
	t.Helper()
	urls := peerURLs("http", addrs)
	var nodes []*node
	for _, a := range addrs {
		nodes = append(nodes, startNode(t, a, urls, env...))
	}
	return nodes
}

// peerURL is the service URL a node has at addr, as peers and GET
// status name it.
func peerURL(scheme, addr string) string { return scheme + "://" + addr + "/eureka/" }

func peerURLs(scheme string, addrs []string) []string {
	urls := make([]string, len(addrs))
	for i, a := range addrs {
		urls[i] = peerURL(scheme, a)
	}
	return urls
}

func startNode(t testing.TB, addr string, peers []string, env ...string) *node {
	t.Helper()
	e := append([]string{"EUREKAD_CLUSTER_PEERS=" + strings.Join(peers, ",")}, env...)
	return newNode(t, eurekadtest.StartAt(t, addr, e...))
}

func freeAddrs(t testing.TB, n int) []string {
	var out []string
	for range n {
		out = append(out, eurekadtest.FreeAddr(t))
	}
	return out
}

func instance(app, id string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID: id, HostName: "10.1.0.1", App: app, IPAddr: "10.1.0.1",
		Status: eureka.StatusUp, VIPAddress: strings.ToLower(app),
		Port:           eureka.Port{Number: 8080, Enabled: true},
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		LeaseInfo:      &eureka.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
		Metadata:       map[string]string{"zone": "zone-a"},
	}
}

var bg = context.Background()

// fromApps finds an instance in the node's cached GET apps/{app}.
func (n *node) fromApps(app, id string) (*eureka.InstanceInfo, error) {
	a, err := n.c.Application(bg, app)
	if err != nil {
		return nil, err
	}
	for _, in := range a.Instances {
		if in.ID() == id {
			return in, nil
		}
	}
	return nil, fmt.Errorf("%s not in GET apps/%s on %s", id, app, n.Addr)
}

// waitAll polls check on each node until it passes on all of them.
func waitAll(t *testing.T, nodes []*node, within time.Duration, what string, check func(*node) error) {
	t.Helper()
	eurekadtest.Eventually(t, within, what, func() error {
		for _, n := range nodes {
			if err := check(n); err != nil {
				return err
			}
		}
		return nil
	})
}

// peerRequest sends a request with the replication header, as a peer
// would: the receiver applies it and does not replicate it. It returns the
// response, its body already read and closed, and that body.
func peerRequest(t *testing.T, method, url string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-netflix-discovery-replication", "true")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// A register on A is visible on B and C within a second through their
// cached reads; then a status override, a metadata update, heartbeats and
// a cancel propagate too.
func TestThreeNodesPropagateEveryWrite(t *testing.T) {
	nodes := startCluster(t, freeAddrs(t, 3))
	a, others := nodes[0], nodes[1:]

	in := instance("ORDERS", "orders-1")
	start := time.Now()
	if err := a.c.Register(bg, in); err != nil {
		t.Fatal(err)
	}
	waitAll(t, others, time.Second, "register visible on B and C", func(n *node) error {
		_, err := n.fromApps("ORDERS", "orders-1")
		return err
	})
	t.Logf("register visible on both peers after %v", time.Since(start).Round(time.Millisecond))

	// Operators see both peers, up, in the admin API and the metrics.
	var pv struct {
		Configured bool
		Peers      []struct {
			URL  string
			Up   bool
			Sent uint64
		}
	}
	// A peer that was still starting when A first called it is up once a
	// later exchange succeeds (the registration may have reached it by
	// anti-entropy meanwhile): wait for that, not for a moment.
	eurekadtest.Eventually(t, 10*time.Second, "both peers up in A's admin API", func() error {
		getJSON(t, "http://"+a.Addr+"/admin/api/peers", &pv)
		if !pv.Configured || len(pv.Peers) != 2 || !pv.Peers[0].Up || !pv.Peers[1].Up || pv.Peers[0].Sent+pv.Peers[1].Sent < 2 {
			return fmt.Errorf("admin api peers on A: %+v", pv)
		}
		return nil
	})
	if m := getText(t, "http://"+a.Addr+"/metrics"); strings.Count(m, "eurekad_replication_peer_up{") != 2 {
		t.Errorf("metrics on A list %d peers, want 2", strings.Count(m, "eurekad_replication_peer_up{"))
	}

	if err := a.c.SetStatus(bg, "ORDERS", "orders-1", eureka.StatusOutOfService, 0); err != nil {
		t.Fatal(err)
	}
	waitAll(t, others, 3*time.Second, "status override on B and C", func(n *node) error {
		got, err := n.fromApps("ORDERS", "orders-1")
		if err == nil && (got.Status != eureka.StatusOutOfService || got.OverriddenStatus != eureka.StatusOutOfService) {
			err = fmt.Errorf("%s: status %s override %s", n.Addr, got.Status, got.OverriddenStatus)
		}
		return err
	})
	if err := a.c.DeleteStatusOverride(bg, "ORDERS", "orders-1", eureka.StatusUp, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.c.UpdateMetadata(bg, "ORDERS", "orders-1", map[string]string{"version": "2"}); err != nil {
		t.Fatal(err)
	}
	waitAll(t, others, 3*time.Second, "override removal and metadata on B and C", func(n *node) error {
		got, err := n.fromApps("ORDERS", "orders-1")
		if err == nil && (got.Status != eureka.StatusUp || got.Metadata["version"] != "2" || got.Metadata["zone"] != "zone-a") {
			err = fmt.Errorf("%s: status %s metadata %v", n.Addr, got.Status, got.Metadata)
		}
		return err
	})

	// Heartbeats sent to A alone renew the lease everywhere.
	before := map[string]int64{}
	var last int64
	for _, n := range others {
		got, err := n.c.Instance(bg, "ORDERS", "orders-1")
		if err != nil {
			t.Fatal(err)
		}
		before[n.Addr] = got.LeaseInfo.LastRenewalTimestamp
		last = max(last, got.LeaseInfo.LastRenewalTimestamp)
	}
	// Renewals are stamped in milliseconds (the nodes share this clock):
	// the next shows as newer once the clock is past the last stamp.
	eurekadtest.Until(t, time.Second, "the clock past the last renewal", func() bool {
		return time.Now().UnixMilli() > last
	})
	if err := a.c.Renew(bg, "ORDERS", "orders-1", 0); err != nil {
		t.Fatal(err)
	}
	waitAll(t, others, 3*time.Second, "heartbeat renews the peers' leases", func(n *node) error {
		got, err := n.c.Instance(bg, "ORDERS", "orders-1")
		if err == nil && got.LeaseInfo.LastRenewalTimestamp <= before[n.Addr] {
			err = fmt.Errorf("%s: lease not renewed", n.Addr)
		}
		return err
	})

	// GET status lists the two peers, both available.
	eurekadtest.Eventually(t, 5*time.Second, "status replicas", func() error {
		b := get(t, a.Base+"status")
		for _, o := range others {
			if !strings.Contains(b, `"available-replicas":`) || !strings.Contains(b, peerURL("http", o.Addr)+",") {
				return fmt.Errorf("status lacks %s as available: %s", o.Addr, b)
			}
		}
		if !strings.Contains(b, `"unavailable-replicas":""`) {
			return fmt.Errorf("unavailable replicas listed: %s", b)
		}
		return nil
	})

	if err := others[0].c.Cancel(bg, "ORDERS", "orders-1"); err != nil {
		t.Fatal(err)
	}
	waitAll(t, []*node{a, others[1]}, 3*time.Second, "cancel on B reaches A and C", func(n *node) error {
		if _, err := n.c.Instance(bg, "ORDERS", "orders-1"); err == nil {
			return fmt.Errorf("%s still has the instance", n.Addr)
		}
		return nil
	})
}

// get returns the body of GET url as JSON, whatever the status: pollers
// retry on the content, so only a failed request ends the test.
func get(t *testing.T, url string) string {
	t.Helper()
	_, b, _ := fetch(t, url, "application/json")
	return b
}

// fetch sends GET url (with accept, when not empty) and returns the
// status, the body and the error reading it; a failed request ends the test.
func fetch(t *testing.T, url, accept string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// ids lists the instance ids of app on n, via the uncached-per-instance
// full fetch.
func ids(n *node, app string) (map[string]bool, error) {
	a, err := n.c.Application(bg, app)
	if err != nil {
		if strings.Contains(err.Error(), "404") {
			return map[string]bool{}, nil
		}
		return nil, err
	}
	out := map[string]bool{}
	for _, in := range a.Instances {
		out[in.ID()] = true
	}
	return out, nil
}

func sameIDs(want map[string]bool) func(*node) error {
	return func(n *node) error {
		got, err := ids(n, "ORDERS")
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			return fmt.Errorf("%s has %d instances, want %d", n.Addr, len(got), len(want))
		}
		for id := range want {
			if !got[id] {
				return fmt.Errorf("%s lacks %s", n.Addr, id)
			}
		}
		return nil
	}
}

// B is killed; A and C keep taking writes; B restarts with an empty
// (memory) store and converges by its start-up sync and replication.
func TestRestartedNodeConverges(t *testing.T) {
	addrs := freeAddrs(t, 3)
	nodes := startCluster(t, addrs)
	a, b, c := nodes[0], nodes[1], nodes[2]
	want := map[string]bool{}
	for i := range 3 {
		id := fmt.Sprintf("before-%d", i)
		if err := a.c.Register(bg, instance("ORDERS", id)); err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	waitAll(t, nodes, 3*time.Second, "initial state", sameIDs(want))

	b.Kill()
	for i := range 5 {
		id := fmt.Sprintf("during-%d", i)
		n := []*node{a, c}[i%2]
		if err := n.c.Register(bg, instance("ORDERS", id)); err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	if err := c.c.Cancel(bg, "ORDERS", "before-0"); err != nil {
		t.Fatal(err)
	}
	delete(want, "before-0")
	waitAll(t, []*node{a, c}, 3*time.Second, "survivors agree", sameIDs(want))

	b2 := startNode(t, addrs[1], peerURLs("http", addrs))
	waitAll(t, []*node{b2}, 10*time.Second, "restarted B converges", sameIDs(want))
	// And new writes keep flowing to it.
	if err := a.c.Register(bg, instance("ORDERS", "after")); err != nil {
		t.Fatal(err)
	}
	want["after"] = true
	waitAll(t, []*node{a, b2, c}, 3*time.Second, "write after restart", sameIDs(want))
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getText(t, url)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// getText returns the body of GET url, which must answer 200.
func getText(t *testing.T, url string) string {
	t.Helper()
	code, b, err := fetch(t, url, "")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, code, err)
	}
	return b
}
