// Package dashboard tests eurekad's operator dashboard in a real browser:
// headless Chromium (the Debian package, which make test installs) driven
// over the DevTools protocol with chromedp, against the real eurekad binary.
package dashboard

import (
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

	"github.com/chromedp/chromedp"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

const adminToken = "dashboard-s3cret"

func TestMain(m *testing.M) {
	code := m.Run()
	eurekadtest.RemoveBinary()
	os.Exit(code)
}

// chromium finds the browser. With CI=true a missing browser fails the
// test: make test installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (make deps installs the Debian package)")
	}
	t.Skip("chromium is not installed; run make deps (apt-get install chromium)")
	return ""
}

// artifactDir is where the screenshot goes: $EUREKAD_ARTIFACTS, else
// test/dashboard/artifacts (ignored by git).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("EUREKAD_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

func instanceJSON(app, id string, durationSecs int) string {
	return fmt.Sprintf(`{"instance":{"instanceId":%[2]q,"hostName":"%[2]s.example","app":%[1]q,"ipAddr":"10.1.2.3",
"status":"UP","port":{"$":8080,"@enabled":"true"},"securePort":{"$":8443,"@enabled":"false"},
"vipAddress":"%[1]s","statusPageUrl":"http://%[2]s.example:8080/info",
"leaseInfo":{"renewalIntervalInSecs":1,"durationInSecs":%[3]d},
"metadata":{"zone":"zone-a","version":"1.4.2"},
"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`, app, id, durationSecs)
}

func do(t *testing.T, method, url, body string, want int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, want)
	}
	return b
}

// instanceStatus reads an instance's status through the admin API.
func instanceStatus(t *testing.T, s *eurekadtest.Server, app, id string) string {
	t.Helper()
	var v struct{ Status string }
	if err := json.Unmarshal(do(t, "GET", "http://"+s.Addr+"/admin/api/instances/"+app+"/"+id, "", 200), &v); err != nil {
		t.Fatal(err)
	}
	return v.Status
}

// waitJS polls a JavaScript condition in the page until it is true.
func waitJS(what, expr string) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := poll(ctx, t); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		return nil
	})
}

// js runs statements in the page.
func js(stmts string) chromedp.Action[chromedp.Void] {
	eval := chromedp.Evaluate[bool](stmts + "; true")
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := eval(ctx, t)
		return err
	})
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

