package registry

import (
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

func TestStatsCountEvents(t *testing.T) {
	r, clk := newTestRegistry(t, func(o *Options) { o.EnableSelfPreservation = false })
	for _, id := range []string{"a", "b", "c", "d"} {
		r.Register(inst("APP", id, eureka.StatusUp), false)
	}
	r.Register(inst("APP", "a", eureka.StatusUp), false) // a re-registration counts
	for i := 0; i < 3; i++ {
		r.Renew("APP", "a", RenewArgs{})
	}
	r.Renew("APP", "missing", RenewArgs{}) // not a renewal
	r.Cancel("APP", "b", false)
	r.Cancel("APP", "missing", false) // removes nothing
	// c and d stop renewing; a keeps going. Self-preservation is off, so
	// the eviction run removes what expired (within its 15% cap).
	clk.Advance(100 * time.Second)
	r.Renew("APP", "a", RenewArgs{})
	n := r.evict()
	got := r.Stats()
	want := Stats{Registrations: 5, Cancels: 1, Evictions: uint64(n), Renewals: 4}
	if got != want || n == 0 {
		t.Fatalf("Stats = %+v (evicted %d), want %+v", got, n, want)
	}
}

func TestLeasesAndCounts(t *testing.T) {
	r, clk := newTestRegistry(t, nil)
	short := inst("ORDERS", "o1", eureka.StatusUp)
	short.LeaseInfo = &eureka.LeaseInfo{DurationInSecs: 10}
	r.Register(short, false)
	r.Register(inst("ORDERS", "o2", eureka.StatusUp), false)
	r.Register(inst("BILLING", "b1", eureka.StatusUp), false)
	r.SetStatus("BILLING", "b1", eureka.StatusOutOfService, 0, false)

	clk.Advance(30 * time.Second)
	leases := r.Leases()
	if len(leases) != 3 {
		t.Fatalf("%d leases", len(leases))
	}
	order := []string{"b1", "o1", "o2"}
	for i, l := range leases {
		if l.Instance.ID() != order[i] {
			t.Fatalf("lease %d is %s, want %s", i, l.Instance.ID(), order[i])
		}
	}
	if b := leases[0]; b.Override != eureka.StatusOutOfService || b.Instance.Status != eureka.StatusOutOfService || b.Expired {
		t.Errorf("b1 = %+v", b)
	}
	if o1 := leases[1]; !o1.Expired || o1.Override != "" || o1.RegisteredAt.IsZero() || o1.LastRenewal != o1.RegisteredAt || o1.Duration != 10*time.Second {
		t.Errorf("o1 = %+v", o1)
	}
	if o2 := leases[2]; o2.Expired || !o2.ExpiresAt.After(clk.Now()) {
		t.Errorf("o2 = %+v, now %v", o2, clk.Now())
	}
	if l, ok := r.Lease("ORDERS", "o1"); !ok || !l.Expired {
		t.Errorf("Lease(o1) = %+v, %v", l, ok)
	}
	if _, ok := r.Lease("ORDERS", "nope"); ok {
		t.Error("Lease of an unknown instance")
	}
	c := r.Counts()
	if c.Applications != 2 || c.ByStatus[eureka.StatusUp] != 2 || c.ByStatus[eureka.StatusOutOfService] != 1 || c.Expired != 1 {
		t.Errorf("Counts = %+v", c)
	}
	if r.OpenedAt().IsZero() || r.Now() != clk.Now() || r.Settings().EvictionInterval != DefaultOptions().EvictionInterval {
		t.Error("accessors")
	}
}

// BenchmarkRenewParallel measures renewals of distinct leases from all
// cores: the striped counter must not become their shared write.
func BenchmarkRenewParallel(b *testing.B) {
	r := New(nil)
	r.OpenForTraffic(0)
	const n = 1024
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "i" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		r.Register(inst("APP", ids[i], eureka.StatusUp), false)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Renew("APP", ids[i%n], RenewArgs{})
			i++
		}
	})
}
