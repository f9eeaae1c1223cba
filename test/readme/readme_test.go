// Package readme holds README.md to its word: every fenced code block in it
// is run, started or compiled against real eurekad processes, as a reader
// following the README would, and a block that no test covers fails the
// suite.
//
// # How a block is run
//
// Each block is claimed by exactly one handler (matched by a snippet of its
// text); a new block without one fails TestREADME, and so does a handler or
// a notRun entry that no longer matches anything. Shell blocks run command
// by command in bash, in a temporary directory, with the test's eurekad
// first on the PATH. Blocks that build from the source (go build, go run,
// go install, make build) run in a temporary directory of symbolic links to
// the repository's files, so relative paths work and nothing is written
// into the clone. A command that starts a server (eurekad with flags, or go
// run of it) is started, must answer 200 at /readyz, and is stopped before
// the next command, unless it ends in & (then it runs until the block
// ends). YAML blocks are written to eurekad.yaml and eurekad is started
// with --config on them.
//
// # What is changed, and only that
//
//   - The README's ports 8761, 8762 and 8763 on localhost/127.0.0.1 are
//     free loopback ports of the test (a developer's eurekad may hold
//     8761); a server command without --addr gets EUREKAD_ADDR, and
//     `eurekad snapshot save` and `eurekad drain` without --server get --server.
//   - The rolling-deploy examples' service address, http://eurekad:8761,
//     is the test's server.
//   - Addresses of other machines, 10.0.0.N, become 127.0.10.N: loopback,
//     where nothing listens, so no traffic leaves the machine.
//   - go install writes to a temporary GOBIN and make build to a
//     temporary BIN.
//
// Commands that cannot run here are in notRun, with the reason.
package readme

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// notRun lists the commands of the README that are not run, each with the
// reason. Keep it short: a command that can run here belongs in a handler.
var notRun = map[string]string{
	"make test":            "the suite this test belongs to: CI runs it (.ci/run)",
	"make test-short":      "a subset of make test, which CI runs",
	`eurekad --peers "$P"`: "one node on each of three other machines; the block's one-machine cluster is run instead",
	"eurekad snapshot restore --storage redis --redis-url redis://10.0.0.9:6379/0 backup.snapshot": "a Redis on another machine; test/e2e restores snapshots into Redis",
}

// handler runs the blocks it claims: match holds one snippet per block,
// and run gets the blocks in that order.
type handler struct {
	name  string
	match []string
	run   func(t *testing.T, bs []block)
}

var handlers = []handler{
	{"quick-start", []string{"go run ./cmd/eurekad"}, testQuickStart},
	{"register-and-read", []string{"curl -i -X POST localhost:8761/eureka/apps/ORDERS"}, testRegisterCurl},
	{"install", []string{"go install ./cmd/eurekad"}, testInstall},
	{"snapshots", []string{"eurekad snapshot save backup.snapshot"}, testSnapshots},
	{"cluster", []string{"three nodes on one machine"}, testCluster},
	{"regions", []string{"two regions on one machine"}, testRegions},
	{"namespaces", []string{"three namespaces beside the default one"}, testNamespaces},
	{"https", []string{"--tls-cert server.pem"}, testHTTPS},
	{"mutual-tls-cluster", []string{"client_auth: require"}, testMutualTLSConfig},
	{"plugins", []string{"go build -o bin/team-auth", "plugin: ./bin/team-auth"}, testPlugins},
	{"static-auth", []string{"plugin: static"}, testStaticAuth},
	{"hash-password", []string{"eurekad hash-password "}, testHashPassword},
	{"listener-snippet", []string{"type eventFile struct"}, testListenerSnippet},
	{"admission", []string{"go build -o bin/admission"}, testAdmission},
	{"configuration", []string{"legacy_lease_expiry: false"}, testConfiguration},
	{"go-sdk", []string{"discovery.New(c, nil)"}, testSDKSnippet},
	{"layout", []string{"sdk/eureka        wire types"}, testLayout},
	{"store-conformance", []string{"storagetest.Run(t, func"}, testStoreSnippet},
	{"drain", []string{"eurekad drain --server", "terminationGracePeriodSeconds"}, testDrain},
	{"health-checks", []string{"kind: http             # http, tcp", `"[eurekad.check]": http`,
		`instance.SetMetadataString("eurekad.check", "http")`, `'eurekad.check': 'http'`}, testHealthChecks},
}

