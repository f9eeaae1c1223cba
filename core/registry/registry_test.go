package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
)

// fakeClock is a Clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.UnixMilli(1_718_000_000_000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestRegistry(t *testing.T, mod func(*Options)) (*Registry, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	o := DefaultOptions()
	o.Clock = clk
	if mod != nil {
		mod(&o)
	}
	r := New(&o)
	r.OpenForTraffic(0)
	return r, clk
}

func inst(app, id string, st eureka.Status) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID:     id,
		HostName:       id + ".example.com",
		App:            app,
		IPAddr:         "10.0.0.1",
		Status:         st,
		Port:           eureka.Port{Number: 8080, Enabled: true},
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		LeaseInfo:      &eureka.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
		VIPAddress:     "orders,orders-v2",
		Metadata:       map[string]string{"zone": "zone-a"},
	}
}

func mustGet(t *testing.T, r *Registry, app, id string) *eureka.InstanceInfo {
	t.Helper()
	in := r.Instance(app, id)
	if in == nil {
		t.Fatalf("instance %s/%s not found", app, id)
	}
	return in
}

func TestRegisterRenewCancel(t *testing.T) {
	r, clk := newTestRegistry(t, nil)
	v0 := r.Version()
	first := inst("orders", "i1", eureka.StatusUp)
	first.IsCoordinatingDiscoveryServer = true
	r.Register(first, false)
	if r.Version() == v0 {
		t.Fatal("register did not move the version")
	}
	in := mustGet(t, r, "ORDERS", "i1")
	if in.App != "ORDERS" || in.ActionType != eureka.ActionAdded || in.Status != eureka.StatusUp {
		t.Fatalf("registered instance = %+v", in)
	}
	if in.IsCoordinatingDiscoveryServer {
		t.Error("a registrant's coordinating-server claim was kept")
	}
	if in.LastDirtyTimestamp != clk.Now().UnixMilli() {
		t.Errorf("missing lastDirtyTimestamp not set to now: %d", in.LastDirtyTimestamp)
	}
	if in.LeaseInfo.ServiceUpTimestamp == 0 || in.LeaseInfo.RegistrationTimestamp != clk.Now().UnixMilli() {
		t.Errorf("lease info = %+v", in.LeaseInfo)
	}

	v1 := r.Version()
	clk.Advance(10 * time.Second)
	if res, _ := r.Renew("ORDERS", "i1", RenewArgs{}); res != RenewOK {
		t.Fatalf("renew = %v", res)
	}
	if r.Version() != v1 {
		t.Error("a plain renewal moved the version")
	}
	if got := mustGet(t, r, "ORDERS", "i1").LeaseInfo.LastRenewalTimestamp; got != clk.Now().UnixMilli() {
		t.Errorf("lastRenewalTimestamp = %d, want %d", got, clk.Now().UnixMilli())
	}
	if res, _ := r.Renew("ORDERS", "nope", RenewArgs{}); res != RenewNotFound {
		t.Errorf("renew of unknown = %v", res)
	}
	if !r.Cancel("ORDERS", "i1", false) {
		t.Fatal("cancel of registered instance failed")
	}
	if r.Cancel("ORDERS", "i1", false) {
		t.Fatal("second cancel succeeded")
	}
	if r.Instance("ORDERS", "i1") != nil || r.Application("ORDERS") != nil {
		t.Fatal("cancelled instance still visible")
	}
	if len(r.Applications().Applications) != 0 {
		t.Fatal("empty application listed in the full registry")
	}
}

func TestLeaseExpiry(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			r, clk := newTestRegistry(t, func(o *Options) { o.LegacyLeaseExpiry = legacy })
			r.Register(inst("A", "never", eureka.StatusUp), false)
			r.Register(inst("A", "renewed", eureka.StatusUp), false)
			l := func(id string) *lease { return r.apps["A"].leases[id] }
			start := clk.Now().UnixMilli()

			// A lease never renewed expires one duration after registration
			// in both modes.
			if l("never").expired(start+90_000, 0) || !l("never").expired(start+90_001, 0) {
				t.Error("unrenewed lease does not expire at registration + duration")
			}

			clk.Advance(30 * time.Second)
			r.Renew("A", "renewed", RenewArgs{})
			renewedAt := clk.Now().UnixMilli()
			wantLast := renewedAt
			expiresAfter := renewedAt + 90_000
			if legacy {
				wantLast = renewedAt + 90_000
				expiresAfter = renewedAt + 180_000
			}
			if got := mustGet(t, r, "A", "renewed").LeaseInfo.LastRenewalTimestamp; got != wantLast {
				t.Errorf("lastRenewalTimestamp = %d, want %d", got, wantLast)
			}
			if l("renewed").expired(expiresAfter, 0) {
				t.Errorf("lease expired at the limit")
			}
			if !l("renewed").expired(expiresAfter+1, 0) {
				t.Errorf("lease not expired after the limit")
			}
			// Compensation pushes expiry back.
			if l("renewed").expired(expiresAfter+1, 5) {
				t.Errorf("compensation not applied")
			}
		})
	}
}

