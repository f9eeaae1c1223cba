package guard_test

import (
	"context"
	"fmt"

	"github.com/eurekad/eurekad/plugins/auth/guard"
	"github.com/eurekad/eurekad/sdk/hook"
)

func Example() {
	calls := 0
	slow := hook.AuthenticatorFunc(func(_ context.Context, req *hook.AuthRequest) (hook.Principal, error) {
		calls++ // a bcrypt check or a call into a plugin process
		if req.BearerToken != "t0k" {
			return hook.Principal{}, hook.ErrUnauthenticated
		}
		return hook.Principal{Name: "deployer"}, nil
	})
	g := guard.New(slow, nil) // httpd.Options.Auth = g
	req := &hook.AuthRequest{Operation: hook.OpRenew, App: "ORDERS", Instance: "i-1", BearerToken: "t0k"}
	for i := 0; i < 3; i++ {
		g.Authenticate(context.Background(), req)
	}
	st := g.Stats()
	fmt.Println(calls, st.Hits, st.Misses)
	// Output: 1 2 1
}
