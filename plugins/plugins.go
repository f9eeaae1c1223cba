// Package plugins is eurekad's host side of plugins: it loads a storage,
// auth, admission, listener or checker plugin in one of three ways and hands back
// the sdk contract it provides, behind one handle.
//
//   - A built-in in process: the factory's values are used directly.
//   - A built-in isolated: eurekad runs itself again as
//     "eurekad plugin serve <id>", which serves the same factory.
//   - An external plugin: an executable named by path, optionally pinned
//     by its SHA-256 checksum.
//
// Subprocesses speak gRPC over go-plugin with automatic mutual TLS. The
// capabilities of a plugin (what it serves, which optional storage
// interfaces) are checked once, at load. A Plugin supervises its process
// while Run runs: when the process dies it is started again with
// exponential back-off, reconfigured and, for a store, resynchronised
// through Options.Resync; meanwhile calls fail with an error matching
// plugin.ErrPluginExited, which the callers treat as a failure (auth and
// admission fail closed, the persister keeps its pending writes, a check
// is undecided and changes no status). A plugin
// process never outlives eurekad: Linux kills it when eurekad dies
// (Pdeathsig) and sdk/plugin.Serve exits when its parent changes.
//
// A plugin's log lines (hclog JSON on its stderr) are logged through
// eurekad's slog logger with a plugin attribute.
//
// This package imports sdk and go-plugin; never core or httpd.
package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Mode is how a plugin runs.
type Mode string

// The modes.
const (
	ModeInProcess Mode = "in-process" // a built-in, called directly
	ModeIsolated  Mode = "isolated"   // a built-in in a subprocess of eurekad itself
	ModeExternal  Mode = "external"   // a separate executable
)

// Options says which plugin to load and how.
type Options struct {
	// Kind is what eurekad needs from the plugin; Load fails, and a restart
	// is refused, when the plugin does not serve it.
	Kind plugin.Kind
	// Name identifies the plugin in logs and Stats: the built-in's id
	// ("storage.bolt") or the external plugin's path.
	Name string
	// Builtin is the built-in's factory; nil for an external plugin. It
	// returns fresh values on every call.
	Builtin func() plugin.ServeOptions
	// Isolate runs the built-in in a subprocess: Executable with
	// IsolateArgs.
	Isolate bool
	// Executable is the program to run: an external plugin's path, or
	// eurekad's own executable for an isolated built-in.
	Executable string
	// Args are passed to Executable (for an isolated built-in:
	// "plugin", "serve", id).
	Args []string
	// SHA256 is the expected hex SHA-256 of Executable; empty for none.
	SHA256 string
	// Config is the plugin's configuration block as JSON; nil means "{}".
	Config []byte
	// Resync is called, for a store, after a restarted plugin is running
	// again, with the store handle: it writes back what the plugin may
	// have lost. Its error is logged.
	Resync func(ctx context.Context, s storage.Store) error
	// StartTimeout bounds the start of a subprocess and its Configure.
	StartTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between restarts.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the runtime's and the plugin's logs; nil discards.
	Logger *slog.Logger
}

// DefaultOptions returns the timing defaults.
func DefaultOptions() Options {
	return Options{StartTimeout: 10 * time.Second, MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second}
}

// State is where a plugin is in its life.
type State string

// The states.
const (
	StateRunning    State = "running"
	StateRestarting State = "restarting"
	StateClosed     State = "closed"
)

// Stats describes a loaded plugin, for metrics and the dashboard.
type Stats struct {
	Kind    plugin.Kind `json:"kind"`
	Name    string      `json:"name"`
	Mode    Mode        `json:"mode"`
	Path    string      `json:"path,omitempty"`
	Version string      `json:"version,omitempty"`
	PID     int         `json:"pid,omitempty"`
	State   State       `json:"state"`
	// Restarts counts restarts of the process since load.
	Restarts uint64 `json:"restarts"`
	// LastError is the last failure of the process (kept after recovery).
	LastError string `json:"lastError,omitempty"`
	// BatchPipe is true while a store plugin process takes its batches on
	// the batch pipe; false when they go over gRPC (an older SDK, Windows,
	// or a pipe that broke, until the next restart).
	BatchPipe bool `json:"batchPipe,omitempty"`
}

