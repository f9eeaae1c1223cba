package node

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

type fakeStore struct {
	mu              sync.Mutex
	begun, ended    int
	commits         int
	admitErr, cmErr error
	// down makes the durable answers fail, as a failing store does
	// under either policy.
	down    error
	durable int
}

func (f *fakeStore) Begin()       { f.mu.Lock(); f.begun++; f.mu.Unlock() }
func (f *fakeStore) End()         { f.mu.Lock(); f.ended++; f.mu.Unlock() }
func (f *fakeStore) Admit() error { return f.admitErr }
func (f *fakeStore) Commit(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commits++
	return f.cmErr
}
func (f *fakeStore) CommitHealing(ctx context.Context, _, _ string) error { return f.Commit(ctx) }
func (f *fakeStore) Status() persist.Status                               { return persist.Status{} }
func (f *fakeStore) AdmitDurable() error {
	if f.down != nil {
		return f.down
	}
	return f.admitErr
}
func (f *fakeStore) CommitDurable(ctx context.Context, _, _ string) error {
	f.mu.Lock()
	f.durable++
	f.mu.Unlock()
	if f.down != nil {
		return f.down
	}
	return f.Commit(ctx)
}

// fakeRepl records replications; concurrent writers call it, and tests
// read got once the writes returned.
type fakeRepl struct {
	mu  sync.Mutex
	got []string
}

func (r *fakeRepl) Replicate(a eureka.ReplicationAction, app, id string) {
	r.mu.Lock()
	r.got = append(r.got, string(a)+" "+app+"/"+id)
	r.mu.Unlock()
}

func instance(app, id string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{InstanceID: id, HostName: "h", App: app, IPAddr: "10.0.0.1", Status: eureka.StatusUp,
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}}
}

func newNode(t *testing.T, o Options) (*Node, *fakeStore, *fakeRepl) {
	t.Helper()
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	fs, fr := &fakeStore{}, &fakeRepl{}
	o.Store, o.Replicator = fs, fr
	return New(reg, o), fs, fr
}

var client = Caller{RemoteAddr: "10.0.0.1:5000"}

func TestRegisterChecksInEurekaOrderThenRules(t *testing.T) {
	n, fs, fr := newNode(t, Options{})
	ctx := context.Background()
	cases := []struct {
		mod   func(in *eureka.InstanceInfo)
		field string
		msg   string
	}{
		{func(in *eureka.InstanceInfo) { in.InstanceID, in.HostName = "", "" }, "", "Missing instanceId"},
		{func(in *eureka.InstanceInfo) { in.IPAddr = " " }, "", "Missing ip address"},
		{func(in *eureka.InstanceInfo) { in.App = "OTHER" }, "", "Mismatched appName"},
		{func(in *eureka.InstanceInfo) { in.DataCenterInfo = nil }, "", "Missing dataCenterInfo"},
		{func(in *eureka.InstanceInfo) { in.InstanceID = strings.Repeat("x", 40000) }, "instanceId", "longer than"},
		{func(in *eureka.InstanceInfo) { in.InstanceID = "bad-\xff\xfe" }, "instanceId", "UTF-8"},
		{func(in *eureka.InstanceInfo) { in.InstanceID = "nul\x00" }, "instanceId", "control"},
		{func(in *eureka.InstanceInfo) { in.Metadata = map[string]string{"k": strings.Repeat("v", 10000)} }, "metadata.k", "longer than"},
	}
	for _, c := range cases {
		in := instance("ORDERS", "o-1")
		c.mod(in)
		err := n.Register(ctx, client, "ORDERS", in)
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != c.field || !strings.Contains(inv.Message, c.msg) {
			t.Errorf("%s: got %v", c.msg, err)
			continue
		}
		if len(inv.Message) > 200 {
			t.Errorf("%s: the message echoes the value (%d bytes)", c.msg, len(inv.Message))
		}
	}
	if n.reg.Size() != 0 || fs.commits != 0 || len(fr.got) != 0 {
		t.Fatalf("refused writes changed something: size %d, commits %d, replicated %v", n.reg.Size(), fs.commits, fr.got)
	}
	if fs.begun != fs.ended {
		t.Fatalf("begun %d, ended %d", fs.begun, fs.ended)
	}
	// A 33,000-byte application in the path is refused as such.
	long := strings.Repeat("A", 33000)
	var inv *InvalidError
	if err := n.Register(ctx, client, long, instance("ORDERS", "o-1")); !errors.As(err, &inv) || inv.Field != "app" {
		t.Fatalf("long path app: %v", err)
	}
}

