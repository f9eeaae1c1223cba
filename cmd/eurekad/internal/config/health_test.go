package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/health"
)

// health.checks is a list of mappings in the file, or JSON in the
// environment or a flag; never both.
func TestHealthChecks(t *testing.T) {
	file := writeFile(t, `health:
  interval: 5s
  checks:
    - app: orders
      kind: http
      path: /actuator/health
      interval: 2s
      failures: 2
      deregister_after: 10m
      expect: 200-299
    - {app: billing, kind: grpc, port: 9090, params: {service: billing}}
plugins:
  checker:
    plugin: ./bin/actuator-checker
    config: {strict: true}
`)
	cfg, _, err := Load([]string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []health.Rule{
		{App: "orders", Kind: "http", Path: "/actuator/health", Interval: health.Duration(2 * time.Second), Failures: 2,
			DeregisterAfter: health.Duration(10 * time.Minute), Expect: "200-299"},
		{App: "billing", Kind: "grpc", Port: 9090, Params: map[string]string{"service": "billing"}},
	}
	if !reflect.DeepEqual(cfg.Health.Rules, want) || cfg.Health.Interval != 5*time.Second {
		t.Errorf("rules = %+v, interval %v; want %+v", cfg.Health.Rules, cfg.Health.Interval, want)
	}
	if string(cfg.Plugins.Checker.Block()) != `{"strict":true}` || cfg.Plugins.Checker.Plugin != "./bin/actuator-checker" {
		t.Errorf("checker plugin = %+v", cfg.Plugins.Checker)
	}
	cfg, _, err = Load(nil, []string{`EUREKAD_HEALTH_CHECKS_JSON=[{"app":"ORDERS","kind":"tcp"}]`, "EUREKAD_HEALTH_MIN_INTERVAL=100ms"})
	if err != nil || len(cfg.Health.Rules) != 1 || cfg.Health.Rules[0].Kind != "tcp" || cfg.Health.MinInterval != 100*time.Millisecond {
		t.Errorf("from the environment: %+v, %v", cfg.Health, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", file, "--health.checks-json", `[]`}, "checks_json and the file's health.checks are both given"},
		{[]string{"--health.checks-json", `[{"app":"x"}]`}, "kind: missing"},
		{[]string{"--health.checks-json", `[{"app":"x","kind":"http","colour":1}]`}, "unknown field"},
		{[]string{"--health.checks-json", `[{"app":"x","kind":"http","interval":"soon"}]`}, "not a duration"},
		{[]string{"--health.checks-json", `[{"app":"x","kind":"http","expect":"600-700"}]`}, "expect"},
		{[]string{"--health.checks-json", `[{"app":"x","kind":"tcp"},{"app":"X","kind":"tcp"}]`}, "has a rule already"},
		{[]string{"--config", writeFile(t, "health:\n  checks: {app: x}\n")}, "health.checks: must be a list"},
		{[]string{"--health.failures", "0"}, "health.failures"},
	} {
		if _, _, err := Load(tc.args, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// WriteYAML gives the rules and the checker's config block back.
func TestHealthChecksRoundTrip(t *testing.T) {
	file := writeFile(t, "health:\n  checks:\n    - {app: orders, kind: http, path: /h, interval: 2s, deregister_after: 1h, params: {a: b}}\n"+
		"plugins:\n  checker:\n    plugin: ./c\n    config: {x: 1}\n")
	cfg, _, err := Load([]string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := WriteYAML(&out, cfg, false); err != nil {
		t.Fatal(err)
	}
	back, _, err := Load([]string{"--config", writeFile(t, out.String())}, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !reflect.DeepEqual(back.Health.Rules, cfg.Health.Rules) || string(back.Plugins.Checker.Block()) != `{"x":1}` {
		t.Errorf("round trip: %+v %s, want %+v", back.Health.Rules, back.Plugins.Checker.Block(), cfg.Health.Rules)
	}
	// Rules given as checks_json stay there, not twice.
	cfg, _, _ = Load([]string{"--health.checks-json", `[{"app":"x","kind":"tcp"}]`}, nil)
	out.Reset()
	WriteYAML(&out, cfg, false)
	if back, _, err := Load([]string{"--config", writeFile(t, out.String())}, nil); err != nil || len(back.Health.Rules) != 1 {
		t.Errorf("checks_json round trip: %v, %+v", err, back.Health.Rules)
	}
}
