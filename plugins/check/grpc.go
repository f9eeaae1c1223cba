package check

import (
	"context"
	"fmt"

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
	conn, err := grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return hook.CheckResult{}, fmt.Errorf("check: grpc target %q: %w", target, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
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
