package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// ReplicationHeader marks a request as replicated from a peer server
// (x-netflix-discovery-replication: true): the receiver applies it without
// replicating it again.
const ReplicationHeader = "x-netflix-discovery-replication"

// replicationTrue is set directly in the header map: Eureka servers match
// the name case-insensitively, and Java peers send it lower-case.
var replicationTrue = []string{"true"}

// ReplicateBatch sends items to the server as one POST
// peerreplication/batch/ in Eureka's JSON format (docs/protocol.md §8.4),
// marked with ReplicationHeader, and returns the per-item results in the
// order of items. It is the call a Eureka server makes to its peers; use a
// Client with the one peer's URL, so that fail-over does not send a batch
// meant for one peer to another.
//
// A non-2xx answer for the whole batch is an *Error (a 503 matches
// ErrUnavailable). A response whose list length differs from len(items) is
// an error too: per-item results cannot be matched then, and Java servers
// ignore them in that case.
func (c *Client) ReplicateBatch(ctx context.Context, items []eureka.ReplicationItem) ([]eureka.ReplicationResult, error) {
	body := eureka.AppendReplicationListJSON(nil, items)
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: "peerreplication/batch/", body: body, peer: true})
	if err != nil {
		return nil, err
	}
	res, err := wrapDecode[[]eureka.ReplicationResult](resp)(eureka.DecodeReplicationResponseJSON(resp.body))
	if err != nil {
		return nil, err
	}
	if len(res) != len(items) {
		return nil, fmt.Errorf("eureka client: %s: %d results for %d replication items", resp.url, len(res), len(items))
	}
	return res, nil
}

// PeerCall sends a server-to-server request (JSON, with ReplicationHeader)
// to path below the base URL, such as eurekad's peerreplication/digest,
// and returns the answer's body. A non-2xx answer is an *Error; a Java
// Eureka server answers eurekad-only paths with 404.
func (c *Client) PeerCall(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	resp, err := c.do(ctx, &request{method: method, path: path, body: body, peer: true})
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}
