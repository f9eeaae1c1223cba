package discovery

import (
	"slices"
	"testing"

	"github.com/eurekad/eurekad/sdk/eureka"
)

func mk(app, id string, st eureka.Status, action eureka.ActionType) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{App: app, InstanceID: id, HostName: id, Status: st, ActionType: action,
		LeaseInfo: &eureka.LeaseInfo{LastRenewalTimestamp: 1}}
}

func ids(apps *eureka.Applications) map[string][]string {
	out := map[string][]string{}
	for _, a := range apps.Applications {
		out[a.Name] = nil
		for _, in := range a.Instances {
			out[a.Name] = append(out[a.Name], in.ID()+":"+string(in.Status))
		}
	}
	return out
}

// TestMerge checks Eureka's delta rules (§4.3) and copy-on-write.
func TestMerge(t *testing.T) {
	a1 := mk("A", "a1", eureka.StatusUp, eureka.ActionAdded)
	a2 := mk("A", "a2", eureka.StatusUp, eureka.ActionAdded)
	b1 := mk("B", "b1", eureka.StatusUp, eureka.ActionAdded)
	cur := &eureka.Applications{Applications: []*eureka.Application{
		{Name: "A", Instances: []*eureka.InstanceInfo{a1, a2}},
		{Name: "B", Instances: []*eureka.InstanceInfo{b1}},
	}}
	delta := &eureka.Applications{VersionsDelta: 7, Applications: []*eureka.Application{
		{Name: "A", Instances: []*eureka.InstanceInfo{
			mk("A", "a2", eureka.StatusDown, eureka.ActionModified),
			mk("A", "a3", eureka.StatusUp, eureka.ActionAdded),
		}},
		{Name: "B", Instances: []*eureka.InstanceInfo{mk("B", "b1", eureka.StatusUp, eureka.ActionDeleted)}},
		{Name: "C", Instances: []*eureka.InstanceInfo{
			mk("c", "c1", eureka.StatusStarting, eureka.ActionAdded),
			mk("C", "gone", eureka.StatusUp, eureka.ActionDeleted),
		}},
		{Name: "D", Instances: []*eureka.InstanceInfo{mk("D", "d1", eureka.StatusUp, eureka.ActionDeleted)}},
	}}
	next, changed := merge(cur, delta)
	if !changed {
		t.Error("changed = false")
	}
	got := ids(next)
	want := map[string][]string{"A": {"a1:UP", "a2:DOWN", "a3:UP"}, "c": {"c1:STARTING"}}
	if len(got) != len(want) || len(got["A"]) != 3 || got["A"][1] != "a2:DOWN" || got["A"][2] != "a3:UP" || got["c"][0] != "c1:STARTING" {
		t.Errorf("merged %v, want %v (empty B dropped)", got, want)
	}
	if next.HashCode() != "DOWN_1_STARTING_1_UP_2_" || next.VersionsDelta != 7 {
		t.Errorf("hash %q version %d", next.HashCode(), next.VersionsDelta)
	}
	// The input is untouched.
	if g := ids(cur); len(g["A"]) != 2 || g["A"][1] != "a2:UP" || len(g["B"]) != 1 {
		t.Errorf("merge modified its input: %v", g)
	}
	if next.Applications[0] == cur.Applications[0] {
		t.Error("changed application not copied")
	}

	// Lease bookkeeping alone is not a change.
	renewed := mk("A", "a1", eureka.StatusUp, eureka.ActionModified)
	renewed.LeaseInfo.LastRenewalTimestamp = 99
	renewed.LastUpdatedTimestamp = 5
	if _, changed := merge(cur, &eureka.Applications{Applications: []*eureka.Application{{Name: "A", Instances: []*eureka.InstanceInfo{renewed}}}}); changed {
		t.Error("lease-only update reported as a change")
	}
	meta := mk("A", "a1", eureka.StatusUp, eureka.ActionAdded)
	meta.Metadata = map[string]string{"k": "v"}
	if _, changed := merge(cur, &eureka.Applications{Applications: []*eureka.Application{{Name: "A", Instances: []*eureka.InstanceInfo{meta}}}}); !changed {
		t.Error("metadata update not reported as a change")
	}
}

// TestDiff checks what Diff reports between two views: additions and
// real modifications in the new view's order, then deletions; lease
// bookkeeping alone is no change; names are upper-cased; inputs stay.
func TestDiff(t *testing.T) {
	a1 := mk("a", "a1", eureka.StatusUp, "")
	a2 := mk("A", "a2", eureka.StatusUp, "")
	b1 := mk("B", "b1", eureka.StatusUp, "")
	old := &eureka.Applications{Applications: []*eureka.Application{
		{Name: "a", Instances: []*eureka.InstanceInfo{a1, a2}},
		{Name: "B", Instances: []*eureka.InstanceInfo{b1}},
	}}
	renewed := *a1
	renewed.LeaseInfo = &eureka.LeaseInfo{LastRenewalTimestamp: 99}
	renewed.LastUpdatedTimestamp = 99
	next := &eureka.Applications{Applications: []*eureka.Application{
		{Name: "A", Instances: []*eureka.InstanceInfo{&renewed, mk("A", "a2", eureka.StatusDown, ""), mk("A", "a3", eureka.StatusUp, "")}},
	}}
	var got []string
	for _, in := range Diff(old, next) {
		got = append(got, in.App+"/"+in.ID()+":"+string(in.Status)+":"+string(in.ActionType))
	}
	want := []string{"A/a2:DOWN:MODIFIED", "A/a3:UP:ADDED", "B/b1:UP:DELETED"}
	if !slices.Equal(got, want) {
		t.Errorf("Diff = %v, want %v", got, want)
	}
	if a1.App != "a" || a1.ActionType != "" || b1.ActionType != "" {
		t.Error("Diff modified its input")
	}
	if d := Diff(old, old); len(d) != 0 || !sameApps(old, old) || sameApps(old, next) {
		t.Errorf("Diff of a view with itself: %v", d)
	}
}
