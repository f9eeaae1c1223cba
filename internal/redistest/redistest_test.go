package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/redistest"
)

func client(t *testing.T, s *redistest.Server) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	opt.ContextTimeoutEnabled = true
	c := goredis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestStartPing(t *testing.T) {
	s := redistest.Start(t)
	if !s.Running() {
		t.Fatal("Running() = false after Start")
	}
	if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/0") {
		t.Errorf("URL() = %q", s.URL())
	}
	if got, err := client(t, s).Ping(ctx(t)).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
	// The defaults: durable append-only file, no RDB snapshots.
	cfg, err := client(t, s).ConfigGet(ctx(t), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"appendonly": "yes", "appendfsync": "always", "save": "", "bind": "127.0.0.1", "dir": s.Dir()} {
		if cfg[k] != want {
			t.Errorf("config %s = %q, want %q", k, cfg[k], want)
		}
	}
}

func TestTwoServersAreIndependent(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	if a.Addr() == b.Addr() || a.Dir() == b.Dir() {
		t.Fatalf("servers share %s / %s", a.Addr(), a.Dir())
	}
	if err := client(t, a).Set(ctx(t), "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client(t, b).Get(ctx(t), "k").Err(); !errors.Is(err, goredis.Nil) {
		t.Fatalf("GET k on the second server: %v, want redis.Nil", err)
	}
}

func TestKillRefusesConnections(t *testing.T) {
	s := redistest.Start(t)
	s.Kill()
	if s.Running() {
		t.Fatal("Running() = true after Kill")
	}
	_, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Kill: %v, want connection refused", err)
	}
	s.Kill() // a second Kill is harmless
}

