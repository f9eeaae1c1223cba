package cluster

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// The sender's side of the lastDirtyTimestamp rules, end to end (§8.5):
// a heartbeat the peer answers 404 makes the sender register the instance
// there, and one it answers 409 makes the sender adopt the peer's newer
// copy with its override.
func TestConflictPaths(t *testing.T) {
	// No start-up sync: a node that starts late (or retries its sync)
	// would copy X from the other, which is not the path under test.
	// The paths under test are the replication queue's: anti-entropy,
	// which would repair B's copy on A by itself (entropy_test.go), is off.
	nodes := startCluster(t, freeAddrs(t, 2), "EUREKAD_CLUSTER_SYNC_RETRIES=0", "EUREKAD_CLUSTER_ANTI_ENTROPY_INTERVAL=0")
	a, b := nodes[0], nodes[1]

	// 404 → Register: A learns X from a "peer" (replication header), so
	// B never hears of it. A client heartbeat on A is replicated; B does
	// not know X, answers 404, and A sends B the registration.
	x := instance("ORDERS", "x-1")
	x.LastDirtyTimestamp = time.Now().UnixMilli()
	if r, _ := peerRequest(t, "POST", a.Base+"apps/ORDERS", eureka.AppendInstanceJSONWrapped(nil, x)); r.StatusCode != 204 {
		t.Fatalf("replicated register on A: %d", r.StatusCode)
	}
	// A replicates to B in order: once a client's registration on A after
	// X has reached B, a replication of X would have too.
	replicatedAfter(t, a, b, "marker-1")
	if _, err := b.c.Instance(bg, "ORDERS", "x-1"); err == nil {
		t.Fatal("a replicated register was replicated again")
	}
	if err := a.c.Renew(bg, "ORDERS", "x-1", 0); err != nil {
		t.Fatal(err)
	}
	waitAll(t, []*node{b}, 5*time.Second, "heartbeat 404 → register on B", func(n *node) error {
		got, err := n.c.Instance(bg, "ORDERS", "x-1")
		if err == nil && got.LastDirtyTimestamp != x.LastDirtyTimestamp {
			err = fmt.Errorf("B's copy has lastDirty %d, want %d", got.LastDirtyTimestamp, x.LastDirtyTimestamp)
		}
		return err
	})

	// 409 → adopt: B gets a newer copy of X from a "peer" (metadata
	// changed, dirty later) and an override from a "peer", neither
	// forwarded to A. A's next heartbeat carries A's older lastDirty; B
	// answers 409 with its copy, which A takes with the override.
	newer := x.Clone()
	newer.LastDirtyTimestamp = x.LastDirtyTimestamp + 1000
	newer.Metadata = map[string]string{"zone": "zone-b", "version": "7"}
	if r, _ := peerRequest(t, "POST", b.Base+"apps/ORDERS", eureka.AppendInstanceJSONWrapped(nil, newer)); r.StatusCode != 204 {
		t.Fatalf("replicated register on B: %d", r.StatusCode)
	}
	dirty := strconv.FormatInt(newer.LastDirtyTimestamp+1000, 10)
	if r, _ := peerRequest(t, "PUT", b.Base+"apps/ORDERS/x-1/status?value=OUT_OF_SERVICE&lastDirtyTimestamp="+dirty, nil); r.StatusCode != 200 {
		t.Fatalf("replicated status on B: %d", r.StatusCode)
	}
	replicatedAfter(t, b, a, "marker-2")
	if got, _ := a.c.Instance(bg, "ORDERS", "x-1"); got == nil || got.Metadata["version"] == "7" {
		t.Fatal("B forwarded replicated writes to A")
	}
	if err := a.c.Renew(bg, "ORDERS", "x-1", 0); err != nil {
		t.Fatal(err)
	}
	waitAll(t, []*node{a}, 5*time.Second, "heartbeat 409 → A adopts B's copy", func(n *node) error {
		got, err := n.c.Instance(bg, "ORDERS", "x-1")
		if err != nil {
			return err
		}
		if got.Metadata["version"] != "7" || got.Status != eureka.StatusOutOfService ||
			got.OverriddenStatus != eureka.StatusOutOfService || strconv.FormatInt(got.LastDirtyTimestamp, 10) != dirty {
			return fmt.Errorf("A's copy: status %s override %s dirty %d metadata %v", got.Status, got.OverriddenStatus, got.LastDirtyTimestamp, got.Metadata)
		}
		return nil
	})
	if o := get(t, a.Base+"serverinfo/statusoverrides"); o != `{"x-1":"OUT_OF_SERVICE"}` {
		t.Errorf("A's overrides = %s", o)
	}
}

// replicatedAfter registers instance id of ORDERS on from as a client does
// and waits until to has it: from's replication to to is in order, so
// whatever from would have replicated before has arrived too.
func replicatedAfter(t *testing.T, from, to *node, id string) {
	t.Helper()
	if err := from.c.Register(bg, instance("ORDERS", id)); err != nil {
		t.Fatal(err)
	}
	waitAll(t, []*node{to}, 5*time.Second, id+" replicated", func(n *node) error {
		_, err := n.c.Instance(bg, "ORDERS", id)
		return err
	})
}
