package main

import (
	"context"
	"testing"

	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/sdk/hook"
)

// TestListenerStatusesLeaveHistoryOut: the admin API's history rides the
// event bus but is not a listener plugin, so operators do not see it
// among the listeners (nor in /metrics).
func TestListenerStatusesLeaveHistoryOut(t *testing.T) {
	bus := events.New(nil)
	nop := hook.ListenerFunc(func(context.Context, []hook.Event) error { return nil })
	for _, name := range []string{historySubscriber, "file"} {
		if err := bus.Subscribe(name, nop, events.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	st := listenerStatuses(bus)()
	if len(st) != 1 || st[0].Name != "file" {
		t.Errorf("listener statuses = %+v, want only file", st)
	}
}
