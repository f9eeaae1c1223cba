package httpd

import (
	"log/slog"
	"time"
)

// Options configures the HTTP server. Start from DefaultOptions.
type Options struct {
	// Addr is the listen address, ":8761" by default.
	Addr string `config:"-"`
	// BasePaths are the prefixes the Eureka API is served under. Spring
	// Cloud clients use /eureka/, Netflix clients /eureka/v2/.
	BasePaths []string `config:"base_paths" help:"path prefixes the Eureka API is served under"`
	// MaxBodyBytes caps request bodies; larger ones get 413.
	MaxBodyBytes int64 `config:"max_body_bytes" help:"largest request body accepted (413 above)"`
	// MaxHeaderBytes caps request headers.
	MaxHeaderBytes int `config:"max_header_bytes" help:"largest request header block accepted"`
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the
	// net/http server timeouts.
	ReadHeaderTimeout time.Duration `config:"read_header_timeout" help:"time allowed to read request headers"`
	ReadTimeout       time.Duration `config:"read_timeout" help:"time allowed to read a whole request"`
	WriteTimeout      time.Duration `config:"write_timeout" help:"time allowed to write a response"`
	IdleTimeout       time.Duration `config:"idle_timeout" help:"keep-alive connection idle timeout"`
	// DisableDelta answers 403 to GET apps/delta (disableDelta).
	DisableDelta bool `config:"disable_delta" help:"answer 403 to apps/delta"`
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger `config:"-"`
}

// DefaultOptions returns the server defaults.
func DefaultOptions() Options {
	return Options{
		Addr:              ":8761",
		BasePaths:         []string{"/eureka", "/eureka/v2"},
		MaxBodyBytes:      2 << 20,
		MaxHeaderBytes:    64 << 10,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}