func TestOverrideRuleChain(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("A", "i1", eureka.StatusUp), false)

	if !r.SetStatus("A", "i1", eureka.StatusOutOfService, 0, false) {
		t.Fatal("SetStatus failed")
	}
	in := mustGet(t, r, "A", "i1")
	if in.Status != eureka.StatusOutOfService || in.OverriddenStatus != eureka.StatusOutOfService || in.ActionType != eureka.ActionModified {
		t.Fatalf("after override: %s/%s/%s", in.Status, in.OverriddenStatus, in.ActionType)
	}

	// OverrideExists: a client re-registering UP stays out of service.
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	if in := mustGet(t, r, "A", "i1"); in.Status != eureka.StatusOutOfService || in.OverriddenStatus != eureka.StatusOutOfService {
		t.Fatalf("override lost on re-register: %s/%s", in.Status, in.OverriddenStatus)
	}
	// DownOrStarting: a client saying it is DOWN wins over the override.
	r.Register(inst("A", "i1", eureka.StatusDown), false)
	if got := mustGet(t, r, "A", "i1").Status; got != eureka.StatusDown {
		t.Fatalf("DOWN registration resolved to %s", got)
	}
	r.Register(inst("A", "i1", eureka.StatusUp), false)

	// Removing the override without a value makes the instance UNKNOWN; the
	// next renewal asks the client to register again.
	if !r.DeleteStatusOverride("A", "i1", eureka.StatusUnknown, 0, false) {
		t.Fatal("DeleteStatusOverride failed")
	}
	in = mustGet(t, r, "A", "i1")
	if in.Status != eureka.StatusUnknown || in.OverriddenStatus != eureka.StatusUnknown {
		t.Fatalf("after delete: %s/%s", in.Status, in.OverriddenStatus)
	}
	if len(r.Overrides()) != 0 {
		t.Fatal("override map not emptied")
	}
	if res, _ := r.Renew("A", "i1", RenewArgs{}); res != RenewNotFound {
		t.Fatalf("renew of UNKNOWN = %v, want RenewNotFound", res)
	}
	// The client's own status wins now: LeaseExists does not keep UNKNOWN.
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	if got := mustGet(t, r, "A", "i1").Status; got != eureka.StatusUp {
		t.Fatalf("re-register after delete = %s", got)
	}
}

func TestLeaseExistsRule(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	// A client re-registering OUT_OF_SERVICE over a stored UP keeps UP...
	r.Register(inst("A", "i1", eureka.StatusOutOfService), false)
	if got := mustGet(t, r, "A", "i1").Status; got != eureka.StatusUp {
		t.Fatalf("non-replicated re-register = %s, want UP", got)
	}
	// ...but a peer's registration is taken as it is.
	r.Register(inst("A", "i1", eureka.StatusOutOfService), true)
	if got := mustGet(t, r, "A", "i1").Status; got != eureka.StatusOutOfService {
		t.Fatalf("replicated re-register = %s, want OUT_OF_SERVICE", got)
	}
}

func TestOverrideSeededFromRegistration(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	in := inst("A", "i1", eureka.StatusUp)
	in.OverriddenStatus = eureka.StatusOutOfService
	r.Register(in, true)
	got := mustGet(t, r, "A", "i1")
	if got.Status != eureka.StatusOutOfService || r.Overrides()["i1"] != eureka.StatusOutOfService {
		t.Fatalf("override not learned from registrant: %s, %v", got.Status, r.Overrides())
	}
}

func TestSetStatusUnchangedStoresNothing(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	v := r.Version()
	if !r.SetStatus("A", "i1", eureka.StatusUp, 0, false) {
		t.Fatal("SetStatus failed")
	}
	if len(r.Overrides()) != 0 || r.Version() != v {
		t.Fatal("setting the current status stored an override or moved the version")
	}
	if r.SetStatus("A", "nope", eureka.StatusDown, 0, false) {
		t.Fatal("SetStatus on an unknown instance succeeded")
	}
	if r.DeleteStatusOverride("A", "nope", eureka.StatusUnknown, 0, false) {
		t.Fatal("DeleteStatusOverride on an unknown instance succeeded")
	}
}

