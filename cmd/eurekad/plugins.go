package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/plugins"
	"github.com/eurekad/eurekad/plugins/admission"
	"github.com/eurekad/eurekad/plugins/auth/guard"
	"github.com/eurekad/eurekad/plugins/auth/static"
	"github.com/eurekad/eurekad/plugins/check"
	listenerlog "github.com/eurekad/eurekad/plugins/listener/log"
	"github.com/eurekad/eurekad/plugins/listener/webhook"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/bolt"
	"github.com/eurekad/eurekad/storage/memory"
	"github.com/eurekad/eurekad/storage/redis"
)

// builtin is the factory of a built-in plugin: the same values serve in
// process and, behind "eurekad plugin serve <id>", isolated. log is where
// the built-in logs: eurekad's logger in process, plugin.Logger() isolated.
type builtin func(log *slog.Logger) plugin.ServeOptions

// catalog is every built-in plugin by id: an explicit map rather than
// registration by init, so that what eurekad contains is readable here.
var catalog = map[string]builtin{
	"storage.memory": func(*slog.Logger) plugin.ServeOptions {
		return plugin.ServeOptions{Name: "storage.memory", Version: versionString(), Store: func(context.Context, []byte) (storage.Store, error) {
			return memory.New(), nil
		}}
	},
	"storage.bolt": func(log *slog.Logger) plugin.ServeOptions {
		return plugin.ServeOptions{Name: "storage.bolt", Version: versionString(), Store: func(_ context.Context, cfg []byte) (storage.Store, error) {
			var c boltConfig
			if err := decodeConfig(cfg, &c); err != nil {
				return nil, fmt.Errorf("storage.bolt: %w", err)
			}
			if c.Path == "" {
				return nil, fmt.Errorf("storage.bolt: path: missing")
			}
			s, err := bolt.Open(c.Path, &bolt.Options{Timeout: c.Timeout.Duration, Logger: log})
			if err != nil {
				return nil, storeOpenError{err}
			}
			return s, nil
		}}
	},
	"storage.redis": func(log *slog.Logger) plugin.ServeOptions {
		return plugin.ServeOptions{Name: "storage.redis", Version: versionString(), Store: func(ctx context.Context, cfg []byte) (storage.Store, error) {
			var c redisConfig
			if err := decodeConfig(cfg, &c); err != nil {
				return nil, fmt.Errorf("storage.redis: %w", err)
			}
			// go-redis logs dial failures through a process-wide logger.
			goredis.SetLogger(redisLog{log})
			s, err := redis.Open(ctx, redis.Options{URL: c.URL, KeyPrefix: c.KeyPrefix, Logger: log})
			if err != nil {
				return nil, storeOpenError{err}
			}
			return s, nil
		}}
	},
	"auth.static": func(*slog.Logger) plugin.ServeOptions {
		return plugin.ServeOptions{Name: "auth.static", Version: versionString(), Authenticator: static.New()}
	},
	"listener.log": func(log *slog.Logger) plugin.ServeOptions {
		return plugin.ServeOptions{Name: "listener.log", Version: versionString(), Listener: listenerlog.NewWithLogger(log)}
	},
	"listener.webhook": func(*slog.Logger) plugin.ServeOptions {
		return plugin.ServeOptions{Name: "listener.webhook", Version: versionString(), Listener: webhook.New()}
	},
	builtinChecker: func(*slog.Logger) plugin.ServeOptions {
		return plugin.ServeOptions{Name: builtinChecker, Version: versionString(), Checker: check.New()}
	},
}

// boltConfig and redisConfig are the built-in stores' config blocks, which
// eurekad builds from the storage section.
type boltConfig struct {
	Path    string   `json:"path"`
	Timeout duration `json:"timeout,omitempty"`
}

type redisConfig struct {
	URL       string `json:"url"`
	KeyPrefix string `json:"key_prefix"`
}

