package namespace

import (
	"context"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/storage"
)

// refusing refuses every Put, naming the key it was given.
type refusing struct{ storage.Store }

func (r refusing) Put(_ context.Context, rec storage.Record) error {
	return &storage.RefusedError{Key: rec.Key, Reason: "too big"}
}

type sinkFunc func(hook.Event)

func (f sinkFunc) Publish(e hook.Event) { f(e) }
func (sinkFunc) WantsRenewals() bool    { return false }