func TestWritesReplicateOnlyLocalOnes(t *testing.T) {
	n, fs, fr := newNode(t, Options{})
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n.Register(ctx, client, "ORDERS", instance("ORDERS", "o-1")))
	must(n.SetStatus(ctx, client, "ORDERS", "o-1", "OUT_OF_SERVICE", 0))
	must(n.DeleteStatus(ctx, client, "ORDERS", "o-1", "UP", 0))
	must(n.UpdateMetadata(ctx, client, "ORDERS", "o-1", map[string]string{"owner": "ops"}))
	if _, _, err := n.Renew("ORDERS", "o-1", registry.RenewArgs{}); err != nil {
		t.Fatal(err)
	}
	must(n.Cancel(ctx, client, "ORDERS", "o-1"))
	peer := Caller{Replication: true}
	must(n.Register(ctx, peer, "ORDERS", instance("ORDERS", "o-2")))
	must(n.Cancel(ctx, peer, "ORDERS", "o-2"))
	want := "Register ORDERS/o-1,StatusUpdate ORDERS/o-1,DeleteStatusOverride ORDERS/o-1,Register ORDERS/o-1,Heartbeat ORDERS/o-1,Cancel ORDERS/o-1"
	if got := strings.Join(fr.got, ","); got != want {
		t.Fatalf("replicated\n%s\nwant\n%s", got, want)
	}
	if fs.commits != 7 || fs.begun != fs.ended {
		t.Fatalf("commits %d, begun %d, ended %d", fs.commits, fs.begun, fs.ended)
	}
	if err := n.Cancel(ctx, client, "ORDERS", "o-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second cancel: %v", err)
	}
}

func TestStatusValues(t *testing.T) {
	n, _, _ := newNode(t, Options{})
	ctx := context.Background()
	if err := n.SetStatus(ctx, client, "ORDERS", "ghost", "BOGUS", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown instance first, as Eureka: %v", err)
	}
	if err := n.Register(ctx, client, "ORDERS", instance("ORDERS", "o-1")); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"BOGUS", "", "UNKNOWN", "up"} {
		var inv *InvalidError
		if err := n.SetStatus(ctx, client, "ORDERS", "o-1", v, 0); !errors.As(err, &inv) || inv.Field != "value" {
			t.Errorf("override %q: %v", v, err)
		}
	}
	if res, _, err := n.Renew("ORDERS", "o-1", registry.RenewArgs{}); err != nil || res != registry.RenewOK {
		t.Fatalf("renew after refused overrides: %v %v", res, err)
	}
	if _, _, err := n.Renew("ORDERS", "o-1", registry.RenewArgs{OverriddenStatus: "NOPE"}); err == nil {
		t.Fatal("renew with an unknown overriddenstatus accepted")
	}
}

func TestStoreRefusalChangesNothing(t *testing.T) {
	n, fs, fr := newNode(t, Options{})
	fs.admitErr = persist.ErrUnavailable
	err := n.Register(context.Background(), client, "ORDERS", instance("ORDERS", "o-1"))
	if !errors.Is(err, ErrUnavailable) || n.reg.Size() != 0 || len(fr.got) != 0 {
		t.Fatalf("err %v, size %d, replicated %v", err, n.reg.Size(), fr.got)
	}
	fs.admitErr, fs.cmErr = nil, persist.ErrUnavailable
	if err := n.Register(context.Background(), client, "ORDERS", instance("ORDERS", "o-1")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("failed commit acknowledged: %v", err)
	}
}

