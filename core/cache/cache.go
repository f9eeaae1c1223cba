// Package cache is eurekad's response cache: encoded registry payloads
// (JSON and XML, each with its gzip form) built once per registry version and
// served as bytes (docs/protocol.md §5).
//
// Two layers as in Eureka: a read-write layer whose entries are stale once
// the registry version they were built from moves (or AutoExpiration has
// passed), and, in ModeEureka, a read-only layer copied from it every
// UpdateInterval. In ModeFresh readers are served from the read-write layer,
// rebuilt at most once per key per MinRebuildInterval, so a change is visible
// within milliseconds while a write storm costs one rebuild per interval.
//
// The cache reads the registry through Source and imports no server package.
// The read path takes no lock: one atomic load finds the key's slot, another
// its payload, and a version comparison decides freshness.
package cache

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/eurekad/eurekad/internal/counter"
	"github.com/eurekad/eurekad/internal/histogram"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Source is what the cache reads from; *registry.Registry implements it.
type Source interface {
	// Version increases on every change visible to readers.
	Version() uint64
	// AppVersion is the Version of the named application's last change.
	AppVersion(app string) uint64
	Applications() *eureka.Applications
	Delta() *eureka.Applications
	// Application returns nil for an application with no instances.
	Application(name string) *eureka.Application
	VIP(vip string, secure bool) *eureka.Applications
	// Changes returns a channel closed at the next change visible to
	// readers.
	Changes() <-chan struct{}
}

// Entity is the kind of payload a key names.
type Entity uint8

// The cached entities.
const (
	EntityApps  Entity = iota // GET apps
	EntityDelta               // GET apps/delta
	EntityApp                 // GET apps/{name}
	EntityVIP                 // GET vips/{name}
	EntitySVIP                // GET svips/{name}
)

// Format is the encoding of a payload.
type Format uint8

// The payload formats.
const (
	JSON Format = iota
	XML
)

// Key names one cached payload. Eureka's key also has the API version
// (V1/V2), full/compact and remote regions; eurekad serves the same full V2
// bytes for every version and form, so they are not part of the key, and
// payloads merged with remote regions are core/regions' own.
type Key struct {
	Entity Entity
	Name   string // application name (upper case) or VIP; empty otherwise
	Format Format
}

// Payload is one encoded response. It is immutable once returned.
//
// A payload of the whole registry (apps, delta, VIPs) is encoded straight
// into its gzip form, a chunk at a time, and the plain form is inflated
// from it only if a client asks for it: clients fetch with gzip (the Java
// client, Go's net/http), and keeping both forms of a 100,000-instance
// registry would hold about 100 MB more. A payload of one application is
// encoded plain and compressed on first use.
type Payload struct {
	// ETag is a strong entity tag of the plain body, quoted.
	ETag string

	found   bool
	version uint64 // registry version the payload was built from
	built   time.Time
	// behind: built while expired runs of it were left for later builds
	// (assembler.backlog, Cache.refreshLater).
	behind bool
	cost   time.Duration // how long building it took
	// changeCost is the part of cost spent on what changed since the
	// last build (assembled payloads only): every change is paid for once
	// however often the key is rebuilt, so a longer interval would not
	// save it, only make readers wait.
	changeCost time.Duration

	plainOnce sync.Once
	plain     Representation
	gzOnce    sync.Once
	gz        Representation
}

// Representation is one encoding of a payload with the values of its
// ETag and Content-Length headers, computed once so serving allocates
// nothing per request. Treat every field as read-only.
type Representation struct {
	// Body is the whole body, or nil when Parts holds it.
	Body []byte
	// Parts is the body in pieces, in order, in blocks of pieces: an
	// assembled payload is built from its runs' bytes, which it shares
	// with the payloads built after it, and is served from them (WriteTo)
	// without being joined. A block is shared too, until a run in it
	// changes: a list of every run's bytes cost a build a copy of 20,000
	// slices at 1,000,000 instances.
	Parts  [][][]byte
	ETag   []string
	Length []string
}

func newRepresentation(body []byte, etag string) Representation {
	return Representation{Body: body, ETag: []string{etag}, Length: []string{strconv.Itoa(len(body))}}
}

func newPartsRepresentation(parts [][][]byte, n int, etag string) Representation {
	return Representation{Parts: parts, ETag: []string{etag}, Length: []string{strconv.Itoa(n)}}
}

