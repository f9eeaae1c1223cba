package log

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogsEventsWithLevelAndFilter(t *testing.T) {
	var buf bytes.Buffer
	l := NewWithLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err := l.Configure(context.Background(), []byte(`{"level":"warn","types":["cancelled"]}`)); err != nil {
		t.Fatal(err)
	}
	if got := l.Types(); len(got) != 1 || got[0] != hook.EventCancelled {
		t.Fatalf("types %v", got)
	}
	in := &eureka.InstanceInfo{App: "ORDERS", InstanceID: "i-1", HostName: "h1", Status: eureka.StatusUp}
	now := time.Now()
	err := l.Handle(context.Background(), []hook.Event{
		{Seq: 1, Type: hook.EventRegistered, App: "ORDERS", InstanceID: "i-1", Instance: in, Time: now},
		{Seq: 4, Type: hook.EventGap, Dropped: 2, Time: now},
		{Seq: 5, Type: hook.EventCancelled, App: "ORDERS", InstanceID: "i-1", Instance: in, Replicated: true, Time: now},
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := records(t, &buf)
	if len(rs) != 2 {
		t.Fatalf("records %v", rs)
	}
	if rs[0]["msg"] != "registry events lost" || rs[0]["dropped"] != 2.0 || rs[0]["level"] != "WARN" {
		t.Fatalf("gap record %v", rs[0])
	}
	r := rs[1]
	if r["level"] != "WARN" || r["type"] != "cancelled" || r["seq"] != 5.0 || r["app"] != "ORDERS" ||
		r["instance"] != "i-1" || r["status"] != "UP" || r["replicated"] != true {
		t.Fatalf("event record %v", r)
	}
}

func TestConfigErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"level":"loud"}`:       `level "loud"`,
		`{"types":["born"]}`:     `types[0]: unknown event type "born"`,
		`{"format":"text"}`:      `unknown field "format"`,
		`{"types":"registered"}`: "cannot unmarshal",
	} {
		if err := New().Configure(context.Background(), []byte(cfg)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", cfg, err, want)
		}
	}
	if err := New().Configure(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
}
