package replication

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/internal/tlsconf"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Cluster is this node's set of peers. Replicate and Peers are safe for
// concurrent use and cheap; SetPeers may be called at any time (a config
// reload) and starts or stops peers while Run is running.
type Cluster struct {
	reg  *registry.Registry
	opts Options
	log  *slog.Logger
	// syncing is set while Sync runs.
	syncing atomic.Bool

	// peers is read on every replicated request without a lock.
	peers atomic.Pointer[[]*Peer]

	// tls is the peer clients' TLS (nil: Go's defaults); certs is its
	// client certificate, reloaded by ReloadTLS.
	tls   *tls.Config
	certs *tlsconf.Certs

	merger atomic.Pointer[Merger]
	// self is this node's URL as the peer list names it ("" when the
	// list does not name it and SelfURL is empty).
	self atomic.Pointer[string]

	mu      sync.Mutex
	ctx     context.Context // Run's context; nil before Run
	running map[*Peer]context.CancelFunc
	wg      sync.WaitGroup
}

// New returns a cluster over reg with the peers of opts (own URL
// skipped). A nil opts means DefaultOptions, that is no peers. It fails
// when a peer URL is not an absolute http(s) URL or a TLS file cannot be
// read.
func New(reg *registry.Registry, opts *Options) (*Cluster, error) {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Cluster{reg: reg, opts: o, log: o.Logger, running: make(map[*Peer]context.CancelFunc)}
	var err error
	if c.certs, c.tls, err = o.TLS.Load(); err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	empty := []*Peer{}
	c.peers.Store(&empty)
	if err := c.SetPeers(o.Peers); err != nil {
		return nil, err
	}
	return c, nil
}

// ReloadTLS reads the client certificate and key files again (SIGHUP);
// new connections to peers present the new certificate.
func (c *Cluster) ReloadTLS() error { return c.certs.Reload() }

// Replicate queues a successful, non-replicated write for every peer. It
// must not be called for replicated requests or evictions. Once an
// instance's task ids are known it allocates nothing.
func (c *Cluster) Replicate(a eureka.ReplicationAction, app, id string) {
	peers := *c.peers.Load()
	if len(peers) == 0 {
		return
	}
	now := nanotime()
	for _, p := range peers {
		p.enqueue(a, app, id, now)
	}
}

// Members returns this node's URL as the peer list names it ("" when
// neither the list nor SelfURL names it) and the URLs of the peers it
// reaches now (their last exchange succeeded): the membership core/health
// splits the probes over.
func (c *Cluster) Members() (self string, reachable []string) {
	if s := c.self.Load(); s != nil {
		self = *s
	} else if c.opts.SelfURL != "" {
		self, _, _ = c.normalise(c.opts.SelfURL)
	}
	for _, p := range *c.peers.Load() {
		if p.lastAttemptOK.Load() {
			reachable = append(reachable, p.url)
		}
	}
	return self, reachable
}

// Peers returns the state of each peer, in the order of the peer list.
func (c *Cluster) Peers() []PeerStats {
	peers := *c.peers.Load()
	out := make([]PeerStats, len(peers))
	for i, p := range peers {
		out[i] = p.Stats()
	}
	return out
}

