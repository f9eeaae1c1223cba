package plugin

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// ServeOptions is what a plugin provides: any combination of a store
// factory, an authenticator, an admitter, a listener and a checker.
type ServeOptions struct {
	// Name and Version identify the plugin in eurekad's logs and stats.
	Name, Version string
	// Store opens the plugin's store with its configuration block (JSON,
	// "{}" when there is none). eurekad calls it once at load and again
	// after a restart; ctx bounds the opening only.
	Store func(ctx context.Context, config []byte) (storage.Store, error)
	// Authenticator decides eurekad's requests. If it implements
	// hook.Configurer it receives its configuration before any call.
	Authenticator hook.Authenticator
	// Admitter decides eurekad's registrations, status and metadata
	// changes by their content. If it implements hook.Configurer it
	// receives its configuration before any call.
	Admitter hook.Admitter
	// Listener receives eurekad's events, one call per batch. If it
	// implements hook.Configurer it receives its configuration first.
	Listener hook.Listener
	// Checker probes instances for eurekad's server-side health checks.
	// If it implements hook.Configurer it receives its configuration
	// before any call.
	Checker hook.Checker
}

// Serve serves the plugin to eurekad and returns when eurekad stops it. It
// also returns, ending the plugin, when the process that started it dies,
// so no plugin outlives its server. Run by hand, without eurekad, it prints
// an explanation and exits.
func Serve(opts ServeOptions) {
	stop := watchParent(os.Getppid())
	defer stop()
	srv := newServer(opts)
	if f := inherited; f != nil {
		inherited = nil
		if opts.Store != nil {
			srv.startPipe(f)
		} else {
			f.Close()
		}
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{ProtocolVersion: {pluginName: &grpcPlugin{srv: srv}}},
		GRPCServer:       newGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "go-plugin", Level: hclog.Warn, JSONFormat: true, Output: stderr,
		}),
	})
	srv.mu.Lock()
	if srv.store != nil {
		srv.store.Close()
	}
	srv.mu.Unlock()
}

// InMemory serves opts over an in-memory gRPC connection, with the same
// adapters and limits as a plugin process (and a store's batches on a
// batch pipe, where the system has one), and returns the host's side and
// a function that ends both. Package plugintest builds on it. (go-plugin's
// own test helpers fix the server at gRPC's 4 MiB message limit, below
// what a store batch may need.)
func InMemory(opts ServeOptions) (*Client, func()) {
	lis := bufconn.Listen(1 << 20)
	srv := newServer(opts)
	g := newGRPCServer(nil)
	srv.register(g)
	go g.Serve(lis)
	dial := func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }
	conn, err := grpc.NewClient("passthrough:///plugin", append(DialOptions(),
		grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		panic(err) // the target is fixed and valid
	}
	life, cancel := context.WithCancel(context.Background())
	c := NewClient(life, conn)
	var pipe *BatchPipe
	if opts.Store != nil {
		if bp, err := NewBatchPipe(); err == nil {
			pipe = bp
			srv.startPipe(bp.child)
			bp.child = nil // the server's now, as in a plugin process
			c.UseBatchPipe(pipe)
		}
	}
	return c, func() {
		if pipe != nil {
			pipe.Close()
		}
		conn.Close()
		g.Stop()
		cancel()
		srv.mu.Lock()
		if srv.store != nil {
			srv.store.Close()
		}
		srv.mu.Unlock()
	}
}

// parentPoll is how often a plugin checks that its parent lives.
const parentPoll = 200 * time.Millisecond

// watchParent exits the process once its parent has died (the process is
// re-parented, so its parent pid changes). eurekad also asks Linux to kill
// its plugins when it dies (Pdeathsig), but that signal follows the OS
// thread that started the plugin, which can end before the server does.
func watchParent(ppid int) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(parentPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if os.Getppid() != ppid {
					os.Exit(3)
				}
			}
		}
	}()
	return func() { close(done) }
}

// stderr is the process's standard error as it was at start: go-plugin
// redirects os.Stderr while serving, but eurekad reads log lines from the
// real one.
var stderr io.Writer = os.Stderr

// Logger returns a logger for plugin code. Its lines go to standard error
// in hclog's JSON form, which eurekad parses and logs again under the
// plugin's name with level and attributes intact.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{
		Level:       slog.LevelDebug,
		ReplaceAttr: hclogKeys,
	}))
}

// hclogKeys renames slog's built-in keys to hclog's.
func hclogKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
	case slog.LevelKey:
		lvl := "info"
		if l, ok := a.Value.Any().(slog.Level); ok {
			switch {
			case l < slog.LevelInfo:
				lvl = "debug"
			case l < slog.LevelWarn:
				lvl = "info"
			case l < slog.LevelError:
				lvl = "warn"
			default:
				lvl = "error"
			}
		} else {
			lvl = strings.ToLower(a.Value.String())
		}
		return slog.String("@level", lvl)
	case slog.MessageKey:
		return slog.String("@message", a.Value.String())
	}
	return a
}
