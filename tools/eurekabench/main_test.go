package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPayload checks the generated registry is an Applications document in
// Eureka's JSON shape with 1,000 instances and the right apps__hashcode.
func TestPayload(t *testing.T) {
	specs := registrySpecs(1000, 50)
	p := applicationsJSON(specs, specs, "1", 1718000000000, "ADDED")
	if !bytes.HasPrefix(p, []byte(`{"applications":{"versions__delta":"1","apps__hashcode":"DOWN_10_UP_990_","application":[{"name":"ORDERS","instance":[{"instanceId":"10.0.0.1:orders:8080","hostName":"10.0.0.1","app":"ORDERS","ipAddr":"10.0.0.1","status":"UP","overriddenStatus":"UNKNOWN","port":{"$":8080,"@enabled":"true"}`)) {
		t.Fatalf("payload starts %s", p[:300])
	}
	var doc struct {
		Applications struct {
			VersionsDelta string `json:"versions__delta"`
			AppsHashcode  string `json:"apps__hashcode"`
			Application   []struct {
				Name     string `json:"name"`
				Instance []struct {
					InstanceID     string          `json:"instanceId"`
					App            string          `json:"app"`
					Status         string          `json:"status"`
					DataCenterInfo json.RawMessage `json:"dataCenterInfo"`
					Metadata       json.RawMessage `json:"metadata"`
					LastDirty      string          `json:"lastDirtyTimestamp"`
					IsCoordinating string          `json:"isCoordinatingDiscoveryServer"`
				} `json:"instance"`
			} `json:"application"`
		} `json:"applications"`
	}
	if err := json.Unmarshal(p, &doc); err != nil {
		t.Fatal(err)
	}
	apps := doc.Applications.Application
	if len(apps) != 50 {
		t.Errorf("%d applications, want 50", len(apps))
	}
	counts := map[string]int{}
	ids := map[string]bool{}
	n := 0
	for _, a := range apps {
		for _, in := range a.Instance {
			n++
			counts[in.Status]++
			ids[in.InstanceID] = true
			if in.App != a.Name {
				t.Errorf("instance %s: app %q in application %q", in.InstanceID, in.App, a.Name)
			}
			if !bytes.Contains(in.DataCenterInfo, []byte(`"@class":`)) || in.LastDirty == "" || in.IsCoordinating != "false" {
				t.Errorf("instance %s is missing a server-format field", in.InstanceID)
			}
		}
	}
	if n != 1000 || len(ids) != 1000 {
		t.Errorf("%d instances, %d distinct ids, want 1000", n, len(ids))
	}
	// Recompute the hash from the decoded statuses, not from the specs.
	if want := "DOWN_" + strconv.Itoa(counts["DOWN"]) + "_UP_" + strconv.Itoa(counts["UP"]) + "_"; doc.Applications.AppsHashcode != want || len(counts) != 2 {
		t.Errorf("apps__hashcode %q, statuses %v", doc.Applications.AppsHashcode, counts)
	}
}

// TestRegisterBody checks a register body decodes as a root-wrapped instance.
func TestRegisterBody(t *testing.T) {
	s := specFor("x-", 7, 50)
	var in baselineInstance
	if err := json.Unmarshal(appendRegisterBody(nil, &s, 1), &in); err != nil {
		t.Fatal(err)
	}
	if in.Instance.InstanceID != "x-10.0.0.8:accounts:8080" || in.Instance.App != "ACCOUNTS" || in.Instance.Status != "UP" {
		t.Errorf("decoded %+v", in.Instance)
	}
}

