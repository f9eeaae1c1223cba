package plugin_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin/plugintest"
)

// Every field of a probe and a verdict crosses the boundary; a checker's
// error stays an error (undecided), never a verdict.
func TestCheckerOverGRPC(t *testing.T) {
	var seen *hook.CheckRequest
	c := &configurable{CheckerFunc: func(ctx context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
		seen = r
		switch r.App {
		case "BROKEN":
			return hook.CheckResult{}, errors.New("no sockets")
		case "SLOW":
			<-ctx.Done()
			return hook.CheckResult{}, ctx.Err()
		case "FAILING":
			return hook.CheckResult{Detail: "HTTP 500"}, nil
		case "BINARY":
			// A target's raw bytes, cut mid-character: not UTF-8.
			return hook.CheckResult{Detail: "body \xe2\x82"}, nil
		}
		return hook.CheckResult{Passing: true, Detail: "HTTP 200"}, nil
	}}
	remote := plugintest.Checker(t, c, []byte(`{"x":1}`))
	if string(c.cfg) != `{"x":1}` {
		t.Errorf("Configure got %q", c.cfg)
	}
	req := &hook.CheckRequest{
		App: "ORDERS", InstanceID: "o1", Kind: hook.CheckHTTP, Target: "http://10.0.0.1:8080/health",
		Timeout: 2 * time.Second, ExpectMin: 200, ExpectMax: 299, Params: map[string]string{"k": "v"},
		Instance: &eureka.InstanceInfo{InstanceID: "o1", App: "ORDERS", HostName: "o1.local", IPAddr: "10.0.0.1",
			Status: eureka.StatusUp, Port: eureka.Port{Number: 8080, Enabled: true},
			DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}},
	}
	r, err := remote.Check(t.Context(), req)
	if err != nil || !r.Passing || r.Detail != "HTTP 200" {
		t.Fatalf("Check = %+v, %v", r, err)
	}
	if seen.App != req.App || seen.InstanceID != req.InstanceID || seen.Kind != req.Kind || seen.Target != req.Target ||
		seen.Timeout != req.Timeout || seen.ExpectMin != 200 || seen.ExpectMax != 299 || !maps.Equal(seen.Params, req.Params) {
		t.Errorf("the plugin saw %+v, sent %+v", *seen, *req)
	}
	if !reflect.DeepEqual(seen.Instance.IPAddr, "10.0.0.1") || seen.Instance.Port.Number != 8080 {
		t.Errorf("instance crossed as %+v", *seen.Instance)
	}

	req.App = "FAILING"
	if r, err := remote.Check(t.Context(), req); err != nil || r.Passing || r.Detail != "HTTP 500" {
		t.Errorf("failing: %+v, %v", r, err)
	}
	req.App = "BINARY"
	if r, err := remote.Check(t.Context(), req); err != nil || r.Passing || r.Detail != "body \uFFFD" {
		t.Errorf("a detail that is not UTF-8: %+v, %v; want the verdict, the bytes replaced", r, err)
	}
	req.App = "BROKEN"
	if _, err := remote.Check(t.Context(), req); err == nil {
		t.Error("a checker's error came back as a verdict")
	}
	req.App = "SLOW"
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := remote.Check(ctx, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a checker past its deadline: %v, want DeadlineExceeded", err)
	}
}