func TestDashboard(t *testing.T) {
	browser := chromium(t)
	srv := eurekadtest.Start(t, "EUREKAD_HTTP_ADMIN_TOKEN="+adminToken,
		// No start-up grace for the warning, and eviction runs every
		// second: self-preservation, not a slow timer, keeps expired leases.
		"EUREKAD_REGISTRY_WAIT_TIME_WHEN_SYNC_EMPTY=0s", "EUREKAD_REGISTRY_EVICTION_INTERVAL=1s")
	base := "http://" + srv.Addr
	// A lease of 1 s (2 s with Eureka's legacy expiry) that is never
	// renewed: right after start self-preservation keeps it past expiry.
	do(t, "POST", srv.Base+"apps/STALE", instanceJSON("STALE", "stale-1", 1), 204)
	do(t, "POST", srv.Base+"apps/ORDERS", instanceJSON("ORDERS", "orders-1", 90), 204)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 50*time.Second)
	defer cancel()

	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(css("main")))
			t.Fatalf("%s: %v\npage:\n%s", step, err, html)
		}
	}
	get := func(step string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return v
	}
	appRow := func(app string) string { return fmt.Sprintf(`document.querySelector('tr[data-app=%q]')`, app) }

	run("the dashboard lists the registered instances",
		chromedp.Navigate(base+"/"),
		waitJS("ORDERS row", appRow("ORDERS")+` !== null`),
		waitJS("orders-1 under UP", appRow("ORDERS")+`.querySelector('[data-status="UP"] [data-instance="ORDERS/orders-1"]') !== null`),
		waitJS("STALE row", appRow("STALE")+` !== null`),
		waitJS("live stream connected", `document.getElementById('live').textContent === 'live'`),
	)

	status, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`({
		env: document.getElementById('s-env').textContent,
		lease: document.getElementById('s-lease').textContent,
		threshold: document.getElementById('s-threshold').textContent,
		renews: document.getElementById('s-renews').textContent})`))
	if err != nil {
		t.Fatalf("system status: %v", err)
	}
	if status["env"] != "test" || status["lease"] != "false" || status["threshold"] == "" || status["renews"] != "0" {
		t.Errorf("system status = %v, want environment test, lease expiration false, renews 0 and a threshold", status)
	}

	run("self-preservation is explained, with the shielded lease named",
		waitJS("an eviction run", `document.getElementById('sp-interval').textContent.includes('last run')`),
		waitJS("stale-1 listed as shielded", `(() => { const s = document.querySelector('#sp-shielded ul.shielded');
			return s !== null && s.querySelector('[data-instance="STALE/stale-1"]') !== null })()`),
	)
	explain := get("read the explanation", chromedp.TextContent(css("#sp-explain")))
	pill := get("read the state", chromedp.TextContent(css("#sp-state")))
	for _, want := range []string{"Self-preservation is active", "renewals arrived in the last full minute", "threshold", "network problem", "1 expired lease is kept"} {
		if !strings.Contains(explain, want) {
			t.Errorf("self-preservation explanation lacks %q:\n%s", want, explain)
		}
	}
	if pill != "active: evictions paused" {
		t.Errorf("self-preservation state %q", pill)
	}
	banner := get("read the banner", chromedp.TextContent(css("#banner")))
	if !strings.HasPrefix(banner, "EMERGENCY! EUREKA MAY BE INCORRECTLY CLAIMING INSTANCES ARE UP WHEN THEY'RE NOT.") || !strings.Contains(banner, "What this means: Self-preservation is active") {
		t.Errorf("banner %q", banner)
	}

	// Live updates: the page is not reloaded from here on.
	do(t, "POST", srv.Base+"apps/PAYMENTS", instanceJSON("PAYMENTS", "payments-1", 90), 204)
	run("a registration appears without a reload",
		waitJS("PAYMENTS row", appRow("PAYMENTS")+` !== null`))
	do(t, "DELETE", srv.Base+"apps/PAYMENTS/payments-1", "", 200)
	run("a cancel disappears without a reload",
		waitJS("PAYMENTS row gone", appRow("PAYMENTS")+` === null`))

	run("search narrows the table",
		chromedp.SendKeys(css("#q"), "orders"),
		waitJS("only ORDERS", `document.querySelectorAll('#apps tbody tr').length === 1 && `+appRow("ORDERS")+` !== null`),
		js(`const q = document.getElementById('q'); q.value = ''; q.dispatchEvent(new Event('input'))`),
		waitJS("all rows back", appRow("STALE")+` !== null`),
	)

	// Operator action without credentials: refused, nothing changes.
	run("open the instance details",
		chromedp.Click(css(`[data-instance="ORDERS/orders-1"]`)),
		waitJS("details open", `document.getElementById('details').open && document.getElementById('d-title').textContent.includes('orders-1')`),
		waitJS("metadata shown", `document.getElementById('d-meta').textContent.includes('1.4.2')`),
		waitJS("lease times shown", `document.getElementById('d-lease').textContent.includes('Last renewal')`),
	)
	run("take out of service without credentials",
		chromedp.Click(css("#d-out")),
		waitJS("refusal shown", `document.getElementById('d-action-msg').textContent.startsWith('Refused (401)')`),
	)
	if st := instanceStatus(t, srv, "ORDERS", "orders-1"); st != "UP" {
		t.Fatalf("after a refused action the instance is %s, want UP", st)
	}

	// With the admin token the same action works.
	run("enter the operator token",
		js(`document.getElementById('details').close()`),
		chromedp.SendKeys(css("#token"), adminToken),
		chromedp.Click(css(`#auth button`)),
		waitJS("credentials accepted", `document.getElementById('auth-state').textContent === 'operator'`),
		chromedp.Click(css(`[data-instance="ORDERS/orders-1"]`)),
		waitJS("details open", `document.getElementById('details').open`),
		chromedp.Click(css("#d-out")),
		waitJS("success shown", `document.getElementById('d-action-msg').textContent === 'Taken out of service.'`),
		waitJS("override shown", `document.getElementById('d-lease').textContent.includes('operator override: OUT_OF_SERVICE')`),
	)
	if st := instanceStatus(t, srv, "ORDERS", "orders-1"); st != "OUT_OF_SERVICE" {
		t.Fatalf("after the action the instance is %s, want OUT_OF_SERVICE", st)
	}
	run("the table follows",
		js(`document.getElementById('details').close()`),
		waitJS("orders-1 under OUT_OF_SERVICE", appRow("ORDERS")+`.querySelector('[data-status="OUT_OF_SERVICE"] [data-instance="ORDERS/orders-1"]') !== null`),
	)

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 gives a PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactDir(t), "dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshot: %s", path)

	run("back in service",
		chromedp.Click(css(`[data-instance="ORDERS/orders-1"]`)),
		waitJS("details open", `document.getElementById('details').open`),
		chromedp.Click(css("#d-in")),
		waitJS("success shown", `document.getElementById('d-action-msg').textContent === 'Back in service.'`),
	)
	if st := instanceStatus(t, srv, "ORDERS", "orders-1"); st != "UP" {
		t.Fatalf("after back in service the instance is %s, want UP", st)
	}

	run("the last-1000 view lists the registration and the cancel",
		chromedp.Navigate(base+"/lastn"),
		waitJS("cancel listed", `document.querySelector('#canceled tbody').textContent.includes('PAYMENTS(payments-1)')`),
		waitJS("registration listed", `document.querySelector('#registered tbody').textContent.includes('ORDERS(orders-1)')`),
	)
}
