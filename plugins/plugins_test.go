package plugins_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/proctest"
	"github.com/eurekad/eurekad/plugins"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
)

// The test binary is also the plugin (the helper-process pattern): run as
// "plugins.test serve-test-plugin <id>" it serves catalog[id].
const serveArg = "serve-test-plugin"

var catalog = map[string]func() plugin.ServeOptions{
	"memory": func() plugin.ServeOptions {
		return plugin.ServeOptions{Name: "memory", Version: "1.0", Store: func(context.Context, []byte) (storage.Store, error) {
			return memory.New(), nil
		}}
	},
	// abilities serves a Batcher the first time and, once its marker file
	// exists, a store without batches: a restart that loses an ability.
	"abilities": func() plugin.ServeOptions {
		return plugin.ServeOptions{Name: "abilities", Store: func(_ context.Context, cfg []byte) (storage.Store, error) {
			var c struct{ Marker string }
			if err := json.Unmarshal(cfg, &c); err != nil {
				return nil, err
			}
			if _, err := os.Stat(c.Marker); err == nil {
				return plainStore{memory.New()}, nil
			}
			return memory.New(), os.WriteFile(c.Marker, nil, 0o600)
		}}
	},
	// drops-store serves a store the first time and, while the marker file
	// named by its third argument exists, only an authenticator: a restart
	// that no longer serves the kind.
	"drops-store": func() plugin.ServeOptions {
		marker := os.Args[3]
		if _, err := os.Stat(marker); err == nil {
			return plugin.ServeOptions{Name: "drops-store", Authenticator: hook.AuthenticatorFunc(
				func(context.Context, *hook.AuthRequest) (hook.Principal, error) { return hook.Principal{}, nil })}
		}
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			panic(err)
		}
		return plugin.ServeOptions{Name: "drops-store", Store: func(context.Context, []byte) (storage.Store, error) {
			return memory.New(), nil
		}}
	},
	"auth": func() plugin.ServeOptions {
		log := plugin.Logger()
		return plugin.ServeOptions{Name: "auth", Version: "2.0", Authenticator: hook.AuthenticatorFunc(
			func(_ context.Context, req *hook.AuthRequest) (hook.Principal, error) {
				log.Info("deciding", "user", req.Username, "app", req.App)
				switch req.Username {
				case "":
					return hook.Principal{}, hook.ErrUnauthenticated
				case "team-a":
					if strings.HasPrefix(req.App, "A-") {
						return hook.Principal{Name: "team-a"}, nil
					}
					return hook.Principal{}, fmt.Errorf("%s: %w", req.App, hook.ErrForbidden)
				}
				return hook.Principal{}, hook.ErrUnauthenticated
			})}
	},
	"admission": func() plugin.ServeOptions {
		return plugin.ServeOptions{Name: "admission", Version: "3.0", Admitter: &prefixAdmitter{}}
	},
	"checker": func() plugin.ServeOptions {
		return plugin.ServeOptions{Name: "checker", Version: "4.0", Checker: hook.CheckerFunc(
			func(_ context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
				if r.Kind != "even-port" {
					return hook.CheckResult{}, fmt.Errorf("kind %q: %w", r.Kind, errors.ErrUnsupported)
				}
				return hook.CheckResult{Passing: r.Instance.Port.Number%2 == 0, Detail: "port parity"}, nil
			})}
	},
	"discard": func() plugin.ServeOptions {
		return plugin.ServeOptions{Name: "discard", Listener: hook.ListenerFunc(func(context.Context, []hook.Event) error {
			return nil
		})}
	},
	"listener": func() plugin.ServeOptions {
		return plugin.ServeOptions{Name: "listener", Listener: &fileListener{}}
	},
}

// fileListener appends each event's Seq to the file its config names,
// and subscribes to the config's types.
type fileListener struct {
	path  string
	types []hook.EventType
}

func (l *fileListener) Configure(_ context.Context, cfg []byte) error {
	var c struct {
		File  string
		Types []hook.EventType
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		return err
	}
	if c.File == "" {
		return errors.New("file: missing")
	}
	l.path, l.types = c.File, c.Types
	return nil
}

