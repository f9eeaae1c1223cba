package discovery_test

import (
	"slices"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/discovery"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// TestPickRegionOrder checks Pick's order with region options: own zone,
// then own region (instances whose zone maps to no region included, as
// in Eureka), then remote regions; and that RemoteRegions reaches the
// server as the regions parameter of every fetch.
func TestPickRegionOrder(t *testing.T) {
	f := newFakeRegistry()
	f.put(inst("orders", "zone", eureka.StatusUp, "east-1a", "orders"))
	f.put(inst("orders", "region", eureka.StatusUp, "east-1b", "orders"))
	f.put(inst("orders", "unmapped", eureka.StatusUp, "somewhere", "orders"))
	f.put(inst("orders", "remote", eureka.StatusUp, "west-1a", "orders"))
	base := f.start(t)

	c := discovery.New(newTestClient(t, base), &discovery.Options{
		Zone: "east-1a", Region: "east", RemoteRegions: []string{"west", "eu"},
		RegionZones: map[string][]string{"east": {"east-1a", "east-1b"}, "west": {"west-1a"}},
	})
	runCache(t, c)
	picks := func(n int) []string {
		t.Helper()
		var out []string
		for range n {
			in, err := c.Pick("orders")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(out, in.ID()) {
				out = append(out, in.ID())
			}
		}
		slices.Sort(out)
		return out
	}
	if got := picks(6); !slices.Equal(got, []string{"zone"}) {
		t.Errorf("picks %v, want the own zone's only", got)
	}
	f.put(inst("orders", "zone", eureka.StatusDown, "east-1a", "orders"))
	eventually(t, 2*time.Second, "the own zone's instance is down", has(c, "orders", 3))
	if got := picks(6); !slices.Equal(got, []string{"region", "unmapped"}) {
		t.Errorf("picks %v, want the own region's (unmapped zone counted local)", got)
	}
	f.remove("orders", "region")
	f.remove("orders", "unmapped")
	eventually(t, 2*time.Second, "only the remote instance is left", has(c, "orders", 1))
	if got := picks(3); !slices.Equal(got, []string{"remote"}) {
		t.Errorf("picks %v, want the remote region's", got)
	}
	for _, in := range c.Instances("orders") {
		if r := c.InstanceRegion(in); r != "west" {
			t.Errorf("InstanceRegion(%s) = %q, want west", in.ID(), r)
		}
	}
	f.set(func(f *fakeRegistry) {
		if len(f.regions) == 0 || slices.ContainsFunc(f.regions, func(r string) bool { return r != "west,eu" }) {
			t.Errorf("regions parameters %q, want west,eu on every read", f.regions)
		}
	})

	// Without region options the order stays own zone, then any.
	plain := discovery.New(newTestClient(t, base), &discovery.Options{Zone: "east-1b"})
	runCache(t, plain)
	f.put(inst("orders", "unmapped", eureka.StatusUp, "somewhere", "orders"))
	eventually(t, 2*time.Second, "two instances", has(plain, "orders", 2))
	seen := map[string]bool{}
	for range 6 {
		in, err := plain.Pick("orders")
		if err != nil {
			t.Fatal(err)
		}
		seen[in.ID()] = true
	}
	if !seen["remote"] || !seen["unmapped"] {
		t.Errorf("without region options picks %v, want any zone", seen)
	}
}

// TestStatsLastSuccessAndError checks that Stats reports the last
// successful fetch and the last failure, cleared by the next success.
func TestStatsLastSuccessAndError(t *testing.T) {
	f := newFakeRegistry()
	f.put(inst("orders", "a", eureka.StatusUp, "", "orders"))
	base := f.start(t)
	c := discovery.New(newTestClient(t, base), &discovery.Options{RetryDelay: time.Millisecond, FetchInterval: 10 * time.Millisecond})
	if st := c.Stats(); !st.LastSuccess.IsZero() || st.LastError != nil {
		t.Errorf("before Run: %+v", st)
	}
	runCache(t, c)
	if st := c.Stats(); st.LastSuccess.IsZero() || st.LastError != nil {
		t.Errorf("after the first fetch: %+v", st)
	}
	f.set(func(f *fakeRegistry) { f.failures = 1 << 20 })
	f.put(inst("orders", "b", eureka.StatusUp, "", "orders"))
	eventually(t, 5*time.Second, "the failure is reported", func() bool {
		st := c.Stats()
		return st.LastError != nil && !st.LastErrorAt.IsZero()
	})
	f.set(func(f *fakeRegistry) { f.failures = 0 })
	eventually(t, 5*time.Second, "a success clears it", func() bool {
		st := c.Stats()
		return st.Failures > 0 && st.LastError == nil && st.LastErrorAt.IsZero()
	})
}

// TestInstanceRegionZoneListedTwice checks that a zone listed under two
// regions belongs to the first by name, every time (map order is random).
func TestInstanceRegionZoneListedTwice(t *testing.T) {
	in := inst("orders", "a", eureka.StatusUp, "shared-1a", "orders")
	for range 50 {
		c := discovery.New(newTestClient(t, "http://127.0.0.1:1/eureka/"), &discovery.Options{
			Region:      "local",
			RegionZones: map[string][]string{"west": {"shared-1a", "west-1a"}, "east": {"east-1a", "shared-1a"}, "eu": {"eu-1a"}},
		})
		if r := c.InstanceRegion(in); r != "east" {
			t.Fatalf("InstanceRegion = %q, want east (first by name)", r)
		}
	}
}
