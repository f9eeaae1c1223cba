package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/client"
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
	InstanceC string `json:"instanceC"`
	Events    map[string]map[string]int
	Requests  map[string][]string
	// ClientErrors are errors and failure warnings the client logged.
	ClientErrors []string `json:"clientErrors"`
	// Refusals (JS_SCENARIO=admission) are the errors of the clients whose
	// start failed, by client; ExpectedErrors is what those clients logged.
	Refusals       map[string]string `json:"refusals"`
	ExpectedErrors []string          `json:"expectedErrors"`
	Steps          []string          `json:"steps"`
	DeltaFetches   int               `json:"deltaFetches"`
	FullFetches    int               `json:"fullFetches"`
	// FullFetchesAfterFirstDelta counts full fetches once deltas started.
	FullFetchesAfterFirstDelta int `json:"fullFetchesAfterFirstDelta"`
	// Seen (JS_SCENARIO=reader, phase done) is the status the client's
	// cache holds for each instance of the application, by instance id.
	Seen map[string]string `json:"seen"`
}

// TestEurekaJSClient runs the real eureka-js-client (test/jsclient) against
// eurekad with deltas on: register, heartbeats, full fetch, a second
// client's registration and cancellation seen through deltas, and
// deregistration. It checks the client's own summary and the server side.
func TestEurekaJSClient(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	_, port, _ := strings.Cut(s.Addr, ":")
	const app, vip = "JSCLIENT-E2E", "jsclient-e2e.vip"
	js := startJSScenario(t, port, app, vip)

	// Phase 1: the client ran the scenario and is still registered.
	sum := js.summary(t, "ready")
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
	sum = js.finish(t)
	if sum.Events["A"]["deregistered"] != 1 {
		t.Errorf("client A events %v: want deregistered 1 (cancel must answer 200)", sum.Events["A"])
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

// jsScenario is test/jsclient/scenario.js running: it prints a "ready"
// summary, waits for the go-ahead, then prints a "done" one.
type jsScenario struct {
	cmd    *exec.Cmd
	stdin  io.Writer
	lines  *bufio.Scanner
	stderr *syncBuffer
}

// startJSScenario runs scenario.js against 127.0.0.1:port with app and vip
// (npm ci first if its modules are missing), plus env. It is ended, and
// its stderr logged if the test failed, in t.Cleanup.
func startJSScenario(t *testing.T, port, app, vip string, env ...string) *jsScenario {
	t.Helper()
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
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	cmd := exec.CommandContext(ctx, node, "scenario.js")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(),
		"EUREKA_HOST=127.0.0.1", "EUREKA_PORT="+port, "EUREKA_SERVICE_PATH=/eureka/apps/",
		"JS_APP="+strings.ToLower(app), "JS_VIP="+vip, "NODE_ENV=e2e"), env...)
	js := &jsScenario{cmd: cmd, stderr: &syncBuffer{}}
	var err error
	if js.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = js.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel() // kills it if still running
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("scenario.js stderr:\n%s", js.stderr.String())
		}
	})
	js.lines = bufio.NewScanner(stdout)
	js.lines.Buffer(make([]byte, 1<<20), 1<<20)
	return js
}

// summary reads the next summary, which must be phase's and successful.
func (js *jsScenario) summary(t *testing.T, phase string) jsSummary {
	t.Helper()
	if !js.lines.Scan() {
		t.Fatalf("scenario.js ended before printing its %q summary (%v)", phase, js.lines.Err())
	}
	var sum jsSummary
	if err := json.Unmarshal(js.lines.Bytes(), &sum); err != nil {
		t.Fatalf("scenario.js printed %q: %v", js.lines.Text(), err)
	}
	if sum.Phase != phase || !sum.OK || sum.Error != "" || len(sum.ClientErrors) > 0 {
		t.Fatalf("scenario.js %q summary reports failure:\n%s", phase, js.lines.Text())
	}
	return sum
}

// finish gives the go-ahead (client A stops), reads the "done" summary and
// waits for a clean exit.
func (js *jsScenario) finish(t *testing.T) jsSummary {
	t.Helper()
	if _, err := io.WriteString(js.stdin, "go\n"); err != nil {
		t.Fatalf("signalling scenario.js: %v", err)
	}
	sum := js.summary(t, "done")
	if err := js.cmd.Wait(); err != nil {
		t.Fatalf("scenario.js: %v", err)
	}
	return sum
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

// TestEurekaJSClientOverMutualTLS runs the same eureka-js-client scenario
// over HTTPS against an eurekad that requires client certificates and lets
// the static authenticator decide by the certificate's name: a TLS stack
// other than Go's presents the identity the auth hook acts on.
func TestEurekaJSClientOverMutualTLS(t *testing.T) {
	t.Parallel()
	pki := eurekadtest.NewPKI(t)
	cert, key := pki.Issue("server", "127.0.0.1")
	jsCert, jsKey := pki.Issue("js", "js-client.internal")
	s := startServer(t, "EUREKAD_TLS_CERT_FILE="+cert, "EUREKAD_TLS_KEY_FILE="+key,
		"EUREKAD_TLS_CLIENT_CA_FILE="+pki.CAFile, "EUREKAD_TLS_CLIENT_AUTH=require",
		"EUREKAD_PLUGINS_AUTH_PLUGIN=static",
		`EUREKAD_PLUGINS_AUTH_CONFIG_JSON={"certificates": [{"common_name": "js-client.internal", "rules": [{"operations": ["register", "renew", "cancel", "read"], "apps": ["JSCLIENT-TLS"]}, {"operations": ["read"]}]}, {"common_name": "reader.internal", "rules": [{"operations": ["read"]}]}]}`)
	_, port, _ := strings.Cut(s.Addr, ":")
	const app, vip = "JSCLIENT-TLS", "jsclient-tls.vip"
	js := startJSScenario(t, port, app, vip, "EUREKA_CA="+pki.CAFile, "EUREKA_CERT="+jsCert, "EUREKA_KEY="+jsKey)

	sum := js.summary(t, "ready")
	if a := sum.Events["A"]; a["registered"] != 1 || a["heartbeat"] < 3 || a["registryUpdated"] < 1 {
		t.Errorf("client A events %v: want registered 1, heartbeat >= 3, registryUpdated >= 1", a)
	}
	if sum.DeltaFetches < 2 {
		t.Errorf("client A made %d delta fetches over HTTPS, want at least 2", sum.DeltaFetches)
	}
	pki.Issue("reader", "reader.internal")
	reader, err := client.New(client.Options{ServiceURLs: []string{s.Base}, Timeout: 5 * time.Second, TLSConfig: pki.ClientTLS("reader")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := reader.Application(context.Background(), app)
	if err != nil || len(got.Instances) != 1 || got.Instances[0].HostName != sum.InstanceA {
		t.Fatalf("GET apps/%s over mTLS while A is registered: %+v, %v", app, got, err)
	}
	if err := reader.Cancel(context.Background(), app, got.Instances[0].ID()); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a cancel with another certificate = %v, want 403", err)
	}
	if sum = js.finish(t); sum.Events["A"]["deregistered"] != 1 {
		t.Errorf("client A events %v: want deregistered 1", sum.Events["A"])
	}
}
