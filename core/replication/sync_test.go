package replication_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/internal/faultproxy"
)

// Sync takes from the first peer that answers what this node lacks or
// holds older, as replications, and leaves newer local copies alone.
func TestSyncFromPeers(t *testing.T) {
	peerReg, peerURL := eurekadPeer(t)
	for _, id := range []string{"a", "b", "c"} {
		in := inst(id)
		in.LastDirtyTimestamp = 1000
		in.Metadata = map[string]string{"from": "peer"}
		peerReg.Register(in, false)
	}
	// A dead peer first: Sync moves on to the next.
	u, _ := url.Parse(peerURL)
	dead, err := faultproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	dead.SetMode(faultproxy.Drop)

	reg := registry.New(nil)
	newer := inst("b")
	newer.LastDirtyTimestamp = 2000
	newer.Metadata = map[string]string{"from": "local"}
	reg.Register(newer, false)

	o := replication.DefaultOptions()
	o.Peers = []string{"http://" + dead.Addr() + "/eureka/", peerURL}
	cl, err := replication.New(reg, &o)
	if err != nil {
		t.Fatal(err)
	}
	n, err := cl.Sync(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("Sync = %d, %v; want 2 registered", n, err)
	}
	for id, from := range map[string]string{"a": "peer", "b": "local", "c": "peer"} {
		in := reg.Instance("ORDERS", id)
		if in == nil || in.Metadata["from"] != from {
			t.Errorf("%s: %+v, want the %s copy", id, in, from)
		}
	}

	// No peer answers: Sync gives up after its rounds with a clear error.
	dead2, _ := faultproxy.New(u.Host)
	defer dead2.Close()
	dead2.SetMode(faultproxy.Drop)
	o.Peers = []string{"http://" + dead2.Addr() + "/eureka/"}
	o.SyncRetries, o.SyncRetryWait = 2, 0
	cl, _ = replication.New(registry.New(nil), &o)
	if _, err := cl.Sync(context.Background()); !errors.Is(err, replication.ErrNoPeerAnswered) {
		t.Errorf("Sync with no peer up = %v", err)
	}
}
