package pluginpb

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Sentinels survive the trip, and a second trip; a status gRPC makes
// itself with the same code as a sentinel that needs a reason does not
// become that sentinel.
func TestSentinelsRoundTrip(t *testing.T) {
	for _, want := range []error{storage.ErrNotFound, storage.ErrClosed, storage.ErrRefused, hook.ErrUnauthenticated, hook.ErrForbidden, hook.ErrThrottled} {
		err := FromStatus(ToStatus(fmt.Errorf("because: %w", want)))
		if !errors.Is(err, want) || err.Error() != "because: "+want.Error() {
			t.Errorf("%v: after one trip %v", want, err)
		}
		if again := FromStatus(ToStatus(err)); !errors.Is(again, want) {
			t.Errorf("%v: after two trips %v", want, again)
		}
	}
	grpcOwn := status.Error(codes.ResourceExhausted, "grpc: received message larger than max")
	if err := FromStatus(grpcOwn); errors.Is(err, hook.ErrThrottled) {
		t.Errorf("gRPC's own ResourceExhausted became ErrThrottled: %v", err)
	}
	if err := FromStatus(ToStatus(errors.New("disk full"))); err == nil || errors.Unwrap(err) != nil {
		t.Errorf("an error outside the table = %v, want the message alone", err)
	}
}
