// Package node owns the life of every Eureka write: admit (the store's
// failure policy and the admission hook) → validate (Eureka's checks and
// core/rules) → mutate the registry → replicate (local writes only) → wait
// for the group commit. There is one method per write, and the HTTP
// handlers, the admin API, the dashboard's actions and the peer batch all
// call these same methods, so a rule enforced here holds on every path a
// request can take.
//
// Authentication is decided before a method is called (httpd's route table
// names each route's operation); admission, which depends on the body, is
// decided here.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/rules"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// Persister is the durability layer as a write sees it; *persist.Persister
// implements it.
type Persister interface {
	// Begin says a write is under way, so that a group commit can wait for
	// it; End says it has made its changes or ends without any. Every
	// Begin is paired with one End, called before Commit.
	Begin()
	End()
	// Admit reports whether writes are accepted now.
	Admit() error
	// Commit waits until the caller's change is as durable as configured.
	Commit(ctx context.Context) error
	// CommitHealing is Commit for a registration: it also fails, under
	// the reject policy, when the store refused app/id's record.
	CommitHealing(ctx context.Context, app, id string) error
	// AdmitDurable and CommitDurable are Admit and Commit for writes that
	// do not heal by themselves: refused while the store fails, and
	// acknowledged only once stored, whatever the durability setting and
	// failure policy.
	AdmitDurable() error
	CommitDurable(ctx context.Context, app, id string) error
	// Status reports the store's state.
	Status() persist.Status
}

// Replicator forwards local writes to the peers; *replication.Cluster
// implements it. Replicate is called on the renewal path, so it must be
// cheap.
type Replicator interface {
	Replicate(a eureka.ReplicationAction, app, id string)
}

// Admission is what the admission hook is asked about: a registration, a
// metadata change or a status change, with who asks.
type Admission struct {
	Operation hook.Operation
	App, ID   string
	// Instance is the instance as it would be stored: the registration,
	// or the current instance with the change applied.
	Instance *eureka.InstanceInfo
	// Status is the requested status of a status change; "" for the
	// removal of an override.
	Status eureka.Status
	// Metadata is the update of a metadata change.
	Metadata map[string]string
	Caller   Caller
}

// AdmitFunc decides an admission. It returns metadata entries to add to
// the instance (nil for none), a *DeniedError to refuse, or any other
// error when it could not decide (the write fails closed with 503).
type AdmitFunc func(ctx context.Context, a *Admission) (add map[string]string, err error)

// Caller is who asks for a write.
type Caller struct {
	// Principal is who the authenticator decided the caller is; nil
	// without authentication.
	Principal *hook.Principal
	// RemoteAddr is the client's address, host:port.
	RemoteAddr string
	// TLS is the verified client certificate, nil without mutual TLS.
	TLS *hook.TLSIdentity
	// Replication marks a write a peer forwards
	// (x-netflix-discovery-replication: true): it was admitted at its
	// origin and is not replicated again.
	Replication bool
}

// Options configures a Node.
type Options struct {
	// Limits are the input rules' limits; zero means rules.DefaultLimits.
	Limits rules.Limits
	// Store is the persister writes wait on; nil keeps the registry in
	// memory only.
	Store Persister
	// Replicator receives local writes; nil for a standalone server.
	Replicator Replicator
	// Admit is the admission hook; nil admits everything.
	Admit AdmitFunc
	// Logger receives refused writes at debug level; nil discards.
	Logger *slog.Logger
	// MaxInstances caps the instances of the registry (a namespace's
	// limit); a registration of a new instance beyond it fails with a
	// *LimitError. 0 means no limit.
	MaxInstances int
}

// Node is the registry's write path.
type Node struct {
	reg  *registry.Registry
	opts Options
	log  *slog.Logger
	// limitMu makes the limit check and the registration it allows one
	// step, so concurrent registrations cannot overshoot MaxInstances.
	// Taken only under a limit.
	limitMu sync.Mutex
}

