package httpd

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/eurekad/eurekad/core/namespace"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Namespaces: each namespace other than the default one has a Server of
// its own (its registry, cache and write path), built like the default
// one's; the default namespace's server is the only one that listens, and
// hands a request to another namespace's server at one place, the top of
// serveRoot: a path below /ns/{namespace}/ (the Eureka API under each base
// path, and the site routes), or an admin path with ?namespace=. The
// default namespace's requests pay one prefix test.

// Namespaces are the namespaces besides the default one, as the default
// namespace's server sees them.
type Namespaces interface {
	// Lookup returns the server of namespace name (a valid name, never
	// the default one), or nil when it does not exist and may not be
	// created.
	Lookup(name string) *Server
	// List returns the running namespaces' servers, the default one
	// excepted, in name order.
	List() []*Server
}

// nsPrefix starts the paths of a namespace.
const nsPrefix = "/ns/"

// Namespace returns the name of the namespace the server serves.
func (s *Server) Namespace() string { return s.namespace }

// serveNamespace hands r to the server of the namespace it names, if it
// names one, and reports whether it did (or answered 404 for a namespace
// that does not exist).
func (s *Server) serveNamespace(w http.ResponseWriter, r *http.Request) bool {
	esc := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(esc, nsPrefix); ok {
		name, below, _ := strings.Cut(rest, "/")
		// A valid name needs no escaping, so the decoded path starts with
		// the same bytes; anything else (upper case, "..", %2F, unicode,
		// too long) names no namespace.
		ns := s.namespaceServer(name)
		if ns == nil {
			notFound(w, r)
			return true
		}
		cut := len(nsPrefix) + len(name)
		if !strings.HasPrefix(r.URL.Path, esc[:cut]) {
			notFound(w, r)
			return true
		}
		path := r.URL.Path[cut:]
		if path == "" {
			path = "/"
		}
		ns.serveRoot(w, withPath(r, path, "/"+below))
		return true
	}
	if strings.HasPrefix(esc, "/admin/") {
		name := queryParam(r.URL.RawQuery, "namespace")
		if name == "" || name == namespace.Default {
			return false
		}
		ns := s.namespaceServer(name)
		if ns == nil {
			notFound(w, r)
			return true
		}
		ns.serveRoot(w, r)
		return true
	}
	return false
}

// namespaceServer returns the server of namespace name; the default
// namespace's is s itself.
func (s *Server) namespaceServer(name string) *Server {
	if name == namespace.Default {
		return s
	}
	if !namespace.ValidName(name) {
		return nil
	}
	return s.opts.Namespaces.Lookup(name)
}

// namespaceView is one namespace in GET /admin/api/namespaces.
type namespaceView struct {
	Name      string `json:"name"`
	Instances int    `json:"instances"`
	// Limit is the most instances the namespace may hold, 0 for no limit.
	Limit int `json:"limit"`
}

// apiNamespaces lists the namespaces the caller may read: under an
// authenticator, a namespace is listed only when the caller could read it,
// so neither its name nor its size leaks to a team confined elsewhere, and
// a team confined to its namespace finds it (the route is allowed to a
// caller who may read any namespace: anyNamespace).
func (s *Server) apiNamespaces(w http.ResponseWriter, r *http.Request) {
	all := []*Server{s}
	if s.opts.Namespaces != nil {
		all = append(all, s.opts.Namespaces.List()...)
	}
	out := make([]namespaceView, 0, len(all))
	for _, ns := range all {
		if !ns.may(r, hook.OpRead) {
			continue
		}
		out = append(out, namespaceView{Name: ns.namespace, Instances: ns.reg.Size(), Limit: ns.node.MaxInstances()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespaces": out})
}

// mayReadAnother reports whether the caller of r may read a namespace
// other than the default one.
func (s *Server) mayReadAnother(r *http.Request) bool {
	for _, ns := range s.opts.Namespaces.List() {
		if ns.may(r, hook.OpRead) {
			return true
		}
	}
	return false
}

// may reports whether the caller of r may do op in this server's
// namespace; true without an authenticator.
func (s *Server) may(r *http.Request, op hook.Operation) bool {
	if s.opts.Auth == nil {
		return true
	}
	_, err := s.authenticate(r, op, "", "")
	return err == nil
}

// deniedIn returns the first of the namespaces' servers in which the
// caller of r may not do op, "" when it may in all: an answer that covers
// every namespace (a whole snapshot, the metrics) needs the permission in
// each.
func deniedIn(servers []*Server, r *http.Request, op hook.Operation) string {
	for _, ns := range servers {
		if !ns.may(r, op) {
			return ns.namespace
		}
	}
	return ""
}

// snapshotRecords returns what GET /admin/snapshot saves: without
// namespaces, the registry's records, as before namespaces; with them,
// every namespace's records under their store keys (the whole store), or
// one namespace's (?namespace=, which routed the request to its server),
// and the namespaces saved. A whole snapshot needs the admin permission in
// every namespace: it writes 403 and reports false otherwise.
func (s *Server) snapshotRecords(w http.ResponseWriter, r *http.Request) ([]storage.Record, []string, bool) {
	recs := s.reg.Records()
	switch {
	case s.namespace != namespace.Default:
		prefix(recs, s.namespace)
		return recs, []string{s.namespace}, true
	case s.opts.Namespaces == nil:
		return recs, nil, true
	case queryParam(r.URL.RawQuery, "namespace") == namespace.Default:
		return recs, []string{namespace.Default}, true
	}
	// One list for the decision and the records: a namespace created
	// meanwhile is in neither.
	others := s.opts.Namespaces.List()
	if denied := deniedIn(others, r, hook.OpAdmin); denied != "" {
		textError(w, http.StatusForbidden, "forbidden: a whole snapshot needs admin in every namespace (namespace "+denied+")")
		return nil, nil, false
	}
	names := []string{namespace.Default}
	for _, ns := range others {
		more := ns.reg.Records()
		prefix(more, ns.namespace)
		recs = append(recs, more...)
		names = append(names, ns.namespace)
	}
	return recs, names, true
}

// prefix gives records of namespace name their store keys.
func prefix(recs []storage.Record, name string) {
	p := namespace.KeyPrefix(name)
	for i := range recs {
		recs[i].Key.App = p + recs[i].Key.App
	}
}

// allNamespaces guards a route whose answer covers every namespace (the
// metrics, with each namespace's instance counts): under an authenticator
// the caller must be allowed to read every namespace, not only the
// default one the route is decided in.
func (s *Server) allNamespaces(a access, next http.Handler) http.Handler {
	if s.opts.Namespaces == nil || s.opts.Auth == nil || a == accessPublic {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if denied := deniedIn(s.opts.Namespaces.List(), r, hook.OpRead); denied != "" {
			textError(w, http.StatusForbidden, "forbidden: the metrics cover every namespace (namespace "+denied+")")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// receivedPath is the path of r as the client sent it (decoded): a
// namespace's server sees the path below /ns/{namespace}, so it reads the
// request line's.
func (s *Server) receivedPath(r *http.Request) string {
	if s.namespace == namespace.Default {
		return r.URL.Path
	}
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.Path
	}
	return r.URL.Path
}
