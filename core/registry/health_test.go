package registry

import (
	"testing"

	"github.com/eurekad/eurekad/sdk/eureka"
)

func TestSetHealth(t *testing.T) {
	r, _, s := newEventRegistry(t, nil)
	r.Register(inst("ORDERS", "o1", eureka.StatusUp), false)
	s.take()
	v := r.Version()

	if changed, ok := r.SetHealth("ORDERS", "o1", true, "HTTP 500"); !changed || !ok {
		t.Fatalf("SetHealth failing = %v, %v", changed, ok)
	}
	in := mustGet(t, r, "ORDERS", "o1")
	if in.Status != eureka.StatusDown || in.Metadata[HealthKey] != "down" || in.Metadata[HealthDetailKey] != "HTTP 500" || in.Metadata["zone"] != "zone-a" {
		t.Fatalf("after a failing check: %s %v", in.Status, in.Metadata)
	}
	if r.Version() == v || in.ActionType != eureka.ActionModified {
		t.Error("a health change is no visible change")
	}
	ev := expectEvents(t, s, "status-changed ORDERS/o1")
	if ev[0].Instance.Metadata[HealthDetailKey] != "HTTP 500" {
		t.Errorf("the event does not carry the reason: %v", ev[0].Instance.Metadata)
	}
	if changed, _ := r.SetHealth("ORDERS", "o1", true, "timeout"); changed {
		t.Error("a second failing verdict changed the instance")
	}

	// The client's re-registration (UP, its own metadata) keeps the verdict.
	r.Register(inst("ORDERS", "o1", eureka.StatusUp), false)
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusDown || in.Metadata[HealthKey] != "down" {
		t.Fatalf("re-registered while failing: %s %v", in.Status, in.Metadata)
	}
	// A metadata update too.
	r.UpdateMetadata("ORDERS", "o1", map[string]string{"team": "a"})
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusDown || in.Metadata[HealthKey] != "down" || in.Metadata["team"] != "a" {
		t.Fatalf("metadata update while failing: %s %v", in.Status, in.Metadata)
	}
	s.take()

	if changed, _ := r.SetHealth("ORDERS", "o1", false, ""); !changed {
		t.Fatal("passing did not change the instance")
	}
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusUp || HealthFailing(in) || in.Metadata[HealthDetailKey] != "" {
		t.Fatalf("after passing: %s %v", in.Status, in.Metadata)
	}
	expectEvents(t, s, "status-changed ORDERS/o1")
	if _, ok := r.SetHealth("ORDERS", "nope", true, "x"); ok {
		t.Error("SetHealth of an unknown instance")
	}
}

// An operator's override wins: the checker notes its verdict and never
// changes the status, before or after the override.
func TestHealthOverrideWins(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("ORDERS", "o1", eureka.StatusUp), false)
	r.SetStatus("ORDERS", "o1", eureka.StatusOutOfService, 0, false)
	r.SetHealth("ORDERS", "o1", true, "HTTP 500")
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusOutOfService || in.Metadata[HealthKey] != "failing" {
		t.Fatalf("failing under an override: %s %v", in.Status, in.Metadata)
	}
	r.SetHealth("ORDERS", "o1", false, "")
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusOutOfService || HealthFailing(in) {
		t.Fatalf("passing under an override: %s %v", in.Status, in.Metadata)
	}
	// Taken DOWN first, then overridden: passing does not undo the override.
	r.DeleteStatusOverride("ORDERS", "o1", eureka.StatusUp, 0, false)
	r.SetHealth("ORDERS", "o1", true, "HTTP 500")
	r.SetStatus("ORDERS", "o1", eureka.StatusOutOfService, 0, false)
	r.SetHealth("ORDERS", "o1", false, "")
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusOutOfService {
		t.Fatalf("passing after an override: %s", in.Status)
	}
}

// A client's own DOWN or STARTING is its own: a failing check notes its
// verdict, a passing one does not turn the instance UP.
func TestHealthRespectsClientStatus(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("ORDERS", "o1", eureka.StatusStarting), false)
	r.SetHealth("ORDERS", "o1", true, "refused")
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusStarting || in.Metadata[HealthKey] != "failing" {
		t.Fatalf("failing while STARTING: %s %v", in.Status, in.Metadata)
	}
	// The client comes UP while the check still fails: DOWN.
	r.Register(inst("ORDERS", "o1", eureka.StatusUp), false)
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusDown || in.Metadata[HealthKey] != "down" {
		t.Fatalf("UP while failing: %s %v", in.Status, in.Metadata)
	}
	// The client reports DOWN itself: passing leaves it DOWN.
	r.Register(inst("ORDERS", "o1", eureka.StatusDown), false)
	r.SetHealth("ORDERS", "o1", false, "")
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusDown || HealthFailing(in) {
		t.Fatalf("client DOWN after passing: %s %v", in.Status, in.Metadata)
	}
}

