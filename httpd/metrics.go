package httpd

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// metrics owns the server's Prometheus registry: request duration
// histograms, observed by instrument, and a collector that reads them, the
// registry, cache, store and the optional sources at scrape time.
type metrics struct {
	reg *prometheus.Registry
	// routes maps a route label to its observers; it is copied on write
	// (a new route is seen a few dozen times in a process's life) so that
	// a request's lookup takes no lock and allocates nothing.
	routes atomic.Pointer[map[string]*routeObservers]
	addMu  sync.Mutex
	pool   sync.Pool
}

// routeObservers holds one route's histogram per status code, made on
// first use; code 0 stands for codes outside 100–599.
type routeObservers struct {
	label string
	codes [600]atomic.Pointer[stripedHistogram]
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	routes := map[string]*routeObservers{}
	m.routes.Store(&routes)
	m.pool.New = func() any { return new(recorder) }
	m.reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &collector{s: s})
	m.reg.MustRegister(s.opts.Ops.Collectors...)
	return m
}

// handler serves the registry in the text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// observe records one request; it allocates only the first time a route
// and code pair is seen.
func (m *metrics) observe(route string, code int, d time.Duration) {
	ro := (*m.routes.Load())[route]
	if ro == nil {
		ro = m.addRoute(route)
	}
	if code < 100 || code >= len(ro.codes) {
		code = 0
	}
	h := ro.codes[code].Load()
	if h == nil {
		ro.codes[code].CompareAndSwap(nil, new(stripedHistogram))
		h = ro.codes[code].Load()
	}
	h.observe(d)
}

// collectDurations sends every request duration histogram.
func (m *metrics) collectDurations(ch chan<- prometheus.Metric) {
	for _, ro := range *m.routes.Load() {
		for code := range ro.codes {
			h := ro.codes[code].Load()
			if h == nil {
				continue
			}
			buckets, count, sum := h.snapshot()
			c := strconv.Itoa(code)
			if code == 0 {
				c = "other"
			}
			ch <- prometheus.MustNewConstHistogram(descDuration, count, sum, buckets, ro.label, c)
		}
	}
}

func (m *metrics) addRoute(route string) *routeObservers {
	m.addMu.Lock()
	defer m.addMu.Unlock()
	old := *m.routes.Load()
	if ro := old[route]; ro != nil {
		return ro
	}
	next := make(map[string]*routeObservers, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	ro := &routeObservers{label: route}
	next[route] = ro
	m.routes.Store(&next)
	return ro
}

// recorder notes the status code and the route a request took. Recorders
// are pooled, so instrumenting a request does not allocate.
type recorder struct {
	http.ResponseWriter
	code  int
	route string
}

func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets streaming handlers (the admin event stream) flush through.
func (w *recorder) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Route labels of requests that did not name their own.
const (
	routeRenew     = "PUT /apps/{app}/{id}"
	routeUnmatched = "unmatched"
)

// setRoute names the route of the request w answers; serveRoot calls it
// once the route table has found the route.
func setRoute(w http.ResponseWriter, route string) {
	if rec, ok := w.(*recorder); ok {
		rec.route = route
	}
}

// instrument times every request and counts it by route and status code.
func (s *Server) instrument(next http.Handler) http.Handler {
	m := s.metrics
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := m.pool.Get().(*recorder)
		rec.ResponseWriter, rec.code, rec.route = w, 0, ""
		next.ServeHTTP(rec, r)
		route := rec.route
		if route == "" {
			route = routeUnmatched
		}
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		rec.ResponseWriter = nil
		m.pool.Put(rec)
		m.observe(route, code, time.Since(start))
	})
}

// collector reads the server's state at scrape time.
type collector struct{ s *Server }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// perNamespace maps the series of one namespace's registry, cache, store
// and replication (declared with nsDesc) to their variant with a
// namespace label. With namespaces (Options.Namespaces) each is served
// once per namespace with that label, the default namespace's as
// namespace="default"; without, as before namespaces, with no such label.
var perNamespace = map[*prometheus.Desc]*prometheus.Desc{}

// nsDesc is desc for a series of one namespace: collectNamespace sends
// only these.
func nsDesc(name, help string, labels ...string) *prometheus.Desc {
	d := desc(name, help, labels...)
	perNamespace[d] = prometheus.NewDesc(name, help, append(slices.Clone(labels), "namespace"), nil)
	return d
}

