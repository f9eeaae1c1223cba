package replication_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/httpd"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// countingFront forwards to target and counts requests by path suffix.
type countingFront struct {
	mu     sync.Mutex
	counts map[string]int
}

func newCountingFront(t *testing.T, target string, answer func(w http.ResponseWriter, r *http.Request) bool) (*countingFront, string) {
	t.Helper()
	u, err := neturl.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &countingFront{counts: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(&neturl.URL{Scheme: u.Scheme, Host: u.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		path := strings.TrimSuffix(r.URL.Path, "/")
		f.counts[path[strings.LastIndex(path, "/")+1:]]++
		f.mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL + u.Path
}

func (f *countingFront) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[path]
}

func appInst(app, id string) *eureka.InstanceInfo {
	in := inst(id)
	in.App = app
	return in
}

// A 5,000-instance registry where the peer took 1,000 overrides, 100
// cancels and 50 metadata edits the local node never got (as after a
// long outage: the tasks expired) converges in one round of a bounded
// number of requests: one digest and one exchange per 500 instances of
// the differing applications, whichever side is newer.
func TestAntiEntropyRepairsLargeRegistryWithBoundedRequests(t *testing.T) {
	peerReg, url := eurekadPeer(t)
	local := registry.New(nil)
	const apps, per = 100, 50
	for a := range apps {
		for i := range per {
			in := appInst(fmt.Sprintf("APP-%03d", a), fmt.Sprintf("i-%d", i))
			peerReg.Register(in, false)
			local.Register(peerReg.Instance(in.App, in.InstanceID), true)
		}
	}
	// The peer's changes: apps 0–19 (overrides), 20–21 (cancels); the
	// local node's: apps 90–94 (metadata). 27 apps of 50 instances differ.
	for a := range 20 {
		for i := range per {
			peerReg.SetStatus(fmt.Sprintf("APP-%03d", a), fmt.Sprintf("i-%d", i), eureka.StatusOutOfService, 0, false)
		}
	}
	for a := 20; a < 22; a++ {
		for i := range per {
			peerReg.Cancel(fmt.Sprintf("APP-%03d", a), fmt.Sprintf("i-%d", i), false)
		}
	}
	for a := 90; a < 95; a++ {
		for i := range 10 {
			local.UpdateMetadata(fmt.Sprintf("APP-%03d", a), fmt.Sprintf("i-%d", i), map[string]string{"owner": "ops"})
		}
	}
	if maps.Equal(local.Digest(), peerReg.Digest()) {
		t.Fatal("digests equal before the repair")
	}

	front, furl := newCountingFront(t, url, nil)
	// An exchange of 500 instances under the race detector on a loaded
	// machine can take longer than newCluster's 1 s timeout, which failed
	// the only round (3 runs in 8).
	cl := newCluster(t, local, func(o *replication.Options) {
		o.AntiEntropyInterval, o.PeerTimeout = time.Hour, 30*time.Second
	}, furl)
	// The peer's first answer starts a round.
	eventually(t, "registries converge", func() bool { return maps.Equal(local.Digest(), peerReg.Digest()) })

	p := cl.Peers()[0]
	if p.Pulled.Instances != 1000 || p.Pulled.Cancels != 100 || p.Pushed.Instances != 50 || p.Pushed.Cancels != 0 {
		t.Errorf("pulled %+v pushed %+v, want 1000 instances and 100 cancels pulled, 50 instances pushed", p.Pulled, p.Pushed)
	}
	// 27 differing apps of 50: (20+5)×50 instances and 2×50 tombstones,
	// 1,350 in all, in exchanges of at most 500: 3 exchanges.
	// A loaded machine may hold this process's goroutines long enough to
	// look like a stall, which asks for another round: after the repair,
	// it finds equal digests and exchanges nothing.
	d, x := front.count("digest"), front.count("exchange")
	if d < 1 || d > 2 || x != 3 {
		t.Errorf("%d digest and %d exchange requests, want 1 (2 after a stall) and 3", d, x)
	}
	if p.RepairRounds != uint64(d) || p.RepairRequests != uint64(d+x) {
		t.Errorf("stats: %d rounds, %d requests", p.RepairRounds, p.RepairRequests)
	}
	if local.Instance("APP-020", "i-1") != nil {
		t.Error("a cancelled instance is still here")
	}
	if got := local.Override("APP-000", "i-1"); got != eureka.StatusOutOfService {
		t.Errorf("override of APP-000/i-1 = %q", got)
	}
	if got := peerReg.Instance("APP-090", "i-1").Metadata["owner"]; got != "ops" {
		t.Errorf("peer's APP-090/i-1 owner=%q", got)
	}
}

// A Java peer answers the digest 404: anti-entropy stops asking it until
// it comes back, and plain replication goes on.
func TestAntiEntropySkipsJavaPeer(t *testing.T) {
	_, url := eurekadPeer(t)
	front, furl := newCountingFront(t, url, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "digest") || strings.Contains(r.URL.Path, "exchange") {
			http.NotFound(w, r)
			return true
		}
		return false
	})
	local := registry.New(nil)
	cl := newCluster(t, local, func(o *replication.Options) { o.AntiEntropyInterval = 20 * time.Millisecond }, furl)
	eventually(t, "the peer is marked without anti-entropy", func() bool { return !cl.Peers()[0].AntiEntropy })
	local.Register(appInst("SVC", "i1"), false)
	cl.Replicate(eureka.ReplicateRegister, "SVC", "i1")
	eventually(t, "replication goes on", func() bool { return front.count("batch") > 0 && cl.Peers()[0].Sent > 0 })
	// Waiting out ten periods is the behaviour under test: none asks the
	// peer again.
	time.Sleep(10 * 20 * time.Millisecond)
	if got := front.count("digest"); got != 1 {
		t.Errorf("digest asked %d times, want 1", got)
	}
}

