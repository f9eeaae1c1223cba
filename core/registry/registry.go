package registry

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Registry is the in-memory Eureka registry. All methods are safe for
// concurrent use.
//
// Locking: mu guards the app and lease maps and the override map. Mutations
// (register, cancel, status changes) take it exclusively for a few map
// operations; renewals and reads share it. A renewal therefore never waits for
// another renewal, allocates nothing, and only writes atomics on its lease.
type Registry struct {
	opts  Options
	clock Clock
	log   *slog.Logger

	mu sync.RWMutex
	// statuses count the leases by status (eureka.StatusIndex), kept
	// wherever a lease comes, goes or changes status (putLease, dropLease,
	// restate, the renewal's silent override): the delta's hash code reads
	// them instead of counting. Atomic: a renewal applies an override under
	// the read lock.
	statuses [5]atomic.Int64
	apps     map[string]*appEntry
	// overrides are the operator status overrides by (application, id):
	// an override belongs to one instance, so one application's override
	// never applies to another's instance that happens to share its id.
	overrides map[storage.Key]*override

	// version moves on every change a reader can see (not on plain renewals).
	version atomic.Uint64
	// stamps is the modification-stamp clock; tombs are the cancels kept
	// for anti-entropy, guarded by mu (antientropy.go).
	stamps atomic.Int64
	tombs  tombstones

	delta  deltaQueue
	recent recentRings
	sp     selfPreservation
	stats  counters

	evictMu      sync.Mutex
	lastEviction time.Time

	// keys interns metadata keys (compact.go).
	keys keyTable

	// events is Options.Events, nil without listeners; inSelfPreservation
	// is the state last reported to it.
	events             EventSink
	inSelfPreservation atomic.Bool

	// onChange is guarded by mu.
	onChange ChangeFunc
	// changes is closed and replaced at a version bump, waking
	// long-polling readers; only when watched, set by Changes since the
	// last replacement, so a storm of changes nobody waits on between
	// them costs no channel each.
	changes atomic.Pointer[chan struct{}]
	watched atomic.Bool
}

type appEntry struct {
	name   string
	leases map[string]*lease
	// version is the registry version of the app's last change.
	version uint64
	// shapes are the instances new ones share text with (compact.go).
	shapes shapes
}

// putLease makes l the lease of id in a, in place of any other; the
// caller holds mu.
func (r *Registry) putLease(a *appEntry, id string, l *lease) {
	if old := a.leases[id]; old != nil {
		r.counted(old.instance.Load().Status, -1)
	}
	a.leases[id] = l
	r.counted(l.instance.Load().Status, 1)
}

// dropLease takes id's lease out of a; the caller holds mu.
func (r *Registry) dropLease(a *appEntry, id string) {
	if old := a.leases[id]; old != nil {
		r.counted(old.instance.Load().Status, -1)
		delete(a.leases, id)
	}
}

// restate makes c the instance of the registered lease l; the caller
// holds mu.
func (r *Registry) restate(l *lease, c *eureka.InstanceInfo) {
	r.counted(l.instance.Load().Status, -1)
	r.counted(c.Status, 1)
	l.instance.Store(c)
}

// counted moves the count of status s among the leases by n.
func (r *Registry) counted(s eureka.Status, n int64) { r.statuses[eureka.StatusIndex(s)].Add(n) }

// hashCode returns the whole registry's hash code (Eureka's
// apps__hashcode) from the kept counts.
func (r *Registry) hashCode() string {
	var c eureka.StatusCounts
	for i := range r.statuses {
		c.AddIndex(uint8(i), int(r.statuses[i].Load()))
	}
	return c.HashCode()
}

// override is an operator status override (docs/protocol.md §7). It is
// keyed by (application, id) where Eureka keys it by id alone; see
// doc.go for how that meets Java peers.
type override struct {
	status     eureka.Status
	lastAccess atomic.Int64
}

