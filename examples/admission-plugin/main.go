// Command admission-plugin is an eurekad admission plugin for an
// organisation's rule: an instance registers only from its own address
// (its ipAddr is the address the registration came from) and only with a
// "team" metadata entry. The instances it admits get the metadata entry
// admitted-by: admission-plugin. Status and metadata changes pass as they
// are.
package main

import (
	"context"
	"net"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
)

func admit(_ context.Context, r *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
	if r.Operation != hook.OpRegister {
		return hook.AdmissionResponse{Allowed: true}, nil
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	// Equal, not ==: "::ffff:10.0.0.1" is 10.0.0.1.
	if ip := net.ParseIP(r.Instance.IPAddr); ip == nil || !ip.Equal(net.ParseIP(host)) {
		return hook.AdmissionResponse{Message: "ipAddr " + r.Instance.IPAddr + " is not the address this registration came from"}, nil
	}
	if r.Instance.Metadata["team"] == "" {
		return hook.AdmissionResponse{Message: "metadata team is required"}, nil
	}
	return hook.AdmissionResponse{Allowed: true, Metadata: map[string]string{"admitted-by": "admission-plugin"}}, nil
}

func main() {
	plugin.Serve(plugin.ServeOptions{Name: "team-admission", Version: "1.0.0", Admitter: hook.AdmitterFunc(admit)})
}
