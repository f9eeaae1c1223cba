package httpd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newOpsServer is a test server over a registry with a manual clock.
func newOpsServer(t *testing.T, regMod func(*registry.Options), mod func(*Options)) (*testServer, *manualClock) {
	t.Helper()
	clk := &manualClock{now: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}
	ro := registry.DefaultOptions()
	ro.Clock = clk
	if regMod != nil {
		regMod(&ro)
	}
	reg := registry.New(&ro)
	reg.OpenForTraffic(0)
	c, err := cache.New(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	if mod != nil {
		mod(&o)
	}
	return &testServer{t: t, h: New(node.New(reg, node.Options{}), c, &o).Handler(), reg: reg}, clk
}

func instanceBody(app, id string, durationSecs int, meta string) string {
	return fmt.Sprintf(`{"instance":{"instanceId":%q,"hostName":"%s.example","app":%q,"ipAddr":"10.0.0.7","status":"UP",
"port":{"$":8080,"@enabled":"true"},"vipAddress":"%s","statusPageUrl":"http://%s.example/info",
"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":%d},"metadata":{%s},
"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`,
		id, id, app, strings.ToLower(app), id, durationSecs, meta)
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %s: %v", w.Body.String(), err)
	}
	return v
}

func TestAdminAPISummaryAndInstances(t *testing.T) {
	s, _ := newOpsServer(t, nil, nil)
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o1", 90, `"zone":"zone-a","team":"checkout"`), 204, "Content-Type", jsonCT)
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o2", 90, `"zone":"zone-b"`), 204, "Content-Type", jsonCT)
	s.expect("POST", "/eureka/apps/billing", instanceBody("BILLING", "b1", 90, ""), 204, "Content-Type", jsonCT)
	s.expect("PUT", "/eureka/apps/BILLING/b1/status?value=DOWN", "", 200)

	sum := decode[summaryView](t, s.expect("GET", "/admin/api/summary", "", 200))
	if sum.Registry.Instances != 3 || sum.Registry.Applications != 2 || sum.Registry.ByStatus["UP"] != 2 || sum.Registry.ByStatus["DOWN"] != 1 {
		t.Errorf("registry = %+v", sum.Registry)
	}
	if len(sum.Applications) != 2 || sum.Applications[0].Name != "BILLING" || sum.Applications[1].Name != "ORDERS" {
		t.Fatalf("applications = %+v", sum.Applications)
	}
	orders := sum.Applications[1]
	if orders.Instances != 2 || len(orders.ByStatus["UP"]) != 2 || orders.ByStatus["UP"][0] != (idLink{ID: "o1", URL: "http://o1.example/info"}) || orders.StatusCounts["UP"] != 2 ||
		orders.Zones["zone-a"] != 1 || orders.Zones["zone-b"] != 1 || orders.AMIs["n/a"] != 2 {
		t.Errorf("ORDERS row = %+v", orders)
	}
	if sum.Server.Environment != "test" || sum.Storage.Kind != "memory" || sum.Peers.Configured || sum.Plugins.Configured {
		t.Errorf("server %+v storage %+v peers %+v plugins %+v", sum.Server, sum.Storage, sum.Peers, sum.Plugins)
	}

	type list struct {
		Total     int
		Truncated bool
		Instances []instanceView
	}
	for _, c := range []struct {
		query string
		ids   []string
	}{
		{"", []string{"b1", "o1", "o2"}},
		{"?app=orders", []string{"o1", "o2"}},
		{"?status=down", []string{"b1"}},
		{"?q=CHECKOUT", []string{"o1"}},    // a metadata value
		{"?q=zone-b", []string{"o2"}},      // another
		{"?q=billing.", []string{}},        // nothing
		{"?q=ORD&limit=1", []string{"o1"}}, // o1 and o2 match; one shown
	} {
		l := decode[list](t, s.expect("GET", "/admin/api/instances"+c.query, "", 200))
		var ids []string
		for _, in := range l.Instances {
			ids = append(ids, in.ID)
		}
		if strings.Join(ids, ",") != strings.Join(c.ids, ",") {
			t.Errorf("instances%s = %v, want %v", c.query, ids, c.ids)
		}
		if want := len(c.ids); c.query == "?q=ORD&limit=1" {
			if l.Total != 2 || !l.Truncated {
				t.Errorf("limited list: total %d, truncated %v", l.Total, l.Truncated)
			}
		} else if l.Total != want || l.Truncated {
			t.Errorf("instances%s: total %d, truncated %v", c.query, l.Total, l.Truncated)
		}
	}
	s.expect("GET", "/admin/api/instances?limit=0", "", 400)
	s.expect("GET", "/admin/api/instances?limit=x", "", 400)

	in := decode[instanceView](t, s.expect("GET", "/admin/api/instances/billing/b1", "", 200))
	if in.Status != "DOWN" || in.Override != "DOWN" || in.Port != 8080 || in.Lease.DurationSecs != 90 ||
		in.Lease.RegisteredAt.IsZero() || in.Lease.Expired || in.Lease.ExpiresAt.Before(in.Lease.LastRenewal) {
		t.Errorf("instance = %+v", in)
	}
	s.expect("GET", "/admin/api/instances/BILLING/nope", "", 404)
}

