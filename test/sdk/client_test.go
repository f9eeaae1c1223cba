// Package sdk_test runs the Go SDK against real eurekad processes started
// by internal/eurekadtest.
package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

func TestMain(m *testing.M) {
	code := m.Run()
	eurekadtest.RemoveBinary()
	os.Exit(code)
}

func newClient(t *testing.T, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func instance(app, id string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID: id, App: app, HostName: "10.0.0.5", IPAddr: "10.0.0.5",
		Status: eureka.StatusUp, Port: eureka.Port{Number: 8080, Enabled: true},
		SecurePort: eureka.Port{Number: 8443, Enabled: true},
		VIPAddress: strings.ToLower(app), SecureVIPAddress: strings.ToLower(app) + "-secure",
		DataCenterInfo:     &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		LeaseInfo:          &eureka.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
		Metadata:           map[string]string{"zone": "a"},
		LastDirtyTimestamp: time.Now().UnixMilli(),
	}
}

// findInstance returns the instance with id in apps, or nil.
func findInstance(apps *eureka.Applications, id string) *eureka.InstanceInfo {
	for _, a := range apps.Applications {
		for _, in := range a.Instances {
			if in.InstanceID == id {
				return in
			}
		}
	}
	return nil
}

// TestLifecycle walks one instance through every call, in JSON and XML.
func TestLifecycle(t *testing.T) {
	s := eurekadtest.Start(t)
	for _, xml := range []bool{false, true} {
		name := "json"
		if xml {
			name = "xml"
		}
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			c := newClient(t, client.Options{ServiceURLs: []string{s.BaseV2}, XML: xml})
			app := "ORDERS-" + strings.ToUpper(name)
			id := "10.0.0.5/" + name + ":orders:8080" // "/" must survive the path
			in := instance(app, id)

			if err := c.Renew(ctx, app, id, 0); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("renew before register: %v", err)
			}
			if err := c.Register(ctx, in); err != nil {
				t.Fatal(err)
			}
			got, err := c.Instance(ctx, strings.ToLower(app), id)
			if err != nil {
				t.Fatal(err)
			}
			if got.InstanceID != id || got.App != app || got.Status != eureka.StatusUp || got.Metadata["zone"] != "a" || got.Port.Number != 8080 {
				t.Fatalf("read back %+v", got)
			}
			if got, err := c.InstanceByID(ctx, id); err != nil || got.App != app {
				t.Fatalf("instance by id: %+v %v", got, err)
			}
			// Cached reads follow a write within the cache's rebuild
			// interval, so they are polled.
			eurekadtest.Eventually(t, 10*time.Second, "the application", func() error {
				if a, err := c.Application(ctx, app); err != nil || a.Name != app || len(a.Instances) != 1 {
					return fmt.Errorf("application: %+v %v", a, err)
				}
				return nil
			})
			eurekadtest.Eventually(t, 10*time.Second, "the full registry", func() error {
				if apps, err := c.Applications(ctx); err != nil || findInstance(apps, id) == nil || apps.AppsHashcode == "" {
					return fmt.Errorf("applications: %+v %v", apps, err)
				}
				return nil
			})
			if err := c.Renew(ctx, app, id, in.LastDirtyTimestamp); err != nil {
				t.Fatalf("renew: %v", err)
			}
			if err := c.Renew(ctx, app, id, in.LastDirtyTimestamp+1000); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("renew with a newer dirty timestamp: %v", err)
			}

			// Status override and its removal.
			if err := c.SetStatus(ctx, app, id, eureka.StatusOutOfService, 0); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Instance(ctx, app, id); err != nil || got.OverriddenStatus != eureka.StatusOutOfService {
				t.Fatalf("after override: %+v %v", got, err)
			} else if !xml && got.Status != eureka.StatusOutOfService {
				// (XML instance reads show OUT_OF_SERVICE as DOWN, §2.10.)
				t.Fatalf("status after override: %s", got.Status)
			}
			if err := c.DeleteStatusOverride(ctx, app, id, eureka.StatusUp, 0); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Instance(ctx, app, id); err != nil || got.Status != eureka.StatusUp || got.OverriddenStatus != eureka.StatusUnknown {
				t.Fatalf("after override removal: %+v %v", got, err)
			}
			if err := c.DeleteStatusOverride(ctx, app, id, "", 0); err != nil {
				t.Fatal(err)
			}

			// Metadata.
			if err := c.UpdateMetadata(ctx, app, id, map[string]string{"version": "1.2", "zone": "b"}); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Instance(ctx, app, id); err != nil || got.Metadata["version"] != "1.2" || got.Metadata["zone"] != "b" {
				t.Fatalf("after metadata: %+v %v", got, err)
			}

			// VIPs and delta.
			eurekadtest.Eventually(t, 10*time.Second, "the VIPs", func() error {
				vip, err := c.VIP(ctx, strings.ToLower(app))
				if err != nil || findInstance(vip, id) == nil || vip.VersionsDelta != -1 {
					return fmt.Errorf("vip: %+v %v", vip, err)
				}
				if svip, err := c.SVIP(ctx, strings.ToLower(app)+"-secure"); err != nil || findInstance(svip, id) == nil {
					return fmt.Errorf("svip: %+v %v", svip, err)
				}
				return nil
			})
			if none, err := c.VIP(ctx, "no-such-vip"); err != nil || len(none.Applications) != 0 {
				t.Fatalf("unknown vip: %+v %v", none, err)
			}
			eurekadtest.Eventually(t, 10*time.Second, "the delta", func() error {
				if d, err := c.Delta(ctx); err != nil || findInstance(d, id) == nil {
					return fmt.Errorf("delta: %+v %v", d, err)
				}
				return nil
			})

			// Errors.
			bad := instance(app, "bad")
			bad.HostName = ""
			var e *client.Error
			if err := c.Register(ctx, bad); !errors.Is(err, client.ErrBadRequest) || !errors.As(err, &e) || !strings.Contains(string(e.Body), "Missing hostname") {
				t.Fatalf("invalid register: %v", err)
			}
			if err := c.SetStatus(ctx, app, "nobody", eureka.StatusDown, 0); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("status of unknown: %v", err)
			}
			if _, err := c.Application(ctx, "NO-SUCH-APP"); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("unknown app: %v", err)
			}

			// Cancel.
			if err := c.Cancel(ctx, app, id); err != nil {
				t.Fatal(err)
			}
			if err := c.Renew(ctx, app, id, 0); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("renew after cancel: %v", err)
			}
			if _, err := c.Instance(ctx, app, id); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("instance after cancel: %v", err)
			}
			if err := c.Cancel(ctx, app, id); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("second cancel: %v", err)
			}
		})
	}
}

