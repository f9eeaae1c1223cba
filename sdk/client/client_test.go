package client_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// hit is one request a fake server received.
type hit struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
	User, Pass          string
	HasAuth             bool
}

// fake is an httptest server that records requests and answers with h.
type fake struct {
	*httptest.Server
	mu    sync.Mutex
	hits  []hit
	conns atomic.Int32
}

func newFake(t *testing.T, h http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, ok := r.BasicAuth()
		f.mu.Lock()
		f.hits = append(f.hits, hit{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), b, u, p, ok})
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		h(w, r)
	}))
	f.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.Start()
	t.Cleanup(f.Close)
	return f
}

func (f *fake) Hits() []hit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hit(nil), f.hits...)
}

func (f *fake) Count() int { return len(f.Hits()) }

func (f *fake) Last(t *testing.T) hit {
	t.Helper()
	h := f.Hits()
	if len(h) == 0 {
		t.Fatal("no request received")
	}
	return h[len(h)-1]
}

// status answers every request with code and no body.
func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// body answers with 200, the content type and b.
func body(ct string, b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ct)
		w.Write(b)
	}
}

func newClient(t *testing.T, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testInstance(id string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID: id, App: "ORDERS", HostName: "10.0.0.5", IPAddr: "10.0.0.5",
		Status: eureka.StatusUp, OverriddenStatus: eureka.StatusUnknown,
		Port: eureka.Port{Number: 8080, Enabled: true}, SecurePort: eureka.Port{Number: 8443},
		CountryID: 1, VIPAddress: "orders", SecureVIPAddress: "orders-secure",
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		LeaseInfo:      &eureka.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
		Metadata:       map[string]string{"zone": "a"}, LastDirtyTimestamp: 1700000000000,
	}
}

func testApps() *eureka.Applications {
	return &eureka.Applications{VersionsDelta: 1, AppsHashcode: "UP_1_", Applications: []*eureka.Application{
		{Name: "ORDERS", Instances: []*eureka.InstanceInfo{testInstance("a/b:1")}},
	}}
}

var ctx = context.Background()

