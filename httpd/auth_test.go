package httpd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/mux"
	"github.com/hudl/fargo"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/plugins/auth/guard"
	"github.com/eurekad/eurekad/plugins/auth/static"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// bcrypt hashes at the minimum cost, so the tests stay fast.
const (
	ordersHash = "$2a$04$qqDT1RFfdfLncEhQ14oVd.3lbq/VlYM4ua.USzrcCNZ0VbUNgQ99W" // orders-secret
	peerHash   = "$2a$04$LfmenJKv3/9nKLpMrQEnbuZwfzgD2SuDn/zGnQxX.X85R2cxbpkrW" // peer-secret
	readerHash = "$2a$04$WdRUNi2QwNRb2Bl7YSlesubvkrha8aiXWwGOq5gPL78PNwW3eQmjW" // reader-secret
)

// authConfig: "orders" may write ORDERS and PAYMENTS-less apps matching
// ORDERS* and read everything; "reader" may only read; "peer" replicates;
// the ops-token administers. Nothing is anonymous.
func authConfig() string {
	return `{
  "users": [
    {"username": "orders", "password_bcrypt": "` + ordersHash + `",
     "rules": [{"operations": ["register", "renew", "cancel", "status", "metadata"], "apps": ["ORDERS*"]},
               {"operations": ["read"]}]},
    {"username": "reader", "password_bcrypt": "` + readerHash + `", "rules": [{"operations": ["read"]}]}
  ],
  "tokens": [{"name": "ops", "sha256": "` + static.HashToken("ops-token") + `", "rules": [{"operations": ["admin"]}]}],
  "peers": [{"username": "peer", "password_bcrypt": "` + peerHash + `"}]
}`
}

type authServer struct {
	*httptest.Server
	reg   *registry.Registry
	guard *guard.Guard
}

// newAuthServer serves the API over a real loopback socket with the static
// authenticator behind the guard, as eurekad wires them.
func newAuthServer(t testing.TB, auth hook.Authenticator, gopts *guard.Options, mod func(*Options)) *authServer {
	t.Helper()
	if auth == nil {
		a := static.New()
		if err := a.Configure(context.Background(), []byte(authConfig())); err != nil {
			t.Fatal(err)
		}
		auth = a
	}
	g := guard.New(auth, gopts)
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	co := cache.DefaultOptions()
	co.MinRebuildInterval = 0
	c, err := cache.New(reg, &co)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Auth = g
	if mod != nil {
		mod(&o)
	}
	ts := httptest.NewServer(New(node.New(reg, node.Options{}), c, &o).Handler())
	t.Cleanup(ts.Close)
	return &authServer{Server: ts, reg: reg, guard: g}
}

// url returns the server's base URL with credentials in it, as a Spring
// service URL carries them ("" user: none).
func (s *authServer) url(user, pass, path string) string {
	u := strings.Replace(s.URL, "http://", "http://"+user+":"+pass+"@", 1)
	if user == "" {
		u = s.URL
	}
	return u + path
}

