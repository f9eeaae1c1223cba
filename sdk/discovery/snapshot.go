package discovery

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// snapshot is one immutable view of the registry with its indexes. It is
// never modified once stored in Cache.snap.
type snapshot struct {
	apps   *eureka.Applications
	byApp  map[string]*group // upper-case application name
	byVIP  map[string]*group // upper-case VIP address
	bySVIP map[string]*group // upper-case secure VIP address
}

// group is the instances of one application or VIP that readers see.
type group struct {
	// all is filtered to UP (unless AllStatuses) and sorted by app and id.
	all []*eureka.InstanceInfo
	// local is the subset of all in the cache's own zone.
	local []*eureka.InstanceInfo
	// region is the subset of all in the cache's own region (instances
	// whose zone maps to no region included); filled only when region
	// options are set.
	region []*eureka.InstanceInfo
	// next is the round-robin counter, carried over from the previous
	// snapshot so picking continues where it was.
	next *atomic.Uint64
}

// build indexes apps; counters are carried over from old.
func (c *Cache) build(apps *eureka.Applications, old *snapshot) *snapshot {
	s := &snapshot{
		apps:   apps,
		byApp:  make(map[string]*group),
		byVIP:  make(map[string]*group),
		bySVIP: make(map[string]*group),
	}
	add := func(m map[string]*group, key string, in *eureka.InstanceInfo) {
		g := m[key]
		if g == nil {
			g = &group{}
			m[key] = g
		}
		g.all = append(g.all, in)
	}
	for _, app := range apps.Applications {
		name := strings.ToUpper(app.Name)
		for _, in := range app.Instances {
			if !c.allStatuses && in.Status != eureka.StatusUp {
				continue
			}
			add(s.byApp, name, in)
			for _, v := range splitVIPs(in.VIPAddress) {
				add(s.byVIP, v, in)
			}
			for _, v := range splitVIPs(in.SecureVIPAddress) {
				add(s.bySVIP, v, in)
			}
		}
	}
	var oldApp, oldVIP, oldSVIP map[string]*group
	if old != nil {
		oldApp, oldVIP, oldSVIP = old.byApp, old.byVIP, old.bySVIP
	}
	c.finish(s.byApp, oldApp)
	c.finish(s.byVIP, oldVIP)
	c.finish(s.bySVIP, oldSVIP)
	return s
}

// finish sorts each group, splits off its own-zone instances and gives it
// a round-robin counter.
func (c *Cache) finish(m, old map[string]*group) {
	for key, g := range m {
		slices.SortFunc(g.all, func(a, b *eureka.InstanceInfo) int {
			return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.ID(), b.ID()))
		})
		if c.zone != "" {
			for _, in := range g.all {
				if InstanceZone(in) == c.zone {
					g.local = append(g.local, in)
				}
			}
		}
		if c.regionAware() {
			for _, in := range g.all {
				if c.InstanceRegion(in) == c.region {
					g.region = append(g.region, in)
				}
			}
		}
		if o := old[key]; o != nil {
			g.next = o.next
		} else {
			g.next = new(atomic.Uint64)
			// Start at a random place so many clients do not all pick
			// the same first instance.
			g.next.Store(rand.Uint64())
		}
	}
}

// splitVIPs splits a VIP address list ("a,b") into upper-case names, as
// Eureka indexes them.
func splitVIPs(v string) []string {
	if v == "" {
		return nil
	}
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.ToUpper(p))
		}
	}
	return out
}

// InstanceZone returns the zone an instance runs in: its "zone" metadata
// (Spring Cloud's eureka.instance.metadataMap.zone), else for an Amazon
// data centre the "availability-zone" of its data centre metadata, else "".
func InstanceZone(in *eureka.InstanceInfo) string {
	if z := in.Metadata["zone"]; z != "" {
		return z
	}
	if d := in.DataCenterInfo; d != nil && d.Name == eureka.DataCenterAmazon {
		return d.Metadata["availability-zone"]
	}
	return ""
}

// regionAware reports whether region options are set, so that Pick
// prefers the own region over remote ones.
func (c *Cache) regionAware() bool { return c.region != "" || len(c.zoneRegion) > 0 }