// duration is a time.Duration written as "5s" in JSON.
type duration struct{ time.Duration }

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	d.Duration = v
	return err
}

func decodeConfig(cfg []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(cfg)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func catalogIDs() []string {
	ids := make([]string, 0, len(catalog))
	for id := range catalog {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// newPluginCmd is the hidden "plugin serve <id>" command: eurekad re-runs
// itself with it to serve a built-in in a subprocess.
func newPluginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "plugin",
		Short:  "Serve built-in plugins in a subprocess (used by eurekad itself)",
		Hidden: true,
		Args:   noArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "serve ID",
		Short: "Serve the built-in plugin ID to the eurekad that started this process",
		Long:  "Serve the built-in plugin ID (" + strings.Join(catalogIDs(), ", ") + ") over go-plugin to the eurekad that started this process.",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, ok := catalog[args[0]]
			if !ok {
				return &usageError{cmd: cmd, err: fmt.Errorf("unknown built-in plugin %q (one of %s)", args[0], strings.Join(catalogIDs(), ", "))}
			}
			plugin.Serve(b(plugin.Logger()))
			return nil
		},
	})
	return cmd
}

// pluginSet is every plugin serve loaded, closed together at the end.
type pluginSet struct {
	log *slog.Logger // the runtime's, component=plugins
	// base is eurekad's logger, for the built-ins in process: they name
	// their own component.
	base *slog.Logger
	all  []*plugins.Plugin
	self string // eurekad's executable, for isolated built-ins
}

// load loads a built-in by id or an external plugin by path.
func (s *pluginSet) load(ctx context.Context, kind plugin.Kind, ref, sha string, isolate bool, cfg []byte, resync func(context.Context, storage.Store) error) (*plugins.Plugin, error) {
	o := plugins.DefaultOptions()
	o.Kind, o.Config, o.SHA256, o.Resync = kind, cfg, sha, resync
	if b, ok := catalog[ref]; ok {
		o.Name = ref
		if isolate {
			if s.self == "" {
				exe, err := os.Executable()
				if err != nil {
					return nil, fmt.Errorf("isolate %s: %w", ref, err)
				}
				s.self = exe
			}
			o.Isolate, o.Executable, o.Args = true, s.self, []string{"plugin", "serve", ref}
			o.SHA256 = ""
		}
		plog := s.base.With("plugin", ref)
		o.Builtin = func() plugin.ServeOptions { return b(plog) }
	} else {
		path, err := filepath.Abs(ref)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%s plugin %s: %w", kind, ref, err)
		}
		o.Name, o.Executable = ref, path
	}
	o.Logger = s.log
	p, err := plugins.Load(ctx, o)
	if err != nil {
		return nil, err
	}
	s.all = append(s.all, p)
	return p, nil
}

// Run supervises every plugin until ctx ends.
func (s *pluginSet) Run(ctx context.Context) error {
	done := make(chan struct{}, len(s.all))
	for _, p := range s.all {
		go func() {
			p.Run(ctx)
			done <- struct{}{}
		}()
	}
	for range s.all {
		<-done
	}
	return nil
}

// Close closes the plugins, last loaded first.
func (s *pluginSet) Close() {
	for _, p := range slices.Backward(s.all) {
		if err := p.Close(); err != nil {
			s.log.Warn("closing plugin", "plugin", p.Stats().Name, "err", err)
		}
	}
}

// Stats returns every plugin's state.
func (s *pluginSet) Stats() []plugins.Stats {
	out := make([]plugins.Stats, len(s.all))
	for i, p := range s.all {
		out[i] = p.Stats()
	}
	return out
}

