package storagetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/eurekad/eurekad/sdk/storage"
)

// FaultyStore is a storage.Store that fails or slows down on demand, for
// testing code built on a store: a persister that must survive an outage, a
// caller that must honour its deadline. Its methods are safe for concurrent
// use, including SetFail and SetDelay while calls are in flight.
type FaultyStore interface {
	storage.Store
	// SetFail makes every later call except Close fail with err (wrapped,
	// so errors.Is matches it) without reaching the wrapped store; nil
	// ends the failures.
	SetFail(err error)
	// SetDelay makes every later call except Close wait d before it runs,
	// or until its context ends; Scan and Snapshot wait once, not per
	// record. Zero ends the delays.
	SetDelay(d time.Duration)
	// SetRefuse makes every later Put of a key for which refuse returns an
	// error fail with that error, as a store refuses a record beyond its
	// limits; a Batch holding such a Put fails whole and stores nothing.
	// Return a *storage.RefusedError to act as a store that can tell a
	// refusal, any other error to act as one that cannot. nil ends the
	// refusals.
	SetRefuse(refuse func(storage.Key) error)
}

// Faulty wraps s in a FaultyStore that behaves exactly like s until told
// otherwise. The result implements storage.Batcher and storage.Snapshotter
// exactly when s does, so code that tests for those abilities sees the same
// store; that is why Faulty returns an interface rather than a struct.
// Closing the result closes s.
func Faulty(s storage.Store) FaultyStore {
	f := &faulty{inner: s}
	b, isB := s.(storage.Batcher)
	sn, isS := s.(storage.Snapshotter)
	switch {
	case isB && isS:
		return faultyBatchSnapshot{f, b, sn}
	case isB:
		return faultyBatch{f, b}
	case isS:
		return faultySnapshot{f, sn}
	}
	return f
}

type faulty struct {
	inner  storage.Store
	mu     sync.Mutex
	err    error
	delay  time.Duration
	refuse func(storage.Key) error
}

func (f *faulty) SetRefuse(refuse func(storage.Key) error) {
	f.mu.Lock()
	f.refuse = refuse
	f.mu.Unlock()
}

// refused returns the refusal of the first op refused, if any.
func (f *faulty) refused(ops []storage.Op) error {
	f.mu.Lock()
	refuse := f.refuse
	f.mu.Unlock()
	if refuse == nil {
		return nil
	}
	for _, op := range ops {
		if op.Delete {
			continue
		}
		if err := refuse(op.Record.Key); err != nil {
			return err
		}
	}
	return nil
}

func (f *faulty) SetFail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *faulty) SetDelay(d time.Duration) {
	f.mu.Lock()
	f.delay = d
	f.mu.Unlock()
}

// before applies the configured delay and failure to one call.
func (f *faulty) before(ctx context.Context, op string) error {
	f.mu.Lock()
	err, delay := f.err, f.delay
	f.mu.Unlock()
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("storagetest: faulty %s: %w", op, ctx.Err())
		}
	}
	if err != nil {
		return fmt.Errorf("storagetest: faulty %s: %w", op, err)
	}
	return nil
}

func (f *faulty) Put(ctx context.Context, r storage.Record) error {
	if err := f.before(ctx, "put "+r.Key.Excerpt()); err != nil {
		return err
	}
	if err := f.refused([]storage.Op{{Record: r}}); err != nil {
		return fmt.Errorf("storagetest: faulty put %s: %w", r.Key.Excerpt(), err)
	}
	return f.inner.Put(ctx, r)
}

func (f *faulty) Get(ctx context.Context, k storage.Key) (storage.Record, error) {
	if err := f.before(ctx, "get "+k.Excerpt()); err != nil {
		return storage.Record{}, err
	}
	return f.inner.Get(ctx, k)
}

func (f *faulty) Delete(ctx context.Context, k storage.Key) error {
	if err := f.before(ctx, "delete "+k.Excerpt()); err != nil {
		return err
	}
	return f.inner.Delete(ctx, k)
}

func (f *faulty) Scan(ctx context.Context, app string, fn func(storage.Record) error) error {
	if err := f.before(ctx, "scan "+app); err != nil {
		return err
	}
	return f.inner.Scan(ctx, app, fn)
}

func (f *faulty) Close() error { return f.inner.Close() }

func (f *faulty) batch(ctx context.Context, b storage.Batcher, ops []storage.Op) error {
	if err := f.before(ctx, fmt.Sprintf("batch of %d ops", len(ops))); err != nil {
		return err
	}
	if err := f.refused(ops); err != nil {
		return fmt.Errorf("storagetest: faulty batch of %d ops: %w", len(ops), err)
	}
	return b.Batch(ctx, ops)
}

func (f *faulty) snapshot(ctx context.Context, sn storage.Snapshotter, fn func(storage.Record) error) error {
	if err := f.before(ctx, "snapshot"); err != nil {
		return err
	}
	return sn.Snapshot(ctx, fn)
}

type faultyBatch struct {
	*faulty
	b storage.Batcher
}

func (f faultyBatch) Batch(ctx context.Context, ops []storage.Op) error {
	return f.batch(ctx, f.b, ops)
}

type faultySnapshot struct {
	*faulty
	sn storage.Snapshotter
}

func (f faultySnapshot) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	return f.snapshot(ctx, f.sn, fn)
}

type faultyBatchSnapshot struct {
	*faulty
	b  storage.Batcher
	sn storage.Snapshotter
}

func (f faultyBatchSnapshot) Batch(ctx context.Context, ops []storage.Op) error {
	return f.batch(ctx, f.b, ops)
}

func (f faultyBatchSnapshot) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	return f.snapshot(ctx, f.sn, fn)
}

// Interface guards.
var (
	_ FaultyStore         = (*faulty)(nil)
	_ storage.Batcher     = faultyBatch{}
	_ storage.Snapshotter = faultySnapshot{}
	_ storage.Batcher     = faultyBatchSnapshot{}
	_ storage.Snapshotter = faultyBatchSnapshot{}
)