func (l *fileListener) Types() []hook.EventType { return l.types }

func (l *fileListener) Handle(_ context.Context, events []hook.Event) error {
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, e := range events {
		fmt.Fprintf(f, "%d %s %s\n", e.Seq, e.Type, e.App)
	}
	return nil
}

// prefixAdmitter admits the apps named with the prefix its config gives,
// tagging them; it needs that config.
type prefixAdmitter struct{ prefix string }

func (a *prefixAdmitter) Configure(_ context.Context, cfg []byte) error {
	var c struct{ Prefix string }
	if err := json.Unmarshal(cfg, &c); err != nil {
		return err
	}
	if c.Prefix == "" {
		return errors.New("prefix: missing")
	}
	a.prefix = c.Prefix
	return nil
}

func (a *prefixAdmitter) Admit(_ context.Context, r *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
	if !strings.HasPrefix(r.App, a.prefix) {
		return hook.AdmissionResponse{Message: r.App + " is not " + a.prefix + "*"}, nil
	}
	return hook.AdmissionResponse{Allowed: true, Metadata: map[string]string{"admitted-by": a.prefix}}, nil
}

func TestMain(m *testing.M) {
	if len(os.Args) >= 3 && os.Args[1] == serveArg {
		plugin.Serve(catalog[os.Args[2]]())
		return
	}
	if len(os.Args) == 2 && os.Args[1] == middleArg {
		startOrphan()
		return
	}
	// A race-enabled plugin process would sleep a second at exit.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	os.Exit(m.Run())
}

// middleArg runs the test binary as a parent that starts a plugin process
// without eurekad's parent-death signal, prints its pid and waits to be
// killed.
const middleArg = "start-plugin-and-wait"

func startOrphan() {
	cmd := exec.Command(os.Args[0], serveArg, "memory")
	cmd.Env = append(os.Environ(), plugin.Handshake.MagicCookieKey+"="+plugin.Handshake.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	// The handshake line says the plugin serves.
	line, _ := bufio.NewReader(out).ReadString('\n')
	fmt.Printf("%d %s", cmd.Process.Pid, line)
	select {}
}

func self(t testing.TB) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// external loads catalog[id] as an external plugin: the test binary.
func external(t testing.TB, kind plugin.Kind, id string, mod func(*plugins.Options)) *plugins.Plugin {
	t.Helper()
	o := plugins.Options{Kind: kind, Name: id, Executable: self(t), Args: []string{serveArg, id}, MinBackoff: 10 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	p, err := plugins.Load(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// supervise runs p.Run for the rest of the test.
// supervise runs p.Run until the test ends; the function it returns waits
// until Run has returned, after which nothing restarts p.
func supervise(t *testing.T, p *plugins.Plugin) (returned func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return func() {
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("Run still supervising 15s after Close")
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eurekadtest.Until(t, 15*time.Second, what, cond)
}

func TestLoadInProcess(t *testing.T) {
	p, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindStorage, Name: "storage.memory", Builtin: catalog["memory"]})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, ok := p.Store().(*memory.Store); !ok {
		t.Errorf("in-process store is %T, want the factory's own value", p.Store())
	}
	st := p.Stats()
	if st.Mode != plugins.ModeInProcess || st.PID != 0 || st.State != plugins.StateRunning || st.Version != "1.0" {
		t.Errorf("Stats = %+v", st)
	}
	if _, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindAuth, Name: "storage.memory", Builtin: catalog["memory"]}); !errors.Is(err, plugins.ErrKind) {
		t.Errorf("auth from a store: %v, want ErrKind", err)
	}
}

func TestLoadChecksKindAndChecksum(t *testing.T) {
	exe := self(t)
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	good := hex.EncodeToString(sum[:])

	p := external(t, plugin.KindStorage, "memory", func(o *plugins.Options) { o.SHA256 = good })
	if p.Stats().PID == 0 || !proctest.Alive(p.Stats().PID) {
		t.Errorf("Stats = %+v, want a live pid", p.Stats())
	}

	bad := strings.Repeat("0", 64)
	_, err = plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindStorage, Name: "x", Executable: exe, Args: []string{serveArg, "memory"}, SHA256: bad})
	if !errors.Is(err, plugins.ErrChecksum) {
		t.Errorf("wrong checksum: %v, want ErrChecksum", err)
	}
	_, err = plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindAuth, Name: "x", Executable: exe, Args: []string{serveArg, "memory"}})
	if !errors.Is(err, plugins.ErrKind) {
		t.Errorf("auth from a store plugin: %v, want ErrKind", err)
	}
	_, err = plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindListener, Name: "x", Executable: exe, Args: []string{serveArg, "listener"}, Config: []byte(`{}`)})
	if err == nil || !strings.Contains(err.Error(), "file: missing") {
		t.Errorf("listener with a bad config: %v, want its Configure error", err)
	}
	_, err = plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindAuth, Name: "x", Executable: "/bin/true"})
	if err == nil {
		t.Error("a program that is no plugin loaded")
	}
}

