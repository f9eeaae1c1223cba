package replication

import (
	"context"
	"errors"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// ErrNoPeerAnswered is returned by Sync when no peer served its registry
// in any round.
var ErrNoPeerAnswered = errors.New("replication: no peer served its registry")

// Sync copies the peers' registries into this node (Eureka's syncUp,
// §6.7): in up to Options.SyncRetries rounds, SyncRetryWait apart, it
// fetches GET apps from each peer in turn and stops at the first that
// answers. Every instance this node lacks, or holds with an older
// lastDirtyTimestamp, is registered as a replication (so it is not sent
// back), stamped as the old change it is (registry.RegisterCopy), as the
// answer is decoded (client.ApplicationsFunc). It returns how many
// instances it registered. With no peers it returns at once.
func (c *Cluster) Sync(ctx context.Context) (int, error) {
	// Then compare with every peer: the sync adopts only what this node
	// lacks or holds with an older lastDirtyTimestamp.
	c.syncing.Store(true)
	defer c.KickAntiEntropy()
	defer c.syncing.Store(false)
	peers := *c.peers.Load()
	if len(peers) == 0 || c.opts.SyncRetries <= 0 {
		return 0, nil
	}
	var last error
	registered := 0
	for round := range c.opts.SyncRetries {
		if round > 0 && !sleep(ctx, c.opts.SyncRetryWait) {
			return registered, ctx.Err()
		}
		for _, p := range peers {
			// Adopted as they are decoded: a malformed answer may have
			// given some before it failed, which the next peer's
			// answer compares with as with any local copy.
			a := c.newAdoption()
			_, err := p.sync.ApplicationsFunc(ctx, a.app)
			a.done()
			registered += a.n
			if err != nil {
				if ctx.Err() != nil {
					return registered, ctx.Err()
				}
				c.log.Debug("start-up sync: peer failed", "peer", p.url, "err", err)
				last = err
				continue
			}
			c.log.Info("start-up sync done", "peer", p.url, "registered", registered)
			return registered, nil
		}
	}
	return registered, errors.Join(ErrNoPeerAnswered, last)
}

// Syncing reports whether Sync is under way: anti-entropy waits for it,
// since a round against a half-filled registry would pull whole
// applications that the sync is copying anyway.
func (c *Cluster) Syncing() bool { return c.syncing.Load() }

// adoption registers what a peer's registry holds that this node lacks
// or has older, through the merger when there is one, so the input rules
// and the instance limit hold as for every other write. One goroutine
// uses it, application by application as the answer is decoded.
type adoption struct {
	c        *Cluster
	register func(*eureka.InstanceInfo) error
	start    time.Time
	n        int // registered
	skipped  int // refused by the rules
	lastErr  error
}

func (c *Cluster) newAdoption() *adoption {
	a := &adoption{c: c, start: time.Now()}
	limits := c.reg.Settings().Limits.OrDefault()
	a.register = func(in *eureka.InstanceInfo) error {
		// A peer's registry passes the rules every write passes.
		if err := limits.Instance(in); err != nil {
			return err
		}
		c.reg.RegisterCopy(in)
		return nil
	}
	if m := c.merger.Load(); m != nil {
		a.register = (*m).Adopt
	}
	return a
}

// app adopts the instances of app; it never fails.
func (a *adoption) app(app *eureka.Application) error {
	for _, in := range app.Instances {
		if in.App == "" {
			in.App = app.Name
		}
		if cur := a.c.reg.Instance(in.App, in.ID()); cur != nil && cur.LastDirtyTimestamp >= in.LastDirtyTimestamp {
			continue
		}
		if err := a.register(in); err != nil {
			a.skipped, a.lastErr = a.skipped+1, err
			continue
		}
		a.n++
	}
	return nil
}

// done logs what the adoption did.
func (a *adoption) done() {
	if a.skipped > 0 {
		// Once, not per instance: a limit can leave out most of a registry.
		a.c.log.Warn("start-up sync: left out instances the rules refuse", "instances", a.skipped, "last", a.lastErr)
	}
	a.c.log.Debug("start-up sync: registered", "instances", a.n, "took", time.Since(a.start))
}
