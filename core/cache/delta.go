package cache

import (
	"bytes"
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
	DeltaSince(seq uint64, visit func(seq uint64, app, id string, in *eureka.InstanceInfo)) (first, version uint64, hashcode string)
}

// deltaTarget is the plain size of a delta part. The delta's instances are
// compressed in parts of neighbours (in the payload's order) of about that
// size, each against the end of the part before it (tailSize of it, as
// the full payload's runs are): one part per instance made the gzip delta
// twice a whole-payload compression. A change recompresses the part it
// falls in, and the next one only when it changes that part's last bytes.
// A part grows with what lands in it; past one and a half times the
// target it is split, below a quarter it takes in the next, so boundaries
// move only where something changed.
const deltaTarget = 32 << 10

// deltaAssembler mirrors the registry's delta queue and keeps the delta
// payload (GET apps/delta) as compressed parts of neighbouring instances:
// a change costs encoding that instance and compressing its part again, an
// entry leaving the window costs moving or dropping one instance and
// recompressing the parts it left and joined, and a build joins the parts.
// The payload's shape is Registry.Delta's: applications in order of their
// first change in the window, in each the changed instances in order of
// their first change, each as of its latest.
type deltaAssembler struct {
	mu  sync.Mutex
	src deltaLister
	// target is deltaTarget; tests make it small.
	target int

	next    uint64       // the seq of the next entry to read
	window  []deltaEntry // the entries read and not yet expired, oldest first
	insts   map[deltaKey]*deltaInst
	apps    map[string]*deltaApp
	order   []*deltaApp // by their first instance's first seq
	visited []visitedEntry

	parts [2][]*deltaPart // per format, as in the last build
	// compressed counts the plain bytes of the parts compressed, for
	// tests and benchmarks to see what a change costs.
	compressed int64
	tail       [2]part

	// Reused between builds.
	seq  []*deltaInst // the payload's instances in order
	plan []byte       // scratch for plain bytes
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
}

// deltaApp is one application with instances in the window.
type deltaApp struct {
	name  string
	insts []*deltaInst // by their first seq
	// moved: it changed place in the payload since the last build.
	moved bool
}

func (a *deltaApp) firstSeq() uint64 { return a.insts[0].seqs[0] }

// deltaInst is one instance with entries in the window.
type deltaInst struct {
	key  deltaKey
	app  *deltaApp
	seqs []uint64             // its entries in the window, oldest first
	in   *eureka.InstanceInfo // as of its latest entry
	// item is in's encoding per format, made on first use; seg its place
	// in the payload.
	item [2][]byte
	seg  [2]deltaSeg
}

// deltaSeg is one instance's segment of the payload in one format: its
// item with what its place adds around it (the application's opening
// before the first instance, the closing after the last).
type deltaSeg struct {
	valid bool
	shape segShape
	// gen moves whenever the segment's plain bytes do, so a part knows
	// its members unchanged by their gens.
	gen uint64
	n   int // plain length
	// part is the part the segment was in at the last build; cut says it
	// ended that part, and stays where the next build should cut.
	part *deltaPart
	cut  bool
}

// segShape is what an instance's place in the payload adds to its item.
type segShape uint8

const (
	shapeFirstApp segShape = 1 << iota // its application is the first (JSON: no comma)
	shapeOpens                         // the application's first instance
	shapeCloses                        // the application's last instance
)

// deltaPart is a run of neighbouring segments compressed together.
type deltaPart struct {
	members []*deltaInst
	gens    []uint64 // the members' segment gens it was built from
	part    part
	// dict is the dictionary it was compressed with (the end of the part
	// before it then), tail the end of its own plain bytes.
	dict, tail []byte
}

func newDeltaAssembler(src deltaLister) *deltaAssembler {
	a := &deltaAssembler{src: src, target: deltaTarget, insts: map[deltaKey]*deltaInst{}, apps: map[string]*deltaApp{}}
	a.tail[JSON] = compressPart(eureka.AppendApplicationsTailJSON(nil))
	a.tail[XML] = compressPart(eureka.AppendApplicationsTailXML(nil))
	return a
}

