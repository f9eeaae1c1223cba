// Package discovery keeps a local copy of a Eureka registry current and
// picks instances from it, as Eureka's Java DiscoveryClient does, plus
// eurekad's long-poll for changes within milliseconds.
//
// It imports only the standard library and the other sdk packages
// (sdk/client, sdk/eureka).
//
// # Fetching
//
// Run fetches the full registry (GET apps/), then follows apps/delta:
//
//   - Against eurekad, each delta request carries the entity tag of the
//     previous one and a wait (Options.LongPollWait); the server holds it
//     until the delta changes, so a registration elsewhere reaches this
//     cache within milliseconds.
//   - Against a server without long-poll (a Java Eureka server sends no
//     entity tag; eurekad with http.max_long_poll 0 answers 304 at once)
//     the delta is polled every Options.FetchInterval (30 s), as Eureka's
//     client does. The choice is made per answer, so a cache that fails
//     over to another server adapts.
//   - Each delta is merged into a copy of the view (ADDED and MODIFIED
//     upsert, DELETED removes) and Eureka's apps hash code is recomputed
//     over every held instance (all statuses). When it differs from the
//     server's, the delta is dropped and the full registry is fetched
//     again. A delta answered 4xx (deltas disabled) is replaced by a full
//     fetch, as in Eureka.
//   - Failures back off: Options.RetryDelay (1 s), doubling, up to
//     MaxBackoffMultiplier (10) fetch intervals; the view keeps serving
//     the last good data meanwhile.
//
// # Reading
//
// Each fetch builds a new immutable snapshot (the Applications value plus
// indexes by application, VIP and secure VIP) and swaps it in with an
// atomic pointer, so readers never lock and never see a half-applied
// delta. Everything returned is shared with other readers: never modify it.
//
// Instances, InstancesByVIP and InstancesBySecureVIP return UP instances
// only (Eureka's shouldFilterOnlyUpInstances), unless Options.AllStatuses.
// Pick, PickVIP and PickSecureVIP choose among those round robin,
// preferring the instances of Options.Zone (an instance's zone is its
// "zone" metadata, or on Amazon its "availability-zone"; see InstanceZone)
// and falling back to all zones when the own zone has none. They return
// ErrNoInstance when nothing qualifies.
//
// # Regions
//
// Options.RemoteRegions adds Eureka's regions parameter to every fetch,
// so a server with remote regions merges their instances into the view.
// With Options.Region and Options.RegionZones (zone → region, Eureka's
// availabilityZones.<region>) Pick prefers its own zone, then its own
// region (an instance whose zone maps to no region counts as local, as in
// Eureka), then the remote regions; InstanceRegion tells an instance's
// region. Without them the order stays own zone, then any.
//
// # Change notifications
//
// Subscribe returns a channel that receives after each change of the view
// (instances added, removed, or changed in anything but lease timestamps).
// Notifications coalesce and never block the cache: read the view again
// after each receive. Ready waits for the first fetch.
package discovery
