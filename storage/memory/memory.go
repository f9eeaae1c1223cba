// Package memory is an in-memory storage.Store: the reference
// implementation of the store contract, used by tests and by a registry that
// need not survive a restart.
//
// It keeps a map per application under one RWMutex. Values are copied in
// on Put and out on Get, Scan and Snapshot, so callers never share memory
// with the store. Scan and Snapshot copy the matching entries under the read
// lock and call fn after releasing it: every scan is a consistent snapshot,
// and fn may call the store.
//
// It imports only the standard library and sdk/storage.
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/eurekad/eurekad/sdk/storage"
)

// Store is an in-memory storage.Store; it also implements storage.Batcher
// and storage.Snapshotter. It is safe for concurrent use. The zero value is
// not usable: call New.
type Store struct {
	mu   sync.RWMutex
	apps map[string]map[string]entry // application → id → entry; nil once closed
}

// entry is a stored record. Its value is never modified after Put, so
// scans can hold it outside the lock.
type entry struct {
	value   []byte
	updated int64
}

// New returns an empty store.
func New() *Store {
	return &Store{apps: map[string]map[string]entry{}}
}

func opError(op string, k storage.Key, err error) error {
	return fmt.Errorf("memory: %s %s: %w", op, k.Excerpt(), err)
}

// Put inserts or replaces a record, copying its value.
func (s *Store) Put(ctx context.Context, r storage.Record) error {
	if err := ctx.Err(); err != nil {
		return opError("put", r.Key, err)
	}
	e := entry{value: bytes.Clone(r.Value), updated: r.Updated}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps == nil {
		return opError("put", r.Key, storage.ErrClosed)
	}
	s.put(r.Key, e)
	return nil
}

func (s *Store) put(k storage.Key, e entry) {
	ids := s.apps[k.App]
	if ids == nil {
		ids = map[string]entry{}
		s.apps[k.App] = ids
	}
	ids[k.ID] = e
}

// Get returns a copy of the record with key k.
func (s *Store) Get(ctx context.Context, k storage.Key) (storage.Record, error) {
	if err := ctx.Err(); err != nil {
		return storage.Record{}, opError("get", k, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.apps == nil {
		return storage.Record{}, opError("get", k, storage.ErrClosed)
	}
	e, ok := s.apps[k.App][k.ID]
	if !ok {
		return storage.Record{}, opError("get", k, storage.ErrNotFound)
	}
	return storage.Record{Key: k, Value: bytes.Clone(e.value), Updated: e.updated}, nil
}

// Delete removes the record with key k, if any.
func (s *Store) Delete(ctx context.Context, k storage.Key) error {
	if err := ctx.Err(); err != nil {
		return opError("delete", k, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps == nil {
		return opError("delete", k, storage.ErrClosed)
	}
	s.delete(k)
	return nil
}

func (s *Store) delete(k storage.Key) {
	ids := s.apps[k.App]
	delete(ids, k.ID)
	if len(ids) == 0 {
		delete(s.apps, k.App)
	}
}

// Batch applies ops in order, atomically: readers see all of them or none.
func (s *Store) Batch(ctx context.Context, ops []storage.Op) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: batch of %d ops: %w", len(ops), err)
	}
	entries := make([]entry, len(ops))
	for i, op := range ops {
		if !op.Delete {
			entries[i] = entry{value: bytes.Clone(op.Record.Value), updated: op.Record.Updated}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps == nil {
		return fmt.Errorf("memory: batch of %d ops: %w", len(ops), storage.ErrClosed)
	}
	for i, op := range ops {
		if op.Delete {
			s.delete(op.Record.Key)
		} else {
			s.put(op.Record.Key, entries[i])
		}
	}
	return nil
}

// Scan calls fn for every record, or for those of app, as of one point in
// time. fn may use the store.
func (s *Store) Scan(ctx context.Context, app string, fn func(storage.Record) error) error {
	op := "scan"
	if app != "" {
		op = "scan " + app
	}
	return s.scan(ctx, op, app, fn)
}

// Snapshot calls fn for every record as of one point in time. fn may use
// the store.
func (s *Store) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	return s.scan(ctx, "snapshot", "", fn)
}

func (s *Store) scan(ctx context.Context, op, app string, fn func(storage.Record) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s: %w", op, err)
	}
	// Entries are immutable: taking them under the lock and copying
	// their values later is a consistent snapshot.
	s.mu.RLock()
	if s.apps == nil {
		s.mu.RUnlock()
		return fmt.Errorf("memory: %s: %w", op, storage.ErrClosed)
	}
	var recs []storage.Record
	add := func(app string, ids map[string]entry) {
		for id, e := range ids {
			recs = append(recs, storage.Record{Key: storage.Key{App: app, ID: id}, Value: e.value, Updated: e.updated})
		}
	}
	if app != "" {
		add(app, s.apps[app])
	} else {
		for a, ids := range s.apps {
			add(a, ids)
		}
	}
	s.mu.RUnlock()

	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memory: %s: %w", op, err)
		}
		r.Value = bytes.Clone(r.Value)
		if err := fn(r); err != nil {
			if errors.Is(err, storage.ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Close discards the records; later calls return storage.ErrClosed. It
// may be called more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	s.apps = nil
	s.mu.Unlock()
	return nil
}

// Interface guards.
var (
	_ storage.Store       = (*Store)(nil)
	_ storage.Batcher     = (*Store)(nil)
	_ storage.Snapshotter = (*Store)(nil)
)
