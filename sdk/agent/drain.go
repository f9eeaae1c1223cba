package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// drainPoll is how often the fallback of Drain reads the propagation view.
const drainPoll = 500 * time.Millisecond

// Drain takes the instance out of service and returns once the registry's
// readers have fetched that: call it before the service stops taking
// requests (a Kubernetes preStop hook), then end Run's context.
//
// With admin rights on a eurekad server (Options.AdminToken, or
// credentials an authenticator grants admin) it asks the server's drain
// call, which answers once every reader active at the change fetched it.
// Without them it sets OUT_OF_SERVICE with the plain Eureka call (PUT
// .../status) and polls GET admin/api/propagation, which needs only the
// read permission, until every active reader of the registry or of this
// application holds a version at least as new as the change. Against a
// server that has neither (a stock Eureka), the status is set and Drain
// returns client.ErrNotConfirmed at once: the caller waits its own fixed
// period, as before.
//
// ctx bounds the wait: at its deadline Drain returns the readers still
// behind with client.ErrNotConfirmed. The status stays OUT_OF_SERVICE.
func (a *Agent) Drain(ctx context.Context) (*client.DrainResult, error) {
	// The local status first, so the agent's own pushes agree with the
	// override and do not undo it.
	if err := a.SetStatus(eureka.StatusOutOfService); err != nil {
		return nil, err
	}
	in := a.Instance()
	o := client.DrainOptions{AdminToken: a.adminToken}
	if dl, ok := ctx.Deadline(); ok {
		// Leave the server time to answer before ctx ends.
		o.Timeout = max(time.Until(dl)*9/10, time.Second)
	}
	res, err := a.c.Drain(ctx, in.App, in.ID(), o)
	if err == nil || errors.Is(err, client.ErrNotConfirmed) {
		a.log.Info("drained", "confirmed", len(res.Confirmed), "pending", len(res.Pending), "seconds", res.ElapsedSeconds)
		return res, err
	}
	if !errors.Is(err, client.ErrUnauthorized) && !errors.Is(err, client.ErrForbidden) && !errors.Is(err, client.ErrNotFound) {
		return nil, fmt.Errorf("agent: drain: %w", err)
	}
	a.log.Debug("admin drain refused; setting the status and watching propagation", "err", err)
	start := time.Now()
	if err := a.c.SetStatus(ctx, in.App, in.ID(), eureka.StatusOutOfService, in.LastDirtyTimestamp); err != nil {
		return nil, fmt.Errorf("agent: drain: %w", err)
	}
	return a.watchPropagation(ctx, in.App, in.ID(), start)
}

// watchPropagation polls the propagation view until every active reader
// concerned by app holds the version current just after the change.
func (a *Agent) watchPropagation(ctx context.Context, app, id string, start time.Time) (*client.DrainResult, error) {
	res := &client.DrainResult{App: app, IDs: []string{id}, Mode: "out-of-service"}
	var waiting map[string]bool
	for {
		p, err := a.c.Propagation(ctx, a.adminToken)
		if err != nil {
			if ctx.Err() != nil {
				res.TimedOut = true
				return res, client.ErrNotConfirmed
			}
			// A stock Eureka server: nothing to watch.
			a.log.Debug("no propagation view; drain not confirmed", "err", err)
			return res, client.ErrNotConfirmed
		}
		if waiting == nil {
			// The first view after the change names the version to
			// reach (at or after the change) and who is active.
			res.Version = p.Version
			waiting = map[string]bool{}
			for _, r := range p.Readers {
				if r.Active && (r.App == "" || r.App == app) {
					waiting[r.Name] = true
				}
			}
		}
		res.Confirmed, res.Pending = res.Confirmed[:0], res.Pending[:0]
		for _, r := range p.Readers {
			if !waiting[r.Name] {
				continue
			}
			// A reader of one application may hold an older version
			// and still be current: its application did not change since.
			if r.Version >= res.Version || !r.Behind {
				res.Confirmed = append(res.Confirmed, r)
			} else {
				res.Pending = append(res.Pending, r)
			}
		}
		res.ElapsedSeconds = time.Since(start).Seconds()
		if len(res.Pending) == 0 {
			return res, nil
		}
		select {
		case <-ctx.Done():
			res.TimedOut = true
			return res, client.ErrNotConfirmed
		case <-a.clock.After(drainPoll):
		}
	}
}
