package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	eurekadtest.RemoveBinary()
	os.Exit(code)
}

func instance(app, id string) string {
	return fmt.Sprintf(`{"instance":{"instanceId":%q,"hostName":"h","app":%q,"ipAddr":"10.0.0.1","status":"UP",
		"port":{"$":8080,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`, id, app)
}

// The plugin, built and run by the real eurekad, enforces the team rule.
func TestTeamRuleInEurekad(t *testing.T) {
	bin := eurekadtest.BuildPackage(t, "./examples/auth-plugin")
	dir := t.TempDir()
	users := filepath.Join(dir, "teams")
	if err := os.WriteFile(users, []byte("orders:o-secret\npayments:p-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("plugins:\n  auth:\n    plugin: %s\n    config:\n      users_file: %s\n", bin, users)
	s := eurekadtest.Start(t, eurekadtest.WriteConfig(t, yaml))

	call := func(user, pass, method, path, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, s.Base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without a WWW-Authenticate challenge", method, path)
		}
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, user, pass, method, path, body string
		want                                 int
	}{
		{"no credentials", "", "", "GET", "apps", "", 401},
		{"wrong password", "orders", "nope", "GET", "apps", "", 401},
		{"unknown user", "nobody", "o-secret", "POST", "apps/ORDERS-API", instance("ORDERS-API", "o1"), 401},
		{"own app", "orders", "o-secret", "POST", "apps/ORDERS-API", instance("ORDERS-API", "o1"), 204},
		{"own app, lower case", "orders", "o-secret", "POST", "apps/orders-web", instance("orders-web", "w1"), 204},
		{"other team's app", "orders", "o-secret", "POST", "apps/PAYMENTS-API", instance("PAYMENTS-API", "p1"), 403},
		{"any valid user reads", "payments", "p-secret", "GET", "apps/ORDERS-API", "", 200},
		{"renew another team's", "payments", "p-secret", "PUT", "apps/ORDERS-API/o1", "", 403},
		{"status of another team's", "payments", "p-secret", "PUT", "apps/ORDERS-API/o1/status?value=OUT_OF_SERVICE", "", 403},
		{"renew own", "orders", "o-secret", "PUT", "apps/ORDERS-API/o1", "", 200},
		{"change own", "orders", "o-secret", "PUT", "apps/ORDERS-API/o1/metadata?k=v", "", 200},
		{"cancel another team's", "payments", "p-secret", "DELETE", "apps/ORDERS-API/o1", "", 403},
		{"cancel own", "orders", "o-secret", "DELETE", "apps/ORDERS-API/o1", "", 200},
	} {
		if got := call(tc.user, tc.pass, tc.method, tc.path, tc.body); got != tc.want {
			t.Errorf("%s: %s %s as %q = %d, want %d", tc.name, tc.method, tc.path, tc.user, got, tc.want)
		}
	}
}
