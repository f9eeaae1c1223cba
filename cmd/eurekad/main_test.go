package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/core/cache"
)

// execute runs the command line in-process with a given serve function and
// returns the exit code and outputs.
func execute(t *testing.T, serveFn func(context.Context, config.Config, *slog.Logger) error, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&app{environ: environ, serve: serveFn})
	root.SetArgs(append([]string{}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	code = exitOK
	if err := root.ExecuteContext(t.Context()); err != nil {
		code = exitError
		var ue *usageError
		if errors.As(err, &ue) {
			code = exitUsage
		}
		errOut.WriteString("eurekad: " + err.Error() + "\n")
	}
	return code, out.String(), errOut.String()
}

func noServe(t *testing.T) func(context.Context, config.Config, *slog.Logger) error {
	return func(context.Context, config.Config, *slog.Logger) error {
		t.Error("serve called")
		return nil
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"config", "print", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := execute(t, noServe(t), nil, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, s := range config.Settings() {
				for _, want := range []string{"--" + s.Flag + " ", s.Env + ", default ", s.Help} {
					if s.Type == "bool" && strings.HasPrefix(want, "--") {
						want = "--" + s.Flag + "[=true|false]"
					}
					if !strings.Contains(out, want) {
						t.Errorf("help lacks %q", want)
					}
				}
			}
			for _, want := range []string{
				"--config file", config.FileEnv,
				"General settings:",
				`HTTP server settings (config file section "http"):`,
				`Registry settings (config file section "registry"):`,
				`Response cache settings (config file section "cache"):`,
				"env EUREKAD_REGISTRY_RENEWAL_PERCENT_THRESHOLD, default 0.85",
				`env EUREKAD_ADDR, default ":8761"`,
				"env EUREKAD_REGISTRY_RENEWAL_THRESHOLD_UPDATE_INTERVAL, default 15m",
				"env EUREKAD_HTTP_BASE_PATHS, default /eureka,/eureka/v2",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("help lacks %q", want)
				}
			}
			// Sections come in Config order: general first.
			if g, r := strings.Index(out, "General settings:"), strings.Index(out, "Registry settings"); g < 0 || r < g {
				t.Errorf("sections out of order")
			}
		})
	}
	t.Run("root help lists the commands", func(t *testing.T) {
		_, out, _ := execute(t, noServe(t), nil, "--help")
		for _, want := range []string{"config ", "version "} {
			if !strings.Contains(out, "\n  "+want) {
				t.Errorf("help lacks command %q", want)
			}
		}
	})
}

