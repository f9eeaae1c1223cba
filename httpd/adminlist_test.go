package httpd

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/httpd/history"
	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/eureka"
)

func ids(l instancesView) string {
	var out []string
	for _, in := range l.Instances {
		out = append(out, in.ID)
	}
	return strings.Join(out, ",")
}

func TestAdminAPIInstancesPagedAndSorted(t *testing.T) {
	s, clk := newOpsServer(t, nil, nil)
	// Registered out of id order, a second apart, with different hosts.
	for _, id := range []string{"o3", "o1", "o2"} {
		s.reg.Register(&eureka.InstanceInfo{App: "ORDERS", InstanceID: id, HostName: "host-" + strings.Repeat("z", int(id[1]-'0')), Status: eureka.StatusUp}, false)
		clk.Advance(time.Second)
	}
	s.reg.Register(&eureka.InstanceInfo{App: "BILLING", InstanceID: "b1", HostName: "host-b", Status: eureka.StatusDown}, false)
	for _, c := range []struct{ query, want string }{
		{"", "b1,o1,o2,o3"}, // the registry's order: application, id
		{"?offset=1&limit=2", "o1,o2"},
		{"?offset=3&limit=2", "o3"},
		{"?offset=9", ""},
		{"?sort=-id", "o3,o2,o1,b1"},
		{"?sort=registered", "o3,o1,o2,b1"},
		{"?sort=-registered&limit=1", "b1"},
		{"?sort=status", "b1,o1,o2,o3"},
		{"?sort=-host&app=orders", "o3,o2,o1"},
		{"?sort=-app&offset=1&limit=2", "o2,o3"}, // ties keep the registry's order
	} {
		l := decode[instancesView](t, s.expect("GET", "/admin/api/instances"+c.query, "", 200))
		if got := ids(l); got != c.want {
			t.Errorf("instances%s = %s, want %s", c.query, got, c.want)
		}
	}
	l := decode[instancesView](t, s.expect("GET", "/admin/api/instances?app=orders&offset=1&limit=1", "", 200))
	if l.Total != 3 || l.Offset != 1 || l.Limit != 1 || !l.Truncated {
		t.Errorf("page = total %d offset %d limit %d truncated %v", l.Total, l.Offset, l.Limit, l.Truncated)
	}
	s.expect("GET", "/admin/api/instances?offset=-1", "", 400)
	if b := s.expect("GET", "/admin/api/instances?sort=color", "", 400).Body.String(); !strings.Contains(b, "lastRenewal") {
		t.Errorf("an unknown sort key is refused without naming the known ones: %s", b)
	}
}

