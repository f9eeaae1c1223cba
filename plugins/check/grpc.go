package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/eurekad/eurekad/sdk/hook"
)

// probeGRPC asks target's grpc.health.v1 service about service ("" is the
// server as a whole) over plaintext, and passes when it answers SERVING.
func probeGRPC(ctx context.Context, target, service string) (hook.CheckResult, error) {
	var refused atomic.Pointer[error]
	conn, err := grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := dial(ctx, addr)
			if errors.Is(err, errNotInstance) {
				refused.Store(&err)
			}
			return c, err
		}))
	if err != nil {
		return hook.CheckResult{}, fmt.Errorf("check: grpc target %q: %w", target, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if e := refused.Load(); e != nil {
		return hook.CheckResult{}, *e // undecided: the instance was not probed
	}
	if err != nil {
		s := status.Convert(err)
		if s.Code() == codes.DeadlineExceeded {
			return failing("timeout"), nil
		}
		return failing("grpc %s: %s", s.Code(), s.Message()), nil
	}
	if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
		return failing("grpc health %s", st), nil
	}
	return hook.CheckResult{Passing: true, Detail: "SERVING"}, nil
}
