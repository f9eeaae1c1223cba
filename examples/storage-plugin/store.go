package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/eurekad/eurekad/sdk/storage"
)

// line is one line of the file: the ops of one write.
type line struct {
	Ops []op `json:"ops"`
}

type op struct {
	Delete  bool   `json:"delete,omitempty"`
	App     string `json:"app"`
	ID      string `json:"id"`
	Value   []byte `json:"value,omitempty"` // base64 in JSON
	Updated int64  `json:"updated,omitempty"`
}

// store is the records in memory plus the file they are appended to.
type store struct {
	mu      sync.RWMutex
	f       *os.File // nil once closed
	records map[storage.Key]storage.Record
}

// openFile replays path (a torn last line, from a crash mid-write, is
// dropped) and rewrites it compactly.
func openFile(path string) (*store, error) {
	s := &store{records: map[storage.Key]storage.Record{}}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("jsonl store: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<30)
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			break // torn tail
		}
		s.apply(l.Ops)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("jsonl store: %w", err)
	}
	s.f = f
	for _, r := range s.records {
		if err := s.write([]op{{App: r.Key.App, ID: r.Key.ID, Value: r.Value, Updated: r.Updated}}); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return nil, fmt.Errorf("jsonl store: %w", err)
	}
	return s, nil
}

func (s *store) apply(ops []op) {
	for _, o := range ops {
		k := storage.Key{App: o.App, ID: o.ID}
		if o.Delete {
			delete(s.records, k)
		} else {
			s.records[k] = storage.Record{Key: k, Value: o.Value, Updated: o.Updated}
		}
	}
}

// write appends ops as one line; the caller holds mu.
func (s *store) write(ops []op) error {
	b, err := json.Marshal(line{Ops: ops})
	if err != nil {
		return fmt.Errorf("jsonl store: %w", err)
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("jsonl store: %w", err)
	}
	return nil
}

// commit writes ops to the file, then to memory.
func (s *store) commit(ctx context.Context, ops []op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range ops {
		ops[i].Value = bytes.Clone(ops[i].Value) // the caller keeps its slice
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return storage.ErrClosed
	}
	if err := s.write(ops); err != nil {
		return err
	}
	s.apply(ops)
	return nil
}

func (s *store) Put(ctx context.Context, r storage.Record) error {
	return s.commit(ctx, []op{{App: r.Key.App, ID: r.Key.ID, Value: r.Value, Updated: r.Updated}})
}

func (s *store) Delete(ctx context.Context, k storage.Key) error {
	return s.commit(ctx, []op{{Delete: true, App: k.App, ID: k.ID}})
}

func (s *store) Batch(ctx context.Context, ops []storage.Op) error {
	out := make([]op, len(ops))
	for i, o := range ops {
		out[i] = op{Delete: o.Delete, App: o.Record.Key.App, ID: o.Record.Key.ID, Value: o.Record.Value, Updated: o.Record.Updated}
	}
	return s.commit(ctx, out)
}

func (s *store) Get(ctx context.Context, k storage.Key) (storage.Record, error) {
	if err := ctx.Err(); err != nil {
		return storage.Record{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.f == nil {
		return storage.Record{}, storage.ErrClosed
	}
	r, ok := s.records[k]
	if !ok {
		return storage.Record{}, fmt.Errorf("jsonl store: get %s/%s: %w", k.App, k.ID, storage.ErrNotFound)
	}
	r.Value = bytes.Clone(r.Value)
	return r, nil
}

// Scan visits a copy taken under the lock, so fn may call the store.
func (s *store) Scan(ctx context.Context, app string, fn func(storage.Record) error) error {
	return s.visit(ctx, app, fn)
}

// Snapshot is Scan: the copy is one point in time.
func (s *store) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	return s.visit(ctx, "", fn)
}

func (s *store) visit(ctx context.Context, app string, fn func(storage.Record) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	if s.f == nil {
		s.mu.RUnlock()
		return storage.ErrClosed
	}
	var all []storage.Record
	for k, r := range s.records {
		if app == "" || k.App == app {
			r.Value = bytes.Clone(r.Value)
			all = append(all, r)
		}
	}
	s.mu.RUnlock()
	for _, r := range all {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			if errors.Is(err, storage.ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (s *store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// Interface guards.
var (
	_ storage.Store       = (*store)(nil)
	_ storage.Batcher     = (*store)(nil)
	_ storage.Snapshotter = (*store)(nil)
)