var (
	descInstances         = nsDesc("eurekad_registry_instances", "Registered instances by status (expired leases not yet evicted included).", "status")
	descApplications      = nsDesc("eurekad_registry_applications", "Applications with at least one instance.")
	descExpired           = nsDesc("eurekad_registry_expired_leases", "Leases that expired and were not evicted yet.")
	descRenewsLastMin     = nsDesc("eurekad_registry_renews_last_minute", "Renewals counted in the last complete minute.")
	descRenewThreshold    = nsDesc("eurekad_registry_renews_threshold_per_minute", "Renewals per minute below which self-preservation stops evictions.")
	descExpectedClients   = nsDesc("eurekad_registry_expected_clients", "Number of clients expected to renew (Eureka's expectedNumberOfClientsSendingRenews).")
	descSPEnabled         = nsDesc("eurekad_registry_self_preservation_enabled", "1 when self-preservation is configured on.")
	descSPActive          = nsDesc("eurekad_registry_self_preservation_active", "1 while self-preservation stops expired leases from being evicted.")
	descLeaseExpiration   = nsDesc("eurekad_registry_lease_expiration_enabled", "1 while expired leases are evicted.")
	descRegistrations     = nsDesc("eurekad_registry_registrations_total", "Registrations since start (replicated ones included).")
	descCancels           = nsDesc("eurekad_registry_cancels_total", "Leases removed by a cancel since start.")
	descEvictions         = nsDesc("eurekad_registry_evictions_total", "Leases removed by eviction since start.")
	descRenewals          = nsDesc("eurekad_registry_renewals_total", "Successful renewals since start.")
	descCacheHits         = nsDesc("eurekad_cache_hits_total", "Cached reads answered with a payload already built.")
	descCacheBuilds       = nsDesc("eurekad_cache_builds_total", "Response payloads built (cache rebuilds).")
	descCacheBuildSeconds = nsDesc("eurekad_cache_build_seconds_total", "Wall time spent building response payloads.")
	descCacheBuildCost    = nsDesc("eurekad_cache_build_duration_seconds", "Wall time of one response payload build, by entity (apps, delta, app, vip, svip).", "entity")
	descStoreDegraded     = nsDesc("eurekad_storage_degraded", "1 while the store is failing.")
	descStoreRefused      = nsDesc("eurekad_storage_refused_records", "Records the store refuses (kept in memory only), now.")
	descStoreRefusedTotal = nsDesc("eurekad_storage_refused_total", "Records the store refused since start.")
	descStoreResyncing    = nsDesc("eurekad_storage_resyncing", "1 while the whole registry is being rewritten to a store that lost what it held.")
	descStoreResyncs      = nsDesc("eurekad_storage_resyncs_total", "Rewrites of the whole registry since start, after the store lost what it held.")
	descStorePending      = nsDesc("eurekad_storage_pending_changes", "Changed instances not yet written to the store.")
	descStoreCheckpoint   = nsDesc("eurekad_storage_checkpoint_pending", "Lease checkpoints queued for the store.")
	descStoreCommits      = nsDesc("eurekad_storage_commits_total", "Successful store flushes since start.")
	descStoreFailures     = nsDesc("eurekad_storage_commit_failures_total", "Failed store flushes since start.")
	descStoreWritten      = nsDesc("eurekad_storage_written_records_total", "Records written to the store since start.")
	descStoreLatency      = nsDesc("eurekad_storage_commit_duration_seconds", "Duration of successful store flushes.")
	descPeerUp            = nsDesc("eurekad_replication_peer_up", "1 while the last replication to the peer succeeded.", "peer")
	descPeerQueue         = nsDesc("eurekad_replication_queue_length", "Changes waiting to be replicated to the peer.", "peer")
	descPeerLag           = nsDesc("eurekad_replication_lag_seconds", "Age of the oldest change not yet acknowledged by the peer.", "peer")
	descPeerSent          = nsDesc("eurekad_replication_sent_total", "Changes replicated to the peer since start.", "peer")
	descPeerFailed        = nsDesc("eurekad_replication_failures_total", "Failed requests to the peer (batches and probes, refused connections included) since start.", "peer")
	descPeerDropped       = nsDesc("eurekad_replication_dropped_total", "Changes never sent to the peer: pushed out of a full queue or expired.", "peer")
	descPeerRepaired      = nsDesc("eurekad_replication_repaired_total", "Instances anti-entropy repaired with the peer, by kind: pulled_instance and pulled_cancel here, pushed_instance and pushed_cancel on the peer.", "peer", "kind")
	descPeerRepairReqs    = nsDesc("eurekad_replication_repair_requests_total", "Anti-entropy requests to the peer (digests and exchanges) since start.", "peer")
	descPluginUp          = desc("eurekad_plugin_up", "1 while the plugin runs.", "plugin", "kind")
	descPluginRestarts    = desc("eurekad_plugin_restarts_total", "Plugin restarts after a crash since start.", "plugin", "kind")
	descAuthDecisions     = desc("eurekad_auth_decisions_total", "Authentication decisions by operation and outcome.", "op", "decision")
	descListenerDelivered = desc("eurekad_listener_events_delivered_total", "Events the listener acknowledged since start.", "listener")
	descListenerDropped   = desc("eurekad_listener_events_dropped_total", "Events the listener lost: to a full queue, to a batch whose retries ran out, or to shutdown.", "listener")
	descListenerQueue     = desc("eurekad_listener_queue_length", "Events waiting for the listener.", "listener")
	descDuration          = desc("eurekad_http_request_duration_seconds", "Time to serve HTTP requests, by route (method and path pattern) and status code.", "route", "code")
	descRegionAge         = desc("eurekad_remote_region_age_seconds", "Age of the remote region's copy: time since its last successful fetch.", "region")
	descRegionInstances   = desc("eurekad_remote_region_instances", "Instances in the remote region's copy (after its allow-list).", "region")
	descRegionFailures    = desc("eurekad_remote_region_fetch_failures_total", "Failed fetches of the remote region since start.", "region")
	descRegionPayloads    = desc("eurekad_remote_region_cached_payloads", "Payloads with regions (apps and apps/delta) held by the cache of remote-region answers.")
	descStartTime         = desc("eurekad_start_time_seconds", "Unix time the server started.")
	repairKinds           = []string{"pulled_instance", "pulled_cancel", "pushed_instance", "pushed_cancel"}
	allStatuses           = []eureka.Status{eureka.StatusUp, eureka.StatusDown, eureka.StatusStarting, eureka.StatusOutOfService, eureka.StatusUnknown}
	allDescs              = []*prometheus.Desc{descInstances, descApplications, descExpired, descRenewsLastMin, descRenewThreshold,
		descExpectedClients, descSPEnabled, descSPActive, descLeaseExpiration, descRegistrations, descCancels, descEvictions,
		descRenewals, descCacheHits, descCacheBuilds, descCacheBuildSeconds, descCacheBuildCost, descStoreDegraded, descStoreRefused, descStoreRefusedTotal, descStoreResyncing, descStoreResyncs, descStorePending, descStoreCheckpoint, descStoreCommits,
		descStoreFailures, descStoreWritten, descStoreLatency, descPeerUp, descPeerQueue, descPeerLag, descPeerSent, descPeerFailed, descPeerDropped, descPeerRepaired, descPeerRepairReqs,
		descPluginUp, descPluginRestarts, descAuthDecisions, descListenerDelivered, descListenerDropped, descListenerQueue, descStartTime, descDuration,
		descRegionAge, descRegionInstances, descRegionFailures, descRegionPayloads}
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		if nd := perNamespace[d]; nd != nil && c.s.opts.Namespaces != nil {
			d = nd
		}
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	count := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descStartTime, float64(s.started.UnixMilli())/1000)
	s.metrics.collectDurations(ch)

	if s.opts.Namespaces == nil {
		c.collectNamespace(ch, s, "")
	} else {
		c.collectNamespace(ch, s, s.namespace)
		for _, ns := range s.opts.Namespaces.List() {
			c.collectNamespace(ch, ns, ns.namespace)
		}
	}
	if rs := s.opts.Regions; rs.Configured() {
		for _, r := range rs.Status() {
			gauge(descRegionAge, r.Age, r.Name)
			gauge(descRegionInstances, float64(r.Instances), r.Name)
			count(descRegionFailures, r.Failures, r.Name)
		}
		gauge(descRegionPayloads, float64(rs.CachedPayloads()))
	}
	o := s.opts.Ops
	if o.Plugins != nil {
		for _, p := range o.Plugins() {
			gauge(descPluginUp, b2f(p.Running), p.Name, p.Kind)
			count(descPluginRestarts, p.Restarts, p.Name, p.Kind)
		}
	}
	if o.Auth != nil {
		for _, a := range o.Auth() {
			count(descAuthDecisions, a.Allowed, a.Op, "allow")
			count(descAuthDecisions, a.Denied, a.Op, "deny")
			count(descAuthDecisions, a.Throttled, a.Op, "throttle")
		}
	}
	if o.Listeners != nil {
		for _, l := range o.Listeners() {
			count(descListenerDelivered, l.Delivered, l.Name)
			count(descListenerDropped, l.Dropped, l.Name)
			gauge(descListenerQueue, float64(l.QueueLength), l.Name)
		}
	}
}