func TestConfigPrint(t *testing.T) {
	code, out, errOut := execute(t, noServe(t),
		[]string{"EUREKAD_CACHE_MODE=eureka", "EUREKAD_TYPO=1"},
		"config", "print", "--addr", ":9999", "--registry.eviction-interval", "2m")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "warning") || !strings.Contains(errOut, "EUREKAD_TYPO") {
		t.Errorf("stderr %q lacks the warning", errOut)
	}

	// print → file → Load gives the same settings.
	path := filepath.Join(t.TempDir(), "printed.yaml")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _, err := config.Load([]string{"--config", path}, nil)
	if err != nil {
		t.Fatalf("loading printed config:\n%s\n%v", out, err)
	}
	want, _, err := config.Load([]string{"--addr", ":9999", "--registry.eviction-interval", "2m", "--cache.mode", "eureka"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("printed\n%s\nloads as %+v\nwant %+v", out, got, want)
	}

	t.Run("comments", func(t *testing.T) {
		code, out, _ := execute(t, noServe(t), nil, "config", "print", "--comments")
		if code != exitOK || !strings.Contains(out, "# listen address") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("invalid settings", func(t *testing.T) {
		code, out, errOut := execute(t, noServe(t), nil, "config", "print", "--cache.mode", "bogus")
		if code != exitError || out != "" || !strings.Contains(errOut, `cache.mode: "bogus"`) {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}

func TestServe(t *testing.T) {
	var got config.Config
	var gotLogger *slog.Logger
	code, _, errOut := execute(t, func(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
		got, gotLogger = cfg, logger
		if ctx.Err() != nil {
			t.Error("context already done")
		}
		return nil
	}, []string{"EUREKAD_LOG_FORMAT=json", "EUREKAD_UNKNOWN=1"},
		"--addr", "127.0.0.1:0", "--cache.mode", "eureka")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got.Addr != "127.0.0.1:0" || got.HTTP.Addr != "127.0.0.1:0" || got.Cache.Mode != cache.ModeEureka || gotLogger == nil {
		t.Errorf("serve got %+v, logger %v", got, gotLogger)
	}

	// The log is JSON, carries the warning, then the start line with the
	// listen address and cache mode, then the stop line.
	var msgs []string
	var start map[string]any
	sc := bufio.NewScanner(strings.NewReader(errOut))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		msg, _ := rec["msg"].(string)
		msgs = append(msgs, msg)
		if msg == "eurekad starting" {
			start = rec
		}
	}
	if len(msgs) != 3 || !strings.Contains(msgs[0], "EUREKAD_UNKNOWN") || msgs[2] != "eurekad stopped" {
		t.Errorf("log messages %q", msgs)
	}
	if start["addr"] != "127.0.0.1:0" || start["cache_mode"] != "eureka" || start["version"] == "" {
		t.Errorf("start line %v", start)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	root := newRootCmd(&app{serve: func(ctx context.Context, _ config.Config, _ *slog.Logger) error {
		cancel() // as a signal would
		<-ctx.Done()
		return nil
	}})
	var errOut bytes.Buffer
	root.SetArgs([]string{"--log.level", "debug"})
	root.SetOut(io.Discard)
	root.SetErr(&errOut)
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "eurekad stopped") {
		t.Errorf("log:\n%s", errOut.String())
	}
}

func TestErrors(t *testing.T) {
	boom := func(context.Context, config.Config, *slog.Logger) error { return errors.New("boom") }
	tests := []struct {
		name    string
		serve   func(context.Context, config.Config, *slog.Logger) error
		environ []string
		args    []string
		code    int
		want    []string
	}{
		{"serve fails", boom, nil, nil, exitError, []string{"eurekad: boom"}},
		{"unknown flag", noServe(t), nil, []string{"--adr", ":1"}, exitUsage, []string{"unknown flag: --adr"}},
		{"unknown command", noServe(t), nil, []string{"serv"}, exitUsage, []string{`unknown command "serv"`}},
		{"misspelt command", noServe(t), nil, []string{"verison"}, exitUsage, []string{`did you mean "version"`}},
		{"unknown subcommand", noServe(t), nil, []string{"config", "prnt"}, exitUsage, []string{`unknown command "prnt" for "eurekad config"`, `"print"`}},
		{"bad flag value", noServe(t), nil, []string{"--registry.eviction-interval", "soon"}, exitUsage, []string{`flag --registry.eviction-interval (registry.eviction_interval): "soon" is not a duration`}},
		{"invalid setting", noServe(t), nil, []string{"--registry.renewal-percent-threshold", "2"}, exitError, []string{"registry.renewal_percent_threshold: 2"}},
		{"bad environment", noServe(t), []string{"EUREKAD_HTTP_DISABLE_DELTA=maybe"}, nil, exitError, []string{"EUREKAD_HTTP_DISABLE_DELTA", `"maybe"`}},
		{"missing config file", noServe(t), nil, []string{"--config", "/nonexistent/eurekad.yaml"}, exitError, []string{"/nonexistent/eurekad.yaml"}},
		{"version takes no arguments", noServe(t), nil, []string{"version", "x"}, exitUsage, []string{`unexpected argument "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := execute(t, tt.serve, tt.environ, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, errOut)
			}
			for _, want := range tt.want {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr %q lacks %q", errOut, want)
				}
			}
			if strings.Contains(errOut, "Usage:") {
				t.Errorf("usage printed on error:\n%s", errOut)
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"version"}, nil, &out, &errOut); code != exitOK || !strings.HasPrefix(out.String(), "eurekad ") {
		t.Errorf("version: exit %d, %q %q", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run(t.Context(), []string{"--bogus"}, nil, &out, &errOut); code != exitUsage ||
		!strings.Contains(errOut.String(), "eurekad: unknown flag: --bogus\nRun 'eurekad --help' for usage.") {
		t.Errorf("unknown flag: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	code := run(t.Context(), []string{"config", "print", "--cache.mode=x", "--log.level=y"}, nil, io.Discard, &errOut)
	if code != exitError || !strings.Contains(errOut.String(), "\n  ") {
		t.Errorf("several errors: exit %d, want one per line: %q", code, errOut.String())
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		cfg     config.LogConfig
		json    bool
		debug   bool
		wantErr string
	}{
		{config.LogConfig{Level: "info", Format: "text"}, false, false, ""},
		{config.LogConfig{Level: "debug", Format: "json"}, true, true, ""},
		{config.LogConfig{Level: "WARN", Format: "JSON"}, true, false, ""},
		{config.LogConfig{Level: "loud", Format: "text"}, false, false, "log.level"},
		{config.LogConfig{Level: "info", Format: "xml"}, false, false, "log.format"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		logger, err := newLogger(&buf, tt.cfg)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%+v: error %v", tt.cfg, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		logger.Debug("d")
		logger.Error("e", "k", "v")
		out := buf.String()
		if strings.Contains(out, "msg=d") || strings.Contains(out, `"msg":"d"`) {
			if !tt.debug {
				t.Errorf("%+v logged debug: %s", tt.cfg, out)
			}
		} else if tt.debug {
			t.Errorf("%+v did not log debug: %s", tt.cfg, out)
		}
		if isJSON := strings.HasPrefix(out, "{"); isJSON != tt.json {
			t.Errorf("%+v: output %q", tt.cfg, out)
		}
	}
}

// testVersion is the version buildBinary stamps, as make build does.
const testVersion = "v0.0.0-test"

// buildBinary builds eurekad into a temporary directory, its version
// stamped with -ldflags as make build does.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	bin := filepath.Join(t.TempDir(), "eurekad")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command(gobin, "build", "-ldflags", "-X main.version="+testVersion, "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	env := []string{"PATH=" + os.Getenv("PATH")} // nothing EUREKAD_* leaks in

	runBin := func(t *testing.T, args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("eurekad %q: %v\n%s", args, err, errOut.String())
		}
		return out.String(), errOut.String()
	}

	t.Run("help", func(t *testing.T) {
		out, _ := runBin(t, "--help")
		for _, s := range config.Settings() {
			if !strings.Contains(out, "--"+s.Flag) || !strings.Contains(out, s.Env) {
				t.Errorf("--help lacks --%s or %s", s.Flag, s.Env)
			}
		}
	})
	t.Run("config print", func(t *testing.T) {
		out, _ := runBin(t, "config", "print", "--addr", ":9999")
		path := filepath.Join(t.TempDir(), "printed.yaml")
		if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := config.Load([]string{"--config", path}, nil)
		if err != nil || cfg.Addr != ":9999" {
			t.Errorf("printed config loads as addr %q, %v:\n%s", cfg.Addr, err, out)
		}
	})
	t.Run("version", func(t *testing.T) {
		if out, _ := runBin(t, "version"); !strings.HasPrefix(out, "eurekad "+testVersion+"\n") {
			t.Errorf("version: %q", out)
		}
	})
	t.Run("hash-password reads a pipe", func(t *testing.T) {
		cmd := exec.Command(bin, "hash-password", "--cost", "4")
		cmd.Env = env
		cmd.Stdin = strings.NewReader("s3cret\n") // a pipe: an *os.File, not a terminal
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("hash-password: %v", err)
		}
		if err := bcrypt.CompareHashAndPassword(bytes.TrimSuffix(out, []byte("\n")), []byte("s3cret")); err != nil {
			t.Errorf("printed %q: %v", out, err)
		}
	})
	t.Run("bad flag exits 2", func(t *testing.T) {
		cmd := exec.Command(bin, "--no-such-flag")
		cmd.Env = env
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
			t.Errorf("exit: %v", err)
		}
	})
	t.Run("SIGTERM stops the server", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no SIGTERM")
		}
		cmd := exec.Command(bin, "--addr", "127.0.0.1:0")
		cmd.Env = env
		cmd.Dir = t.TempDir() // for anything the server keeps on disk
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		var lines []string
		started := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if strings.Contains(sc.Text(), "eurekad starting") {
					close(started)
				}
			}
			done <- cmd.Wait()
		}()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("no start line within 10s")
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("exit after SIGTERM: %v\n%s", err, strings.Join(lines, "\n"))
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("still running 30s after SIGTERM")
		}
		log := strings.Join(lines, "\n")
		for _, want := range []string{"addr=127.0.0.1:0", "cache_mode=fresh", "eurekad stopped"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
	})
}

// The hidden plugin command names the built-ins it knows; the catalog and
// the help agree.
func TestPluginServeUnknown(t *testing.T) {
	var errOut bytes.Buffer
	code := run(t.Context(), []string{"plugin", "serve", "storage.nope"}, nil, io.Discard, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), `unknown built-in plugin "storage.nope"`) {
		t.Errorf("exit %d, %q", code, errOut.String())
	}
	for _, id := range []string{"storage.memory", "storage.bolt", "storage.redis", "auth.static", "listener.log", "listener.webhook", builtinChecker} {
		if catalog[id] == nil {
			t.Errorf("catalog lacks %s", id)
		} else if so := catalog[id](discardLogger()); so.Name != id {
			t.Errorf("%s serves as %q", id, so.Name)
		}
	}
	var help bytes.Buffer
	run(t.Context(), []string{"--help"}, nil, &help, io.Discard)
	for _, line := range strings.Split(help.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "plugin" {
			t.Errorf("--help lists the hidden plugin command: %q", line)
		}
	}
}
