package replication

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Peer replicates to one peer server. Its Run loop sends the batches; its
// methods are safe for concurrent use.
type Peer struct {
	url    string // without credentials
	client *client.Client
	sync   *client.Client // the start-up sync's: longer timeout, larger answers
	reg    *registry.Registry
	opts   *Options
	log    *slog.Logger
	q      *queue
	ae     entropy

	sent, failed, rejected atomic.Uint64
	lastSuccess            atomic.Int64 // unix ms, 0 = never
	lastAttemptOK          atomic.Bool
	// sending is when the oldest task of the batch in flight was queued
	// (nanotime; 0: none in flight).
	sending atomic.Int64

	mu sync.Mutex
	// lastErr is the failure of the last exchange ("" after a success);
	// lastFailure and lastFailureAt outlive a recovery.
	lastErr, lastFailure string
	lastFailureAt        time.Time
}

// PeerStats is a snapshot of one peer's replication state.
type PeerStats struct {
	// URL is the peer's base URL without credentials.
	URL string
	// QueueLength is the number of tasks waiting.
	QueueLength int
	// Sent counts items the peer acknowledged with a response entry
	// (whatever its status code).
	Sent uint64
	// Failed counts requests to the peer (batches and availability
	// probes) that failed, whatever the cause: refused connection,
	// timeout, 503 or another error status, an unreadable answer. A batch
	// sent again counts again.
	Failed uint64
	// Rejected counts items of batches dropped after a failure not worth
	// retrying (an error status other than 503 and 413, an unreadable
	// answer): changes the peer never got.
	Rejected uint64
	// Dropped counts tasks pushed out of a full queue; Expired counts
	// tasks that outlived the task expiry before delivery.
	Dropped, Expired uint64
	// LastSuccess is when the peer last answered a batch or probe (zero:
	// never).
	LastSuccess time.Time
	// Available is true when the last exchange with the peer succeeded.
	Available bool
	// LastError is the failure of the last exchange with the peer: ""
	// while the peer is available.
	LastError string
	// LastFailure and LastFailureTime are the most recent failure and
	// when it happened, kept after the peer recovers ("" and zero: no
	// failure since start).
	LastFailure     string
	LastFailureTime time.Time
	// Lag is the age of the oldest change not yet acknowledged by the
	// peer, queued or in flight (0 when none): it grows while the peer is
	// down.
	Lag time.Duration
	// AntiEntropy is false once the peer answered that it has no
	// anti-entropy endpoints (a Java Eureka server).
	AntiEntropy bool
	// RepairRounds counts anti-entropy rounds with the peer, and
	// RepairRequests the requests they made (digests and exchanges).
	RepairRounds, RepairRequests uint64
	// Pulled counts instances this node took from the peer by
	// anti-entropy (Instances) and instances it cancelled for the peer's
	// newer tombstone (Cancels); Pushed counts the same on the peer's
	// side, from this node's state.
	Pulled, Pushed RepairCounts
	// LastRepair is when a round last changed something (zero: never).
	LastRepair time.Time
}

// RepairCounts counts what anti-entropy repaired.
type RepairCounts struct {
	Instances, Cancels uint64
}

func newPeer(url string, c *client.Client, reg *registry.Registry, o *Options, log *slog.Logger) *Peer {
	p := &Peer{
		url:    url,
		client: c,
		sync:   c,
		reg:    reg,
		opts:   o,
		log:    log.With("peer", url),
		q:      newQueue(o.QueueSize, o.BatchSize, o.TaskExpiry.Nanoseconds()),
	}
	p.ae.init()
	return p
}

// enqueue queues one task; it allocates nothing once the task id is known.
func (p *Peer) enqueue(a eureka.ReplicationAction, app, id string, now int64) {
	p.q.add(taskKey{action: a, app: app, id: id}, now)
}

