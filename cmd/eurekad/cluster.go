package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/internal/tlsconf"
)

// startCluster builds the peer set from the cluster settings. It exists
// even with no peers, so that a reload (SIGHUP) can add some.
func startCluster(cfg config.Config, reg *registry.Registry, log *slog.Logger) (*replication.Cluster, error) {
	o := cfg.Cluster
	o.ListenAddr = cfg.Addr
	o.Logger = log.With("component", "replication")
	return replication.New(reg, &o)
}

// runCluster replicates until ctx ends, after copying the peers'
// registries in (reads are not held back meanwhile, as in Spring Cloud).
func runCluster(ctx context.Context, cl *replication.Cluster, log *slog.Logger) error {
	go func() {
		if _, err := cl.Sync(ctx); err != nil && ctx.Err() == nil {
			log.Warn("start-up sync from peers failed; serving what was restored", "err", err)
		}
	}()
	return cl.Run(ctx)
}

// reloadOnHUP applies SIGHUP until ctx ends: it reads the TLS certificate
// and key files again (the listener's, certs, and the peer client's) and
// loads the settings again (file, environment, flags) to apply the new
// peer list; the other settings take effect at the next start. Without a
// reloader in ctx (tests) it only waits. more applies the reloaded
// settings to the other namespaces' clusters.
func reloadOnHUP(ctx context.Context, cl *replication.Cluster, certs *tlsconf.Certs, log *slog.Logger, more func(config.Config) error) error {
	reload, ok := configReload(ctx)
	if !ok {
		<-ctx.Done()
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reload.hup:
		}
		if err := certs.Reload(); err != nil {
			log.Error("reload: listener certificate kept", "err", err)
		} else if certs != nil {
			leaf := certs.Leaf()
			log.Info("reload: listener certificate read", "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
		}
		if err := cl.ReloadTLS(); err != nil {
			log.Error("reload: peer client certificate kept", "err", err)
		}
		cfg, err := reload.load()
		if err == nil {
			err = cl.SetPeers(cfg.Cluster.Peers)
		}
		if err == nil && more != nil {
			err = more(cfg)
		}
		if err != nil {
			log.Error("reload: peer list not changed", "err", err)
			continue
		}
		log.Info("reload: peer list applied", "peers", len(cl.Peers()))
	}
}

// reloadKey carries the SIGHUP reload to reloadOnHUP, through the serve
// seam that tests replace.
type reloadKey struct{}

// configReloader is SIGHUP, subscribed at start-up, and the settings
// loader that reads them again as at start-up.
type configReloader struct {
	hup  <-chan os.Signal
	load func() (config.Config, error)
}

// withConfigReload returns ctx carrying r.
func withConfigReload(ctx context.Context, r configReloader) context.Context {
	return context.WithValue(ctx, reloadKey{}, r)
}

func configReload(ctx context.Context) (configReloader, bool) {
	r, ok := ctx.Value(reloadKey{}).(configReloader)
	return r, ok
}
