package config

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/eurekad/eurekad/sdk/client"
)

// rule checks one setting's value (in its canonical type) and describes
// what is wrong with it.
type rule func(v any) error

// rules holds the checks Validate applies, by key. A test requires a rule
// for every numeric and duration setting, so that a new one cannot be added
// without deciding which values make sense.
var rules = map[string]rule{
	"addr":             hostPort,
	"shutdown_timeout": positive,
	"log.level":        logLevel,
	"log.format":       oneOfFold("text", "json"),

	"http.base_paths":          basePaths,
	"http.max_body_bytes":      positive,
	"http.max_header_bytes":    positive,
	"http.read_header_timeout": positive,
	"http.read_timeout":        positive,
	"http.write_timeout":       positive,
	"http.idle_timeout":        positive,
	"http.max_long_poll":       notNegative,

	"registry.renewal_percent_threshold":                 fraction,
	"registry.expected_client_renewal_interval":          positive,
	"registry.renewal_threshold_update_interval":         positive,
	"registry.expected_number_of_clients_sending_renews": notNegative,
	"registry.default_open_for_traffic_count":            notNegative,
	"registry.wait_time_when_sync_empty":                 notNegative,
	"registry.eviction_interval":                         positive,
	"registry.delta_retention":                           positive,
	// Tombstones keep cancelled instances from coming back through
	// anti-entropy: a zero retention or limit would turn that off.
	"registry.tombstone_retention": positive,
	"registry.tombstone_limit":     positive,
	// 0 turns anti-entropy off.
	"cluster.anti_entropy_interval":           notNegative,
	"registry.delta_retention_sweep_interval": positive,
	"registry.override_expiry":                positive,

	"cache.mode":                 oneOf("fresh", "eureka"),
	"cache.min_rebuild_interval": notNegative,
	"cache.auto_expiration":      positive,
	"cache.update_interval":      positive,
	"cache.max_entries":          positive,

	"storage.kind":                oneOf("memory", "bolt", "redis"),
	"storage.durability":          oneOf("sync", "async"),
	"storage.on_failure":          oneOf("serve", "reject"),
	"storage.flush_interval":      positive,
	"storage.checkpoint_interval": positive,
	"storage.commit_delay":        notNegative,
	"storage.batch_size":          positive,
	"storage.max_backoff":         positive,
	"storage.verify_interval":     positive,

	"cluster.peers":               peerURLs,
	"cluster.self_url":            optionalURL,
	"cluster.batch_size":          positive,
	"regions.fetch_interval":      positive,
	"namespaces.max":              positive,
	"regions.connect_timeout":     positive,
	"regions.read_timeout":        positive,
	"cluster.batch_interval":      notNegative,
	"cluster.max_batch_delay":     notNegative,
	"cluster.queue_size":          positive,
	"cluster.task_expiry":         positive,
	"cluster.retry_backoff":       positive,
	"cluster.max_backoff":         positive,
	"cluster.peer_timeout":        positive,
	"cluster.probe_interval":      positive,
	"cluster.sync_retries":        notNegative,
	"cluster.sync_retry_wait":     notNegative,
	"cluster.sync_timeout":        positive,
	"cluster.sync_max_bytes":      positive,
	"plugins.storage.sha256":      sha256Hex,
	"plugins.auth.sha256":         sha256Hex,
	"plugins.auth.timeout":        positive,
	"plugins.auth.allow_ttl":      notNegative,
	"plugins.auth.deny_ttl":       notNegative,
	"plugins.auth.max_entries":    positive,
	"plugins.auth.config_json":    jsonObject,
	"plugins.storage.config_json": jsonObject,
	"plugins.auth.failure_rate":   notNegative,
	"plugins.auth.failure_burst":  positive,

	"plugins.admission.sha256":      sha256Hex,
	"plugins.admission.timeout":     positive,
	"plugins.admission.config_json": jsonObject,

	"plugins.checker.sha256":      sha256Hex,
	"plugins.checker.config_json": jsonObject,

	// health.Options.Validate checks the rules.
	"health.interval":             positive,
	"health.timeout":              positive,
	"health.failures":             positive,
	"health.successes":            positive,
	"health.min_interval":         positive,
	"health.min_deregister_after": positive,
	"health.concurrency":          positive,
	"health.grace":                positive,

	// Limits.Validate checks the limits against each other and the stores.
	"limits.max_name_bytes":           positive,
	"limits.max_field_bytes":          positive,
	"limits.max_metadata_keys":        positive,
	"limits.max_metadata_key_bytes":   positive,
	"limits.max_metadata_value_bytes": positive,
	"limits.max_metadata_bytes":       positive,
}

// Validate reports every setting in c whose value cannot work, each error
// naming the key and the value; nil if all are usable. When its own checks
// pass it also applies the Validate methods of the packages that own the
// options (cache.Options.Validate).
func (c Config) Validate() error {
	cv := reflect.ValueOf(c)
	var errs []error
	for _, s := range settings() {
		if r := rules[s.Key]; r != nil {
			if err := r(s.get(cv)); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.Key, err))
			}
		}
	}
	if c.HTTP.MaxLongPoll >= c.HTTP.WriteTimeout {
		errs = append(errs, fmt.Errorf("http.max_long_poll: %s must be shorter than http.write_timeout (%s), or held reads are cut off",
			formatValue(c.HTTP.MaxLongPoll), formatValue(c.HTTP.WriteTimeout)))
	}
	if c.Cluster.BatchSize > c.Cluster.QueueSize && c.Cluster.QueueSize > 0 {
		errs = append(errs, fmt.Errorf("cluster.batch_size: %d is larger than cluster.queue_size (%d)", c.Cluster.BatchSize, c.Cluster.QueueSize))
	}
	if c.Storage.Kind == "redis" && c.Plugins.Storage.Plugin == "" {
		if err := redisURL(c.Storage.RedisURL); err != nil {
			errs = append(errs, fmt.Errorf("storage.redis_url (--redis-url): %w", err))
		}
	}
	errs = append(errs, c.Plugins.validate()...)
	if err := c.Health.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Regions.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("regions.%w", err))
	}
	if err := c.Namespaces.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("namespaces.%w", err))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Cluster.TLS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("cluster.%w", err))
	}
	if len(errs) == 0 {
		if err := c.Cache.Validate(); err != nil {
			errs = append(errs, err)
		}
		if err := c.Storage.Persist.Validate(); err != nil {
			errs = append(errs, err)
		}
		if err := c.Plugins.Auth.Guard.Validate(); err != nil {
			errs = append(errs, err)
		}
		if err := c.Plugins.Admission.Guard.Validate(); err != nil {
			errs = append(errs, err)
		}
		if err := c.Limits.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return joinErrors(errs)
}

