package replication

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// javaHeartbeat is a replicated heartbeat as a Java peer's batch carries
// it (§8.4): its instance's lastDirtyTimestamp and status, and the
// override it holds.
const javaHeartbeat = `{"replicationList":[{"appName":"PAYMENTS","id":"i-1","lastDirtyTimestamp":%d,` +
	`"overriddenStatus":"%s","status":"OUT_OF_SERVICE","action":"Heartbeat"}]}`

func receiverWith(t *testing.T, dirty int64) *registry.Registry {
	t.Helper()
	reg := registry.New(nil)
	reg.Register(&eureka.InstanceInfo{
		InstanceID: "i-1", HostName: "h", IPAddr: "10.0.0.1", App: "PAYMENTS", Status: eureka.StatusUp, LastDirtyTimestamp: dirty,
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
	}, true)
	return reg
}

func applyJSON(t *testing.T, reg *registry.Registry, body string) eureka.ReplicationResult {
	t.Helper()
	items, err := eureka.DecodeReplicationListJSON([]byte(body))
	if err != nil || len(items) != 1 {
		t.Fatalf("decode %s: %v", body, err)
	}
	return applyBatch(reg, items)[0]
}

// applyBatch applies a received batch through the write path, as a
// receiving node does.
func applyBatch(reg *registry.Registry, items []eureka.ReplicationItem) []eureka.ReplicationResult {
	res, err := node.New(reg, node.Options{}).ApplyBatch(context.Background(), node.Caller{}, items)
	if err != nil {
		panic(err) // no store: a batch cannot fail as a whole
	}
	return res
}

// A replicated heartbeat in Java's shape repairs the receiver's override
// as Java's InstanceResource.renewLease does: when the sender's copy is
// newer, the receiver stores the override the heartbeat carries and
// answers 404, so the sender follows with a Register. With equal
// timestamps it answers 200 and stores nothing, as Java does: the
// receiver cannot tell an override it missed from one removed since.
func TestHeartbeatCarriesTheOverrideInJavaShape(t *testing.T) {
	for _, c := range []struct {
		name         string
		sender       int64 // the heartbeat's lastDirtyTimestamp; the receiver holds 1000
		overridden   eureka.Status
		code         int
		wantOverride eureka.Status
	}{
		{"sender newer", 2000, eureka.StatusOutOfService, http.StatusNotFound, eureka.StatusOutOfService},
		{"same copy", 1000, eureka.StatusOutOfService, http.StatusOK, eureka.StatusUnknown},
		{"sender newer without override", 2000, eureka.StatusUnknown, http.StatusNotFound, eureka.StatusUnknown},
		{"receiver newer", 500, eureka.StatusOutOfService, http.StatusConflict, eureka.StatusUnknown},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := receiverWith(t, 1000)
			res := applyJSON(t, reg, fmt.Sprintf(javaHeartbeat, c.sender, c.overridden))
			if res.StatusCode != c.code {
				t.Errorf("status %d, want %d", res.StatusCode, c.code)
			}
			if c.code == http.StatusConflict && (res.Entity == nil || res.Entity.LastDirtyTimestamp != 1000) {
				t.Errorf("409 without the receiver's copy: %+v", res.Entity)
			}
			if got := reg.Instance("PAYMENTS", "i-1").OverriddenStatus; got != c.wantOverride {
				t.Errorf("override %s, want %s", got, c.wantOverride)
			}
		})
	}
}

// Between eurekad nodes the repair runs the whole way: the sender's
// heartbeat carries its status, override and lastDirtyTimestamp; the
// receiver holding an older copy without the override stores it and
// answers 404; the Register that follows brings the newer copy, and the
// receiver serves the instance OUT_OF_SERVICE.
func TestHeartbeatRepairsAPeerMissingTheOverride(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		peerReg := receiverWith(t, 1000)
		reg := receiverWith(t, 2000)
		if !reg.SetStatus("PAYMENTS", "i-1", eureka.StatusOutOfService, 0, false) {
			t.Fatal("no instance to override")
		}
		f := &fakePeer{reg: peerReg}
		p := runFakePeer(t, reg, f, nil)
		time.Sleep(time.Second)

		// What the heartbeat carries.
		hb := p.items(nil, []*task{{key: taskKey{action: eureka.ReplicateHeartbeat, app: "PAYMENTS", id: "i-1"}}})
		if len(hb) != 1 || hb[0].OverriddenStatus != eureka.StatusOutOfService || hb[0].Status != eureka.StatusOutOfService ||
			hb[0].LastDirtyTimestamp != 2000 || hb[0].Instance != nil {
			t.Fatalf("heartbeat item %+v", hb)
		}

		p.enqueue(eureka.ReplicateHeartbeat, "PAYMENTS", "i-1", nanotime())
		time.Sleep(time.Second)
		got := peerReg.Instance("PAYMENTS", "i-1")
		if got.OverriddenStatus != eureka.StatusOutOfService || got.Status != eureka.StatusOutOfService || got.LastDirtyTimestamp != 2000 {
			t.Errorf("the peer holds %s/%s dirty %d, want OUT_OF_SERVICE/OUT_OF_SERVICE dirty 2000", got.Status, got.OverriddenStatus, got.LastDirtyTimestamp)
		}
		if b := f.sent(); len(b) != 2 {
			t.Errorf("batches %+v, want the heartbeat then the Register its 404 asked for", b)
		}
	})
}
