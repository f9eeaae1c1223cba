package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eurekad/eurekad/internal/redistest"
)

// scrapeMetrics fetches /metrics as Prometheus does and parses it with
// the Prometheus text parser (classic name validation).
func scrapeMetrics(t *testing.T, s *server) map[string]*dto.MetricFamily {
	t.Helper()
	r := do(t, "GET", "http://"+s.Addr+"/metrics", nil, "Accept", "text/plain")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// series returns the value of the first series of name carrying labels
// ("name=value"); ok is false when there is none.
func series(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for _, l := range labels {
			k, want, _ := strings.Cut(l, "=")
			if have[k] != want {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.Counter.GetValue(), true
		case dto.MetricType_GAUGE:
			return m.Gauge.GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func metricsInstance(app, id string) []byte {
	return []byte(fmt.Sprintf(`{"instance":{"instanceId":%q,"hostName":"%s.example","app":%q,"ipAddr":"10.0.0.3","status":"UP",
"port":{"$":8080,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`, id, id, app))
}

// TestMetricsScrape runs a real eurekad with the bolt store, performs
// known operations and checks what Prometheus would scrape.
func TestMetricsScrape(t *testing.T) {
	s := startServer(t, "EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR="+t.TempDir())
	base := s.Base
	for _, id := range []string{"m1", "m2", "m3"} {
		if r := do(t, "POST", base+"apps/METRICS", metricsInstance("METRICS", id), "Content-Type", "application/json"); r.Status != 204 {
			t.Fatalf("register %s: %d", id, r.Status)
		}
	}
	for i := 0; i < 4; i++ {
		do(t, "PUT", base+"apps/METRICS/m1", nil)
	}
	do(t, "DELETE", base+"apps/METRICS/m3", nil)
	do(t, "PUT", base+"apps/METRICS/m2/status?value=OUT_OF_SERVICE", nil)
	do(t, "GET", base+"apps", nil, "Accept", "application/json")

	fams := scrapeMetrics(t, s)
	for name, f := range fams {
		if !strings.HasPrefix(name, "eurekad_") {
			continue
		}
		if f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"eurekad_registry_instances", []string{"status=UP"}, 1},
		{"eurekad_registry_instances", []string{"status=OUT_OF_SERVICE"}, 1},
		{"eurekad_registry_applications", nil, 1},
		{"eurekad_registry_registrations_total", nil, 3},
		{"eurekad_registry_cancels_total", nil, 1},
		{"eurekad_registry_evictions_total", nil, 0},
		{"eurekad_registry_renewals_total", nil, 4},
		{"eurekad_registry_self_preservation_enabled", nil, 1},
		{"eurekad_storage_degraded", nil, 0},
		{"eurekad_storage_pending_changes", nil, 0},
		{"eurekad_http_request_duration_seconds", []string{"route=POST /apps/{app}", "code=204"}, 3},
		{"eurekad_http_request_duration_seconds", []string{"route=PUT /apps/{app}/{id}", "code=200"}, 4},
		{"eurekad_http_request_duration_seconds", []string{"route=DELETE /apps/{app}/{id}", "code=200"}, 1},
	}
	for _, w := range want {
		if v, ok := series(fams, w.name, w.labels...); !ok || v != w.value {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, v, ok, w.value)
		}
	}
	// Every acknowledged write was committed: sync durability flushes each.
	if v, ok := series(fams, "eurekad_storage_commit_duration_seconds"); !ok || v < 5 {
		t.Errorf("storage commit latency count %v (present %v), want at least 5", v, ok)
	}
	if v, ok := series(fams, "eurekad_storage_commits_total"); !ok || v < 5 {
		t.Errorf("storage commits %v", v)
	}
	for _, name := range []string{"eurekad_registry_renews_threshold_per_minute", "eurekad_registry_renews_last_minute",
		"eurekad_cache_builds_total", "eurekad_cache_hits_total", "eurekad_registry_self_preservation_active", "process_resident_memory_bytes"} {
		if _, ok := series(fams, name); !ok {
			t.Errorf("%s missing", name)
		}
	}
}

// TestHealthAndReadiness checks /healthz and /readyz on a real server with
// a store, and that the readiness body names the store's state.
func TestHealthAndReadiness(t *testing.T) {
	s := startServer(t, "EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR="+t.TempDir())
	if r := do(t, "GET", "http://"+s.Addr+"/healthz", nil); r.Status != 200 || string(r.Body) != "ok\n" {
		t.Fatalf("healthz: %d %q", r.Status, r.Body)
	}
	r := do(t, "GET", "http://"+s.Addr+"/readyz", nil)
	var body struct {
		Status   string
		Registry struct {
			Restored  bool
			Instances int
		}
		Storage struct{ Degraded bool }
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || r.Status != 200 {
		t.Fatalf("readyz: %d %s (%v)", r.Status, r.Body, err)
	}
	if body.Status != "ready" || !body.Registry.Restored || body.Storage.Degraded {
		t.Fatalf("readyz body %s", r.Body)
	}
}

// TestReadinessFollowsTheStore runs eurekad on a real Redis, hangs Redis
// and checks that /readyz reports the store as unreachable, ready but
// degraded under on_failure=serve, not ready under reject, and ready again
// once Redis answers.
func TestReadinessFollowsTheStore(t *testing.T) {
	r := redistest.Start(t)
	for _, policy := range []string{"serve", "reject"} {
		t.Run(policy, func(t *testing.T) {
			s := startServer(t, "EUREKAD_STORAGE_KIND=redis", "EUREKAD_STORAGE_REDIS_URL="+r.URL(),
				"EUREKAD_STORAGE_REDIS_KEY_PREFIX=readyz-"+policy+":", "EUREKAD_STORAGE_ON_FAILURE="+policy)
			readyz := func() (int, map[string]any) {
				resp := do(t, "GET", "http://"+s.Addr+"/readyz", nil)
				var body map[string]any
				if err := json.Unmarshal(resp.Body, &body); err != nil {
					t.Fatalf("readyz body %q: %v", resp.Body, err)
				}
				return resp.Status, body
			}
			if code, body := readyz(); code != 200 || body["storageReachable"] != true {
				t.Fatalf("with Redis up: %d %v", code, body)
			}
			r.Pause()
			want := map[string]int{"serve": 200, "reject": 503}[policy]
			eventually(t, "readyz to see the hung store", func() error {
				code, body := readyz()
				if code != want || body["status"] != "degraded" || body["storageReachable"] != false {
					return fmt.Errorf("%d %v", code, body)
				}
				return nil
			})
			var st struct {
				Kind      string
				Reachable *bool
				Error     string
			}
			resp := do(t, "GET", "http://"+s.Addr+"/admin/api/storage", nil)
			if err := json.Unmarshal(resp.Body, &st); err != nil || st.Kind != "redis" || st.Reachable == nil || *st.Reachable || st.Error == "" {
				t.Errorf("admin storage with Redis hung: %s (%v)", resp.Body, err)
			}
			r.Resume()
			eventually(t, "readyz to see the store back", func() error {
				if code, body := readyz(); code != 200 || body["status"] != "ready" {
					return fmt.Errorf("%d %v", code, body)
				}
				return nil
			})
		})
	}
}

// TestOpsSettings turns the dashboard and metrics off and names the
// environment and data center through the environment variables.
func TestOpsSettings(t *testing.T) {
	s := startServer(t, "EUREKAD_HTTP_DASHBOARD=false", "EUREKAD_HTTP_METRICS=false",
		"EUREKAD_HTTP_ENVIRONMENT=prod", "EUREKAD_HTTP_DATACENTER=eu-west")
	root := "http://" + s.Addr
	for _, p := range []string{"/", "/lastn", "/dashboard/app.js", "/metrics"} {
		if r := do(t, "GET", root+p, nil); r.Status != 404 {
			t.Errorf("GET %s = %d with the dashboard and metrics off", p, r.Status)
		}
	}
	var sum struct {
		Server struct{ Environment, DataCenter string }
	}
	if r := do(t, "GET", root+"/admin/api/summary", nil); r.Status != 200 || json.Unmarshal(r.Body, &sum) != nil ||
		sum.Server.Environment != "prod" || sum.Server.DataCenter != "eu-west" {
		t.Errorf("summary: %d %s", r.Status, r.Body)
	}
	if r := do(t, "GET", s.Base+"status", nil, "Accept", "application/json"); !strings.Contains(string(r.Body), `"environment":"prod"`) {
		t.Errorf("GET status: %s", r.Body)
	}

	on := startServer(t)
	if r := do(t, "GET", "http://"+on.Addr+"/", nil); r.Status != 200 || !strings.Contains(string(r.Body), "<title>eurekad</title>") {
		t.Errorf("GET / by default: %d", r.Status)
	}
}
