// Package eurekadtest runs a real eurekad process for tests: it builds
// ./cmd/eurekad once per test binary, starts it on a free loopback port with
// its own working directory, waits until it serves, and stops it when the
// test ends. Tests in any package of the module can import it; production
// code must never do so.
//
// # Defaults
//
// The server runs with EUREKAD_STORAGE_KIND=memory (fast, nothing on disk),
// EUREKAD_CACHE_MODE=fresh and EUREKAD_LOG_LEVEL=debug. EUREKAD_* variables
// of the developer's shell are dropped; the env arguments of Start come
// last and override the defaults.
//
// # Race detector
//
// A test binary built with -race gets a race-enabled server, and a data
// race reported in the server's output fails the test. The output is
// logged when the test fails.
//
// # Cleaning up
//
// The binary lives in a temporary directory; call RemoveBinary from
// TestMain after m.Run to delete it. Servers are stopped in t.Cleanup and,
// on Linux, killed by the kernel if the test binary dies first.
package eurekadtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the harness.
const (
	// StartTimeout bounds how long Start waits for GET /eureka/apps to
	// answer 200 (or 401, behind an authenticator).
	StartTimeout = 20 * time.Second
	// StopTimeout bounds how long Stop waits for a graceful shutdown
	// before it kills the process.
	StopTimeout = 10 * time.Second
)

// DefaultEnv is the environment every server starts with, before the
// caller's.
var DefaultEnv = []string{
	"EUREKAD_LOG_LEVEL=debug",
	"EUREKAD_CACHE_MODE=fresh",
	"EUREKAD_STORAGE_KIND=memory",
	"GORACE=halt_on_error=0",
}

var build struct {
	once sync.Once
	bin  string
	err  error
}

// buildDir is the directory the built executables go to, made once.
var buildDir struct {
	once sync.Once
	dir  string
	err  error
}

func outDir() (string, error) {
	buildDir.once.Do(func() {
		buildDir.dir, buildDir.err = os.MkdirTemp("", "eurekadtest-")
	})
	return buildDir.dir, buildDir.err
}

// Binary builds ./cmd/eurekad (with -race when this binary has the race
// detector) the first time it is called, and returns the executable's
// path. Later calls return the same result.
func Binary() (string, error) {
	build.once.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			build.err = err
			return
		}
		dir, err := outDir()
		if err != nil {
			build.err = err
			return
		}
		bin := filepath.Join(dir, "eurekad")
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/eurekad")
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		build.bin = bin
	})
	return build.bin, build.err
}

// Build is Binary for a test: it fails tb when the build fails.
func Build(tb testing.TB) string {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		tb.Fatalf("building eurekad: %v", err)
	}
	return bin
}

// RemoveBinary deletes the built binaries, if any. Call it from TestMain
// after m.Run; Binary must not be called afterwards.
func RemoveBinary() {
	if buildDir.dir != "" {
		_ = os.RemoveAll(buildDir.dir)
	}
}

// ModuleRoot finds the directory of the eurekad go.mod above the working
// directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module github.com/eurekad/eurekad\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("eurekadtest: go.mod of github.com/eurekad/eurekad not found above the working directory")
		}
		dir = parent
	}
}

// CleanEnv is the process environment without EUREKAD_* variables, so a
// developer's shell cannot change what tests run against.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EUREKAD_") {
			env = append(env, kv)
		}
	}
	return env
}

// Server is one running eurekad process.
type Server struct {
	// Addr is host:port of the listener.
	Addr string
	// Base is the Spring Cloud style base URL, "http://127.0.0.1:PORT/eureka/".
	Base string
	// BaseV2 is the Netflix style base URL, "http://127.0.0.1:PORT/eureka/v2/".
	BaseV2 string

	cmd    *exec.Cmd
	out    *SyncBuffer
	exited chan struct{}
}

// Output returns everything the server wrote to stdout and stderr so far.
func (s *Server) Output() string { return s.out.String() }

// PID is the eurekad process id, for signals and for reading its CPU time
// and children from /proc.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Exited is closed when the process has ended.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Kill ends eurekad with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Stop asks eurekad to shut down gracefully (SIGTERM) and kills it if it
// has not exited within StopTimeout. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(StopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// SyncBuffer collects a child process's output while a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// errAddrInUse marks a start that lost its port to someone else.
var errAddrInUse = errors.New("address already in use")

