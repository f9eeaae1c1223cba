package httpd

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
)

// scrape reads /metrics through the handler and parses the text format.
func scrape(t *testing.T, s *testServer) map[string]*dto.MetricFamily {
	t.Helper()
	w := s.expect("GET", "/metrics", "", 200)
	// Legacy validation: names must be classic Prometheus names.
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, w.Body.String())
	}
	return fams
}

// value returns the value of the series of name whose labels include
// labels ("k=v" pairs).
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.Metric {
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.Counter.GetValue()
		case dto.MetricType_GAUGE:
			return m.Gauge.GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestMetrics(t *testing.T) {
	s, _ := newOpsServer(t, nil, func(o *Options) { o.AdminToken = "tok" })
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o1", 90, ""), 204, "Content-Type", jsonCT)
	s.expect("POST", "/eureka/apps/orders", instanceBody("ORDERS", "o2", 90, ""), 204, "Content-Type", jsonCT)
	s.expect("POST", "/eureka/apps/billing", instanceBody("BILLING", "b1", 90, ""), 204, "Content-Type", jsonCT)
	for i := 0; i < 5; i++ {
		s.expect("PUT", "/eureka/apps/ORDERS/o1", "", 200)
	}
	s.expect("PUT", "/eureka/apps/ORDERS/nope", "", 404)
	s.expect("DELETE", "/eureka/apps/ORDERS/o2", "", 200)
	s.expect("PUT", "/eureka/apps/BILLING/b1/status?value=OUT_OF_SERVICE", "", 200)
	s.expect("GET", "/eureka/apps", "", 200)
	s.expect("GET", "/eureka/apps", "", 200)
	s.expect("GET", "/no/such/page", "", 404)

	fams := scrape(t, s)
	types := map[string]dto.MetricType{
		"eurekad_registry_instances":                   dto.MetricType_GAUGE,
		"eurekad_registry_applications":                dto.MetricType_GAUGE,
		"eurekad_registry_renews_last_minute":          dto.MetricType_GAUGE,
		"eurekad_registry_renews_threshold_per_minute": dto.MetricType_GAUGE,
		"eurekad_registry_self_preservation_active":    dto.MetricType_GAUGE,
		"eurekad_registry_registrations_total":         dto.MetricType_COUNTER,
		"eurekad_registry_cancels_total":               dto.MetricType_COUNTER,
		"eurekad_registry_evictions_total":             dto.MetricType_COUNTER,
		"eurekad_registry_renewals_total":              dto.MetricType_COUNTER,
		"eurekad_cache_hits_total":                     dto.MetricType_COUNTER,
		"eurekad_cache_builds_total":                   dto.MetricType_COUNTER,
		"eurekad_cache_build_seconds_total":            dto.MetricType_COUNTER,
		"eurekad_cache_build_duration_seconds":         dto.MetricType_HISTOGRAM,
		"eurekad_http_request_duration_seconds":        dto.MetricType_HISTOGRAM,
		"go_goroutines":                                dto.MetricType_GAUGE,
	}
	for name, typ := range types {
		if f := fams[name]; f == nil || f.GetType() != typ {
			t.Errorf("%s: %v, want type %v", name, f, typ)
		}
	}
	for name, f := range fams {
		if strings.HasPrefix(name, "eurekad_") && f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s lacks _total", name)
		}
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"eurekad_registry_instances", []string{"status=UP"}, 1},
		{"eurekad_registry_instances", []string{"status=OUT_OF_SERVICE"}, 1},
		{"eurekad_registry_instances", []string{"status=DOWN"}, 0},
		{"eurekad_registry_applications", nil, 2},
		{"eurekad_registry_registrations_total", nil, 3},
		{"eurekad_registry_cancels_total", nil, 1},
		{"eurekad_registry_evictions_total", nil, 0},
		{"eurekad_registry_renewals_total", nil, 5},
		{"eurekad_registry_self_preservation_enabled", nil, 1},
		{"eurekad_cache_builds_total", nil, 1},
		{"eurekad_cache_build_duration_seconds", []string{"entity=apps"}, 1},
		{"eurekad_cache_build_duration_seconds", []string{"entity=delta"}, 0},
		{"eurekad_cache_hits_total", nil, 1},
		{"eurekad_http_request_duration_seconds", []string{"route=PUT /apps/{app}/{id}", "code=200"}, 5},
		{"eurekad_http_request_duration_seconds", []string{"route=PUT /apps/{app}/{id}", "code=404"}, 1},
		{"eurekad_http_request_duration_seconds", []string{"route=POST /apps/{app}", "code=204"}, 3},
		{"eurekad_http_request_duration_seconds", []string{"route=PUT /apps/{app}/{id}/status", "code=200"}, 1},
		{"eurekad_http_request_duration_seconds", []string{"route=GET /apps", "code=200"}, 2},
		{"eurekad_http_request_duration_seconds", []string{"route=unmatched", "code=404"}, 1},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The admin API's own routes are labelled by their pattern, actions
	// too, though they replay a Eureka API call.
	s.expect("GET", "/admin/api/summary", "", 200)
	s.expect("POST", "/admin/api/instances/ORDERS/o1/out-of-service", "", 200, "Authorization", "Bearer tok")
	fams = scrape(t, s)
	if got := value(t, fams, "eurekad_http_request_duration_seconds", "route=GET /admin/api/summary", "code=200"); got != 1 {
		t.Errorf("summary requests = %v", got)
	}
	if got := value(t, fams, "eurekad_http_request_duration_seconds", "route=POST /admin/api/instances/{app}/{id}/out-of-service", "code=200"); got != 1 {
		t.Errorf("action requests = %v", got)
	}
	if got := value(t, fams, "eurekad_http_request_duration_seconds", "route=PUT /apps/{app}/{id}/status", "code=200"); got != 1 {
		t.Errorf("the replayed call was counted as a status request too: %v", got)
	}
}

