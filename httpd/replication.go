package httpd

import (
	"errors"
	"net/http"

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
