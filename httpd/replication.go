package httpd

import (
	"errors"
	"net/http"
	"strings"

	"github.com/eurekad/eurekad/core/registry"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// replicationBatch is POST peerreplication/batch (§2.13, §8.4): every item
// is applied by core/node as a replicated request and answered in a
// responseList of the same length and order. A body that is not a
// replicationList gets 400 with {"error":…}; the items are then not
// applied.
func (s *Server) replicationBatch(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r, s.opts.MaxBodyBytes)
	if errors.Is(err, errBodyTooLarge) {
		textError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	var items []eureka.ReplicationItem
	if err == nil {
		items, err = eureka.DecodeReplicationListJSON(body)
	}
	if err != nil {
		s.log.Debug("unparseable replication batch", "err", err)
		parseError(w, bodyJSON, err)
		return
	}
	results, err := s.node.ApplyBatch(r.Context(), caller(r), items)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b := eureka.AppendReplicationResponseJSON(make([]byte, 0, 64+20*len(results)), results)
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// peerDigest is GET peerreplication/digest, eurekad's anti-entropy
// (core/replication/doc.go): a hash per application over what readers
// see of its live instances. Java Eureka has no such route (it answers
// 404), which is how a eurekad peer tells it apart.
func (s *Server) peerDigest(w http.ResponseWriter, r *http.Request) {
	if f := s.opts.Ops.Syncing; f != nil && f() {
		w.Header().Set("Retry-After", "5")
		textError(w, http.StatusServiceUnavailable, "start-up sync in progress")
		return
	}
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(http.StatusOK)
	w.Write(registry.EncodeDigest(s.reg.Digest()))
}

// peerExchange is POST peerreplication/exchange: the body is the peer's
// state of the applications whose digests differ; this node merges it
// (core/node's Merge: the later stamp wins) and answers with its own
// state of the same applications after the merge, and what it changed,
// so one request repairs both sides.
func (s *Server) peerExchange(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r, s.opts.MaxBodyBytes)
	if errors.Is(err, errBodyTooLarge) {
		textError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	var x registry.Exchange
	if err == nil {
		x, err = registry.DecodeExchange(body)
	}
	if err != nil {
		parseError(w, bodyJSON, err)
		return
	}
	m, err := s.node.Merge(r.Context(), x.Apps)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	names := make([]string, 0, len(x.Apps))
	for _, a := range x.Apps {
		if !a.Part { // a piece of a large application: its last piece draws the answer
			names = append(names, strings.ToUpper(a.Name))
		}
	}
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(http.StatusOK)
	w.Write(registry.EncodeExchange(registry.Exchange{Apps: s.reg.PeerStates(names), MergeStats: m}))
}
