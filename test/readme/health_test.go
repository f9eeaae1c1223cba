package readme

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// testHealthChecks starts eurekad on the README's health rules, then
// registers an instance of the rule's application and one per client
// snippet (Spring's application.yml, fargo's and eureka-js-client's
// metadata, registered as those clients send it) on the address of a test
// server of its own, and waits for eurekad to check all four and to probe
// each on the path it names.
func testHealthChecks(t *testing.T, bs []block) {
	var mu sync.Mutex
	hits := map[string]int{} // by "APP /path"
	listen := func(app string) (port string) {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[app+" "+r.URL.Path]++
			mu.Unlock()
		}))
		t.Cleanup(hs.Close)
		_, port, _ = net.SplitHostPort(hs.Listener.Addr().String())
		return port
	}

	s := newShell(t, t.TempDir())
	writeFile(t, filepath.Join(s.dir, "eurekad.yaml"), bs[0].Text)
	srv := s.start("eurekad --config eurekad.yaml")
	defer srv.stop()
	base := s.base("8761")
	registerWith := func(app string, md map[string]string) {
		t.Helper()
		port := listen(app)
		var pairs []string
		for k, v := range md {
			pairs = append(pairs, fmt.Sprintf("%q: %q", k, v))
		}
		body := fmt.Sprintf(`{"instance": {"instanceId": "%s-1", "hostName": "127.0.0.1", "app": %q, "ipAddr": "127.0.0.1",
			"status": "UP", "port": {"$": %s, "@enabled": "true"}, "metadata": {%s},
			"dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", "name": "MyOwn"}}}`,
			strings.ToLower(app), app, port, strings.Join(pairs, ", "))
		if code, out := httpDo(t, s.client, http.MethodPost, base+"/eureka/apps/"+app, body, "Content-Type", "application/json"); code != http.StatusNoContent {
			t.Fatalf("register %s: %d %s", app, code, out)
		}
	}
	registerWith("ORDERS", nil)

	var spring struct {
		Eureka struct {
			Instance struct {
				MetadataMap map[string]string `yaml:"metadata-map"`
			}
		}
	}
	if err := yaml.Unmarshal([]byte(bs[1].Text), &spring); err != nil {
		t.Fatal(err)
	}
	md := map[string]string{}
	for k, v := range spring.Eureka.Instance.MetadataMap {
		md[strings.Trim(k, "[]")] = v // Spring's bracket notation keeps the dots
	}
	registerWith("SPRING", md)
	registerWith("FARGO", pairsOf(t, bs[2].Text, `SetMetadataString\("([^"]+)", "([^"]+)"\)`))
	registerWith("NODE", pairsOf(t, bs[3].Text, `'(eurekad[^']*)': '([^']*)'`))

	eurekadtest.Until(t, 10*time.Second, "4 checked instances", func() bool {
		_, body := httpDo(t, s.client, http.MethodGet, base+"/metrics", "")
		return strings.Contains(body, "\neurekad_health_checked_instances 4\n")
	})
	eurekadtest.Until(t, 30*time.Second, "a probe of each instance on its path", func() bool {
		mu.Lock()
		defer mu.Unlock()
		// ORDERS and SPRING use /actuator/health, FARGO and NODE /health;
		// each is probed once per its 10 or 15 s interval.
		return hits["ORDERS /actuator/health"] >= 1 && hits["SPRING /actuator/health"] >= 1 &&
			hits["FARGO /health"] >= 1 && hits["NODE /health"] >= 1
	})
}

// pairsOf collects the metadata a snippet sets, by re (key, value).
func pairsOf(t *testing.T, text, re string) map[string]string {
	t.Helper()
	md := map[string]string{}
	for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(text, -1) {
		md[m[1]] = m[2]
	}
	if md["eurekad.check"] == "" {
		t.Fatalf("no eurekad.check in %q", text)
	}
	return md
}
