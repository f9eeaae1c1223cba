package dashboard

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// TestDashboardNamespaces: with namespaces the dashboard shows a namespace
// selector; choosing a namespace shows its applications and instances
// only, and the live stream follows it. Without namespaces the selector
// stays hidden.
func TestDashboardNamespaces(t *testing.T) {
	b := newBrowser(t, 60*time.Second)
	srv := eurekadtest.Start(t, "EUREKAD_NAMESPACES_DECLARED=team-a")
	base := "http://" + srv.Addr
	do(t, "POST", base+"/eureka/apps/ORDERS", instanceJSON("ORDERS", "orders-1", 90), 204)
	do(t, "POST", base+"/ns/team-a/eureka/apps/PAYMENTS", instanceJSON("PAYMENTS", "pay-1", 90), 204)
	instRow := func(key string) string {
		return `document.querySelector('#home-instances tr[data-instance="` + key + `"]')`
	}
	b.run("the default namespace, with the selector",
		chromedp.Navigate(base+"/"),
		waitJS("orders-1 listed", instRow("ORDERS/orders-1")+` !== null`),
		waitJS("selector shown", `!document.getElementById('ns-box').hidden`),
		waitJS("two namespaces to choose", `[...document.querySelectorAll('#ns option')].map(o => o.value).join() === 'default,team-a'`),
		waitJS("live stream connected", `document.getElementById('live').textContent === 'live'`),
	)
	if n := eval[bool](b, "pay-1 hidden", instRow("PAYMENTS/pay-1")+` === null`); !n {
		t.Error("team-a's instance shown in the default namespace")
	}
	b.run("team-a chosen",
		chromedp.SetValue(css("#ns"), "team-a"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('ns').dispatchEvent(new Event('change'))`),
		waitJS("pay-1 listed", instRow("PAYMENTS/pay-1")+` !== null`),
		waitJS("orders-1 gone", instRow("ORDERS/orders-1")+` === null`),
		waitJS("PAYMENTS in the applications", `document.querySelector('#apps tr[data-app="PAYMENTS"]') !== null`),
		waitJS("ORDERS not in the applications", `document.querySelector('#apps tr[data-app="ORDERS"]') === null`),
		waitJS("live stream connected again", `document.getElementById('live').textContent === 'live'`),
	)
	// A change in team-a reaches the page through team-a's stream.
	do(t, "POST", base+"/ns/team-a/eureka/apps/PAYMENTS", instanceJSON("PAYMENTS", "pay-2", 90), 204)
	b.run("team-a's change shown live", waitJS("pay-2 listed", instRow("PAYMENTS/pay-2")+` !== null`))
	b.screenshot("namespaces")

	plain := eurekadtest.Start(t)
	b.run("no selector without namespaces",
		chromedp.Navigate("http://"+plain.Addr+"/"),
		waitJS("loaded", `document.body.dataset.loaded === 'true'`),
		waitJS("selector hidden", `document.getElementById('ns-box').hidden && document.querySelectorAll('#ns option').length <= 1`),
	)
}

// TestDashboardConfinedToANamespace: a user confined to one namespace who
// enters its credentials is put in that namespace, the only one offered.
// (Anonymous callers may read and act: a 401's Basic challenge would make
// the browser prompt for credentials before the page's own form is used.)
func TestDashboardConfinedToANamespace(t *testing.T) {
	b := newBrowser(t, 60*time.Second)
	cfg := eurekadtest.WriteConfig(t, fmt.Sprintf(`plugins:
  auth:
    plugin: static
    config:
      users:
        - username: teama
          password_bcrypt: %q
          namespaces: [team-a]
          rules:
            - {operations: ["*"]}
      anonymous: [register, read, admin]
`, eurekadtest.PasswordHash(t, "teama-secret")))
	srv := eurekadtest.Start(t, cfg, "EUREKAD_NAMESPACES_DECLARED=team-a,team-b")
	base := "http://" + srv.Addr
	do(t, "POST", base+"/eureka/apps/ORDERS", instanceJSON("ORDERS", "orders-1", 90), 204)
	do(t, "POST", base+"/ns/team-a/eureka/apps/PAYMENTS", instanceJSON("PAYMENTS", "pay-1", 90), 204)
	do(t, "POST", base+"/ns/team-b/eureka/apps/BILLING", instanceJSON("BILLING", "bill-1", 90), 204)
	b.run("team-a's credentials",
		chromedp.Navigate(base+"/"),
		waitJS("the default namespace, read anonymously", `document.querySelector('#home-instances tr[data-instance="ORDERS/orders-1"]') !== null`),
		chromedp.SendKeys(css("#token"), "teama:teama-secret"),
		chromedp.Click(css(`#auth button`)),
		waitJS("pay-1 listed", `document.querySelector('#home-instances tr[data-instance="PAYMENTS/pay-1"]') !== null`),
		waitJS("orders-1 gone", `document.querySelector('#home-instances tr[data-instance="ORDERS/orders-1"]') === null`),
		waitJS("team-a the only namespace offered", `!document.getElementById('ns-box').hidden && [...document.querySelectorAll('#ns option')].map(o => o.value).join() === 'team-a'`),
	)
	if leak := eval[string](b, "other namespaces' instances", `(document.body.innerText.match(/orders-1|bill-1|ORDERS|BILLING/) || [''])[0]`); leak != "" {
		t.Errorf("the page shows %q of another namespace", leak)
	}
}
