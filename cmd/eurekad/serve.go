package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"golang.org/x/sync/errgroup"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/core/namespace"
	"github.com/eurekad/eurekad/core/regions"
	"github.com/eurekad/eurekad/httpd"
	"github.com/eurekad/eurekad/httpd/history"
	"github.com/eurekad/eurekad/internal/memtrim"
	"github.com/eurekad/eurekad/plugins/auth/guard"
	"github.com/eurekad/eurekad/sdk/storage"
)

// serve runs the registry, its store, the response cache and the HTTP
// server until ctx ends, then shuts down in order: the HTTP server drains
// (within cfg.ShutdownTimeout), the persister writes what is pending, the
// store closes. Each namespace (namespaces.go) is a stack of its own over
// the one store, bus and authenticator.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	// Plugins: listeners subscribe to the event bus before the registry
	// exists; the store and the authenticator are loaded below.
	ps := &pluginSet{log: log.With("component", "plugins"), base: log}
	defer ps.Close()
	bus, err := loadListeners(ctx, cfg, ps, log)
	if err != nil {
		return err
	}
	listeners := bus != nil
	if bus == nil {
		bus = events.New(&events.Options{Logger: log.With("component", "events")})
	}
	sh := &shared{cfg: cfg, log: log, bus: bus, histories: newHistories()}
	// The admin API's per-instance history is one more subscriber, so a
	// bus runs without listener plugins too (renewals are not published
	// unless a listener asks for them).
	// Inline: the recorder only updates a map under its own lock, so
	// Publish calls it directly; a queue and a delivery goroutine woken
	// per registration cost ~3 µs of CPU each (make bench register), and
	// a burst of registrations can no longer leave a gap in the history.
	if err := bus.SubscribeInline(historySubscriber, sh.histories, history.Types); err != nil {
		return err
	}
	nss := &namespaceSet{sh: sh, max: cfg.Namespaces.Max, stacks: map[string]*stack{}}
	var def *stack

	// A restarted storage plugin may have lost what it held: the resync
	// queues every key of every namespace for its persister, which writes
	// the registry's current state in its usual order.
	resync := func(ctx context.Context, _ storage.Store) error {
		if def == nil {
			return nil
		}
		for _, st := range append(nss.all(), def) {
			if st.p == nil {
				continue
			}
			st.reg.Keys(st.p.Changed)
			if err := st.p.Commit(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	store, err := loadStore(ctx, cfg, ps, resync)
	if err != nil {
		return err
	}
	if store != nil {
		defer store.Close()
		sh.store = store
	}
	// The admission hook, nil without one, asked by the write path.
	if sh.admit, err = loadAdmission(ctx, cfg, ps, log); err != nil {
		return err
	}
	if sh.checker, err = loadChecker(ctx, cfg, ps); err != nil {
		return err
	}

	ho := cfg.HTTP
	ho.Addr = cfg.Addr
	ho.Logger = log.With("component", "http")
	ho.StoreKind = storeName(cfg)
	if store != nil {
		ho.StoreProbe = storeProbe(store)
	}
	if ho.Auth, err = loadAuth(ctx, cfg, ps, log); err != nil {
		return err
	}
	if sh.admit != nil && ho.Auth == nil {
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
	sh.ho = ho

	if def, err = buildStack(ctx, sh, namespace.Default); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while restoring: nothing was served yet
		}
		return err
	}
	names := append([]string(nil), cfg.Namespaces.Declared...)
	if cfg.Namespaces.CreateOnFirstUse && store != nil {
		// Namespaces created on first use before a restart are in the
		// store only.
		stored, err := storedNamespaces(ctx, store)
		if err != nil {
			return fmt.Errorf("list the namespaces of the %s store: %w", storeName(cfg), err)
		}
		names = append(names, stored...)
	}
	for _, name := range names {
		built, n := nss.has(name)
		if name == namespace.Default || built {
			continue
		}
		if nss.full(n) {
			log.Warn("namespace not served: namespaces.max reached", "namespace", name, "max", cfg.Namespaces.Max)
			continue
		}
		st, err := buildStack(ctx, sh, name)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("namespace %s: %w", name, err)
		}
		nss.put(st)
	}

	ho.Ops.Peers = peerStatuses(def.cl)
	ho.Ops.Syncing = def.cl.Syncing
	ho.Ops.History = def.changes.Get
	ho.Ops.Collectors = append(ho.Ops.Collectors, nss.healthCollector(def))
	// Remote regions: read-only copies of other regions' registries,
	// served to clients that ask with ?regions= (never stored, never
	// replicated), in the default namespace.
	rgo := cfg.Regions
	rgo.DeltaRetention = cfg.Registry.DeltaRetention
	rgo.DeltaRefresh = cfg.Registry.DeltaRetentionSweepInterval
	rgo.Logger = log
	remote, err := regions.New(def.reg, &rgo)
	if err != nil {
		return err
	}
	if remote.Configured() {
		ho.Regions = remote
	}
	if cfg.Namespaces.Enabled() {
		ho.Namespaces = nss
	}
	srv := httpd.New(def.node, def.cache, &ho)

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
		"storage", storeName(cfg), "durability", cfg.Storage.Persist.Durability,
		"namespaces", len(nss.all())+1)

	g, gctx := errgroup.WithContext(ctx)
	// The persister outlives the HTTP server so that writes answered during
	// the drain are flushed: it stops only after Shutdown returns.
	pctx, stopPersist := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPersist()
	nss.start()
	def.run(gctx, pctx, g.Go, log)
	for _, st := range nss.all() {
		st.run(gctx, pctx, g.Go, log.With("namespace", st.name))
	}
	if cfg.Namespaces.CreateOnFirstUse {
		nss.create = func(name string) (*stack, error) {
			st, err := buildStack(gctx, sh, name)
			if err != nil {
				return nil, err
			}
			st.run(gctx, pctx, g.Go, log.With("namespace", name))
			return st, nil
		}
	}
	if remote.Configured() {
		g.Go(func() error { return remote.Run(gctx) })
	}
	g.Go(func() error { return reloadOnHUP(gctx, def.cl, certs, log, nss.reload) })
	g.Go(func() error { return srv.Serve(ln) })
	g.Go(func() error { return ps.Run(gctx) })
	g.Go(func() error { return memtrim.Run(gctx, memtrim.Interval) })
	g.Go(func() error { return memtrim.Tune(gctx, memtrim.DefaultHeadroom, memtrim.TuneEvery) })
	g.Go(func() error { return bus.Run(gctx) })
	bus.ServerStarted()
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		// The namespaces' servers do not listen; their shutdown ends
		// their event streams.
		for _, st := range nss.close() {
			_ = st.srv.Shutdown(sctx)
		}
		stopPersist()
		return err
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
