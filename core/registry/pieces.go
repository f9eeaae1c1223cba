package registry

import (
	"cmp"
	"slices"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// AppStates serves a response cache that keeps an encoded piece per
// application. Under one read lock it calls visit for every application
// with instances, in no particular order, with the registry version of the
// application's last change; for each application where visit returns
// true it copies the instances as Application does. It returns the
// registry version of exactly the state visited and the copies, in the
// order visit asked for them.
//
// visit runs under the registry's read lock: it must be quick and must not
// call the registry.
func (r *Registry) AppStates(visit func(name string, version uint64) bool) (uint64, []*eureka.Application) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var wanted []*eureka.Application
	for name, a := range r.apps {
		if len(a.leases) > 0 && visit(name, a.version) {
			wanted = append(wanted, r.application(a))
		}
	}
	// Writers bump the version under the write lock, so this is the
	// version of the state visited.
	return r.version.Load(), wanted
}

// application copies a's leases as Application does, in two allocations
// for all instances; the caller holds mu.
func (r *Registry) application(a *appEntry) *eureka.Application {
	n := len(a.leases)
	infos := make([]eureka.InstanceInfo, n)
	leases := make([]eureka.LeaseInfo, n)
	app := &eureka.Application{Name: a.name, Instances: make([]*eureka.InstanceInfo, 0, n)}
	i := 0
	for _, l := range a.leases {
		app.Instances = append(app.Instances, l.decorate(&infos[i], &leases[i]))
		i++
	}
	slices.SortFunc(app.Instances, func(x, y *eureka.InstanceInfo) int { return cmp.Compare(x.ID(), y.ID()) })
	return app
}

// StoredInstances returns, for every application with instances for which
// want returns true, its stored instances, in no particular order. want
// runs under the registry's read lock, as AppStates' visit does, and the
// instances are the registry's own immutable copies (not decorated with
// lease times): a reader that only looks at what was registered, such as
// core/health, copies nothing but the pointers.
func (r *Registry) StoredInstances(want func(name string, version uint64) bool) map[string][]*eureka.InstanceInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := map[string][]*eureka.InstanceInfo{}
	for name, a := range r.apps {
		if len(a.leases) == 0 || !want(name, a.version) {
			continue
		}
		list := make([]*eureka.InstanceInfo, 0, len(a.leases))
		for _, l := range a.leases {
			list = append(list, l.instance.Load())
		}
		out[name] = list
	}
	return out
}

// InstanceKey names one instance: its (upper-case) application and id.
type InstanceKey struct{ App, ID string }

// DeltaMark returns the number of the next delta entry and the registry
// version, of one state: where a ChangedInstances reader starts.
func (r *Registry) DeltaMark() (seq, version uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	q := &r.delta
	q.mu.Lock()
	seq = q.first + uint64(q.n)
	q.mu.Unlock()
	return seq, r.version.Load()
}

// ChangedInstances serves a response cache that keeps an encoded piece per
// instance: under one read lock it takes the instances with a delta entry
// numbered seq or later, and those in more, and calls visit once for each
// with a copy of it as AppStates makes them, or nil when it is gone, in no
// particular order. It returns the number of the next delta entry and the
// registry version, of exactly that state, for the next call (and for
// DeltaMark's use when ok is false).
//
// Every visible change adds one delta entry and moves the version by one,
// so when the version moved from since by the number of entries from seq
// on, those entries name everything that changed. ok is false, and nothing
// is visited, when it did not (a restore changes the registry without
// entries) or when entries from seq on have left the queue: the caller
// compares whole applications then (AppStates).
//
// visit runs under the registry's read lock: it must be quick and must not
// call the registry.
func (r *Registry) ChangedInstances(seq, since uint64, more []InstanceKey, visit func(app, id string, in *eureka.InstanceInfo)) (next, version uint64, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	q := &r.delta
	q.mu.Lock()
	first, n := q.first, uint64(q.n)
	next, version = first+n, r.version.Load()
	if seq < first || seq > next || version-since != next-seq {
		q.mu.Unlock()
		return next, version, false
	}
	keys := make(map[InstanceKey]struct{}, int(next-seq)+len(more))
	for i := seq - first; i < n; i++ {
		it := q.at(int(i))
		keys[InstanceKey{it.app, it.id}] = struct{}{}
	}
	q.mu.Unlock()
	for _, k := range more {
		keys[k] = struct{}{}
	}
	for k := range keys {
		var in *eureka.InstanceInfo
		if a := r.apps[k.App]; a != nil {
			if l := a.leases[k.ID]; l != nil {
				in = l.decorated()
			}
		}
		visit(k.App, k.ID, in)
	}
	return next, version, true
}