// WriteTo writes the body to w: Parts a batch at a time, each copied
// into a buffer of writeBatch bytes kept between calls. Joining the parts
// once per payload allocated the whole body again for every version served
// (19 MB at 1,000,000 instances, each build under churn), and writing
// them one by one cost a syscall each (85 µs a fetch of 1,000 instances
// against 30).
func (r *Representation) WriteTo(w io.Writer) (int64, error) {
	if r.Parts == nil {
		n, err := w.Write(r.Body)
		return int64(n), err
	}
	bp := batchPool.Get().(*[]byte)
	defer batchPool.Put(bp)
	var total int64
	write := func(b []byte) error {
		n, err := w.Write(b)
		total += int64(n)
		return err
	}
	buf := (*bp)[:0]
	for _, block := range r.Parts {
		for _, p := range block {
			if len(buf)+len(p) > cap(buf) && len(buf) > 0 {
				if err := write(buf); err != nil {
					return total, err
				}
				buf = buf[:0]
			}
			if len(p) >= cap(buf) {
				// As large as a batch: no copy saves a syscall.
				if err := write(p); err != nil {
					return total, err
				}
				continue
			}
			buf = append(buf, p...)
		}
	}
	if len(buf) > 0 {
		return total, write(buf)
	}
	return total, nil
}

// writeBatch is how many bytes of Parts WriteTo writes at once.
const writeBatch = 128 << 10

var batchPool = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBatch)
	return &b
}}

// Found is false when the payload names an application that has no
// instances (a 404).
func (p *Payload) Found() bool { return p.found }

// Version is the registry version the payload was built from: a reader
// answered with it (or whose If-None-Match matches it) holds every change
// up to that version.
func (p *Payload) Version() uint64 { return p.version }

// Plain returns the uncompressed representation.
func (p *Payload) Plain() *Representation {
	p.plainOnce.Do(func() {
		body, err := gunzip(p.gz.reader(), p.gz.trailerSize())
		if err != nil {
			// Our own gzip output: this cannot fail short of memory
			// corruption.
			panic("cache: inflating a cached payload: " + err.Error())
		}
		p.plain = newRepresentation(body, p.ETag)
	})
	return &p.plain
}

// Gzip returns the gzip representation. Its entity tag differs from the
// plain one's, as a strong tag must.
func (p *Payload) Gzip() *Representation {
	p.gzOnce.Do(func() {
		raw := p.plain.Body
		var b bytes.Buffer
		b.Grow(len(raw)/6 + 64)
		w := getGzip(&b)
		w.Write(raw)
		w.Close()
		putGzip(w)
		p.gz = newRepresentation(b.Bytes(), gzipETag(p.ETag))
	})
	return &p.gz
}

func gzipETag(etag string) string { return etag[:len(etag)-1] + `-gzip"` }

// reader returns a reader of the body, which it does not join.
func (r *Representation) reader() io.Reader {
	if r.Parts == nil {
		return bytes.NewReader(r.Body)
	}
	var rs []io.Reader
	for _, block := range r.Parts {
		for _, p := range block {
			rs = append(rs, bytes.NewReader(p))
		}
	}
	return io.MultiReader(rs...)
}

// trailerSize returns the plain size a gzip body's trailer gives (modulo
// 2^32), 0 if it is too short to have one.
func (r *Representation) trailerSize() int {
	last := r.Body
	if r.Parts != nil {
		block := r.Parts[len(r.Parts)-1]
		last = block[len(block)-1]
	}
	if len(last) < 4 {
		return 0
	}
	return int(binary.LittleEndian.Uint32(last[len(last)-4:]))
}

func gunzip(r io.Reader, size int) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(make([]byte, 0, size+512))
	if _, err := out.ReadFrom(zr); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// gzip writers hold about a megabyte of state each: reuse them.
var gzipPool sync.Pool

func getGzip(w io.Writer) *gzip.Writer {
	if z, ok := gzipPool.Get().(*gzip.Writer); ok {
		z.Reset(w)
		return z
	}
	return gzip.NewWriter(w)
}

func putGzip(z *gzip.Writer) { gzipPool.Put(z) }