func TestAdminAPISummaryBoundsIDs(t *testing.T) {
	s, _ := newOpsServer(t, nil, nil)
	for i := 0; i < maxIDsShown+5; i++ {
		s.reg.Register(&eureka.InstanceInfo{App: "BIG", InstanceID: fmt.Sprintf("big-%03d", i), HostName: "h", Status: eureka.StatusUp}, false)
	}
	sum := decode[summaryView](t, s.expect("GET", "/admin/api/summary", "", 200))
	big := sum.Applications[0]
	if big.Instances != maxIDsShown+5 || big.StatusCounts["UP"] != maxIDsShown+5 || len(big.ByStatus["UP"]) != maxIDsShown || big.ByStatus["UP"][0].ID != "big-000" {
		t.Fatalf("BIG = %d instances, counts %v, %d ids listed", big.Instances, big.StatusCounts, len(big.ByStatus["UP"]))
	}
}

// BenchmarkAdminSummary measures GET admin/api/summary over 100,000
// instances in 500 applications, what one dashboard refresh costs.
func BenchmarkAdminSummary(b *testing.B) {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	for i := 0; i < 100_000; i++ {
		reg.Register(&eureka.InstanceInfo{App: fmt.Sprint("APP", i%500), InstanceID: fmt.Sprint("i", i), HostName: "h", IPAddr: "10.0.0.1",
			Status: eureka.StatusUp, StatusPageURL: "http://h/info", Metadata: map[string]string{"zone": "a"}}, false)
	}
	c, _ := cache.New(reg, nil)
	h := New(node.New(reg, node.Options{}), c, nil).Handler()
	req := httptest.NewRequest("GET", "/admin/api/summary", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
		b.SetBytes(int64(w.Body.Len()))
	}
}

