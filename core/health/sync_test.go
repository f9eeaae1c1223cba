package health

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
)

// syncWorld is a scheduler whose loop does not run: the tests call sync
// themselves, each time one syncEvery later.
type syncWorld struct {
	reg *registry.Registry
	n   *node.Node
	s   *Scheduler
	now time.Time
}

func newSyncWorld(t *testing.T, reg *registry.Registry, o Options) *syncWorld {
	t.Helper()
	if reg == nil {
		reg = registry.New(nil)
		reg.OpenForTraffic(0)
	}
	n := node.New(reg, node.Options{})
	return &syncWorld{reg: reg, n: n, s: New(reg, n, newFake(), nil, &o), now: time.Unix(1_000_000, 0)}
}

func (w *syncWorld) register(t *testing.T, in *eureka.InstanceInfo) {
	t.Helper()
	if err := w.n.Register(context.Background(), node.Caller{}, in.App, in); err != nil {
		t.Fatal(err)
	}
}

// sync runs one sync and returns how many instances it looked at.
func (w *syncWorld) sync() int {
	w.now = w.now.Add(syncEvery)
	before := w.s.scanned
	w.s.sync(w.now)
	return w.s.scanned - before
}

func (w *syncWorld) target(app, id string) *target { return w.s.targets[app][id] }

// count is the number of targets, checked against the heap: every target
// not in a job (none here) waits in it.
func (w *syncWorld) count(t *testing.T) int {
	t.Helper()
	n := 0
	for _, byID := range w.s.targets {
		n += len(byID)
	}
	if n != w.s.due.Len() {
		t.Fatalf("%d targets, %d in the heap", n, w.s.due.Len())
	}
	return n
}

func unchecked(id string) *eureka.InstanceInfo {
	in := checked(id, nil)
	delete(in.Metadata, MetaKind)
	return in
}

