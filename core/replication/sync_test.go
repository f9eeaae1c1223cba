package replication_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/internal/faultproxy"
	"github.com/eurekad/eurekad/sdk/eureka"
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

// A node that restarts without its tombstones and takes, at start-up
// sync, an instance from a peer that missed its cancel must not bring it
// back through anti-entropy: the copy is an old change, older than the
// cancel a third node remembers. Stamped "now", it won over the
// tombstone and the instance came back on every node.
func TestSyncedCopyDoesNotOutliveACancel(t *testing.T) {
	stale, staleURL := eurekadPeer(t) // missed the cancel
	old := inst("i1")
	old.LastDirtyTimestamp = time.Now().Add(-time.Minute).UnixMilli()
	stale.Register(old, false)

	remembers := registry.New(nil) // took the cancel
	remembers.Register(stale.Instance("ORDERS", "i1"), true)
	remembers.Cancel("ORDERS", "i1", false)

	restarted := registry.New(nil)
	o := replication.DefaultOptions()
	o.Peers = []string{staleURL}
	cl, err := replication.New(restarted, &o)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := cl.Sync(context.Background()); err != nil || n != 1 {
		t.Fatalf("Sync = %d, %v; want 1 registered", n, err)
	}

	// One exchange, as anti-entropy makes it, both ways.
	apps := []string{"ORDERS"}
	toRemembers := restarted.PeerStates(apps)
	restarted.Merge(remembers.PeerStates(apps))
	remembers.Merge(toRemembers)
	if in := remembers.Instance("ORDERS", "i1"); in != nil {
		t.Errorf("the cancelled instance came back on the node that took the cancel: %+v", in)
	}
	if in := restarted.Instance("ORDERS", "i1"); in != nil {
		t.Errorf("the restarted node kept the cancelled instance: %+v", in)
	}
}

// The start-up sync takes a peer's registry up to cluster.sync_max_bytes,
// not the replication batches' limit, and refuses a larger one (a hostile
// or broken peer cannot make this node read without end).
func TestSyncMaxBytes(t *testing.T) {
	peerReg, peerURL := eurekadPeer(t)
	for i := range 50 {
		peerReg.Register(inst(fmt.Sprintf("i%02d", i)), false)
	}
	sync := func(limit int) (int, error) {
		o := replication.DefaultOptions()
		o.Peers = []string{peerURL}
		o.SyncRetries, o.SyncRetryWait = 1, 0
		o.SyncMaxBytes = limit
		cl, err := replication.New(registry.New(nil), &o)
		if err != nil {
			t.Fatal(err)
		}
		return cl.Sync(context.Background())
	}
	if n, err := sync(4 << 10); !errors.Is(err, replication.ErrNoPeerAnswered) || n != 0 {
		t.Fatalf("a registry over sync_max_bytes: Sync = %d, %v; want it refused", n, err)
	}
	if n, err := sync(replication.DefaultOptions().SyncMaxBytes); err != nil || n != 50 {
		t.Fatalf("Sync = %d, %v; want 50", n, err)
	}
}