// call sends one request; Go's client turns URL userinfo into basic auth,
// as the Java and fargo clients do.
func call(t *testing.T, method, url, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func expectCode(t *testing.T, want int, method, url, body string, hdr ...string) http.Header {
	t.Helper()
	code, h, b := call(t, method, url, body, hdr...)
	if code != want {
		t.Fatalf("%s %s = %d %q, want %d", method, url, code, b, want)
	}
	return h
}

const springID = "10.0.0.5:orders:8080"

// TestSpringShapedClientWithServiceURLCredentials sends what the Java
// client sends for defaultZone http://orders:orders-secret@host/eureka/.
func TestSpringShapedClientWithServiceURLCredentials(t *testing.T) {
	s := newAuthServer(t, nil, nil, nil)
	inst := "/eureka/apps/ORDERS/" + springID

	// No credentials: a challenge the Java client answers with its URL's.
	h := expectCode(t, 401, "POST", s.url("", "", "/eureka/apps/ORDERS"), springBody)
	if got := h.Get("WWW-Authenticate"); got != `Basic realm="eurekad"` {
		t.Fatalf("challenge %q", got)
	}
	expectCode(t, 401, "POST", s.url("orders", "wrong", "/eureka/apps/ORDERS"), springBody)
	if s.reg.Size() != 0 {
		t.Fatal("a refused registration changed the registry")
	}

	expectCode(t, 204, "POST", s.url("orders", "orders-secret", "/eureka/apps/ORDERS"), springBody)
	expectCode(t, 200, "PUT", s.url("orders", "orders-secret", inst+"?status=UP&lastDirtyTimestamp=1717999999500"), "")
	expectCode(t, 200, "GET", s.url("orders", "orders-secret", "/eureka/apps/"), "")
	expectCode(t, 200, "GET", s.url("orders", "orders-secret", "/eureka/apps/delta"), "")
	expectCode(t, 200, "PUT", s.url("orders", "orders-secret", inst+"/status?value=OUT_OF_SERVICE"), "")
	expectCode(t, 200, "DELETE", s.url("orders", "orders-secret", inst+"/status?value=UP"), "")
	expectCode(t, 200, "PUT", s.url("orders", "orders-secret", inst+"/metadata?version=2"), "")

	// Known callers without the permission: 403, and nothing changes.
	expectCode(t, 403, "DELETE", s.url("reader", "reader-secret", inst), "")
	expectCode(t, 403, "PUT", s.url("reader", "reader-secret", inst+"/status?value=DOWN"), "")
	expectCode(t, 200, "GET", s.url("reader", "reader-secret", inst), "")
	if in := s.reg.Instance("ORDERS", springID); in == nil || in.Status != eureka.StatusUp || in.Metadata["version"] != "2" {
		t.Fatalf("instance after refused writes: %+v", in)
	}
	// Another app is out of orders' reach, through either base path.
	payments := strings.ReplaceAll(springBody, "ORDERS", "PAYMENTS")
	expectCode(t, 403, "POST", s.url("orders", "orders-secret", "/eureka/v2/apps/PAYMENTS"), payments)

	expectCode(t, 200, "DELETE", s.url("orders", "orders-secret", inst), "")
	if st := s.guard.Stats(); st.Hits == 0 || st.Misses == 0 {
		t.Fatalf("guard stats %+v: decisions should be cached", st)
	}
}

// TestSpoofedReplicationHeaderGrantsNothing: the header makes a request a
// replication, which needs the replicate permission, so a normal user
// cannot use it to skip rules (or Eureka's own checks on replicated
// writes), while a peer can.
func TestSpoofedReplicationHeaderGrantsNothing(t *testing.T) {
	s := newAuthServer(t, nil, nil, nil)
	rep := []string{"x-netflix-discovery-replication", "true"}
	for _, user := range [][2]string{{"orders", "orders-secret"}, {"reader", "reader-secret"}} {
		expectCode(t, 403, "POST", s.url(user[0], user[1], "/eureka/apps/ORDERS"), springBody, rep...)
		expectCode(t, 403, "GET", s.url(user[0], user[1], "/eureka/apps"), "", rep...)
	}
	expectCode(t, 401, "POST", s.url("", "", "/eureka/apps/ORDERS"), springBody, rep...)
	expectCode(t, 401, "POST", s.url("", "", "/eureka/peerreplication/batch/"), `{"replicationList":[]}`, rep...)
	expectCode(t, 403, "POST", s.url("orders", "orders-secret", "/eureka/peerreplication/batch"), `{"replicationList":[]}`)
	if s.reg.Size() != 0 {
		t.Fatal("a spoofed replication registered an instance")
	}
	// A peer replicates, but it may not write as a client.
	expectCode(t, 204, "POST", s.url("peer", "peer-secret", "/eureka/apps/ORDERS"), springBody, rep...)
	expectCode(t, 403, "POST", s.url("peer", "peer-secret", "/eureka/apps/ORDERS"), springBody)
	expectCode(t, 200, "PUT", s.url("peer", "peer-secret", "/eureka/apps/ORDERS/"+springID), "", rep...)
	// Only the exact value "true" marks a replication, as in Eureka.
	expectCode(t, 204, "POST", s.url("orders", "orders-secret", "/eureka/apps/ORDERS"), springBody, "x-netflix-discovery-replication", "TRUE")
}

func TestGoClientWithServiceURLCredentials(t *testing.T) {
	s := newAuthServer(t, nil, nil, nil)
	ctx := context.Background()
	good, err := client.New(client.Options{ServiceURLs: []string{s.url("orders", "orders-secret", "/eureka/")}})
	if err != nil {
		t.Fatal(err)
	}
	in := &eureka.InstanceInfo{
		InstanceID: "orders-1", App: "ORDERS-API", HostName: "h1", IPAddr: "10.0.0.1",
		Status: eureka.StatusUp, Port: eureka.Port{Number: 8080, Enabled: true}, VIPAddress: "orders",
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
	}
	if err := good.Register(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := good.Renew(ctx, "ORDERS-API", "orders-1", 0); err != nil {
		t.Fatal(err)
	}
	if apps, err := good.Applications(ctx); err != nil || len(apps.Applications) != 1 {
		t.Fatalf("applications: %v %v", apps, err)
	}
	reader, _ := client.New(client.Options{ServiceURLs: []string{s.url("reader", "reader-secret", "/eureka/")}})
	var e *client.Error
	if err := reader.Cancel(ctx, "ORDERS-API", "orders-1"); !errors.As(err, &e) || e.StatusCode != 403 {
		t.Fatalf("reader cancel: %v", err)
	}
	anon, _ := client.New(client.Options{ServiceURLs: []string{s.URL + "/eureka/"}})
	if _, err := anon.Applications(ctx); !errors.As(err, &e) || e.StatusCode != 401 {
		t.Fatalf("anonymous read: %v", err)
	}
	if err := good.Cancel(ctx, "ORDERS-API", "orders-1"); err != nil {
		t.Fatal(err)
	}
}

// TestFargoWithServiceURLCredentials drives hudl/fargo, which sends the
// userinfo of its service URL as basic auth through net/http.
func TestFargoWithServiceURLCredentials(t *testing.T) {
	s := newAuthServer(t, nil, nil, nil)
	conn := fargo.NewConn(s.url("orders", "orders-secret", "/eureka"))
	conn.UseJson = true
	ins := &fargo.Instance{
		InstanceId: "fargo-1", HostName: "fargo-host", App: "ORDERS-FARGO", IPAddr: "10.0.0.7",
		VipAddress: "orders-fargo", Status: fargo.UP, Port: 7001, PortEnabled: true,
		DataCenterInfo: fargo.DataCenterInfo{Name: fargo.MyOwn},
	}
	if err := conn.RegisterInstance(ins); err != nil {
		t.Fatalf("register: %v", err)
	}
	if err := conn.HeartBeatInstance(ins); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if _, err := conn.GetApp("ORDERS-FARGO"); err != nil {
		t.Fatalf("get app: %v", err)
	}
	if s.reg.Instance("ORDERS-FARGO", "fargo-1") == nil {
		t.Fatal("fargo's registration is missing")
	}
	bad := fargo.NewConn(s.url("orders", "nope", "/eureka"))
	bad.UseJson = true
	if err := bad.HeartBeatInstance(ins); err == nil {
		t.Fatal("fargo heartbeat with a wrong password succeeded")
	}
	if st := s.guard.Stats(); st.Unauthenticated != 1 {
		t.Fatalf("guard stats %+v: want one unauthenticated decision", st)
	}
	if err := conn.DeregisterInstance(ins); err != nil {
		t.Fatalf("deregister: %v", err)
	}
}

func TestAdminGuardThroughTheHook(t *testing.T) {
	s := newAuthServer(t, nil, nil, func(o *Options) { o.AdminToken = "ignored-when-auth-is-set" })
	// Loopback alone no longer opens the admin endpoints.
	h := expectCode(t, 401, "GET", s.URL+"/admin/storage", "")
	if h.Get("WWW-Authenticate") == "" {
		t.Fatal("no challenge")
	}
	expectCode(t, 401, "GET", s.URL+"/admin/storage", "", "Authorization", "Bearer ignored-when-auth-is-set")
	expectCode(t, 403, "GET", s.url("orders", "orders-secret", "/admin/storage"), "")
	expectCode(t, 200, "GET", s.URL+"/admin/storage", "", "Authorization", "Bearer ops-token")
	expectCode(t, 200, "GET", s.URL+"/admin/snapshot", "", "Authorization", "bearer ops-token")
	// The dashboard's actions are admin operations: an admin-only
	// credential may take an instance out of service and back.
	expectCode(t, 204, "POST", s.url("orders", "orders-secret", "/eureka/apps/ORDERS"), springBody)
	action := s.URL + "/admin/api/instances/ORDERS/10.0.0.5:orders:8080/"
	expectCode(t, 403, "POST", s.url("orders", "orders-secret", "/admin/api/instances/ORDERS/10.0.0.5:orders:8080/out-of-service"), "")
	expectCode(t, 200, "POST", action+"out-of-service", "", "Authorization", "Bearer ops-token")
	expectCode(t, 200, "POST", action+"in-service", "", "Authorization", "Bearer ops-token")
	// Health and readiness stay open for probes.
	expectCode(t, 200, "GET", s.URL+"/healthz", "")
	expectCode(t, 200, "GET", s.URL+"/readyz", "")
}

// TestAuthOutageFailsClosedForWrites: an authenticator that errors gives
// 503 for writes; reads follow fail_open_reads.
func TestAuthOutageFailsClosedForWrites(t *testing.T) {
	var down atomic.Bool
	a := static.New()
	a.Configure(context.Background(), []byte(authConfig()))
	flaky := hook.AuthenticatorFunc(func(ctx context.Context, req *hook.AuthRequest) (hook.Principal, error) {
		if down.Load() {
			return hook.Principal{}, errors.New("directory unreachable")
		}
		return a.Authenticate(ctx, req)
	})
	gopts := guard.DefaultOptions()
	gopts.FailOpenReads = true
	gopts.AllowTTL, gopts.DenyTTL = 0, 0 // every request asks
	s := newAuthServer(t, flaky, &gopts, nil)
	down.Store(true)
	expectCode(t, 503, "POST", s.url("orders", "orders-secret", "/eureka/apps/ORDERS"), springBody)
	expectCode(t, 503, "DELETE", s.url("orders", "orders-secret", "/eureka/apps/ORDERS/x"), "")
	expectCode(t, 200, "GET", s.url("orders", "orders-secret", "/eureka/apps"), "")
	expectCode(t, 503, "GET", s.URL+"/admin/storage", "", "Authorization", "Bearer ops-token")
	down.Store(false)
	expectCode(t, 204, "POST", s.url("orders", "orders-secret", "/eureka/apps/ORDERS"), springBody)
}

// TestPrincipalInContext checks what handlers see.
func TestPrincipalInContext(t *testing.T) {
	var seen hook.Principal
	var ok bool
	h := func(w http.ResponseWriter, r *http.Request) { seen, ok = PrincipalFrom(r.Context()) }
	s := &Server{opts: Options{Auth: hook.AuthenticatorFunc(func(context.Context, *hook.AuthRequest) (hook.Principal, error) {
		return hook.Principal{Name: "ops"}, nil
	})}}
	r := httptest.NewRequest("GET", "/admin/x", nil)
	p, known, allowed := s.decide(httptest.NewRecorder(), r, &route{op: hook.OpAdmin, access: accessAdmin}, [2]string{}, false)
	if !allowed || !known {
		t.Fatal("refused")
	}
	h(httptest.NewRecorder(), withPrincipal(r, p))
	if !ok || seen.Name != "ops" {
		t.Fatalf("principal %+v %v", seen, ok)
	}
	if _, ok := PrincipalFrom(context.Background()); ok {
		t.Fatal("principal without authentication")
	}
}

// TestAuthenticatorNamingCallerAfterUsername: a principal built from
// req.Username must survive the request's reuse.
func TestAuthenticatorNamingCallerAfterUsername(t *testing.T) {
	var last hook.Principal
	echo := hook.AuthenticatorFunc(func(_ context.Context, req *hook.AuthRequest) (hook.Principal, error) {
		return hook.Principal{Name: req.Username}, nil
	})
	ts := newTestServer(t, func(o *Options) { o.Auth = echo })
	srv := &Server{opts: Options{Auth: echo}}
	for _, u := range []string{"alice", "bob"} {
		r := httptest.NewRequest("GET", "/eureka/apps", nil)
		r.SetBasicAuth(u, "pw")
		p, ok := srv.authorize(httptest.NewRecorder(), r, hook.OpRead, "", "")
		if !ok || p.Name != u {
			t.Fatalf("principal %q, want %q", p.Name, u)
		}
		if last.Name != "" && last.Name != "alice" {
			t.Fatalf("an earlier principal changed to %q", last.Name)
		}
		last = p
	}
	ts.expect("GET", "/eureka/apps", "", 200)
}

// TestRouteTableClassifies: the operation, app and instance the
// authenticator is asked about come from the route table.
func TestRouteTableClassifies(t *testing.T) {
	srv := New(node.New(registry.New(nil), node.Options{}), mustCache(t), nil)
	cases := []struct {
		method, path string
		rep          bool
		op           hook.Operation
		app, id      string
	}{
		{"POST", "/apps/orders", false, hook.OpRegister, "ORDERS", ""},
		{"PUT", "/apps/ORDERS/i-1", false, hook.OpRenew, "ORDERS", "i-1"},
		{"DELETE", "/apps/ORDERS/i-1", false, hook.OpCancel, "ORDERS", "i-1"},
		{"PUT", "/apps/ORDERS/i-1/status", false, hook.OpStatus, "ORDERS", "i-1"},
		{"DELETE", "/apps/ORDERS/i-1/status", false, hook.OpStatus, "ORDERS", "i-1"},
		{"PUT", "/apps/ORDERS/i-1/metadata", false, hook.OpMetadata, "ORDERS", "i-1"},
		{"PUT", "/apps/ORDERS/a%2Fb", false, hook.OpRenew, "ORDERS", "a/b"},
		{"PUT", "/apps/ORDERS/a%2Fb/status", false, hook.OpStatus, "ORDERS", "a/b"},
		{"GET", "/apps", false, hook.OpRead, "", ""},
		{"GET", "/apps/delta", false, hook.OpRead, "", ""},
		{"GET", "/apps/ORDERS", false, hook.OpRead, "ORDERS", ""},
		{"GET", "/apps/ORDERS/i-1", false, hook.OpRead, "ORDERS", "i-1"},
		{"GET", "/instances/i-1", false, hook.OpRead, "", "i-1"},
		{"GET", "/vips/orders", false, hook.OpRead, "", ""},
		{"GET", "/status", false, hook.OpRead, "", ""},
		{"POST", "/peerreplication/batch", false, hook.OpReplicate, "", ""},
		{"POST", "/peerreplication/batch", true, hook.OpReplicate, "", ""},
		{"POST", "/apps/ORDERS", true, hook.OpReplicate, "ORDERS", ""},
		{"GET", "/apps", true, hook.OpReplicate, "", ""},
		{"PUT", "/asg/x/status", false, hook.OpStatus, "", ""},
	}
	for _, c := range cases {
		rt, vars, _ := srv.table.find(familyAPI, c.method, c.path)
		if rt == nil {
			t.Errorf("%s %s: no route", c.method, c.path)
			continue
		}
		op := rt.op
		if c.rep {
			op = hook.OpReplicate
		}
		app, id := strings.ToUpper(rt.variable(vars, "app")), rt.variable(vars, "id")
		if op != c.op || app != c.app || id != c.id {
			t.Errorf("%s %s rep=%v: %s %q %q, want %s %q %q", c.method, c.path, c.rep, op, app, id, c.op, c.app, c.id)
		}
	}
	// No route, no decision: the router answers 404 or 405.
	for _, c := range [][2]string{{"POST", "/nowhere"}, {"PATCH", "/apps/ORDERS/i-1"}, {"PUT", "/apps/A/b/c/d/e/f"}, {"GET", "/apps//"}} {
		if rt, _, _ := srv.table.find(familyAPI, c[0], c[1]); rt != nil {
			t.Errorf("%s %s matched %s", c[0], c[1], rt.label)
		}
	}
}

func TestMalformedBasicAuthIsNoCredentials(t *testing.T) {
	for _, h := range []string{"Basic !!!", "Basic " + "bm9jb2xvbg==" /* nocolon */, "Basic", "Digest x", "bearer"} {
		ar := &authRequest{}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		ar.readCredentials(r)
		if ar.Username != "" || ar.Password != "" || ar.BearerToken != "" {
			t.Errorf("%q gave %q %q %q", h, ar.Username, ar.Password, ar.BearerToken)
		}
	}
	ar := &authRequest{}
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("user", "pa:ss")
	ar.readCredentials(r)
	if ar.Username != "user" || ar.Password != "pa:ss" {
		t.Fatalf("got %q %q", ar.Username, ar.Password)
	}
}

// renewRig is the renew benchmark's setup: a registered instance and the
// Java client's renewal, with or without cached basic auth.
func renewRig(tb testing.TB, withAuth bool) (http.Handler, *http.Request) {
	return renewRigEvents(tb, withAuth, nil)
}

// renewRigEvents is renewRig with the registry publishing to bus.
func renewRigEvents(tb testing.TB, withAuth bool, bus *events.Bus) (http.Handler, *http.Request) {
	ro := registry.DefaultOptions()
	if bus != nil {
		ro.Events = bus
	}
	reg := registry.New(&ro)
	reg.OpenForTraffic(0)
	c, _ := cache.New(reg, nil)
	o := DefaultOptions()
	if withAuth {
		a := static.New()
		if err := a.Configure(context.Background(), []byte(authConfig())); err != nil {
			tb.Fatal(err)
		}
		o.Auth = guard.New(a, nil)
	}
	h := New(node.New(reg, node.Options{}), c, &o).Handler()
	req := httptest.NewRequest("POST", "/eureka/apps/ORDERS", strings.NewReader(springBody))
	req.Header.Set("Content-Type", jsonCT)
	req.SetBasicAuth("orders", "orders-secret")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 204 {
		tb.Fatalf("register: %d %s", w.Code, w.Body)
	}
	renew := httptest.NewRequest("PUT", "/eureka/apps/ORDERS/"+springID+"?status=UP&lastDirtyTimestamp=1717999999500", nil)
	renew.Header.Set("Content-Type", jsonCT)
	renew.SetBasicAuth("orders", "orders-secret")
	return h, renew
}

func TestRenewDoesNotAllocate(t *testing.T) {
	for _, withAuth := range []bool{false, true} {
		h, renew := renewRig(t, withAuth)
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, renew) // fills the decision cache
		allocs := testing.AllocsPerRun(500, func() { h.ServeHTTP(w, renew) })
		if w.code != 200 {
			t.Fatalf("auth=%v: renew answered %d", withAuth, w.code)
		}
		if allocs != 0 {
			t.Errorf("auth=%v: renew allocates %.1f times", withAuth, allocs)
		}
	}
	// With a listener that does not ask for renewals, a renewal builds no
	// event and still allocates nothing.
	bus := events.New(nil)
	bus.Subscribe("registrations", &eventCollector{}, events.SubscribeOptions{})
	h, renew := renewRigEvents(t, true, bus)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, renew)
	if allocs := testing.AllocsPerRun(500, func() { h.ServeHTTP(w, renew) }); allocs != 0 || w.code != 200 {
		t.Errorf("with events: renew answered %d and allocates %.1f times", w.code, allocs)
	}
}

