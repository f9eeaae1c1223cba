// Package admissiontest is the conformance suite for hook.Admitter
// implementations: an author lists the decisions the admitter must make,
// and Run checks them together with the rules every admitter follows.
//
//	func TestAdmitter(t *testing.T) {
//		// As eurekad sees it: over gRPC, the instance after its trip
//		// through JSON.
//		a := plugintest.Admitter(t, &myAdmitter{}, nil)
//		admissiontest.Run(t, a, []admissiontest.Case{
//			{Name: "own team", Allowed: true,
//				Request: admissiontest.Register(admissiontest.Instance("ORDERS", "o1", "10.0.0.1", map[string]string{"team": "orders"}), "10.0.0.1:40000")},
//			{Name: "no team", Message: "team",
//				Request: admissiontest.Register(admissiontest.Instance("ORDERS", "o1", "10.0.0.1", nil), "10.0.0.1:40000")},
//		})
//	}
//
// The rules: an answer is a decision, never an error, for every request
// listed; a refusal has a message (eurekad shows it to the client); added
// metadata has no empty key; the request, its instance and its maps are
// left as they were (eurekad shares them); and the same requests sent from
// many goroutines at once get the same decisions (run with -race).
//
// This package imports only the standard library, sdk/eureka and sdk/hook.
package admissiontest

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// Case is one request and the decision the admitter must make.
type Case struct {
	Name    string
	Request *hook.AdmissionRequest
	// Allowed is the decision expected.
	Allowed bool
	// Message is, for a refusal, text the refusal's message must contain;
	// "" checks only that there is a message.
	Message string
	// Metadata is, for an admission, exactly the metadata the admitter
	// must add (nil: none).
	Metadata map[string]string
}

// Concurrency is how many goroutines send the cases at once in the
// concurrency subtest.
const Concurrency = 8

// Run checks a against cases, one subtest each, then sends every case
// from Concurrency goroutines at once and checks the decisions again.
func Run(t *testing.T, a hook.Admitter, cases []Case) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("admissiontest: no cases")
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if err := checkRequest(c.Request); err != nil {
				t.Fatalf("admissiontest: case %q: %v", c.Name, err)
			}
			before := cloneRequest(c.Request)
			if err := c.check(admit(t.Context(), a, c.Request)); err != nil {
				t.Error(err)
			}
			if !reflect.DeepEqual(before, c.Request) {
				t.Errorf("the admitter modified the request:\nbefore %s\nafter  %s", describe(before), describe(c.Request))
			}
		})
	}
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, Concurrency*len(cases))
		for range Concurrency {
			wg.Go(func() {
				for _, c := range cases {
					if err := c.check(admit(t.Context(), a, c.Request)); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// admit calls a, turning a panic into an error so that the suite reports
// it as a failed case.
func admit(ctx context.Context, a hook.Admitter, req *hook.AdmissionRequest) (r hook.AdmissionResponse, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return a.Admit(ctx, req)
}

// check compares one answer with the case.
func (c Case) check(r hook.AdmissionResponse, err error) error {
	switch {
	case err != nil:
		return fmt.Errorf("%s: Admit failed: %v (an error is a failure of the admitter; refuse with Allowed false and a Message)", c.Name, err)
	case !r.Allowed && r.Message == "":
		return fmt.Errorf("%s: refused without a message", c.Name)
	case r.Allowed != c.Allowed:
		return fmt.Errorf("%s: Allowed = %v (message %q), want %v", c.Name, r.Allowed, r.Message, c.Allowed)
	case !r.Allowed && !strings.Contains(r.Message, c.Message):
		return fmt.Errorf("%s: message %q does not contain %q", c.Name, r.Message, c.Message)
	case r.Allowed && hasKey(r.Metadata, ""):
		return fmt.Errorf("%s: added metadata with an empty key", c.Name)
	case r.Allowed && !maps.Equal(r.Metadata, c.Metadata):
		return fmt.Errorf("%s: added metadata %v, want %v", c.Name, r.Metadata, c.Metadata)
	}
	return nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// checkRequest refuses a request eurekad would never send, so that a case
// tests what the admitter will see.
func checkRequest(r *hook.AdmissionRequest) error {
	switch {
	case r == nil:
		return fmt.Errorf("nil Request")
	case !isAdmitted(r.Operation):
		return fmt.Errorf("operation %q is never admitted (one of %v)", r.Operation, hook.AdmissionOperations)
	case r.Instance == nil:
		return fmt.Errorf("no Instance: eurekad always sends the instance")
	case r.App == "" || r.InstanceID == "":
		return fmt.Errorf("App and InstanceID must be set")
	}
	return nil
}

func isAdmitted(op hook.Operation) bool {
	for _, o := range hook.AdmissionOperations {
		if o == op {
			return true
		}
	}
	return false
}

func cloneRequest(r *hook.AdmissionRequest) *hook.AdmissionRequest {
	c := *r
	c.Instance = r.Instance.Clone()
	c.Metadata = maps.Clone(r.Metadata)
	c.Principal.Attributes = maps.Clone(r.Principal.Attributes)
	if r.TLS != nil {
		t := *r.TLS
		t.DNSNames, t.URIs = append([]string(nil), r.TLS.DNSNames...), append([]string(nil), r.TLS.URIs...)
		c.TLS = &t
	}
	return &c
}

func describe(r *hook.AdmissionRequest) string {
	return fmt.Sprintf("%+v instance %+v", *r, *r.Instance)
}

// Instance returns an instance of app as a Eureka client registers it:
// id, ip address and metadata as given, UP on port 8080, in its own data
// centre.
func Instance(app, id, ipAddr string, metadata map[string]string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID: id, App: strings.ToUpper(app), HostName: id + ".local", IPAddr: ipAddr,
		Status: eureka.StatusUp, Port: eureka.Port{Number: 8080, Enabled: true},
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		VIPAddress:     strings.ToLower(app), Metadata: metadata,
	}
}

// Register returns the admission request of in's registration by a client
// at remoteAddr (host:port), without a principal or TLS identity.
func Register(in *eureka.InstanceInfo, remoteAddr string) *hook.AdmissionRequest {
	return &hook.AdmissionRequest{Operation: hook.OpRegister, App: in.App, InstanceID: in.ID(), Instance: in, RemoteAddr: remoteAddr}
}
