// Package httpd serves the Eureka REST API (docs/protocol.md §1–§2) over
// the registry engine and the response cache: routing (gorilla/mux, kept in
// routes.go), content negotiation, gzip, ETags, request limits and Eureka's
// status codes and bodies.
//
// It maps requests to core/node's write methods (which admit, validate,
// store, replicate and commit each write), registry reads and cache keys,
// and writes bytes; it decides who may do what from its route table
// (routes.go). The Eureka semantics live in core/node and core/registry,
// the encodings in sdk/eureka.
package httpd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/namespace"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/readers"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Server is eurekad's HTTP server.
type Server struct {
	node  *node.Node
	reg   *registry.Registry
	store node.Persister // nil without a store
	cache *cache.Cache
	opts  Options
	log   *slog.Logger
	// namespace names the namespace served (namespaces.go).
	namespace string

	handler http.Handler
	http    *http.Server
	started time.Time
	self    *eureka.InstanceInfo

	// table is the route table with its routers (routes.go).
	table   *table
	metrics *metrics
	// readers tracks who fetched which registry version (propagation.go).
	readers *readers.Tracker
	// closing is closed when Shutdown starts, ending event streams.
	closing chan struct{}
	// probe is the last store probe, reused by /readyz for a second.
	probe   atomic.Pointer[probeResult]
	probeMu sync.Mutex
}

// New returns a server over the write path n and the response cache c. A
// nil opts means DefaultOptions.
func New(n *node.Node, c *cache.Cache, opts *Options) *Server {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{node: n, reg: n.Registry(), store: n.Store(), cache: c, opts: o, log: o.Logger, started: time.Now(), self: selfInstance(), closing: make(chan struct{})}
	s.namespace = o.Namespace
	if s.namespace == "" {
		s.namespace = namespace.Default
	}
	if o.Metrics {
		s.metrics = newMetrics(s)
	}
	s.startPropagation()
	s.handler = s.limits(s.routes())
	if s.metrics != nil {
		s.handler = s.instrument(s.handler)
	}
	s.http = &http.Server{
		Addr:              o.Addr,
		Handler:           s.handler,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	var once sync.Once
	s.http.RegisterOnShutdown(func() { once.Do(func() { close(s.closing) }) })
	return s
}

// Handler returns the server's root handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until Shutdown. It returns nil after a
// graceful shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections and waits for requests in flight
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.http.Shutdown(ctx)
}

// limits caps request bodies (413 above MaxBodyBytes).
func (s *Server) limits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			if r.ContentLength > s.opts.MaxBodyBytes {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// selfInstance describes this server for GET status.
func selfInstance() *eureka.InstanceInfo {
	host, _ := os.Hostname()
	ip := "127.0.0.1"
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				ip = n.IP.String()
				break
			}
		}
	}
	return &eureka.InstanceInfo{
		InstanceID:                    host,
		HostName:                      host,
		App:                           "EUREKAD",
		IPAddr:                        ip,
		Status:                        eureka.StatusUp,
		OverriddenStatus:              eureka.StatusUnknown,
		Port:                          eureka.Port{Number: 8761, Enabled: true},
		CountryID:                     1,
		DataCenterInfo:                &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		IsCoordinatingDiscoveryServer: true,
		ActionType:                    eureka.ActionAdded,
	}
}
