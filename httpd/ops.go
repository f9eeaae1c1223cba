package httpd

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eurekad/eurekad/httpd/history"
)

// The status of subsystems that live outside httpd (replication, the plugin
// runtime, the auth hook and the listener bus) reaches the admin API,
// /metrics and (peers) GET status through these small sources, so httpd
// imports none of them.
// cmd/eurekad adapts each subsystem's Stats to one of them; a nil source
// means the subsystem is not configured.

// PeerStatus is one replication peer as operators see it.
type PeerStatus struct {
	// Name is the peer's host; URL its service URL without credentials.
	Name string `json:"name"`
	URL  string `json:"url"`
	// Up is true while the last replication to the peer succeeded.
	Up bool `json:"up"`
	// QueueLength is the number of changes waiting to be sent.
	QueueLength int `json:"queueLength"`
	// Lag is the age of the oldest change not yet acknowledged.
	Lag time.Duration `json:"lagNs"`
	// Sent counts replicated changes since start; Failed counts failed
	// requests to the peer (batches and probes, refused connections
	// included).
	Sent   uint64 `json:"sent"`
	Failed uint64 `json:"failed"`
	// Dropped counts changes never sent: pushed out of a full queue or
	// expired.
	Dropped uint64 `json:"dropped"`
	// LastError is the error of the last exchange, "" once one succeeded.
	LastError string `json:"lastError,omitempty"`
	// LastFailure and LastFailureTime are the last error and when it
	// happened, kept after the peer recovers.
	LastFailure     string    `json:"lastFailure,omitempty"`
	LastFailureTime time.Time `json:"lastFailureTime,omitzero"`
	// AntiEntropy is false for a peer without anti-entropy (Java
	// Eureka). RepairRounds and RepairRequests count its rounds and their
	// requests; Repaired counts what they changed by kind
	// (pulled_instance, pulled_cancel: here; pushed_*: on the peer);
	// LastRepair is when one last changed something.
	AntiEntropy    bool              `json:"antiEntropy"`
	RepairRounds   uint64            `json:"repairRounds"`
	RepairRequests uint64            `json:"repairRequests"`
	Repaired       map[string]uint64 `json:"repaired,omitempty"`
	LastRepair     time.Time         `json:"lastRepair,omitzero"`
	// LastSuccess is when the peer last answered (zero: never).
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
}

// PluginStatus is one loaded plugin.
type PluginStatus struct {
	Name string `json:"name"`
	// Kind is the plugin kind: "storage", "auth" or "listener".
	Kind string `json:"kind"`
	// External is true for a plugin running as a subprocess.
	External bool `json:"external"`
	Running  bool `json:"running"`
	// Restarts counts restarts after a crash since start.
	Restarts  uint64 `json:"restarts"`
	LastError string `json:"lastError,omitempty"`
	// BatchPipe is true while a store plugin process takes its batches on
	// the batch pipe rather than over gRPC.
	BatchPipe bool `json:"batchPipe,omitempty"`
}

// AuthDecisions counts authentication decisions by operation and outcome.
type AuthDecisions struct {
	// Op is the operation asked for ("read", "write", "admin", …).
	Op string `json:"op"`
	// Allowed and Denied count the decisions since start.
	Allowed uint64 `json:"allowed"`
	Denied  uint64 `json:"denied"`
	// Throttled counts requests refused unasked (429) after too many
	// failures from their address.
	Throttled uint64 `json:"throttled"`
}

// ListenerStatus is one event listener's delivery record.
type ListenerStatus struct {
	Name string `json:"name"`
	// Delivered and Dropped count events since start; Dropped are those
	// lost to a full queue.
	Delivered   uint64 `json:"delivered"`
	Dropped     uint64 `json:"dropped"`
	QueueLength int    `json:"queueLength"`
}

// OpsSources are the optional status sources; each func is called on every
// admin API read and metrics scrape (Peers also on GET status), from any
// goroutine, and must not block.
type OpsSources struct {
	Peers     func() []PeerStatus
	Plugins   func() []PluginStatus
	Auth      func() []AuthDecisions
	Listeners func() []ListenerStatus
	// History returns an instance's recent changes, newest first.
	History func(app, id string) []history.Entry
	// Collectors are more metrics served at /metrics (the health checks').
	Collectors []prometheus.Collector
	// Syncing reports that the start-up sync is copying the peers'
	// registries in: a peer's anti-entropy digest is refused meanwhile,
	// as this half-filled registry would make it push everything.
	Syncing func() bool
}
