package main

import (
	"testing"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/hook/admissiontest"
	"github.com/eurekad/eurekad/sdk/plugin/plugintest"
)

// The rule, checked by the conformance suite as eurekad sees the plugin:
// over gRPC, the instance after its trip through JSON.
func TestRule(t *testing.T) {
	team := map[string]string{"team": "orders"}
	admitted := map[string]string{"admitted-by": "admission-plugin"}
	reg := func(ip string, md map[string]string, from string) *hook.AdmissionRequest {
		return admissiontest.Register(admissiontest.Instance("orders", "o1", ip, md), from)
	}
	status := reg("10.9.9.9", nil, "10.0.0.1:40000")
	status.Operation, status.Status = hook.OpStatus, "OUT_OF_SERVICE"
	admissiontest.Run(t, plugintest.Admitter(t, hook.AdmitterFunc(admit), nil), []admissiontest.Case{
		{Name: "own address with a team", Request: reg("10.0.0.1", team, "10.0.0.1:40000"), Allowed: true, Metadata: admitted},
		{Name: "IPv6 own address", Request: reg("::1", team, "[::1]:40000"), Allowed: true, Metadata: admitted},
		{Name: "IPv4 in IPv6 form", Request: reg("10.0.0.1", team, "[::ffff:10.0.0.1]:40000"), Allowed: true, Metadata: admitted},
		{Name: "another address", Request: reg("10.0.0.2", team, "10.0.0.1:40000"), Message: "ipAddr 10.0.0.2 is not the address"},
		{Name: "no ipAddr", Request: reg("", team, "10.0.0.1:40000"), Message: "is not the address"},
		{Name: "no team", Request: reg("10.0.0.1", nil, "10.0.0.1:40000"), Message: "metadata team is required"},
		{Name: "empty team", Request: reg("10.0.0.1", map[string]string{"team": ""}, "10.0.0.1:40000"), Message: "team"},
		{Name: "status change passes", Request: status, Allowed: true},
	})
}