// TestRequests checks method, path, query and headers of every call and
// the decoding of its answer.
func TestRequests(t *testing.T) {
	appsJSON := eureka.AppendApplicationsJSON(nil, testApps())
	appJSON := eureka.AppendApplicationJSON(nil, testApps().Applications[0])
	instJSON := eureka.AppendInstanceJSONWrapped(nil, testInstance("a/b:1"))
	const id = "a/b:1"
	const escID = "a%2Fb:1"
	cases := []struct {
		name        string
		handler     http.HandlerFunc
		call        func(c *client.Client) error
		method      string
		path, query string
	}{
		{"register", status(204), func(c *client.Client) error { return c.Register(ctx, testInstance(id)) },
			"POST", "/eureka/apps/ORDERS", ""},
		{"renew", status(200), func(c *client.Client) error { return c.Renew(ctx, "orders", id, 0) },
			"PUT", "/eureka/apps/ORDERS/" + escID, ""},
		{"renew dirty", status(200), func(c *client.Client) error { return c.Renew(ctx, "orders", id, 123) },
			"PUT", "/eureka/apps/ORDERS/" + escID, "lastDirtyTimestamp=123"},
		{"cancel", status(200), func(c *client.Client) error { return c.Cancel(ctx, "orders", id) },
			"DELETE", "/eureka/apps/ORDERS/" + escID, ""},
		{"set status", status(200), func(c *client.Client) error {
			return c.SetStatus(ctx, "orders", id, eureka.StatusOutOfService, 5)
		}, "PUT", "/eureka/apps/ORDERS/" + escID + "/status", "lastDirtyTimestamp=5&value=OUT_OF_SERVICE"},
		{"set status no ts", status(200), func(c *client.Client) error {
			return c.SetStatus(ctx, "orders", id, eureka.StatusDown, 0)
		}, "PUT", "/eureka/apps/ORDERS/" + escID + "/status", "value=DOWN"},
		{"delete override", status(200), func(c *client.Client) error {
			return c.DeleteStatusOverride(ctx, "orders", id, "", 0)
		}, "DELETE", "/eureka/apps/ORDERS/" + escID + "/status", ""},
		{"delete override value", status(200), func(c *client.Client) error {
			return c.DeleteStatusOverride(ctx, "orders", id, eureka.StatusUp, 7)
		}, "DELETE", "/eureka/apps/ORDERS/" + escID + "/status", "lastDirtyTimestamp=7&value=UP"},
		{"metadata", status(200), func(c *client.Client) error {
			return c.UpdateMetadata(ctx, "orders", id, map[string]string{"b": "2 3", "a": "1"})
		}, "PUT", "/eureka/apps/ORDERS/" + escID + "/metadata", "a=1&b=2+3"},
		{"applications", body("application/json", appsJSON), func(c *client.Client) error {
			apps, err := c.Applications(ctx)
			if err == nil && (apps.AppsHashcode != "UP_1_" || apps.Applications[0].Instances[0].InstanceID != id) {
				t.Errorf("applications: %+v", apps)
			}
			return err
		}, "GET", "/eureka/apps/", ""},
		{"delta", body("application/json", appsJSON), func(c *client.Client) error {
			apps, err := c.Delta(ctx)
			if err == nil && len(apps.Applications) != 1 {
				t.Errorf("delta: %+v", apps)
			}
			return err
		}, "GET", "/eureka/apps/delta", ""},
		{"application", body("application/json", appJSON), func(c *client.Client) error {
			app, err := c.Application(ctx, "orders")
			if err == nil && (app.Name != "ORDERS" || len(app.Instances) != 1) {
				t.Errorf("application: %+v", app)
			}
			return err
		}, "GET", "/eureka/apps/ORDERS", ""},
		{"instance", body("application/json", instJSON), func(c *client.Client) error {
			in, err := c.Instance(ctx, "orders", id)
			if err == nil && (in.InstanceID != id || in.Metadata["zone"] != "a") {
				t.Errorf("instance: %+v", in)
			}
			return err
		}, "GET", "/eureka/apps/ORDERS/" + escID, ""},
		{"instance by id", body("application/json", instJSON), func(c *client.Client) error {
			in, err := c.InstanceByID(ctx, id)
			if err == nil && in.InstanceID != id {
				t.Errorf("instance by id: %+v", in)
			}
			return err
		}, "GET", "/eureka/instances/" + escID, ""},
		{"vip", body("application/json", appsJSON), func(c *client.Client) error {
			_, err := c.VIP(ctx, "orders/v1")
			return err
		}, "GET", "/eureka/vips/orders%2Fv1", ""},
		{"svip", body("application/json", appsJSON), func(c *client.Client) error {
			_, err := c.SVIP(ctx, "orders-secure")
			return err
		}, "GET", "/eureka/svips/orders-secure", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.handler)
			u, _ := url.Parse(f.URL)
			c := newClient(t, client.Options{ServiceURLs: []string{"http://bob:s%3Acret@" + u.Host + "/eureka"}, UserAgent: "test-agent"})
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			h := f.Last(t)
			if h.Method != tc.method || h.Path != tc.path || h.Query != tc.query {
				t.Errorf("request %s %s?%s, want %s %s?%s", h.Method, h.Path, h.Query, tc.method, tc.path, tc.query)
			}
			if !h.HasAuth || h.User != "bob" || h.Pass != "s:cret" {
				t.Errorf("basic auth %q %q %v", h.User, h.Pass, h.HasAuth)
			}
			if got := h.Header.Get("Accept"); got != "application/json" {
				t.Errorf("Accept %q", got)
			}
			if got := h.Header.Get("Accept-Encoding"); got != "gzip" {
				t.Errorf("Accept-Encoding %q", got)
			}
			if got := h.Header.Get("User-Agent"); got != "test-agent" {
				t.Errorf("User-Agent %q", got)
			}
			if got := h.Header.Get("X-Eurekad-Client"); got == "" || got != c.ClientID() {
				t.Errorf("X-Eurekad-Client %q, want the client's id %q", got, c.ClientID())
			}
			if h.Header.Get("X-Eurekad-Wait") != "" || h.Header.Get("If-None-Match") != "" {
				t.Errorf("conditional headers on a plain call: %v", h.Header)
			}
			wantCT := ""
			if tc.method == "POST" {
				wantCT = "application/json"
				in, err := eureka.DecodeInstanceJSON(h.Body)
				if err != nil || in.InstanceID != id || !bytes.HasPrefix(h.Body, []byte(`{"instance":`)) {
					t.Errorf("register body %s: %v", h.Body, err)
				}
			} else if len(h.Body) != 0 {
				t.Errorf("unexpected body %q", h.Body)
			}
			if got := h.Header.Get("Content-Type"); got != wantCT {
				t.Errorf("Content-Type %q, want %q", got, wantCT)
			}
		})
	}
}

