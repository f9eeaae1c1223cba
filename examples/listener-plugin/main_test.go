package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
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

// Run by the real eurekad, the plugin writes each event as a JSON line.
func TestEventsToFileInEurekad(t *testing.T) {
	bin := eurekadtest.BuildPackage(t, "./examples/listener-plugin")
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	yaml := fmt.Sprintf("plugins:\n  listeners:\n    - plugin: %s\n      config: {file: %s}\n", bin, events)
	s := eurekadtest.Start(t, eurekadtest.WriteConfig(t, yaml))

	body := `{"instance":{"instanceId":"i1","hostName":"h","app":"ORDERS","ipAddr":"10.0.0.1","status":"UP",
		"port":{"$":8080,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`
	for _, r := range []struct{ method, path, body string }{
		{"POST", "apps/ORDERS", body},
		{"PUT", "apps/ORDERS/i1/status?value=OUT_OF_SERVICE", ""},
		{"DELETE", "apps/ORDERS/i1", ""},
	} {
		req, _ := http.NewRequest(r.method, s.Base+r.path, strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d", r.method, r.path, resp.StatusCode)
		}
	}

	type event struct {
		Seq        uint64
		Type, App  string
		InstanceID string
		Instance   *struct{ HostName string }
	}
	want := []string{"server-started", "registered", "status-changed", "cancelled"}
	// The listener appends to the file after the bus hands it a batch:
	// read the file until all four events are there.
	var got []event
	eurekadtest.Eventually(t, 10*time.Second, "the four events in the file", func() error {
		got = nil
		b, err := os.ReadFile(events)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				return fmt.Errorf("line %q: %w", sc.Text(), err)
			}
			got = append(got, e)
		}
		if len(got) != len(want) {
			return fmt.Errorf("events in the file: %+v, want %v", got, want)
		}
		return nil
	})
	for i, e := range got {
		if e.Type != want[i] || e.Seq != uint64(i+1) {
			t.Errorf("line %d: %+v, want type %s seq %d", i+1, e, want[i], i+1)
		}
		if i > 0 && (e.App != "ORDERS" || e.InstanceID != "i1" || e.Instance == nil || e.Instance.HostName != "h") {
			t.Errorf("line %d: %+v, want the instance", i+1, e)
		}
	}
}