func TestRestartKeepsAcknowledgedWrites(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	for i := range 100 {
		if err := c.HSet(ctx(t), "h", i, i*i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s.Kill() // a crash: no chance to flush anything
	s.Restart()
	if !s.Running() {
		t.Fatal("Running() = false after Restart")
	}
	n, err := c.HLen(ctx(t), "h").Result()
	if err != nil || n != 100 {
		t.Fatalf("HLEN after kill and restart = %d, %v; want 100", n, err)
	}
	if v, err := c.HGet(ctx(t), "h", "99").Result(); err != nil || v != "9801" {
		t.Fatalf("HGET h 99 = %q, %v", v, err)
	}
}

func TestStopThenRestart(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	if err := c.Set(ctx(t), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if s.Running() {
		t.Fatal("Running() = true after Stop")
	}
	s.Restart()
	if v, err := c.Get(ctx(t), "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET k after stop and restart = %q, %v", v, err)
	}
}

func TestWithoutAppendOnlyRestartIsEmpty(t *testing.T) {
	s := redistest.Start(t, redistest.AppendOnly(false))
	c := client(t, s)
	if err := c.Set(ctx(t), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	s.Restart()
	if err := c.Get(ctx(t), "k").Err(); !errors.Is(err, goredis.Nil) {
		t.Fatalf("GET k after restart without persistence: %v, want redis.Nil", err)
	}
}

func TestArgsOverride(t *testing.T) {
	s := redistest.Start(t, redistest.Args("--databases", "3"))
	err := client(t, s).Do(ctx(t), "SELECT", 3).Err()
	if err == nil {
		t.Fatal("SELECT 3 succeeded with --databases 3")
	}
}

// TestMissingBinaryFailsInCI runs Start with an empty PATH in a child test
// process: with CI=true the child must fail, never skip.
func TestMissingBinaryFailsInCI(t *testing.T) {
	if os.Getenv("REDISTEST_CHILD") == "1" {
		redistest.Start(t)
		t.Fatal("Start returned without redis-server on PATH")
	}
	for _, tc := range []struct {
		ci   string
		want string
	}{
		{"true", "--- FAIL"},
		{"", "--- SKIP"},
	} {
		out, err := childTest(t, "TestMissingBinaryFailsInCI", "CI="+tc.ci)
		if !strings.Contains(out, tc.want) || !strings.Contains(out, "make deps") {
			t.Errorf("CI=%q: want %q and instructions, got err=%v:\n%s", tc.ci, tc.want, err, out)
		}
		if tc.ci == "true" && err == nil {
			t.Errorf("CI=true: child test passed without redis-server")
		}
	}
}

// childTest re-runs this test binary on one test with an empty PATH and the
// given extra environment, and returns its verbose output.
func childTest(t *testing.T, name string, env ...string) (string, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^"+name+"$", "-test.v")
	cmd.Env = append([]string{"REDISTEST_CHILD=1", "PATH=" + t.TempDir(), "HOME=" + os.Getenv("HOME")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestNoOrphanWhenTestBinaryIsKilled starts a server in a child test process
// that then SIGKILLs itself (so no t.Cleanup runs): the parent-death signal
// must take the server down with it.
func TestNoOrphanWhenTestBinaryIsKilled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parent-death signal is Linux only")
	}
	if os.Getenv("REDISTEST_CHILD") == "1" {
		s := redistest.Start(t)
		fmt.Printf("REDIS_ADDR=%s\n", s.Addr())
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	redistest.Start(t).Kill() // skip (or fail in CI) here, not in the child, when redis-server is missing
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestNoOrphanWhenTestBinaryIsKilled$", "-test.v")
	cmd.Env = append(os.Environ(), "REDISTEST_CHILD=1")
	out, _ := cmd.CombinedOutput()
	m := regexp.MustCompile(`REDIS_ADDR=(\S+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("child printed no address:\n%s", out)
	}
	eurekadtest.Until(t, 10*time.Second, "redis-server at "+m[1]+" gone after its test binary was killed", func() bool {
		c, err := net.DialTimeout("tcp", m[1], time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
}

func TestPassword(t *testing.T) {
	s := redistest.Start(t, redistest.Args("--requirepass", "p w"))
	if err := client(t, s).Ping(ctx(t)).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without the password: %v, want NOAUTH", err)
	}
	s.Stop() // the harness authenticates its SHUTDOWN
	if s.Running() {
		t.Fatal("Running() = true after Stop")
	}
	s.Restart()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), Password: "p w"})
	defer c.Close()
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestPauseResume(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	s.Pause()
	tctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := c.Ping(tctx).Err(); err == nil {
		t.Fatal("PING answered by a paused server")
	}
	if !s.Running() {
		t.Fatal("Running() = false while paused")
	}
	s.Resume()
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING after Resume: %v", err)
	}
	s.Pause() // the cleanup kills a paused server
}

func TestCluster(t *testing.T) {
	s := redistest.Start(t, redistest.Cluster())
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{s.Addr()}})
	defer c.Close()
	if err := c.Set(ctx(t), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Redis enforces cluster rules: one command, two slots.
	err := client(t, s).Do(ctx(t), "MSET", "{a}x", 1, "{b}x", 1).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Errorf("MSET across slots: %v, want CROSSSLOT", err)
	}
	start := time.Now()
	s.Kill()
	s.Restart()
	t.Logf("restart took %v", time.Since(start))
	if v, err := c.Get(ctx(t), "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET k after restart = %q, %v", v, err)
	}
}

func TestSentinel(t *testing.T) {
	m := redistest.Start(t)
	sn := redistest.StartSentinel(t, m, "mymaster")
	c := goredis.NewSentinelClient(&goredis.Options{Addr: sn.Addr()})
	defer c.Close()
	addr, err := c.GetMasterAddrByName(ctx(t), "mymaster").Result()
	if err != nil || len(addr) != 2 || "127.0.0.1:"+addr[1] != m.Addr() {
		t.Fatalf("sentinel names master %v, %v; want %s", addr, err, m.Addr())
	}
	sn.Kill()
	sn.Restart()
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING the restarted sentinel: %v", err)
	}
}