// TestErrorMapping checks that each 4xx is one attempt returning an *Error
// that matches its sentinel.
func TestErrorMapping(t *testing.T) {
	sentinels := []error{client.ErrNotFound, client.ErrConflict, client.ErrBadRequest,
		client.ErrUnauthorized, client.ErrForbidden, client.ErrUnavailable}
	cases := []struct {
		code int
		want error
	}{
		{400, client.ErrBadRequest},
		{401, client.ErrUnauthorized},
		{403, client.ErrForbidden},
		{404, client.ErrNotFound},
		{409, client.ErrConflict},
		{415, client.ErrBadRequest},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.code)
				io.WriteString(w, "why")
			})
			other := newFake(t, status(200))
			c := newClient(t, client.Options{ServiceURLs: []string{"http://u:p@" + f.Listener.Addr().String() + "/eureka/", other.URL}})
			err := c.Renew(ctx, "app", "id", 0)
			for _, s := range sentinels {
				if errors.Is(err, s) != (s == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, !(s == tc.want))
				}
			}
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("%T %v is not an *Error", err, err)
			}
			wantURL := "http://" + f.Listener.Addr().String() + "/eureka/apps/APP/id"
			if e.StatusCode != tc.code || e.Method != "PUT" || e.URL != wantURL || string(e.Body) != "why" {
				t.Errorf("error %+v", e)
			}
			if !strings.Contains(err.Error(), "PUT") || strings.Contains(err.Error(), "u:p") {
				t.Errorf("message %q", err)
			}
			if other.Count() != 0 {
				t.Error("a 4xx moved on to the next server")
			}
		})
	}
	t.Run("register success codes", func(t *testing.T) {
		for _, code := range []int{200, 204} {
			f := newFake(t, status(code))
			if err := newClient(t, client.Options{ServiceURLs: []string{f.URL}}).Register(ctx, testInstance("x")); err != nil {
				t.Errorf("%d: %v", code, err)
			}
		}
	})
}

// TestConflictInstance decodes the instance a 409 carries, in JSON and XML.
func TestConflictInstance(t *testing.T) {
	in := testInstance("i-1")
	in.LastDirtyTimestamp = 42
	for _, tc := range []struct {
		name, ct string
		body     []byte
	}{
		{"json", "application/json", eureka.AppendInstanceJSONWrapped(nil, in)},
		{"xml", "application/xml", eureka.AppendInstanceXML(nil, in)},
		{"sniffed", "", eureka.AppendInstanceJSONWrapped(nil, in)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
				if tc.ct != "" {
					w.Header().Set("Content-Type", tc.ct)
				}
				w.WriteHeader(409)
				w.Write(tc.body)
			})
			err := newClient(t, client.Options{ServiceURLs: []string{f.URL}}).Renew(ctx, "orders", "i-1", 1)
			var e *client.Error
			if !errors.Is(err, client.ErrConflict) || !errors.As(err, &e) {
				t.Fatalf("err %v", err)
			}
			if e.Instance == nil || e.Instance.InstanceID != "i-1" || e.Instance.LastDirtyTimestamp != 42 {
				t.Fatalf("instance %+v", e.Instance)
			}
		})
	}
	f := newFake(t, status(409))
	var e *client.Error
	if err := newClient(t, client.Options{ServiceURLs: []string{f.URL}}).Renew(ctx, "orders", "i-1", 1); !errors.As(err, &e) || e.Instance != nil {
		t.Fatalf("empty 409: %v", err)
	}
}