// storeRef returns the storage plugin to load and its config block: the
// external plugin when one is named, else the built-in of storage.kind
// with a config block built from the storage section; "" for memory
// without isolation, which keeps no store at all.
func storeRef(cfg config.Config) (ref string, block []byte, err error) {
	if p := cfg.Plugins.Storage; p.Plugin != "" {
		return p.Plugin, p.Block(), nil
	}
	var c any
	switch cfg.Storage.Kind {
	case "memory":
		return "", nil, nil
	case "bolt":
		dir := cfg.Storage.DataDir
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs // the same file whatever directory a plugin process runs in
		}
		c = boltConfig{Path: filepath.Join(dir, boltFile), Timeout: duration{5 * time.Second}}
	case "redis":
		c = redisConfig{URL: cfg.Storage.RedisURL, KeyPrefix: cfg.Storage.RedisKeyPrefix}
	default:
		return "", nil, fmt.Errorf("unknown storage kind %q", cfg.Storage.Kind)
	}
	block, err = json.Marshal(c)
	return "storage." + cfg.Storage.Kind, block, err
}

// listenerRef maps the short built-in names of --listener-plugin.
func listenerRef(name string) string {
	switch name {
	case "log", "webhook":
		return "listener." + name
	}
	return name
}

// authRef maps --auth-plugin static to its built-in.
func authRef(name string) string {
	if name == "static" {
		return "auth.static"
	}
	return name
}

// storeName names the store in logs and the HTTP status: the storage kind,
// or the storage plugin.
func storeName(cfg config.Config) string {
	if p := cfg.Plugins.Storage.Plugin; p != "" {
		return p
	}
	return cfg.Storage.Kind
}

// loadStore loads the store: nil for memory (unless isolated built-ins are
// asked for, which changes nothing for a store that keeps nothing).
func loadStore(ctx context.Context, cfg config.Config, ps *pluginSet, resync func(context.Context, storage.Store) error) (storage.Store, error) {
	ref, block, err := storeRef(cfg)
	if err != nil || ref == "" {
		return nil, err
	}
	p, err := ps.load(ctx, plugin.KindStorage, ref, cfg.Plugins.Storage.SHA256, cfg.Plugins.IsolateBuiltins, block, resync)
	if err != nil {
		return nil, openStoreError(cfg, ref, err)
	}
	return p.Store(), nil
}

// storeOpenError marks a built-in store's own error from opening, so that
// openStoreError can drop the plugin loader's wrapping around it.
type storeOpenError struct{ err error }

func (e storeOpenError) Error() string { return e.err.Error() }
func (e storeOpenError) Unwrap() error { return e.err }

// openStoreError words a failure to open the store once, naming the setting
// that chose the store, and tells the way out of a damaged or locked bolt
// file. The built-in's own error replaces the loader's "plugins: storage.bolt:
// open store: …" chain when it is at hand (in process); an isolated
// built-in's error crossed a process boundary as text, so there the
// loader's prefix is cut from the text and the bolt cases are recognised by
// their words.
func openStoreError(cfg config.Config, ref string, err error) error {
	var own storeOpenError
	if errors.As(err, &own) {
		err = own.err
	} else if rest, ok := strings.CutPrefix(err.Error(), "plugins: "+ref+": configure: "); ok {
		err = retold{rest, err}
	}
	if p := cfg.Plugins.Storage.Plugin; p != "" {
		return fmt.Errorf("storage plugin %s (--storage-plugin): %w", p, err)
	}
	switch cfg.Storage.Kind {
	case "bolt":
		dir := cfg.Storage.DataDir
		msg := fmt.Errorf("bolt store in --data-dir %s (storage.data_dir): %w", dir, err)
		file := filepath.Join(dir, boltFile)
		switch {
		case isBoltError(err, bolt.ErrInvalid):
			return fmt.Errorf("%w\nThe file is damaged or is not eurekad's. Move %s and any %s.journal.* files aside, then "+
				"either start with an empty registry (peers, if any, fill it again) or first restore a snapshot into it: "+
				"eurekad snapshot restore --data-dir %s BACKUP.snapshot", msg, file, file, dir)
		case isBoltError(err, bolt.ErrLocked):
			return fmt.Errorf("%w\nAnother eurekad (or eurekad snapshot restore) is using this --data-dir: stop it, or give this server a --data-dir of its own", msg)
		}
		return msg
	case "redis":
		return fmt.Errorf("redis store at --redis-url %s (storage.redis_url): %w", config.RedactURL(cfg.Storage.RedisURL), err)
	}
	return fmt.Errorf("open %s store: %w", storeName(cfg), err)
}

