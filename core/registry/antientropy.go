package registry

import (
	"slices"
	"strconv"
	"strings"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Anti-entropy support: modification stamps, tombstones, per-application
// digests, and the merge of a peer's state by the rule "the later stamp
// wins" (core/replication/doc.go tells the whole rule and its limits).
//
// A stamp is epoch milliseconds from tick: never below the wall clock,
// strictly increasing on this node, and raised past every stamp adopted
// from a peer (observe), so a change made here after seeing a peer's
// change is always the later one.

// tick returns a new stamp.
func (r *Registry) tick() int64 {
	now := r.nowMs()
	for {
		last := r.stamps.Load()
		next := max(last+1, now)
		if r.stamps.CompareAndSwap(last, next) {
			return next
		}
	}
}

// observe raises the stamp clock to s.
func (r *Registry) observe(s int64) {
	for {
		last := r.stamps.Load()
		if last >= s || r.stamps.CompareAndSwap(last, s) {
			return
		}
	}
}

// tombstone is a cancel kept for a while: its stamp, the cancelled copy's
// lastDirtyTimestamp, and when it was made here (for retention).
type tombstone struct {
	stamp, dirty, at int64
}

// tombstones are the cancels of the last Options.TombstoneRetention, at
// most Options.TombstoneLimit of them; order lists keys oldest first
// (entries whose tombstone was replaced or removed are skipped when met).
// Guarded by Registry.mu.
type tombstones struct {
	m     map[storage.Key]tombstone
	order []tombKey
}

type tombKey struct {
	k  storage.Key
	at int64
}

func (t *tombstones) init() { t.m = make(map[storage.Key]tombstone) }

// covers reports whether a peer's copy with lastDirtyTimestamp dirty is
// the incarnation a tombstone cancelled (or an older one).
func (t *tombstones) covers(k storage.Key, dirty int64) bool {
	ts, ok := t.m[k]
	return ok && ts.dirty > 0 && dirty <= ts.dirty
}

func (t *tombstones) remove(k storage.Key) {
	if len(t.m) > 0 {
		delete(t.m, k)
	}
}

// add records a cancel, keeping the later of two stamps, and drops what
// is past retention or over the limit.
func (t *tombstones) add(k storage.Key, stamp, dirty, now int64, o *Options) {
	if cur, ok := t.m[k]; ok && cur.stamp >= stamp {
		return
	}
	t.m[k] = tombstone{stamp: stamp, dirty: dirty, at: now}
	t.order = append(t.order, tombKey{k, now})
	t.prune(now, o)
}

// prune drops tombstones older than the retention, and the oldest ones
// beyond the limit.
func (t *tombstones) prune(now int64, o *Options) {
	limit := now - o.TombstoneRetention.Milliseconds()
	i := 0
	for ; i < len(t.order); i++ {
		e := t.order[i]
		cur, ok := t.m[e.k]
		if ok && cur.at != e.at {
			continue // replaced: a later entry holds it
		}
		if ok && e.at >= limit && len(t.m) <= o.TombstoneLimit {
			break
		}
		delete(t.m, e.k)
	}
	if i > 0 {
		t.order = slices.Delete(t.order, 0, i)
	}
	if len(t.order) > 2*len(t.m)+64 {
		// Compact entries whose tombstone went away through remove.
		t.order = slices.DeleteFunc(t.order, func(e tombKey) bool {
			cur, ok := t.m[e.k]
			return !ok || cur.at != e.at
		})
	}
}

// Tombstones returns how many cancels are kept for anti-entropy.
func (r *Registry) Tombstones() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.tombs.m)
}

// InstanceState is one instance as anti-entropy exchanges it: the stored
// copy, its operator override ("" for none) and its stamp.
type InstanceState struct {
	Instance *eureka.InstanceInfo
	Override eureka.Status
	Stamp    int64
}

// Tombstone is a cancel as anti-entropy exchanges it.
type Tombstone struct {
	ID string
	// Stamp is the cancel's stamp; Dirty the cancelled copy's
	// lastDirtyTimestamp (0: unknown).
	Stamp, Dirty int64
}

// AppState is one application's live instances and tombstones.
type AppState struct {
	Name       string
	Instances  []InstanceState
	Tombstones []Tombstone
	// Part marks a piece of an application too large for one exchange
	// request: the receiver merges it and answers nothing for it; the
	// application's last piece (Part false) draws its whole state.
	Part bool
}

