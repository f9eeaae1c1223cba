// Package redis is the Redis store of eurekad: a storage.Store (with
// storage.Batcher and storage.Snapshotter) over github.com/redis/go-redis/v9,
// working against a single server, a Sentinel-managed master or a Redis
// Cluster through the driver's universal client.
//
// It imports the store contract (sdk/storage) and the driver only, never
// eurekad's core. The driver is imported as goredis so that this package can
// keep the name redis.
//
// # Connecting
//
// Options selects the deployment:
//
//   - A single server: URL, a redis:// or rediss:// (TLS) URL parsed by the
//     driver (redis://user:password@host:6379/0?dial_timeout=3s, with any of
//     the driver's query parameters), or unix:///path/redis.sock. Or Addrs
//     with exactly one address (plus Username, Password, DB, TLS).
//   - Sentinel: Addrs lists the sentinels and MasterName names the master;
//     Username/Password authenticate against the master, SentinelUsername
//     and SentinelPassword against the sentinels. Writes follow the master
//     through fail-overs.
//   - Cluster: Addrs lists two or more seed nodes, or one seed with Cluster
//     set. DB must be 0.
//
// With neither URL nor Addrs the store connects to 127.0.0.1:6379. Open
// pings the deployment and fails with a clear error when it is unreachable;
// later the driver reconnects on its own, so a store survives a restart or
// fail-over of Redis without being reopened. Meanwhile calls fail promptly:
// a refused connection at once, a hung server after ReadTimeout, each
// command retried MaxRetries times (default once); a context deadline
// shortens every timeout. The driver writes a few lines of its own (failed
// dials) through its process-wide logger, which this package leaves alone.
//
// # Data layout
//
// Every key starts with KeyPrefix (default "eurekad:") followed by a Redis
// Cluster hash tag made of the prefix without its trailing colon (a prefix
// of just ":" keeps it). With the default prefix:
//
//	eurekad:{eurekad}:apps          set   application names that have records
//	eurekad:{eurekad}:app:ORDERS    hash  instance id -> record
//
// A record is stored as the hash field's value: 8 bytes of Record.Updated
// (big-endian, two's complement) followed by Record.Value, unchanged. A value
// shorter than 8 bytes is reported as ErrCorrupt.
//
// Scan of every record reads the apps set and walks each application's hash
// with HSCAN, so it never runs KEYS or SCAN over the whole keyspace, and
// several registries with different prefixes share one Redis (or one
// database) without seeing each other. Redis ACLs can confine a registry to
// its prefix (~eurekad:*).
//
// The hash tag puts all of one registry's keys into a single Cluster slot.
// That is deliberate: it is what lets one MULTI/EXEC (a Batch) and one Lua
// script (a Delete) touch an application's hash and the apps set together,
// which Redis Cluster refuses across slots (CROSSSLOT). So batches are atomic
// and the apps set is exact on Cluster exactly as on a single server. The
// price is that a registry does not spread over the cluster's nodes; a
// registry is small (100,000 instances of 1 KB are about 100 MB), and
// registries with different prefixes usually land on different slots. A
// prefix may therefore not contain braces. (Tagging each application's
// hash separately, as in <prefix>app:{ORDERS}, would spread the load but
// makes every Batch and Delete fail with CROSSSLOT on a cluster.)
//
// # Keeping the apps set exact
//
// The invariant is: an application is in the apps set if and only if its
// hash has at least one field. Put adds the field and the set member in one
// MULTI/EXEC. Delete runs a Lua script that removes the field and, if the
// hash is now empty (Redis then deletes the key), removes the set member, in
// one atomic step. Batch queues its puts and deletes in one MULTI/EXEC and
// ends it with that same clean-up script for every application it deleted
// from. No reader can ever observe a record whose application is missing
// from the set. Should the set hold a stale name anyway (someone deleted a
// hash by hand, or Redis evicted it), Scan tolerates it: the hash scans as
// empty.
//
// # Consistency of reads
//
// Scan follows the storage contract: a record that exists for the whole
// scan is seen exactly once, records written meanwhile may or may not be
// seen. (HSCAN may return an element twice when a hash is resized between
// pages; Scan remembers the ids of a multi-page hash and never passes one
// twice.) No connection is held while fn runs, so fn may call
// the store.
//
// Snapshot (storage.Snapshotter) is a true point-in-time read. Redis has
// no cheap consistent read across keys, so Snapshot pays for it: it reads
// the apps set and every application's hash (HGETALL) in one MULTI/EXEC,
// which Redis executes without interleaving any other client's command, and
// checks that the set read inside the transaction names no application it
// did not read (one created in between); if so it tries again with the new
// set, and after three tries falls back to a Lua script that reads the set
// and the hashes in one step. The price, measured with 100,000 records of
// 1 KB on a shared 2-core machine: the transaction keeps Redis from serving
// anyone else for about 0.2 s (Redis's latency monitor: 170–260 ms; the
// script 0.6–1.1 s), the whole call takes about 0.4 s, and the client holds
// the whole store in memory (about 230 MB allocated) before fn is first
// called. It is meant for backups, not for a hot path. The whole reply must
// arrive within ReadTimeout (the driver sets one deadline for a
// transaction's replies), so raise ReadTimeout for stores much larger than
// that.
//
// # Durability
//
// A write returns once Redis has executed it. Whether it survives a crash of
// Redis depends on the server's persistence: run Redis with appendonly yes
// and appendfsync always for eurekad's sync durability to mean "survives
// kill -9 of Redis too" (everysec loses up to a second). Use a noeviction
// maxmemory policy: an evicted registry key is lost data.
//
// # Errors
//
// Errors are wrapped with the operation and key, as in
// "redis: put ORDERS/i-1: dial tcp 127.0.0.1:6379: connect: connection
// refused", and match storage.ErrNotFound (a missing record),
// storage.ErrClosed (after Close; the driver's own "client is closed" never
// leaks) and the context's error when the context ended.
package redis
