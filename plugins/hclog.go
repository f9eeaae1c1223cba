package plugins

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// hclogger adapts an *slog.Logger to hclog.Logger, which go-plugin needs:
// its own messages and each line a plugin writes to stderr (parsed from
// hclog's JSON) are logged through eurekad's slog logger, attributed to
// the plugin. It is the only place hclog meets slog.
type hclogger struct {
	log     *slog.Logger
	name    string
	implied []any
}

func newHclog(l *slog.Logger, name string) hclog.Logger {
	return &hclogger{log: l, name: name}
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (h *hclogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	h.log.Log(context.Background(), slogLevel(level), msg, dropTimestamp(args)...)
}

// dropTimestamp removes the "timestamp" go-plugin adds to each line it
// relays from a plugin: the slog record has its own time.
func dropTimestamp(args []any) []any {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == "timestamp" {
			return append(args[:i:i], args[i+2:]...)
		}
	}
	return args
}

func (h *hclogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogger) enabled(l slog.Level) bool { return h.log.Enabled(context.Background(), l) }

func (h *hclogger) IsTrace() bool { return h.enabled(slog.LevelDebug) }
func (h *hclogger) IsDebug() bool { return h.enabled(slog.LevelDebug) }
func (h *hclogger) IsInfo() bool  { return h.enabled(slog.LevelInfo) }
func (h *hclogger) IsWarn() bool  { return h.enabled(slog.LevelWarn) }
func (h *hclogger) IsError() bool { return h.enabled(slog.LevelError) }

func (h *hclogger) ImpliedArgs() []any { return h.implied }

func (h *hclogger) With(args ...any) hclog.Logger {
	return &hclogger{log: h.log.With(args...), name: h.name, implied: append(h.implied[:len(h.implied):len(h.implied)], args...)}
}

func (h *hclogger) Name() string { return h.name }

// Named keeps eurekad's own naming: the plugin attribute set at creation.
// go-plugin names its stderr logger after the executable, which for a
// re-executed built-in would be "eurekad".
func (h *hclogger) Named(string) hclog.Logger { return h }

func (h *hclogger) ResetNamed(string) hclog.Logger { return h }

// SetLevel is a no-op: the slog handler decides.
func (h *hclogger) SetLevel(hclog.Level) {}

func (h *hclogger) GetLevel() hclog.Level {
	switch {
	case h.IsDebug():
		return hclog.Debug
	case h.IsInfo():
		return hclog.Info
	case h.IsWarn():
		return hclog.Warn
	}
	return hclog.Error
}

func (h *hclogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *hclogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer { return stdWriter{h} }

type stdWriter struct{ h *hclogger }

func (w stdWriter) Write(p []byte) (int, error) {
	w.h.Info(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ hclog.Logger = (*hclogger)(nil)