// fnv64 is FNV-1a, written out so hashing an instance allocates nothing
// but the sorted metadata keys.
type fnv64 uint64

func newFNV() fnv64 { return 14695981039346656037 }

func (h fnv64) str(s string) fnv64 {
	for i := 0; i < len(s); i++ {
		h ^= fnv64(s[i])
		h *= 1099511628211
	}
	// A separator, so ("ab","c") and ("a","bc") differ.
	h ^= 0xff
	h *= 1099511628211
	return h
}

func (h fnv64) num(n int64) fnv64 {
	var b [20]byte
	return h.str(string(strconv.AppendInt(b[:0], n, 10)))
}

// contentHash hashes what readers see of an instance and what
// replication reconciles: id, status, override, lastDirtyTimestamp,
// addresses, VIPs and metadata. Lease times are left out: they differ
// from node to node by nature.
func contentHash(in *eureka.InstanceInfo, override eureka.Status) uint64 {
	h := newFNV().str(in.ID()).str(string(in.Status)).str(string(override)).num(in.LastDirtyTimestamp).
		str(in.HostName).str(in.IPAddr).num(int64(in.Port.Number)).num(int64(in.SecurePort.Number)).
		str(in.VIPAddress).str(in.SecureVIPAddress)
	if len(in.Metadata) > 0 {
		keys := make([]string, 0, len(in.Metadata))
		for k := range in.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			h = h.str(k).str(in.Metadata[k])
		}
	}
	return uint64(h)
}

// overrideOf is l's override, "" for none; the caller holds mu.
func (r *Registry) overrideOf(l *lease) eureka.Status {
	if o := r.overrides[l.key()]; o != nil {
		return o.status
	}
	return ""
}

// Digest returns, per application with live instances, a hash over what
// readers see of them (contentHash, by id). Expired leases are left out:
// each node evicts on its own. Two nodes with equal digests serve the same
// instances, statuses, overrides and metadata.
func (r *Registry) Digest() map[string]uint64 {
	now := r.nowMs()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]uint64, len(r.apps))
	ids := make([]string, 0, 64)
	for name, a := range r.apps {
		ids = ids[:0]
		for id, l := range a.leases {
			if !l.expired(now, 0) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		slices.Sort(ids)
		h := newFNV()
		for _, id := range ids {
			l := a.leases[id]
			h = h.num(int64(contentHash(l.instance.Load(), r.overrideOf(l))))
		}
		out[name] = uint64(h)
	}
	return out
}

// PeerStates returns the live instances and tombstones of the named
// (upper-case) applications, in the order asked; an unknown application
// comes back empty.
func (r *Registry) PeerStates(names []string) []AppState {
	now := r.nowMs()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]AppState, len(names))
	want := make(map[string]int, len(names))
	for i, n := range names {
		out[i].Name = n
		want[n] = i
		if a := r.apps[n]; a != nil {
			for _, l := range a.leases {
				if l.expired(now, 0) {
					continue
				}
				out[i].Instances = append(out[i].Instances, InstanceState{
					Instance: l.instance.Load(), Override: r.overrideOf(l), Stamp: l.stamp.Load()})
			}
		}
	}
	for k, t := range r.tombs.m {
		if i, ok := want[k.App]; ok {
			out[i].Tombstones = append(out[i].Tombstones, Tombstone{ID: k.ID, Stamp: t.stamp, Dirty: t.dirty})
		}
	}
	return out
}

// MergeStats counts what a Merge changed.
type MergeStats struct {
	// Adopted counts instances taken from the peer (new, or newer there);
	// Cancelled counts instances cancelled by the peer's newer tombstone.
	Adopted, Cancelled int
}

// Merge applies a peer's state: for every instance or tombstone, the
// side with the later stamp wins (equal stamps: the higher content hash,
// so both sides pick the same). An instance whose content is the same on
// both sides is left alone, whatever its stamps. A peer instance older
// than a tombstone here stays cancelled; a local instance older than the
// peer's tombstone is cancelled. Adopted copies take the peer's stamp,
// override (or its absence) and status exactly, as replications: they
// enter the delta, the store (via the change func) and the events, and
// are not replicated again. What this node has and the peer lacks is left
// alone: the peer takes it from this node's answer.
func (r *Registry) Merge(states []AppState) MergeStats {
	var st MergeStats
	for i := range states {
		s := &states[i]
		app := strings.ToUpper(s.Name)
		for _, is := range s.Instances {
			in := is.Instance
			if in == nil || in.ID() == "" || !strings.EqualFold(in.App, app) {
				continue
			}
			if r.adopt(app, is) {
				st.Adopted++
			}
		}
		for _, t := range s.Tombstones {
			if r.bury(app, t) {
				st.Cancelled++
			}
		}
	}
	return st
}

