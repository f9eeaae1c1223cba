package cache

import (
	"bytes"
	"cmp"
	"container/heap"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"

	"github.com/eurekad/eurekad/core/registry"
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

// The payload's items are an application's opening (its name), each of its
// instances, and its closing, in payload order: by application name, then
// instance id. Each has a key that sorts in that order (itemKey).
//
// chunkTarget is the plain size of a run. Items are compressed in runs of
// neighbours of about that size, so small ones share deflate context (one
// compressor per application made the payload 2–3× a whole-payload
// compression); a change recompresses the run of the instances it touched
// only, not the whole application: a fleet of a few large applications
// under churn would otherwise recompress nearly all of them on every
// build. A run that grows past twice the target is split, one that shrinks
// below a quarter of it takes in the next, so runs stay near the target
// and their boundaries move only where something changed.
//
// Measured at 100,000 instances in 50 applications (BenchmarkChurnFleet100000
// and BenchmarkSize100000, target/runTail): 48K/8K compressed 58 KB a
// change and made the payload 1.14× (JSON) and 1.11× (XML) a whole
// compression; 32K/16K 50 KB, 1.05× and 1.12×; 24K/16K 41 KB, 1.07× and
// 1.16×; 32K/8K 42 KB, 1.21× and 1.18×; 48K/16K 66 KB, 1.03× and 1.07×.
// A change's CPU time hardly moved from 64K down to 32K (0.29–0.34 ms
// the fastest of four runs) and rose below (0.38 ms at 24K): what a run
// costs besides compressing it (its dictionary, its tail, inflating it)
// grows as runs shrink, and a change falls more often within the tail the
// next run is compressed against.
const chunkTarget = 32 << 10

// maxKeptWork bounds the plain-bytes buffer an assembler keeps between
// builds: enough for a build that touches 256 runs. Under 1,000 changes a
// second at 1,000,000 instances a build touches about 40; a bound of 16
// let every build grow the buffer again from half a megabyte, three
// quarters of what the cache allocated, and at that heap size the
// collector it kept busy took half the server's CPU.
const maxKeptWork = 256 * chunkTarget

// maxKeptItems bounds the changed-items index and the lists of items
// or runs an assembler keeps between builds (trimScratch).
const maxKeptItems = 4096

// runTail is how much of the run before it a run is compressed against
// (a preset dictionary; the decoder has those bytes just behind it): a
// run then starts with its neighbour's context instead of cold, which
// costs as much as a smaller run saves. The dictionary ties a run to its
// predecessor's last bytes only, so a change re-compresses the next run
// too just when it falls within them.
const runTail = 16 << 10

// tailSize is the same for the delta's parts (delta.go).
const tailSize = 8 << 10

// appMeta is what the assembler remembers of one application.
type appMeta struct {
	version uint64 // the application's version its items were built from
	counts  eureka.StatusCounts
	// keys and sums are its items' keys, in order, and hashes of their
	// plain bytes: re-encoding an item tells whether it changed. st are
	// their statuses (eureka.StatusIndex; 0 for the opening and closing),
	// so a changed instance moves the hash code's counts.
	keys []string
	sums []uint64
	st   []uint8
}

// instanceLister is what per-instance full payloads need from the source
// besides appLister; *registry.Registry implements it. Without it every
// change re-encodes its whole application.
type instanceLister interface {
	DeltaMark() (seq, version uint64)
	ChangedInstances(seq, since uint64, more []registry.InstanceKey, visit func(app, id string, in *eureka.InstanceInfo)) (next, version uint64, ok bool)
}

// instChange is one instance ChangedInstances reported: nil when gone.
type instChange struct {
	app, id string
	in      *eureka.InstanceInfo
}

// Item kinds, the byte after the application name and a NUL in an item's
// key: the opening sorts first, then the instances, then the closing.
// Names and ids hold no control characters (core/rules), so the keys sort
// in payload order.
const (
	itemOpen     = 1
	itemInstance = 2
	itemClose    = 3
)

// itemKey returns the key of an item of app: its kind and, for an
// instance, its id.
func itemKey(app string, kind byte, id string) string {
	return string(appendItemKey(make([]byte, 0, len(app)+2+len(id)), app, kind, id))
}

// appendItemKey appends itemKey's bytes to b.
func appendItemKey(b []byte, app string, kind byte, id string) []byte {
	b = append(b, app...)
	b = append(b, 0, kind)
	return append(b, id...)
}

// itemKindAt returns the kind of an application's jth item in payload
// order, last being the index of its closing.
func itemKindAt(j, last int) byte {
	switch j {
	case 0:
		return itemOpen
	case last:
		return itemClose
	}
	return itemInstance
}

// appOf returns the application name of an item key.
func appOf(key string) string { return key[:strings.IndexByte(key, 0)] }

// kindOf returns the kind of an item key.
func kindOf(key string) byte { return key[strings.IndexByte(key, 0)+1] }

// sepBefore reports whether JSON puts a comma between the items prev and
// key ("" : key is the payload's first): before an application's opening
// unless it is the first, and between two instances. Items' own bytes
// never hold it, so an item encodes the same wherever it lands.
func sepBefore(prev, key string) bool {
	if prev == "" {
		return false
	}
	return sepBetween(kindOf(prev), kindOf(key))
}

// sepBetween is sepBefore by the items' kinds, prev 0 when the item is
// the payload's first.
func sepBetween(prev, kind byte) bool {
	switch {
	case prev == 0:
		return false
	case kind == itemOpen:
		return true
	case kind == itemInstance:
		return prev == itemInstance
	}
	return false
}

// chunk is one run of items, compressed together.
type chunk struct {
	keys []string // in payload order
	// sizes are the plain lengths of the items, without the commas
	// between them (sepBefore).
	sizes []int32
	part  part
	// lead: in JSON a comma goes before its first item (sepBefore with
	// the run before's last item, when it was built).
	lead    bool
	expires time.Time
	// tail is the end of the run's plain bytes, the next run's dictionary;
	// dict is the dictionary this run was compressed with (its
	// predecessor's tail then), needed to inflate it again. Both are kept
	// compressed (compressTail): plain, they took more memory than the
	// payload itself (a run is 32 KB plain, 1 KB compressed, and its tail
	// 16 KB), and a build needs the plain bytes of a few only.
	tail, dict []byte
	// inserts are new items that sort into this run, and dirty says the
	// run is rebuilt; both only during one build.
	inserts []string
	dirty   bool
	// at is the run's index in assembler.expiry, -1 when not there.
	at int
	// fast: compressed fast and without a dictionary by buildAll, and
	// not yet again at the normal level (settle).
	fast bool
}

// expiryHeap orders runs by expiry, soonest first (container/heap), so a
// build finds the expired ones without looking at every run.
type expiryHeap []*chunk

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].at, h[j].at = i, j
}
func (h *expiryHeap) Push(x any) {
	c := x.(*chunk)
	c.at = len(*h)
	*h = append(*h, c)
}
func (h *expiryHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.at = -1
	return c
}