// Start starts eurekad on a free loopback port with DefaultEnv plus env
// ("KEY=value", later entries win) and waits until GET /eureka/apps
// answers 200. The process is stopped in t.Cleanup; its output is logged
// if the test failed, and a data race reported by a -race server fails
// the test.
func Start(t testing.TB, env ...string) *Server {
	t.Helper()
	bin := Build(t)
	var lastErr error
	// A port picked by listen-and-close can be taken by someone else
	// before eurekad binds it; retry with a new port in that case.
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("eurekadtest: free port: %v", err)
		}
		s, err := launch(t, bin, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), env)
		if err == nil {
			return s
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	t.Fatalf("starting eurekad: %v", lastErr)
	return nil
}

// StartAt starts eurekad on addr, to restart a server where its clients
// expect it. It is otherwise Start.
func StartAt(t testing.TB, addr string, env ...string) *Server {
	t.Helper()
	s, err := launch(t, Build(t), addr, env)
	if err != nil {
		t.Fatalf("starting eurekad on %s: %v", addr, err)
	}
	return s
}

func launch(t testing.TB, bin, addr string, env []string) (*Server, error) {
	// With EUREKAD_TLS_CERT_FILE set in env, eurekad serves HTTPS (TLS set
	// up only in a config file or by flags is not seen here).
	scheme := "http"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "EUREKAD_TLS_CERT_FILE="); ok {
			scheme = "http"
			if v != "" {
				scheme = "https"
			}
		}
	}
	s := &Server{
		Addr:   addr,
		Base:   scheme + "://" + addr + "/eureka/",
		BaseV2: scheme + "://" + addr + "/eureka/v2/",
		out:    &SyncBuffer{},
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(bin, "--addr", addr)
	// A private working directory keeps any default data directory out of
	// the repository and apart from other tests.
	s.cmd.Dir = t.TempDir()
	s.cmd.Env = append(append(CleanEnv(), DefaultEnv...), env...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(StartTimeout)
	// eurekad listens once the registry is restored; /healthz answers
	// whatever the base path and the authenticator.
	for !ready(scheme + "://" + s.Addr + "/healthz") {
		select {
		case <-s.exited:
			out := s.out.String()
			if strings.Contains(out, "address already in use") {
				return nil, fmt.Errorf("%w: %s", errAddrInUse, out)
			}
			return nil, fmt.Errorf("eurekad exited before serving (%v):\n%s", s.cmd.ProcessState, out)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("eurekad did not answer GET /healthz with 200 within %v:\n%s", StartTimeout, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		s.Stop()
		out := s.out.String()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("eurekad on %s reported a data race:\n%s", addr, out)
			return
		}
		if t.Failed() {
			t.Logf("eurekad on %s output:\n%s", addr, out)
		}
	})
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ready reports whether url answers 200. Over HTTPS it checks that eurekad
// serves, not whom it trusts: the server's certificate is not verified, and
// a refusal for want of a client certificate counts as serving.
func ready(url string) bool {
	c := http.Client{Timeout: time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
	}}
	resp, err := c.Get(url)
	if err != nil {
		return strings.Contains(err.Error(), "tls: certificate required") || strings.Contains(err.Error(), "tls: bad certificate")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

var packages struct {
	mu   sync.Mutex
	bins map[string]string
}

// BuildPackage builds the module's main package pkg ("./examples/auth-plugin")
// once per test binary, without the race detector, next to the eurekad
// binary, and returns the executable's path (named after the package path:
// "examples-auth-plugin"). RemoveBinary deletes it.
func BuildPackage(tb testing.TB, pkg string) string {
	tb.Helper()
	dir, err := outDir()
	if err != nil {
		tb.Fatal(err)
	}
	packages.mu.Lock()
	defer packages.mu.Unlock()
	if bin, ok := packages.bins[pkg]; ok {
		return bin
	}
	root, err := ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(dir, strings.ReplaceAll(strings.TrimLeft(pkg, "./"), "/", "-"))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	if packages.bins == nil {
		packages.bins = map[string]string{}
	}
	packages.bins[pkg] = bin
	return bin
}

// FreeAddr returns a loopback host:port that was free a moment ago, for
// servers that must know each other's addresses before they start (a
// cluster's peer list); start them with StartAt.
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("eurekadtest: free port: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// Signal sends sig to the server (SIGHUP to reload its settings).
func (s *Server) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }
