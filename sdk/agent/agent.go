package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Defaults used for the zero values of Options.
const (
	// DefaultRenewalInterval is the heartbeat period when neither Options
	// nor the instance's LeaseInfo names one (Eureka's
	// leaseRenewalIntervalInSeconds).
	DefaultRenewalInterval = eureka.DefaultRenewalIntervalInSecs * time.Second
	// DefaultMaxBackoffMultiplier bounds the heartbeat back-off at ten
	// renewal intervals (Eureka's heartbeatExecutorExponentialBackOffBound).
	DefaultMaxBackoffMultiplier = 10
	// DefaultPushBurst and DefaultPushInterval rate-limit pushes of local
	// changes as Eureka's InstanceInfoReplicator does: a burst of two, then
	// one every 15 s (4 per minute).
	DefaultPushBurst    = 2
	DefaultPushInterval = 15 * time.Second
	// DefaultCancelTimeout bounds the deregistration at shutdown.
	DefaultCancelTimeout = 5 * time.Second
)

// ErrRunning is returned by Run when the agent is already running or has
// run before: an Agent runs once.
var ErrRunning = errors.New("agent: Run called more than once")

// Clock is the time source of an Agent. Tests inject a fake one to check
// heartbeat and back-off timing without sleeping. Implementations must be
// safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed, as
	// time.After does. The agent never stops these timers (since Go 1.23
	// an unreferenced timer is garbage collected).
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configure an Agent. A nil *Options, and the zero value of each
// field, mean the documented default.
type Options struct {
	// RenewalInterval is the heartbeat period. Zero means the instance's
	// LeaseInfo.RenewalIntervalInSecs, or DefaultRenewalInterval when that
	// is not set. Keep it well under the lease duration the instance
	// registers with (LeaseInfo.DurationInSecs, 90 s by default).
	RenewalInterval time.Duration
	// MaxBackoffMultiplier caps the wait after failed heartbeats at this
	// many renewal intervals. Zero means DefaultMaxBackoffMultiplier.
	MaxBackoffMultiplier int
	// PushBurst is how many pushes of local changes (SetStatus,
	// SetMetadata) may go out back to back; after that one more is allowed
	// every PushInterval. Changes made meanwhile are coalesced into one
	// push of the latest state. Zero means DefaultPushBurst and
	// DefaultPushInterval.
	PushBurst    int
	PushInterval time.Duration
	// CancelTimeout bounds the deregistration Run sends when its context
	// ends. Zero means DefaultCancelTimeout.
	CancelTimeout time.Duration
	// AdminToken is the eurekad admin token Drain sends; empty sends the
	// server URL's credentials (which an authenticator may grant admin).
	AdminToken string
	// Clock is the time source. Nil means the system clock.
	Clock Clock
	// Logger receives registration, renewal and back-off records. Nil
	// discards them.
	Logger *slog.Logger
}

// DefaultOptions returns Options with every default filled in (the renewal
// interval is left zero: it comes from the instance).
func DefaultOptions() Options {
	return Options{
		MaxBackoffMultiplier: DefaultMaxBackoffMultiplier,
		PushBurst:            DefaultPushBurst,
		PushInterval:         DefaultPushInterval,
		CancelTimeout:        DefaultCancelTimeout,
	}
}

// Agent keeps one instance registered. See the package documentation for
// its lifecycle. All methods are safe for concurrent use.
type Agent struct {
	c             *client.Client
	clock         Clock
	log           *slog.Logger
	interval      time.Duration
	maxDelay      time.Duration
	pushBurst     int
	pushInterval  time.Duration
	cancelTimeout time.Duration
	adminToken    string

	mu sync.Mutex
	// inst is the local instance. It is never modified once stored: a
	// change stores a modified clone. Guarded by mu.
	inst *eureka.InstanceInfo
	// accepted is the lastDirtyTimestamp of the newest instance a server
	// accepted in a registration; inst is dirty while its timestamp is
	// newer. Guarded by mu.
	accepted int64

	push       chan struct{}
	running    atomic.Bool
	registered atomic.Bool
	// ownOverride is set while the server holds the OUT_OF_SERVICE
	// override this agent put there. Used by Run's goroutine only.
	ownOverride bool
}

