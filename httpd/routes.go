package httpd

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gorilla/mux"

	"github.com/eurekad/eurekad/sdk/hook"
)

// The route table is the one list of what eurekad serves. Everything that
// depends on a route is derived from it: the gorilla/mux routers that
// dispatch (only to the route the table found and decided), the operation
// the authenticator is asked about, the metrics label, and the renewal fast
// path. A route cannot exist without an access rule, and the auth matrix
// test walks this same table.

// family says where a route is served.
type family uint8

const (
	// familyAPI routes are the Eureka API, served under every base path.
	familyAPI family = iota
	// familySite routes are served at the root: health, metrics, admin,
	// the dashboard.
	familySite
)

// access says who may use a route.
type access uint8

const (
	// accessDecide: the authenticator decides the route's operation; open
	// without an authenticator.
	accessDecide access = iota
	// accessAdmin: the authenticator decides the route's operation;
	// without one, the admin token, or loopback clients when none is set.
	accessAdmin
	// accessPublic: no decision. Only what carries no registry data (health,
	// the dashboard's page and assets).
	accessPublic
)

// route is one entry of the table.
type route struct {
	family  family
	method  string
	pattern string // below the base for the API; "{name}" is a variable segment
	// prefix serves everything below pattern, which ends in "/".
	prefix bool
	op     hook.Operation
	access access
	// fast marks the renewal, served without the router.
	fast bool
	// anyNamespace: with namespaces, the route is allowed to a caller who
	// may read in any namespace (its handler answers about those alone).
	anyNamespace bool

	handler http.HandlerFunc
	mux     *mux.Route // the route built from this one

	label string   // metrics: "METHOD pattern"
	segs  []string // pattern's segments
	vars  [2]string
}

