package pluginpb

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// sentinels is the one table mapping the contracts' sentinel errors to gRPC
// codes, used in both directions. A code appears once, so the reverse
// mapping is exact. A sentinel with a reason also carries an ErrorInfo
// detail with it, and only a status with that detail maps back to it: gRPC
// itself answers ResourceExhausted for a message over the size limit, which
// is no throttling.
var sentinels = []struct {
	err    error
	code   codes.Code
	reason string
}{
	{storage.ErrNotFound, codes.NotFound, ""},
	{storage.ErrClosed, codes.FailedPrecondition, ""},
	{storage.ErrRefused, codes.InvalidArgument, ""},
	{hook.ErrUnauthenticated, codes.Unauthenticated, ""},
	{hook.ErrForbidden, codes.PermissionDenied, ""},
	{hook.ErrThrottled, codes.ResourceExhausted, "THROTTLED"},
	{errors.ErrUnsupported, codes.Unimplemented, ""},
	{context.Canceled, codes.Canceled, ""},
	{context.DeadlineExceeded, codes.DeadlineExceeded, ""},
}

// errorDomain is the ErrorInfo domain of the reasons above.
const errorDomain = "eurekad.plugin.v1"

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
			st := status.New(s.code, err.Error())
			if s.reason != "" {
				if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: s.reason, Domain: errorDomain}); derr == nil {
					st = d
				}
			}
			return st.Err()
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
	re := &RemoteError{Code: st.Code(), Msg: st.Message(), status: st}
	for _, s := range sentinels {
		if s.code == st.Code() && (s.reason == "" || hasReason(st, s.reason)) {
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
	status   *status.Status
}

func (e *RemoteError) Error() string { return e.Msg }

// Unwrap returns the sentinel the code stands for, or nil.
func (e *RemoteError) Unwrap() error { return e.sentinel }

// GRPCStatus keeps the code, and any detail, when the error crosses again.
func (e *RemoteError) GRPCStatus() *status.Status { return e.status }

// hasReason reports whether st carries an ErrorInfo of ours with reason.
func hasReason(st *status.Status, reason string) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain && info.GetReason() == reason {
			return true
		}
	}
	return false
}