func newOverride(st eureka.Status, now int64) *override {
	o := &override{status: st}
	o.lastAccess.Store(now)
	return o
}

// New returns an empty registry. A nil opts means DefaultOptions.
func New(opts *Options) *Registry {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = SystemClock
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.ExpectedClientRenewalInterval <= 0 {
		o.ExpectedClientRenewalInterval = 30 * time.Second
	}
	r := &Registry{
		opts:      o,
		clock:     o.Clock,
		log:       o.Logger,
		events:    o.Events,
		apps:      make(map[string]*appEntry),
		overrides: make(map[storage.Key]*override),
	}
	r.tombs.init()
	ch := make(chan struct{})
	r.changes.Store(&ch)
	now := r.clock.Now()
	r.sp.init(&r.opts, now)
	r.sp.setExpected(o.ExpectedNumberOfClientsSendingRenews)
	return r
}

func (r *Registry) nowMs() int64 { return r.clock.Now().UnixMilli() }

// Version returns the registry version: it increases on every change that
// readers can see. Plain renewals do not move it.
func (r *Registry) Version() uint64 { return r.version.Load() }

// AppVersion returns the version of the last change to the named
// (upper-case) application, 0 if it was never registered.
func (r *Registry) AppVersion(app string) uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if a := r.apps[app]; a != nil {
		return a.version
	}
	return 0
}

// bump records a visible change to app; the caller holds mu exclusively.
func (r *Registry) bump(a *appEntry) {
	a.version = r.version.Add(1)
	r.wakeReaders()
}

// wakeReaders closes the channel Changes handed out and installs a new one,
// if Changes handed it out. The swap is atomic, so each channel is closed
// exactly once.
//
// No wake-up is lost: Changes takes the channel before it sets watched, so
// a reader that took a channel is either woken by the next call that
// finds watched set, which closes the current channel (that one, or a
// later one when that one was closed already), or it set watched after
// this call cleared it, and then reads this change's version, which is
// bumped before.
func (r *Registry) wakeReaders() {
	if !r.watched.Swap(false) {
		return
	}
	next := make(chan struct{})
	close(*r.changes.Swap(&next))
}

// Changes returns a channel that is closed at the next visible change.
// A reader takes it before reading the state it waits to see change.
func (r *Registry) Changes() <-chan struct{} {
	ch := *r.changes.Load()
	r.watched.Store(true)
	return ch
}

// Register stores in as a new lease, replacing any lease with the same id
// (Eureka's register, §6.2). The registry takes ownership of in; the caller
// must not modify it afterwards. A zero LastDirtyTimestamp is taken as now.
func (r *Registry) Register(in *eureka.InstanceInfo, replication bool) {
	r.registerAs(in, replication, hook.EventRegistered, 0)
}

// RegisterCopy registers, as a replication, a peer's copy of an instance
// taken from its registry listing (the start-up sync). Its stamp is the
// copy's lastDirtyTimestamp (at most now), not now: the copy is an old
// change, and a cancel or override made elsewhere since (a tombstone, a
// later stamp) must stay the later change when anti-entropy compares, or
// a node that missed a cancel would bring the instance back through the
// node that synced from it.
func (r *Registry) RegisterCopy(in *eureka.InstanceInfo) {
	stamp := min(in.LastDirtyTimestamp, r.nowMs())
	r.registerAs(in, true, hook.EventRegistered, max(stamp, 1))
}

