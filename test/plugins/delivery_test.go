package plugins

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/proctest"
)

// received is one event as a listener wrote it down: the fields of
// hook.Event that accounting needs, in the listener plugin's JSON and in
// the webhook's.
type received struct {
	Seq        uint64 `json:"seq"`
	Type       string `json:"type"`
	Dropped    uint64 `json:"dropped"`
	InstanceID string `json:"instanceId"`
}

// account checks that what a listener received, in order, explains every
// event eurekad published to it: each seq from 1 on is received, or lost
// and announced by the gap event after it (whose count is exactly the seqs
// since the last one received). A seq received again is a redelivery,
// allowed. It returns the events received (each once) and the total the
// gaps announced.
func account(evs []received) (got map[uint64]received, announced uint64, err error) {
	got = map[uint64]received{}
	var last uint64
	for _, e := range evs {
		switch {
		case e.Type == "gap":
			if e.Seq <= last || e.Dropped != e.Seq-last {
				return nil, 0, fmt.Errorf("gap at seq %d of %d after seq %d", e.Seq, e.Dropped, last)
			}
			announced += e.Dropped
			last = e.Seq
		case e.Seq <= last:
			if _, ok := got[e.Seq]; !ok {
				return nil, 0, fmt.Errorf("seq %d again after %d, but it was announced lost", e.Seq, last)
			}
		case e.Seq != last+1:
			return nil, 0, fmt.Errorf("seq %d after seq %d without a gap event: %d events lost silently", e.Seq, last, e.Seq-last-1)
		default:
			got[e.Seq] = e
			last = e.Seq
		}
	}
	return got, announced, nil
}

// listenerCounts reads the listener's delivered and dropped counters from
// /metrics (eurekad runs a single listener in these tests).
func listenerCounts(t *testing.T, s *eurekadtest.Server) (delivered, dropped uint64) {
	t.Helper()
	_, body := call(t, "", "", "GET", "http://"+s.Addr+"/metrics", "")
	value := func(name string) uint64 {
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, name+"{") {
				v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				if err != nil {
					t.Fatalf("metrics line %q: %v", line, err)
				}
				return uint64(v)
			}
		}
		t.Fatalf("no %s in /metrics", name)
		return 0
	}
	return value("eurekad_listener_events_delivered_total"), value("eurekad_listener_events_dropped_total")
}

// register registers instances ORDERS/<prefix>NNNN one after another until
// stop is closed, and returns how many were acknowledged.
func register(t *testing.T, s *eurekadtest.Server, prefix string, stop <-chan struct{}) (ids []string) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return ids
		default:
		}
		id := fmt.Sprintf("%s%05d", prefix, i)
		code, body, err := tryCall("", "", "POST", s.Base+"apps/ORDERS", instanceJSON("ORDERS", id))
		if err != nil || code != 204 {
			t.Errorf("register %s: %d %s %v", id, code, body, err)
			return ids
		}
		ids = append(ids, id)
	}
}

// settle waits until the listener received the last registration and what
// it received agrees exactly with eurekad's counters, then checks that
// every acknowledged registration reached it or lies in an announced gap.
func settle(t *testing.T, s *eurekadtest.Server, read func() []received, ids []string) (delivered, dropped uint64) {
	t.Helper()
	last := ids[len(ids)-1]
	var got map[uint64]received
	eurekadtest.Eventually(t, 90*time.Second, "the listener's account to balance", func() error {
		evs := read()
		var announced uint64
		var err error
		if got, announced, err = account(evs); err != nil {
			t.Fatal(err) // a silent loss never heals
		}
		delivered, dropped = listenerCounts(t, s)
		found := false
		for _, e := range got {
			found = found || e.InstanceID == last
		}
		switch {
		case !found:
			return fmt.Errorf("%s not received yet", last)
		case delivered != uint64(len(got)) || dropped != announced:
			return fmt.Errorf("listener has %d events and gaps of %d; eurekad counts %d delivered, %d dropped",
				len(got), announced, delivered, dropped)
		}
		return nil
	})
	if dropped == 0 {
		byID := map[string]bool{}
		for _, e := range got {
			if e.Type == "registered" {
				byID[e.InstanceID] = true
			}
		}
		for _, id := range ids {
			if !byID[id] {
				t.Fatalf("registration %s acknowledged, nothing dropped, yet never delivered", id)
			}
		}
	}
	return delivered, dropped
}

