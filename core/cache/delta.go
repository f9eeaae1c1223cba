package cache

import (
	"cmp"
	"hash/maphash"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// deltaLister is what an incremental delta needs from the source besides
// Source; *registry.Registry implements it. A source without it gets the
// delta encoded from scratch.
type deltaLister interface {
	// DeltaSince calls visit for every delta queue entry numbered seq or
	// later, oldest first, and returns the number of the oldest entry
	// still queued, the registry version and the whole registry's hash
	// code, all of one state.
	// in is the source's copy, shown with LeaseInfo set to &lease; it
	// is kept to encode the instance again (see deltaInst).
	DeltaSince(seq uint64, visit func(seq uint64, app, id string, in *eureka.InstanceInfo, lease eureka.LeaseInfo)) (first, version uint64, hashcode string)
}

// deltaTarget is the plain size of a delta part. The delta's instances are
// compressed in parts of neighbours (in the payload's order) of about that
// size, each against the end of the part before it (tailSize of it, as
// the full payload's runs are): one part per instance made the gzip delta
// twice a whole-payload compression. A change recompresses the part it
// falls in, and the next one only when it changes that part's last bytes.
// A part grows with what lands in it; past one and a half times the
// target it is split, below a quarter it takes in the next, so boundaries
// move only where something changed. Measured with a change a build
// (BenchmarkDeltaChurn100000): 8 KB parts compressed 33 KB a change but
// made the gzip delta 1.14 times a whole-payload compression, 16 KB 50 KB
// and 1.06, 32 KB 79 KB and 1.025, 64 KB 129 KB and 1.01 to 1.04.
const deltaTarget = 32 << 10

// deltaAssembler mirrors the registry's delta queue and keeps the delta
// payload (GET apps/delta) as compressed parts of neighbouring instances.
// The payload's shape is Registry.Delta's: applications in order of their
// first change in the window, in each the changed instances in order of
// their first change, each as of its latest.
//
// A build costs what changed since the last one, not the window: the
// instances are a list in the payload's order, each format's parts a list
// of runs of it, and every change (an entry added, an entry expired, an
// application moved) relinks the instances it moves and marks dirty the
// parts they leave and join and those of the neighbours whose segment
// changed shape. A build then walks the parts, regroups and recompresses
// the dirty ones and those whose predecessor's tail moved, and joins them.
type deltaAssembler struct {
	mu  sync.Mutex
	src deltaLister
	// target is deltaTarget; tests make it small.
	target int

	next uint64 // the seq of the next entry to read
	// window[head:] are the entries read and not yet expired, oldest
	// first; the expired prefix is dropped when it is the larger half.
	window  []deltaEntry
	head    int
	insts   map[deltaKey]*deltaInst
	apps    map[string]*deltaApp
	order   []*deltaApp // by their first instance's first seq
	visited []visitedEntry
	// The largest the maps were since they were last made again, and
	// how many applications left the front of order since it was last
	// copied: what shrinkMaps and unpin need to let go of a window that
	// shrank.
	instsPeak, appsPeak int
	orderDropped        int
	// moved are the applications that changed place in the payload
	// since the last build: their instances are relinked once per
	// build, not once per entry that expired.
	moved []*deltaApp

	// first and last end the list of the payload's instances.
	first, last *deltaInst
	parts       [2]deltaParts // per format
	// compressed counts the plain bytes of the parts compressed, for
	// tests and benchmarks to see what a change costs.
	compressed int64
	// tails numbers the parts' tails: a part is compressed against the
	// tail of that number, and again when the part before it has another.
	tails uint64
	end   [2]part // the payload's closing, per format

	// Reused between builds.
	plan []byte // plain bytes of the parts being compressed
	ends []int  // where each instance's segment ends in plan
	// dict is the tail of the part refresh last compressed or read
	// (tailOf); back and backEnds are tailOf's.
	dict     []byte
	back     []byte
	backEnds []int
	// seeds hash the tails (tailSum): two, as a collision would serve a
	// part compressed against another part's tail.
	seeds [2]maphash.Seed
	// shown is the instance segment encodes, in.in shown with in.lease.
	shown      eureka.InstanceInfo
	shownLease eureka.LeaseInfo
}

type deltaKey struct{ app, id string }

type deltaEntry struct {
	seq  uint64
	inst *deltaInst
}

type visitedEntry struct {
	seq     uint64
	app, id string
	in      *eureka.InstanceInfo
	lease   eureka.LeaseInfo
}

// deltaApp is one application with instances in the window.
type deltaApp struct {
	name  string
	insts []*deltaInst // by their first seq
	// dropped counts the instances cut off the front of insts since it
	// was last copied (unpin).
	dropped int
	// moved: it is in deltaAssembler.moved, to be relinked.
	moved bool
}

func (a *deltaApp) firstSeq() uint64 { return a.insts[0].seqs[0] }

// deltaInst is one instance with entries in the window.
//
// It keeps no encoding of the instance and no copy of it: in is the
// source's (held by its queue while the entry is in the window) and the
// instance is encoded again, shown with lease, whenever a part it is in is
// compressed. Keeping both formats' items and a decorated copy cost about
// 1.7 KB an instance in the window, 1.7 GB for three minutes after a bulk
// load of 1,000,000; encoding is a small part of what compressing the
// same bytes costs.
type deltaInst struct {
	key   deltaKey
	app   *deltaApp
	seqs  []uint64             // its entries in the window, oldest first
	in    *eureka.InstanceInfo // as of its latest entry, undecorated
	lease eureka.LeaseInfo     // what the delta shows as in's LeaseInfo
	// shape is what its place adds around its item.
	shape segShape
	// Its neighbours in the payload and its part per format, while
	// linked (an instance of a moved application waits unlinked).
	linked     bool
	prev, next *deltaInst
	part       [2]*deltaPart
}

// segShape is what an instance's place in the payload adds to its item
// (its segment): the application's opening before the first instance, the
// closing after the last.
type segShape uint8

const (
	shapeFirstApp segShape = 1 << iota // it opens the first application (JSON: no comma)
	shapeOpens                         // the application's first instance
	shapeCloses                        // the application's last instance
)

// deltaParts is one format's parts in the payload's order.
type deltaParts struct {
	first, last *deltaPart
	n           int
	// run is runParts; tests make it small.
	run int
	// stamp counts the changes to the parts (compressed, inserted, a
	// neighbour removed): a run's checksum is good while none of its
	// parts changed since it was combined.
	stamp uint64
}

// runParts is how many parts a run combines the checksums of. Joining
// parts one by one cost two CRC multiplications each, 120 ns: 0.7 ms a
// build at 5,600 parts; by runs it costs those of the runs that changed,
// and a trivial multiplication for each other part.
const runParts = 32

// deltaPart is a run of neighbouring instances' segments, first to last
// in the list, compressed together.
type deltaPart struct {
	first, last *deltaInst
	prev, next  *deltaPart
	// dirty: its members or their segments changed since it was
	// compressed.
	dirty bool
	part  part
	// tailSum is a hash of the end of its plain bytes (what the next
	// part is compressed against; tailOf encodes it again when needed),
	// tailID the number of that tail; dictID is the number of the tail
	// it was compressed against, 0 for none. Keeping the tail itself cost
	// 8 KB a part, a quarter of the plain bytes.
	tailSum        [2]uint64
	tailID, dictID uint64

	// changed is the stamp of its last change. runEnd says it ends a run
	// of parts; the last part of a run keeps the run's combined checksums
	// in sum (no bytes), made at sumStamp for the sumN parts from
	// sumFirst.
	changed  uint64
	runEnd   bool
	sum      part
	sumFirst *deltaPart
	sumN     int
	sumStamp uint64
}

func newDeltaAssembler(src deltaLister) *deltaAssembler {
	a := &deltaAssembler{src: src, target: deltaTarget, insts: map[deltaKey]*deltaInst{}, apps: map[string]*deltaApp{}}
	a.seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	a.parts[JSON].run, a.parts[XML].run = runParts, runParts
	a.end[JSON] = compressPart(eureka.AppendApplicationsTailJSON(nil))
	a.end[XML] = compressPart(eureka.AppendApplicationsTailXML(nil))
	return a
}

// build returns the delta's gzip member in format f with versionsDelta vd
// (its pieces and length: see joiner), the content sum of its plain bytes and
// the registry version it shows.
func (a *deltaAssembler) build(f Format, vd int64) (parts [][]byte, n int, sum, version uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.visited = a.visited[:0]
	first, version, hash := a.src.DeltaSince(a.next, func(seq uint64, app, id string, in *eureka.InstanceInfo, lease eureka.LeaseInfo) {
		a.visited = append(a.visited, visitedEntry{seq, app, id, in, lease})
	})
	a.expire(first)
	a.place()
	for _, v := range a.visited {
		a.add(v)
	}
	clear(a.visited)

	var head part
	if f == JSON {
		head = compressPart(eureka.AppendApplicationsHeadJSON(a.plan[:0], vd, hash))
	} else {
		head = compressPart(eureka.AppendApplicationsHeadXML(a.plan[:0], vd, hash))
	}
	a.refresh(f)
	a.shown = eureka.InstanceInfo{} // holds the last instance's fields
	a.trimScratch()
	j := newJoiner(a.parts[f].n + 2)
	j.add(&head)
	a.parts[f].join(j)
	j.add(&a.end[f])
	parts, n, sum = j.finish()
	return parts, n, sum, version
}

// Bounds on the scratch a build keeps for the next: the first build after
// a bulk load compresses the whole window at once, and its plain bytes
// (75 MB at 100,000 instances) stayed as the next build's scratch.
const (
	maxKeptPlan    = 8 * deltaTarget
	maxKeptEntries = 4096
)

// trimScratch drops the scratch buffers a large build grew.
func (a *deltaAssembler) trimScratch() {
	a.plan = bounded(a.plan, maxKeptPlan)
	a.ends = bounded(a.ends, maxKeptEntries)
	a.visited = bounded(a.visited, maxKeptEntries)
	if cap(a.dict) > maxKeptPlan || cap(a.back) > maxKeptPlan {
		a.dict, a.back = nil, nil // an instance of megabytes was in a tail
	}
	a.backEnds = bounded(a.backEnds, maxKeptEntries)
	a.moved = bounded(a.moved, maxKeptEntries)
}

// join adds the parts to j by runs: each part's bytes, and at the end of
// each run the run's checksums, combined again only if one of its parts
// changed since.
func (ps *deltaParts) join(j *joiner) {
	// A part added with a shift of x^0 and no CRC leaves the checksums
	// as they are: multiplying by one is a single step of crcMath.mul.
	bare := part{shift32: crc32Math.one, shiftC: crcCMath.one}
	first, n, changed := ps.first, 0, uint64(0)
	for p := ps.first; p != nil; p = p.next {
		n++
		changed = max(changed, p.changed)
		if n == ps.run {
			p.runEnd = true
		}
		if !p.runEnd && p.next != nil {
			bare.z = p.part.z
			j.add(&bare)
			continue
		}
		if p.sumFirst != first || p.sumN != n || p.sumStamp < changed {
			p.sum = combine(first, p)
			p.sumFirst, p.sumN, p.sumStamp = first, n, ps.stamp
		}
		s := p.sum
		s.z = p.part.z
		j.add(&s)
		first, n, changed = p.next, 0, 0
	}
}

// combine returns the checksums of the plain bytes of the parts from
// first to last, with no bytes.
func combine(first, last *deltaPart) part {
	var s part
	for q := first; ; q = q.next {
		s.crc32 = crc32Math.mul(q.part.shift32, s.crc32) ^ q.part.crc32
		s.crcC = crcCMath.mul(q.part.shiftC, s.crcC) ^ q.part.crcC
		s.n += q.part.n
		if q == last {
			break
		}
	}
	s.shift32, s.shiftC = crc32Math.shift(s.n), crcCMath.shift(s.n)
	return s
}

// refresh brings format f's parts up to date: it regroups and compresses
// the dirty ones and those whose predecessor's tail changed.
func (a *deltaAssembler) refresh(f Format) {
	var prev *deltaPart
	// held: a.dict is prev's tail, as regroup leaves it.
	held := false
	for p := a.parts[f].first; p != nil; p = p.next {
		var dict []byte
		var dictID uint64
		if prev != nil {
			dictID = prev.tailID
		}
		if p.dirty || p.dictID != dictID {
			if prev != nil {
				if !held {
					a.dict = a.tailOf(a.dict[:0], prev, f)
				}
				dict = a.dict
			}
			p = a.regroup(p, f, dict, dictID)
			held = true
		} else {
			held = false
		}
		prev = p
	}
}

// tailOf appends to dst the end of p's plain bytes in format f (tailSize
// of them, or all), encoding p's last instances again: p is compressed, so
// their segments are what it holds.
func (a *deltaAssembler) tailOf(dst []byte, p *deltaPart, f Format) []byte {
	// Encoded last first, then put in order.
	a.back, a.backEnds = a.back[:0], a.backEnds[:0]
	for in := p.last; len(a.back) < tailSize; in = in.prev {
		a.back = a.segment(a.back, in, f)
		a.backEnds = append(a.backEnds, len(a.back))
		if in == p.first {
			break
		}
	}
	start := len(dst)
	for i := len(a.backEnds) - 1; i >= 0; i-- {
		from := 0
		if i > 0 {
			from = a.backEnds[i-1]
		}
		dst = append(dst, a.back[from:a.backEnds[i]]...)
	}
	if extra := len(dst) - start - tailSize; extra > 0 {
		n := copy(dst[start:], dst[start+extra:])
		dst = dst[:start+n]
	}
	return dst
}

// regroup compresses p in format f against dict (tail dictID), first
// taking in the parts after it while it is under a quarter of the target
// and splitting it when over one and a half, and returns the last part
// it became, with its tail in a.dict.
//
// A part larger than three targets is cut as it is encoded (cut): a bulk
// load's first build finds the whole window in one part, and encoding it
// whole held a gigabyte of plain bytes at 1,000,000 instances.
func (a *deltaAssembler) regroup(p *deltaPart, f Format, dict []byte, dictID uint64) *deltaPart {
	a.plan, a.ends = a.plan[:0], a.ends[:0]
	// cur is the part the members from first on go to; last is the last
	// member of them all.
	cur, first, last := p, p.first, p.last
	for in := first; ; in = in.next {
		a.plan = a.segment(a.plan, in, f)
		a.ends = append(a.ends, len(a.plan))
		if in == last {
			q := cur.next
			if len(a.plan) >= a.target/4 || q == nil {
				break
			}
			for m := q.first; ; m = m.next {
				m.part[f] = cur
				if m == q.last {
					break
				}
			}
			cur.last, last = q.last, q.last
			a.parts[f].remove(q)
			continue
		}
		if len(a.plan) >= 3*a.target {
			cur, first, dict, dictID = a.cut(cur, first, f, dict, dictID)
		}
	}
	size := len(a.plan)
	per := size
	switch {
	case size <= a.target*3/2:
	case cur.next == nil:
		// The last part grows by what is appended: parts of the target
		// are cut off its front, so the rest starts small.
		per = a.target
	default:
		per = size / ((size + a.target/2) / a.target)
	}
	from, in := 0, first
	for _, end := range a.ends {
		in.part[f] = cur
		if end-from >= per || in == last {
			cur.last = in
			a.compress(&a.parts[f], cur, a.plan[from:end], dict, dictID)
			tail := a.plan[max(from, end-tailSize):end]
			if in == last {
				a.dict = append(a.dict[:0], tail...)
				return cur
			}
			dict, dictID, from = tail, cur.tailID, end
			q := &deltaPart{first: in.next}
			a.parts[f].insertAfter(q, cur)
			cur = q
		}
		in = in.next
	}
	panic("unreachable: a part ends with its last member")
}

// cut compresses the members encoded in a.plan from first on, up to the
// one that reaches the target, as cur against dict, drops their bytes
// from the plan, and returns the part after cur that takes the rest, its
// first member and its dictionary (cur's tail, in a.dict).
func (a *deltaAssembler) cut(cur *deltaPart, first *deltaInst, f Format, dict []byte, dictID uint64) (*deltaPart, *deltaInst, []byte, uint64) {
	k, in := 0, first
	for ; a.ends[k] < a.target; k++ {
		in.part[f] = cur
		in = in.next
	}
	in.part[f] = cur
	end := a.ends[k]
	cur.last = in
	a.compress(&a.parts[f], cur, a.plan[:end], dict, dictID)
	a.dict = append(a.dict[:0], a.plan[max(0, end-tailSize):end]...)
	q := &deltaPart{first: in.next}
	a.parts[f].insertAfter(q, cur)
	a.plan = a.plan[:copy(a.plan, a.plan[end:])]
	a.ends = a.ends[:copy(a.ends, a.ends[k+1:])]
	for i := range a.ends {
		a.ends[i] -= end
	}
	return q, in.next, a.dict, cur.tailID
}

// compress compresses p's plain bytes against dict, numbered dictID.
func (a *deltaAssembler) compress(ps *deltaParts, p *deltaPart, plain, dict []byte, dictID uint64) {
	p.part = compressPartDict(plain, dict)
	ps.stamp++
	p.changed = ps.stamp
	p.dirty, p.dictID = false, dictID
	a.compressed += int64(len(plain))
	// The next part needs compressing again only if this tail moved.
	tail := plain[max(0, len(plain)-tailSize):]
	if sum := [2]uint64{maphash.Bytes(a.seeds[0], tail), maphash.Bytes(a.seeds[1], tail)}; p.tailID == 0 || sum != p.tailSum {
		p.tailSum = sum
		a.tails++
		p.tailID = a.tails
	}
}

// insertAfter links p after prev, or first when prev is nil.
func (ps *deltaParts) insertAfter(p, prev *deltaPart) {
	ps.stamp++
	p.prev, p.dirty, p.changed = prev, true, ps.stamp
	if prev == nil {
		p.next, ps.first = ps.first, p
	} else {
		p.next, prev.next = prev.next, p
	}
	if p.next == nil {
		ps.last = p
	} else {
		p.next.prev = p
	}
	ps.n++
}

// remove unlinks p; its neighbours change, as the runs they are in.
func (ps *deltaParts) remove(p *deltaPart) {
	ps.stamp++
	if p.prev == nil {
		ps.first = p.next
	} else {
		p.prev.next = p.next
		p.prev.changed = ps.stamp
	}
	if p.next == nil {
		ps.last = p.prev
	} else {
		p.next.prev = p.prev
		p.next.changed = ps.stamp
	}
	p.prev, p.next = nil, nil
	ps.n--
}

// link puts in into the payload after prev (first when prev is nil); in
// each format it joins the part it lands in, which is then dirty: prev's,
// or the next one's when prev ends its part. Joining the front of the
// next part leaves the tail of prev's as it was, so the part after it
// needs no compressing again.
func (a *deltaAssembler) link(in, prev *deltaInst) {
	in.prev, in.linked = prev, true
	if prev == nil {
		in.next, a.first = a.first, in
	} else {
		in.next, prev.next = prev.next, in
	}
	if in.next == nil {
		a.last = in
	} else {
		in.next.prev = in
	}
	for f := range in.part {
		ps := &a.parts[f]
		var p *deltaPart
		switch {
		case prev != nil && (prev.part[f].last != prev || in.next == nil):
			p = prev.part[f]
			if p.last == prev {
				p.last = in
			}
		case in.next != nil:
			p = in.next.part[f]
			p.first = in
		default:
			p = &deltaPart{first: in, last: in}
			ps.insertAfter(p, nil)
		}
		in.part[f], p.dirty = p, true
	}
}

// unlink takes in out of the payload and out of its parts, which are
// then dirty (or gone, if it was all they held).
func (a *deltaAssembler) unlink(in *deltaInst) {
	for f, p := range in.part {
		switch {
		case p.first == in && p.last == in:
			a.parts[f].remove(p)
		case p.first == in:
			p.first = in.next
		case p.last == in:
			p.last = in.prev
		}
		p.dirty, in.part[f] = true, nil
	}
	if in.prev == nil {
		a.first = in.next
	} else {
		in.prev.next = in.next
	}
	if in.next == nil {
		a.last = in.prev
	} else {
		in.next.prev = in.prev
	}
	in.prev, in.next, in.linked = nil, nil, false
}

// reshape gives in the shape of its place (its application in order and
// in that application) and marks its parts dirty if that changed it.
func (a *deltaAssembler) reshape(in *deltaInst) {
	app := in.app
	var shape segShape
	if app.insts[0] == in {
		shape |= shapeOpens
		if a.order[0] == app {
			shape |= shapeFirstApp
		}
	}
	if app.insts[len(app.insts)-1] == in {
		shape |= shapeCloses
	}
	if shape != in.shape {
		in.shape = shape
		a.touch(in)
	}
}

// touch marks in's parts dirty.
func (a *deltaAssembler) touch(in *deltaInst) {
	for _, p := range in.part {
		if p != nil {
			p.dirty = true
		}
	}
}

// segment appends in's segment's plain bytes in format f to dst.
func (a *deltaAssembler) segment(dst []byte, in *deltaInst, f Format) []byte {
	if f == JSON {
		if in.shape&shapeOpens != 0 {
			dst = eureka.AppendApplicationOpenJSON(dst, in.key.app, in.shape&shapeFirstApp != 0)
		} else {
			dst = append(dst, ',')
		}
	} else if in.shape&shapeOpens != 0 {
		dst = eureka.AppendApplicationOpenXML(dst, in.key.app)
	}
	// The instance as the delta shows it, in a copy the assembler reuses.
	a.shown = *in.in
	a.shownLease = in.lease
	a.shown.LeaseInfo = &a.shownLease
	if f == JSON {
		dst = eureka.AppendInstanceJSON(dst, &a.shown)
	} else {
		dst = eureka.AppendApplicationInstanceXML(dst, &a.shown)
	}
	if in.shape&shapeCloses != 0 {
		if f == JSON {
			dst = eureka.AppendApplicationCloseJSON(dst)
		} else {
			dst = eureka.AppendApplicationCloseXML(dst)
		}
	}
	return dst
}

// add takes in one entry read from the queue: a new instance goes after
// its application's last (a new application last in the payload), a
// known one changes in place.
func (a *deltaAssembler) add(v visitedEntry) {
	if v.seq < a.next {
		return // read before
	}
	k := deltaKey{v.app, v.id}
	in := a.insts[k]
	if in == nil {
		in = &deltaInst{key: k}
		a.insts[k] = in
		if app := a.apps[v.app]; app == nil {
			in.app = &deltaApp{name: v.app, insts: []*deltaInst{in}}
			a.apps[v.app] = in.app
			a.order = append(a.order, in.app)
			a.link(in, a.last)
		} else {
			in.app = app
			prev := app.insts[len(app.insts)-1]
			app.insts = append(app.insts, in)
			a.link(in, prev)
			a.reshape(prev)
		}
		a.reshape(in)
	} else {
		a.touch(in)
	}
	in.seqs = append(in.seqs, v.seq)
	in.in, in.lease = v.in, v.lease
	a.window = append(a.window, deltaEntry{v.seq, in})
	a.next = v.seq + 1
	a.instsPeak = max(a.instsPeak, len(a.insts))
	a.appsPeak = max(a.appsPeak, len(a.apps))
}

// expire drops the entries numbered below first. Each is the oldest in
// the window, so its instance comes first in its application and that
// application first in the payload: dropping it moves the instance back
// to the place of its next entry, or out, and its application likewise.
// An application that moves behind another waits for place.
func (a *deltaAssembler) expire(first uint64) {
	for a.head < len(a.window) && a.window[a.head].seq < first {
		in := a.window[a.head].inst
		a.window[a.head] = deltaEntry{}
		a.head++
		app := in.app
		in.seqs = in.seqs[1:]
		if len(in.seqs) == 1 {
			// An instance changed in a burst keeps the burst's array
			// otherwise; one entry left is the quiet case.
			in.seqs = []uint64{in.seqs[0]}
		}
		if in.linked {
			a.unlink(in)
		}
		// The oldest entry's instance is its application's first: drop
		// it from the front without moving the others (a bulk load of
		// 1,000,000 leaving the window moved 17,000 pointers an entry).
		app.insts[0] = nil
		app.insts = unpin(app.insts[1:], &app.dropped)
		at := -1
		if len(in.seqs) == 0 {
			delete(a.insts, in.key)
		} else {
			at = sort.Search(len(app.insts), func(i int) bool { return app.insts[i].seqs[0] > in.seqs[0] })
			app.insts = slices.Insert(app.insts, at, in)
		}
		if len(app.insts) == 0 {
			delete(a.apps, app.name)
			a.order[0] = nil
			a.order = unpin(a.order[1:], &a.orderDropped)
		} else {
			// It was first: move it back behind those changed before its
			// new first change.
			to := sort.Search(len(a.order)-1, func(i int) bool { return a.order[i+1].firstSeq() > app.firstSeq() })
			copy(a.order, a.order[1:to+1])
			a.order[to] = app
			if to > 0 && !app.moved {
				app.moved = true
				a.moved = append(a.moved, app)
			}
		}
		if len(app.insts) > 0 && !app.moved {
			// Still first and linked: the instance goes back in its place,
			// where the one before it may stop closing the application,
			// and the one now first opens it.
			if at >= 0 {
				var prev *deltaInst
				if at > 0 {
					prev = app.insts[at-1]
					a.reshape(prev)
				}
				a.link(in, prev)
				a.reshape(in)
			}
			a.reshape(app.insts[0])
		}
		if len(a.order) > 0 && a.order[0] != app {
			// Another application opens the payload now.
			a.reshape(a.order[0].insts[0])
		}
	}
	if a.head > len(a.window)/2 {
		// Copy down so the backing array does not grow without bound;
		// the expired half is the larger, so copying costs an entry per
		// entry expired. An array four times what is left (a bulk load
		// left) is let go instead.
		if live := a.window[a.head:]; cap(a.window) > max(4*len(live), minShrink) {
			a.window = append([]deltaEntry(nil), live...)
		} else {
			m := copy(a.window, live)
			clear(a.window[m:])
			a.window = a.window[:m]
		}
		a.head = 0
	}
	if first > a.next {
		a.next = first
	}
	a.shrinkMaps()
}

// minShrink is the size below which the window's maps and arrays are not
// made again as it shrinks.
const minShrink = 1024

// shrinkMaps makes the maps again once they hold a quarter of what they
// held: a Go map keeps the room of its largest size (a bulk load of
// 1,000,000 left about 100 MB behind). Each is made again after losing
// three quarters, so this costs at most a third of an insertion per
// deletion.
func (a *deltaAssembler) shrinkMaps() {
	if a.instsPeak > minShrink && len(a.insts) < a.instsPeak/4 {
		a.insts = maps.Collect(maps.All(a.insts))
		a.instsPeak = len(a.insts)
	}
	if a.appsPeak > minShrink && len(a.apps) < a.appsPeak/4 {
		a.apps = maps.Collect(maps.All(a.apps))
		a.appsPeak = len(a.apps)
	}
}

// unpin returns s, cut from the front of a larger array, in an array of
// its own once more than twice its length was cut (dropped counts the
// cuts since): the cut front is let go, at a copy of s per 2·len(s) cuts.
func unpin[T any](s []T, dropped *int) []T {
	*dropped++
	if *dropped <= 2*len(s)+16 {
		return s
	}
	*dropped = 0
	return append([]T(nil), s...)
}

// place relinks the instances of the applications that moved, each
// application after the one before it in order.
func (a *deltaAssembler) place() {
	moved := a.moved[:0]
	for _, app := range a.moved {
		app.moved = false
		if a.apps[app.name] != app {
			continue // left the window
		}
		for _, in := range app.insts {
			if in.linked {
				a.unlink(in)
			}
		}
		moved = append(moved, app)
	}
	slices.SortFunc(moved, func(x, y *deltaApp) int { return cmp.Compare(x.firstSeq(), y.firstSeq()) })
	for _, app := range moved {
		var prev *deltaInst
		if at := sort.Search(len(a.order), func(i int) bool { return a.order[i].firstSeq() >= app.firstSeq() }); at > 0 {
			before := a.order[at-1]
			prev = before.insts[len(before.insts)-1]
		}
		for _, in := range app.insts {
			a.link(in, prev)
			prev = in
		}
		for _, in := range app.insts {
			a.reshape(in)
		}
	}
	clear(a.moved)
	a.moved = a.moved[:0]
}
