package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/plugins/admission"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	eurekadtest.RemoveBinary()
	os.Exit(code)
}

// publishThrough loads the listener entries as serve does, publishes one
// event of each type (renewed included) and returns after the bus has
// delivered them all (Run flushes what is queued when its context ends).
func publishThrough(t *testing.T, log *slog.Logger, entries ...config.ListenerEntry) {
	t.Helper()
	var cfg config.Config
	cfg.Plugins.ListenerEntries = entries
	ps := &pluginSet{log: log, base: log}
	defer ps.Close()
	bus, err := loadListeners(t.Context(), cfg, ps, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { bus.Run(ctx); close(done) }()
	for _, typ := range hook.EventTypes {
		if typ != hook.EventGap {
			bus.Publish(hook.Event{Type: typ, App: "ORDERS", InstanceID: "i-1"})
		}
	}
	cancel()
	<-done
}

// TestListenerTypes: a built-in listener configured with types gets only
// those, whether or not its plugins.listeners entry also lists events.
// Without events the bus subscribes it to its types; with events the bus
// delivers those and the listener drops the rest itself.
func TestListenerTypes(t *testing.T) {
	want := []string{"cancelled", "renewed"}
	for name, events := range map[string][]string{
		"types only":       nil,
		"events and types": {"registered", "cancelled", "renewed", "status-changed", "server-started"},
	} {
		t.Run("log/"+name, func(t *testing.T) {
			var buf bytes.Buffer // read once Run has returned
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			publishThrough(t, log, config.ListenerEntry{Plugin: "log", Events: events,
				Config: json.RawMessage(`{"types":["cancelled","renewed"]}`)})
			var got []string
			for _, line := range strings.Split(buf.String(), "\n") {
				var r struct{ Msg, Type string }
				if json.Unmarshal([]byte(line), &r) == nil && r.Msg == "registry event" {
					got = append(got, r.Type)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("logged %v, want %v", got, want)
			}
		})
		t.Run("webhook/"+name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var doc struct{ Events []struct{ Type string } }
				b, _ := io.ReadAll(r.Body)
				if err := json.Unmarshal(b, &doc); err != nil {
					t.Errorf("body %s: %v", b, err)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, e := range doc.Events {
					got = append(got, e.Type)
				}
			}))
			defer recv.Close()
			publishThrough(t, slog.New(slog.DiscardHandler), config.ListenerEntry{Plugin: "webhook", Events: events,
				Config: json.RawMessage(`{"url":"` + recv.URL + `","types":["cancelled","renewed"]}`)})
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("posted %v, want %v", got, want)
			}
		})
	}
}

// loadAdmission gives no admitter without plugins.admission, and else the
// plugin behind the guard with its settings: fail closed by default, the
// plugin's refusals passed on.
func TestLoadAdmission(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ps := &pluginSet{log: log, base: log}
	defer ps.Close()
	cfg := config.Default()
	if a, err := loadAdmission(t.Context(), cfg, ps, log); a != nil || err != nil {
		t.Fatalf("without plugins.admission: %v, %v; want a nil Admitter", a, err)
	}
	cfg.Plugins.Admission.Plugin = eurekadtest.BuildPackage(t, "./examples/admission-plugin")
	a, err := loadAdmission(t.Context(), cfg, ps, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(*admission.Guard); !ok {
		t.Errorf("admitter is %T, want the guard", a)
	}
	in := &eureka.InstanceInfo{InstanceID: "o1", App: "ORDERS", IPAddr: "10.0.0.2", Metadata: map[string]string{"team": "orders"}}
	r, err := a.Admit(t.Context(), &hook.AdmissionRequest{Operation: hook.OpRegister, App: "ORDERS", InstanceID: "o1", Instance: in, RemoteAddr: "10.0.0.1:5000"})
	if err != nil || r.Allowed || !strings.Contains(r.Message, "ipAddr 10.0.0.2") {
		t.Errorf("registration from another address: %+v, %v", r, err)
	}
	if st := ps.Stats(); len(st) != 1 || st[0].Kind != plugin.KindAdmission || st[0].PID == 0 {
		t.Errorf("plugin stats = %+v", st)
	}
	// A plugin that is missing stops eurekad from starting.
	cfg.Plugins.Admission.Plugin = "./no-such-plugin"
	if _, err := loadAdmission(t.Context(), cfg, ps, log); err == nil || !strings.Contains(err.Error(), "admission plugin") {
		t.Errorf("missing plugin: %v", err)
	}
}
