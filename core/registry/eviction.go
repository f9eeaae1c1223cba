package registry

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/eurekad/eurekad/sdk/hook"
)

// evict is one run of Eureka's eviction task (§6.6). It returns the number
// of leases it cancelled.
func (r *Registry) evict() int {
	now := r.clock.Now()
	// Compensation: a run that starts late (GC pause, timer drift) treats
	// leases as expired that much later, so they are not evicted early.
	r.evictMu.Lock()
	var extra int64
	if !r.lastEviction.IsZero() {
		extra = max(0, (now.Sub(r.lastEviction) - r.opts.EvictionInterval).Milliseconds())
	}
	r.lastEviction = now
	r.evictMu.Unlock()

	enabled := r.LeaseExpirationEnabled()
	r.noteSelfPreservation(!enabled)
	if !enabled {
		return 0
	}
	nowMs := now.UnixMilli()
	var expired []*lease
	size := 0
	r.mu.RLock()
	for _, a := range r.apps {
		size += len(a.leases)
		for _, l := range a.leases {
			if l.expired(nowMs, extra) {
				expired = append(expired, l)
			}
		}
	}
	r.mu.RUnlock()

	// At most 1 - renewalPercentThreshold of the registry goes per run, so a
	// network split cannot empty it in one sweep.
	limit := size - int(float64(size)*r.opts.RenewalPercentThreshold)
	n := min(len(expired), limit)
	if n <= 0 {
		return 0
	}
	if n < len(expired) {
		r.log.Warn("eviction capped", "expired", len(expired), "limit", limit)
	}
	// A partial Fisher-Yates shuffle picks n at random, spreading a large
	// eviction across applications.
	for i := 0; i < n; i++ {
		j := i + rand.IntN(len(expired)-i)
		expired[i], expired[j] = expired[j], expired[i]
		l := expired[i]
		if r.cancel(l.app, l.id, nowMs, hook.EventEvicted, false) {
			r.stats.evictions.Add(1)
			r.log.Info("evicted", "app", l.app, "id", l.id)
		}
	}
	return n
}

// Run performs the registry's periodic work until ctx ends: eviction,
// delta-queue retention, the renewal-threshold recount and override expiry.
func (r *Registry) Run(ctx context.Context) error {
	evict := time.NewTicker(r.opts.EvictionInterval)
	sweep := time.NewTicker(r.opts.DeltaRetentionSweepInterval)
	recount := time.NewTicker(r.opts.RenewalThresholdUpdateInterval)
	overrides := time.NewTicker(time.Minute)
	defer evict.Stop()
	defer sweep.Stop()
	defer recount.Stop()
	defer overrides.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-evict.C:
			r.evict()
		case <-sweep.C:
			r.sweepDelta()
		case <-recount.C:
			r.updateRenewalThreshold()
		case <-overrides.C:
			r.expireOverrides(r.nowMs())
		}
	}
}

func (r *Registry) sweepDelta() {
	r.delta.sweep(r.nowMs() - r.opts.DeltaRetention.Milliseconds())
}
