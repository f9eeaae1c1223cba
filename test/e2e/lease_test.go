package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestLeaseExpiry checks eviction end to end with short settings: an
// instance that stops heartbeating is evicted about durationInSecs after
// its last renew (eurekad's default, correct lease expiry; design §2),
// shows as DELETED in the delta, and one that keeps renewing stays.
func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	s := startServer(t,
		"EUREKAD_REGISTRY_EVICTION_INTERVAL=100ms",
		"EUREKAD_REGISTRY_ENABLE_SELF_PRESERVATION=false")
	register := func(id string, duration int) {
		body := fmt.Sprintf(`{"instance":{"instanceId":%q,"hostName":"%s.e2e.local","app":"SHORT","ipAddr":"10.0.8.1","status":"UP",`+
			`"port":{"$":8080,"@enabled":"true"},"dataCenterInfo":{"@class":%q,"name":"MyOwn"},`+
			`"leaseInfo":{"renewalIntervalInSecs":1,"durationInSecs":%d}}}`, id, id, classDefaultDC, duration)
		if r := do(t, http.MethodPost, s.Base+"apps/SHORT", []byte(body), "Content-Type", "application/json"); r.Status != http.StatusNoContent {
			t.Fatalf("register %s: %d %q", id, r.Status, r.Body)
		}
	}
	register("silent", 1)
	// A longer lease leaves slack for a slow machine between renewals.
	register("alive", 3)
	registered := time.Now()
	in := mustGetInstance(t, s.Base, "SHORT", "silent")
	if num(in, "leaseInfo", "durationInSecs") != 1 || num(in, "leaseInfo", "renewalIntervalInSecs") != 1 {
		t.Errorf("leaseInfo %v, want the registrant's 1 s / 1 s (§3.2)", in["leaseInfo"])
	}

	var gone time.Duration
	deadline := time.Now().Add(10 * time.Second)
	for {
		// "alive" heartbeats every 200 ms, well inside its 3 s lease.
		expectEmpty200(t, "renew alive", renew(t, s.Base, "SHORT", "alive", ""))
		if _, status := getInstance(t, s.Base, "SHORT", "silent"); status == http.StatusNotFound {
			gone = time.Since(registered)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance without heartbeats still registered %v after registering with a 1 s lease", time.Since(registered))
		}
		time.Sleep(200 * time.Millisecond) // alive's heartbeat interval: the behaviour under test
	}
	// Expiry is "now > lastUpdate + duration", so never before 1 s.
	if gone < time.Second {
		t.Errorf("silent instance gone after %v, before its 1 s lease ran out", gone)
	}
	waitApps(t, "delta shows the eviction as DELETED", s.Base+"apps/delta", func(_ *response, p *appsPayload) error {
		in := p.find("SHORT", "silent")
		if in == nil || str(in, "actionType") != "DELETED" {
			return fmt.Errorf("silent: %v, want actionType DELETED", in)
		}
		return nil
	})
	expectEmpty200(t, "renew alive", renew(t, s.Base, "SHORT", "alive", ""))
	expectStatus(t, "renew of the evicted instance", renew(t, s.Base, "SHORT", "silent", ""), http.StatusNotFound)
	waitApps(t, "full registry keeps only the renewing instance", s.Base+"apps/", func(_ *response, p *appsPayload) error {
		if p.instanceCount() != 1 || p.find("SHORT", "alive") == nil {
			return fmt.Errorf("%d instances, want only alive", p.instanceCount())
		}
		return nil
	})
}

// TestDeltaDisabled checks http.disable_delta: apps/delta answers 403
// with an empty body (§2.8), which makes Java clients fall back to full
// fetches, while the full registry keeps working.
func TestDeltaDisabled(t *testing.T) {
	t.Parallel()
	s := startServer(t, "EUREKAD_HTTP_DISABLE_DELTA=true")
	for _, base := range []string{s.Base, s.BaseV2} {
		r := do(t, http.MethodGet, base+"apps/delta", nil, jsonHeaders...)
		if r.Status != http.StatusForbidden || len(r.Body) != 0 {
			t.Errorf("GET %sapps/delta with delta disabled: %d %q, want 403 with an empty body", base, r.Status, r.Body)
		}
	}
	if _, _, errs := getApps(t, s.Base+"apps/"); len(errs) > 0 {
		t.Errorf("GET apps/ with delta disabled: %v", errs)
	}
}

