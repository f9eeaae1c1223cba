package replication_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/httpd"
	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/faultproxy"
	"github.com/eurekad/eurekad/sdk/eureka"
)

func inst(id string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID: id, HostName: "h", App: "ORDERS", IPAddr: "10.0.0.1", Status: eureka.StatusUp,
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
	}
}

// eurekadPeer is a real eurekad HTTP server (registry, cache, httpd) on
// loopback, as the receiving peer.
func eurekadPeer(t *testing.T) (*registry.Registry, string) {
	return eurekadPeerWith(t, nil)
}

func eurekadPeerWith(t *testing.T, o *httpd.Options) (*registry.Registry, string) {
	t.Helper()
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, err := cache.New(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpd.New(node.New(reg, node.Options{}), c, o).Handler())
	t.Cleanup(srv.Close)
	return reg, srv.URL + "/eureka/"
}

func newCluster(t *testing.T, reg *registry.Registry, mod func(*replication.Options), peers ...string) *replication.Cluster {
	t.Helper()
	o := replication.DefaultOptions()
	o.Peers = peers
	// These fronts answer batches only; antientropy_test.go turns it on.
	o.AntiEntropyInterval = 0
	o.RetryBackoff = 10 * time.Millisecond
	o.MaxBackoff = 50 * time.Millisecond
	o.PeerTimeout = time.Second
	if mod != nil {
		mod(&o)
	}
	cl, err := replication.New(reg, &o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return cl
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	eurekadtest.Until(t, 15*time.Second, what, ok)
}

// Many writes reach a real peer in batches of at most BatchSize, and the
// peer's registry ends up with all of them; the stats count them.
func TestReplicatesToRealPeerInBatches(t *testing.T) {
	peerReg, url := eurekadPeer(t)
	var sizes []int
	var mu sync.Mutex
	// A counting front for the real peer.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		items, err := eureka.DecodeReplicationListJSON(b)
		if err != nil || r.Header.Get("x-netflix-discovery-replication") != "true" {
			t.Errorf("bad batch: %v, header %q", err, r.Header.Get("x-netflix-discovery-replication"))
		}
		mu.Lock()
		if len(items) > 0 {
			sizes = append(sizes, len(items))
		}
		mu.Unlock()
		req, _ := http.NewRequest(r.Method, url+"peerreplication/batch", bytesReader(b))
		req.Header = r.Header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.WriteHeader(500)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer front.Close()

	reg := registry.New(nil)
	cl := newCluster(t, reg, func(o *replication.Options) { o.BatchSize = 100 }, front.URL+"/eureka/")
	const n = 350
	for i := range n {
		in := inst("i-" + itoa(i))
		reg.Register(in, false)
		cl.Replicate(eureka.ReplicateRegister, "ORDERS", in.ID())
	}
	eventually(t, "all registered on the peer", func() bool { return peerReg.Size() == n && cl.Peers()[0].Sent == n })
	mu.Lock()
	for _, s := range sizes {
		if s > 100 {
			t.Errorf("batch of %d items, above the batch size", s)
		}
	}
	mu.Unlock()
	st := cl.Peers()[0]
	if st.Sent != n || st.QueueLength != 0 || !st.Available || st.LastSuccess.IsZero() || st.Dropped != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func bytesReader(b []byte) io.Reader { return &byteReader{b: b} }

type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// A 503 is congestion: the batch is sent again after a pause. Another
// error status drops the batch and counts its items rejected.
func TestCongestionRetriesOtherErrorsDrop(t *testing.T) {
	var calls atomic.Int32
	var codes = []int{503, 503, 200, 500}
	var mu sync.Mutex
	var lastIDs []string // the instances of the last batch posted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		items, _ := eureka.DecodeReplicationListJSON(b)
		if len(items) == 0 {
			w.Write([]byte(`{"responseList":[]}`))
			return
		}
		mu.Lock()
		lastIDs = lastIDs[:0]
		for _, it := range items {
			lastIDs = append(lastIDs, it.ID)
		}
		mu.Unlock()
		i := int(calls.Add(1)) - 1
		code := 200
		if i < len(codes) {
			code = codes[i]
		}
		if code != 200 {
			w.WriteHeader(code)
			return
		}
		res := make([]eureka.ReplicationResult, len(items))
		for j := range res {
			res[j].StatusCode = 200
		}
		w.Write(eureka.AppendReplicationResponseJSON(nil, res))
	}))
	defer srv.Close()
	reg := registry.New(nil)
	reg.Register(inst("a"), false)
	reg.Register(inst("b"), false)
	cl := newCluster(t, reg, nil, srv.URL+"/eureka/")
	cl.Replicate(eureka.ReplicateRegister, "ORDERS", "a")
	eventually(t, "delivered after two 503s", func() bool { return cl.Peers()[0].Sent == 1 })
	if c := calls.Load(); c != 3 {
		t.Errorf("%d batch posts, want 3", c)
	}
	cl.Replicate(eureka.ReplicateHeartbeat, "ORDERS", "a")
	eventually(t, "500 drops the batch", func() bool { return cl.Peers()[0].Rejected == 1 })
	// Every failed request counts: two 503s and the 500.
	if st := cl.Peers()[0]; st.QueueLength != 0 || st.LastError == "" || st.Failed != 3 || st.LastFailure != st.LastError {
		t.Errorf("stats = %+v", st)
	}
	// A retried batch goes before (or with) the tasks queued after it: the
	// next post carries the next task alone, and it is the fifth.
	cl.Replicate(eureka.ReplicateRegister, "ORDERS", "b")
	eventually(t, "the next task delivered", func() bool { return cl.Peers()[0].Sent >= 2 })
	mu.Lock()
	defer mu.Unlock()
	if c := calls.Load(); c != 5 || !slices.Equal(lastIDs, []string{"b"}) {
		t.Errorf("%d batch posts, the last of %q; want 5, the last of [b]: a 500 is not retried", c, lastIDs)
	}
}

