// Package events is eurekad's in-process event fan-out: the registry
// publishes every change once, and the Bus hands it to each subscribed
// hook.Listener asynchronously, in batches, in sequence order, through a
// bounded queue per subscriber.
//
// Publishing never blocks and never waits for a listener, so a slow or
// failing listener costs only itself.
//
// # Delivery
//
// A batch counts as delivered once the listener acknowledged it: Handle
// returned nil. A batch whose Handle failed is handed over again, whole
// and with exponential back-off, until the listener acknowledges it, for
// at most SubscribeOptions.RetryFor and MaxAttempts; then it is dropped.
// Meanwhile new events queue up; a full queue loses its oldest events.
// Every event lost either way is counted in Stats.Dropped, and the next
// batch the listener acknowledges starts with one hook.EventGap event whose
// Dropped says how many events of its subscription were lost right before
// that batch and whose Seq is the newest of them (so Seq still only grows).
// Delivery is therefore at least once within the retry bound (a batch
// that failed after the listener had taken it in part is sent again), and
// every loss is announced, except for what is still undelivered when Run's
// final flush ends: that is counted but cannot be announced.
//
// The Bus does not own its listeners: it never closes them. Whoever
// subscribes a listener closes it after Run has returned.
//
// The package imports only sdk/hook (and sdk/eureka through it).
package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/sdk/hook"
)

// Options configures a Bus. A nil *Options means DefaultOptions.
type Options struct {
	// Logger receives delivery errors; nil discards them.
	Logger *slog.Logger `config:"-"`
	// FlushTimeout bounds the final delivery of queued events after Run's
	// context ends. 0 means no final delivery: queued events are dropped.
	FlushTimeout time.Duration `config:"flush_timeout" help:"how long queued events may still be delivered at shutdown (0: dropped)"`
}

// DefaultOptions returns the Bus defaults.
func DefaultOptions() Options {
	return Options{FlushTimeout: 5 * time.Second}
}

// SubscribeOptions configures one subscriber. Zero values take the defaults
// listed per field.
//
// Batches form by themselves: a listener that keeps up gets each event at
// once, one that falls behind gets everything queued meanwhile (up to
// MaxBatch) in its next call. No event waits for a batch to fill.
type SubscribeOptions struct {
	// Types lists the event types the listener receives. Nil means every
	// type but hook.EventRenewed. hook.EventGap is always delivered when
	// events were dropped, listed or not.
	Types []hook.EventType `config:"events" help:"event types the listener receives (empty: all but renewed)"`
	// QueueSize bounds the events queued for the listener; 0 means 4096.
	QueueSize int `config:"queue_size" help:"events queued for the listener before the oldest are dropped"`
	// MaxBatch bounds the events handed over in one Handle call; 0 means
	// 256.
	MaxBatch int `config:"max_batch" help:"most events handed to the listener in one call"`
	// Timeout bounds one Handle call; 0 means 30 s.
	Timeout time.Duration `config:"timeout" help:"deadline of one delivery to the listener"`
	// RetryFor bounds how long a failed batch is retried, counted from its
	// first attempt: no attempt starts later. 0 means 30 s.
	RetryFor time.Duration `config:"retry_for" help:"how long a failed batch is retried before it is dropped and announced by a gap event"`
	// MaxAttempts bounds the Handle calls per batch, the first included; 0
	// means no bound but RetryFor, 1 means no retry.
	MaxAttempts int `config:"max_attempts" help:"most deliveries of one batch, the first included (0: as many as retry_for allows)"`
	// Backoff is the wait before the first retry, doubled for each next
	// one up to MaxBackoff; 0 means 100 ms and 5 s.
	Backoff    time.Duration `config:"backoff" help:"wait before the first retry of a failed batch, doubled for each next one"`
	MaxBackoff time.Duration `config:"max_backoff" help:"longest wait between retries of a failed batch"`
}