// Writes that do not heal by themselves are refused while the store is
// down even when the policy serves from memory; registrations, which
// clients repeat, are served.
func TestNonHealingWritesNeedTheStore(t *testing.T) {
	n, fs, fr := newNode(t, Options{})
	ctx := context.Background()
	if err := n.Register(ctx, client, "ORDERS", instance("ORDERS", "o-1")); err != nil {
		t.Fatal(err)
	}
	fr.got = nil
	fs.down = persist.ErrUnavailable
	if err := n.Register(ctx, client, "ORDERS", instance("ORDERS", "o-2")); err != nil {
		t.Fatalf("a registration under serve: %v", err)
	}
	for name, write := range map[string]func() error{
		"status":   func() error { return n.SetStatus(ctx, client, "ORDERS", "o-1", "OUT_OF_SERVICE", 0) },
		"delete":   func() error { return n.DeleteStatus(ctx, client, "ORDERS", "o-1", "UP", 0) },
		"metadata": func() error { return n.UpdateMetadata(ctx, client, "ORDERS", "o-1", map[string]string{"a": "b"}) },
	} {
		if err := write(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s while the store is down: %v", name, err)
		}
	}
	in := n.reg.Instance("ORDERS", "o-1")
	if in.Status != eureka.StatusUp || in.Metadata["a"] != "" || len(fr.got) != 1 {
		t.Fatalf("refused writes changed the instance (%s %v) or were replicated %v", in.Status, in.Metadata, fr.got)
	}
	// A peer's status change takes the policy's answer: its origin
	// acknowledged it.
	if err := n.SetStatus(ctx, Caller{Replication: true}, "ORDERS", "o-1", "OUT_OF_SERVICE", 0); err != nil {
		t.Fatalf("a peer's status change: %v", err)
	}
	fs.down = nil
	if err := n.SetStatus(ctx, client, "ORDERS", "o-1", "DOWN", 0); err != nil || fs.durable != 1 {
		t.Fatalf("status once the store is back: %v, %d durable commits", err, fs.durable)
	}
}

func TestAdmission(t *testing.T) {
	var asked []Admission
	admit := func(_ context.Context, a *Admission) (map[string]string, error) {
		asked = append(asked, *a)
		switch {
		case a.Instance.Metadata["team"] == "":
			return nil, &DeniedError{Message: "metadata team is required"}
		case a.Instance.Metadata["team"] == "broken":
			return nil, errors.New("directory down")
		}
		return map[string]string{"admitted-by": "test"}, nil
	}
	n, _, _ := newNode(t, Options{Admit: admit})
	ctx := context.Background()
	var denied *DeniedError
	if err := n.Register(ctx, client, "ORDERS", instance("ORDERS", "o-1")); !errors.As(err, &denied) || n.reg.Size() != 0 {
		t.Fatalf("denied registration: %v, size %d", err, n.reg.Size())
	}
	in := instance("ORDERS", "o-1")
	in.Metadata = map[string]string{"team": "orders"}
	if err := n.Register(ctx, client, "ORDERS", in); err != nil {
		t.Fatal(err)
	}
	if got := n.reg.Instance("ORDERS", "o-1").Metadata["admitted-by"]; got != "test" {
		t.Fatalf("added metadata %q", got)
	}
	if err := n.UpdateMetadata(ctx, client, "ORDERS", "o-1", map[string]string{"team": "broken"}); !errors.Is(err, ErrAdmissionUnavailable) {
		t.Fatalf("hook failure: %v", err)
	}
	if got := n.reg.Instance("ORDERS", "o-1").Metadata["team"]; got != "orders" {
		t.Fatalf("a write the hook could not decide changed metadata to %q", got)
	}
	// Renewals and peers' writes never reach the hook.
	before := len(asked)
	n.Renew("ORDERS", "o-1", registry.RenewArgs{})
	if err := n.Register(ctx, Caller{Replication: true}, "ORDERS", instance("ORDERS", "o-2")); err != nil {
		t.Fatal(err)
	}
	if len(asked) != before {
		t.Fatalf("the hook was asked %d more times", len(asked)-before)
	}
	if asked[0].Operation != hook.OpRegister || asked[0].Caller.RemoteAddr != client.RemoteAddr {
		t.Fatalf("first admission %+v", asked[0])
	}
}

