package main

import (
	"bufio"
	"errors"
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
	if _, err := readProcCPU(n.pid); err != nil {
		t.Errorf("cpu: %v", err)
	}
	n.stop()
	if !n.exited() || n.err != nil {
		t.Errorf("after stop: exited %v, %v", n.exited(), n.err)
	}
}

// TestClusterNodeFailsToStart fails as soon as the server exits, not at
// the 20 s readiness limit.
func TestClusterNodeFailsToStart(t *testing.T) {
	linuxOnly(t)
	addr, err := freeLoopback()
	if err != nil {
		t.Fatal(err)
	}
	_, err = startBenchNode(clusterConfig{eurekad: "/bin/false"}, addr, nil)
	if !errors.Is(err, errExitedEarly) || !strings.Contains(err.Error(), "did not start") {
		t.Fatalf("err %v, want a start that failed as the process exited", err)
	}
}

// TestProcStopKills SIGKILLs a process that ignores SIGTERM once the stop
// timeout has passed.
func TestProcStopKills(t *testing.T) {
	linuxOnly(t)
	cmd := exec.Command("sh", "-c", `trap "" TERM; echo ready; while sleep 0.05; do :; done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := startProc(cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.kill()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" { // its trap is set
		t.Fatalf("shell said %q", line)
	}
	killed, err := p.stop(200 * time.Millisecond)
	if err != nil || !killed || !p.exited() {
		t.Errorf("killed %v, err %v, exited %v", killed, err, p.exited())
	}
}
