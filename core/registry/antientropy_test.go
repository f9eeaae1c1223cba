package registry

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// exchange runs one anti-entropy exchange between a and b over the
// applications whose digests differ, as core/replication does: b merges
// a's state, then a merges b's answer.
func exchange(a, b *Registry) (MergeStats, MergeStats) {
	da, db := a.Digest(), b.Digest()
	var names []string
	for n := range da {
		if da[n] != db[n] {
			names = append(names, n)
		}
	}
	for n := range db {
		if _, ok := da[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	sb := b.Merge(a.PeerStates(names))
	sa := a.Merge(b.PeerStates(names))
	return sa, sb
}

// Node C misses an override, a cancel, a metadata edit and an override
// removal (none of them moves lastDirtyTimestamp); one exchange repairs
// all four, and the cancelled instance does not come back to A.
func TestMergeRepairsWhatHeartbeatsCannot(t *testing.T) {
	a, clkA := newTestRegistry(t, nil)
	c, clkC := newTestRegistry(t, nil)
	for _, id := range []string{"i1", "i2", "i3", "i4"} {
		in := inst("SVC", id, eureka.StatusUp)
		a.Register(in, false)
		c.Register(mustGet(t, a, "SVC", id), true)
	}
	c.SetStatus("SVC", "i4", eureka.StatusOutOfService, 0, true)
	a.SetStatus("SVC", "i4", eureka.StatusOutOfService, 0, false)
	if d1, d2 := a.Digest(), c.Digest(); !maps.Equal(d1, d2) {
		t.Fatalf("digests differ before the outage: %v %v", d1, d2)
	}
	clkA.Advance(time.Second)
	clkC.Advance(time.Second)
	// C is away: A takes four changes.
	a.SetStatus("SVC", "i1", eureka.StatusOutOfService, 0, false)
	a.Cancel("SVC", "i2", false)
	a.UpdateMetadata("SVC", "i3", map[string]string{"owner": "ops"})
	a.DeleteStatusOverride("SVC", "i4", eureka.StatusUp, 0, false)
	if maps.Equal(a.Digest(), c.Digest()) {
		t.Fatal("digests equal after the changes C missed")
	}

	sa, sc := exchange(a, c)
	if sc.Adopted != 3 || sc.Cancelled != 1 || sa.Adopted != 0 || sa.Cancelled != 0 {
		t.Fatalf("C adopted %d cancelled %d; A adopted %d cancelled %d", sc.Adopted, sc.Cancelled, sa.Adopted, sa.Cancelled)
	}
	if !maps.Equal(a.Digest(), c.Digest()) {
		t.Fatalf("digests differ after the exchange:\n%v\n%v", a.Digest(), c.Digest())
	}
	wantStatus(t, c, "SVC", "i1", eureka.StatusOutOfService)
	if got := c.Override("SVC", "i1"); got != eureka.StatusOutOfService {
		t.Fatalf("C's override of i1 %q", got)
	}
	if c.Instance("SVC", "i2") != nil || a.Instance("SVC", "i2") != nil {
		t.Fatal("cancelled i2 survived the exchange")
	}
	if got := mustGet(t, c, "SVC", "i3").Metadata["owner"]; got != "ops" {
		t.Fatalf("C's i3 metadata owner=%q", got)
	}
	wantStatus(t, c, "SVC", "i4", eureka.StatusUp)
	if got := c.Override("SVC", "i4"); got != "" {
		t.Fatalf("C kept the removed override of i4: %q", got)
	}
	// A second exchange finds nothing to do.
	if sa, sc := exchange(a, c); sa != (MergeStats{}) || sc != (MergeStats{}) {
		t.Fatalf("second exchange changed %+v %+v", sa, sc)
	}
}

// A node that missed a cancel sends its stale copy back, as a replicated
// registration (a heartbeat's 404 path) or in an exchange: neither brings
// it back. A registration from the client itself does.
func TestTombstoneKeepsCancelledInstanceOut(t *testing.T) {
	a, _ := newTestRegistry(t, nil)
	c, _ := newTestRegistry(t, nil)
	a.Register(inst("SVC", "i1", eureka.StatusUp), false)
	stale := mustGet(t, a, "SVC", "i1")
	c.Register(stale, true)
	a.Cancel("SVC", "i1", false)

	a.Register(stale, true)
	if a.Instance("SVC", "i1") != nil {
		t.Fatal("a stale replicated registration brought i1 back")
	}
	exchange(c, a)
	if a.Instance("SVC", "i1") != nil || c.Instance("SVC", "i1") != nil {
		t.Fatal("the exchange brought i1 back")
	}
	if a.Tombstones() != 1 || c.Tombstones() != 1 {
		t.Fatalf("tombstones %d and %d, want 1 each", a.Tombstones(), c.Tombstones())
	}

	// The client registers again: that is newer than the cancel.
	a.Register(inst("SVC", "i1", eureka.StatusUp), false)
	exchange(a, c)
	if c.Instance("SVC", "i1") == nil {
		t.Fatal("a registration after the cancel did not reach C")
	}
}

// Tombstones are bounded in count and in time.
func TestTombstoneRetention(t *testing.T) {
	r, clk := newTestRegistry(t, func(o *Options) {
		o.TombstoneLimit = 3
		o.TombstoneRetention = time.Minute
	})
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		r.Register(inst("SVC", id, eureka.StatusUp), false)
		r.Cancel("SVC", id, false)
	}
	if n := r.Tombstones(); n != 3 {
		t.Fatalf("%d tombstones, want the limit 3", n)
	}
	clk.Advance(2 * time.Minute)
	r.Cancel("SVC", "f", false)
	if n := r.Tombstones(); n != 1 {
		t.Fatalf("%d tombstones after the retention, want 1", n)
	}
}

// Concurrent edits on two sides: the later stamp wins on both.
func TestMergeLaterStampWins(t *testing.T) {
	a, clkA := newTestRegistry(t, nil)
	c, clkC := newTestRegistry(t, nil)
	a.Register(inst("SVC", "i1", eureka.StatusUp), false)
	c.Register(mustGet(t, a, "SVC", "i1"), true)
	clkA.Advance(time.Second)
	clkC.Advance(2 * time.Second)
	a.UpdateMetadata("SVC", "i1", map[string]string{"v": "a"})
	c.UpdateMetadata("SVC", "i1", map[string]string{"v": "c"})
	exchange(a, c)
	for _, r := range []*Registry{a, c} {
		if got := mustGet(t, r, "SVC", "i1").Metadata["v"]; got != "c" {
			t.Fatalf("v=%q, want the later edit c", got)
		}
	}
}

// Stamps survive a restart from the store.
func TestStampPersists(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("SVC", "i1", eureka.StatusUp), false)
	recs := r.Records()
	r2, _ := newTestRegistry(t, nil)
	l, _, err := decodeRecord(recs[0], 0, r2.opts.Limits.OrDefault())
	if err != nil {
		t.Fatal(err)
	}
	r.mu.RLock()
	want := r.lookup("SVC", "i1").stamp.Load()
	r.mu.RUnlock()
	if got := l.stamp.Load(); got != want || got == 0 {
		t.Fatalf("restored stamp %d, want %d", got, want)
	}
}
