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
// back), stamped as the old change it is (registry.RegisterCopy). It
// returns how many instances it registered. With no peers it returns at
// once.
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
	for round := range c.opts.SyncRetries {
		if round > 0 && !sleep(ctx, c.opts.SyncRetryWait) {
			return 0, ctx.Err()
		}
		for _, p := range peers {
			apps, err := p.sync.Applications(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
				c.log.Debug("start-up sync: peer failed", "peer", p.url, "err", err)
				last = err
				continue
			}
			n := c.adopt(apps)
			c.log.Info("start-up sync done", "peer", p.url, "registered", n)
			return n, nil
		}
	}
	return 0, errors.Join(ErrNoPeerAnswered, last)
}

// Syncing reports whether Sync is under way: anti-entropy waits for it,
// since a round against a half-filled registry would pull whole
// applications that the sync is copying anyway.
func (c *Cluster) Syncing() bool { return c.syncing.Load() }

// adopt registers what apps holds that this node lacks or has older,
// through the merger when there is one, so the input rules and the
// instance limit hold as for every other write.
func (c *Cluster) adopt(apps *eureka.Applications) int {
	n, skipped := 0, 0
	var lastErr error
	start := time.Now()
	limits := c.reg.Settings().Limits.OrDefault()
	register := func(in *eureka.InstanceInfo) error {
		// A peer's registry passes the rules every write passes.
		if err := limits.Instance(in); err != nil {
			return err
		}
		c.reg.RegisterCopy(in)
		return nil
	}
	if m := c.merger.Load(); m != nil {
		register = (*m).Adopt
	}
	for _, app := range apps.Applications {
		for _, in := range app.Instances {
			if in.App == "" {
				in.App = app.Name
			}
			if cur := c.reg.Instance(in.App, in.ID()); cur != nil && cur.LastDirtyTimestamp >= in.LastDirtyTimestamp {
				continue
			}
			if err := register(in); err != nil {
				skipped, lastErr = skipped+1, err
				continue
			}
			n++
		}
	}
	if skipped > 0 {
		// Once, not per instance: a limit can leave out most of a registry.
		c.log.Warn("start-up sync: left out instances the rules refuse", "instances", skipped, "last", lastErr)
	}
	c.log.Debug("start-up sync: registered", "instances", n, "took", time.Since(start))
	return n
}