func TestSetStatusLastDirty(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	in := inst("A", "i1", eureka.StatusUp)
	in.LastDirtyTimestamp = 1000
	r.Register(in, false)
	r.SetStatus("A", "i1", eureka.StatusDown, 5000, false)
	if got := mustGet(t, r, "A", "i1").LastDirtyTimestamp; got != 5000 {
		t.Fatalf("lastDirty = %d, want max(1000, 5000)", got)
	}
	r.SetStatus("A", "i1", eureka.StatusUp, 10, false)
	if got := mustGet(t, r, "A", "i1").LastDirtyTimestamp; got != 5000 {
		t.Fatalf("lastDirty went backwards to %d", got)
	}
}

func TestRenewDirtyTimestamp(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	in := inst("A", "i1", eureka.StatusUp)
	in.LastDirtyTimestamp = 5000
	r.Register(in, false)

	cases := []struct {
		name  string
		args  RenewArgs
		want  RenewResult
		body  bool
		valid bool
	}{
		{"absent", RenewArgs{}, RenewOK, false, true},
		{"equal", RenewArgs{LastDirtyTimestamp: 5000}, RenewOK, false, true},
		{"client newer", RenewArgs{LastDirtyTimestamp: 6000}, RenewNotFound, false, true},
		{"server newer", RenewArgs{LastDirtyTimestamp: 4000}, RenewOK, false, true},
		{"server newer, replication", RenewArgs{LastDirtyTimestamp: 4000, Replication: true}, RenewConflict, true, true},
	}
	for _, c := range cases {
		res, body := r.Renew("A", "i1", c.args)
		if res != c.want || (body != nil) != c.body {
			t.Errorf("%s: got %v (body %v), want %v (body %v)", c.name, res, body != nil, c.want, c.body)
		}
		if body != nil && body.LastDirtyTimestamp != 5000 {
			t.Errorf("%s: conflict body lastDirty = %d", c.name, body.LastDirtyTimestamp)
		}
	}

	r2, _ := newTestRegistry(t, func(o *Options) { o.SyncWhenTimestampDiffers = false })
	r2.Register(in.Clone(), false)
	if res, _ := r2.Renew("A", "i1", RenewArgs{LastDirtyTimestamp: 9000}); res != RenewOK {
		t.Errorf("with sync off, newer client timestamp gave %v", res)
	}
}

func TestReplicatedRenewStoresOverrideSilently(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	in := inst("A", "i1", eureka.StatusUp)
	in.LastDirtyTimestamp = 5000
	r.Register(in, false)
	deltaLen := r.delta.len()

	res, _ := r.Renew("A", "i1", RenewArgs{LastDirtyTimestamp: 6000, OverriddenStatus: eureka.StatusOutOfService, Replication: true})
	if res != RenewNotFound {
		t.Fatalf("renew = %v, want RenewNotFound", res)
	}
	if r.Overrides()["i1"] != eureka.StatusOutOfService || mustGet(t, r, "A", "i1").OverriddenStatus != eureka.StatusOutOfService {
		t.Fatal("peer override not stored")
	}
	// The next renewal applies it without a delta entry or a version change
	// (Eureka quirk 8).
	v := r.Version()
	if res, _ := r.Renew("A", "i1", RenewArgs{}); res != RenewOK {
		t.Fatalf("renew = %v", res)
	}
	if got := mustGet(t, r, "A", "i1").Status; got != eureka.StatusOutOfService {
		t.Fatalf("status after renew = %s", got)
	}
	if r.Version() != v || r.delta.len() != deltaLen {
		t.Fatal("status change from a renewal was published")
	}
}

