//go:build unix

package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/peer"

	"github.com/eurekad/eurekad/sdk/plugin/plugintest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
)

// pathStore is a memory store that records how its last batch came: a
// gRPC handler's context carries the peer, the batch pipe's does not. Its
// Batch fails with fail when set, and waits for release when set.
type pathStore struct {
	*memory.Store
	overGRPC atomic.Bool
	batches  atomic.Int64
	entered  chan struct{}
	release  chan struct{}

	mu   sync.Mutex // the race detector does not see a socket's ordering
	fail error
}

func (s *pathStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *pathStore) Batch(ctx context.Context, ops []storage.Op) error {
	_, viaGRPC := peer.FromContext(ctx)
	s.overGRPC.Store(viaGRPC)
	s.batches.Add(1)
	if s.release != nil {
		s.entered <- struct{}{}
		<-s.release
	}
	s.mu.Lock()
	err := s.fail
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Store.Batch(ctx, ops)
}

func pathStoreOf(t *testing.T, ps *pathStore) interface {
	storage.Store
	storage.Batcher
} {
	ps.Store = memory.New()
	s := plugintest.Store(t, func(context.Context, []byte) (storage.Store, error) { return ps, nil }, nil)
	b, ok := s.(interface {
		storage.Store
		storage.Batcher
	})
	if !ok {
		t.Fatalf("store over the harness is %T, not a Batcher", s)
	}
	return b
}

func put(id string) []storage.Op {
	return []storage.Op{{Record: storage.Record{Key: storage.Key{App: "A", ID: id}, Value: []byte("v" + id), Updated: 1}}}
}

// Batches take the pipe, and the records arrive whole.
func TestBatchPipeCarriesBatches(t *testing.T) {
	ps := &pathStore{}
	s := pathStoreOf(t, ps)
	ops := make([]storage.Op, 300)
	for i := range ops {
		ops[i] = storage.Op{Record: storage.Record{Key: storage.Key{App: "APP", ID: fmt.Sprint(i)}, Value: []byte(strings.Repeat("x", i)), Updated: int64(i)}}
	}
	ops = append(ops, storage.Op{Delete: true, Record: storage.Record{Key: storage.Key{App: "APP", ID: "7"}}})
	if err := s.Batch(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
	if ps.overGRPC.Load() || ps.batches.Load() != 1 {
		t.Fatalf("batch over gRPC=%v, %d batches: want one on the pipe", ps.overGRPC.Load(), ps.batches.Load())
	}
	n, err := storage.Count(t.Context(), s, "APP")
	if err != nil || n != 299 {
		t.Fatalf("count = %d, %v; want 299", n, err)
	}
	r, err := s.Get(t.Context(), storage.Key{App: "APP", ID: "250"})
	if err != nil || string(r.Value) != strings.Repeat("x", 250) || r.Updated != 250 {
		t.Fatalf("Get = %+v, %v", r, err)
	}
}

// A store's error keeps its identity and message through the pipe, even
// a message that is not UTF-8 (which a protobuf string cannot carry).
func TestBatchPipeErrors(t *testing.T) {
	ps := &pathStore{}
	s := pathStoreOf(t, ps)
	ps.setFail(fmt.Errorf("disk \xff full: %w", storage.ErrClosed))
	err := s.Batch(t.Context(), put("1"))
	if !errors.Is(err, storage.ErrClosed) || !strings.HasPrefix(err.Error(), "disk ") || !strings.Contains(err.Error(), "full") {
		t.Fatalf("Batch = %v, want the store's ErrClosed", err)
	}
	if ps.overGRPC.Load() {
		t.Fatal("batch went over gRPC")
	}
	ps.setFail(nil)
	if err := s.Batch(t.Context(), put("2")); err != nil || ps.overGRPC.Load() {
		t.Fatalf("after an error: Batch = %v, over gRPC %v; want the pipe still in use", err, ps.overGRPC.Load())
	}
}

// A caller whose context ends mid-batch gets its context's error at once;
// the pipe is then given up and later batches go over gRPC.
func TestBatchPipeCancel(t *testing.T) {
	ps := &pathStore{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := pathStoreOf(t, ps)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Batch(ctx, put("1")) }()
	select {
	case <-ps.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the batch never reached the store")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Batch = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		close(ps.release)
		t.Fatal("a cancelled Batch still waits for the plugin")
	}
	close(ps.release) // and the next batch passes
	if err := s.Batch(t.Context(), put("2")); err != nil {
		t.Fatal(err)
	}
	if !ps.overGRPC.Load() {
		t.Error("the batch after a cancelled one took the given-up pipe")
	}
	if _, err := s.Get(t.Context(), storage.Key{App: "A", ID: "2"}); err != nil {
		t.Errorf("Get of the batch over gRPC: %v", err)
	}
}