// Stats returns the peer's counters.
func (p *Peer) Stats() PeerStats {
	pending, dropped, expired := p.q.counts()
	s := PeerStats{
		URL:         p.url,
		QueueLength: pending,
		Sent:        p.sent.Load(),
		Failed:      p.failed.Load(),
		Rejected:    p.rejected.Load(),
		Dropped:     dropped,
		Expired:     expired,
		Available:   p.lastAttemptOK.Load(),
		AntiEntropy: !p.ae.unsupported.Load(),

		RepairRounds:   p.ae.rounds.Load(),
		RepairRequests: p.ae.requests.Load(),
		Pulled:         RepairCounts{p.ae.pulledInstances.Load(), p.ae.pulledCancels.Load()},
		Pushed:         RepairCounts{p.ae.pushedInstances.Load(), p.ae.pushedCancels.Load()},
	}
	if ms := p.ae.lastRepair.Load(); ms > 0 {
		s.LastRepair = time.UnixMilli(ms)
	}
	now := nanotime()
	oldest, _, queued := p.q.oldest()
	if t := p.sending.Load(); t != 0 && (!queued || t < oldest) {
		oldest, queued = t, true
	}
	if queued {
		s.Lag = time.Duration(now - oldest)
	}
	if ms := p.lastSuccess.Load(); ms > 0 {
		s.LastSuccess = time.UnixMilli(ms)
	}
	p.mu.Lock()
	s.LastError, s.LastFailure, s.LastFailureTime = p.lastErr, p.lastFailure, p.lastFailureAt
	p.mu.Unlock()
	return s
}

// nanotime is the clock of the queue: monotonic nanoseconds.
var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) }