// Cache is the response cache. Its methods are safe for concurrent use.
type Cache struct {
	src  Source
	opts Options
	log  *slog.Logger

	slots atomic.Pointer[map[Key]*slot]
	addMu sync.Mutex

	// full holds the per-application pieces of the full payload, by
	// format; nil when the source cannot list applications by version.
	full [2]*assembler
	// delta holds the delta's per-instance pieces; nil when the source
	// cannot list its delta queue.
	delta *deltaAssembler

	deltaVersion atomic.Int64

	builds atomic.Uint64
	// buildNanos is the wall time spent building payloads, so a benchmark
	// can tell rebuilding from serving in the server's CPU.
	buildNanos atomic.Int64
	// costs are the build times by entity.
	costs [EntitySVIP + 1]histogram.Durations
	hits  counter.Sharded
}

type slot struct {
	key Key
	rw  atomic.Pointer[Payload]
	ro  atomic.Pointer[Payload]
	// checked is the registry version at which rw was last found current:
	// it spares app keys the registry lock on every read.
	checked atomic.Uint64

	buildMu   sync.Mutex
	scheduled atomic.Bool
	// refreshing: a refresh of expired runs is pending (refreshLater).
	refreshing atomic.Bool
	// turnedAway: a reader found a rebuild under way (tryBuild).
	turnedAway atomic.Bool
	sizeHint   atomic.Int64
	// read is when a reader last asked for the payload (UnixNano, kept
	// for EntityApps only, at a coarse grain): while it is recent the
	// payload is rebuilt after changes without waiting for one (warm).
	read atomic.Int64
	// served is closed and replaced whenever the payload readers get may
	// have changed (a rebuild, a read-only refresh), waking long-polls.
	served atomic.Pointer[chan struct{}]
}

func newSlot(k Key) *slot {
	s := &slot{key: k}
	ch := make(chan struct{})
	s.served.Store(&ch)
	return s
}

func (s *slot) notify() {
	next := make(chan struct{})
	close(*s.served.Swap(&next))
}

// New returns a cache over src. A nil opts means DefaultOptions.
func New(src Source, opts *Options) (*Cache, error) {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Cache{src: src, opts: o, log: o.Logger}
	if l, ok := src.(appLister); ok {
		for _, f := range []Format{JSON, XML} {
			c.full[f] = newAssembler(l, f, o.AutoExpiration)
		}
	}
	if l, ok := src.(deltaLister); ok {
		c.delta = newDeltaAssembler(l)
	}
	m := map[Key]*slot{}
	c.slots.Store(&m)
	return c, nil
}

// Get returns the payload for k.
func (c *Cache) Get(k Key) *Payload {
	s := c.slot(k)
	if s == nil {
		// Over MaxEntries: serve without caching rather than grow.
		return c.build(k, nil)
	}
	if c.opts.Mode == ModeEureka && c.opts.UseReadOnly {
		if p := s.ro.Load(); p != nil {
			c.hits.Inc()
			return p
		}
		p := c.current(s)
		s.ro.Store(p)
		return p
	}
	if c.opts.Mode == ModeEureka {
		return c.current(s)
	}
	if k.Entity == EntityApps {
		// Stored only when it moved on by a grain, so the readers of a
		// hot key do not all write one cache line.
		if now := time.Now().UnixNano(); now-s.read.Load() > int64(readGrain) {
			s.read.Store(now)
		}
	}
	return c.fresh(s)
}

// warmFor is how long after its last read a full registry payload (GET
// apps) is rebuilt as the registry changes, in fresh mode, rather than by
// the next reader. Built by the reader, a payload read seldom (a probe, a
// client starting, a hash-code mismatch) would carry every change since
// the previous read, and that reader would wait for all of them to be
// re-encoded: at 10,000 instances and 300 changes/s, 30–40 ms. Rebuilt as
// changes come (at most once per rebuild interval), each build carries a
// few and readers find it ready. Payloads of one application or VIP are
// cheap to build and are not kept warm.
const warmFor = 2 * time.Second

// readGrain is the resolution of slot.read.
const readGrain = 10 * time.Millisecond

// slot finds or adds the slot of k; nil when the cache is full.
func (c *Cache) slot(k Key) *slot {
	if s := (*c.slots.Load())[k]; s != nil {
		return s
	}
	c.addMu.Lock()
	defer c.addMu.Unlock()
	old := *c.slots.Load()
	if s := old[k]; s != nil {
		return s
	}
	if len(old) >= c.opts.MaxEntries {
		return nil
	}
	// Copy on write: keys are added rarely (a new app or VIP), read always.
	m := make(map[Key]*slot, len(old)+1)
	for kk, v := range old {
		m[kk] = v
	}
	s := newSlot(k)
	m[k] = s
	c.slots.Store(&m)
	return s
}

