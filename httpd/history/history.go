// Package history keeps, for the admin API and the dashboard, the recent
// changes of each instance: registrations, cancellations, evictions,
// status and metadata changes. A Recorder is a hook.Listener subscribed
// to the event bus, so the registry's own paths do no extra work for it;
// it keeps at most PerInstance changes per instance and MaxEntries in all,
// forgetting first the instances that changed least recently.
//
// It imports only sdk/hook.
package history

import (
	"context"
	"sync"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/hook"
)

// Types are the event types a Recorder keeps: the changes of one instance.
var Types = []hook.EventType{
	hook.EventRegistered, hook.EventCancelled, hook.EventEvicted,
	hook.EventStatusChanged, hook.EventMetadataChanged,
}

// Default bounds.
const (
	DefaultPerInstance = 20
	DefaultMaxEntries  = 50_000
)

// Entry is one change of an instance.
type Entry struct {
	// Seq is the event's sequence number (of the newest one when Repeats
	// is above 0).
	Seq uint64 `json:"seq"`
	// Time is when the change happened (the newest of the repeats).
	Time time.Time `json:"time"`
	// Event is the event type: "registered", "cancelled", "evicted",
	// "status-changed" or "metadata-changed".
	Event string `json:"event"`
	// Status and OverriddenStatus are the instance's after the change (as
	// they stood before, for cancelled and evicted).
	Status           string `json:"status,omitempty"`
	OverriddenStatus string `json:"overriddenStatus,omitempty"`
	// Replicated is true when the change came from a peer.
	Replicated bool `json:"replicated,omitempty"`
	// Health is the instance's failing health check verdict after the
	// change ("down" or "failing", metadata eurekad.health) and HealthDetail
	// what the check saw ("HTTP 500"); empty while it passes.
	Health       string `json:"health,omitempty"`
	HealthDetail string `json:"healthDetail,omitempty"`
	// Repeats counts identical changes folded into this entry (a client
	// that registers again and again with the same status).
	Repeats int `json:"repeats,omitempty"`
}

// Recorder keeps the recent changes of each instance. Its methods are safe
// for concurrent use.
type Recorder struct {
	perInstance, maxEntries int

	mu    sync.Mutex
	byKey map[key]*instance
	// newest and oldest end the list of instances in the order of their
	// last change. The links live in the instances, so recording a change
	// reaches one object per instance, not a list element besides.
	newest, oldest *instance
	total          int // entries held
	// lost counts events the bus dropped before they reached the Recorder.
	lost uint64
}

type key struct{ app, id string }

type instance struct {
	key          key
	newer, older *instance
	entries      []Entry // oldest first
}

// New returns a Recorder keeping at most perInstance changes per instance
// and maxEntries in all; 0 takes the default.
func New(perInstance, maxEntries int) *Recorder {
	if perInstance <= 0 {
		perInstance = DefaultPerInstance
	}
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	maxEntries = max(maxEntries, perInstance)
	return &Recorder{perInstance: perInstance, maxEntries: maxEntries, byKey: map[key]*instance{}}
}

// Handle records a batch of events; it implements hook.Listener.
func (r *Recorder) Handle(_ context.Context, events []hook.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range events {
		r.add(&events[i])
	}
	return nil
}

func (r *Recorder) add(e *hook.Event) {
	if e.Type == hook.EventGap {
		r.lost += e.Dropped
		return
	}
	if e.App == "" {
		return // a server-wide event
	}
	n := Entry{Seq: e.Seq, Time: e.Time, Event: string(e.Type), Replicated: e.Replicated}
	if in := e.Instance; in != nil {
		n.Status, n.OverriddenStatus = string(in.Status), string(in.OverriddenStatus)
		if h := in.Metadata[registry.HealthKey]; h != "" {
			n.Health, n.HealthDetail = h, in.Metadata[registry.HealthDetailKey]
		}
	}
	k := key{e.App, e.InstanceID}
	h := r.byKey[k]
	if h == nil {
		h = &instance{key: k}
		r.byKey[k] = h
	} else {
		r.unlink(h)
	}
	r.pushNewest(h)
	if last := len(h.entries) - 1; last >= 0 {
		if p := &h.entries[last]; p.Event == n.Event && p.Status == n.Status && p.OverriddenStatus == n.OverriddenStatus && p.Replicated == n.Replicated && p.Health == n.Health {
			p.Seq, p.Time = n.Seq, n.Time
			p.Repeats++
			return
		}
	}
	if len(h.entries) == r.perInstance {
		h.entries = append(h.entries[:0], h.entries[1:]...)
		r.total--
	}
	h.entries = append(h.entries, n)
	r.total++
	for r.total > r.maxEntries {
		old := r.oldest
		r.unlink(old)
		delete(r.byKey, old.key)
		r.total -= len(old.entries)
	}
}

// unlink takes h out of the order of changes.
func (r *Recorder) unlink(h *instance) {
	if h.newer != nil {
		h.newer.older = h.older
	} else {
		r.newest = h.older
	}
	if h.older != nil {
		h.older.newer = h.newer
	} else {
		r.oldest = h.newer
	}
	h.newer, h.older = nil, nil
}

// pushNewest puts h, unlinked, first in the order of changes.
func (r *Recorder) pushNewest(h *instance) {
	h.older = r.newest
	if r.newest != nil {
		r.newest.newer = h
	} else {
		r.oldest = h
	}
	r.newest = h
}

// Get returns the recorded changes of an instance, newest first; nil when
// none is known.
func (r *Recorder) Get(app, id string) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.byKey[key{app, id}]
	if h == nil {
		return nil
	}
	out := make([]Entry, len(h.entries))
	for i, e := range h.entries {
		out[len(out)-1-i] = e
	}
	return out
}

// Stats says how much the Recorder holds: instances and entries, and the
// events the bus dropped before they reached it (their changes are missing
// from the history).
type Stats struct {
	Instances int    `json:"instances"`
	Entries   int    `json:"entries"`
	Lost      uint64 `json:"lost"`
}

// Stats returns the Recorder's counts.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{Instances: len(r.byKey), Entries: r.total, Lost: r.lost}
}
