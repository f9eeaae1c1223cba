package httpd

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
)

// springBody is a registration as the Spring Cloud client sends it: explicit
// nulls, numeric timestamps, a boolean coordinating flag, @class markers.
const springBody = `{"instance":{"instanceId":"10.0.0.5:orders:8080","app":"ORDERS","appGroupName":null,
"ipAddr":"10.0.0.5","sid":"na","homePageUrl":"http://10.0.0.5:8080/","statusPageUrl":"http://10.0.0.5:8080/actuator/info",
"healthCheckUrl":"http://10.0.0.5:8080/actuator/health","secureHealthCheckUrl":null,"vipAddress":"orders",
"secureVipAddress":"orders","countryId":1,"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
"hostName":"10.0.0.5","status":"UP","overriddenStatus":"UNKNOWN","leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,
"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},
"isCoordinatingDiscoveryServer":false,"lastUpdatedTimestamp":1718000000000,"lastDirtyTimestamp":1717999999500,
"actionType":null,"asgName":null,"port":{"$":8080,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},
"metadata":{"management.port":"8080","zone":"zone-a"}}}`

const fargoXML = `<instance><hostName>host1</hostName><app>payments</app><ipAddr>10.0.0.9</ipAddr>
<vipAddress>payments</vipAddress><status>UP</status><port enabled="true">7001</port>
<dataCenterInfo class="com.netflix.appinfo.MyDataCenterInfo"><name>MyOwn</name></dataCenterInfo>
<metadata><owner_team>core</owner_team></metadata></instance>`

type testServer struct {
	t   *testing.T
	h   http.Handler
	reg *registry.Registry
}

func newTestServer(t *testing.T, mod func(*Options)) *testServer {
	t.Helper()
	return newNodeServer(t, node.Options{}, mod)
}

// newNodeServer is newTestServer with the write path's options.
func newNodeServer(t *testing.T, no node.Options, mod func(*Options)) *testServer {
	t.Helper()
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	co := cache.DefaultOptions()
	co.MinRebuildInterval = 0
	c, err := cache.New(reg, &co)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	if mod != nil {
		mod(&o)
	}
	srv := New(node.New(reg, no), c, &o)
	// Shutdown ends the server's background work (a test in a synctest
	// bubble must leave no goroutine behind).
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return &testServer{t: t, h: srv.Handler(), reg: reg}
}

func (s *testServer) do(method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	return w
}

func (s *testServer) expect(method, path, body string, code int, hdr ...string) *httptest.ResponseRecorder {
	s.t.Helper()
	w := s.do(method, path, body, hdr...)
	if w.Code != code {
		s.t.Fatalf("%s %s = %d (%q), want %d", method, path, w.Code, w.Body.String(), code)
	}
	return w
}

const jsonCT = "application/json"

