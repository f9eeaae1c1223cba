package events

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eurekad/eurekad/sdk/hook"
)

var errDown = errors.New("listener down")

// flaky is a listener that fails while down (or while fail says so) and
// keeps what it acknowledged, and every call it got.
type flaky struct {
	mu    sync.Mutex
	down  bool
	fail  func(call int, ev []hook.Event) error
	calls [][]hook.Event
	got   []hook.Event
}

func (f *flaky) Handle(_ context.Context, ev []hook.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append([]hook.Event(nil), ev...))
	if f.down {
		return errDown
	}
	if f.fail != nil {
		if err := f.fail(len(f.calls), ev); err != nil {
			return err
		}
	}
	f.got = append(f.got, ev...)
	return nil
}

func (f *flaky) setDown(v bool) {
	f.mu.Lock()
	f.down = v
	f.mu.Unlock()
}

func (f *flaky) snapshot() (calls [][]hook.Event, got []hook.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]hook.Event(nil), f.calls...), append([]hook.Event(nil), f.got...)
}

// runBus starts b.Run inside the bubble and returns a stop that cancels it
// and waits for it.
func runBus(t *testing.T, b *Bus) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		if err := b.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
		close(done)
	}()
	return func() { cancel(); <-done }
}

func publish(b *Bus, n int) {
	for range n {
		b.Publish(hook.Event{Type: hook.EventRegistered})
	}
}

// checkAccounting asserts that got, what a listener acknowledged, accounts
// for every seq of 1..published exactly: each is received, or lost and
// announced by the gap that follows it (Dropped counts exactly the events
// between the last one received and the gap's Seq), or lost and still owed
// (after the last received event). The Stats agree with it.
func checkAccounting(t *testing.T, published uint64, got []hook.Event, st Stats) {
	t.Helper()
	received := map[uint64]bool{}
	var last, announced uint64
	for _, e := range got {
		if e.Type == hook.EventGap {
			if e.Seq <= last {
				t.Fatalf("gap at seq %d after seq %d", e.Seq, last)
			}
			if missed := e.Seq - last; e.Dropped != missed {
				t.Fatalf("gap at seq %d says %d dropped; %d were missed since seq %d", e.Seq, e.Dropped, missed, last)
			}
			announced += e.Dropped
			last = e.Seq
			continue
		}
		if e.Seq <= last {
			t.Fatalf("seq %d after seq %d", e.Seq, last)
		}
		if e.Seq != last+1 {
			t.Fatalf("seq %d follows seq %d with no gap event", e.Seq, last)
		}
		received[e.Seq] = true
		last = e.Seq
	}
	owed := published - last
	if st.Delivered != uint64(len(received)) || st.Announced != announced || st.Dropped != announced+owed {
		t.Fatalf("stats %+v; the listener got %d events and gaps of %d, %d after seq %d are owed",
			st, len(received), announced, owed, last)
	}
}

func TestFailedBatchIsRetriedUntilAcknowledged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(nil)
		f := &flaky{fail: func(call int, _ []hook.Event) error {
			if call <= 3 {
				return errDown
			}
			return nil
		}}
		b.Subscribe("f", f, SubscribeOptions{})
		stop := runBus(t, b)
		defer stop()
		start := time.Now()
		publish(b, 1)
		synctest.Wait()
		publish(b, 4)
		// The first call got seq 1; the next four were queued meanwhile and
		// wait behind the failing batch.
		if st := b.Stats()[0]; st.Delivered != 0 || st.Errors != 1 || st.Queued != 4 {
			t.Fatalf("after one failure: %+v", st)
		}
		// Back-off 100, 200, 400 ms: the fourth call at 700 ms succeeds.
		time.Sleep(699 * time.Millisecond)
		synctest.Wait()
		if st := b.Stats()[0]; st.Delivered != 0 || st.Batches != 3 {
			t.Fatalf("at 699 ms: %+v", st)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		calls, got := f.snapshot()
		for i, c := range calls[:4] {
			if len(c) != 1 || c[0].Seq != 1 {
				t.Fatalf("call %d: %+v, want seq 1 again", i+1, c)
			}
		}
		if time.Since(start) != 700*time.Millisecond || len(got) != 5 {
			t.Fatalf("after %v got %+v", time.Since(start), got)
		}
		st := b.Stats()[0]
		if st.Batches != 5 || st.Errors != 3 || st.LastError != errDown.Error() {
			t.Fatalf("stats %+v", st)
		}
		checkAccounting(t, 5, got, st)
	})
}

