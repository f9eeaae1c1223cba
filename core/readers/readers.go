// Package readers tracks who reads the registry and what they hold: every
// full, delta or application fetch is a reader saying "I now hold version
// V". From that the server can tell how long a change takes to reach its
// consumers (a propagation histogram), which readers are behind, and when
// every active reader has seen a given change (a drain's confirmation).
//
// The read path records a fetch without a lock: readers live in a
// sync.Map, whose loads of existing keys do not lock, and a reader's
// fields are atomics, written only when they change. Memory is bounded:
// readers idle for IdleIntervals of their own fetch interval are forgotten,
// and past MaxReaders new readers are counted as dropped, not tracked.
package readers

import (
	"cmp"
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Versions is what the tracker compares readers against;
// *registry.Registry implements it.
type Versions interface {
	Version() uint64
	AppVersion(app string) uint64
}

// Options configure a Tracker. Zero fields take the defaults.
type Options struct {
	// MaxReaders caps the readers tracked; default 10,000.
	MaxReaders int
	// IdleIntervals is how many of its fetch intervals a reader may stay
	// silent before it is forgotten; default 4.
	IdleIntervals int
	// DefaultInterval is the fetch interval assumed of a reader seen only
	// once: Eureka's registryFetchIntervalSeconds, 30 s.
	DefaultInterval time.Duration
	// CommitRing is how many (version, time) pairs are kept to time
	// propagation; default 4096.
	CommitRing int
	// Observe, when set, receives each propagation time: one per reader
	// of the whole registry per change it fetched.
	Observe func(time.Duration)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// sameFetch is how close two fetches of one reader must be to count as
// one poll (a delta followed by the full fetch a hash mismatch asks for,
// or a client fetching JSON and XML); they do not move its interval.
const sameFetch = 100 * time.Millisecond

// Tracker records readers. Its methods are safe for concurrent use.
type Tracker struct {
	opts Options
	src  Versions
	seed maphash.Seed

	m         sync.Map // uint64 → *reader
	n         atomic.Int64
	dropped   atomic.Uint64
	forgotten atomic.Uint64

	ringMu sync.Mutex
	ring   []commit // ascending versions; a circular buffer from head
	head   int

	// advanced is closed and replaced whenever a reader's version moves,
	// waking drains.
	advanced atomic.Pointer[chan struct{}]
}

type commit struct {
	version uint64
	at      int64 // unix nanoseconds
}

// reader is one reader. Its identity is fixed at creation; the rest moves.
type reader struct {
	client, addr, agent, app string
	first                    int64

	version  atomic.Uint64
	last     atomic.Int64 // unix nanoseconds of the last fetch
	interval atomic.Int64 // EWMA of the fetch interval, ns; 0 until known
	fetches  atomic.Uint64
}

// New returns a tracker comparing readers against src.
func New(src Versions, opts Options) *Tracker {
	if opts.MaxReaders <= 0 {
		opts.MaxReaders = 10000
	}
	if opts.IdleIntervals <= 0 {
		opts.IdleIntervals = 4
	}
	if opts.DefaultInterval <= 0 {
		opts.DefaultInterval = 30 * time.Second
	}
	if opts.CommitRing <= 0 {
		opts.CommitRing = 4096
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := &Tracker{opts: opts, src: src, seed: maphash.MakeSeed(), ring: make([]commit, 0, opts.CommitRing)}
	ch := make(chan struct{})
	t.advanced.Store(&ch)
	return t
}

// Fetch is one read as the HTTP layer saw it.
type Fetch struct {
	// Client is the X-Eurekad-Client header; when set it names the
	// reader, otherwise the remote IP and User-Agent do.
	Client string
	// RemoteAddr is "ip:port"; the port is ignored.
	RemoteAddr string
	UserAgent  string
	// App is the application of an application fetch, "" for a full or
	// delta fetch (which carry the whole registry).
	App string
	// Version is the registry version of the payload answered (or
	// matched by a 304).
	Version uint64
}

// Seen records a fetch. It allocates only for a reader seen first.
func (t *Tracker) Seen(f Fetch) {
	ip := hostOf(f.RemoteAddr)
	var h maphash.Hash
	h.SetSeed(t.seed)
	if f.Client != "" {
		h.WriteString(f.Client)
		h.WriteByte(0)
	} else {
		h.WriteString(ip)
		h.WriteByte(0)
		h.WriteString(f.UserAgent)
		h.WriteByte(0)
	}
	h.WriteString(f.App)
	key := h.Sum64()

	now := t.opts.Now().UnixNano()
	v, ok := t.m.Load(key)
	if !ok {
		t.add(key, ip, f, now)
		return
	}
	rd := v.(*reader)
	if last := rd.last.Load(); now-last >= int64(sameFetch) {
		// A new poll: fold its distance from the last into the interval.
		if rd.last.CompareAndSwap(last, now) {
			rd.fetches.Add(1)
			sample := now - last
			if iv := rd.interval.Load(); iv == 0 {
				rd.interval.Store(sample)
			} else {
				rd.interval.Store(iv + (sample-iv)/4)
			}
		}
	} else if now-last > int64(time.Millisecond) {
		rd.last.Store(now)
	}
	for {
		old := rd.version.Load()
		if f.Version <= old {
			return
		}
		if rd.version.CompareAndSwap(old, f.Version) {
			t.advance(rd, old, f.Version, now)
			return
		}
	}
}

// add starts tracking a reader, unless the cap is reached.
func (t *Tracker) add(key uint64, ip string, f Fetch, now int64) {
	if t.n.Add(1) > int64(t.opts.MaxReaders) {
		t.n.Add(-1)
		t.dropped.Add(1)
		return
	}
	rd := &reader{client: f.Client, addr: ip, agent: f.UserAgent, app: f.App, first: now}
	rd.version.Store(f.Version)
	rd.last.Store(now)
	rd.fetches.Store(1)
	if _, loaded := t.m.LoadOrStore(key, rd); loaded {
		t.n.Add(-1)
		t.Seen(f)
		return
	}
	// A first fetch says what the reader holds but not what it was
	// missing: it is no propagation observation. It may still be the
	// first sign of a version.
	t.noteVersion(f.Version, now)
	t.wake()
}

// advance notes that rd moved from version old to v at now: each change in
// between reached it now.
func (t *Tracker) advance(rd *reader, old, v uint64, now int64) {
	t.noteVersion(v, now)
	if rd.app == "" && t.opts.Observe != nil {
		t.ringMu.Lock()
		var waits []time.Duration
		t.ringRange(old, v, func(c commit) { waits = append(waits, time.Duration(now-c.at)) })
		t.ringMu.Unlock()
		for _, d := range waits {
			t.opts.Observe(max(d, 0))
		}
	}
	t.wake()
}

func (t *Tracker) wake() {
	next := make(chan struct{})
	close(*t.advanced.Swap(&next))
}

// Committed notes that version v became visible at at. The server calls it
// when the registry announces a change; a reader fetching a version not
// yet noted notes it too, so the first sign of a version gives its time.
func (t *Tracker) Committed(v uint64, at time.Time) { t.noteVersion(v, at.UnixNano()) }

func (t *Tracker) noteVersion(v uint64, at int64) {
	t.ringMu.Lock()
	defer t.ringMu.Unlock()
	if n := len(t.ring); n > 0 && t.ring[(t.head+n-1)%cap(t.ring)].version >= v {
		return
	}
	if len(t.ring) < cap(t.ring) {
		t.ring = append(t.ring, commit{v, at})
		return
	}
	t.ring[t.head] = commit{v, at}
	t.head = (t.head + 1) % cap(t.ring)
}

// ringRange calls fn for each noted commit with old < version <= v, oldest
// first; the caller holds ringMu.
func (t *Tracker) ringRange(old, v uint64, fn func(commit)) {
	n := len(t.ring)
	i := sortSearch(n, func(i int) bool { return t.ring[(t.head+i)%cap(t.ring)].version > old })
	for ; i < n; i++ {
		c := t.ring[(t.head+i)%cap(t.ring)]
		if c.version > v {
			return
		}
		fn(c)
	}
}

func sortSearch(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !f(m) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// firstAfter returns the time of the oldest noted commit above v, 0 if
// none is known.
func (t *Tracker) firstAfter(v uint64) int64 {
	t.ringMu.Lock()
	defer t.ringMu.Unlock()
	var at int64
	t.ringRange(v, ^uint64(0), func(c commit) {
		if at == 0 {
			at = c.at
		}
	})
	return at
}

// hostOf is the host part of "host:port" without allocating.
func hostOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			addr = addr[:i]
			break
		}
		if addr[i] < '0' || addr[i] > '9' {
			break
		}
	}
	if len(addr) > 1 && addr[0] == '[' && addr[len(addr)-1] == ']' {
		addr = addr[1 : len(addr)-1]
	}
	return addr
}

// intervalOf is rd's fetch interval, or the default when not yet known.
func (t *Tracker) intervalOf(rd *reader) time.Duration {
	if iv := rd.interval.Load(); iv > 0 {
		return time.Duration(iv)
	}
	return t.opts.DefaultInterval
}

// activeAt reports whether rd fetched within two of its intervals of at.
func (t *Tracker) activeAt(rd *reader, at int64) bool {
	return at-rd.last.Load() <= int64(2*t.intervalOf(rd))
}

// Sweep forgets the readers idle for IdleIntervals of their interval.
func (t *Tracker) Sweep() {
	now := t.opts.Now().UnixNano()
	t.m.Range(func(k, v any) bool {
		rd := v.(*reader)
		if now-rd.last.Load() > int64(t.opts.IdleIntervals)*int64(t.intervalOf(rd)) {
			if t.m.CompareAndDelete(k, v) {
				t.n.Add(-1)
				t.forgotten.Add(1)
			}
		}
		return true
	})
}

// Stats counts the readers tracked, dropped at the cap and forgotten when
// idle.
type Stats struct {
	Tracked   int    `json:"tracked"`
	Dropped   uint64 `json:"dropped"`
	Forgotten uint64 `json:"forgotten"`
}

// Stats reports the tracker's counts.
func (t *Tracker) Stats() Stats {
	return Stats{Tracked: int(t.n.Load()), Dropped: t.dropped.Load(), Forgotten: t.forgotten.Load()}
}

// View is one reader as the admin API shows it.
type View struct {
	// Name identifies the reader: its client id, or address and agent.
	Name      string `json:"name"`
	Client    string `json:"client,omitempty"`
	Addr      string `json:"addr"`
	UserAgent string `json:"userAgent"`
	// App is the application an application reader fetches; "" for a
	// reader of the whole registry.
	App       string    `json:"app,omitempty"`
	Version   uint64    `json:"version"`
	LastFetch time.Time `json:"lastFetch"`
	// IntervalSeconds is the fetch interval (a moving average); 0 while
	// the reader was seen once.
	IntervalSeconds float64 `json:"intervalSeconds"`
	Fetches         uint64  `json:"fetches"`
	// Active says the reader fetched within two of its intervals.
	Active bool `json:"active"`
	// Behind says the registry (or its application) changed after the
	// version the reader holds; LagSeconds is how long ago the oldest
	// such change was made, 0 when it is current.
	Behind     bool    `json:"behind"`
	LagSeconds float64 `json:"lagSeconds"`
}

func (t *Tracker) view(rd *reader, now int64, current uint64) View {
	v := View{Client: rd.client, Addr: rd.addr, UserAgent: rd.agent, App: rd.app,
		Version: rd.version.Load(), LastFetch: time.Unix(0, rd.last.Load()),
		IntervalSeconds: time.Duration(rd.interval.Load()).Seconds(), Fetches: rd.fetches.Load(),
		Active: t.activeAt(rd, now)}
	v.Name = rd.client
	if v.Name == "" {
		v.Name = rd.addr + " " + rd.agent
	}
	if rd.app != "" {
		v.Name += " [" + rd.app + "]"
	}
	if v.Version < current {
		v.Behind = true
		if at := t.firstAfter(v.Version); at != 0 {
			v.LagSeconds = time.Duration(max(now-at, 0)).Seconds()
		}
	}
	return v
}

// currentFor is the version a reader of app must hold to be current.
func (t *Tracker) currentFor(app string) uint64 {
	if app == "" {
		return t.src.Version()
	}
	return t.src.AppVersion(app)
}

// Readers lists the readers tracked, most behind first, then by name.
func (t *Tracker) Readers() []View {
	t.Sweep()
	now := t.opts.Now().UnixNano()
	var out []View
	t.m.Range(func(_, v any) bool {
		rd := v.(*reader)
		out = append(out, t.view(rd, now, t.currentFor(rd.app)))
		return true
	})
	slices.SortFunc(out, func(a, b View) int {
		if c := cmp.Compare(b.LagSeconds, a.LagSeconds); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// Confirmation is the outcome of Await.
type Confirmation struct {
	// Version is the version each reader had to reach.
	Version uint64 `json:"version"`
	// Confirmed are the readers that fetched it; Pending those that had
	// not when the wait ended.
	Confirmed []View `json:"confirmed"`
	Pending   []View `json:"pending"`
	// Elapsed is how long the wait took.
	ElapsedSeconds float64 `json:"elapsedSeconds"`
}

// Await waits until every reader concerned by a change to app ("" for any
// application) that was active at since, the time of the change, holds
// version v or later, or until ctx ends. Readers of other applications are
// not concerned; readers idle at since are not waited for. Pending is
// empty when every reader confirmed.
func (t *Tracker) Await(ctx context.Context, app string, v uint64, since time.Time) Confirmation {
	at := since.UnixNano()
	var waiting []*reader
	t.m.Range(func(_, x any) bool {
		rd := x.(*reader)
		if (rd.app == "" || app == "" || rd.app == app) && t.activeAt(rd, at) {
			waiting = append(waiting, rd)
		}
		return true
	})
	behind := func(rd *reader) bool { return rd.version.Load() < v }
	for done := false; !done; {
		// Load the channel before looking, so an advance in between
		// still wakes the wait.
		ch := *t.advanced.Load()
		if !slices.ContainsFunc(waiting, behind) {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			done = true
		}
	}
	now := t.opts.Now().UnixNano()
	c := Confirmation{Version: v, Confirmed: []View{}, Pending: []View{}, ElapsedSeconds: time.Duration(max(now-at, 0)).Seconds()}
	for _, rd := range waiting {
		vw := t.view(rd, now, v)
		if vw.Version >= v {
			c.Confirmed = append(c.Confirmed, vw)
		} else {
			c.Pending = append(c.Pending, vw)
		}
	}
	byName := func(a, b View) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(c.Confirmed, byName)
	slices.SortFunc(c.Pending, byName)
	return c
}
