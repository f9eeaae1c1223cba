package health

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Writer is the write path the verdicts go through; *node.Node implements
// it.
type Writer interface {
	SetHealth(ctx context.Context, app, id string, failing bool, detail string) (bool, error)
	Cancel(ctx context.Context, c node.Caller, app, id string) error
}

// Result is how a probe ended, the label of eurekad_health_checks_total.
type Result string

// The results.
const (
	ResultPassing   Result = "passing"
	ResultFailing   Result = "failing"
	ResultUndecided Result = "undecided" // the checker could not decide, hung or is down
	ResultRefused   Result = "refused"   // no probe: the target is not the instance's own address
)

// Results lists every result, in a stable order.
var Results = []Result{ResultPassing, ResultFailing, ResultUndecided, ResultRefused}

// Stats are the scheduler's figures, for metrics.
type Stats struct {
	// Checks counts probes by result since start.
	Checks map[Result]uint64
	// Checked is how many instances have checks; Owned how many of them
	// this node probes; Failing how many of those it holds failing.
	Checked, Owned, Failing int
	// Deregistered counts instances cancelled for failing too long.
	Deregistered uint64
}

// Scheduler probes the checked instances of a registry.
type Scheduler struct {
	opts    Options
	reg     *registry.Registry
	w       Writer
	checker hook.Checker
	members Membership
	log     *slog.Logger
	rules   map[string]*Rule

	// The loop's own state.
	// targets are the checked instances by application and id.
	targets  map[string]map[string]*target
	due      dueHeap
	versions map[string]uint64
	lastVer  uint64
	synced   bool
	syncedAt time.Time
	// seq and since are where the next ChangedInstances reads from;
	// changed is its buffer, kept between syncs.
	seq, since uint64
	changed    []change
	// scanned counts the instances sync looked at, for the tests.
	scanned int

	work    chan *job
	results chan *job

	checks       [4]atomic.Uint64 // by Results index
	deregistered atomic.Uint64
	mu           sync.Mutex // guards stats
	stats        Stats
}

// target is one checked instance; the loop owns it. While a job for it
// runs it is out of the heap (index -1), and the job holds copies of what
// it needs.
type target struct {
	key   storage.Key
	in    *eureka.InstanceInfo
	spec  Spec
	due   time.Time
	index int // in the heap; -1 when out
	gone  bool
	owned bool
	st    state
	// refusedLogged is set once a refused target was logged.
	refusedLogged bool
}

// syncEvery bounds how often the registry is read again.
const syncEvery = 500 * time.Millisecond

// state is a target's verdict counting.
type state struct {
	known        bool // initialised from the instance's verdict
	failing      bool
	fails, oks   int
	since        time.Time // failing since
	deregistered bool
	// undecided is set while the checker cannot decide (logged once).
	undecided bool
}

// job is one probe in a worker.
type job struct {
	t    *target
	req  hook.CheckRequest
	spec Spec
	in   *eureka.InstanceInfo
	st   state
}

// New returns a scheduler over reg writing through w, probing with
// checker; members nil means a standalone node.
func New(reg *registry.Registry, w Writer, checker hook.Checker, members Membership, opts *Options) *Scheduler {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	def := DefaultOptions()
	for _, d := range []struct{ v, def *time.Duration }{
		{&o.Tick, &def.Tick}, {&o.Grace, &def.Grace}, {&o.Interval, &def.Interval}, {&o.Timeout, &def.Timeout},
		{&o.MinInterval, &def.MinInterval}, {&o.MinDeregisterAfter, &def.MinDeregisterAfter},
	} {
		if *d.v <= 0 {
			*d.v = *d.def
		}
	}
	for _, n := range []struct{ v, def *int }{
		{&o.Concurrency, &def.Concurrency}, {&o.Failures, &def.Failures}, {&o.Successes, &def.Successes},
	} {
		if *n.v <= 0 {
			*n.v = *n.def
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Scheduler{
		opts: o, reg: reg, w: w, checker: checker, members: members, log: o.Logger,
		rules: map[string]*Rule{}, targets: map[string]map[string]*target{}, versions: map[string]uint64{},
		work: make(chan *job, o.Concurrency), results: make(chan *job, o.Concurrency),
	}
	for i := range o.Rules {
		s.rules[o.Rules[i].key()] = &o.Rules[i]
	}
	return s
}

// Active reports whether anything can be checked: a rule, or checks by
// metadata.
func (s *Scheduler) Active() bool { return len(s.rules) > 0 || s.opts.Metadata }

// Stats returns the current figures.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	s.mu.Unlock()
	st.Checks = make(map[Result]uint64, len(Results))
	for i, r := range Results {
		st.Checks[r] = s.checks[i].Load()
	}
	st.Deregistered = s.deregistered.Load()
	return st
}

func (s *Scheduler) count(r Result) {
	for i, x := range Results {
		if x == r {
			s.checks[i].Add(1)
		}
	}
}

// Run schedules and runs the probes until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	for range s.opts.Concurrency {
		wg.Go(func() { s.worker(wctx) })
	}
	tick := time.NewTicker(s.opts.Tick)
	defer tick.Stop()
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-s.results:
			now := time.Now()
			s.finish(j, now)
			s.dispatch(ctx, now) // a worker is free: the due probes need not wait for the tick
		case <-tick.C:
			now := time.Now()
			s.sync(now)
			s.dispatch(ctx, now)
			if ticks++; ticks%10 == 1 {
				s.publish()
			}
		}
	}
}

