// Package registry is eurekad's registry engine: leases, registration,
// renewal, cancellation, status overrides, metadata updates, the delta queue,
// eviction and self-preservation, with Eureka's semantics
// (docs/protocol.md §6–§7).
//
// It keeps everything in memory and knows nothing of HTTP, storage or
// plugins: it imports only sdk/eureka, sdk/storage and sdk/hook (for the
// events it publishes to Options.Events; see EventSink). Stored *eureka.InstanceInfo values are
// immutable; every change swaps in a modified clone, so readers and the
// response cache share them without locks.
//
// Differences from Eureka, on purpose:
//   - A lease expires its duration after the last renewal. Eureka's renew bug
//     (expiry twice the duration after the last renewal) is kept behind
//     Options.LegacyLeaseExpiry.
//   - Full fetches, app fetches and VIP answers list applications by name and
//     instances by id, so payloads (and their ETags) are stable.
//   - Status overrides belong to an instance: they are keyed by (application,
//     id), where Eureka keys them by id alone and so lets one application's
//     override change another's instance of the same id. Every write that
//     touches an override names both: a client's or peer's request has the
//     application in its path (the heartbeat's overriddenstatus included),
//     a peer batch item carries appName and id, and a registered instance
//     carries its app. So requests from Java peers land on the right
//     instance here. A Java peer still keys what we replicate to it by id;
//     that collision is its own, and GET serverinfo/statusoverrides keeps
//     Eureka's id-keyed shape (see Registry.Overrides).
//   - The delta queue is capped; a client that misses a change reconciles
//     through the hash code, as Eureka clients do.
//
// Time comes from Options.Clock, so tests drive eviction, self-preservation
// and retention with a fake clock.
package registry
