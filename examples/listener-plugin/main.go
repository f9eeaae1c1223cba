// Command listener-plugin is an eurekad listener plugin that appends every
// event as one JSON line to the file its config names:
// {"file": "/var/log/eurekad/events.jsonl"}.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
)

type eventFile struct{ f *os.File }

func (l *eventFile) Configure(_ context.Context, config []byte) error {
	var c struct{ File string }
	err := json.Unmarshal(config, &c)
	if err == nil {
		l.f, err = os.OpenFile(c.File, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	}
	return err
}

// Handle writes a batch with one write: eurekad calls it from one goroutine
// per listener, so lines never interleave.
func (l *eventFile) Handle(_ context.Context, events []hook.Event) error {
	var buf []byte
	for _, e := range events {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf = append(append(buf, line...), '\n')
	}
	_, err := l.f.Write(buf)
	return err
}

func main() {
	plugin.Serve(plugin.ServeOptions{Name: "event-file", Version: "1.0.0", Listener: &eventFile{}})
}
