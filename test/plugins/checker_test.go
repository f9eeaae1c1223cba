package plugins

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/proctest"
)

// actuators serves Spring Boot actuator health answers per path: UP (200)
// until a path is set DOWN (503).
type actuators struct {
	mu   sync.Mutex
	down map[string]bool
}

func (a *actuators) set(path string, down bool) {
	a.mu.Lock()
	a.down[path] = down
	a.mu.Unlock()
}

func (a *actuators) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	down := a.down[r.URL.Path]
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"DOWN"}`))
		return
	}
	w.Write([]byte(`{"status":"UP"}`))
}

// sample reads one sample of /metrics; -1 when absent.
func sample(t *testing.T, s *eurekadtest.Server, name string) float64 {
	t.Helper()
	_, body := call(t, "", "", "GET", "http://"+s.Addr+"/metrics", "")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+]+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// A checker that hangs (SIGSTOP) or is killed with kill -9 leaves every
// status as it was: its checks are undecided. eurekad restarts it, and
// checks decide again. Run for a checker plugin (examples/checker-plugin)
// and for the built-in checker isolated in a process of its own.
func TestCheckerPluginHangsAndIsKilled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (env []string, match string)
	}{
		{"example-plugin", func(t *testing.T) ([]string, string) {
			bin := eurekadtest.BuildPackage(t, "./examples/checker-plugin")
			return []string{"EUREKAD_PLUGINS_CHECKER_PLUGIN=" + bin, checkRule("actuator")}, bin
		}},
		{"isolated-builtin", func(t *testing.T) ([]string, string) {
			return []string{"EUREKAD_PLUGINS_ISOLATE_BUILTINS=true", checkRule("http")}, "plugin serve checker.builtin"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, match := tc.setup(t)
			checkerKilled(t, env, match)
		})
	}
}

// checkRule is a health rule of kind for application SPRING.
func checkRule(kind string) string {
	return `EUREKAD_HEALTH_CHECKS_JSON=[{"app":"SPRING","kind":"` + kind + `","interval":"300ms","timeout":"300ms","failures":2,"successes":2}]`
}

func checkerKilled(t *testing.T, env []string, match string) {
	act := &actuators{down: map[string]bool{"/s2/actuator/health": true}}
	srv := httptest.NewServer(act)
	defer srv.Close()
	s := eurekadtest.Start(t, append(env, "EUREKAD_HEALTH_MIN_INTERVAL=100ms", "EUREKAD_HEALTH_GRACE=300ms")...)
	for _, id := range []string{"s1", "s2"} {
		body := fmt.Sprintf(`{"instance":{"instanceId":%q,"hostName":"%s.local","app":"SPRING","ipAddr":"127.0.0.1","status":"UP",
			"port":{"$":8080,"@enabled":"true"},"healthCheckUrl":"%s/%s/actuator/health",
			"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`, id, id, srv.URL, id)
		if code, b := call(t, "", "", "POST", s.Base+"apps/SPRING", body); code != 204 {
			t.Fatalf("register %s: %d %s", id, code, b)
		}
	}
	status := func(id string) string {
		_, body := call(t, "", "", "GET", s.Base+"apps/SPRING/"+id, "")
		var v struct{ Instance struct{ Status string } }
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		return v.Instance.Status
	}
	waitFor(t, "s2 DOWN by its actuator, s1 UP", 15*time.Second, func() bool {
		return status("s2") == "DOWN" && status("s1") == "UP"
	})

	plug := proctest.Child(t, s.PID(), match)
	undecided := `eurekad_health_checks_total{result="undecided"}`
	before := sample(t, s, undecided)
	// A hanging plugin: every check runs into its deadline, undecided.
	if err := syscall.Kill(plug.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	act.set("/s2/actuator/health", false) // would lift s2, if anything decided
	act.set("/s1/actuator/health", true)  // would take s1 down
	waitFor(t, "undecided checks while the plugin hangs", 15*time.Second, func() bool {
		return sample(t, s, undecided) >= before+6
	})
	if a, b := status("s1"), status("s2"); a != "UP" || b != "DOWN" {
		t.Fatalf("while the plugin hangs: s1 %s, s2 %s; want UP, DOWN (unchanged)", a, b)
	}
	// kill -9: still nothing changes, and eurekad starts it again.
	if err := syscall.Kill(plug.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if a, b := status("s1"), status("s2"); a != "UP" || b != "DOWN" {
		t.Fatalf("after kill -9: s1 %s, s2 %s; want UP, DOWN (unchanged)", a, b)
	}
	waitFor(t, "the plugin restarted", 15*time.Second, func() bool {
		for _, c := range proctest.Children(t, s.PID()) {
			if c.PID != plug.PID && c.Cmdline == plug.Cmdline && proctest.Alive(c.PID) {
				return true
			}
		}
		return false
	})
	// The restarted plugin decides: the actuators' new answers apply.
	waitFor(t, "s1 DOWN and s2 UP by the restarted plugin", 15*time.Second, func() bool {
		return status("s1") == "DOWN" && status("s2") == "UP"
	})
}
