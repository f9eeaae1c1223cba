package hook_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// An Authenticator that lets one team's token write its own applications
// and everyone read.
func ExampleAuthenticatorFunc() {
	auth := hook.AuthenticatorFunc(func(_ context.Context, req *hook.AuthRequest) (hook.Principal, error) {
		if req.Operation == hook.OpRead {
			return hook.Principal{Name: "anyone"}, nil
		}
		if req.BearerToken != "orders-team-token" {
			return hook.Principal{}, hook.ErrUnauthenticated
		}
		if !strings.HasPrefix(req.App, "ORDERS") {
			return hook.Principal{}, fmt.Errorf("orders team on %s: %w", req.App, hook.ErrForbidden)
		}
		return hook.Principal{Name: "orders-team"}, nil
	})
	p, err := auth.Authenticate(context.Background(), &hook.AuthRequest{Operation: hook.OpRegister, App: "ORDERS-API", BearerToken: "orders-team-token"})
	fmt.Println(p.Name, err)
	_, err = auth.Authenticate(context.Background(), &hook.AuthRequest{Operation: hook.OpCancel, App: "PAYMENTS", BearerToken: "orders-team-token"})
	fmt.Println(errors.Is(err, hook.ErrForbidden))
	// Output:
	// orders-team <nil>
	// true
}

// A Listener that counts what happened, skipping server-wide events and
// noticing lost ones.
func ExampleListenerFunc() {
	counts := map[hook.EventType]int{}
	var lost uint64
	l := hook.ListenerFunc(func(_ context.Context, events []hook.Event) error {
		for _, e := range events {
			if e.Type == hook.EventGap {
				lost += e.Dropped
				continue
			}
			if e.InstanceID != "" {
				counts[e.Type]++
			}
		}
		return nil
	})
	l.Handle(context.Background(), []hook.Event{
		{Seq: 1, Type: hook.EventRegistered, App: "ORDERS", InstanceID: "i-1"},
		{Seq: 5, Type: hook.EventGap, Dropped: 3},
		{Seq: 6, Type: hook.EventCancelled, App: "ORDERS", InstanceID: "i-1"},
		{Seq: 7, Type: hook.EventSelfPreservationEntered},
	})
	fmt.Println(counts[hook.EventRegistered], counts[hook.EventCancelled], lost)
	// Output: 1 1 3
}

// An Admitter that refuses registrations without an owning team and tags
// the ones it admits.
func ExampleAdmitterFunc() {
	admit := hook.AdmitterFunc(func(_ context.Context, req *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
		team := req.Instance.Metadata["team"]
		if team == "" {
			return hook.AdmissionResponse{Message: "metadata team is required"}, nil
		}
		return hook.AdmissionResponse{Allowed: true, Metadata: map[string]string{"admitted-by": "team-rule"}}, nil
	})
	r, _ := admit.Admit(context.Background(), &hook.AdmissionRequest{
		Operation: hook.OpRegister, App: "ORDERS", InstanceID: "o-1",
		Instance: &eureka.InstanceInfo{InstanceID: "o-1", App: "ORDERS"},
	})
	fmt.Println(r.Allowed, r.Message)
	r, _ = admit.Admit(context.Background(), &hook.AdmissionRequest{
		Operation: hook.OpRegister, App: "ORDERS", InstanceID: "o-1",
		Instance: &eureka.InstanceInfo{InstanceID: "o-1", App: "ORDERS", Metadata: map[string]string{"team": "orders"}},
	})
	fmt.Println(r.Allowed, r.Metadata)
	// Output:
	// false metadata team is required
	// true map[admitted-by:team-rule]
}

// A Checker for a kind of its own: it passes when the instance's port is
// the one its metadata promises, and cannot decide other kinds (eurekad
// then changes nothing).
func ExampleCheckerFunc() {
	check := hook.CheckerFunc(func(_ context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
		if r.Kind != "port-matches" {
			return hook.CheckResult{}, fmt.Errorf("kind %q is not mine", r.Kind)
		}
		if want := r.Params["port"]; !strings.HasSuffix(r.Target, ":"+want) {
			return hook.CheckResult{Detail: "port is not " + want}, nil
		}
		return hook.CheckResult{Passing: true}, nil
	})
	r, err := check.Check(context.Background(), &hook.CheckRequest{Kind: "port-matches", Target: "10.0.0.1:8080", Params: map[string]string{"port": "9090"}})
	fmt.Println(r.Passing, r.Detail, err)
	_, err = check.Check(context.Background(), &hook.CheckRequest{Kind: "http"})
	fmt.Println(err)
	// Output:
	// false port is not 9090 <nil>
	// kind "http" is not mine
}
