package regions

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Entity is what a payload with regions holds.
type Entity uint8

// The entities served with regions.
const (
	Apps  Entity = iota // GET apps?regions=…
	Delta               // GET apps/delta?regions=…
)

// MaxPayloads bounds the cached payloads with regions. The keys are
// subsets of the configured regions (unknown names are dropped first), so
// with few regions the bound is never reached; past it payloads are built
// for each request and not kept.
const MaxPayloads = 64

// Payload is one encoded answer with regions, in both encodings with
// their headers' values as core/cache serves its own, so that the HTTP
// layer serves both alike. It is immutable.
type Payload struct {
	plain, gz cache.Representation
	// Hashcode is the payload's apps__hashcode.
	Hashcode string
}

// Plain returns the uncompressed representation.
func (p *Payload) Plain() *cache.Representation { return &p.plain }

// Gzip returns the gzip representation; its entity tag differs from
// Plain's, as a strong tag must.
func (p *Payload) Gzip() *cache.Representation { return &p.gz }

type payloadKey struct {
	entity  Entity
	format  cache.Format
	regions string // normalised names joined by ","
}

type cached struct {
	p       *Payload
	version uint64   // local registry version it was built from
	gens    []uint64 // each named region's copy generation
	built   time.Time
}

type payloadCache struct {
	mu sync.Mutex
	m  map[payloadKey]*cached
}

// CachedPayloads is the number of payloads with regions held, at most
// MaxPayloads.
func (s *Set) CachedPayloads() int {
	s.payloads.mu.Lock()
	defer s.payloads.mu.Unlock()
	return len(s.payloads.m)
}

// Get returns the payload of e in format f merging the local registry
// with the regions names (as returned by Normalize; not empty). It is
// rebuilt only when the local registry or one of those regions' copies
// changed since it was built (a delta also after DeltaRefresh, as its
// changes age out).
func (s *Set) Get(e Entity, f cache.Format, names []string) *Payload {
	k := payloadKey{e, f, strings.Join(names, ",")}
	rs := make([]*remote, 0, len(names))
	gens := make([]uint64, 0, len(names))
	for _, n := range names {
		if r := s.byName[n]; r != nil {
			rs = append(rs, r)
			gens = append(gens, r.gen.Load())
		}
	}
	// Read before building: a change racing the build makes the payload
	// stale at once.
	version := s.src.Version()
	s.payloads.mu.Lock()
	c := s.payloads.m[k]
	s.payloads.mu.Unlock()
	if c != nil && c.version == version && slices.Equal(c.gens, gens) && (e == Apps || time.Since(c.built) < s.opts.DeltaRefresh) {
		return c.p
	}
	views := make([]*view, len(rs))
	for i, r := range rs {
		views[i] = r.view.Load()
	}
	var apps *eureka.Applications
	if e == Apps {
		apps = mergeFull(s.src.Applications(), views)
	} else {
		full := mergeFull(s.src.Applications(), views)
		local := s.src.Delta()
		apps = merge(local, s.remoteChanges(rs))
		apps.VersionsDelta = s.deltaVersion.Add(1)
		apps.AppsHashcode = full.AppsHashcode
	}
	p := encode(apps, f)
	s.payloads.mu.Lock()
	if _, ok := s.payloads.m[k]; ok || len(s.payloads.m) < MaxPayloads {
		s.payloads.m[k] = &cached{p: p, version: version, gens: gens, built: time.Now()}
	}
	s.payloads.mu.Unlock()
	return p
}

// Wait serves a long-poll as core/cache's Wait does for the payloads
// without regions: it returns the payload of e in format f with the
// regions names as soon as neither of its entity tags is etag (the plain
// or gzip tag a client holds), or the current payload with changed false
// when ctx ends first. A change of the local registry or of a remote copy
// wakes it.
func (s *Set) Wait(ctx context.Context, e Entity, f cache.Format, names []string, etag string) (p *Payload, changed bool) {
	etag = strings.TrimPrefix(etag, "W/")
	for {
		// Take both channels before reading, so a change between the
		// read and the select still wakes us.
		local, remote := s.src.Changes(), *s.copies.Load()
		p = s.Get(e, f, names)
		if p.plain.ETag[0] != etag && p.gz.ETag[0] != etag {
			return p, true
		}
		select {
		case <-ctx.Done():
			return p, false
		case <-local:
		case <-remote:
		}
	}
}

