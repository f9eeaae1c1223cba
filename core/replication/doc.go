// Package replication keeps a cluster of Eureka servers in step, the way
// Eureka's PeerEurekaNodes does (docs/protocol.md §8): every node takes
// writes and forwards the successful, non-replicated ones to each peer in
// batches through POST peerreplication/batch, in Eureka's own JSON, so a
// cluster can mix eurekad and Java Eureka servers.
//
// # Sending
//
// A Cluster holds one Peer per peer URL (its own URL is recognised and left
// out). Replicate enqueues a task on every peer; a task names an action, an
// application and an instance id, and its id (action, app, id) deduplicates:
// a newer task replaces a pending one in place, so only the latest
// heartbeat of an instance is ever waiting. A peer's queue is bounded
// (Options.QueueSize; overflow drops the oldest task and counts it), tasks
// expire after Options.TaskExpiry. Each peer has one batch of at most
// Options.BatchSize tasks in flight at a time. A change to an idle peer
// leaves at once; changes queued while a batch is in flight, or less than
// Options.BatchInterval after it left, leave together in the next one
// (group commit). So a lone change reaches an idle peer within a round
// trip instead of after Eureka's 500 ms (Options.MaxBatchDelay brings that
// wait back), batches grow with the load, and a busy pipe makes a bounded
// number of requests. The instance data is read from the registry when
// the batch is built, so a batch always carries the current copy.
//
// A 503 or a timeout is congestion and an I/O error is transient: the
// batch goes back to the front of the queue (behind nothing newer) and the
// peer backs off, doubling up to Options.MaxBackoff. A 413 (the peer's body
// limit) re-queues the batch and halves the batch size until batches pass.
// Any other failure drops the batch (counted as Rejected). Every failed
// request, probes included, counts in PeerStats.Failed and sets LastError,
// which the next success clears (LastFailure keeps it with its time). Per
// item, a heartbeat's 404 enqueues a Register for that peer, and a 409
// carrying the peer's newer copy is adopted locally as a replication, with
// its override (registry.AdoptPeerCopy).
//
// Replicated requests are never replicated again (only httpd's handlers
// call Replicate, and only for requests without the replication header),
// and evictions are never replicated: each node evicts on its own.
//
// # Receiving
//
// Apply runs a received batch against the registry item by item, as
// individual requests with the replication header would (§8.4), and
// returns the responseList entries.
//
// # Start-up
//
// Sync fetches the full registry from the peers (GET apps) and registers,
// as replications, the instances this node lacks or holds an older copy
// of. eurekad calls it after restoring from its store and without gating
// reads, as Spring Cloud does.
package replication