// An admitter loads in process and in a subprocess alike: configured, and
// deciding the same way; a plugin without one is refused.
func TestLoadAdmitter(t *testing.T) {
	cfg := []byte(`{"prefix":"A-"}`)
	inProc, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindAdmission, Name: "admission", Builtin: catalog["admission"], Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer inProc.Close()
	sub := external(t, plugin.KindAdmission, "admission", func(o *plugins.Options) { o.Config = cfg })
	for _, p := range []*plugins.Plugin{inProc, sub} {
		in := &eureka.InstanceInfo{InstanceID: "i1", App: "A-SVC"}
		r, err := p.Admitter().Admit(t.Context(), &hook.AdmissionRequest{Operation: hook.OpRegister, App: "A-SVC", InstanceID: "i1", Instance: in})
		if err != nil || !r.Allowed || r.Metadata["admitted-by"] != "A-" {
			t.Errorf("%s: A-SVC = %+v, %v", p.Stats().Mode, r, err)
		}
		r, err = p.Admitter().Admit(t.Context(), &hook.AdmissionRequest{Operation: hook.OpRegister, App: "B-SVC", InstanceID: "i1", Instance: in})
		if err != nil || r.Allowed || r.Message != "B-SVC is not A-*" {
			t.Errorf("%s: B-SVC = %+v, %v", p.Stats().Mode, r, err)
		}
		if st := p.Stats(); st.Kind != plugin.KindAdmission || st.Version != "3.0" {
			t.Errorf("Stats = %+v", st)
		}
	}
	if _, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindAdmission, Name: "x", Builtin: catalog["admission"]}); err == nil || !strings.Contains(err.Error(), "prefix: missing") {
		t.Errorf("in process without its config: %v, want its Configure error", err)
	}
	if _, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindAdmission, Name: "x", Executable: self(t), Args: []string{serveArg, "auth"}}); !errors.Is(err, plugins.ErrKind) {
		t.Errorf("admission from an auth plugin: %v, want ErrKind", err)
	}
	if _, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindAdmission, Name: "x", Builtin: catalog["auth"]}); !errors.Is(err, plugins.ErrKind) {
		t.Errorf("admission from an auth built-in: %v, want ErrKind", err)
	}
}

