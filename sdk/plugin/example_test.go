package plugin_test

import (
	"context"
	"strings"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
)

// An auth plugin: eurekad runs the program (--auth-plugin ./bin/x) and asks
// it about every request.
func ExampleServe() {
	auth := hook.AuthenticatorFunc(func(_ context.Context, r *hook.AuthRequest) (hook.Principal, error) {
		if r.BearerToken == "" {
			return hook.Principal{}, hook.ErrUnauthenticated
		}
		if r.Operation.IsWrite() && !strings.HasPrefix(r.App, "SANDBOX-") {
			return hook.Principal{}, hook.ErrForbidden
		}
		return hook.Principal{Name: "token"}, nil
	})
	plugin.Serve(plugin.ServeOptions{Name: "sandbox-auth", Version: "1.0.0", Authenticator: auth})
}

// A plugin logs through Logger; eurekad shows the lines under the plugin's
// name.
func ExampleLogger() {
	log := plugin.Logger()
	log.Info("cache warmed", "entries", 42)
}
