package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/core/health"
	"github.com/eurekad/eurekad/plugins/admission"
	"github.com/eurekad/eurekad/plugins/auth/guard"
	"github.com/eurekad/eurekad/sdk/hook"
)

// PluginsConfig selects the plugins: the store, the authenticator, the
// admission hook and the listeners, each a built-in or an external executable. A plugin's own
// settings are the "config:" block under its entry in the YAML file, handed
// to the plugin as JSON without interpretation.
//
//	plugins:
//	  storage:
//	    plugin: ./bin/jsonl-store
//	    sha256: 9f86d08...
//	    config: {path: /var/lib/eurekad/registry.jsonl}
//	  auth:
//	    plugin: static
//	    config: {users: [...]}
//	  admission:
//	    plugin: ./bin/team-admission
//	    fail_open: false   # admission.Options; failures refuse writes (503)
//	    config: {...}
//	  listeners:
//	    - log
//	    - plugin: ./bin/event-file
//	      events: [registered, cancelled]
//	      queue_size: 4096   # events.SubscribeOptions; 0 or absent: default
//	      max_batch: 256
//	      timeout: 30s
//	      retry_for: 30s     # a failed batch is retried this long, then dropped and announced by a gap
//	      max_attempts: 0    # 0: as many as retry_for allows
//	      config: {file: /var/log/eurekad-events.jsonl}
type PluginsConfig struct {
	IsolateBuiltins bool                  `config:"isolate_builtins" flag:"isolate-builtins" help:"run built-in stores and hooks in subprocesses (eurekad plugin serve) instead of inside eurekad"`
	Storage         StoragePluginConfig   `config:"storage"`
	Auth            AuthPluginConfig      `config:"auth"`
	Admission       AdmissionPluginConfig `config:"admission"`
	Checker         CheckerPluginConfig   `config:"checker"`
	// Listeners names the listener plugins; the file may give each as a
	// mapping with events and config, collected in ListenerEntries.
	Listeners []string `config:"listeners" flag:"listener-plugin" help:"listener plugin: PATH of an executable, or log or webhook; repeat for several"`
	// ListenerEntries is Listeners resolved: one entry per name, with the
	// events and config block the file gives for it.
	ListenerEntries []ListenerEntry `config:"-"`
}

// StoragePluginConfig names an external store.
type StoragePluginConfig struct {
	Plugin string `config:"plugin" flag:"storage-plugin" help:"storage plugin: PATH of an executable serving a store; empty uses the built-in of storage.kind"`
	SHA256 string `config:"sha256" flag:"storage-plugin-sha256" help:"expected hex SHA-256 of the storage plugin's executable"`
	// ConfigJSON is the plugin's configuration given as a JSON object by a
	// flag or the environment, for a server run without a file.
	ConfigJSON string `config:"config_json" flag:"storage-plugin-config" help:"the storage plugin's configuration as a JSON object (instead of the file's config: block)"`
	// Config is the "config:" block as JSON; nil when there is none.
	Config json.RawMessage `config:"-"`
}

// Block is what the plugin is configured with: the file's config block or
// ConfigJSON (Validate refuses both); nil for none.
func (c StoragePluginConfig) Block() json.RawMessage { return block(c.Config, c.ConfigJSON) }

// AuthPluginConfig names the authenticator.
type AuthPluginConfig struct {
	Plugin string `config:"plugin" flag:"auth-plugin" help:"auth plugin: PATH of an executable, or static (users and tokens from its config); empty: no authentication"`
	SHA256 string `config:"sha256" flag:"auth-plugin-sha256" help:"expected hex SHA-256 of the auth plugin's executable"`
	// Guard is the host's policy around the plugin: deadline, decision
	// cache, failure handling.
	Guard guard.Options `config:",squash"`
	// ConfigJSON is the plugin's configuration given as a JSON object by a
	// flag or the environment, for a server run without a file.
	ConfigJSON string `config:"config_json" flag:"auth-plugin-config" help:"the auth plugin's configuration as a JSON object (instead of the file's config: block)"`
	// Config is the "config:" block as JSON; nil when there is none.
	Config json.RawMessage `config:"-"`
}

