// Package config loads eurekad's settings from defaults, a YAML file,
// EUREKAD_* environment variables and command-line flags, in that order of
// precedence (a flag beats the environment, which beats the file).
//
// Every setting is a field of Config with a `config` tag (its YAML key; a
// nested struct adds a dotted level) and a `help` tag; `config:"-"` leaves a
// field out. Settings walks the struct once and derives, for each setting,
// the environment variable (EUREKAD_ plus the upper-cased key with dots
// turned into underscores: EUREKAD_REGISTRY_RENEWAL_PERCENT_THRESHOLD), the
// flag (the key with underscores turned into dashes:
// --registry.renewal-percent-threshold) and the --help text, so a new
// setting needs nothing but the field. Supported field types are string
// (and custom string types such as cache.Mode), bool, int, int64, float64,
// time.Duration ("30s", "15m") and []string (a YAML list, or comma-separated
// in the environment and on the command line).
//
// AddFlags registers the flags and --config; LoadFlags (or Load, which
// parses its own flag set) reads the file named by --config or
// EUREKAD_CONFIG, the environment and the flags, rejects unknown keys in the
// file and values that Config.Validate refuses, and reports EUREKAD_*
// variables that match no setting as warnings. WriteYAML prints a Config as
// a file LoadFlags reads back.
//
// Only this package and its command read files, environment variables and
// flags; the packages whose Options are embedded here never do.
package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/health"
	"github.com/eurekad/eurekad/core/namespace"
	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/core/regions"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/replication"
	inputrules "github.com/eurekad/eurekad/core/rules"
	"github.com/eurekad/eurekad/httpd"
	"github.com/eurekad/eurekad/internal/tlsconf"
	"github.com/eurekad/eurekad/plugins/admission"
	"github.com/eurekad/eurekad/plugins/auth/guard"
)

// Config is every eurekad setting.
type Config struct {
	Addr            string        `config:"addr" help:"listen address"`
	ShutdownTimeout time.Duration `config:"shutdown_timeout" help:"how long a graceful shutdown waits for requests in flight"`
	Log             LogConfig     `config:"log"`
	HTTP            httpd.Options `config:"http"`
	// TLS makes the listener serve HTTPS, and may verify client
	// certificates for the auth hook.
	TLS      tlsconf.Server   `config:"tls"`
	Registry registry.Options `config:"registry"`
	Cache    cache.Options    `config:"cache"`
	Storage  StorageConfig    `config:"storage"`
	// Cluster is peer replication (--peers, --self-url and tuning).
	Cluster replication.Options `config:"cluster"`
	Plugins PluginsConfig       `config:"plugins"`
	// Limits are the input rules every write is checked against, on every
	// path: the client API, peer batches, the admin API, a store's records
	// at start and snapshot restore.
	Limits inputrules.Limits `config:"limits"`
	// Health is the server-side health checks: rules per application
	// (health.checks, a list in the file) and the defaults and bounds of
	// checks by instance metadata.
	Health health.Options `config:"health"`
	// Regions are this server's region and the remote regions whose
	// registries it serves to clients that ask with ?regions=.
	Regions regions.Options `config:"regions"`
	// Namespaces are the registries served beside the default one, at
	// /ns/{namespace}/eureka/.
	Namespaces namespace.Options `config:"namespaces"`
}

// StorageConfig selects the registry store and how writes reach it.
type StorageConfig struct {
	Kind           string `config:"kind" flag:"storage" help:"registry store: memory (nothing survives a restart), bolt or redis"`
	DataDir        string `config:"data_dir" flag:"data-dir" help:"directory of the bolt store's file"`
	RedisURL       string `config:"redis_url" flag:"redis-url" help:"redis store: redis:// or rediss:// URL of a server"`
	RedisKeyPrefix string `config:"redis_key_prefix" help:"redis store: prefix of every key, so registries can share one Redis"`
	// Persist holds the durability settings; they sit directly in the
	// storage section.
	Persist persist.Options `config:",squash"`
}

// LogConfig selects the log level and format.
type LogConfig struct {
	Level  string `config:"level" help:"debug, info, warn or error"`
	Format string `config:"format" help:"text or json"`
}

// Default returns the settings eurekad uses with no file, environment or flags.
func Default() Config {
	return Config{
		Addr:            ":8761",
		ShutdownTimeout: 15 * time.Second,
		Log:             LogConfig{Level: "info", Format: "text"},
		HTTP:            httpd.DefaultOptions(),
		Registry:        registry.DefaultOptions(),
		Cache:           cache.DefaultOptions(),
		Storage: StorageConfig{
			Kind:           "bolt",
			DataDir:        "./data",
			RedisURL:       "redis://127.0.0.1:6379/0",
			RedisKeyPrefix: "eurekad:",
			Persist:        persist.DefaultOptions(),
		},
		Cluster:    replication.DefaultOptions(),
		Limits:     inputrules.DefaultLimits(),
		Health:     health.DefaultOptions(),
		Regions:    regions.DefaultOptions(),
		Namespaces: namespace.DefaultOptions(),
		Plugins: PluginsConfig{
			Auth:      AuthPluginConfig{Guard: guard.DefaultOptions()},
			Admission: AdmissionPluginConfig{Guard: admission.DefaultOptions()},
			Listeners: []string{},
		},
	}
}

// SlogLevel returns the slog level Level names: debug, info, warn (or
// warning) or error, in any case.
func (l LogConfig) SlogLevel() (slog.Level, error) {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not debug, info, warn or error", l.Level)
}
