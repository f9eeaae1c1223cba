package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hudl/fargo"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/discovery"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// regionsWithin bounds the waits on remote-region fetches: a fetch
// interval of 1 s, and a back-off of up to 10 s while a region is down.
const regionsWithin = 30 * time.Second

// regionEnv configures a server as region local with one remote region.
func regionEnv(local, remote, remoteAddr string, extra ...string) []string {
	return append([]string{
		"EUREKAD_REGIONS_LOCAL=" + local,
		"EUREKAD_REGIONS_REMOTE=" + remote + ";http://" + remoteAddr + "/eureka/",
		"EUREKAD_REGIONS_FETCH_INTERVAL=1s",
	}, extra...)
}

// javaFetchHeaders are what the Java client sends with a registry fetch.
func javaFetchHeaders(accept string, gzip bool) []string {
	h := []string{"Accept", accept, "DiscoveryIdentity-Name", "DefaultClient", "DiscoveryIdentity-Version", "1.4"}
	if gzip {
		h = append(h, "Accept-Encoding", "gzip")
	}
	return h
}

// fetchApps GETs an Applications payload (JSON or XML) and decodes it.
func fetchApps(t *testing.T, url string, xml, gzip bool) (*response, *eureka.Applications, error) {
	t.Helper()
	accept := "application/json"
	if xml {
		accept = "application/xml"
	}
	r, err := tryDo(http.MethodGet, url, nil, javaFetchHeaders(accept, gzip)...)
	if err != nil {
		return nil, nil, err
	}
	if r.Status != http.StatusOK {
		return r, nil, fmt.Errorf("GET %s: status %d", url, r.Status)
	}
	if gzip != (r.Header.Get("Content-Encoding") == "gzip") {
		return r, nil, fmt.Errorf("GET %s: Content-Encoding %q with gzip asked %v", url, r.Header.Get("Content-Encoding"), gzip)
	}
	var apps *eureka.Applications
	if xml {
		apps, err = eureka.DecodeApplicationsXML(r.Plain(t))
	} else {
		apps, err = eureka.DecodeApplicationsJSON(r.Plain(t))
	}
	return r, apps, err
}

// ids lists a payload's instances as APP/id:STATUS, sorted.
func regionIDs(apps *eureka.Applications) []string {
	var out []string
	for _, a := range apps.Applications {
		for _, in := range a.Instances {
			out = append(out, a.Name+"/"+in.ID()+":"+string(in.Status))
		}
	}
	slices.Sort(out)
	return out
}