func TestUpdateMetadata(t *testing.T) {
	r, clk := newTestRegistry(t, nil)
	in := inst("A", "i1", eureka.StatusUp)
	in.LastDirtyTimestamp = 1234
	r.Register(in, false)
	before := mustGet(t, r, "A", "i1")
	clk.Advance(time.Minute)
	v := r.Version()
	if !r.UpdateMetadata("A", "i1", map[string]string{"color": "blue", "zone": "zone-b"}) {
		t.Fatal("UpdateMetadata failed")
	}
	after := mustGet(t, r, "A", "i1")
	if after.Metadata["color"] != "blue" || after.Metadata["zone"] != "zone-b" {
		t.Fatalf("metadata = %v", after.Metadata)
	}
	if before.Metadata["zone"] != "zone-a" {
		t.Fatal("update modified an instance already handed out")
	}
	if after.ActionType != eureka.ActionAdded || after.LastDirtyTimestamp != 1234 {
		t.Errorf("action %s lastDirty %d, want ADDED and unchanged", after.ActionType, after.LastDirtyTimestamp)
	}
	if after.LeaseInfo.RegistrationTimestamp != clk.Now().UnixMilli() || after.LeaseInfo.ServiceUpTimestamp != before.LeaseInfo.ServiceUpTimestamp {
		t.Errorf("lease = %+v, want a new registration time and the old service-up time", after.LeaseInfo)
	}
	if r.Version() == v {
		t.Error("metadata update did not move the version")
	}
	if r.UpdateMetadata("A", "nope", map[string]string{"x": "y"}) {
		t.Error("metadata update of an unknown instance succeeded")
	}
}

func TestDeltaLatestStateAndRetention(t *testing.T) {
	r, clk := newTestRegistry(t, nil)
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	r.Register(inst("B", "i2", eureka.StatusUp), false)
	r.SetStatus("A", "i1", eureka.StatusOutOfService, 0, false)

	d := r.Delta()
	if len(d.Applications) != 2 || d.Applications[0].Name != "A" || d.Applications[1].Name != "B" {
		t.Fatalf("delta apps = %+v", d.Applications)
	}
	if got := d.Applications[0].Instances; len(got) != 1 || got[0].ActionType != eureka.ActionModified || got[0].Status != eureka.StatusOutOfService {
		t.Fatalf("A in delta = %+v", got[0])
	}
	if d.AppsHashcode != "OUT_OF_SERVICE_1_UP_1_" || d.AppsHashcode != r.Applications().AppsHashcode {
		t.Fatalf("delta hash %q, full hash %q", d.AppsHashcode, r.Applications().AppsHashcode)
	}

	// Cancelled then registered again: the later entry wins.
	r.Cancel("B", "i2", false)
	r.Register(inst("B", "i2", eureka.StatusUp), false)
	for _, a := range r.Delta().Applications {
		if a.Name == "B" && (len(a.Instances) != 1 || a.Instances[0].ActionType != eureka.ActionAdded) {
			t.Fatalf("B in delta = %+v", a.Instances)
		}
	}

	// Retention: entries older than three minutes go on the next sweep; the
	// sweep stops at the first younger one.
	clk.Advance(2 * time.Minute)
	r.Register(inst("C", "i3", eureka.StatusUp), false)
	clk.Advance(61 * time.Second)
	r.sweepDelta()
	d = r.Delta()
	if len(d.Applications) != 1 || d.Applications[0].Name != "C" {
		t.Fatalf("after sweep delta = %+v", d.Applications)
	}
	if d.AppsHashcode != "OUT_OF_SERVICE_1_UP_2_" {
		t.Fatalf("delta hash after sweep = %q", d.AppsHashcode)
	}
	clk.Advance(3 * time.Minute)
	r.sweepDelta()
	if n := len(r.Delta().Applications); n != 0 {
		t.Fatalf("delta holds %d apps after retention", n)
	}
}

func TestCancelShowsDeletedInDelta(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	r.Cancel("A", "i1", false)
	d := r.Delta()
	if len(d.Applications) != 1 || d.Applications[0].Instances[0].ActionType != eureka.ActionDeleted {
		t.Fatalf("delta = %+v", d.Applications)
	}
	if d.AppsHashcode != "" {
		t.Fatalf("hash of empty registry = %q", d.AppsHashcode)
	}
}

