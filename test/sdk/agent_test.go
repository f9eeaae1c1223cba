// Package sdk tests the Go SDK's agent and discovery cache against a real
// eurekad process, and benchmarks how fast a registration reaches
// consumers. (The client's tests in this directory are package sdk_test;
// their TestMain removes the eurekad binary for both.)
package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/agent"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// within bounds every "eventually" of these tests: fresh-mode eurekad and
// long-polling caches react in milliseconds, but a loaded machine running
// the race detector can be much slower.
const within = 10 * time.Second

// eventually polls check for up to within.
func eventually(t testing.TB, what string, check func() error) {
	t.Helper()
	eurekadtest.Eventually(t, within, what, check)
}

// testLogger writes the SDK's logs to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// counting counts the records logged with message msg.
type counting struct {
	slog.Handler
	msg string
	n   *atomic.Int32
}

func (h counting) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return h.Handler.Handle(ctx, r)
}

func (h counting) WithAttrs(as []slog.Attr) slog.Handler {
	return counting{h.Handler.WithAttrs(as), h.msg, h.n}
}

func (h counting) WithGroup(name string) slog.Handler {
	return counting{h.Handler.WithGroup(name), h.msg, h.n}
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newClient returns a client for the given base URLs with short timeouts.
func newClient(t testing.TB, bases ...string) *client.Client {
	t.Helper()
	c, err := client.New(client.Options{ServiceURLs: bases, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// instance returns a registrable instance of app with the given id.
func instance(app, id string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID:     id,
		App:            app,
		HostName:       "127.0.0.1",
		IPAddr:         "127.0.0.1",
		Status:         eureka.StatusUp,
		Port:           eureka.Port{Number: 8080, Enabled: true},
		VIPAddress:     strings.ToLower(app),
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		LeaseInfo:      &eureka.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
	}
}

// startAgent runs a in the background; the returned stop cancels it and
// returns Run's result. The agent is also stopped in t.Cleanup.
func startAgent(t testing.TB, a *agent.Agent) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(within):
				err = errors.New("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// serverCopy fetches the server's copy of an instance.
func serverCopy(c *client.Client, app, id string) (*eureka.InstanceInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Instance(ctx, app, id)
}

// TestAgentLifecycle: register, heartbeats that move lastRenewalTimestamp,
// re-registration after the instance was deleted behind the agent's back,
// status and metadata pushes, and deregistration at shutdown.
func TestAgentLifecycle(t *testing.T) {
	s := eurekadtest.Start(t)
	c := newClient(t, s.Base)
	a := agent.New(c, instance("LIFECYCLE", "life-1"), &agent.Options{
		RenewalInterval: 100 * time.Millisecond,
		Logger:          testLogger(t),
	})
	stop := startAgent(t, a)

	var first int64
	eventually(t, "registration visible", func() error {
		in, err := serverCopy(c, "LIFECYCLE", "life-1")
		if err != nil {
			return err
		}
		first = in.LeaseInfo.LastRenewalTimestamp
		return nil
	})
	eventually(t, "lastRenewalTimestamp advancing", func() error {
		in, err := serverCopy(c, "LIFECYCLE", "life-1")
		if err != nil {
			return err
		}
		if in.LeaseInfo.LastRenewalTimestamp <= first {
			return fmt.Errorf("lastRenewalTimestamp %d, registered at %d", in.LeaseInfo.LastRenewalTimestamp, first)
		}
		return nil
	})

	// An operator deletes the instance: the next renewal gets 404 and the
	// agent registers again.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Cancel(ctx, "LIFECYCLE", "life-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := serverCopy(c, "LIFECYCLE", "life-1"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("after DELETE: %v, want ErrNotFound", err)
	}
	eventually(t, "re-registration after DELETE", func() error {
		_, err := serverCopy(c, "LIFECYCLE", "life-1")
		return err
	})

	// Status and metadata changes reach the server through re-registration.
	if err := a.SetStatus(eureka.StatusOutOfService); err != nil {
		t.Fatal(err)
	}
	a.SetMetadata(map[string]string{"version": "2"})
	want := a.Instance().LastDirtyTimestamp
	eventually(t, "status and metadata pushed", func() error {
		in, err := serverCopy(c, "LIFECYCLE", "life-1")
		if err != nil {
			return err
		}
		if in.Status != eureka.StatusOutOfService || in.Metadata["version"] != "2" || in.LastDirtyTimestamp != want {
			return fmt.Errorf("server has status %s, metadata %v, lastDirtyTimestamp %d (want %d)", in.Status, in.Metadata, in.LastDirtyTimestamp, want)
		}
		return nil
	})

	// Back in service: the agent lifts its own override.
	if err := a.SetStatus(eureka.StatusUp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "back UP", func() error {
		in, err := serverCopy(c, "LIFECYCLE", "life-1")
		if err != nil {
			return err
		}
		if in.Status != eureka.StatusUp {
			return fmt.Errorf("server has status %s", in.Status)
		}
		return nil
	})

	// Shutdown deregisters before Run returns.
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := serverCopy(c, "LIFECYCLE", "life-1"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("after shutdown: %v, want ErrNotFound", err)
	}
}

// TestAgentReregistersAfterRestart: a memory-storage server that restarts
// forgets the instance; the agent backs off while the server is down and
// registers again once a renewal gets 404.
func TestAgentReregistersAfterRestart(t *testing.T) {
	s := eurekadtest.Start(t)
	c := newClient(t, s.Base)
	var failures atomic.Int32
	a := agent.New(c, instance("RESTART", "restart-1"), &agent.Options{
		RenewalInterval:      100 * time.Millisecond,
		MaxBackoffMultiplier: 4,
		Logger:               slog.New(counting{testLogger(t).Handler(), "heartbeat failed; backing off", &failures}),
	})
	startAgent(t, a)
	eventually(t, "registration visible", func() error {
		_, err := serverCopy(c, "RESTART", "restart-1")
		return err
	})

	s.Kill()
	eventually(t, "a few failed heartbeats", func() error {
		if n := failures.Load(); n < 3 {
			return fmt.Errorf("%d failed heartbeats", n)
		}
		return nil
	})
	s2 := eurekadtest.StartAt(t, s.Addr)
	c2 := newClient(t, s2.Base)
	start := time.Now()
	eventually(t, "re-registration on the restarted server", func() error {
		_, err := serverCopy(c2, "RESTART", "restart-1")
		return err
	})
	// The back-off is capped at 4 × 100 ms, so the agent is back within
	// about one capped wait.
	t.Logf("re-registered %v after the restarted server answered", time.Since(start).Round(time.Millisecond))
}

// TestAgentDeregisterWithServerDown: shutdown does not hang when the
// server is gone; Run reports the failed deregistration.
func TestAgentDeregisterWithServerDown(t *testing.T) {
	s := eurekadtest.Start(t)
	a := agent.New(newClient(t, s.Base), instance("DOWNSERVER", "down-1"), &agent.Options{
		CancelTimeout: 500 * time.Millisecond,
		Logger:        testLogger(t),
	})
	stop := startAgent(t, a)
	eventually(t, "registered", func() error {
		if !a.Registered() {
			return errors.New("not yet")
		}
		return nil
	})
	s.Kill()
	start := time.Now()
	err := stop()
	if err == nil {
		t.Error("Run returned nil although the deregistration failed")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
}