// Validate reports a setting out of range.
func (o *SubscribeOptions) Validate() error {
	switch {
	case o.QueueSize < 0 || o.QueueSize > 1<<20:
		return fmt.Errorf("events: queue_size %d: want 0 to %d", o.QueueSize, 1<<20)
	case o.MaxBatch < 0:
		return fmt.Errorf("events: max_batch %d must not be negative", o.MaxBatch)
	case o.Timeout < 0:
		return fmt.Errorf("events: timeout %v must not be negative", o.Timeout)
	case o.RetryFor < 0:
		return fmt.Errorf("events: retry_for %v must not be negative", o.RetryFor)
	case o.MaxAttempts < 0:
		return fmt.Errorf("events: max_attempts %d must not be negative", o.MaxAttempts)
	case o.Backoff < 0 || o.MaxBackoff < 0:
		return fmt.Errorf("events: backoff %v and max_backoff %v must not be negative", o.Backoff, o.MaxBackoff)
	case o.Backoff > 0 && o.MaxBackoff > 0 && o.Backoff > o.MaxBackoff:
		return fmt.Errorf("events: backoff %v is above max_backoff %v", o.Backoff, o.MaxBackoff)
	}
	for i, t := range o.Types {
		if !t.Valid() {
			return fmt.Errorf("events: events[%d]: unknown event type %q", i, t)
		}
	}
	return nil
}

// Defaults of SubscribeOptions.
const (
	DefaultQueueSize = 4096
	DefaultMaxBatch  = 256
	DefaultTimeout   = 30 * time.Second
	DefaultRetryFor  = 30 * time.Second
	DefaultBackoff   = 100 * time.Millisecond
	// DefaultMaxBackoff caps the back-off, so a listener that is back is
	// found within seconds.
	DefaultMaxBackoff = 5 * time.Second
)

// Errors returned by Subscribe.
var (
	// ErrRunning is returned by Subscribe after Run has started.
	ErrRunning = errors.New("events: subscribe after Run started")
	// ErrDuplicate is returned by Subscribe for a name already in use.
	ErrDuplicate = errors.New("events: duplicate subscriber name")
)

// Bus is the fan-out. Publish, WantsRenewals and Stats are safe for
// concurrent use; Subscribe is called before Run.
type Bus struct {
	opts Options
	log  *slog.Logger

	// mu orders publications: a sequence number is assigned and the event
	// queued for every subscriber under it, so each subscriber's queue is in
	// Seq order.
	mu   sync.Mutex
	seq  uint64
	subs []*subscriber

	wantsRenewals atomic.Bool
	running       atomic.Bool
}

// New returns a Bus with no subscribers. A nil opts means DefaultOptions.
func New(opts *Options) *Bus {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Bus{opts: o, log: o.Logger}
}

// Subscribe adds a listener under name (used in logs and Stats). It must be
// called before Run.
func (b *Bus) Subscribe(name string, l hook.Listener, o SubscribeOptions) error {
	if err := b.checkSubscriber(name, l); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RetryFor <= 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
		if o.MaxBackoff > 0 {
			o.Backoff = min(o.Backoff, o.MaxBackoff)
		}
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = max(DefaultMaxBackoff, o.Backoff)
	}
	s := &subscriber{
		name:   name,
		l:      l,
		opts:   o,
		ring:   make([]hook.Event, o.QueueSize),
		wake:   make(chan struct{}, 1),
		filter: make(map[hook.EventType]bool),
	}
	s.setFilter(o.Types)
	return b.add(s)
}

// SubscribeInline adds a listener that Publish calls itself, with each event
// of the given types (nil: every type but hook.EventRenewed) while it holds
// the bus lock, in Seq order. It is for in-memory bookkeeping that takes a
// short lock at most: such a listener never blocks, never fails, and is not
// worth a goroutine switch per event (a delivery goroutine woken for every
// registration costs more CPU than the registration's own bookkeeping).
// Nothing is queued, so nothing is dropped or retried; an error or a panic is
// counted and the event is lost to that listener. Handle gets a context
// without a deadline and must not keep the slice.
func (b *Bus) SubscribeInline(name string, l hook.Listener, types []hook.EventType) error {
	if err := b.checkSubscriber(name, l); err != nil {
		return err
	}
	s := &subscriber{name: name, l: l, inline: true, opts: SubscribeOptions{Types: types}, filter: make(map[hook.EventType]bool)}
	s.setFilter(types)
	return b.add(s)
}

// checkSubscriber rejects a subscription after Run, without a name or
// without a listener.
func (b *Bus) checkSubscriber(name string, l hook.Listener) error {
	if b.running.Load() {
		return ErrRunning
	}
	if name == "" {
		return errors.New("events: subscriber without a name")
	}
	if l == nil {
		return errors.New("events: nil listener for " + name)
	}
	return nil
}

