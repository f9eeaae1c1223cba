// Package persist writes the registry to a storage.Store: changes are
// coalesced by key, committed in groups by a single flusher, and
// acknowledged to writers according to the durability setting.
//
// # How a write becomes durable
//
// The registry reports the key of every change (Changed). The key joins the
// pending set — a set, so a key changed a thousand times before the next
// commit is written once, and the set is bounded by the registry's size,
// never by the write rate. The flusher takes the whole set, reads each key's
// current state from the registry, and applies the writes in batches (one
// bbolt transaction, one Redis MULTI per batch). Reading the state at commit
// time, from one goroutine, is what keeps the store in the registry's order:
// whatever was committed last is what the registry holds.
//
// With DurabilitySync a writer calls Commit after its change and is answered
// once the flush that took its key has committed: every change before the
// call is then in the store. Writes arriving during a flush form the next
// group; while several writers are active the flusher also waits, at
// most CommitDelay, for the write requests under way (Begin) to make their
// changes (End), so that they share the fsync. A Commit that finds nothing
// pending waits only for the flush being written, if any. With DurabilityAsync
// Commit returns at once and the flusher commits at least every
// FlushInterval.
//
// # When the store fails
//
// A failed flush puts its keys back into the pending set and the flusher
// retries with exponential back-off, reporting itself degraded. With
// FailureServe (the default) the registry keeps serving: writers are answered
// from memory and everything pending is written when the store returns. With
// FailureReject, writes are refused (ErrUnavailable) while the store is
// degraded and a write whose commit failed is not acknowledged.
//
// # When the store refuses a record
//
// A store may refuse one record for what it is (bbolt takes no key over
// 32 KiB) while taking every other: one such record must not stop the rest
// of the registry from becoming durable, nor make the store look down. When
// a batch fails, the flusher finds out which case it is in. A store that
// can tell returns a *storage.RefusedError naming the key: the flusher sets
// that record aside and writes the batch again without it. Otherwise it
// writes and deletes a probe record (EUREKAD/persist-probe) in one batch: if
// that fails too, the store is failing (see above); if it succeeds, it
// splits the batch in halves and writes each the same way, so one refused
// record among n costs about 2·log2(n) extra round trips. A single record
// that fails after a successful probe is written once more before it is
// taken as refused.
//
// The rule for a refused record: it stays in the registry's memory, served
// as usual, and leaves the pending set; the flush that refused it succeeds,
// so the store is not degraded and the writers of every other key are
// acknowledged. It is counted (Status.Refused, Status.RefusedTotal), listed
// with a bounded excerpt of its key (Status.RecentRefused) and logged once
// when it is first refused. It is written again when its instance changes
// again and at every lease checkpoint; it leaves the refused set once
// written or deleted. A record taken as refused without the store saying so
// (no ErrRefused) may have been refused by mistake: a full disk takes the
// small probe but not a larger record. Such a record is also written again
// when the store recovers from a failure and every VerifyInterval, so it
// is stored soon after space is freed, not a checkpoint later.
// Commit answers for the store as a whole and is not failed by another
// writer's refused record; a writer that needs to know whether its own
// record was stored calls CommitKey.
//
// Every store error kept or logged is cut to a few hundred bytes, and keys
// to storage.Key.Excerpt: a key may be tens of kilobytes.
//
// # Store identity
//
// A store can lose what eurekad wrote without failing a single write: a
// Redis restarted without persistence or flushed, a failover to a replica
// that lagged, a storage plugin that lost its file. The persister tells by two
// records of its own in the store (application EUREKAD): a generation record,
// a random name chosen at start and written with the first flush, and a
// sequence record, "generation/flush number", written in the same batch as
// every flush's last records. Every VerifyInterval, and before the first
// flush after a failure, it reads both (two Gets). A missing or foreign
// generation record means the store was emptied or replaced; a sequence
// older than the last flush committed means it lost recent writes. A
// failover to a replica that lagged usually fails the flush in flight, and
// the check then runs before the retry writes a new sequence over the
// evidence; a failover while no flush is in flight is found only if a
// periodic check comes before the next flush (the lease checkpoint still
// rewrites every instance within CheckpointInterval, but not the records
// of cancelled instances the replica kept). On a mismatch the persister logs what it
// found, queues every key of the registry and every key the store holds (so
// records the registry no longer has are deleted), and rewrites them in its
// next flush with a new generation; Status.Resyncing (and Degraded) is set
// until that flush has committed. Readers of the whole store skip these
// records (IsMarker, HideMarkers). One store has one writer: two eurekad
// processes writing the same keys would each find the other's generation
// and rewrite in turn: when checks in a row find a foreign generation, the
// persister logs that another process seems to write the store and spaces
// its checks out, doubling up to 64 VerifyIntervals.
//
// Lease timestamps change on every renewal and are not written one by one;
// every CheckpointInterval each lease is queued once at low priority, so a
// checkpoint never delays writers by more than one small batch.
package persist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/internal/histogram"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Durability says when a write is acknowledged.
type Durability string