// seg is one item's plain bytes in assembler.work.
type seg struct {
	key    string
	off, n int
}

// assembler keeps one format's compressed runs of the full registry
// payload (GET apps) and joins them: a change costs re-encoding the
// applications it touched, recompressing the runs of their items that
// differ, and copying the compressed bytes of the rest. The runs' plain
// bytes are not kept: a run whose unchanged items are needed next to a
// changed one is inflated again.
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
	// target is chunkTarget and perBlock blockRuns; tests make them
	// small. expiredBudget is expiredPerBuild, bulkItems bulkItems.
	target, perBlock, expiredBudget, bulkItems int

	apps   map[string]*appMeta
	chunks []*chunk // in name order
	// blocks are the runs' compressed bytes in order, blockRuns a block:
	// a payload's parts share them, so a build copies the blocks where a
	// run changed, not a list of every run's bytes. A block a payload
	// holds is not written again: owned says which were copied since the
	// last payload.
	blocks [][][]byte
	owned  []bool
	copied []int // the indices owned is true at
	// sums combines the runs' checksums; expiry holds them by expiry.
	sums   sumTree
	expiry expiryHeap
	// marked are this build's dirty runs and expired those of them that
	// expired: a build looks at them and their neighbours only.
	marked, expired []*chunk
	// fast are the runs buildAll compressed fast, in payload order,
	// while some are not recompressed yet (settle); a run rebuilt since
	// is no longer fast.
	fast []*chunk
	// left is set when a build left expired runs or runs compressed
	// fast (backlog).
	left  bool
	total eureka.StatusCounts
	tail  part
	// head is the last head built and the hash code it holds.
	head     part
	headHash string

	// Reused between builds.
	listed   []string
	versions []uint64
	stale    map[string]struct{} // applications with items in expired runs
	fresh    map[string]seg      // changed or new items; n < 0: item gone
	work     []byte              // plain items: re-encoded and inflated
	segs     []seg
	repl     []*chunk // a build's new runs, replacing some old ones
	at       []int
	moved    [][2]int
	plain    []byte
	inflater io.ReadCloser
	// dictBuf holds the plain bytes of dictOf, the last compressed tail
	// decoded or built.
	dictBuf []byte
	dictOf  []byte
	scratch []byte // tailOf's plain bytes
	seed    maphash.Seed

	// compressed counts the plain bytes of the runs compressed, and
	// encoded the items encoded, for tests and benchmarks.
	compressed, encoded int64

	// inst is src's per-instance view (nil without one); seq and since
	// are the delta entry and version the payload holds everything up to.
	inst       instanceLister
	seq, since uint64
	changed    []instChange
	more       []registry.InstanceKey
}

func newAssembler(src appLister, f Format, ttl time.Duration) *assembler {
	a := &assembler{format: f, src: src, ttl: ttl, target: chunkTarget, perBlock: blockRuns, expiredBudget: expiredPerBuild, bulkItems: bulkItems, apps: map[string]*appMeta{},
		stale: map[string]struct{}{}, fresh: map[string]seg{}, seed: maphash.MakeSeed()}
	a.inst, _ = src.(instanceLister)
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
	a.chunks, a.expiry, a.sums = nil, nil, sumTree{}
	a.blocks, a.owned, a.copied = nil, nil, nil
	a.fast = nil
}

// mark makes c dirty: rebuilt by this build.
func (a *assembler) mark(c *chunk) {
	if !c.dirty {
		c.dirty = true
		a.marked = append(a.marked, c)
	}
}