// Run sends batches until ctx ends.
func (p *Peer) Run(ctx context.Context) error {
	var (
		batch    []*task
		queuedAt int64 // when the oldest task of batch was queued
		items    []eureka.ReplicationItem
		backoff  time.Duration
		// limit is the batch size in use: halved when the peer refuses a
		// batch as too large (413), doubled back on success.
		limit = p.opts.BatchSize
		// probeRetry is the pause before probing an unreachable peer again.
		probeRetry time.Duration
		// lastBatch is when the last batch left (nanotime); paced is
		// false until one has.
		lastBatch int64
		paced     bool
	)
	sweepEvery := max(5*time.Minute, 2*p.opts.TaskExpiry)
	nextSweep := time.Now().Add(sweepEvery)
	probe := time.NewTimer(0) // probe at once, so availability is known early
	defer probe.Stop()
	wait := time.NewTimer(time.Hour)
	defer wait.Stop()
	for {
		if backoff > 0 {
			if !sleep(ctx, backoff) {
				return nil
			}
		}
		oldest, n, ok := p.q.oldest()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-p.q.wake:
			case <-probe.C:
				// An unreachable peer is probed again after a growing
				// pause, so it shows available soon after it comes up.
				next := p.opts.ProbeInterval
				if err := p.send(ctx, nil); err != nil {
					probeRetry = p.nextBackoff(probeRetry, err)
					next = min(next, probeRetry)
				} else {
					probeRetry, backoff = 0, 0
				}
				probe.Reset(next)
			}
			continue
		}
		// The loop has one batch in flight at a time, so changes gather
		// while one is out (group commit), and for the rest of
		// BatchInterval after one left, which bounds the requests a busy
		// pipe makes; a lone change to an idle peer leaves at once.
		// MaxBatchDelay, when set, holds a batch back for companions as
		// Eureka does. A full batch leaves at once.
		due := oldest + p.opts.MaxBatchDelay.Nanoseconds()
		if paced {
			due = max(due, lastBatch+p.opts.BatchInterval.Nanoseconds())
		}
		if now := nanotime(); n < limit && now < due {
			wait.Reset(time.Duration(due - now))
			select {
			case <-ctx.Done():
				return nil
			case <-p.q.wake:
			case <-wait.C:
			}
			continue
		}
		now := nanotime()
		batch, queuedAt = p.q.take(batch[:0], limit, now)
		items = p.items(items[:0], batch)
		if len(items) == 0 {
			continue
		}
		p.sending.Store(queuedAt)
		lastBatch, paced = now, true
		err := p.send(ctx, items)
		probe.Reset(p.opts.ProbeInterval)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			switch {
			case tooLarge(err) && len(batch) > 1:
				// The peer's body limit: send the same tasks in smaller
				// batches, at once.
				limit = max(1, len(batch)/2)
				p.q.requeue(batch, nanotime())
				p.sending.Store(0)
				continue
			case retryable(err):
				p.q.requeue(batch, nanotime())
			default:
				p.rejected.Add(uint64(len(items)))
			}
			backoff = p.nextBackoff(backoff, err)
		} else {
			backoff = 0
			limit = min(p.opts.BatchSize, limit*2)
		}
		p.sending.Store(0) // requeued, dropped or delivered
		clear(items)
		if time.Now().After(nextSweep) {
			p.q.sweep(nanotime() - sweepEvery.Nanoseconds())
			nextSweep = time.Now().Add(sweepEvery)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// items builds the wire items of a batch from the registry's current
// copies. Tasks whose instance is gone (or expired) are skipped, except
// Cancel, which names no instance data.
func (p *Peer) items(dst []eureka.ReplicationItem, batch []*task) []eureka.ReplicationItem {
	for _, t := range batch {
		it := eureka.ReplicationItem{AppName: t.key.app, ID: t.key.id, Action: t.key.action}
		switch t.key.action {
		case eureka.ReplicateCancel:
		case eureka.ReplicateRegister:
			in := p.reg.Instance(t.key.app, t.key.id)
			if in == nil {
				continue
			}
			it.LastDirtyTimestamp, it.Status, it.Instance = in.LastDirtyTimestamp, in.Status, in
		default:
			st, over, dirty, ok := p.reg.ReplicationState(t.key.app, t.key.id)
			if !ok {
				continue
			}
			it.LastDirtyTimestamp, it.Status = dirty, st
			if t.key.action == eureka.ReplicateHeartbeat && over != "" && over != eureka.StatusUnknown {
				it.OverriddenStatus = over
			}
		}
		dst = append(dst, it)
	}
	return dst
}

// send posts one batch (nil: an empty probe) and handles the per-item
// results.
func (p *Peer) send(ctx context.Context, items []eureka.ReplicationItem) error {
	if items == nil {
		items = []eureka.ReplicationItem{}
	}
	res, err := p.client.ReplicateBatch(ctx, items)
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down: not the peer's failure.
			return err
		}
		p.failed.Add(1)
		p.lastAttemptOK.Store(false)
		msg := err.Error()
		p.mu.Lock()
		p.lastErr, p.lastFailure, p.lastFailureAt = msg, msg, time.Now()
		p.mu.Unlock()
		p.log.Debug("replication batch failed", "items", len(items), "err", err)
		return err
	}
	if !p.lastAttemptOK.Swap(true) {
		p.mu.Lock()
		p.lastErr = ""
		p.mu.Unlock()
		// The peer is (back) up: compare registries with it now; it may
		// also be another server than before, so ask for its digest again.
		p.ae.unsupported.Store(false)
		p.ae.poke()
	}
	p.lastSuccess.Store(time.Now().UnixMilli())
	if len(items) == 0 {
		return nil
	}
	p.sent.Add(uint64(len(items)))
	now := nanotime()
	for i, r := range res {
		it := &items[i]
		if r.StatusCode >= 200 && r.StatusCode < 300 {
			continue
		}
		switch {
		case it.Action == eureka.ReplicateHeartbeat && r.StatusCode == http.StatusNotFound:
			// The peer lacks the instance or holds an older copy.
			p.enqueue(eureka.ReplicateRegister, it.AppName, it.ID, now)
		case it.Action == eureka.ReplicateHeartbeat && r.StatusCode == http.StatusConflict && r.Entity != nil:
			// The peer's copy is newer: take it, with its override.
			p.log.Debug("adopting the peer's newer copy", "app", it.AppName, "id", it.ID,
				"peer_dirty", r.Entity.LastDirtyTimestamp, "local_dirty", it.LastDirtyTimestamp)
			if err := p.reg.Settings().Limits.OrDefault().Instance(r.Entity); err != nil {
				p.log.Warn("refused the peer's copy: the input rules refuse it", "app", it.AppName, "err", err)
				continue
			}
			p.reg.AdoptPeerCopy(r.Entity)
		default:
			p.log.Debug("replicated item refused", "action", it.Action, "app", it.AppName, "id", it.ID, "status", r.StatusCode)
		}
	}
	return nil
}

// retryable tells congestion (503, timeouts) and I/O failures, whose batch
// is re-queued, from failures that drop it (other HTTP errors, a response
// that cannot be read).
func retryable(err error) bool {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.StatusCode == http.StatusServiceUnavailable
	}
	if errors.Is(err, eureka.ErrMalformed) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, client.ErrUnavailable) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}

// tooLarge reports a 413: the peer's request body limit.
func tooLarge(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.StatusCode == http.StatusRequestEntityTooLarge
}

// nextBackoff doubles the pause, starting at RetryBackoff for I/O errors
// and at ten times that (Eureka's 1 s) for congestion.
func (p *Peer) nextBackoff(cur time.Duration, err error) time.Duration {
	base := p.opts.RetryBackoff
	var ce *client.Error
	var ne net.Error
	if (errors.As(err, &ce) && ce.StatusCode == http.StatusServiceUnavailable) || (errors.As(err, &ne) && ne.Timeout()) {
		base *= 10
	}
	next := max(base, cur*2)
	return min(next, p.opts.MaxBackoff)
}
