package httpd

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gorilla/mux"

	"github.com/eurekad/eurekad/sdk/hook"
)

// All gorilla/mux code lives in this file; handlers read path variables only
// through pathVar.

// routes builds the root handler: the Eureka API under every base path
// (the base is stripped in front of one router, so routing costs the same
// whatever the number of bases) and everything else.
func (s *Server) routes() http.Handler {
	api := mux.NewRouter()
	s.api = api
	// Route on the escaped path so an instance id holding %2F stays one
	// segment; pathVar decodes it once.
	api.UseEncodedPath()
	api.NotFoundHandler = http.HandlerFunc(notFound)
	api.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)
	// Renewals first: they are most of the traffic.
	api.Methods(http.MethodPut).Path("/apps/{app}/{id}").HandlerFunc(s.renew)
	api.Methods(http.MethodGet).Path("/apps").HandlerFunc(s.getApps)
	api.Methods(http.MethodGet).Path("/apps/delta").HandlerFunc(s.getDelta)
	api.Methods(http.MethodPost).Path("/apps/{app}").HandlerFunc(s.register)
	api.Methods(http.MethodDelete).Path("/apps/{app}/{id}").HandlerFunc(s.cancel)
	api.Methods(http.MethodGet).Path("/apps/{app}").HandlerFunc(s.getApp)
	api.Methods(http.MethodGet).Path("/apps/{app}/{id}").HandlerFunc(s.getAppInstance)
	api.Methods(http.MethodPut).Path("/apps/{app}/{id}/status").HandlerFunc(s.setStatus)
	api.Methods(http.MethodDelete).Path("/apps/{app}/{id}/status").HandlerFunc(s.deleteStatus)
	api.Methods(http.MethodPut).Path("/apps/{app}/{id}/metadata").HandlerFunc(s.updateMetadata)
	api.Methods(http.MethodGet).Path("/instances/{id}").HandlerFunc(s.getInstance)
	api.Methods(http.MethodGet).Path("/vips/{vip}").HandlerFunc(s.getVIP)
	api.Methods(http.MethodGet).Path("/svips/{vip}").HandlerFunc(s.getSVIP)
	api.Methods(http.MethodPut).Path("/asg/{asg}/status").HandlerFunc(s.asgStatus)
	api.Methods(http.MethodGet).Path("/status").HandlerFunc(s.status)
	api.Methods(http.MethodGet).Path("/serverinfo/statusoverrides").HandlerFunc(s.statusOverrides)
	api.Methods(http.MethodPost).Path("/peerreplication/batch").HandlerFunc(s.replicationBatch)
	labelRoutes(api) // metrics: after every route is added

	bases := make([]string, 0, len(s.opts.BasePaths))
	for _, b := range s.opts.BasePaths {
		bases = append(bases, strings.TrimRight(b, "/"))
	}
	// Longest first, so /eureka/v2/apps is not read as /eureka plus "v2".
	sort.Slice(bases, func(i, j int) bool { return len(bases[i]) > len(bases[j]) })
	site := s.site()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The trailing slash is optional everywhere: the Java client fetches
		// "apps/" and peers post to "peerreplication/batch/".
		p := strings.TrimRight(r.URL.Path, "/")
		for _, b := range bases {
			if rest, ok := strings.CutPrefix(p, b); ok && strings.HasPrefix(rest, "/") {
				var principal hook.Principal
				if s.opts.Auth != nil {
					op, app, id := classify(r.Method, escapedRest(r, rest, len(b)), isReplication(r))
					if principal, ok = s.authorize(w, r, op, app, id); !ok {
						return
					}
				}
				if r.Method == http.MethodPut && s.renewFast(w, r, rest) {
					return
				}
				if s.opts.Auth != nil {
					r = withPrincipal(r, principal)
				}
				api.ServeHTTP(w, withPath(r, rest, len(b)))
				return
			}
		}
		site.ServeHTTP(w, r)
	})
}

// pathVar returns a path variable, percent-decoded once.
func pathVar(r *http.Request, name string) string {
	v := mux.Vars(r)[name]
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}

// renewFast serves a renewal, PUT apps/{app}/{id}, without the router: it
// is most of a registry's traffic, and skipping the route match, the request
// copy and the vars map keeps it allocation-free. Paths with escapes go
// through the router, which decodes them.
func (s *Server) renewFast(w http.ResponseWriter, r *http.Request, rest string) bool {
	if r.URL.RawPath != "" {
		return false
	}
	rest, ok := strings.CutPrefix(rest, "/apps/")
	if !ok {
		return false
	}
	app, id, ok := strings.Cut(rest, "/")
	if !ok || app == "" || id == "" || strings.IndexByte(id, '/') >= 0 {
		return false
	}
	setRoute(w, routeRenew)
	s.renewInstance(w, r, strings.ToUpper(app), id)
	return true
}

// escapedRest is the API path below the base in escaped form, so an
// escaped slash inside an instance id does not split it.
func escapedRest(r *http.Request, rest string, prefix int) string {
	raw := strings.TrimRight(r.URL.RawPath, "/")
	if raw == "" || prefix > len(raw) {
		return rest
	}
	return raw[prefix:]
}

// requestCopy holds a shallow request copy and its URL in one allocation.
type requestCopy struct {
	r http.Request
	u url.URL
}

// withPath returns a copy of r whose path is path (the API path below the
// base), with the escaped path cut the same way: prefix bytes off the front,
// trailing slashes off the end.
func withPath(r *http.Request, path string, prefix int) *http.Request {
	c := &requestCopy{r: *r, u: *r.URL}
	c.u.Path = path
	if raw := strings.TrimRight(c.u.RawPath, "/"); raw != "" && prefix <= len(raw) {
		c.u.RawPath = raw[prefix:]
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
