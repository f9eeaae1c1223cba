// Package guard is the host's policy around any hook.Authenticator, in
// process or a plugin: a deadline on every call, a short-lived decision
// cache so heartbeats do not reach the authenticator each time, single
// flight on misses, and fail-closed behaviour when the authenticator fails.
//
// Decisions are cached per credential, operation, application and
// namespace: the key is a 128-bit keyed hash (two hash/maphash sums with
// secret per-process seeds) of the basic-auth user and password, the bearer
// token, the TLS certificate fingerprint, the operation, the app and the
// namespace, so no credential is
// kept in the cache. Allows are kept AllowTTL, denials DenyTTL; failures of
// the authenticator are never cached. A hit reads one of 32
// copy-on-write shards without a lock and allocates nothing.
//
// Each client address (an IPv6 one by its /64) may make FailureBurst
// authentications that end in 401 (wrong or unknown credentials), refilled
// at FailureRate a second; requests in flight count until they are
// decided. Beyond that its requests that miss the cache get
// hook.ErrThrottled (429) without calling the authenticator, so guessing
// passwords costs the server no bcrypt work. Cached decisions are never
// throttled, nor are credentials allowed in the last ten minutes, so
// guessers behind the same address (a NAT, a proxy) cannot lock out the
// clients that heartbeat there.
//
// When the authenticator errors or times out, Authenticate returns an error
// wrapping ErrUnavailable (httpd answers 503) for every write, and for reads
// too unless FailOpenReads is set, in which case reads are let through as
// the principal FailOpenPrincipal.
//
// The package imports only sdk/hook, internal/counter and golang.org/x.
package guard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/eurekad/eurekad/internal/counter"
	"github.com/eurekad/eurekad/sdk/hook"
)

// Options configures a Guard. A nil *Options means DefaultOptions.
type Options struct {
	// Timeout bounds one call of the authenticator; it must be positive
	// (New replaces 0 by the default).
	Timeout time.Duration `config:"timeout" help:"deadline of one authenticator call"`
	// AllowTTL is how long an allow decision is reused; 0 disables caching
	// of allows.
	AllowTTL time.Duration `config:"allow_ttl" help:"how long an allow decision is cached (0: not cached)"`
	// DenyTTL is how long a 401 or 403 decision is reused; 0 disables
	// caching of denials.
	DenyTTL time.Duration `config:"deny_ttl" help:"how long a 401/403 decision is cached (0: not cached)"`
	// MaxEntries bounds the cache; 0 means the default.
	MaxEntries int `config:"max_entries" help:"most decisions kept in the cache (0: 16384)"`
	// FailureRate and FailureBurst bound, per client address, the
	// authentications that end in 401: a token bucket of FailureBurst
	// refilled at FailureRate per second. FailureRate 0 turns it off.
	FailureRate  float64 `config:"failure_rate" help:"401 decisions per second a client address may keep making before its uncached requests get 429 (0: no limit)"`
	FailureBurst int     `config:"failure_burst" help:"401 decisions a client address may make at once before the failure_rate applies"`
	// FailOpenReads lets reads through when the authenticator fails or
	// times out; writes always fail closed.
	FailOpenReads bool `config:"fail_open_reads" help:"serve reads when the authenticator fails (writes always fail closed)"`
	// Logger receives authenticator failures; nil discards them.
	Logger *slog.Logger `config:"-"`
}

// DefaultOptions returns the guard defaults.
func DefaultOptions() Options {
	return Options{
		Timeout:      2 * time.Second,
		AllowTTL:     10 * time.Second,
		DenyTTL:      2 * time.Second,
		MaxEntries:   16384,
		FailureRate:  5,
		FailureBurst: 50,
	}
}