func TestHashCodeAndVIP(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("ORDERS", "o1", eureka.StatusUp), false)
	r.Register(inst("ORDERS", "o2", eureka.StatusUp), false)
	p := inst("PAYMENTS", "p1", eureka.StatusUp)
	p.VIPAddress = "payments"
	p.SecureVIPAddress = "payments-secure"
	r.Register(p, false)
	r.SetStatus("PAYMENTS", "p1", eureka.StatusOutOfService, 0, false)

	apps := r.Applications()
	if apps.AppsHashcode != "OUT_OF_SERVICE_1_UP_2_" || apps.VersionsDelta != 1 {
		t.Fatalf("full: hash %q version %d", apps.AppsHashcode, apps.VersionsDelta)
	}
	if apps.Applications[0].Name != "ORDERS" || apps.Applications[0].Instances[0].ID() != "o1" {
		t.Fatal("full registry not sorted by app and id")
	}
	v := r.VIP("orders-v2", false)
	if v.VersionsDelta != -1 || len(v.Applications) != 1 || len(v.Applications[0].Instances) != 2 || v.AppsHashcode != "UP_2_" {
		t.Fatalf("vip orders-v2 = %+v hash %q", v.Applications, v.AppsHashcode)
	}
	if v := r.VIP("order", false); len(v.Applications) != 0 || v.AppsHashcode != "" {
		t.Fatal("VIP matched a prefix")
	}
	if v := r.VIP("payments-secure", true); len(v.Applications) != 1 {
		t.Fatal("secure VIP not found")
	}
	if v := r.VIP("payments-secure", false); len(v.Applications) != 0 {
		t.Fatal("secure VIP matched as a plain VIP")
	}
	if r.InstanceByID("p1") == nil || r.InstanceByID("zz") != nil {
		t.Fatal("InstanceByID")
	}
}

func TestSelfPreservation(t *testing.T) {
	r, clk := newTestRegistry(t, nil)
	// Spring Cloud start: E = 1, threshold = int(1 * 2 * 0.85) = 1.
	st := r.SelfPreservationState()
	if st.ExpectedClients != 1 || st.Threshold != 1 || st.LeaseExpirationEnabled {
		t.Fatalf("start state = %+v", st)
	}
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	r.Register(inst("A", "i2", eureka.StatusUp), false)
	// E = 3, threshold = int(3 * 2 * 0.85) = 5.
	if st := r.SelfPreservationState(); st.ExpectedClients != 3 || st.Threshold != 5 {
		t.Fatalf("after two registrations = %+v", st)
	}
	// Re-registering an existing instance does not count again.
	r.Register(inst("A", "i2", eureka.StatusUp), false)
	if st := r.SelfPreservationState(); st.ExpectedClients != 3 {
		t.Fatalf("re-register moved E to %d", st.ExpectedClients)
	}

	for i := 0; i < 6; i++ {
		r.Renew("A", "i1", RenewArgs{})
	}
	// The meter reports the previous complete minute only.
	if st := r.SelfPreservationState(); st.RenewsLastMinute != 0 {
		t.Fatalf("current minute counted: %+v", st)
	}
	clk.Advance(time.Minute)
	st = r.SelfPreservationState()
	if st.RenewsLastMinute != 6 || !st.LeaseExpirationEnabled || st.BelowThreshold {
		t.Fatalf("6 renewals over threshold 5: %+v", st)
	}
	for i := 0; i < 5; i++ {
		r.Renew("A", "i1", RenewArgs{})
	}
	clk.Advance(time.Minute)
	st = r.SelfPreservationState()
	if st.RenewsLastMinute != 5 || st.LeaseExpirationEnabled {
		t.Fatalf("5 renewals at threshold 5 must not enable expiry: %+v", st)
	}
	clk.Advance(2 * time.Minute)
	if st := r.SelfPreservationState(); st.RenewsLastMinute != 0 {
		t.Fatalf("idle minutes: %+v", st)
	}
	clk.Advance(5 * time.Minute)
	if st := r.SelfPreservationState(); !st.BelowThreshold {
		t.Fatalf("below threshold after the start-up wait: %+v", st)
	}

	r.Cancel("A", "i2", false)
	if st := r.SelfPreservationState(); st.ExpectedClients != 2 || st.Threshold != 3 {
		t.Fatalf("after cancel = %+v", st)
	}
}

func TestSelfPreservationOff(t *testing.T) {
	r, _ := newTestRegistry(t, func(o *Options) { o.EnableSelfPreservation = false })
	if !r.LeaseExpirationEnabled() {
		t.Fatal("expiry disabled with self-preservation off")
	}
}

func TestRenewalThresholdRatchet(t *testing.T) {
	r, _ := newTestRegistry(t, func(o *Options) { o.ExpectedNumberOfClientsSendingRenews = 10 })
	r.OpenForTraffic(10)
	for i := 0; i < 5; i++ {
		r.Register(inst("A", fmt.Sprint("i", i), eureka.StatusUp), true)
	}
	// E grew to 15 with the registrations; 5 instances is not above
	// 0.85 * 15, so the recount leaves E alone.
	r.updateRenewalThreshold()
	if st := r.SelfPreservationState(); st.ExpectedClients != 15 {
		t.Fatalf("E = %d, want 15", st.ExpectedClients)
	}
	for i := 5; i < 20; i++ {
		r.Register(inst("A", fmt.Sprint("i", i), eureka.StatusUp), true)
	}
	r.sp.setExpected(12)
	r.updateRenewalThreshold()
	if st := r.SelfPreservationState(); st.ExpectedClients != 20 || st.Threshold != 34 {
		t.Fatalf("after recount = %+v, want E 20 threshold 34", st)
	}
}

