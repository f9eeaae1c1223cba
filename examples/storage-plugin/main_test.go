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

// Run by the real eurekad, the store keeps what eurekad acknowledged
// across a crash of eurekad (kill -9) and a restart.
func TestStoreInEurekad(t *testing.T) {
	bin := eurekadtest.BuildPackage(t, "./examples/storage-plugin")
	dir := t.TempDir()
	yaml := fmt.Sprintf("plugins:\n  storage:\n    plugin: %s\n    config: {file: %s}\n", bin, filepath.Join(dir, "registry.jsonl"))
	env := eurekadtest.WriteConfig(t, yaml)
	s := eurekadtest.Start(t, env)
	for i := range 20 {
		body := fmt.Sprintf(`{"instance":{"instanceId":"i%d","hostName":"h%d","app":"ORDERS","ipAddr":"10.0.0.1","status":"UP",
			"port":{"$":8080,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`, i, i)
		resp, err := http.Post(s.Base+"apps/ORDERS", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("register %d: %d", i, resp.StatusCode)
		}
	}
	s.Kill()

	s = eurekadtest.StartAt(t, s.Addr, env)
	req, _ := http.NewRequest("GET", s.Base+"apps/ORDERS", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for i := range 20 {
		if !strings.Contains(string(b), fmt.Sprintf(`"instanceId":"i%d"`, i)) {
			t.Errorf("instance i%d lost across the crash:\n%s", i, b)
		}
	}
	if !strings.Contains(s.Output(), "registry restored") || !strings.Contains(s.Output(), "instances=20") {
		t.Errorf("restart did not restore 20 instances:\n%s", s.Output())
	}
}
