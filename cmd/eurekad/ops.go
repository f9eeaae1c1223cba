package main

import (
	"net/url"

	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/httpd"
	"github.com/eurekad/eurekad/plugins"
	"github.com/eurekad/eurekad/plugins/auth/guard"
)

// The admin API, /metrics and GET status see the subsystems through
// httpd's status types; these adapters are the only place that knows
// both sides.

// peerStatuses reports the replication peers.
func peerStatuses(cl *replication.Cluster) func() []httpd.PeerStatus {
	return func() []httpd.PeerStatus {
		peers := cl.Peers()
		if len(peers) == 0 {
			return nil
		}
		out := make([]httpd.PeerStatus, len(peers))
		for i, p := range peers {
			name := p.URL
			if u, err := url.Parse(p.URL); err == nil && u.Host != "" {
				name = u.Host
			}
			out[i] = httpd.PeerStatus{
				Name: name, URL: p.URL, Up: p.Available, QueueLength: p.QueueLength, Lag: p.Lag,
				// Failed counts failed requests (probes included);
				// changes lost for good, rejected ones included, are
				// Dropped.
				Sent: p.Sent, Failed: p.Failed, Dropped: p.Dropped + p.Expired + p.Rejected, LastError: p.LastError,
				LastFailure: p.LastFailure, LastFailureTime: p.LastFailureTime, LastSuccess: p.LastSuccess,
				AntiEntropy: p.AntiEntropy, RepairRounds: p.RepairRounds, RepairRequests: p.RepairRequests,
				Repaired: map[string]uint64{
					"pulled_instance": p.Pulled.Instances, "pulled_cancel": p.Pulled.Cancels,
					"pushed_instance": p.Pushed.Instances, "pushed_cancel": p.Pushed.Cancels,
				},
				LastRepair: p.LastRepair,
			}
		}
		return out
	}
}

// pluginStatuses reports the loaded plugins, built-ins run in process
// included.
func pluginStatuses(ps *pluginSet) func() []httpd.PluginStatus {
	return func() []httpd.PluginStatus {
		st := ps.Stats()
		if len(st) == 0 {
			return nil
		}
		out := make([]httpd.PluginStatus, len(st))
		for i, p := range st {
			out[i] = httpd.PluginStatus{
				Name: p.Name, Kind: string(p.Kind), External: p.Mode != plugins.ModeInProcess,
				Running: p.State == plugins.StateRunning, Restarts: p.Restarts, LastError: p.LastError,
				BatchPipe: p.BatchPipe,
			}
		}
		return out
	}
}

// authDecisions reports the decisions of the authenticator behind the
// guard (cache hits are not decisions).
func authDecisions(g *guard.Guard) func() []httpd.AuthDecisions {
	return func() []httpd.AuthDecisions {
		st := g.Stats()
		return []httpd.AuthDecisions{{Op: "all", Allowed: st.Allowed, Denied: st.Unauthenticated + st.Forbidden, Throttled: st.Throttled}}
	}
}

// historySubscriber is the admin API's history on the event bus; it is
// eurekad's own, not a listener plugin, so listenerStatuses leaves it out.
const historySubscriber = "eurekad-history"

// listenerStatuses reports each listener plugin's deliveries.
func listenerStatuses(bus *events.Bus) func() []httpd.ListenerStatus {
	return func() []httpd.ListenerStatus {
		st := bus.Stats()
		out := make([]httpd.ListenerStatus, 0, len(st))
		for _, l := range st {
			if l.Name == historySubscriber {
				continue
			}
			out = append(out, httpd.ListenerStatus{Name: l.Name, Delivered: l.Delivered, Dropped: l.Dropped, QueueLength: l.Queued})
		}
		return out
	}
}
