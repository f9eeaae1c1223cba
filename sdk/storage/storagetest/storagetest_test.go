package storagetest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/sdk/storage/storagetest"
	"github.com/eurekad/eurekad/storage/memory"
)

// The memory store is the reference implementation: the suite passes on it,
// directly and through Faulty with no fault set.
func TestRunOnMemory(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := memory.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestRunThroughFaulty(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := storagetest.Faulty(memory.New())
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// mutant is the memory store with one classic store bug, to prove the suite
// catches it.
type mutant struct {
	*memory.Store
	bug string

	mu      sync.Mutex
	aliases map[storage.Key][]byte // bug "alias": the caller's slices, kept
	closed  bool
}

// mutants maps each bug to the subtest that must catch it.
var mutants = map[string]string{
	"prefix-scan":           "DistinctKeys",          // Scan(app) matches applications by prefix
	"keeps-caller-slice":    "Ownership",             // Put keeps the caller's slice
	"ignores-context":       "Cancelled",             // ctx never consulted
	"leaks-errstop":         "ScanStop",              // Scan returns ErrStop instead of nil
	"close-twice-fails":     "Closed",                // second Close is an error
	"nil-for-missing":       "GetMissing",            // Get of a missing key returns a zero record
	"anonymous-not-found":   "GetMissing",            // ErrNotFound without the key
	"batch-ignores-context": "BatchCancelled",        // Batch applies a cancelled batch
	"batch-reorders":        "Batch",                 // Batch applies puts, then deletes
	"scan-ignores-cancel":   "ScanCancelledMidway",   // Scan runs on after ctx is cancelled
	"snapshot-by-gets":      "SnapshotConsistent",    // Snapshot reads record by record
	"scan-duplicates":       "Scan",                  // Scan reports a record twice
	"put-keeps-newest":      "Overwrite",             // Put refuses an older Updated
	"delete-missing-fails":  "Delete",                // Delete of a missing key is an error
	"truncates-values":      "LargeValues",           // values cut at 1 MiB
	"drops-updated":         "PutGet",                // Updated not stored
	"batch-one-by-one":      "Concurrent",            // control: harmless here, must pass
	"works-after-close":     "CloseWhileBusy",        // calls after Close succeed
	"scan-replays-stale":    "ScanCallbackUsesStore", // Scan replays a copy the callback has deleted
}

// passes lists mutants whose bug the named subtest must not flag: controls
// that show the subprocess harness can also report a pass.
var passes = map[string]bool{"batch-one-by-one": true}

func (m *mutant) Put(ctx context.Context, r storage.Record) error {
	switch m.bug {
	case "ignores-context":
		ctx = context.WithoutCancel(ctx)
	case "keeps-caller-slice":
		m.mu.Lock()
		m.aliases[r.Key] = r.Value
		m.mu.Unlock()
	case "put-keeps-newest":
		if old, err := m.Store.Get(ctx, r.Key); err == nil && old.Updated > r.Updated {
			return nil
		}
	case "truncates-values":
		if len(r.Value) > 1<<20 {
			r.Value = r.Value[:1<<20]
		}
	case "drops-updated":
		r.Updated = 0
	}
	if m.worksAfterClose() {
		return nil
	}
	return m.Store.Put(ctx, r)
}

func (m *mutant) Get(ctx context.Context, k storage.Key) (storage.Record, error) {
	if m.bug == "ignores-context" {
		ctx = context.WithoutCancel(ctx)
	}
	if m.worksAfterClose() {
		return storage.Record{Key: k}, nil
	}
	r, err := m.Store.Get(ctx, k)
	switch {
	case m.bug == "keeps-caller-slice" && err == nil:
		m.mu.Lock()
		if v, ok := m.aliases[k]; ok {
			r.Value = v
		}
		m.mu.Unlock()
	case m.bug == "nil-for-missing" && errors.Is(err, storage.ErrNotFound):
		return storage.Record{Key: k}, nil
	case m.bug == "anonymous-not-found" && errors.Is(err, storage.ErrNotFound):
		return r, storage.ErrNotFound
	}
	return r, err
}

func (m *mutant) Delete(ctx context.Context, k storage.Key) error {
	switch m.bug {
	case "ignores-context":
		ctx = context.WithoutCancel(ctx)
	case "delete-missing-fails":
		if _, err := m.Store.Get(ctx, k); err != nil {
			return err
		}
	}
	return m.Store.Delete(ctx, k)
}

func (m *mutant) Scan(ctx context.Context, app string, fn func(storage.Record) error) error {
	if m.worksAfterClose() {
		return nil
	}
	switch m.bug {
	case "ignores-context":
		ctx = context.WithoutCancel(ctx)
	case "prefix-scan":
		return m.Store.Scan(ctx, "", func(r storage.Record) error {
			if strings.HasPrefix(r.Key.App, app) {
				return fn(r)
			}
			return nil
		})
	case "leaks-errstop":
		var stopped bool
		err := m.Store.Scan(ctx, app, func(r storage.Record) error {
			err := fn(r)
			stopped = err == storage.ErrStop
			return err
		})
		if stopped {
			return storage.ErrStop
		}
		return err
	case "scan-ignores-cancel":
		return m.Store.Scan(context.WithoutCancel(ctx), app, fn)
	case "scan-duplicates":
		first := true
		return m.Store.Scan(ctx, app, func(r storage.Record) error {
			if first {
				first = false
				if err := fn(r); err != nil {
					return err
				}
			}
			return fn(r)
		})
	case "scan-replays-stale":
		// Calls fn with records fetched again after the callback ran:
		// a deleted record comes back.
		recs, err := storage.All(ctx, m.Store, app)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(recs) > 0 {
			return fn(recs[0])
		}
		return nil
	}
	return m.Store.Scan(ctx, app, fn)
}

func (m *mutant) Batch(ctx context.Context, ops []storage.Op) error {
	if m.worksAfterClose() {
		return nil
	}
	switch m.bug {
	case "ignores-context", "batch-ignores-context":
		ctx = context.WithoutCancel(ctx)
	case "batch-reorders":
		var sorted []storage.Op
		for _, op := range ops {
			if !op.Delete {
				sorted = append(sorted, op)
			}
		}
		for _, op := range ops {
			if op.Delete {
				sorted = append(sorted, op)
			}
		}
		ops = sorted
	case "batch-one-by-one":
		// Harmless: a batch applied one op at a time is still correct
		// for a single writer of its keys.
		for _, op := range ops {
			if err := storage.ApplyBatch(ctx, m.Store, []storage.Op{op}); err != nil {
				return err
			}
		}
		return nil
	}
	return m.Store.Batch(ctx, ops)
}

func (m *mutant) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	switch m.bug {
	case "ignores-context":
		ctx = context.WithoutCancel(ctx)
	case "snapshot-by-gets":
		keys := []storage.Key{}
		if err := m.Store.Scan(ctx, "", func(r storage.Record) error {
			keys = append(keys, r.Key)
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			r, err := m.Store.Get(ctx, k)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
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
	return m.Store.Snapshot(ctx, fn)
}

func (m *mutant) worksAfterClose() bool {
	if m.bug != "works-after-close" {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

func (m *mutant) Close() error {
	m.mu.Lock()
	again := m.closed
	m.closed = true
	m.mu.Unlock()
	if again && m.bug == "close-twice-fails" {
		return errors.New("already closed")
	}
	return m.Store.Close()
}

// TestMutant is the suite run on one mutant, in a subprocess started by
// TestSuiteCatchesBugs; it is skipped otherwise.
func TestMutant(t *testing.T) {
	bug := os.Getenv("STORAGETEST_MUTANT")
	if bug == "" {
		t.Skip("run by TestSuiteCatchesBugs")
	}
	storagetest.Run(t, func(t *testing.T) storage.Store {
		m := &mutant{Store: memory.New(), bug: bug, aliases: map[storage.Key][]byte{}}
		t.Cleanup(func() { m.Close() })
		return m
	})
}

// TestSuiteCatchesBugs runs the subtest meant to catch each mutant's bug
// and checks that it fails, so that no check of the suite is one that
// cannot fail.
func TestSuiteCatchesBugs(t *testing.T) {
	for bug, subtest := range mutants {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMutant$/^"+subtest+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "STORAGETEST_MUTANT="+bug)
			out, err := cmd.CombinedOutput()
			failed := strings.Contains(string(out), "--- FAIL: TestMutant/"+subtest)
			if strings.Contains(string(out), "panic:") {
				t.Fatalf("the suite panicked on mutant %q:\n%s", bug, out)
			}
			if passes[bug] {
				if err != nil || failed || !strings.Contains(string(out), "--- PASS: TestMutant/"+subtest) {
					t.Fatalf("subtest %s should pass on harmless mutant %q; err %v:\n%s", subtest, bug, err, out)
				}
				return
			}
			if err == nil || !failed {
				t.Fatalf("subtest %s did not catch mutant %q (err %v):\n%s", subtest, bug, err, out)
			}
		})
	}
}

func TestFaultyFailsAndRecovers(t *testing.T) {
	ctx := t.Context()
	inner := memory.New()
	s := storagetest.Faulty(inner)
	r := storage.Record{Key: storage.NewKey("orders", "i-1"), Value: []byte("v"), Updated: 1}
	down := errors.New("redis: connection refused")

	s.SetFail(down)
	_, getErr := s.Get(ctx, r.Key)
	errs := map[string]error{
		"Put":      s.Put(ctx, r),
		"Get":      getErr,
		"Delete":   s.Delete(ctx, r.Key),
		"Scan":     s.Scan(ctx, "", func(storage.Record) error { return nil }),
		"Batch":    s.(storage.Batcher).Batch(ctx, []storage.Op{{Record: r}}),
		"Snapshot": s.(storage.Snapshotter).Snapshot(ctx, func(storage.Record) error { return nil }),
	}
	for name, err := range errs {
		if !errors.Is(err, down) {
			t.Errorf("%s while failing = %v; want the injected error", name, err)
		}
	}
	if _, err := inner.Get(ctx, r.Key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a failed Put reached the inner store: Get = %v", err)
	}

	s.SetFail(nil)
	if err := s.Put(ctx, r); err != nil {
		t.Fatalf("Put after SetFail(nil): %v", err)
	}
	if got, err := inner.Get(ctx, r.Key); err != nil || string(got.Value) != "v" {
		t.Errorf("inner Get after Put = %q, %v", got.Value, err)
	}

	s.SetFail(down)
	if err := s.Close(); err != nil {
		t.Errorf("Close while failing = %v; want nil (Close is never failed)", err)
	}
	if _, err := inner.Get(ctx, r.Key); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Close did not close the inner store: Get = %v", err)
	}
}

func TestFaultyDelay(t *testing.T) {
	s := storagetest.Faulty(memory.New())
	t.Cleanup(func() { s.Close() })
	k := storage.NewKey("orders", "i-1")

	const d = 30 * time.Millisecond
	s.SetDelay(d)
	start := time.Now()
	if err := s.Put(t.Context(), storage.Record{Key: k}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < d {
		t.Errorf("Put with a %v delay took %v", d, took)
	}

	// A delay longer than the caller's deadline ends with the deadline.
	s.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Get(ctx, k); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get delayed past its deadline = %v; want context.DeadlineExceeded", err)
	}

	s.SetDelay(0)
	if _, err := s.Get(t.Context(), k); err != nil {
		t.Errorf("Get after SetDelay(0): %v", err)
	}
}

// plainStore hides the memory store's optional abilities.
type plainStore struct{ storage.Store }

func TestFaultyForwardsAbilities(t *testing.T) {
	for _, tc := range []struct {
		name        string
		inner       storage.Store
		batch, snap bool
	}{
		{"plain", plainStore{memory.New()}, false, false},
		{"batcher", struct {
			storage.Store
			storage.Batcher
		}{memory.New(), memory.New()}, true, false},
		{"snapshotter", struct {
			storage.Store
			storage.Snapshotter
		}{memory.New(), memory.New()}, false, true},
		{"both", memory.New(), true, true},
	} {
		s := storagetest.Faulty(tc.inner)
		_, b := s.(storage.Batcher)
		_, sn := s.(storage.Snapshotter)
		if b != tc.batch || sn != tc.snap {
			t.Errorf("%s: Faulty is Batcher %v, Snapshotter %v; want %v, %v", tc.name, b, sn, tc.batch, tc.snap)
		}
	}
}

func ExampleFaulty() {
	ctx := context.Background()
	store := storagetest.Faulty(memory.New())
	defer store.Close()
	r := storage.Record{Key: storage.NewKey("orders", "i-1"), Value: []byte("v")}

	store.SetFail(errors.New("connection refused")) // the store goes down
	fmt.Println(store.Put(ctx, r))

	store.SetFail(nil) // and comes back
	fmt.Println(store.Put(ctx, r))
	// Output:
	// storagetest: faulty put ORDERS/i-1: connection refused
	// <nil>
}

func TestFaultyRefusesOneKey(t *testing.T) {
	ctx := t.Context()
	inner := memory.New()
	s := storagetest.Faulty(inner)
	bad := storage.NewKey("orders", strings.Repeat("x", 40000))
	good := storage.Record{Key: storage.NewKey("orders", "i-1"), Value: []byte("v"), Updated: 1}
	s.SetRefuse(func(k storage.Key) error {
		if k == bad {
			return &storage.RefusedError{Key: k, Reason: "too long"}
		}
		return nil
	})
	err := s.(storage.Batcher).Batch(ctx, []storage.Op{{Record: good}, {Record: storage.Record{Key: bad}}})
	var re *storage.RefusedError
	if !errors.Is(err, storage.ErrRefused) || !errors.As(err, &re) || re.Key != bad {
		t.Fatalf("Batch with a refused key = %v; want a RefusedError naming it", err)
	}
	if len(err.Error()) > 300 {
		t.Errorf("refusal message is %d bytes; want the key cut to an excerpt", len(err.Error()))
	}
	if _, err := inner.Get(ctx, good.Key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused batch stored part of itself: Get = %v", err)
	}
	if err := s.Put(ctx, storage.Record{Key: bad}); !errors.Is(err, storage.ErrRefused) {
		t.Errorf("Put of the refused key = %v; want ErrRefused", err)
	}
	if err := s.Delete(ctx, bad); err != nil {
		t.Errorf("Delete of the refused key = %v; deletes are never refused", err)
	}
	if err := s.(storage.Batcher).Batch(ctx, []storage.Op{{Record: good}}); err != nil {
		t.Fatalf("Batch without the refused key = %v", err)
	}
	s.SetRefuse(nil)
	if err := s.Put(ctx, storage.Record{Key: bad}); err != nil {
		t.Errorf("Put after SetRefuse(nil) = %v", err)
	}
}