// routeTable lists every route, in matching order (a literal segment
// before a variable one in the same place).
func (s *Server) routeTable() []*route {
	api := func(method, pattern string, op hook.Operation, h http.HandlerFunc) *route {
		return &route{family: familyAPI, method: method, pattern: pattern, op: op, handler: h}
	}
	site := func(method, pattern string, op hook.Operation, a access, h http.HandlerFunc) *route {
		return &route{family: familySite, method: method, pattern: pattern, op: op, access: a, handler: h}
	}
	renew := api(http.MethodPut, "/apps/{app}/{id}", hook.OpRenew, s.renew)
	renew.fast = true
	nsList := site(http.MethodGet, "/admin/api/namespaces", hook.OpRead, accessDecide, s.apiNamespaces)
	nsList.anyNamespace = true
	metricsAccess := accessDecide
	if s.opts.MetricsPublic {
		metricsAccess = accessPublic
	}
	t := []*route{
		// Renewals first: they are most of the traffic.
		renew,
		api(http.MethodGet, "/apps", hook.OpRead, s.getApps),
		api(http.MethodGet, "/apps/delta", hook.OpRead, s.getDelta),
		api(http.MethodPost, "/apps/{app}", hook.OpRegister, s.register),
		api(http.MethodDelete, "/apps/{app}/{id}", hook.OpCancel, s.cancel),
		api(http.MethodGet, "/apps/{app}", hook.OpRead, s.getApp),
		api(http.MethodGet, "/apps/{app}/{id}", hook.OpRead, s.getAppInstance),
		api(http.MethodPut, "/apps/{app}/{id}/status", hook.OpStatus, s.setStatus),
		api(http.MethodDelete, "/apps/{app}/{id}/status", hook.OpStatus, s.deleteStatus),
		api(http.MethodPut, "/apps/{app}/{id}/metadata", hook.OpMetadata, s.updateMetadata),
		api(http.MethodGet, "/instances/{id}", hook.OpRead, s.getInstance),
		api(http.MethodGet, "/vips/{vip}", hook.OpRead, s.getVIP),
		api(http.MethodGet, "/svips/{vip}", hook.OpRead, s.getSVIP),
		api(http.MethodPut, "/asg/{asg}/status", hook.OpStatus, s.asgStatus),
		api(http.MethodGet, "/status", hook.OpRead, s.status),
		api(http.MethodGet, "/serverinfo/statusoverrides", hook.OpRead, s.statusOverrides),
		api(http.MethodPost, "/peerreplication/batch", hook.OpReplicate, s.replicationBatch),
		api(http.MethodGet, "/peerreplication/digest", hook.OpReplicate, s.peerDigest),
		api(http.MethodPost, "/peerreplication/exchange", hook.OpReplicate, s.peerExchange),

		site(http.MethodGet, "/healthz", hook.OpRead, accessPublic, healthz),
		site(http.MethodGet, "/readyz", hook.OpRead, accessPublic, s.readyz),
		site(http.MethodGet, "/admin/storage", hook.OpAdmin, accessAdmin, s.storageStatus),
		site(http.MethodGet, "/admin/snapshot", hook.OpAdmin, accessAdmin, s.snapshot),
		site(http.MethodGet, "/admin/api/summary", hook.OpRead, accessDecide, s.apiSummary),
		site(http.MethodGet, "/admin/api/instances", hook.OpRead, accessDecide, s.apiInstances),
		site(http.MethodGet, "/admin/api/instances/{app}/{id}", hook.OpRead, accessDecide, s.apiInstance),
		site(http.MethodPost, "/admin/api/instances/{app}/{id}/out-of-service", hook.OpAdmin, accessAdmin, sameOrigin(s.apiStatusAction(true))),
		site(http.MethodPost, "/admin/api/instances/{app}/{id}/in-service", hook.OpAdmin, accessAdmin, sameOrigin(s.apiStatusAction(false))),
		site(http.MethodPost, "/admin/api/instances/{app}/{id}/deregister", hook.OpAdmin, accessAdmin, sameOrigin(s.apiDeregister)),
		site(http.MethodPost, "/admin/api/instances/{app}/{id}/drain", hook.OpAdmin, accessAdmin, sameOrigin(s.apiDrainInstance)),
		site(http.MethodGet, "/admin/api/instances/{app}/{id}/history", hook.OpRead, accessDecide, s.apiHistory),
		site(http.MethodGet, "/admin/api/apps", hook.OpRead, accessDecide, s.apiApps),
		site(http.MethodPost, "/admin/api/apps/{app}/drain", hook.OpAdmin, accessAdmin, sameOrigin(s.apiDrainApp)),
		site(http.MethodGet, "/admin/api/propagation", hook.OpRead, accessDecide, s.apiPropagation),
		site(http.MethodGet, "/admin/api/self-preservation", hook.OpRead, accessDecide, s.apiSelfPreservation),
		site(http.MethodGet, "/admin/api/events", hook.OpRead, accessDecide, s.apiEvents),
		site(http.MethodGet, "/admin/api/stream", hook.OpRead, accessDecide, s.apiStream),
		site(http.MethodGet, "/admin/api/storage", hook.OpRead, accessDecide, s.apiStorage),
		site(http.MethodGet, "/admin/api/peers", hook.OpRead, accessDecide, s.apiPeers),
		site(http.MethodGet, "/admin/api/regions", hook.OpRead, accessDecide, s.apiRegions),
		nsList,
		site(http.MethodGet, "/admin/api/plugins", hook.OpRead, accessDecide, s.apiPlugins),
		site(http.MethodGet, "/admin/api/whoami", hook.OpAdmin, accessAdmin, whoami),
	}
	if s.metrics != nil {
		t = append(t, site(http.MethodGet, "/metrics", hook.OpRead, metricsAccess, s.allNamespaces(metricsAccess, s.metrics.handler()).ServeHTTP))
	}
	if s.opts.Profiling {
		t = append(t, &route{family: familySite, method: http.MethodGet, pattern: "/debug/pprof/", prefix: true, access: accessAdmin, op: hook.OpAdmin, handler: profiles})
	}
	if s.opts.Dashboard {
		assets := dashboardAssets()
		t = append(t,
			site(http.MethodGet, "/", hook.OpRead, accessPublic, dashboardPage),
			site(http.MethodGet, "/lastn", hook.OpRead, accessPublic, dashboardPage),
			&route{family: familySite, method: http.MethodGet, pattern: "/dashboard/", prefix: true, access: accessPublic, op: hook.OpRead, handler: assets},
		)
	}
	for _, rt := range t {
		rt.compile()
	}
	return t
}

// compile splits the pattern and names its variables.
func (rt *route) compile() {
	rt.label = rt.method + " " + rt.pattern
	p := strings.Trim(rt.pattern, "/")
	if p != "" {
		rt.segs = strings.Split(p, "/")
	}
	n := 0
	for _, seg := range rt.segs {
		if strings.HasPrefix(seg, "{") {
			rt.vars[n] = strings.Trim(seg, "{}")
			n++
		}
	}
}