// Block is what the plugin is configured with: the file's config block or
// ConfigJSON (Validate refuses both); nil for none.
func (c AuthPluginConfig) Block() json.RawMessage { return block(c.Config, c.ConfigJSON) }

// AdmissionPluginConfig names the admission hook.
type AdmissionPluginConfig struct {
	Plugin string `config:"plugin" flag:"admission-plugin" help:"admission plugin: PATH of an executable deciding registrations, status and metadata changes by their content; empty: none"`
	SHA256 string `config:"sha256" flag:"admission-plugin-sha256" help:"expected hex SHA-256 of the admission plugin's executable"`
	// Guard is the host's policy around the plugin: deadline, failure
	// handling. Nothing is cached.
	Guard admission.Options `config:",squash"`
	// ConfigJSON is the plugin's configuration given as a JSON object by a
	// flag or the environment, for a server run without a file.
	ConfigJSON string `config:"config_json" flag:"admission-plugin-config" help:"the admission plugin's configuration as a JSON object (instead of the file's config: block)"`
	// Config is the "config:" block as JSON; nil when there is none.
	Config json.RawMessage `config:"-"`
}

// Block is what the plugin is configured with: the file's config block or
// ConfigJSON (Validate refuses both); nil for none.
func (c AdmissionPluginConfig) Block() json.RawMessage { return block(c.Config, c.ConfigJSON) }

func block(file json.RawMessage, flag string) json.RawMessage {
	if file == nil && flag != "" {
		return json.RawMessage(flag)
	}
	return file
}

// CheckerPluginConfig names a checker plugin for the health checks' own
// kinds; http, tcp and grpc are eurekad's built-in checker's.
type CheckerPluginConfig struct {
	Plugin string `config:"plugin" flag:"checker-plugin" help:"checker plugin: PATH of an executable probing the health check kinds other than http, tcp and grpc; empty: none"`
	SHA256 string `config:"sha256" flag:"checker-plugin-sha256" help:"expected hex SHA-256 of the checker plugin's executable"`
	// ConfigJSON is the plugin's configuration given as a JSON object by a
	// flag or the environment, for a server run without a file.
	ConfigJSON string `config:"config_json" flag:"checker-plugin-config" help:"the checker plugin's configuration as a JSON object (instead of the file's config: block)"`
	// Config is the "config:" block as JSON; nil when there is none.
	Config json.RawMessage `config:"-"`
}

// Block is what the plugin is configured with: the file's config block or
// ConfigJSON (Validate refuses both); nil for none.
func (c CheckerPluginConfig) Block() json.RawMessage { return block(c.Config, c.ConfigJSON) }

// ListenerEntry is one listener plugin.
type ListenerEntry struct {
	// Plugin is a path or a built-in name.
	Plugin string `json:"plugin"`
	// SHA256 is the expected hex SHA-256 of the executable.
	SHA256 string `json:"sha256,omitempty"`
	// Events lists the event types it receives; empty means every type
	// except renewed.
	Events []string `json:"events,omitempty"`
	// QueueSize, MaxBatch, Timeout, RetryFor and MaxAttempts tune its
	// delivery (events.SubscribeOptions); 0 means the default.
	QueueSize   int           `json:"queue_size,omitempty"`
	MaxBatch    int           `json:"max_batch,omitempty"`
	Timeout     time.Duration `json:"-"`
	RetryFor    time.Duration `json:"-"`
	MaxAttempts int           `json:"max_attempts,omitempty"`
	// Config is the "config:" block as JSON; nil when there is none.
	Config json.RawMessage `json:"config,omitempty"`
}

// Subscription is the entry's events.SubscribeOptions.
func (e ListenerEntry) Subscription() events.SubscribeOptions {
	o := events.SubscribeOptions{QueueSize: e.QueueSize, MaxBatch: e.MaxBatch, Timeout: e.Timeout,
		RetryFor: e.RetryFor, MaxAttempts: e.MaxAttempts}
	for _, t := range e.Events {
		o.Types = append(o.Types, hook.EventType(t))
	}
	return o
}