// TestPollLongPoll holds a conditional fetch until a change, and answers
// 304 when the wait ends without one.
func TestPollLongPoll(t *testing.T) {
	s := eurekadtest.Start(t)
	ctx := testCtx(t)
	c := newClient(t, client.Options{ServiceURLs: []string{s.Base}})
	writer := newClient(t, client.Options{ServiceURLs: []string{s.Base}})

	for _, delta := range []bool{false, true} {
		first, err := c.Poll(ctx, client.PollRequest{Delta: delta})
		if err != nil || first.ETag == "" || first.Apps == nil {
			t.Fatalf("first poll: %+v %v", first, err)
		}

		// No change: 304 once the wait is over.
		start := time.Now()
		res, err := c.Poll(ctx, client.PollRequest{Delta: delta, ETag: first.ETag, Wait: 300 * time.Millisecond})
		d := time.Since(start)
		if err != nil || !res.NotModified || res.Apps != nil || res.ETag != first.ETag {
			t.Fatalf("unchanged: %+v %v", res, err)
		}
		if d < 250*time.Millisecond || d > 5*time.Second {
			t.Fatalf("a 300ms long-poll answered after %v", d)
		}

		// A change ends the wait at once.
		type result struct {
			res client.PollResult
			err error
			at  time.Time
		}
		done := make(chan result, 1)
		go func() {
			res, err := c.Poll(ctx, client.PollRequest{Delta: delta, ETag: first.ETag, Wait: 20 * time.Second})
			done <- result{res, err, time.Now()}
		}()
		select {
		case r := <-done:
			t.Fatalf("long-poll answered before any change: %+v %v", r.res, r.err)
		case <-time.After(200 * time.Millisecond):
		}
		id := "lp-" + strconv.FormatBool(delta)
		changed := time.Now()
		if err := writer.Register(ctx, instance("LONGPOLL", id)); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || r.res.NotModified || r.res.Apps == nil || r.res.ETag == first.ETag || findInstance(r.res.Apps, id) == nil {
			t.Fatalf("after change: %+v %v", r.res, r.err)
		}
		lat := r.at.Sub(changed)
		t.Logf("delta=%v: change seen by the long-poll %v after the register started", delta, lat)
		// About 5-20 ms here; the bound leaves room for -race on a loaded
		// two-core machine.
		if lat > 250*time.Millisecond {
			t.Errorf("long-poll returned %v after the change, want about 50ms", lat)
		}
	}
}

