package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/hook/checkertest"
	"github.com/eurekad/eurekad/sdk/plugin/plugintest"
)

// actuator serves /actuator/health with status and body.
func actuator(t *testing.T, code int, body string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.spring-boot.actuator.v3+json")
		w.WriteHeader(code)
		w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// The check, by the conformance suite as eurekad sees the plugin: over
// gRPC.
func TestActuatorCheck(t *testing.T) {
	probe := func(addr string) *hook.CheckRequest {
		r := checkertest.HTTP(addr, "/actuator/health")
		r.Kind = Kind
		return r
	}
	checkertest.Run(t, plugintest.Checker(t, hook.CheckerFunc(check), nil), []checkertest.Case{
		{Name: "UP", Passing: true, Request: probe(actuator(t, 200, `{"status":"UP","components":{"db":{"status":"UP"}}}`))},
		{Name: "DOWN with 503", Detail: "actuator DOWN (HTTP 503)", Request: probe(actuator(t, 503, `{"status":"DOWN"}`))},
		{Name: "OUT_OF_SERVICE with 200", Detail: "actuator OUT_OF_SERVICE", Request: probe(actuator(t, 200, `{"status":"OUT_OF_SERVICE"}`))},
		{Name: "not an actuator", Detail: "no actuator status", Request: probe(actuator(t, 200, `<html>ok</html>`))},
		{Name: "refused", Detail: "unreachable", Request: probe(checkertest.ClosedAddr(t))},
		{Name: "another kind", Undecided: true, Request: checkertest.HTTP(actuator(t, 200, `{"status":"UP"}`), "/")},
		{Name: "no URL", Undecided: true, Request: checkertest.Kind(Kind, "10.0.0.1:8080", nil)},
	})
}
