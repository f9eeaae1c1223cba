package events_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/eurekad/eurekad/core/events"
	"github.com/eurekad/eurekad/sdk/hook"
)

func Example() {
	bus := events.New(nil)
	var wg sync.WaitGroup
	wg.Add(2)
	printer := hook.ListenerFunc(func(_ context.Context, evs []hook.Event) error {
		for _, e := range evs {
			fmt.Println(e.Seq, e.Type, e.InstanceID)
			wg.Done()
		}
		return nil
	})
	// Only cancellations; a nil Types would mean everything but renewals.
	bus.Subscribe("printer", printer, events.SubscribeOptions{Types: []hook.EventType{hook.EventCancelled}})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { bus.Run(ctx); close(done) }()

	// The registry publishes (registry.Options.Events = bus).
	bus.Publish(hook.Event{Type: hook.EventRegistered, App: "ORDERS", InstanceID: "i-1"})
	bus.Publish(hook.Event{Type: hook.EventCancelled, App: "ORDERS", InstanceID: "i-1"})
	bus.Publish(hook.Event{Type: hook.EventCancelled, App: "ORDERS", InstanceID: "i-2"})
	wg.Wait()
	cancel()
	<-done
	// Output:
	// 2 cancelled i-1
	// 3 cancelled i-2
}