// adopt takes a peer's instance when it wins; it reports whether it did.
func (r *Registry) adopt(app string, is InstanceState) bool {
	now := r.nowMs()
	in := is.Instance.Clone()
	in.App = app
	id := in.ID()
	k := storage.Key{App: app, ID: id}
	if is.Override == eureka.StatusUnknown {
		is.Override = ""
	}
	r.mu.Lock()
	adopted, isNew := r.adoptLocked(app, id, k, in, is, now)
	r.mu.Unlock()
	if isNew {
		r.sp.adjustExpected(+1)
	}
	return adopted
}

// adoptLocked is adopt under mu.
func (r *Registry) adoptLocked(app, id string, k storage.Key, in *eureka.InstanceInfo, is InstanceState, now int64) (adopted, isNew bool) {
	r.observe(is.Stamp)
	if t, ok := r.tombs.m[k]; ok && t.stamp >= is.Stamp {
		return false, false // cancelled here after the peer's change
	}
	a := r.apps[app]
	var existing *lease
	if a != nil {
		existing = a.leases[id]
	}
	theirs := contentHash(in, is.Override)
	if existing != nil && !existing.expired(now, 0) {
		cur := existing.instance.Load()
		mine := contentHash(cur, r.overrideOf(existing))
		if mine == theirs {
			return false, false
		}
		if s := existing.stamp.Load(); s > is.Stamp || (s == is.Stamp && mine > theirs) {
			return false, false
		}
	}
	if a == nil {
		a = &appEntry{name: app, leases: make(map[string]*lease)}
		r.apps[app] = a
	}
	if is.Override != "" {
		r.overrides[k] = newOverride(is.Override, now)
		in.OverriddenStatus = is.Override
	} else {
		delete(r.overrides, k)
		in.OverriddenStatus = eureka.StatusUnknown
	}
	in.IsCoordinatingDiscoveryServer = false
	in.LastUpdatedTimestamp = now
	typ := hook.EventRegistered
	in.ActionType = eureka.ActionAdded
	l := newLease(in, id, now)
	if existing != nil {
		// The peer has it live: a fresh lease here, as a renewal would.
		l.registration = existing.registration
		l.serviceUp.Store(existing.serviceUp.Load())
		in.ActionType = eureka.ActionModified
		typ = hook.EventMetadataChanged
		if existing.instance.Load().Status != in.Status {
			typ = hook.EventStatusChanged
		}
	}
	if in.Status == eureka.StatusUp {
		l.markServiceUp(now)
	}
	l.stamp.Store(is.Stamp)
	r.tombs.remove(k)
	r.putLease(a, id, l)
	r.delta.add(l, now)
	r.bump(a)
	r.changed(app, id)
	r.emit(typ, l, in, true, now)
	return true, existing == nil
}

// bury applies a peer's tombstone: it cancels an older local copy and
// keeps the tombstone, so it spreads further. It reports whether it
// cancelled an instance.
func (r *Registry) bury(app string, t Tombstone) bool {
	now := r.nowMs()
	k := storage.Key{App: app, ID: t.ID}
	r.mu.Lock()
	r.observe(t.Stamp)
	var l *lease
	if a := r.apps[app]; a != nil {
		l = a.leases[t.ID]
	}
	if l != nil && l.stamp.Load() >= t.Stamp {
		r.mu.Unlock()
		return false // re-registered here after the cancel
	}
	if l == nil {
		r.tombs.add(k, t.Stamp, t.Dirty, now, &r.opts)
		r.mu.Unlock()
		return false
	}
	r.mu.Unlock()
	// The tombstone keeps the peer's stamp, so a registration after the
	// cancel, anywhere, stays the later change.
	return r.cancelStamped(app, t.ID, now, hook.EventCancelled, true, t.Stamp)
}