// pluginBlocks is what the file gives beyond the flat settings: the raw
// config blocks and the listeners' details.
type pluginBlocks struct {
	storage, auth, admission, checker json.RawMessage
	// checks are health.checks, the health check rules.
	checks []health.Rule
	// listeners holds each plugin's mapping entries in file order: the
	// same plugin may be listed twice with different configs.
	listeners map[string][]ListenerEntry
}

// takePluginBlocks removes the parts of a parsed file that are not
// settings (config blocks, listener mappings) from raw, the nested map of
// the file, and returns them; a mapping listener is replaced by its plugin
// name so that plugins.listeners stays a list of strings.
func takePluginBlocks(raw map[string]any) (pluginBlocks, error) {
	var b pluginBlocks
	var err error
	if b.checks, err = takeHealthChecks(raw); err != nil {
		return b, err
	}
	p, ok := raw["plugins"].(map[string]any)
	if !ok {
		return b, nil
	}
	if b.storage, err = takeConfig(p, "storage"); err != nil {
		return b, err
	}
	if b.auth, err = takeConfig(p, "auth"); err != nil {
		return b, err
	}
	if b.admission, err = takeConfig(p, "admission"); err != nil {
		return b, err
	}
	if b.checker, err = takeConfig(p, "checker"); err != nil {
		return b, err
	}
	list, ok := p["listeners"].([]any)
	if !ok {
		return b, nil
	}
	b.listeners = map[string][]ListenerEntry{}
	names := make([]any, len(list))
	for i, item := range list {
		switch v := item.(type) {
		case string:
			names[i] = v
		case map[string]any:
			e, err := listenerEntry(v)
			if err != nil {
				return b, fmt.Errorf("plugins.listeners[%d]: %w", i, err)
			}
			names[i] = e.Plugin
			b.listeners[e.Plugin] = append(b.listeners[e.Plugin], e)
		default:
			return b, fmt.Errorf("plugins.listeners[%d]: %v is neither a plugin name nor a mapping", i, item)
		}
	}
	p["listeners"] = names
	return b, nil
}

// takeHealthChecks removes health.checks, a list of mappings, from raw
// and returns it as rules.
func takeHealthChecks(raw map[string]any) ([]health.Rule, error) {
	h, ok := raw["health"].(map[string]any)
	if !ok {
		return nil, nil
	}
	v, ok := h["checks"]
	if !ok {
		return nil, nil
	}
	delete(h, "checks")
	if _, ok := v.([]any); !ok && v != nil {
		return nil, fmt.Errorf("health.checks: must be a list of mappings (app, kind, path, port, interval, timeout, failures, successes, deregister_after, expect, params)")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("health.checks: %w", err)
	}
	return health.ParseRules(b)
}

// takeConfig removes section's "config" block and returns it as JSON.
func takeConfig(p map[string]any, section string) (json.RawMessage, error) {
	s, ok := p[section].(map[string]any)
	if !ok {
		return nil, nil
	}
	c, ok := s["config"]
	if !ok {
		return nil, nil
	}
	delete(s, "config")
	return configJSON("plugins."+section+".config", c)
}

