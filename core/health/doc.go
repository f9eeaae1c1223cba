// Package health runs eurekad's server-side health checks: it probes the
// instances that opted in, through a hook.Checker, and turns the verdicts
// into status changes through core/node's write path (node.SetHealth), so
// a failing instance becomes DOWN the way a status change does: a delta
// entry, a status-changed event, replication, the dashboard.
//
// # Opting in
//
// An instance is checked when a rule of Options.Rules names its
// application (health.checks in eurekad's configuration) or, with
// Options.Metadata, when it registers with metadata eurekad.check set to a
// kind (http, tcp, grpc or a checker plugin's own), tuned by
// eurekad.check.path, .port, .interval, .timeout, .failures, .successes,
// .expect ("200-299"), .deregister_after and .param.NAME. A rule wins over
// the metadata. Intervals, timeouts and thresholds are bounded by the
// server's minimums (Options.MinInterval, MinDeregisterAfter), so a
// registrant cannot make the server probe faster than it allows.
//
// # What is probed
//
// Only the instance's own address: its ipAddr (or hostName without one)
// with the rule's or metadata's port and path, or its healthCheckUrl when
// that URL's host is the instance's ipAddr or hostName. A healthCheckUrl
// naming another host, and link-local, multicast or unspecified addresses
// (169.254.169.254, the cloud metadata service, among them), are refused
// without a probe and counted as "refused": a registration cannot make the
// server probe an arbitrary host. The built-in checker follows no redirect.
// (An admission hook that pins ipAddr to the caller's address, as
// examples/admission-plugin does, closes the rest: a registrant claiming
// another machine's address.)
//
// # Verdicts
//
// Failures consecutive failing probes mark an instance failing: an UP
// instance without an operator's override becomes DOWN. Successes
// consecutive passing probes lift it: the DOWN the checker set becomes UP.
// An operator's override always wins and is never undone, and a status the
// client reports itself (STARTING, DOWN) is respected (registry.SetHealth).
// With DeregisterAfter, an instance failing that long is cancelled. A
// checker's error, a checker that does not answer within the probe's
// timeout plus a grace, and a checker plugin that is down are undecided:
// they change nothing, not even the counts. eurekad never marks an
// instance DOWN because its own checker is broken.
//
// # Cluster
//
// The verdict rides in the instance (metadata eurekad.health, see
// registry.HealthKey) and replicates with it, so every eurekad node agrees
// and a node that takes over the probing of an instance knows a DOWN was
// the checker's and lifts it once the instance passes: a prober's failover
// leaves no stale DOWN. Java peers see plain status changes (and the
// metadata); a eurekad peer publishes the replicated verdict as a status
// change with a MODIFIED delta entry, as the prober did. Each instance is
// probed by one node at a time: the node that
// ranks highest for (app, id) by rendezvous hashing over this node and the
// peers it currently reaches (Membership). When a node dies, its peers
// stop reaching it and its share spreads over them; while views differ,
// two nodes may probe the same instance, which costs a probe and changes
// nothing (the writes are idempotent).
//
// # Cost
//
// One scheduling goroutine and Options.Concurrency workers, whatever the
// number of instances: each target sits in a heap by due time, its first
// probe spread over one interval by a hash of its key. The registry is read
// in proportion to what changed: the instances with a delta entry since the
// last read (at most every 500 ms), and whole applications only when the
// delta queue cannot say (a restore, a loop that fell behind its window).
// Without rules and checks by metadata nothing is read.
package health