// registerAs is Register reporting the change as typ: a metadata update is
// a registration in Eureka, but a metadata change to listeners. stamp is
// the lease's stamp, 0 for a new one.
func (r *Registry) registerAs(in *eureka.InstanceInfo, replication bool, typ hook.EventType, stamp int64) {
	now := r.nowMs()
	// A shallow copy: register compacts it into maps and blocks of its
	// own (compact.go), so a deep one would be thrown away at once.
	c := *in
	in = &c
	in.App = strings.ToUpper(in.App)
	if in.LastDirtyTimestamp == 0 {
		in.LastDirtyTimestamp = now
	}
	if in.OverriddenStatus == "" {
		in.OverriddenStatus = eureka.StatusUnknown
	}
	if in.Status == "" {
		in.Status = eureka.StatusUp
	}
	// Only a server's own instance is the coordinating one; a registrant's
	// claim is ignored, as Eureka recomputes it on output.
	in.IsCoordinatingDiscoveryServer = false
	id := in.ID()
	isNew, stored := r.register(in, id, replication, now, typ, stamp)
	if !stored {
		return
	}
	r.stats.registrations.Add(1)
	r.recent.addRegistered(now, in.App, in.ID()) // the compacted id
	if isNew {
		r.sp.adjustExpected(+1)
	}
}

func (r *Registry) register(in *eureka.InstanceInfo, id string, replication bool, now int64, typ hook.EventType, stamp int64) (isNew, stored bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := storage.Key{App: in.App, ID: id}
	if replication && r.tombs.covers(k, in.LastDirtyTimestamp) {
		// A peer's copy of an instance cancelled here: the same
		// incarnation (its lastDirtyTimestamp is no newer), resent by a
		// node that missed the cancel. It must not come back.
		r.log.Debug("refused a cancelled instance from a peer", "app", in.App, "id", id)
		return false, false
	}
	a := r.apps[in.App]
	if a == nil {
		// A copy: the name would otherwise keep its first request's text.
		a = &appEntry{name: strings.Clone(in.App), leases: make(map[string]*lease)}
		r.apps[in.App] = a
	}
	existing := a.leases[id]
	if existing != nil {
		if cur := existing.instance.Load(); cur.LastDirtyTimestamp > in.LastDirtyTimestamp {
			r.log.Debug("kept the newer registered copy", "app", in.App, "id", id,
				"existing_dirty", cur.LastDirtyTimestamp, "incoming_dirty", in.LastDirtyTimestamp)
			in = cur.Clone()
			if !replication {
				in.Status = underlying(cur) // the health verdict is applied again below
			}
		}
	}
	var prev *eureka.InstanceInfo
	if existing != nil {
		prev = existing.instance.Load()
	}
	r.compact(a, in, prev)
	id = in.ID() // the compacted copy: the decoded one's arena is let go
	l := newLease(in, id, now)
	if stamp == 0 {
		stamp = r.tick()
	}
	l.stamp.Store(stamp)
	r.tombs.remove(k)
	if existing != nil {
		l.serviceUp.Store(existing.serviceUp.Load())
	}
	if in.OverriddenStatus != eureka.StatusUnknown {
		if _, ok := r.overrides[k]; !ok {
			r.overrides[k] = newOverride(in.OverriddenStatus, now)
		}
	}
	if o := r.overrides[k]; o != nil {
		in.OverriddenStatus = o.status
	}
	in.Status = r.resolveStatus(in, k, existing, replication, now)
	if !replication {
		r.keepHealth(in, k, existing)
	}
	if in.Status == eureka.StatusUp {
		l.markServiceUp(now)
	}
	in.ActionType = eureka.ActionAdded
	if replication && existing != nil && typ == hook.EventRegistered {
		typ = healthChange(existing.instance.Load(), in, typ)
	}
	in.LastUpdatedTimestamp = now
	r.putLease(a, id, l)
	r.delta.add(l, now)
	r.bump(a)
	r.changed(in.App, id)
	r.emit(typ, l, in, replication, now)
	return existing == nil, true
}

