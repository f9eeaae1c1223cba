package cluster

import (
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// Each node evicts on its own: A evicts an instance whose lease ran out
// there, and B, where the instance kept renewing, keeps it; the eviction
// is not replicated as a cancel.
func TestEvictionsAreNotReplicated(t *testing.T) {
	nodes := startCluster(t, freeAddrs(t, 2),
		"EUREKAD_REGISTRY_EVICTION_INTERVAL=200ms", "EUREKAD_REGISTRY_ENABLE_SELF_PRESERVATION=false")
	a, b := nodes[0], nodes[1]
	in := instance("ORDERS", "short-1")
	in.LeaseInfo = &eureka.LeaseInfo{RenewalIntervalInSecs: 1, DurationInSecs: 2}
	if err := a.c.Register(bg, in); err != nil {
		t.Fatal(err)
	}
	waitAll(t, []*node{b}, 3*time.Second, "registered on B", func(n *node) error {
		_, err := n.c.Instance(bg, "ORDERS", "short-1")
		return err
	})
	// Heartbeats reach B only, marked as a peer's so B does not forward
	// them to A.
	stop := time.Now().Add(15 * time.Second)
	evicted := false
	for !evicted && time.Now().Before(stop) {
		if r, _ := peerRequest(t, "PUT", b.Base+"apps/ORDERS/short-1", nil); r.StatusCode != 200 {
			t.Fatalf("heartbeat on B: %d", r.StatusCode)
		}
		listed, err := ids(a, "ORDERS")
		if err != nil {
			t.Fatal(err)
		}
		evicted = !listed["short-1"]
		time.Sleep(300 * time.Millisecond) // the heartbeat interval that keeps B's lease alive
	}
	if !evicted {
		t.Fatal("A did not evict the instance whose lease ran out there")
	}
	// An eviction is not replicated: once a registration on A made after
	// it has reached B (A replicates in order), B, still renewed, has it.
	peerRequest(t, "PUT", b.Base+"apps/ORDERS/short-1", nil)
	replicatedAfter(t, a, b, "after-eviction")
	if _, err := b.c.Instance(bg, "ORDERS", "short-1"); err != nil {
		t.Errorf("B lost the instance after A evicted it: %v", err)
	}
}
