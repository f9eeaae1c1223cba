package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/core/health"
	"github.com/eurekad/eurekad/core/namespace"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/httpd"
	"github.com/eurekad/eurekad/httpd/history"
	"github.com/eurekad/eurekad/internal/memtrim"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// A namespace is a whole stack: registry, persister, response cache, write
// path, replication cluster, health checks and HTTP server. buildStack
// wires one, the default namespace's as every other's, so every rule of
// the write path and every part of a registry hold in every namespace.

// shared are the parts all namespaces use: one event bus, one store (each
// namespace sees its own keys through namespace.Store), one authenticator,
// one admission hook, one health checker.
type shared struct {
	cfg     config.Config
	log     *slog.Logger
	bus     *events.Bus
	store   storage.Store // nil: memory only
	admit   hook.Admitter
	checker hook.Checker
	// ho are the HTTP options every namespace's server starts from.
	ho httpd.Options
	// histories are the admin API's per-instance histories.
	histories *histories
}

// stack is one namespace's parts.
type stack struct {
	name    string
	reg     *registry.Registry
	p       *persist.Persister // nil without a store
	cache   *cache.Cache
	cl      *replication.Cluster
	node    *node.Node
	checks  *health.Scheduler
	changes *history.Recorder
	srv     *httpd.Server
}

// histories is the admin API's per-instance history of every namespace:
// one subscriber on the bus (subscriptions close when the bus runs, and
// namespaces may be created later) that hands each event to its
// namespace's recorder.
type histories struct {
	m  atomic.Pointer[map[string]*history.Recorder]
	mu sync.Mutex
}

func newHistories() *histories {
	h := &histories{}
	h.m.Store(&map[string]*history.Recorder{})
	return h
}

// add returns namespace name's recorder, made on first use.
func (h *histories) add(name string) *history.Recorder {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := *h.m.Load()
	if r := cur[name]; r != nil {
		return r
	}
	next := maps.Clone(cur)
	next[name] = history.New(0, 0)
	h.m.Store(&next)
	return next[name]
}

// Handle implements hook.Listener. Events without an application (a gap,
// the server's start) concern every namespace.
func (h *histories) Handle(ctx context.Context, events []hook.Event) error {
	m := *h.m.Load()
	if len(m) == 1 {
		// The default namespace alone: the batch as it is.
		for _, r := range m {
			return r.Handle(ctx, events)
		}
	}
	for i := range events {
		e := events[i : i+1]
		if events[i].App == "" {
			for _, r := range m {
				_ = r.Handle(ctx, e)
			}
			continue
		}
		if r := m[namespace.EventNamespace(&events[i])]; r != nil {
			_ = r.Handle(ctx, e)
		}
	}
	return nil
}

