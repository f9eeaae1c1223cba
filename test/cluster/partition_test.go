package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/faultproxy"
)

// Two nodes replicate to each other through fault-injecting proxies. A
// blackholed link (requests time out) and a dropped one (connections
// refused) both heal: what was written on either side during the fault
// reaches the other side afterwards, and GET status shows the peer
// unavailable while it lasts.
func TestPartitionHeals(t *testing.T) {
	addrA, addrB := eurekadtest.FreeAddr(t), eurekadtest.FreeAddr(t)
	toB, err := faultproxy.New(addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer toB.Close()
	toA, err := faultproxy.New(addrA)
	if err != nil {
		t.Fatal(err)
	}
	defer toA.Close()
	env := []string{"EUREKAD_CLUSTER_PEER_TIMEOUT=300ms", "EUREKAD_CLUSTER_MAX_BACKOFF=1s"}
	// Each node reaches the other through its proxy.
	a := startNode(t, addrA, peerURLs("http", []string{addrA, toB.Addr()}), env...)
	b := startNode(t, addrB, peerURLs("http", []string{toA.Addr(), addrB}), env...)
	both := []*node{a, b}

	want := map[string]bool{"p-0": true}
	if err := a.c.Register(bg, instance("ORDERS", "p-0")); err != nil {
		t.Fatal(err)
	}
	waitAll(t, both, 3*time.Second, "before the partition", sameIDs(want))

	for _, fault := range []struct {
		name string
		mode faultproxy.Mode
	}{{"blackhole", faultproxy.Blackhole}, {"drop", faultproxy.Drop}} {
		toA.SetMode(fault.mode)
		toB.SetMode(fault.mode)
		idA, idB := fault.name+"-a", fault.name+"-b"
		if err := a.c.Register(bg, instance("ORDERS", idA)); err != nil {
			t.Fatal(err)
		}
		if err := b.c.Register(bg, instance("ORDERS", idB)); err != nil {
			t.Fatal(err)
		}
		want[idA], want[idB] = true, true
		eurekadtest.Eventually(t, 5*time.Second, fault.name+": A sees B unavailable", func() error {
			if s := get(t, a.Base+"status"); !strings.Contains(s, `"unavailable-replicas":"`+peerURL("http", toB.Addr())+`,"`) {
				return fmt.Errorf("status: %s", s)
			}
			return nil
		})
		if got, _ := ids(b, "ORDERS"); got[idA] {
			t.Fatalf("%s: the write on A crossed the partition", fault.name)
		}
		toA.SetMode(faultproxy.Pass)
		toB.SetMode(faultproxy.Pass)
		waitAll(t, both, 10*time.Second, fault.name+": healed", sameIDs(want))
	}
}