// New returns the write path over reg.
func New(reg *registry.Registry, opts Options) *Node {
	if opts.Limits == (rules.Limits{}) {
		opts.Limits = rules.DefaultLimits()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Node{reg: reg, opts: opts, log: opts.Logger}
}

// Registry is the registry the node writes to, for reads.
func (n *Node) Registry() *registry.Registry { return n.reg }

// Limits are the input rules' limits in force.
func (n *Node) Limits() rules.Limits { return n.opts.Limits }

// MaxInstances is the instance limit, 0 for none.
func (n *Node) MaxInstances() int { return n.opts.MaxInstances }

// Store is the persister, nil without one.
func (n *Node) Store() Persister { return n.opts.Store }

// Errors a write returns; Status maps each to its HTTP status.
var (
	// ErrNotFound: no such instance (or its lease expired).
	ErrNotFound = errors.New("no such instance")
	// ErrUnavailable: the store fails and the policy refuses writes, or
	// a write that must be durable could not be stored. It wraps
	// persist.ErrUnavailable.
	ErrUnavailable = persist.ErrUnavailable
	// ErrAdmissionUnavailable: the admission hook could not decide; the
	// write fails closed.
	ErrAdmissionUnavailable = errors.New("admission unavailable")
)

// InvalidError is a write refused for its input: Eureka's own checks
// ("Missing instanceId") or a core/rules violation.
type InvalidError struct {
	// Field names the field at fault, "" for Eureka's own checks.
	Field string
	// Message is the answer's text; it never echoes the value.
	Message string
	// Unparseable marks input Eureka answers as a body it could not read
	// (an unknown dataCenterInfo name).
	Unparseable bool
}

func (e *InvalidError) Error() string { return e.Message }

// LimitError is a registration of a new instance refused because the
// registry (a namespace) holds its limit of instances.
type LimitError struct {
	Limit int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("instance limit reached: this namespace holds at most %d instances", e.Limit)
}

// DeniedError is a write the admission hook refused.
type DeniedError struct {
	Message string
}

func (e *DeniedError) Error() string { return "denied: " + e.Message }

// invalid turns a rules violation into an InvalidError.
func invalid(err error) error {
	var v *rules.Violation
	if errors.As(err, &v) {
		return &InvalidError{Field: v.Field, Message: v.Error()}
	}
	return &InvalidError{Message: err.Error()}
}

// scope brackets one write for the group commit: Begin at its start,
// End once its change is made or it ends without one.
type scope struct {
	p    Persister
	open bool
}

func (n *Node) begin() scope {
	if n.opts.Store == nil {
		return scope{}
	}
	n.opts.Store.Begin()
	return scope{p: n.opts.Store, open: true}
}

func (s *scope) end() {
	if s.open {
		s.open = false
		s.p.End()
	}
}

// admitStore refuses a write while the store fails under the reject
// policy; nothing is changed then.
func (n *Node) admitStore() error {
	if n.opts.Store == nil {
		return nil
	}
	return n.opts.Store.Admit()
}

// admitDurable refuses a write that does not heal by itself while the
// store fails, in every failure policy; a peer's write takes the policy's
// answer (its origin acknowledged it already).
func (n *Node) admitDurable(c Caller) error {
	if n.opts.Store == nil {
		return nil
	}
	if c.Replication {
		return n.opts.Store.Admit()
	}
	return n.opts.Store.AdmitDurable()
}

// commitDurable acknowledges a write that does not heal by itself (a
// status override, its removal, a metadata edit) only once it is stored:
// clients do not repeat these, so one answered from memory would be lost
// by a crash while the store is down.
func (n *Node) commitDurable(ctx context.Context, s *scope, c Caller, app, id string) error {
	if n.opts.Store == nil {
		return nil
	}
	s.end()
	if c.Replication {
		return n.opts.Store.Commit(ctx)
	}
	return n.opts.Store.CommitDurable(ctx, app, id)
}

// commit waits until the write's change is stored as the durability
// setting asks. An error means the change was not acknowledged: it is kept
// in memory and may still be stored later, like any unacknowledged write.
func (n *Node) commit(ctx context.Context, s *scope) error {
	if n.opts.Store == nil {
		return nil
	}
	s.end()
	return n.opts.Store.Commit(ctx)
}

// replicate hands a local write to the peers.
func (n *Node) replicate(c Caller, a eureka.ReplicationAction, app, id string) {
	if !c.Replication && n.opts.Replicator != nil {
		n.opts.Replicator.Replicate(a, app, id)
	}
}

// admit asks the admission hook about a client write and merges what it
// adds into add's target.
func (n *Node) admit(ctx context.Context, a *Admission) (map[string]string, error) {
	if n.opts.Admit == nil || a.Caller.Replication {
		return nil, nil
	}
	add, err := n.opts.Admit(ctx, a)
	if err == nil {
		if e := n.opts.Limits.Metadata(add); e != nil {
			// The hook's own additions obey the rules too.
			n.log.Warn("admission hook added metadata the rules refuse", "err", e)
			return nil, ErrAdmissionUnavailable
		}
		return add, nil
	}
	var d *DeniedError
	if errors.As(err, &d) {
		return nil, d
	}
	n.log.Warn("admission unavailable", "op", a.Operation, "app", a.App, "err", err)
	return nil, ErrAdmissionUnavailable
}
