// Package agent keeps one service instance registered with a Eureka
// server, as Eureka's Java DiscoveryClient does for the application it runs
// in.
//
// It imports only the standard library and the other sdk packages
// (sdk/client, sdk/eureka).
//
// # Lifecycle
//
// New copies the instance; Run does the work and blocks until its context
// ends:
//
//  1. Register (POST apps/{APP}) at once.
//  2. Renew the lease (PUT apps/{APP}/{id}?lastDirtyTimestamp=…) every
//     renewal interval: Options.RenewalInterval, else the instance's
//     LeaseInfo.RenewalIntervalInSecs, else 30 s.
//  3. A renewal answered 404 means the server does not know the instance
//     (it restarted without storage, evicted it, an operator deleted it, or
//     the local copy is newer than the server's): register again at once.
//  4. On failure, back off like Eureka's TimedSupervisorTask: each failed
//     heartbeat doubles the wait before the next one, up to
//     MaxBackoffMultiplier (10) renewal intervals; a success resets it to
//     one interval. With a 30 s interval the waits after consecutive
//     failures are 60 s, 120 s, 240 s, 300 s, 300 s…
//  5. When the context ends, deregister (DELETE apps/{APP}/{id}) with a
//     short timeout of its own and return.
//
// # Local changes
//
// SetStatus and SetMetadata change the local instance, bump its
// lastDirtyTimestamp and push it by registering it again, as Java's
// InstanceInfoReplicator does: bursts are rate-limited (two at once, then
// one every 15 s by default) and coalesced into one push of the latest
// state. A push that fails is retried by the next heartbeat, which
// registers instead of renewing while the local copy is newer than what
// the server accepted. Renewals carry the lastDirtyTimestamp, so a server
// holding an older copy answers 404 and gets the new one too.
//
// OUT_OF_SERVICE is the exception: a Eureka server keeps a registered UP
// instance UP when it registers again as OUT_OF_SERVICE, so the agent also
// sets a status override (PUT apps/{APP}/{id}/status) and lifts it (DELETE
// with the new status) when the instance leaves OUT_OF_SERVICE, as Spring
// Cloud's service registry endpoint does.
//
// # Time
//
// Options.Clock is the only source of time for the heartbeat, back-off and
// rate-limit timers, so tests can drive an Agent with a fake clock.
package agent
