package httpd

import (
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/core/snapshot"
	"github.com/eurekad/eurekad/sdk/hook"
)

// site serves what is not the Eureka API: health, readiness and the admin
// endpoints.
func (s *Server) site() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	m.HandleFunc("GET /readyz", s.readyz)
	m.HandleFunc("GET /admin/storage", s.admin(s.storageStatus))
	m.HandleFunc("GET /admin/snapshot", s.admin(s.snapshot))
	m.HandleFunc("/", notFound)
	return m
}

// readyz is ready once the server listens (it restores before), unless the
// store is failing and writes are being refused.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	body := map[string]any{"status": "ready"}
	code := http.StatusOK
	if s.opts.Store != nil {
		st := s.opts.Store.Status()
		body["storage"] = st
		if st.Degraded {
			body["status"] = "degraded"
			if st.OnFailure == persist.FailureReject {
				code = http.StatusServiceUnavailable
			}
		}
	}
	writeJSON(w, code, body)
}

// storageStatus is GET admin/storage.
func (s *Server) storageStatus(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Store == nil {
		writeJSON(w, http.StatusOK, map[string]any{"kind": "memory", "persistent": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": s.opts.StoreKind, "persistent": true, "status": s.opts.Store.Status()})
}

// snapshot is GET admin/snapshot: a consistent copy of the registry in the
// snapshot format, taken from memory, which holds every acknowledged change.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	recs := s.reg.Records()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="eurekad.snapshot"`)
	if err := snapshot.Write(w, time.Now(), recs); err != nil {
		s.log.Error("snapshot failed", "err", err, principalAttr(r))
	}
}

// admin guards an admin endpoint: with Options.Auth, the authenticator
// must allow hook.OpAdmin; without it, the bearer token when one is
// configured, otherwise loopback clients only.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Auth != nil {
			p, ok := s.authorize(w, r, hook.OpAdmin, "", "")
			if !ok {
				return
			}
			r = withPrincipal(r, p)
		} else if tok := s.opts.AdminToken; tok != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="eurekad admin"`)
				textError(w, http.StatusUnauthorized, "admin token required")
				return
			}
		} else if !isLoopback(r.RemoteAddr) {
			textError(w, http.StatusForbidden, "admin endpoints answer loopback clients unless http.admin_token is set")
			return
		}
		h(w, r)
	}
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