// remoteChanges returns each region's changes still within
// DeltaRetention, as one Applications per region.
func (s *Set) remoteChanges(rs []*remote) []*eureka.Applications {
	cutoff := time.Now().Add(-s.opts.DeltaRetention)
	out := make([]*eureka.Applications, 0, len(rs))
	for _, r := range rs {
		r.mu.Lock()
		l := make([]*eureka.InstanceInfo, 0, len(r.changes))
		for _, c := range r.changes {
			if !c.at.Before(cutoff) {
				l = append(l, c.in)
			}
		}
		r.mu.Unlock()
		out = append(out, group(l))
	}
	return out
}

// group puts changes into applications in order of first appearance; a
// later change of an instance replaces its earlier one in place.
func group(l []*eureka.InstanceInfo) *eureka.Applications {
	out := &eureka.Applications{}
	apps := map[string]*eureka.Application{}
	at := map[instKey]int{}
	for _, in := range l {
		a := apps[in.App]
		if a == nil {
			a = &eureka.Application{Name: in.App}
			apps[in.App] = a
			out.Applications = append(out.Applications, a)
		}
		k := instKey{in.App, in.ID()}
		if i, ok := at[k]; ok {
			a.Instances[i] = in
			continue
		}
		at[k] = len(a.Instances)
		a.Instances = append(a.Instances, in)
	}
	return out
}

// mergeFull merges the remote views into the local registry as Eureka
// does: an application present in several is one application, the local
// instances first, then each region's in the order given; an instance id
// already present is kept as first seen (the local one). Applications
// only local keep their order, remote-only ones follow. apps__hashcode
// covers everything merged; versions__delta is the local one.
func mergeFull(local *eureka.Applications, views []*view) *eureka.Applications {
	parts := make([]*eureka.Applications, len(views))
	for i, v := range views {
		parts[i] = v.apps
	}
	out := merge(local, parts)
	out.VersionsDelta = local.VersionsDelta
	out.AppsHashcode = out.HashCode()
	return out
}

// merge is mergeFull's work, and the delta's (the regions' changes into
// the local delta): first copies of the local
// applications, then each part's instances appended to their application
// (made when missing) unless the id is there already. Nothing given is
// modified.
func merge(local *eureka.Applications, parts []*eureka.Applications) *eureka.Applications {
	out := &eureka.Applications{Applications: make([]*eureka.Application, 0, len(local.Applications))}
	index := map[string]*eureka.Application{}
	ids := map[*eureka.Application]map[string]bool{}
	for _, a := range local.Applications {
		c := &eureka.Application{Name: a.Name, Instances: a.Instances}
		out.Applications = append(out.Applications, c)
		index[strings.ToUpper(a.Name)] = c
	}
	for _, p := range parts {
		for _, a := range p.Applications {
			name := strings.ToUpper(a.Name)
			c := index[name]
			if c == nil {
				c = &eureka.Application{Name: name}
				out.Applications = append(out.Applications, c)
				index[name] = c
			}
			seen := ids[c]
			if seen == nil {
				seen = make(map[string]bool, len(c.Instances))
				for _, in := range c.Instances {
					seen[in.ID()] = true
				}
				// The local slice is shared: copy it before appending.
				c.Instances = append(make([]*eureka.InstanceInfo, 0, len(c.Instances)+len(a.Instances)), c.Instances...)
				ids[c] = seen
			}
			for _, in := range a.Instances {
				if id := in.ID(); !seen[id] {
					seen[id] = true
					c.Instances = append(c.Instances, in)
				}
			}
		}
	}
	return out
}

// encode writes apps in f with its gzip form and entity tags.
func encode(apps *eureka.Applications, f cache.Format) *Payload {
	var body []byte
	if f == cache.JSON {
		body = eureka.AppendApplicationsJSON(nil, apps)
	} else {
		body = eureka.AppendApplicationsXML(nil, apps)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	etag := `"r` + strconv.FormatUint(cache.ContentSum(body), 36) + `"`
	return &Payload{plain: representation(body, etag), gz: representation(gz.Bytes(), etag[:len(etag)-1]+`-gzip"`), Hashcode: apps.AppsHashcode}
}

func representation(body []byte, etag string) cache.Representation {
	return cache.Representation{Body: body, ETag: []string{etag}, Length: []string{strconv.Itoa(len(body))}}
}