func TestNetflixStartupGate(t *testing.T) {
	r, clk := newTestRegistry(t, func(o *Options) { o.DefaultOpenForTrafficCount = 0 })
	if r.ShouldAllowAccess() {
		t.Fatal("reads allowed right after an empty start with the Netflix gate")
	}
	clk.Advance(5*time.Minute + time.Millisecond)
	if !r.ShouldAllowAccess() {
		t.Fatal("reads still gated after the wait")
	}
	sc, _ := newTestRegistry(t, nil)
	if !sc.ShouldAllowAccess() {
		t.Fatal("Spring Cloud start gated reads")
	}
}

func TestEvictionCapAndSelfPreservation(t *testing.T) {
	r, clk := newTestRegistry(t, func(o *Options) { o.EnableSelfPreservation = false })
	for i := 0; i < 20; i++ {
		r.Register(inst(fmt.Sprint("APP", i%3), fmt.Sprint("i", i), eureka.StatusUp), false)
	}
	r.Register(inst("LIVE", "live", eureka.StatusUp), false)
	clk.Advance(91 * time.Second)
	r.Renew("LIVE", "live", RenewArgs{})
	// 21 leases: at most 21 - int(21 * 0.85) = 4 per run.
	if n := r.evict(); n != 4 {
		t.Fatalf("first run evicted %d, want 4", n)
	}
	total := 4
	for i := 0; i < 10 && r.Size() > 1; i++ {
		clk.Advance(time.Minute)
		r.Renew("LIVE", "live", RenewArgs{})
		total += r.evict()
	}
	if total != 20 || r.Size() != 1 || r.Instance("LIVE", "live") == nil {
		t.Fatalf("evicted %d, size %d", total, r.Size())
	}
	if rc := r.RecentlyCanceled(); len(rc) != 20 {
		t.Fatalf("recently cancelled has %d entries", len(rc))
	}

	// With self-preservation on and no renewals, nothing is evicted.
	sp, clk2 := newTestRegistry(t, nil)
	sp.Register(inst("A", "i1", eureka.StatusUp), false)
	clk2.Advance(10 * time.Minute)
	if n := sp.evict(); n != 0 || sp.Size() != 1 {
		t.Fatalf("self-preservation let %d evictions through", n)
	}
	// Expired leases stay readable while expiry is off (Eureka: the expired
	// filter applies only when expiration is enabled).
	if sp.Instance("A", "i1") == nil {
		t.Fatal("expired lease hidden while expiry is disabled")
	}
}

func TestEvictionCompensation(t *testing.T) {
	r, clk := newTestRegistry(t, func(o *Options) { o.EnableSelfPreservation = false })
	r.evict() // first run: no compensation, sets the reference time
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	// The next run is 40 s late; the lease expired 20 s ago, within the
	// compensation, so it stays.
	clk.Advance(100 * time.Second)
	if n := r.evict(); n != 0 {
		t.Fatalf("late run evicted %d despite compensation", n)
	}
	clk.Advance(60 * time.Second)
	if n := r.evict(); n != 1 {
		t.Fatalf("on-time run evicted %d, want 1", n)
	}
}

func TestOverrideExpiry(t *testing.T) {
	r, clk := newTestRegistry(t, nil)
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	r.SetStatus("A", "i1", eureka.StatusOutOfService, 0, false)
	clk.Advance(59 * time.Minute)
	r.Renew("A", "i1", RenewArgs{}) // a renewal reads, and so keeps, the override
	clk.Advance(59 * time.Minute)
	r.expireOverrides(clk.Now().UnixMilli())
	if len(r.Overrides()) != 1 {
		t.Fatal("override used within the hour was dropped")
	}
	clk.Advance(61 * time.Minute)
	r.expireOverrides(clk.Now().UnixMilli())
	if len(r.Overrides()) != 0 {
		t.Fatal("unused override kept past the hour")
	}
}

