package httpd

import (
	"net/http"
	"strconv"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/regions"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// regionsOf returns the configured remote regions a request's regions
// parameter names (normalised: lower case, sorted, unknown names
// dropped), nil when it names none. Requests without a query, or on a
// server without remote regions, pay one comparison.
func (s *Server) regionsOf(r *http.Request) []string {
	if s.opts.Regions == nil || r.URL.RawQuery == "" {
		return nil
	}
	return s.opts.Regions.Normalize(queryParam(r.URL.RawQuery, "regions"))
}

// serveRegions answers GET apps or apps/delta with remote regions merged
// in (docs/protocol.md §2.7, §2.8): 403 while the start-up gate is closed
// or until every remote region finished its first fetch, as in Eureka;
// then the payload as serveCached writes its own, long-polled alike.
func (s *Server) serveRegions(w http.ResponseWriter, r *http.Request, e regions.Entity, names []string) {
	if !s.gate(w) {
		return
	}
	if !s.opts.Regions.Ready() {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	f := cache.XML
	if wantsJSONCached(r) {
		f = cache.JSON
	}
	p := s.opts.Regions.Get(e, f, names)
	if ctx, cancel := s.longPoll(r); ctx != nil {
		p, _ = s.opts.Regions.Wait(ctx, e, f, names, r.Header.Get("If-None-Match"))
		cancel()
	}
	writePayload(w, r, f, p, true)
}

// remoteApp answers GET apps/{app} from a remote region when the
// application has no local instance (Eureka's transparent fallback,
// §9.1): serveCached calls it in place of a 404, so a found application
// pays nothing. It reports whether it answered.
func (s *Server) remoteApp(w http.ResponseWriter, k cache.Key) bool {
	app := s.opts.Regions.Application(k.Name)
	if app == nil {
		return false
	}
	var b []byte
	if k.Format == cache.JSON {
		w.Header()["Content-Type"] = jsonHeader
		b = eureka.AppendApplicationJSON(nil, app)
	} else {
		w.Header()["Content-Type"] = xmlHeader
		b = eureka.AppendApplicationXML(nil, app)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	return true
}
