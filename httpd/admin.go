package httpd

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/core/snapshot"
	"github.com/eurekad/eurekad/httpd/dashboard"
)

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func whoami(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"admin": true})
}

func dashboardPage(w http.ResponseWriter, r *http.Request) { dashboard.Page(w, r) }

func dashboardAssets() http.HandlerFunc { return dashboard.Handler("/dashboard/").ServeHTTP }

// readyz reports readiness: 200 once the registry is restored and open
// for traffic (cmd/eurekad calls OpenForTraffic after the restore), and
// while the store answers, or fails under the "serve" policy (status
// "degraded"); 503 before start-up ends, or while a failing store makes
// writes be refused (policy "reject"). The store fails when its last write
// failed or when the probe (a read) does not answer.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	opened := s.reg.OpenedAt()
	body := map[string]any{
		"status": "ready",
		"registry": map[string]any{
			"restored":  !opened.IsZero(),
			"instances": s.reg.Size(),
		},
	}
	code := http.StatusOK
	if opened.IsZero() {
		body["status"] = "starting"
		code = http.StatusServiceUnavailable
	}
	if s.store != nil {
		st := s.store.Status()
		body["storage"] = st
		failing := st.Degraded
		if s.opts.StoreProbe != nil {
			if err := s.probeStore(r.Context()); err != nil {
				failing = true
				body["storageReachable"] = false
				body["storageError"] = err.Error()
			} else {
				body["storageReachable"] = true
			}
		}
		if failing {
			body["status"] = "degraded"
			if st.OnFailure == persist.FailureReject {
				code = http.StatusServiceUnavailable
			}
		}
	}
	writeJSON(w, code, body)
}

// probeResult is one store probe's outcome.
type probeResult struct {
	at  time.Time
	err error
}

// probeTimeout bounds one store probe; probeEvery is how long a result is
// reused, so frequent readiness checks do not load the store.
const (
	probeTimeout = 2 * time.Second
	probeEvery   = time.Second
)

// probeStore runs StoreProbe, or returns the result of one run less than
// probeEvery ago. Concurrent callers share one probe.
func (s *Server) probeStore(ctx context.Context) error {
	if p := s.probe.Load(); p != nil && time.Since(p.at) < probeEvery {
		return p.err
	}
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	if p := s.probe.Load(); p != nil && time.Since(p.at) < probeEvery {
		return p.err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := s.opts.StoreProbe(ctx)
	s.probe.Store(&probeResult{at: time.Now(), err: err})
	return err
}

// storageStatus is GET admin/storage.
func (s *Server) storageStatus(w http.ResponseWriter, _ *http.Request) {
	if s.store == nil {
		writeJSON(w, http.StatusOK, map[string]any{"kind": "memory", "persistent": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": s.opts.StoreKind, "persistent": true, "status": s.store.Status()})
}

// snapshot is GET admin/snapshot: a consistent copy of the registry in the
// snapshot format, taken from memory, which holds every acknowledged change.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	recs, namespaces, ok := s.snapshotRecords(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="eurekad.snapshot"`)
	if err := snapshot.WriteNamespaces(w, time.Now(), namespaces, recs); err != nil {
		s.log.Error("snapshot failed", "err", err, principalAttr(r))
	}
}

// localAdmin is the admin rule without an authenticator: the bearer
// token when one is configured, otherwise loopback clients only. It writes
// the refusal and reports false.
func (s *Server) localAdmin(w http.ResponseWriter, r *http.Request) bool {
	if tok := s.opts.AdminToken; tok != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="eurekad admin"`)
			textError(w, http.StatusUnauthorized, "admin token required")
			return false
		}
		return true
	}
	if !isLoopback(r.RemoteAddr) {
		textError(w, http.StatusForbidden, "admin endpoints answer loopback clients unless http.admin_token is set")
		return false
	}
	return true
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
