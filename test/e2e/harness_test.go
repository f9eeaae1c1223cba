// Package e2e runs real Eureka clients (fargo, eureka-js-client) and
// Java/Spring-shaped raw HTTP requests against a real eurekad process
// listening on loopback.
package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// serverBinary is the eurekad binary built once by TestMain.
var serverBinary string

// repoRoot is the module root (two levels above this package).
var repoRoot string

// Generous deadlines: fresh-mode visibility is expected within ~50 ms, but
// a loaded CI machine running the race detector can be much slower.
const visibleWithin = 5 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	defer eurekadtest.RemoveBinary()
	root, err := eurekadtest.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoRoot = root
	// A race-enabled test run also gets a race-enabled server, so data
	// races in the server show up in its output (checked at shutdown).
	serverBinary, err = eurekadtest.Binary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// server is one running eurekad process (see internal/eurekadtest):
// Addr, Base and BaseV2 are its address and base URLs.
type server struct {
	*eurekadtest.Server
}

// startServer starts eurekad on a free loopback port with the harness
// defaults (memory storage, fresh cache) plus the given environment
// ("KEY=value") and waits until GET /eureka/apps answers 200. The process
// is stopped in t.Cleanup; its output is logged if the test failed, and a
// data race reported by a -race server fails the test.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	return &server{eurekadtest.Start(t, env...)}
}

// startServerAt starts eurekad on a given address, to restart a server
// where its clients expect it.
func startServerAt(t *testing.T, addr string, env ...string) *server {
	t.Helper()
	return &server{eurekadtest.StartAt(t, addr, env...)}
}

// kill ends eurekad with SIGKILL, as a crash would.
func (s *server) kill() { s.Kill() }

// stop asks eurekad to shut down gracefully and kills it if it does not.
func (s *server) stop() { s.Stop() }

// cleanEnv is the test's environment without EUREKAD_* settings, so a
// developer's shell cannot change what the tests run against.
func cleanEnv() []string { return eurekadtest.CleanEnv() }

// syncBuffer collects a child process's output while the test reads it.
type syncBuffer = eurekadtest.SyncBuffer

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
	eurekadtest.Eventually(t, visibleWithin, what, check)
}

// nowMillis is the wall clock in epoch milliseconds, the unit of every
// Eureka timestamp.
func nowMillis() int64 { return time.Now().UnixMilli() }