// Errors of Load and of restarts (Stats.LastError).
var (
	// ErrKind is returned by Load, and is a refused restart's error, when
	// the plugin does not serve the kind asked for.
	ErrKind = errors.New("plugins: plugin does not serve this kind")
	// ErrAbilities is a restarted store plugin's error when its store has
	// lost an optional ability it reported at load.
	ErrAbilities = errors.New("plugins: restarted store lost an ability")
	// ErrChecksum is returned by Load when the executable's SHA-256 is not
	// the expected one.
	ErrChecksum = errors.New("plugins: checksum mismatch")
)

// Plugin is one loaded plugin. Its Store, Authenticator, Admitter,
// Listener and Checker stay valid across restarts of the process. It is safe for
// concurrent use.
type Plugin struct {
	opts Options
	mode Mode
	log  *slog.Logger
	sum  []byte // decoded SHA256

	cur atomic.Pointer[instance] // nil while restarting or closed
	// info is the capability set checked at load; restarts keep it.
	info plugin.Info

	store    storage.Store
	auth     hook.Authenticator
	listener hook.Listener
	admitter hook.Admitter
	checker  hook.Checker

	mu        sync.Mutex
	closed    bool
	closedCh  chan struct{}
	state     State
	restarts  uint64
	lastError string
}

// instance is one running copy of the plugin.
type instance struct {
	client   *goplugin.Client // nil in process
	pid      int
	exited   <-chan struct{} // closed when the process exits; nil in process
	store    storage.Store
	auth     hook.Authenticator
	listener hook.Listener
	admitter hook.Admitter
	checker  hook.Checker
	// pipe carries a store's batches when the plugin took it; nil otherwise.
	pipe     *plugin.BatchPipe
	closers  []io.Closer
	released chan struct{} // lets the spawning thread go
}

// Load starts the plugin, configures it and checks that it serves
// opts.Kind.
func Load(ctx context.Context, opts Options) (*Plugin, error) {
	def := DefaultOptions()
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = def.StartTimeout
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = def.MinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(def.MaxBackoff, opts.MinBackoff)
	}
	if len(opts.Config) == 0 {
		opts.Config = []byte("{}")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Plugin{opts: opts, log: log.With("plugin", opts.Name, "kind", string(opts.Kind)), closedCh: make(chan struct{})}
	switch {
	case opts.Builtin != nil && !opts.Isolate:
		p.mode = ModeInProcess
	case opts.Builtin != nil:
		p.mode = ModeIsolated
	default:
		p.mode = ModeExternal
	}
	if p.mode != ModeInProcess && opts.Executable == "" {
		return nil, fmt.Errorf("plugins: %s: no executable", opts.Name)
	}
	if opts.SHA256 != "" {
		sum, err := hex.DecodeString(opts.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("plugins: %s: sha256 %q is not 64 hex digits", opts.Name, opts.SHA256)
		}
		p.sum = sum
	}

	in, info, err := p.start(ctx)
	if err != nil {
		return nil, err
	}
	p.info = info
	p.state = StateRunning
	p.cur.Store(in)
	if p.mode == ModeInProcess {
		p.store, p.auth, p.listener, p.admitter, p.checker = in.store, in.auth, in.listener, in.admitter, in.checker
	} else {
		p.store = newStoreHandle(p, info)
		p.auth = authHandle{p}
		p.listener = listenerHandle{p}
		p.admitter = admitterHandle{p}
		p.checker = checkerHandle{p}
	}
	p.log.Info("plugin loaded", "mode", string(p.mode), "version", info.Version, "pid", in.pid,
		"batcher", info.Batcher, "snapshotter", info.Snapshotter)
	return p, nil
}