const (
	// DurabilitySync answers a write once its group commit is done.
	DurabilitySync Durability = "sync"
	// DurabilityAsync answers at once and commits within FlushInterval.
	DurabilityAsync Durability = "async"
)

// FailurePolicy says what writes get while the store is failing.
type FailurePolicy string

const (
	// FailureServe keeps accepting writes from memory.
	FailureServe FailurePolicy = "serve"
	// FailureReject refuses writes with ErrUnavailable.
	FailureReject FailurePolicy = "reject"
)

// ErrUnavailable is returned to writers under FailureReject while the
// store is failing.
var ErrUnavailable = errors.New("persist: store unavailable")

// Source is the registry as the persister reads it.
type Source interface {
	// AppendRecord returns the stored form of a key, its Value appended to
	// buf (returned grown, as append does); ok false means delete the key.
	AppendRecord(buf []byte, app, id string) (rec storage.Record, out []byte, ok bool)
	// Keys lists every key, for lease checkpoints.
	Keys(fn func(app, id string))
}

// maxErrorBytes bounds a store error's message as kept in Status and logs,
// and as returned to writers.
const maxErrorBytes = 512

// recentRefusals is how many refusals Status lists.
const recentRefusals = 8

// probeKey is the record a probe writes and deletes in one batch, in the
// readiness probe's application.
var probeKey = storage.Key{App: "EUREKAD", ID: "persist-probe"}

// maxKeptBuffer is the largest value buffer kept between flushes: a batch
// of BatchSize ordinary records fits; a batch of huge ones is not kept.
const maxKeptBuffer = 4 << 20

// Options configures a Persister. Start from DefaultOptions.
type Options struct {
	Durability         Durability    `config:"durability" flag:"durability" help:"sync: answer writes once stored; async: answer at once, store within flush_interval"`
	FlushInterval      time.Duration `config:"flush_interval" help:"async durability: longest time before a change is stored"`
	CheckpointInterval time.Duration `config:"checkpoint_interval" help:"how often lease renewal times are written"`
	// CommitDelay bounds how long the flusher waits, in sync durability,
	// for writers already under way (Begin called, End not yet) before
	// a commit, when the previous commit held several writers' changes:
	// they then share the commit, and its fsync. A lone writer is never
	// delayed. 0 turns it off.
	CommitDelay time.Duration `config:"commit_delay" help:"sync durability: longest wait before a commit for write requests already under way, so they share its fsync (0: off)"`
	OnFailure   FailurePolicy `config:"on_failure" help:"while the store fails: serve (answer writes from memory) or reject (503)"`
	// BatchSize caps the writes of one store batch.
	BatchSize int `config:"batch_size" help:"most writes in one store transaction"`
	// MaxBackoff caps the retry interval while the store fails.
	MaxBackoff time.Duration `config:"max_backoff" help:"longest wait between retries while the store fails"`
	// VerifyInterval is how often the persister checks that the store
	// still holds what it wrote (see Store identity in the package doc).
	VerifyInterval time.Duration `config:"verify_interval" help:"how often to check that the store still holds what eurekad wrote (two reads), and rewrite it from memory if not"`
	Logger         *slog.Logger  `config:"-"`
}

// DefaultOptions returns sync durability, serving through store failures.
func DefaultOptions() Options {
	return Options{
		Durability:         DurabilitySync,
		FlushInterval:      100 * time.Millisecond,
		CheckpointInterval: 5 * time.Minute,
		CommitDelay:        time.Millisecond,
		OnFailure:          FailureServe,
		BatchSize:          1000,
		MaxBackoff:         10 * time.Second,
		VerifyInterval:     5 * time.Second,
	}
}