// downURL is a base URL whose port refuses connections.
func downURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/eureka/"
}

// TestFailover tries a refused server, then a 503, then a working one,
// and sticks to the working one.
func TestFailover(t *testing.T) {
	unavailable := newFake(t, status(503))
	good := newFake(t, status(200))
	c := newClient(t, client.Options{ServiceURLs: []string{downURL(t), unavailable.URL, good.URL}})
	if err := c.Renew(ctx, "app", "id", 0); err != nil {
		t.Fatal(err)
	}
	if unavailable.Count() != 1 || good.Count() != 1 {
		t.Fatalf("hits: 503 server %d, good %d", unavailable.Count(), good.Count())
	}
	for range 3 {
		if err := c.Cancel(ctx, "app", "id"); err != nil {
			t.Fatal(err)
		}
	}
	if unavailable.Count() != 1 || good.Count() != 4 {
		t.Fatalf("not sticky: 503 server %d, good %d", unavailable.Count(), good.Count())
	}

	t.Run("all fail", func(t *testing.T) {
		c := newClient(t, client.Options{ServiceURLs: []string{unavailable.URL, downURL(t)}})
		err := c.Renew(ctx, "app", "id", 0)
		if !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) {
			t.Errorf("last error (connection refused) not wrapped: %v", err)
		}
		c = newClient(t, client.Options{ServiceURLs: []string{downURL(t), unavailable.URL}})
		err = c.Renew(ctx, "app", "id", 0)
		var e *client.Error
		if !errors.Is(err, client.ErrUnavailable) || !errors.As(err, &e) || e.StatusCode != 503 {
			t.Errorf("last error (503) not wrapped: %v", err)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		slow := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		fast := newFake(t, status(200))
		c := newClient(t, client.Options{ServiceURLs: []string{slow.URL, fast.URL}, Timeout: 100 * time.Millisecond})
		start := time.Now()
		if err := c.Renew(ctx, "app", "id", 0); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second || fast.Count() != 1 {
			t.Fatalf("after %v, fast server hits %d", d, fast.Count())
		}
	})
}

// TestStickiness stays on the server that last answered until it fails,
// then goes back to priority order.
func TestStickiness(t *testing.T) {
	var aDown atomic.Bool
	a := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
		if aDown.Load() {
			w.WriteHeader(500)
		}
	})
	var bDown atomic.Bool
	b := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
		if bDown.Load() {
			w.WriteHeader(502)
		}
	})
	cc := newFake(t, status(200))
	c := newClient(t, client.Options{ServiceURLs: []string{a.URL, b.URL, cc.URL}})
	aDown.Store(true)
	if err := c.Renew(ctx, "x", "y", 0); err != nil {
		t.Fatal(err)
	}
	aDown.Store(false) // a is back, but b stays the server in use
	for range 3 {
		if err := c.Renew(ctx, "x", "y", 0); err != nil {
			t.Fatal(err)
		}
	}
	if a.Count() != 1 || b.Count() != 4 || cc.Count() != 0 {
		t.Fatalf("hits a=%d b=%d c=%d", a.Count(), b.Count(), cc.Count())
	}
	bDown.Store(true) // b fails: back to a, the first in priority order
	if err := c.Renew(ctx, "x", "y", 0); err != nil {
		t.Fatal(err)
	}
	if a.Count() != 2 || b.Count() != 5 || cc.Count() != 0 {
		t.Fatalf("hits a=%d b=%d c=%d", a.Count(), b.Count(), cc.Count())
	}
}

