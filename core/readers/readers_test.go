package readers

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// versions is a registry stand-in.
type versions struct {
	v    atomic.Uint64
	apps map[string]uint64
}

func (s *versions) Version() uint64              { return s.v.Load() }
func (s *versions) AppVersion(app string) uint64 { return s.apps[app] }

func fetch(client string, v uint64) Fetch {
	return Fetch{Client: client, RemoteAddr: "10.0.0.1:5000", UserAgent: "test", Version: v}
}

func TestIntervalActivityAndForgetting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &versions{}
		tr := New(src, Options{IdleIntervals: 3})
		for range 5 {
			tr.Seen(fetch("a", 1))
			time.Sleep(2 * time.Second)
		}
		rs := tr.Readers()
		if len(rs) != 1 || rs[0].IntervalSeconds != 2 || !rs[0].Active || rs[0].Fetches != 5 {
			t.Fatalf("after five fetches 2 s apart: %+v", rs)
		}
		// Fetches closer than sameFetch are one poll.
		tr.Seen(fetch("a", 1))
		tr.Seen(fetch("a", 1))
		if rs := tr.Readers(); rs[0].IntervalSeconds != 2 || rs[0].Fetches != 6 {
			t.Fatalf("a burst moved the interval: %+v", rs)
		}
		time.Sleep(5 * time.Second)
		if rs := tr.Readers(); len(rs) != 1 || rs[0].Active {
			t.Fatalf("5 s after the last fetch of a 2 s reader: %+v", rs)
		}
		time.Sleep(2 * time.Second)
		if rs := tr.Readers(); len(rs) != 0 || tr.Stats().Forgotten != 1 {
			t.Fatalf("7 s idle at 3×2 s: %+v %+v", rs, tr.Stats())
		}
	})
}

func TestIdentity(t *testing.T) {
	tr := New(&versions{}, Options{})
	tr.Seen(Fetch{RemoteAddr: "10.0.0.1:5000", UserAgent: "java", Version: 1})
	tr.Seen(Fetch{RemoteAddr: "10.0.0.1:6000", UserAgent: "java", Version: 1}) // another port: same reader
	tr.Seen(Fetch{RemoteAddr: "10.0.0.1:5000", UserAgent: "node", Version: 1})
	tr.Seen(Fetch{RemoteAddr: "[::1]:5000", UserAgent: "java", Version: 1})
	tr.Seen(Fetch{Client: "c1", RemoteAddr: "10.0.0.1:5000", UserAgent: "java", Version: 1})
	tr.Seen(Fetch{Client: "c1", RemoteAddr: "10.0.0.2:5000", UserAgent: "java", Version: 1})
	tr.Seen(Fetch{Client: "c1", RemoteAddr: "10.0.0.2:5000", UserAgent: "java", App: "ORDERS", Version: 1})
	names := map[string]bool{}
	for _, r := range tr.Readers() {
		names[r.Name] = true
	}
	want := []string{"10.0.0.1 java", "10.0.0.1 node", "::1 java", "c1", "c1 [ORDERS]"}
	if len(names) != len(want) {
		t.Fatalf("readers %v, want %v", names, want)
	}
	for _, n := range want {
		if !names[n] {
			t.Fatalf("readers %v, want %v", names, want)
		}
	}
}

func TestCap(t *testing.T) {
	tr := New(&versions{}, Options{MaxReaders: 2})
	for _, c := range []string{"a", "b", "c", "d", "a"} {
		tr.Seen(fetch(c, 1))
	}
	if s := tr.Stats(); s.Tracked != 2 || s.Dropped != 2 {
		t.Fatalf("stats %+v, want 2 tracked and 2 dropped", s)
	}
}

// Each reader of the whole registry gives one observation per change it
// fetched, timed from the change; app readers and first fetches give none.
func TestPropagationObservations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []time.Duration
		src := &versions{}
		tr := New(src, Options{Observe: func(d time.Duration) { got = append(got, d) }})
		tr.Seen(fetch("a", 1))
		tr.Seen(fetch("b", 1))
		tr.Seen(Fetch{Client: "c", App: "X", Version: 1})
		tr.Committed(2, time.Now())
		time.Sleep(time.Second)
		tr.Committed(3, time.Now())
		time.Sleep(time.Second)
		tr.Seen(fetch("a", 3))                            // two changes: 2 s and 1 s
		tr.Seen(fetch("a", 3))                            // nothing new
		tr.Seen(fetch("b", 2))                            // one: 2 s
		tr.Seen(Fetch{Client: "c", App: "X", Version: 3}) // app reader: none
		want := []time.Duration{2 * time.Second, time.Second, 2 * time.Second}
		if len(got) != len(want) {
			t.Fatalf("observations %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("observations %v, want %v", got, want)
			}
		}
	})
}

func TestAwait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &versions{}
		tr := New(src, Options{})
		// fast polls every second, slow every 3 s, gone stopped long ago,
		// other reads another application.
		for range 3 {
			tr.Seen(fetch("gone", 1))
			time.Sleep(time.Second)
		}
		time.Sleep(10 * time.Second)
		for range 2 {
			tr.Seen(fetch("fast", 1))
			tr.Seen(fetch("slow", 1))
			tr.Seen(Fetch{Client: "other", App: "OTHER", Version: 1})
			time.Sleep(time.Second)
		}
		src.v.Store(2)
		since := time.Now()
		done := make(chan Confirmation)
		go func() { done <- tr.Await(context.Background(), "ORDERS", 2, since) }()
		time.Sleep(500 * time.Millisecond)
		tr.Seen(fetch("fast", 2))
		synctest.Wait()
		select {
		case c := <-done:
			t.Fatalf("answered before the slow reader fetched: %+v", c)
		default:
		}
		time.Sleep(2 * time.Second)
		tr.Seen(fetch("slow", 2))
		c := <-done
		if len(c.Pending) != 0 || len(c.Confirmed) != 2 || c.ElapsedSeconds != 2.5 {
			t.Fatalf("confirmation %+v, want fast and slow after 2.5 s", c)
		}

		// A reader that stops fetching makes the wait end at its deadline,
		// and the answer names it.
		src.v.Store(3)
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		go func() { done <- tr.Await(ctx, "", 3, time.Now()) }()
		time.Sleep(time.Second)
		tr.Seen(fetch("fast", 3))
		c = <-done
		if len(c.Pending) != 1 || c.Pending[0].Name != "slow" || len(c.Confirmed) != 1 || c.ElapsedSeconds != 4 {
			t.Fatalf("confirmation %+v, want slow pending at 4 s", c)
		}
	})
}
