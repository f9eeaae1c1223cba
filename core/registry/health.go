package registry

import (
	"maps"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// The server-side health verdict rides in the instance's metadata, under
// keys the server owns, so that it is stored with the record, replicated
// with the instance (a Register carries the full instance, to eurekad and
// Java peers alike), compared by anti-entropy and shown to readers:
//
//   - HealthKey is "down" when a failing check turned the instance from UP
//     to DOWN (so a passing check turns it UP again), "failing" when the
//     check fails but the status is someone else's (an operator override,
//     a client that reports DOWN or STARTING itself); absent when passing
//     or unchecked.
//   - HealthDetailKey is the failing check's detail ("HTTP 500").
//
// A client's registration cannot set or clear them: a local registration
// keeps the verdict of the lease it replaces and turns an UP into DOWN
// while the verdict stands. A peer's copy is taken as it is: the peer's
// prober decided it.
const (
	HealthKey       = "eurekad.health"
	HealthDetailKey = "eurekad.health.detail"

	healthDown    = "down"
	healthFailing = "failing"
)

// HealthFailing reports whether in carries a failing health verdict.
func HealthFailing(in *eureka.InstanceInfo) bool { return in.Metadata[HealthKey] != "" }

// withHealth returns c's metadata with the verdict mark set (or removed,
// for ""), as a new map: stored maps are shared.
func withHealth(md map[string]string, mark, detail string) map[string]string {
	m := maps.Clone(md)
	if m == nil {
		m = make(map[string]string, 2)
	}
	if mark == "" {
		delete(m, HealthKey)
		delete(m, HealthDetailKey)
		return m
	}
	m[HealthKey] = mark
	if detail != "" {
		m[HealthDetailKey] = detail
	} else if _, ok := m[HealthDetailKey]; !ok {
		m[HealthDetailKey] = "failing"
	}
	return m
}

// SetHealth records a health check's verdict on an instance (a checker's
// write, through core/node): failing turns an UP instance without an
// override DOWN; passing turns an instance the checker took DOWN UP again.
// Any other status (an operator's override above all) is left as it is,
// and only the verdict is noted. It reports whether anything changed and
// whether the instance exists. A change is published like a status change:
// a MODIFIED delta entry, a version bump, a stamp, and a status-changed
// event (metadata-changed when only the verdict changed).
func (r *Registry) SetHealth(app, id string, failing bool, detail string) (changed, ok bool) {
	now := r.nowMs()
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.liveLease(app, id, now)
	if l == nil {
		return false, false
	}
	in := l.instance.Load()
	mark := in.Metadata[HealthKey]
	_, overridden := r.overrides[l.key()]
	status, newMark := in.Status, ""
	switch {
	case failing && !overridden && (in.Status == eureka.StatusUp || (in.Status == eureka.StatusDown && mark == healthDown)):
		status, newMark = eureka.StatusDown, healthDown
	case failing:
		newMark = healthFailing
	case mark == healthDown && in.Status == eureka.StatusDown && !overridden:
		status = eureka.StatusUp
	}
	if status == in.Status && newMark == mark {
		return false, true // the detail alone is not worth a change
	}
	c := in.Clone()
	c.Metadata = withHealth(in.Metadata, newMark, detail)
	c.Status = status
	c.ActionType = eureka.ActionModified
	c.LastUpdatedTimestamp = now
	if status == eureka.StatusUp {
		l.markServiceUp(now)
	}
	r.restate(l, c)
	l.stamp.Store(r.tick())
	r.delta.add(l, now)
	r.bump(r.apps[l.app])
	r.changed(l.app, l.id)
	typ := hook.EventMetadataChanged
	if status != in.Status {
		typ = hook.EventStatusChanged
	}
	r.emit(typ, l, c, false, now)
	return true, true
}

// keepHealth applies the health verdict of the lease a local registration
// replaces to the registration: a client's own claim to the keys is
// dropped, the verdict carried over, and an UP without an override turned
// DOWN while it stands. The caller holds mu; in is the registry's own copy
// and its status is resolved.
func (r *Registry) keepHealth(in *eureka.InstanceInfo, k storage.Key, existing *lease) {
	var mark, detail string
	if existing != nil {
		cur := existing.instance.Load()
		mark, detail = cur.Metadata[HealthKey], cur.Metadata[HealthDetailKey]
	}
	_, claimed := in.Metadata[HealthKey]
	_, claimedDetail := in.Metadata[HealthDetailKey]
	if mark == "" && !claimed && !claimedDetail {
		return
	}
	if mark == "" {
		in.Metadata = withHealth(in.Metadata, "", "")
		return
	}
	if _, overridden := r.overrides[k]; !overridden && in.Status == eureka.StatusUp {
		in.Status, mark = eureka.StatusDown, healthDown
	} else {
		mark = healthFailing
	}
	in.Metadata = withHealth(in.Metadata, mark, detail)
}

// healthChange is how a peer's copy that carries another health verdict
// than old is published: as the prober node published it, a MODIFIED delta
// entry and a status change (a metadata change when the status stays), not
// a registration. Clients that ignore an ADDED entry for an instance they
// hold (eureka-js-client) would otherwise miss the verdict on the nodes
// that did not probe. The caller holds mu; in is the registry's copy.
func healthChange(old, in *eureka.InstanceInfo, typ hook.EventType) hook.EventType {
	if old.Metadata[HealthKey] == in.Metadata[HealthKey] {
		return typ
	}
	in.ActionType = eureka.ActionModified
	if old.Status != in.Status {
		return hook.EventStatusChanged
	}
	return hook.EventMetadataChanged
}

// underlying is the status an instance would have without the checker's
// verdict: UP for one the checker took DOWN.
func underlying(in *eureka.InstanceInfo) eureka.Status {
	if in.Status == eureka.StatusDown && in.Metadata[HealthKey] == healthDown {
		return eureka.StatusUp
	}
	return in.Status
}
