// Package storagetest is the conformance suite for storage.Store
// implementations, plus helpers for testing code built on a store.
//
// A store runs the suite from its own test, with a factory that returns a
// fresh, empty store for each subtest and registers its cleanup:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store {
//			s := mystore.New(t.TempDir())
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run checks every rule of the storage package doc, and the Batcher and
// Snapshotter abilities when the store has them. Run it with -race: several
// subtests use the store from many goroutines. One subtest writes 100,000
// records; a store that cannot do that in a few seconds is too slow for a
// registry.
//
// Faulty wraps a store to inject errors and latency, for tests of what sits
// on top of a store (eurekad's persister, a caching decorator).
//
// This package imports only the standard library and sdk/storage.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/storage"
)

// Run runs the conformance suite against the stores open returns, one
// subtest per rule. open is called once per subtest and must return an empty
// store; it registers the store's cleanup (Close may have been called
// already: the contract makes a second Close harmless).
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Helper()
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("storagetest: open returned a nil store")
			}
			if n, err := storage.Count(t.Context(), s, ""); err != nil || n != 0 {
				t.Fatalf("storagetest: open must return an empty store; Count = %d, %v", n, err)
			}
			tc.fn(t, s)
		})
	}
}

// suite lists the subtests of Run, in the order they run.
var suite = []struct {
	name string
	fn   func(*testing.T, storage.Store)
}{
	{"PutGet", testPutGet},
	{"GetMissing", testGetMissing},
	{"Delete", testDelete},
	{"Overwrite", testOverwrite},
	{"DistinctKeys", testDistinctKeys},
	{"Scan", testScan},
	{"ScanStop", testScanStop},
	{"ScanCallbackUsesStore", testScanCallbackUsesStore},
	{"ScanDuringWrites", testScanDuringWrites},
	{"Ownership", testOwnership},
	{"Batch", testBatch},
	{"BatchCancelled", testBatchCancelled},
	{"Snapshot", testSnapshot},
	{"SnapshotConsistent", testSnapshotConsistent},
	{"Concurrent", testConcurrent},
	{"LargeValues", testLargeValues},
	{"Many", testMany},
	{"Cancelled", testCancelled},
	{"ScanCancelledMidway", testScanCancelledMidway},
	{"Closed", testClosed},
	{"CloseWhileBusy", testCloseWhileBusy},
}

// --- helpers -----------------------------------------------------------------

func key(app, id string) storage.Key { return storage.Key{App: app, ID: id} }

// valueOf returns a value that names its key and Updated, so that any record
// read back can be checked for consistency with itself (wellFormed).
func valueOf(k storage.Key, updated int64) []byte {
	return fmt.Appendf(nil, "%s\x00%s\x00%d", k.App, k.ID, updated)
}

func recordOf(k storage.Key, updated int64) storage.Record {
	return storage.Record{Key: k, Value: valueOf(k, updated), Updated: updated}
}

func wellFormed(r storage.Record) bool {
	return bytes.Equal(r.Value, valueOf(r.Key, r.Updated))
}

func put(t *testing.T, s storage.Store, rs ...storage.Record) {
	t.Helper()
	for _, r := range rs {
		if err := s.Put(t.Context(), r); err != nil {
			t.Fatalf("Put(%q): %v", r.Key, err)
		}
	}
}

func get(t *testing.T, s storage.Store, k storage.Key) storage.Record {
	t.Helper()
	r, err := s.Get(t.Context(), k)
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	return r
}

func del(t *testing.T, s storage.Store, k storage.Key) {
	t.Helper()
	if err := s.Delete(t.Context(), k); err != nil {
		t.Fatalf("Delete(%q): %v", k, err)
	}
}

func mustMissing(t *testing.T, s storage.Store, k storage.Key) {
	t.Helper()
	r, err := s.Get(t.Context(), k)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want an error matching storage.ErrNotFound", k, r.Value, err)
	}
}

// sameRecord reports how got differs from want, or "" when they are equal.
// A nil and an empty Value are equal: not every transport keeps the
// difference.
func sameRecord(got, want storage.Record) string {
	switch {
	case got.Key != want.Key:
		return fmt.Sprintf("key %q, want %q", got.Key, want.Key)
	case got.Updated != want.Updated:
		return fmt.Sprintf("%q: Updated %d, want %d", want.Key, got.Updated, want.Updated)
	case !bytes.Equal(got.Value, want.Value):
		return fmt.Sprintf("%q: Value %s, want %s", want.Key, short(got.Value), short(want.Value))
	}
	return ""
}

func short(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%q… (%d bytes)", b[:64], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func checkGet(t *testing.T, s storage.Store, want storage.Record) {
	t.Helper()
	if d := sameRecord(get(t, s, want.Key), want); d != "" {
		t.Errorf("Get: %s", d)
	}
}

// collect scans s (or one application) into a map, failing on a record
// seen twice.
func collect(t *testing.T, s storage.Store, app string) map[storage.Key]storage.Record {
	t.Helper()
	out := map[storage.Key]storage.Record{}
	err := s.Scan(t.Context(), app, func(r storage.Record) error {
		if _, dup := out[r.Key]; dup {
			return fmt.Errorf("record %q seen twice", r.Key)
		}
		out[r.Key] = r
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%q): %v", app, err)
	}
	return out
}

