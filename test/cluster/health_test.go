package cluster

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/health"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// probeLog is the instances' health endpoint: /h/{id} answers 200 (or
// what the test sets) and each request's time is kept per id.
type probeLog struct {
	mu    sync.Mutex
	at    map[string][]time.Time
	codes map[string]int
}

func (p *probeLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/h/")
	p.mu.Lock()
	p.at[id] = append(p.at[id], time.Now())
	code := p.codes[id]
	p.mu.Unlock()
	if code == 0 {
		code = http.StatusOK
	}
	w.WriteHeader(code)
}

// since returns each id's probe times at or after t0.
func (p *probeLog) since(t0 time.Time) map[string][]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]time.Time{}
	for id, ts := range p.at {
		for _, x := range ts {
			if !x.Before(t0) {
				out[id] = append(out[id], x)
			}
		}
	}
	return out
}

// nodeMetric reads one sample of a node's /metrics; -1 when absent.
func nodeMetric(t *testing.T, n *node, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+]+)$`).FindStringSubmatch(get(t, "http://"+n.Addr+"/metrics"))
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// On a 3-node cluster each checked instance is probed by one node, once
// per interval; a verdict reached by one node is every node's; when a node
// dies its share moves to the others, and a DOWN it set is lifted by the
// node that took the instance over.
func TestHealthChecksProbedOncePerInterval(t *testing.T) {
	const interval = 500 * time.Millisecond
	const n = 30
	pl := &probeLog{at: map[string][]time.Time{}, codes: map[string]int{}}
	hs := httptest.NewServer(pl)
	defer hs.Close()
	_, portStr, _ := net.SplitHostPort(hs.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)

	nodes := startCluster(t, freeAddrs(t, 3),
		"EUREKAD_HEALTH_INTERVAL="+interval.String(), "EUREKAD_HEALTH_MIN_INTERVAL=100ms", "EUREKAD_HEALTH_TIMEOUT=400ms",
		"EUREKAD_HEALTH_FAILURES=2", "EUREKAD_HEALTH_SUCCESSES=2", "EUREKAD_CLUSTER_PROBE_INTERVAL=500ms")
	for i := range n {
		id := "h" + strconv.Itoa(i)
		in := instance("CHECKED", id)
		in.IPAddr, in.HostName, in.Port.Number = "127.0.0.1", "127.0.0.1", port
		in.LeaseInfo.DurationInSecs = 300
		in.Metadata = map[string]string{"eurekad.check": "http", "eurekad.check.path": "/h/" + id}
		if err := nodes[0].c.Register(bg, in); err != nil {
			t.Fatal(err)
		}
	}
	shared := func(live []*node) func() error {
		return func() error {
			total := 0.0
			for _, nd := range live {
				owned := nodeMetric(t, nd, "eurekad_health_probed_instances")
				if owned <= 0 {
					return fmt.Errorf("%s probes %v instances", nd.Addr, owned)
				}
				total += owned
			}
			if total != n {
				return fmt.Errorf("the nodes probe %v instances in all, want %d", total, n)
			}
			return nil
		}
	}
	// onceEach checks that, from t0 on, each instance was probed about once
	// per interval (a second prober would double the count) and never twice
	// within a tenth of it.
	onceEach := func(what string) {
		t.Helper()
		t0 := time.Now()
		eurekadtest.Until(t, 30*time.Second, what+": 8 probes of every instance", func() bool {
			got := pl.since(t0)
			for i := range n {
				if len(got["h"+strconv.Itoa(i)]) < 8 {
					return false
				}
			}
			return true
		})
		elapsed := time.Since(t0)
		want := float64(elapsed) / float64(interval)
		for id, ts := range pl.since(t0) {
			if c := float64(len(ts)); c > want+1.5 {
				t.Errorf("%s: %s probed %v times in %v, once per %v is %.1f", what, id, c, elapsed, interval, want)
			}
			for i := 1; i < len(ts); i++ {
				// A late probe shortens the gap to the next, which keeps
				// its slot; a second prober's probes fall anywhere.
				if gap := ts[i].Sub(ts[i-1]); gap < interval/10 {
					t.Errorf("%s: %s probed twice %v apart", what, id, gap)
					break
				}
			}
		}
	}
	eurekadtest.Eventually(t, 30*time.Second, "the probes shared by the 3 nodes", shared(nodes))
	onceEach("3 nodes")

	// victim is an instance the third node probes: the node that reaches
	// a verdict on it, and then dies.
	urls := make([]string, len(nodes))
	for i, nd := range nodes {
		urls[i] = peerURL("http", nd.Addr)
	}
	victim := ""
	for i := range n {
		if id := "h" + strconv.Itoa(i); health.Owner(urls[2], urls, "CHECKED", id) {
			victim = id
			break
		}
	}
	if victim == "" {
		t.Fatalf("the third node probes none of the %d instances", n)
	}
	setCode := func(code int) {
		pl.mu.Lock()
		pl.codes[victim] = code
		pl.mu.Unlock()
	}

	// A verdict reached by the node that probes the victim is every node's...
	setCode(http.StatusInternalServerError)
	waitAll(t, nodes, 15*time.Second, victim+" DOWN on every node", func(nd *node) error {
		in, err := nd.c.Instance(bg, "CHECKED", victim)
		if err != nil {
			return err
		}
		if in.Status != eureka.StatusDown || in.Metadata[registry.HealthKey] != "down" {
			return fmt.Errorf("%s: %s %s %v", nd.Addr, victim, in.Status, in.Metadata)
		}
		return nil
	})
	// ...published as a status change on each of them, the prober's write
	// and the peer's copy alike (a MODIFIED delta entry, which every
	// client applies).
	waitAll(t, nodes, 15*time.Second, victim+"'s status change in every node's history", func(nd *node) error {
		var h struct {
			Changes []struct{ Event, Status, Health string }
		}
		getJSON(t, "http://"+nd.Addr+"/admin/api/instances/CHECKED/"+victim+"/history", &h)
		for _, c := range h.Changes {
			if c.Event == "status-changed" && c.Status == "DOWN" && c.Health == "down" {
				return nil
			}
		}
		return fmt.Errorf("%s: history %+v", nd.Addr, h.Changes)
	})

	// The prober dies (kill -9) while the victim is DOWN: its share moves
	// to the two others.
	nodes[2].Kill()
	live := nodes[:2]
	eurekadtest.Eventually(t, 30*time.Second, "the probes shared by the 2 live nodes", shared(live))
	onceEach("2 nodes")

	// The node that took the victim over lifts the DOWN it did not set once
	// the victim passes: a prober's failover leaves no stale DOWN.
	setCode(http.StatusOK)
	waitAll(t, live, 15*time.Second, victim+" UP again on every live node", func(nd *node) error {
		in, err := nd.c.Instance(bg, "CHECKED", victim)
		if err != nil {
			return err
		}
		if in.Status != eureka.StatusUp || registry.HealthFailing(in) {
			return fmt.Errorf("%s: %s %s %v", nd.Addr, victim, in.Status, in.Metadata)
		}
		return nil
	})
}