// match reports whether path (escaped, without trailing slash) is this
// route's, and its variables (escaped) in pattern order. It allocates
// nothing.
func (rt *route) match(path string) (vars [2]string, ok bool) {
	rest := strings.TrimPrefix(path, "/")
	n := 0
	for i, seg := range rt.segs {
		if rest == "" && !(rt.prefix && i == len(rt.segs)) {
			return vars, false
		}
		var got string
		got, rest, _ = strings.Cut(rest, "/")
		if seg[0] == '{' {
			if got == "" {
				return vars, false
			}
			vars[n] = got
			n++
		} else if got != seg {
			return vars, false
		}
	}
	return vars, rest == "" || rt.prefix
}

// variable returns the named variable of a match, unescaped; "" when the
// route has none.
func (rt *route) variable(vars [2]string, name string) string {
	for i, v := range rt.vars {
		if v == name {
			return unescape(vars[i])
		}
	}
	return ""
}

// table is the compiled route table with its two routers.
type table struct {
	routes []*route
	api    *mux.Router // the Eureka API, below the base path
	site   *mux.Router
	bases  []base // longest first
}

// base is a prefix the Eureka API is served under, as configured and in
// the escaped form requests are matched against.
type base struct{ path, escaped string }

// find returns the route of a request of family f at path (escaped,
// trailing slash trimmed) and its variables; methodOK is false when the
// path is known but not for this method.
func (t *table) find(f family, method, path string) (rt *route, vars [2]string, pathOK bool) {
	for _, c := range t.routes {
		if c.family != f {
			continue
		}
		v, ok := c.match(path)
		if !ok {
			continue
		}
		if c.method == method {
			return c, v, true
		}
		pathOK = true
	}
	return nil, vars, pathOK
}

// target is where a request goes: its route (nil for none) with the
// variables the decision is made on, and the path its router is given.
type target struct {
	rt     *route
	vars   [2]string
	pathOK bool // the path is known, not for this method
	// api: below a base path; path and escaped are then the path below
	// the base, decoded and escaped, trailing slashes trimmed.
	api           bool
	path, escaped string
}

// resolve finds a request's route. Everything is matched on the escaped
// path, the form the routers match too (UseEncodedPath): matching the base
// on the decoded path and the rest on the escaped one once let
// /%65ureka/apps/X reach the router with no route decided, and so no auth
// decision. It allocates nothing for a path without escapes.
func (t *table) resolve(r *http.Request) target {
	esc := r.URL.EscapedPath()
	trimmed := strings.TrimRight(esc, "/")
	for _, b := range t.bases {
		rest, ok := strings.CutPrefix(trimmed, b.escaped)
		if !ok || !strings.HasPrefix(rest, "/") {
			continue
		}
		// The decoded path starts with the decoded base and ends with the
		// same literal slashes as the escaped one.
		cut := len(esc) - len(trimmed)
		tg := target{api: true, escaped: rest, path: r.URL.Path[len(b.path) : len(r.URL.Path)-cut]}
		tg.rt, tg.vars, tg.pathOK = t.find(familyAPI, r.Method, rest)
		return tg
	}
	// The trailing slash is optional everywhere: the Java client fetches
	// "apps/" and peers post to "peerreplication/batch/".
	if trimmed == "" {
		trimmed = "/"
	}
	var tg target
	tg.rt, tg.vars, tg.pathOK = t.find(familySite, r.Method, trimmed)
	return tg
}

// routes builds the root handler from the table.
func (s *Server) routes() http.Handler {
	t := &table{routes: s.routeTable()}
	t.api, t.site = mux.NewRouter(), mux.NewRouter()
	for _, r := range []*mux.Router{t.api, t.site} {
		// Route on the escaped path so an instance id holding %2F stays
		// one segment; pathVar decodes it once.
		r.UseEncodedPath()
	}
	for _, rt := range t.routes {
		r := t.api
		if rt.family == familySite {
			r = t.site
		}
		if rt.prefix {
			rt.mux = r.Methods(rt.method).PathPrefix(rt.pattern).HandlerFunc(rt.handler)
		} else {
			rt.mux = r.Methods(rt.method).Path(rt.pattern).HandlerFunc(rt.handler)
		}
	}
	s.table = t
	for _, b := range s.opts.BasePaths {
		b = strings.TrimRight(b, "/")
		t.bases = append(t.bases, base{path: b, escaped: (&url.URL{Path: b}).EscapedPath()})
	}
	// Longest first, so /eureka/v2/apps is not read as /eureka plus "v2".
	sort.Slice(t.bases, func(i, j int) bool { return len(t.bases[i].path) > len(t.bases[j].path) })
	return http.HandlerFunc(s.serveRoot)
}