func configJSON(key string, v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("%s: must be a mapping, not %v", key, v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}

func listenerEntry(m map[string]any) (ListenerEntry, error) {
	var e ListenerEntry
	for k, v := range m {
		switch k {
		case "plugin", "sha256":
			s, ok := v.(string)
			if !ok {
				return e, fmt.Errorf("%s: %v is not a string", k, v)
			}
			if k == "plugin" {
				e.Plugin = s
			} else {
				e.SHA256 = s
			}
		case "events":
			l, ok := v.([]any)
			if !ok {
				return e, fmt.Errorf("events: %v is not a list", v)
			}
			for _, x := range l {
				s, ok := x.(string)
				if !ok {
					return e, fmt.Errorf("events: %v is not a string", x)
				}
				e.Events = append(e.Events, s)
			}
		case "config":
			c, err := configJSON("config", v)
			if err != nil {
				return e, err
			}
			e.Config = c
		case "queue_size", "max_batch", "max_attempts":
			n, ok := v.(int)
			if !ok {
				return e, fmt.Errorf("%s: %v is not an integer", k, v)
			}
			switch k {
			case "queue_size":
				e.QueueSize = n
			case "max_batch":
				e.MaxBatch = n
			default:
				e.MaxAttempts = n
			}
		case "timeout", "retry_for":
			s, _ := v.(string)
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return e, fmt.Errorf("%s: %v is not a positive duration such as 30s", k, v)
			}
			if k == "timeout" {
				e.Timeout = d
			} else {
				e.RetryFor = d
			}
		default:
			return e, fmt.Errorf("unknown key %q (plugin, sha256, events, queue_size, max_batch, timeout, retry_for, max_attempts, config)", k)
		}
	}
	if strings.TrimSpace(e.Plugin) == "" {
		return e, fmt.Errorf("plugin: missing")
	}
	return e, nil
}

// apply sets the blocks on cfg: config blocks always (they belong to the
// file), listener details for each listener named in the final list.
func (b pluginBlocks) apply(cfg *Config) {
	cfg.Plugins.Storage.Config = b.storage
	cfg.Plugins.Auth.Config = b.auth
	cfg.Plugins.Admission.Config = b.admission
	cfg.Plugins.Checker.Config = b.checker
	cfg.Health.Rules = b.checks
	cfg.Plugins.ListenerEntries = nil
	used := map[string]int{}
	for _, name := range cfg.Plugins.Listeners {
		e := ListenerEntry{Plugin: name}
		if entries := b.listeners[name]; used[name] < len(entries) {
			e = entries[used[name]]
			used[name]++
		}
		cfg.Plugins.ListenerEntries = append(cfg.Plugins.ListenerEntries, e)
	}
}

// sha256Hex accepts "" or 64 hex digits.
func sha256Hex(v any) error {
	s, _ := v.(string)
	if s == "" {
		return nil
	}
	if len(s) != 64 || strings.Trim(strings.ToLower(s), "0123456789abcdef") != "" {
		return fmt.Errorf("%q is not a hex SHA-256 (64 hex digits)", s)
	}
	return nil
}

// validate checks what the rules table cannot: the listener entries.
func (p PluginsConfig) validate() []error {
	var errs []error
	for _, c := range []struct {
		section string
		file    json.RawMessage
		flag    string
	}{
		{"storage", p.Storage.Config, p.Storage.ConfigJSON},
		{"auth", p.Auth.Config, p.Auth.ConfigJSON},
		{"admission", p.Admission.Config, p.Admission.ConfigJSON},
		{"checker", p.Checker.Config, p.Checker.ConfigJSON},
	} {
		if c.file != nil && c.flag != "" {
			errs = append(errs, fmt.Errorf("plugins.%s: config_json and the file's config: block are both given; keep one", c.section))
		}
	}
	for i, e := range p.ListenerEntries {
		if strings.TrimSpace(e.Plugin) == "" {
			errs = append(errs, fmt.Errorf("plugins.listeners[%d]: empty plugin name", i))
		}
		if err := sha256Hex(e.SHA256); err != nil {
			errs = append(errs, fmt.Errorf("plugins.listeners[%d] (%s): sha256: %w", i, e.Plugin, err))
		}
		sub := e.Subscription()
		if err := sub.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("plugins.listeners[%d] (%s): %w", i, e.Plugin, err))
		}
		for _, ev := range e.Events {
			if !hook.EventType(ev).Valid() || ev == string(hook.EventGap) {
				errs = append(errs, fmt.Errorf("plugins.listeners[%d] (%s): unknown event %q (one of %s)", i, e.Plugin, ev, eventNames()))
			}
		}
	}
	return errs
}

func eventNames() string {
	var names []string
	for _, t := range hook.EventTypes {
		if t != hook.EventGap {
			names = append(names, string(t))
		}
	}
	return strings.Join(names, ", ")
}
