package redis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/redistest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/redis"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// open opens a store on srv; the test closes it at the end.
func open(t testing.TB, srv *redistest.Server, opts redis.Options) *redis.Store {
	t.Helper()
	if opts.URL == "" && len(opts.Addrs) == 0 {
		opts.URL = srv.URL()
	}
	s, err := redis.Open(testCtx(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// raw is a plain client on srv, to look at the keys behind the store.
func raw(t testing.TB, srv *redistest.Server) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func rec(app, id, value string, updated int64) storage.Record {
	return storage.Record{Key: storage.Key{App: app, ID: id}, Value: []byte(value), Updated: updated}
}

func mustPut(t testing.TB, s storage.Store, rs ...storage.Record) {
	t.Helper()
	for _, r := range rs {
		if err := s.Put(testCtx(t), r); err != nil {
			t.Fatal(err)
		}
	}
}

// keys lists the store's records as "APP/id=value@updated", sorted.
func keys(t testing.TB, s storage.Store, app string) []string {
	t.Helper()
	all, err := storage.All(testCtx(t), s, app)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(all))
	for _, r := range all {
		out = append(out, fmt.Sprintf("%s/%s=%s@%d", r.Key.App, r.Key.ID, r.Value, r.Updated))
	}
	slices.Sort(out)
	return out
}

func equal(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestPutGetDelete(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redis.Options{})
	ctx := testCtx(t)

	r := rec("ORDERS", "i-1", "v1", -1) // a negative timestamp round-trips too
	mustPut(t, s, r)
	got, err := s.Get(ctx, r.Key)
	if err != nil || !bytes.Equal(got.Value, r.Value) || got.Updated != r.Updated || got.Key != r.Key {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, r)
	}
	mustPut(t, s, rec("ORDERS", "i-1", "v2", 1<<62))
	if got, _ := s.Get(ctx, r.Key); string(got.Value) != "v2" || got.Updated != 1<<62 {
		t.Fatalf("Get after replace = %+v", got)
	}

	_, err = s.Get(ctx, storage.Key{App: "ORDERS", ID: "nope"})
	if !errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), "redis: get ORDERS/nope") {
		t.Fatalf("Get missing: %v", err)
	}
	if err := s.Delete(ctx, r.Key); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, r.Key); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := s.Get(ctx, r.Key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
}

// TestLayout pins the documented key layout and value encoding.
func TestLayout(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redis.Options{})
	mustPut(t, s, rec("ORDERS", "i-1", "payload", 0x0102030405060708))
	c := raw(t, srv)
	ctx := testCtx(t)

	ks, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ks)
	equal(t, "keys", ks, []string{"eurekad:{eurekad}:app:ORDERS", "eurekad:{eurekad}:apps"})
	v, err := c.HGet(ctx, "eurekad:{eurekad}:app:ORDERS", "i-1").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte{1, 2, 3, 4, 5, 6, 7, 8}, "payload"...); !bytes.Equal(v, want) {
		t.Fatalf("stored value %q, want %q", v, want)
	}

	// A value too short to be a record is reported, not misread.
	if err := c.HSet(ctx, "eurekad:{eurekad}:app:ORDERS", "bad", "short").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, storage.Key{App: "ORDERS", ID: "bad"}); !errors.Is(err, redis.ErrCorrupt) {
		t.Fatalf("Get of a short value: %v, want ErrCorrupt", err)
	}
	if err := s.Scan(ctx, "ORDERS", func(storage.Record) error { return nil }); !errors.Is(err, redis.ErrCorrupt) {
		t.Fatalf("Scan over a short value: %v, want ErrCorrupt", err)
	}
}

