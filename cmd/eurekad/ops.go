package main

import (
	"net/url"

	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/httpd"
)

// The admin API and /metrics see the subsystems through httpd's status
// types; these adapters are the only place that knows both sides.

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
				Sent: p.Sent, Failed: p.Failed, Dropped: p.Dropped + p.Expired, LastError: p.LastError,
			}
		}
		return out
	}
}
