package config

import (
	"strings"
	"testing"
)

// TestRegions checks the remote-region settings from flags and the
// environment, and that Validate refuses what core/regions refuses.
func TestRegions(t *testing.T) {
	cfg, _, err := Load([]string{"--regions.local", "East", "--regions.remote", "WEST;http://w1:8761/eureka/,west;http://w2:8761/eureka/"},
		[]string{"EUREKAD_REGIONS_APP_ALLOW_LIST=west;orders", "EUREKAD_REGIONS_FETCH_INTERVAL=5s"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cfg.Regions.Regions()
	if err != nil || len(rs) != 1 || rs[0].Name != "west" || len(rs[0].URLs) != 2 || !rs[0].Allow["ORDERS"] {
		t.Errorf("regions %+v, %v", rs, err)
	}
	if cfg.Regions.FetchInterval.String() != "5s" {
		t.Errorf("fetch interval %v", cfg.Regions.FetchInterval)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--regions.local", "east", "--regions.remote", "EAST;http://x/eureka/"}, "regions.remote: region \"east\" is the local region's name"},
		{[]string{"--regions.remote", "west"}, "not name;url"},
		{[]string{"--regions.remote", "west;http://x/", "--regions.app-allow-list", "east;ORDERS"}, "names no remote region"},
		{[]string{"--regions.local", ""}, "regions.local"},
		{[]string{"--regions.fetch-interval", "0s"}, "regions.fetch_interval"},
	} {
		if _, _, err := Load(c.args, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.args, err, c.want)
		}
	}
}
