package plugins

import (
	"context"
	"errors"
	"fmt"

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
	return storage.Restrict(&storeHandle{p}, info.Batcher, info.Snapshotter)
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

// Batch and Snapshot are shown only when the plugin's store has them
// (newStoreHandle).
func (h *storeHandle) Batch(ctx context.Context, ops []storage.Op) error {
	in, err := h.p.instance()
	if err != nil {
		return err
	}
	b, ok := in.store.(storage.Batcher)
	if !ok { // restart refuses such a store (ErrAbilities); never apply a batch piecemeal
		return fmt.Errorf("plugin %s: %w: its store no longer takes batches", h.p.opts.Name, errors.ErrUnsupported)
	}
	return b.Batch(ctx, ops)
}

func (h *storeHandle) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	in, err := h.p.instance()
	if err != nil {
		return err
	}
	sn, ok := in.store.(storage.Snapshotter)
	if !ok {
		// restart refuses such a store (ErrAbilities); a Scan is no
		// snapshot, so never pass one off as it.
		return fmt.Errorf("plugin %s: %w: its store no longer takes snapshots", h.p.opts.Name, errors.ErrUnsupported)
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

type authHandle struct{ p *Plugin }

func (h authHandle) Authenticate(ctx context.Context, req *hook.AuthRequest) (hook.Principal, error) {
	in, err := h.p.instance()
	if err != nil {
		return hook.Principal{}, err
	}
	return in.auth.Authenticate(ctx, req)
}

type admitterHandle struct{ p *Plugin }

func (h admitterHandle) Admit(ctx context.Context, req *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
	in, err := h.p.instance()
	if err != nil {
		return hook.AdmissionResponse{}, err
	}
	return in.admitter.Admit(ctx, req)
}

type checkerHandle struct{ p *Plugin }

func (h checkerHandle) Check(ctx context.Context, req *hook.CheckRequest) (hook.CheckResult, error) {
	in, err := h.p.instance()
	if err != nil {
		return hook.CheckResult{}, err
	}
	return in.checker.Check(ctx, req)
}

type listenerHandle struct{ p *Plugin }

func (h listenerHandle) Handle(ctx context.Context, events []hook.Event) error {
	in, err := h.p.instance()
	if err != nil {
		return err
	}
	return in.listener.Handle(ctx, events)
}

// Types is the subscription the listener asked for when it was loaded
// (nil: the default), carried across the process boundary by Info.
func (h listenerHandle) Types() []hook.EventType { return h.p.info.EventTypes }

// Interface guards.
var (
	_ storage.Full       = (*storeHandle)(nil)
	_ hook.Authenticator = authHandle{}
	_ hook.Listener      = listenerHandle{}
	_ hook.Admitter      = admitterHandle{}
	_ hook.Checker       = checkerHandle{}
)
