// Package plugins holds the end-to-end tests of eurekad's plugins: the real
// eurekad binary with real plugin processes (isolated built-ins and the
// examples), killed and restarted as in production.
package plugins

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	eurekadtest.RemoveBinary()
	os.Exit(code)
}

// teamsFile writes the example auth plugin's users.
func teamsFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "teams")
	if err := os.WriteFile(path, []byte("orders:o-secret\npayments:p-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// exampleAuth builds examples/auth-plugin and returns the environment entry
// of a config that loads it with teamsFile's users and the guard settings
// in guard (YAML lines under plugins.auth, such as "allow_ttl: 0s"), and
// the plugin's path.
func exampleAuth(t testing.TB, guard ...string) (env, bin string) {
	t.Helper()
	bin = eurekadtest.BuildPackage(t, "./examples/auth-plugin")
	var extra strings.Builder
	for _, g := range guard {
		extra.WriteString("    " + g + "\n")
	}
	return eurekadtest.WriteConfig(t, fmt.Sprintf("plugins:\n  auth:\n    plugin: %s\n%s    config: {users_file: %s}\n",
		bin, extra.String(), teamsFile(t))), bin
}

func instanceJSON(app, id string) string {
	return fmt.Sprintf(`{"instance":{"instanceId":%q,"hostName":"%s.local","app":%q,"ipAddr":"10.0.0.1","status":"UP",
		"port":{"$":8080,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`, id, id, app)
}

var client = &http.Client{Timeout: 30 * time.Second}

// call makes one request (with basic credentials when user is set) and
// returns the status and body.
func call(t testing.TB, user, pass, method, url, body string) (int, string) {
	t.Helper()
	code, b, err := tryCall(user, pass, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, b
}

// tryCall is call returning the error, for goroutines other than the
// test's.
func tryCall(user, pass, method, url, body string) (int, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	eurekadtest.Until(t, timeout, what, cond)
}

// storeStatus is the storage part of /readyz.
type storeStatus struct {
	Degraded bool   `json:"degraded"`
	Pending  int    `json:"pending"`
	Failures uint64 `json:"failures"`
}

func readyz(t *testing.T, s *eurekadtest.Server) storeStatus {
	t.Helper()
	_, body := call(t, "", "", "GET", "http://"+s.Addr+"/readyz", "")
	var r struct{ Storage storeStatus }
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("readyz %q: %v", body, err)
	}
	return r.Storage
}
