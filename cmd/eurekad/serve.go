package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/core/health"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/core/regions"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/httpd"
	"github.com/eurekad/eurekad/httpd/history"
	"github.com/eurekad/eurekad/internal/memtrim"
	"github.com/eurekad/eurekad/plugins/auth/guard"
	"github.com/eurekad/eurekad/sdk/storage"
)

// serve runs the registry, its store, the response cache and the HTTP
// server until ctx ends, then shuts down in order: the HTTP server drains
// (within cfg.ShutdownTimeout), the persister writes what is pending, the
// store closes.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	// Plugins: listeners subscribe to the event bus before the registry
	// exists; the store and the authenticator are loaded below.
	ps := &pluginSet{log: log.With("component", "plugins"), base: log}
	defer ps.Close()
	bus, err := loadListeners(ctx, cfg, ps, log)
	if err != nil {
		return err
	}

	// The admin API's per-instance history is one more subscriber, so a
	// bus runs without listener plugins too (renewals are not published
	// unless a listener asks for them).
	listeners := bus != nil
	if bus == nil {
		bus = events.New(&events.Options{Logger: log.With("component", "events")})
	}
	changes := history.New(0, 0)
	// Inline: the recorder only updates a map under its own lock, so
	// Publish calls it directly; a queue and a delivery goroutine woken
	// per registration cost ~3 µs of CPU each (make bench register), and
	// a burst of registrations can no longer leave a gap in the history.
	if err := bus.SubscribeInline(historySubscriber, changes, history.Types); err != nil {
		return err
	}

	ro := cfg.Registry
	ro.Logger = log.With("component", "registry")
	ro.Limits = cfg.Limits // a store's records pass the rules every write passes
	ro.Events = bus
	reg := registry.New(&ro)

	// A restarted storage plugin may have lost what it held: the resync
	// queues every key for the persister, which writes the registry's
	// current state in its usual order.
	var p *persist.Persister
	resync := func(ctx context.Context, _ storage.Store) error {
		if p == nil {
			return nil
		}
		reg.Keys(p.Changed)
		return p.Commit(ctx)
	}
	store, err := loadStore(ctx, cfg, ps, resync)
	if err != nil {
		return err
	}
	if store != nil {
		defer store.Close()
		start := time.Now()
		// The persister's own marker records are not instances.
		restored, skipped, err := reg.Restore(ctx, persist.HideMarkers(store))
		if ctx.Err() != nil {
			return nil // stopped while restoring: nothing was served yet
		}
		if err != nil {
			return fmt.Errorf("restore from %s store: %w", storeName(cfg), err)
		}
		log.Info("registry restored", "store", storeName(cfg), "instances", restored,
			"skipped", skipped, "took", time.Since(start).Round(time.Millisecond))
		// Self-preservation starts from what was restored, as Eureka starts
		// from what it synced from peers.
		reg.OpenForTraffic(restored)
		po := cfg.Storage.Persist
		po.Logger = log.With("component", "persist")
		if p, err = persist.New(store, reg, &po); err != nil {
			return err
		}
		reg.SetChangeFunc(p.Changed)
	} else {
		reg.OpenForTraffic(0)
	}

	co := cfg.Cache
	co.Logger = log.With("component", "cache")
	c, err := cache.New(reg, &co)
	if err != nil {
		return err
	}

	if reg.Size() > 0 {
		// Build what Java clients fetch first (gzip JSON apps) while the
		// listener comes up, so the first full fetch after a restart of a
		// large registry does not wait for it.
		// (In a closure: "go c.Get(k).Gzip()" would build in this goroutine.)
		go func() { c.Get(cache.Key{Entity: cache.EntityApps, Format: cache.JSON}).Gzip() }()
	}

	ho := cfg.HTTP
	ho.Addr = cfg.Addr
	ho.Logger = log.With("component", "http")
	ho.StoreKind = storeName(cfg)
	no := node.Options{Limits: cfg.Limits, Logger: log.With("component", "node")}
	if p != nil {
		no.Store = p
		ho.StoreProbe = storeProbe(store)
	}
	// Cluster: peer replication (cluster.go).
	cl, err := startCluster(cfg, reg, log)
	if err != nil {
		return err
	}
	if cl != nil {
		no.Replicator = cl
	}
	ho.Ops.Peers = peerStatuses(cl)
	ho.Ops.Syncing = cl.Syncing
	if ho.Auth, err = loadAuth(ctx, cfg, ps, log); err != nil {
		return err
	}
	// The admission hook, nil without one, asked by the write path.
	admit, err := loadAdmission(ctx, cfg, ps, log)
	if err != nil {
		return err
	}
	no.Admit = admitFunc(admit)
	if admit != nil && ho.Auth == nil {
		// Peers' writes skip admission (their origin admitted them), and
		// without an authenticator anyone can claim to be a peer.
		log.Warn("admission hook without an authenticator: a client that sends x-netflix-discovery-replication: true is taken for a peer and skips admission; configure an authenticator with peer credentials")
	}
	ho.Ops.Plugins = pluginStatuses(ps)
	if g, ok := ho.Auth.(*guard.Guard); ok {
		ho.Ops.Auth = authDecisions(g)
	}
	if listeners {
		ho.Ops.Listeners = listenerStatuses(bus)
	}
	ho.Ops.History = changes.Get
	nd := node.New(reg, no)
	// Anti-entropy repairs go through the write path, so they are stored.
	cl.SetMerger(nd)
	// Server-side health checks write their verdicts through it too.
	checker, err := loadChecker(ctx, cfg, ps)
	if err != nil {
		return err
	}
	hc := cfg.Health
	hc.Logger = log.With("component", "health")
	checks := health.New(reg, nd, checker, healthMembers(cl, log), &hc)
	ho.Ops.Collectors = append(ho.Ops.Collectors, healthCollector{checks})
	// Remote regions: read-only copies of other regions' registries,
	// served to clients that ask with ?regions= (never stored, never
	// replicated).
	rgo := cfg.Regions
	rgo.DeltaRetention = cfg.Registry.DeltaRetention
	rgo.DeltaRefresh = cfg.Registry.DeltaRetentionSweepInterval
	rgo.Logger = log
	remote, err := regions.New(reg, &rgo)
	if err != nil {
		return err
	}
	if remote.Configured() {
		ho.Regions = remote
	}
	srv := httpd.New(nd, c, &ho)

	certs, tlsConfig, err := cfg.TLS.Load()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		scheme = "https"
	}
	log.Info("serving", "addr", ln.Addr().String(), "scheme", scheme, "base_paths", ho.BasePaths,
		"storage", storeName(cfg), "durability", cfg.Storage.Persist.Durability)

	g, gctx := errgroup.WithContext(ctx)
	// The persister outlives the HTTP server so that writes answered during
	// the drain are flushed: it stops only after Shutdown returns.
	pctx, stopPersist := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPersist()
	if p != nil {
		g.Go(func() error { return p.Run(pctx) })
	}
	g.Go(func() error { return reg.Run(gctx) })
	g.Go(func() error { return c.Run(gctx) })
	if remote.Configured() {
		g.Go(func() error { return remote.Run(gctx) })
	}
	if checks.Active() {
		g.Go(func() error { return checks.Run(gctx) })
	}
	g.Go(func() error { return runCluster(gctx, cl, log) })
	g.Go(func() error { return reloadOnHUP(gctx, cl, certs, log) })
	g.Go(func() error { return srv.Serve(ln) })
	g.Go(func() error { return ps.Run(gctx) })
	g.Go(func() error { return memtrim.Run(gctx, memtrim.Interval) })
	g.Go(func() error { return bus.Run(gctx) })
	bus.ServerStarted()
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		stopPersist()
		return err
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
