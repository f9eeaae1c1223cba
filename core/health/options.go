package health

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/eurekad/eurekad/sdk/hook"
)

// Options configures the checks. Zero durations and counts take the
// defaults of DefaultOptions.
type Options struct {
	// Rules turn checks on per application (health.checks in the file, or
	// ChecksJSON).
	Rules []Rule `config:"-"`
	// ChecksJSON is Rules as a JSON list, for a server run without a file.
	ChecksJSON string `config:"checks_json" help:"check rules as a JSON list (instead of the file's health.checks), e.g. [{\"app\":\"ORDERS\",\"kind\":\"http\",\"path\":\"/health\"}]"`
	// Metadata lets an instance opt in by its metadata (eurekad.check).
	Metadata bool `config:"metadata" help:"instances may opt in to checks by their metadata (eurekad.check=http|tcp|grpc|KIND)"`
	// Interval, Timeout, Failures and Successes are what a rule or an
	// instance's metadata does not set.
	Interval  time.Duration `config:"interval" help:"default time between two probes of an instance"`
	Timeout   time.Duration `config:"timeout" help:"default probe timeout"`
	Failures  int           `config:"failures" help:"default consecutive failing probes that mark an instance DOWN"`
	Successes int           `config:"successes" help:"default consecutive passing probes that mark it UP again"`
	// MinInterval bounds every interval from below, and
	// MinDeregisterAfter every deregister_after.
	MinInterval        time.Duration `config:"min_interval" help:"shortest interval a rule or an instance may ask for"`
	MinDeregisterAfter time.Duration `config:"min_deregister_after" help:"shortest deregister_after a rule or an instance may ask for"`
	// Concurrency bounds the probes in flight.
	Concurrency int `config:"concurrency" help:"probes in flight at most"`
	// Grace is how much longer than its timeout a checker may take before
	// the probe counts as undecided (the checker hangs).
	Grace time.Duration `config:"grace" help:"how long past a probe's timeout a checker may answer before the probe is undecided"`
	// Tick is how often due probes are started.
	Tick time.Duration `config:"-"`
	// Logger receives verdict changes; nil discards.
	Logger *slog.Logger `config:"-"`
}

// DefaultOptions returns the defaults: checks by metadata allowed, every
// 10 s, 2 s timeout, DOWN after 3 failures, UP after 2 successes.
func DefaultOptions() Options {
	return Options{
		Metadata: true, Interval: 10 * time.Second, Timeout: 2 * time.Second, Failures: 3, Successes: 2,
		MinInterval: time.Second, MinDeregisterAfter: time.Minute, Concurrency: 64, Grace: time.Second,
		Tick: 100 * time.Millisecond,
	}
}

// Rule turns checks on for one application.
type Rule struct {
	// App is the application, matched without regard to case.
	App string `json:"app"`
	// Kind is http, tcp, grpc or a checker plugin's own.
	Kind string `json:"kind"`
	// Path is, for http, the path probed on the instance's address; empty
	// uses the instance's healthCheckUrl.
	Path string `json:"path,omitempty"`
	// Port is the port probed; 0 uses the instance's port (its secure port
	// when only that is enabled).
	Port int `json:"port,omitempty"`
	// Interval, Timeout, Failures, Successes: 0 takes Options'.
	Interval  Duration `json:"interval,omitzero"`
	Timeout   Duration `json:"timeout,omitzero"`
	Failures  int      `json:"failures,omitempty"`
	Successes int      `json:"successes,omitempty"`
	// DeregisterAfter cancels an instance failing this long; 0 never does.
	DeregisterAfter Duration `json:"deregister_after,omitzero"`
	// Expect is, for http, the passing status range ("200-299"); empty
	// means 200-399.
	Expect string `json:"expect,omitempty"`
	// Params are handed to the checker (for grpc: service).
	Params map[string]string `json:"params,omitempty"`
}

// key is the application r names as the registry names it: rules match
// applications without regard to case or surrounding spaces.
func (r *Rule) key() string { return strings.ToUpper(strings.TrimSpace(r.App)) }

// Duration is a time.Duration written as "10s" in JSON and YAML.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string ("10s").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s is not a duration such as \"10s\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration such as \"10s\"", s)
	}
	*d = Duration(v)
	return nil
}

// ParseRules reads rules from a JSON list.
func ParseRules(b []byte) ([]Rule, error) {
	var rules []Rule
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("health checks: %w", err)
	}
	return rules, nil
}