// checkSet fails unless got holds exactly the records of want.
func checkSet(t *testing.T, what string, got map[storage.Key]storage.Record, want []storage.Record) {
	t.Helper()
	seen := map[storage.Key]bool{}
	for _, w := range want {
		seen[w.Key] = true
		g, ok := got[w.Key]
		if !ok {
			t.Errorf("%s: missing %q", what, w.Key)
			continue
		}
		if d := sameRecord(g, w); d != "" {
			t.Errorf("%s: %s", what, d)
		}
	}
	for k := range got {
		if !seen[k] {
			t.Errorf("%s: unexpected record %q", what, k)
		}
	}
}

func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

func batcher(t *testing.T, s storage.Store) storage.Batcher {
	t.Helper()
	b, ok := s.(storage.Batcher)
	if !ok {
		t.Skip("store does not implement storage.Batcher")
	}
	return b
}

func snapshotter(t *testing.T, s storage.Store) storage.Snapshotter {
	t.Helper()
	sn, ok := s.(storage.Snapshotter)
	if !ok {
		t.Skip("store does not implement storage.Snapshotter")
	}
	return sn
}

// applyInChunks writes ops with storage.ApplyBatch, 250 at a time.
func applyInChunks(t *testing.T, s storage.Store, ops []storage.Op) {
	t.Helper()
	for len(ops) > 0 {
		n := min(len(ops), 250)
		if err := storage.ApplyBatch(t.Context(), s, ops[:n]); err != nil {
			t.Fatalf("ApplyBatch: %v", err)
		}
		ops = ops[n:]
	}
}

func putOp(r storage.Record) storage.Op { return storage.Op{Record: r} }
func delOp(k storage.Key) storage.Op    { return storage.Op{Delete: true, Record: storage.Record{Key: k}} }

// --- subtests ----------------------------------------------------------------

// awkwardRecords are records whose keys and values a store must keep exactly.
func awkwardRecords() []storage.Record {
	binary := make([]byte, 512)
	for i := range binary {
		binary[i] = byte(i)
	}
	return []storage.Record{
		{Key: key("PLAIN", "i-1"), Value: []byte("hello"), Updated: 1_700_000_000_000},
		{Key: key("PLAIN", "empty"), Value: []byte{}, Updated: 1},
		{Key: key("PLAIN", "nil"), Value: nil, Updated: 0},
		{Key: key("PLAIN", "binary"), Value: binary, Updated: -1},
		{Key: key("PLAIN", "invalid-utf8"), Value: []byte{0xff, 0xfe, 0x00, 0xc3, 0x28}, Updated: math.MaxInt64},
		{Key: key("PLAIN", "min"), Value: []byte("x"), Updated: math.MinInt64},
		{Key: storage.NewKey("café-ünïcödé", "实例-1 😀"), Value: []byte("unicode"), Updated: 2},
		{Key: key("APP:WITH/SEP ARATORS", "id:with/slashes and spaces"), Value: []byte("separators"), Updated: 3},
		{Key: key("GLOB*?[A]{B}", "*"), Value: []byte("glob characters"), Updated: 4},
		{Key: key("PLAIN", "line\nbreak\ttab\x00nul\\back%2Fslash"), Value: []byte("control"), Updated: 5},
		{Key: key(strings.Repeat("LONGAPP", 40), strings.Repeat("long-id-", 500)), Value: []byte("long"), Updated: 6},
	}
}

func testPutGet(t *testing.T, s storage.Store) {
	recs := awkwardRecords()
	put(t, s, recs...)
	for _, r := range recs {
		checkGet(t, s, r)
	}
	checkSet(t, "Scan", collect(t, s, ""), recs)
}

func testGetMissing(t *testing.T, s storage.Store) {
	k := key("ORDERS", "i-404")
	_, err := s.Get(t.Context(), k)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v; want an error matching storage.ErrNotFound", err)
	}
	if msg := err.Error(); !strings.Contains(msg, k.App) || !strings.Contains(msg, k.ID) {
		t.Errorf("Get error %q does not name the key %q", msg, k)
	}
	put(t, s, recordOf(key("ORDERS", "i-1"), 1))
	mustMissing(t, s, key("ORDERS", "i-2"))   // same application
	mustMissing(t, s, key("PAYMENTS", "i-1")) // same id, other application
	mustMissing(t, s, key("ORDERS", "i-"))    // prefix of a stored id
	mustMissing(t, s, key("ORDER", "i-1"))    // prefix of a stored application
}

func testDelete(t *testing.T, s storage.Store) {
	a1, a2, b1 := recordOf(key("A", "1"), 1), recordOf(key("A", "2"), 2), recordOf(key("B", "1"), 3)
	put(t, s, a1, a2, b1)
	del(t, s, a1.Key)
	mustMissing(t, s, a1.Key)
	checkGet(t, s, a2)
	checkGet(t, s, b1)
	del(t, s, a1.Key)           // again
	del(t, s, key("A", "404"))  // never stored
	del(t, s, key("NONE", "1")) // application never stored
	del(t, s, a2.Key)           // the last of its application
	if got := collect(t, s, "A"); len(got) != 0 {
		t.Errorf("Scan(A) after deleting all of A: %d records", len(got))
	}
	a3 := recordOf(key("A", "3"), 4)
	put(t, s, a3)
	checkSet(t, "Scan(A)", collect(t, s, "A"), []storage.Record{a3})
	checkSet(t, "Scan", collect(t, s, ""), []storage.Record{a3, b1})
}