// TestLegacyLeaseTimestamps checks registry.legacy_lease_expiry: a renew
// shows lastRenewalTimestamp = renewal time + duration, as Eureka does
// (§3.2, §6.1).
func TestLegacyLeaseTimestamps(t *testing.T) {
	t.Parallel()
	s := startServer(t, "EUREKAD_REGISTRY_LEGACY_LEASE_EXPIRY=true")
	j := newJavaInstance("LEGACYLEASE", "10.0.9.1")
	registerSC(t, s.Base, j)
	hbStart := nowMillis()
	expectEmpty200(t, "renew", renew(t, s.Base, j.App, j.ID, ""))
	hbEnd := nowMillis()
	in := mustGetInstance(t, s.Base, j.App, j.ID)
	const duration = 90_000 // the registrant's durationInSecs, in ms
	if lr := num(in, "leaseInfo", "lastRenewalTimestamp"); lr < hbStart+duration || lr > hbEnd+duration {
		t.Errorf("legacy lease: lastRenewalTimestamp %d, want renewal time + 90 s in [%d, %d]", lr, hbStart+duration, hbEnd+duration)
	}
}

// TestReplicatedRenewReconciliation checks the peer side of §2.3: with
// x-netflix-discovery-replication: true, an older lastDirtyTimestamp gets
// 409 with the stored instance as the body, and a newer one gets 404 after
// storing the peer's overriddenstatus (§7.4), which the next renew applies.
func TestReplicatedRenewReconciliation(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	j := newJavaInstance("PEERED", "10.0.10.1")
	registerSC(t, s.Base, j)
	peer := []string{"x-netflix-discovery-replication", "true", "Accept", "application/json", "Content-Type", "application/json",
		"DiscoveryIdentity-Name", "DefaultServer", "DiscoveryIdentity-Version", "1.0", "User-Agent", "Java-EurekaClient-Replication"}
	url := s.BaseV2 + "apps/PEERED/" + j.ID

	r := do(t, http.MethodPut, fmt.Sprintf("%s?status=UP&lastDirtyTimestamp=%d&overriddenstatus=UNKNOWN", url, j.LastDirty-1000), nil, peer...)
	if r.Status != http.StatusConflict {
		t.Fatalf("replicated renew with an older lastDirtyTimestamp: status %d %q, want 409", r.Status, r.Body)
	}
	in, errs := parseInstanceDoc(r.Body)
	for _, e := range errs {
		t.Errorf("409 body: %v", e)
	}
	if in != nil && (str(in, "instanceId") != j.ID || strNum(in, "lastDirtyTimestamp") != j.LastDirty) {
		t.Errorf("409 body: instanceId %q lastDirtyTimestamp %q, want the stored %s / %d", str(in, "instanceId"), str(in, "lastDirtyTimestamp"), j.ID, j.LastDirty)
	}

	expectEmpty200(t, "replicated renew with the same lastDirtyTimestamp",
		do(t, http.MethodPut, fmt.Sprintf("%s?status=UP&lastDirtyTimestamp=%d&overriddenstatus=UNKNOWN", url, j.LastDirty), nil, peer...))

	r = do(t, http.MethodPut, fmt.Sprintf("%s?status=UP&lastDirtyTimestamp=%d&overriddenstatus=OUT_OF_SERVICE", url, j.LastDirty+1000), nil, peer...)
	expectStatus(t, "replicated renew with a newer lastDirtyTimestamp", r, http.StatusNotFound)
	// The next renew evaluates the rule chain; the stored override wins.
	expectEmpty200(t, "client renew", renew(t, s.Base, "PEERED", j.ID, ""))
	if in := mustGetInstance(t, s.Base, "PEERED", j.ID); str(in, "status") != "OUT_OF_SERVICE" {
		t.Errorf("after a renew under the replicated override: status %q, want OUT_OF_SERVICE (§6.4)", str(in, "status"))
	}
}