// Validate reports what is wrong with the options and their rules.
func (o Options) Validate() error {
	var errs []string
	if o.Interval <= 0 || o.Timeout <= 0 || o.Failures < 1 || o.Successes < 1 || o.Concurrency < 1 {
		errs = append(errs, "health: interval, timeout, failures, successes and concurrency must be positive")
	}
	seen := map[string]bool{}
	for i, r := range o.Rules {
		app := r.key()
		switch {
		case app == "":
			errs = append(errs, fmt.Sprintf("health.checks[%d]: app: missing", i))
		case seen[app]:
			errs = append(errs, fmt.Sprintf("health.checks[%d]: app %s has a rule already", i, app))
		}
		seen[app] = true
		if strings.TrimSpace(r.Kind) == "" {
			errs = append(errs, fmt.Sprintf("health.checks[%d] (%s): kind: missing (http, tcp, grpc or a checker plugin's)", i, r.App))
		}
		if r.Port < 0 || r.Port > 65535 {
			errs = append(errs, fmt.Sprintf("health.checks[%d] (%s): port %d", i, r.App, r.Port))
		}
		if _, _, err := parseExpect(r.Expect); err != nil {
			errs = append(errs, fmt.Sprintf("health.checks[%d] (%s): expect: %v", i, r.App, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// parseExpect reads "200-299" or "204"; "" is 200-399.
func parseExpect(s string) (lo, hi int, err error) {
	if s = strings.TrimSpace(s); s == "" {
		return 200, 399, nil
	}
	a, b, found := strings.Cut(s, "-")
	if !found {
		b = a
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("%q is not a status range such as 200-299", s)
	}
	return lo, hi, nil
}

// Spec is how one instance is checked, bounded and with defaults filled.
type Spec struct {
	Kind                 string
	Path                 string
	Port                 int
	Interval, Timeout    time.Duration
	Failures, Successes  int
	DeregisterAfter      time.Duration
	ExpectMin, ExpectMax int
	Params               map[string]string
}

// The metadata keys by which an instance opts in.
const (
	MetaKind = "eurekad.check"
	metaPre  = MetaKind + "."
	metaPar  = metaPre + "param."
)

// spec returns how in is checked, false when it is not.
func (o *Options) spec(rules map[string]*Rule, app string, md map[string]string) (Spec, bool) {
	var s Spec
	var expect string
	var interval, timeout, dereg time.Duration
	if r := rules[app]; r != nil {
		s = Spec{Kind: r.Kind, Path: r.Path, Port: r.Port, Failures: r.Failures, Successes: r.Successes, Params: r.Params}
		interval, timeout, dereg, expect = time.Duration(r.Interval), time.Duration(r.Timeout), time.Duration(r.DeregisterAfter), r.Expect
	} else if kind := md[MetaKind]; o.Metadata && kind != "" {
		s.Kind, s.Path, expect = kind, md[metaPre+"path"], md[metaPre+"expect"]
		s.Port, _ = strconv.Atoi(md[metaPre+"port"])
		s.Failures, _ = strconv.Atoi(md[metaPre+"failures"])
		s.Successes, _ = strconv.Atoi(md[metaPre+"successes"])
		interval, _ = time.ParseDuration(md[metaPre+"interval"])
		timeout, _ = time.ParseDuration(md[metaPre+"timeout"])
		dereg, _ = time.ParseDuration(md[metaPre+"deregister_after"])
		for k, v := range md {
			if name, ok := strings.CutPrefix(k, metaPar); ok && name != "" {
				if s.Params == nil {
					s.Params = map[string]string{}
				}
				s.Params[name] = v
			}
		}
	} else {
		return Spec{}, false
	}
	s.Kind = strings.ToLower(strings.TrimSpace(s.Kind))
	if s.Kind == "" {
		return Spec{}, false
	}
	var err error
	if s.ExpectMin, s.ExpectMax, err = parseExpect(expect); err != nil {
		s.ExpectMin, s.ExpectMax, _ = parseExpect("")
	}
	if interval <= 0 {
		interval = o.Interval
	}
	s.Interval = max(interval, o.MinInterval)
	if timeout <= 0 {
		timeout = o.Timeout
	}
	s.Timeout = min(timeout, s.Interval)
	if s.Failures < 1 {
		s.Failures = o.Failures
	}
	if s.Successes < 1 {
		s.Successes = o.Successes
	}
	if s.Port < 0 || s.Port > 65535 {
		s.Port = 0
	}
	if dereg > 0 {
		s.DeregisterAfter = max(dereg, o.MinDeregisterAfter)
	}
	return s, true
}

// addressKind reports whether kind is probed on host:port rather than a URL.
func addressKind(kind string) bool { return kind == hook.CheckTCP || kind == hook.CheckGRPC }