func TestRetriesRunOutThenGapBeforeNextBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(nil)
		f := &flaky{down: true}
		b.Subscribe("f", f, SubscribeOptions{RetryFor: 2 * time.Second, MaxBatch: 10})
		stop := runBus(t, b)
		defer stop()
		publish(b, 1) // seq 1 alone, then 10, 10 and 4
		synctest.Wait()
		publish(b, 24)
		// 100+200+400+800 ms of back-off: the fifth wait (1.6 s) would end
		// past 2 s, so each batch gets 5 calls over 1.5 s.
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if st := b.Stats()[0]; st.Dropped != 1 || st.Delivered != 0 || st.Batches != 6 {
			t.Fatalf("after the first batch ran out: %+v", st)
		}
		// The next batch carries the owed gap in front of seq 2..11.
		calls, _ := f.snapshot()
		if c := calls[5]; c[0].Type != hook.EventGap || c[0].Dropped != 1 || c[0].Seq != 1 || len(c) != 11 || c[1].Seq != 2 {
			t.Fatalf("second batch %+v", c)
		}
		time.Sleep(3 * 1500 * time.Millisecond)
		synctest.Wait()
		st := b.Stats()[0]
		if st.Dropped != 25 || st.Announced != 0 || st.Queued != 0 {
			t.Fatalf("after every batch ran out: %+v", st)
		}
		// Only a gap is owed: it is tried once more (with back-off), then
		// waits for the next event rather than knock on forever.
		time.Sleep(time.Minute)
		synctest.Wait()
		before := b.Stats()[0].Batches
		time.Sleep(time.Hour)
		synctest.Wait()
		if after := b.Stats()[0].Batches; after != before {
			t.Fatalf("%d calls with nothing but a gap to deliver", after-before)
		}

		f.setDown(false)
		publish(b, 3)
		synctest.Wait()
		_, got := f.snapshot()
		if len(got) != 4 || got[0].Type != hook.EventGap || got[0].Dropped != 25 || got[0].Seq != 25 {
			t.Fatalf("after the listener came back: %+v", got)
		}
		checkAccounting(t, 28, got, b.Stats()[0])
	})
}

func TestMaxAttemptsBoundsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(nil)
		f := &flaky{down: true}
		b.Subscribe("f", f, SubscribeOptions{MaxAttempts: 2, RetryFor: time.Hour})
		stop := runBus(t, b)
		defer stop()
		publish(b, 1)
		time.Sleep(time.Minute)
		synctest.Wait()
		st := b.Stats()[0]
		// Two calls for seq 1, two for the gap alone.
		if st.Dropped != 1 || st.Batches != 4 {
			t.Fatalf("stats %+v", st)
		}
		calls, _ := f.snapshot()
		if calls[2][0].Type != hook.EventGap || len(calls[2]) != 1 {
			t.Fatalf("third call %+v", calls[2])
		}
	})
}