// A peer that loses tasks without pause (it refuses every batch, or a
// full queue drops them under load) must not get a repair round at every
// loss check, each a digest of the whole registry on both sides and an
// exchange of what differs meanwhile: rounds for lost tasks are spaced.
func TestLostTasksDoNotStormRepairs(t *testing.T) {
	_, url := eurekadPeer(t)
	front, furl := newCountingFront(t, url, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "batch") {
			http.Error(w, "no", http.StatusBadRequest) // not worth retrying: the tasks are lost
			return true
		}
		return false
	})
	local := registry.New(nil)
	cl := newCluster(t, local, func(o *replication.Options) { o.AntiEntropyInterval = time.Hour }, furl)
	local.Register(appInst("SVC", "i1"), false)
	// Waiting out four loss checks is the behaviour under test; a task is
	// lost every 100 ms meanwhile.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		cl.Replicate(eureka.ReplicateRegister, "SVC", "i1")
	}
	if cl.Peers()[0].Rejected == 0 {
		t.Fatal("no task was lost")
	}
	if got := front.count("digest"); got == 0 || got > 2 {
		t.Errorf("%d repair rounds in 4 s of lost tasks; want 1 or 2", got)
	}
}

// repairToSmallBodyPeer registers n instances of app in a new registry,
// each with metadata meta, and lets anti-entropy repair a eurekad peer
// taking bodies of at most 512 KB; it returns how many exchanges that took.
func repairToSmallBodyPeer(t *testing.T, app string, n int, meta map[string]string) int {
	t.Helper()
	ho := httpd.DefaultOptions()
	ho.MaxBodyBytes = 512 << 10
	peerReg, url := eurekadPeerWith(t, &ho)
	front, furl := newCountingFront(t, url, nil)
	local := registry.New(nil)
	for i := range n {
		in := appInst(app, fmt.Sprintf("i-%d", i))
		in.Metadata = meta
		local.Register(in, false)
	}
	local.Register(appInst("SMALL", "s-1"), false)
	newCluster(t, local, func(o *replication.Options) { // the timeout: as in the test above
		o.AntiEntropyInterval, o.PeerTimeout = time.Hour, 30*time.Second
	}, furl)
	eventually(t, "the peer holding every instance", func() bool {
		return len(peerReg.Digest()) == 2 && maps.Equal(peerReg.Digest(), local.Digest())
	})
	return front.count("exchange")
}

// An application larger than one exchange (here 1,500 instances, about
// 1.1 MB, against a peer taking 512 KB bodies) is repaired in pieces: sent
// whole, it drew a 413 at every round and the round stopped there, so
// neither it nor the applications after it ever converged.
func TestAntiEntropySplitsLargeApplication(t *testing.T) {
	// One digest, then BIG in three pieces and SMALL.
	if got := repairToSmallBodyPeer(t, "BIG", 1500, map[string]string{"owner": "ops"}); got > 4 {
		t.Errorf("%d exchanges; want at most 4", got)
	}
}

// Instances with large metadata (8 KB each, within the input rules) make
// 500 of them far larger than a peer's body limit: a 413 halves the pieces
// instead of stopping the round for good.
func TestAntiEntropyShrinksPiecesOnTooLarge(t *testing.T) {
	// FAT and SMALL: 101 → 413, 50 → 413, 25 ×4 and SMALL.
	if got := repairToSmallBodyPeer(t, "FAT", 100, map[string]string{"blob": strings.Repeat("m", 8<<10)}); got > 8 {
		t.Errorf("%d exchanges; want at most 8", got)
	}
}