// BenchmarkRenewAuth compares the renew path with and without a cached
// auth decision; the ratio of the two is the cost of authentication.
func BenchmarkRenewAuth(b *testing.B) {
	for _, withAuth := range []bool{false, true} {
		name := "auth=off"
		if withAuth {
			name = "auth=cached"
		}
		b.Run(name, func(b *testing.B) {
			h, renew := renewRig(b, withAuth)
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, renew)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, ok := threadCPU()
			for i := 0; i < b.N; i++ {
				h.ServeHTTP(w, renew)
			}
			if cpu1, ok1 := threadCPU(); ok && ok1 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
			if w.code != 200 {
				b.Fatalf("renew answered %d", w.code)
			}
		})
	}
}

// BenchmarkRenewAuthLoopback is the user-level comparison: renewals over
// real loopback HTTP with keep-alive, as a client sends them, with and
// without a cached auth decision.
func BenchmarkRenewAuthLoopback(b *testing.B) {
	for _, withAuth := range []bool{false, true} {
		name := "auth=off"
		if withAuth {
			name = "auth=cached"
		}
		b.Run(name, func(b *testing.B) {
			h, renew := renewRig(b, withAuth)
			ts := httptest.NewServer(h)
			defer ts.Close()
			hc := ts.Client()
			url := ts.URL + renew.URL.RequestURI()
			b.ResetTimer()
			cpu0, ok := processCPU()
			defer func() {
				if cpu1, ok1 := processCPU(); ok && ok1 {
					b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
				}
			}()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("PUT", url, nil)
					req.SetBasicAuth("orders", "orders-secret")
					resp, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("renew answered %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

// FuzzRouteTable: the table's matcher, which decides auth, and the
// gorilla/mux routers built from the same table, which dispatch, always
// agree on a request's route, for the request each is given (the router's
// a copy with the path below the base). serveRoot refuses a request the
// two disagree on, so a disagreement is a 404, never a bypass, but it is a
// bug.
func FuzzRouteTable(f *testing.F) {
	for _, p := range []string{"/eureka/apps/ORDERS/i-1/status", "/eureka/apps/a%2Fb/%zz", "/eureka/peerreplication/batch", "/eureka/apps//", "/////", "/eureka/v2/apps/x/y/z/w/v/u", "/admin/api/instances/A/b", "/dashboard/app.js", "/",
		"/%65ureka/apps/ORDERS", "/eureka/%61pps/ORDERS", "/eureka/apps/ORD%45RS/i-1", "/eureka/apps/%254FRDERS/i%252F1", "/eureka/apps/A/b%2F/", "/%61dmin/api/summary"} {
		f.Add("PUT", p)
		f.Add("GET", p)
		f.Add("POST", p)
	}
	srv := New(node.New(registry.New(nil), node.Options{}), mustCache(f), nil)
	f.Fuzz(func(t *testing.T, method, path string) {
		req, err := http.NewRequest(method, "http://x"+path, nil)
		if err != nil || req.URL.Path == "" || req.URL.Host != "x" {
			return
		}
		tg := srv.table.resolve(req)
		router := srv.table.site
		if tg.api {
			router = srv.table.api
			req = withPath(req, tg.path, tg.escaped)
			if got := req.URL.EscapedPath(); got != tg.escaped {
				t.Fatalf("%s %s: the router sees %q, the table %q", method, path, got, tg.escaped)
			}
		}
		var m mux.RouteMatch
		matched := router.Match(req, &m) && m.MatchErr == nil
		rt := tg.rt
		if rt == nil {
			if matched {
				tpl, _ := m.Route.GetPathTemplate()
				t.Fatalf("%s %s: the router matched %s, the table nothing", method, path, tpl)
			}
			return
		}
		if !matched {
			// The table ignores a trailing slash the site router keeps.
			if strings.HasSuffix(req.URL.Path, "/") && !rt.prefix && !tg.api {
				return
			}
			t.Fatalf("%s %s: the table matched %s, the router nothing", method, path, rt.label)
		}
		if m.Route != rt.mux {
			tpl, _ := m.Route.GetPathTemplate()
			t.Fatalf("%s %s: the table matched %s, the router %s", method, path, rt.pattern, tpl)
		}
		// The decision is made on the values the handler is given.
		for i, name := range rt.vars {
			if name != "" && unescape(tg.vars[i]) != unescape(m.Vars[name]) {
				t.Fatalf("%s %s: {%s} is %q for the table, %q for the router", method, path, name, tg.vars[i], m.Vars[name])
			}
		}
	})
}

func mustCache(tb testing.TB) *cache.Cache {
	reg := registry.New(nil)
	c, err := cache.New(reg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func FuzzReadCredentials(f *testing.F) {
	f.Add("Basic dXNlcjpwYXNz")
	f.Add("Bearer abc")
	f.Add("basic Og==")
	f.Add("Basic ====")
	f.Fuzz(func(t *testing.T, h string) {
		ar := authRequests.Get().(*authRequest)
		defer func() { ar.AuthRequest = hook.AuthRequest{}; authRequests.Put(ar) }()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		ar.readCredentials(r)
		if ar.Username != "" || ar.Password != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != ar.Username || p != ar.Password {
				t.Fatalf("%q: got %q %q, net/http reads %q %q %v", h, ar.Username, ar.Password, u, p, ok)
			}
		}
	})
}

// TestPrincipalInLogs: a write that fails after authentication names its
// caller in the log.
func TestPrincipalInLogs(t *testing.T) {
	var buf eurekadtest.SyncBuffer
	a := static.New()
	a.Configure(context.Background(), []byte(authConfig()))
	fs := &fakeStore{commitErr: errors.New("disk full")}
	s := newStoreServer(t, fs, func(o *Options) {
		o.Auth = guard.New(a, nil)
		o.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	})
	r := httptest.NewRequest("POST", "/eureka/apps/ORDERS", strings.NewReader(springBody))
	r.Header.Set("Content-Type", jsonCT)
	r.SetBasicAuth("orders", "orders-secret")
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	if w.Code != 503 || !strings.Contains(buf.String(), "principal=orders") {
		t.Fatalf("%d, log %q", w.Code, buf.String())
	}
}
