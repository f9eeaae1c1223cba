// Package check is eurekad's built-in checker: HTTP, TCP and gRPC health
// probes of an instance's own address (hook.CheckHTTP, CheckTCP,
// CheckGRPC). It serves as the checker plugin "builtin", in process or
// isolated like the other built-ins, and core/health falls back to it for
// these kinds when an external checker plugin serves others.
//
// A probe reaches only the request's Target, which core/health builds from
// the instance's own address: HTTP redirects are not followed (a 3xx is a
// status like any other), and no proxy from the environment is used.
package check

import (
	"context"
	"errors"
	"fmt"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Kinds are the check kinds the built-in serves.
var Kinds = []string{hook.CheckHTTP, hook.CheckTCP, hook.CheckGRPC}

// Checker probes instances over HTTP, TCP or gRPC health. The zero value
// is ready; it is safe for concurrent use.
type Checker struct {
	http httpProber
}

// New returns a checker.
func New() *Checker { return &Checker{http: newHTTPProber()} }

// Builtin is the plugin factory of the built-in checker.
func Builtin() plugin.ServeOptions {
	return plugin.ServeOptions{Name: "check", Version: "1", Checker: New()}
}

// Check runs the probe the request's kind names, bounded by its Timeout. A
// kind it does not serve is undecided (errors.ErrUnsupported).
func (c *Checker) Check(ctx context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	switch r.Kind {
	case hook.CheckHTTP:
		return c.http.probe(ctx, r)
	case hook.CheckTCP:
		return probeTCP(ctx, r.Target)
	case hook.CheckGRPC:
		return probeGRPC(ctx, r.Target, r.Params["service"])
	}
	return hook.CheckResult{}, fmt.Errorf("check: kind %q: %w", r.Kind, errors.ErrUnsupported)
}

// failing is a failing verdict with a detail cut to what eurekad keeps, on
// a rune boundary: it may quote the probed server's own text, and an
// isolated built-in's verdict crosses gRPC, which refuses invalid UTF-8
// (cut inside a rune, the verdict would be lost, undecided).
func failing(format string, args ...any) hook.CheckResult {
	return hook.CheckResult{Detail: storage.Cut(fmt.Sprintf(format, args...), 200)}
}

var _ hook.Checker = (*Checker)(nil)
