package cluster

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// recordingFront stands between a eurekad and its peer: it records the ids
// of every non-empty batch and forwards it to the peer. When armed it
// holds the next batch until released, to keep a batch in flight.
type recordingFront struct {
	target string // the peer's base URL

	mu      sync.Mutex
	batches [][]string
	hold    chan struct{} // the next batch waits until it is closed
	held    chan struct{} // closed once a batch is being held
}

// arm makes the next batch wait for release; held is closed when it
// arrives.
func (f *recordingFront) arm() (held chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold, f.held = make(chan struct{}), make(chan struct{})
	hold := f.hold
	return f.held, sync.OnceFunc(func() { close(hold) })
}

func (f *recordingFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	items, err := eureka.DecodeReplicationListJSON(b)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if len(items) > 0 {
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		f.mu.Lock()
		f.batches = append(f.batches, ids)
		hold, held := f.hold, f.held
		f.hold, f.held = nil, nil
		f.mu.Unlock()
		if hold != nil {
			close(held)
			<-hold
		}
	}
	req, err := http.NewRequest(r.Method, f.target+strings.TrimPrefix(r.URL.Path, "/eureka/"), bytes.NewReader(b))
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func (f *recordingFront) sent() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

// A registration on an idle node travels to its peer alone: registered
// one at a time, each only once the peer serves the one before, every
// registration is one batch of its own, in order. Registrations made while
// a batch is in flight gather and follow it as one batch. (That a lone
// change leaves without Eureka's 500 ms wait is asserted on a fake clock
// in core/replication; the time it takes is in bench-cluster.sh.)
func TestLoneChangesTravelAloneAndGatherBehindABatchInFlight(t *testing.T) {
	b := newNode(t, eurekadtest.Start(t))
	front := &recordingFront{target: b.Base}
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	a := newNode(t, eurekadtest.Start(t, "EUREKAD_CLUSTER_PEERS="+srv.URL+"/eureka/", "EUREKAD_CLUSTER_PEER_TIMEOUT=60s"))

	servedOnB := func(ids ...string) {
		t.Helper()
		eurekadtest.Eventually(t, 15*time.Second, "B serves "+strings.Join(ids, ","), func() error {
			for _, id := range ids {
				if _, err := b.fromApps("PIPE", id); err != nil {
					return err
				}
			}
			return nil
		})
	}

	var want [][]string
	for i := range 3 {
		id := "lone-" + strconv.Itoa(i)
		if err := a.c.Register(bg, instance("PIPE", id)); err != nil {
			t.Fatal(err)
		}
		servedOnB(id)
		want = append(want, []string{id})
	}
	if got := front.sent(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("batches %v, want each lone registration alone: %v", got, want)
	}

	// Hold the next batch in flight and register more meanwhile.
	held, release := front.arm()
	t.Cleanup(release)
	if err := a.c.Register(bg, instance("PIPE", "first")); err != nil {
		t.Fatal(err)
	}
	<-held
	var behind []string
	for i := range 5 {
		id := "behind-" + strconv.Itoa(i)
		if err := a.c.Register(bg, instance("PIPE", id)); err != nil {
			t.Fatal(err)
		}
		behind = append(behind, id)
	}
	release()
	servedOnB(append([]string{"first"}, behind...)...)
	want = append(want, []string{"first"}, behind)
	if got := front.sent(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches %v, want the registrations made during the held batch in one batch after it: %v", got, want)
	}
}

// peerView is one peer in the admin API.
type peerView struct {
	URL       string
	Up        bool
	Failed    uint64
	LastError string
}

func peerOf(t *testing.T, n *node, url string) (peerView, error) {
	var pv struct{ Peers []peerView }
	getJSON(t, "http://"+n.Addr+"/admin/api/peers", &pv)
	for _, p := range pv.Peers {
		if p.URL == url {
			return p, nil
		}
	}
	return peerView{}, fmt.Errorf("%s not among %s's peers: %+v", url, n.Addr, pv.Peers)
}

// metricFor returns the value of metric for peer in /metrics.
func metricFor(t *testing.T, n *node, metric, peer string) (float64, error) {
	prefix := metric + `{peer="` + peer + `"} `
	for line := range strings.Lines(getText(t, "http://"+n.Addr+"/metrics")) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no %s for %s on %s", metric, peer, n.Addr)
}

// A peer that refuses connections shows as down with its failures
// counted (status API and /metrics) and the refusal as its error; once it
// is up it gets the queued change and the error goes away, while the
// failures stay counted.
func TestRefusingPeerCountsFailuresThenClearsItsError(t *testing.T) {
	addrs := freeAddrs(t, 2)
	urls := peerURLs("http", addrs)
	env := []string{"EUREKAD_CLUSTER_RETRY_BACKOFF=50ms", "EUREKAD_CLUSTER_MAX_BACKOFF=200ms"}
	a := startNode(t, addrs[0], urls, env...)
	if err := a.c.Register(bg, instance("PIPE", "waiting")); err != nil {
		t.Fatal(err)
	}

	var down peerView
	eurekadtest.Eventually(t, 15*time.Second, "the refusing peer is down with failures counted", func() error {
		p, err := peerOf(t, a, urls[1])
		if err != nil {
			return err
		}
		if p.Up || p.Failed < 2 || !strings.Contains(p.LastError, "connection refused") {
			return fmt.Errorf("peer %+v", p)
		}
		down = p
		return nil
	})
	host := strings.TrimPrefix(strings.TrimSuffix(urls[1], "/eureka/"), "http://")
	if v, err := metricFor(t, a, "eurekad_replication_failures_total", host); err != nil || v < float64(down.Failed) {
		t.Errorf("eurekad_replication_failures_total = %v (%v), want at least the %d failures of the status API", v, err, down.Failed)
	}

	b := startNode(t, addrs[1], urls, env...)
	eurekadtest.Eventually(t, 15*time.Second, "the peer is up with no error and has the change", func() error {
		p, err := peerOf(t, a, urls[1])
		if err != nil {
			return err
		}
		if !p.Up || p.LastError != "" {
			return fmt.Errorf("peer %+v", p)
		}
		_, err = b.fromApps("PIPE", "waiting")
		return err
	})
	if p, _ := peerOf(t, a, urls[1]); p.Failed < down.Failed {
		t.Errorf("failures went from %d to %d: the count must survive the recovery", down.Failed, p.Failed)
	}
}
