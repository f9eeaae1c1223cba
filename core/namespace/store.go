package namespace

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/eurekad/eurekad/sdk/storage"
)

// Namespaces share one store and are kept apart by key: a namespace's
// records carry the application prefix "ns/{namespace}/". No application
// name holds a '/' (core/rules refuses it on every path), so no record of
// the default namespace, whose keys are unprefixed as they were before
// namespaces, can be taken for another namespace's, and no plugin store
// needs to know about namespaces.

// KeyPrefix returns the application prefix of namespace name's keys; ""
// for the default namespace.
func KeyPrefix(name string) string {
	if name == Default {
		return ""
	}
	return "ns/" + name + "/"
}

// KeyNamespace returns the namespace a stored key belongs to: the
// namespace of a key of the form "ns/{namespace}/{app}", the default one
// for any other.
func KeyNamespace(k storage.Key) string {
	if name, ok := namespaced(k.App); ok {
		return name
	}
	return Default
}

// SplitKey returns the namespace a stored key belongs to and the key as
// that namespace sees it (without its prefix).
func SplitKey(k storage.Key) (string, storage.Key) {
	if name, ok := namespaced(k.App); ok {
		k.App = k.App[len(KeyPrefix(name)):]
		return name, k
	}
	return Default, k
}

// namespaced returns the namespace of a prefixed application name.
func namespaced(app string) (string, bool) {
	rest, ok := strings.CutPrefix(app, "ns/")
	if !ok {
		return "", false
	}
	name, app, ok := strings.Cut(rest, "/")
	if !ok || app == "" || !ValidName(name) || name == Default {
		return "", false
	}
	return name, true
}

// Store returns the view of s that namespace name reads and writes: its
// keys prefixed (none for the default namespace), and only its own records
// in Scan and Snapshot. The result has s's optional abilities; closing it
// leaves s open.
func Store(s storage.Store, name string) storage.Store {
	b, isB := s.(storage.Batcher)
	sn, isS := s.(storage.Snapshotter)
	v := view{s: s, b: b, sn: sn, prefix: KeyPrefix(name), closed: new(atomic.Bool)}
	return storage.Restrict(v, isB, isS)
}

type view struct {
	s      storage.Store
	b      storage.Batcher
	sn     storage.Snapshotter
	prefix string
	// closed is the view's own state: closing a view leaves the shared
	// store open, and the view answers ErrClosed from then on.
	closed *atomic.Bool
}

func (v view) check(context.Context) error {
	if v.closed.Load() {
		return fmt.Errorf("namespace view: %w", storage.ErrClosed)
	}
	return nil
}

func (v view) key(k storage.Key) storage.Key {
	if v.prefix != "" {
		k.App = v.prefix + k.App
	}
	return k
}

// own reports whether a stored record is this namespace's, and its key as
// the namespace sees it.
func (v view) own(k storage.Key) (storage.Key, bool) {
	if v.prefix == "" {
		_, other := namespaced(k.App)
		return k, !other
	}
	app, ok := strings.CutPrefix(k.App, v.prefix)
	if !ok || app == "" {
		return k, false
	}
	k.App = app
	return k, true
}

// unprefix turns the key a store names in a refusal back into the
// namespace's, so the persister recognises the record it wrote.
func (v view) unprefix(err error) error {
	var re *storage.RefusedError
	if v.prefix == "" || !errors.As(err, &re) {
		return err
	}
	if k, ok := v.own(re.Key); ok {
		return &storage.RefusedError{Key: k, Reason: re.Reason}
	}
	return err
}

func (v view) Put(ctx context.Context, r storage.Record) error {
	if err := v.check(ctx); err != nil {
		return err
	}
	r.Key = v.key(r.Key)
	return v.unprefix(v.s.Put(ctx, r))
}

func (v view) Get(ctx context.Context, k storage.Key) (storage.Record, error) {
	if err := v.check(ctx); err != nil {
		return storage.Record{}, err
	}
	r, err := v.s.Get(ctx, v.key(k))
	r.Key = k
	return r, err
}

func (v view) Delete(ctx context.Context, k storage.Key) error {
	if err := v.check(ctx); err != nil {
		return err
	}
	return v.s.Delete(ctx, v.key(k))
}

func (v view) filter(fn func(storage.Record) error) func(storage.Record) error {
	return func(r storage.Record) error {
		k, ok := v.own(r.Key)
		if !ok {
			return nil
		}
		r.Key = k
		return fn(r)
	}
}

// Scan of one application reads the prefixed application; of all, every
// record, keeping this namespace's.
func (v view) Scan(ctx context.Context, app string, fn func(storage.Record) error) error {
	if err := v.check(ctx); err != nil {
		return err
	}
	if app != "" {
		app = v.prefix + app
	}
	return v.s.Scan(ctx, app, v.filter(fn))
}

// Close closes the view only: the namespaces share the store, and its
// owner closes it once they are all done.
func (v view) Close() error {
	v.closed.Store(true)
	return nil
}

// Batch and Snapshot are called only when the store has them (Restrict).
func (v view) Batch(ctx context.Context, ops []storage.Op) error {
	if err := v.check(ctx); err != nil {
		return err
	}
	if v.prefix == "" {
		return v.b.Batch(ctx, ops)
	}
	// A copy: the caller reuses its ops.
	own := make([]storage.Op, len(ops))
	for i, op := range ops {
		op.Record.Key = v.key(op.Record.Key)
		own[i] = op
	}
	return v.unprefix(v.b.Batch(ctx, own))
}

func (v view) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	if err := v.check(ctx); err != nil {
		return err
	}
	return v.sn.Snapshot(ctx, v.filter(fn))
}