// Validate reports a setting out of range.
func (o *Options) Validate() error {
	switch {
	case o.Timeout <= 0:
		return fmt.Errorf("guard: timeout must be positive, got %v", o.Timeout)
	case o.AllowTTL < 0 || o.DenyTTL < 0:
		return fmt.Errorf("guard: cache TTLs must not be negative")
	case o.MaxEntries < 0:
		return fmt.Errorf("guard: max_entries must not be negative, got %d", o.MaxEntries)
	case o.FailureRate < 0:
		return fmt.Errorf("guard: failure_rate must not be negative, got %v", o.FailureRate)
	case o.FailureRate > 0 && o.FailureBurst < 1:
		return fmt.Errorf("guard: failure_burst must be at least 1 with a failure_rate, got %d", o.FailureBurst)
	}
	return nil
}

// ErrUnavailable is wrapped by the error Authenticate returns when the
// authenticator failed or timed out and the request fails closed.
var ErrUnavailable = errors.New("authenticator unavailable")

// FailOpenPrincipal is the principal of a read let through while the
// authenticator fails (FailOpenReads).
const FailOpenPrincipal = "fail-open"

const shardCount = 32

// Guard wraps an Authenticator. It is itself a hook.Authenticator and is
// safe for concurrent use.
type Guard struct {
	auth  hook.Authenticator
	opts  Options
	log   *slog.Logger
	seeds [2]maphash.Seed
	start time.Time
	// clock replaces the monotonic clock in tests.
	clock func() int64

	shards  [shardCount]shard
	flights singleflight.Group
	fails   failures
	// good holds the keys allowed lately (expiry, ns): they skip fails.
	goodMu sync.Mutex
	good   map[key]int64

	// hits is striped: every cache hit adds to it, concurrently.
	hits                                                             counter.Sharded
	misses, allowed, unauthenticated, forbidden, failures, throttled atomic.Uint64
}

// shard is copy-on-write: readers load the map without a lock, writers
// (cache misses) copy it under mu.
type shard struct {
	mu sync.Mutex
	m  atomic.Pointer[map[key]*entry]
	_  [48]byte // keep shards on separate cache lines
}

type key [2]uint64

// entry is an immutable cached decision.
type entry struct {
	p       hook.Principal
	err     error
	expires int64 // ns since Guard.start
}

// New wraps a. A nil opts means DefaultOptions; invalid options are
// replaced by their defaults field by field (call Options.Validate first to
// reject them instead).
func New(a hook.Authenticator, opts *Options) *Guard {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	d := DefaultOptions()
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = d.MaxEntries
	}
	o.AllowTTL, o.DenyTTL = max(o.AllowTTL, 0), max(o.DenyTTL, 0)
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.FailureRate < 0 {
		o.FailureRate = d.FailureRate
	}
	if o.FailureRate > 0 && o.FailureBurst < 1 {
		o.FailureBurst = d.FailureBurst
	}
	g := &Guard{auth: a, opts: o, log: o.Logger, start: time.Now(), good: map[key]int64{}}
	g.fails = failures{rate: o.FailureRate, burst: float64(o.FailureBurst), max: maxAddresses, now: g.now}
	g.seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].m.Store(&map[key]*entry{})
	}
	return g
}

func (g *Guard) now() int64 {
	if g.clock != nil {
		return g.clock()
	}
	return int64(time.Since(g.start))
}