func TestRecentRings(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	for i := 0; i < recentSize+5; i++ {
		r.Register(inst("A", fmt.Sprint("i", i), eureka.StatusUp), false)
	}
	r.Cancel("A", "ghost", false)
	reg := r.RecentlyRegistered()
	if len(reg) != recentSize || reg[0].ID != fmt.Sprint("i", recentSize+4) {
		t.Fatalf("ring: %d entries, newest %v", len(reg), reg[0])
	}
	if c := r.RecentlyCanceled(); len(c) != 1 || c[0].ID != "ghost" {
		t.Fatalf("cancels of unknown instances must be listed: %v", c)
	}
}

func TestRenewDoesNotAllocate(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	allocs := testing.AllocsPerRun(1000, func() {
		r.Renew("A", "i1", RenewArgs{LastDirtyTimestamp: 1})
	})
	if allocs != 0 {
		t.Fatalf("renew allocates %.1f times per call", allocs)
	}
}

func TestConcurrentUse(t *testing.T) {
	r, clk := newTestRegistry(t, func(o *Options) { o.EnableSelfPreservation = false })
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				id := fmt.Sprint("i", i%40)
				app := fmt.Sprint("APP", w%3)
				switch i % 6 {
				case 0:
					r.Register(inst(app, id, eureka.StatusUp), w%2 == 0)
				case 1:
					r.Renew(app, id, RenewArgs{LastDirtyTimestamp: int64(i)})
				case 2:
					r.SetStatus(app, id, eureka.StatusOutOfService, 0, false)
				case 3:
					r.UpdateMetadata(app, id, map[string]string{"k": id})
				case 4:
					r.Applications()
					r.Delta()
					r.VIP("orders", false)
				case 5:
					r.Cancel(app, id, false)
					clk.Advance(time.Second)
					r.evict()
				}
			}
		}(w)
	}
	wg.Wait()
	apps := r.Applications()
	var c eureka.StatusCounts
	for _, a := range apps.Applications {
		for _, in := range a.Instances {
			c.Add(in.Status)
		}
	}
	if apps.AppsHashcode != c.HashCode() {
		t.Fatalf("hash %q does not match contents %q", apps.AppsHashcode, c.HashCode())
	}
}

func BenchmarkRenew(b *testing.B) {
	r := New(nil)
	for i := 0; i < 1000; i++ {
		r.Register(inst(fmt.Sprint("APP", i%50), fmt.Sprint("i", i), eureka.StatusUp), false)
	}
	ids := make([][2]string, 1000)
	for i := range ids {
		ids[i] = [2]string{fmt.Sprint("APP", i%50), fmt.Sprint("i", i)}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := ids[i%len(ids)]
			r.Renew(k[0], k[1], RenewArgs{})
			i++
		}
	})
}

