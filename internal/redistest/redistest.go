// Package redistest runs a real redis-server as a child process of a test, on
// a free loopback port with its own temporary directory, and lets the test
// kill, stop, pause and restart it to exercise failures. It can also run the
// server as a one-node Redis Cluster (Cluster) and start a Sentinel that
// watches it (StartSentinel), so cluster and Sentinel clients are tested
// against the real thing.
//
// It is non-test code so that tests in any package of the module can import
// it; it must never be imported by production code.
//
// # Finding redis-server
//
// Start looks for redis-server on PATH. When it is missing the test is
// skipped with instructions (run `make deps`), except when the environment
// variable CI is "true": in CI a missing Redis fails the test, so a broken
// CI image can never turn the Redis tests into silent skips.
//
// # Durability
//
// By default the server runs with the append-only file on and
// appendfsync always, and without RDB snapshots: every write Redis
// acknowledged is on disk, so it survives Kill followed by Restart. AppendOnly
// turns that off for tests that measure raw speed.
//
// # No orphans
//
// The server is killed in t.Cleanup. On Linux it is also started with a
// parent-death signal (SIGKILL), so a test binary that is itself killed takes
// its redis-server with it. The kernel sends that signal when the OS thread
// that started the server ends, and Go ends a thread only when a goroutine
// locked to it (runtime.LockOSThread) exits: do not call Start or Restart
// from such a goroutine.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Binary is the name of the server executable looked up on PATH.
const Binary = "redis-server"

// Timeouts of the harness.
const (
	// StartTimeout bounds how long Start and Restart wait for the server to
	// answer PING.
	StartTimeout = 10 * time.Second
	// StopTimeout bounds how long Stop waits for a graceful shutdown before
	// it kills the server.
	StopTimeout = 10 * time.Second
)

// Option changes how the server is started.
type Option func(*config)

type config struct {
	appendOnly bool
	cluster    bool
	args       []string
	// sentinel monitors master under name when master is not nil.
	sentinel struct {
		name   string
		master *Server
	}
}

// AppendOnly turns the append-only file on (the default, with appendfsync
// always, so acknowledged writes survive Kill and Restart) or off (no
// persistence at all: Restart comes back empty).
func AppendOnly(on bool) Option { return func(c *config) { c.appendOnly = on } }

// Cluster starts the server as a one-node Redis Cluster that owns all 16384
// slots, so a cluster client works against it and Redis enforces cluster
// rules (CROSSSLOT: a transaction or script may only touch one slot). The
// cluster state lives in the server's directory and survives Restart.
func Cluster() Option { return func(c *config) { c.cluster = true } }

// Args appends raw redis-server arguments, for example
// Args("--maxmemory", "10mb"). They come after the harness's own arguments
// and so override them. With "--requirepass", "secret" the harness's own
// probes (PING, SHUTDOWN) authenticate; clients must too.
func Args(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// Server is one redis-server child process. Addr, URL, Dir, Running and
// Kill are safe for concurrent use; Stop, Restart, Pause and Resume report
// failures through the test (t.Fatal) and belong to the test's goroutine.
type Server struct {
	t       testing.TB
	bin     string
	port    int
	busPort int  // cluster bus, with Cluster
	cluster bool // a one-node cluster
	dir     string
	args    []string
	// password is the --requirepass argument, sent with AUTH by the
	// harness's own probes.
	password string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start starts redis-server on a free 127.0.0.1 port with its own directory
// from t.TempDir, waits until it answers PING, and kills it when the test
// ends. A missing redis-server skips the test, or fails it when CI=true.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	c := config{appendOnly: true}
	for _, o := range opts {
		o(&c)
	}
	return start(t, c)
}

// StartSentinel starts a Redis Sentinel (redis-server --sentinel) on a free
// port that monitors master under name, with a quorum of one, and waits
// until it answers PING. Kill, Stop and Restart work as for a server; the
// sentinel's state is in its own directory and survives Restart. opts may
// add Args.
func StartSentinel(t testing.TB, master *Server, name string, opts ...Option) *Server {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	c.sentinel.name, c.sentinel.master = name, master
	return start(t, c)
}

func start(t testing.TB, c config) *Server {
	t.Helper()
	bin := lookPath(t)
	s := &Server{t: t, bin: bin, dir: t.TempDir(), cluster: c.cluster}
	for i, a := range c.args {
		if a == "--requirepass" && i+1 < len(c.args) {
			s.password = c.args[i+1]
		}
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			t.Fatalf("redistest: no free port: %v", err)
		}
		if c.cluster {
			if s.busPort, err = freePort(); err != nil {
				t.Fatalf("redistest: no free port: %v", err)
			}
		}
		if s.args, err = s.buildArgs(c); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		if err = s.start(); err == nil {
			t.Cleanup(s.Kill)
			if c.cluster {
				if err := s.claimSlots(); err != nil {
					t.Fatalf("redistest: cluster: %v\n%s", err, s.logTail())
				}
			}
			return s
		}
		if !errors.Is(err, errExited) {
			break
		}
		// The server exited at once: most likely another process took the
		// port between freePort and redis binding it. Try another port.
	}
	t.Fatalf("redistest: %v", err)
	return nil
}

