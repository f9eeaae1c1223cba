package registry

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
)

// The tests in this file check that a status override belongs to one
// instance, (application, id), and never to an id shared by instances of
// two applications (issue 13, item 3: team payments could take team
// orders' instances out of service).

// twoTeams registers ORDERS-API/shared-1 and PAYMENTS-API/shared-1, both UP.
func twoTeams(t *testing.T) (*Registry, *fakeClock) {
	t.Helper()
	r, clk := newTestRegistry(t, nil)
	r.Register(inst("ORDERS-API", "shared-1", eureka.StatusUp), false)
	r.Register(inst("PAYMENTS-API", "shared-1", eureka.StatusUp), false)
	return r, clk
}

func wantStatus(t *testing.T, r *Registry, app, id string, st eureka.Status) {
	t.Helper()
	if got := mustGet(t, r, app, id); got.Status != st {
		t.Fatalf("%s/%s status %s (override %s), want %s", app, id, got.Status, got.OverriddenStatus, st)
	}
}

func TestOverrideStaysWithItsApplicationOnRenew(t *testing.T) {
	r, _ := twoTeams(t)
	if !r.SetStatus("PAYMENTS-API", "shared-1", eureka.StatusOutOfService, 0, false) {
		t.Fatal("SetStatus failed")
	}
	if res, _ := r.Renew("ORDERS-API", "shared-1", RenewArgs{}); res != RenewOK {
		t.Fatalf("renew = %v", res)
	}
	wantStatus(t, r, "ORDERS-API", "shared-1", eureka.StatusUp)
	if got := r.Override("ORDERS-API", "shared-1"); got != "" {
		t.Fatalf("ORDERS-API/shared-1 has override %q", got)
	}
	// The owner's own renewal still applies it.
	r.Renew("PAYMENTS-API", "shared-1", RenewArgs{})
	wantStatus(t, r, "PAYMENTS-API", "shared-1", eureka.StatusOutOfService)
}

func TestOverrideStaysWithItsApplicationOnRegister(t *testing.T) {
	r, _ := twoTeams(t)
	r.SetStatus("PAYMENTS-API", "shared-1", eureka.StatusOutOfService, 0, false)
	r.Register(inst("ORDERS-API", "shared-1", eureka.StatusUp), false)
	wantStatus(t, r, "ORDERS-API", "shared-1", eureka.StatusUp)
	if got := mustGet(t, r, "ORDERS-API", "shared-1").OverriddenStatus; got != eureka.StatusUnknown {
		t.Fatalf("ORDERS-API/shared-1 overriddenStatus %s, want UNKNOWN", got)
	}
	// And the other way round: the owner re-registering UP stays out.
	r.Register(inst("PAYMENTS-API", "shared-1", eureka.StatusUp), false)
	wantStatus(t, r, "PAYMENTS-API", "shared-1", eureka.StatusOutOfService)
}

func TestOverrideSeededByAnotherApplicationStaysThere(t *testing.T) {
	r, _ := twoTeams(t)
	// A peer's registration carrying an override seeds it for its own
	// instance only, as does a peer's newer copy (409 sync) and a peer's
	// heartbeat with overriddenstatus.
	peer := inst("PAYMENTS-API", "shared-1", eureka.StatusUp)
	peer.OverriddenStatus = eureka.StatusOutOfService
	r.Register(peer, true)
	adopted := inst("payments-api", "shared-2", eureka.StatusUp)
	adopted.OverriddenStatus = eureka.StatusDown
	r.AdoptPeerCopy(adopted)
	r.Register(inst("PAYMENTS-API", "shared-3", eureka.StatusUp), false)
	newer := mustGet(t, r, "PAYMENTS-API", "shared-3").LastDirtyTimestamp + 1
	r.Renew("PAYMENTS-API", "shared-3", RenewArgs{LastDirtyTimestamp: newer, OverriddenStatus: eureka.StatusOutOfService, Replication: true})

	want := map[storage.Key]eureka.Status{
		{App: "PAYMENTS-API", ID: "shared-1"}: eureka.StatusOutOfService,
		{App: "PAYMENTS-API", ID: "shared-2"}: eureka.StatusDown,
		{App: "PAYMENTS-API", ID: "shared-3"}: eureka.StatusOutOfService,
	}
	if got := r.InstanceOverrides(); !maps.Equal(got, want) {
		t.Fatalf("overrides %v, want %v", got, want)
	}
	for _, id := range []string{"shared-1", "shared-2", "shared-3"} {
		r.Register(inst("ORDERS-API", id, eureka.StatusUp), false)
		r.Renew("ORDERS-API", id, RenewArgs{})
		wantStatus(t, r, "ORDERS-API", id, eureka.StatusUp)
	}
}