// A listener plugin killed with SIGKILL twice while events flow: every
// event is delivered (the batches it failed are retried until its restart
// takes them) or counted as dropped and announced; the test counts them.
func TestListenerPluginKilledEveryEventAccountedFor(t *testing.T) {
	bin := eurekadtest.BuildPackage(t, "./examples/listener-plugin")
	file := filepath.Join(t.TempDir(), "events.jsonl")
	env := eurekadtest.WriteConfig(t, fmt.Sprintf("plugins:\n  listeners:\n    - plugin: %s\n      config: {file: %s}\n", bin, file))
	s := eurekadtest.Start(t, env)
	read := func() []received {
		b, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var out []received
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			// hook.Event's JSON; field names match case-insensitively.
			var e received
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			out = append(out, e)
		}
		return out
	}

	stop := make(chan struct{})
	done := make(chan []string)
	go func() { done <- register(t, s, "k", stop) }()
	for kill := range 2 {
		before := len(read())
		waitFor(t, "events to flow", 30*time.Second, func() bool { return len(read()) >= before+500 })
		p := proctest.Child(t, s.PID(), bin)
		if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("restart %d", kill+1), 30*time.Second, func() bool {
			for _, c := range proctest.Children(t, s.PID()) {
				if strings.Contains(c.Cmdline, bin) && c.PID != p.PID {
					return true
				}
			}
			return false
		})
	}
	before := len(read())
	waitFor(t, "events to flow after the restarts", 30*time.Second, func() bool { return len(read()) >= before+500 })
	close(stop)
	ids := <-done
	delivered, dropped := settle(t, s, read, ids)
	t.Logf("%d registrations; listener killed twice: %d events delivered, %d dropped and announced", len(ids), delivered, dropped)
}

// A webhook receiver down for 15 s while events flow: batches that fail
// past retry_for are dropped, counted and announced by a gap once it is
// back; the test counts every event.
func TestWebhookReceiverDownEveryEventAccountedFor(t *testing.T) {
	var (
		mu   sync.Mutex
		evs  []received
		down atomic.Bool
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			// Down: the connection breaks before any answer.
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		var body struct{ Events []received }
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		evs = append(evs, body.Events...)
		mu.Unlock()
	}))
	defer recv.Close()
	read := func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), evs...)
	}
	// Each Handle makes two quick attempts; the bus retries a failed batch
	// for 2 s, so an outage of 15 s drops batches.
	env := eurekadtest.WriteConfig(t, fmt.Sprintf(`plugins:
  listeners:
    - plugin: webhook
      retry_for: 2s
      config: {url: %q, max_attempts: 2, initial_backoff: 50ms, max_backoff: 100ms, timeout: 2s}
`, recv.URL))
	s := eurekadtest.Start(t, env)

	stop := make(chan struct{})
	done := make(chan []string)
	go func() { done <- register(t, s, "w", stop) }()
	waitFor(t, "events to flow", 30*time.Second, func() bool { return len(read()) >= 500 })
	down.Store(true)
	start := time.Now()
	// The outage lasts as long as the issue measured; the registrations go
	// on meanwhile.
	<-time.After(15 * time.Second)
	down.Store(false)
	outage := time.Since(start)
	before := len(read())
	waitFor(t, "events to flow after the outage", 60*time.Second, func() bool { return len(read()) >= before+500 })
	close(stop)
	ids := <-done
	delivered, dropped := settle(t, s, read, ids)
	if dropped == 0 {
		t.Fatalf("a %v outage with retry_for 2s dropped nothing", outage)
	}
	t.Logf("%d registrations; receiver down %v: %d events delivered, %d dropped and announced", len(ids), outage.Round(time.Second), delivered, dropped)
}
