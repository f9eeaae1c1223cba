package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// proc is one eurekad process eurekabench started. The fleet and cluster
// commands start, wait for and stop their servers with it, so both leave
// no orphan behind and stop a server the same way.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been waited for
	err  error         // its exit status, set before done closes
}

// eurekadCmd is eurekad listening on addr, run in dir, with env added to
// this process's environment.
func eurekadCmd(bin, addr, dir string, env ...string) *exec.Cmd {
	cmd := exec.Command(bin, "--addr", addr)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// startProc starts cmd and waits for it in the background; exited, if not
// nil, runs once it has exited, before done closes.
func startProc(cmd *exec.Cmd, exited func()) (*proc, error) {
	cmd.SysProcAttr = sysProcAttr()
	// Output copied to a non-file writer must not hold Wait forever when
	// the server leaves a child holding the pipe.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if exited != nil {
			exited()
		}
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) kill() {
	if !p.exited() {
		p.cmd.Process.Kill()
	}
}

// stop sends SIGTERM and waits for the exit, SIGKILLing the process after
// timeout (killed). A failed signal kills it at once and is returned.
func (p *proc) stop(timeout time.Duration) (killed bool, err error) {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !p.exited() {
		p.kill()
		<-p.done
		return true, err
	}
	select {
	case <-p.done:
		return false, nil
	case <-time.After(timeout):
		p.kill()
		<-p.done
		return true, nil
	}
}

// errExitedEarly: the process ended before it answered 200.
var errExitedEarly = errors.New("exited before it was ready")

// waitReady GETs url every poll until it answers 200. It gives up with
// errExitedEarly as soon as the process has exited (rather than at the
// timeout), or with the last answer once timeout has passed or ctx ends.
func (p *proc) waitReady(ctx context.Context, client *http.Client, url string, timeout, poll time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		if p.exited() {
			return errExitedEarly
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		var ok bool
		if ok, last = probe(client, req); ok {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not ready after %v: %s", timeout, last)
		}
		time.Sleep(poll)
	}
}

// probe sends req once: ok on 200, else the status or the error, for the
// message of a caller that gives up.
func probe(client *http.Client, req *http.Request) (ok bool, last string) {
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	// A short body is read so the connection is kept for the next try.
	io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, resp.Status
	}
	return true, ""
}

// freeLoopback returns a loopback address with a port free at the time.
func freeLoopback() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// guardServers makes every server a command started die with it: on
// SIGINT or SIGTERM, and at the watchdog after timeout (Linux also kills
// them by the parent-death signal if the command is killed). The returned
// function disarms both.
func guardServers(name string, timeout time.Duration, killAll func()) (disarm func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if s, ok := <-sigs; ok {
			killAll()
			fmt.Fprintf(os.Stderr, "eurekabench: %s: %v; servers killed\n", name, s)
			os.Exit(130)
		}
	}()
	watchdog := time.AfterFunc(timeout, func() {
		killAll()
		fmt.Fprintf(os.Stderr, "eurekabench: watchdog: %s exceeded %v, exiting\n", name, timeout)
		os.Exit(3)
	})
	return func() {
		signal.Stop(sigs)
		watchdog.Stop()
	}
}