// resolveStatus is Eureka's override rule chain (§7.1): a client reporting
// itself DOWN/STARTING/UNKNOWN wins; then an operator override; then (for
// non-replicated requests) the status the existing lease already holds;
// then the instance's own status. k is the instance's (application, id):
// only its own override applies. The caller holds mu.
func (r *Registry) resolveStatus(in *eureka.InstanceInfo, k storage.Key, existing *lease, replication bool, now int64) eureka.Status {
	if in.Status != eureka.StatusUp && in.Status != eureka.StatusOutOfService {
		return in.Status
	}
	if o := r.overrides[k]; o != nil {
		if o.lastAccess.Load() != now {
			o.lastAccess.Store(now)
		}
		return o.status
	}
	if !replication && existing != nil {
		if s := existing.instance.Load().Status; s == eureka.StatusUp || s == eureka.StatusOutOfService {
			return s
		}
	}
	return in.Status
}

// RenewArgs are the optional parts of a renewal (§2.3).
type RenewArgs struct {
	// LastDirtyTimestamp is the client's lastDirtyTimestamp; 0 means absent.
	LastDirtyTimestamp int64
	// OverriddenStatus is a peer's override (the overriddenstatus query
	// parameter); "" means absent.
	OverriddenStatus eureka.Status
	// Replication marks a request from a peer.
	Replication bool
}

// RenewResult is the outcome of a renewal.
type RenewResult int

const (
	// RenewOK means the lease was renewed (HTTP 200).
	RenewOK RenewResult = iota
	// RenewNotFound asks the client to register again (HTTP 404): the lease
	// is missing, its status resolves to UNKNOWN, or the client's copy is
	// newer than the server's.
	RenewNotFound
	// RenewConflict tells a peer that this server's copy is newer (HTTP 409
	// with the instance).
	RenewConflict
)

// Renew renews a lease (Eureka's renew plus the lastDirtyTimestamp
// reconciliation of InstanceResource). For RenewConflict it also returns the
// stored instance to send back.
func (r *Registry) Renew(app, id string, args RenewArgs) (RenewResult, *eureka.InstanceInfo) {
	now := r.nowMs()
	r.mu.RLock()
	l := r.lookup(app, id)
	if l == nil {
		r.mu.RUnlock()
		return RenewNotFound, nil
	}
	in := l.instance.Load()
	// A two-string struct key hashes in place: the lookup allocates nothing.
	st := r.resolveStatus(in, l.key(), l, args.Replication, now)
	if st == eureka.StatusUnknown {
		r.mu.RUnlock()
		return RenewNotFound, nil
	}
	if st != in.Status {
		// Eureka applies the override silently here: no delta entry and no
		// version change (quirk 8); readers see it on the next rebuild.
		c := in.Clone()
		c.Status = st
		if l.instance.CompareAndSwap(in, c) {
			r.counted(in.Status, -1)
			r.counted(st, 1)
			l.stamp.Store(r.tick())
			r.emit(hook.EventStatusChanged, l, c, args.Replication, now)
		}
		in = c
	}
	r.sp.countRenewal(now)
	r.stats.renewals.Inc()
	l.renew(now, r.opts.LegacyLeaseExpiry)
	if r.events != nil && r.events.WantsRenewals() {
		r.emit(hook.EventRenewed, l, in, args.Replication, now)
	}
	r.mu.RUnlock()

	if args.LastDirtyTimestamp == 0 || !r.opts.SyncWhenTimestampDiffers {
		return RenewOK, nil
	}
	if l.expired(now, 0) && r.LeaseExpirationEnabled() {
		return RenewOK, nil
	}
	stored := in.LastDirtyTimestamp
	switch {
	case args.LastDirtyTimestamp > stored:
		if args.Replication && args.OverriddenStatus != "" && args.OverriddenStatus != eureka.StatusUnknown {
			r.storeOverride(l, args.OverriddenStatus, now)
		}
		return RenewNotFound, nil
	case args.LastDirtyTimestamp < stored && args.Replication:
		return RenewConflict, l.decorated()
	}
	return RenewOK, nil
}

// storeOverride keeps a peer's override for l and notes it on the instance,
// silently as Eureka does: the status follows on the next renewal.
func (r *Registry) storeOverride(l *lease, st eureka.Status, now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.overrides[l.key()] = newOverride(st, now)
	c := l.instance.Load().Clone()
	c.OverriddenStatus = st
	l.instance.Store(c)
	l.stamp.Store(r.tick())
	r.changed(l.app, l.id)
}

