package registry

import (
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
//
// The entries are kept in blocks of deltaBlock rather than one slice: under
// a write storm the queue holds every change of the window, and a slice
// would be copied whole each time it doubled. A block the sweep empties is
// kept for the next one, so a steady stream of changes allocates nothing.
type deltaQueue struct {
	mu sync.Mutex
	// blocks hold the n entries in order, from blocks[0][head]; every block
	// but the last is full.
	blocks  [][]deltaItem
	head, n int
	// spare is an emptied block, reused by the next block add needs.
	spare []deltaItem
	// first is the seq of the oldest entry; the next entry gets first+n.
	first uint64
}

// deltaBlock is the number of entries in one block of the queue.
const deltaBlock = 1024

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
	if q.n >= maxDeltaEntries {
		q.drop(q.n - maxDeltaEntries + 1)
	}
	last := len(q.blocks) - 1
	if last < 0 || len(q.blocks[last]) == deltaBlock {
		b := q.spare
		q.spare = nil
		if b == nil {
			b = make([]deltaItem, 0, deltaBlock)
		}
		q.blocks = append(q.blocks, b)
		last++
	}
	q.blocks[last] = append(q.blocks[last], deltaItem{app: l.app, id: l.id, in: in, times: times, at: at})
	q.n++
	q.mu.Unlock()
}

// at returns the i-th entry from the oldest; the caller holds q.mu.
func (q *deltaQueue) at(i int) *deltaItem {
	i += q.head
	return &q.blocks[i/deltaBlock][i%deltaBlock]
}

// drop removes the k oldest entries, releasing their instances; the caller
// holds q.mu.
func (q *deltaQueue) drop(k int) {
	q.first += uint64(k)
	q.n -= k
	for k > 0 {
		b := q.blocks[0]
		m := min(k, len(b)-q.head)
		clear(b[q.head : q.head+m])
		q.head += m
		k -= m
		if q.head == len(b) {
			q.blocks[0] = nil
			q.blocks = q.blocks[1:]
			q.head = 0
			q.spare = b[:0]
		}
	}
	if q.n == 0 {
		q.blocks = nil // let go of a burst's block list
	}
}

// appendFrom appends the entries from the i-th oldest on to dst; the
// caller holds q.mu.
func (q *deltaQueue) appendFrom(dst []deltaItem, i int) []deltaItem {
	for i < q.n {
		j := i + q.head
		b := q.blocks[j/deltaBlock][j%deltaBlock:]
		dst = append(dst, b...)
		i += len(b)
	}
	return dst
}

// sweep drops entries from the head while they are older than cutoff,
// stopping at the first younger one, as Eureka's retention timer does.
func (q *deltaQueue) sweep(cutoff int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for i < q.n && q.at(i).at < cutoff {
		i++
	}
	q.drop(i)
}

// entries returns a copy of the queue's entries, oldest first.
func (q *deltaQueue) entries() []deltaItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.appendFrom(make([]deltaItem, 0, q.n), 0)
}

func (q *deltaQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
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