func TestCancelAndDeleteOfAnotherApplicationKeepOverride(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("ORDERS-API", "o-7", eureka.StatusUp), false)
	r.SetStatus("ORDERS-API", "o-7", eureka.StatusOutOfService, 0, false)

	if r.Cancel("PAYMENTS-NOPE", "o-7", false) {
		t.Fatal("cancel of an unknown instance succeeded")
	}
	if r.DeleteStatusOverride("PAYMENTS-NOPE", "o-7", eureka.StatusUnknown, 0, false) {
		t.Fatal("override removal of an unknown instance succeeded")
	}
	if got := r.Override("ORDERS-API", "o-7"); got != eureka.StatusOutOfService {
		t.Fatalf("ORDERS-API/o-7 override %q after another app's cancel and delete", got)
	}
	r.Register(inst("ORDERS-API", "o-7", eureka.StatusUp), false)
	wantStatus(t, r, "ORDERS-API", "o-7", eureka.StatusOutOfService)

	// Its own cancel removes it.
	if !r.Cancel("ORDERS-API", "o-7", false) {
		t.Fatal("cancel failed")
	}
	if n := len(r.InstanceOverrides()); n != 0 {
		t.Fatalf("%d overrides left after the owner's cancel", n)
	}
}

func TestOverrideExpiryIsPerInstance(t *testing.T) {
	r, clk := twoTeams(t)
	r.SetStatus("ORDERS-API", "shared-1", eureka.StatusOutOfService, 0, false)
	r.SetStatus("PAYMENTS-API", "shared-1", eureka.StatusDown, 0, false)
	var mu sync.Mutex
	var rewritten []storage.Key
	r.SetChangeFunc(func(app, id string) {
		mu.Lock()
		rewritten = append(rewritten, storage.Key{App: app, ID: id})
		mu.Unlock()
	})
	// Only orders' instance is renewed, which keeps its override in use.
	clk.Advance(59 * time.Minute)
	r.Renew("ORDERS-API", "shared-1", RenewArgs{})
	clk.Advance(2 * time.Minute)
	r.expireOverrides(clk.Now().UnixMilli())

	want := map[storage.Key]eureka.Status{{App: "ORDERS-API", ID: "shared-1"}: eureka.StatusOutOfService}
	if got := r.InstanceOverrides(); !maps.Equal(got, want) {
		t.Fatalf("after expiry: %v, want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(rewritten, []storage.Key{{App: "PAYMENTS-API", ID: "shared-1"}}) {
		t.Fatalf("records rewritten on expiry: %v, want only PAYMENTS-API/shared-1", rewritten)
	}
}

func TestOverridesByIDPicksFirstApplication(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	for _, app := range []string{"ZULU", "ALPHA", "MIKE"} {
		r.Register(inst(app, "x", eureka.StatusUp), false)
	}
	r.Register(inst("MIKE", "y", eureka.StatusUp), false)
	r.SetStatus("ZULU", "x", eureka.StatusDown, 0, false)
	r.SetStatus("ALPHA", "x", eureka.StatusOutOfService, 0, false)
	r.SetStatus("MIKE", "x", eureka.StatusStarting, 0, false)
	r.SetStatus("MIKE", "y", eureka.StatusDown, 0, false)
	want := map[string]eureka.Status{"x": eureka.StatusOutOfService, "y": eureka.StatusDown}
	// Map order varies between calls; the winner must not.
	for range 20 {
		if got := r.Overrides(); !maps.Equal(got, want) {
			t.Fatalf("Overrides() = %v, want %v", got, want)
		}
	}
}

func TestRestoreKeepsOverridesPerInstance(t *testing.T) {
	src, _ := twoTeams(t)
	src.SetStatus("PAYMENTS-API", "shared-1", eureka.StatusOutOfService, 0, false)
	store := memory.New()
	var ops []storage.Op
	for _, rec := range src.Records() {
		ops = append(ops, storage.Op{Record: rec})
	}
	if err := storage.ApplyBatch(context.Background(), store, ops); err != nil {
		t.Fatal(err)
	}
	r, _ := newTestRegistry(t, nil)
	if n, _, err := r.Restore(context.Background(), store); err != nil || n != 2 {
		t.Fatalf("restored %d: %v", n, err)
	}
	want := map[storage.Key]eureka.Status{{App: "PAYMENTS-API", ID: "shared-1"}: eureka.StatusOutOfService}
	if got := r.InstanceOverrides(); !maps.Equal(got, want) {
		t.Fatalf("restored overrides %v, want %v", got, want)
	}
	r.Renew("ORDERS-API", "shared-1", RenewArgs{})
	wantStatus(t, r, "ORDERS-API", "shared-1", eureka.StatusUp)
	if st, ok := r.Lease("ORDERS-API", "shared-1"); !ok || st.Override != "" {
		t.Fatalf("ORDERS-API/shared-1 lease override %q", st.Override)
	}
	if st, _ := r.Lease("PAYMENTS-API", "shared-1"); st.Override != eureka.StatusOutOfService {
		t.Fatalf("PAYMENTS-API/shared-1 lease override %q", st.Override)
	}
}

// The renewal looks its override up by a two-string struct key, which must
// not allocate (a concatenated string key would).
func TestRenewWithOverrideDoesNotAllocate(t *testing.T) {
	r, _ := twoTeams(t)
	r.SetStatus("ORDERS-API", "shared-1", eureka.StatusOutOfService, 0, false)
	r.SetStatus("PAYMENTS-API", "shared-1", eureka.StatusDown, 0, false)
	allocs := testing.AllocsPerRun(1000, func() {
		r.Renew("ORDERS-API", "shared-1", RenewArgs{LastDirtyTimestamp: 1})
	})
	if allocs != 0 {
		t.Fatalf("renew with an override allocates %.1f times per call", allocs)
	}
	wantStatus(t, r, "ORDERS-API", "shared-1", eureka.StatusOutOfService)
}