func TestAdminAPIApps(t *testing.T) {
	s, _ := newOpsServer(t, nil, nil)
	reg := func(app, id string, st eureka.Status) {
		s.reg.Register(&eureka.InstanceInfo{App: app, InstanceID: id, HostName: "h", Status: st, Metadata: map[string]string{"zone": "z1"}}, false)
	}
	reg("ORDERS", "o1", eureka.StatusUp)
	reg("ORDERS", "o2", eureka.StatusDown)
	reg("ORDERS", "o3", eureka.StatusUp)
	reg("BILLING", "b1", eureka.StatusUp)
	reg("PAYMENTS", "p1", eureka.StatusDown)
	reg("PAYMENTS", "p2", eureka.StatusDown)
	type apps struct {
		Total        int
		Truncated    bool
		Applications []appRow
	}
	names := func(a apps) string {
		var out []string
		for _, r := range a.Applications {
			out = append(out, r.Name)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ query, want string }{
		{"", "BILLING,ORDERS,PAYMENTS"},
		{"?q=ment", "PAYMENTS"},
		{"?app=orders", "ORDERS"},
		{"?app=order", ""},
		{"?status=down", "ORDERS,PAYMENTS"},
		{"?sort=-instances", "ORDERS,PAYMENTS,BILLING"},
		{"?sort=-down&limit=2", "PAYMENTS,ORDERS"},
		{"?offset=2", "PAYMENTS"},
	} {
		if got := names(decode[apps](t, s.expect("GET", "/admin/api/apps"+c.query, "", 200))); got != c.want {
			t.Errorf("apps%s = %s, want %s", c.query, got, c.want)
		}
	}
	a := decode[apps](t, s.expect("GET", "/admin/api/apps?q=orders", "", 200))
	if o := a.Applications[0]; a.Total != 1 || o.Instances != 3 || o.StatusCounts["UP"] != 2 || o.StatusCounts["DOWN"] != 1 || o.Zones["z1"] != 3 {
		t.Errorf("ORDERS = %+v (total %d)", o, a.Total)
	}
	// The summary can leave its rows out and keeps its counts.
	sum := decode[summaryView](t, s.expect("GET", "/admin/api/summary?applications=false", "", 200))
	if len(sum.Applications) != 0 || sum.Registry.Applications != 3 || sum.Registry.Instances != 6 || sum.Runtime.GoVersion == "" || sum.Runtime.HeapAlloc == 0 {
		t.Errorf("summary without rows: %d rows, registry %+v, runtime %+v", len(sum.Applications), sum.Registry, sum.Runtime)
	}
}

func TestAdminAPIDeregister(t *testing.T) {
	open, _ := newOpsServer(t, nil, nil)
	open.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o1", 90, ""), 204, "Content-Type", jsonCT)
	open.expect("POST", "/admin/api/instances/ORDERS/o1/deregister", "", 403) // not loopback, no token

	s, _ := newOpsServer(t, nil, func(o *Options) { o.AdminToken = "s3cret" })
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o1", 90, ""), 204, "Content-Type", jsonCT)
	s.expect("POST", "/admin/api/instances/ORDERS/o1/deregister", "", 401)
	s.expect("POST", "/admin/api/instances/ORDERS/o1/deregister", "", 403, "Authorization", "Bearer s3cret", "Origin", "http://evil.example")
	if s.reg.Instance("ORDERS", "o1") == nil {
		t.Fatal("a refused deregistration removed the instance")
	}
	s.expect("POST", "/admin/api/instances/orders/o1/deregister", "", 200, "Authorization", "Bearer s3cret")
	if s.reg.Instance("ORDERS", "o1") != nil {
		t.Fatal("the instance is still registered")
	}
	if got := s.reg.RecentlyCanceled(); len(got) != 1 || got[0].ID != "o1" {
		t.Errorf("recently cancelled = %+v", got)
	}
	s.expect("GET", "/eureka/apps/ORDERS/o1", "", 404)
	s.expect("POST", "/admin/api/instances/ORDERS/o1/deregister", "", 404, "Authorization", "Bearer s3cret")
}

// TestAdminAPIHistory records through the real event bus, as eurekad
// wires it.
func TestAdminAPIHistory(t *testing.T) {
	bus := events.New(nil)
	rec := history.New(0, 0)
	if err := bus.Subscribe("history", rec, events.SubscribeOptions{Types: history.Types}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = bus.Run(t.Context()) }()
	s, _ := newOpsServer(t, func(o *registry.Options) { o.Events = bus }, func(o *Options) {
		o.AdminToken = "s3cret"
		o.Ops.History = rec.Get
	})
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o1", 90, ""), 204, "Content-Type", jsonCT)
	s.expect("POST", "/admin/api/instances/ORDERS/o1/out-of-service", "", 200, "Authorization", "Bearer s3cret")
	s.expect("POST", "/admin/api/instances/ORDERS/o1/in-service", "", 200, "Authorization", "Bearer s3cret")
	s.expect("POST", "/admin/api/instances/ORDERS/o1/deregister", "", 200, "Authorization", "Bearer s3cret")
	want := "cancelled UP, status-changed UP, status-changed OUT_OF_SERVICE, registered UP"
	var h historyView
	eurekadtest.Eventually(t, 5*time.Second, "the history of o1", func() error {
		h = decode[historyView](t, s.expect("GET", "/admin/api/instances/orders/o1/history", "", 200))
		var got []string
		for _, c := range h.Changes {
			got = append(got, c.Event+" "+c.Status)
		}
		if g := strings.Join(got, ", "); g != want {
			return fmt.Errorf("history = %s, want %s", g, want)
		}
		return nil
	})
	if !h.Recorded || h.App != "ORDERS" || h.ID != "o1" || h.Changes[0].Time.IsZero() {
		t.Errorf("history = %+v", h)
	}
	if h := decode[historyView](t, s.expect("GET", "/admin/api/instances/ORDERS/never/history", "", 200)); !h.Recorded || len(h.Changes) != 0 {
		t.Errorf("unknown instance's history = %+v", h)
	}
	// Without a recorder, the answer says so.
	plain, _ := newOpsServer(t, nil, nil)
	if h := decode[historyView](t, plain.expect("GET", "/admin/api/instances/ORDERS/o1/history", "", 200)); h.Recorded || h.Changes == nil {
		t.Errorf("history without a recorder = %+v", h)
	}
}

// BenchmarkAdminInstancesSorted measures one sorted page of GET
// admin/api/instances over 10,000 instances, what the dashboard asks for
// when an operator sorts a column.
func BenchmarkAdminInstancesSorted(b *testing.B) {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	for i := range 10_000 {
		reg.Register(&eureka.InstanceInfo{App: fmt.Sprint("APP", i%100), InstanceID: fmt.Sprint("i", i), HostName: "h", IPAddr: "10.0.0.1",
			Status: eureka.StatusUp, Metadata: map[string]string{"zone": "a"}}, false)
	}
	c, _ := cache.New(reg, nil)
	h := New(node.New(reg, node.Options{}), c, nil).Handler()
	for _, sort := range []string{"-id", "zone", "lastRenewal"} {
		b.Run(sort, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/admin/api/instances?limit=50&sort="+sort, nil)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