func testOverwrite(t *testing.T, s storage.Store) {
	k := key("APP", "i-1")
	put(t, s, storage.Record{Key: k, Value: []byte("a longer first value"), Updated: 200})
	// Put replaces whatever Updated says: newest-wins is the restorer's
	// business, not the store's.
	second := storage.Record{Key: k, Value: []byte("v2"), Updated: 100}
	put(t, s, second)
	checkGet(t, s, second)
	empty := storage.Record{Key: k, Value: nil, Updated: 300}
	put(t, s, empty)
	checkGet(t, s, empty)
	checkSet(t, "Scan", collect(t, s, ""), []storage.Record{empty})
}

// confusableKeys are distinct keys that a store joining application and id
// into one string, or matching applications by prefix or glob, mixes up.
func confusableKeys() []storage.Key {
	return []storage.Key{
		key("APP", "1"), key("APP2", "1"), key("AP", "P1"), key("AP", "P:1"),
		key("APP", "21"), key("APP", "1:X"), key("APP:1", "X"), key("APP", "1/X"),
		key("APP/1", "X"), key("APP", "1\x00X"), key("APP*", "1"), key("APP?", "1"),
		key("[AP]P", "1"), key("A", "PP1"), key("APP ", "1"), key("APP", " 1"),
	}
}

func testDistinctKeys(t *testing.T, s storage.Store) {
	keys := confusableKeys()
	var recs []storage.Record
	byApp := map[string][]storage.Record{}
	for i, k := range keys {
		r := recordOf(k, int64(i))
		recs = append(recs, r)
		byApp[k.App] = append(byApp[k.App], r)
	}
	put(t, s, recs...)
	for _, r := range recs {
		checkGet(t, s, r)
	}
	checkSet(t, "Scan", collect(t, s, ""), recs)
	for app, want := range byApp {
		checkSet(t, fmt.Sprintf("Scan(%q)", app), collect(t, s, app), want)
	}
	for _, app := range []string{"A*", "AP*", "*", "?", "[A]*", "APP\x00"} {
		if _, stored := byApp[app]; !stored {
			checkSet(t, fmt.Sprintf("Scan(%q)", app), collect(t, s, app), nil)
		}
	}
	// Deleting one key leaves its look-alikes.
	del(t, s, key("APP", "1"))
	del(t, s, key("AP", "P1"))
	mustMissing(t, s, key("APP", "1"))
	mustMissing(t, s, key("AP", "P1"))
	for _, r := range recs {
		if r.Key != key("APP", "1") && r.Key != key("AP", "P1") {
			checkGet(t, s, r)
		}
	}
}

func testScan(t *testing.T, s storage.Store) {
	var all []storage.Record
	byApp := map[string][]storage.Record{}
	for app, n := range map[string]int{"ORDERS": 5, "PAYMENTS": 3, "SHIPPING": 1} {
		for i := range n {
			r := recordOf(key(app, fmt.Sprintf("i-%d", i)), int64(i))
			all = append(all, r)
			byApp[app] = append(byApp[app], r)
		}
	}
	put(t, s, all...)
	checkSet(t, "Scan", collect(t, s, ""), all)
	for app, want := range byApp {
		checkSet(t, fmt.Sprintf("Scan(%q)", app), collect(t, s, app), want)
	}
	checkSet(t, "Scan of an unknown application", collect(t, s, "NOPE"), nil)
	all2, err := storage.All(t.Context(), s, "ORDERS")
	if err != nil || len(all2) != 5 {
		t.Errorf("storage.All(ORDERS) = %d records, %v; want 5", len(all2), err)
	}
}

