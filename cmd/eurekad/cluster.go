package main

import (
	"context"
	"log/slog"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/httpd"
)

// startCluster builds the peer set from the cluster settings. With no
// peers it returns nil, nil: the server runs standalone (it still applies
// batches that peers send it).
func startCluster(cfg config.Config, reg *registry.Registry, log *slog.Logger) (*replication.Cluster, error) {
	if len(cfg.Cluster.Peers) == 0 {
		return nil, nil
	}
	o := cfg.Cluster
	o.ListenAddr = cfg.Addr
	o.Logger = log.With("component", "replication")
	return replication.New(reg, &o)
}

// clusterReplicator is cl as the HTTP server's replicator, nil for none
// (never a typed nil inside the interface).
func clusterReplicator(cl *replication.Cluster) httpd.Replicator {
	if cl == nil {
		return nil
	}
	return cl
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