// setFilter sets the event types s receives.
func (s *subscriber) setFilter(types []hook.EventType) {
	if types == nil {
		for _, t := range hook.EventTypes {
			s.filter[t] = t != hook.EventRenewed
		}
	} else {
		for _, t := range types {
			s.filter[t] = true
		}
	}
	s.wantsRenewals = s.filter[hook.EventRenewed]
}

// add registers s unless its name is taken.
func (b *Bus) add(s *subscriber) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, x := range b.subs {
		if x.name == s.name {
			return ErrDuplicate
		}
	}
	b.subs = append(b.subs, s)
	if s.wantsRenewals {
		b.wantsRenewals.Store(true)
	}
	return nil
}

// WantsRenewals reports whether any subscriber asked for hook.EventRenewed,
// so the registry builds renewal events only then. It is one atomic load.
func (b *Bus) WantsRenewals() bool { return b.wantsRenewals.Load() }

// Publish numbers e (Seq from 1, without holes), stamps its Time when zero,
// and queues it for every subscriber that wants its type (an inline one is
// called at once). It never blocks on a queued listener and does not
// allocate. Callers that need per-instance order
// publish while holding the lock that orders their changes.
func (b *Bus) Publish(e hook.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b.mu.Lock()
	b.seq++
	e.Seq = b.seq
	for _, s := range b.subs {
		switch {
		case !s.filter[e.Type]:
		case s.inline:
			s.call(&e)
		default:
			s.push(&e)
		}
	}
	b.mu.Unlock()
}

// ServerStarted publishes hook.EventServerStarted; the code that starts the
// server calls it once it serves.
func (b *Bus) ServerStarted() { b.Publish(hook.Event{Type: hook.EventServerStarted}) }

// Run delivers events to every subscriber, each in its own goroutine, until
// ctx ends; then it delivers what is still queued within FlushTimeout and
// returns nil, at the latest a second after FlushTimeout even if a listener
// is stuck. Run may be called once.
func (b *Bus) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("events: Run called twice")
	}
	b.mu.Lock()
	subs := append([]*subscriber(nil), b.subs...)
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range subs {
		if s.inline {
			continue // Publish calls it
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx, b.log.With("listener", s.name), b.opts.FlushTimeout)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	// A listener that ignores its context must not hold up the server's
	// shutdown: after the flush time and a grace period it is left behind
	// (its goroutine ends when its Handle call returns).
	t := time.NewTimer(b.opts.FlushTimeout + shutdownGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		for _, s := range subs {
			if s.busy.Load() {
				b.log.Warn("listener still busy at shutdown; not waiting for it", "listener", s.name)
			}
		}
	}
	return nil
}

// shutdownGrace is how long Run waits, beyond FlushTimeout, for listeners
// to return after its context ended.
const shutdownGrace = time.Second

// Stats describes one subscriber's delivery.
type Stats struct {
	// Name is the subscriber's name.
	Name string `json:"name"`
	// Delivered counts events the listener acknowledged (gap events
	// excluded), each once however often it was sent.
	Delivered uint64 `json:"delivered"`
	// Dropped counts events lost to a full queue, to a batch whose retries
	// ran out, or to an unfinished shutdown.
	Dropped uint64 `json:"dropped"`
	// Announced counts the dropped events the listener was told about by
	// an acknowledged gap event; Dropped-Announced are still to be told.
	Announced uint64 `json:"announced"`
	// Queued is the number of events waiting now, not counting a batch
	// being delivered.
	Queued int `json:"queued"`
	// Batches counts Handle calls, retries included; Errors counts those
	// that failed.
	Batches uint64 `json:"batches"`
	Errors  uint64 `json:"errors"`
	// LastError is the last Handle error, "" if none.
	LastError string `json:"lastError,omitempty"`
	// LastErrorTime is when it happened.
	LastErrorTime time.Time `json:"lastErrorTime,omitzero"`
}

// Stats returns every subscriber's figures, in subscription order.
func (b *Bus) Stats() []Stats {
	b.mu.Lock()
	subs := append([]*subscriber(nil), b.subs...)
	b.mu.Unlock()
	out := make([]Stats, 0, len(subs))
	for _, s := range subs {
		out = append(out, s.stats())
	}
	return out
}