// Validate reports the first setting that cannot work.
func (o Options) Validate() error {
	switch {
	case o.Durability != DurabilitySync && o.Durability != DurabilityAsync:
		return fmt.Errorf("persist: durability %q is not sync or async", o.Durability)
	case o.OnFailure != FailureServe && o.OnFailure != FailureReject:
		return fmt.Errorf("persist: on_failure %q is not serve or reject", o.OnFailure)
	case o.FlushInterval <= 0 || o.CheckpointInterval <= 0 || o.MaxBackoff <= 0 || o.VerifyInterval <= 0:
		return fmt.Errorf("persist: intervals must be positive")
	case o.CommitDelay < 0:
		return fmt.Errorf("persist: commit delay must not be negative")
	case o.BatchSize <= 0:
		return fmt.Errorf("persist: batch size must be positive")
	}
	return nil
}

// Persister writes registry changes to a store. Its methods are safe for
// concurrent use.
type Persister struct {
	store storage.Store
	src   Source
	opts  Options
	log   *slog.Logger

	mu         sync.Mutex
	pending    map[storage.Key]struct{}
	background map[storage.Key]struct{}
	cur        *epoch

	kick chan struct{}

	// begun and arrived count the calls to Begin and End; gatherTarget is the arrival count the flusher
	// waits for, and arrival tells it that count was reached.
	begun, arrived atomic.Int64
	gatherTarget   atomic.Int64
	arrival        chan struct{}
	gatherTimer    *time.Timer
	// gathering is whether commits wait for writers under way at all
	// (sync durability, CommitDelay > 0); if not, Begin and End do nothing.
	gathering bool
	// buf holds the values of the batch being written, ops the batch;
	// only the flusher uses them, and a store owns a batch only during the
	// call.
	buf []byte
	ops []storage.Op
	// flushing is the epoch of the flush being written (nil when none): a
	// Commit that finds nothing pending waits only for it.
	flushing *epoch
	// refused holds the reason of each record the store refuses now;
	// recent the last refusals, oldest first. Only the flusher writes them,
	// under mu.
	refused map[storage.Key]string
	// guessed holds the refused records the store did not say it refuses
	// (see retryGuessed).
	guessed      map[storage.Key]struct{}
	recent       []Refusal
	refusedTotal atomic.Uint64
	// gen is the generation this persister writes; genStored whether the
	// store holds its record (a flush with it committed). seq numbers the
	// flushes, committedSeq is the last one committed. Only the flusher
	// uses them.
	gen               string
	genStored         bool
	seq, committedSeq uint64
	// foreignRun counts the last checks in a row that found another
	// generation (two processes writing one store); nextVerify is when
	// the periodic check may run again, later while they do.
	foreignRun   int
	nextVerify   time.Time
	resyncing    atomic.Bool
	resyncReason atomic.Pointer[string]
	resyncs      atomic.Uint64

	degraded   atomic.Bool
	lastErr    atomic.Pointer[string]
	commits    atomic.Uint64
	written    atomic.Uint64
	failures   atomic.Uint64
	lastCommit atomic.Int64 // unix ms
	commitNs   atomic.Int64 // duration of the last successful flush
	lastGroup  atomic.Int64 // changed keys in the last successful flush
	latency    histogram.Durations

	done chan struct{}
}

// epoch is one group of changes; done closes when its flush ends.
type epoch struct {
	done chan struct{}
	err  error
}

func newEpoch() *epoch { return &epoch{done: make(chan struct{})} }

// New returns a persister of src's changes into store. Call Run to start
// flushing. A nil opts means DefaultOptions.
func New(store storage.Store, src Source, opts *Options) (*Persister, error) {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Persister{
		store:      store,
		src:        src,
		opts:       o,
		log:        o.Logger,
		pending:    make(map[storage.Key]struct{}),
		background: make(map[storage.Key]struct{}),
		refused:    make(map[storage.Key]string),
		guessed:    make(map[storage.Key]struct{}),
		gen:        newGeneration(),
		cur:        newEpoch(),
		kick:       make(chan struct{}, 1),
		arrival:    make(chan struct{}, 1),
		done:       make(chan struct{}),
		gathering:  o.Durability == DurabilitySync && o.CommitDelay > 0,
	}, nil
}

// Changed queues a key for the next commit. It never blocks on the store.
func (p *Persister) Changed(app, id string) {
	k := storage.Key{App: app, ID: id}
	p.mu.Lock()
	p.pending[k] = struct{}{}
	p.mu.Unlock()
	if p.opts.Durability == DurabilitySync {
		p.wake()
	}
}

