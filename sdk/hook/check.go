package hook

import (
	"context"
	"net/netip"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// The check kinds eurekad's built-in checker serves. A plugin may serve
// these or kinds of its own; eurekad sends it every check whose rule or
// metadata names a kind the built-in does not know.
const (
	CheckHTTP = "http" // GET Target; passing when the status is in the expected range
	CheckTCP  = "tcp"  // connect to Target (host:port); passing when it accepts
	CheckGRPC = "grpc" // grpc.health.v1 Check on Target (host:port); passing when SERVING
)

// CheckRequest is one probe of one instance. eurekad builds Target from the
// instance's own address (its ipAddr or hostName) and never from anything
// else the registrant wrote, so a checker that probes Target probes the
// instance and nothing else: a registration cannot make the server probe
// an arbitrary host. A checker must not follow redirects or otherwise
// probe another address than Target.
//
// The request belongs to the caller and is valid only until Check returns;
// Instance is shared and must not be modified.
type CheckRequest struct {
	// App is the application name, upper-cased, and InstanceID the
	// instance id.
	App, InstanceID string
	// Instance is the instance as registered.
	Instance *eureka.InstanceInfo
	// Kind is the check to run: CheckHTTP, CheckTCP, CheckGRPC or a
	// plugin's own kind.
	Kind string
	// Target is what to probe: for CheckHTTP an absolute http(s) URL whose
	// host is the instance's; for CheckTCP and CheckGRPC host:port; for a
	// plugin's kind a URL when the check has a path or the instance a
	// healthCheckUrl on its own host, host:port otherwise.
	Target string
	// Timeout bounds the probe; the context's deadline is at most this far
	// away too.
	Timeout time.Duration
	// ExpectMin and ExpectMax are, for CheckHTTP, the range of status
	// codes that pass (inclusive).
	ExpectMin, ExpectMax int
	// Params are the rule's or the instance's extra settings for a
	// plugin's own kinds (metadata eurekad.check.param.NAME); nil when
	// there are none.
	Params map[string]string
}

// CheckResult is a checker's verdict.
type CheckResult struct {
	// Passing is true when the instance works.
	Passing bool
	// Detail says briefly what was seen ("HTTP 500", "connection
	// refused"); eurekad shows it with the instance's health and puts it
	// in the status-changed event. Keep it short: eurekad cuts it at 200
	// bytes.
	Detail string
}

// Checker probes an instance and answers whether it is passing.
//
// A failing instance is one the checker reached (or tried to reach) and
// found not working: a refused connection, a timeout of the probe, a bad
// status. Those are verdicts, returned with a nil error. A returned error
// means the checker itself could not decide (it is misconfigured, out of
// resources, does not know the kind); eurekad then leaves the instance's
// status as it is and counts the check as undecided. eurekad never marks
// an instance DOWN because its checker is broken: a checker plugin that
// crashes, hangs past the deadline or panics is undecided too.
type Checker interface {
	Check(ctx context.Context, req *CheckRequest) (CheckResult, error)
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context, req *CheckRequest) (CheckResult, error)

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context, req *CheckRequest) (CheckResult, error) {
	return f(ctx, req)
}

// NotAnInstanceAddress reports whether a is an address no instance has
// but a server may reach: link-local (the cloud metadata service at
// 169.254.169.254 among them), multicast or unspecified. eurekad refuses
// such targets, and a checker refuses to dial them whatever name resolved
// there, since a registrant chooses its host name.
func NotAnInstanceAddress(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified()
}