// errExited marks a server that exited while starting.
var errExited = errors.New("exited during start")

func lookPath(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err == nil {
		return bin
	}
	const help = "install it with `make deps` (or: apt-get install -y redis-server)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("redistest: %s not found on PATH (CI=true, so this is a failure, not a skip): %s", Binary, help)
	}
	t.Skipf("redistest: %s not found on PATH; %s", Binary, help)
	return ""
}

func (s *Server) buildArgs(c config) ([]string, error) {
	var args []string
	if m := c.sentinel.master; m != nil {
		// A sentinel reads (and rewrites) a configuration file.
		conf := filepath.Join(s.dir, "sentinel.conf")
		line := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\n", c.sentinel.name, m.port)
		if m.password != "" {
			line += fmt.Sprintf("sentinel auth-pass %s %s\n", c.sentinel.name, m.password)
		}
		if err := os.WriteFile(conf, []byte(line), 0o600); err != nil {
			return nil, err
		}
		args = append(args, conf, "--sentinel")
	}
	args = append(args,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", s.logPath(),
	)
	if c.sentinel.master != nil {
		return append(args, c.args...), nil
	}
	args = append(args, "--save", "")
	if c.cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(s.busPort),
			"--cluster-config-file", filepath.Join(s.dir, "nodes.conf"))
	}
	if c.appendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	return append(args, c.args...), nil
}

func (s *Server) logPath() string { return filepath.Join(s.dir, "redis.log") }

