package httpd

import (
	"errors"
	"net/http"

	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// replicate hands a successful local write to the replicator, if any.
func (s *Server) replicate(a eureka.ReplicationAction, app, id string) {
	if s.opts.Replicator != nil {
		s.opts.Replicator.Replicate(a, app, id)
	}
}

// replicationBatch is POST peerreplication/batch (§2.13, §8.4): every item
// is applied as a replicated request and answered in a responseList of the
// same length and order. A body that is not a replicationList gets 400
// with {"error":…}; the items are then not applied.
func (s *Server) replicationBatch(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r, s.opts.MaxBodyBytes)
	ws := s.beginWrite() // after the body, as in register
	defer ws.end()
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
	if !s.admit(w) {
		return
	}
	results := replication.Apply(s.reg, items)
	if !s.commit(w, r, &ws) {
		return
	}
	b := eureka.AppendReplicationResponseJSON(make([]byte, 0, 64+20*len(results)), results)
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