func TestRegisterAndReadBothPrefixes(t *testing.T) {
	s := newTestServer(t, nil)
	s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	for _, base := range []string{"/eureka/", "/eureka/v2/"} {
		w := s.expect("GET", base+"apps/ORDERS/10.0.0.5:orders:8080", "", 200, "Accept", jsonCT)
		var got struct {
			Instance map[string]any `json:"instance"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		if got.Instance["app"] != "ORDERS" || got.Instance["actionType"] != "ADDED" {
			t.Fatalf("%s: instance = %v", base, got.Instance)
		}
		// Trailing slash and lower-case app name are the same resource.
		s.expect("GET", base+"apps/orders/10.0.0.5:orders:8080/", "", 200)
	}
	// No Accept: XML.
	w := s.expect("GET", "/eureka/apps/ORDERS/10.0.0.5:orders:8080", "", 200)
	if ct := w.Header().Get("Content-Type"); ct != "application/xml" || !strings.HasPrefix(w.Body.String(), "<instance>") {
		t.Fatalf("default format: %s %q", ct, w.Body.String()[:20])
	}
	s.expect("GET", "/eureka/instances/10.0.0.5:orders:8080", "", 200)
	s.expect("GET", "/eureka/instances/nope", "", 404)
	s.expect("GET", "/eureka/apps/ORDERS/nope", "", 404)
}

func TestRegisterXMLAndValidation(t *testing.T) {
	s := newTestServer(t, nil)
	s.expect("POST", "/eureka/v2/apps/PAYMENTS", fargoXML, 204, "Content-Type", "application/xml")
	w := s.expect("GET", "/eureka/v2/apps/PAYMENTS", "", 200, "Accept", "application/xml")
	var app struct {
		Name     string `xml:"name"`
		Instance []struct {
			Metadata struct {
				Inner []byte `xml:",innerxml"`
			} `xml:"metadata"`
		} `xml:"instance"`
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &app); err != nil || app.Name != "PAYMENTS" || len(app.Instance) != 1 {
		t.Fatalf("app XML = %v %+v", err, app)
	}
	if !bytes.Contains(app.Instance[0].Metadata.Inner, []byte("<owner__team>core</owner__team>")) {
		t.Fatalf("metadata key not escaped: %s", app.Instance[0].Metadata.Inner)
	}

	cases := []struct{ body, msg string }{
		{`{"instance":{"app":"X","ipAddr":"1.2.3.4","dataCenterInfo":{"name":"MyOwn"}}}`, "Missing instanceId"},
		{`{"instance":{"instanceId":"i","app":"X","ipAddr":"1.2.3.4","dataCenterInfo":{"name":"MyOwn"}}}`, "Missing hostname"},
		{`{"instance":{"hostName":"h","app":"X","dataCenterInfo":{"name":"MyOwn"}}}`, "Missing ip address"},
		{`{"instance":{"hostName":"h","ipAddr":"1.2.3.4","dataCenterInfo":{"name":"MyOwn"}}}`, "Missing appName"},
		{`{"instance":{"hostName":"h","app":"Y","ipAddr":"1.2.3.4","dataCenterInfo":{"name":"MyOwn"}}}`, "Mismatched appName, expecting X but was Y"},
		{`{"instance":{"hostName":"h","app":"x","ipAddr":"1.2.3.4"}}`, "Missing dataCenterInfo"},
		{`{"instance":{"hostName":"h","app":"x","ipAddr":"1.2.3.4","dataCenterInfo":{}}}`, "Missing dataCenterInfo Name"},
	}
	for _, c := range cases {
		w := s.expect("POST", "/eureka/apps/x", c.body, 400, "Content-Type", jsonCT)
		if w.Body.String() != c.msg {
			t.Errorf("body %s: message %q, want %q", c.body, w.Body.String(), c.msg)
		}
	}
	w = s.expect("POST", "/eureka/apps/x", `{"instance":{`, 400, "Content-Type", jsonCT)
	if !strings.Contains(w.Body.String(), `"error":"cannot parse request body"`) {
		t.Fatalf("JSON parse error body = %s", w.Body.String())
	}
	w = s.expect("POST", "/eureka/apps/x", `<instance><hostName>`, 400, "Content-Type", "application/xml")
	if !strings.HasPrefix(w.Body.String(), "<error><message>cannot parse request body</message>") {
		t.Fatalf("XML parse error body = %s", w.Body.String())
	}
	s.expect("POST", "/eureka/apps/x", springBody, 415, "Content-Type", "text/plain")
	w = s.expect("POST", "/eureka/apps/x", `{"instance":{"hostName":"h","app":"x","ipAddr":"1.2.3.4","dataCenterInfo":{"name":"Moon"}}}`, 400, "Content-Type", jsonCT)
	if !strings.Contains(w.Body.String(), `"detail":"dataCenterInfo name \"Moon\" is not MyOwn, Amazon or Netflix"`) {
		t.Fatalf("unknown data centre: %s", w.Body.String())
	}
	// The bad requests left the registry as it was.
	if s.reg.Size() != 1 {
		t.Fatalf("registry size %d after bad requests", s.reg.Size())
	}
}

func TestBodyLimit(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.MaxBodyBytes = 512 })
	s.expect("POST", "/eureka/apps/orders", springBody, 413, "Content-Type", jsonCT)
}

func TestGzippedRequestBody(t *testing.T) {
	s := newTestServer(t, nil)
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(springBody))
	zw.Close()
	s.expect("POST", "/eureka/apps/orders", b.String(), 204, "Content-Type", jsonCT, "Content-Encoding", "gzip")
}

func TestRenewCancelAndDirtyTimestamps(t *testing.T) {
	s := newTestServer(t, nil)
	s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	id := "/eureka/apps/ORDERS/10.0.0.5:orders:8080"
	// The Spring client sends Content-Type on body-less requests; it must
	// be ignored.
	w := s.expect("PUT", id+"?status=UP&lastDirtyTimestamp=1717999999500", "", 200, "Content-Type", jsonCT)
	if w.Body.Len() != 0 {
		t.Fatalf("renew body %q", w.Body.String())
	}
	s.expect("PUT", id, "", 200)
	s.expect("PUT", id+"?lastDirtyTimestamp=1717999999999", "", 404)
	s.expect("PUT", id+"?lastDirtyTimestamp=1", "", 200)
	w = s.expect("PUT", id+"?lastDirtyTimestamp=1", "", 409, "x-netflix-discovery-replication", "true", "Accept", jsonCT)
	if !strings.HasPrefix(w.Body.String(), `{"instance":{`) {
		t.Fatalf("409 body = %s", w.Body.String())
	}
	s.expect("PUT", id+"?lastDirtyTimestamp=abc", "", 400)
	s.expect("PUT", "/eureka/apps/ORDERS/ghost", "", 404)
	s.expect("DELETE", id, "", 200)
	s.expect("DELETE", id, "", 404)
}

func TestStatusOverrideAndMetadata(t *testing.T) {
	s := newTestServer(t, nil)
	s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	id := "/eureka/apps/ORDERS/10.0.0.5:orders:8080"
	s.expect("PUT", id+"/status?value=OUT_OF_SERVICE", "", 200)
	// Eureka answers 500 (Java's valueOf fails); eurekad names the field.
	s.expect("PUT", id+"/status?value=out_of_service", "", 400)
	s.expect("PUT", id+"/status", "", 400)
	s.expect("PUT", id+"/status?value=UNKNOWN", "", 400)
	s.expect("PUT", "/eureka/apps/ORDERS/ghost/status?value=UP", "", 404)

	w := s.expect("GET", "/eureka/apps/delta", "", 200, "Accept", jsonCT)
	if !strings.Contains(w.Body.String(), `"status":"OUT_OF_SERVICE","overriddenStatus":"OUT_OF_SERVICE"`) ||
		!strings.Contains(w.Body.String(), `"actionType":"MODIFIED"`) {
		t.Fatalf("delta after override: %s", w.Body.String())
	}
	w = s.expect("GET", "/eureka/serverinfo/statusoverrides", "", 200)
	if w.Body.String() != `{"10.0.0.5:orders:8080":"OUT_OF_SERVICE"}` {
		t.Fatalf("overrides = %s", w.Body.String())
	}

	s.expect("PUT", id+"/metadata?color=blue&zone=zone-b", "", 200)
	w = s.expect("GET", id, "", 200, "Accept", jsonCT)
	if !strings.Contains(w.Body.String(), `"metadata":{"color":"blue","management.port":"8080","zone":"zone-b"}`) {
		t.Fatalf("metadata after update: %s", w.Body.String())
	}
	s.expect("PUT", "/eureka/apps/ORDERS/ghost/metadata?a=b", "", 404)

	// Removing the override without a value: UNKNOWN, and the next renewal
	// makes the client register again.
	s.expect("DELETE", id+"/status", "", 200)
	s.expect("PUT", id, "", 404)
	s.expect("DELETE", "/eureka/apps/ORDERS/ghost/status", "", 404)
}

func TestFullFetchGzipETag(t *testing.T) {
	s := newTestServer(t, nil)
	s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	w := s.expect("GET", "/eureka/apps/", "", 200, "Accept", jsonCT, "Accept-Encoding", "gzip")
	if w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Content-Type") != jsonCT {
		t.Fatalf("headers %v", w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	var apps struct {
		Applications struct {
			Version string            `json:"versions__delta"`
			Hash    string            `json:"apps__hashcode"`
			Apps    []json.RawMessage `json:"application"`
		} `json:"applications"`
	}
	if err := json.Unmarshal(raw, &apps); err != nil || apps.Applications.Version != "1" || apps.Applications.Hash != "UP_1_" || len(apps.Applications.Apps) != 1 {
		t.Fatalf("apps = %v %s", err, raw)
	}
	etag := w.Header().Get("ETag")
	s.expect("GET", "/eureka/apps", "", 304, "Accept", jsonCT, "Accept-Encoding", "gzip", "If-None-Match", etag)
	plain := s.expect("GET", "/eureka/apps", "", 200, "Accept", jsonCT)
	if plain.Header().Get("Content-Encoding") != "" || !bytes.Equal(plain.Body.Bytes(), raw) {
		t.Fatal("plain body differs from the inflated gzip body")
	}
	s.expect("GET", "/eureka/apps", "", 304, "Accept", jsonCT, "If-None-Match", `W/`+plain.Header().Get("ETag"))
	s.expect("POST", "/eureka/apps/payments", fargoXML, 204, "Content-Type", "application/xml")
	s.expect("GET", "/eureka/apps", "", 200, "Accept", jsonCT, "If-None-Match", plain.Header().Get("ETag"))

	xmlResp := s.expect("GET", "/eureka/apps", "", 200)
	if !strings.HasPrefix(xmlResp.Body.String(), "<applications>") {
		t.Fatalf("default full fetch is not XML: %.40s", xmlResp.Body.String())
	}
}

func TestVIPsAndApps(t *testing.T) {
	s := newTestServer(t, nil)
	s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	w := s.expect("GET", "/eureka/vips/orders", "", 200, "Accept", jsonCT)
	if !strings.Contains(w.Body.String(), `"versions__delta":"-1"`) || !strings.Contains(w.Body.String(), "10.0.0.5:orders:8080") {
		t.Fatalf("vip = %s", w.Body.String())
	}
	w = s.expect("GET", "/eureka/svips/unknown", "", 200, "Accept", jsonCT)
	if !strings.Contains(w.Body.String(), `"application":[]`) {
		t.Fatalf("unknown svip = %s", w.Body.String())
	}
	s.expect("GET", "/eureka/apps/NOPE", "", 404)
	w = s.expect("GET", "/eureka/apps/orders", "", 200, "Accept", jsonCT)
	if !strings.HasPrefix(w.Body.String(), `{"application":{"name":"ORDERS","instance":[{`) {
		t.Fatalf("app = %.60s", w.Body.String())
	}
}

func TestDeltaDisabledAndGate(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.DisableDelta = true })
	s.expect("GET", "/eureka/apps/delta", "", 403)

	ro := registry.DefaultOptions()
	ro.DefaultOpenForTrafficCount = 0
	reg := registry.New(&ro)
	reg.OpenForTraffic(0)
	c, _ := cache.New(reg, nil)
	g := &testServer{t: t, h: New(node.New(reg, node.Options{}), c, nil).Handler(), reg: reg}
	for _, p := range []string{"/eureka/apps", "/eureka/apps/delta", "/eureka/apps/X", "/eureka/vips/x"} {
		if w := g.expect("GET", p, "", 403); w.Body.Len() != 0 {
			t.Fatalf("gated %s has a body", p)
		}
	}
	// Writes and per-instance reads are never gated.
	g.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	g.expect("GET", "/eureka/apps/ORDERS/10.0.0.5:orders:8080", "", 200)
}

func TestMiscEndpoints(t *testing.T) {
	s := newTestServer(t, nil)
	s.expect("PUT", "/eureka/asg/my-asg/status?value=DISABLED", "", 400)
	w := s.expect("GET", "/eureka/status", "", 200, "Accept", jsonCT)
	var st map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st["generalStats"] == nil || st["instanceInfo"] == nil {
		t.Fatalf("status = %v %s", err, w.Body.String())
	}
	w = s.expect("GET", "/eureka/status", "", 200)
	if err := xml.Unmarshal(w.Body.Bytes(), new(struct{})); err != nil {
		t.Fatalf("status XML: %v", err)
	}
	s.expect("GET", "/nothing/here", "", 404)
	s.expect("PATCH", "/eureka/apps/X/y", "", 405)
}

func TestNegotiation(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	cases := map[string]bool{
		"":                                  false,
		"*/*":                               false,
		"application/json":                  true,
		"application/xml, application/json": false,
		"application/json, application/xml;q=0.5": true,
		"application/xml;q=0.1, application/json": true,
		"text/plain": false,
	}
	for accept, want := range cases {
		r.Header.Set("Accept", accept)
		if got := wantsJSONEntity(r); got != want {
			t.Errorf("Accept %q: JSON = %v, want %v", accept, got, want)
		}
	}
}

// BenchmarkRenewHTTP measures the whole renew path below the network: mux
// routing, query parsing and the registry call, as the Java client sends it.
func BenchmarkRenewHTTP(b *testing.B) {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, _ := cache.New(reg, nil)
	h := New(node.New(reg, node.Options{}), c, nil).Handler()
	req := httptest.NewRequest("POST", "/eureka/apps/ORDERS", strings.NewReader(springBody))
	req.Header.Set("Content-Type", jsonCT)
	h.ServeHTTP(httptest.NewRecorder(), req)
	renew := httptest.NewRequest("PUT", "/eureka/apps/ORDERS/10.0.0.5:orders:8080?status=UP&lastDirtyTimestamp=1717999999500", nil)
	renew.Header.Set("Content-Type", jsonCT)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.ServeHTTP(w, renew)
	}
	if w.code != http.StatusOK {
		b.Fatalf("renew answered %d", w.code)
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }

func TestQueryParam(t *testing.T) {
	raw := "status=UP&lastDirtyTimestamp=17&value=OUT%5FOF_SERVICE&a+b=c+d&empty=&x"
	cases := map[string]string{
		"status": "UP", "lastDirtyTimestamp": "17", "value": "OUT_OF_SERVICE",
		"a b": "c d", "empty": "", "x": "", "missing": "",
	}
	for k, want := range cases {
		if got := queryParam(raw, k); got != want {
			t.Errorf("queryParam(%q) = %q, want %q", k, got, want)
		}
	}
}

func TestEscapedInstanceID(t *testing.T) {
	s := newTestServer(t, nil)
	body := strings.Replace(springBody, `"instanceId":"10.0.0.5:orders:8080"`, `"instanceId":"orders/1 a"`, 1)
	s.expect("POST", "/eureka/apps/ORDERS", body, 204, "Content-Type", jsonCT)
	s.expect("GET", "/eureka/apps/ORDERS/orders%2F1%20a", "", 200)
	s.expect("PUT", "/eureka/v2/apps/ORDERS/orders%2F1%20a/", "", 200)
	s.expect("DELETE", "/eureka/apps/ORDERS/orders%2F1%20a", "", 200)
}

// BenchmarkFullFetchHTTP serves GET apps from the cache with gzip, as the
// Java client asks for it, over a registry of 1,000 instances.
func BenchmarkFullFetchHTTP(b *testing.B) {
	h := benchServer1000()
	get := httptest.NewRequest("GET", "/eureka/apps/", nil)
	get.Header.Set("Accept", jsonCT)
	get.Header.Set("Accept-Encoding", "gzip")
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, get)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.h = http.Header{}
		h.ServeHTTP(w, get)
	}
	if w.code != http.StatusOK {
		b.Fatalf("GET apps answered %d", w.code)
	}
}