// valid reports whether p still reflects the registry (Eureka's read-write
// invalidation), is younger than AutoExpiration and left no expired runs.
func (c *Cache) valid(s *slot, p *Payload) bool {
	if p == nil || time.Since(p.built) >= c.opts.AutoExpiration {
		return false
	}
	v := c.src.Version()
	if p.version == v || s.checked.Load() == v {
		return true
	}
	if s.key.Entity != EntityApp {
		return false
	}
	// Only this application's changes matter to its payload.
	if c.src.AppVersion(s.key.Name) <= p.version {
		s.checked.Store(v)
		return true
	}
	return false
}

// current returns a valid read-write payload, building it if needed.
func (c *Cache) current(s *slot) *Payload {
	if p := s.rw.Load(); c.valid(s, p) {
		c.hits.Inc()
		return p
	}
	return c.rebuild(s)
}

// fresh serves ModeFresh: a stale payload younger than MinRebuildInterval is
// served as is, and a rebuild is scheduled for when the interval ends.
func (c *Cache) fresh(s *slot) *Payload {
	if p := s.rw.Load(); c.valid(s, p) {
		c.hits.Inc()
		return p
	} else if p != nil && c.tooSoon(s, p) {
		c.hits.Inc()
		return p
	}
	if p := s.rw.Load(); p != nil {
		// A rebuild is under way: serve what there is rather than queue
		// behind it; the rebuild's end wakes long-polls (notify).
		if !c.tryBuild(s) {
			c.hits.Inc()
			return p
		}
	} else {
		s.buildMu.Lock()
	}
	defer c.endBuild(s)
	// Re-check under the lock: another reader or the scheduled rebuild may
	// have built meanwhile, and under a write storm the version has moved
	// again, but one rebuild per interval is all a key gets.
	if p := s.rw.Load(); p != nil && (c.valid(s, p) || c.tooSoon(s, p)) {
		return p
	}
	return c.store(s)
}

// rebuildCostShare is the inverse of the share of a core one key's
// rebuilds may take for their fixed cost: a payload whose build cost more
// than MinRebuildInterval / rebuildCostShare, not counting the work on
// what changed (changeCost), is rebuilt at most once per rebuildCostShare
// times that, so a large registry under a write storm widens its interval
// instead of spending the cores readers need.
//
// The work on what changed is left out because widening does not save it:
// counting it made the interval feed itself under churn (a longer interval
// gathers more changes, the next build costs more, the interval grows
// again), and /apps at 10,000 instances and 300 changes/s was rebuilt every
// 0.2–0.5 s instead of every 10 ms. A key is still never rebuilt more often
// than its last build took, so however costly the changes its rebuilds keep
// at most one goroutine busy.
const rebuildCostShare = 4

// tooSoon reports whether p is younger than its rebuild interval
// (MinRebuildInterval, or if longer rebuildCostShare times p's fixed cost
// or p's whole cost), and if so makes sure a rebuild runs when the
// interval ends. A MinRebuildInterval of 0 disables the bound altogether.
func (c *Cache) tooSoon(s *slot, p *Payload) bool {
	if c.opts.MinRebuildInterval <= 0 {
		return false
	}
	interval := max(c.opts.MinRebuildInterval, rebuildCostShare*(p.cost-p.changeCost), p.cost)
	wait := interval - time.Since(p.built)
	if wait <= 0 {
		return false
	}
	c.schedule(s, wait)
	return true
}

// schedule makes sure s is looked at (fresh) within wait: at most one
// look is pending per key.
func (c *Cache) schedule(s *slot, wait time.Duration) {
	if s.scheduled.CompareAndSwap(false, true) {
		time.AfterFunc(wait, func() {
			s.scheduled.Store(false)
			c.fresh(s)
		})
	}
}

// tryBuild takes s.buildMu if no rebuild is under way. If one is, the
// caller is turned away with the payload in place, which that rebuild,
// begun before, may not hold the caller's change: endBuild then makes
// sure another rebuild follows.
func (c *Cache) tryBuild(s *slot) bool {
	if s.buildMu.TryLock() {
		return true
	}
	// The mark before the second try: either this try finds the lock
	// free, or the builder, unlocking after it, finds the mark.
	s.turnedAway.Store(true)
	return s.buildMu.TryLock()
}

