package e2e

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hudl/fargo"

	"github.com/eurekad/eurekad/sdk/agent"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/discovery"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// poll calls fetch every period until the returned stop is called; stop
// waits for the loop to end, so no fetch happens after it returns.
func poll(period time.Duration, fetch func()) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			fetch()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// rawReader polls GET apps as a stock client named by its User-Agent.
func rawReader(s *server, agent string, period time.Duration) (stop func()) {
	return poll(period, func() {
		tryDo("GET", s.Base+"apps/", nil, "Accept", "application/json", "User-Agent", agent)
	})
}

// readerView finds a reader in the propagation view.
func readerView(p *client.Propagation, name string) (client.Reader, bool) {
	i := slices.IndexFunc(p.Readers, func(r client.Reader) bool { return r.Name == name })
	if i < 0 {
		return client.Reader{}, false
	}
	return p.Readers[i], true
}

var propagationCount = regexp.MustCompile(`(?m)^eurekad_propagation_seconds_count (\d+)$`)

func propagationObservations(t *testing.T, s *server) int {
	t.Helper()
	m := propagationCount.FindStringSubmatch(do(t, "GET", "http://"+s.Addr+"/metrics", nil).Text(t))
	if m == nil {
		t.Fatal("no eurekad_propagation_seconds in /metrics")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestDrainWaitsForReaders runs real readers against eurekad: fargo
// polling every second, eureka-js-client fetching deltas every second (its
// own timer), the Go SDK's discovery cache long-polling and another
// polling every 2 s, and raw clients that stop. A drain answers
// once each active reader has fetched the change, within the slowest
// poller's period plus a second; a reader idle before the drain is not
// waited for; a reader that pauses makes the drain time out naming it.
func TestDrainWaitsForReaders(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := client.New(client.Options{ServiceURLs: []string{s.Base}, ClientID: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"o-1", "o-2"} {
		in := &eureka.InstanceInfo{InstanceID: id, HostName: id + ".local", App: "ORDERS", IPAddr: "10.0.0.1", VIPAddress: "orders",
			Status: eureka.StatusUp, Port: eureka.Port{Number: 8080, Enabled: true}, DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}}
		if err := admin.Register(ctx, in); err != nil {
			t.Fatal(err)
		}
	}

	conn := fargo.NewConn(strings.TrimSuffix(s.Base, "/"))
	defer poll(time.Second, func() { conn.GetApps() })()
	const fargoName = "127.0.0.1 Go-http-client/1.1"
	for _, c := range []struct {
		id string
		o  *discovery.Options
	}{
		{"sdk-longpoll", nil},
		{"sdk-poll-2s", &discovery.Options{FetchInterval: 2 * time.Second, DisableLongPoll: true}},
	} {
		cl, err := client.New(client.Options{ServiceURLs: []string{s.Base}, ClientID: c.id})
		if err != nil {
			t.Fatal(err)
		}
		go discovery.New(cl, c.o).Run(ctx)
	}
	// eureka-js-client sends no User-Agent: it is known by its address
	// alone, which no other reader here shares without a User-Agent.
	_, port, _ := strings.Cut(s.Addr, ":")
	jsReader := startJSScenario(t, port, "ORDERS", "orders", "JS_SCENARIO=reader")
	const jsName = "127.0.0.1 "
	stopIdle := rawReader(s, "idle-reader", 200*time.Millisecond)
	paused := rawReader(s, "paused-reader", time.Second)

	view := func() *client.Propagation {
		p, err := admin.Propagation(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Every reader known, the pollers with an interval, nobody behind.
	jsReader.summary(t, "ready")
	eventually(t, "readers tracked", func() error {
		p := view()
		for _, n := range []string{fargoName, jsName, "sdk-poll-2s", "127.0.0.1 idle-reader", "127.0.0.1 paused-reader"} {
			if r, ok := readerView(p, n); !ok || r.Fetches < 2 {
				return fmt.Errorf("%s not polling yet: %+v", n, p.Readers)
			}
		}
		if _, ok := readerView(p, "sdk-longpoll"); !ok || len(p.Behind) > 0 {
			return fmt.Errorf("long-poller missing or readers behind: %+v", p)
		}
		return nil
	})
	stopIdle()
	eventually(t, "idle reader inactive", func() error {
		if r, _ := readerView(view(), "127.0.0.1 idle-reader"); r.Active {
			return fmt.Errorf("still active: %+v", r)
		}
		return nil
	})

	before := propagationObservations(t, s)
	start := time.Now()
	res, err := admin.Drain(ctx, "ORDERS", "o-1", client.DrainOptions{Timeout: 20 * time.Second})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("drain: %v (%+v)", err, res)
	}
	var confirmed []string
	for _, r := range res.Confirmed {
		confirmed = append(confirmed, r.Name)
		if r.LastFetch.Before(start) {
			t.Errorf("%s confirmed without fetching after the drain: %+v", r.Name, r)
		}
	}
	slices.Sort(confirmed)
	want := []string{"127.0.0.1 paused-reader", fargoName, jsName, "sdk-longpoll", "sdk-poll-2s"}
	slices.Sort(want)
	if !slices.Equal(confirmed, want) {
		t.Fatalf("confirmed %v, want %v (idle reader not waited for)", confirmed, want)
	}
	// The slowest poller fetches every 2 s: the drain waits for its next
	// fetch and no longer.
	if took > 3*time.Second {
		t.Fatalf("drain took %v, want under the 2 s poll period plus 1 s", took)
	}
	t.Logf("drain confirmed by %d readers in %v", len(confirmed), took)
	if got := propagationObservations(t, s) - before; got != len(want) {
		t.Fatalf("%d propagation observations for one change and %d readers", got, len(want))
	}

	// The JS client's own cache holds the change it confirmed.
	if seen := jsReader.finish(t).Seen; seen["o-1"] != "OUT_OF_SERVICE" || seen["o-2"] != "UP" {
		t.Fatalf("eureka-js-client's cache after the drain: %v, want o-1 OUT_OF_SERVICE and o-2 UP", seen)
	}
	// Stopped, it is idle after two of its intervals and not waited for.
	eventually(t, "js reader inactive", func() error {
		if r, _ := readerView(view(), jsName); r.Active {
			return fmt.Errorf("still active: %+v", r)
		}
		return nil
	})

	// A paused reader is waited for until the timeout (past the 2 s
	// poller's next fetch), and named.
	paused()
	res, err = admin.Drain(ctx, "ORDERS", "", client.DrainOptions{Cancel: true, Timeout: 3500 * time.Millisecond})
	if !errors.Is(err, client.ErrNotConfirmed) || res == nil {
		t.Fatalf("drain with a paused reader: %v %+v", err, res)
	}
	if len(res.Pending) != 1 || res.Pending[0].Name != "127.0.0.1 paused-reader" || !res.TimedOut || len(res.IDs) != 2 {
		t.Fatalf("pending %+v, want only the paused reader; ids %v", res.Pending, res.IDs)
	}
	if _, err := admin.Application(ctx, "ORDERS"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("after the cancel drain ORDERS is still there: %v", err)
	}
}

// agent.Drain, both ways: with admin rights (a loopback caller of a server
// without an admin token) it uses the server's drain call; against a server
// whose admin token it lacks it sets OUT_OF_SERVICE with the Eureka call and
// watches the propagation view. Either way it returns once the active
// reader fetched the change, and the instance is served out of service.
func TestAgentDrain(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		env   []string
		admin bool // the server's drain call answered (it names its timeout)
	}{
		{"admin drain", nil, true},
		{"status and propagation", []string{"EUREKAD_HTTP_ADMIN_TOKEN=an-admin-token-the-agent-lacks"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t, c.env...)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cl, err := client.New(client.Options{ServiceURLs: []string{s.Base}, ClientID: "drained-service"})
			if err != nil {
				t.Fatal(err)
			}
			in := &eureka.InstanceInfo{InstanceID: "a-1", HostName: "a-1.local", App: "ORDERS", IPAddr: "10.0.0.1", VIPAddress: "orders",
				Status: eureka.StatusUp, Port: eureka.Port{Number: 8080, Enabled: true}, DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}}
			a := agent.New(cl, in, nil)
			go a.Run(ctx)
			eventually(t, "registered", func() error {
				_, err := cl.Instance(ctx, "ORDERS", "a-1")
				return err
			})
			defer rawReader(s, "drain-reader", 300*time.Millisecond)()
			const reader = "127.0.0.1 drain-reader"
			eventually(t, "reader tracked", func() error {
				p, err := cl.Propagation(ctx, "")
				if err != nil {
					return err
				}
				if r, ok := readerView(p, reader); !ok || r.Fetches < 2 || !r.Active {
					return fmt.Errorf("reader not polling yet: %+v", p.Readers)
				}
				return nil
			})
			res, err := a.Drain(ctx)
			if err != nil {
				t.Fatalf("drain: %v (%+v)", err, res)
			}
			confirmed := false
			for _, r := range res.Confirmed {
				confirmed = confirmed || r.Name == reader
			}
			if !confirmed || len(res.Pending) > 0 {
				t.Fatalf("drain answered without the reader: %+v", res)
			}
			if byServer := res.TimeoutSeconds > 0; byServer != c.admin {
				t.Fatalf("drain answered by the server's call: %v, want %v (%+v)", byServer, c.admin, res)
			}
			got, err := cl.Instance(ctx, "ORDERS", "a-1")
			if err != nil || got.Status != eureka.StatusOutOfService {
				t.Fatalf("after the drain: %v %+v", err, got)
			}
		})
	}
}