// A checker loads in process and in a subprocess alike; a killed checker
// process makes checks fail with ErrPluginExited (undecided, never a
// verdict) until it is restarted.
func TestLoadCheckerAndRestart(t *testing.T) {
	inProc, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindChecker, Name: "checker", Builtin: catalog["checker"]})
	if err != nil {
		t.Fatal(err)
	}
	defer inProc.Close()
	sub := external(t, plugin.KindChecker, "checker", nil)
	supervise(t, sub)
	check := func(p *plugins.Plugin, port int) (hook.CheckResult, error) {
		in := &eureka.InstanceInfo{InstanceID: "i1", App: "SVC", Port: eureka.Port{Number: port, Enabled: true}}
		return p.Checker().Check(t.Context(), &hook.CheckRequest{App: "SVC", InstanceID: "i1", Instance: in, Kind: "even-port", Target: "127.0.0.1:1", Timeout: time.Second})
	}
	for _, p := range []*plugins.Plugin{inProc, sub} {
		if r, err := check(p, 8080); err != nil || !r.Passing {
			t.Errorf("%s: even = %+v, %v", p.Stats().Mode, r, err)
		}
		if r, err := check(p, 8081); err != nil || r.Passing || r.Detail != "port parity" {
			t.Errorf("%s: odd = %+v, %v", p.Stats().Mode, r, err)
		}
	}
	pid := sub.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var outage error
	waitFor(t, "the outage", func() bool { _, outage = check(sub, 8080); return outage != nil })
	if err := outage; !errors.Is(err, plugin.ErrPluginExited) {
		t.Errorf("during the outage: %v, want ErrPluginExited", err)
	}
	waitFor(t, "the restart", func() bool { r, err := check(sub, 8080); return err == nil && r.Passing })
	if st := sub.Stats(); st.Restarts != 1 || st.PID == pid {
		t.Errorf("after the restart: %+v", st)
	}
	if _, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindChecker, Name: "x", Builtin: catalog["auth"]}); !errors.Is(err, plugins.ErrKind) {
		t.Errorf("checker from an auth built-in: %v, want ErrKind", err)
	}
}

// A listener in a subprocess keeps the subscription it asks for (Types):
// the host subscribes it to those types, as it does a listener in process.
func TestSubprocessListenerTypes(t *testing.T) {
	exe := self(t)
	load := func(cfg string) []hook.EventType {
		t.Helper()
		p, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindListener, Name: "x", Executable: exe,
			Args: []string{serveArg, "listener"}, Config: []byte(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		typed, ok := p.Listener().(interface{ Types() []hook.EventType })
		if !ok {
			t.Fatal("the listener handle does not report a subscription")
		}
		return typed.Types()
	}
	dir := t.TempDir()
	if got := load(`{"file":"` + dir + `/a","types":["renewed","cancelled"]}`); !slices.Equal(got, []hook.EventType{hook.EventRenewed, hook.EventCancelled}) {
		t.Errorf("types = %v, want [renewed cancelled]", got)
	}
	if got := load(`{"file":"` + dir + `/b"}`); got != nil {
		t.Errorf("types = %v, want nil (the default subscription)", got)
	}
}

// A killed store plugin is restarted, its handle works again, and the
// store is resynchronised through Resync.
func TestStoreRestartAndResync(t *testing.T) {
	var mu sync.Mutex
	var want []storage.Record
	for i := range 50 {
		want = append(want, storage.Record{Key: storage.Key{App: "APP", ID: fmt.Sprint(i)}, Value: []byte{byte(i)}, Updated: int64(i + 1)})
	}
	resyncs := 0
	p := external(t, plugin.KindStorage, "memory", func(o *plugins.Options) {
		o.Resync = func(ctx context.Context, s storage.Store) error {
			mu.Lock()
			resyncs++
			mu.Unlock()
			ops := make([]storage.Op, len(want))
			for i, r := range want {
				ops[i] = storage.Op{Record: r}
			}
			return storage.ApplyBatch(ctx, s, ops)
		}
	})
	supervise(t, p)
	s := p.Store()
	b, ok := s.(storage.Batcher)
	if !ok {
		t.Fatalf("store handle is %T, want a Batcher as the plugin reports", s)
	}
	if !p.Info().BatchPipe || !p.Stats().BatchPipe {
		t.Errorf("Info = %+v, Stats = %+v: the plugin process does not take batches on its pipe", p.Info(), p.Stats())
	}
	ctx := t.Context()
	if err := b.Batch(ctx, []storage.Op{{Record: want[0]}}); err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Until it is back, calls fail with ErrPluginExited, never succeed
	// against a dead process nor report a missing key; batches too, whose
	// pipe ended with the process. (Once the new process runs, before the
	// resync, a key may be missing.)
	waitFor(t, "the restart", func() bool {
		_, err := s.Get(ctx, want[0].Key)
		if errors.Is(err, storage.ErrNotFound) && p.Stats().Restarts == 1 {
			return true
		}
		if err != nil && !errors.Is(err, plugin.ErrPluginExited) {
			t.Fatalf("Get during the outage = %v, want ErrPluginExited", err)
		}
		if err != nil {
			// (nil if the plugin is back by now)
			if err := b.Batch(ctx, []storage.Op{{Record: want[1]}}); err != nil && !errors.Is(err, plugin.ErrPluginExited) {
				t.Fatalf("Batch during the outage = %v, want ErrPluginExited", err)
			}
		}
		return p.Stats().Restarts == 1 && p.Stats().State == plugins.StateRunning
	})
	waitFor(t, "the resync", func() bool {
		n, err := storage.Count(ctx, s, "")
		return err == nil && n == len(want)
	})
	st := p.Stats()
	if st.PID == pid || st.PID == 0 || !strings.Contains(st.LastError, "exited") {
		t.Errorf("Stats after restart = %+v (old pid %d)", st, pid)
	}
	mu.Lock()
	defer mu.Unlock()
	if resyncs != 1 {
		t.Errorf("resyncs = %d, want 1", resyncs)
	}
}

// plainStore hides a store's optional abilities.
type plainStore struct{ storage.Store }

// A restarted store that lost an ability (here, batches) is refused and
// retried, its writes failing meanwhile rather than applied one by one;
// once it has the ability again it is taken.
func TestRestartRefusesWeakerStore(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "started")
	p := external(t, plugin.KindStorage, "abilities", func(o *plugins.Options) {
		o.Config = []byte(fmt.Sprintf(`{"marker":%q}`, marker))
	})
	supervise(t, p)
	b, ok := p.Store().(storage.Batcher)
	if !ok {
		t.Fatalf("store handle is %T, want a Batcher", p.Store())
	}
	ops := []storage.Op{{Record: storage.Record{Key: storage.Key{App: "A", ID: "1"}, Value: []byte("v"), Updated: 1}}}
	if err := b.Batch(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a refused restart", func() bool {
		return strings.Contains(p.Stats().LastError, "lost an ability")
	})
	if st := p.Stats(); st.State == plugins.StateRunning {
		t.Errorf("Stats = %+v: running a store without batches", st)
	}
	if err := b.Batch(t.Context(), ops); !errors.Is(err, plugin.ErrPluginExited) {
		t.Errorf("Batch while refused = %v, want ErrPluginExited", err)
	}
	os.Remove(marker) // the next start has batches again
	waitFor(t, "the store with batches back", func() bool {
		return b.Batch(t.Context(), ops) == nil
	})
}

