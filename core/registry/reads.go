package registry

import (
	"cmp"
	"slices"
	"strings"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// Reads return decorated copies (lease timestamps filled in) that share the
// stored instances' maps: treat everything returned as read-only.

// Instance returns one instance, or nil when it is unknown or its lease has
// expired while lease expiration is enabled (GET apps/{app}/{id}).
func (r *Registry) Instance(app, id string) *eureka.InstanceInfo {
	now := r.nowMs()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if l := r.liveLease(app, id, now); l != nil {
		return l.decorated()
	}
	return nil
}

// InstanceByID returns the first live instance with that id in any
// application (GET instances/{id}), or nil.
func (r *Registry) InstanceByID(id string) *eureka.InstanceInfo {
	now := r.nowMs()
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, name := range r.sortedAppNames() {
		if l := r.liveLease(name, id, now); l != nil {
			return l.decorated()
		}
	}
	return nil
}

// sortedAppNames lists application names in order; the caller holds mu.
func (r *Registry) sortedAppNames() []string {
	names := make([]string, 0, len(r.apps))
	for name, a := range r.apps {
		if len(a.leases) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// snapshot builds Applications from every lease that keep accepts (nil
// keeps all), apps sorted by name and instances by id. It includes leases
// that expired but were not evicted yet, as Eureka does. The caller holds mu.
func (r *Registry) snapshot(keep func(*eureka.InstanceInfo) bool) *eureka.Applications {
	n := 0
	for _, a := range r.apps {
		n += len(a.leases)
	}
	// One allocation for all copies: a full fetch of a large registry is
	// built in a few big slices instead of two small objects per instance.
	infos := make([]eureka.InstanceInfo, n)
	leases := make([]eureka.LeaseInfo, n)
	out := &eureka.Applications{VersionsDelta: 1}
	var counts eureka.StatusCounts
	i := 0
	for _, name := range r.sortedAppNames() {
		a := r.apps[name]
		app := &eureka.Application{Name: name}
		for _, l := range a.leases {
			if keep != nil && !keep(l.instance.Load()) {
				continue
			}
			in := l.decorate(&infos[i], &leases[i])
			i++
			counts.Add(in.Status)
			app.Instances = append(app.Instances, in)
		}
		if len(app.Instances) == 0 {
			continue
		}
		slices.SortFunc(app.Instances, func(x, y *eureka.InstanceInfo) int { return cmp.Compare(x.ID(), y.ID()) })
		out.Applications = append(out.Applications, app)
	}
	out.AppsHashcode = counts.HashCode()
	return out
}

// Applications returns the full registry (GET apps) with versions__delta 1
// and its hash code.
func (r *Registry) Applications() *eureka.Applications {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.snapshot(nil)
}

// Application returns one application (GET apps/{app}), nil if it has no
// leases.
func (r *Registry) Application(name string) *eureka.Application {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a := r.apps[name]
	if a == nil || len(a.leases) == 0 {
		return nil
	}
	app := &eureka.Application{Name: name, Instances: make([]*eureka.InstanceInfo, 0, len(a.leases))}
	for _, l := range a.leases {
		app.Instances = append(app.Instances, l.decorated())
	}
	slices.SortFunc(app.Instances, func(x, y *eureka.InstanceInfo) int { return cmp.Compare(x.ID(), y.ID()) })
	return app
}

// VIP returns the applications with instances whose vipAddress (or, when
// secure, secureVipAddress) lists vip exactly (GET vips/{vip}, svips/{vip}).
// versions__delta is -1, and an unknown VIP gives an empty list.
func (r *Registry) VIP(vip string, secure bool) *eureka.Applications {
	r.mu.RLock()
	defer r.mu.RUnlock()
	apps := r.snapshot(func(in *eureka.InstanceInfo) bool {
		list := in.VIPAddress
		if secure {
			list = in.SecureVIPAddress
		}
		return listContains(list, vip)
	})
	apps.VersionsDelta = -1
	return apps
}

// listContains reports whether the comma-separated list has an element
// exactly equal to s, without allocating.
func listContains(list, s string) bool {
	for list != "" {
		elem, rest, _ := strings.Cut(list, ",")
		if elem == s {
			return true
		}
		list = rest
	}
	return false
}

// Delta returns the recently changed instances (GET apps/delta): each
// changed instance once, as of its latest change with that change's action
// type, grouped by application in order of first change (an instance
// changed again keeps the place of its first change in the window), with
// the hash code of the full registry counted afresh under the same lock so
// the two agree. VersionsDelta is left 0 for the caller (the response
// cache owns the delta counter). It is the from-scratch reference of what
// DeltaSince lets a cache assemble incrementally.
func (r *Registry) Delta() *eureka.Applications {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := &eureka.Applications{}
	index := make(map[string]*eureka.Application)
	// place is where an instance goes (its first change) and its latest
	// change, decorated once all are known.
	type place struct {
		app  *eureka.Application
		i    int
		last *deltaItem
	}
	places := make(map[[2]string]*place)
	items := r.delta.entries()
	for j := range items {
		it := &items[j]
		app := index[it.app]
		if app == nil {
			app = &eureka.Application{Name: it.app}
			index[it.app] = app
			out.Applications = append(out.Applications, app)
		}
		k := [2]string{it.app, it.id}
		if p, ok := places[k]; ok {
			p.last = it
			continue
		}
		places[k] = &place{app: app, i: len(app.Instances), last: it}
		app.Instances = append(app.Instances, nil)
	}
	for _, p := range places {
		p.app.Instances[p.i] = p.last.decorated()
	}
	var counts eureka.StatusCounts
	for _, a := range r.apps {
		for _, l := range a.leases {
			counts.Add(l.instance.Load().Status)
		}
	}
	out.AppsHashcode = counts.HashCode()
	return out
}