// sync brings the targets up to date with the registry, in proportion to
// what changed: the instances with a delta entry since the last sync
// (Registry.ChangedInstances). When the delta queue cannot say (a
// restore, entries gone because the loop fell behind), it compares whole
// applications once, only those whose version moved.
func (s *Scheduler) sync(now time.Time) {
	if !s.Active() {
		return // no rule and no opting in: nothing can be checked
	}
	v := s.reg.Version()
	// At most every syncEvery: a busy registry changes on every tick.
	if s.synced && (v == s.lastVer || now.Sub(s.syncedAt) < syncEvery) {
		return
	}
	if s.synced {
		// Copied under the registry's read lock, applied outside it:
		// the specs parse metadata.
		next, ver, ok := s.reg.ChangedInstances(s.seq, s.since, nil, func(app, id string, in *eureka.InstanceInfo) {
			s.changed = append(s.changed, change{app, id, in})
		})
		if ok {
			s.seq, s.since = next, ver
			s.synced, s.lastVer, s.syncedAt = true, ver, now
			for _, c := range s.changed {
				s.apply(c, now)
			}
			clear(s.changed) // the copies
			s.changed = s.changed[:0]
			if cap(s.changed) > maxChangedKept {
				s.changed = nil // a burst's buffer is not kept
			}
			return
		}
	}
	// The mark is taken before the comparison: what changes in between is
	// visited again by the next sync, which changes nothing twice.
	s.seq, s.since = s.reg.DeltaMark()
	s.synced, s.lastVer, s.syncedAt = true, s.since, now
	s.compare(now)
}

// maxChangedKept bounds the buffer of changes kept between syncs.
const maxChangedKept = 4096

// change is one instance ChangedInstances reported: in is nil when gone.
type change struct {
	app, id string
	in      *eureka.InstanceInfo
}

// apply takes one changed instance into the targets.
func (s *Scheduler) apply(c change, now time.Time) {
	if !s.opts.Metadata && s.rules[c.app] == nil {
		return // it can have no target
	}
	// The application's version no longer says what the targets hold: a
	// later whole comparison reads it again.
	if _, ok := s.versions[c.app]; ok || c.in != nil {
		s.versions[c.app] = 0
	}
	s.scanned++
	if c.in != nil {
		if spec, ok := s.opts.spec(s.rules, c.app, c.in.Metadata); ok {
			s.upsert(c.app, c.id, c.in, spec, now)
			return
		}
	}
	byID := s.targets[c.app]
	if t := byID[c.id]; t != nil {
		s.drop(t)
		delete(byID, c.id)
		if len(byID) == 0 {
			delete(s.targets, c.app)
		}
	}
}

// compare reads again the whole applications whose version moved.
func (s *Scheduler) compare(now time.Time) {
	present := make(map[string]bool, len(s.versions))
	fresh := map[string]uint64{}
	apps := s.reg.StoredInstances(func(name string, ver uint64) bool {
		present[name] = true
		if s.versions[name] == ver {
			return false
		}
		fresh[name] = ver
		// Without checks by metadata only a rule's applications can have
		// targets: the others are not copied.
		return s.opts.Metadata || s.rules[name] != nil
	})
	for name := range s.versions {
		if !present[name] {
			delete(s.versions, name)
			s.dropApp(name, nil)
		}
	}
	for name, ver := range fresh {
		s.versions[name] = ver
	}
	for name, list := range apps {
		seen := make(map[string]bool, len(list))
		for _, in := range list {
			s.scanned++
			spec, ok := s.opts.spec(s.rules, name, in.Metadata)
			if !ok {
				continue
			}
			id := in.ID()
			seen[id] = true
			s.upsert(name, id, in, spec, now)
		}
		s.dropApp(name, seen)
	}
}

