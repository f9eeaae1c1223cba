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