// While a batch is retried the queue stays bounded; what overflows is
// announced together with a batch that is dropped after it.
func TestQueueStaysBoundedWhileRetrying(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(nil)
		f := &flaky{down: true}
		b.Subscribe("f", f, SubscribeOptions{QueueSize: 4, MaxBatch: 2, RetryFor: time.Second})
		stop := runBus(t, b)
		defer stop()
		publish(b, 1) // seq 1 is being retried
		synctest.Wait()
		publish(b, 9) // seq 2..10: 2..6 overflow, 7..10 queued
		if st := b.Stats()[0]; st.Dropped != 5 || st.Queued != 4 {
			t.Fatalf("stats %+v", st)
		}
		// Seq 1 runs out; then 7,8 are sent behind a gap of 6 (1..6).
		time.Sleep(700 * time.Millisecond)
		synctest.Wait()
		calls, _ := f.snapshot()
		c := calls[len(calls)-1]
		if len(c) != 3 || c[0].Type != hook.EventGap || c[0].Dropped != 6 || c[0].Seq != 6 || c[1].Seq != 7 {
			t.Fatalf("batch after the drop %+v", c)
		}
		f.setDown(false)
		time.Sleep(time.Second)
		synctest.Wait()
		_, got := f.snapshot()
		if len(got) != 5 {
			t.Fatalf("got %+v", got)
		}
		checkAccounting(t, 10, got, b.Stats()[0])
	})
}

// A batch whose gap failed to arrive keeps the gap owed: the next gap
// announces both losses at once.
func TestFailedGapStaysOwed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(nil)
		f := &flaky{}
		b.Subscribe("f", f, SubscribeOptions{QueueSize: 2, MaxBatch: 1, MaxAttempts: 1})
		stop := runBus(t, b)
		defer stop()
		f.setDown(true)
		publish(b, 1) // seq 1 dropped at once
		synctest.Wait()
		publish(b, 1) // seq 2 goes behind a gap of 1 and is dropped too
		synctest.Wait()
		if st := b.Stats()[0]; st.Dropped != 2 || st.Announced != 0 {
			t.Fatalf("stats %+v", st)
		}
		f.setDown(false)
		publish(b, 1)
		synctest.Wait()
		_, got := f.snapshot()
		if len(got) != 2 || got[0].Dropped != 2 || got[0].Seq != 2 || got[1].Seq != 3 {
			t.Fatalf("got %+v", got)
		}
		checkAccounting(t, 3, got, b.Stats()[0])
	})
}

func TestPanicsAreFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(nil)
		b.Subscribe("bad", hook.ListenerFunc(func(context.Context, []hook.Event) error { panic("listener bug") }),
			SubscribeOptions{MaxAttempts: 1})
		stop := runBus(t, b)
		defer stop()
		publish(b, 2)
		synctest.Wait()
		st := b.Stats()[0]
		if st.LastError != "listener panicked: listener bug" || st.Delivered != 0 || st.Dropped != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// A batch interrupted by shutdown is delivered again by the final flush,
// before what is still queued.
func TestFlushRedeliversTheInterruptedBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(&Options{FlushTimeout: 5 * time.Second})
		f := &flaky{fail: func(call int, _ []hook.Event) error {
			if call == 1 {
				return errDown
			}
			return nil
		}}
		b.Subscribe("f", f, SubscribeOptions{})
		stop := runBus(t, b)
		publish(b, 1)
		synctest.Wait() // seq 1 failed; its retry waits
		publish(b, 5)
		stop()
		_, got := f.snapshot()
		if len(got) != 6 || got[0].Seq != 1 {
			t.Fatalf("flushed %+v", got)
		}
		checkAccounting(t, 6, got, b.Stats()[0])
	})
}

// What the flush cannot deliver is counted as dropped.
func TestFlushCountsWhatItCannotDeliver(t *testing.T) {
	for _, flush := range []time.Duration{0, time.Second} {
		synctest.Test(t, func(t *testing.T) {
			b := New(&Options{FlushTimeout: flush})
			f := &flaky{down: true}
			b.Subscribe("f", f, SubscribeOptions{MaxBatch: 2})
			stop := runBus(t, b)
			publish(b, 5)
			synctest.Wait()
			start := time.Now()
			stop()
			if d := time.Since(start); d > flush {
				t.Errorf("flush of %v took %v", flush, d)
			}
			st := b.Stats()[0]
			if st.Dropped != 5 || st.Delivered != 0 || st.Queued != 0 {
				t.Fatalf("flush %v: stats %+v", flush, st)
			}
		})
	}
}