// build returns the full payload's gzip member (its pieces and length:
// see joiner), the content sum of its plain bytes, the registry version it
// shows, and how long it spent on what changed since the last build:
// re-encoding what changed and recompressing their runs. The rest of its
// cost (joining the runs) is paid by every build, however little changed.
//
// With refreshing set a refresh of expired runs is pending and takes them:
// this build, made for a change, leaves them to it and stays short.
func (a *assembler) build(refreshing bool) (blocks [][][]byte, n int, sum, version uint64, changeCost time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	clear(a.marked)
	clear(a.expired)
	a.marked, a.expired = a.marked[:0], a.expired[:0]
	if !refreshing {
		a.settle(fastPerBuild)
	}
	for !refreshing && len(a.expired) < a.expiredBudget && a.behind(now) {
		// An expired run is rebuilt whole, with its items encoded again,
		// so they are as fresh as a new payload's.
		c := heap.Pop(&a.expiry).(*chunk)
		a.expired = append(a.expired, c)
		a.mark(c)
	}
	a.left = a.behind(now) || len(a.fast) > 0
	scratch := len(a.chunks) == 0
	clear(a.fresh)
	a.work = a.work[:0]
	start := time.Now()
	if !scratch && a.inst != nil {
		if version, ok := a.changedInstances(); ok {
			changeCost = time.Since(start)
			changeCost += a.rebuildChunks(now)
			return a.join(version, changeCost)
		}
	}
	if a.inst != nil {
		// Changes from here on are read from the delta queue next time;
		// those AppStates below takes in already are read again, and
		// their bytes found unchanged.
		a.seq, a.since = a.inst.DeltaMark()
	}

	a.listed, a.versions = a.listed[:0], a.versions[:0]
	if scratch {
		a.apps, a.total = map[string]*appMeta{}, eureka.StatusCounts{}
	}
	// The applications with items in expired runs are compared whole.
	clear(a.stale)
	for _, c := range a.expired {
		for _, k := range c.keys {
			a.stale[appOf(k)] = struct{}{}
		}
	}
	if scratch {
		version, apps := a.allStates()
		a.buildAll(apps, now)
		a.left = len(a.fast) > 0
		changeCost = time.Since(start)
		return a.join(version, changeCost)
	}
	version, apps := a.src.AppStates(func(name string, v uint64) bool {
		a.listed = append(a.listed, name)
		m := a.apps[name]
		if _, stale := a.stale[name]; m != nil && m.version == v && !stale {
			return false
		}
		a.versions = append(a.versions, v)
		return true
	})
	for i, app := range apps {
		m := a.apps[app.Name]
		if m == nil {
			m = &appMeta{}
			a.apps[app.Name] = m
		} else {
			a.total.Unmerge(m.counts)
		}
		m.version = a.versions[i]
		m.counts = eureka.StatusCounts{}
		for _, in := range app.Instances {
			m.counts.Add(in.Status)
		}
		a.total.Merge(m.counts)
		a.encode(m, app)
	}
	changeCost = time.Since(start)
	if len(a.listed) != len(a.apps) {
		a.forgetLeft(len(a.apps) - len(a.listed))
	}
	changeCost += a.rebuildChunks(now)
	return a.join(version, changeCost)
}

// allStates copies every application for a first build (AppStates), in
// as many calls at once as buildAll has workers, each for the
// applications whose names hash to it: one call copied and sorted
// 1,000,000 instances on one core under the registry's read lock, 1.3 s
// of a first build's wall time. The calls may see different states if a
// change comes between them; version is the oldest's, which the payload
// holds every change up to, and the changes after it were marked in the
// delta queue before (DeltaMark), so the next build takes them in.
func (a *assembler) allStates() (version uint64, apps []*eureka.Application) {
	workers := max(1, min(runtime.GOMAXPROCS(0), 4))
	type result struct {
		version  uint64
		listed   []string
		versions []uint64
		apps     []*eureka.Application
	}
	results := make([]result, workers)
	var wg sync.WaitGroup
	for w := range results {
		r := &results[w]
		wg.Go(func() {
			r.version, r.apps = a.src.AppStates(func(name string, v uint64) bool {
				if maphash.String(a.seed, name)%uint64(workers) != uint64(w) {
					return false
				}
				r.listed = append(r.listed, name)
				r.versions = append(r.versions, v)
				return true
			})
		})
	}
	wg.Wait()
	version = results[0].version
	for _, r := range results {
		version = min(version, r.version)
		a.listed = append(a.listed, r.listed...)
		a.versions = append(a.versions, r.versions...)
		apps = append(apps, r.apps...)
	}
	return version, apps
}

// A build rebuilds at most expiredPerBuild expired runs; the rest wait
// for later builds: those changes bring, and refreshes spaced so that
// catching up takes at most a quarter of a core (Cache.refreshLater). Runs
// expire apart while the payload is read, but a payload nobody read for
// longer than their lifetime (a quiet registry whose clients poll only the
// delta) finds all of them expired: at 1,000,000 instances that build
// re-encoded every instance, 7 s during which no change reached /apps.
// An expired run only has lease timestamps older than AutoExpiration; a
// change is never held back.
const expiredPerBuild = 16

// behind reports whether runs expired by now wait to be rebuilt.
func (a *assembler) behind(now time.Time) bool {
	return len(a.expiry) > 0 && !now.Before(a.expiry[0].expires)
}

// backlog reports whether the last build left expired runs for the next.
func (a *assembler) backlog() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.left
}

// join assembles the runs into the payload, under mu: the gzip member's
// pieces in order (the runs' own bytes, not a copy), its length and the
// content sum of its plain bytes.
func (a *assembler) join(version uint64, changeCost time.Duration) (blocks [][][]byte, n int, sum, v uint64, cost time.Duration) {
	if hash := a.total.HashCode(); a.head.z == nil || hash != a.headHash {
		// A full payload's versions__delta is always 1 (Eureka's).
		if a.format == JSON {
			a.head = compressPart(eureka.AppendApplicationsHeadJSON(a.plain[:0], 1, hash))
		} else {
			a.head = compressPart(eureka.AppendApplicationsHeadXML(a.plain[:0], 1, hash))
		}
		a.headHash = hash
	}
	s := noPart
	s.then(&a.head)
	s.then(a.sums.root())
	s.then(&a.tail)
	end := memberEnd(s.crc32, s.n)
	blocks = make([][][]byte, 0, len(a.blocks)+2)
	blocks = append(blocks, [][]byte{gzipHeader, a.head.z})
	blocks = append(blocks, a.blocks...)
	blocks = append(blocks, [][]byte{a.tail.z, end})
	// The payload holds the blocks now.
	for _, b := range a.copied {
		a.owned[b] = false
	}
	a.copied = a.copied[:0]
	a.trimScratch()
	return blocks, len(gzipHeader) + int(s.zn) + len(end), s.sum(), version, changeCost
}

// trimScratch drops the scratch a large build grew, and what it still
// refers to: a bulk load read through the delta queue, or a build after
// many runs expired, held the plain bytes of much of the registry in
// work, an entry per instance in changed, more, fresh and segs (74 MB at
// 1,000,000 instances for changed and more alone), and they stayed for
// the server's life, for builds that touch a few runs.
func (a *assembler) trimScratch() {
	a.work = bounded(a.work, maxKeptWork)
	if len(a.fresh) > maxKeptItems {
		a.fresh = map[string]seg{} // a cleared map keeps its size
	}
	clear(a.fresh)
	a.changed = bounded(a.changed, maxKeptItems)
	a.more = bounded(a.more, maxKeptItems)
	a.segs = bounded(a.segs, maxKeptItems)
	a.marked = bounded(a.marked, maxKeptItems)
	a.expired = bounded(a.expired, maxKeptItems)
	a.at = bounded(a.at, maxKeptItems)
	a.moved = bounded(a.moved, maxKeptItems)
}