// start runs one instance, checks that it serves the kind (ErrKind) and
// configures it. Load and restarts both come through here, so this is the
// host's only kind check.
func (p *Plugin) start(ctx context.Context) (*instance, plugin.Info, error) {
	if p.mode == ModeInProcess {
		return p.startInProcess(ctx)
	}
	return p.startProcess(ctx)
}

func (p *Plugin) startInProcess(ctx context.Context) (*instance, plugin.Info, error) {
	so := p.opts.Builtin()
	in := &instance{}
	info := plugin.Info{Name: so.Name, Version: so.Version}
	var err error
	switch p.opts.Kind {
	case plugin.KindStorage:
		if so.Store == nil {
			break
		}
		info.Kinds = append(info.Kinds, plugin.KindStorage)
		if in.store, err = so.Store(ctx, p.opts.Config); err != nil {
			return nil, info, fmt.Errorf("plugins: %s: open store: %w", p.opts.Name, err)
		}
		_, info.Batcher = in.store.(storage.Batcher)
		_, info.Snapshotter = in.store.(storage.Snapshotter)
		in.closers = append(in.closers, in.store)
	case plugin.KindAuth:
		in.auth = so.Authenticator
		err = in.useHook(ctx, &info, plugin.KindAuth, so.Authenticator, p.opts.Config)
	case plugin.KindListener:
		in.listener = so.Listener
		err = in.useHook(ctx, &info, plugin.KindListener, so.Listener, p.opts.Config)
	case plugin.KindAdmission:
		in.admitter = so.Admitter
		err = in.useHook(ctx, &info, plugin.KindAdmission, so.Admitter, p.opts.Config)
	case plugin.KindChecker:
		in.checker = so.Checker
		err = in.useHook(ctx, &info, plugin.KindChecker, so.Checker, p.opts.Config)
	}
	if !info.Has(p.opts.Kind) {
		return nil, info, p.errKind(info)
	}
	if err != nil {
		in.stop()
		return nil, info, fmt.Errorf("plugins: %s: configure: %w", p.opts.Name, err)
	}
	return in, info, nil
}

// errKind is start's refusal of a plugin that does not serve the kind.
func (p *Plugin) errKind(info plugin.Info) error {
	return fmt.Errorf("plugins: %s (serving %v): %w: %s", p.opts.Name, info.Kinds, ErrKind, p.opts.Kind)
}

// useHook takes the hook v of a built-in in process, when it serves one
// (v is not nil): it adds kind to info, closes v with the instance when it
// is an io.Closer, and configures it when it is a hook.Configurer.
func (in *instance) useHook(ctx context.Context, info *plugin.Info, kind plugin.Kind, v any, cfg []byte) error {
	if v == nil {
		return nil
	}
	info.Kinds = append(info.Kinds, kind)
	if c, ok := v.(io.Closer); ok {
		in.closers = append(in.closers, c)
	}
	if c, ok := v.(hook.Configurer); ok {
		return c.Configure(ctx, cfg)
	}
	return nil
}

