package httpd

import (
	"context"
	"log/slog"
	"time"

	"github.com/eurekad/eurekad/core/regions"
	"github.com/eurekad/eurekad/sdk/hook"
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
	// MaxLongPoll caps how long a long-polling read (If-None-Match plus an
	// X-Eurekad-Wait header) is held; 0 turns long-polling off, so such a
	// read is answered at once like any other.
	MaxLongPoll time.Duration `config:"max_long_poll" help:"longest a long-polling read is held (0: long-poll off); keep it under write_timeout"`
	// DisableDelta answers 403 to GET apps/delta (disableDelta).
	DisableDelta bool `config:"disable_delta" help:"answer 403 to apps/delta"`
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger `config:"-"`
	// StoreProbe, when set, checks that the store answers (a read of a
	// key never written); /readyz calls it at most once a second.
	StoreProbe func(ctx context.Context) error `config:"-"`
	// StoreKind names the store for the admin status ("bolt", "redis").
	StoreKind string `config:"-"`
	// AdminToken, when set, is the bearer token the admin endpoints
	// require; when empty they answer loopback clients only. Both rules
	// give way to Auth when it is set.
	AdminToken string `config:"admin_token" help:"bearer token for the admin endpoints (empty: loopback clients only)"`

	// Operations: dashboard, admin API and metrics (docs/admin-api.md).

	// Dashboard serves the operator dashboard at / and /lastn.
	Dashboard bool `config:"dashboard" help:"serve the operator dashboard at / and /lastn"`
	// Metrics serves Prometheus metrics at /metrics.
	Metrics bool `config:"metrics" help:"serve Prometheus metrics at /metrics"`
	// Profiling serves Go's runtime profiles (net/http/pprof) at
	// /debug/pprof/ to admins: heap and CPU profiles of a production
	// registry are how its memory and cost are explained.
	Profiling bool `config:"profiling" help:"serve Go's runtime profiles at /debug/pprof/ (admins only)"`
	// MetricsPublic lets anyone scrape /metrics under an authenticator;
	// otherwise a scrape needs the read permission. Metrics never carry
	// host names, addresses or metadata.
	MetricsPublic bool `config:"metrics_public" help:"under an authenticator, let anyone scrape /metrics (otherwise it needs the read permission)"`
	// Environment and DataCenter are shown by the dashboard and GET status
	// (Eureka's eureka.environment and eureka.datacenter).
	Environment string `config:"environment" help:"environment name shown by the dashboard and GET status"`
	DataCenter  string `config:"datacenter" help:"data center name shown by the dashboard"`
	// Ops are the status sources of replication, plugins, auth and
	// listeners; nil funcs mean not configured. Ops.Peers also fills the
	// replica lists of GET status.
	Ops OpsSources `config:"-"`

	// Regions are the remote regions served with ?regions= and as the
	// transparent fallback of apps/{app} and instance lookups; nil means
	// none (the parameter is ignored).
	Regions *regions.Set `config:"-"`

	// Namespace is the namespace this server serves ("" or "default":
	// the default one); its name is in every auth request.
	Namespace string `config:"-"`
	// Namespaces, set on the default namespace's server only, are the
	// other namespaces: requests below /ns/{namespace}/, and admin
	// requests with ?namespace=, go to their servers. nil serves the
	// default namespace alone.
	Namespaces Namespaces `config:"-"`

	// Auth decides every Eureka API and admin request (see auth.go); nil
	// leaves the API open and the admin endpoints under AdminToken. Wrap
	// the authenticator in plugins/auth/guard for caching and deadlines.
	Auth hook.Authenticator `config:"-"`
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
		MaxLongPoll:       50 * time.Second,
		Dashboard:         true,
		Metrics:           true,
		Environment:       "test",
		DataCenter:        "default",
	}
}
