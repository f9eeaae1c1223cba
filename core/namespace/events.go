package namespace

import "github.com/eurekad/eurekad/sdk/hook"

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