// buildStack builds namespace name's stack and restores its registry
// from the store. The default namespace's server is built by the caller
// (it also serves the site: metrics, dashboard, regions).
func buildStack(ctx context.Context, sh *shared, name string) (*stack, error) {
	cfg, log := sh.cfg, sh.log
	if name != namespace.Default {
		log = log.With("namespace", name)
	}
	st := &stack{name: name}
	st.changes = sh.histories.add(name)

	ro := cfg.Registry
	ro.Logger = log.With("component", "registry")
	ro.Limits = cfg.Limits // a store's records pass the rules every write passes
	ro.Events = namespace.Sink(sh.bus, name)
	st.reg = registry.New(&ro)

	var view storage.Store
	if sh.store != nil {
		// The default namespace's keys are unprefixed, as without
		// namespaces; its view only leaves the other namespaces' records
		// out of scans (a resync would delete them otherwise).
		view = namespace.Store(sh.store, name)
		start := time.Now()
		// The persister's own marker records are not instances.
		endGrowing := memtrim.Growing()
		restored, skipped, err := st.reg.Restore(ctx, persist.HideMarkers(view))
		endGrowing()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("restore from %s store: %w", storeName(cfg), err)
		}
		log.Info("registry restored", "store", storeName(cfg), "instances", restored,
			"skipped", skipped, "took", time.Since(start).Round(time.Millisecond))
		// Self-preservation starts from what was restored, as Eureka starts
		// from what it synced from peers.
		st.reg.OpenForTraffic(restored)
		po := cfg.Storage.Persist
		po.Logger = log.With("component", "persist")
		if st.p, err = persist.New(view, st.reg, &po); err != nil {
			return nil, err
		}
		st.reg.SetChangeFunc(st.p.Changed)
	} else {
		st.reg.OpenForTraffic(0)
	}

	co := cfg.Cache
	co.Logger = log.With("component", "cache")
	c, err := cache.New(st.reg, &co)
	if err != nil {
		return nil, err
	}
	st.cache = c
	if st.reg.Size() > 0 {
		// Build what Java clients fetch first (gzip JSON apps) while the
		// listener comes up, so the first full fetch after a restart of a
		// large registry does not wait for it.
		// (In a closure: "go c.Get(k).Gzip()" would build in this goroutine.)
		go func() { c.Get(cache.Key{Entity: cache.EntityApps, Format: cache.JSON}).Gzip() }()
	}

	no := node.Options{Limits: cfg.Limits, Logger: log.With("component", "node"),
		MaxInstances: cfg.Namespaces.MaxInstancesOf(name)}
	if st.p != nil {
		no.Store = st.p
	}
	// Cluster: peer replication (cluster.go), to the same peers' same
	// namespace.
	if st.cl, err = startCluster(namespaceCluster(cfg, name), st.reg, log); err != nil {
		return nil, err
	}
	no.Replicator = st.cl
	// The admission hook, nil without one, asked by the write path.
	no.Admit = admitFunc(sh.admit, name)
	st.node = node.New(st.reg, no)
	// Anti-entropy repairs go through the write path, so they are stored.
	st.cl.SetMerger(st.node)
	// Server-side health checks write their verdicts through it too.
	hc := cfg.Health
	hc.Logger = log.With("component", "health")
	st.checks = health.New(st.reg, st.node, sh.checker, healthMembers(st.cl, log), &hc)

	if name != namespace.Default {
		ho := sh.ho
		ho.Namespace = name
		ho.Logger = log.With("component", "http")
		// The site (metrics, dashboard, profiles, remote regions) is the
		// default namespace's server's; a namespace serves its API and
		// admin API.
		ho.Metrics, ho.Dashboard, ho.Profiling, ho.Regions = false, false, false, nil
		ho.Ops.Peers = peerStatuses(st.cl)
		ho.Ops.Syncing = st.cl.Syncing
		ho.Ops.History = st.changes.Get
		ho.Ops.Collectors = nil
		st.srv = httpd.New(st.node, st.cache, &ho)
	}
	return st, nil
}

// namespaceCluster returns the cluster settings of namespace name: the
// same peers, at their /ns/{name}/ paths. Java peers know no namespaces:
// they replicate the default namespace only.
func namespaceCluster(cfg config.Config, name string) config.Config {
	if name == namespace.Default {
		return cfg
	}
	cl := cfg.Cluster
	cl.Peers = make([]string, len(cfg.Cluster.Peers))
	for i, p := range cfg.Cluster.Peers {
		cl.Peers[i] = namespaceURL(p, name)
	}
	if cl.SelfURL != "" {
		cl.SelfURL = namespaceURL(cl.SelfURL, name)
	}
	cfg.Cluster = cl
	return cfg
}

// namespaceURL puts /ns/{name} in front of a server URL's path:
// http://h:8761/eureka/ becomes http://h:8761/ns/{name}/eureka/.
func namespaceURL(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw // the cluster refuses it with its own message
	}
	ns := "/ns/" + name + "/"
	u.Path = ns + strings.TrimPrefix(u.Path, "/")
	if u.RawPath != "" {
		// Keep the escaping (%2F stays one segment).
		u.RawPath = ns + strings.TrimPrefix(u.RawPath, "/")
	}
	return u.String()
}

// runStack runs a namespace's background work in g until ctx ends; the
// persister runs until pctx ends (after the HTTP server drained).
func (st *stack) run(ctx, pctx context.Context, gogo func(func() error), log *slog.Logger) {
	if st.p != nil {
		gogo(func() error { return st.p.Run(pctx) })
	}
	gogo(func() error { return st.reg.Run(ctx) })
	gogo(func() error { return st.cache.Run(ctx) })
	if st.checks.Active() {
		gogo(func() error { return st.checks.Run(ctx) })
	}
	gogo(func() error { return runCluster(ctx, st.cl, log) })
}

// namespaceSet is the running namespaces besides the default one; it
// creates undeclared ones on first use when the settings allow.
type namespaceSet struct {
	sh  *shared
	max int
	// create is nil unless namespaces are created on first use; it builds
	// and starts a new namespace.
	create func(name string) (*stack, error)

	// stacks are the namespaces built at start-up; afterwards they are
	// read through running, a copy replaced on each creation, so that a
	// namespace's requests take no lock.
	stacks  map[string]*stack
	running atomic.Pointer[map[string]*stack]

	mu sync.Mutex // serialises creations
	// closed refuses new namespaces once the server stops.
	closed bool
}