// build returns the delta's gzip member in format f with versionsDelta vd
// (its pieces and length: see joiner), the CRC-64 of its plain bytes and
// the registry version it shows.
func (a *deltaAssembler) build(f Format, vd int64) (parts [][]byte, n int, sum, version uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.visited = a.visited[:0]
	first, version, hash := a.src.DeltaSince(a.next, func(seq uint64, app, id string, in *eureka.InstanceInfo) {
		a.visited = append(a.visited, visitedEntry{seq, app, id, in})
	})
	a.expire(first)
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
	a.sequence(f)
	a.regroup(f)
	j := newJoiner(len(a.parts[f]) + 2)
	j.add(&head)
	for _, p := range a.parts[f] {
		j.add(&p.part)
	}
	j.add(&a.tail[f])
	parts, n, sum = j.finish()
	return parts, n, sum, version
}

// sequence lists the payload's instances in a.seq and brings their
// segments in format f up to date with their places.
func (a *deltaAssembler) sequence(f Format) {
	clear(a.seq)
	a.seq = a.seq[:0]
	for ai, app := range a.order {
		if app.moved {
			app.moved = false
			for _, in := range app.insts {
				in.uncut()
			}
		}
		for ii, in := range app.insts {
			var shape segShape
			if ai == 0 {
				shape |= shapeFirstApp
			}
			if ii == 0 {
				shape |= shapeOpens
			}
			if ii == len(app.insts)-1 {
				shape |= shapeCloses
			}
			s := &in.seg[f]
			if !s.valid || s.shape != shape {
				s.valid, s.shape = true, shape
				s.gen++
				s.n = len(a.segment(a.plan[:0], in, f))
			}
			a.seq = append(a.seq, in)
		}
	}
}

// regroup cuts a.seq into parts in format f where the last build cut it,
// joining a run too small with the next and splitting one too large, and
// keeps every part whose members and dictionary did not change.
func (a *deltaAssembler) regroup(f Format) {
	out := make([]*deltaPart, 0, len(a.parts[f])+1)
	var dict []byte
	for i := 0; i < len(a.seq); {
		j, size := i, 0
		for j < len(a.seq) {
			s := &a.seq[j].seg[f]
			j++
			size += s.n
			if s.cut && size >= a.target/4 {
				break
			}
		}
		run := a.seq[i:j]
		i = j
		per := size
		switch {
		case size <= a.target*3/2:
		case i == len(a.seq):
			// The last run grows by what is appended: parts of the
			// target are cut off its front, so the rest starts small.
			per = a.target
		default:
			per = size / ((size + a.target/2) / a.target)
		}
		for len(run) > 0 {
			k, n := 0, 0
			for k < len(run) && n < per {
				n += run[k].seg[f].n
				k++
			}
			p := a.part(run[:k], f, dict)
			out = append(out, p)
			dict = p.tail
			run = run[k:]
		}
	}
	if len(a.seq) > 0 {
		// The payload's end is no boundary: what comes after it joins
		// the last part.
		a.seq[len(a.seq)-1].seg[f].cut = false
	}
	clear(a.parts[f])
	a.parts[f] = out
}

// part returns the part of members following dict: the one they made
// last time if nothing in it changed, else a new one.
func (a *deltaAssembler) part(members []*deltaInst, f Format, dict []byte) *deltaPart {
	if p := members[0].seg[f].part; p != nil && len(p.members) == len(members) && bytes.Equal(p.dict, dict) &&
		slices.Equal(p.members, members) && a.sameGens(p, f) {
		members[len(members)-1].seg[f].cut = true
		return p
	}
	p := &deltaPart{members: slices.Clone(members), gens: make([]uint64, len(members)), dict: dict}
	a.plan = a.plan[:0]
	for i, in := range members {
		a.plan = a.segment(a.plan, in, f)
		p.gens[i] = in.seg[f].gen
		in.seg[f].part, in.seg[f].cut = p, i == len(members)-1
	}
	p.part = compressPartDict(a.plan, dict)
	a.compressed += int64(len(a.plan))
	p.tail = bytes.Clone(a.plan[max(0, len(a.plan)-tailSize):])
	return p
}

