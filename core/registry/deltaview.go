package registry

import (
	"sync"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// DeltaSince serves a response cache that assembles apps/delta from
// changes encoded once. It calls visit for every entry of the delta queue
// numbered seq or later, oldest first, with the instance as of that change
// and the lease block the delta shows with it; it returns the number of the
// oldest entry still in the queue (entries below it have left the window
// since), the registry version of exactly that state and the whole
// registry's hash code, as Delta would give them.
//
// in is the registry's own copy (read-only, its LeaseInfo not the lease's):
// the instance as the delta shows it is a copy of *in with LeaseInfo set
// to &lease. A cache may keep in and lease to encode the instance again
// later, at no cost to the registry (the queue holds in while the change
// is in the window), where a decorated copy cost an allocation of the
// whole instance per change.
//
// The entries are taken under the registry's read lock and visited after
// it is released, so a reader catching up with a burst of changes does
// not hold writers up.
func (r *Registry) DeltaSince(seq uint64, visit func(seq uint64, app, id string, in *eureka.InstanceInfo, lease eureka.LeaseInfo)) (first, version uint64, hashcode string) {
	r.mu.RLock()
	q := &r.delta
	q.mu.Lock()
	first = q.first
	// from is seq's place in the queue; a seq past its end (nothing new)
	// takes nothing.
	from := min(seq-min(seq, first), uint64(q.n))
	items := q.appendFrom(make([]deltaItem, 0, uint64(q.n)-from), int(from))
	q.mu.Unlock()
	// Writers bump the version under the write lock, so this is the
	// version of the state taken.
	version = r.version.Load()
	hashcode = q.hash.hashCode(r, version)
	r.mu.RUnlock()
	// scratch takes the copy decorate makes; only the lease block is kept.
	var scratch eureka.InstanceInfo
	var lease eureka.LeaseInfo
	for i := range items {
		it := &items[i]
		it.times.decorate(&scratch, &lease, it.in)
		visit(first+from+uint64(i), it.app, it.id, it.in, lease)
	}
	return first, version, hashcode
}

// ExpireDelta drops the changes older than DeltaRetention from the delta
// queue now, the work Run's retention timer does.
func (r *Registry) ExpireDelta() { r.sweepDelta() }

// hashRecount is how often the hash tracker takes every application's
// counts again, to take in status changes Eureka applies silently (a
// renewal taking on an override, quirk 8), which reach no delta entry:
// the applications' counts follow them (appEntry.counts), the tracker's
// sum of them does not.
const hashRecount = 30 * time.Second

// hashTracker keeps the status counts of every application and their sum,
// the hash code of the whole registry, so a delta costs taking the counts
// of the applications that changed since the last one.
//
// Every visible change goes through deltaQueue.add and one version bump,
// so when the version moved by exactly the number of changes noted since
// the last count, the noted applications are all that changed; otherwise
// something changed the registry without a delta entry (a restore from
// storage) and everything is counted again.
type hashTracker struct {
	mu sync.Mutex
	// noted counts changes since the tracker was created and dirty names
	// their applications since the last count; both are written by
	// deltaQueue.add under the queue's lock and read under it.
	noted uint64
	dirty map[string]struct{}

	counted      bool
	version      uint64 // the registry version last counted
	notedAt      uint64 // noted at that count
	recountAt    int64  // when everything was last counted, in ms
	apps         map[string]eureka.StatusCounts
	total        eureka.StatusCounts
	cachedHash   string
	cachedHashOK bool
}

// noteChange records a change to app; the caller holds the queue's lock.
func (h *hashTracker) noteChange(app string) {
	h.noted++
	if h.dirty == nil {
		h.dirty = map[string]struct{}{}
	}
	h.dirty[app] = struct{}{}
}

// hashCode returns the registry's hash code at version; the caller holds
// r.mu (shared) and not the queue's lock.
func (h *hashTracker) hashCode(r *Registry, version uint64) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := &r.delta
	q.mu.Lock()
	noted, dirty := h.noted, h.dirty
	h.dirty = nil
	q.mu.Unlock()

	now := r.nowMs()
	switch {
	case !h.counted || version-h.version != noted-h.notedAt || now-h.recountAt >= hashRecount.Milliseconds():
		h.countAll(r, now)
	case len(dirty) > 0:
		for name := range dirty {
			h.recount(r, name)
		}
		h.cachedHashOK = false
	}
	h.version, h.notedAt = version, noted
	if !h.cachedHashOK {
		h.cachedHash, h.cachedHashOK = h.total.HashCode(), true
	}
	return h.cachedHash
}

// countAll counts every lease again; the caller holds r.mu.
func (h *hashTracker) countAll(r *Registry, now int64) {
	h.apps = make(map[string]eureka.StatusCounts, len(r.apps))
	h.total = eureka.StatusCounts{}
	for name := range r.apps {
		h.recount(r, name)
	}
	h.counted, h.recountAt, h.cachedHashOK = true, now, false
}

// recount replaces one application's counts in the total; the caller
// holds r.mu.
func (h *hashTracker) recount(r *Registry, name string) {
	h.total.Unmerge(h.apps[name])
	var c eureka.StatusCounts
	if a := r.apps[name]; a != nil {
		c = a.statusCounts()
	}
	if c == (eureka.StatusCounts{}) {
		delete(h.apps, name)
		return
	}
	h.apps[name] = c
	h.total.Merge(c)
}
