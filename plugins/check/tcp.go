package check

import (
	"context"
	"net"

	"github.com/eurekad/eurekad/sdk/hook"
)

// probeTCP passes when target (host:port) accepts a connection.
func probeTCP(ctx context.Context, target string) (hook.CheckResult, error) {
	c, err := (&net.Dialer{KeepAlive: -1}).DialContext(ctx, "tcp", target)
	if err != nil {
		return failing("%s", describe(err)), nil
	}
	c.Close()
	return hook.CheckResult{Passing: true, Detail: "connected"}, nil
}
