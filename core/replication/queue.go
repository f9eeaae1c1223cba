package replication

import (
	"sync"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// taskKey is a task's id, Eureka's "<action>#APP/id": a newer task with the
// same key replaces the pending one.
type taskKey struct {
	action  eureka.ReplicationAction
	app, id string
}

// task is the state of one task id for one peer. It outlives a delivery,
// so that the next heartbeat of an instance reuses it and enqueueing
// allocates nothing in the steady state; idle tasks are swept.
type task struct {
	key taskKey
	// queued is true while the task waits in the queue's order.
	queued bool
	// since is when the task was queued (nanoseconds, monotonic clock
	// base); a replacement keeps it, so lag counts from the first request.
	since int64
	// expires is when the latest request for this id stops being worth
	// sending.
	expires int64
	// touched is the last enqueue, for the sweep.
	touched int64
}

// queue is one peer's pending tasks: a map by id and a FIFO of queued
// tasks. All fields are guarded by mu.
type queue struct {
	mu    sync.Mutex
	tasks map[taskKey]*task
	order []*task
	head  int
	// pending counts queued tasks (len(order) - head).
	pending int
	max     int
	batch   int
	expiry  int64

	dropped, expired uint64
	// wake is signalled when the queue goes from empty to non-empty or a
	// batch fills.
	wake chan struct{}
}

func newQueue(max, batch int, expiry int64) *queue {
	return &queue{
		tasks:  make(map[taskKey]*task),
		max:    max,
		batch:  batch,
		expiry: expiry,
		wake:   make(chan struct{}, 1),
	}
}

// add queues the task k at now, replacing a pending one with the same id
// (which keeps its place in the order). When the queue is full the oldest
// task is dropped.
func (q *queue) add(k taskKey, now int64) {
	q.mu.Lock()
	t := q.tasks[k]
	if t == nil {
		t = &task{key: k}
		q.tasks[k] = t
	}
	t.expires = now + q.expiry
	t.touched = now
	if t.queued {
		q.mu.Unlock()
		return
	}
	if q.pending >= q.max {
		q.dropOldest()
	}
	t.queued = true
	t.since = now
	q.push(t)
	signal := q.pending == 1 || q.pending == q.batch
	q.mu.Unlock()
	if signal {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// push appends t to the order, reusing the slice's space once most of it
// has been consumed.
func (q *queue) push(t *task) {
	if q.head > 0 && q.head >= len(q.order)/2 && len(q.order) == cap(q.order) {
		n := copy(q.order, q.order[q.head:])
		clear(q.order[n:])
		q.order = q.order[:n]
		q.head = 0
	}
	q.order = append(q.order, t)
	q.pending++
}

// pop removes the head of the order; the caller holds mu and knows
// pending > 0.
func (q *queue) pop() *task {
	t := q.order[q.head]
	q.order[q.head] = nil
	q.head++
	q.pending--
	if q.pending == 0 {
		q.order = q.order[:0]
		q.head = 0
	}
	return t
}

func (q *queue) dropOldest() {
	t := q.pop()
	t.queued = false
	q.dropped++
}

// oldest returns when the oldest queued task was queued, and whether there
// is one.
func (q *queue) oldest() (int64, int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending == 0 {
		return 0, 0, false
	}
	return q.order[q.head].since, q.pending, true
}

// take moves up to max unexpired tasks from the front of the queue into
// dst and returns when the oldest of them was queued (read here: a task
// queued again once taken gets a new start); expired ones are counted and
// dropped.
func (q *queue) take(dst []*task, max int, now int64) (tasks []*task, oldest int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.pending > 0 && len(dst) < max {
		t := q.pop()
		t.queued = false
		if now > t.expires {
			q.expired++
			continue
		}
		if len(dst) == 0 || t.since < oldest {
			oldest = t.since
		}
		dst = append(dst, t)
	}
	return dst, oldest
}

// requeue puts tasks of a batch that failed back at the front, in their
// order, except those queued again meanwhile (the newer request stands)
// and those that expired.
func (q *queue) requeue(ts []*task, now int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	back := make([]*task, 0, len(ts)+q.pending)
	for _, t := range ts {
		if t.queued {
			continue
		}
		if now > t.expires {
			q.expired++
			continue
		}
		t.queued = true
		back = append(back, t)
	}
	if len(back) == 0 {
		return
	}
	n := len(back)
	back = append(back, q.order[q.head:]...)
	q.order, q.head = back, 0
	q.pending += n
	for q.pending > q.max {
		// Drop the oldest, as add does: the front is the oldest.
		q.dropOldest()
	}
}

// sweep forgets idle tasks last requested before limit; they have expired
// long ago, so no delivery of theirs is pending.
func (q *queue) sweep(limit int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, t := range q.tasks {
		if !t.queued && t.touched < limit {
			delete(q.tasks, k)
		}
	}
}

func (q *queue) counts() (pending int, dropped, expired uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending, q.dropped, q.expired
}
