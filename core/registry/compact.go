package registry

import (
	"slices"
	"strings"
	"sync"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// An instance is kept for as long as it is registered, so its form in
// memory is made small once, as it enters (compact): a decoded instance's
// strings are slices of its decoder's arena, whose spare room and whose
// copies of repeated text would otherwise stay alive with it.
//
//   - Text that repeats across an application's instances (VIPs, metadata
//     values such as a version or a zone, EC2 fields such as the AMI, the
//     whole metadata map when it is the same, the data-centre and lease
//     blocks) is shared with the instance it replaces or one of the
//     application's recent instances.
//   - Metadata keys, which repeat across the whole registry, come from a
//     bounded table, so distinct keys sent by a client cannot grow it past
//     maxInternedKeys.
//   - The rest, the instance's own text (id, host, address, URLs, unique
//     metadata values), is packed into one allocation, where a string that
//     occurs inside another (the address inside the id and the URLs) is
//     stored once. An instance registering again with the same own text,
//     the common case, keeps the text of the one it replaces instead.
//
// Sharing is safe because a stored instance is never modified: every
// change is made on a Clone, which copies maps and blocks.

// maxInternedKeys bounds the metadata key table; maxInternedKeyLen keeps
// long keys, which are unlikely to repeat, out of it.
const (
	maxInternedKeys   = 4096
	maxInternedKeyLen = 64
)

// shapeCount is how many recent instances of an application new ones are
// compared with: enough for values that alternate (zones).
const shapeCount = 4

// shapes are an application's most recently compacted instances.
type shapes struct {
	recent [shapeCount]*eureka.InstanceInfo
	next   int
}

func (s *shapes) add(in *eureka.InstanceInfo) {
	s.recent[s.next] = in
	s.next = (s.next + 1) % shapeCount
}

// keyTable interns metadata keys.
type keyTable struct {
	mu sync.Mutex // restore compacts in several goroutines
	m  map[string]string
}

// key returns the interned copy of k, or "" and false when k is not in the
// table and cannot join it. The caller holds t.mu.
func (t *keyTable) key(k string) (string, bool) {
	if s, ok := t.m[k]; ok {
		return s, true
	}
	if len(k) > maxInternedKeyLen || len(t.m) >= maxInternedKeys {
		return "", false
	}
	if t.m == nil {
		t.m = make(map[string]string)
	}
	k = strings.Clone(k)
	t.m[k] = k
	return k, true
}

// The text fields shared with an application's recent instances when
// equal; the others are the instance's own.
var (
	sharedFields = [...]func(*eureka.InstanceInfo) *string{
		func(i *eureka.InstanceInfo) *string { return &i.VIPAddress },
		func(i *eureka.InstanceInfo) *string { return &i.SecureVIPAddress },
		func(i *eureka.InstanceInfo) *string { return &i.AppGroupName },
		func(i *eureka.InstanceInfo) *string { return &i.SID },
		func(i *eureka.InstanceInfo) *string { return &i.ASGName },
	}
	ownFields = [...]func(*eureka.InstanceInfo) *string{
		func(i *eureka.InstanceInfo) *string { return &i.InstanceID },
		func(i *eureka.InstanceInfo) *string { return &i.HostName },
		func(i *eureka.InstanceInfo) *string { return &i.IPAddr },
		func(i *eureka.InstanceInfo) *string { return &i.HomePageURL },
		func(i *eureka.InstanceInfo) *string { return &i.StatusPageURL },
		func(i *eureka.InstanceInfo) *string { return &i.HealthCheckURL },
		func(i *eureka.InstanceInfo) *string { return &i.SecureHealthCheckURL },
	}
)

// compact makes in, which the registry owns and nothing else holds yet,
// small for keeping in application a (see above); prev is the stored
// instance in replaces, nil if none. The caller holds mu exclusively.
func (r *Registry) compact(a *appEntry, in, prev *eureka.InstanceInfo) {
	compactWith(&a.shapes, a.name, &r.keys, in, prev)
}

// compactWith is compact with the recent instances sh of the application
// named app. The caller guards sh; keys guards itself.
func compactWith(sh *shapes, app string, keys *keyTable, in, prev *eureka.InstanceInfo) {
	var p packer
	// like are the instances in may share with: the one it replaces
	// first, most often the same but for timestamps, then the recent ones.
	var likeBuf [shapeCount + 1]*eureka.InstanceInfo
	like := likes(likeBuf[:0])
	if prev != nil {
		like = append(like, prev)
	}
	for _, t := range sh.recent {
		if t != nil && t != prev {
			like = append(like, t)
		}
	}
	// novel: in has a value none of them has, so it joins the recent ones.
	novel := false
	in.App = app
	in.Status = canonicalStatus(in.Status)
	in.OverriddenStatus = canonicalStatus(in.OverriddenStatus)
	for _, f := range sharedFields {
		if !like.share(in, f) {
			p.add(f(in))
			novel = true
		}
	}
	if prev != nil && sameText(in, prev, ownFields[:]) {
		for _, f := range ownFields {
			*f(in) = *f(prev)
		}
	} else {
		for _, f := range ownFields {
			p.add(f(in))
		}
	}
	// Any other status text is the instance's own (never from the
	// decoders, which map it to UNKNOWN).
	for _, st := range [...]*eureka.Status{&in.Status, &in.OverriddenStatus} {
		if !isConstStatus(*st) {
			p.add((*string)(st))
		}
	}
	var shared bool
	var meta, dcMeta pendingMap
	in.Metadata, shared, meta = compactMap(&p, in.Metadata, like, keys, func(i *eureka.InstanceInfo) map[string]string { return i.Metadata })
	novel = novel || !shared
	in.DataCenterInfo, shared, dcMeta = compactDC(&p, in.DataCenterInfo, like, keys)
	novel = novel || !shared
	in.LeaseInfo, shared = like.lease(in.LeaseInfo)
	novel = novel || !shared
	p.pack()
	meta.fill()
	dcMeta.fill()
	// Only a novel instance replaces the oldest recent one, so the recent
	// ones stay distinct: an application whose instances alternate
	// between a few variants (zones, metadata or none) keeps all of them.
	if novel {
		sh.add(in)
	}
}

// likes are the stored instances a new one is compared with, none nil.
type likes []*eureka.InstanceInfo

// share sets the field f of in to the equal string of one of l,
// reporting whether there was one.
func (l likes) share(in *eureka.InstanceInfo, f func(*eureka.InstanceInfo) *string) bool {
	v := f(in)
	if *v == "" {
		*v = "" // an empty slice of a decoder's arena would keep it alive
		return true
	}
	for _, t := range l {
		if *f(t) == *v {
			*v = *f(t)
			return true
		}
	}
	return false
}

// sameText reports whether the fields fs of in and t are equal.
func sameText(in, t *eureka.InstanceInfo, fs []func(*eureka.InstanceInfo) *string) bool {
	for _, f := range fs {
		if *f(in) != *f(t) {
			return false
		}
	}
	return true
}

// lease returns the lease block of one of l equal to li, or li; shared
// says which.
func (l likes) lease(li *eureka.LeaseInfo) (_ *eureka.LeaseInfo, shared bool) {
	if li == nil {
		return nil, true
	}
	for _, t := range l {
		if t.LeaseInfo != nil && *t.LeaseInfo == *li {
			return t.LeaseInfo, true
		}
	}
	return li, false
}

// compactDC returns a data-centre block equal to d: one of like's when one
// is (shared), else a new one whose metadata is compacted like the
// instance's, and filled once p has packed (fill).
func compactDC(p *packer, d *eureka.DataCenterInfo, like likes, keys *keyTable) (_ *eureka.DataCenterInfo, shared bool, fill pendingMap) {
	if d == nil {
		return nil, true, fill
	}
	for _, t := range like {
		if t.DataCenterInfo != nil && t.DataCenterInfo.Name == d.Name && sameMap(t.DataCenterInfo.Metadata, d.Metadata) {
			return t.DataCenterInfo, true, fill
		}
	}
	c := &eureka.DataCenterInfo{Name: d.Name}
	switch d.Name {
	case eureka.DataCenterMyOwn:
		c.Name = eureka.DataCenterMyOwn
	case eureka.DataCenterAmazon:
		c.Name = eureka.DataCenterAmazon
	case eureka.DataCenterNetflix:
		c.Name = eureka.DataCenterNetflix
	default:
		p.add(&c.Name)
	}
	c.Metadata, _, fill = compactMap(p, d.Metadata, like, keys, func(i *eureka.InstanceInfo) map[string]string {
		if i.DataCenterInfo == nil {
			return nil
		}
		return i.DataCenterInfo.Metadata
	})
	return c, false, fill
}

// compactMap returns a map equal to m: one of like's (of) when one is
// (shared), else a new one, exactly sized, with interned keys, values
// shared with like's maps when equal, and the rest packed by p; the new map
// is empty until fill runs, once p has packed.
func compactMap(p *packer, m map[string]string, like likes, keys *keyTable, of func(*eureka.InstanceInfo) map[string]string) (_ map[string]string, shared bool, fill pendingMap) {
	if m == nil {
		return nil, true, fill
	}
	// m's entries, read once: on the stack unless m is unusually large.
	var small [16]mapEntry
	kv := small[:0]
	for k, v := range m {
		kv = append(kv, mapEntry{k: k, v: v})
	}
	var recent [shapeCount + 1]map[string]string
	for j, t := range like {
		// The common case, an instance like the one it replaces or one
		// of its application's recent ones, costs a few lookups and no
		// allocation.
		if recent[j] = of(t); holds(recent[j], kv) {
			return recent[j], true, fill
		}
	}
	entries := slices.Clone(kv)
	for i := range entries {
		e := &entries[i]
		for _, tm := range recent {
			if tv, found := tm[e.k]; found && tv == e.v {
				e.v, e.valueShared = tv, true
				break
			}
		}
	}
	keys.mu.Lock()
	for i := range entries {
		if k, ok := keys.key(entries[i].k); ok {
			entries[i].k, entries[i].keyShared = k, true
		}
	}
	keys.mu.Unlock()
	// What is not shared is packed; the map is filled once it is final.
	for i := range entries {
		if e := &entries[i]; !e.keyShared {
			p.add(&e.k)
		}
		if e := &entries[i]; !e.valueShared {
			p.add(&e.v)
		}
	}
	c := make(map[string]string, len(m))
	return c, false, pendingMap{c, entries}
}

type mapEntry struct {
	k, v                   string
	keyShared, valueShared bool
}

func sameMap(x, y map[string]string) bool {
	if len(x) != len(y) || (x == nil) != (y == nil) {
		return false
	}
	for k, v := range x {
		if w, ok := y[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// holds reports whether m, not nil, is exactly the map of the entries kv.
func holds(m map[string]string, kv []mapEntry) bool {
	if m == nil || len(m) != len(kv) {
		return false
	}
	for _, e := range kv {
		if v, ok := m[e.k]; !ok || v != e.v {
			return false
		}
	}
	return true
}

// canonicalStatus returns the constant spelling of a known status, so
// that instances do not each keep a copy of "UP".
func canonicalStatus(s eureka.Status) eureka.Status {
	for _, c := range [...]eureka.Status{eureka.StatusUp, eureka.StatusDown, eureka.StatusStarting,
		eureka.StatusOutOfService, eureka.StatusUnknown} {
		if s == c {
			return c
		}
	}
	return s
}

// isConstStatus reports whether s is one of the status constants.
func isConstStatus(s eureka.Status) bool {
	_, ok := eureka.ParseStatus(string(s))
	return ok
}

// packer copies strings into one allocation. A string found inside one
// already packed (the address inside the id) points there instead.
//
// The fields are kept in an array, so a packer on the stack holds an
// instance's own text, its data-centre name and a few unshared metadata
// entries without allocating; more spill to the heap.
type packer struct {
	buf   [16]*string
	n     int
	spill []*string // all fields, once buf is full
}

func (p *packer) add(s *string) {
	if *s == "" {
		*s = "" // an empty slice of a decoder's arena would keep it alive
		return
	}
	switch {
	case p.spill != nil:
		p.spill = append(p.spill, s)
	case p.n < len(p.buf):
		p.buf[p.n] = s
		p.n++
	default:
		p.spill = append(append(make([]*string, 0, 2*len(p.buf)), p.buf[:]...), s)
	}
}

// pendingMap is a compacted map to be filled with its entries once their
// strings are packed.
type pendingMap struct {
	m       map[string]string
	entries []mapEntry
}

func (f pendingMap) fill() {
	for _, e := range f.entries {
		f.m[e.k] = e.v
	}
}

func (p *packer) pack() {
	fields := p.spill
	if fields == nil {
		fields = p.buf[:p.n]
	}
	// Longest first, so shorter strings can be found inside them. An
	// insertion sort by hand: there are a handful of fields, and
	// slices.SortStableFunc's calls of a comparison were a sixth of a
	// restore's compaction.
	for i := 1; i < len(fields); i++ {
		for j := i; j > 0 && len(*fields[j]) > len(*fields[j-1]); j-- {
			fields[j], fields[j-1] = fields[j-1], fields[j]
		}
	}
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		s := *f
		packed := b.String()
		if i := strings.Index(packed, s); i >= 0 {
			*f = packed[i : i+len(s)]
			continue
		}
		start := b.Len()
		b.WriteString(s)
		// The builder's bytes never move: it was grown to hold all.
		*f = b.String()[start:]
	}
}
