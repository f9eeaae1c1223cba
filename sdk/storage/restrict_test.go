package storage_test

import (
	"context"
	"testing"

	"github.com/eurekad/eurekad/sdk/storage"
)

// full records which method was called.
type full struct{ called []string }

func (f *full) Put(context.Context, storage.Record) error {
	f.called = append(f.called, "Put")
	return nil
}
func (f *full) Get(context.Context, storage.Key) (storage.Record, error) {
	f.called = append(f.called, "Get")
	return storage.Record{}, nil
}
func (f *full) Delete(context.Context, storage.Key) error {
	f.called = append(f.called, "Delete")
	return nil
}
func (f *full) Scan(context.Context, string, func(storage.Record) error) error {
	f.called = append(f.called, "Scan")
	return nil
}
func (f *full) Close() error { f.called = append(f.called, "Close"); return nil }
func (f *full) Batch(context.Context, []storage.Op) error {
	f.called = append(f.called, "Batch")
	return nil
}
func (f *full) Snapshot(context.Context, func(storage.Record) error) error {
	f.called = append(f.called, "Snapshot")
	return nil
}

// Restrict shows exactly the abilities asked for, and every call reaches
// the store behind it.
func TestRestrict(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ batch, snapshot bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		f := &full{}
		s := storage.Restrict(f, tc.batch, tc.snapshot)
		b, isBatcher := s.(storage.Batcher)
		sn, isSnapshotter := s.(storage.Snapshotter)
		if isBatcher != tc.batch || isSnapshotter != tc.snapshot {
			t.Errorf("Restrict(batch %v, snapshot %v): Batcher %v, Snapshotter %v", tc.batch, tc.snapshot, isBatcher, isSnapshotter)
			continue
		}
		s.Put(ctx, storage.Record{})
		s.Get(ctx, storage.Key{})
		s.Delete(ctx, storage.Key{})
		s.Scan(ctx, "", nil)
		want := []string{"Put", "Get", "Delete", "Scan"}
		if isBatcher {
			b.Batch(ctx, nil)
			want = append(want, "Batch")
		}
		if isSnapshotter {
			sn.Snapshot(ctx, nil)
			want = append(want, "Snapshot")
		}
		s.Close()
		want = append(want, "Close")
		if len(f.called) != len(want) {
			t.Fatalf("calls %v, want %v", f.called, want)
		}
		for i := range want {
			if f.called[i] != want[i] {
				t.Fatalf("calls %v, want %v", f.called, want)
			}
		}
	}
}