// TestZoneOrder puts the own zone first, then other zones by name, then
// ServiceURLs, without duplicates.
func TestZoneOrder(t *testing.T) {
	c := newClient(t, client.Options{
		Zone: "b",
		ZoneURLs: map[string][]string{
			"c": {"http://c1:8761/eureka"},
			"a": {"http://a1:8761/eureka/", "http://a2:8761/eureka/"},
			"b": {"http://b1:8761/eureka/", "http://user:pw@b2:8761/eureka"},
		},
		ServiceURLs: []string{"http://s1:8761/eureka/v2", "http://a1:8761/eureka/"},
	})
	want := []string{"http://b1:8761/eureka/", "http://b2:8761/eureka/", "http://a1:8761/eureka/",
		"http://a2:8761/eureka/", "http://c1:8761/eureka/", "http://s1:8761/eureka/v2/"}
	if got := c.Servers(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("order\n got %v\nwant %v", got, want)
	}

	// Requests go to the own zone's server even when listed last.
	other := newFake(t, status(200))
	own := newFake(t, status(200))
	c = newClient(t, client.Options{Zone: "z2", ZoneURLs: map[string][]string{"z1": {other.URL}, "z2": {own.URL}}, ServiceURLs: []string{other.URL}})
	if err := c.Renew(ctx, "x", "y", 0); err != nil {
		t.Fatal(err)
	}
	if own.Count() != 1 || other.Count() != 0 {
		t.Fatalf("own %d other %d", own.Count(), other.Count())
	}
}

func TestNewErrors(t *testing.T) {
	for _, opts := range []client.Options{
		{},
		{ServiceURLs: []string{"localhost:8761/eureka"}},
		{ServiceURLs: []string{"ftp://host/eureka"}},
		{ServiceURLs: []string{"http://host/eureka?x=1"}},
		{ServiceURLs: []string{"http://[::1"}},
		{Zone: "a", ZoneURLs: map[string][]string{"a": {"/relative"}}},
	} {
		if _, err := client.New(opts); err == nil {
			t.Errorf("New(%+v) succeeded", opts)
		}
	}
}

// ParseServiceURL accepts what New accepts and adds the trailing slash
// without unescaping the path.
func TestParseServiceURL(t *testing.T) {
	for _, tc := range []struct {
		raw, base  string // base "": rejected
		user, pass string
		auth       bool
	}{
		{raw: "http://h:8761/eureka/", base: "http://h:8761/eureka/"},
		{raw: "http://h:8761/eureka", base: "http://h:8761/eureka/"},
		{raw: "https://h", base: "https://h/"},
		{raw: "http://h:8761/eu%2Freka/", base: "http://h:8761/eu%2Freka/"},
		{raw: "http://h:8761/eu%2Freka", base: "http://h:8761/eu%2Freka/"},
		{raw: "http://u:p%40ss@h:8761/eureka", base: "http://h:8761/eureka/", user: "u", pass: "p@ss", auth: true},
		{raw: "http://u@h/eureka/", base: "http://h/eureka/", user: "u", auth: true},
		{raw: "ftp://h/eureka/"},
		{raw: "localhost:8761/eureka"},
		{raw: "/eureka/"},
		{raw: "http:///eureka/"},
		{raw: "http://h/eureka/?x=1"},
		{raw: "http://h/eureka?"},
		{raw: "http://h/eureka/#top"},
		{raw: "http://[::1"},
	} {
		u, err := client.ParseServiceURL(tc.raw)
		if tc.base == "" {
			if err == nil {
				t.Errorf("%q accepted as %s", tc.raw, u)
			}
			if _, err := client.New(client.Options{ServiceURLs: []string{tc.raw}}); err == nil {
				t.Errorf("New accepted %q", tc.raw)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.raw, err)
			continue
		}
		pass, _ := u.User.Password()
		if (u.User != nil) != tc.auth || u.User.Username() != tc.user || pass != tc.pass {
			t.Errorf("%q: credentials %v, want %q:%q", tc.raw, u.User, tc.user, tc.pass)
		}
		u.User = nil
		if u.String() != tc.base {
			t.Errorf("%q: base %s, want %s", tc.raw, u, tc.base)
		}
		if got := newClient(t, client.Options{ServiceURLs: []string{tc.raw}}).Servers(); got[0] != tc.base {
			t.Errorf("%q: New's server %s, want %s", tc.raw, got[0], tc.base)
		}
	}
}

