// Package log is eurekad's built-in logging listener: it writes every
// registry event it receives as one structured log/slog record.
//
// It serves in process and as an isolated plugin from the same
// zero-argument factory. New logs JSON to standard error (which go-plugin
// forwards to the host's log when isolated); NewWithLogger logs through the
// host's logger.
//
// # Configuration
//
//	{"level": "info", "types": ["registered", "cancelled", "evicted", "gap"]}
//
// level is the slog level of the records: debug, info (the default), warn
// or error. types lists the event types to log; empty means all that the
// listener receives. Gaps (events lost to a full queue) are always logged,
// at warn. Types also tells the host what to subscribe the listener to,
// so unwanted events (renewals above all) are never queued for it; an
// events list on the listener's plugins.listeners entry takes its place
// there, and types then still limits what is logged.
package log

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/eurekad/eurekad/sdk/hook"
)

// Config is the JSON configuration; see the package documentation.
type Config struct {
	Level string           `json:"level"`
	Types []hook.EventType `json:"types"`
}

type settings struct {
	level slog.Level
	types map[hook.EventType]bool // nil: all
	list  []hook.EventType
}

// Listener logs events. It is safe for concurrent use.
type Listener struct {
	log *slog.Logger
	cfg atomic.Pointer[settings]
}

// New returns a listener logging JSON records to standard error at info.
func New() *Listener {
	return NewWithLogger(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
}

// NewWithLogger returns a listener logging through l.
func NewWithLogger(l *slog.Logger) *Listener {
	x := &Listener{log: l}
	x.cfg.Store(&settings{level: slog.LevelInfo})
	return x
}

// Configure loads the JSON configuration.
func (l *Listener) Configure(_ context.Context, raw []byte) error {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("log listener: %w", err)
	}
	s := &settings{}
	if c.Level != "" {
		if err := s.level.UnmarshalText([]byte(c.Level)); err != nil {
			return fmt.Errorf("log listener: level %q: want debug, info, warn or error", c.Level)
		}
	}
	if len(c.Types) > 0 {
		s.types = map[hook.EventType]bool{}
		for i, t := range c.Types {
			if !t.Valid() {
				return fmt.Errorf("log listener: types[%d]: unknown event type %q", i, t)
			}
			s.types[t] = true
		}
		s.list = append([]hook.EventType(nil), c.Types...)
	}
	l.cfg.Store(s)
	return nil
}

// Types returns the configured event types, nil for all; the host
// subscribes the listener to these.
func (l *Listener) Types() []hook.EventType { return l.cfg.Load().list }

// Handle logs each event.
func (l *Listener) Handle(ctx context.Context, events []hook.Event) error {
	s := l.cfg.Load()
	for i := range events {
		e := &events[i]
		if e.Type == hook.EventGap {
			l.log.LogAttrs(ctx, slog.LevelWarn, "registry events lost",
				slog.Uint64("seq", e.Seq), slog.Uint64("dropped", e.Dropped))
			continue
		}
		// The bus delivers only Types, unless the plugins.listeners entry
		// lists events: the host then subscribes to those instead, so the
		// listener still drops what types leaves out.
		if s.types != nil && !s.types[e.Type] {
			continue
		}
		attrs := make([]slog.Attr, 0, 8)
		attrs = append(attrs, slog.Uint64("seq", e.Seq), slog.String("type", string(e.Type)),
			slog.Time("event_time", e.Time))
		if e.App != "" {
			attrs = append(attrs, slog.String("app", e.App), slog.String("instance", e.InstanceID))
		}
		if in := e.Instance; in != nil {
			attrs = append(attrs, slog.String("status", string(in.Status)), slog.String("host", in.HostName))
		}
		if e.Replicated {
			attrs = append(attrs, slog.Bool("replicated", true))
		}
		l.log.LogAttrs(ctx, s.level, "registry event", attrs...)
	}
	return nil
}

// Interface guards.
var (
	_ hook.Listener   = (*Listener)(nil)
	_ hook.Configurer = (*Listener)(nil)
)
