package registry

import (
	"slices"
	"sync"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// maxDeltaEntries bounds the delta queue under a write storm. Dropping the
// oldest changes is safe: a client that misses one sees a hash code mismatch
// and falls back to a full fetch.
const maxDeltaEntries = 1 << 20

// deltaQueue is the recently-changed queue behind apps/delta (§4.2). An
// entry holds the instance as it was at the change and its lease's
// timestamps then, so it can be encoded once: the delta shows each changed
// instance as of its latest change. Entries are numbered in order (seq), so
// a reader can follow the queue with a cursor (DeltaSince).
type deltaQueue struct {
	mu    sync.Mutex
	items []deltaItem
	// first is the seq of items[0]; the next entry gets first+len(items).
	first uint64
	// hash keeps the whole registry's status counts for the delta's hash
	// code; adds and dirty feed it (deltaview.go).
	hash hashTracker
}

// deltaItem is one change. A stored instance is never modified (a change
// stores a new one), so the entry keeps the pointer and the lease's
// timestamps, and makes the decorated copy a delta shows only when a
// reader asks (decorated): a write stays free of a copy of its instance,
// and an entry costs a few words while it is in the window.
type deltaItem struct {
	app, id string
	in      *eureka.InstanceInfo // as of the change; read-only
	times   leaseTimes           // the lease's as of the change
	at      int64
}

// decorated returns the instance as of the change, as the delta shows it.
func (it *deltaItem) decorated() *eureka.InstanceInfo { return it.times.decorated(it.in) }

// add records l's change; the caller holds the registry lock exclusively.
func (q *deltaQueue) add(l *lease, at int64) {
	in, times := l.instance.Load(), l.times()
	q.mu.Lock()
	if len(q.items) >= maxDeltaEntries {
		n := len(q.items) - maxDeltaEntries + 1
		q.items = q.items[n:]
		q.first += uint64(n)
	}
	q.items = append(q.items, deltaItem{app: l.app, id: l.id, in: in, times: times, at: at})
	q.hash.noteChange(l.app)
	q.mu.Unlock()
}

// sweep drops entries from the head while they are older than cutoff,
// stopping at the first younger one, as Eureka's retention timer does.
func (q *deltaQueue) sweep(cutoff int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for i < len(q.items) && q.items[i].at < cutoff {
		i++
	}
	if i == 0 {
		return
	}
	q.first += uint64(i)
	// Copy down so the backing array does not grow without bound, into a
	// smaller one once a burst (a fleet registering) has left the window.
	if rest := len(q.items) - i; cap(q.items) > 1024 && rest < cap(q.items)/4 {
		q.items = append(make([]deltaItem, 0, 2*rest), q.items[i:]...)
		return
	}
	n := copy(q.items, q.items[i:])
	clear(q.items[n:])
	q.items = q.items[:n]
}

// entries returns a copy of the queue's entries, oldest first.
func (q *deltaQueue) entries() []deltaItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.items)
}

func (q *deltaQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// recentSize is the length of the "last 1000" rings shown by the dashboard.
const recentSize = 1000

// RecentEntry is one row of the recently registered or cancelled lists.
type RecentEntry struct {
	Time time.Time
	App  string
	ID   string
}

type ring struct {
	buf  [recentSize]RecentEntry
	next int
	full bool
}

func (g *ring) add(e RecentEntry) {
	g.buf[g.next] = e
	g.next = (g.next + 1) % recentSize
	if g.next == 0 {
		g.full = true
	}
}

// newestFirst returns the ring's entries, newest first.
func (g *ring) newestFirst() []RecentEntry {
	n := g.next
	if g.full {
		n = recentSize
	}
	out := make([]RecentEntry, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, g.buf[(g.next-i+recentSize)%recentSize])
	}
	return out
}

type recentRings struct {
	mu                   sync.Mutex
	registered, canceled ring
}

func (r *recentRings) addRegistered(now int64, app, id string) {
	r.mu.Lock()
	r.registered.add(RecentEntry{time.UnixMilli(now), app, id})
	r.mu.Unlock()
}

func (r *recentRings) addCanceled(now int64, app, id string) {
	r.mu.Lock()
	r.canceled.add(RecentEntry{time.UnixMilli(now), app, id})
	r.mu.Unlock()
}

// RecentlyRegistered returns the last 1000 registrations, newest first.
func (r *Registry) RecentlyRegistered() []RecentEntry {
	r.recent.mu.Lock()
	defer r.recent.mu.Unlock()
	return r.recent.registered.newestFirst()
}

// RecentlyCanceled returns the last 1000 cancellations (evictions and
// cancels of unknown instances included), newest first.
func (r *Registry) RecentlyCanceled() []RecentEntry {
	r.recent.mu.Lock()
	defer r.recent.mu.Unlock()
	return r.recent.canceled.newestFirst()
}
