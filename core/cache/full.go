package cache

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"

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

// piece is one application's item of the full payload in one format.
type piece struct {
	version uint64 // the application's version it was built from
	expires time.Time
	counts  eureka.StatusCounts
	// item is the application as a list element: in JSON after a comma,
	// in XML after its line break.
	item part
	// first is the JSON item without the comma, for the application that
	// sorts first; built when the application becomes first.
	first *part
}

// assembler keeps one format's pieces of the full registry payload (GET
// apps) and joins them: a change costs re-encoding and recompressing the
// applications it touched, and copying the compressed bytes of the rest.
// The apps hash code is summed from per-application counts kept with the
// pieces, so it always describes exactly the instances in the payload.
type assembler struct {
	mu     sync.Mutex
	format Format
	src    appLister
	// ttl bounds a piece's age, so lease timestamps of instances that do
	// not change are refreshed as often as a whole payload is
	// (AutoExpiration); each piece gets up to a quarter less, at random,
	// so pieces built together do not all expire together.
	ttl time.Duration

	pieces map[string]*piece
	names  []string // sorted, as in the last payload
	tail   part
	// head is the last head built and the hash code it holds.
	head     part
	headHash string
	lastSize int

	// Reused between builds.
	listed   []string
	versions []uint64
	plain    []byte
}

func newAssembler(src appLister, f Format, ttl time.Duration) *assembler {
	a := &assembler{format: f, src: src, ttl: ttl, pieces: map[string]*piece{}}
	if f == JSON {
		a.tail = compressPart(eureka.AppendApplicationsTailJSON(nil))
	} else {
		a.tail = compressPart(eureka.AppendApplicationsTailXML(nil))
	}
	return a
}

// reset drops every piece, so the next build encodes everything.
func (a *assembler) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pieces = map[string]*piece{}
	a.names = nil
}

// build returns the full payload's gzip member, the CRC-64 of its plain
// bytes and the registry version it shows.
func (a *assembler) build() (gz []byte, sum, version uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if gz, sum, version, ok := a.assemble(); ok {
			return gz, sum, version
		}
	}
}

// assemble is one attempt at build; it fails only when the application
// that sorts first is cancelled between two reads of the registry.
func (a *assembler) assemble() (gz []byte, sum, version uint64, ok bool) {
	now := time.Now()
	a.listed, a.versions = a.listed[:0], a.versions[:0]
	version, apps := a.src.AppStates(func(name string, v uint64) bool {
		a.listed = append(a.listed, name)
		p := a.pieces[name]
		if p != nil && p.version == v && now.Before(p.expires) {
			return false
		}
		a.versions = append(a.versions, v)
		return true
	})

	// A new or emptied application changes the list: sort it again and
	// forget the pieces of applications that left.
	changed := len(a.listed) != len(a.names)
	for _, app := range apps {
		if a.pieces[app.Name] == nil {
			changed = true
		}
	}
	if changed {
		a.names = append(a.names[:0], a.listed...)
		slices.Sort(a.names)
		keep := make(map[string]*piece, len(a.names))
		for _, name := range a.names {
			if p := a.pieces[name]; p != nil {
				keep[name] = p
			}
		}
		a.pieces = keep
	}
	var first string
	if len(a.names) > 0 {
		first = a.names[0]
	}
	for i, app := range apps {
		a.pieces[app.Name] = a.encode(app, a.versions[i], app.Name == first, now)
	}
	if p := a.pieces[first]; a.format == JSON && p != nil && p.first == nil {
		if !a.refetchFirst(first, p, now) {
			return nil, 0, 0, false
		}
	}

	var counts eureka.StatusCounts
	for _, name := range a.names {
		counts.Merge(a.pieces[name].counts)
	}
	if hash := counts.HashCode(); a.head.z == nil || hash != a.headHash {
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
	for i, name := range a.names {
		p := a.pieces[name]
		if i == 0 && a.format == JSON {
			j.add(p.first)
		} else {
			j.add(&p.item)
		}
	}
	j.add(&a.tail)
	gz, sum = j.finish()
	a.lastSize = len(gz)
	return gz, sum, version, true
}

// encode builds app's piece; isFirst also builds the JSON first item.
func (a *assembler) encode(app *eureka.Application, version uint64, isFirst bool, now time.Time) *piece {
	p := &piece{version: version, expires: now.Add(a.ttl - rand.N(a.ttl/4+1))}
	for _, in := range app.Instances {
		p.counts.Add(in.Status)
	}
	if a.format == JSON {
		a.plain = eureka.AppendApplicationsItemJSON(a.plain[:0], app, false)
		p.item = compressPart(a.plain)
		if isFirst {
			first := compressPart(a.plain[1:]) // without the comma
			p.first = &first
		}
	} else {
		a.plain = eureka.AppendApplicationsItemXML(a.plain[:0], app)
		p.item = compressPart(a.plain)
	}
	return p
}

// refetchFirst builds the JSON first item of an application that became
// first without changing (the one before it was cancelled, say). Should it
// have changed meanwhile, its whole piece is rebuilt from the newer copy:
// the payload then shows a later state of it than its version, and is
// rebuilt on the next read anyway. It reports false when the application
// has no instances left.
func (a *assembler) refetchFirst(name string, p *piece, now time.Time) bool {
	var got uint64
	_, apps := a.src.AppStates(func(n string, v uint64) bool {
		if n != name {
			return false
		}
		got = v
		return true
	})
	if len(apps) == 0 {
		return false
	}
	q := a.encode(apps[0], got, true, now)
	if got == p.version {
		p.first = q.first
	} else {
		a.pieces[name] = q
	}
	return true
}
