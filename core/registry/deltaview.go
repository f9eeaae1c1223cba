package registry

import (
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
	hashcode = r.hashCode()
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
