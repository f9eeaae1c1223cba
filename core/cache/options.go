package cache

import (
	"fmt"
	"log/slog"
	"time"
)

// Mode selects how the serving layer follows the registry.
type Mode string

const (
	// ModeFresh rebuilds a payload when the registry version it depends on
	// moves, at most once per key per MinRebuildInterval.
	ModeFresh Mode = "fresh"
	// ModeEureka reproduces Eureka: a read-write layer invalidated on change
	// and expiring AutoExpiration after write, behind a read-only layer
	// copied from it every UpdateInterval.
	ModeEureka Mode = "eureka"
)

// Options configures a Cache. Start from DefaultOptions.
type Options struct {
	// Mode is ModeFresh or ModeEureka.
	Mode Mode `config:"mode" help:"fresh (follow the registry within milliseconds) or eureka (30 s read-only refresh)"`
	// MinRebuildInterval bounds rebuilds in fresh mode: a key is rebuilt at
	// most once per interval however fast the registry changes, and at
	// most once per its last build's cost, or four times the part of it
	// that did not depend on what changed, when that is longer.
	// 0 rebuilds on every read after a change.
	MinRebuildInterval time.Duration `config:"min_rebuild_interval" help:"fresh mode: rebuild a payload at most once per interval"`
	// AutoExpiration drops a read-write entry this long after it was built
	// (responseCacheAutoExpirationInSeconds), so lease timestamps in
	// payloads never grow older than this.
	AutoExpiration time.Duration `config:"auto_expiration" help:"rebuild a cached payload at least this often"`
	// UpdateInterval is the read-only layer's refresh period in eureka mode
	// (responseCacheUpdateIntervalMs).
	UpdateInterval time.Duration `config:"update_interval" help:"eureka mode: read-only layer refresh period"`
	// UseReadOnly serves eureka mode from the read-only layer
	// (shouldUseReadOnlyResponseCache). Off, changes show as soon as they
	// invalidate the read-write layer.
	UseReadOnly bool `config:"use_read_only" help:"eureka mode: serve from the read-only layer"`
	// MaxEntries caps the number of cached keys; payloads for further keys
	// are built per request and not kept.
	MaxEntries int `config:"max_entries" help:"maximum number of cached payload keys"`
	// Logger receives the cache's logs; nil discards them.
	Logger *slog.Logger `config:"-"`
}

// DefaultOptions returns fresh mode with Eureka's intervals for eureka mode.
func DefaultOptions() Options {
	return Options{
		Mode:               ModeFresh,
		MinRebuildInterval: 10 * time.Millisecond,
		AutoExpiration:     180 * time.Second,
		UpdateInterval:     30 * time.Second,
		UseReadOnly:        true,
		MaxEntries:         10000,
	}
}

// Validate reports the first setting that cannot work.
func (o Options) Validate() error {
	switch o.Mode {
	case ModeFresh, ModeEureka:
	default:
		return fmt.Errorf("cache: mode %q is not fresh or eureka", o.Mode)
	}
	if o.MinRebuildInterval < 0 || o.AutoExpiration <= 0 || o.UpdateInterval <= 0 {
		return fmt.Errorf("cache: intervals must be positive")
	}
	if o.MaxEntries <= 0 {
		return fmt.Errorf("cache: max entries must be positive")
	}
	return nil
}