// endBuild releases s.buildMu taken by tryBuild (or Lock), and schedules
// a look at s if a caller was turned away meanwhile.
func (c *Cache) endBuild(s *slot) {
	s.buildMu.Unlock()
	if s.turnedAway.Swap(false) {
		c.schedule(s, 0)
	}
}

// rebuild builds s's payload once for all concurrent callers.
func (c *Cache) rebuild(s *slot) *Payload {
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	if p := s.rw.Load(); c.valid(s, p) {
		return p
	}
	return c.store(s)
}

// store builds and installs s's payload; the caller holds s.buildMu.
func (c *Cache) store(s *slot) *Payload {
	start := time.Now()
	p := c.build(s.key, s)
	p.cost = time.Since(start)
	c.costs[s.key.Entity].Observe(BuildBuckets, p.cost)
	s.rw.Store(p)
	s.checked.Store(p.version)
	s.notify()
	if p.behind {
		c.refreshLater(s, max(c.opts.MinRebuildInterval, rebuildCostShare*p.cost))
	}
	return p
}

// refreshLater rebuilds s's payload after wait if it is still behind then:
// the expired runs builds leave are caught up with by builds spaced
// rebuildCostShare times their cost apart, at most a quarter of a core,
// beside those changes bring. At most one refresh is pending per key.
func (c *Cache) refreshLater(s *slot, wait time.Duration) {
	if !s.refreshing.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(wait, func() {
		locked := s.buildMu.TryLock()
		s.refreshing.Store(false) // before store: this build takes expired runs
		if !locked {
			// A build is under way (it may have tried to schedule this
			// refresh already): look again after it.
			c.refreshLater(s, max(wait, time.Millisecond))
			return
		}
		defer c.endBuild(s)
		if p := s.rw.Load(); p != nil && p.behind {
			c.store(s)
		}
	})
}

// Wait serves a long-poll: it returns the payload for k as soon as its
// entity tag differs from etag (the plain or gzip tag a client holds), or
// the current payload with changed false when ctx ends first.
func (c *Cache) Wait(ctx context.Context, k Key, etag string) (p *Payload, changed bool) {
	plain := strings.TrimSuffix(strings.TrimPrefix(etag, "W/"), `-gzip"`)
	if plain != etag && !strings.HasSuffix(plain, `"`) {
		plain += `"`
	}
	s := c.slot(k)
	for {
		// Take both channels before reading, so a change between the read
		// and the select still wakes us.
		var served <-chan struct{}
		if s != nil {
			served = *s.served.Load()
		}
		changes := c.src.Changes()
		p = c.Get(k)
		if p.ETag != plain {
			return p, true
		}
		select {
		case <-ctx.Done():
			return p, false
		case <-changes:
		case <-served:
		}
	}
}

// build encodes a payload from the registry. The version is read first, so
// a change racing the build makes the payload stale at once.
func (c *Cache) build(k Key, s *slot) *Payload {
	c.builds.Add(1)
	defer func(start time.Time) { c.buildNanos.Add(int64(time.Since(start))) }(time.Now())
	p := &Payload{version: c.src.Version(), built: time.Now(), found: true}
	var hint int64
	if s != nil {
		hint = s.sizeHint.Load()
	}
	var apps *eureka.Applications
	switch k.Entity {
	case EntityApps:
		if a := c.full[k.Format]; a != nil {
			blocks, n, sum, version, changeCost := a.build(s != nil && s.refreshing.Load())
			p.version, p.changeCost, p.behind = version, changeCost, a.backlog()
			p.ETag = etagOf(sum)
			p.gzOnce.Do(func() { p.gz = newPartsRepresentation(blocks, n, gzipETag(p.ETag)) })
			return p
		}
		apps = c.src.Applications()
	case EntityDelta:
		if c.delta != nil {
			parts, n, sum, version := c.delta.build(k.Format, c.deltaVersion.Add(1))
			p.version = version
			p.ETag = etagOf(sum)
			p.gzOnce.Do(func() { p.gz = newPartsRepresentation([][][]byte{parts}, n, gzipETag(p.ETag)) })
			return p
		}
		apps = c.src.Delta()
		apps.VersionsDelta = c.deltaVersion.Add(1)
	case EntityVIP, EntitySVIP:
		apps = c.src.VIP(k.Name, k.Entity == EntitySVIP)
	case EntityApp:
		var raw []byte
		if app := c.src.Application(k.Name); app != nil {
			buf := make([]byte, 0, hint+hint/8)
			if k.Format == JSON {
				raw = eureka.AppendApplicationJSON(buf, app)
			} else {
				raw = eureka.AppendApplicationXML(buf, app)
			}
		}
		p.found = raw != nil
		if s != nil {
			s.sizeHint.Store(int64(len(raw)))
		}
		// The tag is derived from the bytes, so an unchanged payload keeps
		// its tag across registry versions and pollers keep getting 304.
		p.ETag = etagOf(ContentSum(raw))
		p.plainOnce.Do(func() { p.plain = newRepresentation(raw, p.ETag) })
		return p
	}

	// The whole registry or a part: plain bytes go through the checksum
	// and the compressor a chunk at a time and are never held whole.
	var gz bytes.Buffer
	gz.Grow(int(hint + hint/8 + 256))
	sum := &contentHash{}
	zw := getGzip(&gz)
	w := io.MultiWriter(sum, zw)
	var err error
	if k.Format == JSON {
		err = eureka.WriteApplicationsJSON(w, apps)
	} else {
		err = eureka.WriteApplicationsXML(w, apps)
	}
	if err == nil {
		err = zw.Close()
	}
	putGzip(zw)
	if err != nil {
		// Writes into memory fail only when memory does.
		panic("cache: encoding a payload: " + err.Error())
	}
	if s != nil {
		s.sizeHint.Store(int64(gz.Len()))
	}
	p.ETag = etagOf(sum.Sum64())
	p.gzOnce.Do(func() { p.gz = newRepresentation(gz.Bytes(), gzipETag(p.ETag)) })
	return p
}