// keyOf hashes what a decision may depend on, once per seed. The fields
// are laid out with their lengths in front (so they cannot run into each
// other) in a stack buffer and hashed in one call per seed; requests too
// large for the buffer hash field by field. A maphash.Hash per seed would
// need no split, but made a cache hit 25-85% slower.
func (g *Guard) keyOf(req *hook.AuthRequest) key {
	var buf [256]byte
	b := buf[:0]
	fields := [...]string{string(req.Operation), req.App, req.Namespace, req.Username, req.Password, req.BearerToken, ""}
	if req.TLS != nil {
		fields[6] = req.TLS.SHA256
		b = append(b, 1)
	}
	fit := true
	for _, f := range fields {
		if len(b)+binary.MaxVarintLen64+len(f) > len(buf) {
			fit = false
			break
		}
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	var k key
	for i := range k {
		if fit {
			k[i] = maphash.Bytes(g.seeds[i], b)
			continue
		}
		h := uint64(len(b))
		if req.TLS != nil {
			h = ^h
		}
		for _, f := range fields {
			h = mix(h, maphash.String(g.seeds[i], f))
		}
		k[i] = h
	}
	return k
}

// mix folds the next field's hash into h, position-dependently.
func mix(h, next uint64) uint64 {
	return bits.RotateLeft64(h*0x9e3779b97f4a7c15, 31) ^ next
}

// Authenticate decides req from the cache or, on a miss, by calling the
// wrapped authenticator once for all concurrent callers with the same key.
// It does not keep req or its strings after it returns.
func (g *Guard) Authenticate(ctx context.Context, req *hook.AuthRequest) (hook.Principal, error) {
	k := g.keyOf(req)
	sh := &g.shards[k[0]%shardCount]
	e := (*sh.m.Load())[k]
	if e != nil && g.now() < e.expires {
		g.hits.Inc()
		return e.p, e.err
	}
	g.misses.Add(1)
	if g.fails.rate == 0 || g.known(k) {
		return g.miss(ctx, req, k, sh)
	}
	if !g.fails.take(req.RemoteAddr) {
		g.throttled.Add(1)
		return hook.Principal{}, hook.ErrThrottled
	}
	p, err := g.miss(ctx, req, k, sh)
	if !errors.Is(err, hook.ErrUnauthenticated) {
		g.fails.refund(req.RemoteAddr)
	}
	return p, err
}

// known reports whether k was allowed within knownTTL: such a caller
// (a heartbeat, say, whose allow has just expired) is not throttled, so
// guessers sharing its address cannot lock it out.
func (g *Guard) known(k key) bool {
	g.goodMu.Lock()
	defer g.goodMu.Unlock()
	exp, ok := g.good[k]
	return ok && g.now() < exp
}

// remember records an allowed key for known, bounded like the cache.
func (g *Guard) remember(k key) {
	if g.fails.rate == 0 {
		return
	}
	now := g.now()
	g.goodMu.Lock()
	defer g.goodMu.Unlock()
	if len(g.good) >= g.opts.MaxEntries {
		for gk, exp := range g.good {
			if exp <= now {
				delete(g.good, gk)
			}
		}
		if len(g.good) >= g.opts.MaxEntries {
			clear(g.good) // a flood of valid credentials: start again
		}
	}
	g.good[k] = now + int64(knownTTL)
}

// knownTTL is how long an allowed credential is exempt from throttling:
// longer than a heartbeat interval (30 s) and an allow's cache life.
const knownTTL = 10 * time.Minute

type result struct {
	p   hook.Principal
	err error
}

func (g *Guard) miss(ctx context.Context, req *hook.AuthRequest, k key, sh *shard) (hook.Principal, error) {
	// The flight outlives a caller that gives up, so it works on a copy
	// whose strings the caller cannot reuse, on a context that keeps the
	// caller's values but not its cancellation.
	own := cloneRequest(req)
	fctx := context.WithoutCancel(ctx)
	var kb [16]byte
	binary.LittleEndian.PutUint64(kb[:8], k[0])
	binary.LittleEndian.PutUint64(kb[8:], k[1])
	ch := g.flights.DoChan(string(kb[:]), func() (any, error) {
		// A flight for this key may have finished between our lookup and
		// this one; its decision is in the cache by now.
		if e := (*sh.m.Load())[k]; e != nil && g.now() < e.expires {
			return result{p: e.p, err: e.err}, nil
		}
		return g.decide(fctx, own, k, sh), nil
	})
	var res result
	select {
	case v := <-ch:
		res = v.Val.(result)
	case <-ctx.Done():
		res = result{err: fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())}
	}
	if errors.Is(res.err, ErrUnavailable) && !req.Operation.IsWrite() && g.opts.FailOpenReads {
		return hook.Principal{Name: FailOpenPrincipal}, nil
	}
	return res.p, res.err
}