// New returns an agent for in, which it copies. Fields the server needs
// and in leaves empty are filled with Eureka's defaults: Status UP,
// DataCenterInfo MyOwn, LeaseInfo 30 s / 90 s, LastDirtyTimestamp now.
// in.App and an id (InstanceID, else HostName) are required by the server;
// a missing one shows up as failed registrations (ErrBadRequest) in the
// log. A nil opts means DefaultOptions.
func New(c *client.Client, in *eureka.InstanceInfo, opts *Options) *Agent {
	var o Options
	if opts != nil {
		o = *opts
	}
	d := DefaultOptions()
	if o.MaxBackoffMultiplier <= 0 {
		o.MaxBackoffMultiplier = d.MaxBackoffMultiplier
	}
	if o.PushBurst <= 0 {
		o.PushBurst = d.PushBurst
	}
	if o.PushInterval <= 0 {
		o.PushInterval = d.PushInterval
	}
	if o.CancelTimeout <= 0 {
		o.CancelTimeout = d.CancelTimeout
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}

	inst := in.Clone()
	if inst.Status == "" {
		inst.Status = eureka.StatusUp
	}
	if inst.DataCenterInfo == nil {
		inst.DataCenterInfo = &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}
	}
	if inst.LeaseInfo == nil {
		inst.LeaseInfo = &eureka.LeaseInfo{
			RenewalIntervalInSecs: eureka.DefaultRenewalIntervalInSecs,
			DurationInSecs:        eureka.DefaultDurationInSecs,
		}
	}
	if inst.LastDirtyTimestamp == 0 {
		inst.LastDirtyTimestamp = o.Clock.Now().UnixMilli()
	}

	interval := o.RenewalInterval
	if interval <= 0 && inst.LeaseInfo.RenewalIntervalInSecs > 0 {
		interval = time.Duration(inst.LeaseInfo.RenewalIntervalInSecs) * time.Second
	}
	if interval <= 0 {
		interval = DefaultRenewalInterval
	}

	return &Agent{
		c:             c,
		clock:         o.Clock,
		log:           o.Logger.With("component", "eureka-agent", "app", inst.App, "id", inst.ID()),
		interval:      interval,
		maxDelay:      interval * time.Duration(o.MaxBackoffMultiplier),
		pushBurst:     o.PushBurst,
		pushInterval:  o.PushInterval,
		cancelTimeout: o.CancelTimeout,
		adminToken:    o.AdminToken,
		inst:          inst,
		push:          make(chan struct{}, 1),
	}
}

// Instance returns a copy of the local instance as it is (or will next
// be) registered.
func (a *Agent) Instance() *eureka.InstanceInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inst.Clone()
}

// Registered reports whether a registration has succeeded since Run
// started. It stays true across later heartbeat failures.
func (a *Agent) Registered() bool { return a.registered.Load() }

// RenewalInterval returns the heartbeat period in use.
func (a *Agent) RenewalInterval() time.Duration { return a.interval }

// SetStatus changes the local instance's status, bumps its
// lastDirtyTimestamp and pushes it to the server by registering it again
// (rate-limited, see Options.PushBurst). Setting the current status does
// nothing. It fails only for a name eureka.ParseStatus rejects.
//
// A registration cannot move a registered instance between UP and
// OUT_OF_SERVICE on a Eureka server (its LeaseExists rule keeps the stored
// status, docs/protocol.md §7.1), so OUT_OF_SERVICE is also set as a
// status override, and that override is removed again (DELETE .../status
// with the new status) when the agent leaves OUT_OF_SERVICE. An override
// set by an operator still wins over UP; DOWN and STARTING from the
// instance always win.
func (a *Agent) SetStatus(st eureka.Status) error {
	if _, ok := eureka.ParseStatus(string(st)); !ok {
		return fmt.Errorf("agent: unknown status %q", st)
	}
	a.update(func(in *eureka.InstanceInfo) bool {
		if in.Status == st {
			return false
		}
		in.Status = st
		return true
	})
	return nil
}

// SetMetadata merges kv into the local instance's metadata (existing keys
// are overwritten, others kept), bumps its lastDirtyTimestamp and pushes it
// like SetStatus. It does nothing when no value changes.
func (a *Agent) SetMetadata(kv map[string]string) {
	a.update(func(in *eureka.InstanceInfo) bool {
		changed := false
		for k, v := range kv {
			if old, ok := in.Metadata[k]; ok && old == v {
				continue
			}
			if in.Metadata == nil {
				in.Metadata = make(map[string]string, len(kv))
			}
			in.Metadata[k] = v
			changed = true
		}
		return changed
	})
}

// update applies change to a copy of the instance and, when it reports a
// change, stores the copy with a newer lastDirtyTimestamp and asks Run to
// push it.
func (a *Agent) update(change func(*eureka.InstanceInfo) bool) {
	a.mu.Lock()
	in := a.inst.Clone()
	if !change(in) {
		a.mu.Unlock()
		return
	}
	ts := a.clock.Now().UnixMilli()
	if ts <= a.inst.LastDirtyTimestamp {
		ts = a.inst.LastDirtyTimestamp + 1
	}
	in.LastDirtyTimestamp = ts
	a.inst = in
	a.mu.Unlock()
	select {
	case a.push <- struct{}{}:
	default:
	}
}

// current returns the local instance (shared: do not modify) and whether
// it holds changes the server has not accepted yet.
func (a *Agent) current() (*eureka.InstanceInfo, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inst, a.inst.LastDirtyTimestamp > a.accepted
}

