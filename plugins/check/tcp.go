package check

import (
	"context"
	"errors"

	"github.com/eurekad/eurekad/sdk/hook"
)

// probeTCP passes when target (host:port) accepts a connection.
func probeTCP(ctx context.Context, target string) (hook.CheckResult, error) {
	c, err := dial(ctx, target)
	if errors.Is(err, errNotInstance) {
		return hook.CheckResult{}, err // undecided: the instance was not probed
	}
	if err != nil {
		return failing("%s", describe(err)), nil
	}
	c.Close()
	return hook.CheckResult{Passing: true, Detail: "connected"}, nil
}