// bounded returns s, or nil when its array holds more than most: scratch
// a burst grew is let go rather than kept for the builds after it.
func bounded[S ~[]E, E any](s S, most int) S {
	if cap(s) > most {
		return nil
	}
	return s
}

// blockRuns is how many runs' bytes a block of blocks holds.
const blockRuns = 256

// setBytes makes z the bytes of run i in blocks, copying its block first
// unless this build did already.
func (a *assembler) setBytes(i int, z []byte) {
	b, k := i/a.perBlock, i%a.perBlock
	for len(a.blocks) <= b {
		a.blocks = append(a.blocks, nil)
		a.owned = append(a.owned, false)
	}
	blk := a.blocks[b]
	if !a.owned[b] {
		blk = append(make([][]byte, 0, a.perBlock), blk...)
		a.owned[b] = true
		a.copied = append(a.copied, b)
	}
	if k >= len(blk) {
		blk = blk[:k+1]
	}
	blk[k] = z
	a.blocks[b] = blk
}

// trimBytes drops the bytes of the runs from the nth on from blocks.
func (a *assembler) trimBytes(n int) {
	b := (n + a.perBlock - 1) / a.perBlock
	for i := b; i < len(a.blocks); i++ {
		a.blocks[i] = nil
	}
	a.blocks = a.blocks[:min(b, len(a.blocks))]
	if k := n % a.perBlock; k != 0 && b <= len(a.blocks) && b > 0 {
		blk := a.blocks[b-1]
		if a.owned[b-1] {
			clear(blk[k:])
		}
		a.blocks[b-1] = blk[:min(k, len(blk))]
	}
}

// encode re-encodes app's items and compares each with what m says the
// payload holds: an item whose bytes differ, a new one and one that is
// gone go into fresh and make their runs dirty; an unchanged one stays
// where it is, so its run is not recompressed for it.
func (a *assembler) encode(m *appMeta, app *eureka.Application) {
	oldKeys, oldSums := m.keys, m.sums
	m.keys = make([]string, 0, len(app.Instances)+2)
	m.sums = make([]uint64, 0, len(app.Instances)+2)
	m.st = make([]uint8, 0, len(app.Instances)+2)
	j := 0
	add := func(key string, off int, st uint8) {
		a.encoded++
		sum := maphash.Bytes(a.seed, a.work[off:])
		for j < len(oldKeys) && oldKeys[j] < key {
			a.gone(oldKeys[j])
			j++
		}
		switch {
		case j < len(oldKeys) && oldKeys[j] == key && oldSums[j] == sum:
			key = oldKeys[j] // the same string: keep one copy
			a.work = a.work[:off]
			j++
		case j < len(oldKeys) && oldKeys[j] == key:
			key = oldKeys[j]
			a.mark(a.chunkOf(key))
			a.took(key, off)
			j++
		default:
			a.insert(key)
			a.took(key, off)
		}
		m.keys = append(m.keys, key)
		m.sums = append(m.sums, sum)
		m.st = append(m.st, st)
	}
	key := func(kind byte, id string) string {
		// Look the key up among the old ones first: most are there, and
		// building it allocates.
		if j < len(oldKeys) {
			if k := oldKeys[j]; len(k) == len(app.Name)+2+len(id) && k[len(app.Name)+1] == kind && k[len(app.Name)+2:] == id && k[:len(app.Name)] == app.Name {
				return k
			}
		}
		return itemKey(app.Name, kind, id)
	}
	off := len(a.work)
	a.work = a.appendOpen(a.work, app.Name)
	add(key(itemOpen, ""), off, 0)
	for _, in := range app.Instances {
		off = len(a.work)
		a.work = a.appendInstance(a.work, in)
		add(key(itemInstance, in.ID()), off, eureka.StatusIndex(in.Status))
	}
	off = len(a.work)
	a.work = a.appendClose(a.work)
	add(key(itemClose, ""), off, 0)
	for ; j < len(oldKeys); j++ {
		a.gone(oldKeys[j])
	}
}

// took records the item key's new bytes, a.work[off:]: its run takes
// them in when rebuilt.
func (a *assembler) took(key string, off int) {
	a.fresh[key] = seg{key: key, off: off, n: len(a.work) - off}
}

// gone records that the item key left the payload: its run is rebuilt
// without it.
func (a *assembler) gone(key string) {
	a.mark(a.chunkOf(key))
	a.fresh[key] = seg{n: -1}
}

// chunkIndex returns the index of the run key sorts into: the last whose
// first key is not after it, or the first run.
func (a *assembler) chunkIndex(key string) int {
	i := sort.Search(len(a.chunks), func(i int) bool {
		c := a.chunks[i]
		return len(c.keys) > 0 && c.keys[0] > key
	})
	return max(0, i-1)
}

// chunkOf returns the run that holds the item key.
func (a *assembler) chunkOf(key string) *chunk { return a.chunks[a.chunkIndex(key)] }

// insert puts a new item into the run its key sorts into; keys before
// every run go to the first.
func (a *assembler) insert(key string) {
	if len(a.chunks) == 0 {
		a.chunks = append(a.chunks, &chunk{at: -1})
	}
	c := a.chunks[a.chunkIndex(key)]
	a.mark(c)
	// A key its run still holds (an application that left and came back
	// between two builds) is taken from fresh in its place.
	if _, held := slices.BinarySearch(c.keys, key); !held {
		c.inserts = append(c.inserts, key)
	}
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
			for _, k := range m.keys {
				a.gone(k)
			}
			a.total.Unmerge(m.counts)
			delete(a.apps, name)
			n--
		}
	}
}

