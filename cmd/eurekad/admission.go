package main

import (
	"context"

	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/sdk/hook"
)

// admitFunc adapts an admission hook to the write path: a refusal becomes
// node.DeniedError (403 with the hook's message); any error, a hook that
// is down or timed out (plugins/admission fails it closed), fails the
// write with 503. nil without a hook. ns is the namespace written to.
func admitFunc(a hook.Admitter, ns string) node.AdmitFunc {
	if a == nil {
		return nil
	}
	return func(ctx context.Context, in *node.Admission) (map[string]string, error) {
		req := &hook.AdmissionRequest{
			Operation:  in.Operation,
			App:        in.App,
			InstanceID: in.ID,
			Namespace:  ns,
			Instance:   in.Instance,
			Status:     in.Status,
			Metadata:   in.Metadata,
			RemoteAddr: in.Caller.RemoteAddr,
			TLS:        in.Caller.TLS,
		}
		if p := in.Caller.Principal; p != nil {
			req.Principal = *p
		}
		resp, err := a.Admit(ctx, req)
		if err != nil {
			return nil, err
		}
		if !resp.Allowed {
			return nil, &node.DeniedError{Message: resp.Message}
		}
		return resp.Metadata, nil
	}
}