func BenchmarkRegister(b *testing.B) {
	r := New(nil)
	ins := make([]*eureka.InstanceInfo, 1000)
	for i := range ins {
		ins[i] = inst(fmt.Sprint("APP", i%50), fmt.Sprint("i", i), eureka.StatusUp)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Register(ins[i%len(ins)], false)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	r.SetStatus("A", "i1", eureka.StatusOutOfService, 0, false)
	rec, _, ok := r.AppendRecord(nil, "A", "i1")
	if !ok {
		t.Fatal("no record")
	}
	h, fast := parseHeader(rec.Value)
	if !fast || h.Override != eureka.StatusOutOfService || h.V != 1 || h.Registered == 0 {
		t.Fatalf("fast header parse: %v %+v", fast, h)
	}
	in, o, err := DecodeRecord(rec)
	if err != nil || in.Status != eureka.StatusOutOfService || o != eureka.StatusOutOfService || in.Metadata["zone"] != "zone-a" {
		t.Fatalf("decode: %+v %s %v", in, o, err)
	}
	// The same record written differently (reordered, spaced) still reads.
	var loose map[string]any
	json.Unmarshal(rec.Value, &loose)
	pretty, _ := json.MarshalIndent(loose, "", "  ")
	rec2 := rec
	rec2.Value = pretty
	if _, fast := parseHeader(pretty); fast {
		t.Fatal("the fast path accepted a reordered record")
	}
	if in2, o2, err := DecodeRecord(rec2); err != nil || in2.ID() != "i1" || o2 != o {
		t.Fatalf("reordered record: %v", err)
	}
	for _, bad := range []string{"", "{}", `{"v":1,"registered":x}`, `{"v":2,"registered":1,"lastRenewal":1,"serviceUp":0,"instance":{}}`} {
		if _, _, err := DecodeRecord(storage.Record{Key: rec.Key, Value: []byte(bad)}); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func BenchmarkRestore100k(b *testing.B) {
	src := New(nil)
	for i := 0; i < 100_000; i++ {
		in := inst(fmt.Sprint("APP", i%500), fmt.Sprint("i-", i), eureka.StatusUp)
		src.Register(in, false)
	}
	store := memory.New()
	if err := storage.ApplyBatch(context.Background(), store, func() []storage.Op {
		var ops []storage.Op
		for _, rec := range src.Records() {
			ops = append(ops, storage.Op{Record: rec})
		}
		return ops
	}()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := New(nil)
		n, _, err := r.Restore(context.Background(), store)
		if err != nil || n != 100_000 {
			b.Fatalf("restored %d: %v", n, err)
		}
	}
}

// TestDeltaEntryAsOfItsChange: a delta entry keeps the instance and the
// lease's timestamps of its change, so renewals and later changes of the
// same lease leave what it shows as it was.
func TestDeltaEntryAsOfItsChange(t *testing.T) {
	r, clk := newTestRegistry(t, nil)
	t0 := clk.Now().UnixMilli()
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	clk.Advance(10 * time.Second)
	if res, _ := r.Renew("A", "i1", RenewArgs{}); res != RenewOK {
		t.Fatalf("renew: %v", res)
	}
	clk.Advance(10 * time.Second)
	t2 := clk.Now().UnixMilli()
	r.SetStatus("A", "i1", eureka.StatusOutOfService, 0, false)
	clk.Advance(10 * time.Second)
	t3 := clk.Now().UnixMilli()
	r.Cancel("A", "i1", false)

	type seen struct {
		action                 eureka.ActionType
		status                 eureka.Status
		updated, renewed, gone int64
	}
	var got []seen
	first, _, _ := r.DeltaSince(0, func(seq uint64, app, id string, in *eureka.InstanceInfo, lease eureka.LeaseInfo) {
		if app != "A" || id != "i1" || seq != uint64(len(got)) {
			t.Errorf("entry %d: %d %s/%s", len(got), seq, app, id)
		}
		got = append(got, seen{in.ActionType, in.Status, in.LastUpdatedTimestamp,
			lease.LastRenewalTimestamp, lease.EvictionTimestamp})
	})
	want := []seen{
		{eureka.ActionAdded, eureka.StatusUp, t0, t0, 0},
		{eureka.ActionModified, eureka.StatusOutOfService, t2, t2, 0},
		{eureka.ActionDeleted, eureka.StatusOutOfService, t3, t2, t3},
	}
	if first != 0 || !slices.Equal(got, want) {
		t.Fatalf("delta entries (first %d):\n got %+v\nwant %+v", first, got, want)
	}
	// A cursor takes the entries from its place, and nothing past the end.
	var seqs []uint64
	r.DeltaSince(2, func(seq uint64, _, _ string, _ *eureka.InstanceInfo, _ eureka.LeaseInfo) { seqs = append(seqs, seq) })
	r.DeltaSince(9, func(seq uint64, _, _ string, _ *eureka.InstanceInfo, _ eureka.LeaseInfo) { seqs = append(seqs, seq) })
	if !slices.Equal(seqs, []uint64{2}) {
		t.Fatalf("entries from seq 2 and 9: %v", seqs)
	}
}

// TestChangesWakesEveryWatcher: a channel from Changes is closed by the
// next visible change; changes nobody watches replace no channel; and
// readers that take the channel before reading the version, racing a
// stream of changes, always see the last one.
func TestChangesWakesEveryWatcher(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	ch := r.Changes()
	r.Register(inst("A", "i1", eureka.StatusUp), false)
	select {
	case <-ch:
	default:
		t.Fatal("a change did not close the channel taken before it")
	}
	cur := r.changes.Load()
	r.Register(inst("A", "i2", eureka.StatusUp), false)
	if r.changes.Load() != cur {
		t.Error("a change nobody watched replaced the channel")
	}
	ch = r.Changes()
	r.Cancel("A", "i2", false)
	select {
	case <-ch:
	default:
		t.Fatal("a change did not close the channel taken after unwatched ones")
	}

	const changes = 2000
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ch := r.Changes()
				if r.Version() >= changes {
					return
				}
				select {
				case <-ch:
				case <-time.After(10 * time.Second):
					t.Errorf("watcher %d missed a change: version %d", w, r.Version())
					return
				}
			}
		}()
	}
	for r.Version() < changes {
		r.Register(inst("B", fmt.Sprint("b", r.Version()%7), eureka.StatusUp), false)
	}
	wg.Wait()
}
