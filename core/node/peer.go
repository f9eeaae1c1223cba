package node

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/rules"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// ApplyBatch applies a peer's replication batch (POST
// peerreplication/batch, docs/protocol.md §8.4): each item as the
// matching request with the replication header would run, through the
// same checks as a client's request, answered in a list of the same
// length and order:
//
//   - Register: 200 once registered; 400 for an instance the checks
//     refuse (the Java server answers 200 and drops it; its senders only
//     log a non-200).
//   - Heartbeat: 200, 404 (unknown, or the sender's copy is newer) or 409
//     with this node's newer copy as the entity; 400 for an unknown
//     overriddenStatus.
//   - Cancel: 200 or 404.
//   - StatusUpdate: 200, 404, or 400 for a status that is not an override
//     (missing, UNKNOWN, or a name Eureka does not know, which Java's
//     lenient reader turns into UNKNOWN).
//   - DeleteStatusOverride: 200 or 404; a missing status means UNKNOWN,
//     and a name Eureka does not know gets 400 (it would become the
//     instance's status).
//   - any other action: 400.
//
// The batch is committed once; an error (the store refuses writes, or the
// commit failed) means nothing in it was acknowledged.
func (n *Node) ApplyBatch(ctx context.Context, c Caller, items []eureka.ReplicationItem) ([]eureka.ReplicationResult, error) {
	c.Replication = true
	s := n.begin()
	defer s.end()
	if err := n.admitStore(); err != nil {
		return nil, err
	}
	out := make([]eureka.ReplicationResult, len(items))
	for i := range items {
		out[i] = n.applyItem(c, &items[i])
	}
	if err := n.commit(ctx, &s); err != nil {
		return nil, err
	}
	return out, nil
}

var (
	resultOK         = eureka.ReplicationResult{StatusCode: http.StatusOK}
	resultNotFound   = eureka.ReplicationResult{StatusCode: http.StatusNotFound}
	resultBadRequest = eureka.ReplicationResult{StatusCode: http.StatusBadRequest}
	// resultForbidden is a registration over the instance limit, answered
	// as a single replicated registration is (httpd's writeError).
	resultForbidden = eureka.ReplicationResult{StatusCode: http.StatusForbidden}
)

func found(ok bool) eureka.ReplicationResult {
	if ok {
		return resultOK
	}
	return resultNotFound
}

func (n *Node) applyItem(c Caller, it *eureka.ReplicationItem) eureka.ReplicationResult {
	app := strings.ToUpper(it.AppName)
	switch it.Action {
	case eureka.ReplicateRegister:
		in := it.Instance
		if in == nil {
			return resultBadRequest
		}
		if in.App == "" {
			in.App = app
		}
		if app == "" {
			app = strings.ToUpper(in.App)
		}
		if err := n.checkRegistration(in, app); err != nil {
			n.log.Debug("replicated registration refused", "err", err)
			return resultBadRequest
		}
		if err := n.register(in, app, true); err != nil {
			n.log.Debug("replicated registration refused", "err", err)
			return resultForbidden
		}
		return resultOK
	case eureka.ReplicateHeartbeat:
		res, in, err := n.Renew(app, it.ID, registry.RenewArgs{
			LastDirtyTimestamp: it.LastDirtyTimestamp,
			OverriddenStatus:   it.OverriddenStatus,
			Replication:        true,
		})
		switch {
		case err != nil:
			return resultBadRequest
		case res == registry.RenewOK:
			return resultOK
		case res == registry.RenewConflict:
			return eureka.ReplicationResult{StatusCode: http.StatusConflict, Entity: in}
		}
		return resultNotFound
	case eureka.ReplicateCancel:
		return found(n.reg.Cancel(app, it.ID, true))
	case eureka.ReplicateStatusUpdate:
		if n.reg.Instance(app, it.ID) == nil {
			return resultNotFound
		}
		st, err := rules.OverrideStatus(string(it.Status))
		if err != nil {
			return resultBadRequest
		}
		return found(n.reg.SetStatus(app, it.ID, st, it.LastDirtyTimestamp, true))
	case eureka.ReplicateDeleteStatusOverride:
		st := eureka.StatusUnknown
		if it.Status != "" {
			// The status the instance takes: a known one, as for a
			// client's DELETE …/status?value=.
			var ok bool
			if st, ok = eureka.ParseStatus(string(it.Status)); !ok {
				return resultBadRequest
			}
		}
		return found(n.reg.DeleteStatusOverride(app, it.ID, st, it.LastDirtyTimestamp, true))
	}
	return resultBadRequest
}

// Merge applies a peer's anti-entropy state (POST
// peerreplication/exchange, or the answer to this node's own exchange)
// through the registry's later-stamp-wins rule (registry.Merge), as a
// replication: stored, in the delta and the events, never replicated
// again. Instances the input rules refuse and overrides that are not one
// are left out, as on every other path, and so are new instances beyond
// the instance limit. The merge is committed once.
func (n *Node) Merge(ctx context.Context, states []registry.AppState) (registry.MergeStats, error) {
	s := n.begin()
	defer s.end()
	if err := n.admitStore(); err != nil {
		return registry.MergeStats{}, err
	}
	for i := range states {
		st := &states[i]
		st.Instances = slices.DeleteFunc(st.Instances, func(is registry.InstanceState) bool {
			if is.Instance == nil || n.checkRegistration(is.Instance, strings.ToUpper(st.Name)) != nil {
				return true
			}
			if is.Override != "" && is.Override != eureka.StatusUnknown {
				if _, err := rules.OverrideStatus(string(is.Override)); err != nil {
					return true
				}
			}
			return false
		})
	}
	m := n.merge(states)
	if err := n.commit(ctx, &s); err != nil {
		return m, err
	}
	return m, nil
}

// Adopt registers a peer's copy of an instance found by the start-up sync
// (registry.RegisterCopy) under the rules every write passes: the input
// rules and the instance limit. It does not wait for the store (the
// flusher writes the copy): a node that loses it syncs again at start.
func (n *Node) Adopt(in *eureka.InstanceInfo) error {
	app := strings.ToUpper(in.App)
	if err := n.checkRegistration(in, app); err != nil {
		return err
	}
	return n.limited(app, in.ID(), func() { n.reg.RegisterCopy(in) })
}

// merge applies states to the registry, leaving out the new instances
// beyond the instance limit (fits); what it leaves out, anti-entropy
// offers again next round.
func (n *Node) merge(states []registry.AppState) registry.MergeStats {
	max := n.opts.MaxInstances
	if max <= 0 {
		return n.reg.Merge(states)
	}
	n.limitMu.Lock()
	defer n.limitMu.Unlock()
	free := max - n.reg.Size()
	for i := range states {
		app := strings.ToUpper(states[i].Name)
		states[i].Instances = slices.DeleteFunc(states[i].Instances, func(is registry.InstanceState) bool {
			return !n.fits(app, is.Instance.ID(), &free)
		})
	}
	return n.reg.Merge(states)
}
