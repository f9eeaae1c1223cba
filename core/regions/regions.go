// Package regions serves remote regions' registries the way Eureka
// clients ask for them (docs/protocol.md §2.7, §2.8, §9.1): a read-only,
// best-effort copy of each remote region's registry, fetched in the
// background with the SDK's discovery code (full fetch, then deltas with
// hash-code reconciliation), filtered by the region's application
// allow-list, and merged into the answers of GET apps?regions=… and
// apps/delta?regions=….
//
// A remote region that is down or slow never blocks or fails a local read:
// its last good copy is served, and its age and last error are reported
// by Status. Remote data is never stored and never replicated to peers;
// only the HTTP layer reads it.
//
// Payloads with regions are built from scratch (such requests are rare:
// Java clients with fetchRemoteRegionsRegistry) and cached per (entity,
// format, regions), rebuilt only when the local registry or one of the
// named regions' copies changed; the number of cached payloads is bounded.
// They are long-polled as core/cache's are (Wait).
// Requests without regions never reach this package.
//
// It reads the local registry through Source, and shares only core/cache's
// payload types (Format, Representation), so that both kinds of payload
// are served alike.
package regions

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/discovery"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Source is the local registry as this package reads it;
// *registry.Registry implements it.
type Source interface {
	// Version increases on every change visible to readers.
	Version() uint64
	// Applications is the full local registry; Delta its recent changes.
	// Neither result is modified here.
	Applications() *eureka.Applications
	Delta() *eureka.Applications
	// Changes returns a channel closed at the next change visible to
	// readers.
	Changes() <-chan struct{}
}

// Set is the configured remote regions with their copies and the cache
// of payloads with regions. Its methods are safe for concurrent use.
type Set struct {
	src     Source
	opts    Options
	log     *slog.Logger
	remotes []*remote          // in configuration order
	byName  map[string]*remote // by lower-case name

	payloads     payloadCache
	deltaVersion atomic.Int64
	// copies is closed and replaced whenever a remote copy changed,
	// waking long-polls (Wait).
	copies atomic.Pointer[chan struct{}]
	// created stands for the last success of a region never fetched.
	created time.Time
}

// remote is one remote region: its fetcher and the last good copy.
type remote struct {
	Region
	cache *discovery.Cache

	ready atomic.Bool
	mu    sync.Mutex
	// view is the filtered copy with its indexes; replaced, never
	// modified.
	view atomic.Pointer[view]
	// gen counts changes of view, so cached payloads know when to go.
	gen atomic.Uint64
	// changes is what each fetch changed, oldest first, kept for
	// DeltaRetention (the remote part of apps/delta with regions).
	changes []change
}

// view is one filtered copy of a remote region's registry.
type view struct {
	apps  *eureka.Applications
	byApp map[string]*eureka.Application // upper-case name
	// byID is the first instance with each id: GET instances/{id} for an
	// unknown id would otherwise walk every remote instance.
	byID  map[string]*eureka.InstanceInfo
	count int
}

// change is one instance's change seen between two fetches.
type change struct {
	at time.Time
	in *eureka.InstanceInfo // ActionType set
}

// New returns the remote regions of opts over the local registry src. It
// fetches nothing until Run. A nil opts means DefaultOptions (no remote
// regions).
func New(src Source, opts *Options) (*Set, error) {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	d := DefaultOptions()
	if o.DeltaRetention <= 0 {
		o.DeltaRetention = d.DeltaRetention
	}
	if o.DeltaRefresh <= 0 {
		o.DeltaRefresh = d.DeltaRefresh
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	list, _ := o.Regions()
	s := &Set{src: src, opts: o, log: o.Logger.With("component", "regions"), byName: map[string]*remote{}, created: time.Now()}
	s.payloads.m = map[payloadKey]*cached{}
	copies := make(chan struct{})
	s.copies.Store(&copies)
	for _, r := range list {
		c, err := client.New(client.Options{
			ServiceURLs: r.URLs,
			Timeout:     o.ReadTimeout,
			HTTPClient:  httpClient(o.ConnectTimeout),
			UserAgent:   "eurekad-remote-region",
			Logger:      s.log.With("region", r.Name),
		})
		if err != nil {
			return nil, err
		}
		rm := &remote{Region: r}
		rm.cache = discovery.New(c, &discovery.Options{
			FetchInterval: o.FetchInterval,
			// A held long-poll counts as a fetch when it ends: ending it
			// within the interval keeps a healthy copy's age under it.
			LongPollWait: o.FetchInterval,
			AllStatuses:  true,
			Logger:       s.log.With("region", r.Name),
		})
		rm.view.Store(filter(&eureka.Applications{}, nil))
		s.remotes = append(s.remotes, rm)
		s.byName[r.Name] = rm
	}
	return s, nil
}

// httpClient is the transport of the fetchers: the connect timeout on the
// dial and the TLS handshake; compression is left to sdk/client.
func httpClient(connect time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   connect,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}}
}

