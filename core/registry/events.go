package registry

import (
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// EventSink receives the registry's events; *events.Bus implements it.
//
// The registry calls Publish while holding the lock that orders the change,
// so the events of one instance are published in the order the registry
// applied them. Publish must therefore be quick and must never block or call
// back into the registry.
//
// What is published:
//   - registered: every registration, new or repeated (a re-registration
//     is a registration in Eureka, with an ADDED delta entry), local or
//     replicated; the instance as stored.
//   - cancelled, evicted: the lease was removed by a cancel request or by
//     the eviction task; the instance as it stood before.
//   - status-changed: an operator override set (PUT …/status) or removed
//     (DELETE …/status), and an override applied by a renewal (Eureka's
//     silent quirk 8); the instance after the change.
//   - metadata-changed: PUT …/metadata; the instance after the change.
//   - renewed: only while WantsRenewals reports true.
//   - self-preservation-entered / -left: when the eviction task finds that
//     lease expiration turned off or on again.
//
// Nothing is published for changes that leave the status as it is: a
// peer's override noted by a renewal (the status follows on the next
// renewal, which publishes status-changed) and an override that expires.
// Restoring from storage publishes nothing either: the restored instances
// are the ones listeners already heard of.
type EventSink interface {
	Publish(hook.Event)
	// WantsRenewals reports whether renewed events are wanted; it is
	// called on every renewal and must be cheap.
	WantsRenewals() bool
}

// emit publishes one instance event; the caller holds mu (either side).
func (r *Registry) emit(typ hook.EventType, l *lease, in *eureka.InstanceInfo, replicated bool, now int64) {
	if r.events == nil {
		return
	}
	r.events.Publish(hook.Event{
		Type:       typ,
		Time:       time.UnixMilli(now),
		App:        l.app,
		InstanceID: l.id,
		Instance:   in,
		Replicated: replicated,
	})
}

// noteSelfPreservation publishes a self-preservation event when the state
// differs from the one last published. Self-preservation is on when it is
// enabled and lease expiration is off.
func (r *Registry) noteSelfPreservation(on bool) {
	on = on && r.opts.EnableSelfPreservation
	if r.inSelfPreservation.Swap(on) == on {
		return
	}
	typ := hook.EventSelfPreservationLeft
	if on {
		typ = hook.EventSelfPreservationEntered
		r.log.Warn("self-preservation entered: renewals are below the threshold, eviction stops")
	} else {
		r.log.Info("self-preservation left: eviction resumes")
	}
	if r.events != nil {
		r.events.Publish(hook.Event{Type: typ, Time: r.clock.Now()})
	}
}
