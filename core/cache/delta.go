package cache

import (
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

// deltaAssembler mirrors the registry's delta queue and keeps the delta
// payload (GET apps/delta) as compressed parts, one per changed instance:
// a change costs encoding and compressing that instance, an entry leaving
// the window costs moving or dropping one instance, and a build joins the
// parts. The payload's shape is Registry.Delta's: applications in order of
// their first change in the window, in each the changed instances in
// order of their first change, each as of its latest.
type deltaAssembler struct {
	mu  sync.Mutex
	src deltaLister

	next    uint64       // the seq of the next entry to read
	window  []deltaEntry // the entries read and not yet expired, oldest first
	insts   map[deltaKey]*deltaInst
	apps    map[string]*deltaApp
	order   []*deltaApp // by their first instance's first seq
	visited []visitedEntry

	tail [2]part
	plan []byte // scratch for plain bytes
	dict []byte
}

type deltaKey struct{ app, id string }

// emptyPart holds the checksums of no bytes: the start of a combination.
var emptyPart = part{shift32: crc32Math.one, shift64: crc64Math.one}

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
	// sums are the checksums of the instances' parts in a row, per
	// format, valid while none of them was compressed again: the join
	// then combines checksums once per application, not per instance.
	sums   [2]part
	summed [2]bool
}

func (a *deltaApp) firstSeq() uint64 { return a.insts[0].seqs[0] }

// deltaInst is one instance with entries in the window.
type deltaInst struct {
	key  deltaKey
	app  *deltaApp
	seqs []uint64             // its entries in the window, oldest first
	in   *eureka.InstanceInfo // as of its latest entry
	// item is in's encoding per format, made on first use; seg its
	// compressed part as it stands in the payload.
	item [2][]byte
	seg  [2]deltaSeg
}

// deltaSeg is one instance's compressed part: its item with what its place
// adds around it (the application's opening before the first instance,
// the closing after the last), compressed against the part before it.
type deltaSeg struct {
	part  part
	valid bool
	shape segShape
	// gen moves whenever the plain bytes do; a part compressed against
	// this one's bytes records it in dictGen.
	gen     uint64
	dictOf  *deltaInst
	dictGen uint64
}

// segShape is what an instance's place in the payload adds to its item.
type segShape uint8

const (
	shapeFirstApp segShape = 1 << iota // its application is the first (JSON: no comma)
	shapeOpens                         // the application's first instance
	shapeCloses                        // the application's last instance
)

func newDeltaAssembler(src deltaLister) *deltaAssembler {
	a := &deltaAssembler{src: src, insts: map[deltaKey]*deltaInst{}, apps: map[string]*deltaApp{}}
	a.tail[JSON] = compressPart(eureka.AppendApplicationsTailJSON(nil))
	a.tail[XML] = compressPart(eureka.AppendApplicationsTailXML(nil))
	return a
}

// build returns the delta's gzip member in format f with versionsDelta vd,
// the CRC-64 of its plain bytes and the registry version it shows.
func (a *deltaAssembler) build(f Format, vd int64) (gz []byte, sum, version uint64) {
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
	size := 0
	for _, app := range a.order {
		for _, in := range app.insts {
			size += len(in.seg[f].part.z)
		}
	}
	j := newJoiner(size + len(head.z) + len(a.tail[f].z))
	j.add(&head)
	var prev *deltaInst
	for ai, app := range a.order {
		changed := !app.summed[f]
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
			stale := !s.valid || s.shape != shape
			if stale {
				s.valid, s.shape = true, shape
				s.gen++
			}
			// A part refers back into the one before it; the first is
			// compressed cold, the head before it changes every build.
			var dictGen uint64
			if prev != nil {
				dictGen = prev.seg[f].gen
			}
			if stale || s.dictOf != prev || s.dictGen != dictGen {
				a.plan = a.segment(a.plan[:0], in, f)
				a.dict = a.dict[:0]
				if prev != nil {
					a.dict = a.segment(a.dict, prev, f)
				}
				s.part = compressPartDict(a.plan, a.dict)
				s.dictOf, s.dictGen = prev, dictGen
				changed = true
			}
			j.buf = append(j.buf, s.part.z...)
			prev = in
		}
		// The instances' sequence is known by the first and each one's
		// predecessor, and the last closes the application: a new
		// sequence recompresses at least one part, so changed is set.
		if changed {
			app.sums[f] = emptyPart
			for _, in := range app.insts {
				app.sums[f].then(&in.seg[f].part)
			}
			app.summed[f] = true
		}
		j.sum(&app.sums[f])
	}
	j.add(&a.tail[f])
	gz, sum = j.finish()
	return gz, sum, version
}

// segment appends in's part's plain bytes in format f to dst.
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
		app.insts = slices.Delete(app.insts, 0, 1)
		if len(in.seqs) == 0 {
			delete(a.insts, in.key)
		} else {
			at := sort.Search(len(app.insts), func(i int) bool { return app.insts[i].seqs[0] > in.seqs[0] })
			app.insts = slices.Insert(app.insts, at, in)
		}
		a.order = slices.Delete(a.order, 0, 1)
		if len(app.insts) == 0 {
			delete(a.apps, app.name)
			continue
		}
		at := sort.Search(len(a.order), func(i int) bool { return a.order[i].firstSeq() > app.firstSeq() })
		a.order = slices.Insert(a.order, at, app)
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
