package cache

import (
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// appLister is what incremental full payloads need from the source besides
// Source; *registry.Registry implements it. A source without it gets the
// full payload encoded from scratch.
type appLister interface {
	// AppStates calls visit for every application with instances under
	// one lock and returns the version of that state and a copy of each
	// application visit returned true for, in that order.
	AppStates(visit func(name string, version uint64) bool) (uint64, []*eureka.Application)
}

// chunkTarget is the plain size of a run. Applications are compressed in
// runs of neighbours (in name order) of about that size, so small
// applications share deflate context (one compressor per application made
// the payload 2–3× a whole-payload compression); a change recompresses its
// run only. A run that grows past twice the target is split, one that
// shrinks below a quarter of it takes in the next, so runs stay near the
// target and their boundaries move only where something changed.
const chunkTarget = 48 << 10

// maxKeptWork bounds the plain-bytes buffer an assembler keeps between
// builds: enough for a build that touches a few runs.
const maxKeptWork = 16 * chunkTarget

// tailSize is how much of the run before it a run is compressed against
// (a preset dictionary; the decoder has those bytes just behind it): a
// run then starts with its neighbour's context instead of cold, which
// costs as much as a smaller run saves. The dictionary ties a run to its
// predecessor's last bytes only, so a change re-compresses the next run
// too just when it falls within them.
const tailSize = 8 << 10

// appMeta is what the assembler remembers of one application.
type appMeta struct {
	version uint64 // the application's version its item was built from
	counts  eureka.StatusCounts
	chunk   *chunk
}

// chunk is one run of applications' items, compressed together.
type chunk struct {
	names []string // in name order
	// sizes are the plain lengths of the items, in JSON without the comma
	// that separates an item from the one before.
	sizes []int
	part  part
	// first: built as the payload's first run, so in JSON its first item
	// has no comma before it.
	first   bool
	expires time.Time
	// tail is the end of the run's plain bytes, the next run's dictionary;
	// dict is the dictionary this run was compressed with (its
	// predecessor's tail then), needed to inflate it again.
	tail, dict []byte
	// inserts are new applications that sort into this run, and dirty
	// says the run is rebuilt; both only during one build.
	inserts []string
	dirty   bool
}

// seg is one item's plain bytes in assembler.work.
type seg struct {
	name   string
	off, n int
}

// assembler keeps one format's compressed runs of the full registry
// payload (GET apps) and joins them: a change costs re-encoding the
// applications it touched and recompressing their runs, and copying the
// compressed bytes of the rest. The runs' plain bytes are not kept: a run
// whose neighbours of a changed application are needed is inflated again.
// The apps hash code is kept from per-application counts, so it always
// describes exactly the instances in the payload.
type assembler struct {
	mu     sync.Mutex
	format Format
	src    appLister
	// ttl bounds a run's age, so lease timestamps of instances that do
	// not change are refreshed as often as a whole payload is
	// (AutoExpiration); each run gets up to a quarter less, at random, so
	// runs built together do not all expire together.
	ttl time.Duration
	// target is chunkTarget; tests make it small.
	target int

	apps   map[string]*appMeta
	chunks []*chunk // in name order
	total  eureka.StatusCounts
	tail   part
	// head is the last head built and the hash code it holds.
	head     part
	headHash string
	lastSize int

	// Reused between builds.
	listed   []string
	versions []uint64
	fresh    map[string]seg // re-encoded items; n < 0: the application left
	work     []byte         // plain items: re-encoded and inflated
	segs     []seg
	plain    []byte
	inflater io.ReadCloser
}

func newAssembler(src appLister, f Format, ttl time.Duration) *assembler {
	a := &assembler{format: f, src: src, ttl: ttl, target: chunkTarget, apps: map[string]*appMeta{}, fresh: map[string]seg{}}
	if f == JSON {
		a.tail = compressPart(eureka.AppendApplicationsTailJSON(nil))
	} else {
		a.tail = compressPart(eureka.AppendApplicationsTailXML(nil))
	}
	return a
}

// reset drops every run, so the next build encodes everything.
func (a *assembler) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.apps = map[string]*appMeta{}
	a.chunks = nil
	a.total = eureka.StatusCounts{}
}

