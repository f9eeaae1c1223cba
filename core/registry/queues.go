package registry

import (
	"sync"
	"time"
)

// maxDeltaEntries bounds the delta queue under a write storm. Dropping the
// oldest changes is safe: a client that misses one sees a hash code mismatch
// and falls back to a full fetch.
const maxDeltaEntries = 1 << 20

// deltaQueue is the recently-changed queue behind apps/delta (§4.2). An
// entry points at its lease, so the delta shows the instance's latest state.
type deltaQueue struct {
	mu    sync.Mutex
	items []deltaItem
}

type deltaItem struct {
	l  *lease
	at int64
}

func (q *deltaQueue) add(l *lease, at int64) {
	q.mu.Lock()
	if len(q.items) >= maxDeltaEntries {
		q.items = q.items[len(q.items)-maxDeltaEntries+1:]
	}
	q.items = append(q.items, deltaItem{l, at})
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
	// Copy down so the backing array does not grow without bound.
	n := copy(q.items, q.items[i:])
	clear(q.items[n:])
	q.items = q.items[:n]
}

func (q *deltaQueue) entries() []*lease {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]*lease, len(q.items))
	for i, it := range q.items {
		out[i] = it.l
	}
	return out
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
