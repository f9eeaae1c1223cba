package proctest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	// Burn some CPU so the count moves from zero.
	before := CPU(t, pid)
	// Burn CPU until the count moves (it moves in 10 ms ticks).
	var after time.Duration
	sum := 0
	for deadline := time.Now().Add(10 * time.Second); after <= before && time.Now().Before(deadline); {
		for i := range 1_000_000 {
			sum += i
		}
		after = CPU(t, pid)
	}
	if after <= before || sum == 0 {
		t.Errorf("CPU %v then %v after burning for 10 s; want it to grow", before, after)
	}
	if rss := RSS(t, pid); rss < 1<<20 {
		t.Errorf("RSS = %d; want at least a MiB", rss)
	}
	if !Alive(pid) {
		t.Error("this process is not alive")
	}
}

func TestChildren(t *testing.T) {
	cmd := exec.Command("sleep", "61")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if c := Child(t, os.Getpid(), "sleep 61"); c.PID != pid || !strings.HasSuffix(c.Cmdline, "sleep 61") {
		t.Errorf("child %+v, want pid %d running sleep 61", c, pid)
	}
	if !Alive(pid) {
		t.Error("the child is not alive")
	}
	cmd.Process.Kill()
	// Killed but not yet reaped: a zombie, not alive.
	cmd.Process.Wait()
	if Alive(pid) {
		t.Error("a reaped child is alive")
	}
}