func etagOf(sum uint64) string { return `"` + strconv.FormatUint(sum, 36) + `"` }

// DeltaVersion is the number of delta payloads generated so far.
func (c *Cache) DeltaVersion() int64 { return c.deltaVersion.Load() }

// Builds reports how many payloads were built since start. Hits are not
// counted: a shared counter written by every cached read would be the
// read path's only contended write.
func (c *Cache) Builds() uint64 { return c.builds.Load() }

// BuildTime reports the wall time spent building payloads since start.
func (c *Cache) BuildTime() time.Duration { return time.Duration(c.buildNanos.Load()) }

// Run refreshes the read-only layer in ModeEureka every UpdateInterval,
// aligned to multiples of the interval since the epoch as Eureka does, until
// ctx ends. In ModeFresh it keeps the full payloads read lately up to date
// (warmFor).
func (c *Cache) Run(ctx context.Context) error {
	if c.opts.Mode == ModeFresh {
		c.keepWarm(ctx)
		return nil
	}
	if !c.opts.UseReadOnly {
		<-ctx.Done()
		return nil
	}
	iv := c.opts.UpdateInterval
	first := time.Until(time.Now().Truncate(iv).Add(iv))
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			c.refreshReadOnly()
			t.Reset(iv)
		}
	}
}

// keepWarm rebuilds, after every change, the full payloads read within
// warmFor, under the same bound on rebuilds as readers (tooSoon), until
// ctx ends.
func (c *Cache) keepWarm(ctx context.Context) {
	changes := c.src.Changes()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
		}
		// The next channel before rebuilding, so a change during the
		// rebuild wakes the loop again.
		changes = c.src.Changes()
		now := time.Now().UnixNano()
		for _, f := range []Format{JSON, XML} {
			s := (*c.slots.Load())[Key{Entity: EntityApps, Format: f}]
			if s != nil && now-s.read.Load() <= int64(warmFor) {
				c.refresh(s)
			}
		}
	}
}

// refresh rebuilds s's payload if it is stale and its rebuild interval is
// over (else tooSoon schedules the rebuild), unless a rebuild is under
// way; it never waits.
func (c *Cache) refresh(s *slot) {
	stale := func() bool {
		p := s.rw.Load()
		return p != nil && !c.valid(s, p) && !c.tooSoon(s, p)
	}
	if !stale() || !c.tryBuild(s) {
		return
	}
	defer c.endBuild(s)
	if stale() {
		c.store(s)
	}
}

// refreshReadOnly copies every read-only key from the read-write layer.
func (c *Cache) refreshReadOnly() {
	for _, s := range *c.slots.Load() {
		if old := s.ro.Load(); old != nil {
			if p := c.current(s); p != old {
				s.ro.Store(p)
				s.notify()
			}
		}
	}
}