// InstanceRegion returns the region an instance runs in: the region whose
// zones (Options.RegionZones) hold its zone (InstanceZone), else
// Options.Region, as Eureka's client counts an instance whose zone maps to
// no region as local.
func (c *Cache) InstanceRegion(in *eureka.InstanceInfo) string {
	if r, ok := c.zoneRegion[InstanceZone(in)]; ok {
		return r
	}
	return c.region
}

// Applications returns the current view: every instance the cache holds,
// of every status, grouped by application, with the server's hash code.
// Before the first fetch it is empty (never nil). The value is shared with
// other readers and must not be modified; a later change of the registry
// gives a new value and leaves this one as it is.
func (c *Cache) Applications() *eureka.Applications {
	return c.snap.Load().apps
}

// Instances returns the instances of an application (name compared
// case-insensitively), UP only unless Options.AllStatuses, sorted by id;
// nil when there are none. The slice is shared: do not modify it or its
// instances.
func (c *Cache) Instances(app string) []*eureka.InstanceInfo {
	return all(c.snap.Load().byApp[strings.ToUpper(app)])
}

// InstancesByVIP is Instances for the instances whose vipAddress list
// holds vip (case-insensitively).
func (c *Cache) InstancesByVIP(vip string) []*eureka.InstanceInfo {
	return all(c.snap.Load().byVIP[strings.ToUpper(vip)])
}

// InstancesBySecureVIP is Instances for the instances whose
// secureVipAddress list holds svip (case-insensitively).
func (c *Cache) InstancesBySecureVIP(svip string) []*eureka.InstanceInfo {
	return all(c.snap.Load().bySVIP[strings.ToUpper(svip)])
}

func all(g *group) []*eureka.InstanceInfo {
	if g == nil {
		return nil
	}
	return g.all
}

// Pick returns one instance of an application: UP only (unless
// Options.AllStatuses), from the cache's own zone when that has any (see
// Options.Zone and InstanceZone), else, with region options set, from its
// own region when that has any (see InstanceRegion), else from any zone
// or region, in round-robin order. It returns an
// error matching ErrNoInstance when none qualifies. The instance is shared:
// do not modify it.
func (c *Cache) Pick(app string) (*eureka.InstanceInfo, error) {
	return pick(c.snap.Load().byApp[strings.ToUpper(app)], "application", app)
}

// PickVIP is Pick among the instances whose vipAddress list holds vip.
func (c *Cache) PickVIP(vip string) (*eureka.InstanceInfo, error) {
	return pick(c.snap.Load().byVIP[strings.ToUpper(vip)], "VIP", vip)
}

// PickSecureVIP is Pick among the instances whose secureVipAddress list
// holds svip.
func (c *Cache) PickSecureVIP(svip string) (*eureka.InstanceInfo, error) {
	return pick(c.snap.Load().bySVIP[strings.ToUpper(svip)], "secure VIP", svip)
}

func pick(g *group, kind, name string) (*eureka.InstanceInfo, error) {
	if g == nil || len(g.all) == 0 {
		return nil, fmt.Errorf("%w: %s %q", ErrNoInstance, kind, name)
	}
	list := g.local
	if len(list) == 0 {
		list = g.region
	}
	if len(list) == 0 {
		list = g.all
	}
	n := g.next.Add(1)
	return list[n%uint64(len(list))], nil
}

// merge applies a delta to apps as Eureka's client does (§4.3): ADDED and
// MODIFIED upsert the instance into its application (created when
// missing), DELETED removes it; applications left empty are dropped, as a
// full fetch would not list them. apps is not modified: changed
// applications are copied. changed reports whether anything but lease
// bookkeeping differs.
func merge(apps, d *eureka.Applications) (next *eureka.Applications, changed bool) {
	list := slices.Clone(apps.Applications)
	index := make(map[string]int, len(list))
	for i, a := range list {
		index[strings.ToUpper(a.Name)] = i
	}
	copied := make(map[int]bool)
	// own returns application i, copied the first time it is changed.
	own := func(i int) *eureka.Application {
		if !copied[i] {
			a := list[i]
			list[i] = &eureka.Application{Name: a.Name, Instances: slices.Clone(a.Instances)}
			copied[i] = true
		}
		return list[i]
	}
	for _, da := range d.Applications {
		for _, in := range da.Instances {
			name := in.App
			if name == "" {
				name = da.Name
			}
			key := strings.ToUpper(name)
			i, ok := index[key]
			id := in.ID()
			if in.ActionType == eureka.ActionDeleted {
				if !ok {
					continue
				}
				a := own(i)
				if j := findInstance(a.Instances, id); j >= 0 {
					a.Instances = slices.Delete(a.Instances, j, j+1)
					changed = true
				}
				continue
			}
			if !ok {
				list = append(list, &eureka.Application{Name: name})
				i = len(list) - 1
				index[key] = i
				copied[i] = true
			}
			a := own(i)
			if j := findInstance(a.Instances, id); j >= 0 {
				if !sameInstance(a.Instances[j], in) {
					changed = true
				}
				a.Instances[j] = in
			} else {
				a.Instances = append(a.Instances, in)
				changed = true
			}
		}
	}
	list = slices.DeleteFunc(list, func(a *eureka.Application) bool { return len(a.Instances) == 0 })
	return &eureka.Applications{VersionsDelta: d.VersionsDelta, AppsHashcode: apps.AppsHashcode, Applications: list}, changed
}