var (
	root    string // the module root
	binDir  string // holds the eurekad the test puts on the PATH
	farmDir string // symbolic links to the repository's files, made once
	readme  string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	defer eurekadtest.RemoveBinary()
	defer func() {
		if farmDir != "" {
			_ = os.RemoveAll(farmDir)
		}
	}()
	var err error
	if root, err = eurekadtest.ModuleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "readme:", err)
		return 1
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "readme:", err)
		return 1
	}
	readme = string(b)
	bin, err := eurekadtest.Binary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "readme:", err)
		return 1
	}
	binDir = filepath.Dir(bin)
	return m.Run()
}

// TestREADME runs every code block of README.md.
func TestREADME(t *testing.T) {
	blocks := parseBlocks(readme)
	if len(blocks) < 10 {
		t.Fatalf("found %d code blocks in README.md; the parser is broken", len(blocks))
	}
	claimed := make([][]block, len(handlers))
	for _, b := range blocks {
		var owners []string
		for i, h := range handlers {
			for j, m := range h.match {
				if strings.Contains(b.Text, m) {
					owners = append(owners, h.name)
					if claimed[i] == nil {
						claimed[i] = make([]block, len(h.match))
					}
					claimed[i][j] = b
				}
			}
		}
		if len(owners) != 1 {
			t.Errorf("README.md:%d: the %q block is claimed by %d handlers %v, not one: give it a handler in test/readme (or make its match unique)\n%s",
				b.Line, b.Info, len(owners), owners, b.Text)
		}
	}
	for i, h := range handlers {
		for j, m := range h.match {
			if claimed[i] == nil || claimed[i][j].Text == "" {
				t.Errorf("handler %s: no README block contains %q", h.name, m)
			}
		}
	}
	for line := range notRun {
		if !slices.ContainsFunc(blocks, func(b block) bool { return slices.Contains(commandLines(b.Text), line) }) {
			t.Errorf("notRun names %q, which no README block holds", line)
		}
	}
	if t.Failed() {
		return
	}
	for i, h := range handlers {
		t.Run(h.name, func(t *testing.T) {
			start := time.Now()
			h.run(t, claimed[i])
			t.Logf("%s: %v", h.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// shell runs a block's commands in dir.
type shell struct {
	t      *testing.T
	dir    string
	env    []string
	ports  map[string]string // README port -> the test's loopback host:port
	vars   []string          // assignments so far, prepended to every command
	stdin  string
	client *http.Client // for the servers' /readyz
	https  bool
	bg     []*server
}

func newShell(t *testing.T, dir string) *shell {
	s := &shell{
		t:      t,
		dir:    dir,
		env:    append(eurekadtest.CleanEnv(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH")),
		ports:  map[string]string{},
		client: &http.Client{Timeout: 30 * time.Second}, // bcrypt under -race on a busy machine is slow
	}
	for _, p := range []string{"8761", "8762", "8763"} {
		s.ports[p] = eurekadtest.FreeAddr(t)
	}
	t.Cleanup(s.stopAll)
	return s
}

// base is the URL of the server the README places on port.
func (s *shell) base(port string) string { return "http://" + s.ports[port] }

func (s *shell) setEnv(kv ...string) { s.env = append(s.env, kv...) }

// rewrite applies the documented changes (see the package comment).
func (s *shell) rewrite(line string) string {
	for port, addr := range s.ports {
		line = strings.ReplaceAll(line, "localhost:"+port, addr)
		line = strings.ReplaceAll(line, "127.0.0.1:"+port, addr)
	}
	line = strings.ReplaceAll(line, "10.0.0.", "127.0.10.")
	for _, c := range []string{"eurekad snapshot save ", "eurekad drain "} {
		if rest, ok := strings.CutPrefix(line, c); ok && !strings.Contains(rest, "--server") {
			line = c + "--server " + s.base("8761") + " " + rest
		}
	}
	return line
}

// runBlock runs the commands of text in order and returns each one's
// output, by the command as the README writes it.
func (s *shell) runBlock(text string) map[string]string {
	s.t.Helper()
	out := map[string]string{}
	for _, line := range commandLines(text) {
		if why, ok := notRun[line]; ok {
			s.t.Logf("not run, %s: %s", why, line)
			continue
		}
		l := s.rewrite(line)
		switch m := serverLine.FindStringSubmatch(l); {
		case isAssignment.MatchString(l):
			s.vars = append(s.vars, l)
		case m != nil:
			srv := s.start(strings.TrimSuffix(strings.TrimSpace(l), "&"))
			if m[3] == "&" {
				s.bg = append(s.bg, srv)
			} else {
				srv.stop()
			}
		default:
			out[line] = s.exec(l)
		}
	}
	return out
}

func (s *shell) command(line string) *exec.Cmd {
	cmd := exec.Command("bash", "-c", "set -eo pipefail\n"+strings.Join(s.vars, "\n")+"\n"+line)
	cmd.Dir = s.dir
	cmd.Env = s.env
	return cmd
}

// exec runs one command to its end; it must succeed.
func (s *shell) exec(line string) string {
	s.t.Helper()
	cmd := s.command(line)
	cmd.Stdin = strings.NewReader(s.stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("README command failed: %s\n(run as: %s)\n%v\n%s", line, line, err, out)
	}
	return string(out)
}

// server is a process started by a server command.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *eurekadtest.SyncBuffer
	exited chan struct{}
}

// start runs a server command and waits until its /readyz answers 200.
func (s *shell) start(line string) *server {
	s.t.Helper()
	addr := s.ports["8761"]
	if f := strings.Fields(line); slices.Contains(f, "--addr") {
		addr = f[slices.Index(f, "--addr")+1]
	}
	cmd := s.command("exec " + line)
	cmd.Env = append(slices.Clone(cmd.Env), "EUREKAD_ADDR="+addr)
	// Its own process group, so that stopping go run stops the eurekad it
	// started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	srv := &server{t: s.t, cmd: cmd, out: &eurekadtest.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = srv.out, srv.out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("%s: %v", line, err)
	}
	go func() {
		_ = cmd.Wait()
		close(srv.exited)
	}()
	s.t.Cleanup(srv.stop)
	scheme := "http"
	if s.https || strings.Contains(line, "--tls-cert") {
		scheme = "https"
	}
	url := scheme + "://" + addr + "/readyz"
	deadline := time.Now().Add(90 * time.Second) // go run compiles first
	for {
		resp, err := s.client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return srv
			}
		}
		select {
		case <-srv.exited:
			s.t.Fatalf("README server command exited before /readyz answered 200: %s\n%s", line, srv.out.String())
		case <-time.After(50 * time.Millisecond): // polling a server that tells no one when it is ready
		}
		if time.Now().After(deadline) {
			srv.stop()
			s.t.Fatalf("README server command: %s did not answer 200 within 90s (last: %v)\n%s", url, err, srv.out.String())
		}
	}
}

// stop ends the server's process group gracefully, then by force.
func (srv *server) stop() {
	select {
	case <-srv.exited:
		return
	default:
	}
	_ = syscall.Kill(-srv.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-srv.exited:
	case <-time.After(eurekadtest.StopTimeout):
		_ = syscall.Kill(-srv.cmd.Process.Pid, syscall.SIGKILL)
		<-srv.exited
	}
	if out := srv.out.String(); strings.Contains(out, "WARNING: DATA RACE") {
		srv.t.Errorf("a README server reported a data race:\n%s", out)
	}
}

func (s *shell) stopAll() {
	for _, srv := range s.bg {
		srv.stop()
	}
}

// farm returns a directory of symbolic links to the repository's files,
// made once per test binary, for the blocks that build from the source.
func farm(t *testing.T) string {
	t.Helper()
	if farmDir != "" {
		return farmDir
	}
	dir, err := os.MkdirTemp("", "eurekad-readme-")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n == "bin" || n == "data" {
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	farmDir = dir
	return dir
}

// httpDo sends a request and returns the status and body.
func httpDo(t *testing.T, c *http.Client, method, url string, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// register puts a minimal instance of app with id at base.
func register(t *testing.T, c *http.Client, base, app, id string, header ...string) int {
	t.Helper()
	body := fmt.Sprintf(`{"instance": {"instanceId": %q, "hostName": "localhost", "app": %q, "ipAddr": "127.0.0.1",
		"status": "UP", "port": {"$": 8080, "@enabled": "true"}, "vipAddress": %q,
		"dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", "name": "MyOwn"}}}`, id, app, strings.ToLower(app))
	code, _ := httpDo(t, c, http.MethodPost, base+"/eureka/apps/"+app, body, append([]string{"Content-Type", "application/json"}, header...)...)
	return code
}

func testQuickStart(t *testing.T, bs []block) {
	newShell(t, farm(t)).runBlock(bs[0].Text)
}

func testRegisterCurl(t *testing.T, bs []block) {
	s := newShell(t, t.TempDir())
	eurekadtest.StartAt(t, s.ports["8761"])
	out := s.runBlock(bs[0].Text)
	for prefix, want := range map[string]string{
		"curl -i -X POST":   "HTTP/1.1 204",
		"curl -s -H":        `"instanceId":"orders-1"`,
		"curl -i -X PUT":    "HTTP/1.1 200",
		"curl -i -X DELETE": "HTTP/1.1 200",
	} {
		found := false
		for cmd, o := range out {
			if strings.HasPrefix(cmd, prefix) {
				found = true
				if !strings.Contains(o, want) {
					t.Errorf("%s: output lacks %q:\n%s", cmd, want, o)
				}
			}
		}
		if !found {
			t.Errorf("no command of the block starts with %q", prefix)
		}
	}
}

func testInstall(t *testing.T, bs []block) {
	s := newShell(t, farm(t))
	gobin, bin := t.TempDir(), t.TempDir()
	s.env = append(s.env, "GOBIN="+gobin, "BIN="+bin, "PATH="+gobin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out := s.runBlock(bs[0].Text)
	for _, f := range []string{filepath.Join(gobin, "eurekad"), filepath.Join(bin, "eurekad")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the install block did not make %s: %v", f, err)
		}
	}
	v := out["eurekad version"]
	if !strings.Contains(v, "go1.") {
		t.Errorf("eurekad version names no Go release:\n%s", v)
	}
}

func testSnapshots(t *testing.T, bs []block) {
	s := newShell(t, t.TempDir())
	live := eurekadtest.StartAt(t, s.ports["8761"])
	if code := register(t, s.client, s.base("8761"), "ORDERS", "orders-1"); code != http.StatusNoContent {
		t.Fatalf("register: %d", code)
	}
	out := s.runBlock(bs[0].Text)
	if o := out["eurekad snapshot inspect backup.snapshot"]; !strings.Contains(o, "ORDERS") {
		t.Errorf("snapshot inspect does not list ORDERS:\n%s", o)
	}
	// The restore went into the configured store, bolt in ./data: a server
	// started on it serves the saved instance.
	live.Stop()
	srv := s.start("eurekad")
	defer srv.stop()
	if code, body := httpDo(t, s.client, http.MethodGet, s.base("8761")+"/eureka/apps/ORDERS/orders-1", ""); code != http.StatusOK {
		t.Errorf("after restore, GET apps/ORDERS/orders-1: %d %s", code, body)
	}
}

func testCluster(t *testing.T, bs []block) {
	s := newShell(t, t.TempDir())
	s.runBlock(bs[0].Text)
	if code := register(t, s.client, s.base("8761"), "ORDERS", "orders-1"); code != http.StatusNoContent {
		t.Fatalf("register on the first node: %d", code)
	}
	eurekadtest.Eventually(t, 10*time.Second, "the registration replicated to the third node", func() error {
		if code, body := httpDo(t, s.client, http.MethodGet, s.base("8763")+"/eureka/apps/ORDERS/orders-1", ""); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

// testRegions runs the two regions of the block and reads west's
// registration through east with regions=west.
func testRegions(t *testing.T, bs []block) {
	s := newShell(t, t.TempDir())
	s.runBlock(bs[0].Text)
	if code := register(t, s.client, s.base("8762"), "ORDERS", "orders-west-1"); code != http.StatusNoContent {
		t.Fatalf("register on west: %d", code)
	}
	eurekadtest.Eventually(t, 30*time.Second, "east serves west's instance with regions=west", func() error {
		code, body := httpDo(t, s.client, http.MethodGet, s.base("8761")+"/eureka/apps?regions=west", "", "Accept", "application/json")
		if code != http.StatusOK || !strings.Contains(body, "orders-west-1") {
			return fmt.Errorf("%d %.200s", code, body)
		}
		return nil
	})
	if _, body := httpDo(t, s.client, http.MethodGet, s.base("8761")+"/eureka/apps", "", "Accept", "application/json"); strings.Contains(body, "orders-west-1") {
		t.Error("east serves west's instance without regions")
	}
}

// testNamespaces starts the block's configuration and registers in dev:
// test does not see it, prod's limit is listed, an undeclared namespace is
// 404.
func testNamespaces(t *testing.T, bs []block) {
	s := newShell(t, t.TempDir())
	writeFile(t, filepath.Join(s.dir, "eurekad.yaml"), bs[0].Text)
	srv := s.start("eurekad --config eurekad.yaml")
	defer srv.stop()
	base := s.base("8761")
	if code := register(t, s.client, base+"/ns/dev", "ORDERS", "orders-dev-1"); code != http.StatusNoContent {
		t.Fatalf("register in dev: %d", code)
	}
	if code, _ := httpDo(t, s.client, http.MethodGet, base+"/ns/dev/eureka/apps/ORDERS/orders-dev-1", ""); code != http.StatusOK {
		t.Errorf("dev's instance in dev: %d, want 200", code)
	}
	for _, p := range []string{"/ns/test/eureka/apps/ORDERS", "/eureka/apps/ORDERS", "/ns/staging/eureka/apps"} {
		if code, _ := httpDo(t, s.client, http.MethodGet, base+p, ""); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
	if _, body := httpDo(t, s.client, http.MethodGet, base+"/admin/api/namespaces", ""); !strings.Contains(body, `{"name":"prod","instances":0,"limit":5000}`) {
		t.Errorf("GET /admin/api/namespaces: %s", body)
	}
}

func testHTTPS(t *testing.T, bs []block) {
	pki := eurekadtest.NewPKI(t)
	pki.Issue("server", "localhost")
	copyFile(t, pki.CAFile, filepath.Join(pki.Dir, "clients-ca.pem"))
	s := newShell(t, pki.Dir)
	s.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.Pool}}
	s.runBlock(bs[0].Text)
}

func testMutualTLSConfig(t *testing.T, bs []block) {
	pki := eurekadtest.NewPKI(t)
	pki.Issue("node", "node")
	s := newShell(t, pki.Dir)
	s.https = true
	s.client.Transport = &http.Transport{TLSClientConfig: pki.ClientTLS("node")}
	writeFile(t, filepath.Join(s.dir, "eurekad.yaml"), s.rewrite(bs[0].Text))
	s.start("eurekad --config eurekad.yaml").stop()
}

func testPlugins(t *testing.T, bs []block) {
	s := newShell(t, farm(t))
	writeFile(t, filepath.Join(s.dir, "eurekad.yaml"), bs[1].Text)
	s.runBlock(bs[0].Text)
	// The listener of the YAML block was configured: it opened its file.
	if _, err := os.Stat(filepath.Join(s.dir, "events.jsonl")); err != nil {
		t.Errorf("the event-file listener did not open ./events.jsonl: %v", err)
	}
}

func testStaticAuth(t *testing.T, bs []block) {
	s := newShell(t, t.TempDir())
	writeFile(t, filepath.Join(s.dir, "eurekad.yaml"), bs[0].Text)
	srv := s.start("eurekad --config eurekad.yaml")
	defer srv.stop()
	// The hashes in the block are of the passwords its comments give.
	base := s.base("8761")
	if code := register(t, s.client, base, "ORDERS-API", "api-1", "Authorization", basic("orders", "secret")); code != http.StatusNoContent {
		t.Errorf("orders:secret registering ORDERS-API: %d, want 204", code)
	}
	if code := register(t, s.client, base, "PAYMENTS", "p-1", "Authorization", basic("orders", "secret")); code != http.StatusForbidden {
		t.Errorf("orders:secret registering PAYMENTS: %d, want 403", code)
	}
	if code, _ := httpDo(t, s.client, http.MethodGet, base+"/eureka/apps", "", "Authorization", "Bearer ops-token"); code != http.StatusOK {
		t.Errorf("the ops-bot token reading: %d, want 200", code)
	}
}

func basic(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

func testHashPassword(t *testing.T, bs []block) {
	s := newShell(t, t.TempDir())
	s.stdin = "secret"
	s.setEnv("TOKEN=ops-token")
	out := s.runBlock(bs[0].Text)
	hash := strings.TrimSpace(out["eurekad hash-password"])
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("secret")); err != nil {
		t.Errorf("eurekad hash-password printed %q, not a bcrypt hash of its input: %v", hash, err)
	}
	sum := sha256.Sum256([]byte("ops-token"))
	if got := strings.TrimSpace(out[`printf %s "$TOKEN" | eurekad hash-password --token`]); got != hex.EncodeToString(sum[:]) {
		t.Errorf("hash-password --token printed %q, want the SHA-256 of $TOKEN", got)
	}
}

func testAdmission(t *testing.T, bs []block) {
	newShell(t, farm(t)).runBlock(bs[0].Text)
}

func testConfiguration(t *testing.T, bs []block) {
	s := newShell(t, t.TempDir())
	writeFile(t, filepath.Join(s.dir, "eurekad.yaml"), bs[0].Text)
	s.start("eurekad --config eurekad.yaml").stop()
}

func testLayout(t *testing.T, bs []block) {
	for _, l := range strings.Split(strings.TrimSpace(bs[0].Text), "\n") {
		dir := strings.TrimSuffix(strings.TrimSuffix(strings.Fields(l)[0], "…"), "/")
		if fi, err := os.Stat(filepath.Join(root, dir)); err != nil || !fi.IsDir() {
			t.Errorf("the layout names %s, which is not a directory of the repository", dir)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testDrain runs the drain commands against a server holding the
// instances they name, then the Kubernetes preStop command as the manifest
// writes it (read from the YAML, $(POD_IP) expanded as the kubelet does).
func testDrain(t *testing.T, bs []block) {
	s := newShell(t, t.TempDir())
	eurekadtest.StartAt(t, s.ports["8761"])
	base := s.base("8761") + "/eureka/"
	const podIP = "10.0.0.7"
	id := podIP + ":orders:8080"
	register := func() {
		t.Helper()
		body := `{"instance":{"instanceId":"` + id + `","hostName":"` + podIP + `","app":"ORDERS","ipAddr":"` + podIP +
			`","status":"UP","dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`
		resp, err := http.Post(base+"apps/ORDERS", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("register %s: %v %v", id, err, resp)
		}
		resp.Body.Close()
	}
	status := func() int {
		t.Helper()
		resp, err := http.Get(base + "apps/ORDERS/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode
	}
	register()
	// A loopback caller of a server without an admin token may drain;
	// the token the block sends is then not needed.
	s.setEnv("POD_IP="+podIP, "TOKEN=unused-on-loopback")
	out := s.runBlock(strings.ReplaceAll(bs[0].Text, "http://eurekad:8761", s.base("8761")))
	for cmd, o := range out {
		if !strings.Contains(o, "confirmed") && !strings.Contains(o, "reader") {
			t.Logf("%s:\n%s", cmd, o)
		}
	}
	if code := status(); code != http.StatusNotFound {
		t.Fatalf("after drain --cancel ORDERS, %s answers %d", id, code)
	}

	var pod struct {
		Spec struct {
			Containers []struct {
				Lifecycle struct {
					PreStop struct {
						Exec struct{ Command []string }
					} `yaml:"preStop"`
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(bs[1].Text), &pod); err != nil || len(pod.Spec.Containers) != 1 {
		t.Fatalf("the manifest: %v %+v", err, pod)
	}
	argv := pod.Spec.Containers[0].Lifecycle.PreStop.Exec.Command
	if len(argv) < 2 || argv[0] != "eurekad" {
		t.Fatalf("preStop command %q", argv)
	}
	for i, a := range argv {
		argv[i] = strings.ReplaceAll(strings.ReplaceAll(a, "$(POD_IP)", podIP), "http://eurekad:8761", s.base("8761"))
	}
	register()
	cmd := exec.Command(filepath.Join(binDir, "eurekad"), argv[1:]...)
	cmd.Env = eurekadtest.CleanEnv()
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("preStop %q: %v\n%s", argv, err, o)
	}
	resp, err := http.Get(base + "apps/ORDERS/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "OUT_OF_SERVICE") {
		t.Fatalf("after the preStop drain: %s", b)
	}
}