// decide calls the authenticator under the deadline and caches its
// decision.
func (g *Guard) decide(ctx context.Context, req *hook.AuthRequest, k key, sh *shard) result {
	ctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	defer cancel()
	p, err := g.call(ctx, req)
	var ttl time.Duration
	switch {
	case err == nil:
		g.allowed.Add(1)
		g.remember(k)
		ttl = g.opts.AllowTTL
	case errors.Is(err, hook.ErrUnauthenticated):
		g.unauthenticated.Add(1)
		ttl, err = g.opts.DenyTTL, hook.ErrUnauthenticated
	case errors.Is(err, hook.ErrForbidden):
		g.forbidden.Add(1)
		ttl, err = g.opts.DenyTTL, hook.ErrForbidden
	case errors.Is(err, hook.ErrThrottled):
		// The authenticator's own limit: a decision, not a failure (no
		// fail-open read), and not cached.
		g.throttled.Add(1)
		return result{err: hook.ErrThrottled}
	default:
		g.failures.Add(1)
		g.log.Warn("authenticator failed", "op", req.Operation, "app", req.App, "err", err)
		return result{err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	if ttl > 0 {
		g.store(sh, k, &entry{p: p, err: err, expires: g.now() + int64(ttl)})
	}
	return result{p: p, err: err}
}

// call runs the authenticator, turning a panic into a failure.
func (g *Guard) call(ctx context.Context, req *hook.AuthRequest) (p hook.Principal, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("authenticator panicked: %v", v)
		}
	}()
	return g.auth.Authenticate(ctx, req)
}

// store caches e in a copy of the shard's map, leaving out expired entries
// and, when the shard is full, arbitrary ones.
func (g *Guard) store(sh *shard, k key, e *entry) {
	limit := max(1, g.opts.MaxEntries/shardCount)
	now := g.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := *sh.m.Load()
	m := make(map[key]*entry, min(len(old)+1, limit))
	for ok, v := range old {
		if len(m) >= limit-1 {
			break
		}
		if ok != k && v.expires > now {
			m[ok] = v
		}
	}
	m[k] = e
	sh.m.Store(&m)
}

// Purge forgets every cached decision, for instance after the
// authenticator's configuration changed.
func (g *Guard) Purge() {
	for i := range g.shards {
		sh := &g.shards[i]
		sh.mu.Lock()
		sh.m.Store(&map[key]*entry{})
		sh.mu.Unlock()
	}
}

func cloneRequest(r *hook.AuthRequest) *hook.AuthRequest {
	c := *r
	c.App = strings.Clone(r.App)
	c.Instance = strings.Clone(r.Instance)
	c.Method = strings.Clone(r.Method)
	c.Path = strings.Clone(r.Path)
	c.RemoteAddr = strings.Clone(r.RemoteAddr)
	c.Username = strings.Clone(r.Username)
	c.Password = strings.Clone(r.Password)
	c.BearerToken = strings.Clone(r.BearerToken)
	if r.TLS != nil {
		t := *r.TLS
		c.TLS = &t
	}
	return &c
}

// Stats are the guard's counters since it was made.
type Stats struct {
	// Hits and Misses count cache lookups.
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
	// Allowed, Unauthenticated, Forbidden and Errors count the decisions
	// of the wrapped authenticator (calls, not cache hits).
	Allowed         uint64 `json:"allowed"`
	Unauthenticated uint64 `json:"unauthenticated"`
	Forbidden       uint64 `json:"forbidden"`
	Errors          uint64 `json:"errors"`
	// Throttled counts requests refused with ErrThrottled.
	Throttled uint64 `json:"throttled"`
	// Entries is the number of cached decisions now.
	Entries int `json:"entries"`
}

// Stats returns the counters.
func (g *Guard) Stats() Stats {
	st := Stats{
		Hits:            g.hits.Load(),
		Misses:          g.misses.Load(),
		Allowed:         g.allowed.Load(),
		Unauthenticated: g.unauthenticated.Load(),
		Forbidden:       g.forbidden.Load(),
		Errors:          g.failures.Load(),
		Throttled:       g.throttled.Load(),
	}
	for i := range g.shards {
		st.Entries += len(*g.shards[i].m.Load())
	}
	return st
}

// Interface guard.
var _ hook.Authenticator = (*Guard)(nil)