func TestMetricsOptional(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.Metrics = false; o.Dashboard = false })
	s.expect("GET", "/metrics", "", 404)
	s.expect("GET", "/", "", 404)
}

func TestDashboardServed(t *testing.T) {
	s := newTestServer(t, nil)
	for _, p := range []string{"/", "/lastn"} {
		w := s.expect("GET", p, "", 200)
		if !strings.Contains(w.Body.String(), `<script src="/dashboard/app.js"`) || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %s %q", p, w.Header().Get("Content-Type"), w.Body.String()[:min(80, w.Body.Len())])
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q", p, csp)
		}
	}
	if w := s.expect("GET", "/dashboard/app.js", "", 200); !strings.Contains(w.Header().Get("Content-Type"), "javascript") {
		t.Errorf("app.js served as %q", w.Header().Get("Content-Type"))
	}
	s.expect("GET", "/dashboard/app.css", "", 200)
	s.expect("GET", "/dashboard/nope.js", "", 404)
}

// TestRenewDoesNotAllocateWithMetrics checks that timing requests keeps
// the renewal path allocation-free.
func TestRenewDoesNotAllocateWithMetrics(t *testing.T) {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, _ := cache.New(reg, nil)
	h := New(node.New(reg, node.Options{}), c, nil).Handler()
	s := &testServer{t: t, h: h, reg: reg}
	s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	renew, _ := http.NewRequest("PUT", "/eureka/apps/ORDERS/10.0.0.5:orders:8080?status=UP&lastDirtyTimestamp=1717999999500", nil)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, renew) // first use resolves the route's observer
	if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, renew) }); n != 0 {
		t.Fatalf("a renewal allocates %v times", n)
	}
	if w.code != http.StatusOK {
		t.Fatalf("renew answered %d", w.code)
	}
}

// BenchmarkRenewHTTPNoMetrics is BenchmarkRenewHTTP with metrics off, to
// measure what request timing costs.
func BenchmarkRenewHTTPNoMetrics(b *testing.B) {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, _ := cache.New(reg, nil)
	o := DefaultOptions()
	o.Metrics = false
	h := New(node.New(reg, node.Options{}), c, &o).Handler()
	req, _ := http.NewRequest("POST", "/eureka/apps/ORDERS", strings.NewReader(springBody))
	req.Header.Set("Content-Type", jsonCT)
	h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
	renew, _ := http.NewRequest("PUT", "/eureka/apps/ORDERS/10.0.0.5:orders:8080?status=UP&lastDirtyTimestamp=1717999999500", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.ServeHTTP(w, renew)
	}
}