// rebuildChunks re-encodes the dirty runs, and a clean one after a rebuilt
// one whose dictionary or first item's comma changed with it, splitting
// runs that grew too large and joining those that shrank too small with
// the next. The other runs are not looked at: at 1,000,000 instances a
// pass over every run's keys cost 3 ms a build. It returns the time spent
// on the runs it rebuilt.
func (a *assembler) rebuildChunks(now time.Time) (spent time.Duration) {
	a.at = a.at[:0]
	for _, c := range a.marked {
		a.at = append(a.at, a.indexOf(c))
	}
	slices.Sort(a.at)
	// moved are the ranges of runs that are new; from shift on every run
	// may have moved.
	a.moved = a.moved[:0]
	shift := -1
	// The runs rebuilt replace the old ones in place: copying the others
	// into a new slice cost every build a pass over all (with write
	// barriers while the collector runs: 0.2 ms at 20,000 runs).
	delta := 0 // runs added before the next dirty one, less those removed
	next := 0  // the old runs before it are taken care of
	for _, d := range a.at {
		if d < next {
			continue // rebuilt with a run before
		}
		lo := d + delta
		var prev *chunk
		if lo > 0 {
			prev = a.chunks[lo-1]
		}
		repl := a.repl[:0]
		i := lo
		for ; i < len(a.chunks); i++ {
			c := a.chunks[i]
			var prevTail []byte
			prevKey := ""
			if prev != nil {
				prevTail, prevKey = prev.tail, prev.keys[len(prev.keys)-1]
			}
			// Equal tails compress to equal bytes: comparing the
			// compressed forms says whether the run's dictionary is still
			// its predecessor's tail.
			// A run compressed with no dictionary (buildAll's) refers to
			// nothing before it.
			if !c.dirty && (a.format != JSON || c.lead == sepBefore(prevKey, c.keys[0])) && (c.dict == nil || sameBytes(c.dict, prevTail)) {
				break
			}
			start := time.Now()
			a.drop(c)
			a.segs = a.segments(a.segs[:0], c)
			size := plainSize(a.segs)
			for size < a.target/4 && i+1 < len(a.chunks) {
				i++
				a.drop(a.chunks[i])
				a.segs = a.segments(a.segs, a.chunks[i])
				size = plainSize(a.segs)
			}
			if repl = a.split(repl, prev, a.segs, size, now); len(repl) > 0 {
				prev = repl[len(repl)-1]
			}
			spent += time.Since(start)
		}
		a.chunks = slices.Replace(a.chunks, lo, i, repl...)
		if shift < 0 {
			a.moved = append(a.moved, [2]int{lo, lo + len(repl)})
			if len(repl) != i-lo {
				shift = lo
			}
		}
		next = d + i - lo
		delta += len(repl) - (i - lo)
		clear(repl)
		a.repl = repl[:0]
	}
	if shift >= 0 {
		a.moved = append(a.moved, [2]int{shift, len(a.chunks)})
	}
	at := func(i int) *part { return &a.chunks[i].part }
	for _, r := range a.moved {
		if shift >= 0 && r[0] > shift {
			break
		}
		a.sums.update(len(a.chunks), r[0], r[1], at)
		for i := r[0]; i < r[1]; i++ {
			a.setBytes(i, a.chunks[i].part.z)
		}
	}
	a.trimBytes(len(a.chunks))
	return spent
}

// indexOf returns the index of the run c.
func (a *assembler) indexOf(c *chunk) int {
	if len(c.keys) > 0 {
		if i := a.chunkIndex(c.keys[0]); a.chunks[i] == c {
			return i
		}
	}
	// A run with no items yet: the first of an empty payload.
	return slices.Index(a.chunks, c)
}

// drop takes c, rebuilt, out of the expiry heap, and out of the runs
// settle recompresses: what replaces it is compressed at the normal level.
func (a *assembler) drop(c *chunk) {
	if c.at >= 0 {
		heap.Remove(&a.expiry, c.at)
	}
	c.fast = false
}

// sameBytes is bytes.Equal, at once when both are the same slice: a run's
// dictionary is its predecessor's tail itself unless that was rebuilt, and
// comparing every run's would cost a build a pass over an eighth of the
// payload.
func sameBytes(a, b []byte) bool {
	if len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) {
		return true
	}
	return bytes.Equal(a, b)
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
	for _, key := range c.keys {
		if _, ok := a.fresh[key]; !ok {
			kept = true
			break
		}
	}
	pos := len(a.work)
	if kept {
		a.work = a.inflate(a.work, c)
	}
	for j, key := range c.keys {
		if a.format == JSON && (j == 0 && c.lead || j > 0 && sepBefore(c.keys[j-1], key)) {
			pos++ // the comma
		}
		off := pos
		pos += int(c.sizes[j])
		for len(ins) > 0 && ins[0] < key {
			segs = append(segs, a.fresh[ins[0]])
			ins = ins[1:]
		}
		if s, ok := a.fresh[key]; !ok {
			segs = append(segs, seg{key: key, off: off, n: int(c.sizes[j])})
		} else if s.n >= 0 {
			segs = append(segs, s)
		}
	}
	for _, key := range ins {
		segs = append(segs, a.fresh[key])
	}
	return segs
}

