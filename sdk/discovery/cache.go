package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Defaults used for the zero values of Options.
const (
	// DefaultFetchInterval is the polling period against servers that do
	// not long-poll (Eureka's registryFetchIntervalSeconds).
	DefaultFetchInterval = 30 * time.Second
	// DefaultLongPollWait is how long one long-poll asks the server to
	// hold it. eurekad caps it at its http.max_long_poll (50 s by default).
	DefaultLongPollWait = 30 * time.Second
	// DefaultRetryDelay is the wait after the first failed fetch; it
	// doubles with each further failure.
	DefaultRetryDelay = time.Second
	// DefaultMaxBackoffMultiplier caps the wait after failures at ten fetch
	// intervals (Eureka's cacheRefreshExecutorExponentialBackOffBound).
	DefaultMaxBackoffMultiplier = 10
)

// Sentinel errors.
var (
	// ErrNoInstance is returned by Pick, PickVIP and PickSecureVIP when
	// no instance qualifies: the name is unknown, none of its instances is
	// UP (unless Options.AllStatuses), or the first fetch has not finished.
	ErrNoInstance = errors.New("discovery: no instance available")
	// ErrRunning is returned by Run when the cache is already running or
	// has run before: a Cache runs once.
	ErrRunning = errors.New("discovery: Run called more than once")
)

// Clock is the time source of a Cache's timers (poll interval and
// back-off). It has the same method set as agent.Clock, so one fake serves
// both. Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configure a Cache. A nil *Options, and the zero value of each
// field, mean the documented default.
type Options struct {
	// FetchInterval is the polling period when the server does not
	// long-poll (a Java Eureka server, eurekad with long-poll off) or when
	// DisableLongPoll is set. Zero means DefaultFetchInterval.
	FetchInterval time.Duration
	// LongPollWait is how long each long-poll asks the server to hold the
	// request when nothing changes. Zero means DefaultLongPollWait.
	LongPollWait time.Duration
	// DisableLongPoll polls every FetchInterval even against a server that
	// supports long-polling (still conditionally, with If-None-Match).
	DisableLongPoll bool
	// DisableDelta fetches (and long-polls) the full registry instead of
	// apps/delta, as Eureka's disableDelta does.
	DisableDelta bool
	// RetryDelay is the wait after the first failed fetch; each further
	// consecutive failure doubles it, up to MaxBackoffMultiplier fetch
	// intervals. Zero means DefaultRetryDelay.
	RetryDelay time.Duration
	// MaxBackoffMultiplier caps the back-off at this many FetchIntervals.
	// Zero means DefaultMaxBackoffMultiplier.
	MaxBackoffMultiplier int
	// Zone is this client's zone. Pick prefers instances in it (see
	// InstanceZone); empty means no preference.
	Zone string
	// Region is this client's region (Eureka's eureka.region). With
	// RegionZones, Pick prefers, after its own zone, the instances of its
	// own region over those of remote regions.
	Region string
	// RegionZones maps each region to its zones (Eureka's
	// availabilityZones.<region>): an instance's region is the region
	// listing its zone (InstanceZone). An instance whose zone is in no
	// list counts as local, as in Eureka; a zone listed under several
	// regions belongs to the first by name. Nil, with Region empty, leaves
	// Pick's order as own zone, then any.
	RegionZones map[string][]string
	// RemoteRegions makes every fetch ask for these remote regions'
	// instances too (Eureka's fetchRemoteRegionsRegistry, the regions
	// query parameter); the server merges them into its answers.
	RemoteRegions []string
	// AllStatuses keeps instances of every status in Instances and the
	// Pick functions. By default only UP instances are kept (Eureka's
	// shouldFilterOnlyUpInstances). Applications always holds every
	// instance.
	AllStatuses bool
	// Clock is the time source of the timers. Nil means the system clock.
	Clock Clock
	// Logger receives fetch, fall-back and back-off records. Nil discards
	// them.
	Logger *slog.Logger
}