// retold is err told in other words.
type retold struct {
	msg string
	err error
}

func (e retold) Error() string { return e.msg }
func (e retold) Unwrap() error { return e.err }

// isBoltError reports whether err is the bolt sentinel target, by identity
// or, from an isolated built-in, by its words.
func isBoltError(err, target error) bool {
	return errors.Is(err, target) || strings.Contains(err.Error(), strings.TrimPrefix(target.Error(), "bolt: "))
}

// loadAuth loads the authenticator behind the guard (deadline, decision
// cache, fail closed); nil without one.
func loadAuth(ctx context.Context, cfg config.Config, ps *pluginSet, log *slog.Logger) (hook.Authenticator, error) {
	a := cfg.Plugins.Auth
	if a.Plugin == "" {
		return nil, nil
	}
	p, err := ps.load(ctx, plugin.KindAuth, authRef(a.Plugin), a.SHA256, cfg.Plugins.IsolateBuiltins, a.Block(), nil)
	if err != nil {
		return nil, fmt.Errorf("auth plugin: %w", err)
	}
	g := a.Guard
	g.Logger = log.With("component", "auth")
	return guard.New(p.Authenticator(), &g), nil
}

// loadAdmission loads the admission hook behind its guard (deadline, fail
// closed, nothing cached); nil without one. The write path (core/node)
// calls it for registrations, status and metadata changes.
func loadAdmission(ctx context.Context, cfg config.Config, ps *pluginSet, log *slog.Logger) (hook.Admitter, error) {
	a := cfg.Plugins.Admission
	if a.Plugin == "" {
		return nil, nil
	}
	p, err := ps.load(ctx, plugin.KindAdmission, a.Plugin, a.SHA256, cfg.Plugins.IsolateBuiltins, a.Block(), nil)
	if err != nil {
		return nil, fmt.Errorf("admission plugin: %w", err)
	}
	g := a.Guard
	g.Logger = log.With("component", "admission")
	return admission.New(p.Admitter(), &g), nil
}

// loadListeners loads the listener plugins and subscribes each to a new
// event bus; nil without listeners (serve then makes a bus of its own for
// the admin API's history).
func loadListeners(ctx context.Context, cfg config.Config, ps *pluginSet, log *slog.Logger) (*events.Bus, error) {
	entries := cfg.Plugins.ListenerEntries
	if len(entries) == 0 {
		return nil, nil
	}
	bus := events.New(&events.Options{Logger: log.With("component", "events"), FlushTimeout: events.DefaultOptions().FlushTimeout})
	for i, e := range entries {
		ref := listenerRef(e.Plugin)
		p, err := ps.load(ctx, plugin.KindListener, ref, e.SHA256, cfg.Plugins.IsolateBuiltins, e.Config, nil)
		if err != nil {
			return nil, fmt.Errorf("listener plugin %s: %w", e.Plugin, err)
		}
		name := ref
		if slices.ContainsFunc(entries[:i], func(o config.ListenerEntry) bool { return listenerRef(o.Plugin) == ref }) {
			name = fmt.Sprintf("%s#%d", ref, i+1)
		}
		// The entry's events, else what the listener asks for, else the
		// default (all but renewals).
		sub := e.Subscription()
		if t, ok := p.Listener().(interface{ Types() []hook.EventType }); ok && sub.Types == nil {
			sub.Types = t.Types()
		}
		if err := bus.Subscribe(name, p.Listener(), sub); err != nil {
			return nil, fmt.Errorf("listener plugin %s: %w", e.Plugin, err)
		}
	}
	return bus, nil
}
