package replication

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Merger applies what peers hold under the rules every write passes (the
// input rules, the instance limit); *node.Node implements it. Without one
// (SetMerger) the registry takes it directly.
type Merger interface {
	// Merge applies a peer's anti-entropy state so that it is stored and
	// visible.
	Merge(ctx context.Context, states []registry.AppState) (registry.MergeStats, error)
	// Adopt registers a peer's copy of an instance taken by the start-up
	// sync (registry.RegisterCopy), or says why it is left out.
	Adopt(in *eureka.InstanceInfo) error
}

// SetMerger sets what applies repairs; call it before Run.
func (c *Cluster) SetMerger(m Merger) { c.merger.Store(&m) }

func (c *Cluster) merge(ctx context.Context, states []registry.AppState) (registry.MergeStats, error) {
	if m := c.merger.Load(); m != nil {
		return (*m).Merge(ctx, states)
	}
	return c.reg.Merge(states), nil
}

// exchangeChunk caps the instances and tombstones one exchange request
// carries, so a request stays well below a peer's body limit (2 MiB by
// default) whatever the size of the repair: about 0.4 MB of ordinary
// instances. A larger application is sent in pieces (split).
const exchangeChunk = 500

// split cuts the applications with more than n instances and tombstones
// into pieces of at most n, all but the last marked Part (the peer answers
// an application's state once, for its last piece).
func split(states []registry.AppState, n int) []registry.AppState {
	var out []registry.AppState
	for _, s := range states {
		for len(s.Instances)+len(s.Tombstones) > n {
			piece := registry.AppState{Name: s.Name, Part: true}
			k := min(n, len(s.Instances))
			piece.Instances, s.Instances = s.Instances[:k:k], s.Instances[k:]
			k = min(n-k, len(s.Tombstones))
			piece.Tombstones, s.Tombstones = s.Tombstones[:k:k], s.Tombstones[k:]
			out = append(out, piece)
		}
		out = append(out, s)
	}
	return out
}

// entropy is a peer's anti-entropy state.
type entropy struct {
	// kick asks for a round soon (the peer came back, the node started).
	kick chan struct{}
	// unsupported is set when the peer has no digest endpoint (a Java
	// peer); cleared when the peer comes back, as it may have changed.
	unsupported                    atomic.Bool
	rounds, requests               atomic.Uint64
	pulledInstances, pulledCancels atomic.Uint64
	pushedInstances, pushedCancels atomic.Uint64
	lastRepair                     atomic.Int64 // unix ms of the last round that repaired something
}

func (e *entropy) init() { e.kick = make(chan struct{}, 1) }

// poke asks for a round without blocking.
func (e *entropy) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// KickAntiEntropy asks for a repair round with every peer (after the
// start-up sync).
func (c *Cluster) KickAntiEntropy() {
	for _, p := range *c.peers.Load() {
		p.ae.poke()
	}
}

// stallCheck is how often the anti-entropy loop looks for lost tasks and
// for a stall of this process (SIGSTOP, a frozen VM).
const stallCheck = time.Second

// lostRepairGap is the least time between two rounds asked for by lost
// tasks or a stall: a peer losing tasks without pause (every batch
// refused, a queue full under load) would otherwise get a round at every
// stallCheck, each a digest of the whole registry on both sides and the
// exchange of every application that differs meanwhile.
const lostRepairGap = 5 * time.Second

// antiEntropy runs repair rounds with p: every AntiEntropyInterval, when
// poked (start, the peer came back), when tasks for the peer were lost
// (dropped, expired, rejected) and after this process stalled, these two
// at most every lostRepairGap.
func (c *Cluster) antiEntropy(ctx context.Context, p *Peer) {
	if c.opts.AntiEntropyInterval <= 0 {
		return
	}
	period := time.NewTicker(c.opts.AntiEntropyInterval)
	defer period.Stop()
	check := time.NewTicker(stallCheck)
	defer check.Stop()
	gap := min(lostRepairGap, c.opts.AntiEntropyInterval)
	lost := p.lost()
	last := time.Now()
	var lastRound time.Time
	owed := false // a stall seen, its round not yet made
	for {
		select {
		case <-ctx.Done():
			return
		case <-period.C:
		case <-p.ae.kick:
		case now := <-check.C:
			// The monotonic clock runs on while the process is stopped: a
			// long gap means this node missed what the peers sent.
			owed = owed || now.Sub(last) > 3*stallCheck
			last = now
			if p.lost() == lost && !owed || now.Sub(lastRound) < gap {
				continue // lost stays as it was: a later check asks again
			}
		}
		owed = false
		if p.ae.unsupported.Load() || c.syncing.Load() {
			continue // Sync kicks a round when it ends
		}
		if err := c.repair(ctx, p); err != nil && ctx.Err() == nil {
			p.log.Debug("anti-entropy round failed", "err", err)
		}
		last, lastRound = time.Now(), time.Now()
		lost = p.lost()
	}
}

// lost is how many tasks for p never reached it.
func (p *Peer) lost() uint64 {
	_, dropped, expired := p.q.counts()
	return dropped + expired + p.rejected.Load()
}

// unsupportedStatus tells a peer without the anti-entropy endpoints: Java
// Eureka answers an unknown path 404 (or 405 for a method it does not
// serve there).
func unsupportedStatus(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && (ce.StatusCode == http.StatusNotFound || ce.StatusCode == http.StatusMethodNotAllowed ||
		ce.StatusCode == http.StatusNotImplemented || ce.StatusCode == http.StatusBadRequest)
}

// repair is one round with p: compare digests, then exchange the state of
// the differing applications in chunks. Each exchange repairs both sides:
// the peer merges this node's state and answers with its own, which this
// node merges. It makes 1 + ceil(differing instances / exchangeChunk)
// requests at most (plus one per application cut into pieces, and a few
// when the peer refuses a request as too large: smaller pieces).
func (c *Cluster) repair(ctx context.Context, p *Peer) error {
	start := time.Now()
	p.ae.rounds.Add(1)
	p.ae.requests.Add(1)
	body, err := p.client.PeerCall(ctx, http.MethodGet, "peerreplication/digest", nil)
	if err != nil {
		if unsupportedStatus(err) {
			if !p.ae.unsupported.Swap(true) {
				p.log.Info("peer has no anti-entropy (a Java Eureka server?): relying on heartbeats and the start-up sync", "err", err)
			}
			return nil
		}
		return err
	}
	theirs, err := registry.DecodeDigest(body)
	if err != nil {
		return err
	}
	mine := c.reg.Digest()
	var names []string
	for app, h := range mine {
		if theirs[app] != h {
			names = append(names, app)
		}
	}
	for app := range theirs {
		if _, ok := mine[app]; !ok {
			names = append(names, app)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	states := split(c.reg.PeerStates(names), exchangeChunk)
	var pulled, pushed registry.MergeStats
	requests := 1
	limit := exchangeChunk
	for len(states) > 0 {
		n, size := 0, 0
		for n < len(states) && (n == 0 || size+len(states[n].Instances)+len(states[n].Tombstones) <= limit) {
			size += len(states[n].Instances) + len(states[n].Tombstones)
			n++
		}
		chunk := states[:n]
		requests++
		p.ae.requests.Add(1)
		body, err := p.client.PeerCall(ctx, http.MethodPost, "peerreplication/exchange", registry.EncodeExchange(registry.Exchange{Apps: chunk}))
		if tooLarge(err) && size > 1 {
			// Instances with large metadata: the peer's body limit, not
			// the count, bounds a request. Smaller pieces, at most
			// log2(exchangeChunk) more requests in a round.
			limit = max(1, size/2)
			states = split(states, limit)
			continue
		}
		if err != nil {
			return err
		}
		states = states[n:]
		x, err := registry.DecodeExchange(body)
		if err != nil {
			return err
		}
		m, err := c.merge(ctx, x.Apps)
		if err != nil {
			return err
		}
		pulled.Adopted += m.Adopted
		pulled.Cancelled += m.Cancelled
		pushed.Adopted += x.Adopted
		pushed.Cancelled += x.Cancelled
	}
	p.ae.pulledInstances.Add(uint64(pulled.Adopted))
	p.ae.pulledCancels.Add(uint64(pulled.Cancelled))
	p.ae.pushedInstances.Add(uint64(pushed.Adopted))
	p.ae.pushedCancels.Add(uint64(pushed.Cancelled))
	if pulled != (registry.MergeStats{}) || pushed != (registry.MergeStats{}) {
		p.ae.lastRepair.Store(time.Now().UnixMilli())
	}
	p.log.Info("anti-entropy repair", "apps", len(names), "requests", requests,
		"pulled_instances", pulled.Adopted, "pulled_cancels", pulled.Cancelled,
		"pushed_instances", pushed.Adopted, "pushed_cancels", pushed.Cancelled, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