// startProcess runs the executable, connects, configures the plugin and
// asks for its Info. The process is started from a goroutine locked to its
// OS thread that stays until the process ends: Linux's parent-death signal
// fires when the starting thread exits, not the process.
func (p *Plugin) startProcess(ctx context.Context) (*instance, plugin.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	defer cancel()
	cmd := exec.Command(p.opts.Executable, p.opts.Args...)
	setDeathSignal(cmd)
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  plugin.Handshake,
		VersionedPlugins: plugin.VersionedPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		GRPCDialOptions:  plugin.DialOptions(),
		StartTimeout:     p.opts.StartTimeout,
		Logger:           newHclog(p.log, p.opts.Name),
	}
	if p.sum != nil {
		cfg.SecureConfig = &goplugin.SecureConfig{Checksum: p.sum, Hash: sha256.New()}
	}
	var pipe *plugin.BatchPipe
	if p.opts.Kind == plugin.KindStorage {
		// Batches skip gRPC's goroutine hand-offs (sdk/plugin's pipe.go);
		// where there is no pipe they go over gRPC.
		if bp, err := plugin.NewBatchPipe(); err == nil {
			pipe = bp
			pipe.Attach(cmd)
		}
	}
	client := goplugin.NewClient(cfg)
	in := &instance{client: client, released: make(chan struct{})}

	started := make(chan error, 1)
	var remote *plugin.Client
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		rpc, err := client.Client()
		if err == nil {
			var raw any
			if raw, err = rpc.Dispense(plugin.DispenseName); err == nil {
				remote = raw.(*plugin.Client)
			}
		}
		started <- err
		if err != nil {
			return
		}
		select {
		case <-remote.Done():
		case <-in.released:
		}
	}()
	err := <-started
	if pipe != nil {
		pipe.Started()
	}
	if err != nil {
		if pipe != nil {
			pipe.Close()
		}
		client.Kill()
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			err = fmt.Errorf("%w: %v", ErrChecksum, err)
		}
		return nil, plugin.Info{}, fmt.Errorf("plugins: start %s: %w", p.opts.Name, err)
	}
	if rc := client.ReattachConfig(); rc != nil {
		in.pid = rc.Pid
	}
	in.exited = remote.Done()
	if pipe != nil {
		remote.UseBatchPipe(pipe)
		in.closers = append(in.closers, pipe)
	}
	// Info before Configure names what the plugin serves, so a plugin is
	// never configured for a kind it lacks; after it, a store's abilities
	// and a listener's subscription.
	info, err := remote.Info(ctx)
	if err == nil && !info.Has(p.opts.Kind) {
		in.stop()
		return nil, info, p.errKind(info)
	}
	if err == nil {
		if err = remote.Configure(ctx, p.opts.Kind, p.opts.Config); err != nil {
			err = fmt.Errorf("configure: %w", err)
		}
	}
	if err == nil && (p.opts.Kind == plugin.KindStorage || p.opts.Kind == plugin.KindListener) {
		info, err = remote.Info(ctx) // a store's abilities, a listener's subscription
	}
	if err != nil {
		in.stop()
		return nil, plugin.Info{}, fmt.Errorf("plugins: %s: %w", p.opts.Name, err)
	}
	switch p.opts.Kind {
	case plugin.KindStorage:
		in.store = remote.Store(info)
		in.closers = append(in.closers, in.store)
		if info.BatchPipe {
			in.pipe = pipe
		}
	case plugin.KindAuth:
		in.auth = remote.Authenticator()
	case plugin.KindListener:
		in.listener = remote.Listener()
	case plugin.KindAdmission:
		in.admitter = remote.Admitter()
	case plugin.KindChecker:
		in.checker = remote.Checker()
	}
	return in, info, nil
}

// stop closes what the instance holds and ends its process.
func (in *instance) stop() error {
	var errs []error
	for _, c := range in.closers {
		errs = append(errs, c.Close())
	}
	if in.client != nil {
		in.client.Kill()
		close(in.released)
	}
	return errors.Join(errs...)
}

// Run supervises the plugin until ctx ends or the plugin is closed: a
// process that exits is started again with back-off. For an in-process
// plugin it only waits.
func (p *Plugin) Run(ctx context.Context) error {
	if p.mode == ModeInProcess {
		select {
		case <-ctx.Done():
		case <-p.closedCh:
		}
		return nil
	}
	backoff := p.opts.MinBackoff
	for {
		in := p.cur.Load()
		if in == nil {
			return nil // closed
		}
		up := time.Now()
		select {
		case <-ctx.Done():
			return nil
		case <-p.closedCh:
			return nil
		case <-in.exited:
		}
		if time.Since(up) > time.Minute {
			backoff = p.opts.MinBackoff // it ran well; this is a new failure
		}
		if !p.down(in, fmt.Errorf("plugin process %d exited", in.pid)) {
			return nil
		}
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-p.closedCh:
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, p.opts.MaxBackoff)
			if p.restart(ctx) {
				break
			}
		}
	}
}