// An unreachable peer keeps its tasks (bounded by the queue size, the
// overflow counted) until it comes back, then gets them.
func TestUnreachablePeerQueueBoundedThenDelivered(t *testing.T) {
	peerReg, url := eurekadPeer(t)
	u, _ := neturl.Parse(url)
	proxy, err := faultproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.SetMode(faultproxy.Drop)

	reg := registry.New(nil)
	cl := newCluster(t, reg, func(o *replication.Options) { o.QueueSize = 50; o.BatchSize = 10 }, "http://"+proxy.Addr()+"/eureka/")
	for i := range 80 {
		in := inst("i-" + itoa(i))
		reg.Register(in, false)
		cl.Replicate(eureka.ReplicateRegister, "ORDERS", in.ID())
	}
	eventually(t, "peer marked unavailable", func() bool { st := cl.Peers()[0]; return !st.Available && st.LastError != "" })
	// The queue holds at most QueueSize tasks; the sender may also hold
	// one batch (BatchSize) in flight, so at least 80-50-10 are dropped.
	st := cl.Peers()[0]
	if st.QueueLength > 50 || st.Dropped < 20 {
		t.Errorf("queue %d dropped %d: want at most 50 queued, the overflow dropped", st.QueueLength, st.Dropped)
	}
	// The lag is the age of the oldest change not delivered: it grows
	// while the peer is down.
	lag := st.Lag
	eventually(t, "the lag to grow while the peer is down", func() bool { return cl.Peers()[0].Lag > lag+50*time.Millisecond })
	proxy.SetMode(faultproxy.Pass)
	// Every task is either delivered or counted as dropped: none is lost
	// silently. (A busy race-enabled run may need more than a few seconds
	// for the retries to come round.)
	eurekadtest.Eventually(t, 30*time.Second, "delivered + dropped = 80", func() error {
		if st := cl.Peers()[0]; st.QueueLength != 0 || peerReg.Size()+int(st.Dropped) != 80 {
			return fmt.Errorf("delivered %d, dropped %d, queued %d", peerReg.Size(), st.Dropped, st.QueueLength)
		}
		return nil
	})
	if n := peerReg.Size(); n < 50 || n > 60 {
		t.Errorf("%d delivered, want the 50 queued plus at most one batch in flight", n)
	}
	eventually(t, "no lag once everything is delivered", func() bool { return cl.Peers()[0].Lag == 0 })
	if peerReg.Instance("ORDERS", "i-79") == nil {
		t.Error("the newest task must survive the overflow")
	}
}

