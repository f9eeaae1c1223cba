package pluginpb

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// sentinels is the one table mapping the contracts' sentinel errors to gRPC
// codes, used in both directions. A code appears once, so the reverse
// mapping is exact.
var sentinels = []struct {
	err  error
	code codes.Code
}{
	{storage.ErrNotFound, codes.NotFound},
	{storage.ErrClosed, codes.FailedPrecondition},
	{hook.ErrUnauthenticated, codes.Unauthenticated},
	{hook.ErrForbidden, codes.PermissionDenied},
	{hook.ErrThrottled, codes.ResourceExhausted},
	{errors.ErrUnsupported, codes.Unimplemented},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// ToStatus turns an implementation's error into a gRPC status error that
// carries its message and, through the code, the sentinel it matches. nil
// stays nil.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		return st.Err() // already a status: a RemoteError passed on, or a plugin's own gRPC call
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return status.Error(s.code, err.Error())
		}
	}
	return status.Error(codes.Unknown, err.Error())
}

// FromStatus turns a gRPC status error back into an error with the remote
// message that matches, with errors.Is, the sentinel its code stands for.
// Codes outside the table keep only the message. nil stays nil.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	re := &RemoteError{Code: st.Code(), Msg: st.Message()}
	for _, s := range sentinels {
		if s.code == st.Code() {
			re.sentinel = s.err
			break
		}
	}
	return re
}

// RemoteError is an error returned by the other side of the plugin boundary.
type RemoteError struct {
	// Code is the gRPC code it crossed with.
	Code codes.Code
	// Msg is the remote error's message.
	Msg      string
	sentinel error
}

func (e *RemoteError) Error() string { return e.Msg }

// Unwrap returns the sentinel the code stands for, or nil.
func (e *RemoteError) Unwrap() error { return e.sentinel }

// GRPCStatus keeps the code when the error crosses again.
func (e *RemoteError) GRPCStatus() *status.Status { return status.New(e.Code, e.Msg) }