// serveRoot finds a request's route, decides it, and dispatches it. A
// request without a route is answered here (404, or 405 for a known path),
// never by a router: only a decided route reaches a handler.
func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	if s.opts.Namespaces != nil && s.serveNamespace(w, r) {
		return
	}
	t := s.table
	tg := t.resolve(r)
	rt := tg.rt
	if rt == nil {
		if tg.pathOK {
			methodNotAllowed(w, r)
		} else {
			notFound(w, r)
		}
		return
	}
	setRoute(w, rt.label)
	p, known, ok := s.decide(w, r, rt, tg.vars, tg.api && isReplication(r))
	if !ok {
		return
	}
	if rt.fast && strings.IndexByte(tg.escaped, '%') < 0 {
		// The renewal: no router, no request copy, no vars map, so it
		// allocates nothing. Paths with escapes go through the router,
		// which decodes them.
		s.renewInstance(w, r, strings.ToUpper(tg.vars[0]), tg.vars[1])
		return
	}
	if known {
		r = withPrincipal(r, p)
	}
	router := t.site
	if tg.api {
		router = t.api
		r = withPath(r, tg.path, tg.escaped)
	}
	s.dispatch(w, r, router, rt)
}

// dispatch runs the handler of rt, the route the request was decided for,
// with the variables the router extracts. Should the router pick another
// route, or none (a site path with a trailing slash), the answer is 404:
// a handler never runs for a route that was not decided.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, router *mux.Router, rt *route) {
	var m mux.RouteMatch
	if !router.Match(r, &m) || m.MatchErr != nil || m.Route != rt.mux {
		if m.Route != nil && m.Route != rt.mux {
			tpl, _ := m.Route.GetPathTemplate()
			s.log.Error("route table and router disagree", "table", rt.label, "router", tpl, pathAttr(r))
		}
		notFound(w, r)
		return
	}
	m.Handler.ServeHTTP(w, mux.SetURLVars(r, m.Vars))
}

// decide applies the route's access rule. With an authenticator it asks
// about the route's operation (replicate for a request a peer marks as
// replicated), its app and instance; it writes the refusal and reports
// false. known says an authenticator named the caller.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, rt *route, vars [2]string, replicated bool) (p hook.Principal, known, ok bool) {
	if rt.access == accessPublic {
		return p, false, true
	}
	if s.opts.Auth == nil {
		if rt.access == accessAdmin {
			return p, false, s.localAdmin(w, r)
		}
		return p, false, true
	}
	if rt.anyNamespace && s.opts.Namespaces != nil && s.mayReadAnother(r) {
		return p, false, true
	}
	op := rt.op
	if replicated {
		op = hook.OpReplicate
	}
	app := strings.ToUpper(rt.variable(vars, "app"))
	p, ok = s.authorize(w, r, op, app, rt.variable(vars, "id"))
	return p, ok, ok
}

// pathVar returns a path variable, percent-decoded once.
func pathVar(r *http.Request, name string) string {
	return unescape(mux.Vars(r)[name])
}

// requestCopy holds a shallow request copy and its URL in one allocation.
type requestCopy struct {
	r http.Request
	u url.URL
}

// withPath returns a copy of r whose path is the API path below the base:
// path decoded, escaped its escaped form.
func withPath(r *http.Request, path, escaped string) *http.Request {
	c := &requestCopy{r: *r, u: *r.URL}
	c.u.Path = path
	if c.u.RawPath != "" {
		// Without a RawPath the escaped form is the default escaping of
		// path, which escaped then is.
		c.u.RawPath = escaped
	}
	c.r.URL = &c.u
	return &c.r
}

// queryParam returns the first value of key in a raw query string without
// building a map: every renewal carries its timestamp there.
func queryParam(raw, key string) string {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != key {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != key {
				continue
			}
		}
		if strings.ContainsAny(v, "%+") {
			if uv, err := url.QueryUnescape(v); err == nil {
				return uv
			}
		}
		return v
	}
	return ""
}
