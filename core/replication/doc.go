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
// Replicated requests are never replicated again (only core/node's write
// methods call Replicate, and only for writes without the replication
// header), and evictions are never replicated: each node evicts on its own.
//
// # Receiving
//
// A received batch is core/node's ApplyBatch: item by item, as individual
// requests with the replication header would run (§8.4), through the same
// input rules as a client's, answered with the responseList entries.
//
// # Anti-entropy
//
// Replication loses what a peer misses for longer than TaskExpiry, and
// Eureka's repairs (heartbeats carrying overrides, the start-up sync)
// cover only changes that move lastDirtyTimestamp: an override set or
// removed, a metadata edit or a cancel made while a peer was away never
// reaches it. So each node also compares its registry with each eurekad
// peer (antientropy.go): GET peerreplication/digest gives a hash per
// application over what readers see (ids, statuses, overrides, metadata,
// lastDirtyTimestamp, addresses; lease times are left out, they differ by
// nature), and POST peerreplication/exchange carries this node's state of
// the differing applications (instances with their override and stamp,
// and tombstones) to the peer, which merges it and answers with its own
// state after the merge, which this node merges. One exchange thus
// repairs both sides; neither side pushes through the replication queue,
// whose Java-shaped tasks carry no stamps and cannot remove a metadata
// key or carry a cancel's age. A round runs every AntiEntropyInterval,
// when the peer answers again after failing, when tasks for it were lost
// or this process stalled (SIGSTOP) (these two at most every 5 s), and
// after the start-up sync. It
// makes one digest request and one exchange per 500 instances and
// tombstones of the differing applications (a larger application is sent
// in pieces, the peer answering its state once, for the last), so a long
// outage of a large registry repairs in a handful of requests, each far
// below a peer's body limit. Repairs go through core/node (Merger): stored, in the delta
// and the events, never replicated again.
//
// The rule that decides which side is newer (registry.Merge): every
// visible change (register, status override, its removal, metadata,
// cancel, a status a renewal resolves) gives the instance a modification
// stamp, epoch milliseconds, strictly increasing per node and raised past
// every stamp adopted from a peer; it is stored with the record. For an
// instance whose content differs, the later stamp wins (equal stamps: the
// higher content hash, so both sides agree); an adopted copy keeps the
// peer's stamp, override (or its absence) and status. A cancel leaves a
// tombstone (application, id, stamp, the cancelled copy's
// lastDirtyTimestamp) for registry Options.TombstoneRetention, at most
// TombstoneLimit of them: a copy older than a tombstone stays cancelled,
// a local copy older than a peer's tombstone is cancelled, and a
// replicated registration of the cancelled incarnation (lastDirtyTimestamp
// no newer, as a peer that missed the cancel sends after a heartbeat's
// 404) is refused. A registration after the cancel is newer and wins.
// Evictions leave no tombstone: a peer that still holds the instance live
// gives it back, as its heartbeats would.
//
// Limits: stamps are wall-clock based, so two edits of one instance on two
// sides of a partition less than the clock skew apart may resolve to the
// earlier one (an edit made after seeing the other always wins). A
// tombstone older than the retention is forgotten, so an outage longer
// than that can bring a cancelled instance back until it is evicted.
// Tombstones are kept in memory: a node restarted after a cancel relies
// on a peer that still holds it. A Java peer answers the digest 404: it is
// marked (PeerStats.AntiEntropy false, asked again once it comes back
// after failing) and gets what Java offers: replication, heartbeat
// override repair and the start-up sync.
//
// # Start-up
//
// Sync fetches the full registry from the peers (GET apps) and registers,
// as replications, the instances this node lacks or holds an older copy
// of, each stamped with its lastDirtyTimestamp rather than now: a copy from
// a peer that missed a cancel must stay older than the tombstone another
// peer keeps. eurekad calls it after restoring from its store and without gating
// reads, as Spring Cloud does; an anti-entropy round with every peer
// follows.
package replication