// TestBaselineStatusCodes checks the baseline answers what the protocol
// prescribes: 204 register, 200 renew, 404 unknown renew, 200 cancel, gzip
// only when asked.
func TestBaselineStatusCodes(t *testing.T) {
	srv := httptest.NewServer(newBaselineServer(1000, 1020).handler())
	defer srv.Close()
	s := specFor("", 3, 50)
	body := appendRegisterBody(nil, &s, 1)
	id := "/eureka/apps/" + strings.ToLower(s.app) + "/" + s.id

	call := func(method, path string, body []byte, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		tr := &http.Transport{DisableCompression: true}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, c := range []struct {
		method, path string
		body         []byte
		want         int
	}{
		{"PUT", id, nil, 404},
		{"POST", "/eureka/apps/" + s.app, body, 204},
		{"POST", "/eureka/apps/" + s.app, []byte("{"), 400},
		{"PUT", id + "?status=UP&lastDirtyTimestamp=1", nil, 200},
		{"DELETE", id, nil, 200},
		{"DELETE", id, nil, 404},
	} {
		resp := call(c.method, c.path, c.body, map[string]string{"Content-Type": "application/json"})
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}

	for _, path := range []string{"/eureka/apps", "/eureka/apps/", "/eureka/apps/delta"} {
		plain := call("GET", path, nil, map[string]string{"Accept": "application/json"})
		pb, _ := io.ReadAll(plain.Body)
		plain.Body.Close()
		gz := call("GET", path, nil, map[string]string{"Accept": "application/json", "Accept-Encoding": "gzip, deflate"})
		zr, err := gzip.NewReader(gz.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		gb, _ := io.ReadAll(zr)
		gz.Body.Close()
		if plain.StatusCode != 200 || plain.Header.Get("Content-Encoding") != "" || gz.Header.Get("Content-Encoding") != "gzip" ||
			gz.Header.Get("Content-Type") != "application/json" || !bytes.Equal(pb, gb) || !json.Valid(pb) {
			t.Errorf("GET %s: plain %d %v, gzip %v, equal %v", path, plain.StatusCode, plain.Header, gz.Header, bytes.Equal(pb, gb))
		}
	}
}

// TestRunAgainstBaseline drives every throughput scenario briefly against the
// baseline and expects requests and no errors.
func TestRunAgainstBaseline(t *testing.T) {
	srv := httptest.NewServer(newBaselineServer(100, 120).handler())
	defer srv.Close()
	for _, client := range []string{"raw", "stdlib"} {
		for _, sc := range []string{"renew", "register", "fetch-full", "delta"} {
			b := newBench(runConfig{target: srv.URL + "/eureka", scenario: sc, duration: 150 * time.Millisecond,
				concurrency: 4, instances: 100, apps: 50, maxRequests: 1 << 40, visIters: 1, requestLimit: 5 * time.Second, client: client})
			res, err := b.run()
			b.tr.CloseIdleConnections()
			if err != nil {
				t.Fatalf("%s %s: %v", client, sc, err)
			}
			if res.Requests == 0 || res.Errors != 0 || res.RPS <= 0 || res.P99Ms < res.P50Ms {
				t.Errorf("%s %s: %+v", client, sc, res)
			}
		}
	}
}

// TestRunCountsErrors checks unexpected status codes are counted, not hidden.
func TestRunCountsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	for _, client := range []string{"raw", "stdlib"} {
		b := newBench(runConfig{target: srv.URL + "/eureka", scenario: "renew", duration: 100 * time.Millisecond,
			concurrency: 2, instances: 10, apps: 50, maxRequests: 1 << 40, visIters: 1, requestLimit: 5 * time.Second, client: client})
		res, err := b.run()
		b.tr.CloseIdleConnections()
		if err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		if res.Requests == 0 || res.Errors != res.Requests || res.ErrorDetail["status 404"] != res.Requests {
			t.Errorf("%s: requests %d errors %d detail %v", client, res.Requests, res.Errors, res.ErrorDetail)
		}
	}
}

// TestVisibility runs the visibility scenario against a tiny live registry
// that shows an instance as soon as it is registered.
func TestVisibility(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			var in baselineInstance
			json.NewDecoder(r.Body).Decode(&in)
			mu.Lock()
			ids[in.Instance.InstanceID] = true
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		case http.MethodDelete:
			w.WriteHeader(http.StatusOK)
		default:
			mu.Lock()
			defer mu.Unlock()
			io.WriteString(w, `{"applications":{"application":[{"instance":[`)
			sep := ""
			for id := range ids {
				io.WriteString(w, sep+`{"instanceId":"`+id+`"}`)
				sep = ","
			}
			io.WriteString(w, `]}]}}`)
		}
	}))
	defer srv.Close()
	b := newBench(runConfig{target: srv.URL + "/eureka", scenario: "visibility", duration: 5 * time.Second,
		concurrency: 2, instances: 10, apps: 50, visIters: 5, visTimeout: time.Second, requestLimit: 5 * time.Second})
	defer b.tr.CloseIdleConnections()
	res, err := b.run()
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range []string{"/apps", "/apps/delta"} {
		if v := res.Visibility[ep]; v == nil || v.Samples != 5 || v.Timeouts != 0 || v.MaxMs < v.P50Ms {
			t.Errorf("%s: %+v", ep, v)
		}
	}
	if res.Errors != 0 {
		t.Errorf("errors %v", res.ErrorDetail)
	}
}