func TestAdminAPIStatusActions(t *testing.T) {
	// No token: loopback only; httptest requests come from 192.0.2.1.
	open, _ := newOpsServer(t, nil, nil)
	open.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o1", 90, ""), 204, "Content-Type", jsonCT)
	open.expect("POST", "/admin/api/instances/ORDERS/o1/out-of-service", "", 403)
	open.expect("GET", "/admin/api/summary", "", 200) // reads stay open

	s, _ := newOpsServer(t, nil, func(o *Options) { o.AdminToken = "s3cret" })
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o1", 90, ""), 204, "Content-Type", jsonCT)
	s.expect("POST", "/admin/api/instances/ORDERS/o1/out-of-service", "", 401)
	s.expect("POST", "/admin/api/instances/ORDERS/o1/out-of-service", "", 401, "Authorization", "Bearer nope")
	s.expect("GET", "/admin/api/whoami", "", 401)
	s.expect("GET", "/admin/api/whoami", "", 200, "Authorization", "Bearer s3cret")
	if in := s.reg.Instance("ORDERS", "o1"); in.Status != "UP" {
		t.Fatalf("refused action changed the status to %s", in.Status)
	}
	s.expect("POST", "/admin/api/instances/orders/o1/out-of-service", "", 200, "Authorization", "Bearer s3cret")
	if in := s.reg.Instance("ORDERS", "o1"); in.Status != "OUT_OF_SERVICE" || s.reg.Overrides()["o1"] != "OUT_OF_SERVICE" {
		t.Fatalf("after out-of-service: %s, overrides %v", in.Status, s.reg.Overrides())
	}
	// The Eureka API shows it as the operator call would.
	if b := s.expect("GET", "/eureka/apps/ORDERS/o1", "", 200, "Accept", jsonCT).Body.String(); !strings.Contains(b, `"status":"OUT_OF_SERVICE"`) {
		t.Fatalf("GET instance = %s", b)
	}
	s.expect("POST", "/admin/api/instances/ORDERS/o1/in-service", "", 200, "Authorization", "Bearer s3cret")
	if in := s.reg.Instance("ORDERS", "o1"); in.Status != "UP" || len(s.reg.Overrides()) != 0 {
		t.Fatalf("after in-service: %s, overrides %v", in.Status, s.reg.Overrides())
	}
	s.expect("POST", "/admin/api/instances/ORDERS/missing/out-of-service", "", 404, "Authorization", "Bearer s3cret")
	// A browser posting for another site is refused, credentials or not.
	s.expect("POST", "/admin/api/instances/ORDERS/o1/out-of-service", "", 403, "Authorization", "Bearer s3cret", "Origin", "http://evil.example")
	s.expect("POST", "/admin/api/instances/ORDERS/o1/out-of-service", "", 403, "Authorization", "Bearer s3cret", "Sec-Fetch-Site", "cross-site")
	s.expect("POST", "/admin/api/instances/ORDERS/o1/out-of-service", "", 200, "Authorization", "Bearer s3cret", "Origin", "http://example.com", "Sec-Fetch-Site", "same-origin")
	s.expect("POST", "/admin/api/instances/ORDERS/o1/in-service", "", 200, "Authorization", "Bearer s3cret")
}

func TestAdminAPISelfPreservation(t *testing.T) {
	s, clk := newOpsServer(t, func(o *registry.Options) { o.WaitTimeWhenSyncEmpty = time.Minute }, nil)
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o1", 10, ""), 204, "Content-Type", jsonCT)
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o2", 90, ""), 204, "Content-Type", jsonCT)
	sp := decode[selfPreservationView](t, s.expect("GET", "/admin/api/self-preservation", "", 200))
	// E = 1 (open for traffic) + 2 registrations; 2 renewals a minute each.
	if sp.ExpectedClients != 3 || sp.ExpectedRenewsPerMinute != 6 || sp.Threshold != 5 || !sp.Active || !sp.WarmingUp || sp.Banner != "" {
		t.Fatalf("at start: %+v", sp)
	}
	if !strings.Contains(sp.Explanation, "paused while the server starts") {
		t.Errorf("explanation at start: %s", sp.Explanation)
	}

	// o1's 10 s lease (20 s with legacy expiry) runs out; nobody renews, so
	// after the start-up wait Eureka's emergency banner shows and o1 is
	// shielded.
	clk.Advance(2 * time.Minute)
	sp = decode[selfPreservationView](t, s.expect("GET", "/admin/api/self-preservation", "", 200))
	if !sp.Active || sp.WarmingUp || !sp.BelowThreshold || sp.Banner != bannerEmergency || sp.ExpiredLeases != 2 ||
		len(sp.Shielded) != 2 || len(sp.PendingEviction) != 0 || sp.Shielded[0].Lease.Eviction != "shielded" {
		t.Fatalf("below threshold: %+v", sp)
	}
	for _, want := range []string{"Self-preservation is active", "0 renewals", "3 clients are expected", "2 expired leases are kept"} {
		if !strings.Contains(sp.Explanation, want) {
			t.Errorf("explanation lacks %q: %s", want, sp.Explanation)
		}
	}

	// Enough renewals in a full minute lift it: o2 renews 6 times.
	for i := 0; i < 6; i++ {
		s.expect("PUT", "/eureka/apps/ORDERS/o2", "", 200)
	}
	clk.Advance(time.Minute)
	sp = decode[selfPreservationView](t, s.expect("GET", "/admin/api/self-preservation", "", 200))
	if sp.Active || !sp.LeaseExpirationEnabled || sp.Banner != "" || len(sp.Shielded) != 0 || len(sp.PendingEviction) != 1 ||
		sp.PendingEviction[0].ID != "o1" || sp.PendingEviction[0].Lease.Eviction != "pending" {
		t.Fatalf("above threshold: %+v", sp)
	}
	if !strings.Contains(sp.Explanation, "Leases expire normally: 6 renewals") || !strings.Contains(sp.Explanation, "1 expired lease is evicted by the next run") {
		t.Errorf("explanation: %s", sp.Explanation)
	}

	off, _ := newOpsServer(t, func(o *registry.Options) { o.EnableSelfPreservation = false }, nil)
	sp = decode[selfPreservationView](t, off.expect("GET", "/admin/api/self-preservation", "", 200))
	if sp.Active || sp.Banner != bannerOff || !strings.HasPrefix(sp.Explanation, "Self-preservation is turned off") {
		t.Fatalf("off: %+v", sp)
	}
}