func testScanStop(t *testing.T, s storage.Store) {
	for i := range 5 {
		put(t, s, recordOf(key("ORDERS", fmt.Sprint(i)), 1), recordOf(key("OTHER", fmt.Sprint(i)), 1))
	}
	boom := errors.New("storagetest: callback failed")
	for _, app := range []string{"", "ORDERS"} {
		calls := 0
		err := s.Scan(t.Context(), app, func(storage.Record) error {
			calls++
			return storage.ErrStop
		})
		if err != nil || calls != 1 {
			t.Errorf("Scan(%q) with a callback returning ErrStop = %v after %d calls; want nil after 1", app, err, calls)
		}
		calls = 0
		err = s.Scan(t.Context(), app, func(storage.Record) error {
			calls++
			if calls == 2 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || calls != 2 {
			t.Errorf("Scan(%q) with a callback failing on its 2nd call = %v after %d calls; want the callback's error after 2", app, err, calls)
		}
	}
}

// testScanCallbackUsesStore checks that Scan's callback may call the store,
// the obvious way to prune records. A store that runs the callback inside a
// lock or a read transaction deadlocks here.
func testScanCallbackUsesStore(t *testing.T, s storage.Store) {
	const n = 50
	var moved []storage.Record
	for i := range n {
		put(t, s, recordOf(key("OLD", fmt.Sprintf("i-%03d", i)), int64(i)))
		moved = append(moved, recordOf(key("NEW", fmt.Sprintf("i-%03d", i)), int64(i)))
	}
	done := make(chan error, 1)
	go func() {
		ctx := t.Context()
		done <- s.Scan(ctx, "OLD", func(r storage.Record) error {
			if got, err := s.Get(ctx, r.Key); err != nil || sameRecord(got, r) != "" {
				return fmt.Errorf("Get(%q) in the callback = %q, %v", r.Key, got.Value, err)
			}
			if err := s.Put(ctx, recordOf(key("NEW", r.Key.ID), r.Updated)); err != nil {
				return err
			}
			return s.Delete(ctx, r.Key)
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Scan with a callback that uses the store: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Scan with a callback that uses the store did not return in 30s: deadlock?")
	}
	checkSet(t, "Scan(OLD)", collect(t, s, "OLD"), nil)
	checkSet(t, "Scan(NEW)", collect(t, s, "NEW"), moved)
}

// testScanDuringWrites checks that a Scan sees once each record that exists
// for its whole duration, while other records of the same applications come
// and go.
func testScanDuringWrites(t *testing.T, s storage.Store) {
	const n = 600
	var stable []storage.Record
	stableApp := map[string][]storage.Record{}
	for i := 0; i < n; i += 2 {
		for _, app := range []string{"CHURN", "OTHER"} {
			r := recordOf(key(app, fmt.Sprintf("i-%05d", i)), int64(i))
			stable = append(stable, r)
			stableApp[app] = append(stableApp[app], r)
		}
	}
	put(t, s, stable...)

	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for gen := int64(1); ctx.Err() == nil; gen++ {
			// Odd ids only: the stable records are never touched.
			k := key([]string{"CHURN", "OTHER", "CHURN2"}[rng.IntN(3)], fmt.Sprintf("i-%05d", 2*rng.IntN(n/2)+1))
			var err error
			if rng.IntN(3) == 0 {
				err = s.Delete(ctx, k)
			} else {
				err = s.Put(ctx, recordOf(k, gen))
			}
			if err != nil && ctx.Err() == nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	})
	for i := range 10 {
		app := []string{"", "CHURN"}[i%2]
		seen := map[storage.Key]int{}
		err := s.Scan(t.Context(), app, func(r storage.Record) error {
			seen[r.Key]++
			if !wellFormed(r) {
				return fmt.Errorf("record %q has a value %s that is not its own", r.Key, short(r.Value))
			}
			return nil
		})
		if err != nil {
			t.Errorf("Scan(%q) during writes: %v", app, err)
			continue
		}
		want := stable
		if app != "" {
			want = stableApp[app]
		}
		for _, r := range want {
			if c := seen[r.Key]; c != 1 {
				t.Errorf("Scan(%q) during writes saw stable record %q %d times; want once", app, r.Key, c)
			}
		}
		for k := range seen {
			if app != "" && k.App != app {
				t.Errorf("Scan(%q) returned %q of another application", app, k)
			}
		}
	}
	stop()
	wg.Wait()
}

func testOwnership(t *testing.T, s storage.Store) {
	ctx := t.Context()
	k := key("APP", "owned")
	v := []byte("original")
	put(t, s, storage.Record{Key: k, Value: v, Updated: 1})
	v[0] = 'X' // the caller reuses its buffer after Put
	want := storage.Record{Key: k, Value: []byte("original"), Updated: 1}
	checkGet(t, s, want)
	if b, ok := s.(storage.Batcher); ok {
		bk := key("OWNED", "batch")
		bv := []byte("batched")
		if err := b.Batch(ctx, []storage.Op{putOp(storage.Record{Key: bk, Value: bv, Updated: 1})}); err != nil {
			t.Fatal(err)
		}
		copy(bv, "XXXXXXX") // the caller reuses its buffer after Batch
		checkGet(t, s, storage.Record{Key: bk, Value: []byte("batched"), Updated: 1})
	}

	r := get(t, s, k)
	r.Value[0] = 'Y' // the caller scribbles on what Get returned
	checkGet(t, s, want)

	err := s.Scan(ctx, "", func(r storage.Record) error {
		if len(r.Value) > 0 {
			r.Value[0] = 'Z'
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGet(t, s, want)

	// Values returned earlier stay valid while the store changes under
	// them: a store returning slices of a memory map or of a pooled
	// buffer fails here (or crashes).
	for i := range 200 {
		put(t, s, recordOf(key("APP", fmt.Sprintf("i-%03d", i)), 1))
	}
	kept := collect(t, s, "APP")
	got := get(t, s, k)
	fill := bytes.Repeat([]byte{'#'}, 4096)
	var ops []storage.Op
	for i := range 2000 { // grows the data: a memory map is remapped
		ops = append(ops, putOp(storage.Record{Key: key("GROW", fmt.Sprint(i)), Value: fill, Updated: 2}))
	}
	for i := range 200 {
		ops = append(ops, putOp(storage.Record{Key: key("APP", fmt.Sprintf("i-%03d", i)), Value: fill[:100], Updated: 3}))
	}
	applyInChunks(t, s, ops)
	if d := sameRecord(got, want); d != "" {
		t.Errorf("a value returned by Get changed when the store changed: %s", d)
	}
	for _, r := range kept {
		if r.Key == k && !bytes.Equal(r.Value, want.Value) || r.Key != k && !wellFormed(r) {
			t.Fatalf("a value returned by Scan changed when the store changed: %q = %s", r.Key, short(r.Value))
		}
	}

	if b, ok := s.(storage.Batcher); ok {
		bv := []byte("batched")
		if err := b.Batch(ctx, []storage.Op{putOp(storage.Record{Key: key("B", "1"), Value: bv, Updated: 1})}); err != nil {
			t.Fatal(err)
		}
		bv[0] = 'X'
		checkGet(t, s, storage.Record{Key: key("B", "1"), Value: []byte("batched"), Updated: 1})
	}
	if sn, ok := s.(storage.Snapshotter); ok {
		var snapKept []storage.Record
		err := sn.Snapshot(ctx, func(r storage.Record) error {
			snapKept = append(snapKept, r)
			if r.Key == k {
				r.Value[0] = 'S'
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		checkGet(t, s, want)
		other := bytes.Repeat([]byte{'%'}, len(fill))
		ops = ops[:0]
		for i := range 2000 {
			ops = append(ops,
				putOp(storage.Record{Key: key("GROW", fmt.Sprint(i)), Value: other, Updated: 3}),
				putOp(storage.Record{Key: key("GROW2", fmt.Sprint(i)), Value: fill, Updated: 2}))
		}
		applyInChunks(t, s, ops)
		for _, r := range snapKept {
			if r.Key.App == "GROW" && !bytes.Equal(r.Value, fill) {
				t.Fatalf("a value returned by Snapshot changed when the store changed: %q = %s", r.Key, short(r.Value))
			}
		}
	}
}

func testBatch(t *testing.T, s storage.Store) {
	b := batcher(t, s)
	ctx := t.Context()
	a1, a2, b1 := recordOf(key("A", "1"), 1), recordOf(key("A", "2"), 1), recordOf(key("B", "1"), 1)
	put(t, s, a1, a2, b1)

	a1v2, a3, c1 := recordOf(key("A", "1"), 2), recordOf(key("A", "3"), 2), recordOf(key("C", "1"), 2)
	d1, e1 := recordOf(key("D", "1"), 2), recordOf(key("E", "1"), 2)
	f1, f1v2 := recordOf(key("F", "1"), 2), recordOf(key("F", "1"), 3)
	ops := []storage.Op{
		putOp(a3), putOp(a1v2), delOp(a2.Key), delOp(key("C", "404")), putOp(c1), delOp(b1.Key),
		// Ops apply in order, as storage.ApplyBatch applies them without
		// a Batcher.
		putOp(d1), delOp(d1.Key),
		delOp(e1.Key), putOp(e1),
		putOp(f1), putOp(f1v2),
	}
	if err := b.Batch(ctx, ops); err != nil {
		t.Fatalf("Batch: %v", err)
	}
	checkSet(t, "Scan after Batch", collect(t, s, ""), []storage.Record{a1v2, a3, c1, e1, f1v2})

	if err := b.Batch(ctx, nil); err != nil {
		t.Errorf("Batch(nil): %v", err)
	}
	if err := b.Batch(ctx, []storage.Op{}); err != nil {
		t.Errorf("Batch of no ops: %v", err)
	}
	checkSet(t, "Scan after empty batches", collect(t, s, ""), []storage.Record{a1v2, a3, c1, e1, f1v2})
}

func testBatchCancelled(t *testing.T, s storage.Store) {
	b := batcher(t, s)
	keep := recordOf(key("A", "1"), 1)
	put(t, s, keep)
	ops := []storage.Op{delOp(keep.Key)}
	for i := range 100 {
		ops = append(ops, putOp(recordOf(key("A", fmt.Sprint(i+2)), 2)))
	}
	err := b.Batch(cancelled(t), ops)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Batch with a cancelled context = %v; want an error matching context.Canceled", err)
	}
	checkSet(t, "Scan after a cancelled Batch", collect(t, s, ""), []storage.Record{keep})
}

func testSnapshot(t *testing.T, s storage.Store) {
	sn := snapshotter(t, s)
	ctx := t.Context()
	var all []storage.Record
	for _, app := range []string{"ORDERS", "ORDERS2", "PAYMENTS"} {
		for i := range 4 {
			all = append(all, recordOf(key(app, fmt.Sprint(i)), int64(i)))
		}
	}
	put(t, s, all...)
	got := map[storage.Key]storage.Record{}
	err := sn.Snapshot(ctx, func(r storage.Record) error {
		if _, dup := got[r.Key]; dup {
			return fmt.Errorf("record %q seen twice", r.Key)
		}
		got[r.Key] = r
		return nil
	})
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	checkSet(t, "Snapshot", got, all)

	calls := 0
	err = sn.Snapshot(ctx, func(storage.Record) error { calls++; return storage.ErrStop })
	if err != nil || calls != 1 {
		t.Errorf("Snapshot with a callback returning ErrStop = %v after %d calls; want nil after 1", err, calls)
	}
	boom := errors.New("storagetest: callback failed")
	calls = 0
	err = sn.Snapshot(ctx, func(storage.Record) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("Snapshot with a failing callback = %v after %d calls; want the callback's error after 1", err, calls)
	}
}

// progress counts a writer's steps, so a reader can wait for it to move on.
type progress struct {
	n    atomic.Int64
	tick chan struct{}
}

func newProgress() *progress { return &progress{tick: make(chan struct{}, 1)} }

func (p *progress) step() {
	p.n.Add(1)
	select {
	case p.tick <- struct{}{}:
	default:
	}
}

// waitFor waits until the writer has made steps more steps, or for at most
// limit: a store may block writers while a snapshot runs, which is allowed.
func (p *progress) waitFor(steps int64, limit time.Duration) {
	target := p.n.Load() + steps
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for p.n.Load() < target {
		select {
		case <-p.tick:
		case <-timer.C:
			return
		}
	}
}

// testSnapshotConsistent checks that a Snapshot sees the store at one point
// in time while writers keep changing it. Each snapshot pauses after its
// first record until the writer has moved on, so a store that reads records
// one by one at different times is caught every time.
func testSnapshotConsistent(t *testing.T, s storage.Store) {
	sn := snapshotter(t, s)
	const (
		sweepKeys = 20
		snapshots = 8
		pause     = 500 * time.Millisecond
	)

	t.Run("Sweep", func(t *testing.T) {
		// The writer rewrites keys 0..n-1 in order, generation after
		// generation. At any one instant, generations are non-increasing
		// along the keys and differ by at most one.
		sweepKey := func(i int) storage.Key { return key("SWEEP", fmt.Sprintf("k-%03d", i)) }
		for i := range sweepKeys {
			put(t, s, recordOf(sweepKey(i), 0))
		}
		ctx, stop := context.WithCancel(t.Context())
		p := newProgress()
		var wg sync.WaitGroup
		wg.Go(func() {
			for gen := int64(1); ctx.Err() == nil; gen++ {
				for i := 0; i < sweepKeys && ctx.Err() == nil; i++ {
					if err := s.Put(ctx, recordOf(sweepKey(i), gen)); err != nil && ctx.Err() == nil {
						t.Errorf("writer: %v", err)
						return
					}
					p.step()
				}
			}
		})
		for range snapshots {
			gens := make([]int64, sweepKeys)
			seen := 0
			err := sn.Snapshot(t.Context(), func(r storage.Record) error {
				if seen == 0 {
					p.waitFor(2*sweepKeys, pause)
				}
				seen++
				var i int
				if _, err := fmt.Sscanf(r.Key.ID, "k-%03d", &i); err != nil || !wellFormed(r) {
					return fmt.Errorf("unexpected record %q = %s", r.Key, short(r.Value))
				}
				gens[i] = r.Updated
				return nil
			})
			if err != nil {
				t.Fatalf("Snapshot: %v", err)
			}
			if seen != sweepKeys {
				t.Fatalf("Snapshot saw %d records; want %d", seen, sweepKeys)
			}
			for i := 1; i < sweepKeys; i++ {
				if gens[i] > gens[i-1] || gens[0]-gens[i] > 1 {
					t.Fatalf("Snapshot is not a single point in time: generations by key %v", gens)
				}
			}
		}
		stop()
		wg.Wait()
	})

	t.Run("Pairs", func(t *testing.T) {
		// Atomic batches write or delete both records of a pair; a
		// snapshot sees both, at the same generation, or neither.
		b := batcher(t, s)
		const pairs = 10
		pairKey := func(i int, side string) storage.Key { return key("PAIR", fmt.Sprintf("%03d-%s", i, side)) }
		ctx, stop := context.WithCancel(t.Context())
		p := newProgress()
		var wg sync.WaitGroup
		wg.Go(func() {
			for gen := int64(1); ctx.Err() == nil; gen++ {
				for i := 0; i < pairs && ctx.Err() == nil; i++ {
					a, z := pairKey(i, "a"), pairKey(i, "z")
					ops := []storage.Op{putOp(recordOf(a, gen)), putOp(recordOf(z, gen))}
					if gen%3 == 0 {
						ops = []storage.Op{delOp(a), delOp(z)}
					}
					if err := b.Batch(ctx, ops); err != nil && ctx.Err() == nil {
						t.Errorf("writer: %v", err)
						return
					}
					p.step()
				}
			}
		})
		p.waitFor(pairs, 10*time.Second) // every pair written once
		for range snapshots {
			seen := map[string]int64{}
			first := true
			err := sn.Snapshot(t.Context(), func(r storage.Record) error {
				if first {
					first = false
					p.waitFor(pairs+1, pause)
				}
				if !wellFormed(r) {
					return fmt.Errorf("record %q = %s is not its own", r.Key, short(r.Value))
				}
				if r.Key.App == "PAIR" { // not the Sweep's records
					seen[r.Key.ID] = r.Updated
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Snapshot: %v", err)
			}
			for i := range pairs {
				ga, okA := seen[pairKey(i, "a").ID]
				gz, okZ := seen[pairKey(i, "z").ID]
				if okA != okZ || ga != gz {
					t.Fatalf("Snapshot saw half a batch: pair %d: a present=%v gen %d, z present=%v gen %d", i, okA, ga, okZ, gz)
				}
			}
		}
		stop()
		wg.Wait()
	})
}

// testConcurrent runs puts, gets, deletes, scans and batches from many
// goroutines. Each goroutine owns some keys and checks them against its own
// model; all share a few keys whose records must stay well-formed.
func testConcurrent(t *testing.T, s storage.Store) {
	const (
		workers = 8
		iters   = 300
		owned   = 8
		shared  = 4
	)
	_, hasBatch := s.(storage.Batcher)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			model := map[storage.Key]storage.Record{}
			own := func() storage.Key { return key("CONC", fmt.Sprintf("w%d-%d", w, rng.IntN(owned))) }
			sharedKey := func() storage.Key { return key("SHARED", fmt.Sprintf("s-%d", rng.IntN(shared))) }
			fail := func(format string, args ...any) {
				t.Errorf("worker %d: "+format, append([]any{w}, args...)...)
			}
			for i := range iters {
				updated := int64(w*iters + i)
				switch op := rng.IntN(9); {
				case op == 0 || op == 1:
					r := recordOf(own(), updated)
					if err := s.Put(ctx, r); err != nil {
						fail("Put: %v", err)
						return
					}
					model[r.Key] = r
				case op == 2:
					k := own()
					r, err := s.Get(ctx, k)
					if want, ok := model[k]; ok {
						if err != nil || sameRecord(r, want) != "" {
							fail("Get(%q) = %q, %v; want %q", k, r.Value, err, want.Value)
						}
					} else if !errors.Is(err, storage.ErrNotFound) {
						fail("Get(%q) of a deleted key = %q, %v", k, r.Value, err)
					}
				case op == 3:
					k := own()
					if err := s.Delete(ctx, k); err != nil {
						fail("Delete: %v", err)
						return
					}
					delete(model, k)
				case op == 4:
					if err := s.Put(ctx, recordOf(sharedKey(), updated)); err != nil {
						fail("Put shared: %v", err)
						return
					}
				case op == 5:
					k := sharedKey()
					r, err := s.Get(ctx, k)
					if err != nil && !errors.Is(err, storage.ErrNotFound) || err == nil && !wellFormed(r) {
						fail("Get(%q) = %q, %v", k, r.Value, err)
					}
				case op == 6:
					if err := s.Delete(ctx, sharedKey()); err != nil {
						fail("Delete shared: %v", err)
						return
					}
				case op == 7:
					// Other workers change their own keys meanwhile;
					// this worker's keys hold still, so the scan must
					// show them exactly as the model has them.
					mine := map[storage.Key]storage.Record{}
					err := s.Scan(ctx, "CONC", func(r storage.Record) error {
						if !wellFormed(r) {
							return fmt.Errorf("record %q = %s is not its own", r.Key, short(r.Value))
						}
						if strings.HasPrefix(r.Key.ID, fmt.Sprintf("w%d-", w)) {
							if _, dup := mine[r.Key]; dup {
								return fmt.Errorf("record %q seen twice", r.Key)
							}
							mine[r.Key] = r
						}
						return nil
					})
					if err != nil {
						fail("Scan: %v", err)
						return
					}
					if len(mine) != len(model) {
						fail("Scan saw %d of this worker's records; want %d", len(mine), len(model))
					}
					for k, want := range model {
						if d := sameRecord(mine[k], want); d != "" {
							fail("Scan: %s", d)
						}
					}
				case op == 8 && hasBatch:
					var ops []storage.Op
					for j := range 3 {
						k := own()
						if rng.IntN(3) == 0 {
							ops = append(ops, delOp(k))
							delete(model, k)
						} else {
							r := recordOf(k, updated*10+int64(j))
							ops = append(ops, putOp(r))
							model[k] = r
						}
					}
					if err := storage.ApplyBatch(ctx, s, ops); err != nil {
						fail("Batch: %v", err)
						return
					}
				}
			}
			for i := range owned {
				k := key("CONC", fmt.Sprintf("w%d-%d", w, i))
				r, err := s.Get(ctx, k)
				if want, ok := model[k]; ok {
					if err != nil || sameRecord(r, want) != "" {
						fail("final Get(%q) = %q, %v; want %q", k, r.Value, err, want.Value)
					}
				} else if !errors.Is(err, storage.ErrNotFound) {
					fail("final Get(%q) of a deleted key = %q, %v", k, r.Value, err)
				}
			}
		})
	}
	wg.Wait()
}

func testLargeValues(t *testing.T, s storage.Store) {
	rng := rand.New(rand.NewPCG(3, 4))
	big := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	recs := []storage.Record{
		{Key: key("BIG", "1MiB"), Value: big(1 << 20), Updated: 1},
		{Key: key("BIG", "1MiB+1"), Value: big(1<<20 + 1), Updated: 2},
	}
	put(t, s, recs...)
	var ops []storage.Op
	for i := range 4 {
		r := storage.Record{Key: key("BIGBATCH", fmt.Sprint(i)), Value: big(1 << 20), Updated: int64(i)}
		recs = append(recs, r)
		ops = append(ops, putOp(r))
	}
	if err := storage.ApplyBatch(t.Context(), s, ops); err != nil {
		t.Fatalf("ApplyBatch of 4 × 1 MiB: %v", err)
	}
	for _, r := range recs {
		checkGet(t, s, r)
	}
	checkSet(t, "Scan", collect(t, s, ""), recs)
	small := recordOf(key("BIG", "1MiB"), 9)
	put(t, s, small)
	checkGet(t, s, small)
}

// testMany writes 100,000 records in batches of 1,000 over 100
// applications, as a registry restore or a first sync would.
func testMany(t *testing.T, s storage.Store) {
	const (
		total = 100_000
		batch = 1_000
		apps  = 100
	)
	ctx := t.Context()
	appOf := func(i int) string { return fmt.Sprintf("APP-%03d", i%apps) }
	keyOf := func(i int) storage.Key { return key(appOf(i), fmt.Sprintf("i-%06d", i)) }
	start := time.Now()
	ops := make([]storage.Op, 0, batch)
	for i := range total {
		ops = append(ops, putOp(recordOf(keyOf(i), int64(i))))
		if len(ops) == batch {
			if err := storage.ApplyBatch(ctx, s, ops); err != nil {
				t.Fatalf("ApplyBatch at record %d: %v", i, err)
			}
			ops = ops[:0]
		}
	}
	wrote := time.Since(start)
	n, err := storage.Count(ctx, s, "")
	if err != nil || n != total {
		t.Fatalf("Count = %d, %v; want %d", n, err, total)
	}
	if n, err := storage.Count(ctx, s, appOf(7)); err != nil || n != total/apps {
		t.Errorf("Count(%s) = %d, %v; want %d", appOf(7), n, err, total/apps)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100 {
		i := rng.IntN(total)
		checkGet(t, s, recordOf(keyOf(i), int64(i)))
	}
	t.Logf("%d records: written in %v, counted in %v", total, wrote, time.Since(start)-wrote)
}

func testCancelled(t *testing.T, s storage.Store) {
	ctx := cancelled(t)
	stored := recordOf(key("APP", "stored"), 1)
	put(t, s, stored)
	check := func(what string, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s with a done context = %v; want an error matching %v", what, err, want)
		}
	}
	fresh := recordOf(key("APP", "fresh"), 2)
	check("Put", s.Put(ctx, fresh), context.Canceled)
	mustMissing(t, s, fresh.Key)
	_, err := s.Get(ctx, stored.Key)
	check("Get", err, context.Canceled)
	check("Delete", s.Delete(ctx, stored.Key), context.Canceled)
	checkGet(t, s, stored)
	for _, app := range []string{"", "APP"} {
		calls := 0
		err := s.Scan(ctx, app, func(storage.Record) error { calls++; return nil })
		check(fmt.Sprintf("Scan(%q)", app), err, context.Canceled)
		if calls != 0 {
			t.Errorf("Scan(%q) with a cancelled context called its callback %d times", app, calls)
		}
	}
	if b, ok := s.(storage.Batcher); ok {
		check("Batch", b.Batch(ctx, []storage.Op{putOp(fresh)}), context.Canceled)
		mustMissing(t, s, fresh.Key)
	}
	if sn, ok := s.(storage.Snapshotter); ok {
		calls := 0
		check("Snapshot", sn.Snapshot(ctx, func(storage.Record) error { calls++; return nil }), context.Canceled)
		if calls != 0 {
			t.Errorf("Snapshot with a cancelled context called its callback %d times", calls)
		}
	}

	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	check("Put", s.Put(expired, fresh), context.DeadlineExceeded)
	_, err = s.Get(expired, stored.Key)
	check("Get", err, context.DeadlineExceeded)
}

func testScanCancelledMidway(t *testing.T, s storage.Store) {
	const n, stopAt = 300, 10
	for i := range n {
		put(t, s, recordOf(key("MID", fmt.Sprintf("i-%03d", i)), 1))
	}
	scans := map[string]func(context.Context, func(storage.Record) error) error{
		`Scan("")`:    func(ctx context.Context, fn func(storage.Record) error) error { return s.Scan(ctx, "", fn) },
		`Scan("MID")`: func(ctx context.Context, fn func(storage.Record) error) error { return s.Scan(ctx, "MID", fn) },
	}
	if sn, ok := s.(storage.Snapshotter); ok {
		scans["Snapshot"] = sn.Snapshot
	}
	for name, scan := range scans {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		err := scan(ctx, func(storage.Record) error {
			calls++
			if calls == stopAt {
				cancel()
			}
			return nil
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s cancelled by its callback = %v; want an error matching context.Canceled", name, err)
		}
		if calls != stopAt {
			t.Errorf("%s called its callback %d times; want no call after the context was cancelled (call %d)", name, calls, stopAt)
		}
	}
}

func testClosed(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r := recordOf(key("APP", "i-1"), 1)
	put(t, s, r)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close = %v; want an error matching storage.ErrClosed", what, err)
		}
	}
	check("Put", s.Put(ctx, r))
	_, err := s.Get(ctx, r.Key)
	check("Get", err)
	check("Delete", s.Delete(ctx, r.Key))
	calls := 0
	check("Scan", s.Scan(ctx, "", func(storage.Record) error { calls++; return nil }))
	check("Scan(APP)", s.Scan(ctx, "APP", func(storage.Record) error { calls++; return nil }))
	if b, ok := s.(storage.Batcher); ok {
		check("Batch", b.Batch(ctx, []storage.Op{putOp(r)}))
	}
	if sn, ok := s.(storage.Snapshotter); ok {
		check("Snapshot", sn.Snapshot(ctx, func(storage.Record) error { calls++; return nil }))
	}
	if calls != 0 {
		t.Errorf("a scan of a closed store called its callback %d times", calls)
	}
}

// testCloseWhileBusy closes the store while goroutines use it: calls in
// flight end normally or with ErrClosed, calls begun after Close returned
// end with ErrClosed, and nothing crashes.
func testCloseWhileBusy(t *testing.T, s storage.Store) {
	const workers = 4
	for i := range 50 {
		put(t, s, recordOf(key("BUSY", fmt.Sprint(i)), 1))
	}
	var (
		closed atomic.Bool // set once Close has returned
		ops    atomic.Int64
		ready  = make(chan struct{})
		once   sync.Once
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			for i := 0; ; i++ {
				after := closed.Load()
				k := key("BUSY", fmt.Sprint(i%50))
				var err error
				switch (w + i) % 4 {
				case 0:
					err = s.Put(ctx, recordOf(k, int64(i)))
				case 1:
					_, err = s.Get(ctx, k)
				case 2:
					err = s.Scan(ctx, "BUSY", func(storage.Record) error { return nil })
				case 3:
					err = storage.ApplyBatch(ctx, s, []storage.Op{putOp(recordOf(k, int64(i)))})
				}
				if err != nil && !errors.Is(err, storage.ErrClosed) && !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("worker %d: call during Close: %v", w, err)
					return
				}
				if after {
					if !errors.Is(err, storage.ErrClosed) {
						t.Errorf("worker %d: call begun after Close returned = %v; want storage.ErrClosed", w, err)
					}
					return
				}
				if ops.Add(1) == 100 {
					once.Do(func() { close(ready) })
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-ready:
	case <-done: // every worker failed: the errors say why
		return
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close while busy: %v", err)
	}
	closed.Store(true)
	<-done
}
