package registry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/storage/memory"
)

// checkCounts asserts that the kept status counts are what the leases
// hold, and so is the delta's hash code.
func checkCounts(t *testing.T, r *Registry, step string) {
	t.Helper()
	r.mu.RLock()
	var want eureka.StatusCounts
	for _, a := range r.apps {
		for _, l := range a.leases {
			want.Add(l.instance.Load().Status)
		}
	}
	got := r.hashCode()
	r.mu.RUnlock()
	if got != want.HashCode() {
		t.Fatalf("%s: kept counts %s, the leases %s", step, got, want.HashCode())
	}
	if _, _, delta := r.DeltaSince(0, func(uint64, string, string, *eureka.InstanceInfo, eureka.LeaseInfo) {}); delta != got {
		t.Fatalf("%s: the delta's hash code %s, the counts %s", step, delta, got)
	}
}

// TestStatusCountsFollowEveryWrite drives every way a lease comes, goes or
// changes status (registrations new and repeated, overrides set and
// removed, a renewal taking on a peer's override silently, metadata edits,
// health verdicts, cancels, evictions, anti-entropy merges, a restore) at
// random and compares the kept counts with the leases after every step:
// the delta's hash code is made of them.
func TestStatusCountsFollowEveryWrite(t *testing.T) {
	statuses := []eureka.Status{eureka.StatusUp, eureka.StatusDown, eureka.StatusStarting, eureka.StatusOutOfService, eureka.StatusUnknown}
	for seed := range uint64(3) {
		r, clk := newTestRegistry(t, func(o *Options) { o.EnableSelfPreservation = false })
		rnd := rand.New(rand.NewPCG(seed, 9))
		app := func() string { return fmt.Sprint("APP", rnd.IntN(3)) }
		id := func() string { return fmt.Sprint("i", rnd.IntN(10)) }
		ops := map[string]int{}
		for step := range 600 {
			a, i := app(), id()
			var op string
			switch rnd.IntN(11) {
			case 0, 1:
				op = "register"
				r.Register(inst(a, i, statuses[rnd.IntN(len(statuses))]), rnd.IntN(3) == 0)
			case 2:
				op = "override"
				r.SetStatus(a, i, statuses[rnd.IntN(len(statuses)-1)], 0, rnd.IntN(2) == 0)
			case 3:
				op = "override removed"
				r.DeleteStatusOverride(a, i, eureka.StatusUp, 0, false)
			case 4:
				// A peer's override noted by a renewal, taken on silently
				// by the next one (quirk 8).
				op = "renewal with a peer's override"
				r.Renew(a, i, RenewArgs{LastDirtyTimestamp: 1 << 50, OverriddenStatus: eureka.StatusOutOfService, Replication: true})
				r.Renew(a, i, RenewArgs{})
			case 5:
				op = "metadata"
				r.UpdateMetadata(a, i, map[string]string{"k": fmt.Sprint(step)})
			case 6:
				op = "health"
				r.SetHealth(a, i, rnd.IntN(2) == 0, "probe")
			case 7:
				op = "cancel"
				r.Cancel(a, i, rnd.IntN(2) == 0)
			case 8:
				op = "eviction"
				clk.Advance(time.Duration(rnd.IntN(40)) * time.Second)
				r.evict()
			case 9:
				op = "merge"
				in := inst(a, i, statuses[rnd.IntN(len(statuses))])
				in.LastDirtyTimestamp = clk.Now().UnixMilli() + int64(step)
				r.Merge([]AppState{{Name: a, Instances: []InstanceState{{Instance: in, Stamp: r.tick() + 1000}}}})
			case 10:
				op = "renewal"
				r.Renew(a, i, RenewArgs{})
			}
			ops[op]++
			checkCounts(t, r, fmt.Sprintf("seed %d step %d (%s %s/%s)", seed, step, op, a, i))
		}
		// A restore into a registry that holds some of them already.
		store := memory.New()
		for _, rec := range r.Records() {
			if err := store.Put(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
		}
		r2, _ := newTestRegistry(t, nil)
		r2.Register(inst("APP0", "i1", eureka.StatusDown), false)
		if _, _, err := r2.Restore(context.Background(), store); err != nil {
			t.Fatal(err)
		}
		checkCounts(t, r2, "after a restore")
		if len(ops) < 10 {
			t.Fatalf("only %d kinds of write ran: %v", len(ops), ops)
		}
	}
}