// inflate appends c's plain bytes to dst.
func (a *assembler) inflate(dst []byte, c *chunk) []byte {
	a.plainDict(c.dict)
	r := bytes.NewReader(c.part.z)
	if a.inflater == nil {
		a.inflater = flate.NewReaderDict(r, a.dictBuf)
	} else {
		a.inflater.(flate.Resetter).Reset(r, a.dictBuf)
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
// run if they are no more than twice it), the first to follow prev.
func (a *assembler) split(out []*chunk, prev *chunk, segs []seg, size int, now time.Time) []*chunk {
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
		prev = a.compress(segs[:k], prev, now)
		out = append(out, prev)
		segs = segs[k:]
	}
	return out
}

// compress builds one run from segs, to follow prev (nil: the first run).
func (a *assembler) compress(segs []seg, prev *chunk, now time.Time) *chunk {
	c := &chunk{
		keys:    make([]string, len(segs)),
		sizes:   make([]int32, len(segs)),
		expires: now.Add(a.ttl - rand.N(a.ttl/4+1)),
	}
	heap.Push(&a.expiry, c)
	prevKey := ""
	if prev != nil {
		prevKey = prev.keys[len(prev.keys)-1]
	}
	c.lead = a.format == JSON && sepBefore(prevKey, segs[0].key)
	a.plain = a.plain[:0]
	for i, s := range segs {
		if i > 0 {
			prevKey = segs[i-1].key
		}
		if a.format == JSON && sepBefore(prevKey, s.key) {
			a.plain = append(a.plain, ',')
		}
		a.plain = append(a.plain, a.work[s.off:s.off+s.n]...)
		c.keys[i], c.sizes[i] = s.key, int32(s.n)
	}
	if prev != nil {
		c.dict = a.tailOf(prev)
	}
	a.plainDict(c.dict)
	c.part = compressPartDict(a.plain, a.dictBuf)
	a.compressed += int64(len(a.plain))
	c.tail = compressTail(a.plain)
	// The next run built is most often this one's successor: its
	// dictionary is this tail.
	a.dictBuf = append(a.dictBuf[:0], a.plain[max(0, len(a.plain)-runTail):]...)
	a.dictOf = c.tail
	return c
}

// buildAll encodes every application into new runs, in name order: a
// first build (start-up, a restore, a reset) is the one build that
// encodes and compresses the whole registry (a gigabyte of JSON at
// 1,000,000 instances), and a restart serves nothing until it is done.
//
// Its runs are compressed fast (flate's BestSpeed) and without a
// dictionary, so each stands alone: the payload is cut into segments of
// items encoded and compressed on every core at once, each holding one
// run's plain bytes at a time. Deflating against the run before's tail
// took a third of a run's compression time (the dictionary is hashed as
// if compressed), and the level another third. The runs are recompressed
// at the normal level against their predecessor's tail afterwards, a few
// per build, by the builds changes bring and the refreshes of the backlog
// (settle, Cache.refreshLater). The runs hold what the incremental path
// would build; only their boundaries may differ.
func (a *assembler) buildAll(apps []*eureka.Application, now time.Time) {
	order := make([]int, len(apps))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return strings.Compare(apps[x].Name, apps[y].Name) })

	// The items in payload order are the applications' in turn, each
	// application's opening, instances and closing: first[k] is the index
	// of the kth application's opening. An application's lists are sized
	// whole first, so segments of it fill them side by side.
	metas := make([]*appMeta, len(order))
	first := make([]int, len(order)+1)
	for k, i := range order {
		app := apps[i]
		n := len(app.Instances) + 2
		m := &appMeta{version: a.versions[i], keys: make([]string, n), sums: make([]uint64, n), st: make([]uint8, n)}
		for _, in := range app.Instances {
			m.counts.Add(in.Status)
		}
		a.apps[app.Name] = m
		a.total.Merge(m.counts)
		metas[k] = m
		first[k+1] = first[k] + n
	}
	items := first[len(order)]
	// A small registry is compressed at the normal level at once: it
	// costs little, and leaves no backlog to settle.
	fast := items >= a.bulkItems

	workers := max(1, min(runtime.GOMAXPROCS(0), 4))
	// More segments than workers, so a worker slowed by the neighbours
	// leaves its share to the others; few enough that the short runs
	// ending them cost the payload little.
	segs := max(1, min(workers*8, items/minSegItems))
	runs := make([][]*chunk, segs)
	var next atomic.Int64
	var compressed, encoded atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			plain := make([]byte, 0, a.target+a.target/2)
			for {
				s := int(next.Add(1)) - 1
				if s >= segs {
					return
				}
				lo, hi := items*s/segs, items*(s+1)/segs
				var n int64
				runs[s], plain, n = a.encodeSegment(apps, order, metas, first, lo, hi, plain, fast, now)
				compressed.Add(n)
				encoded.Add(int64(hi - lo))
			}
		})
	}
	wg.Wait()

	a.blocks, a.owned, a.copied = nil, nil, nil
	for _, rs := range runs {
		a.chunks = append(a.chunks, rs...)
	}
	if fast {
		a.fast = slices.Clone(a.chunks)
	}
	for i, c := range a.chunks {
		heap.Push(&a.expiry, c)
		a.setBytes(i, c.part.z)
	}
	a.sums.update(len(a.chunks), 0, len(a.chunks), func(i int) *part { return &a.chunks[i].part })
	a.compressed += compressed.Load()
	a.encoded += encoded.Load()
}

// minSegItems is the fewest items buildAll gives a segment.
const minSegItems = 512

// bulkItems is the fewest items (instances, and each application's
// opening and closing) for which buildAll compresses fast: about 7 MB of
// JSON, 60 ms of compressing at the normal level on one core.
const bulkItems = 10000