// build returns the full payload's gzip member, the CRC-64 of its plain
// bytes and the registry version it shows.
func (a *assembler) build() (gz []byte, sum, version uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for _, c := range a.chunks {
		// An expired run is rebuilt whole: every application in it is
		// copied below.
		c.dirty = !now.Before(c.expires)
	}
	a.listed, a.versions = a.listed[:0], a.versions[:0]
	version, apps := a.src.AppStates(func(name string, v uint64) bool {
		a.listed = append(a.listed, name)
		m := a.apps[name]
		if m != nil && m.version == v && !m.chunk.dirty {
			return false
		}
		a.versions = append(a.versions, v)
		return true
	})

	clear(a.fresh)
	a.work = a.work[:0]
	added := 0
	for i, app := range apps {
		m := a.apps[app.Name]
		if m == nil {
			m = &appMeta{}
			a.apps[app.Name] = m
			a.insert(app.Name)
			added++
		} else {
			m.chunk.dirty = true
			a.total.Unmerge(m.counts)
		}
		m.version = a.versions[i]
		m.counts = eureka.StatusCounts{}
		for _, in := range app.Instances {
			m.counts.Add(in.Status)
		}
		a.total.Merge(m.counts)
		off := len(a.work)
		if a.format == JSON {
			a.work = eureka.AppendApplicationsItemJSON(a.work, app, true)
		} else {
			a.work = eureka.AppendApplicationsItemXML(a.work, app)
		}
		a.fresh[app.Name] = seg{name: app.Name, off: off, n: len(a.work) - off}
	}
	if len(a.listed) != len(a.apps) {
		a.forgetLeft(len(a.apps) - len(a.listed))
	}
	a.rebuildChunks(now)

	if hash := a.total.HashCode(); a.head.z == nil || hash != a.headHash {
		// A full payload's versions__delta is always 1 (Eureka's).
		if a.format == JSON {
			a.head = compressPart(eureka.AppendApplicationsHeadJSON(a.plain[:0], 1, hash))
		} else {
			a.head = compressPart(eureka.AppendApplicationsHeadXML(a.plain[:0], 1, hash))
		}
		a.headHash = hash
	}
	j := newJoiner(a.lastSize)
	j.add(&a.head)
	for _, c := range a.chunks {
		j.add(&c.part)
	}
	j.add(&a.tail)
	gz, sum = j.finish()
	a.lastSize = len(gz)
	if cap(a.work) > maxKeptWork {
		// A first build (or one after many runs expired) held the plain
		// bytes of the whole registry here, about a kilobyte an instance:
		// let them go rather than keep them for the next small build.
		a.work = nil
	}
	return gz, sum, version
}

// insert puts a new application into the run its name sorts into; names
// before every run go to the first.
func (a *assembler) insert(name string) {
	if len(a.chunks) == 0 {
		a.chunks = append(a.chunks, &chunk{})
	}
	i := sort.Search(len(a.chunks), func(i int) bool {
		c := a.chunks[i]
		return len(c.names) > 0 && c.names[0] > name
	})
	c := a.chunks[max(0, i-1)]
	c.inserts = append(c.inserts, name)
	c.dirty = true
}

// forgetLeft drops the n applications that had instances in the last
// payload and have none now.
func (a *assembler) forgetLeft(n int) {
	listed := make(map[string]struct{}, len(a.listed))
	for _, name := range a.listed {
		listed[name] = struct{}{}
	}
	for name, m := range a.apps {
		if n == 0 {
			break
		}
		if _, ok := listed[name]; !ok {
			m.chunk.dirty = true
			a.total.Unmerge(m.counts)
			a.fresh[name] = seg{n: -1}
			delete(a.apps, name)
			n--
		}
	}
}