func (p *Persister) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Begin tells the persister that a write request is under way: a sync
// commit about to start waits (at most CommitDelay) for the requests under
// way to make their changes, so that one fsync serves them all. Pair every
// Begin with exactly one End, called before Commit when there is one.
func (p *Persister) Begin() {
	if p.gathering {
		p.begun.Add(1)
	}
}

// End says a write request that called Begin has made its changes (call it
// just before Commit) or is ending without any.
func (p *Persister) End() {
	if p.gathering && p.arrived.Add(1) == p.gatherTarget.Load() {
		select {
		case p.arrival <- struct{}{}:
		default:
		}
	}
}

// Admit reports whether writes are accepted now: ErrUnavailable while the
// store fails under FailureReject.
func (p *Persister) Admit() error {
	if p.opts.OnFailure == FailureReject && p.degraded.Load() {
		return ErrUnavailable
	}
	return nil
}

// Commit waits until every change reported before the call is stored, as
// the durability setting asks: at once for async, after the group commit
// for sync. While the store fails it answers at once under FailureServe and
// with ErrUnavailable under FailureReject.
func (p *Persister) Commit(ctx context.Context) error {
	if p.opts.Durability == DurabilityAsync {
		return nil
	}
	if p.degraded.Load() {
		return p.failureAnswer(nil)
	}
	if err := p.wait(ctx); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return p.failureAnswer(err)
	}
	return nil
}

// errStopped: Run has returned, its final flush done, so a change made
// after it is not stored.
var errStopped = errors.New("persist: stopped")