// encodeSegment encodes the items [lo, hi) of buildAll's order into runs,
// with plain as the buffer of a run's bytes, and returns them, the buffer
// and the plain bytes compressed. It fills the items' places in their
// applications' metas. With fast the runs are compressed fast and alone,
// else at the normal level, each against the tail of the one before but
// the segment's first.
func (a *assembler) encodeSegment(apps []*eureka.Application, order []int, metas []*appMeta, first []int, lo, hi int, plain []byte, fast bool, now time.Time) (out []*chunk, buf []byte, compressed int64) {
	plain = plain[:0]
	cur := &chunk{at: -1}
	var dict []byte // the plain tail of the segment's last run, not fast
	flush := func() {
		if len(cur.keys) == 0 {
			return
		}
		cur.expires = now.Add(a.ttl - rand.N(a.ttl/4+1))
		if fast {
			// Its tail is taken when needed (tailOf): most often by
			// settle, which has its plain bytes then.
			cur.part = compressPartFast(plain)
		} else {
			if len(out) > 0 {
				cur.dict = out[len(out)-1].tail
			}
			cur.part = compressPartDict(plain, dict)
			cur.tail = compressTail(plain)
			dict = append(dict[:0], plain[max(0, len(plain)-runTail):]...)
		}
		cur.fast = fast
		compressed += int64(len(plain))
		out = append(out, cur)
		cur, plain = &chunk{at: -1}, plain[:0]
	}
	// The application holding item lo.
	k, _ := slices.BinarySearch(first, lo+1)
	k--
	for g := lo; g < hi; k++ {
		app, m := apps[order[k]], metas[k]
		j0 := g - first[k]
		itemKeys(m.keys[j0:min(len(m.keys), j0+hi-g)], app, j0)
		last := len(m.keys) - 1
		for j := j0; j <= last && g < hi; j, g = j+1, g+1 {
			// The kind of the item before comes from its place: it may
			// be in another segment, its key not cut yet.
			kind, prev := itemKindAt(j, last), byte(0)
			if j > 0 {
				prev = itemKindAt(j-1, last)
			} else if g > 0 {
				prev = itemClose
			}
			sep := a.format == JSON && sepBetween(prev, kind)
			if len(cur.keys) == 0 {
				cur.lead = sep
			}
			if sep {
				plain = append(plain, ',')
			}
			off := len(plain)
			var st uint8
			switch kind {
			case itemOpen:
				plain = a.appendOpen(plain, app.Name)
			case itemClose:
				plain = a.appendClose(plain)
			default:
				in := app.Instances[j-1]
				st = eureka.StatusIndex(in.Status)
				plain = a.appendInstance(plain, in)
			}
			m.sums[j], m.st[j] = maphash.Bytes(a.seed, plain[off:]), st
			cur.keys = append(cur.keys, m.keys[j])
			cur.sizes = append(cur.sizes, int32(len(plain)-off))
			if len(plain) >= a.target {
				flush()
			}
		}
	}
	flush()
	return out, plain, compressed
}

// itemKeys sets keys to the keys (itemKey) of app's items from the j0th
// on, in payload order (its opening, its instances, its closing), cut from
// one string: a string each cost a first build at 1,000,000 instances a
// million allocations (0.35 s of CPU with the collector's share). A key
// kept after its item left holds the string's bytes, a few dozen per
// item, until every key cut from it is gone.
func itemKeys(keys []string, app *eureka.Application, j0 int) {
	last := len(app.Instances) + 1
	ends := make([]int, len(keys))
	var b []byte
	for i := range keys {
		j, id := j0+i, ""
		kind := itemKindAt(j, last)
		if kind == itemInstance {
			id = app.Instances[j-1].ID()
		}
		b = appendItemKey(b, app.Name, kind, id)
		ends[i] = len(b)
	}
	all, off := string(b), 0
	for i, end := range ends {
		keys[i], off = all[off:end], end
	}
}

// fastPerBuild is how many runs compressed fast (buildAll) a build
// recompresses at the normal level: each costs about 0.1 ms (inflating
// it, deflating it against the tail of the run before), so with the
// backlog's refreshes spaced rebuildCostShare times their cost apart the
// payload of 1,000,000 instances (30,000 runs) settles within a minute
// at most a quarter of a core.
const fastPerBuild = 64

// settle recompresses up to budget runs that buildAll compressed fast at
// the normal level, each against the tail of the run before, as every
// other run is. Their plain bytes, and so the payload's content and its
// entity tag, stay as they are; only their compressed bytes shrink. Runs
// rebuilt since were compressed at the normal level then (drop).
func (a *assembler) settle(budget int) {
	for budget > 0 && len(a.fast) > 0 {
		c := a.fast[0]
		a.fast[0] = nil
		a.fast = a.fast[1:]
		if !c.fast {
			continue
		}
		budget--
		i := a.indexOf(c)
		a.plain = a.inflate(a.plain[:0], c)
		if c.tail == nil {
			c.tail = compressTail(a.plain)
		}
		if i > 0 {
			// Settled already, as the runs before it are: its tail is
			// at hand.
			c.dict = a.tailOf(a.chunks[i-1])
		}
		a.plainDict(c.dict)
		p := compressPartDict(a.plain, a.dictBuf)
		a.compressed += int64(len(a.plain))
		c.part.z, c.part.zn, c.fast = p.z, p.zn, false
		a.setBytes(i, c.part.z)
		a.sums.update(len(a.chunks), i, i+1, func(i int) *part { return &a.chunks[i].part })
	}
	if len(a.fast) == 0 {
		a.fast = nil
	}
}

// compressTail returns the end of a run's plain bytes (its last runTail),
// compressed on their own with S2. Deflating them cost a sixth of a
// build and inflating them again as the next run's dictionary a tenth;
// S2 writes them six times and reads them three times as fast, for a
// quarter more bytes (3.3 MB of tails instead of 2.6 MB at 100,000
// instances; plain, they are 36 MB, twenty times the payload).
func compressTail(plain []byte) []byte {
	tail := plain[max(0, len(plain)-runTail):]
	buf, _ := tailPool.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	// s2.Encode's output holds s2.MaxEncodedLen: encode into a pooled
	// buffer and keep an exact copy.
	*buf = s2.Encode((*buf)[:cap(*buf)], tail)
	z := bytes.Clone(*buf)
	tailPool.Put(buf)
	return z
}

// tailPool holds compressTail's buffers.
var tailPool sync.Pool

// tailOf returns c's tail, taking it from c's bytes first if it is a fast
// run's not taken yet (buildAll leaves them to settle): a run rebuilt
// next to one before settle got to it is compressed against it too.
func (a *assembler) tailOf(c *chunk) []byte {
	if c.tail == nil && c.part.n > 0 {
		a.scratch = a.inflate(a.scratch[:0], c)
		c.tail = compressTail(a.scratch)
		a.scratch = bounded(a.scratch, 4*chunkTarget)
	}
	return c.tail
}