// rebuildChunks re-encodes the dirty runs, and a clean one that became or
// stopped being the first (its first item's comma), splitting runs that
// grew too large and joining those that shrank too small with the next.
func (a *assembler) rebuildChunks(now time.Time) {
	out := a.chunks[:0:0]
	for i := 0; i < len(a.chunks); i++ {
		c := a.chunks[i]
		isFirst := len(out) == 0
		var prevTail []byte
		if !isFirst {
			prevTail = out[len(out)-1].tail
		}
		if !c.dirty && (a.format != JSON || c.first == isFirst) && bytes.Equal(c.dict, prevTail) {
			out = append(out, c)
			continue
		}
		a.segs = a.segments(a.segs[:0], c)
		size := plainSize(a.segs)
		for size < a.target/4 && i+1 < len(a.chunks) {
			i++
			a.segs = a.segments(a.segs, a.chunks[i])
			size = plainSize(a.segs)
		}
		out = a.split(out, a.segs, size, now)
	}
	a.chunks = out
}

func plainSize(segs []seg) int {
	n := 0
	for _, s := range segs {
		n += s.n
	}
	return n
}

// segments appends c's items, after this build's changes, in name order:
// kept items from its inflated bytes, re-encoded ones from fresh, and the
// new applications that sort into it.
func (a *assembler) segments(segs []seg, c *chunk) []seg {
	slices.Sort(c.inserts)
	ins := c.inserts
	c.inserts = nil
	kept := false
	for _, name := range c.names {
		if _, ok := a.fresh[name]; !ok {
			kept = true
			break
		}
	}
	pos := len(a.work)
	if kept {
		a.work = a.inflate(a.work, c)
	}
	for j, name := range c.names {
		if a.format == JSON && (j > 0 || !c.first) {
			pos++ // the comma
		}
		off := pos
		pos += c.sizes[j]
		for len(ins) > 0 && ins[0] < name {
			segs = append(segs, a.fresh[ins[0]])
			ins = ins[1:]
		}
		if s, ok := a.fresh[name]; !ok {
			segs = append(segs, seg{name: name, off: off, n: c.sizes[j]})
		} else if s.n >= 0 {
			segs = append(segs, s)
		}
	}
	for _, name := range ins {
		segs = append(segs, a.fresh[name])
	}
	return segs
}

// inflate appends c's plain bytes to dst.
func (a *assembler) inflate(dst []byte, c *chunk) []byte {
	r := bytes.NewReader(c.part.z)
	if a.inflater == nil {
		a.inflater = flate.NewReaderDict(r, c.dict)
	} else {
		a.inflater.(flate.Resetter).Reset(r, c.dict)
	}
	n := len(dst)
	dst = slices.Grow(dst, int(c.part.n))[:n+int(c.part.n)]
	if _, err := io.ReadFull(a.inflater, dst[n:]); err != nil {
		// The bytes were compressed here: they cannot be corrupt.
		panic("cache: inflating a payload run: " + err.Error())
	}
	return dst
}

// split appends segs to out as runs of about the target plain size (one
// run if they are no more than twice it) and points the applications at
// their runs.
func (a *assembler) split(out []*chunk, segs []seg, size int, now time.Time) []*chunk {
	if len(segs) == 0 {
		return out
	}
	per := size
	if size > 2*a.target {
		per = size / ((size + a.target - 1) / a.target)
	}
	for len(segs) > 0 {
		k, n := 0, 0
		for k < len(segs) && n < per {
			n += segs[k].n
			k++
		}
		var prev *chunk
		if len(out) > 0 {
			prev = out[len(out)-1]
		}
		out = append(out, a.compress(segs[:k], prev, now))
		segs = segs[k:]
	}
	return out
}

// compress builds one run from segs, to follow prev (nil: the first run).
func (a *assembler) compress(segs []seg, prev *chunk, now time.Time) *chunk {
	first := prev == nil
	c := &chunk{
		names:   make([]string, len(segs)),
		sizes:   make([]int, len(segs)),
		first:   a.format == JSON && first,
		expires: now.Add(a.ttl - rand.N(a.ttl/4+1)),
	}
	a.plain = a.plain[:0]
	for i, s := range segs {
		if a.format == JSON && (i > 0 || !first) {
			a.plain = append(a.plain, ',')
		}
		a.plain = append(a.plain, a.work[s.off:s.off+s.n]...)
		c.names[i], c.sizes[i] = s.name, s.n
		a.apps[s.name].chunk = c
	}
	if prev != nil {
		c.dict = prev.tail
	}
	c.part = compressPartDict(a.plain, c.dict)
	c.tail = bytes.Clone(a.plain[max(0, len(a.plain)-tailSize):])
	return c
}