// A restarted plugin that no longer serves the kind is refused by the host
// (ErrKind, not the plugin's own refusal of Configure) and retried.
func TestRestartRefusesOtherKind(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "started")
	p := external(t, plugin.KindStorage, "drops-store", func(o *plugins.Options) {
		o.Args = append(o.Args, marker)
	})
	supervise(t, p)
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a refused restart", func() bool {
		return strings.Contains(p.Stats().LastError, plugins.ErrKind.Error())
	})
	if st := p.Stats(); st.State == plugins.StateRunning {
		t.Errorf("Stats = %+v: running a plugin that serves no store", st)
	}
	if _, err := p.Store().Get(t.Context(), storage.Key{App: "A", ID: "1"}); !errors.Is(err, plugin.ErrPluginExited) {
		t.Errorf("Get while refused = %v, want ErrPluginExited", err)
	}
	os.Remove(marker) // the next start serves a store again
	waitFor(t, "the store back", func() bool {
		_, err := p.Store().Get(t.Context(), storage.Key{App: "A", ID: "1"})
		return errors.Is(err, storage.ErrNotFound)
	})
}

// A killed auth plugin makes decisions fail (not succeed, not become
// "unauthenticated") until it is back; its log lines reach eurekad's
// logger under its name.
func TestAuthRestartAndLogs(t *testing.T) {
	var logs eurekadtest.SyncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := external(t, plugin.KindAuth, "auth", func(o *plugins.Options) { o.Logger = logger })
	supervise(t, p)
	a := p.Authenticator()
	ctx := t.Context()
	check := func() error {
		_, err := a.Authenticate(ctx, &hook.AuthRequest{Operation: hook.OpRegister, App: "A-SVC", Username: "team-a"})
		return err
	}
	if err := check(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, &hook.AuthRequest{App: "B-SVC", Username: "team-a"}); !errors.Is(err, hook.ErrForbidden) {
		t.Errorf("other team's app: %v, want ErrForbidden", err)
	}
	waitFor(t, "the plugin's log line", func() bool {
		return strings.Contains(logs.String(), `"msg":"deciding"`)
	})
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"msg":"deciding"`) {
			json.Unmarshal([]byte(l), &line)
			break
		}
	}
	if line["plugin"] != "auth" || line["user"] != "team-a" || line["level"] != "INFO" {
		t.Errorf("plugin log line = %v, want level, plugin name and attributes", line)
	}

	syscall.Kill(p.PID(), syscall.SIGKILL)
	waitFor(t, "the outage", func() bool { return check() != nil })
	err := check()
	if errors.Is(err, hook.ErrUnauthenticated) || errors.Is(err, hook.ErrForbidden) {
		t.Errorf("during the outage: %v is a decision, want a failure", err)
	}
	if !errors.Is(err, plugin.ErrPluginExited) {
		t.Errorf("during the outage: %v, want ErrPluginExited", err)
	}
	waitFor(t, "recovery", func() bool { return check() == nil })
}

// A plugin whose parent dies ends by itself, even without the parent-death
// signal (which Linux ties to the thread that started it, and other
// systems lack).
func TestPluginEndsWithItsParent(t *testing.T) {
	middle := exec.Command(self(t), middleArg)
	out, err := middle.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := middle.Start(); err != nil {
		t.Fatal(err)
	}
	defer middle.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(line, &pid); err != nil || !strings.Contains(line, "|grpc") {
		t.Fatalf("middle process said %q", line)
	}
	if !proctest.Alive(pid) {
		t.Fatalf("plugin %d is not running", pid)
	}
	middle.Process.Kill()
	middle.Wait()
	waitFor(t, "the orphaned plugin to exit", func() bool { return !proctest.Alive(pid) })
}

func TestCloseEndsProcess(t *testing.T) {
	p := external(t, plugin.KindStorage, "memory", nil)
	supervised := supervise(t, p)
	pid := p.PID()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the process to end", func() bool { return !proctest.Alive(pid) })
	if err := p.Store().Put(t.Context(), storage.Record{Key: storage.Key{App: "A", ID: "1"}}); !errors.Is(err, plugin.ErrPluginExited) {
		t.Errorf("Put after Close = %v", err)
	}
	supervised() // Run has returned: no restart can come after this
	if st := p.Stats(); st.State != plugins.StateClosed || st.Restarts != 0 {
		t.Errorf("after Close: %+v, want closed and not restarted", st)
	}
}

// BenchmarkListenerSubprocess is the listener path through a plugin
// process: batches of 256 events with their instances, one RPC per batch,
// sent one after the other as eurekad's bus does for one listener.
func BenchmarkListenerSubprocess(b *testing.B) {
	p, err := plugins.Load(b.Context(), plugins.Options{Kind: plugin.KindListener, Name: "discard",
		Executable: self(b), Args: []string{serveArg, "discard"}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	l := p.Listener()
	in := &eureka.InstanceInfo{
		InstanceID: "10.0.0.1:orders:8080", App: "ORDERS", HostName: "orders-1.example", IPAddr: "10.0.0.1",
		VIPAddress: "orders", Status: eureka.StatusUp, Port: eureka.Port{Number: 8080, Enabled: true},
		Metadata:       map[string]string{"zone": "zone-a", "version": "1.2.3"},
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
	}
	batch := make([]hook.Event, 256)
	for i := range batch {
		batch[i] = hook.Event{Type: hook.EventRegistered, Time: time.Now(), App: in.App, InstanceID: in.InstanceID, Instance: in}
	}
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; sent += len(batch) {
		n := min(len(batch), b.N-sent)
		for i := range n {
			batch[i].Seq = uint64(sent + i + 1)
		}
		if err := l.Handle(b.Context(), batch[:n]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