// down records that in has died; false when the plugin is closed.
func (p *Plugin) down(in *instance, cause error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.cur.Store(nil)
	in.stop()
	p.state = StateRestarting
	p.lastError = cause.Error()
	p.log.Error("plugin failed; restarting", "err", cause)
	return true
}

// restart starts a new instance; false when it failed.
func (p *Plugin) restart(ctx context.Context) bool {
	in, info, err := p.start(ctx)
	// The store handle promised the abilities reported at load: a store
	// that lost one (a batch no longer atomic, a snapshot no longer
	// consistent) is refused and retried, never used as less than it was.
	if err == nil && p.opts.Kind == plugin.KindStorage &&
		((p.info.Batcher && !info.Batcher) || (p.info.Snapshotter && !info.Snapshotter)) {
		in.stop()
		err = fmt.Errorf("%w: batcher %v, snapshotter %v at load; now %v, %v",
			ErrAbilities, p.info.Batcher, p.info.Snapshotter, info.Batcher, info.Snapshotter)
	}
	p.mu.Lock()
	if err != nil {
		p.lastError = err.Error()
		p.mu.Unlock()
		p.log.Error("plugin restart failed", "err", err)
		return false
	}
	if p.closed {
		p.mu.Unlock()
		in.stop()
		return true
	}
	p.restarts++
	p.state = StateRunning
	p.cur.Store(in)
	p.mu.Unlock()
	p.log.Info("plugin restarted", "pid", in.pid, "restarts", p.restarts)
	if p.opts.Kind == plugin.KindStorage && p.opts.Resync != nil {
		start := time.Now()
		if err := p.opts.Resync(ctx, p.store); err != nil {
			p.log.Error("store resync failed", "err", err)
		} else {
			p.log.Info("store resynced", "took", time.Since(start).Round(time.Millisecond))
		}
	}
	return true
}

// instance returns the running instance, or an error matching
// plugin.ErrPluginExited while there is none.
func (p *Plugin) instance() (*instance, error) {
	if in := p.cur.Load(); in != nil {
		return in, nil
	}
	return nil, fmt.Errorf("plugins: %s: %w (restarting)", p.opts.Name, plugin.ErrPluginExited)
}

// Store returns the plugin's store; nil unless Kind is storage. It has the
// optional abilities (storage.Batcher, storage.Snapshotter) the plugin
// reported at load. Closing it closes the store, not the plugin: the owner
// closes the Plugin too.
func (p *Plugin) Store() storage.Store { return p.store }

// Authenticator returns the plugin's authenticator; nil unless Kind is auth.
func (p *Plugin) Authenticator() hook.Authenticator { return p.auth }

// Listener returns the plugin's listener; nil unless Kind is listener.
func (p *Plugin) Listener() hook.Listener { return p.listener }

// Admitter returns the plugin's admitter; nil unless Kind is admission.
func (p *Plugin) Admitter() hook.Admitter { return p.admitter }

// Checker returns the plugin's checker; nil unless Kind is checker.
func (p *Plugin) Checker() hook.Checker { return p.checker }

// Info is what the plugin reported at load.
func (p *Plugin) Info() plugin.Info { return p.info }

// Stats returns the plugin's current state.
func (p *Plugin) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{
		Kind: p.opts.Kind, Name: p.opts.Name, Mode: p.mode, Version: p.info.Version,
		State: p.state, Restarts: p.restarts, LastError: p.lastError,
	}
	if p.mode != ModeInProcess {
		s.Path = p.opts.Executable
	}
	if in := p.cur.Load(); in != nil {
		s.PID = in.pid
		s.BatchPipe = in.pipe != nil && in.pipe.Open()
	}
	return s
}

// Close closes what the plugin provides and ends its process. It may be
// called more than once.
func (p *Plugin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.state = StateClosed
	close(p.closedCh)
	in := p.cur.Swap(nil)
	p.mu.Unlock()
	if in == nil {
		return nil
	}
	return in.stop()
}

// PID returns the process id of the running plugin; 0 in process or while
// restarting.
func (p *Plugin) PID() int {
	if in := p.cur.Load(); in != nil {
		return in.pid
	}
	return 0
}
