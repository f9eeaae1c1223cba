package registry

import (
	"sync"
	"sync/atomic"
	"time"
)

// selfPreservation holds Eureka's renewal accounting (§6.5): the expected
// number of renewing clients E, the per-minute threshold derived from it, and
// a meter of renewals in fixed one-minute buckets.
type selfPreservation struct {
	opts *Options

	mu       sync.Mutex
	expected int
	// threshold is read on every eviction check and status request.
	threshold atomic.Int64

	meterStart int64 // ms; buckets are whole minutes from here
	bucket     atomic.Pointer[renewBucket]
	rotateMu   sync.Mutex

	startup       atomic.Int64 // ms of OpenForTraffic, 0 before
	transferEmpty atomic.Bool
}

// renewBucket counts the renewals of one minute and remembers the count of
// the minute before it.
type renewBucket struct {
	minute int64
	count  atomic.Int64
	prev   int64
}

func (s *selfPreservation) init(o *Options, now time.Time) {
	s.opts = o
	s.meterStart = now.UnixMilli()
	s.bucket.Store(&renewBucket{})
	s.transferEmpty.Store(true)
}

func (s *selfPreservation) minute(now int64) int64 {
	return (now - s.meterStart) / 60000
}

// countRenewal adds one renewal to the current minute. It allocates only
// when a new minute starts.
func (s *selfPreservation) countRenewal(now int64) {
	m := s.minute(now)
	b := s.bucket.Load()
	if b.minute != m {
		b = s.rotate(m)
	}
	b.count.Add(1)
}

func (s *selfPreservation) rotate(m int64) *renewBucket {
	s.rotateMu.Lock()
	defer s.rotateMu.Unlock()
	b := s.bucket.Load()
	if b.minute >= m {
		return b
	}
	nb := &renewBucket{minute: m}
	if b.minute == m-1 {
		nb.prev = b.count.Load()
	}
	s.bucket.Store(nb)
	return nb
}

// renewsLastMin is the count of the previous complete minute.
func (s *selfPreservation) renewsLastMin(now int64) int64 {
	m := s.minute(now)
	b := s.bucket.Load()
	switch b.minute {
	case m:
		return b.prev
	case m - 1:
		return b.count.Load()
	}
	return 0
}

func (s *selfPreservation) setExpected(n int) {
	s.mu.Lock()
	s.expected = n
	s.recompute()
	s.mu.Unlock()
}

// adjustExpected moves E by delta for a new registration or a cancel, only
// while E is positive, as Eureka does.
func (s *selfPreservation) adjustExpected(delta int) {
	s.mu.Lock()
	if s.expected > 0 {
		s.expected += delta
		s.recompute()
	}
	s.mu.Unlock()
}

// recompute derives the threshold from E; the caller holds mu.
func (s *selfPreservation) recompute() {
	perMin := 60 / s.opts.ExpectedClientRenewalInterval.Seconds()
	s.threshold.Store(int64(float64(s.expected) * perMin * s.opts.RenewalPercentThreshold))
}

// OpenForTraffic ends start-up: count is the number of instances synced from
// peers or storage. A zero count is replaced by DefaultOpenForTrafficCount
// (Spring Cloud); if it stays zero, reads are gated for WaitTimeWhenSyncEmpty.
func (r *Registry) OpenForTraffic(count int) {
	if count == 0 {
		count = r.opts.DefaultOpenForTrafficCount
	}
	r.sp.setExpected(count)
	if count > 0 {
		r.sp.transferEmpty.Store(false)
	}
	r.sp.startup.Store(r.nowMs())
	r.evictMu.Lock()
	r.lastEviction = time.Time{}
	r.evictMu.Unlock()
}

// ShouldAllowAccess reports whether gated reads (full, delta, app and VIP
// fetches) are served: false only for WaitTimeWhenSyncEmpty after a start
// that synced nothing.
func (r *Registry) ShouldAllowAccess() bool {
	if !r.sp.transferEmpty.Load() {
		return true
	}
	start := r.sp.startup.Load()
	return r.nowMs() > start+r.opts.WaitTimeWhenSyncEmpty.Milliseconds()
}

// LeaseExpirationEnabled reports whether expired leases are evicted: always
// with self-preservation off, otherwise only while the renewals of the last
// minute exceed the threshold.
func (r *Registry) LeaseExpirationEnabled() bool {
	if !r.opts.EnableSelfPreservation {
		return true
	}
	t := r.sp.threshold.Load()
	return t > 0 && r.sp.renewsLastMin(r.nowMs()) > t
}

// updateRenewalThreshold is Eureka's periodic recount: E follows the
// registry size only upwards (or above the percent threshold), unless
// self-preservation is off.
func (r *Registry) updateRenewalThreshold() {
	count := r.Size()
	s := &r.sp
	s.mu.Lock()
	defer s.mu.Unlock()
	if float64(count) > r.opts.RenewalPercentThreshold*float64(s.expected) || !r.opts.EnableSelfPreservation {
		s.expected = count
		s.recompute()
	}
}

// SelfPreservation is the state behind Eureka's self-preservation decision.
type SelfPreservation struct {
	// Enabled is the enableSelfPreservation setting.
	Enabled bool
	// ExpectedClients is E, the number of clients expected to renew.
	ExpectedClients int
	// Threshold is the renewals per minute below which eviction stops.
	Threshold int64
	// RenewsLastMinute counts renewals in the previous complete minute.
	RenewsLastMinute int64
	// LeaseExpirationEnabled is true while expired leases are evicted.
	LeaseExpirationEnabled bool
	// BelowThreshold is the dashboard's warning condition: renewals at or
	// under the threshold once the start-up wait is over.
	BelowThreshold bool
}

// SelfPreservationState returns the current self-preservation figures.
func (r *Registry) SelfPreservationState() SelfPreservation {
	now := r.nowMs()
	r.sp.mu.Lock()
	e := r.sp.expected
	r.sp.mu.Unlock()
	st := SelfPreservation{
		Enabled:          r.opts.EnableSelfPreservation,
		ExpectedClients:  e,
		Threshold:        r.sp.threshold.Load(),
		RenewsLastMinute: r.sp.renewsLastMin(now),
	}
	st.LeaseExpirationEnabled = r.LeaseExpirationEnabled()
	start := r.sp.startup.Load()
	st.BelowThreshold = st.RenewsLastMinute <= st.Threshold && start > 0 &&
		now > start+r.opts.WaitTimeWhenSyncEmpty.Milliseconds()
	return st
}
