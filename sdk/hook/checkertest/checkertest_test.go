package checkertest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/hook/checkertest"
)

// probeChecker is a small conforming checker: HTTP and TCP.
var probeChecker = hook.CheckerFunc(func(ctx context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	switch r.Kind {
	case hook.CheckHTTP:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Target, nil)
		if err != nil {
			return hook.CheckResult{}, err
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			return hook.CheckResult{Detail: err.Error()}, nil
		}
		resp.Body.Close()
		return hook.CheckResult{Passing: resp.StatusCode >= r.ExpectMin && resp.StatusCode <= r.ExpectMax,
			Detail: fmt.Sprintf("HTTP %d", resp.StatusCode)}, nil
	case hook.CheckTCP:
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", r.Target)
		if err != nil {
			return hook.CheckResult{Detail: err.Error()}, nil
		}
		c.Close()
		return hook.CheckResult{Passing: true}, nil
	}
	return hook.CheckResult{}, errors.New("unknown kind " + r.Kind)
})

func cases(t *testing.T) []checkertest.Case {
	up, down := checkertest.HTTPServer(t, http.StatusOK), checkertest.HTTPServer(t, http.StatusInternalServerError)
	return []checkertest.Case{
		{Name: "200", Passing: true, Request: checkertest.HTTP(up, "/health")},
		{Name: "500", Detail: "500", Request: checkertest.HTTP(down, "/health")},
		{Name: "tcp open", Passing: true, Request: checkertest.TCP(up)},
		{Name: "tcp refused", Detail: "refused", Request: checkertest.TCP(checkertest.ClosedAddr(t))},
		{Name: "unknown kind", Undecided: true, Request: checkertest.Kind("redis-ping", up, nil)},
	}
}

func TestConformingChecker(t *testing.T) {
	checkertest.Run(t, probeChecker, cases(t))
}

// Faulty checkers, each breaking one rule; run by TestFaultyCheckersFail
// in a child process, since their failures are the point.
var faulty = map[string]hook.Checker{
	"error": hook.CheckerFunc(func(context.Context, *hook.CheckRequest) (hook.CheckResult, error) {
		return hook.CheckResult{}, errors.New("no sockets")
	}),
	"no-detail": hook.CheckerFunc(func(ctx context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
		res, err := probeChecker(ctx, r)
		res.Detail = ""
		return res, err
	}),
	"mutates": hook.CheckerFunc(func(ctx context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
		r.Instance.Status = "DOWN"
		return probeChecker(ctx, r)
	}),
	"hangs": hook.CheckerFunc(func(ctx context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
		if strings.Contains(r.App, "HANG") {
			time.Sleep(r.Timeout + 2*checkertest.Slack) // ignores its deadline on purpose
		}
		return probeChecker(ctx, r)
	}),
	"panics": hook.CheckerFunc(func(context.Context, *hook.CheckRequest) (hook.CheckResult, error) {
		panic("nil map")
	}),
	"silence-undecided": hook.CheckerFunc(func(ctx context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
		if strings.Contains(r.App, "HANG") {
			ctx, cancel := context.WithTimeout(ctx, r.Timeout)
			defer cancel()
			<-ctx.Done()
			return hook.CheckResult{}, ctx.Err() // within its timeout, but no verdict
		}
		return probeChecker(ctx, r)
	}),
}

const faultyEnv = "CHECKERTEST_FAULTY"

func TestFaulty(t *testing.T) {
	name := os.Getenv(faultyEnv)
	if name == "" {
		return // only in TestFaultyCheckersFail's child process
	}
	checkertest.Run(t, faulty[name], cases(t)[:2])
}

// The suite fails each faulty checker, naming the rule it broke.
func TestFaultyCheckersFail(t *testing.T) {
	for name, want := range map[string]string{
		"error":             "Check failed: no sockets",
		"no-detail":         "failing without a detail",
		"mutates":           "the checker modified the request",
		"hangs":             "a probe of a target that never answers took",
		"panics":            "panic: nil map",
		"silence-undecided": "http: a target that never answers got no verdict",
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFaulty$", "-test.count=1")
			cmd.Env = append(os.Environ(), faultyEnv+"="+name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("suite on a faulty checker: %v, want a failure\n%s", err, out)
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("output does not say %q:\n%s", want, out)
			}
		})
	}
}