// TestSummary checks medians, ratios and the error flag in the table.
func TestSummary(t *testing.T) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, r := range []Result{
		{Label: "baseline", Scenario: "renew", RPS: 100, Requests: 1000, CPU: &CPUUse{ServerSec: 0.02}},
		{Label: "baseline", Scenario: "renew", RPS: 300, Requests: 1000, CPU: &CPUUse{ServerSec: 0.01, OtherPct: 40}},
		{Label: "baseline", Scenario: "renew", RPS: 200, Requests: 1000, CPU: &CPUUse{ServerSec: 0.03}},
		{Label: "eurekad", Scenario: "renew", RPS: 150, Requests: 1000, CPU: &CPUUse{ServerSec: 0.03}},
		{Label: "baseline", Scenario: "register", RPS: 100},
		{Label: "eurekad", Scenario: "register", RPS: 90, Errors: 3, Requests: 900},
		{Label: "eurekad", Scenario: "visibility", Visibility: map[string]*VisResult{
			"/apps": {Samples: 10, P99Ms: 12}, "/apps/delta": {Samples: 10, P99Ms: 80}}},
		{Label: "eurekad", Scenario: "visibility", Visibility: map[string]*VisResult{
			"/apps": {Samples: 10, P99Ms: 11}, "/apps/delta": {Samples: 10, P99Ms: 1, Timeouts: 1}}},
		{Label: "eurekad", Scenario: "visibility", Visibility: map[string]*VisResult{
			"/apps": {Samples: 10, P99Ms: 13}, "/apps/delta": {Samples: 10, P99Ms: 1}}},
	} {
		enc.Encode(r)
	}
	rs, err := readResults(bytes.NewReader(in.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	writeSummary(&out, rs, "baseline", "eurekad")
	for _, want := range []string{
		"| renew | 200 | 150 | 0.75× | ≥ 0.8× | **MISSED** | 20.0 / 30.0 |",
		"| register | 100 | 90 ⚠ 3 errors | 0.90× | ≥ 0.7× | met (runs had errors) | — |",
		"other processes used up to 40% of the machine",
		"| visibility /apps p99 | n/a | 12.0 ms | — | ≤ 50 ms | met |",
		// A timeout fails the target even when the median p99 is low.
		"| visibility /apps/delta p99 | n/a | 1.0 ms | — | ≤ 50 ms | **MISSED** |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// TestHistogram checks bucket round trips and quantiles within the bucket error.
func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := got - c.want; d < -c.want/50 || d > c.want/50 {
			t.Errorf("q%.2f = %v, want %v ± 2%%", c.q, got, c.want)
		}
	}
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 1e6, 1e12, 1 << 62} {
		if i := histIndex(v); i >= histBuckets || histValue(i) > v+v/50+1 || histValue(i) < v-v/50-1 {
			t.Errorf("value %d: bucket %d midpoint %d", v, i, histValue(i))
		}
	}
}

// TestCPUAccounting checks the /proc readers on Linux: this process and the
// machine both have CPU time, and a phase's use comes out non-negative.
func TestCPUAccounting(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc")
	}
	a := sampleCPU(os.Getpid())
	for i := 0; i < 2e6; i++ { // burn a little CPU
		_ = strconv.Itoa(i)
	}
	b := sampleCPU(os.Getpid())
	if !a.ok || !b.ok || b.total <= a.total || b.self < a.self {
		t.Fatalf("samples %+v %+v", a, b)
	}
	if u := cpuUse(a, b, os.Getpid()); u == nil || u.GeneratorSec < 0 || u.OtherPct < 0 || u.OtherPct > 100 {
		t.Errorf("use %+v", u)
	}
}

// --basic-auth reaches the server as basic credentials with either client;
// a value without a colon is refused.
func TestRunSendsBasicAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "orders" || p != "o:secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	for _, client := range []string{"raw", "stdlib"} {
		b := newBench(runConfig{target: srv.URL + "/eureka", scenario: "renew", duration: 100 * time.Millisecond,
			concurrency: 2, instances: 10, apps: 50, maxRequests: 1 << 40, visIters: 1, requestLimit: 5 * time.Second,
			client: client, basicAuth: "orders:o:secret"})
		res, err := b.run()
		b.tr.CloseIdleConnections()
		if err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		if res.Requests == 0 || res.Errors != 0 {
			t.Errorf("%s: requests %d errors %d detail %v", client, res.Requests, res.Errors, res.ErrorDetail)
		}
	}
	if err := checkBasicAuth("orders"); err == nil {
		t.Error("--basic-auth without a colon accepted")
	}
}