// collectNamespace sends the series of one namespace's server s, labelled
// with ns unless ns is "" (a server without namespaces).
func (c *collector) collectNamespace(ch chan<- prometheus.Metric, s *Server, ns string) {
	at := func(d *prometheus.Desc, labels []string) (*prometheus.Desc, []string) {
		if ns == "" {
			return d, labels
		}
		return perNamespace[d], append(labels, ns)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		d, labels = at(d, labels)
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	count := func(d *prometheus.Desc, v uint64, labels ...string) {
		d, labels = at(d, labels)
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	seconds := func(d *prometheus.Desc, v float64) {
		d, labels := at(d, nil)
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	histogram := func(d *prometheus.Desc, n uint64, sum float64, buckets map[float64]uint64, labels ...string) {
		d, labels = at(d, labels)
		ch <- prometheus.MustNewConstHistogram(d, n, sum, buckets, labels...)
	}
	counts := s.reg.Counts()
	for _, st := range allStatuses {
		gauge(descInstances, float64(counts.ByStatus[st]), string(st))
	}
	gauge(descApplications, float64(counts.Applications))
	gauge(descExpired, float64(counts.Expired))
	sp := s.reg.SelfPreservationState()
	gauge(descRenewsLastMin, float64(sp.RenewsLastMinute))
	gauge(descRenewThreshold, float64(sp.Threshold))
	gauge(descExpectedClients, float64(sp.ExpectedClients))
	gauge(descSPEnabled, b2f(sp.Enabled))
	gauge(descSPActive, b2f(sp.Enabled && !sp.LeaseExpirationEnabled))
	gauge(descLeaseExpiration, b2f(sp.LeaseExpirationEnabled))
	st := s.reg.Stats()
	count(descRegistrations, st.Registrations)
	count(descCancels, st.Cancels)
	count(descEvictions, st.Evictions)
	count(descRenewals, st.Renewals)
	count(descCacheHits, s.cache.Hits())
	count(descCacheBuilds, s.cache.Builds())
	seconds(descCacheBuildSeconds, s.cache.BuildTime().Seconds())
	for _, e := range cache.Entities {
		h := s.cache.BuildCost(e)
		histogram(descCacheBuildCost, h.Count, h.Sum.Seconds(), h.Buckets, e.String())
	}

	if p := s.store; p != nil {
		ps := p.Status()
		gauge(descStoreDegraded, b2f(ps.Degraded))
		gauge(descStoreRefused, float64(ps.Refused))
		count(descStoreRefusedTotal, ps.RefusedTotal)
		gauge(descStoreResyncing, b2f(ps.Resyncing))
		count(descStoreResyncs, ps.Resyncs)
		gauge(descStorePending, float64(ps.Pending))
		gauge(descStoreCheckpoint, float64(ps.Checkpoint))
		count(descStoreCommits, ps.Commits)
		count(descStoreFailures, ps.Failures)
		count(descStoreWritten, ps.Written)
		if l, ok := p.(interface{ CommitLatency() persist.CommitLatency }); ok {
			h := l.CommitLatency()
			histogram(descStoreLatency, h.Count, h.Sum.Seconds(), h.Buckets)
		}
	}
	o := s.opts.Ops
	if o.Peers != nil {
		for _, p := range o.Peers() {
			gauge(descPeerUp, b2f(p.Up), p.Name)
			gauge(descPeerQueue, float64(p.QueueLength), p.Name)
			gauge(descPeerLag, p.Lag.Seconds(), p.Name)
			count(descPeerSent, p.Sent, p.Name)
			count(descPeerFailed, p.Failed, p.Name)
			count(descPeerDropped, p.Dropped, p.Name)
			count(descPeerRepairReqs, p.RepairRequests, p.Name)
			for _, kind := range repairKinds {
				count(descPeerRepaired, p.Repaired[kind], p.Name, kind)
			}
		}
	}
}