// start launches the process and waits for PING; on failure the process is
// gone and the error carries the tail of its log.
func (s *Server) start() error {
	cmd := exec.Command(s.bin, s.args...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(StartTimeout)
	for {
		err := s.ping(time.Second)
		if err == nil {
			// Something answers on the port: make sure it is our process and
			// not another server that held the port when we tried to bind.
			if err = s.checkPid(cmd.Process.Pid, time.Second); err == nil {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%s on port %d %w (%v)\n%s", Binary, s.port, errExited, cmd.ProcessState, s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("%s on port %d did not answer PING within %v: %v\n%s", Binary, s.port, StartTimeout, err, s.logTail())
		}
		select {
		case <-done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's redis:// URL, database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Dir is the server's working directory (append-only file, log).
func (s *Server) Dir() string { return s.dir }

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the process to exit: the crash of a Redis
// server. Writes acknowledged with appendfsync always survive it. Killing a
// server that is not running does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Pause stops the process with SIGSTOP: it keeps its port and accepts
// connections (the kernel does) but answers nothing, like a hung or
// partitioned server. Resume continues it; Kill and the test's cleanup work
// on a paused server too.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused process with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil || !s.Running() {
		s.t.Fatalf("redistest: %v: server is not running", sig)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// Stop shuts the server down gracefully (SHUTDOWN, which flushes the
// append-only file) and waits for it to exit; if it has not exited within
// StopTimeout it is killed and the test fails.
func (s *Server) Stop() {
	s.t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || !s.Running() {
		return
	}
	// SHUTDOWN closes the connection without a reply when it succeeds
	// (go-redis reports that as success). Only a refusal from the server is
	// a failure at once; a network error may be the server going away, and
	// the wait below tells.
	err := s.probe(time.Second, func(ctx context.Context, c *goredis.Client) error {
		return c.Shutdown(ctx).Err()
	})
	var refused goredis.Error
	if errors.As(err, &refused) {
		s.t.Errorf("redistest: SHUTDOWN: %v", err)
	}
	select {
	case <-done:
	case <-time.After(StopTimeout):
		s.Kill()
		s.t.Errorf("redistest: %s did not exit within %v of SHUTDOWN (%v); killed", Binary, StopTimeout, err)
	}
}

// Restart starts the server again on the same port and directory (stopping
// nothing: call Kill or Stop first; a running server is killed) and waits
// until it answers PING. With the append-only file on, the data written
// before is loaded again.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	// The port was ours a moment ago; if something else grabbed it (or the
	// kernel is still releasing it) give it a short while.
	deadline := time.Now().Add(StartTimeout)
	for {
		err := s.start()
		if err == nil && s.cluster {
			err = s.clusterOK()
		}
		if err == nil {
			return
		}
		if !errors.Is(err, errExited) || time.Now().After(deadline) {
			s.t.Fatalf("redistest: restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // back-off before binding again
	}
}

// claimSlots gives the one-node cluster every slot and waits until it
// reports cluster_state:ok.
func (s *Server) claimSlots() error {
	err := s.probe(time.Second, func(ctx context.Context, c *goredis.Client) error {
		return c.ClusterAddSlotsRange(ctx, 0, 16383).Err()
	})
	if err != nil {
		return err
	}
	return s.clusterOK()
}

// clusterOK waits until the node reports cluster_state:ok.
func (s *Server) clusterOK() error {
	deadline := time.Now().Add(StartTimeout)
	for {
		var info string
		err := s.probe(time.Second, func(ctx context.Context, c *goredis.Client) (err error) {
			info, err = c.ClusterInfo(ctx).Result()
			return err
		})
		if err == nil && field(info, "cluster_state") == "ok" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster_state not ok within %v: %v %q", StartTimeout, err, field(info, "cluster_state"))
		}
		time.Sleep(20 * time.Millisecond) // poll
	}
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "redis log (tail):\n" + strings.Join(lines, "\n")
}

// freePort asks the kernel for a free loopback port. Redis binds it a moment
// later; Start retries on the (rare) race with another process.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// probe runs fn against the server with a fresh one-connection go-redis
// client (authenticated when the server has a password) that gives up after
// timeout. A fresh client per probe means no pooled connection to a server
// killed since can linger, and no retry hides the first answer.
func (s *Server) probe(timeout time.Duration, fn func(context.Context, *goredis.Client) error) error {
	c := goredis.NewClient(&goredis.Options{
		Addr:            s.Addr(),
		Password:        s.password,
		DialTimeout:     timeout,
		ReadTimeout:     timeout,
		WriteTimeout:    timeout,
		MaxRetries:      -1,
		PoolSize:        1,
		DisableIdentity: true,
		// No maintenance-notification handshake: a probe is one command.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return fn(ctx, c)
}

// ping sends PING and expects PONG; while the append-only file is replayed
// the server answers LOADING, which is an error here.
func (s *Server) ping(timeout time.Duration) error {
	return s.probe(timeout, func(ctx context.Context, c *goredis.Client) error {
		return c.Ping(ctx).Err()
	})
}

// checkPid verifies that the server answering is the process pid.
func (s *Server) checkPid(pid int, timeout time.Duration) error {
	var info string
	err := s.probe(timeout, func(ctx context.Context, c *goredis.Client) (err error) {
		info, err = c.Info(ctx, "server").Result()
		return err
	})
	if err != nil {
		return err
	}
	if got := field(info, "process_id"); got != strconv.Itoa(pid) {
		return fmt.Errorf("port answered by another server (process_id:%s, want %d)", got, pid)
	}
	return nil
}

// field returns the value of name in an INFO-style "name:value" reply.
func field(info, name string) string {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	return ""
}
