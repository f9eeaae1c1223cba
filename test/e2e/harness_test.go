// Package e2e runs real Eureka clients (fargo, eureka-js-client) and
// Java/Spring-shaped raw HTTP requests against a real eurekad process
// listening on loopback.
package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serverBinary is the eurekad binary built once by TestMain.
var serverBinary string

// repoRoot is the module root (two levels above this package).
var repoRoot string

// Generous deadlines: fresh-mode visibility is expected within ~50 ms, but
// a loaded CI machine running the race detector can be much slower.
const (
	visibleWithin = 5 * time.Second
	startWithin   = 20 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "eurekad-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBinary = filepath.Join(dir, "eurekad")
	args := []string{"build", "-o", serverBinary}
	// A race-enabled test run also gets a race-enabled server, so data races
	// in the server show up in its output (checked at shutdown).
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/eurekad")
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// server is one running eurekad process.
type server struct {
	// Addr is host:port of the listener.
	Addr string
	// Base is the Spring Cloud style base URL, "http://127.0.0.1:PORT/eureka/".
	Base string
	// BaseV2 is the Netflix style base URL, "http://127.0.0.1:PORT/eureka/v2/".
	BaseV2 string

	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

// syncBuffer collects the server's output; the process writes it while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer starts eurekad on a free loopback port with the given extra
// environment ("KEY=value") and waits until GET /eureka/apps answers 200.
// The process is stopped in t.Cleanup; its output is logged if the test
// failed, and a data race reported by a -race server fails the test.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	var lastErr error
	// A port picked by listen-and-close can be taken by someone else before
	// eurekad binds it; retry with a new port in that case.
	for range 3 {
		s, err := tryStartServer(t, env)
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

var errAddrInUse = errors.New("address already in use")

func tryStartServer(t *testing.T, env []string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return launch(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), env)
}

// startServerAt starts eurekad on a given address, to restart a server
// where its clients expect it.
func startServerAt(t *testing.T, addr string, env ...string) *server {
	t.Helper()
	s, err := launch(t, addr, env)
	if err != nil {
		t.Fatalf("starting eurekad on %s: %v", addr, err)
	}
	return s
}

func launch(t *testing.T, addr string, env []string) (*server, error) {
	s := &server{
		Addr:   addr,
		Base:   "http://" + addr + "/eureka/",
		BaseV2: "http://" + addr + "/eureka/v2/",
		out:    &syncBuffer{},
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(serverBinary, "--addr", addr)
	// A private working directory keeps any default data directory out of
	// the repository and apart from other tests.
	s.cmd.Dir = t.TempDir()
	s.cmd.Env = append(cleanEnv(), "EUREKAD_LOG_LEVEL=debug", "EUREKAD_CACHE_MODE=fresh", "GORACE=halt_on_error=0")
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(startWithin)
	for {
		select {
		case <-s.exited:
			out := s.out.String()
			if strings.Contains(out, "address already in use") {
				return nil, fmt.Errorf("%w: %s", errAddrInUse, out)
			}
			return nil, fmt.Errorf("eurekad exited before serving (%v):\n%s", s.cmd.ProcessState, out)
		default:
		}
		if ready(s.Base + "apps") {
			break
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("eurekad did not answer GET /eureka/apps with 200 within %v:\n%s", startWithin, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		s.stop()
		out := s.out.String()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("eurekad reported a data race:\n%s", out)
			return
		}
		if t.Failed() {
			t.Logf("eurekad output:\n%s", out)
		}
	})
	return s, nil
}

// kill ends eurekad with SIGKILL, as a crash would.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// stop asks eurekad to shut down gracefully and kills it if it does not.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// cleanEnv is the test's environment without EUREKAD_* settings, so a
// developer's shell cannot change what the tests run against.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EUREKAD_") {
			env = append(env, kv)
		}
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func ready(url string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// httpClient is shared by the raw HTTP tests. Compression is disabled so
// tests see exactly the Content-Encoding the server chose.
var httpClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableCompression: true},
}

// response is a fully read HTTP response.
type response struct {
	Status int
	Header http.Header
	// Body is the body as received (still gzip-compressed if the server
	// compressed it).
	Body []byte
}

// Text decodes a gzip body if needed and returns it as a string.
func (r *response) Text(t *testing.T) string {
	t.Helper()
	return string(r.Plain(t))
}

// Plain returns the body, gunzipped when Content-Encoding says gzip.
func (r *response) Plain(t *testing.T) []byte {
	t.Helper()
	if r.Header.Get("Content-Encoding") != "gzip" {
		return r.Body
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	return b
}

// do sends one request and reads the whole response. headers alternate
// name, value.
func do(t *testing.T, method, url string, body []byte, headers ...string) *response {
	t.Helper()
	r, err := tryDo(method, url, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

func tryDo(method, url string, body []byte, headers ...string) (*response, error) {
	if len(headers)%2 != 0 {
		return nil, fmt.Errorf("odd header list %q", headers)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// eventually calls check until it returns nil, failing the test with the
// last error once visibleWithin has passed. It polls instead of sleeping a
// fixed time so a fast server makes a fast test.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(visibleWithin)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, visibleWithin, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nowMillis is the wall clock in epoch milliseconds, the unit of every
// Eureka timestamp.
func nowMillis() int64 { return time.Now().UnixMilli() }