// DefaultOptions returns Options with every default filled in.
func DefaultOptions() Options {
	return Options{
		FetchInterval:        DefaultFetchInterval,
		LongPollWait:         DefaultLongPollWait,
		RetryDelay:           DefaultRetryDelay,
		MaxBackoffMultiplier: DefaultMaxBackoffMultiplier,
	}
}

// Stats counts what a Cache has done, for metrics and tests.
type Stats struct {
	// FullFetches counts successful full registry fetches (the first one,
	// those after a hash code mismatch or a failed delta, and every fetch
	// with DisableDelta).
	FullFetches uint64
	// Deltas counts deltas applied.
	Deltas uint64
	// NotModified counts polls answered 304 (a long-poll whose wait ended,
	// or a conditional poll with nothing new).
	NotModified uint64
	// HashMismatches counts deltas after which the local hash code
	// differed from the server's, forcing a full fetch.
	HashMismatches uint64
	// Failures counts failed fetches.
	Failures uint64
	// LongPolling reports whether the last poll was a long-poll the
	// server held (or answered with a change); false while plain polling.
	LongPolling bool
	// LastSuccess is when a fetch last succeeded (a 304 included); zero
	// before the first.
	LastSuccess time.Time
	// LastError is the error of the last fetch if it failed, nil after a
	// success; LastErrorAt is when it failed.
	LastError   error
	LastErrorAt time.Time
}

// Cache is a local, always-readable copy of the registry. Readers
// (Applications, Instances…, Pick…) never lock and never block: they read
// an immutable snapshot that Run swaps atomically. All methods are safe for
// concurrent use.
type Cache struct {
	c             *client.Client
	clock         Clock
	log           *slog.Logger
	fetchInterval time.Duration
	longPollWait  time.Duration
	longPoll      bool
	delta         bool
	retryDelay    time.Duration
	maxBackoff    time.Duration
	zone          string
	region        string
	zoneRegion    map[string]string // zone → region, from RegionZones
	regions       []string          // RemoteRegions
	allStatuses   bool

	snap      atomic.Pointer[snapshot]
	ready     chan struct{}
	readyOnce sync.Once
	running   atomic.Bool

	subMu sync.Mutex
	subs  map[chan struct{}]struct{}

	fullFetches, deltas, notModified, mismatches, failures atomic.Uint64
	longPolling                                            atomic.Bool
	lastSuccess                                            atomic.Int64 // Unix nanoseconds
	lastError                                              atomic.Pointer[fetchError]
}

// fetchError is a failed fetch with its time.
type fetchError struct {
	err error
	at  time.Time
}

// New returns a cache reading through c. It fetches nothing until Run is
// called. A nil opts means DefaultOptions.
func New(c *client.Client, opts *Options) *Cache {
	var o Options
	if opts != nil {
		o = *opts
	}
	d := DefaultOptions()
	if o.FetchInterval <= 0 {
		o.FetchInterval = d.FetchInterval
	}
	if o.LongPollWait <= 0 {
		o.LongPollWait = d.LongPollWait
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = d.RetryDelay
	}
	if o.MaxBackoffMultiplier <= 0 {
		o.MaxBackoffMultiplier = d.MaxBackoffMultiplier
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cc := &Cache{
		c:             c,
		clock:         o.Clock,
		log:           o.Logger.With("component", "eureka-discovery"),
		fetchInterval: o.FetchInterval,
		longPollWait:  o.LongPollWait,
		longPoll:      !o.DisableLongPoll,
		delta:         !o.DisableDelta,
		retryDelay:    o.RetryDelay,
		maxBackoff:    o.FetchInterval * time.Duration(o.MaxBackoffMultiplier),
		zone:          o.Zone,
		region:        o.Region,
		regions:       slices.Clone(o.RemoteRegions),
		allStatuses:   o.AllStatuses,
		ready:         make(chan struct{}),
		subs:          make(map[chan struct{}]struct{}),
	}
	if len(o.RegionZones) > 0 {
		cc.zoneRegion = make(map[string]string)
		// In name order, the first region listing a zone keeps it: a
		// zone listed twice must not change region from run to run.
		for _, r := range slices.Sorted(maps.Keys(o.RegionZones)) {
			for _, z := range o.RegionZones[r] {
				if _, taken := cc.zoneRegion[z]; !taken {
					cc.zoneRegion[z] = r
				}
			}
		}
	}
	cc.snap.Store(cc.build(&eureka.Applications{}, nil))
	return cc
}

// Ready waits until the first full fetch has been installed, or ctx ends
// (then it returns ctx's error).
func (c *Cache) Ready(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	st := Stats{
		FullFetches:    c.fullFetches.Load(),
		Deltas:         c.deltas.Load(),
		NotModified:    c.notModified.Load(),
		HashMismatches: c.mismatches.Load(),
		Failures:       c.failures.Load(),
		LongPolling:    c.longPolling.Load(),
	}
	if ns := c.lastSuccess.Load(); ns != 0 {
		st.LastSuccess = time.Unix(0, ns)
	}
	if e := c.lastError.Load(); e != nil {
		st.LastError, st.LastErrorAt = e.err, e.at
	}
	return st
}

// Subscribe returns a channel that receives a value after the local view
// changed (instances added or removed, or an instance's status, metadata
// or other registered fields changed; lease timestamps alone do not
// count). Notifications coalesce: the channel holds at most one pending
// value and the cache never blocks on it, so a slow subscriber misses
// nothing but intermediate states — read Applications (or Instances…)
// after each receive for the current view. cancel stops the
// notifications and closes the channel; it may be called more than once.
func (c *Cache) Subscribe() (changes <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	c.subMu.Lock()
	c.subs[ch] = struct{}{}
	c.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			c.subMu.Lock()
			delete(c.subs, ch)
			close(ch)
			c.subMu.Unlock()
		})
	}
}

func (c *Cache) notify() {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// install swaps in a new view and tells subscribers when it changed.
func (c *Cache) install(apps *eureka.Applications, changed bool) {
	c.snap.Store(c.build(apps, c.snap.Load()))
	if changed {
		c.notify()
	}
}

// pollState is what Run carries from one fetch to the next.
type pollState struct {
	etag     string
	needFull bool
	// slowFull makes the full fetch after a failed delta (refused, or
	// not matching the hash code while plain polling) wait a fetch
	// interval before the next delta, as Eureka's client does.
	slowFull bool
	failures int
}

// Run keeps the cache current until ctx ends, then returns nil (or
// ErrRunning if called a second time). Failures are logged and retried
// with back-off, never returned.
//
// It fetches the full registry, then polls apps/delta: with an entity tag
// and a wait the server holds the request until something changes
// (eurekad's long-poll), so changes arrive within milliseconds. A server
// that sends no entity tag (Java Eureka) or answers a long-poll at once
// with 304 (eurekad with long-poll off) is polled every FetchInterval
// instead. Each delta is applied (ADDED and MODIFIED upsert, DELETED
// removes) and the apps hash code is recomputed over every held instance;
// a mismatch with the server's triggers a full fetch. A delta answered
// with a 4xx (deltas disabled on the server) is replaced by a full fetch,
// and the next delta waits a FetchInterval.
func (c *Cache) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	st := pollState{needFull: true}
	for ctx.Err() == nil {
		wait, err := c.step(ctx, &st)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			st.failures++
			c.failures.Add(1)
			c.lastError.Store(&fetchError{err: err, at: c.clock.Now()})
			c.longPolling.Store(false)
			wait = c.backoff(st.failures)
			c.log.Warn("registry fetch failed; backing off", "err", err, "retryIn", wait)
		} else {
			st.failures = 0
			c.lastSuccess.Store(c.clock.Now().UnixNano())
			c.lastError.Store(nil)
		}
		if wait <= 0 {
			continue
		}
		select {
		case <-ctx.Done():
		case <-c.clock.After(wait):
		}
	}
	return nil
}

// backoff is the wait after n consecutive failures.
func (c *Cache) backoff(n int) time.Duration {
	d := c.retryDelay
	for i := 1; i < n && d < c.maxBackoff; i++ {
		d *= 2
	}
	return min(d, c.maxBackoff)
}

// step does one fetch and returns how long to wait before the next.
func (c *Cache) step(ctx context.Context, st *pollState) (time.Duration, error) {
	if st.needFull {
		res, err := c.c.Poll(ctx, client.PollRequest{Regions: c.regions})
		if err != nil {
			return 0, fmt.Errorf("full fetch: %w", err)
		}
		if !c.delta {
			// Keep the entity tag: it starts the full-registry long-poll.
			st.etag = res.ETag
		}
		c.installFull(res.Apps)
		st.needFull = false
		if st.slowFull {
			st.slowFull = false
			return c.fetchInterval, nil
		}
		return 0, nil
	}

	req := client.PollRequest{Delta: c.delta, ETag: st.etag, Regions: c.regions}
	if c.longPoll && st.etag != "" {
		req.Wait = c.longPollWait
	}
	start := time.Now()
	res, err := c.c.Poll(ctx, req)
	if err != nil {
		var he *client.Error
		if req.Delta && errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 {
			// Eureka's client answers a failed delta with a full fetch.
			c.log.Info("delta refused; fetching the full registry", "status", he.StatusCode)
			st.needFull, st.slowFull = true, true
			return 0, nil
		}
		return 0, err
	}
	// A long-poll the server held for a good part of the wait.
	held := req.Wait > 0 && time.Since(start) >= min(req.Wait/2, 500*time.Millisecond)
	st.etag = res.ETag
	if res.NotModified {
		c.notModified.Add(1)
		if held {
			c.longPolling.Store(true)
			return 0, nil
		}
		if req.Wait > 0 {
			c.log.Debug("server answered a long-poll at once; polling every fetch interval", "interval", c.fetchInterval)
		}
		c.longPolling.Store(false)
		return c.fetchInterval, nil
	}
	// Decide how the next poll goes before the view changes, so a reader
	// woken by the change already sees Stats for this poll.
	polling, next := req.Wait > 0, time.Duration(0)
	switch {
	case !c.longPoll || res.ETag == "":
		// A Java Eureka server: no entity tags, no long-poll.
		polling, next = false, c.fetchInterval
	case res.ETag == req.ETag && !held:
		// Something between us and the server ignores If-None-Match.
		polling, next = false, c.fetchInterval
	}
	// Otherwise a change, or the first tagged answer: (re)start the
	// long-poll. A server without long-poll answers it with an immediate
	// 304, after which the loop falls back to FetchInterval.
	c.longPolling.Store(polling)
	if req.Delta {
		if !c.applyDelta(res.Apps) {
			st.needFull = true
			// Without a long-poll to pace the loop, a server whose hash
			// code never matches would otherwise be asked for a full
			// fetch and a delta back to back, forever.
			st.slowFull = !c.longPoll || res.ETag == ""
			return 0, nil
		}
	} else {
		c.installFull(res.Apps)
	}
	return next, nil
}

// installFull replaces the view with a full fetch.
func (c *Cache) installFull(apps *eureka.Applications) {
	old := c.snap.Load().apps
	c.install(apps, !sameApps(old, apps))
	c.fullFetches.Add(1)
	c.readyOnce.Do(func() { close(c.ready) })
	c.log.Debug("full registry fetched", "hashcode", apps.HashCode())
}

// applyDelta merges d into the view. It reports false, installing
// nothing, when the result's hash code differs from the server's.
func (c *Cache) applyDelta(d *eureka.Applications) bool {
	next, changed := merge(c.snap.Load().apps, d)
	if got := next.HashCode(); got != d.AppsHashcode {
		c.mismatches.Add(1)
		c.log.Info("apps hash code mismatch after delta; fetching the full registry", "local", got, "server", d.AppsHashcode)
		return false
	}
	next.AppsHashcode = d.AppsHashcode
	c.install(next, changed)
	c.deltas.Add(1)
	return true
}
