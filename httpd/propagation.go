package httpd

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/readers"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Propagation: every full, delta or application fetch tells the server
// which registry version its reader now holds (core/readers). From that
// eurekad times how long changes take to reach readers, lists who is
// behind, and confirms a drain once every active reader has fetched it.

// clientHeader names a reader beyond its address and User-Agent; the Go
// SDK sends it, so that several clients behind one address are told apart.
const clientHeader = "X-Eurekad-Client"

// Drain defaults: how long a drain waits when the request does not say.
const defaultDrainTimeout = 30 * time.Second

// propagationBuckets (seconds) reach from a long-poller (milliseconds) to
// a stock client behind Eureka's read-only cache (a minute or more).
var propagationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300}

// startPropagation makes the reader tracker, registers its metrics and
// starts noting commit times; the goroutine ends when Shutdown starts.
func (s *Server) startPropagation() {
	var o readers.Options
	if s.metrics != nil {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "eurekad_propagation_seconds",
			Help:    "Time from a change becoming visible to each active reader of the whole registry fetching a version that holds it.",
			Buckets: propagationBuckets,
		})
		o.Observe = func(d time.Duration) { h.Observe(d.Seconds()) }
		s.metrics.reg.MustRegister(h,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "eurekad_readers_tracked", Help: "Registry readers tracked (fetched within a few of their intervals)."},
				func() float64 { return float64(s.readers.Stats().Tracked) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "eurekad_readers_dropped_total", Help: "Fetches by new readers not tracked because the reader cap was reached."},
				func() float64 { return float64(s.readers.Stats().Dropped) }))
	}
	s.readers = readers.New(s.reg, o)
	go s.noteCommits()
}

// noteCommits records when each registry version became visible, and
// forgets idle readers now and then.
func (s *Server) noteCommits() {
	sweep := time.NewTicker(5 * time.Second)
	defer sweep.Stop()
	var noted uint64
	for {
		// The channel before the version (registry.Changes): a change
		// between the two is noted now, one after them wakes the loop.
		ch := s.reg.Changes()
		if v := s.reg.Version(); v != noted {
			s.readers.Committed(v, time.Now())
			noted = v
		}
		select {
		case <-ch:
		case <-sweep.C:
			s.readers.Sweep()
		case <-s.closing:
			return
		}
	}
}

// seen records a cached read of the registry (full, delta or one
// application) answered with p.
func (s *Server) seen(r *http.Request, k cache.Key, p *cache.Payload) {
	if k.Entity > cache.EntityApp {
		return // VIP reads hold a slice of the registry, not a version of it
	}
	f := readers.Fetch{RemoteAddr: r.RemoteAddr, App: k.Name, Version: p.Version()}
	if v := r.Header[clientHeader]; len(v) > 0 {
		f.Client = v[0]
	}
	if v := r.Header["User-Agent"]; len(v) > 0 {
		f.UserAgent = v[0]
	}
	s.readers.Seen(f)
}

// propagationView is GET admin/api/propagation.
type propagationView struct {
	Version uint64         `json:"version"`
	Readers []readers.View `json:"readers"`
	// Behind names the readers holding a version older than the
	// registry's (or their application's).
	Behind []string `json:"behind"`
	readers.Stats
}

