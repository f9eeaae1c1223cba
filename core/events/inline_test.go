package events

import (
	"context"
	"errors"
	"testing"

	"github.com/eurekad/eurekad/sdk/hook"
)

// An inline listener sees each wanted event during Publish, numbered in
// order, before Run is even started, and without a queue to overflow.
func TestInlineListenerIsCalledByPublish(t *testing.T) {
	b := New(nil)
	r := newRecorder()
	if err := b.SubscribeInline("history", r, []hook.EventType{hook.EventRegistered}); err != nil {
		t.Fatal(err)
	}
	if err := b.SubscribeInline("history", r, nil); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second subscriber of the same name: %v", err)
	}
	const n = DefaultQueueSize + 10 // more than any queue holds
	for i := 0; i < n; i++ {
		b.Publish(hook.Event{Type: hook.EventRegistered, App: "A", InstanceID: "i"})
		b.Publish(hook.Event{Type: hook.EventCancelled, App: "A", InstanceID: "i"}) // filtered out
	}
	got := r.snapshot()
	if len(got) != n || r.calls != n {
		t.Fatalf("%d events in %d calls, want %d in %d", len(got), r.calls, n, n)
	}
	for i, e := range got {
		if e.Type != hook.EventRegistered || e.Seq != uint64(2*i+1) {
			t.Fatalf("event %d: %s seq %d", i, e.Type, e.Seq)
		}
	}
	st := b.Stats()[0]
	if st.Delivered != n || st.Dropped != 0 || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Run has no goroutine to start for it and returns when ctx ends.
	stop := start(t, b)
	stop()
}

// A failing or panicking inline listener loses the event, counted as
// dropped, and Publish goes on.
func TestInlineListenerFailuresAreCounted(t *testing.T) {
	b := New(nil)
	calls := 0
	b.SubscribeInline("bad", hook.ListenerFunc(func(context.Context, []hook.Event) error {
		calls++
		if calls == 1 {
			return errors.New("full")
		}
		panic("listener bug")
	}), nil)
	b.Publish(hook.Event{Type: hook.EventRegistered, App: "A", InstanceID: "i"})
	b.Publish(hook.Event{Type: hook.EventRegistered, App: "A", InstanceID: "i"})
	st := b.Stats()[0]
	if calls != 2 || st.Errors != 2 || st.Dropped != 2 || st.Delivered != 0 || st.LastError != "listener panicked: listener bug" {
		t.Fatalf("calls %d, stats %+v", calls, st)
	}
}

// Publish stays allocation-free with an inline listener.
func TestInlinePublishDoesNotAllocate(t *testing.T) {
	b := New(nil)
	b.SubscribeInline("a", hook.ListenerFunc(func(context.Context, []hook.Event) error { return nil }), nil)
	allocs := testing.AllocsPerRun(1000, func() {
		b.Publish(hook.Event{Type: hook.EventRegistered, App: "A", InstanceID: "i"})
	})
	if allocs != 0 {
		t.Fatalf("Publish allocates %.1f times", allocs)
	}
}