// start publishes the namespaces built at start-up.
func (ns *namespaceSet) start() {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	m := maps.Clone(ns.stacks)
	ns.running.Store(&m)
}

// Lookup implements httpd.Namespaces.
func (ns *namespaceSet) Lookup(name string) *httpd.Server {
	if st := (*ns.running.Load())[name]; st != nil {
		return st.srv
	}
	if ns.create == nil {
		return nil
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	cur := *ns.running.Load()
	if st := cur[name]; st != nil {
		return st.srv // created meanwhile
	}
	if ns.closed || ns.full(len(cur)) {
		return nil
	}
	// Built under the lock: creations are rare, and two requests for a
	// new namespace must not build it twice.
	st, err := ns.create(name)
	if err != nil {
		ns.sh.log.Error("namespace not created", "namespace", name, "err", err)
		return nil
	}
	ns.sh.log.Info("namespace created on first use", "namespace", name)
	next := maps.Clone(cur)
	next[name] = st
	ns.running.Store(&next)
	return st.srv
}

// List implements httpd.Namespaces.
func (ns *namespaceSet) List() []*httpd.Server {
	cur := *ns.running.Load()
	out := make([]*httpd.Server, 0, len(cur))
	for _, st := range cur {
		out = append(out, st.srv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace() < out[j].Namespace() })
	return out
}

// all returns the stacks besides the default one.
func (ns *namespaceSet) all() []*stack {
	var m map[string]*stack
	if p := ns.running.Load(); p != nil {
		m = *p
	} else {
		// Still starting (a storage plugin's resync may ask): the map
		// being built, under the lock its builder holds.
		ns.mu.Lock()
		m = maps.Clone(ns.stacks)
		ns.mu.Unlock()
	}
	out := make([]*stack, 0, len(m))
	for _, st := range m {
		out = append(out, st)
	}
	return out
}

// full reports whether n namespaces besides the default one are as many
// as may run: the default namespace counts towards max.
func (ns *namespaceSet) full(n int) bool { return n+1 >= ns.max }

// put adds a namespace built at start-up.
func (ns *namespaceSet) put(st *stack) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.stacks[st.name] = st
}

// has reports whether a namespace was built at start-up, and how many.
func (ns *namespaceSet) has(name string) (bool, int) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.stacks[name] != nil, len(ns.stacks)
}

// close refuses new namespaces and returns the running ones.
func (ns *namespaceSet) close() []*stack {
	ns.mu.Lock()
	ns.closed = true
	ns.mu.Unlock()
	return ns.all()
}

// storedNamespaces returns the names of the namespaces that have records
// in the store: with create_on_first_use, namespaces that were created
// before a restart are not in the settings.
func storedNamespaces(ctx context.Context, s storage.Store) ([]string, error) {
	seen := map[string]bool{}
	err := s.Scan(ctx, "", func(r storage.Record) error {
		if n := namespace.KeyNamespace(r.Key); n != "" && n != namespace.Default && namespace.ValidName(n) {
			seen[n] = true
		}
		return nil
	})
	if err != nil && !errors.Is(err, storage.ErrStop) {
		return nil, err
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// reload applies a SIGHUP to the namespaces' clusters as reloadOnHUP does
// to the default one's: the peer client's certificate, and the new peer
// list at each peer's namespace path.
func (ns *namespaceSet) reload(cfg config.Config) error {
	var errs []error
	for _, st := range ns.all() {
		if err := st.cl.ReloadTLS(); err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", st.name, err))
		}
		if err := st.cl.SetPeers(namespaceCluster(cfg, st.name).Cluster.Peers); err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", st.name, err))
		}
	}
	return errors.Join(errs...)
}

// healthCollector serves every namespace's health-check metrics (def is
// the default namespace's stack).
func (ns *namespaceSet) healthCollector(def *stack) healthCollector {
	if !ns.sh.cfg.Namespaces.Enabled() {
		return healthCollector{checks: func() map[string]*health.Scheduler { return map[string]*health.Scheduler{"": def.checks} }}
	}
	return healthCollector{namespaced: true, checks: func() map[string]*health.Scheduler {
		m := map[string]*health.Scheduler{namespace.Default: def.checks}
		for _, st := range ns.all() {
			m[st.name] = st.checks
		}
		return m
	}}
}