// An escaped base path reaches the server escaped, with the URL's
// credentials.
func TestEscapedServicePath(t *testing.T) {
	f := newFake(t, status(http.StatusOK))
	raw := strings.Replace(f.URL, "://", "://u:p@", 1) + "/eu%2Freka"
	c := newClient(t, client.Options{ServiceURLs: []string{raw}})
	if err := c.Cancel(ctx, "ORDERS", "i-1"); err != nil {
		t.Fatal(err)
	}
	if h := f.Last(t); h.Path != "/eu%2Freka/apps/ORDERS/i-1" || h.User != "u" || h.Pass != "p" {
		t.Errorf("request to %s as %q:%q", h.Path, h.User, h.Pass)
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGzip decodes gzip answers, with the default HTTP client and with a
// caller's (whose transport would otherwise decompress on its own).
func TestGzip(t *testing.T) {
	plain := eureka.AppendApplicationsJSON(nil, testApps())
	gz := gzipped(t, plain)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding %q", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("ETag", `"abc-gzip"`)
		w.Write(gz)
	})
	for name, hc := range map[string]*http.Client{"default": nil, "caller's": {}} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, client.Options{ServiceURLs: []string{f.URL}, HTTPClient: hc})
			apps, err := c.Applications(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(apps.Applications) != 1 || apps.Applications[0].Instances[0].InstanceID != "a/b:1" {
				t.Fatalf("apps %+v", apps)
			}
		})
	}
	t.Run("error body", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(400)
			w.Write(gzipped(t, []byte("Missing hostname")))
		})
		var e *client.Error
		err := newClient(t, client.Options{ServiceURLs: []string{f.URL}}).Register(ctx, testInstance("x"))
		if !errors.As(err, &e) || string(e.Body) != "Missing hostname" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte("not gzip"))
		})
		if _, err := newClient(t, client.Options{ServiceURLs: []string{f.URL}}).Applications(ctx); !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
	})
}

// TestMaxResponseBytes refuses an answer larger than the bound.
func TestMaxResponseBytes(t *testing.T) {
	big := eureka.AppendApplicationsJSON(nil, testApps())
	f := newFake(t, body("application/json", big))
	c := newClient(t, client.Options{ServiceURLs: []string{f.URL}, MaxResponseBytes: int64(len(big) - 1)})
	if _, err := c.Applications(ctx); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err %v", err)
	}
	c = newClient(t, client.Options{ServiceURLs: []string{f.URL}, MaxResponseBytes: int64(len(big))})
	if _, err := c.Applications(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestContextCancel ends a call at once when the caller's context ends,
// without trying the other servers.
func TestContextCancel(t *testing.T) {
	release := make(chan struct{})
	hang := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	other := newFake(t, status(200))
	c := newClient(t, client.Options{ServiceURLs: []string{hang.URL, other.URL}})

	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Applications(cctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("returned after %v", d)
	}
	if other.Count() != 0 {
		t.Fatal("a cancelled call moved on to the next server")
	}

	dctx, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if err := c.Renew(dctx, "a", "b", 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}

	done, cancel3 := context.WithCancel(ctx)
	cancel3()
	n := hang.Count()
	if err := c.Register(done, testInstance("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before the call: %v", err)
	}
	if hang.Count() != n || other.Count() != 0 {
		t.Fatal("a request was sent with a cancelled context")
	}
}

// TestXML sends and reads XML in XML mode.
func TestXML(t *testing.T) {
	appsXML := eureka.AppendApplicationsXML(nil, testApps())
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(204)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.Write(appsXML)
	})
	c := newClient(t, client.Options{ServiceURLs: []string{f.URL}, XML: true})
	if err := c.Register(ctx, testInstance("i-1")); err != nil {
		t.Fatal(err)
	}
	h := f.Last(t)
	if h.Header.Get("Content-Type") != "application/xml" || h.Header.Get("Accept") != "application/xml" {
		t.Errorf("headers %v", h.Header)
	}
	in, err := eureka.DecodeInstanceXML(h.Body)
	if err != nil || in.InstanceID != "i-1" || !bytes.HasPrefix(h.Body, []byte("<instance>")) {
		t.Errorf("body %s: %v", h.Body, err)
	}
	apps, err := c.Applications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Last(t).Header.Get("Accept") != "application/xml" || len(apps.Applications) != 1 || apps.AppsHashcode != "UP_1_" {
		t.Fatalf("apps %+v", apps)
	}
}