func TestPeerBatchAppliesTheSameRules(t *testing.T) {
	n, _, fr := newNode(t, Options{})
	ctx := context.Background()
	if err := n.Register(ctx, client, "ORDERS", instance("ORDERS", "o-1")); err != nil {
		t.Fatal(err)
	}
	fr.got = nil
	noApp := instance("", "o-9")
	items := []eureka.ReplicationItem{
		{Action: eureka.ReplicateStatusUpdate, AppName: "ORDERS", ID: "o-1", Status: "UNKNOWN"},
		{Action: eureka.ReplicateStatusUpdate, AppName: "ORDERS", ID: "o-1", Status: ""},
		{Action: eureka.ReplicateRegister, AppName: "", ID: "o-9", Instance: noApp},
		{Action: eureka.ReplicateRegister, AppName: "ORDERS", ID: "bad", Instance: instance("ORDERS", "bad-\xff")},
		{Action: eureka.ReplicateRegister, AppName: "ORDERS", ID: "o-3", Instance: func() *eureka.InstanceInfo { in := instance("ORDERS", "o-3"); in.IPAddr = ""; return in }()},
		{Action: eureka.ReplicateHeartbeat, AppName: "ORDERS", ID: "o-1", OverriddenStatus: "BOGUS"},
		{Action: eureka.ReplicateDeleteStatusOverride, AppName: "ORDERS", ID: "o-1", Status: "BOGUS"},
		{Action: eureka.ReplicateStatusUpdate, AppName: "ORDERS", ID: "o-1", Status: "OUT_OF_SERVICE"},
		{Action: "Explode", AppName: "ORDERS", ID: "o-1"},
	}
	res, err := n.ApplyBatch(ctx, Caller{}, items)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{400, 400, 400, 400, 400, 400, 400, 200, 400}
	for i, r := range res {
		if r.StatusCode != want[i] {
			t.Errorf("item %d (%s): %d, want %d", i, items[i].Action, r.StatusCode, want[i])
		}
	}
	if n.reg.Size() != 1 || len(fr.got) != 0 {
		t.Fatalf("size %d, replicated again %v", n.reg.Size(), fr.got)
	}
	if st := n.reg.Instance("ORDERS", "o-1").Status; st != eureka.StatusOutOfService {
		t.Fatalf("status %s", st)
	}
}

// The renewal through the node allocates nothing.
func TestRenewDoesNotAllocate(t *testing.T) {
	n, _, _ := newNode(t, Options{})
	if err := n.Register(context.Background(), client, "ORDERS", instance("ORDERS", "o-1")); err != nil {
		t.Fatal(err)
	}
	n.opts.Replicator = nil
	if a := testing.AllocsPerRun(100, func() { n.Renew("ORDERS", "o-1", registry.RenewArgs{LastDirtyTimestamp: 1}) }); a != 0 {
		t.Fatalf("renew allocates %v times", a)
	}
}