// A registry of many applications, which the sync decodes on several
// goroutines, is adopted whole and in the same way: newer local copies
// stay, older ones are replaced, and the merger's instance limit holds.
func TestSyncManyApplications(t *testing.T) {
	peerReg, peerURL := eurekadPeer(t)
	const apps = 150
	for i := range apps {
		for _, id := range []string{"x", "y"} {
			in := inst(id)
			in.App = fmt.Sprintf("APP-%03d", i)
			in.LastDirtyTimestamp = 1000
			in.Metadata = map[string]string{"from": "peer"}
			peerReg.Register(in, false)
		}
	}
	local := func(app string, dirty int64) *eureka.InstanceInfo {
		in := inst("x")
		in.App, in.LastDirtyTimestamp = app, dirty
		in.Metadata = map[string]string{"from": "local"}
		return in
	}
	sync := func(reg *registry.Registry, m replication.Merger) int {
		o := replication.DefaultOptions()
		o.Peers = []string{peerURL}
		cl, err := replication.New(reg, &o)
		if err != nil {
			t.Fatal(err)
		}
		if m != nil {
			cl.SetMerger(m)
		}
		n, err := cl.Sync(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	reg := registry.New(nil)
	reg.Register(local("APP-007", 2000), false)
	reg.Register(local("APP-100", 500), false)
	if n := sync(reg, nil); n != 2*apps-1 {
		t.Fatalf("Sync registered %d, want %d", n, 2*apps-1)
	}
	for i := range apps {
		app := fmt.Sprintf("APP-%03d", i)
		for _, id := range []string{"x", "y"} {
			want := "peer"
			if app == "APP-007" && id == "x" {
				want = "local"
			}
			if in := reg.Instance(app, id); in == nil || in.Metadata["from"] != want {
				t.Fatalf("%s/%s: %+v, want the %s copy", app, id, in, want)
			}
		}
	}

	const limit = 101
	reg = registry.New(nil)
	if n := sync(reg, node.New(reg, node.Options{MaxInstances: limit})); n != limit || reg.Size() != limit {
		t.Errorf("with a limit of %d instances: Sync registered %d, the registry holds %d", limit, n, reg.Size())
	}
}

// A peer's registry passes the input rules every write passes: the sync
// leaves out what they refuse (a field over its limit, an application
// name no registration may have, an unknown data center), with or without
// a node as the merger, and adopts the rest.
func TestSyncLeavesOutWhatTheRulesRefuse(t *testing.T) {
	huge := strings.Repeat("h", 64<<10)
	doc := `{"applications":{"versions__delta":"1","apps__hashcode":"UP_4_","application":[
		{"name":"ORDERS","instance":[
			{"instanceId":"good","hostName":"h","app":"ORDERS","ipAddr":"10.0.0.1","status":"UP","dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}},
			{"instanceId":"huge-host","hostName":"` + huge + `","app":"ORDERS","ipAddr":"10.0.0.1","status":"UP","dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}]},
		{"name":"BAD/APP","instance":[
			{"instanceId":"slash","hostName":"h","app":"BAD/APP","ipAddr":"10.0.0.1","status":"UP","dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}]}]}}`
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, doc)
	}))
	t.Cleanup(peer.Close)
	for _, withNode := range []bool{false, true} {
		reg := registry.New(nil)
		o := replication.DefaultOptions()
		o.Peers = []string{peer.URL + "/eureka/"}
		o.SyncRetries, o.SyncRetryWait = 1, 0
		cl, err := replication.New(reg, &o)
		if err != nil {
			t.Fatal(err)
		}
		if withNode {
			cl.SetMerger(node.New(reg, node.Options{}))
		}
		n, err := cl.Sync(context.Background())
		if err != nil || n != 1 {
			t.Errorf("merger %v: Sync = %d, %v; want the one valid instance", withNode, n, err)
		}
		if reg.Size() != 1 || reg.Instance("ORDERS", "good") == nil {
			t.Errorf("merger %v: the registry holds %d instances, want ORDERS/good alone", withNode, reg.Size())
		}
	}
}

// A peer whose answer breaks off (cut mid-document) fails the sync with
// that peer after the applications before the cut were adopted; the next
// peer's answer is then taken under the usual rule, so a newer copy there
// replaces what the broken answer gave, and the sync succeeds.
func TestSyncAfterABrokenAnswer(t *testing.T) {
	instance := func(id string, dirty int, from string) string {
		return fmt.Sprintf(`{"instanceId":%q,"hostName":"h","app":"ORDERS","ipAddr":"10.0.0.1","status":"UP","lastDirtyTimestamp":"%d","metadata":{"from":%q},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}`, id, dirty, from)
	}
	full := `{"applications":{"versions__delta":"1","apps__hashcode":"UP_2_","application":[{"name":"ORDERS","instance":[` +
		instance("a", 2000, "whole") + `,` + instance("b", 2000, "whole") + `]}]}}`
	cut := `{"applications":{"versions__delta":"1","apps__hashcode":"UP_3_","application":[{"name":"ORDERS","instance":[` +
		instance("a", 1000, "cut") + `]},{"name":"PAYMENTS","instance":[{"instanceId":"p"`
	serve := func(doc string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, doc)
		}))
		t.Cleanup(s.Close)
		return s.URL + "/eureka/"
	}
	reg := registry.New(nil)
	o := replication.DefaultOptions()
	o.Peers = []string{serve(cut), serve(full)}
	o.SyncRetries, o.SyncRetryWait = 1, 0
	cl, err := replication.New(reg, &o)
	if err != nil {
		t.Fatal(err)
	}
	cl.SetMerger(node.New(reg, node.Options{}))
	if _, err := cl.Sync(context.Background()); err != nil {
		t.Fatalf("Sync = %v; want the second peer's answer taken", err)
	}
	for _, id := range []string{"a", "b"} {
		if in := reg.Instance("ORDERS", id); in == nil || in.Metadata["from"] != "whole" {
			t.Errorf("ORDERS/%s: %+v, want the whole answer's newer copy", id, in)
		}
	}
	if reg.Size() != 2 {
		t.Errorf("the registry holds %d instances, want 2 (nothing after the cut)", reg.Size())
	}
}