func TestAdminAPIEvents(t *testing.T) {
	s, _ := newOpsServer(t, nil, nil)
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o1", 90, ""), 204, "Content-Type", jsonCT)
	s.expect("DELETE", "/eureka/apps/ORDERS/o1", "", 200)
	ev := decode[struct{ Registered, Canceled []eventView }](t, s.expect("GET", "/admin/api/events", "", 200))
	if len(ev.Registered) != 1 || ev.Registered[0].ID != "o1" || len(ev.Canceled) != 1 || ev.Canceled[0].App != "ORDERS" {
		t.Fatalf("events = %+v", ev)
	}
}

func TestAdminAPISources(t *testing.T) {
	s, _ := newOpsServer(t, nil, func(o *Options) {
		o.Ops.Peers = func() []PeerStatus {
			return []PeerStatus{{Name: "peer-b", URL: "http://user:pw@b/eureka/", Up: false, LastError: "refused"}, {Name: "peer-a", Up: true}}
		}
		o.Ops.Plugins = func() []PluginStatus { return []PluginStatus{{Name: "ldap", Kind: "auth", Running: true, Restarts: 2}} }
	})
	p := decode[peersView](t, s.expect("GET", "/admin/api/peers", "", 200))
	if !p.Configured || len(p.Peers) != 2 || p.Peers[0].Name != "peer-a" || p.Peers[1].LastError != "refused" || p.Peers[1].URL != "http://b/eureka/" {
		t.Fatalf("peers = %+v", p)
	}
	pl := decode[pluginsView](t, s.expect("GET", "/admin/api/plugins", "", 200))
	if !pl.Configured || pl.Plugins[0].Restarts != 2 {
		t.Fatalf("plugins = %+v", pl)
	}
	st := decode[storageView](t, s.expect("GET", "/admin/api/storage", "", 200))
	if st.Kind != "memory" || st.Persistent {
		t.Fatalf("storage = %+v", st)
	}
}

func TestAdminAPIStream(t *testing.T) {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, _ := cache.New(reg, nil)
	srv := New(node.New(reg, node.Options{}), c, nil)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/admin/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if ev, ok := strings.CutPrefix(lines.Text(), "event: "); ok {
				return ev
			}
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return ""
	}
	if ev := next(); ev != "hello" {
		t.Fatalf("first event %q", ev)
	}
	s := &testServer{t: t, h: srv.Handler(), reg: reg}
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o1", 90, ""), 204, "Content-Type", jsonCT)
	if ev := next(); ev != "change" {
		t.Fatalf("after a registration: %q", ev)
	}
	lines.Scan()
	if d := lines.Text(); d != `data: {"version":1}` {
		t.Fatalf("data %q", d)
	}
}

// TestShutdownEndsStreams checks that an open event stream does not hold
// a graceful shutdown until its timeout.
func TestShutdownEndsStreams(t *testing.T) {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, _ := cache.New(reg, nil)
	srv := New(node.New(reg, node.Options{}), c, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/admin/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	bufio.NewReader(resp.Body).ReadString('\n') // the stream is open
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v after %v", err, time.Since(start))
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