// Run registers the instance, then renews its lease every renewal
// interval until ctx ends, and then deregisters it (with its own
// CancelTimeout, since ctx is already done) and returns.
//
// A renewal answered 404 (the server forgot the instance: restart,
// eviction, an operator's DELETE, or a newer local lastDirtyTimestamp)
// registers again at once. After a failed heartbeat the next one waits
// twice as long as the previous wait, up to MaxBackoffMultiplier renewal
// intervals; a success brings the wait back to one interval (Eureka's
// TimedSupervisorTask). Failures are logged, never returned: Run returns
// nil after a clean shutdown, the deregistration error if that failed
// (404 counts as success), or ErrRunning if called a second time.
func (a *Agent) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	delay := a.interval
	if err := a.beat(ctx); err != nil {
		delay = a.failed(ctx, delay, err)
	}
	heartbeat := a.clock.After(delay)

	tokens := float64(a.pushBurst)
	refilled := a.clock.Now()
	var pushWait <-chan time.Time
	pushWanted := false
	for {
		select {
		case <-ctx.Done():
			return a.deregister(ctx)
		case <-heartbeat:
			if err := a.beat(ctx); err != nil {
				delay = a.failed(ctx, delay, err)
			} else {
				delay = a.interval
			}
			heartbeat = a.clock.After(delay)
		case <-a.push:
			pushWanted = true
		case <-pushWait:
			pushWait = nil
		}
		if !pushWanted || pushWait != nil || ctx.Err() != nil {
			continue
		}
		if _, dirty := a.current(); !dirty {
			pushWanted = false // a heartbeat registered it meanwhile
			continue
		}
		now := a.clock.Now()
		tokens = min(float64(a.pushBurst), tokens+float64(now.Sub(refilled))/float64(a.pushInterval))
		refilled = now
		if tokens < 1 {
			pushWait = a.clock.After(time.Duration((1 - tokens) * float64(a.pushInterval)))
			continue
		}
		tokens--
		pushWanted = false
		in, _ := a.current()
		if err := a.register(ctx, in); err != nil && ctx.Err() == nil {
			// The instance stays dirty: the next heartbeat registers it.
			a.log.Warn("pushing local change failed; retrying with the next heartbeat", "err", err)
		} else if err == nil {
			a.log.Info("pushed local change", "status", in.Status, "lastDirtyTimestamp", in.LastDirtyTimestamp)
		}
	}
}

// failed logs a heartbeat failure and returns the next, doubled, wait.
func (a *Agent) failed(ctx context.Context, delay time.Duration, err error) time.Duration {
	next := min(2*delay, a.maxDelay)
	if ctx.Err() == nil {
		a.log.Warn("heartbeat failed; backing off", "err", err, "retryIn", next)
	}
	return next
}

// beat is one heartbeat: register when not registered yet or when the
// local instance has unpushed changes, else renew (and register on 404).
func (a *Agent) beat(ctx context.Context) error {
	in, dirty := a.current()
	if !a.registered.Load() || dirty {
		return a.register(ctx, in)
	}
	err := a.c.Renew(ctx, in.App, in.ID(), in.LastDirtyTimestamp)
	if errors.Is(err, client.ErrNotFound) {
		a.log.Info("server does not know the instance; registering again")
		return a.register(ctx, in)
	}
	if err != nil {
		return err
	}
	a.log.Debug("renewed")
	return a.syncOverride(ctx, in)
}

// register sends in and records what the server accepted.
func (a *Agent) register(ctx context.Context, in *eureka.InstanceInfo) error {
	if err := a.c.Register(ctx, in); err != nil {
		return err
	}
	if !a.registered.Swap(true) {
		a.log.Info("registered", "status", in.Status)
	} else {
		a.log.Debug("registered again", "status", in.Status)
	}
	a.mu.Lock()
	a.accepted = max(a.accepted, in.LastDirtyTimestamp)
	a.mu.Unlock()
	return a.syncOverride(ctx, in)
}

// syncOverride sets or lifts the agent's own OUT_OF_SERVICE override.
// Eureka keeps the stored status of a registered UP or OUT_OF_SERVICE
// instance when it registers again (the LeaseExists rule,
// docs/protocol.md §7.1), so a registration alone cannot take an UP
// instance out of service, nor bring it back while an override holds it:
// like Spring Cloud's service registry, the agent uses the status override
// for that. An override set by someone else is left alone.
func (a *Agent) syncOverride(ctx context.Context, in *eureka.InstanceInfo) error {
	want := in.Status == eureka.StatusOutOfService
	if want == a.ownOverride {
		return nil
	}
	var err error
	if want {
		err = a.c.SetStatus(ctx, in.App, in.ID(), eureka.StatusOutOfService, in.LastDirtyTimestamp)
	} else {
		err = a.c.DeleteStatusOverride(ctx, in.App, in.ID(), in.Status, in.LastDirtyTimestamp)
	}
	if err != nil {
		return fmt.Errorf("agent: status override: %w", err)
	}
	a.ownOverride = want
	return nil
}

// deregister cancels the lease once ctx has ended.
func (a *Agent) deregister(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cancelTimeout)
	defer cancel()
	in, _ := a.current()
	err := a.c.Cancel(cctx, in.App, in.ID())
	if err == nil || errors.Is(err, client.ErrNotFound) {
		a.log.Info("deregistered")
		return nil
	}
	a.log.Warn("deregistering failed", "err", err)
	return fmt.Errorf("agent: deregistering %s/%s: %w", in.App, in.ID(), err)
}