// TestAppsSetFollowsRecords checks the invariant behind Scan(""): an
// application is in the apps set exactly while it has records, whichever
// way they were written or deleted.
func TestAppsSetFollowsRecords(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redis.Options{})
	c := raw(t, srv)
	ctx := testCtx(t)
	apps := func() []string {
		t.Helper()
		m, err := c.SMembers(ctx, "eurekad:{eurekad}:apps").Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(m)
		return m
	}

	mustPut(t, s, rec("A", "1", "x", 1), rec("A", "2", "x", 1), rec("B", "1", "x", 1))
	equal(t, "apps after puts", apps(), []string{"A", "B"})
	if err := s.Delete(ctx, storage.Key{App: "A", ID: "1"}); err != nil {
		t.Fatal(err)
	}
	equal(t, "apps after deleting one of two", apps(), []string{"A", "B"})
	if err := s.Delete(ctx, storage.Key{App: "A", ID: "2"}); err != nil {
		t.Fatal(err)
	}
	equal(t, "apps after deleting the last", apps(), []string{"B"})
	if err := s.Delete(ctx, storage.Key{App: "GHOST", ID: "1"}); err != nil {
		t.Fatal(err)
	}
	equal(t, "apps after deleting from a missing app", apps(), []string{"B"})

	// In a batch: delete B's last record and recreate it, empty C, create D.
	err := s.Batch(ctx, []storage.Op{
		{Record: rec("C", "1", "x", 1)},
		{Delete: true, Record: rec("B", "1", "", 0)},
		{Record: rec("B", "2", "x", 1)},
		{Delete: true, Record: rec("C", "1", "", 0)},
		{Record: rec("D", "1", "x", 1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "apps after batch", apps(), []string{"B", "D"})
	equal(t, "records after batch", keys(t, s, ""), []string{"B/2=x@1", "D/1=x@1"})

	// A stale member (a hash deleted behind the store's back) is harmless.
	if err := c.Del(ctx, "eurekad:{eurekad}:app:D").Err(); err != nil {
		t.Fatal(err)
	}
	equal(t, "records with a stale apps member", keys(t, s, ""), []string{"B/2=x@1"})
}

func TestPrefixesKeepStoresApart(t *testing.T) {
	srv := redistest.Start(t)
	a := open(t, srv, redis.Options{KeyPrefix: "reg-a:"})
	b := open(t, srv, redis.Options{KeyPrefix: "reg-b:"})
	ctx := testCtx(t)

	mustPut(t, a, rec("ORDERS", "i-1", "a", 1), rec("BILLING", "i-1", "a", 1))
	mustPut(t, b, rec("ORDERS", "i-1", "b", 2))

	equal(t, "store a", keys(t, a, ""), []string{"BILLING/i-1=a@1", "ORDERS/i-1=a@1"})
	equal(t, "store b", keys(t, b, ""), []string{"ORDERS/i-1=b@2"})
	if _, err := b.Get(ctx, storage.Key{App: "BILLING", ID: "i-1"}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("store b sees store a's record: %v", err)
	}
	if err := b.Delete(ctx, storage.Key{App: "ORDERS", ID: "i-1"}); err != nil {
		t.Fatal(err)
	}
	equal(t, "store a after b's delete", keys(t, a, "ORDERS"), []string{"ORDERS/i-1=a@1"})
	if err := a.Batch(ctx, []storage.Op{{Delete: true, Record: rec("ORDERS", "i-1", "", 0)}}); err != nil {
		t.Fatal(err)
	}
	equal(t, "store b after a's batch", keys(t, b, ""), nil)
	ks, err := raw(t, srv).Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if !strings.HasPrefix(k, "reg-a:") {
			t.Errorf("key %q outside both prefixes", k)
		}
	}
}

func TestBatchIsAtomic(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redis.Options{})
	ctx := testCtx(t)

	// A batch that runs Redis out of memory half-way: a transaction is
	// refused or run as a whole, so either all or none of its records are
	// there, never the first few.
	c := raw(t, srv)
	used, err := c.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	var usedMemory int64
	for _, line := range strings.Split(used, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			fmt.Sscan(v, &usedMemory)
		}
	}
	if usedMemory == 0 {
		t.Fatalf("no used_memory in INFO memory:\n%s", used)
	}
	if err := c.ConfigSet(ctx, "maxmemory", fmt.Sprint(usedMemory+200<<10)).Err(); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 1024)
	ops := make([]storage.Op, 1000)
	for i := range ops {
		ops[i] = storage.Op{Record: storage.Record{Key: storage.Key{App: "BIG", ID: fmt.Sprint(i)}, Value: big, Updated: 1}}
	}
	batchErr := s.Batch(ctx, ops)
	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	n, err := storage.Count(ctx, s, "BIG")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("batch over maxmemory: %v; %d of 1000 records stored", batchErr, n)
	if n != 0 && n != len(ops) {
		t.Fatalf("a batch over maxmemory stored %d of %d records (err %v)", n, len(ops), batchErr)
	}
	if (n == 0) != (batchErr != nil) {
		t.Fatalf("batch error %v with %d records stored", batchErr, n)
	}

	// Readers never see half a batch: every batch rewrites three records
	// of app C with the same value, and a reader reading the hash in one
	// command (HGETALL) always finds the three equal.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := fmt.Sprint(i)
			err := s.Batch(ctx, []storage.Op{{Record: rec("C", "1", v, 1)}, {Record: rec("C", "2", v, 1)}, {Record: rec("C", "3", v, 1)}})
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for range 500 {
		m, err := c.HGetAll(ctx, "eurekad:{eurekad}:app:C").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(m) > 0 && (m["1"] != m["2"] || m["2"] != m["3"]) {
			t.Fatalf("a reader saw half a batch: %q", m)
		}
	}
}