// After the first sync, each sync looks at the changed instances only,
// and an instance that opts in, changes its spec, opts out or is
// cancelled is followed.
func TestSyncFollowsChangesOnly(t *testing.T) {
	w := newSyncWorld(t, nil, DefaultOptions())
	for i := range 100 {
		w.register(t, checked("o"+strconv.Itoa(i), nil))
		w.register(t, unchecked("u"+strconv.Itoa(i)))
	}
	if n := w.sync(); n != 200 {
		t.Fatalf("the first sync looked at %d instances, want all 200", n)
	}
	if n := w.count(t); n != 100 {
		t.Fatalf("%d targets, want 100", n)
	}
	if n := w.sync(); n != 0 {
		t.Errorf("a sync without a change looked at %d instances", n)
	}

	// Opts in.
	w.register(t, checked("u1", nil))
	if n := w.sync(); n != 1 {
		t.Errorf("one change: looked at %d instances", n)
	}
	if tg := w.target("ORDERS", "u1"); tg == nil || tg.spec.Kind != "http" || w.count(t) != 101 {
		t.Fatalf("u1 opted in: target %+v, %d targets", tg, w.count(t))
	}
	if due := w.target("ORDERS", "u1").due; due.Before(w.now) || !due.Before(w.now.Add(time.Second)) {
		t.Errorf("u1's first probe at %v, want within one interval of %v", due, w.now)
	}

	// Changes its spec.
	before := w.target("ORDERS", "o1")
	w.register(t, checked("o1", map[string]string{"eurekad.check.interval": "7s", "eurekad.check.path": "/ready"}))
	if n := w.sync(); n != 1 {
		t.Errorf("one change: looked at %d instances", n)
	}
	if tg := w.target("ORDERS", "o1"); tg != before || tg.spec.Interval != 7*time.Second || tg.spec.Path != "/ready" || tg.in.Metadata["eurekad.check.path"] != "/ready" {
		t.Errorf("o1's new spec not taken: %+v", tg.spec)
	}

	// Opts out.
	o2 := w.target("ORDERS", "o2")
	w.register(t, unchecked("o2"))
	w.sync()
	if w.target("ORDERS", "o2") != nil || !o2.gone || w.count(t) != 100 {
		t.Errorf("o2 opted out: still a target (gone %v, %d targets)", o2.gone, w.count(t))
	}

	// Is cancelled, and a status change (a verdict written) is seen.
	o3 := w.target("ORDERS", "o3")
	if err := w.n.Cancel(context.Background(), node.Caller{}, "ORDERS", "o3"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.n.SetHealth(context.Background(), "ORDERS", "o4", true, "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	if n := w.sync(); n != 2 {
		t.Errorf("two changes: looked at %d instances", n)
	}
	if w.target("ORDERS", "o3") != nil || !o3.gone || w.count(t) != 99 {
		t.Errorf("o3 cancelled: still a target (gone %v, %d targets)", o3.gone, w.count(t))
	}
	if in := w.target("ORDERS", "o4").in; !registry.HealthFailing(in) {
		t.Errorf("o4's verdict not seen: %s %v", in.Status, in.Metadata)
	}
}

// The last instances of an application leaving take its targets with
// them.
func TestSyncApplicationLeaves(t *testing.T) {
	w := newSyncWorld(t, nil, DefaultOptions())
	pay := checked("p1", nil)
	pay.App = "PAYMENTS"
	w.register(t, pay)
	w.register(t, checked("o1", nil))
	w.sync()
	if err := w.n.Cancel(context.Background(), node.Caller{}, "PAYMENTS", "p1"); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if _, ok := w.s.targets["PAYMENTS"]; ok || w.count(t) != 1 {
		t.Errorf("PAYMENTS left: targets %v", w.s.targets)
	}
}

// A change the delta queue cannot tell (a restore) makes sync compare
// the whole registry once; then it follows the changes again.
func TestSyncRestoreComparesWhole(t *testing.T) {
	ctx := context.Background()
	src := newSyncWorld(t, nil, DefaultOptions())
	store := memory.New()
	var ops []storage.Op
	for i := range 20 {
		id := "o" + strconv.Itoa(i)
		src.register(t, checked(id, nil))
		rec, _, ok := src.reg.AppendRecord(nil, "ORDERS", id)
		if !ok {
			t.Fatal("no record of", id)
		}
		ops = append(ops, storage.Op{Record: rec})
	}
	if err := storage.ApplyBatch(ctx, store, ops); err != nil {
		t.Fatal(err)
	}

	w := newSyncWorld(t, nil, DefaultOptions())
	w.register(t, checked("x", nil)) // the delta queue has moved on before the restore
	w.sync()
	if n, _, err := w.reg.Restore(ctx, store); n != 20 || err != nil {
		t.Fatalf("restored %d: %v", n, err)
	}
	if n := w.sync(); n != 21 {
		t.Errorf("after a restore sync looked at %d instances, want the whole 21", n)
	}
	if n := w.count(t); n != 21 || w.target("ORDERS", "o7") == nil {
		t.Errorf("after a restore: %d targets, want 21", n)
	}
	w.register(t, unchecked("o7"))
	if n := w.sync(); n != 1 || w.target("ORDERS", "o7") != nil {
		t.Errorf("after the restore's comparison: looked at %d instances, o7 a target: %v", n, w.target("ORDERS", "o7") != nil)
	}
}

// When no rule exists and no instance may opt in, sync reads nothing;
// without checks by metadata, only a rule's applications are read.
func TestSyncScansOnlyWhatCanBeChecked(t *testing.T) {
	off := DefaultOptions()
	off.Metadata = false
	w := newSyncWorld(t, nil, off)
	for i := range 10 {
		w.register(t, checked("o"+strconv.Itoa(i), nil))
	}
	if n := w.sync(); n != 0 || w.count(t) != 0 {
		t.Errorf("nothing can be checked: looked at %d instances, %d targets", n, w.count(t))
	}

	ruled := off
	ruled.Rules = []Rule{{App: "payments", Kind: "tcp"}}
	w = newSyncWorld(t, nil, ruled)
	for i := range 10 {
		w.register(t, checked("o"+strconv.Itoa(i), nil))
	}
	for i := range 3 {
		in := unchecked("p" + strconv.Itoa(i))
		in.App = "PAYMENTS"
		w.register(t, in)
	}
	if n := w.sync(); n != 3 || w.count(t) != 3 {
		t.Errorf("a rule for PAYMENTS: looked at %d instances, %d targets; want 3 and 3", n, w.count(t))
	}
	w.register(t, checked("o1", map[string]string{"eurekad.check.interval": "5s"}))
	p := unchecked("p9")
	p.App = "PAYMENTS"
	w.register(t, p)
	if n := w.sync(); n != 1 || w.target("PAYMENTS", "p9") == nil || w.count(t) != 4 {
		t.Errorf("a change in each: looked at %d instances, %d targets; want 1 and 4", n, w.count(t))
	}
}
