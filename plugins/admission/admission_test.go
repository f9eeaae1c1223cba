package admission_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eurekad/eurekad/plugins/admission"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

func register(app string, md map[string]string) *hook.AdmissionRequest {
	return &hook.AdmissionRequest{Operation: hook.OpRegister, App: app, InstanceID: "i1",
		Instance: &eureka.InstanceInfo{InstanceID: "i1", App: app, Metadata: md}}
}

// byApp decides by the app name: ALLOW adds metadata, QUIET refuses without
// a message, SLOW waits for its deadline, BROKEN fails, PANIC panics; the
// rest is refused with a message and metadata that must not survive.
var byApp = hook.AdmitterFunc(func(ctx context.Context, r *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
	switch r.App {
	case "ALLOW":
		return hook.AdmissionResponse{Allowed: true, Message: "ignored", Metadata: map[string]string{"admitted-by": "test"}}, nil
	case "QUIET":
		return hook.AdmissionResponse{}, nil
	case "SLOW":
		<-ctx.Done()
		return hook.AdmissionResponse{}, ctx.Err()
	case "BROKEN":
		return hook.AdmissionResponse{}, errors.New("directory down")
	case "PANIC":
		panic("nil map")
	}
	return hook.AdmissionResponse{Message: "team is missing", Metadata: map[string]string{"x": "y"}}, nil
})

func TestDecisionsPassNormalised(t *testing.T) {
	g := admission.New(byApp, nil)
	r, err := g.Admit(t.Context(), register("ALLOW", nil))
	if err != nil || !r.Allowed || r.Message != "" || r.Metadata["admitted-by"] != "test" {
		t.Errorf("allow = %+v, %v", r, err)
	}
	r, err = g.Admit(t.Context(), register("OTHER", nil))
	if err != nil || r.Allowed || r.Message != "team is missing" || r.Metadata != nil {
		t.Errorf("deny = %+v, %v; want the message and no metadata", r, err)
	}
	r, err = g.Admit(t.Context(), register("QUIET", nil))
	if err != nil || r.Allowed || r.Message != admission.DefaultMessage {
		t.Errorf("deny without a message = %+v, %v; want DefaultMessage", r, err)
	}
	if st := g.Stats(); st != (admission.Stats{Allowed: 1, Denied: 2}) {
		t.Errorf("Stats = %+v", st)
	}
}

// Every failure of the admitter refuses the write as unavailable, never as
// a decision; it is logged.
func TestFailuresFailClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		g := admission.New(byApp, &admission.Options{Timeout: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		for _, app := range []string{"SLOW", "BROKEN", "PANIC"} {
			start := time.Now()
			r, err := g.Admit(t.Context(), register(app, nil))
			if !errors.Is(err, admission.ErrUnavailable) || r.Allowed {
				t.Errorf("%s: %+v, %v; want ErrUnavailable", app, r, err)
			}
			if app == "SLOW" && time.Since(start) != time.Second {
				t.Errorf("SLOW took %v, want the 1s timeout", time.Since(start))
			}
		}
		if st := g.Stats(); st.Errors != 3 || st.Allowed+st.Denied+st.FailedOpen != 0 {
			t.Errorf("Stats = %+v", st)
		}
		for _, want := range []string{"context deadline exceeded", "directory down", "admitter panicked: nil map"} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, logs.String())
			}
		}
	})
}

func TestFailOpenAdmitsUnchanged(t *testing.T) {
	g := admission.New(byApp, &admission.Options{FailOpen: true})
	r, err := g.Admit(t.Context(), register("BROKEN", nil))
	if err != nil || !r.Allowed || r.Metadata != nil {
		t.Errorf("fail open = %+v, %v; want admitted without metadata", r, err)
	}
	// A refusal is still a refusal.
	if r, err := g.Admit(t.Context(), register("OTHER", nil)); err != nil || r.Allowed {
		t.Errorf("deny under fail open = %+v, %v", r, err)
	}
	if st := g.Stats(); st.Errors != 1 || st.FailedOpen != 1 || st.Denied != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// A renewal (or any operation outside AdmissionOperations) never reaches
// the admitter.
func TestOnlyAdmissionOperations(t *testing.T) {
	called := false
	g := admission.New(hook.AdmitterFunc(func(context.Context, *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
		called = true
		return hook.AdmissionResponse{Allowed: true}, nil
	}), nil)
	for _, op := range []hook.Operation{hook.OpRenew, hook.OpCancel, hook.OpRead, hook.OpReplicate, hook.OpAdmin} {
		req := register("ALLOW", nil)
		req.Operation = op
		if _, err := g.Admit(t.Context(), req); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", op, err)
		}
	}
	if called {
		t.Error("the admitter was called for an operation it never decides")
	}
	for _, op := range hook.AdmissionOperations {
		req := register("ALLOW", nil)
		req.Operation = op
		if r, err := g.Admit(t.Context(), req); err != nil || !r.Allowed {
			t.Errorf("%s: %+v, %v", op, r, err)
		}
	}
}

// No decision is reused: the same request asks the admitter each time,
// and a changed body gets a new decision.
func TestNothingCached(t *testing.T) {
	calls := 0
	g := admission.New(hook.AdmitterFunc(func(_ context.Context, r *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
		calls++
		return hook.AdmissionResponse{Allowed: r.Instance.Metadata["team"] != ""}, nil
	}), nil)
	for i, md := range []map[string]string{{"team": "a"}, {"team": "a"}, nil} {
		r, err := g.Admit(t.Context(), register("A", md))
		if err != nil || r.Allowed != (md != nil) {
			t.Errorf("call %d: %+v, %v", i, r, err)
		}
	}
	if calls != 3 {
		t.Errorf("admitter called %d times for 3 writes", calls)
	}
}

func TestOptions(t *testing.T) {
	if o := admission.DefaultOptions(); o.Validate() != nil || o.FailOpen {
		t.Errorf("defaults %+v: %v", o, o.Validate())
	}
	if err := (&admission.Options{}).Validate(); err == nil {
		t.Error("zero timeout accepted")
	}
}
