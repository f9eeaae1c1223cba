package httpd

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/plugins/auth/guard"
	"github.com/eurekad/eurekad/plugins/auth/static"
	"github.com/eurekad/eurekad/sdk/hook"
)

// matrixConfig gives two teams the same permissions on their own
// applications (admin included, so the dashboard's actions are scoped by
// application too) and nothing else; peers read and replicate; nobody is
// anonymous.
func matrixConfig() string {
	team := `"rules": [{"operations": ["register", "renew", "cancel", "status", "metadata", "read", "admin"], "apps": ["%s-*"]}]`
	return `{
  "users": [
    {"username": "orders", "password_bcrypt": "` + ordersHash + `", ` + strings.Replace(team, "%s", "ORDERS", 1) + `},
    {"username": "payments", "password_bcrypt": "` + readerHash + `", ` + strings.Replace(team, "%s", "PAYMENTS", 1) + `}
  ],
  "peers": [{"username": "peer", "password_bcrypt": "` + peerHash + `"}],
  "anonymous": []
}`
}

// matrixServer serves the API over loopback under matrixConfig.
func matrixServer(t *testing.T) (*Server, *registry.Registry, *httptest.Server) {
	t.Helper()
	a := static.New()
	if err := a.Configure(context.Background(), []byte(matrixConfig())); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, err := cache.New(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Auth = guard.New(a, nil)
	o.Profiling = true // every optional route is in the table
	srv := New(node.New(reg, node.Options{}), c, &o)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, reg, ts
}

// TestRouteAuthMatrix sends every route of the table a request as an
// anonymous caller, a caller of another team, the owning team and a peer
// (with and without the replication header), and checks each decision
// against the route's operation and application. A route added later is
// covered without a change here.
func TestRouteAuthMatrix(t *testing.T) {
	srv, _, ts := matrixServer(t)

	type caller struct {
		name, user, pass string
		replicating      bool
	}
	callers := []caller{
		{name: "anonymous"},
		{name: "other team", user: "payments", pass: "reader-secret"},
		{name: "owning team", user: "orders", pass: "orders-secret"},
		{name: "peer", user: "peer", pass: "peer-secret"},
		{name: "replicating peer", user: "peer", pass: "peer-secret", replicating: true},
	}
	allowed := func(c caller, rt *route) bool {
		if rt.access == accessPublic {
			return true
		}
		op := rt.op
		if c.replicating && rt.family == familyAPI {
			op = hook.OpReplicate
		}
		appScoped := rt.vars[0] == "app"
		switch c.name {
		case "owning team":
			return appScoped && op != hook.OpReplicate
		case "peer", "replicating peer":
			return op == hook.OpRead || op == hook.OpReplicate
		}
		return false
	}
	// Only these may answer without a decision: none carries registry data.
	public := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /": true, "GET /lastn": true, "GET /dashboard/": true}
	checked := 0
	for _, rt := range srv.table.routes {
		if rt.access == accessPublic && !public[rt.label] {
			t.Errorf("%s answers without an auth decision", rt.label)
		}
		if rt.method != http.MethodGet && rt.family == familySite && rt.access != accessAdmin {
			t.Errorf("%s changes state without the admin rule", rt.label)
		}
		path := strings.NewReplacer("{app}", "ORDERS-API", "{id}", "o-1", "{vip}", "orders", "{asg}", "x").Replace(rt.pattern)
		if rt.family == familyAPI {
			path = "/eureka" + path
		}
		if rt.prefix {
			path += "app.js"
		}
		for _, cl := range callers {
			code := matrixCall(t, ts.URL+path, rt.method, cl.user, cl.pass, cl.replicating)
			want := allowed(cl, rt)
			switch {
			case want && (code == http.StatusUnauthorized || code == http.StatusForbidden):
				t.Errorf("%s %s as %s: %d, want allowed", rt.method, path, cl.name, code)
			case !want && cl.user == "" && code != http.StatusUnauthorized:
				t.Errorf("%s %s as %s: %d, want 401", rt.method, path, cl.name, code)
			case !want && cl.user != "" && code != http.StatusForbidden:
				t.Errorf("%s %s as %s: %d, want 403", rt.method, path, cl.name, code)
			}
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("only %d routes checked", checked)
	}
	// The other team's application is the mirror image.
	if code := matrixCall(t, ts.URL+"/eureka/apps/PAYMENTS-API", "GET", "orders", "orders-secret", false); code != http.StatusForbidden {
		t.Fatalf("orders reading PAYMENTS-API: %d", code)
	}
}

// matrixCall sends one request and returns its status without waiting for
// a streamed body.
func matrixCall(t *testing.T, url, method, user, pass string, replicating bool) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if replicating {
		req.Header.Set(replicationHeader, "true")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRouteSpellingsCannotEscapeAuth sends every route, spelled as an
// attacker would (escaped base and segments, doubled and trailing slashes,
// another base, lower case), as an anonymous caller: each answer is the
// refusal or no route at all, never the handler. Then the owning team's
// credentials on a doubly escaped application name: the decision is made on
// the name the write would reach ("%4FRDERS-API"), not on one decoded twice
// ("ORDERS-API").
func TestRouteSpellingsCannotEscapeAuth(t *testing.T) {
	srv, reg, ts := matrixServer(t)

	escapeFirst := func(seg string) string {
		if seg == "" || strings.HasPrefix(seg, "%") {
			return seg
		}
		return "%" + strings.ToUpper(strconv.FormatInt(int64(seg[0]), 16)) + seg[1:]
	}
	sent := 0
	for _, rt := range srv.table.routes {
		if rt.access == accessPublic {
			continue
		}
		rest := strings.NewReplacer("{app}", "ORDERS-API", "{id}", "o-1", "{vip}", "orders", "{asg}", "x").Replace(rt.pattern)
		segs := strings.Split(strings.TrimPrefix(rest, "/"), "/")
		var spellings []string
		bases := []string{""}
		if rt.family == familyAPI {
			bases = []string{"/eureka", "/eureka/v2", "/%65ureka", "/eureka/%762", "/EUREKA", "/eureka/"}
		}
		for _, b := range bases {
			spellings = append(spellings, b+rest, b+rest+"/", b+rest+"//", b+"/"+rest, b+strings.ToLower(rest))
			for i := range segs {
				s := slices.Clone(segs)
				s[i] = escapeFirst(s[i])
				spellings = append(spellings, b+"/"+strings.Join(s, "/"))
				s[i] = strings.ReplaceAll(s[i], "%", "%25")
				spellings = append(spellings, b+"/"+strings.Join(s, "/"))
			}
		}
		for _, p := range spellings {
			code := matrixCall(t, ts.URL+p, rt.method, "", "", false)
			if code != http.StatusUnauthorized && code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s as anonymous: %d, want 401 or no route", rt.method, p, code)
			}
			sent++
		}
	}
	if sent < 500 {
		t.Fatalf("only %d spellings sent", sent)
	}
	if n := reg.Size(); n != 0 {
		t.Fatalf("%d instances registered by anonymous callers", n)
	}

	body := strings.NewReplacer(`"app":"ORDERS"`, `"app":"%4FRDERS-API"`).Replace(springBody)
	for _, p := range []string{"/eureka/apps/%254FRDERS-API", "/eureka/apps/%254FRDERS-API/" + springID, "/eureka/apps/%254FRDERS-API/" + springID + "/status?value=UP"} {
		method := map[bool]string{true: "POST", false: "PUT"}[strings.Count(p, "/") == 3]
		req, _ := http.NewRequest(method, ts.URL+p, strings.NewReader(body))
		req.Header.Set("Content-Type", jsonCT)
		req.SetBasicAuth("orders", "orders-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s as orders: %d, want 403 (the app is %%4FRDERS-API)", method, p, resp.StatusCode)
		}
	}
	if n := reg.Size(); n != 0 {
		t.Fatalf("%d instances registered outside the caller's applications", n)
	}
}
