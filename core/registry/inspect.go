package registry

import (
	"cmp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/internal/counter"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// This file holds the read-only views operators need (the dashboard, the
// admin API and metrics): event counters, lease states and the settings
// behind self-preservation. None of it is on a client's request path except
// the renewal counter, which is striped.

// counters are the registry's event counts since start.
type counters struct {
	registrations atomic.Uint64
	// removals counts every lease removed: cancels and evictions.
	removals  atomic.Uint64
	evictions atomic.Uint64
	renewals  counter.Sharded
}

// Stats are event counts since start, for metrics.
type Stats struct {
	// Registrations counts Register calls (replicated ones included).
	Registrations uint64
	// Cancels counts leases removed by a cancel; Evictions those removed by
	// the eviction task.
	Cancels   uint64
	Evictions uint64
	// Renewals counts successful renewals.
	Renewals uint64
}

// Stats returns the event counts since start.
func (r *Registry) Stats() Stats {
	// Evictions first: an eviction counts as a removal before it counts as
	// an eviction, so Cancels cannot go negative.
	ev := r.stats.evictions.Load()
	return Stats{
		Registrations: r.stats.registrations.Load(),
		Cancels:       r.stats.removals.Load() - ev,
		Evictions:     ev,
		Renewals:      r.stats.renewals.Load(),
	}
}

// LeaseState is one lease as an operator sees it.
type LeaseState struct {
	// Instance is the stored instance, shared with the registry: treat it
	// as read-only. Its LeaseInfo is the registrant's (intervals only); the
	// lease's times are the fields below.
	Instance *eureka.InstanceInfo
	// RegisteredAt, LastRenewal and ServiceUpAt (zero if never UP) are the
	// lease's times. LastRenewal is the real time of the last renewal, also
	// under LegacyLeaseExpiry.
	RegisteredAt, LastRenewal, ServiceUpAt time.Time
	// Duration is the lease duration.
	Duration time.Duration
	// ExpiresAt is when the lease runs out unless renewed.
	ExpiresAt time.Time
	// Expired is true once ExpiresAt has passed. An expired lease stays
	// until an eviction run removes it, which self-preservation may prevent.
	Expired bool
	// Override is the instance's operator status override, "" when there
	// is none.
	Override eureka.Status
}

// Leases returns every lease (expired ones included), sorted by application
// and instance id. It copies no instance.
func (r *Registry) Leases() []LeaseState {
	now := r.nowMs()
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, a := range r.apps {
		n += len(a.leases)
	}
	out := make([]LeaseState, 0, n)
	var ls []*lease
	for _, name := range r.sortedAppNames() {
		ls = ls[:0]
		for _, l := range r.apps[name].leases {
			ls = append(ls, l)
		}
		slices.SortFunc(ls, func(x, y *lease) int { return cmp.Compare(x.id, y.id) })
		for _, l := range ls {
			out = append(out, r.leaseState(l, now))
		}
	}
	return out
}

// Lease returns one lease, expired or not; ok is false when it is unknown.
func (r *Registry) Lease(app, id string) (st LeaseState, ok bool) {
	now := r.nowMs()
	r.mu.RLock()
	defer r.mu.RUnlock()
	l := r.lookup(app, id)
	if l == nil {
		return LeaseState{}, false
	}
	return r.leaseState(l, now), true
}

// leaseState describes l; the caller holds mu.
func (r *Registry) leaseState(l *lease, now int64) LeaseState {
	last := l.lastUpdate.Load()
	renewed := last
	if r.opts.LegacyLeaseExpiry {
		renewed -= l.duration // Eureka stores the renewal time plus the duration
	}
	st := LeaseState{
		Instance:     l.instance.Load(),
		RegisteredAt: time.UnixMilli(l.registration),
		LastRenewal:  time.UnixMilli(renewed),
		Duration:     time.Duration(l.duration) * time.Millisecond,
		ExpiresAt:    time.UnixMilli(last + l.duration),
		Expired:      l.expired(now, 0),
	}
	if up := l.serviceUp.Load(); up > 0 {
		st.ServiceUpAt = time.UnixMilli(up)
	}
	if o := r.overrides[l.key()]; o != nil {
		st.Override = o.status
	}
	return st
}

// Settings returns the options the registry runs with, so operators can see
// how its self-preservation figures are derived.
func (r *Registry) Settings() Options { return r.opts }

// LastEviction returns the start of the last eviction run, zero before the
// first.
func (r *Registry) LastEviction() time.Time {
	r.evictMu.Lock()
	defer r.evictMu.Unlock()
	return r.lastEviction
}

// Counts are the registry's sizes, for metrics.
type Counts struct {
	// Applications counts applications with at least one lease.
	Applications int
	// ByStatus counts leases (expired ones included) by instance status.
	ByStatus map[eureka.Status]int
	// Expired counts leases that ran out and were not evicted yet.
	Expired int
}

// Counts returns the registry's sizes without copying any instance.
func (r *Registry) Counts() Counts {
	now := r.nowMs()
	c := Counts{ByStatus: make(map[eureka.Status]int, 5)}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, a := range r.apps {
		if len(a.leases) > 0 {
			c.Applications++
		}
		for _, l := range a.leases {
			c.ByStatus[l.instance.Load().Status]++
			if l.expired(now, 0) {
				c.Expired++
			}
		}
	}
	return c
}

// OpenedAt returns when OpenForTraffic ended start-up, zero before.
func (r *Registry) OpenedAt() time.Time {
	if ms := r.sp.startup.Load(); ms > 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// Now is the registry's clock: lease times are on it.
func (r *Registry) Now() time.Time { return r.clock.Now() }