// wait waits for the flush that stores every change reported before the
// call and returns its error (nil when there is nothing to store).
func (p *Persister) wait(ctx context.Context) error {
	p.mu.Lock()
	var e *epoch
	switch {
	case len(p.pending) > 0:
		e = p.cur // the next flush takes them
	case p.flushing != nil:
		e = p.flushing // every change is in the flush being written
	default:
		p.mu.Unlock()
		return nil // every change is stored
	}
	p.mu.Unlock()
	p.wake()
	select {
	case <-e.done:
	case <-p.done:
		select {
		case <-e.done:
		default:
			return errStopped
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	return e.err
}

// AdmitDurable reports whether a write that must be stored before it is
// acknowledged can be taken now: ErrUnavailable, saying why, while the
// store fails, whatever the failure policy.
func (p *Persister) AdmitDurable() error {
	if p.degraded.Load() {
		return p.unavailable()
	}
	return nil
}

func (p *Persister) unavailable() error {
	if e := p.lastErr.Load(); e != nil {
		return fmt.Errorf("%w: this change must be stored before it is acknowledged, and the store is failing: %s", ErrUnavailable, storage.Cut(*e, 200))
	}
	return fmt.Errorf("%w: this change must be stored before it is acknowledged, and the store is failing", ErrUnavailable)
}

// CommitDurable is the acknowledgement of a write that does not heal by
// itself (a status override, its removal, a metadata edit): it waits until
// every change reported before the call, app/id's among them, is stored,
// whatever the durability setting and failure policy, and fails with
// ErrUnavailable when it was not, or with storage.ErrRefused when the store
// refused app/id's record.
func (p *Persister) CommitDurable(ctx context.Context, app, id string) error {
	if p.degraded.Load() {
		return p.unavailable()
	}
	if err := p.wait(ctx); err != nil {
		if ctx.Err() != nil {
			return err
		}
		if p.degraded.Load() {
			return p.unavailable()
		}
		return fmt.Errorf("%w: %s", ErrUnavailable, storage.Cut(err.Error(), 200))
	}
	err := p.refusedKey(ctx, app, id)
	if err == nil || errors.Is(err, storage.ErrRefused) || ctx.Err() != nil {
		return err
	}
	return p.unavailable()
}

// CommitKey is Commit for a writer that changed the record of app and id
// (as the registry reports it to Changed) and must know whether that
// record was stored: besides Commit's answer, it returns an error matching
// storage.ErrRefused when the store refused the record, in either failure
// policy. A refusal is not an outage that serve can wait out: the record
// will not be stored by waiting, so the writer hears of it, and decides
// (a registration may still be served from memory; a change that does not
// heal by itself should not be acknowledged). With async durability it
// returns at once, as Commit does.
func (p *Persister) CommitKey(ctx context.Context, app, id string) error {
	if err := p.Commit(ctx); err != nil || p.opts.Durability == DurabilityAsync {
		return err
	}
	return p.keyAnswer(ctx, app, id)
}

// keyAnswer is refusedKey for a writer under the failure policy: a store
// that failed while the record was tried again gets the policy's answer.
func (p *Persister) keyAnswer(ctx context.Context, app, id string) error {
	err := p.refusedKey(ctx, app, id)
	if err == nil || errors.Is(err, storage.ErrRefused) || ctx.Err() != nil {
		return err
	}
	return p.failureAnswer(err)
}

// CommitHealing is the acknowledgement of a write that heals by itself (a
// registration: its client registers again at the next heartbeat's 404):
// Commit, and under FailureReject an error wrapping ErrUnavailable and
// storage.ErrRefused when the store refused app/id's record. Under
// FailureServe a refused record is served from memory, like every such
// write while the store fails.
func (p *Persister) CommitHealing(ctx context.Context, app, id string) error {
	if err := p.Commit(ctx); err != nil || p.opts.Durability == DurabilityAsync || p.opts.OnFailure == FailureServe {
		return err
	}
	err := p.keyAnswer(ctx, app, id)
	if errors.Is(err, storage.ErrRefused) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// refusedKey returns an error matching storage.ErrRefused when the store
// refused app/id's record. A refused record that changed again since
// (pending) may hold the caller's change, refused in the last flush: it
// waits for the flush that tries the record again rather than answer for
// a version not yet tried. It returns another error when that flush
// failed, or the store is failing (not tried, errStoreFailing).
func (p *Persister) refusedKey(ctx context.Context, app, id string) error {
	k := storage.Key{App: app, ID: id}
	for {
		p.mu.Lock()
		reason, refused := p.refused[k]
		_, pending := p.pending[k]
		p.mu.Unlock()
		switch {
		case !refused:
			return nil
		case !pending:
			return fmt.Errorf("persist: %w", &storage.RefusedError{Key: k, Reason: reason})
		case p.degraded.Load():
			return errStoreFailing
		}
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
}

// errStoreFailing: a record could not be tried again, the store failing.
var errStoreFailing = errors.New("persist: the store is failing")

func (p *Persister) failureAnswer(err error) error {
	if p.opts.OnFailure == FailureServe {
		return nil
	}
	if err == nil {
		return ErrUnavailable
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// Run flushes until ctx ends, then makes a last flush of everything
// pending (bounded by the store's own timeouts) and returns.
func (p *Persister) Run(ctx context.Context) error {
	defer close(p.done)
	flushTick := time.NewTicker(p.opts.FlushInterval)
	defer flushTick.Stop()
	checkpoint := time.NewTicker(p.opts.CheckpointInterval)
	defer checkpoint.Stop()
	verify := time.NewTicker(p.opts.VerifyInterval)
	defer verify.Stop()
	wctx := context.WithoutCancel(ctx)
	backoff := time.Duration(0)
	var retry <-chan time.Time
	p.wake() // the first flush writes the generation record
	for {
		check := false
		select {
		case <-ctx.Done():
			p.finalFlush()
			return nil
		case <-p.kick:
			if retry == nil {
				p.gather()
			}
		case <-flushTick.C:
		case <-retry:
			retry = nil
			check = true // what the store holds now, before the retry overwrites the sequence
		case <-checkpoint.C:
			p.queueCheckpoint()
			continue
		case <-verify.C:
			if retry == nil && !p.degraded.Load() {
				p.retryGuessed()
				check = !time.Now().Before(p.nextVerify)
			}
		}
		if retry != nil {
			continue // waiting out a back-off
		}
		err := error(nil)
		if check {
			if err = p.verify(wctx); err != nil {
				p.failEpoch(p.failed(err))
			}
		}
		if err == nil {
			err = p.flush(wctx)
		}
		if err != nil {
			backoff = min(max(2*backoff, 50*time.Millisecond), p.opts.MaxBackoff)
			retry = time.After(backoff)
			continue
		}
		backoff = 0
		if p.hasWork() {
			p.wake()
		}
	}
}

// gather delays a sync commit, while writers are concurrent (the last
// commit held more than one change), until the writers under way when it
// was called have made their changes (End), or CommitDelay has passed:
// those writers are using the CPU on their way to commit, so waiting for
// them costs no throughput, and the commit they share saves an fsync each (on this
// project's benchmark machine an fsync costs about 170 µs of CPU). It is
// PostgreSQL's commit_delay, bounded by the writers actually under way
// rather than by commit_siblings. Arrivals need not come in Begin order;
// the count is a good enough estimate.
func (p *Persister) gather() {
	if !p.gathering || p.lastGroup.Load() <= 1 {
		return
	}
	target := p.begun.Load()
	p.gatherTarget.Store(target)
	select {
	case <-p.arrival: // a stale signal
	default:
	}
	if p.arrived.Load() >= target {
		return
	}
	if p.gatherTimer == nil {
		p.gatherTimer = time.NewTimer(p.opts.CommitDelay)
	} else {
		p.gatherTimer.Reset(p.opts.CommitDelay)
	}
	defer p.gatherTimer.Stop()
	for p.arrived.Load() < target {
		select {
		case <-p.arrival:
		case <-p.gatherTimer.C:
			return
		}
	}
}

func (p *Persister) hasWork() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending) > 0 || len(p.background) > 0
}

// queueCheckpoint queues every lease at low priority.
func (p *Persister) queueCheckpoint() {
	n := 0
	p.src.Keys(func(app, id string) {
		p.mu.Lock()
		p.background[storage.Key{App: app, ID: id}] = struct{}{}
		p.mu.Unlock()
		n++
	})
	p.log.Debug("lease checkpoint queued", "leases", n)
	p.wake()
}

// flush commits the pending set plus up to one batch of checkpoint keys:
// it reads each key's current state from the registry and writes the
// batch, then acknowledges the epoch of the writers it covers.
func (p *Persister) flush(ctx context.Context) error {
	p.mu.Lock()
	keys := p.pending
	p.pending = make(map[storage.Key]struct{}, len(keys))
	e := p.cur
	p.cur = newEpoch()
	var bg []storage.Key
	for k := range p.background {
		if len(bg) >= p.opts.BatchSize {
			break
		}
		delete(p.background, k)
		if _, dup := keys[k]; !dup {
			bg = append(bg, k)
		}
	}
	if len(keys) == 0 && len(bg) == 0 && p.genStored {
		p.mu.Unlock()
		close(e.done)
		return nil
	}
	p.flushing = e
	p.mu.Unlock()

	start := time.Now()
	refusedBefore := p.refusedTotal.Load() // only the flusher adds to it
	err := p.write(ctx, keys, bg)
	took := time.Since(start)
	n := len(keys) + len(bg) - int(p.refusedTotal.Load()-refusedBefore)
	if err != nil {
		err = p.failed(err)
	} else {
		p.commits.Add(1)
		p.lastGroup.Store(int64(len(keys)))
		p.written.Add(uint64(n))
		p.lastCommit.Store(time.Now().UnixMilli())
		p.commitNs.Store(int64(took))
		p.latency.Observe(CommitBuckets, took)
		if p.degraded.Swap(false) {
			p.log.Info("store recovered", "written", n, "refusedRetried", p.retryGuessed())
		}
		if p.resyncing.Swap(false) {
			p.log.Info("store rewritten from memory", "written", n)
		}
	}
	p.mu.Lock()
	if err != nil {
		// Keep every key: rewriting one that did commit is harmless, losing
		// one is not.
		for k := range keys {
			p.pending[k] = struct{}{}
		}
		for _, k := range bg {
			p.background[k] = struct{}{}
		}
	}
	p.flushing = nil
	p.mu.Unlock()
	// Degraded is set before any writer hears of the failure.
	e.err = err
	close(e.done)
	return err
}

// failEpoch answers the writers waiting for the next flush with err, as a
// failed flush does, without writing: their changes stay pending.
func (p *Persister) failEpoch(err error) {
	p.mu.Lock()
	e := p.cur
	p.cur = newEpoch()
	p.mu.Unlock()
	e.err = err
	close(e.done)
}

// failed records a store failure and returns err cut to maxErrorBytes.
func (p *Persister) failed(err error) error {
	err = boundedError{err}
	p.failures.Add(1)
	msg := err.Error()
	p.lastErr.Store(&msg)
	if !p.degraded.Swap(true) {
		p.log.Error("store failing; serving from memory and retrying", "err", msg, "policy", p.opts.OnFailure)
	}
	return err
}

// write stores the keys in the registry's current state, in batches of at
// most BatchSize, the last one followed by the marker records.
func (p *Persister) write(ctx context.Context, keys map[storage.Key]struct{}, bg []storage.Key) error {
	p.seq++
	limit := min(len(keys)+len(bg), p.opts.BatchSize)
	ops := slices.Grow(p.ops[:0], limit+2) // the last batch also holds the markers
	buf := p.buf[:0]
	var err error
	left := len(keys) + len(bg)
	put := func(k storage.Key) {
		if err != nil {
			return
		}
		var rec storage.Record
		var ok bool
		rec, buf, ok = p.src.AppendRecord(buf, k.App, k.ID)
		ops = append(ops, storage.Op{Delete: !ok, Record: rec})
		if left--; len(ops) == limit && left > 0 {
			err = p.apply(ctx, ops)
			ops, buf = ops[:0], buf[:0]
		}
	}
	for k := range keys {
		put(k)
	}
	for _, k := range bg {
		put(k)
	}
	if err == nil {
		ops, buf = p.markerOps(ops, buf, p.seq)
		err = p.apply(ctx, ops)
	}
	if err == nil {
		p.committedSeq, p.genStored = p.seq, true
	}
	if cap(buf) <= maxKeptBuffer {
		p.buf = buf[:0]
	}
	p.ops = ops[:0] // at most BatchSize+2 entries; their values point into p.buf
	return err
}

// apply writes ops as one batch. If the store refuses some of them, it
// writes the others and sets the refused ones aside (see the package doc);
// it fails only when the store does, leaving ops reordered.
func (p *Persister) apply(ctx context.Context, ops []storage.Op) error {
	err := storage.ApplyBatch(ctx, p.store, ops)
	if err == nil {
		p.stored(ops)
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	var re *storage.RefusedError
	if errors.As(err, &re) {
		if i := slices.IndexFunc(ops, func(op storage.Op) bool { return op.Record.Key == re.Key }); i >= 0 {
			if IsMarker(re.Key) {
				return err // a store that cannot hold them cannot be verified
			}
			p.refuse(ops[i].Record.Key, re.Reason, false)
			// Keep the order: the sequence record stays last.
			if ops = slices.Delete(ops, i, i+1); len(ops) == 0 {
				return nil
			}
			return p.apply(ctx, ops)
		}
	}
	// The store cannot say which record it refused, or whether it refused
	// one at all: a store that takes the probe takes writes.
	known := errors.Is(err, storage.ErrRefused)
	if !known {
		if perr := p.probe(ctx); perr != nil {
			return err
		}
	}
	if len(ops) == 1 {
		if !known {
			if err = storage.ApplyBatch(ctx, p.store, ops); err == nil {
				p.stored(ops)
				return nil
			}
		}
		if IsMarker(ops[0].Record.Key) {
			return err
		}
		p.refuse(ops[0].Record.Key, storage.Cut(err.Error(), maxErrorBytes), !known)
		return nil
	}
	half := len(ops) / 2
	if err := p.apply(ctx, ops[:half]); err != nil {
		return err
	}
	return p.apply(ctx, ops[half:])
}

// probe writes and deletes probeKey in one batch: whether the store takes
// writes at all.
func (p *Persister) probe(ctx context.Context) error {
	return storage.ApplyBatch(ctx, p.store, []storage.Op{
		{Record: storage.Record{Key: probeKey, Updated: time.Now().UnixMilli()}},
		{Delete: true, Record: storage.Record{Key: probeKey}},
	})
}

// stored takes the records of ops, now written, out of the refused set.
func (p *Persister) stored(ops []storage.Op) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.refused) == 0 {
		return
	}
	for _, op := range ops {
		delete(p.refused, op.Record.Key)
		delete(p.guessed, op.Record.Key)
	}
}

// retryGuessed queues the records taken as refused without the store
// saying so, at low priority: a store out of space takes the probe and
// fails a larger record, which it takes once space is freed. Not in the
// pending set, which would hide the refusal from a writer still to hear of
// it (refusedKey). It returns how many.
func (p *Persister) retryGuessed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.guessed {
		p.background[k] = struct{}{}
	}
	return len(p.guessed)
}

// refuse sets a record the store refused aside: out of the pending set
// (the flush took it), into the refused set, reported. guessed says the
// store did not say it refuses it.
func (p *Persister) refuse(k storage.Key, reason string, guessed bool) {
	p.refusedTotal.Add(1)
	p.mu.Lock()
	_, again := p.refused[k]
	p.refused[k] = reason
	if guessed {
		p.guessed[k] = struct{}{}
	} else {
		delete(p.guessed, k)
	}
	if len(p.recent) == recentRefusals {
		p.recent = slices.Delete(p.recent, 0, 1)
	}
	p.recent = append(p.recent, Refusal{Key: k.Excerpt(), Reason: reason, At: time.Now()})
	p.mu.Unlock()
	if !again {
		p.log.Error("store refused a record; kept in memory only, the rest is stored",
			"key", k.Excerpt(), "keyBytes", len(k.App)+len(k.ID), "reason", reason)
	}
}

// boundedError cuts a store error's message to maxErrorBytes: it is kept
// in Status, logged and returned to writers, and may quote a huge key.
type boundedError struct{ err error }

func (e boundedError) Error() string { return storage.Cut(e.err.Error(), maxErrorBytes) }
func (e boundedError) Unwrap() error { return e.err }

// finalFlush writes what is pending at shutdown, checkpoint keys included.
func (p *Persister) finalFlush() {
	ctx := context.Background()
	for p.hasWork() {
		if err := p.flush(ctx); err != nil {
			p.log.Error("final flush failed; changes not stored", "err", err, "pending", p.Status().Pending)
			return
		}
	}
}

// Wait blocks until Run has returned (its final flush done) or ctx ends.
func (p *Persister) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status is the persister's state, for readiness and operators.
type Status struct {
	Durability Durability    `json:"durability"`
	OnFailure  FailurePolicy `json:"onFailure"`
	// Degraded is true while the store is failing.
	Degraded bool `json:"degraded"`
	// LastError is the last store error, kept after recovery.
	LastError string `json:"lastError,omitempty"`
	// Pending counts changed keys not yet stored; Checkpoint counts lease
	// checkpoints queued.
	Pending    int `json:"pending"`
	Checkpoint int `json:"checkpointPending"`
	// Commits, Written and Failures count flushes, keys written and failed
	// flushes since start.
	Commits  uint64 `json:"commits"`
	Written  uint64 `json:"written"`
	Failures uint64 `json:"failures"`
	// LastCommit is the time of the last successful flush.
	LastCommit time.Time `json:"lastCommit"`
	// LastCommitDuration is how long that flush took.
	LastCommitDuration time.Duration `json:"lastCommitDurationNs"`
	// Refused counts the records the store refuses now (kept in memory
	// only; see the package doc), RefusedTotal the refusals since start (a
	// record refused again, at a checkpoint or a change, counts again).
	Refused      int    `json:"refused"`
	RefusedTotal uint64 `json:"refusedTotal"`
	// RecentRefused lists the last few refusals, oldest first.
	RecentRefused []Refusal `json:"recentRefused,omitempty"`
	// Resyncing is true while the whole registry is being rewritten
	// because the store no longer held what eurekad wrote (Degraded is
	// then true too); Resyncs counts those rewrites since start, and
	// ResyncReason says what the last one found.
	Resyncing    bool   `json:"resyncing"`
	Resyncs      uint64 `json:"resyncs"`
	ResyncReason string `json:"resyncReason,omitempty"`
}

// Refusal is one record the store refused.
type Refusal struct {
	// Key is the record's key as storage.Key.Excerpt gives it, never the
	// whole key.
	Key string `json:"key"`
	// Reason is the store's, cut to a few hundred bytes.
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Status returns the current state.
func (p *Persister) Status() Status {
	p.mu.Lock()
	pending, bg := len(p.pending), len(p.background)
	refused, recent := len(p.refused), slices.Clone(p.recent)
	p.mu.Unlock()
	s := Status{
		Durability:         p.opts.Durability,
		OnFailure:          p.opts.OnFailure,
		Degraded:           p.degraded.Load() || p.resyncing.Load(),
		Pending:            pending,
		Checkpoint:         bg,
		Commits:            p.commits.Load(),
		Written:            p.written.Load(),
		Failures:           p.failures.Load(),
		LastCommitDuration: time.Duration(p.commitNs.Load()),
		Refused:            refused,
		RefusedTotal:       p.refusedTotal.Load(),
		RecentRefused:      recent,
		Resyncing:          p.resyncing.Load(),
		Resyncs:            p.resyncs.Load(),
	}
	if r := p.resyncReason.Load(); r != nil {
		s.ResyncReason = *r
	}
	if ms := p.lastCommit.Load(); ms > 0 {
		s.LastCommit = time.UnixMilli(ms)
	}
	if e := p.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}