// countedHash is Eureka's apps hash code counted here from the
// instances: NAME_count_ per status, by status name.
func countedHash(apps *eureka.Applications) string {
	n := map[string]int{}
	for _, a := range apps.Applications {
		for _, in := range a.Instances {
			n[string(in.Status)]++
		}
	}
	var names []string
	for s := range n {
		names = append(names, s)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, s := range names {
		fmt.Fprintf(&b, "%s_%d_", s, n[s])
	}
	return b.String()
}

// regionStatus is one remote region in GET /admin/api/regions.
type regionStatus struct {
	Name           string  `json:"name"`
	Instances      int     `json:"instances"`
	Age            float64 `json:"ageSeconds"`
	Stale          bool    `json:"stale"`
	LastError      string  `json:"lastError"`
	Failures       uint64  `json:"fetchFailures"`
	FirstFetchDone bool    `json:"firstFetchDone"`
}

func regionsStatus(t *testing.T, s *server) regionStatus {
	t.Helper()
	r := do(t, http.MethodGet, "http://"+s.Addr+"/admin/api/regions", nil)
	var v struct {
		Local  string         `json:"local"`
		Remote []regionStatus `json:"remote"`
	}
	if err := json.Unmarshal(r.Body, &v); err != nil || len(v.Remote) != 1 {
		t.Fatalf("GET /admin/api/regions: %d %s (%v)", r.Status, r.Body, err)
	}
	return v.Remote[0]
}

// metricValue reads one sample from GET /metrics ("" when absent).
func metricValue(t *testing.T, s *server, series string) string {
	t.Helper()
	for line := range strings.SplitSeq(do(t, http.MethodGet, "http://"+s.Addr+"/metrics", nil).Text(t), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func registerIn(t *testing.T, s *server, app, ip, zone string) javaInstance {
	t.Helper()
	j := newJavaInstance(app, ip)
	j.Metadata = map[string]string{"zone": zone}
	registerSC(t, s.Base, j)
	return j
}

func setStatus(t *testing.T, s *server, app, id, status string) {
	t.Helper()
	r := do(t, http.MethodPut, s.Base+"apps/"+app+"/"+id+"/status?value="+status, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("status %s of %s/%s: %d", status, app, id, r.Status)
	}
}

// TestRemoteRegions runs two eurekad servers, east and west, each
// configured with the other as a remote region, and reads east as a Java
// client with fetchRemoteRegionsRegistry does: the merged registry and
// delta, the allow-list, the transparent fallback, hostile regions
// parameters, fargo, eureka-js-client and the Go SDK against the same
// server, then west killed (east keeps serving its last copy, flagged
// stale) and restarted (east catches up).
func TestRemoteRegions(t *testing.T) {
	t.Parallel()
	eastAddr, westAddr := eurekadtest.FreeAddr(t), eurekadtest.FreeAddr(t)
	westEnv := regionEnv("west", "east", eastAddr)
	west := startServerAt(t, westAddr, westEnv...)
	east := startServerAt(t, eastAddr, regionEnv("east", "west", westAddr,
		"EUREKAD_REGIONS_APP_ALLOW_LIST=west;ORDERS,west;SEARCH")...)

	oEast := registerIn(t, east, "ORDERS", "10.0.1.1", "east-1a")
	oWest := registerIn(t, west, "ORDERS", "10.0.2.1", "west-1a")
	sWest := registerIn(t, west, "SEARCH", "10.0.2.2", "west-1a")
	xWest := registerIn(t, west, "SECRET", "10.0.2.3", "west-1a")
	setStatus(t, west, "SEARCH", sWest.ID, "OUT_OF_SERVICE")

	want := []string{"ORDERS/" + oEast.ID + ":UP", "ORDERS/" + oWest.ID + ":UP", "SEARCH/" + sWest.ID + ":OUT_OF_SERVICE"}
	const wantHash = "OUT_OF_SERVICE_1_UP_2_"
	url := east.BaseV2 + "apps/?regions=west"
	t.Run("merged registry", func(t *testing.T) {
		for _, c := range []struct {
			name      string
			xml, gzip bool
		}{{"JSON", false, false}, {"JSON gzip", false, true}, {"XML", true, false}, {"XML gzip", true, true}} {
			var got *eureka.Applications
			var resp *response
			eurekadtest.Eventually(t, regionsWithin, c.name+": east serves west's instances", func() error {
				var err error
				if resp, got, err = fetchApps(t, url, c.xml, c.gzip); err != nil {
					return err
				}
				if ids := regionIDs(got); !slices.Equal(ids, want) {
					return fmt.Errorf("instances %v, want %v", ids, want)
				}
				return nil
			})
			if got.AppsHashcode != wantHash || countedHash(got) != wantHash {
				t.Errorf("%s: apps__hashcode %q (counted %q), want %q", c.name, got.AppsHashcode, countedHash(got), wantHash)
			}
			n := 0
			for _, a := range got.Applications {
				if a.Name == "ORDERS" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s: ORDERS appears as %d applications, want one holding both regions' instances", c.name, n)
			}
			etag := resp.Header.Get("ETag")
			h := append(javaFetchHeaders(map[bool]string{false: "application/json", true: "application/xml"}[c.xml], c.gzip), "If-None-Match", etag)
			if r := do(t, http.MethodGet, url, nil, h...); etag == "" || r.Status != http.StatusNotModified {
				t.Errorf("%s: If-None-Match %s: status %d, want 304", c.name, etag, r.Status)
			}
		}
		// Without regions: the local registry only, as before.
		_, local, err := fetchApps(t, east.Base+"apps/", false, true)
		if err != nil || !slices.Equal(regionIDs(local), want[:1]) {
			t.Errorf("GET apps without regions: %v %v, want %v", err, regionIDs(local), want[:1])
		}
	})

	t.Run("allow-list and fallback", func(t *testing.T) {
		if r := do(t, http.MethodGet, east.Base+"apps/SECRET", nil, "Accept", "application/json"); r.Status != http.StatusNotFound {
			t.Errorf("apps/SECRET (not allowed) on east: %d, want 404", r.Status)
		}
		if r := do(t, http.MethodGet, east.Base+"instances/"+xWest.ID, nil, "Accept", "application/json"); r.Status != http.StatusNotFound {
			t.Errorf("instances/%s (not allowed) on east: %d, want 404", xWest.ID, r.Status)
		}
		r := do(t, http.MethodGet, east.Base+"apps/SEARCH", nil, "Accept", "application/json")
		if app, err := eureka.DecodeApplicationJSON(r.Body); r.Status != http.StatusOK || err != nil || len(app.Instances) != 1 || app.Instances[0].ID() != sWest.ID {
			t.Errorf("apps/SEARCH on east (fallback to west): %d %s", r.Status, r.Body)
		}
		for _, path := range []string{"apps/SEARCH/" + sWest.ID, "apps/ORDERS/" + oWest.ID, "instances/" + oWest.ID} {
			if r := do(t, http.MethodGet, east.Base+path, nil, "Accept", "application/json"); r.Status != http.StatusOK {
				t.Errorf("%s on east (fallback to west): %d", path, r.Status)
			}
		}
	})

	t.Run("delta carries west's change", func(t *testing.T) {
		setStatus(t, west, "ORDERS", oWest.ID, "DOWN")
		const hash = "DOWN_1_OUT_OF_SERVICE_1_UP_1_"
		for _, xml := range []bool{false, true} {
			eurekadtest.Eventually(t, regionsWithin, "the delta with regions=west holds west's change", func() error {
				_, d, err := fetchApps(t, east.BaseV2+"apps/delta?regions=west", xml, true)
				if err != nil {
					return err
				}
				var in *eureka.InstanceInfo
				for _, a := range d.Applications {
					for _, i := range a.Instances {
						if i.ID() == oWest.ID {
							in = i
						}
					}
				}
				if in == nil || in.Status != eureka.StatusDown || in.ActionType != eureka.ActionModified {
					return fmt.Errorf("delta %v lacks %s DOWN MODIFIED", regionIDs(d), oWest.ID)
				}
				if d.AppsHashcode != hash {
					return fmt.Errorf("delta apps__hashcode %q, want the merged registry's %q", d.AppsHashcode, hash)
				}
				return nil
			})
		}
		// The local delta knows nothing of west.
		_, d, err := fetchApps(t, east.Base+"apps/delta", false, false)
		if err != nil || slices.ContainsFunc(regionIDs(d), func(s string) bool { return strings.Contains(s, oWest.ID) }) {
			t.Errorf("apps/delta without regions: %v %v", err, regionIDs(d))
		}
		setStatus(t, west, "ORDERS", oWest.ID, "UP")
	})

	t.Run("long-poll with regions", func(t *testing.T) {
		// From a settled state: the previous step's changes have reached
		// east's copy.
		var etag string
		eurekadtest.Eventually(t, regionsWithin, "east's copy of west settles", func() error {
			r, got, err := fetchApps(t, url, false, false)
			if err != nil {
				return err
			}
			if ids := regionIDs(got); !slices.Equal(ids, want) {
				return fmt.Errorf("instances %v, want %v", ids, want)
			}
			if etag = r.Header.Get("ETag"); etag == "" {
				return fmt.Errorf("no ETag")
			}
			return nil
		})
		// Nothing changes: held for the whole wait, then 304.
		start := time.Now()
		r := do(t, http.MethodGet, url, nil, "Accept", "application/json", "If-None-Match", etag, "X-Eurekad-Wait", "1s")
		if took := time.Since(start); r.Status != http.StatusNotModified || took < 900*time.Millisecond {
			t.Errorf("long-poll with nothing changed: %d after %v, want 304 after 1 s", r.Status, took)
		}
		// A change in west releases it with the change.
		type result struct {
			r    *response
			err  error
			took time.Duration
		}
		done := make(chan result, 1)
		go func() {
			start := time.Now()
			r, err := tryDo(http.MethodGet, url, nil, "Accept", "application/json", "If-None-Match", etag, "X-Eurekad-Wait", "8s")
			done <- result{r, err, time.Since(start)}
		}()
		setStatus(t, west, "ORDERS", oWest.ID, "DOWN")
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		if res.r.Status != http.StatusOK || res.took >= 8*time.Second || !strings.Contains(string(res.r.Body), `"DOWN"`) {
			t.Errorf("long-poll across west's change: %d after %v: %.300s", res.r.Status, res.took, res.r.Body)
		}
		setStatus(t, west, "ORDERS", oWest.ID, "UP")
	})

	t.Run("hostile regions parameters", func(t *testing.T) {
		many := strings.Repeat("nope,", 10_000) + "west"
		for _, q := range []string{"", ",,,", "unknown", "WeSt", "west,WEST,west", "east", many, "%00", "west%2Ceast"} {
			for _, path := range []string{"apps/", "apps/delta"} {
				r := do(t, http.MethodGet, east.Base+path+"?regions="+q, nil, "Accept", "application/json")
				if r.Status != http.StatusOK {
					t.Errorf("%s?regions=%.30q: status %d, want 200", path, q, r.Status)
				}
			}
		}
		// One known region: its payloads are apps and delta, JSON and
		// XML; none more however many names were tried.
		if v := metricValue(t, east, "eurekad_remote_region_cached_payloads"); v == "" || mustAtoi(t, v) > 4 {
			t.Errorf("eurekad_remote_region_cached_payloads %q, want at most 4", v)
		}
	})

	t.Run("fargo unaffected", func(t *testing.T) {
		for _, mode := range fargoModes {
			conn := fargo.NewConn(strings.TrimSuffix(east.Base, "/"))
			conn.UseJson = mode.useJSON
			runFargoLifecycle(t, east, &conn, fargoCases[0].instance("regions-"+mode.name), fargoCases[0].metadata, mode.useJSON)
		}
	})

	t.Run("eureka-js-client unaffected", func(t *testing.T) {
		_, port, _ := strings.Cut(east.Addr, ":")
		js := startJSScenario(t, port, "JSCLIENT-REGIONS", "jsclient-regions.vip")
		js.summary(t, "ready") // fails the test unless the scenario went well
		js.finish(t)
	})

	t.Run("SDK picks its region first", func(t *testing.T) {
		c, err := client.New(client.Options{ServiceURLs: []string{east.Base}})
		if err != nil {
			t.Fatal(err)
		}
		// The default FetchInterval (30 s, as long as this test's waits):
		// the changes arrive through the long-poll of payloads with regions.
		dc := discovery.New(c, &discovery.Options{
			Zone: "east-1b", Region: "east", RemoteRegions: []string{"west"},
			RegionZones: map[string][]string{"east": {"east-1a", "east-1b"}, "west": {"west-1a"}},
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { dc.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		eurekadtest.Eventually(t, regionsWithin, "the SDK sees both regions", func() error {
			if n := len(dc.Instances("ORDERS")); n != 2 {
				return fmt.Errorf("%d UP ORDERS instances, want 2", n)
			}
			return nil
		})
		for range 4 {
			if in, err := dc.Pick("ORDERS"); err != nil || in.ID() != oEast.ID {
				t.Fatalf("Pick = %v, %v; want the local %s", in, err, oEast.ID)
			}
		}
		setStatus(t, east, "ORDERS", oEast.ID, "OUT_OF_SERVICE")
		eurekadtest.Eventually(t, regionsWithin, "Pick falls back to the remote region", func() error {
			in, err := dc.Pick("ORDERS")
			if err != nil || in.ID() != oWest.ID {
				return fmt.Errorf("Pick = %v, %v; want west's %s", in, err, oWest.ID)
			}
			return nil
		})
		setStatus(t, east, "ORDERS", oEast.ID, "UP")
	})

	t.Run("west down, then back", func(t *testing.T) {
		if st := regionsStatus(t, east); !st.FirstFetchDone || st.Stale || st.Instances != 2 {
			t.Errorf("west's status before the kill: %+v", st)
		}
		west.kill()
		eurekadtest.Eventually(t, regionsWithin, "east flags west's copy as stale", func() error {
			st := regionsStatus(t, east)
			if !st.Stale || st.LastError == "" || st.Age < 3 || st.Failures == 0 {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
		age := metricValue(t, east, `eurekad_remote_region_age_seconds{region="west"}`)
		if a, err := strconv.ParseFloat(age, 64); err != nil || a < 3 {
			t.Errorf("eurekad_remote_region_age_seconds %q, want >= 3", age)
		}
		if f := metricValue(t, east, `eurekad_remote_region_fetch_failures_total{region="west"}`); f == "" || f == "0" {
			t.Errorf("eurekad_remote_region_fetch_failures_total %q", f)
		}
		// Local data plus the last copy, at once.
		_, got, err := fetchApps(t, url, false, true)
		if err != nil || !slices.Equal(regionIDs(got), want) {
			t.Errorf("with west down: %v %v, want %v", err, regionIDs(got), want)
		}

		// A restarted west (memory store) holds only what registers again.
		west = startServerAt(t, westAddr, westEnv...)
		o2 := registerIn(t, west, "ORDERS", "10.0.2.9", "west-1a")
		eurekadtest.Eventually(t, regionsWithin, "east catches up with the restarted west", func() error {
			_, got, err := fetchApps(t, url, false, true)
			if err != nil {
				return err
			}
			if ids, w := regionIDs(got), []string{"ORDERS/" + oEast.ID + ":UP", "ORDERS/" + o2.ID + ":UP"}; !slices.Equal(ids, w) {
				return fmt.Errorf("instances %v, want %v", ids, w)
			}
			if st := regionsStatus(t, east); st.Stale || st.LastError != "" {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
	})
}

// TestRemoteRegionsNotReady checks Eureka's rule that a request with
// regions is refused (403) until every remote region finished its first
// fetch, while requests without regions are served.
func TestRemoteRegionsNotReady(t *testing.T) {
	t.Parallel()
	// A remote region nobody serves: its first fetch never completes.
	s := startServer(t, regionEnv("east", "west", eurekadtest.FreeAddr(t))...)
	for _, path := range []string{"apps/?regions=west", "apps/delta?regions=WEST,unknown"} {
		if r := do(t, http.MethodGet, s.Base+path, nil, "Accept", "application/json"); r.Status != http.StatusForbidden {
			t.Errorf("%s before west's first fetch: %d, want 403", path, r.Status)
		}
	}
	for _, q := range []string{"", "?regions=", "?regions=unknown"} {
		if r := do(t, http.MethodGet, s.Base+"apps/"+q, nil, "Accept", "application/json"); r.Status != http.StatusOK {
			t.Errorf("apps/%s: %d, want 200", q, r.Status)
		}
	}
}
