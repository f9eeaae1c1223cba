// Package registry is eurekad's registry engine: leases, registration,
// renewal, cancellation, status overrides, metadata updates, the delta queue,
// eviction and self-preservation, with Eureka's semantics
// (eureka-protocol.md §6–§7).
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
//   - The delta queue is capped; a client that misses a change reconciles
//     through the hash code, as Eureka clients do.
//
// Time comes from Options.Clock, so tests drive eviction, self-preservation
// and retention with a fake clock.
package registry