// upsert makes (app, id) a target checked by spec, its first probe
// spread over one interval.
func (s *Scheduler) upsert(app, id string, in *eureka.InstanceInfo, spec Spec, now time.Time) {
	byID := s.targets[app]
	if byID == nil {
		byID = map[string]*target{}
		s.targets[app] = byID
	}
	t := byID[id]
	if t == nil {
		k := storage.Key{App: app, ID: id}
		t = &target{key: k, index: -1}
		t.due = now.Add(jitter(k, spec.Interval))
		byID[id] = t
		heap.Push(&s.due, t)
	}
	t.in, t.spec = in, spec
}

// drop forgets t: out of the heap, and a job running for it is ignored.
func (s *Scheduler) drop(t *target) {
	t.gone = true
	if t.index >= 0 {
		heap.Remove(&s.due, t.index)
	}
}

// dropApp forgets app's targets that are not in keep (nil: all of them).
func (s *Scheduler) dropApp(app string, keep map[string]bool) {
	byID := s.targets[app]
	for id, t := range byID {
		if !keep[id] {
			s.drop(t)
			delete(byID, id)
		}
	}
	if len(byID) == 0 {
		delete(s.targets, app)
	}
}

// jitter spreads the first probes of the targets over one interval, by a
// hash of the key so that a restart keeps the spread.
func jitter(k storage.Key, interval time.Duration) time.Duration {
	return time.Duration(score("", k.App, k.ID) % uint64(interval))
}

// dispatch starts the due probes this node owns, as many as the workers
// take.
func (s *Scheduler) dispatch(ctx context.Context, now time.Time) {
	var self string
	var reachable []string
	if s.members != nil {
		self, reachable = s.members.Members()
	}
	for s.due.Len() > 0 && !s.due[0].due.After(now) {
		t := s.due[0]
		t.owned = Owner(self, reachable, t.key.App, t.key.ID)
		if !t.owned {
			// Another node probes it; start afresh from the instance's
			// verdict if it comes back here.
			t.st = state{}
			s.reschedule(t, now)
			continue
		}
		j := &job{t: t, spec: t.spec, in: t.in, st: t.st}
		target, err := Target(t.in, t.spec)
		if err != nil {
			s.count(ResultRefused)
			if !t.refusedLogged { // once per target: the registrant repeats it every interval
				t.refusedLogged = true
				s.log.Warn("health check refused", "app", t.key.App, "id", t.key.ID, "err", err)
			}
			s.reschedule(t, now)
			continue
		}
		j.req = hook.CheckRequest{
			App: t.key.App, InstanceID: t.key.ID, Instance: t.in, Kind: t.spec.Kind, Target: target,
			Timeout: t.spec.Timeout, ExpectMin: t.spec.ExpectMin, ExpectMax: t.spec.ExpectMax, Params: t.spec.Params,
		}
		select {
		case s.work <- j:
			heap.Pop(&s.due)
		default:
			return // every worker is busy: the rest waits for the next tick
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// reschedule puts t back one interval later (from now when it fell
// behind by more than an interval).
func (s *Scheduler) reschedule(t *target, now time.Time) {
	t.due = t.due.Add(t.spec.Interval)
	if t.due.Before(now) {
		t.due = now.Add(t.spec.Interval)
	}
	if t.index >= 0 {
		heap.Fix(&s.due, t.index)
	} else {
		heap.Push(&s.due, t)
	}
}

// finish takes a worker's job back into the loop.
func (s *Scheduler) finish(j *job, now time.Time) {
	t := j.t
	if t.gone {
		return
	}
	t.st = j.st
	s.reschedule(t, now)
}

// publish updates the gauges.
func (s *Scheduler) publish() {
	var checked, owned, failing int
	for _, byID := range s.targets {
		checked += len(byID)
		for _, t := range byID {
			if t.owned {
				owned++
				if t.st.failing {
					failing++
				}
			}
		}
	}
	s.mu.Lock()
	s.stats.Checked, s.stats.Owned, s.stats.Failing = checked, owned, failing
	s.mu.Unlock()
}

func (s *Scheduler) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.work:
			s.run(ctx, j)
			select {
			case s.results <- j:
			case <-ctx.Done():
				return
			}
		}
	}
}

