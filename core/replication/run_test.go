package replication

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// fakePeer is a peer behind an in-memory transport, so the sender runs in
// a synctest bubble: each batch is answered after flight (fake time), or
// refused like a closed port while refuse is set.
type fakePeer struct {
	flight time.Duration
	refuse atomic.Bool
	// reg, when set, is the peer's registry: batches are applied to it.
	reg *registry.Registry

	mu      sync.Mutex
	batches []fakeBatch
	probes  int
}

// fakeBatch is a non-empty batch as the peer got it.
type fakeBatch struct {
	at  time.Time
	ids []string
}

func (f *fakePeer) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.refuse.Load() {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	items, err := eureka.DecodeReplicationListJSON(b)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if len(items) == 0 {
		f.probes++
	} else {
		fb := fakeBatch{at: time.Now()}
		for _, it := range items {
			fb.ids = append(fb.ids, it.ID)
		}
		f.batches = append(f.batches, fb)
	}
	f.mu.Unlock()
	time.Sleep(f.flight)
	var res []eureka.ReplicationResult
	if f.reg != nil {
		res = applyBatch(f.reg, items)
	} else {
		res = make([]eureka.ReplicationResult, len(items))
		for i := range res {
			res[i].StatusCode = http.StatusOK
		}
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(eureka.AppendReplicationResponseJSON(nil, res))),
		Request:    r,
	}, nil
}

func (f *fakePeer) sent() []fakeBatch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeBatch(nil), f.batches...)
}

// runFakePeer starts a Peer replicating reg to f with the default options
// (changed by mod); the peer stops when the test (bubble) ends.
func runFakePeer(t *testing.T, reg *registry.Registry, f *fakePeer, mod func(*Options)) *Peer {
	t.Helper()
	o := DefaultOptions()
	o.RetryBackoff = 100 * time.Millisecond
	o.MaxBackoff = time.Second
	if mod != nil {
		mod(&o)
	}
	c, err := client.New(client.Options{
		ServiceURLs: []string{"http://peer.test/eureka/"},
		HTTPClient:  &http.Client{Transport: f},
		Timeout:     o.PeerTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer("http://peer.test/eureka/", c, reg, &o, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

func registered(reg *registry.Registry, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "i-" + strconv.Itoa(i)
		reg.Register(&eureka.InstanceInfo{
			InstanceID: ids[i], HostName: "h", App: "ORDERS", Status: eureka.StatusUp,
			DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		}, false)
	}
	return ids
}

// A change to an idle peer leaves at once, not after Eureka's 500 ms
// batch delay: on the bubble's clock it reaches the peer at the instant
// it was queued, and each lone change goes in its own batch.
func TestLoneChangeLeavesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := registry.New(nil)
		f := &fakePeer{flight: 2 * time.Millisecond}
		p := runFakePeer(t, reg, f, nil)
		ids := registered(reg, 3)
		time.Sleep(time.Second) // the first probe is answered; the pipe is idle
		var queued []time.Time
		for _, id := range ids {
			queued = append(queued, time.Now())
			p.enqueue(eureka.ReplicateRegister, "ORDERS", id, nanotime())
			synctest.Wait()
			time.Sleep(time.Second) // idle again
		}
		got := f.sent()
		if len(got) != len(ids) {
			t.Fatalf("%d batches for %d lone changes: %+v", len(got), len(ids), got)
		}
		for i, b := range got {
			if d := b.at.Sub(queued[i]); d != 0 || len(b.ids) != 1 || b.ids[0] != ids[i] {
				t.Errorf("batch %d: %v reached the peer %v after it was queued, want [%s] at once", i, b.ids, d, ids[i])
			}
		}
		if st := p.Stats(); st.Sent != 3 || st.QueueLength != 0 || st.Lag != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
}

// Changes queued while a batch is in flight, or within BatchInterval of
// the last batch, gather and leave together in batches of at most
// BatchSize, in order. A full batch leaves as soon as the one before is
// answered; one that is not full also waits for BatchInterval to pass
// since the last one left.
func TestChangesGatherWhileABatchIsInFlight(t *testing.T) {
	const ms = time.Millisecond
	for _, c := range []struct {
		name             string
		flight, interval time.Duration
		at               []time.Duration // when each batch leaves
	}{
		{"group commit", 10 * ms, 0, []time.Duration{0, 10 * ms, 20 * ms, 30 * ms}},
		{"paced", 2 * ms, 10 * ms, []time.Duration{0, 2 * ms, 4 * ms, 14 * ms}},
		{"peer slower than the pace", 25 * ms, 10 * ms, []time.Duration{0, 25 * ms, 50 * ms, 75 * ms}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := registry.New(nil)
				f := &fakePeer{flight: c.flight}
				p := runFakePeer(t, reg, f, func(o *Options) { o.BatchSize, o.BatchInterval = 100, c.interval })
				ids := registered(reg, 231)
				time.Sleep(time.Second) // past the first probe
				start := time.Now()
				p.enqueue(eureka.ReplicateRegister, "ORDERS", ids[0], nanotime())
				synctest.Wait() // the first batch is in flight
				for _, id := range ids[1:] {
					p.enqueue(eureka.ReplicateRegister, "ORDERS", id, nanotime())
				}
				time.Sleep(time.Second)
				got := f.sent()
				wantSizes := []int{1, 100, 100, 30}
				if len(got) != len(wantSizes) {
					t.Fatalf("%d batches, want sizes %v", len(got), wantSizes)
				}
				var order []string
				for i, b := range got {
					if len(b.ids) != wantSizes[i] || b.at.Sub(start) != c.at[i] {
						t.Errorf("batch %d: %d items at +%v, want %d at +%v", i, len(b.ids), b.at.Sub(start), wantSizes[i], c.at[i])
					}
					order = append(order, b.ids...)
				}
				if strings.Join(order, ",") != strings.Join(ids, ",") {
					t.Errorf("delivered out of order: %v", order)
				}
			})
		})
	}
}