// Local returns the local region's name, lower-cased.
func (s *Set) Local() string { return strings.ToLower(strings.TrimSpace(s.opts.Local)) }

// Configured reports whether any remote region is configured.
func (s *Set) Configured() bool { return s != nil && len(s.remotes) > 0 }

// Run fetches every remote region until ctx ends, then returns nil.
func (s *Set) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, r := range s.remotes {
		wg.Go(func() { r.cache.Run(ctx) })
		wg.Go(func() { s.follow(ctx, r) })
	}
	wg.Wait()
	return nil
}

// follow copies r's discovery view after each change.
func (s *Set) follow(ctx context.Context, r *remote) {
	changes, cancel := r.cache.Subscribe()
	defer cancel()
	if r.cache.Ready(ctx) != nil {
		return
	}
	s.update(r)
	r.ready.Store(true)
	s.log.Info("remote region ready", "region", r.Name, "instances", r.view.Load().count)
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			s.update(r)
		}
	}
}

// instKey names an instance within a region.
type instKey struct{ app, id string }

// update installs the discovery view of r, filtered, and wakes the
// long-polls when it changed.
func (s *Set) update(r *remote) {
	if r.install(filter(r.cache.Applications(), r.Allow), time.Now(), s.opts.DeltaRetention) {
		next := make(chan struct{})
		close(*s.copies.Swap(&next))
	}
}

// install makes next r's copy and notes, at now, what changed since the
// previous one (discovery.Diff, the rule by which the discovery cache
// notifies); changes older than retention go. It reports whether
// anything changed.
func (r *remote) install(next *view, now time.Time, retention time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := discovery.Diff(r.view.Load().apps, next.apps)
	r.changes = expire(r.changes, now.Add(-retention))
	for _, in := range changed {
		r.changes = append(r.changes, change{now, in})
	}
	if n := len(r.changes) - maxChanges; n > 0 {
		// A region churning faster than the window holds: its oldest
		// changes go, and a client missing them reconciles by hash code.
		r.changes = slices.Delete(r.changes, 0, n)
	}
	r.view.Store(next)
	if len(changed) == 0 {
		return false
	}
	r.gen.Add(1)
	return true
}

// maxChanges bounds the changes kept per region for apps/delta.
const maxChanges = 100_000

// expire drops the changes before cutoff.
func expire(l []change, cutoff time.Time) []change {
	i := 0
	for i < len(l) && l[i].at.Before(cutoff) {
		i++
	}
	return slices.Delete(l, 0, i)
}

// filter keeps the applications allow lets through (all when nil) and
// indexes them. Applications and instances are shared with apps.
func filter(apps *eureka.Applications, allow map[string]bool) *view {
	v := &view{apps: &eureka.Applications{}, byApp: map[string]*eureka.Application{}, byID: map[string]*eureka.InstanceInfo{}}
	for _, a := range apps.Applications {
		name := strings.ToUpper(a.Name)
		if len(a.Instances) == 0 || allow != nil && !allow[name] {
			continue
		}
		if a.Name != name {
			a = &eureka.Application{Name: name, Instances: a.Instances}
		}
		v.apps.Applications = append(v.apps.Applications, a)
		v.byApp[name] = a
		v.count += len(a.Instances)
		for _, in := range a.Instances {
			if _, dup := v.byID[in.ID()]; !dup {
				v.byID[in.ID()] = in
			}
		}
	}
	v.apps.AppsHashcode = v.apps.HashCode()
	return v
}