// TestPoll checks the conditional and long-poll headers and the 304 and
// 200 results.
func TestPoll(t *testing.T) {
	appsJSON := eureka.AppendApplicationsJSON(nil, testApps())
	// hold is how long the fake holds a request, as a server holds a long
	// poll; holdUntilGone holds it until the client gives up.
	const holdUntilGone = -1
	var hold atomic.Int64
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch d := time.Duration(hold.Load()); {
		case d == holdUntilGone:
			<-r.Context().Done()
			return
		case d > 0:
			// The hold's length is what is tested: longer than Timeout,
			// shorter than Wait+Timeout.
			time.Sleep(d)
		}
		w.Header().Set("ETag", `"v2"`)
		if r.Header.Get("If-None-Match") == `"v2"` {
			w.WriteHeader(304)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(appsJSON)
	})
	c := newClient(t, client.Options{ServiceURLs: []string{f.URL + "/eureka/"}, Timeout: 300 * time.Millisecond})

	res, err := c.Poll(ctx, client.PollRequest{Wait: time.Minute})
	if err != nil || res.NotModified || res.ETag != `"v2"` || res.Apps == nil || len(res.Apps.Applications) != 1 {
		t.Fatalf("first poll %+v %v", res, err)
	}
	h := f.Last(t)
	if h.Path != "/eureka/apps/" || h.Header.Get("If-None-Match") != "" || h.Header.Get("X-Eurekad-Wait") != "" {
		t.Errorf("first poll sent %s %v", h.Path, h.Header)
	}

	res, err = c.Poll(ctx, client.PollRequest{ETag: `"v2"`, Wait: 30 * time.Second})
	if err != nil || !res.NotModified || res.Apps != nil || res.ETag != `"v2"` {
		t.Fatalf("unchanged poll %+v %v", res, err)
	}
	h = f.Last(t)
	if h.Header.Get("If-None-Match") != `"v2"` || h.Header.Get("X-Eurekad-Wait") != "30s" {
		t.Errorf("long-poll headers %v", h.Header)
	}

	res, err = c.Poll(ctx, client.PollRequest{Delta: true, ETag: `"v1"`})
	if err != nil || res.NotModified || res.Apps == nil || res.ETag != `"v2"` {
		t.Fatalf("changed delta poll %+v %v", res, err)
	}
	h = f.Last(t)
	if h.Path != "/eureka/apps/delta" || h.Header.Get("If-None-Match") != `"v1"` || h.Header.Get("X-Eurekad-Wait") != "" {
		t.Errorf("delta poll sent %s %v", h.Path, h.Header)
	}

	// A long-poll may take longer than Timeout: its deadline is Wait+Timeout.
	hold.Store(int64(500 * time.Millisecond))
	if res, err := c.Poll(ctx, client.PollRequest{ETag: `"v2"`, Wait: 5 * time.Second}); err != nil || !res.NotModified {
		t.Fatalf("held poll %+v %v", res, err)
	}
	hold.Store(holdUntilGone)
	if _, err := c.Poll(ctx, client.PollRequest{ETag: `"v2"`}); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("a plain conditional GET beyond Timeout: %v", err)
	}
	hold.Store(0)

	t.Run("no etag", func(t *testing.T) {
		// A Java Eureka server: no ETag, conditional headers ignored.
		java := newFake(t, body("application/json", appsJSON))
		c := newClient(t, client.Options{ServiceURLs: []string{java.URL}})
		res, err := c.Poll(ctx, client.PollRequest{ETag: "", Wait: time.Minute})
		if err != nil || res.NotModified || res.ETag != "" || res.Apps == nil {
			t.Fatalf("%+v %v", res, err)
		}
	})
}

// TestBodiesDrained reuses one connection for many calls, successes and
// errors alike: every body was read to the end and closed.
func TestBodiesDrained(t *testing.T) {
	appsJSON := eureka.AppendApplicationsJSON(nil, testApps())
	var n atomic.Int32
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(404)
			w.Write(bytes.Repeat([]byte("x"), 10000))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(appsJSON)
	})
	c := newClient(t, client.Options{ServiceURLs: []string{f.URL}})
	for range 10 {
		c.Applications(ctx)
	}
	if got := f.conns.Load(); got != 1 {
		t.Fatalf("%d connections for 10 sequential calls", got)
	}
}