// quote formats a value for an error message: strings quoted, the rest as
// they would be typed.
func quote(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case []string:
		return fmt.Sprintf("%q", v)
	}
	return formatValue(v)
}

func positive(v any) error {
	switch n := v.(type) {
	case time.Duration:
		if n > 0 {
			return nil
		}
	case int:
		if n > 0 {
			return nil
		}
	case int64:
		if n > 0 {
			return nil
		}
	case float64:
		if n > 0 {
			return nil
		}
	}
	return fmt.Errorf("%s must be more than zero", quote(v))
}

func notNegative(v any) error {
	switch n := v.(type) {
	case time.Duration:
		if n >= 0 {
			return nil
		}
	case int:
		if n >= 0 {
			return nil
		}
	case int64:
		if n >= 0 {
			return nil
		}
	case float64:
		if n >= 0 {
			return nil
		}
	}
	return fmt.Errorf("%s must not be negative", quote(v))
}

func fraction(v any) error {
	if f, ok := v.(float64); ok && f > 0 && f <= 1 {
		return nil
	}
	return fmt.Errorf("%s is not a fraction in (0, 1], such as 0.85", quote(v))
}

func oneOf(allowed ...string) rule {
	return func(v any) error {
		if slices.Contains(allowed, v.(string)) {
			return nil
		}
		return fmt.Errorf("%s is not %s", quote(v), orList(allowed))
	}
}

func oneOfFold(allowed ...string) rule {
	return func(v any) error {
		if slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, v.(string)) }) {
			return nil
		}
		return fmt.Errorf("%s is not %s", quote(v), orList(allowed))
	}
}

func logLevel(v any) error {
	_, err := LogConfig{Level: v.(string)}.SlogLevel()
	return err
}

// orList writes "a, b or c".
func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

func hostPort(v any) error {
	if _, port, err := net.SplitHostPort(v.(string)); err == nil && port != "" {
		return nil
	}
	return fmt.Errorf("%s is not a host:port listen address, such as :8761 or 127.0.0.1:8761", quote(v))
}

// peerURLs checks the peer list: absolute http(s) base URLs.
func peerURLs(v any) error {
	for _, p := range v.([]string) {
		if err := baseURL(strings.TrimSpace(p)); err != nil {
			return err
		}
	}
	return nil
}

// jsonObject accepts "" or a JSON object, a plugin's configuration.
func jsonObject(v any) error {
	s := strings.TrimSpace(v.(string))
	if s == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	return nil
}

func optionalURL(v any) error {
	if v.(string) == "" {
		return nil
	}
	return baseURL(v.(string))
}

// baseURL accepts what the Eureka client and the peers accept.
func baseURL(s string) error {
	if _, err := client.ParseServiceURL(s); err != nil {
		return fmt.Errorf("%q is not an http(s) base URL, such as http://eureka-2:8761/eureka/", RedactURL(s))
	}
	return nil
}

// redisURL checks the form of the redis store's URL, so that a missing
// scheme is explained here rather than in the URL parser's words when the
// store opens. The driver checks the rest (database number, options).
func redisURL(s string) error {
	const want = "want redis://host:port/db, such as redis://127.0.0.1:6379/0 (rediss:// for TLS, unix:///path/to/redis.sock for a socket)"
	if s == "" {
		return fmt.Errorf("empty: %s", want)
	}
	if !strings.Contains(s, "://") {
		return fmt.Errorf("%q has no scheme: %s", redactUser(s), want)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %s", redactUser(s), want)
	}
	shown := s
	if u.User != nil {
		shown = u.Redacted()
	}
	switch u.Scheme {
	case "redis", "rediss":
		// The driver defaults an empty host and port to localhost:6379.
	case "unix":
		if u.Path == "" {
			return fmt.Errorf("%q names no socket path: %s", shown, want)
		}
	default:
		return fmt.Errorf("%q has the scheme %q: %s", shown, u.Scheme, want)
	}
	return nil
}

// redactUser hides what may be credentials (anything before an @) in a
// value that does not parse as a URL.
func redactUser(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return "xxxxx" + s[i:]
	}
	return s
}

// RedactURL hides a password in a URL for an error message.
func RedactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

func basePaths(v any) error {
	paths := v.([]string)
	if len(paths) == 0 {
		return fmt.Errorf("the list is empty; the Eureka API needs at least one prefix, such as /eureka")
	}
	seen := map[string]bool{}
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%q does not start with /", p)
		}
		if strings.ContainsAny(p, "?# \t") {
			return fmt.Errorf("%q is not a URL path", p)
		}
		norm := strings.TrimRight(p, "/")
		if seen[norm] {
			return fmt.Errorf("%q appears twice", p)
		}
		seen[norm] = true
	}
	return nil
}
