// Command checker-plugin is an eurekad checker plugin for Spring Boot
// services: its check kind "actuator" GETs the instance's actuator health
// endpoint (the check's Target, built by eurekad from the instance's own
// address) and passes only when it answers 200 with a JSON body whose
// "status" is "UP", as /actuator/health does. A service whose actuator
// reports DOWN or OUT_OF_SERVICE (a database gone, a disk full) fails the
// check even where a plain HTTP check would see a 200 (Spring Boot answers
// 503 for DOWN by default, but not every service keeps that mapping).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
)

// Kind is the check kind this plugin serves.
const Kind = "actuator"

// client follows no redirect (its target must stay the instance's) and
// uses no proxy.
var client = &http.Client{
	Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func check(ctx context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
	if r.Kind != Kind {
		return hook.CheckResult{}, fmt.Errorf("checker-plugin serves %q, not %q: %w", Kind, r.Kind, errors.ErrUnsupported)
	}
	if !strings.HasPrefix(r.Target, "http://") && !strings.HasPrefix(r.Target, "https://") {
		return hook.CheckResult{}, fmt.Errorf("target %q is not a URL: give the check a path or the instance a healthCheckUrl", r.Target)
	}
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Target, nil)
	if err != nil {
		return hook.CheckResult{}, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return hook.CheckResult{Detail: "timeout"}, nil
		}
		return hook.CheckResult{Detail: "unreachable"}, nil
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	switch {
	case err != nil:
		return hook.CheckResult{Detail: fmt.Sprintf("HTTP %d, no actuator status", resp.StatusCode)}, nil
	case resp.StatusCode != http.StatusOK || body.Status != "UP":
		return hook.CheckResult{Detail: fmt.Sprintf("actuator %s (HTTP %d)", body.Status, resp.StatusCode)}, nil
	}
	return hook.CheckResult{Passing: true, Detail: "actuator UP"}, nil
}

func main() {
	plugin.Serve(plugin.ServeOptions{Name: "actuator-checker", Version: "1.0.0", Checker: hook.CheckerFunc(check)})
}