type subscriber struct {
	name          string
	l             hook.Listener
	opts          SubscribeOptions
	filter        map[hook.EventType]bool // read-only after Subscribe
	wantsRenewals bool
	wake          chan struct{}
	// inline: Publish calls the listener with one (the bus lock
	// held), reused so a call does not allocate.
	inline bool
	one    [1]hook.Event

	mu sync.Mutex
	// ring holds the queue: n events from head.
	ring    []hook.Event
	head, n int
	// lost counts dropped events not yet announced by an acknowledged gap,
	// lastLost the Seq of the newest of them.
	lost, lastLost uint64

	busy                                         atomic.Bool // in Handle
	delivered, dropped, announced, batches, errs atomic.Uint64
	lastErr                                      atomic.Pointer[errorAt]
}

type errorAt struct {
	msg string
	at  time.Time
}

// push queues *e, dropping the oldest event when the queue is full. The
// caller holds the Bus lock.
func (s *subscriber) push(e *hook.Event) {
	s.mu.Lock()
	if s.n == len(s.ring) {
		old := &s.ring[s.head]
		s.lost++
		s.lastLost = max(s.lastLost, old.Seq)
		s.dropped.Add(1)
		*old = hook.Event{} // release the instance
		s.head = (s.head + 1) % len(s.ring)
		s.n--
	}
	s.ring[(s.head+s.n)%len(s.ring)] = *e
	s.n++
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// call hands *e to an inline listener; the caller holds the Bus lock.
func (s *subscriber) call(e *hook.Event) {
	s.one[0] = *e
	err := s.handle(context.Background(), s.one[:])
	s.one[0] = hook.Event{} // release the instance
	s.batches.Add(1)
	if err != nil {
		s.lastErr.Store(&errorAt{msg: err.Error(), at: time.Now()})
		s.errs.Add(1)
		s.dropped.Add(1)
		return
	}
	s.delivered.Add(1)
}

// batch is what one delivery hands over: events, of which real are taken
// from the queue and, before them, a gap event announcing gap losses.
type batch struct {
	events    []hook.Event
	real, gap int
}

// take moves up to max queued events into b, after a gap event when events
// were lost. The gap's count stays owed until the batch is acknowledged.
func (s *subscriber) take(b *batch, max int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b.events, b.real, b.gap = b.events[:0], 0, 0
	if s.lost > 0 {
		b.events = append(b.events, hook.Event{Seq: s.lastLost, Type: hook.EventGap, Time: time.Now(), Dropped: s.lost})
		b.gap = int(s.lost)
	}
	k := min(max, s.n)
	for i := 0; i < k; i++ {
		e := &s.ring[s.head]
		b.events = append(b.events, *e)
		*e = hook.Event{}
		s.head = (s.head + 1) % len(s.ring)
	}
	s.n -= k
	b.real = k
}

// acknowledged accounts for a batch the listener took.
func (s *subscriber) acknowledged(b *batch) {
	if b.gap > 0 {
		s.mu.Lock()
		// Losses since take are newer than the gap: they stay owed, and
		// lastLost is already theirs.
		s.lost -= uint64(b.gap)
		if s.lost == 0 {
			s.lastLost = 0
		}
		s.mu.Unlock()
		s.announced.Add(uint64(b.gap))
	}
	s.delivered.Add(uint64(b.real))
	b.reset()
}

// drop accounts for a batch that was not acknowledged: its events join the
// losses the next gap announces; the gap it carried stays owed. Events
// lost to overflow meanwhile are newer than the batch, so the losses stay
// one run of the listener's stream, right before what is still queued.
func (s *subscriber) drop(b *batch) {
	if b.real > 0 {
		s.mu.Lock()
		s.lost += uint64(b.real)
		s.lastLost = max(s.lastLost, b.events[len(b.events)-1].Seq)
		s.mu.Unlock()
		s.dropped.Add(uint64(b.real))
	}
	b.reset()
}

func (b *batch) reset() {
	clear(b.events) // drop references to instances
	b.events, b.real, b.gap = b.events[:0], 0, 0
}

func (s *subscriber) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *subscriber) run(ctx context.Context, log *slog.Logger, flush time.Duration) {
	b := &batch{events: make([]hook.Event, 0, s.opts.MaxBatch+1)}
	for {
		select {
		case <-ctx.Done():
			s.flush(ctx, log, flush, b)
			return
		case <-s.wake:
		}
	drain:
		for ctx.Err() == nil {
			s.take(b, s.opts.MaxBatch)
			if len(b.events) == 0 {
				break
			}
			gapOnly := b.real == 0
			switch s.deliver(ctx, log, b) {
			case interrupted:
				s.flush(ctx, log, flush, b)
				return
			case dropped:
				if gapOnly {
					// Announce the gap with the next event rather than
					// knock on a listener that is down.
					break drain
				}
			}
		}
	}
}

