// Package hook is the contract for eurekad's hooks: an Authenticator,
// which decides every request by its credentials, an Admitter, which
// decides a write by what it writes, a Listener, which receives the
// registry's events, and a Checker, which probes an instance for eurekad's
// server-side health checks. eurekad owns the contract and publishes it here so that
// a plugin, in process or out, imports it without importing the server.
//
// Every hook may be called from many goroutines at once and must be safe for
// concurrent use. A hook may also implement Configurer (its configuration
// block from eurekad's config file) and io.Closer (called once at shutdown).
//
// This package imports only the standard library and sdk/eureka.
package hook

import (
	"context"
	"errors"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// Operation is what a request does, in Eureka's terms.
type Operation string

// The operations an Authenticator is asked about.
const (
	OpRegister  Operation = "register"  // POST apps/{app}
	OpRenew     Operation = "renew"     // PUT apps/{app}/{id}
	OpCancel    Operation = "cancel"    // DELETE apps/{app}/{id}
	OpStatus    Operation = "status"    // PUT or DELETE apps/{app}/{id}/status
	OpMetadata  Operation = "metadata"  // PUT apps/{app}/{id}/metadata
	OpRead      Operation = "read"      // every GET of the Eureka API
	OpReplicate Operation = "replicate" // POST peerreplication/batch, and any request a peer marks as replicated
	OpAdmin     Operation = "admin"     // the admin API, snapshots and the dashboard's actions
)

// Operations lists every operation, in a stable order.
var Operations = []Operation{OpRegister, OpRenew, OpCancel, OpStatus, OpMetadata, OpRead, OpReplicate, OpAdmin}

// IsWrite reports whether the operation changes state (everything but read).
func (o Operation) IsWrite() bool { return o != OpRead }

// Valid reports whether o is one of the operations above.
func (o Operation) Valid() bool {
	for _, v := range Operations {
		if o == v {
			return true
		}
	}
	return false
}

// AuthRequest describes one request to decide. eurekad caches a decision per
// credential, operation and app for a short time, so a decision must depend
// only on those (and not, say, on the instance or the remote address) to be
// reproduced exactly on a cache hit.
//
// The request and its strings belong to the caller and are valid only until
// Authenticate returns: eurekad reuses them for the next request. An
// authenticator that keeps any of them (in the returned Principal too) must
// copy it, with strings.Clone.
type AuthRequest struct {
	// Operation is what the request does.
	Operation Operation
	// App is the application name, upper-cased as Eureka stores it; empty
	// for requests about the whole registry (GET apps, replication batches,
	// most admin calls).
	App string
	// Instance is the instance id, when the request names one.
	Instance string
	// Namespace is the namespace the request is about: DefaultNamespace
	// for the plain base paths (/eureka/), the name of
	// /ns/{namespace}/eureka/ otherwise (ValidNamespace holds), so a rule
	// can confine a caller to its namespaces.
	Namespace string
	// Method and Path are the HTTP method and the request path as received.
	Method, Path string
	// RemoteAddr is the client's address, host:port.
	RemoteAddr string
	// Username and Password are HTTP basic credentials: what Eureka clients
	// send when the service URL is http://user:pass@host:8761/eureka/.
	// Both are empty when the request has none.
	Username, Password string
	// BearerToken is the token of an "Authorization: Bearer" header.
	BearerToken string
	// TLS is the verified client certificate, nil without mutual TLS.
	TLS *TLSIdentity
}

// TLSIdentity names the client of a mutual-TLS connection by its verified
// leaf certificate.
type TLSIdentity struct {
	// Subject is the certificate's subject distinguished name.
	Subject string
	// CommonName is the subject's common name.
	CommonName string
	// DNSNames and URIs are the subject alternative names.
	DNSNames, URIs []string
	// SHA256 is the hex SHA-256 fingerprint of the certificate.
	SHA256 string
}

// Principal is who an Authenticator decided the caller is.
type Principal struct {
	// Name identifies the caller in logs and metrics.
	Name string
	// Attributes are free-form facts about the caller (team, roles).
	Attributes map[string]string
}

// Errors an Authenticator returns. They keep their identity across the
// plugin boundary, so errors.Is works on the host side.
var (
	// ErrUnauthenticated means the request carries no credentials or wrong
	// ones; eurekad answers 401 with a WWW-Authenticate challenge.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden means the caller is known but may not do this; eurekad
	// answers 403.
	ErrForbidden = errors.New("forbidden")
	// ErrThrottled means the caller failed to authenticate too often and
	// is refused without a decision for now; eurekad answers 429. eurekad's
	// guard returns it on its own (plugins.auth.failure_rate); an
	// authenticator with a limit of its own may return it too.
	ErrThrottled = errors.New("too many failed authentications")
)

// Authenticator decides a request: it returns the caller's Principal, or an
// error matching ErrUnauthenticated, ErrForbidden or ErrThrottled. Any other error is a
// failure of the authenticator itself; eurekad then fails closed for writes
// (and, as configured, for reads).
type Authenticator interface {
	Authenticate(ctx context.Context, req *AuthRequest) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, req *AuthRequest) (Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, req *AuthRequest) (Principal, error) {
	return f(ctx, req)
}

// AdmissionOperations lists the operations an Admitter is asked about:
// the writes that carry an instance or change one. Renewals, cancels, reads
// and replication never reach it.
var AdmissionOperations = []Operation{OpRegister, OpStatus, OpMetadata}

// AdmissionRequest is one write to admit. eurekad calls the Admitter after
// the Authenticator allowed the request and after the write passed
// eurekad's own input rules, and before anything is changed.
//
// The request belongs to the caller and is valid only until Admit returns;
// Instance is shared and must not be modified. An admitter that keeps
// anything from it must copy it (Instance.Clone, maps.Clone).
type AdmissionRequest struct {
	// Operation is OpRegister, OpStatus or OpMetadata.
	Operation Operation
	// App is the application name, upper-cased as Eureka stores it, and
	// InstanceID the instance id.
	App, InstanceID string
	// Namespace is the namespace written to ("default" for the plain
	// base paths).
	Namespace string
	// Instance is the instance as the write would leave it: for a
	// register, the decoded body; for a status or metadata change, the
	// registered instance with the change applied.
	Instance *eureka.InstanceInfo
	// Status is, for OpStatus, the override status asked for; empty when
	// the override is being removed, and for the other operations.
	Status eureka.Status
	// Metadata is, for OpMetadata, the entries the request sets.
	Metadata map[string]string
	// Principal is who the Authenticator decided the caller is; zero
	// without an authenticator.
	Principal Principal
	// RemoteAddr is the client's address, host:port, as the server saw the
	// connection.
	RemoteAddr string
	// TLS is the verified client certificate, nil without mutual TLS.
	TLS *TLSIdentity
}

// AdmissionResponse is an Admitter's decision. Its zero value refuses the
// write.
type AdmissionResponse struct {
	// Allowed admits the write.
	Allowed bool
	// Message says why a write was refused; eurekad answers 403 with it
	// in Eureka's error body, so it must not disclose what the caller may
	// not know. Ignored when Allowed.
	Message string
	// Metadata, when Allowed, is merged into the instance's metadata
	// before it is stored and replicated (an entry given here replaces
	// the instance's entry of the same key); eurekad's metadata limits
	// apply to the result. Ignored when refused.
	Metadata map[string]string
}

// Admitter decides a write by its content: it sees the decoded instance,
// the caller's Principal, its address and TLS identity, and may refuse
// the write with a message or admit it, optionally adding metadata. It is
// the half of an organisation's rules that the Authenticator cannot
// decide, since those see only credentials.
//
// eurekad calls Admit for every register, status change (set or removed)
// and metadata change a client sends, once per write and never from a
// cache: a decision may depend on the body. Renewals never reach it, nor
// do cancels and reads. Writes replicated from a peer are not admitted
// again: the node that took the write admitted it and replicates the
// instance with the metadata the admitter added.
//
// A returned error is a failure of the admitter itself, not a refusal;
// eurekad then refuses the write with 503 (fail closed) unless configured
// to admit it unchanged (plugins.admission.fail_open).
type Admitter interface {
	Admit(ctx context.Context, req *AdmissionRequest) (AdmissionResponse, error)
}

// AdmitterFunc adapts a function to Admitter.
type AdmitterFunc func(ctx context.Context, req *AdmissionRequest) (AdmissionResponse, error)

// Admit calls f.
func (f AdmitterFunc) Admit(ctx context.Context, req *AdmissionRequest) (AdmissionResponse, error) {
	return f(ctx, req)
}

// EventType is what happened.
type EventType string

// The events a Listener receives.
const (
	EventRegistered              EventType = "registered"
	EventCancelled               EventType = "cancelled"
	EventEvicted                 EventType = "evicted"
	EventStatusChanged           EventType = "status-changed"
	EventMetadataChanged         EventType = "metadata-changed"
	EventSelfPreservationEntered EventType = "self-preservation-entered"
	EventSelfPreservationLeft    EventType = "self-preservation-left"
	EventServerStarted           EventType = "server-started"
	// EventRenewed is sent only to listeners that ask for it: renewals are
	// most of a registry's traffic.
	EventRenewed EventType = "renewed"
	// EventGap stands for events the listener did not receive: lost to a
	// full queue or to a batch whose retries ran out. Dropped says how
	// many, and they are exactly the events of the listener's subscription
	// between the last event it received and the gap's Seq.
	EventGap EventType = "gap"
)

// EventTypes lists every event type, in a stable order.
var EventTypes = []EventType{
	EventRegistered, EventCancelled, EventEvicted, EventStatusChanged, EventMetadataChanged,
	EventSelfPreservationEntered, EventSelfPreservationLeft, EventServerStarted, EventRenewed, EventGap,
}

// Valid reports whether t is one of EventTypes.
func (t EventType) Valid() bool {
	for _, v := range EventTypes {
		if t == v {
			return true
		}
	}
	return false
}

// Event is one change of the registry.
type Event struct {
	// Seq numbers the events of one server run from 1 without holes; a
	// listener sees them in order. Dropped events keep their numbers, so a
	// gap is visible in Seq too.
	Seq uint64
	// Type is what happened.
	Type EventType
	// Time is when it happened.
	Time time.Time
	// App and InstanceID name the instance; empty for server-wide events.
	App, InstanceID string
	// Namespace is the namespace of the instance; empty for the default
	// namespace and for server-wide events.
	Namespace string
	// Instance is the instance as it stands after the change (as it stood
	// before, for cancelled and evicted); nil for server-wide events. It is
	// shared: a listener must not modify it.
	Instance *eureka.InstanceInfo
	// Replicated is true when the change came from a peer.
	Replicated bool
	// Dropped is, for EventGap, how many events were lost.
	Dropped uint64
}

// Listener receives events in batches, in Seq order, asynchronously: the
// registry never waits for it. A listener receives only the types it was
// subscribed to, so Seq has holes where other types were; a hole that is
// not explained that way is announced by an EventGap event first. The
// batch slice is reused after Handle returns; the Instance pointers in it
// may be kept.
//
// Returning nil acknowledges the batch: only then does it count as
// delivered (for a plugin, once its Handle returned and the host got the
// answer). A returned error, a panic or a timeout fails the batch, which is
// sent again, whole, with back-off, for a bounded time (by default up to
// 30 s; the listener's retry_for and max_attempts settings). When that runs
// out the batch is dropped, counted, and announced by an EventGap at the
// head of the next batch the listener acknowledges; events lost to a full
// queue are announced the same way. Delivery is thus at least once within
// the retry bound: a listener may see a batch again, in part or whole, if
// it failed after taking it, and drops duplicates by Seq. Every loss is
// announced, except for events still undelivered when eurekad shuts down
// (counted, but no later batch can tell). A listener that needs
// durability persists what it receives before it returns nil.
type Listener interface {
	Handle(ctx context.Context, events []Event) error
}

// ListenerFunc adapts a function to Listener.
type ListenerFunc func(ctx context.Context, events []Event) error

// Handle calls f.
func (f ListenerFunc) Handle(ctx context.Context, events []Event) error { return f(ctx, events) }

// Configurer is implemented by hooks (and stores) that take configuration:
// eurekad calls Configure once, before any other call, with the plugin's
// config block from eurekad's configuration encoded as JSON ("{}" when there
// is none). An error stops eurekad from starting.
type Configurer interface {
	Configure(ctx context.Context, config []byte) error
}

// DefaultNamespace is the namespace served at the plain base paths
// (/eureka/), as a server without namespaces serves its one registry.
const DefaultNamespace = "default"

// MaxNamespaceBytes bounds a namespace's name: a DNS label's length.
const MaxNamespaceBytes = 63

// ValidNamespace reports whether name may name a namespace: a
// DNS-label-like name (lower-case letters, digits and inner hyphens, 1 to
// 63 bytes), so that it is one URL path segment that needs no escaping, a
// store key prefix with no special character for any store, and a metrics
// label. eurekad serves no other; a hook checks its own configuration
// with it.
func ValidNamespace(name string) bool {
	if name == "" || len(name) > MaxNamespaceBytes || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
