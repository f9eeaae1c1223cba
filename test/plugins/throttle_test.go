package plugins

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// Guessing passwords: after failure_burst wrong guesses from one address,
// its requests that miss the decision cache get 429 with Retry-After,
// without reaching the plugin, and /metrics counts them; a caller whose
// allow is cached goes on unhindered.
func TestGuessingIsThrottled(t *testing.T) {
	env, _ := exampleAuth(t, "failure_rate: 0.01", "failure_burst: 3")
	// Scrapes come from the throttled address without credentials, as a
	// Prometheus beside eurekad would: the setting lets them through.
	s := eurekadtest.Start(t, env, "EUREKAD_HTTP_METRICS_PUBLIC=true")
	url := s.Base + "apps/ORDERS-API"
	if code, body := call(t, "orders", "o-secret", "POST", url, instanceJSON("ORDERS-API", "o-1")); code != http.StatusNoContent {
		t.Fatalf("register with the right password = %d %s", code, body)
	}
	if code, body := call(t, "orders", "o-secret", "PUT", url+"/o-1", ""); code != http.StatusOK {
		t.Fatalf("heartbeat = %d %s", code, body)
	}
	for i := range 3 {
		if code, _ := call(t, "orders", fmt.Sprint("guess-", i), "POST", url, instanceJSON("ORDERS-API", "o-1")); code != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d, want 401", i, code)
		}
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader(instanceJSON("ORDERS-API", "o-1")))
	req.SetBasicAuth("orders", "guess-3")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("guess after the burst = %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// The heartbeat's allow is cached: heartbeats go on.
	if code, body := call(t, "orders", "o-secret", "PUT", url+"/o-1", ""); code != http.StatusOK {
		t.Errorf("heartbeat with cached credentials while throttled = %d %s", code, body)
	}
	_, metrics := call(t, "", "", "GET", "http://"+s.Addr+"/metrics", "")
	if !strings.Contains(metrics, `eurekad_auth_decisions_total{decision="throttle",op="all"} 1`) {
		t.Errorf("/metrics does not count the throttled request:\n%s", grepLines(metrics, "eurekad_auth_decisions_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
