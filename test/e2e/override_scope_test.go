package e2e

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// overrideScopeConfig is a static authenticator with two teams, each
// allowed its own applications, and an operator allowed everything.
func overrideScopeConfig(t *testing.T, passwords map[string]string) string {
	t.Helper()
	hash := func(user string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(passwords[user]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	team := func(user, apps string) string {
		return fmt.Sprintf(`        - username: %s
          password_bcrypt: %q
          rules:
            - {operations: [register, renew, cancel, status, metadata], apps: [%q]}
            - {operations: [read]}
`, user, hash(user), apps)
	}
	return eurekadtest.WriteConfig(t, `plugins:
  auth:
    plugin: static
    config:
      users:
`+team("orders", "ORDERS-*")+team("payments", "PAYMENTS-*")+fmt.Sprintf(`        - username: ops
          password_bcrypt: %q
          rules:
            - {operations: ["*"]}
`, hash("ops")))
}

// TestOverrideBelongsToItsApplication reproduces issue 13's cross-team
// override measurement over HTTP with the bolt store: team payments'
// override of PAYMENTS-API/shared-1 must not touch ORDERS-API/shared-1,
// and payments' cancel and override removal of a nonexistent
// PAYMENTS-NOPE/o-7 must not clear the operator's override of
// ORDERS-API/o-7, before and after kill -9 and a restart.
func TestOverrideBelongsToItsApplication(t *testing.T) {
	t.Parallel()
	passwords := map[string]string{"orders": "orders-secret", "payments": "payments-secret", "ops": "ops-secret"}
	env := []string{overrideScopeConfig(t, passwords),
		"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + t.TempDir(), "EUREKAD_STORAGE_DURABILITY=sync"}
	s := startServer(t, env...)
	ctx := t.Context()

	as := func(s *server, user string) *client.Client {
		base := strings.Replace(s.Base, "http://", "http://"+user+":"+passwords[user]+"@", 1)
		c, err := client.New(client.Options{ServiceURLs: []string{base}, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	instance := func(app, id string) *eureka.InstanceInfo {
		return &eureka.InstanceInfo{
			InstanceID: id, HostName: id + ".scope.local", App: app, IPAddr: "10.0.0.7", Status: eureka.StatusUp,
			VIPAddress: strings.ToLower(app), Port: eureka.Port{Number: 8080, Enabled: true},
			DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
			LeaseInfo:      &eureka.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
		}
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// want checks the status and override an instance shows to a reader.
	want := func(c *client.Client, app, id string, st, overridden eureka.Status) {
		t.Helper()
		in, err := c.Instance(ctx, app, id)
		if err != nil {
			t.Fatalf("GET %s/%s: %v", app, id, err)
		}
		if in.Status != st || in.OverriddenStatus != overridden {
			t.Fatalf("%s/%s is %s (override %s), want %s (override %s)", app, id, in.Status, in.OverriddenStatus, st, overridden)
		}
	}

	orders, payments, ops := as(s, "orders"), as(s, "payments"), as(s, "ops")
	must("orders registers ORDERS-API/shared-1", orders.Register(ctx, instance("ORDERS-API", "shared-1")))
	must("orders registers ORDERS-API/o-7", orders.Register(ctx, instance("ORDERS-API", "o-7")))
	must("payments registers PAYMENTS-API/shared-1", payments.Register(ctx, instance("PAYMENTS-API", "shared-1")))
	must("the operator takes ORDERS-API/o-7 out", ops.SetStatus(ctx, "ORDERS-API", "o-7", eureka.StatusOutOfService, 0))
	must("payments takes PAYMENTS-API/shared-1 out", payments.SetStatus(ctx, "PAYMENTS-API", "shared-1", eureka.StatusOutOfService, 0))

	// Orders' instance with the same id is untouched by its heartbeat and
	// by a re-registration.
	must("orders renews ORDERS-API/shared-1", orders.Renew(ctx, "ORDERS-API", "shared-1", 0))
	want(orders, "ORDERS-API", "shared-1", eureka.StatusUp, eureka.StatusUnknown)
	must("orders re-registers ORDERS-API/shared-1", orders.Register(ctx, instance("ORDERS-API", "shared-1")))
	must("orders renews ORDERS-API/shared-1", orders.Renew(ctx, "ORDERS-API", "shared-1", 0))
	want(orders, "ORDERS-API", "shared-1", eureka.StatusUp, eureka.StatusUnknown)
	want(payments, "PAYMENTS-API", "shared-1", eureka.StatusOutOfService, eureka.StatusOutOfService)

	// Payments may act on its own application names only, and an instance
	// it names that does not exist is not found: neither request reaches
	// the override of orders' o-7.
	if err := payments.Cancel(ctx, "PAYMENTS-NOPE", "o-7"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("payments cancels PAYMENTS-NOPE/o-7: %v, want 404", err)
	}
	if err := payments.DeleteStatusOverride(ctx, "PAYMENTS-NOPE", "o-7", "", 0); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("payments removes the override of PAYMENTS-NOPE/o-7: %v, want 404", err)
	}
	if err := payments.DeleteStatusOverride(ctx, "ORDERS-API", "o-7", "", 0); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("payments removes the override of ORDERS-API/o-7: %v, want 403", err)
	}
	must("orders re-registers ORDERS-API/o-7", orders.Register(ctx, instance("ORDERS-API", "o-7")))
	want(orders, "ORDERS-API", "o-7", eureka.StatusOutOfService, eureka.StatusOutOfService)

	// Eureka's id-keyed dump holds one entry per id.
	overrides := func(s *server) map[string]eureka.Status {
		t.Helper()
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:"+passwords["ops"]))
		r := do(t, http.MethodGet, s.Base+"serverinfo/statusoverrides", nil, "Authorization", auth)
		var m map[string]eureka.Status
		if r.Status != http.StatusOK || json.Unmarshal(r.Plain(t), &m) != nil {
			t.Fatalf("GET serverinfo/statusoverrides: %d %q", r.Status, r.Plain(t))
		}
		return m
	}
	wantDump := map[string]eureka.Status{"o-7": eureka.StatusOutOfService, "shared-1": eureka.StatusOutOfService}
	if got := overrides(s); !maps.Equal(got, wantDump) {
		t.Fatalf("statusoverrides %v, want %v", got, wantDump)
	}

	// Every write above was acknowledged under sync durability: after a
	// crash the overrides come back on their own instances only.
	s.kill()
	s2 := startServerAt(t, s.Addr, env...)
	orders, payments = as(s2, "orders"), as(s2, "payments")
	want(orders, "ORDERS-API", "o-7", eureka.StatusOutOfService, eureka.StatusOutOfService)
	want(payments, "PAYMENTS-API", "shared-1", eureka.StatusOutOfService, eureka.StatusOutOfService)
	want(orders, "ORDERS-API", "shared-1", eureka.StatusUp, eureka.StatusUnknown)
	must("orders renews ORDERS-API/shared-1 after the restart", orders.Renew(ctx, "ORDERS-API", "shared-1", 0))
	must("orders re-registers ORDERS-API/shared-1 after the restart", orders.Register(ctx, instance("ORDERS-API", "shared-1")))
	want(orders, "ORDERS-API", "shared-1", eureka.StatusUp, eureka.StatusUnknown)
	must("orders renews ORDERS-API/o-7 after the restart", orders.Renew(ctx, "ORDERS-API", "o-7", 0))
	must("orders re-registers ORDERS-API/o-7 after the restart", orders.Register(ctx, instance("ORDERS-API", "o-7")))
	want(orders, "ORDERS-API", "o-7", eureka.StatusOutOfService, eureka.StatusOutOfService)
	if got := overrides(s2); !maps.Equal(got, wantDump) {
		t.Fatalf("statusoverrides after the restart %v, want %v", got, wantDump)
	}
}
