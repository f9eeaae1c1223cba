package httpd

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// profiles serves net/http/pprof's handlers under /debug/pprof/ (the
// route's access is the admin's): the named profiles, CPU profile and
// execution trace, without registering them on http.DefaultServeMux.
func profiles(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	default:
		pprof.Index(w, r)
	}
}
