package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hudl/fargo"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// healthServer is the instances' health endpoints: each path answers the
// status the test sets (200 until told otherwise) and counts its requests.
type healthServer struct {
	*httptest.Server
	mu    sync.Mutex
	codes map[string]int
	hits  map[string]int
}

func newHealthServer(t *testing.T) *healthServer {
	h := &healthServer{codes: map[string]int{}, hits: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.hits[r.URL.Path]++
		code := h.codes[r.URL.Path]
		h.mu.Unlock()
		if code == 0 {
			code = http.StatusOK
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *healthServer) set(path string, code int) {
	h.mu.Lock()
	h.codes[path] = code
	h.mu.Unlock()
}

func (h *healthServer) count(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[path]
}

func (h *healthServer) port() string {
	_, p, _ := net.SplitHostPort(h.Listener.Addr().String())
	return p
}

// The health settings of the end-to-end tests: a probe every 500 ms, DOWN
// after 3 failures (1.5 s), UP after 2 successes.
const (
	healthInterval = 500 * time.Millisecond
	healthFailures = 3
)

func healthEnv(extra ...string) []string {
	return append([]string{
		"EUREKAD_HEALTH_INTERVAL=" + healthInterval.String(), "EUREKAD_HEALTH_MIN_INTERVAL=100ms",
		"EUREKAD_HEALTH_TIMEOUT=400ms", "EUREKAD_HEALTH_FAILURES=" + strconv.Itoa(healthFailures), "EUREKAD_HEALTH_SUCCESSES=2",
	}, extra...)
}

// historyHas reports whether the instance's history (the admin API) holds
// a status-changed entry to status with health verdict health.
func historyHas(t *testing.T, base, app, id, status, health, detail string) error {
	r := do(t, http.MethodGet, strings.TrimSuffix(base, "eureka/")+"admin/api/instances/"+app+"/"+id+"/history", nil)
	var v struct {
		Changes []struct{ Event, Status, Health, HealthDetail string }
	}
	if err := json.Unmarshal(r.Plain(t), &v); err != nil {
		return fmt.Errorf("history: %v: %s", err, r.Plain(t))
	}
	entries := v.Changes
	for _, e := range entries {
		if e.Event == "status-changed" && e.Status == status && e.Health == health && e.HealthDetail == detail {
			return nil
		}
	}
	return fmt.Errorf("no status-changed to %s (health %q, %q) in %+v", status, health, detail, entries)
}

// An instance whose health endpoint turns 500 is DOWN for fargo and for
// eureka-js-client within interval × threshold, with a status-changed
// event carrying the reason and the metrics; back to 200 it is UP again;
// an operator's OUT_OF_SERVICE is never undone. fargo's service opts in by
// a server rule for its application, the node service by its metadata.
func TestHealthChecksWithClients(t *testing.T) {
	t.Parallel()
	hs := newHealthServer(t)
	port, _ := strconv.Atoi(hs.port())
	s := startServer(t, healthEnv(`EUREKAD_HEALTH_CHECKS_JSON=[{"app":"FARGO-HEALTH","kind":"http","path":"/health/fargo"}]`)...)

	conn := fargo.NewConn(strings.TrimSuffix(s.Base, "/"))
	conn.UseJson = true
	ins := &fargo.Instance{
		InstanceId: "fargo-health-1", HostName: "fargo-health.e2e.local", App: "fargo-health", IPAddr: "127.0.0.1",
		VipAddress: "fargo-health", Status: fargo.UP, Port: port, PortEnabled: true,
		DataCenterInfo: fargo.DataCenterInfo{Name: fargo.MyOwn}, LeaseInfo: fargo.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 120},
	}
	if err := conn.RegisterInstance(ins); err != nil {
		t.Fatal(err)
	}
	fargoStatus := func() (fargo.StatusType, map[string]string, error) {
		a, err := conn.GetApp("FARGO-HEALTH")
		if err != nil {
			return "", nil, err
		}
		if len(a.Instances) != 1 {
			return "", nil, fmt.Errorf("%d instances", len(a.Instances))
		}
		in := a.Instances[0]
		md := map[string]string{}
		for _, k := range []string{"eurekad.health", "eurekad.health.detail"} {
			if v, err := in.Metadata.GetString(k); err == nil {
				md[k] = v
			}
		}
		return in.Status, md, nil
	}
	waitFargo := func(what string, want fargo.StatusType, health string) time.Duration {
		t.Helper()
		start := time.Now()
		eventually(t, what, func() error {
			st, md, err := fargoStatus()
			if err != nil {
				return err
			}
			if st != want || md["eurekad.health"] != health {
				return fmt.Errorf("fargo reads %s, metadata %v", st, md)
			}
			return nil
		})
		return time.Since(start)
	}

	_, portStr, _ := strings.Cut(s.Addr, ":")
	js := startJSScenario(t, portStr, "JS-HEALTH", "js-health.vip", "JS_SCENARIO=health", "JS_HEALTH_URL="+hs.URL+"/health/js")
	sum := js.summary(t, "ready")
	eurekadtest.Until(t, 10*time.Second, "both instances probed", func() bool {
		return hs.count("/health/fargo") >= 2 && hs.count("/health/js") >= 2
	})
	waitFargo("fargo reads UP while passing", fargo.UP, "")

	// 500: DOWN within interval × threshold (and the time to see it).
	hs.set("/health/fargo", 500)
	hs.set("/health/js", 500)
	flipped := time.Now()
	took := waitFargo("fargo reads DOWN", fargo.DOWN, "down")
	if _, err := io.WriteString(js.stdin, "status DOWN\n"); err != nil {
		t.Fatal(err)
	}
	js.summary(t, "status-DOWN")
	jsTook := time.Since(flipped)
	t.Logf("DOWN after %v for fargo, %v for eureka-js-client (interval %v × %d failures)", took, jsTook, healthInterval, healthFailures)
	if limit := healthInterval*healthFailures + 2*time.Second; took > limit {
		t.Errorf("fargo saw DOWN after %v, want within %v", took, limit)
	}
	if err := historyHas(t, s.Base, "FARGO-HEALTH", "fargo-health-1", "DOWN", "down", "HTTP 500"); err != nil {
		t.Error(err)
	}
	if err := historyHas(t, s.Base, "JS-HEALTH", sum.InstanceA, "DOWN", "down", "HTTP 500"); err != nil {
		t.Error(err)
	}
	if n, _ := series(scrapeMetrics(t, s), "eurekad_health_checks_total", "result=failing"); n < 2*healthFailures {
		t.Errorf("eurekad_health_checks_total{result=\"failing\"} = %v", n)
	}
	eventually(t, "the failing gauge", func() error {
		if n, ok := series(scrapeMetrics(t, s), "eurekad_health_failing_instances"); n != 2 {
			return fmt.Errorf("eurekad_health_failing_instances = %v (present %v)", n, ok)
		}
		return nil
	})

	// 200 again: UP.
	hs.set("/health/fargo", 200)
	hs.set("/health/js", 200)
	waitFargo("fargo reads UP again", fargo.UP, "")
	io.WriteString(js.stdin, "status UP\n")
	js.summary(t, "status-UP")

	// An operator's OUT_OF_SERVICE is never undone, failing or passing.
	if err := conn.UpdateInstanceStatus(ins, fargo.OUTOFSERVICE); err != nil {
		t.Fatal(err)
	}
	hs.set("/health/fargo", 500)
	seen := hs.count("/health/fargo")
	eurekadtest.Until(t, 10*time.Second, "failing probes under the override", func() bool {
		return hs.count("/health/fargo") >= seen+healthFailures+1
	})
	waitFargo("fargo reads OUT_OF_SERVICE, the verdict noted", fargo.OUTOFSERVICE, "failing")
	hs.set("/health/fargo", 200)
	seen = hs.count("/health/fargo")
	eurekadtest.Until(t, 10*time.Second, "passing probes under the override", func() bool {
		return hs.count("/health/fargo") >= seen+3
	})
	waitFargo("fargo still reads OUT_OF_SERVICE, the verdict cleared", fargo.OUTOFSERVICE, "")

	js.finish(t)
}