// plainDict sets dictBuf to the plain bytes of the compressed tail z,
// decoding it unless dictBuf holds them already: a run inflated to be
// rebuilt and then compressed needs its dictionary twice.
func (a *assembler) plainDict(z []byte) {
	if len(z) == len(a.dictOf) && (len(z) == 0 || &z[0] == &a.dictOf[0]) {
		return
	}
	a.dictBuf = a.dictBuf[:0]
	if len(z) > 0 {
		var err error
		if a.dictBuf, err = s2.Decode(a.dictBuf[:cap(a.dictBuf)], z); err != nil {
			// The bytes were compressed here: they cannot be corrupt.
			panic("cache: decoding a run's tail: " + err.Error())
		}
	}
	a.dictOf = z
}

// appendOpen, appendInstance and appendClose append an item's plain bytes
// in the assembler's format, without a separator before them.
func (a *assembler) appendOpen(dst []byte, app string) []byte {
	if a.format == JSON {
		return eureka.AppendApplicationOpenJSON(dst, app, true)
	}
	return eureka.AppendApplicationOpenXML(dst, app)
}

func (a *assembler) appendInstance(dst []byte, in *eureka.InstanceInfo) []byte {
	if a.format == JSON {
		return eureka.AppendApplicationInstanceJSON(dst, in, true)
	}
	return eureka.AppendApplicationInstanceXML(dst, in)
}

func (a *assembler) appendClose(dst []byte) []byte {
	if a.format == JSON {
		return eureka.AppendApplicationCloseJSON(dst)
	}
	return eureka.AppendApplicationCloseXML(dst)
}

// changedInstances re-encodes the instances that changed since the last
// build (the delta queue names them) and those of expired runs (for their
// lease timestamps), not their whole applications: at 1,000,000 instances
// in 50 applications, 1,000 changes a second touch every application
// between two builds, and re-encoding 20,000 instances to find the one
// that changed cost a core. ok is false, and nothing changed, when the
// queue cannot say what changed (AppStates' path then).
func (a *assembler) changedInstances() (version uint64, ok bool) {
	a.more = a.more[:0]
	for _, c := range a.expired {
		for _, k := range c.keys {
			if kindOf(k) == itemInstance {
				i := strings.IndexByte(k, 0)
				a.more = append(a.more, registry.InstanceKey{App: k[:i], ID: k[i+2:]})
			}
		}
	}
	a.changed = a.changed[:0]
	next, version, ok := a.inst.ChangedInstances(a.seq, a.since, a.more, func(app, id string, in *eureka.InstanceInfo) {
		a.changed = append(a.changed, instChange{app, id, in})
	})
	if !ok {
		return 0, false
	}
	a.seq, a.since = next, version
	// In payload order: the queue names them in map order, and new items
	// put at random places in an application's sorted lists moved half of
	// them each (a new peer's sync of 1,000,000: 5.3 s of CPU in
	// slices.Insert; 0.12 s sorted).
	slices.SortFunc(a.changed, func(x, y instChange) int {
		return cmp.Or(strings.Compare(x.app, y.app), strings.Compare(x.id, y.id))
	})
	for _, ch := range a.changed {
		a.apply(ch)
	}
	clear(a.changed) // the copies
	a.changed = a.changed[:0]
	return version, true
}

// apply takes one changed instance into the payload's items.
func (a *assembler) apply(ch instChange) {
	m := a.apps[ch.app]
	if m == nil {
		if ch.in == nil {
			return
		}
		m = &appMeta{}
		a.apps[ch.app] = m
		a.put(m, itemKey(ch.app, itemOpen, ""), 0, func(b []byte) []byte { return a.appendOpen(b, ch.app) })
		a.put(m, itemKey(ch.app, itemClose, ""), 0, a.appendClose)
	}
	m.version = 0 // unknown: AppStates' path compares the application again
	key := itemKey(ch.app, itemInstance, ch.id)
	if ch.in != nil {
		a.put(m, key, eureka.StatusIndex(ch.in.Status), func(b []byte) []byte { return a.appendInstance(b, ch.in) })
		return
	}
	a.remove(m, key)
	if len(m.keys) == 2 { // its last instance left
		a.remove(m, m.keys[1])
		a.remove(m, m.keys[0])
		delete(a.apps, ch.app)
	}
}

// put encodes the item key with enc and, when its bytes differ from what
// the payload holds or it is new, takes it in: fresh, its run dirty.
func (a *assembler) put(m *appMeta, key string, st uint8, enc func([]byte) []byte) {
	i, found := slices.BinarySearch(m.keys, key)
	off := len(a.work)
	a.work = enc(a.work)
	a.encoded++
	sum := maphash.Bytes(a.seed, a.work[off:])
	switch {
	case found && m.sums[i] == sum:
		a.work = a.work[:off]
		return
	case found:
		key = m.keys[i] // keep one copy of the string
		a.mark(a.chunkOf(key))
		a.count(m, key, m.st[i], -1)
		m.sums[i], m.st[i] = sum, st
	default:
		a.insert(key)
		m.keys = slices.Insert(m.keys, i, key)
		m.sums = slices.Insert(m.sums, i, sum)
		m.st = slices.Insert(m.st, i, st)
	}
	a.count(m, key, st, 1)
	a.took(key, off)
}

// remove takes the item key out of the payload, if it is there.
func (a *assembler) remove(m *appMeta, key string) {
	i, found := slices.BinarySearch(m.keys, key)
	if !found {
		return
	}
	key = m.keys[i]
	a.gone(key)
	a.count(m, key, m.st[i], -1)
	m.keys = slices.Delete(m.keys, i, i+1)
	m.sums = slices.Delete(m.sums, i, i+1)
	m.st = slices.Delete(m.st, i, i+1)
}

// count moves the hash code's counts by n instances of status st, when key
// is an instance.
func (a *assembler) count(m *appMeta, key string, st uint8, n int) {
	if kindOf(key) == itemInstance {
		m.counts.AddIndex(st, n)
		a.total.AddIndex(st, n)
	}
}