// The own URL is left out of the peer list, by --self-url or by host and
// listen port.
func TestOwnURLSkipped(t *testing.T) {
	reg := registry.New(nil)
	o := replication.DefaultOptions()
	o.ListenAddr = ":8761"
	o.Peers = []string{"http://localhost:8761/eureka/", "http://127.0.0.1:8761/eureka", "http://127.0.0.1:8762/eureka/", "http://u:p@10.9.9.9:8761/eureka/"}
	cl, err := replication.New(reg, &o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range cl.Peers() {
		got = append(got, p.URL)
	}
	if len(got) != 2 || got[0] != "http://127.0.0.1:8762/eureka/" || got[1] != "http://10.9.9.9:8761/eureka/" {
		t.Errorf("peers = %q", got)
	}
	// The name the list gives this node is what core/health ranks it by;
	// peers not reached yet are not members.
	if self, reachable := cl.Members(); self != "http://127.0.0.1:8761/eureka/" || len(reachable) != 0 {
		t.Errorf("Members = %q, %q", self, reachable)
	}
	o.SelfURL = "http://10.9.9.9:8761/eureka/"
	cl, _ = replication.New(reg, &o)
	if n := len(cl.Peers()); n != 3 {
		t.Errorf("with self_url: %d peers, want 3 (only the exact URL is self)", n)
	}
	if self, _ := cl.Members(); self != "http://10.9.9.9:8761/eureka/" {
		t.Errorf("Members with self_url: self %q", self)
	}
	o.Peers = []string{"ftp://x/"}
	if _, err := replication.New(reg, &o); err == nil {
		t.Error("a non-http peer URL was accepted")
	}
}

// A peer URL with an escaped path is named and reached with its escaping,
// trailing slash or not.
func TestEscapedPeerPath(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		mu.Lock()
		paths = append(paths, u+":"+p+" "+r.URL.EscapedPath())
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	reg := registry.New(nil)
	cl := newCluster(t, reg, func(o *replication.Options) { o.Username, o.Password = "u", "p" },
		srv.URL+"/eu%2Freka", srv.URL+"/eu%2Freka/")
	if st := cl.Peers(); len(st) != 1 || st[0].URL != srv.URL+"/eu%2Freka/" {
		t.Fatalf("peers = %+v, want one named %s/eu%%2Freka/", st, srv.URL)
	}
	in := inst("i-1")
	reg.Register(in, false)
	cl.Replicate(eureka.ReplicateRegister, "ORDERS", in.ID())
	eventually(t, "a request reaches the peer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(paths) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		if !strings.HasPrefix(p, "u:p /eu%2Freka/") {
			t.Errorf("peer request %q, want credentials u:p under /eu%%2Freka/", p)
		}
	}
}

// A peer that refuses a batch as too large (413, its body limit) gets the
// same registrations in smaller batches; nothing is lost.
func TestTooLargeBatchesAreSplit(t *testing.T) {
	ho := httpd.DefaultOptions()
	ho.MaxBodyBytes = 8 << 10 // about a dozen full instances
	peerReg, url := eurekadPeerWith(t, &ho)
	reg := registry.New(nil)
	cl := newCluster(t, reg, nil, url)
	for i := range 100 {
		in := inst("big-" + itoa(i))
		reg.Register(in, false)
		cl.Replicate(eureka.ReplicateRegister, "ORDERS", in.ID())
	}
	// The sender counts a batch once its response is read, a moment after
	// the peer applied it.
	eventually(t, "all registered on the peer and counted as sent", func() bool {
		return peerReg.Size() == 100 && cl.Peers()[0].Sent == 100
	})
	if st := cl.Peers()[0]; st.Rejected != 0 || st.Failed == 0 || st.LastError != "" {
		t.Errorf("stats = %+v: want the 413s counted as failed requests, nothing rejected, no error left", st)
	}
}

