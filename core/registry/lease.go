package registry

import (
	"sync/atomic"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
)

// lease is one registration: the registrant's InstanceInfo plus the server's
// bookkeeping. The instance pointer is swapped, never mutated, so readers can
// hold on to what they loaded. Timestamps are epoch milliseconds.
type lease struct {
	app string
	id  string

	instance atomic.Pointer[eureka.InstanceInfo]

	registration int64
	duration     int64 // ms
	// lastUpdate is the last renewal time; in legacy mode it is the renewal
	// time plus the duration, as Eureka's Lease.renew stores it.
	lastUpdate atomic.Int64
	eviction   atomic.Int64
	serviceUp  atomic.Int64
	// stamp is the server-side modification stamp of the last visible
	// change (Registry.tick): what anti-entropy compares (antientropy.go).
	stamp atomic.Int64
}

func newLease(in *eureka.InstanceInfo, id string, now int64) *lease {
	l := &lease{app: in.App, id: id, registration: now}
	d := int64(eureka.DefaultDurationInSecs)
	if in.LeaseInfo != nil && in.LeaseInfo.DurationInSecs > 0 {
		d = int64(in.LeaseInfo.DurationInSecs)
	}
	l.duration = d * 1000
	l.lastUpdate.Store(now)
	l.instance.Store(in)
	return l
}

// key is the lease's (application, id), the key of its override and of its
// stored record.
func (l *lease) key() storage.Key { return storage.Key{App: l.app, ID: l.id} }

func (l *lease) renew(now int64, legacy bool) {
	if legacy {
		now += l.duration
	}
	l.lastUpdate.Store(now)
}

// expired reports whether the lease ran out by now, allowing extra ms of
// compensation for a late eviction run. A cancelled lease is always expired.
func (l *lease) expired(now, extra int64) bool {
	return l.eviction.Load() > 0 || now > l.lastUpdate.Load()+l.duration+extra
}

func (l *lease) cancel(now int64) {
	l.eviction.CompareAndSwap(0, now)
}

func (l *lease) markServiceUp(now int64) {
	l.serviceUp.CompareAndSwap(0, now)
}

// leaseTimes are a lease's timestamps at one moment, what decorate
// writes into an instance's lease block.
type leaseTimes struct {
	registration, lastUpdate, eviction, serviceUp int64
}

func (l *lease) times() leaseTimes {
	return leaseTimes{
		registration: l.registration,
		lastUpdate:   l.lastUpdate.Load(),
		eviction:     l.eviction.Load(),
		serviceUp:    l.serviceUp.Load(),
	}
}

// decorate returns a copy of the current instance carrying the lease's
// timestamps, as Eureka writes instances out. dst receives the copy so that
// callers building many can allocate them in one slice.
func (l *lease) decorate(dst *eureka.InstanceInfo, li *eureka.LeaseInfo) *eureka.InstanceInfo {
	return l.times().decorate(dst, li, l.instance.Load())
}

func (l *lease) decorated() *eureka.InstanceInfo {
	return l.times().decorated(l.instance.Load())
}

// decorate copies in into dst with the lease block li carrying t.
func (t leaseTimes) decorate(dst *eureka.InstanceInfo, li *eureka.LeaseInfo, in *eureka.InstanceInfo) *eureka.InstanceInfo {
	*dst = *in
	li.RenewalIntervalInSecs = eureka.DefaultRenewalIntervalInSecs
	li.DurationInSecs = eureka.DefaultDurationInSecs
	if in.LeaseInfo != nil {
		li.RenewalIntervalInSecs = in.LeaseInfo.RenewalIntervalInSecs
		li.DurationInSecs = in.LeaseInfo.DurationInSecs
	}
	li.RegistrationTimestamp = t.registration
	li.LastRenewalTimestamp = t.lastUpdate
	li.EvictionTimestamp = t.eviction
	li.ServiceUpTimestamp = t.serviceUp
	dst.LeaseInfo = li
	return dst
}

// decorated is decorate into one new allocation.
func (t leaseTimes) decorated(in *eureka.InstanceInfo) *eureka.InstanceInfo {
	c := new(struct {
		in eureka.InstanceInfo
		li eureka.LeaseInfo
	})
	return t.decorate(&c.in, &c.li, in)
}
