// Package cache is eurekad's response cache: encoded registry payloads
// (JSON and XML, each with its gzip form) built once per registry version and
// served as bytes (eureka-protocol.md §5).
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
	"hash/crc64"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/eurekad/eurekad/core/internal/counter"
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
// bytes for all of them, so they are not part of the key.
type Key struct {
	Entity Entity
	Name   string // application name (upper case) or VIP; empty otherwise
	Format Format
}

// Payload is one encoded response. It is immutable once returned.
type Payload struct {
	// Raw is the encoded body; nil means the application was not found.
	Raw []byte
	// ETag is a strong entity tag of Raw, quoted.
	ETag string

	version uint64 // registry version the payload was built from
	built   time.Time

	plain  Representation
	gzOnce sync.Once
	gz     Representation
}

// Representation is one encoding of a payload with the values of its
// ETag and Content-Length headers, computed once so serving allocates
// nothing per request. Treat every field as read-only.
type Representation struct {
	Body   []byte
	ETag   []string
	Length []string
}

func newRepresentation(body []byte, etag string) Representation {
	return Representation{Body: body, ETag: []string{etag}, Length: []string{strconv.Itoa(len(body))}}
}

// Plain returns the uncompressed representation.
func (p *Payload) Plain() *Representation { return &p.plain }

// Gzip returns the gzip representation, compressed on first use. Its
// entity tag differs from the plain one's, as a strong tag must.
func (p *Payload) Gzip() *Representation {
	p.gzOnce.Do(func() {
		var b bytes.Buffer
		if len(p.Raw) > 0 {
			b.Grow(len(p.Raw) / 6)
			w := gzip.NewWriter(&b)
			w.Write(p.Raw)
			w.Close()
		}
		p.gz = newRepresentation(b.Bytes(), p.ETag[:len(p.ETag)-1]+`-gzip"`)
	})
	return &p.gz
}

// Cache is the response cache. Its methods are safe for concurrent use.
type Cache struct {
	src  Source
	opts Options
	log  *slog.Logger

	slots atomic.Pointer[map[Key]*slot]
	addMu sync.Mutex

	deltaVersion atomic.Int64

	builds atomic.Uint64
	hits   counter.Sharded
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
	sizeHint  atomic.Int64
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
	return c.fresh(s)
}

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
// invalidation) and is younger than AutoExpiration.
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
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	// Re-check under the lock: another reader or the scheduled rebuild may
	// have built meanwhile, and under a write storm the version has moved
	// again, but one rebuild per interval is all a key gets.
	if p := s.rw.Load(); p != nil && (c.valid(s, p) || c.tooSoon(s, p)) {
		return p
	}
	return c.store(s)
}

// tooSoon reports whether p is younger than MinRebuildInterval, and if so
// makes sure a rebuild runs when the interval ends.
func (c *Cache) tooSoon(s *slot, p *Payload) bool {
	wait := c.opts.MinRebuildInterval - time.Since(p.built)
	if wait <= 0 {
		return false
	}
	if s.scheduled.CompareAndSwap(false, true) {
		time.AfterFunc(wait, func() {
			s.scheduled.Store(false)
			c.fresh(s)
		})
	}
	return true
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
	p := c.build(s.key, s)
	s.rw.Store(p)
	s.checked.Store(p.version)
	s.notify()
	return p
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

var crcTable = crc64.MakeTable(crc64.ECMA)

// build encodes a payload from the registry. The version is read first, so
// a change racing the build makes the payload stale at once.
func (c *Cache) build(k Key, s *slot) *Payload {
	c.builds.Add(1)
	p := &Payload{version: c.src.Version(), built: time.Now()}
	var hint int64
	if s != nil {
		hint = s.sizeHint.Load()
	}
	buf := make([]byte, 0, hint+hint/8)
	switch k.Entity {
	case EntityApps:
		p.Raw = encodeApps(buf, c.src.Applications(), k.Format)
	case EntityDelta:
		apps := c.src.Delta()
		apps.VersionsDelta = c.deltaVersion.Add(1)
		p.Raw = encodeApps(buf, apps, k.Format)
	case EntityVIP, EntitySVIP:
		p.Raw = encodeApps(buf, c.src.VIP(k.Name, k.Entity == EntitySVIP), k.Format)
	case EntityApp:
		if app := c.src.Application(k.Name); app != nil {
			if k.Format == JSON {
				p.Raw = eureka.AppendApplicationJSON(buf, app)
			} else {
				p.Raw = eureka.AppendApplicationXML(buf, app)
			}
		}
	}
	if s != nil {
		s.sizeHint.Store(int64(len(p.Raw)))
	}
	// The tag is derived from the bytes, so an unchanged payload keeps its
	// tag across registry versions and pollers keep getting 304.
	p.ETag = `"` + strconv.FormatUint(crc64.Checksum(p.Raw, crcTable), 36) + `"`
	p.plain = newRepresentation(p.Raw, p.ETag)
	return p
}

func encodeApps(buf []byte, apps *eureka.Applications, f Format) []byte {
	if f == JSON {
		return eureka.AppendApplicationsJSON(buf, apps)
	}
	return eureka.AppendApplicationsXML(buf, apps)
}

// DeltaVersion is the number of delta payloads generated so far.
func (c *Cache) DeltaVersion() int64 { return c.deltaVersion.Load() }

// Builds reports how many payloads were built since start. Hits are not
// counted: a shared counter written by every cached read would be the
// read path's only contended write.
func (c *Cache) Builds() uint64 { return c.builds.Load() }

// Run refreshes the read-only layer in ModeEureka every UpdateInterval,
// aligned to multiples of the interval since the epoch as Eureka does, until
// ctx ends. In other modes it only waits for ctx.
func (c *Cache) Run(ctx context.Context) error {
	if c.opts.Mode != ModeEureka || !c.opts.UseReadOnly {
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
