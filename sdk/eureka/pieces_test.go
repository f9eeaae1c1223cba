package eureka

import (
	"bytes"
	"testing"
)

// The parts joined must be the whole-document encoders' output exactly, in
// both formats, including for an empty list and a nil application.
func TestApplicationsPartsJoinToDocument(t *testing.T) {
	full := &Applications{VersionsDelta: 7, AppsHashcode: "DOWN_1_UP_2_", Applications: []*Application{
		{Name: "ORDERS", Instances: []*InstanceInfo{ordersInstance1()}},
		nil,
		{Name: "PAYMENTS", Instances: []*InstanceInfo{ordersInstance1(), nil, ordersInstance1()}},
	}}
	for _, apps := range []*Applications{full, {VersionsDelta: 1}} {
		js := AppendApplicationsHeadJSON(nil, apps.VersionsDelta, apps.AppsHashcode)
		x := AppendApplicationsHeadXML(nil, apps.VersionsDelta, apps.AppsHashcode)
		first := true
		for _, app := range apps.Applications {
			if app == nil {
				continue
			}
			js = AppendApplicationsItemJSON(js, app, first)
			x = AppendApplicationsItemXML(x, app)
			first = false
		}
		js = AppendApplicationsTailJSON(js)
		x = AppendApplicationsTailXML(x)
		if want := AppendApplicationsJSON(nil, apps); !bytes.Equal(js, want) {
			t.Errorf("JSON parts differ at byte %d:\n got %s\nwant %s", firstDiff(js, want), js, want)
		}
		if want := AppendApplicationsXML(nil, apps); !bytes.Equal(x, want) {
			t.Errorf("XML parts differ at byte %d:\n got %s\nwant %s", firstDiff(x, want), x, want)
		}
	}
}

// An application item written in parts is the item encoders' output.
func TestApplicationParts(t *testing.T) {
	apps := []*Application{
		{Name: "ORDERS", Instances: []*InstanceInfo{ordersInstance1()}},
		{Name: "PAY<&>", Instances: []*InstanceInfo{ordersInstance1(), ordersInstance1()}},
	}
	for i, app := range apps {
		js := AppendApplicationOpenJSON(nil, app.Name, i == 0)
		x := AppendApplicationOpenXML(nil, app.Name)
		for j, in := range app.Instances {
			js = AppendApplicationInstanceJSON(js, in, j == 0)
			x = AppendApplicationInstanceXML(x, in)
		}
		js = AppendApplicationCloseJSON(js)
		x = AppendApplicationCloseXML(x)
		if want := AppendApplicationsItemJSON(nil, app, i == 0); !bytes.Equal(js, want) {
			t.Errorf("JSON parts differ at byte %d:\n got %s\nwant %s", firstDiff(js, want), js, want)
		}
		if want := AppendApplicationsItemXML(nil, app); !bytes.Equal(x, want) {
			t.Errorf("XML parts differ at byte %d:\n got %s\nwant %s", firstDiff(x, want), x, want)
		}
	}
}

func TestStatusCountsMerge(t *testing.T) {
	var a, b StatusCounts
	a.Add(StatusUp)
	a.Add(StatusDown)
	b.Add(StatusUp)
	b.Add("WEIRD")
	a.Merge(b)
	if got := a.HashCode(); got != "DOWN_1_UNKNOWN_1_UP_2_" {
		t.Fatalf("merged hash code %q", got)
	}
	a.Unmerge(b)
	if got := a.HashCode(); got != "DOWN_1_UP_1_" {
		t.Fatalf("hash code after unmerge %q", got)
	}
}
