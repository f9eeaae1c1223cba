package namespace

import (
	"context"

	"github.com/eurekad/eurekad/sdk/hook"
)

// EventSink is where a registry publishes its events (registry.EventSink;
// *events.Bus implements it).
type EventSink interface {
	Publish(hook.Event)
	WantsRenewals() bool
}

// Sink returns the sink namespace name's registry publishes to: the
// events go to next stamped with the namespace, so a listener (and a
// listener plugin's rule) can tell the namespaces apart. The default
// namespace's events go through unchanged (Namespace stays empty, as
// without namespaces).
func Sink(next EventSink, name string) EventSink {
	if name == Default {
		return next
	}
	return sink{next: next, ns: name}
}

type sink struct {
	next EventSink
	ns   string
}

func (s sink) Publish(e hook.Event) {
	e.Namespace = s.ns
	s.next.Publish(e)
}

func (s sink) WantsRenewals() bool { return s.next.WantsRenewals() }

// EventNamespace returns the namespace an event happened in.
func EventNamespace(e *hook.Event) string {
	if e.Namespace == "" {
		return Default
	}
	return e.Namespace
}

// Only returns a listener that passes l the events of namespace name and
// the server-wide ones (server started, a gap), so that one subscriber per
// namespace (the admin API's history) sees only its own instances.
func Only(name string, l hook.Listener) hook.Listener {
	return hook.ListenerFunc(func(ctx context.Context, events []hook.Event) error {
		all := true
		for i := range events {
			all = all && (events[i].App == "" || EventNamespace(&events[i]) == name)
		}
		if all {
			return l.Handle(ctx, events)
		}
		var keep []hook.Event
		for i := range events {
			if events[i].App == "" || EventNamespace(&events[i]) == name {
				keep = append(keep, events[i])
			}
		}
		if len(keep) == 0 {
			return nil
		}
		return l.Handle(ctx, keep)
	})
}
