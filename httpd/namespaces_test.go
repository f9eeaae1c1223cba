package httpd

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/hook"
)

// fakeNamespaces serves fixed namespaces' servers.
type fakeNamespaces map[string]*Server

func (f fakeNamespaces) Lookup(name string) *Server { return f[name] }

func (f fakeNamespaces) List() []*Server {
	out := []*Server{}
	for _, s := range f {
		out = append(out, s)
	}
	return out
}

// nsRig is a default namespace's server with a team-a server behind it,
// both deciding through auth.
func nsRig(t testing.TB, auth hook.Authenticator) http.Handler {
	build := func(name string, nss Namespaces) *Server {
		reg := registry.New(nil)
		reg.OpenForTraffic(0)
		c, _ := cache.New(reg, nil)
		o := DefaultOptions()
		o.Namespace, o.Namespaces, o.Auth = name, nss, auth
		if name != "default" {
			o.Metrics, o.Dashboard = false, false
		}
		s := New(node.New(reg, node.Options{}), c, &o)
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		return s
	}
	team := build("team-a", nil)
	return build("default", fakeNamespaces{"team-a": team}).Handler()
}

// TestNamespaceDispatch: /ns/{namespace}/ and ?namespace= reach the
// namespace's server, decided with the namespace and the path as
// received; any other name is a 404 that never reaches an authenticator.
func TestNamespaceDispatch(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	echo := hook.AuthenticatorFunc(func(_ context.Context, req *hook.AuthRequest) (hook.Principal, error) {
		mu.Lock()
		seen = append(seen, string(req.Operation)+" "+req.Namespace+" "+req.Path)
		mu.Unlock()
		return hook.Principal{Name: "x"}, nil
	})
	h := nsRig(t, echo)
	do := func(method, path, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", jsonCT)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	if c := do("POST", "/ns/team-a/eureka/apps/ORDERS", springBody); c != 204 {
		t.Fatalf("register in team-a: %d", c)
	}
	for _, c := range []struct {
		path string
		code int
		seen string
	}{
		{"/ns/team-a/eureka/apps/ORDERS/" + springID, 200, "read team-a /ns/team-a/eureka/apps/ORDERS/" + springID},
		{"/eureka/apps/ORDERS/" + springID, 404, "read default /eureka/apps/ORDERS/" + springID},
		{"/ns/default/eureka/apps/ORDERS/" + springID, 404, "read default /eureka/apps/ORDERS/" + springID},
		{"/admin/api/instances?namespace=team-a", 200, "read team-a /admin/api/instances"},
		{"/ns/team-a/admin/api/instances", 200, "read team-a /ns/team-a/admin/api/instances"},
		{"/ns/team-b/eureka/apps", 404, ""},
		{"/ns/Team-a/eureka/apps", 404, ""},
		{"/ns/team-a%2F/eureka/apps", 404, ""},
		{"/ns/../eureka/apps", 404, ""},
		{"/admin/api/instances?namespace=TEAM-A", 404, ""},
		{"/ns/team-a/metrics", 404, ""},
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		if got := do("GET", c.path, ""); got != c.code {
			t.Errorf("GET %s: %d, want %d", c.path, got, c.code)
		}
		mu.Lock()
		if got := strings.Join(seen, ","); got != c.seen {
			t.Errorf("GET %s: authenticator saw %q, want %q", c.path, got, c.seen)
		}
		mu.Unlock()
	}
}

// TestDefaultRenewWithNamespacesAllocatesNothing: dispatching namespaces
// costs the default namespace's renewals no allocation.
func TestDefaultRenewWithNamespacesAllocatesNothing(t *testing.T) {
	h := nsRig(t, nil)
	reg := httptest.NewRequest("POST", "/eureka/apps/ORDERS", strings.NewReader(springBody))
	reg.Header.Set("Content-Type", jsonCT)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, reg)
	if w.Code != 204 {
		t.Fatalf("register: %d", w.Code)
	}
	renew := httptest.NewRequest("PUT", "/eureka/apps/ORDERS/"+springID+"?status=UP&lastDirtyTimestamp=1717999999500", nil)
	dw := &discardWriter{h: http.Header{}}
	h.ServeHTTP(dw, renew)
	if allocs := testing.AllocsPerRun(500, func() { h.ServeHTTP(dw, renew) }); allocs != 0 || dw.code != 200 {
		t.Errorf("renew answered %d and allocates %.1f times", dw.code, allocs)
	}
}

// TestMetricsPerNamespace: with namespaces every series of a namespace's
// registry, cache, store and replication is served once per namespace,
// labelled, and none of them without the label.
func TestMetricsPerNamespace(t *testing.T) {
	h := nsRig(t, nil)
	reg := httptest.NewRequest("POST", "/ns/team-a/eureka/apps/ORDERS", strings.NewReader(springBody))
	reg.Header.Set("Content-Type", jsonCT)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, reg)
	if w.Code != 204 {
		t.Fatalf("register in team-a: %d", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("GET /metrics: %d %.300s", w.Code, body)
	}
	for _, want := range []string{
		`eurekad_registry_instances{namespace="team-a",status="UP"} 1`,
		`eurekad_registry_instances{namespace="default",status="UP"} 0`,
		`eurekad_registry_registrations_total{namespace="team-a"} 1`,
		`eurekad_registry_applications{namespace="default"} 0`,
		`eurekad_cache_build_duration_seconds_count{entity="apps",namespace="team-a"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for d := range perNamespace {
		name := d.String()
		name = name[strings.Index(name, `fqName: "`)+len(`fqName: "`):]
		name = name[:strings.IndexByte(name, '"')]
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, name) && !strings.HasPrefix(line, "#") && !strings.Contains(line, `namespace="`) {
				t.Errorf("series without its namespace: %s", line)
			}
		}
	}
}