func findInstance(list []*eureka.InstanceInfo, id string) int {
	for j, in := range list {
		if in.ID() == id {
			return j
		}
	}
	return -1
}

// sameInstance reports whether a and b differ in nothing but lease
// bookkeeping (LeaseInfo, lastUpdatedTimestamp, actionType), which every
// registration moves without changing anything a caller routes on.
func sameInstance(a, b *eureka.InstanceInfo) bool {
	if a == b {
		return true
	}
	if !maps.Equal(a.Metadata, b.Metadata) {
		return false
	}
	da, db := a.DataCenterInfo, b.DataCenterInfo
	if (da == nil) != (db == nil) || da != nil && (da.Name != db.Name || !maps.Equal(da.Metadata, db.Metadata)) {
		return false
	}
	x, y := *a, *b
	x.LeaseInfo, y.LeaseInfo = nil, nil
	x.LastUpdatedTimestamp, y.LastUpdatedTimestamp = 0, 0
	x.ActionType, y.ActionType = "", ""
	x.Metadata, y.Metadata = nil, nil
	x.DataCenterInfo, y.DataCenterInfo = nil, nil
	return reflect.DeepEqual(x, y)
}

// sameApps reports whether two views hold the same instances, equal but
// for lease bookkeeping.
func sameApps(a, b *eureka.Applications) bool {
	same := true
	diff(a, b, func(string, *eureka.InstanceInfo, eureka.ActionType) bool {
		same = false
		return false
	})
	return same
}

// Diff returns what changed from the view old to the view next as delta
// entries: a copy of each instance added, modified (beyond lease
// bookkeeping, as for Subscribe) or deleted, with its ActionType and its
// application's upper-case name in App. Added and modified instances come
// in next's order, then the deleted ones in old's. Neither view is
// modified.
func Diff(old, next *eureka.Applications) []*eureka.InstanceInfo {
	var out []*eureka.InstanceInfo
	diff(old, next, func(app string, in *eureka.InstanceInfo, act eureka.ActionType) bool {
		c := *in
		c.App, c.ActionType = app, act
		out = append(out, &c)
		return true
	})
	return out
}

// diff calls yield with each instance added, modified or deleted from a
// to b (see Diff) until yield returns false.
func diff(a, b *eureka.Applications, yield func(app string, in *eureka.InstanceInfo, act eureka.ActionType) bool) {
	type key struct{ app, id string }
	m := make(map[key]*eureka.InstanceInfo)
	for _, app := range a.Applications {
		for _, in := range app.Instances {
			m[key{strings.ToUpper(app.Name), in.ID()}] = in
		}
	}
	for _, app := range b.Applications {
		name := strings.ToUpper(app.Name)
		for _, in := range app.Instances {
			k := key{name, in.ID()}
			old, ok := m[k]
			delete(m, k)
			switch {
			case !ok:
				if !yield(name, in, eureka.ActionAdded) {
					return
				}
			case !sameInstance(old, in):
				if !yield(name, in, eureka.ActionModified) {
					return
				}
			}
		}
	}
	if len(m) == 0 {
		return
	}
	for _, app := range a.Applications {
		name := strings.ToUpper(app.Name)
		for _, in := range app.Instances {
			if _, gone := m[key{name, in.ID()}]; gone && !yield(name, in, eureka.ActionDeleted) {
				return
			}
		}
	}
}