// Normalize turns a regions parameter into the known region names it
// holds, as Eureka reads it: lower-cased, split on ",", sorted, without
// duplicates; unknown names are dropped. It returns nil when no known
// name is left (the plain local answer).
func (s *Set) Normalize(raw string) []string {
	if !s.Configured() || raw == "" {
		return nil
	}
	var out []string
	// At most len(s.remotes) names survive, so a hostile list of 10,000
	// names costs one pass and no allocation per name.
	for name := range strings.SplitSeq(raw, ",") {
		name = strings.TrimSpace(name)
		for _, r := range s.remotes {
			if strings.EqualFold(name, r.Name) && !slices.Contains(out, r.Name) {
				out = append(out, r.Name)
			}
		}
		if len(out) == len(s.remotes) {
			break
		}
	}
	slices.Sort(out)
	return out
}

// Ready reports whether every remote region finished its first fetch:
// until then requests with regions are answered 403, as in Eureka.
func (s *Set) Ready() bool {
	for _, r := range s.remotes {
		if !r.ready.Load() {
			return false
		}
	}
	return true
}

// Application returns the application from the first remote region (in
// configuration order) that has instances of it, for the transparent
// fallback of GET apps/{app}; nil when none has, or the fallback is off.
func (s *Set) Application(name string) *eureka.Application {
	if !s.Configured() || s.opts.DisableTransparentFallback {
		return nil
	}
	name = strings.ToUpper(name)
	for _, r := range s.remotes {
		if a := r.view.Load().byApp[name]; a != nil {
			return a
		}
	}
	return nil
}

// Instance returns an instance of an application from the first remote
// region that has the application (the transparent fallback of GET
// apps/{app}/{id}); nil when it has no such instance.
func (s *Set) Instance(app, id string) *eureka.InstanceInfo {
	a := s.Application(app)
	if a == nil {
		return nil
	}
	for _, in := range a.Instances {
		if in.ID() == id {
			return in
		}
	}
	return nil
}

// InstanceByID returns the first instance with this id in any remote
// region (GET instances/{id}'s fallback).
func (s *Set) InstanceByID(id string) *eureka.InstanceInfo {
	if !s.Configured() || s.opts.DisableTransparentFallback {
		return nil
	}
	for _, r := range s.remotes {
		if in := r.view.Load().byID[id]; in != nil {
			return in
		}
	}
	return nil
}

// Status is one remote region's state, for the admin API and metrics.
type Status struct {
	Name string   `json:"name"`
	URLs []string `json:"urls"`
	// Instances is the number of instances in the copy (after the
	// allow-list).
	Instances int `json:"instances"`
	// LastSuccess is when a fetch last succeeded; Age is how long ago,
	// in seconds (since start before the first success).
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	Age         float64   `json:"ageSeconds"`
	// Stale is true when the copy is older than three fetch intervals.
	Stale       bool      `json:"stale"`
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	// Failures counts failed fetches since start.
	Failures uint64 `json:"fetchFailures"`
	// FirstFetchDone is true once the first fetch completed; until every
	// region's has, requests with regions are answered 403.
	FirstFetchDone bool `json:"firstFetchDone"`
	// AllowList is the applications served from the region, empty for
	// all.
	AllowList []string `json:"allowList,omitempty"`
}

// Status returns the state of every remote region, in configuration
// order.
func (s *Set) Status() []Status {
	if !s.Configured() {
		return nil
	}
	now := time.Now()
	out := make([]Status, 0, len(s.remotes))
	for _, r := range s.remotes {
		st := r.cache.Stats()
		v := Status{
			Name:           r.Name,
			URLs:           slices.Clone(r.URLs),
			Instances:      r.view.Load().count,
			LastSuccess:    st.LastSuccess,
			Failures:       st.Failures,
			FirstFetchDone: r.ready.Load(),
			LastErrorAt:    st.LastErrorAt,
		}
		since := st.LastSuccess
		if since.IsZero() {
			since = s.created
		}
		v.Age = now.Sub(since).Seconds()
		v.Stale = now.Sub(since) > 3*s.opts.FetchInterval
		if st.LastError != nil {
			v.LastError = st.LastError.Error()
		}
		for app := range r.Allow {
			v.AllowList = append(v.AllowList, app)
		}
		slices.Sort(v.AllowList)
		out = append(out, v)
	}
	return out
}
