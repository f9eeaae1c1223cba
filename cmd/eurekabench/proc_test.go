package main

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestClusterNode starts the fake eurekad as a cluster node: it is ready
// once GET apps answers, its CPU is read, and SIGTERM stops it cleanly.
func TestClusterNode(t *testing.T) {
	fc := fakeFleetConfig(t)
	addr, err := freeLoopback()
	if err != nil {
		t.Fatal(err)
	}
	n, err := startBenchNode(clusterConfig{eurekad: fc.bin, env: envList{fakeEurekadEnv + "=1"}}, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.kill()
	resp, err := http.Get(n.base + "apps")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET apps: %v %v", resp, err)
	}
	resp.Body.Close()
	if n.cpu() < 0 {
		t.Errorf("cpu %v", n.cpu())
	}
	n.stop()
	if !n.exited() || n.err != nil {
		t.Errorf("after stop: exited %v, %v", n.exited(), n.err)
	}
}

// TestClusterNodeFailsToStart fails as soon as the server exits, not at
// the 20 s readiness limit.
func TestClusterNodeFailsToStart(t *testing.T) {
	fakeFleetConfig(t) // Linux only, like the fleet's process tests
	addr, err := freeLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	_, err = startBenchNode(clusterConfig{eurekad: "/bin/false"}, addr, nil)
	if err == nil || !strings.Contains(err.Error(), "did not start") {
		t.Fatalf("err %v", err)
	}
	if took := time.Since(t0); took > 10*time.Second {
		t.Errorf("gave up after %v", took)
	}
}

// TestProcStopKills SIGKILLs a process that ignores SIGTERM once the stop
// timeout has passed.
func TestProcStopKills(t *testing.T) {
	fakeFleetConfig(t)
	p, err := startProc(exec.Command("sh", "-c", `trap "" TERM; while sleep 0.05; do :; done`), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.kill()
	time.Sleep(100 * time.Millisecond) // let the shell set its trap
	killed, err := p.stop(200 * time.Millisecond)
	if err != nil || !killed || !p.exited() {
		t.Errorf("killed %v, err %v, exited %v", killed, err, p.exited())
	}
}