// TestPollWithoutLongPoll: with long-polling disabled on the server a Poll
// with a wait returns at once, so plain polling still works.
func TestPollWithoutLongPoll(t *testing.T) {
	s := eurekadtest.Start(t, "EUREKAD_HTTP_MAX_LONG_POLL=0")
	ctx := testCtx(t)
	c := newClient(t, client.Options{ServiceURLs: []string{s.Base}})
	first, err := c.Poll(ctx, client.PollRequest{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := c.Poll(ctx, client.PollRequest{ETag: first.ETag, Wait: 10 * time.Second})
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("poll held for %v with long-poll disabled", d)
	}
	if err != nil || (first.ETag != "" && !res.NotModified) {
		t.Fatalf("%+v %v", res, err)
	}
	if err := c.Register(ctx, instance("PLAIN", "p-1")); err != nil {
		t.Fatal(err)
	}
	// Plain polling: the change shows up within a few polls (the fresh
	// cache rebuilds within milliseconds).
	eurekadtest.Eventually(t, 5*time.Second, "the change seen by plain polling", func() error {
		res, err = c.Poll(ctx, client.PollRequest{ETag: first.ETag, Wait: 10 * time.Second})
		if err == nil && res.NotModified {
			err = errors.New("304: not modified")
		}
		return err
	})
	if findInstance(res.Apps, "p-1") == nil || res.ETag == first.ETag {
		t.Fatalf("after a change: %+v", res)
	}
}

// TestFailover runs three servers, the first stopped: calls go to the
// second; when it stops too they go to the third, where the 404 of the
// heartbeat leads to a re-registration.
func TestFailover(t *testing.T) {
	s1 := eurekadtest.Start(t)
	s2 := eurekadtest.Start(t)
	s3 := eurekadtest.Start(t)
	s1.Stop()
	ctx := testCtx(t)
	c := newClient(t, client.Options{ServiceURLs: []string{s1.Base, s2.Base, s3.Base}, Timeout: 5 * time.Second})
	only := func(s *eurekadtest.Server) *client.Client {
		return newClient(t, client.Options{ServiceURLs: []string{s.Base}})
	}
	in := instance("FAILOVER", "f-1")
	if err := c.Register(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := only(s2).Instance(ctx, in.App, in.InstanceID); err != nil {
		t.Fatalf("registration not on the second server: %v", err)
	}
	if _, err := only(s3).Instance(ctx, in.App, in.InstanceID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("registration on the third server too: %v", err)
	}
	if err := c.Renew(ctx, in.App, in.InstanceID, 0); err != nil {
		t.Fatal(err)
	}

	s2.Stop()
	err := c.Renew(ctx, in.App, in.InstanceID, 0)
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("renew on the third server: %v", err)
	}
	if err := c.Register(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := only(s3).Instance(ctx, in.App, in.InstanceID); err != nil {
		t.Fatalf("re-registration not on the third server: %v", err)
	}
	if apps, err := c.Applications(ctx); err != nil || findInstance(apps, in.InstanceID) == nil {
		t.Fatalf("applications: %+v %v", apps, err)
	}

	s3.Stop()
	if _, err := c.Applications(ctx); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("all servers down: %v", err)
	}
}