// run probes and acts on the verdict through the write path.
func (s *Scheduler) run(ctx context.Context, j *job) {
	res, detail := s.probe(ctx, j)
	s.count(res)
	j.st.undecided = res == ResultUndecided
	var act action
	j.st, act = step(j.st, j.spec, j.in, res, detail, time.Now())
	app, id := j.req.App, j.req.InstanceID
	switch act {
	case markFailing, markPassing:
		changed, err := s.w.SetHealth(ctx, app, id, act == markFailing, detail)
		switch {
		case err != nil && !errors.Is(err, node.ErrNotFound):
			s.log.Warn("health verdict not written", "app", app, "id", id, "err", err)
		case changed && act == markFailing:
			s.log.Info("instance failing its health check", "app", app, "id", id, "kind", j.spec.Kind, "detail", detail)
		case changed:
			s.log.Info("instance passing its health check again", "app", app, "id", id, "kind", j.spec.Kind)
		}
	case deregister:
		err := s.w.Cancel(ctx, node.Caller{}, app, id)
		if err == nil {
			s.deregistered.Add(1)
			s.log.Warn("instance deregistered: failing its health check too long", "app", app, "id", id,
				"since", j.st.since.Format(time.RFC3339), "detail", detail)
		} else if !errors.Is(err, node.ErrNotFound) {
			s.log.Warn("deregistration failed", "app", app, "id", id, "err", err)
			j.st.deregistered = false
		}
	}
}

// probe asks the checker, bounded by the probe's timeout plus the grace:
// a checker that does not answer by then, errs or is down is undecided.
func (s *Scheduler) probe(ctx context.Context, j *job) (Result, string) {
	ctx, cancel := context.WithTimeout(ctx, j.spec.Timeout+s.opts.Grace)
	defer cancel()
	a := s.ask(ctx, &j.req)
	switch {
	case a.err != nil:
		if !j.st.undecided { // once until a probe decides again
			s.log.Warn("health check undecided: the checker could not decide, the status stays as it is",
				"app", j.req.App, "id", j.req.InstanceID, "kind", j.req.Kind, "err", a.err)
		}
		return ResultUndecided, ""
	case a.r.Passing:
		return ResultPassing, a.r.Detail
	}
	d := a.r.Detail
	if d == "" {
		d = "failing"
	}
	return ResultFailing, d
}

type answer struct {
	r   hook.CheckResult
	err error
}

// ask calls the checker, a panic being an error. Checkers are in process
// (the built-in, which keeps its deadline) or behind gRPC, whose call
// ends at the context's deadline, so no goroutine guards the call.
func (s *Scheduler) ask(ctx context.Context, req *hook.CheckRequest) (a answer) {
	defer func() {
		if v := recover(); v != nil {
			a = answer{err: fmt.Errorf("checker panicked: %v", v)}
		}
	}()
	a.r, a.err = s.checker.Check(ctx, req)
	if a.err == nil && ctx.Err() != nil {
		a.err = ctx.Err() // answered past the deadline: its verdict is not trusted
	}
	return a
}

// action is what a verdict asks of the write path.
type action int

const (
	none action = iota
	markFailing
	markPassing
	deregister
)

// step counts one probe's result into st and says what to write. The
// write is asked for whenever the instance does not show the verdict
// held (a re-registration through a Java peer, an override removed), not
// only when the verdict turns: SetHealth changes nothing when it shows it.
func step(st state, spec Spec, in *eureka.InstanceInfo, res Result, detail string, now time.Time) (state, action) {
	marked := registry.HealthFailing(in)
	if !st.known {
		st.known, st.failing = true, marked
		if marked {
			st.since = now
		}
	}
	switch res {
	case ResultPassing:
		st.fails = 0
		st.oks++
		if st.failing && st.oks >= spec.Successes {
			st.failing, st.oks, st.deregistered = false, 0, false
		}
	case ResultFailing:
		st.oks = 0
		st.fails++
		if !st.failing && st.fails >= spec.Failures {
			st.failing, st.fails, st.since = true, 0, now
		}
	default:
		return st, none
	}
	switch {
	case st.failing && spec.DeregisterAfter > 0 && !st.deregistered && now.Sub(st.since) >= spec.DeregisterAfter:
		st.deregistered = true
		return st, deregister
	case st.failing && (!marked || in.Status == eureka.StatusUp):
		return st, markFailing
	case !st.failing && marked:
		return st, markPassing
	}
	return st, none
}

// dueHeap orders targets by due time.
type dueHeap []*target

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	t := x.(*target)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *dueHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
