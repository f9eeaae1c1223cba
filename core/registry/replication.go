package registry

import (
	"strings"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
)

// AdoptPeerCopy takes a peer's newer copy of an instance, as Eureka's
// sender does on a replicated heartbeat's 409 (docs/protocol.md §8.5):
// the peer's override, if it names one, replaces the local one, then the
// copy is registered as a replication (so it is not replicated back).
func (r *Registry) AdoptPeerCopy(in *eureka.InstanceInfo) {
	if st := in.OverriddenStatus; st != "" && st != eureka.StatusUnknown {
		k := storage.Key{App: strings.ToUpper(in.App), ID: in.ID()}
		now := r.nowMs()
		r.mu.Lock()
		if o := r.overrides[k]; o == nil || o.status != st {
			r.overrides[k] = newOverride(st, now)
		}
		r.mu.Unlock()
	}
	r.Register(in, true)
}

// ReplicationState returns what a replicated heartbeat or status change
// carries for a live instance (its status, its override and its
// lastDirtyTimestamp) without copying the instance; ok is false when the
// instance is unknown or its lease has expired.
func (r *Registry) ReplicationState(app, id string) (status, overridden eureka.Status, lastDirty int64, ok bool) {
	now := r.nowMs()
	r.mu.RLock()
	defer r.mu.RUnlock()
	l := r.liveLease(app, id, now)
	if l == nil {
		return "", "", 0, false
	}
	in := l.instance.Load()
	return in.Status, in.OverriddenStatus, in.LastDirtyTimestamp, true
}