// apiPropagation is GET admin/api/propagation.
func (s *Server) apiPropagation(w http.ResponseWriter, _ *http.Request) {
	v := propagationView{Version: s.reg.Version(), Readers: s.readers.Readers(), Behind: []string{}, Stats: s.readers.Stats()}
	if v.Readers == nil {
		v.Readers = []readers.View{}
	}
	for _, rd := range v.Readers {
		if rd.Behind {
			v.Behind = append(v.Behind, rd.Name)
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// drainView is the answer to a drain: what was changed, and which readers
// confirmed it. Status 200 when every reader active at the change fetched
// it; 202 when the timeout came first (the change is made; Pending lists
// the readers that had not fetched it).
type drainView struct {
	App  string   `json:"app"`
	IDs  []string `json:"ids"`
	Mode string   `json:"mode"`
	readers.Confirmation
	TimeoutSeconds float64 `json:"timeoutSeconds"`
	TimedOut       bool    `json:"timedOut"`
	// Untracked counts readers never tracked (the reader cap): a drain
	// cannot wait for them.
	Untracked uint64 `json:"untracked"`
}

// Drain modes: take out of service (the default) or cancel the lease.
const (
	drainOutOfService = "out-of-service"
	drainCancel       = "cancel"
)

// drainParams reads ?timeout= (a Go duration or seconds; capped below the
// server's write timeout so the answer can still be written) and ?mode=.
func (s *Server) drainParams(w http.ResponseWriter, r *http.Request) (timeout time.Duration, mode string, ok bool) {
	timeout = defaultDrainTimeout
	if v := queryParam(r.URL.RawQuery, "timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			n, nerr := strconv.ParseFloat(v, 64)
			d, err = time.Duration(n*float64(time.Second)), nerr
		}
		if err != nil || d < 0 {
			errorAnswer(w, r, http.StatusBadRequest, "invalid timeout: "+strconv.Quote(v), "timeout")
			return 0, "", false
		}
		timeout = d
	}
	if wt := s.opts.WriteTimeout; wt > 0 {
		timeout = min(timeout, max(wt-time.Second, wt/2))
	}
	switch mode = queryParam(r.URL.RawQuery, "mode"); mode {
	case "":
		mode = drainOutOfService
	case drainOutOfService, drainCancel:
	default:
		errorAnswer(w, r, http.StatusBadRequest, `mode must be "out-of-service" or "cancel"`, "mode")
		return 0, "", false
	}
	return timeout, mode, true
}

// apiDrainInstance is POST admin/api/instances/{app}/{id}/drain.
func (s *Server) apiDrainInstance(w http.ResponseWriter, r *http.Request) {
	timeout, mode, ok := s.drainParams(w, r)
	if !ok {
		return
	}
	app, id := strings.ToUpper(pathVar(r, "app")), pathVar(r, "id")
	if err := s.drainOne(r, mode, app, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.awaitDrain(w, r, app, []string{id}, mode, timeout)
}

// apiDrainApp is POST admin/api/apps/{app}/drain: every instance of the
// application at once.
func (s *Server) apiDrainApp(w http.ResponseWriter, r *http.Request) {
	timeout, mode, ok := s.drainParams(w, r)
	if !ok {
		return
	}
	app := strings.ToUpper(pathVar(r, "app"))
	a := s.reg.Application(app)
	if a == nil || len(a.Instances) == 0 {
		textError(w, http.StatusNotFound, "no such application")
		return
	}
	ids := make([]string, 0, len(a.Instances))
	for _, in := range a.Instances {
		if err := s.drainOne(r, mode, app, in.InstanceID); err != nil {
			// The instances before this one are drained; say which.
			s.log.Warn("application drain stopped", "app", app, "drained", ids, "err", err)
			s.writeError(w, r, err)
			return
		}
		ids = append(ids, in.InstanceID)
	}
	s.awaitDrain(w, r, app, ids, mode, timeout)
}

// drainOne makes one instance's change through the write path.
func (s *Server) drainOne(r *http.Request, mode, app, id string) error {
	if mode == drainCancel {
		return s.node.Cancel(r.Context(), caller(r), app, id)
	}
	return s.node.SetStatus(r.Context(), caller(r), app, id, string(eureka.StatusOutOfService), 0)
}

// awaitDrain waits for the readers of app to fetch the change just made and
// answers.
func (s *Server) awaitDrain(w http.ResponseWriter, r *http.Request, app string, ids []string, mode string, timeout time.Duration) {
	// The application's version is the change's (or a later change's):
	// applications are never removed from the registry, so this holds for a
	// cancel too. A reader of only this application never gets a payload
	// versioned by other applications' later changes, so the global
	// version would not do.
	since := time.Now()
	target := s.reg.AppVersion(app)
	s.log.Info("drain", "app", app, "ids", ids, "mode", mode, "version", target, "timeout", timeout, "remote", r.RemoteAddr, principalAttr(r))
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	c := s.readers.Await(ctx, app, target, since)
	if r.Context().Err() != nil {
		return // the caller left; the change stands
	}
	v := drainView{App: app, IDs: ids, Mode: mode, Confirmation: c, TimeoutSeconds: timeout.Seconds(),
		TimedOut: len(c.Pending) > 0, Untracked: s.readers.Stats().Dropped}
	code := http.StatusOK
	if v.TimedOut {
		code = http.StatusAccepted
		s.log.Warn("drain not confirmed by every reader", "app", app, "ids", ids, "pending", len(c.Pending))
	}
	writeJSON(w, code, v)
}
