// Package admission is the host's policy around any hook.Admitter, in
// process or a plugin: a deadline on every call, a panic or an error taken
// as a failure, and fail-closed behaviour when the admitter fails.
//
// Unlike the auth guard (plugins/auth/guard) it caches nothing: an
// admission decision may depend on the whole instance, so every write is
// decided by its own call. Writes are rare next to renewals, which never
// reach the admitter.
//
// When the admitter errors, panics or times out, Admit returns an error
// wrapping ErrUnavailable (the write is refused with 503), unless FailOpen
// is set, in which case the write is admitted unchanged and the failure
// logged and counted. A refusal without a message gets DefaultMessage, and
// a refusal's metadata is dropped, so the caller can use the answer as it
// is.
//
// The package imports only sdk/hook.
package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/sdk/hook"
)

// Options configures a Guard. A nil *Options means DefaultOptions.
type Options struct {
	// Timeout bounds one call of the admitter; it must be positive (New
	// replaces 0 by the default). An admitter in process must honour its
	// context for the bound to hold; a plugin's call is cut off by gRPC.
	Timeout time.Duration `config:"timeout" help:"deadline of one admission call"`
	// FailOpen admits writes unchanged when the admitter fails or times
	// out; by default they are refused (503).
	FailOpen bool `config:"fail_open" help:"admit writes unchanged when the admission hook fails or times out (default: refuse them with 503)"`
	// Logger receives admitter failures; nil discards them.
	Logger *slog.Logger `config:"-"`
}

// DefaultOptions returns the guard defaults.
func DefaultOptions() Options {
	return Options{Timeout: 2 * time.Second}
}

// Validate reports a setting out of range.
func (o *Options) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("admission: timeout must be positive, got %v", o.Timeout)
	}
	return nil
}

// ErrUnavailable is wrapped by the error Admit returns when the admitter
// failed or timed out and the write fails closed.
var ErrUnavailable = errors.New("admission hook unavailable")

// DefaultMessage is the message of a refusal that came without one.
const DefaultMessage = "refused by the admission hook"

// Guard wraps an Admitter. It is itself a hook.Admitter and is safe for
// concurrent use.
type Guard struct {
	admitter hook.Admitter
	opts     Options
	log      *slog.Logger

	allowed, denied, failures, failedOpen atomic.Uint64
}

// New wraps a. A nil opts means DefaultOptions; a timeout that is not
// positive is replaced by the default (call Options.Validate first to
// reject it instead).
func New(a hook.Admitter, opts *Options) *Guard {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultOptions().Timeout
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard{admitter: a, opts: o, log: log}
}

// Admit decides req by calling the admitter under the deadline. An
// operation outside hook.AdmissionOperations is a caller's mistake and
// fails (errors.ErrUnsupported), never reaching the admitter.
func (g *Guard) Admit(ctx context.Context, req *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
	if !slices.Contains(hook.AdmissionOperations, req.Operation) {
		return hook.AdmissionResponse{}, fmt.Errorf("admission: operation %q is not admitted: %w", req.Operation, errors.ErrUnsupported)
	}
	ctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	defer cancel()
	r, err := g.call(ctx, req)
	switch {
	case err != nil:
		g.failures.Add(1)
		g.log.Warn("admission hook failed", "op", req.Operation, "app", req.App, "instance", req.InstanceID,
			"fail_open", g.opts.FailOpen, "err", err)
		if g.opts.FailOpen {
			g.failedOpen.Add(1)
			return hook.AdmissionResponse{Allowed: true}, nil
		}
		return hook.AdmissionResponse{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case r.Allowed:
		g.allowed.Add(1)
		r.Message = ""
	default:
		g.denied.Add(1)
		r.Metadata = nil
		if r.Message == "" {
			r.Message = DefaultMessage
		}
	}
	return r, nil
}

// call runs the admitter, turning a panic into a failure.
func (g *Guard) call(ctx context.Context, req *hook.AdmissionRequest) (r hook.AdmissionResponse, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("admitter panicked: %v", v)
		}
	}()
	return g.admitter.Admit(ctx, req)
}

// Stats are the guard's counters since it was made.
type Stats struct {
	// Allowed and Denied count the admitter's decisions.
	Allowed uint64 `json:"allowed"`
	Denied  uint64 `json:"denied"`
	// Errors counts the admitter's failures (errors, panics, timeouts);
	// FailedOpen those of them admitted under FailOpen.
	Errors     uint64 `json:"errors"`
	FailedOpen uint64 `json:"failedOpen"`
}

// Stats returns the counters.
func (g *Guard) Stats() Stats {
	return Stats{
		Allowed: g.allowed.Load(), Denied: g.denied.Load(),
		Errors: g.failures.Load(), FailedOpen: g.failedOpen.Load(),
	}
}

// Interface guard.
var _ hook.Admitter = (*Guard)(nil)
