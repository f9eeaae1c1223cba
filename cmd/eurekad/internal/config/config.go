// Package config loads eurekad's settings from defaults, a YAML file,
// EUREKAD_* environment variables and command-line flags, in that order of
// precedence (a flag beats the environment, which beats the file).
//
// Every setting is a field of Config with a `config` tag (its YAML key; a
// nested struct adds a dotted level) and a `help` tag; the flag, the
// environment variable and the --help text are derived from them, so a new
// setting needs nothing but the field.
package config

import (
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/httpd"
)

// Config is every eurekad setting.
type Config struct {
	Addr            string           `config:"addr" help:"listen address"`
	ShutdownTimeout time.Duration    `config:"shutdown_timeout" help:"how long a graceful shutdown waits for requests in flight"`
	Log             LogConfig        `config:"log"`
	HTTP            httpd.Options    `config:"http"`
	Registry        registry.Options `config:"registry"`
	Cache           cache.Options    `config:"cache"`
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
	}
}