// MaxBatchDelay brings Eureka's wait back: a lone change waits for it.
func TestMaxBatchDelayHoldsALoneChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := registry.New(nil)
		f := &fakePeer{}
		p := runFakePeer(t, reg, f, func(o *Options) { o.MaxBatchDelay = 500 * time.Millisecond })
		ids := registered(reg, 1)
		synctest.Wait()
		start := time.Now()
		p.enqueue(eureka.ReplicateRegister, "ORDERS", ids[0], nanotime())
		time.Sleep(time.Second)
		if got := f.sent(); len(got) != 1 || got[0].at.Sub(start) != 500*time.Millisecond {
			t.Errorf("batches %+v, want one 500ms after the change", got)
		}
	})
}

// A peer refusing connections counts every failed request, probes and
// batches alike, and shows the error; once it accepts again the queued
// change is delivered, the error is cleared and the last failure is kept
// with its time.
func TestRefusedPeerCountsFailuresThenClearsTheError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := registry.New(nil)
		f := &fakePeer{}
		f.refuse.Store(true)
		p := runFakePeer(t, reg, f, nil)
		ids := registered(reg, 1)
		synctest.Wait()
		st := p.Stats()
		if st.Failed != 1 || st.Available || !strings.Contains(st.LastError, "connection refused") ||
			st.LastFailure != st.LastError || !st.LastFailureTime.Equal(time.Now()) {
			t.Fatalf("after the refused probe: %+v", st)
		}
		p.enqueue(eureka.ReplicateRegister, "ORDERS", ids[0], nanotime())
		synctest.Wait()
		if st := p.Stats(); st.Failed != 2 || st.QueueLength != 1 || st.Sent != 0 {
			t.Fatalf("after the refused batch: %+v, want 2 failures and the change queued again", st)
		}
		time.Sleep(5 * time.Second)
		down := p.Stats()
		if down.Failed < 5 || down.Sent != 0 || down.Available {
			t.Fatalf("after 5 s down: %+v, want the retries counted", down)
		}

		f.refuse.Store(false)
		failedAt := down.LastFailureTime
		time.Sleep(2 * time.Second) // longer than MaxBackoff
		up := p.Stats()
		if up.Sent != 1 || !up.Available || up.LastError != "" || up.QueueLength != 0 {
			t.Errorf("after recovery: %+v, want the change delivered and no error", up)
		}
		if !strings.Contains(up.LastFailure, "connection refused") || !up.LastFailureTime.Equal(failedAt) {
			t.Errorf("after recovery: last failure %q at %v, want the refusal at %v kept", up.LastFailure, up.LastFailureTime, failedAt)
		}
		if up.Failed != down.Failed {
			t.Errorf("failures went from %d to %d after recovery", down.Failed, up.Failed)
		}
		time.Sleep(time.Minute) // probes of a healthy peer count nothing
		if again := p.Stats(); again.Failed != up.Failed || again.LastError != "" {
			t.Errorf("a healthy peer: %+v", again)
		}
	})
}
