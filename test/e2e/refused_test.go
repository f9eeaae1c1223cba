package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestOversizedIDKeepsTheStoreHealthy is issue 13's first measurement as
// a user sees it: a registration whose 40,000-byte instanceId no bbolt
// file can hold as a key. Whatever it is answered (204 while nothing
// refuses it upstream, 400 once input rules do), the store stays healthy
// under both failure policies, no answer echoes the id, and every other
// acknowledged write survives SIGKILL and a restart.
func TestOversizedIDKeepsTheStoreHealthy(t *testing.T) {
	for _, policy := range []string{"serve", "reject"} {
		t.Run(policy, func(t *testing.T) {
			env := []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + t.TempDir(),
				"EUREKAD_STORAGE_DURABILITY=sync", "EUREKAD_STORAGE_ON_FAILURE=" + policy, "EUREKAD_LOG_LEVEL=info"}
			s := startServer(t, env...)
			register := func(id string) int {
				return do(t, http.MethodPost, s.Base+"apps/HUGE", crashBody("HUGE", id), "Content-Type", "application/json").Status
			}
			var good []string
			for i := range 10 {
				if i == 5 {
					code := register(strings.Repeat("x", 40000))
					t.Logf("the oversized registration was answered %d", code)
				}
				id := fmt.Sprintf("ok-%d", i)
				if code := register(id); code != http.StatusNoContent {
					t.Fatalf("register %s after the oversized one = %d", id, code)
				}
				good = append(good, id)
			}
			if resp := do(t, http.MethodPut, s.Base+"apps/HUGE/ok-7/status?value=OUT_OF_SERVICE", nil); resp.Status != http.StatusOK {
				t.Fatalf("status override after the oversized registration = %d", resp.Status)
			}

			storageStatus := do(t, http.MethodGet, "http://"+s.Addr+"/admin/storage", nil)
			var st struct {
				Status struct {
					Degraded bool   `json:"degraded"`
					Pending  int    `json:"pending"`
					Failures int    `json:"failures"`
					Refused  int    `json:"refused"`
					LastErr  string `json:"lastError"`
				} `json:"status"`
			}
			if err := json.Unmarshal(storageStatus.Body, &st); err != nil {
				t.Fatal(err)
			}
			if st.Status.Degraded || st.Status.Pending != 0 || st.Status.Failures != 0 {
				t.Fatalf("storage status: %.500s", storageStatus.Body)
			}
			ready := do(t, http.MethodGet, "http://"+s.Addr+"/readyz", nil)
			if ready.Status != http.StatusOK {
				t.Errorf("readyz = %d: %.300s", ready.Status, ready.Body)
			}
			for what, body := range map[string][]byte{"/admin/storage": storageStatus.Body, "/readyz": ready.Body} {
				if strings.Contains(string(body), strings.Repeat("x", 200)) {
					t.Errorf("%s echoes the oversized id (%d bytes)", what, len(body))
				}
			}

			s.kill()
			s2 := startServerAt(t, s.Addr, env...)
			apps := fetchAll(t, s2.Base)
			for _, id := range good {
				if _, ok := apps[id]; !ok {
					t.Errorf("%s: acknowledged registration lost after SIGKILL", id)
				}
			}
			if in := apps["ok-7"]; in.OverriddenStatus != "OUT_OF_SERVICE" {
				t.Errorf("acknowledged override lost after SIGKILL: %+v", in)
			}
			t.Logf("refused %d; %d instances after restart", st.Status.Refused, len(apps))
		})
	}
}
