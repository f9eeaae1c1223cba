package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"golang.org/x/sync/errgroup"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/httpd"
)

// serve runs the registry, its response cache and the HTTP server until ctx
// ends, then shuts the server down gracefully within cfg.ShutdownTimeout.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	ro := cfg.Registry
	ro.Logger = log.With("component", "registry")
	reg := registry.New(&ro)

	co := cfg.Cache
	co.Logger = log.With("component", "cache")
	c, err := cache.New(reg, &co)
	if err != nil {
		return err
	}

	ho := cfg.HTTP
	ho.Addr = cfg.Addr
	ho.Logger = log.With("component", "http")
	srv := httpd.New(reg, c, &ho)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Nothing to sync from yet: Spring Cloud's start (count substituted)
	// unless the operator asked for Netflix's read gate.
	reg.OpenForTraffic(0)
	log.Info("serving", "addr", ln.Addr().String(), "base_paths", ho.BasePaths)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return reg.Run(gctx) })
	g.Go(func() error { return c.Run(gctx) })
	g.Go(func() error { return srv.Serve(ln) })
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}