// lookup finds a lease; the caller holds mu.
func (r *Registry) lookup(app, id string) *lease {
	a := r.apps[app]
	if a == nil {
		return nil
	}
	return a.leases[id]
}

// Cancel removes a lease (§6.3) and reports whether it existed.
func (r *Registry) Cancel(app, id string, replication bool) bool {
	return r.cancel(app, id, r.nowMs(), hook.EventCancelled, replication)
}

// cancel removes a lease, reporting it as typ (cancelled or evicted). The
// instance's override goes too, even when the lease is unknown, as in
// Eureka; only this application's, so a cancel of an unknown instance
// cannot clear another application's override of the same id.
func (r *Registry) cancel(app, id string, now int64, typ hook.EventType, replication bool) bool {
	return r.cancelStamped(app, id, now, typ, replication, 0)
}

// cancelStamped is cancel whose tombstone takes stamp (0: a new one).
func (r *Registry) cancelStamped(app, id string, now int64, typ hook.EventType, replication bool, stamp int64) bool {
	r.recent.addCanceled(now, app, id)
	r.mu.Lock()
	k := storage.Key{App: app, ID: id}
	delete(r.overrides, k)
	a := r.apps[app]
	var l *lease
	if a != nil {
		l = a.leases[id]
	}
	if typ == hook.EventCancelled {
		// A cancel, not an eviction (each node evicts on its own), leaves
		// a tombstone so that a node that missed it cannot bring the
		// instance back.
		var dirty int64
		if l != nil {
			dirty = l.instance.Load().LastDirtyTimestamp
		}
		if stamp == 0 {
			stamp = r.tick()
		}
		r.tombs.add(k, stamp, dirty, now, &r.opts)
	}
	if l == nil {
		r.mu.Unlock()
		return false
	}
	r.dropLease(a, id)
	l.cancel(now)
	before := l.instance.Load()
	c := before.Clone()
	c.ActionType = eureka.ActionDeleted
	c.LastUpdatedTimestamp = now
	l.instance.Store(c)
	r.delta.add(l, now)
	r.bump(a)
	r.changed(app, id)
	r.emit(typ, l, before, replication, now)
	r.mu.Unlock()
	r.sp.adjustExpected(-1)
	r.stats.removals.Add(1)
	return true
}

// liveLease finds a lease that has not expired (when expiration is
// enabled), as Eureka's getInstanceByAppAndId does; the caller holds mu.
func (r *Registry) liveLease(app, id string, now int64) *lease {
	l := r.lookup(app, id)
	if l == nil {
		return nil
	}
	if l.expired(now, 0) && r.LeaseExpirationEnabled() {
		return nil
	}
	return l
}

// SetStatus sets an operator status override (PUT …/status, §7.2) and
// reports whether the instance exists. lastDirty is the request's
// lastDirtyTimestamp, 0 if absent.
func (r *Registry) SetStatus(app, id string, st eureka.Status, lastDirty int64, replication bool) bool {
	now := r.nowMs()
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.liveLease(app, id, now)
	if l == nil {
		return false
	}
	l.renew(now, r.opts.LegacyLeaseExpiry)
	in := l.instance.Load()
	if in.Status == st {
		return true
	}
	if st == eureka.StatusUp {
		l.markServiceUp(now)
	}
	r.overrides[l.key()] = newOverride(st, now)
	r.modify(l, st, st, lastDirty, now, replication)
	return true
}

