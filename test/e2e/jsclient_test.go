package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jsSummary is what test/jsclient/scenario.js prints, once with phase
// "ready" and once with phase "done".
type jsSummary struct {
	Phase     string `json:"phase"`
	OK        bool   `json:"ok"`
	Error     string `json:"error"`
	App       string `json:"app"`
	VIP       string `json:"vip"`
	InstanceA string `json:"instanceA"`
	InstanceB string `json:"instanceB"`
	Events    map[string]map[string]int
	Requests  map[string][]string
	// ClientErrors are errors and failure warnings the client logged.
	ClientErrors []string `json:"clientErrors"`
	Steps        []string `json:"steps"`
	DeltaFetches int      `json:"deltaFetches"`
	FullFetches  int      `json:"fullFetches"`
	// FullFetchesAfterFirstDelta counts full fetches once deltas started.
	FullFetchesAfterFirstDelta int `json:"fullFetchesAfterFirstDelta"`
}

// TestEurekaJSClient runs the real eureka-js-client (test/jsclient) against
// eurekad with deltas on: register, heartbeats, full fetch, a second
// client's registration and cancellation seen through deltas, and
// deregistration. It checks the client's own summary and the server side.
func TestEurekaJSClient(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot, "test", "jsclient")
	node := requireTool(t, "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "eureka-js-client")); err != nil {
		npm := requireTool(t, "npm")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}

	s := startServer(t)
	_, port, _ := strings.Cut(s.Addr, ":")
	const app, vip = "JSCLIENT-E2E", "jsclient-e2e.vip"

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "scenario.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"EUREKA_HOST=127.0.0.1", "EUREKA_PORT="+port, "EUREKA_SERVICE_PATH=/eureka/apps/",
		"JS_APP="+strings.ToLower(app), "JS_VIP="+vip, "NODE_ENV=e2e")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("scenario.js stderr:\n%s", stderr.String())
		}
	}()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	readSummary := func(phase string) jsSummary {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("scenario.js ended before printing its %q summary (%v)", phase, lines.Err())
		}
		var sum jsSummary
		if err := json.Unmarshal(lines.Bytes(), &sum); err != nil {
			t.Fatalf("scenario.js printed %q: %v", lines.Text(), err)
		}
		if sum.Phase != phase || !sum.OK || sum.Error != "" || len(sum.ClientErrors) > 0 {
			t.Fatalf("scenario.js %q summary reports failure:\n%s", phase, lines.Text())
		}
		return sum
	}

	// Phase 1: the client ran the scenario and is still registered.
	sum := readSummary("ready")
	t.Logf("ready: steps %q, delta fetches %d, events %v", sum.Steps, sum.DeltaFetches, sum.Events)
	a, b := sum.Events["A"], sum.Events["B"]
	if a["registered"] != 1 || a["started"] != 1 || a["heartbeat"] < 3 || a["registryUpdated"] < 1 {
		t.Errorf("client A events %v: want registered 1, started 1, heartbeat >= 3, registryUpdated >= 1", a)
	}
	if b["registered"] != 1 || b["deregistered"] != 1 {
		t.Errorf("client B events %v: want registered 1 and deregistered 1 (cancel must answer 200)", b)
	}
	// One POST only: a 404 on a heartbeat would have made the client
	// register again.
	if n := countString(sum.Requests["A"], "POST "+strings.ToLower(app)); n != 1 {
		t.Errorf("client A sent %d registrations, want 1 (requests %q)", n, sum.Requests["A"])
	}
	if sum.FullFetches < 1 || sum.DeltaFetches < 2 || sum.FullFetchesAfterFirstDelta != 0 {
		t.Errorf("client A: %d full fetches (%d after the first delta) and %d delta fetches, want full fetches and then only deltas (requests %q)",
			sum.FullFetches, sum.FullFetchesAfterFirstDelta, sum.DeltaFetches, sum.Requests["A"])
	}

	// Server side while A is registered and heartbeating every 100 ms.
	in := mustGetInstance(t, s.Base, app, sum.InstanceA)
	if v, ok := in["instanceId"]; ok {
		t.Errorf("instance A has instanceId %v; the js client sent none and the server must not invent one (§3.1)", v)
	}
	expectFields(t, in, map[string]any{
		"hostName": sum.InstanceA, "app": app, "ipAddr": "127.0.0.11", "status": "UP", "overriddenStatus": "UNKNOWN",
		"port.$": int64(8080), "port.@enabled": "true", "vipAddress": vip, "metadata.client": "eureka-js-client",
		"metadata.e2e.run": port, "homePageUrl": "http://" + sum.InstanceA + ":8080/",
	})
	first := num(in, "leaseInfo", "lastRenewalTimestamp")
	if reg := num(in, "leaseInfo", "registrationTimestamp"); first <= reg {
		t.Errorf("after %d heartbeats lastRenewalTimestamp %d is not after registrationTimestamp %d", a["heartbeat"], first, reg)
	}
	eventually(t, "lastRenewalTimestamp advances with the client's heartbeats", func() error {
		in := mustGetInstance(t, s.Base, app, sum.InstanceA)
		if now := num(in, "leaseInfo", "lastRenewalTimestamp"); now <= first {
			return fmt.Errorf("lastRenewalTimestamp still %d", now)
		}
		return nil
	})
	if _, status := getInstance(t, s.Base, app, sum.InstanceB); status != http.StatusNotFound {
		t.Errorf("instance B after its deregistration: status %d, want 404", status)
	}

	// Phase 2: let A stop (deregister).
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatalf("signalling scenario.js: %v", err)
	}
	sum = readSummary("done")
	if sum.Events["A"]["deregistered"] != 1 {
		t.Errorf("client A events %v: want deregistered 1 (cancel must answer 200)", sum.Events["A"])
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Fatalf("scenario.js: %v", err)
	}
	if _, status := getInstance(t, s.Base, app, sum.InstanceA); status != http.StatusNotFound {
		t.Errorf("instance A after stop: status %d, want 404", status)
	}
	waitApps(t, "full registry without the js app", s.Base+"apps/", func(_ *response, p *appsPayload) error {
		if a := p.app(app); a != nil {
			return fmt.Errorf("application %s still listed with %d instances", app, len(a.Instances))
		}
		return nil
	})
}

// requireTool finds an executable, failing in CI (CI=true) and skipping
// elsewhere when it is missing.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required for the eureka-js-client test in CI: %v", name, err)
	}
	t.Skipf("%s not found (%v); install Node.js 18+ to run the eureka-js-client test", name, err)
	return ""
}

func countString(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
