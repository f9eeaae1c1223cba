package namespace

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/sdk/storage/storagetest"
	"github.com/eurekad/eurekad/storage/memory"
)

func TestValidName(t *testing.T) {
	for _, n := range []string{"default", "team-a", "a", "0", "prod-eu-1", strings.Repeat("a", 63)} {
		if !ValidName(n) {
			t.Errorf("ValidName(%q) = false, want true", n)
		}
	}
	for _, n := range []string{"", "Team", "TEAM-A", "..", ".", "a/b", "a%2Fb", "-a", "a-", "a_b", "a.b", "é", "équipe", "a b", strings.Repeat("a", 64), "ns\x00"} {
		if ValidName(n) {
			t.Errorf("ValidName(%q) = true, want false", n)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	ok := DefaultOptions()
	ok.Declared = []string{"team-a", "team-b"}
	ok.MaxInstances = []string{"team-a=10", "*=100"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if got := ok.MaxInstancesOf("team-a"); got != 10 {
		t.Errorf("MaxInstancesOf(team-a) = %d, want 10", got)
	}
	if got := ok.MaxInstancesOf("team-b"); got != 100 {
		t.Errorf("MaxInstancesOf(team-b) = %d, want 100 (the default for all)", got)
	}
	if got := DefaultOptions().MaxInstancesOf(Default); got != 0 {
		t.Errorf("no limits: MaxInstancesOf(default) = %d, want 0", got)
	}
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"upper case", func(o *Options) { o.Declared = []string{"Team"} }, "not a namespace name"},
		{"dot dot", func(o *Options) { o.Declared = []string{".."} }, "not a namespace name"},
		{"twice", func(o *Options) { o.Declared = []string{"a", "a"} }, "twice"},
		{"over max", func(o *Options) { o.Max = 2; o.Declared = []string{"a", "b"} }, "more than max"},
		{"max zero", func(o *Options) { o.Max = 0 }, "below 1"},
		{"bad limit", func(o *Options) { o.MaxInstances = []string{"a=x"} }, "whole number"},
		{"negative limit", func(o *Options) { o.MaxInstances = []string{"-1"} }, "whole number"},
		{"bad limit name", func(o *Options) { o.MaxInstances = []string{"A/B=3"} }, "not a namespace name"},
	} {
		o := DefaultOptions()
		tc.mod(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// seeded returns a memory store holding a record of the default
// namespace and of namespaces "other" and "team" (under a key whose
// application name is the one the view under test writes).
func seeded(t *testing.T) *memory.Store {
	t.Helper()
	m := memory.New()
	ctx := t.Context()
	for _, app := range []string{"APP", "ns/other/APP", "ns/other/ns/x/APP", "ns/team-x/APP"} {
		if err := m.Put(ctx, storage.Record{Key: storage.Key{App: app, ID: "i1"}, Value: []byte(app)}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// TestStoreConformance runs the store contract against a namespace's view
// of a store that holds other namespaces' records: the view starts empty
// (it sees none of them), and every rule holds through it.
func TestStoreConformance(t *testing.T) {
	for _, name := range []string{"team", Default} {
		t.Run(name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store {
				m := seeded(t)
				// The default namespace's own record goes: the suite
				// starts from an empty store.
				if err := m.Delete(t.Context(), storage.Key{App: "APP", ID: "i1"}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { m.Close() })
				return Store(m, name)
			})
		})
	}
}

func TestDefaultViewKeepsTheLayoutAndHidesNamespaces(t *testing.T) {
	ctx := t.Context()
	m := seeded(t)
	def := Store(m, Default)
	recs, err := storage.All(ctx, def, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Key.App != "APP" {
		t.Fatalf("default view scans %v, want only APP/i1", recs)
	}
	// Its writes are stored unprefixed, as without namespaces.
	if err := def.Put(ctx, storage.Record{Key: storage.Key{App: "NEW", ID: "i"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, storage.Key{App: "NEW", ID: "i"}); err != nil {
		t.Fatalf("default namespace's record not stored under its plain key: %v", err)
	}
	// A view's Close leaves the shared store open.
	if err := def.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := def.Get(ctx, storage.Key{App: "APP", ID: "i1"}); err == nil {
		t.Fatal("closed view still answers")
	}
	if _, err := m.Get(ctx, storage.Key{App: "APP", ID: "i1"}); err != nil {
		t.Fatalf("closing a view closed the store: %v", err)
	}
}

func TestNamespacesKeptApart(t *testing.T) {
	ctx := t.Context()
	m := memory.New()
	a, b := Store(m, "team-a"), Store(m, "team-b")
	k := storage.Key{App: "ORDERS", ID: "i1"}
	for _, s := range []storage.Store{a, b, Store(m, Default)} {
		if err := storage.ApplyBatch(ctx, s, []storage.Op{{Record: storage.Record{Key: k, Value: []byte("v")}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, k); err != nil {
		t.Fatalf("team-a's delete removed team-b's record: %v", err)
	}
	if n, _ := storage.Count(ctx, a, "ORDERS"); n != 0 {
		t.Fatalf("team-a still sees %d records of ORDERS", n)
	}
	got, _ := storage.All(ctx, b, "ORDERS")
	if len(got) != 1 || got[0].Key != k {
		t.Fatalf("team-b's scan of ORDERS = %v, want its own key unprefixed", got)
	}
	names := map[string]bool{}
	all, _ := storage.All(ctx, m, "")
	for _, r := range all {
		names[KeyNamespace(r.Key)] = true
	}
	if !names[Default] || !names["team-b"] || names["team-a"] || len(names) != 2 {
		t.Fatalf("namespaces in the store: %v, want default and team-b", names)
	}
}

func TestRefusalNamesTheNamespacesKey(t *testing.T) {
	k := storage.Key{App: "BIG", ID: "i"}
	v := Store(refusing{memory.New()}, "team")
	err := v.Put(context.Background(), storage.Record{Key: k})
	var re *storage.RefusedError
	if !errors.As(err, &re) || re.Key != k {
		t.Fatalf("Put = %v, want a RefusedError naming %v", err, k)
	}
}

func TestSink(t *testing.T) {
	var got []hook.Event
	rec := sinkFunc(func(e hook.Event) { got = append(got, e) })
	Sink(rec, "team").Publish(hook.Event{App: "A"})
	Sink(rec, Default).Publish(hook.Event{App: "B"})
	if got[0].Namespace != "team" || got[1].Namespace != "" {
		t.Fatalf("namespaces of published events: %q, %q", got[0].Namespace, got[1].Namespace)
	}
	if n := EventNamespace(&got[1]); n != Default {
		t.Fatalf("EventNamespace of a default namespace's event = %q", n)
	}
}
