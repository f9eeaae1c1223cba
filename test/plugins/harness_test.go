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
	"strconv"
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

// proc is a child process of eurekad.
type proc struct {
	pid     int
	cmdline string
}

// children lists the live children of pid from /proc.
func children(t *testing.T, pid int) []proc {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []proc
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, field := range strings.Fields(string(b)) {
			c, _ := strconv.Atoi(field)
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
			out = append(out, proc{c, strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " ")})
		}
	}
	return out
}

// child returns the one child of pid whose command line contains what.
func child(t *testing.T, pid int, what string) proc {
	t.Helper()
	var found []proc
	for _, c := range children(t, pid) {
		if strings.Contains(c.cmdline, what) {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("children of %d matching %q: %v (all: %v)", pid, what, found, children(t, pid))
	}
	return found[0]
}

// alive reports whether pid runs (a zombie has exited).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
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
