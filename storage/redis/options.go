package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DefaultKeyPrefix starts every key of a store whose Options.KeyPrefix is
// empty.
const DefaultKeyPrefix = "eurekad:"

// Default timeouts, used when the Options field is zero.
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = 3 * time.Second
	DefaultWriteTimeout = 3 * time.Second
)

// DefaultMaxRetries is the number of retries of a command that failed on
// the network, when Options.MaxRetries is zero.
const DefaultMaxRetries = 1

// Options configures a Store. The zero value connects to a single server at
// 127.0.0.1:6379 with the default prefix and timeouts. See the package
// documentation for how URL, Addrs, MasterName and Cluster select a single
// server, Sentinel or Cluster.
type Options struct {
	// URL is a single server's redis://, rediss:// or unix:// URL, parsed
	// by the driver (goredis.ParseURL), query parameters included. Set
	// either URL or Addrs. Username, Password and DB, when set, override
	// the URL's.
	URL string

	// Addrs is one server's host:port, the sentinels' addresses (with
	// MasterName) or the seed nodes of a cluster (two or more, or one with
	// Cluster).
	Addrs []string
	// MasterName is the Sentinel master name; setting it selects Sentinel.
	MasterName string
	// Cluster selects Redis Cluster even with a single seed address (as a
	// managed service's configuration endpoint).
	Cluster bool

	// Username and Password authenticate against Redis (ACL user or the
	// legacy requirepass); empty means none.
	Username string
	Password string
	// SentinelUsername and SentinelPassword authenticate against the
	// sentinels themselves; empty means none.
	SentinelUsername string
	SentinelPassword string
	// DB is the database number (single server and Sentinel; Cluster only
	// has 0).
	DB int
	// TLS, when not nil, connects with TLS using this configuration (a
	// private CA, client certificates). A rediss:// URL turns TLS on with
	// the system's roots; TLS replaces that configuration.
	TLS *tls.Config

	// KeyPrefix starts every key of the store; empty means
	// DefaultKeyPrefix. Stores with different prefixes on the same Redis
	// never see each other's records. It may not contain '{' or '}'.
	KeyPrefix string

	// DialTimeout bounds establishing a connection; zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for a reply; zero means
	// DefaultReadTimeout. A context deadline shortens it.
	ReadTimeout time.Duration
	// WriteTimeout bounds sending a command; zero means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxRetries is how often a command that failed on the network is
	// sent again (on a fresh connection, as after a restart of Redis);
	// zero means DefaultMaxRetries, -1 none. Dialling is not retried
	// within an attempt, so with Redis down a call fails within about
	// (MaxRetries+1) × DialTimeout, and at once while the driver's pool
	// knows the server is refusing connections.
	MaxRetries int

	// Logger receives the store's few log lines (open, close); nil
	// discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the options Open uses for zero fields: a single
// server at 127.0.0.1:6379, DefaultKeyPrefix and the default timeouts.
func DefaultOptions() Options {
	return Options{
		Addrs:        []string{"127.0.0.1:6379"},
		KeyPrefix:    DefaultKeyPrefix,
		DialTimeout:  DefaultDialTimeout,
		ReadTimeout:  DefaultReadTimeout,
		WriteTimeout: DefaultWriteTimeout,
		MaxRetries:   DefaultMaxRetries,
	}
}

// Validate reports options that cannot work together.
func (o Options) Validate() error {
	var errs []error
	if o.URL != "" && len(o.Addrs) > 0 {
		errs = append(errs, errors.New("set either URL or Addrs, not both"))
	}
	if o.URL != "" && (o.MasterName != "" || o.Cluster) {
		errs = append(errs, errors.New("URL names a single server: use Addrs with MasterName or Cluster"))
	}
	if o.URL != "" && !strings.Contains(o.URL, "://") {
		errs = append(errs, errors.New("URL has no scheme: want redis://host:port/db, rediss://host:port/db (TLS) or unix:///path/to/socket"))
	}
	if o.MasterName != "" && o.Cluster {
		errs = append(errs, errors.New("set either MasterName (Sentinel) or Cluster, not both"))
	}
	if o.DB != 0 && o.isCluster() {
		errs = append(errs, fmt.Errorf("DB %d: Redis Cluster only has database 0", o.DB))
	}
	if o.DB < 0 {
		errs = append(errs, fmt.Errorf("DB %d is negative", o.DB))
	}
	if strings.ContainsAny(o.KeyPrefix, "{}") {
		errs = append(errs, fmt.Errorf("KeyPrefix %q contains a brace (the store adds its own hash tag)", o.KeyPrefix))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"DialTimeout", o.DialTimeout}, {"ReadTimeout", o.ReadTimeout}, {"WriteTimeout", o.WriteTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.v))
		}
	}
	if o.MaxRetries < -1 {
		errs = append(errs, fmt.Errorf("MaxRetries %d: want -1 (none), 0 (default) or more", o.MaxRetries))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redis: invalid options: %w", err)
	}
	return nil
}

func (o Options) isCluster() bool {
	return o.MasterName == "" && (o.Cluster || len(o.Addrs) > 1)
}

// mode names the deployment the options select, for logs.
func (o Options) mode() string {
	switch {
	case o.MasterName != "":
		return "sentinel"
	case o.isCluster():
		return "cluster"
	default:
		return "single"
	}
}

// withDefaults fills zero fields.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.URL == "" && len(o.Addrs) == 0 {
		o.Addrs = d.Addrs
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = d.KeyPrefix
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = d.DialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = d.ReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = d.WriteTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = d.MaxRetries
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
