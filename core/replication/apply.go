package replication

import (
	"net/http"
	"strings"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Apply runs a received batch against reg, each item as the matching
// request with the replication header would run (eureka-protocol.md
// §8.4), and returns one result per item in the same order:
//
//   - Register: 200 once registered. An item without a usable instance
//     (missing, or without an id, host name or matching app) gets 400 and
//     changes nothing; the Java server answers 200 and drops it, and its
//     senders only log a non-200.
//   - Heartbeat: 200, 404 (unknown, or the sender's copy is newer) or 409
//     with this node's newer copy as the entity.
//   - Cancel: 200 or 404.
//   - StatusUpdate: 200, 404, or 500 for a missing or UNKNOWN status (Java
//     fails valueOf on null).
//   - DeleteStatusOverride: 200 or 404; a missing status means UNKNOWN.
//   - any other action: 400.
//
// Nothing applied here is replicated again.
func Apply(reg *registry.Registry, items []eureka.ReplicationItem) []eureka.ReplicationResult {
	out := make([]eureka.ReplicationResult, len(items))
	for i := range items {
		out[i] = apply(reg, &items[i])
	}
	return out
}

func found(ok bool) eureka.ReplicationResult {
	if ok {
		return eureka.ReplicationResult{StatusCode: http.StatusOK}
	}
	return eureka.ReplicationResult{StatusCode: http.StatusNotFound}
}

func apply(reg *registry.Registry, it *eureka.ReplicationItem) eureka.ReplicationResult {
	app := strings.ToUpper(it.AppName)
	switch it.Action {
	case eureka.ReplicateRegister:
		in := it.Instance
		if in == nil || in.ID() == "" || in.HostName == "" || in.DataCenterInfo == nil ||
			(app != "" && strings.ToUpper(in.App) != app) {
			return eureka.ReplicationResult{StatusCode: http.StatusBadRequest}
		}
		if in.App == "" {
			in.App = app
		}
		reg.Register(in, true)
		return eureka.ReplicationResult{StatusCode: http.StatusOK}
	case eureka.ReplicateHeartbeat:
		res, in := reg.Renew(app, it.ID, registry.RenewArgs{
			LastDirtyTimestamp: it.LastDirtyTimestamp,
			OverriddenStatus:   it.OverriddenStatus,
			Replication:        true,
		})
		switch res {
		case registry.RenewOK:
			return eureka.ReplicationResult{StatusCode: http.StatusOK}
		case registry.RenewConflict:
			return eureka.ReplicationResult{StatusCode: http.StatusConflict, Entity: in}
		}
		return eureka.ReplicationResult{StatusCode: http.StatusNotFound}
	case eureka.ReplicateCancel:
		return found(reg.Cancel(app, it.ID, true))
	case eureka.ReplicateStatusUpdate:
		if reg.Instance(app, it.ID) == nil {
			return found(false)
		}
		if it.Status == "" {
			return eureka.ReplicationResult{StatusCode: http.StatusInternalServerError}
		}
		return found(reg.SetStatus(app, it.ID, it.Status, it.LastDirtyTimestamp, true))
	case eureka.ReplicateDeleteStatusOverride:
		st := it.Status
		if st == "" {
			st = eureka.StatusUnknown
		}
		return found(reg.DeleteStatusOverride(app, it.ID, st, it.LastDirtyTimestamp, true))
	}
	return eureka.ReplicationResult{StatusCode: http.StatusBadRequest}
}