// While the start-up sync copies a peer's registry in, the node says so
// (Syncing) and refuses anti-entropy digests with 503: a peer's round
// against the half-filled registry would push it everything the sync is
// copying anyway (a million instances twice, at once).
func TestDigestRefusedWhileSyncing(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/apps/") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		close(entered)
		<-release
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"applications":{"versions__delta":"1","apps__hashcode":"","application":[]}}`)
	}))
	t.Cleanup(peer.Close)
	cl := newCluster(t, registry.New(nil), nil, peer.URL+"/eureka/")
	o := httpd.DefaultOptions()
	o.Ops.Syncing = cl.Syncing
	_, self := eurekadPeerWith(t, &o)
	digest := func() int {
		resp, err := http.Get(self + "peerreplication/digest")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if cl.Syncing() || digest() != http.StatusOK {
		t.Fatal("digest refused before any sync")
	}
	done := make(chan error)
	go func() {
		_, err := cl.Sync(context.Background())
		done <- err
	}()
	<-entered
	if !cl.Syncing() {
		t.Fatal("Syncing() = false during the sync")
	}
	if code := digest(); code != http.StatusServiceUnavailable {
		t.Fatalf("digest during the sync = %d, want 503", code)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if cl.Syncing() || digest() != http.StatusOK {
		t.Fatal("digest still refused after the sync")
	}
}

// While the start-up sync runs, anti-entropy asks no peer for its digest
// (a round against the half-filled registry would pull whole
// applications the sync is copying anyway); the sync's end starts a round.
func TestAntiEntropyWaitsForTheSync(t *testing.T) {
	var digests, probes atomic.Int64
	entered, release := make(chan struct{}), make(chan struct{})
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/apps/"):
			close(entered)
			<-release
			io.WriteString(w, `{"applications":{"versions__delta":"1","apps__hashcode":"","application":[]}}`)
		case strings.Contains(r.URL.Path, "/peerreplication/digest"):
			digests.Add(1)
			io.WriteString(w, `{}`)
		case strings.Contains(r.URL.Path, "/peerreplication/batch"):
			probes.Add(1)
			io.WriteString(w, `{"responseList":[]}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(peer.Close)
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // runs before peer.Close, which waits for the held fetch
	// Not newCluster: Run must start only once the sync is under way.
	o := replication.DefaultOptions()
	o.Peers = []string{peer.URL + "/eureka/"}
	o.AntiEntropyInterval, o.ProbeInterval = 5*time.Millisecond, 5*time.Millisecond
	cl, err := replication.New(registry.New(nil), &o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	synced := make(chan error, 1)
	go func() {
		_, err := cl.Sync(ctx)
		synced <- err
	}()
	<-entered // Sync is under way: only now do the peer loops start
	ran := make(chan struct{})
	go func() { cl.Run(ctx); close(ran) }()
	t.Cleanup(func() { cancel(); <-ran })
	// The probes run on the same period as anti-entropy: twenty of them
	// are about twenty periods of the sync under way.
	eurekadtest.Eventually(t, 10*time.Second, "twenty probes of the peer", func() error {
		if n := probes.Load(); n < 20 {
			return fmt.Errorf("%d probes", n)
		}
		return nil
	})
	if n := digests.Load(); n != 0 {
		t.Fatalf("%d digest requests while the start-up sync ran", n)
	}
	unblock()
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	eurekadtest.Eventually(t, 10*time.Second, "a round after the sync", func() error {
		if digests.Load() == 0 {
			return errors.New("no digest request")
		}
		return nil
	})
}