// uncut drops the part boundary after in, in both formats.
func (in *deltaInst) uncut() { in.seg[JSON].cut, in.seg[XML].cut = false, false }

func (a *deltaAssembler) sameGens(p *deltaPart, f Format) bool {
	for i, in := range p.members {
		if in.seg[f].gen != p.gens[i] {
			return false
		}
	}
	return true
}

// segment appends in's segment's plain bytes in format f to dst.
func (a *deltaAssembler) segment(dst []byte, in *deltaInst, f Format) []byte {
	shape := in.seg[f].shape
	if in.item[f] == nil {
		if f == JSON {
			in.item[f] = eureka.AppendInstanceJSON(nil, in.in)
		} else {
			in.item[f] = eureka.AppendApplicationInstanceXML(nil, in.in)
		}
	}
	if f == JSON {
		if shape&shapeOpens != 0 {
			dst = eureka.AppendApplicationOpenJSON(dst, in.key.app, shape&shapeFirstApp != 0)
		} else {
			dst = append(dst, ',')
		}
	} else if shape&shapeOpens != 0 {
		dst = eureka.AppendApplicationOpenXML(dst, in.key.app)
	}
	dst = append(dst, in.item[f]...)
	if shape&shapeCloses != 0 {
		if f == JSON {
			dst = eureka.AppendApplicationCloseJSON(dst)
		} else {
			dst = eureka.AppendApplicationCloseXML(dst)
		}
	}
	return dst
}

// add takes in one entry read from the queue.
func (a *deltaAssembler) add(v visitedEntry) {
	if v.seq < a.next {
		return // read before
	}
	k := deltaKey{v.app, v.id}
	in := a.insts[k]
	if in == nil {
		app := a.apps[v.app]
		if app == nil {
			app = &deltaApp{name: v.app}
			a.apps[v.app] = app
			a.order = append(a.order, app)
		}
		in = &deltaInst{key: k, app: app}
		a.insts[k] = in
		app.insts = append(app.insts, in)
	}
	in.seqs = append(in.seqs, v.seq)
	in.in = v.in
	in.item = [2][]byte{}
	in.seg[JSON].valid, in.seg[XML].valid = false, false
	a.window = append(a.window, deltaEntry{v.seq, in})
	a.next = v.seq + 1
}

// expire drops the entries numbered below first. Each is the oldest in
// the window, so its instance comes first in its application and that
// application first in the payload: dropping it moves the instance back
// to the place of its next entry, or out, and its application likewise.
func (a *deltaAssembler) expire(first uint64) {
	n := 0
	for n < len(a.window) && a.window[n].seq < first {
		in := a.window[n].inst
		n++
		app := in.app
		in.seqs = in.seqs[1:]
		// The oldest entry's instance is its application's first: drop
		// it from the front without moving the others (a bulk load of
		// 1,000,000 leaving the window moved 17,000 pointers an entry).
		app.insts[0] = nil
		app.insts = app.insts[1:]
		if len(in.seqs) == 0 {
			delete(a.insts, in.key)
		} else {
			at := sort.Search(len(app.insts), func(i int) bool { return app.insts[i].seqs[0] > in.seqs[0] })
			app.insts = slices.Insert(app.insts, at, in)
			// A part boundary does not travel with what moves: the
			// instance joins the part it lands in.
			in.uncut()
		}
		a.order = slices.Delete(a.order, 0, 1)
		if len(app.insts) == 0 {
			delete(a.apps, app.name)
			continue
		}
		at := sort.Search(len(a.order), func(i int) bool { return a.order[i].firstSeq() > app.firstSeq() })
		a.order = slices.Insert(a.order, at, app)
		if at > 0 {
			// Its instances' part boundaries no longer hold; sequence
			// drops them once per build, not once per entry that expired.
			app.moved = true
		}
	}
	if n > 0 {
		// Copy down so the backing array does not grow without bound.
		m := copy(a.window, a.window[n:])
		clear(a.window[m:])
		a.window = a.window[:m]
	}
	if first > a.next {
		a.next = first
	}
}