// Each Client gets an id of its own unless one is given.
func TestClientID(t *testing.T) {
	a := newClient(t, client.Options{ServiceURLs: []string{"http://127.0.0.1:1/eureka"}})
	b := newClient(t, client.Options{ServiceURLs: []string{"http://127.0.0.1:1/eureka"}})
	c := newClient(t, client.Options{ServiceURLs: []string{"http://127.0.0.1:1/eureka"}, ClientID: "orders-7"})
	if a.ClientID() == "" || a.ClientID() == b.ClientID() || c.ClientID() != "orders-7" {
		t.Fatalf("ids %q %q %q", a.ClientID(), b.ClientID(), c.ClientID())
	}
}

// TestMaxResponseBytesGzip bounds the decoded size of a gzip answer, and
// a trailer lying about the plain size reserves no more than deflate can
// expand the bytes received.
func TestMaxResponseBytesGzip(t *testing.T) {
	big := eureka.AppendApplicationsJSON(nil, testApps())
	gz := gzipped(t, big)
	serve := func(b []byte) *fake {
		return newFake(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(b)
		})
	}
	f := serve(gz)
	c := newClient(t, client.Options{ServiceURLs: []string{f.URL}, MaxResponseBytes: int64(len(big) - 1)})
	if _, err := c.Applications(ctx); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err %v", err)
	}
	c = newClient(t, client.Options{ServiceURLs: []string{f.URL}, MaxResponseBytes: int64(len(big))})
	if apps, err := c.Applications(ctx); err != nil || len(apps.Applications) != len(testApps().Applications) {
		t.Fatalf("apps %v, err %v", apps, err)
	}

	lying := bytes.Clone(gz)
	binary.LittleEndian.PutUint32(lying[len(lying)-4:], 0xffffffff)
	c = newClient(t, client.Options{ServiceURLs: []string{serve(lying).URL}, MaxResponseBytes: 1 << 30})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := c.Applications(ctx); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("a wrong ISIZE: err %v", err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1032*uint64(len(gz))+(8<<20) {
		t.Fatalf("a trailer claiming 4 GiB made the client allocate %d bytes for %d received", n, len(gz))
	}
}

// TestNamespace: Options.Namespace puts the Eureka calls and the admin API
// calls of every service URL under /ns/{namespace}/; "default" and empty
// leave the URLs as given.
func TestNamespace(t *testing.T) {
	f := newFake(t, status(http.StatusNoContent))
	for _, c := range []struct{ ns, eurekaPath, sitePath string }{
		{"team-a", "/ns/team-a/eureka/apps/ORDERS", "/ns/team-a/admin/api/propagation"},
		{"default", "/eureka/apps/ORDERS", "/admin/api/propagation"},
		{"", "/eureka/apps/ORDERS", "/admin/api/propagation"},
	} {
		cl := newClient(t, client.Options{ServiceURLs: []string{"http://u:p@" + f.Listener.Addr().String() + "/eureka"}, Namespace: c.ns})
		if err := cl.Register(ctx, testInstance("i-1")); err != nil {
			t.Fatal(err)
		}
		if h := f.Last(t); h.Path != c.eurekaPath || h.User != "u" {
			t.Errorf("namespace %q: register went to %s as %q, want %s", c.ns, h.Path, h.User, c.eurekaPath)
		}
		_, _ = cl.Propagation(ctx, "")
		if h := f.Last(t); h.Path != c.sitePath {
			t.Errorf("namespace %q: propagation went to %s, want %s", c.ns, h.Path, c.sitePath)
		}
	}
	// A name eurekad never serves is refused at once, not answered 404
	// on every call.
	for _, bad := range []string{"Team-A", "team/a", "..", "team_a", strings.Repeat("a", 64)} {
		if _, err := client.New(client.Options{ServiceURLs: []string{"http://" + f.Listener.Addr().String() + "/eureka"}, Namespace: bad}); err == nil || !strings.Contains(err.Error(), "namespace") {
			t.Errorf("Namespace %q: New = %v, want an error naming the namespace", bad, err)
		}
	}
}