// outcome is how a delivery ended.
type outcome int

const (
	acked       outcome = iota // the listener acknowledged the batch
	dropped                    // retries ran out; the batch is dropped
	interrupted                // ctx ended first; the batch is still pending
)

// deliver hands b to the listener until it acknowledges it, retrying with
// back-off within RetryFor and MaxAttempts, and accounts for the result.
// When ctx ends first the batch is left as it is, for the final flush.
func (s *subscriber) deliver(ctx context.Context, log *slog.Logger, b *batch) outcome {
	first := time.Now()
	wait := s.opts.Backoff
	for attempt := 1; ; attempt++ {
		hctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		err := s.handle(hctx, b.events)
		cancel()
		s.batches.Add(1)
		if err == nil {
			if attempt > 1 {
				log.Info("listener took a batch again", "events", len(b.events), "first_seq", b.events[0].Seq, "attempts", attempt)
			}
			s.acknowledged(b)
			return acked
		}
		// The error first: a reader that sees the count sees its error.
		s.lastErr.Store(&errorAt{msg: err.Error(), at: time.Now()})
		s.errs.Add(1)
		if ctx.Err() != nil {
			return interrupted
		}
		if attempt == 1 {
			log.Warn("listener failed; retrying", "events", len(b.events), "first_seq", b.events[0].Seq, "err", err)
		}
		if (s.opts.MaxAttempts > 0 && attempt >= s.opts.MaxAttempts) || time.Since(first)+wait > s.opts.RetryFor {
			log.Warn("listener batch dropped: retries ran out", "events", b.real, "first_seq", b.events[0].Seq,
				"attempts", attempt, "err", err)
			s.drop(b)
			return dropped
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return interrupted
		}
		wait = min(2*wait, s.opts.MaxBackoff)
	}
}

// flush delivers what is pending at shutdown (b first, then the queue)
// within the flush timeout, on a context that keeps ctx's values but not
// its cancellation; what is left after it counts as dropped. Those losses
// cannot be announced any more.
func (s *subscriber) flush(ctx context.Context, log *slog.Logger, d time.Duration, b *batch) {
	if d > 0 {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
		defer cancel()
		for fctx.Err() == nil {
			if len(b.events) == 0 {
				s.take(b, s.opts.MaxBatch)
				if b.real == 0 {
					// Nothing left but perhaps a gap: no event follows it.
					b.reset()
					break
				}
			}
			if s.deliver(fctx, log, b) == interrupted {
				break
			}
		}
	}
	left := b.real
	b.reset()
	s.mu.Lock()
	left += s.n
	s.n = 0
	clear(s.ring)
	s.mu.Unlock()
	if left > 0 {
		s.dropped.Add(uint64(left))
		log.Warn("events left undelivered at shutdown", "dropped", left)
	}
}

// handle calls the listener, turning a panic into an error so one bad
// listener cannot take the server down.
func (s *subscriber) handle(ctx context.Context, events []hook.Event) (err error) {
	s.busy.Store(true)
	defer s.busy.Store(false)
	defer func() {
		if p := recover(); p != nil {
			err = panicError{p}
		}
	}()
	return s.l.Handle(ctx, events)
}

type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprint("listener panicked: ", p.v) }

func (s *subscriber) stats() Stats {
	st := Stats{
		Name:      s.name,
		Delivered: s.delivered.Load(),
		Dropped:   s.dropped.Load(),
		Announced: s.announced.Load(),
		Queued:    s.queued(),
		Batches:   s.batches.Load(),
		Errors:    s.errs.Load(),
	}
	if e := s.lastErr.Load(); e != nil {
		st.LastError, st.LastErrorTime = e.msg, e.at
	}
	return st
}
