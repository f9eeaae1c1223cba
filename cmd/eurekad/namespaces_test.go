package main

import (
	"context"
	"testing"

	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/sdk/hook"
)

func TestNamespaceURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://10.0.0.2:8761/eureka/":            "http://10.0.0.2:8761/ns/team-a/eureka/",
		"http://u:p@10.0.0.2:8761/eureka/v2/":     "http://u:p@10.0.0.2:8761/ns/team-a/eureka/v2/",
		"https://peer.example/eureka":             "https://peer.example/ns/team-a/eureka",
		"http://10.0.0.2:8761/":                   "http://10.0.0.2:8761/ns/team-a/",
		"http://10.0.0.2:8761/ctx%2Fpath/eureka/": "http://10.0.0.2:8761/ns/team-a/ctx%2Fpath/eureka/",
	} {
		if got := namespaceURL(raw, "team-a"); got != want {
			t.Errorf("namespaceURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestHistoriesRouteByNamespace: each namespace's history records its own
// instances only; a namespace added while events flow gets its own from
// then on.
func TestHistoriesRouteByNamespace(t *testing.T) {
	h := newHistories()
	def := h.add("default")
	ctx := context.Background()
	ev := func(seq uint64, ns, id string) hook.Event {
		return hook.Event{Seq: seq, Type: hook.EventRegistered, App: "APP", InstanceID: id, Namespace: ns}
	}
	_ = h.Handle(ctx, []hook.Event{ev(1, "", "d-1")})
	team := h.add("team-a")
	_ = h.Handle(ctx, []hook.Event{ev(2, "team-a", "t-1"), ev(3, "", "d-2"), ev(4, "other", "o-1")})
	for _, c := range []struct {
		name string
		got  int
	}{
		{"default d-1", len(def.Get("APP", "d-1"))},
		{"default d-2", len(def.Get("APP", "d-2"))},
		{"team-a t-1", len(team.Get("APP", "t-1"))},
	} {
		if c.got != 1 {
			t.Errorf("%s: %d entries, want 1", c.name, c.got)
		}
	}
	if n := len(def.Get("APP", "t-1")) + len(team.Get("APP", "d-2")) + len(team.Get("APP", "o-1")); n != 0 {
		t.Errorf("%d entries of other namespaces recorded", n)
	}
}

// TestAdmissionCarriesTheNamespace: the write path asks the admission hook
// with the namespace written to, so a rule can confine a team.
func TestAdmissionCarriesTheNamespace(t *testing.T) {
	var got string
	a := hook.AdmitterFunc(func(_ context.Context, req *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
		got = req.Namespace
		return hook.AdmissionResponse{Allowed: true}, nil
	})
	if _, err := admitFunc(a, "team-a")(context.Background(), &node.Admission{Operation: hook.OpRegister, App: "A", ID: "1"}); err != nil {
		t.Fatal(err)
	}
	if got != "team-a" {
		t.Fatalf("admission request namespace %q, want team-a", got)
	}
}