// modify publishes a status change of l: a MODIFIED clone with the new
// status and override, lastDirty raised to the request's, a delta entry and
// a version bump. The caller holds mu exclusively.
func (r *Registry) modify(l *lease, status, overridden eureka.Status, lastDirty, now int64, replication bool) {
	c := l.instance.Load().Clone()
	c.OverriddenStatus = overridden
	c.Status = status
	c.LastDirtyTimestamp = max(c.LastDirtyTimestamp, lastDirty)
	c.ActionType = eureka.ActionModified
	c.LastUpdatedTimestamp = now
	r.restate(l, c)
	l.stamp.Store(r.tick())
	r.delta.add(l, now)
	r.bump(r.apps[l.app])
	r.changed(l.app, l.id)
	r.emit(hook.EventStatusChanged, l, c, replication, now)
}

// DeleteStatusOverride removes an operator override (DELETE …/status,
// §7.3); the instance's status becomes st (UNKNOWN when the request named
// none). It reports whether the instance exists.
func (r *Registry) DeleteStatusOverride(app, id string, st eureka.Status, lastDirty int64, replication bool) bool {
	now := r.nowMs()
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.liveLease(app, id, now)
	if l == nil {
		return false
	}
	l.renew(now, r.opts.LegacyLeaseExpiry)
	k := l.key()
	if _, ok := r.overrides[k]; !ok {
		return true
	}
	delete(r.overrides, k)
	r.modify(l, st, eureka.StatusUnknown, lastDirty, now, replication)
	return true
}

// UpdateMetadata merges kv into the instance's metadata and registers the
// result again as a local registration, as Eureka does (§2.6). It reports
// whether the instance exists.
func (r *Registry) UpdateMetadata(app, id string, kv map[string]string) bool {
	now := r.nowMs()
	r.mu.RLock()
	l := r.liveLease(app, id, now)
	var in *eureka.InstanceInfo
	if l != nil {
		in = l.instance.Load()
	}
	r.mu.RUnlock()
	if in == nil {
		return false
	}
	c := in.Clone()
	c.Status = underlying(in) // the health verdict is applied again
	if c.Metadata == nil {
		c.Metadata = make(map[string]string, len(kv))
	}
	for k, v := range kv {
		c.Metadata[k] = v
	}
	r.registerAs(c, false, hook.EventMetadataChanged, 0)
	return true
}

// Overrides returns the status overrides by instance id alone, the shape
// of Eureka's GET serverinfo/statusoverrides (§2.16). When instances of
// several applications share an id and each has an override, the one of
// the application whose name sorts first wins, so the answer does not
// depend on map order. Internal callers use InstanceOverrides or Override,
// which lose nothing.
func (r *Registry) Overrides() map[string]eureka.Status {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := make(map[string]eureka.Status, len(r.overrides))
	winner := make(map[string]string, len(r.overrides))
	for k, o := range r.overrides {
		if app, ok := winner[k.ID]; ok && app < k.App {
			continue
		}
		winner[k.ID] = k.App
		m[k.ID] = o.status
	}
	return m
}

// InstanceOverrides returns a copy of the status overrides by (application,
// id).
func (r *Registry) InstanceOverrides() map[storage.Key]eureka.Status {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := make(map[storage.Key]eureka.Status, len(r.overrides))
	for k, o := range r.overrides {
		m[k] = o.status
	}
	return m
}

// Override returns the status override of the (upper-case) application's
// instance id, "" when it has none. It does not count as a use for expiry.
func (r *Registry) Override(app, id string) eureka.Status {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if o := r.overrides[storage.Key{App: app, ID: id}]; o != nil {
		return o.status
	}
	return ""
}

// expireOverrides drops overrides nobody used for OverrideExpiry.
func (r *Registry) expireOverrides(now int64) {
	limit := now - r.opts.OverrideExpiry.Milliseconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, o := range r.overrides {
		if o.lastAccess.Load() < limit {
			delete(r.overrides, k)
			// The stored record carries the override; rewrite it.
			if r.lookup(k.App, k.ID) != nil {
				r.changed(k.App, k.ID)
			}
		}
	}
}

// Size returns the number of leases, expired or not.
func (r *Registry) Size() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, a := range r.apps {
		n += len(a.leases)
	}
	return n
}