// Every write's group-commit scope is closed on every return path: an
// unpaired Begin would make every later group commit wait CommitDelay.
func TestBeginEndPairedOnEveryPath(t *testing.T) {
	ctx := context.Background()
	admit := func(_ context.Context, a *Admission) (map[string]string, error) {
		switch a.Instance.Metadata["team"] {
		case "denied":
			return nil, &DeniedError{Message: "no"}
		case "broken":
			return nil, errors.New("down")
		case "huge":
			return map[string]string{"x": strings.Repeat("v", 1<<20)}, nil
		}
		return nil, nil
	}
	with := func(team string) *eureka.InstanceInfo {
		in := instance("ORDERS", "o-1")
		in.Metadata = map[string]string{"team": team}
		return in
	}
	writes := map[string]func(n *Node) error{
		"register":         func(n *Node) error { return n.Register(ctx, client, "ORDERS", with("ok")) },
		"register invalid": func(n *Node) error { return n.Register(ctx, client, "ORDERS", instance("ORDERS", "")) },
		"register denied":  func(n *Node) error { return n.Register(ctx, client, "ORDERS", with("denied")) },
		"register broken":  func(n *Node) error { return n.Register(ctx, client, "ORDERS", with("broken")) },
		"register huge":    func(n *Node) error { return n.Register(ctx, client, "ORDERS", with("huge")) },
		"register peer":    func(n *Node) error { return n.Register(ctx, Caller{Replication: true}, "ORDERS", with("x")) },
		"cancel":           func(n *Node) error { return n.Cancel(ctx, client, "ORDERS", "o-1") },
		"cancel unknown":   func(n *Node) error { return n.Cancel(ctx, client, "ORDERS", "nope") },
		"status":           func(n *Node) error { return n.SetStatus(ctx, client, "ORDERS", "o-1", "DOWN", 0) },
		"status bad":       func(n *Node) error { return n.SetStatus(ctx, client, "ORDERS", "o-1", "BOGUS", 0) },
		"status unknown":   func(n *Node) error { return n.SetStatus(ctx, client, "ORDERS", "nope", "DOWN", 0) },
		"delete":           func(n *Node) error { return n.DeleteStatus(ctx, client, "ORDERS", "o-1", "UP", 0) },
		"delete bad":       func(n *Node) error { return n.DeleteStatus(ctx, client, "ORDERS", "o-1", "BOGUS", 0) },
		"delete unknown":   func(n *Node) error { return n.DeleteStatus(ctx, client, "ORDERS", "nope", "", 0) },
		"metadata": func(n *Node) error {
			return n.UpdateMetadata(ctx, client, "ORDERS", "o-1", map[string]string{"a": "b"})
		},
		"metadata denied": func(n *Node) error {
			return n.UpdateMetadata(ctx, client, "ORDERS", "o-1", map[string]string{"team": "denied"})
		},
		"metadata broken": func(n *Node) error {
			return n.UpdateMetadata(ctx, client, "ORDERS", "o-1", map[string]string{"team": "broken"})
		},
		"metadata invalid": func(n *Node) error { return n.UpdateMetadata(ctx, client, "ORDERS", "o-1", map[string]string{"": "b"}) },
		"metadata unknown": func(n *Node) error {
			return n.UpdateMetadata(ctx, client, "ORDERS", "nope", map[string]string{"a": "b"})
		},
		"batch": func(n *Node) error {
			_, err := n.ApplyBatch(ctx, client, []eureka.ReplicationItem{{Action: eureka.ReplicateCancel, AppName: "ORDERS", ID: "o-1"}})
			return err
		},
		"merge": func(n *Node) error {
			_, err := n.Merge(ctx, []registry.AppState{{Name: "ORDERS"}})
			return err
		},
	}
	stores := map[string]func(*fakeStore){
		"healthy":        func(*fakeStore) {},
		"refusing":       func(f *fakeStore) { f.admitErr = persist.ErrUnavailable },
		"down":           func(f *fakeStore) { f.down = persist.ErrUnavailable },
		"failing commit": func(f *fakeStore) { f.cmErr = persist.ErrUnavailable },
	}
	for sname, set := range stores {
		for wname, write := range writes {
			n, fs, _ := newNode(t, Options{Admit: admit})
			if err := n.Register(ctx, client, "ORDERS", with("ok")); err != nil {
				t.Fatal(err)
			}
			set(fs)
			err := write(n)
			if fs.begun != fs.ended || fs.begun != 2 {
				t.Errorf("%s, store %s (err %v): %d Begin, %d End", wname, sname, err, fs.begun, fs.ended)
			}
		}
	}
}

// Without an admission hook, a registration through the node allocates
// what the registry's own Register does, nothing more.
func TestRegisterAddsNoAllocations(t *testing.T) {
	n, _, _ := newNode(t, Options{})
	n.opts.Store, n.opts.Replicator = nil, nil
	ctx := context.Background()
	regAllocs := testing.AllocsPerRun(100, func() { n.reg.Register(instance("ORDERS", "o-1"), false) })
	nodeAllocs := testing.AllocsPerRun(100, func() {
		if err := n.Register(ctx, client, "ORDERS", instance("ORDERS", "o-1")); err != nil {
			t.Fatal(err)
		}
	})
	if nodeAllocs > regAllocs {
		t.Fatalf("node.Register allocates %v times, the registry's Register %v", nodeAllocs, regAllocs)
	}
}