// A client cannot claim the verdict; a peer's copy carries its prober's.
func TestHealthKeysAreServerOwned(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	claim := inst("ORDERS", "o1", eureka.StatusUp)
	claim.Metadata = map[string]string{HealthKey: "down", HealthDetailKey: "forged"}
	r.Register(claim, false)
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusUp || HealthFailing(in) || in.Metadata[HealthDetailKey] != "" {
		t.Fatalf("a client's claim was kept: %s %v", in.Status, in.Metadata)
	}
	// Nor by a metadata update: neither set a verdict...
	r.UpdateMetadata("ORDERS", "o1", map[string]string{HealthKey: "down", HealthDetailKey: "forged"})
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusUp || HealthFailing(in) || in.Metadata[HealthDetailKey] != "" {
		t.Fatalf("a client's claim by a metadata update was kept: %s %v", in.Status, in.Metadata)
	}
	// ...nor clear the checker's.
	r.SetHealth("ORDERS", "o1", true, "HTTP 500")
	r.UpdateMetadata("ORDERS", "o1", map[string]string{HealthKey: "", HealthDetailKey: ""})
	if in := mustGet(t, r, "ORDERS", "o1"); in.Status != eureka.StatusDown || in.Metadata[HealthKey] != "down" || in.Metadata[HealthDetailKey] != "HTTP 500" {
		t.Fatalf("a metadata update cleared the verdict: %s %v", in.Status, in.Metadata)
	}
	peer := inst("ORDERS", "o2", eureka.StatusDown)
	peer.Metadata = map[string]string{HealthKey: "down", HealthDetailKey: "HTTP 500"}
	r.Register(peer, true)
	if in := mustGet(t, r, "ORDERS", "o2"); in.Status != eureka.StatusDown || in.Metadata[HealthKey] != "down" {
		t.Fatalf("a peer's verdict was lost: %s %v", in.Status, in.Metadata)
	}
	// ...and this node's prober can lift it.
	r.SetHealth("ORDERS", "o2", false, "")
	if in := mustGet(t, r, "ORDERS", "o2"); in.Status != eureka.StatusUp {
		t.Fatalf("a peer's DOWN was not lifted: %s", in.Status)
	}
}

func TestStoredInstances(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	r.Register(inst("ORDERS", "o1", eureka.StatusUp), false)
	r.Register(inst("ORDERS", "o2", eureka.StatusUp), false)
	r.Register(inst("BILLING", "b1", eureka.StatusUp), false)
	versions := map[string]uint64{}
	got := r.StoredInstances(func(name string, v uint64) bool {
		versions[name] = v
		return name == "ORDERS"
	})
	if len(got) != 1 || len(got["ORDERS"]) != 2 || len(versions) != 2 || versions["ORDERS"] != r.AppVersion("ORDERS") {
		t.Errorf("StoredInstances = %v, versions %v", got, versions)
	}
	if got["ORDERS"][0] != r.lookup("ORDERS", got["ORDERS"][0].ID()).instance.Load() {
		t.Error("not the stored copy")
	}
}

// A peer's copy that brings a new verdict is published as the prober
// published it: a MODIFIED delta entry and a status change.
func TestReplicatedVerdictIsAStatusChange(t *testing.T) {
	r, _, s := newEventRegistry(t, nil)
	r.Register(inst("ORDERS", "o1", eureka.StatusUp), false)
	s.take()
	down := inst("ORDERS", "o1", eureka.StatusDown)
	down.Metadata = map[string]string{HealthKey: "down", HealthDetailKey: "HTTP 500"}
	r.Register(down, true)
	expectEvents(t, s, "status-changed ORDERS/o1 replicated")
	if in := mustGet(t, r, "ORDERS", "o1"); in.ActionType != eureka.ActionModified || in.Status != eureka.StatusDown {
		t.Errorf("after the peer's verdict: %s %s", in.ActionType, in.Status)
	}
	// The same copy again, and a plain re-registration: registrations.
	r.Register(down, true)
	expectEvents(t, s, "registered ORDERS/o1 replicated")
}