func TestStripedHistogram(t *testing.T) {
	var h stripedHistogram
	for _, d := range []time.Duration{50 * time.Microsecond, 100 * time.Microsecond, 3 * time.Millisecond, 2 * time.Minute} {
		h.observe(d)
	}
	buckets, count, sum := h.snapshot()
	if count != 4 || math.Abs(sum-(120.003150)) > 1e-9 {
		t.Fatalf("count %d sum %v", count, sum)
	}
	// 100 µs is at the 0.0001 bound (inclusive, as Prometheus has it); the
	// 2 minutes are above the last bound.
	for ub, want := range map[float64]uint64{0.0001: 2, 0.0025: 2, 0.005: 3, 60: 3} {
		if buckets[ub] != want {
			t.Errorf("bucket le=%v = %d, want %d", ub, buckets[ub], want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { h.observe(time.Millisecond) }); n != 0 {
		t.Fatalf("observe allocates %v times", n)
	}
}

// BenchmarkRenewHTTPParallel renews distinct leases from every core
// through the whole handler, with request metrics on and off.
func BenchmarkRenewHTTPParallel(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("metrics=%v", on), func(b *testing.B) {
			reg := registry.New(nil)
			reg.OpenForTraffic(0)
			c, _ := cache.New(reg, nil)
			o := DefaultOptions()
			o.Metrics = on
			h := New(node.New(reg, node.Options{}), c, &o).Handler()
			const n = 256
			for i := 0; i < n; i++ {
				req, _ := http.NewRequest("POST", "/eureka/apps/ORDERS", strings.NewReader(instanceBody("ORDERS", fmt.Sprint("i", i), 90, "")))
				req.Header.Set("Content-Type", jsonCT)
				h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: http.Header{}}
				reqs := make([]*http.Request, n)
				for i := range reqs {
					reqs[i], _ = http.NewRequest("PUT", fmt.Sprint("/eureka/apps/ORDERS/i", i), nil)
				}
				i := 0
				for pb.Next() {
					h.ServeHTTP(w, reqs[i%n])
					i++
				}
			})
		})
	}
}

func TestMetricsFromSources(t *testing.T) {
	s, _ := newOpsServer(t, nil, func(o *Options) {
		o.Ops = OpsSources{
			Peers: func() []PeerStatus {
				return []PeerStatus{{Name: "peer-a", Up: true, QueueLength: 7, Lag: 1500 * time.Millisecond, Sent: 40, Failed: 2}}
			},
			Plugins: func() []PluginStatus { return []PluginStatus{{Name: "ldap", Kind: "auth", Running: true, Restarts: 3}} },
			Auth:    func() []AuthDecisions { return []AuthDecisions{{Op: "admin", Allowed: 5, Denied: 2}} },
			Listeners: func() []ListenerStatus {
				return []ListenerStatus{{Name: "webhook", Delivered: 9, Dropped: 1, QueueLength: 4}}
			},
		}
	})
	fams := scrape(t, s)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"eurekad_replication_peer_up", []string{"peer=peer-a"}, 1},
		{"eurekad_replication_queue_length", []string{"peer=peer-a"}, 7},
		{"eurekad_replication_lag_seconds", []string{"peer=peer-a"}, 1.5},
		{"eurekad_replication_sent_total", []string{"peer=peer-a"}, 40},
		{"eurekad_replication_failures_total", []string{"peer=peer-a"}, 2},
		{"eurekad_plugin_up", []string{"plugin=ldap", "kind=auth"}, 1},
		{"eurekad_plugin_restarts_total", []string{"plugin=ldap", "kind=auth"}, 3},
		{"eurekad_auth_decisions_total", []string{"op=admin", "decision=allow"}, 5},
		{"eurekad_auth_decisions_total", []string{"op=admin", "decision=deny"}, 2},
		{"eurekad_listener_events_delivered_total", []string{"listener=webhook"}, 9},
		{"eurekad_listener_events_dropped_total", []string{"listener=webhook"}, 1},
		{"eurekad_listener_queue_length", []string{"listener=webhook"}, 4},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Without sources those series are absent, and so are the store's
	// without a store.
	plain := scrape(t, newTestServer(t, nil))
	for _, name := range []string{"eurekad_replication_peer_up", "eurekad_plugin_up", "eurekad_auth_decisions_total", "eurekad_storage_degraded"} {
		if plain[name] != nil {
			t.Errorf("%s present without its subsystem", name)
		}
	}
}