// SetPeers replaces the peer list: the node's own URL is skipped, peers
// that stay keep their queues, new ones start (when Run is running) and
// removed ones stop. An empty list is taken as given (no peers), unlike
// Eureka's refresh, which keeps the old peers; eurekad's list comes from
// its configuration, not from DNS.
func (c *Cluster) SetPeers(urls []string) error {
	type want struct{ display, full string }
	var list []want
	seen := map[string]bool{}
	for _, raw := range urls {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		display, full, err := c.normalise(raw)
		if err != nil {
			return err
		}
		if c.isSelf(display) {
			c.self.Store(&display)
			continue
		}
		if seen[display] {
			continue
		}
		seen[display] = true
		list = append(list, want{display, full})
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	old := map[string]*Peer{}
	for _, p := range *c.peers.Load() {
		old[p.url] = p
	}
	next := make([]*Peer, 0, len(list))
	for _, w := range list {
		if p := old[w.display]; p != nil {
			next = append(next, p)
			delete(old, w.display)
			continue
		}
		co := client.Options{
			ServiceURLs: []string{w.full},
			Timeout:     c.opts.PeerTimeout,
			UserAgent:   "eurekad-replication/1",
			TLSConfig:   c.tls,
			Logger:      c.log,
		}
		cl, err := client.New(co)
		if err != nil {
			return err
		}
		// The start-up sync fetches the whole registry: its own limits.
		co.Timeout, co.MaxResponseBytes = c.opts.SyncTimeout, int64(c.opts.SyncMaxBytes)
		sync, err := client.New(co)
		if err != nil {
			return err
		}
		p := newPeer(w.display, cl, c.reg, &c.opts, c.log)
		p.sync = sync
		next = append(next, p)
		if c.ctx != nil {
			c.start(p)
		}
	}
	c.peers.Store(&next)
	for _, p := range old {
		if cancel := c.running[p]; cancel != nil {
			cancel()
			delete(c.running, p)
		}
	}
	if len(list) > 0 || len(old) > 0 {
		names := make([]string, len(next))
		for i, p := range next {
			names[i] = p.url
		}
		c.log.Info("replication peers", "peers", names)
	}
	return nil
}

// start runs p under Run's context; the caller holds mu.
func (c *Cluster) start(p *Peer) {
	ctx, cancel := context.WithCancel(c.ctx)
	c.running[p] = cancel
	c.wg.Go(func() { _ = p.Run(ctx) })
	c.wg.Go(func() { c.antiEntropy(ctx, p) })
}

// Run replicates until ctx ends.
func (c *Cluster) Run(ctx context.Context) error {
	c.mu.Lock()
	c.ctx = ctx
	for _, p := range *c.peers.Load() {
		c.start(p)
	}
	c.mu.Unlock()
	t := time.NewTicker(backlogLogInterval)
	defer t.Stop()
	last := map[string]uint64{}
	for {
		select {
		case <-ctx.Done():
			// SetPeers starts no peer from here on, and the peers it
			// started are ordered before the Wait (the first Add of a
			// WaitGroup must happen before its Wait).
			c.mu.Lock()
			c.ctx = nil
			c.mu.Unlock()
			c.wg.Wait()
			return nil
		case <-t.C:
			c.logBacklog(last)
		}
	}
}

// backlogLogInterval is how often a peer that is behind is logged.
const backlogLogInterval = 10 * time.Second

// logBacklog logs each peer that has tasks waiting, lost tasks since the
// last call, or is unavailable, so an operator sees a lagging peer
// without metrics.
func (c *Cluster) logBacklog(lastLost map[string]uint64) {
	for _, s := range c.Peers() {
		lost := s.Dropped + s.Expired + s.Rejected
		if s.QueueLength == 0 && s.Available && lost == lastLost[s.URL] {
			continue
		}
		lastLost[s.URL] = lost
		c.log.Info("replication backlog", "peer", s.URL, "available", s.Available, "queue", s.QueueLength,
			"dropped", s.Dropped, "expired", s.Expired, "rejected", s.Rejected, "sent", s.Sent, "failed", s.Failed, "last_error", s.LastError)
	}
}

// normalise checks a peer URL (as sdk/client does its service URLs) and
// returns it without credentials (its name in logs and status) and with
// them (Options.Username/Password added when the URL has none). Both end
// in "/".
func (c *Cluster) normalise(raw string) (display, full string, err error) {
	u, err := client.ParseServiceURL(raw)
	if err != nil {
		return "", "", fmt.Errorf("peer %w (for example http://eureka-2:8761/eureka/)", err)
	}
	if u.User == nil && c.opts.Username != "" {
		u.User = url.UserPassword(c.opts.Username, c.opts.Password)
	}
	full = u.String()
	u.User = nil
	return u.String(), full, nil
}

// isSelf reports whether a (credential-free) peer URL names this server:
// exactly SelfURL when it is set, else a local host on the listen port.
func (c *Cluster) isSelf(display string) bool {
	if c.opts.SelfURL != "" {
		self, _, err := c.normalise(c.opts.SelfURL)
		return err == nil && strings.EqualFold(self, display)
	}
	u, err := url.Parse(display)
	if err != nil {
		return false
	}
	_, lport, err := net.SplitHostPort(c.opts.ListenAddr)
	if err != nil {
		return false
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return port == lport && isLocalHost(u.Hostname(), c.opts.ListenAddr)
}

// isLocalHost reports whether host is this machine: a loopback or
// interface address, "localhost", the host name, or the listen host.
func isLocalHost(host, listen string) bool {
	if lhost, _, err := net.SplitHostPort(listen); err == nil && lhost != "" && strings.EqualFold(lhost, host) {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if name, err := os.Hostname(); err == nil && strings.EqualFold(name, host) {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
