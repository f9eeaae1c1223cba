package admissiontest_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/hook/admissiontest"
)

// teamRule admits a registration from its own address with a team, and
// tags it.
var teamRule = hook.AdmitterFunc(func(_ context.Context, r *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	switch {
	case r.Instance.IPAddr != host:
		return hook.AdmissionResponse{Message: "ipAddr " + r.Instance.IPAddr + " is not the caller's address"}, nil
	case r.Instance.Metadata["team"] == "":
		return hook.AdmissionResponse{Message: "metadata team is missing"}, nil
	}
	return hook.AdmissionResponse{Allowed: true, Metadata: map[string]string{"admitted-by": "rule"}}, nil
})

var teamCases = []admissiontest.Case{
	{Name: "own address with a team", Allowed: true, Metadata: map[string]string{"admitted-by": "rule"},
		Request: admissiontest.Register(admissiontest.Instance("orders", "o1", "10.0.0.1", map[string]string{"team": "orders"}), "10.0.0.1:40000")},
	{Name: "another address", Message: "not the caller's address",
		Request: admissiontest.Register(admissiontest.Instance("orders", "o1", "10.0.0.2", map[string]string{"team": "orders"}), "10.0.0.1:40000")},
	{Name: "no team", Message: "team",
		Request: admissiontest.Register(admissiontest.Instance("orders", "o1", "10.0.0.1", nil), "10.0.0.1:40000")},
}

func TestConformingAdmitter(t *testing.T) {
	admissiontest.Run(t, teamRule, teamCases)
}

// Faulty admitters, each breaking one rule; run by TestFaultyAdmittersFail
// in a child process, since their failures are the point.
var faulty = map[string]hook.Admitter{
	"error": hook.AdmitterFunc(func(context.Context, *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
		return hook.AdmissionResponse{}, errors.New("directory down")
	}),
	"silent": hook.AdmitterFunc(func(context.Context, *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
		return hook.AdmissionResponse{}, nil
	}),
	"mutates": hook.AdmitterFunc(func(ctx context.Context, r *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
		resp, err := teamRule(ctx, r)
		r.Instance.Metadata["seen"] = "yes"
		return resp, err
	}),
	"empty-key": hook.AdmitterFunc(func(ctx context.Context, r *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
		resp, err := teamRule(ctx, r)
		if resp.Allowed {
			resp.Metadata = map[string]string{"": "x", "admitted-by": "rule"}
		}
		return resp, err
	}),
	"panics": hook.AdmitterFunc(func(context.Context, *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
		panic("nil map")
	}),
}

const faultyEnv = "ADMISSIONTEST_FAULTY"

func TestFaulty(t *testing.T) {
	name := os.Getenv(faultyEnv)
	if name == "" {
		return // only in TestFaultyAdmittersFail's child process
	}
	admissiontest.Run(t, faulty[name], []admissiontest.Case{{
		Name: "admitted", Allowed: true, Metadata: map[string]string{"admitted-by": "rule"},
		Request: admissiontest.Register(admissiontest.Instance("orders", "o1", "10.0.0.1", map[string]string{"team": "orders"}), "10.0.0.1:40000"),
	}})
}

// The suite fails each faulty admitter, naming the rule it broke.
func TestFaultyAdmittersFail(t *testing.T) {
	for name, want := range map[string]string{
		"error":     "Admit failed: directory down",
		"silent":    "refused without a message",
		"mutates":   "the admitter modified the request",
		"empty-key": "added metadata with an empty key",
		"panics":    "panic: nil map",
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFaulty$", "-test.count=1")
			cmd.Env = append(os.Environ(), faultyEnv+"="+name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("suite on a faulty admitter: %v, want a failure\n%s", err, out)
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("output does not say %q:\n%s", want, out)
			}
		})
	}
}
