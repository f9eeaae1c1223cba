package plugins

import (
	"context"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
	"github.com/eurekad/eurekad/sdk/storage"
)

// The handles below stay valid across restarts: each call goes to the
// running instance, or fails with plugin.ErrPluginExited while there is
// none.

type storeHandle struct{ p *Plugin }

// newStoreHandle returns the handle with exactly the abilities info
// reports, checked once here rather than per call.
func newStoreHandle(p *Plugin, info plugin.Info) storage.Store {
	h := &storeHandle{p}
	switch {
	case info.Batcher && info.Snapshotter:
		return batchSnapshotHandle{h}
	case info.Batcher:
		return batchHandle{h}
	case info.Snapshotter:
		return snapshotHandle{h}
	}
	return h
}

func (h *storeHandle) Put(ctx context.Context, r storage.Record) error {
	in, err := h.p.instance()
	if err != nil {
		return err
	}
	return in.store.Put(ctx, r)
}

func (h *storeHandle) Get(ctx context.Context, k storage.Key) (storage.Record, error) {
	in, err := h.p.instance()
	if err != nil {
		return storage.Record{}, err
	}
	return in.store.Get(ctx, k)
}

func (h *storeHandle) Delete(ctx context.Context, k storage.Key) error {
	in, err := h.p.instance()
	if err != nil {
		return err
	}
	return in.store.Delete(ctx, k)
}

func (h *storeHandle) Scan(ctx context.Context, app string, fn func(storage.Record) error) error {
	in, err := h.p.instance()
	if err != nil {
		return err
	}
	return in.store.Scan(ctx, app, fn)
}

func (h *storeHandle) batch(ctx context.Context, ops []storage.Op) error {
	in, err := h.p.instance()
	if err != nil {
		return err
	}
	return storage.ApplyBatch(ctx, in.store, ops)
}

func (h *storeHandle) snapshot(ctx context.Context, fn func(storage.Record) error) error {
	in, err := h.p.instance()
	if err != nil {
		return err
	}
	sn, ok := in.store.(storage.Snapshotter)
	if !ok {
		return in.store.Scan(ctx, "", fn) // unreachable: capabilities are fixed at load
	}
	return sn.Snapshot(ctx, fn)
}

// Close closes the plugin's store; the process ends with Plugin.Close.
func (h *storeHandle) Close() error {
	in := h.p.cur.Load()
	if in == nil {
		return nil
	}
	return in.store.Close()
}

type batchHandle struct{ *storeHandle }

func (h batchHandle) Batch(ctx context.Context, ops []storage.Op) error { return h.batch(ctx, ops) }

type snapshotHandle struct{ *storeHandle }

func (h snapshotHandle) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	return h.snapshot(ctx, fn)
}

type batchSnapshotHandle struct{ *storeHandle }

func (h batchSnapshotHandle) Batch(ctx context.Context, ops []storage.Op) error {
	return h.batch(ctx, ops)
}

func (h batchSnapshotHandle) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	return h.snapshot(ctx, fn)
}

type authHandle struct{ p *Plugin }

func (h authHandle) Authenticate(ctx context.Context, req *hook.AuthRequest) (hook.Principal, error) {
	in, err := h.p.instance()
	if err != nil {
		return hook.Principal{}, err
	}
	return in.auth.Authenticate(ctx, req)
}

type listenerHandle struct{ p *Plugin }

func (h listenerHandle) Handle(ctx context.Context, events []hook.Event) error {
	in, err := h.p.instance()
	if err != nil {
		return err
	}
	return in.listener.Handle(ctx, events)
}

// Interface guards.
var (
	_ storage.Store       = (*storeHandle)(nil)
	_ storage.Batcher     = batchHandle{}
	_ storage.Snapshotter = snapshotHandle{}
	_ storage.Batcher     = batchSnapshotHandle{}
	_ storage.Snapshotter = batchSnapshotHandle{}
	_ hook.Authenticator  = authHandle{}
	_ hook.Listener       = listenerHandle{}
)