func TestScanLargeAppSeesEachRecordOnce(t *testing.T) {
	srv := redistest.Start(t, redistest.AppendOnly(false))
	s := open(t, srv, redis.Options{})
	ctx := testCtx(t)
	// Records that stay for the whole scan, and many that a callback
	// deletes and writes again during it, so that the hash table shrinks
	// and grows (and is rehashed) between HSCAN pages. Redis documents
	// that HSCAN may then return an element more than once; in practice
	// it is rare (without Scan's own check, about half the runs of this
	// test see one of the rewritten records twice). The records present
	// throughout must each be seen exactly once, whatever paging does.
	const keep, temp = 300, 4000
	ops := make([]storage.Op, 0, keep+temp)
	for i := range keep {
		ops = append(ops, storage.Op{Record: rec("BIG", fmt.Sprintf("k-%05d", i), "v", 1)})
	}
	for i := range temp {
		ops = append(ops, storage.Op{Record: rec("BIG", fmt.Sprintf("t-%05d", i), "v", 1)})
	}
	if err := s.Batch(ctx, ops); err != nil {
		t.Fatal(err)
	}
	del := make([]storage.Op, temp)
	for i := range del {
		del[i] = storage.Op{Delete: true, Record: rec("BIG", fmt.Sprintf("t-%05d", i), "", 0)}
	}
	for round := range 3 {
		seen := make(map[string]int, keep+temp)
		calls := 0
		err := s.Scan(ctx, "BIG", func(r storage.Record) error {
			seen[r.Key.ID]++
			calls++
			switch calls {
			case 800:
				return s.Batch(ctx, del)
			case 900:
				return s.Batch(ctx, ops[keep:])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range keep {
			id := fmt.Sprintf("k-%05d", i)
			if seen[id] != 1 {
				t.Fatalf("round %d: record %s seen %d times, want once", round, id, seen[id])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("round %d: record %s seen %d times", round, id, n)
			}
		}
		if err := s.Batch(ctx, ops[keep:]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanStopsAndReturnsCallbackErrors(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redis.Options{})
	ctx := testCtx(t)
	mustPut(t, s, rec("A", "1", "x", 1), rec("A", "2", "x", 1), rec("B", "1", "x", 1))

	for _, scan := range []struct {
		name string
		run  func(fn func(storage.Record) error) error
	}{
		{"Scan", func(fn func(storage.Record) error) error { return s.Scan(ctx, "", fn) }},
		{"Snapshot", func(fn func(storage.Record) error) error { return s.Snapshot(ctx, fn) }},
	} {
		calls := 0
		err := scan.run(func(storage.Record) error { calls++; return storage.ErrStop })
		if err != nil || calls != 1 {
			t.Errorf("%s with ErrStop: %v after %d calls, want nil after 1", scan.name, err, calls)
		}
		boom := errors.New("boom")
		calls = 0
		err = scan.run(func(storage.Record) error { calls++; return boom })
		if err != boom || calls != 1 {
			t.Errorf("%s with an error: %v after %d calls, want boom after 1", scan.name, err, calls)
		}
	}
}

func TestSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name       string
		txAttempts int
	}{
		{"transaction", redis.SnapshotTxAttempts()},
		{"script", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer redis.SetSnapshotTxAttempts(redis.SetSnapshotTxAttempts(tc.txAttempts))
			srv := redistest.Start(t, redistest.AppendOnly(false))
			testSnapshot(t, open(t, srv, redis.Options{}))
		})
	}
	// On a cluster, where Redis checks that a transaction or script stays
	// within one slot.
	srv := redistest.Start(t, redistest.AppendOnly(false), redistest.Cluster())
	for _, tc := range []struct {
		name       string
		txAttempts int
	}{
		{"cluster-transaction", redis.SnapshotTxAttempts()},
		{"cluster-script", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer redis.SetSnapshotTxAttempts(redis.SetSnapshotTxAttempts(tc.txAttempts))
			testSnapshot(t, open(t, srv, redis.Options{Addrs: []string{srv.Addr()}, Cluster: true, KeyPrefix: tc.name + ":"}))
		})
	}
}

func testSnapshot(t *testing.T, s *redis.Store) {
	ctx := testCtx(t)
	mustPut(t, s, rec("A", "1", "a", 1), rec("B", "1", "b", 2), rec("B", "2", "b", 3))
	if err := s.Delete(ctx, storage.Key{App: "A", ID: "1"}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, rec("A", "2", "a", 4), rec("C", "1", "", 5))
	var got []string
	err := s.Snapshot(ctx, func(r storage.Record) error {
		got = append(got, fmt.Sprintf("%s/%s=%s@%d", r.Key.App, r.Key.ID, r.Value, r.Updated))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	equal(t, "snapshot", got, []string{"A/2=a@4", "B/1=b@2", "B/2=b@3", "C/1=@5"})

	// Point in time: a writer keeps moving one record to a new
	// application, so that snapshots race the creation of applications;
	// every snapshot holds exactly one copy, and the other records.
	mustPut(t, s, rec("M0", "1", "m", 0))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			from, to := fmt.Sprintf("M%d", i), fmt.Sprintf("M%d", i+1)
			err := s.Batch(ctx, []storage.Op{
				{Delete: true, Record: rec(from, "1", "", 0)},
				{Record: rec(to, "1", "m", int64(i))},
			})
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for range 200 {
		moving, others := 0, 0
		err := s.Snapshot(ctx, func(r storage.Record) error {
			if strings.HasPrefix(r.Key.App, "M") {
				moving++
			} else {
				others++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if moving != 1 || others != 4 {
			t.Fatalf("a snapshot saw %d copies of the moving record and %d others, want 1 and 4", moving, others)
		}
	}
}

func TestValuesBelongToTheCaller(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redis.Options{})
	ctx := testCtx(t)
	v := []byte("original")
	mustPut(t, s, storage.Record{Key: storage.Key{App: "A", ID: "1"}, Value: v, Updated: 1})
	copy(v, "CHANGED!")
	r, err := s.Get(ctx, storage.Key{App: "A", ID: "1"})
	if err != nil || string(r.Value) != "original" {
		t.Fatalf("Get after changing the Put slice = %q, %v", r.Value, err)
	}
	copy(r.Value, "CHANGED!")
	if r2, _ := s.Get(ctx, storage.Key{App: "A", ID: "1"}); string(r2.Value) != "original" {
		t.Fatalf("a changed Get slice leaked into the store: %q", r2.Value)
	}
}

func TestClosed(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redis.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := testCtx(t)
	k := storage.Key{App: "A", ID: "1"}
	_, getErr := s.Get(ctx, k)
	for name, err := range map[string]error{
		"Put":      s.Put(ctx, rec("A", "1", "x", 1)),
		"Get":      getErr,
		"Delete":   s.Delete(ctx, k),
		"Scan":     s.Scan(ctx, "", func(storage.Record) error { return nil }),
		"Batch":    s.Batch(ctx, []storage.Op{{Record: rec("A", "1", "x", 1)}}),
		"Snapshot": s.Snapshot(ctx, func(storage.Record) error { return nil }),
	} {
		if !errors.Is(err, storage.ErrClosed) || !strings.HasPrefix(err.Error(), "redis: ") {
			t.Errorf("%s after Close: %v, want storage.ErrClosed", name, err)
		}
	}
}

// TestCloseDuringUse closes the store under concurrent writers: every error
// they get is storage.ErrClosed, never the driver's own.
func TestCloseDuringUse(t *testing.T) {
	srv := redistest.Start(t, redistest.AppendOnly(false))
	s := open(t, srv, redis.Options{})
	ctx := testCtx(t)
	var wg, warm sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		warm.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			defer once.Do(warm.Done) // also when a Put fails early
			for i := 0; ; i++ {
				err := s.Put(ctx, rec("A", fmt.Sprint(w, "-", i), "x", 1))
				if i == 10 {
					once.Do(warm.Done)
				}
				if err == nil {
					continue
				}
				if !errors.Is(err, storage.ErrClosed) {
					t.Errorf("Put during Close: %v, want storage.ErrClosed", err)
				}
				return
			}
		}()
	}
	warm.Wait() // every writer is busy
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func TestContext(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redis.Options{})
	mustPut(t, s, rec("A", "1", "x", 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := storage.Key{App: "A", ID: "1"}
	_, getErr := s.Get(ctx, k)
	for name, err := range map[string]error{
		"Put":      s.Put(ctx, rec("A", "1", "x", 1)),
		"Get":      getErr,
		"Delete":   s.Delete(ctx, k),
		"Scan":     s.Scan(ctx, "", func(storage.Record) error { return nil }),
		"Batch":    s.Batch(ctx, []storage.Op{{Record: rec("A", "1", "x", 1)}}),
		"Snapshot": s.Snapshot(ctx, func(storage.Record) error { return nil }),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
	// Nothing was written or deleted.
	equal(t, "after cancelled calls", keys(t, s, ""), []string{"A/1=x@1"})

	// Cancelled in the middle of a scan: the scan ends with the context's
	// error at its next page.
	ops := make([]storage.Op, 3000)
	for i := range ops {
		ops[i] = storage.Op{Record: rec("BIG", fmt.Sprint(i), "x", 1)}
	}
	if err := s.Batch(testCtx(t), ops); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := s.Scan(ctx, "BIG", func(storage.Record) error {
		n++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 3000 {
		t.Fatalf("Scan cancelled by its callback: %v after %d records", err, n)
	}
}

// TestSurvivesRedisRestart writes through the store, crashes Redis
// (SIGKILL) and starts it again: with appendfsync always every
// acknowledged write is there, and the same store, not reopened, reads it.
func TestSurvivesRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redis.Options{})
	ctx := testCtx(t)
	mustPut(t, s, rec("A", "1", "a", 1), rec("A", "2", "a", 2), rec("B", "1", "b", 3))
	if err := s.Delete(ctx, storage.Key{App: "A", ID: "2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Batch(ctx, []storage.Op{{Record: rec("C", "1", "c", 4)}, {Delete: true, Record: rec("B", "1", "", 0)}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"A/1=a@1", "C/1=c@4"}
	equal(t, "before the crash", keys(t, s, ""), want)

	srv.Kill()
	srv.Restart()
	equal(t, "after the crash, same store", keys(t, s, ""), want)
	s2 := open(t, srv, redis.Options{})
	equal(t, "after the crash, new store", keys(t, s2, ""), want)
}

// TestRedisOutage kills Redis under an open store: every operation fails
// promptly with an error that says what failed (no hang), and once Redis
// is back the same store works again without being reopened.
func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 500 * time.Millisecond
	s := open(t, srv, redis.Options{DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout})
	ctx := testCtx(t)
	mustPut(t, s, rec("A", "1", "a", 1))

	srv.Kill()
	// Generous for a loaded machine, far below a hang: the driver's
	// retries, each bounded by the timeouts above.
	const bound = 10 * time.Second
	k := storage.Key{App: "A", ID: "1"}
	for _, op := range []struct {
		name string
		run  func() error
	}{
		{"put A/2", func() error { return s.Put(ctx, rec("A", "2", "a", 2)) }},
		{"get A/1", func() error { _, err := s.Get(ctx, k); return err }},
		{"delete A/1", func() error { return s.Delete(ctx, k) }},
		{"scan all", func() error { return s.Scan(ctx, "", func(storage.Record) error { return nil }) }},
		{"batch of 1", func() error { return s.Batch(ctx, []storage.Op{{Record: rec("A", "3", "a", 3)}}) }},
		{"snapshot", func() error { return s.Snapshot(ctx, func(storage.Record) error { return nil }) }},
	} {
		start := time.Now()
		err := op.run()
		took := time.Since(start)
		t.Logf("%s while Redis is down: %v after %v", op.name, err, took.Round(time.Millisecond))
		if err == nil {
			t.Fatalf("%s succeeded while Redis is down", op.name)
		}
		if !strings.HasPrefix(err.Error(), "redis: "+op.name) {
			t.Errorf("%s: error %q does not say what failed", op.name, err)
		}
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s: outage reported as %v", op.name, err)
		}
		if took > bound {
			t.Errorf("%s took %v to fail, want under %v", op.name, took, bound)
		}
	}

	srv.Restart()
	// The driver reconnects on its own; poll until the store answers.
	eurekadtest.Eventually(t, 15*time.Second, "the store answering after Redis came back", func() error {
		_, err := s.Get(ctx, k)
		return err
	})
	mustPut(t, s, rec("A", "4", "a", 4))
	equal(t, "after the outage", keys(t, s, ""), []string{"A/1=a@1", "A/4=a@4"})
}

func TestOpenUnreachable(t *testing.T) {
	srv := redistest.Start(t)
	addr := srv.Addr()
	srv.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	s, err := redis.Open(ctx, redis.Options{Addrs: []string{addr}, DialTimeout: 200 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with Redis down")
	}
	if !strings.Contains(err.Error(), "cannot reach Redis") || !strings.Contains(err.Error(), addr) {
		t.Errorf("Open error does not say what it could not reach: %v", err)
	}
	if took := time.Since(start); took >= 5*time.Second {
		t.Errorf("Open took %v to fail", took)
	}
}

func TestOpenAuthAndDB(t *testing.T) {
	srv := redistest.Start(t, redistest.Args("--requirepass", "s3cret"))
	ctx := testCtx(t)
	if _, err := redis.Open(ctx, redis.Options{URL: srv.URL()}); err == nil || !strings.Contains(err.Error(), "NOAUTH") ||
		!strings.Contains(err.Error(), "refused the connection") || strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("Open without the password: %v, want NOAUTH, reached and refused", err)
	}
	// The password may come in the URL or beside it; DB overrides the
	// URL's.
	inURL := strings.Replace(srv.URL(), "redis://", "redis://:s3cret@", 1)
	a := open(t, srv, redis.Options{URL: inURL})
	b := open(t, srv, redis.Options{URL: srv.URL(), Password: "s3cret", DB: 2})
	c := open(t, srv, redis.Options{Addrs: []string{srv.Addr()}, Password: "s3cret", DB: 2})
	mustPut(t, a, rec("A", "1", "db0", 1))
	mustPut(t, b, rec("A", "1", "db2", 1))
	equal(t, "db 0", keys(t, a, ""), []string{"A/1=db0@1"})
	equal(t, "db 2 by URL", keys(t, b, ""), []string{"A/1=db2@1"})
	equal(t, "db 2 by Addrs", keys(t, c, ""), []string{"A/1=db2@1"})
}

// TestOpenMissingDB checks that a database number the server does not have
// is reported as such, not as an unreachable Redis.
func TestOpenMissingDB(t *testing.T) {
	srv := redistest.Start(t, redistest.Args("--databases", "4"))
	ctx := testCtx(t)
	url := strings.TrimSuffix(srv.URL(), "/0") + "/9"
	for name, opts := range map[string]redis.Options{
		"by URL":   {URL: url},
		"by Addrs": {Addrs: []string{srv.Addr()}, DB: 9},
	} {
		s, err := redis.Open(ctx, opts)
		if err == nil {
			s.Close()
			t.Fatalf("%s: Open of database 9 on a server with 4 succeeded", name)
		}
		msg := err.Error()
		for _, want := range []string{"has no database 9", srv.Addr(), "DB index is out of range", `"databases" setting`} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: error %q does not contain %q", name, msg, want)
			}
		}
		if strings.Contains(msg, "cannot reach") {
			t.Errorf("%s: a reachable server reported as unreachable: %q", name, msg)
		}
	}
	// Database 3 exists.
	open(t, srv, redis.Options{URL: strings.TrimSuffix(srv.URL(), "/0") + "/3"})
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts redis.Options
		want string // "" for valid
	}{
		{"zero", redis.Options{}, ""},
		{"defaults", redis.DefaultOptions(), ""},
		{"url", redis.Options{URL: "rediss://h:6380/1"}, ""},
		{"sentinel", redis.Options{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster", DB: 1}, ""},
		{"cluster", redis.Options{Addrs: []string{"n1:6379", "n2:6379"}}, ""},
		{"cluster one seed", redis.Options{Addrs: []string{"n1:6379"}, Cluster: true}, ""},
		{"url and addrs", redis.Options{URL: "redis://h", Addrs: []string{"h:6379"}}, "either URL or Addrs"},
		{"url without scheme", redis.Options{URL: "localhost:6379"}, "URL has no scheme: want redis://host:port/db"},
		{"url and sentinel", redis.Options{URL: "redis://h", MasterName: "m"}, "URL names a single server"},
		{"sentinel and cluster", redis.Options{Addrs: []string{"h:1"}, MasterName: "m", Cluster: true}, "MasterName (Sentinel) or Cluster"},
		{"cluster db", redis.Options{Addrs: []string{"a:1", "b:1"}, DB: 3}, "only has database 0"},
		{"brace prefix", redis.Options{KeyPrefix: "x{y}:"}, "contains a brace"},
		{"negative timeout", redis.Options{ReadTimeout: -1}, "ReadTimeout -1ns is negative"},
	} {
		err := tc.opts.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := redis.Open(testCtx(t), redis.Options{KeyPrefix: "{x}"}); err == nil || !strings.Contains(err.Error(), "invalid options") {
		t.Errorf("Open with invalid options: %v", err)
	}
	if _, err := redis.Open(testCtx(t), redis.Options{URL: "http://h"}); err == nil || !strings.Contains(err.Error(), "invalid URL scheme") {
		t.Errorf("Open with an http URL: %v", err)
	}
}

// TestRedisHung pauses Redis (it accepts connections but never answers):
// calls end within their timeouts instead of hanging, a context deadline
// shorter than the timeouts ends them sooner, and the store recovers when
// Redis resumes.
func TestRedisHung(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 300 * time.Millisecond
	s := open(t, srv, redis.Options{DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout})
	mustPut(t, s, rec("A", "1", "a", 1))
	k := storage.Key{App: "A", ID: "1"}

	srv.Pause()
	start := time.Now()
	_, err := s.Get(testCtx(t), k)
	took := time.Since(start)
	t.Logf("get while Redis hangs: %v after %v", err, took.Round(time.Millisecond))
	if err == nil || !strings.HasPrefix(err.Error(), "redis: get A/1") {
		t.Fatalf("Get while Redis hangs: %v", err)
	}
	// Two attempts (MaxRetries 1) of one ReadTimeout each, plus slack.
	if took > 10*timeout {
		t.Errorf("Get took %v with a %v read timeout", took, timeout)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = s.Put(ctx, rec("A", "2", "a", 2))
	took = time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Put with a 50ms deadline while Redis hangs: %v, want context.DeadlineExceeded", err)
	}
	if took > timeout {
		t.Errorf("Put with a 50ms deadline took %v", took)
	}

	srv.Resume()
	eurekadtest.Eventually(t, 15*time.Second, "the store answering after Redis resumed", func() error {
		_, err := s.Get(testCtx(t), k)
		return err
	})
}

// TestSentinel opens the store through a sentinel: Addrs names the
// sentinel, MasterName the master, and the records land on the master.
func TestSentinel(t *testing.T) {
	master := redistest.Start(t, redistest.Args("--requirepass", "m-secret"))
	sentinel := redistest.StartSentinel(t, master, "registry")
	s := open(t, master, redis.Options{Addrs: []string{sentinel.Addr()}, MasterName: "registry", Password: "m-secret", DB: 1})
	mustPut(t, s, rec("A", "1", "a", 1))
	equal(t, "through the sentinel", keys(t, s, ""), []string{"A/1=a@1"})

	c := goredis.NewClient(&goredis.Options{Addr: master.Addr(), Password: "m-secret", DB: 1})
	defer c.Close()
	if n, err := c.HLen(testCtx(t), "eurekad:{eurekad}:app:A").Result(); err != nil || n != 1 {
		t.Fatalf("HLEN on the master, db 1 = %d, %v; want 1", n, err)
	}
	// A wrong master name fails at Open, clearly.
	_, err := redis.Open(testCtx(t), redis.Options{Addrs: []string{sentinel.Addr()}, MasterName: "nope", DialTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "sentinel") {
		t.Fatalf("Open with an unknown master name: %v", err)
	}
	t.Logf("unknown master: %v", err)
}

// TestColonPrefix: a prefix of just ":" still yields a real hash tag, so
// its store works on a cluster.
func TestColonPrefix(t *testing.T) {
	srv := redistest.Start(t, redistest.AppendOnly(false), redistest.Cluster())
	s := open(t, srv, redis.Options{Addrs: []string{srv.Addr()}, Cluster: true, KeyPrefix: ":"})
	ctx := testCtx(t)
	mustPut(t, s, rec("A", "1", "a", 1))
	if err := s.Batch(ctx, []storage.Op{{Delete: true, Record: rec("A", "1", "", 0)}, {Record: rec("B", "1", "b", 2)}}); err != nil {
		t.Fatal(err)
	}
	equal(t, "records", keys(t, s, ""), []string{"B/1=b@2"})
}
