package persist_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/redistest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
	"github.com/eurekad/eurekad/storage/redis"
)

// replaceAll makes s hold exactly recs, as a store that lost or rolled
// back its data would.
func replaceAll(t *testing.T, s storage.Store, recs []storage.Record) {
	t.Helper()
	ctx := context.Background()
	all, err := storage.All(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	var ops []storage.Op
	for _, r := range all {
		ops = append(ops, storage.Op{Delete: true, Record: r})
	}
	for _, r := range recs {
		ops = append(ops, storage.Op{Record: r})
	}
	if err := storage.ApplyBatch(ctx, s, ops); err != nil {
		t.Fatal(err)
	}
}

const verifyEvery = 5 * time.Second

// An emptied store (FLUSHALL, a Redis restarted without its data) is found
// by the periodic check and rewritten from memory, with no write to
// trigger it; a store that holds what was written is never rewritten.
func TestEmptiedStoreIsRewritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := memory.New()
		logs := &eurekadtest.SyncBuffer{}
		f := startOn(t, inner, func(o *persist.Options) {
			o.VerifyInterval = verifyEvery
			o.Logger = slogTo(logs)
		})
		ctx := context.Background()
		for i := range 50 {
			f.reg.Register(inst(fmt.Sprint("APP", i%5), fmt.Sprint("i", i)), false)
		}
		f.p.Commit(ctx)
		time.Sleep(3 * verifyEvery) // checks that find nothing wrong
		if st := f.p.Status(); st.Resyncs != 0 {
			t.Fatalf("a healthy store was rewritten: %q", st.ResyncReason)
		}

		replaceAll(t, inner, nil)
		time.Sleep(verifyEvery)
		synctest.Wait()
		if err := f.matchesRegistry(); err != nil {
			t.Fatalf("one check after the store was emptied: %v", err)
		}
		st := f.p.Status()
		if st.Resyncs != 1 || st.Resyncing || st.Degraded || !strings.Contains(st.ResyncReason, "no generation record") {
			t.Fatalf("status after the rewrite: resyncs %d, resyncing %v, degraded %v, reason %q",
				st.Resyncs, st.Resyncing, st.Degraded, st.ResyncReason)
		}
		if !strings.Contains(logs.String(), "rewriting the registry from memory") {
			t.Errorf("the rewrite was not logged:\n%s", logs.String())
		}
		time.Sleep(3 * verifyEvery) // the new generation is recognised
		if st := f.p.Status(); st.Resyncs != 1 {
			t.Fatalf("rewritten %d times; want once", st.Resyncs)
		}
	})
}

// A store that comes back from an outage holding an older state (a
// failover to a replica that lagged) is found before the retry writes over
// it, and rewritten: records written since are back, and a record
// cancelled since is deleted.
func TestRolledBackStoreIsRewritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := memory.New()
		f := startOn(t, inner, func(o *persist.Options) { o.VerifyInterval = time.Hour })
		ctx := context.Background()
		for i := range 20 {
			f.reg.Register(inst("A", fmt.Sprint("i", i)), false)
		}
		f.p.Commit(ctx)
		replica, err := storage.All(ctx, inner, "") // the replica stops here
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			f.reg.Register(inst("A", fmt.Sprint("late", i)), false)
			f.p.Commit(ctx)
		}
		f.reg.Cancel("A", "i0", false)
		f.p.Commit(ctx)

		// The failover: the primary fails a flush, the replica takes over.
		f.store.SetFail(errors.New("connection reset"))
		f.reg.Register(inst("A", "during"), false)
		f.p.Commit(ctx)
		replaceAll(t, inner, replica)
		f.store.SetFail(nil)
		waitFor(t, "the rewrite", func() bool { st := f.p.Status(); return st.Resyncs == 1 && !st.Degraded })
		if err := f.matchesRegistry(); err != nil {
			t.Fatal(err)
		}
		if st := f.p.Status(); !strings.Contains(st.ResyncReason, "lost writes") {
			t.Errorf("reason %q; want the sequence that went back", st.ResyncReason)
		}
	})
}

// Status reports the rewrite while it is under way, and writers are not
// refused for it.
func TestResyncReportedUntilDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := memory.New()
		f := startOn(t, inner, func(o *persist.Options) {
			o.VerifyInterval = verifyEvery
			o.OnFailure = persist.FailureReject
		})
		ctx := context.Background()
		f.reg.Register(inst("A", "i1"), false)
		f.p.Commit(ctx)
		replaceAll(t, inner, nil)
		// Every store call takes a second: the check's Get finds no
		// generation record at 6 s, the rewrite's Scan ends at 7 s, its
		// batch at 8 s.
		f.store.SetDelay(time.Second)
		time.Sleep(verifyEvery + 2500*time.Millisecond)
		st := f.p.Status()
		if !st.Resyncing || !st.Degraded || st.ResyncReason == "" {
			t.Fatalf("during the rewrite: resyncing %v, degraded %v, reason %q", st.Resyncing, st.Degraded, st.ResyncReason)
		}
		if err := f.p.Admit(); err != nil {
			t.Fatalf("Admit during a rewrite = %v; the store is up", err)
		}
		f.store.SetDelay(0)
		waitFor(t, "the rewrite", func() bool { return !f.p.Status().Resyncing })
		if err := f.matchesRegistry(); err != nil {
			t.Fatal(err)
		}
	})
}

// Two processes writing one store (two eurekads on one Redis key prefix,
// a documented misconfiguration) each find the other's generation: they
// must say so clearly and space their rewrites out, not rewrite the whole
// registry at every check for as long as both run.
func TestTwoWritersBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := memory.New()
		logs := &eurekadtest.SyncBuffer{}
		mod := func(o *persist.Options) {
			o.VerifyInterval = verifyEvery
			o.Logger = slogTo(logs)
		}
		a, b := startOn(t, inner, mod), startOn(t, inner, mod)
		for i := range 10 {
			a.reg.Register(inst("A", fmt.Sprint("i", i)), false)
			b.reg.Register(inst("A", fmt.Sprint("i", i)), false)
		}
		a.p.Commit(context.Background())
		b.p.Commit(context.Background())
		time.Sleep(10 * time.Minute)
		// At every check, 120 each; backing off, a handful.
		for name, f := range map[string]*fixture{"a": a, "b": b} {
			if n := f.p.Status().Resyncs; n == 0 || n > 20 {
				t.Errorf("%s rewrote the store %d times in 10 minutes; want a few", name, n)
			}
		}
		if !strings.Contains(logs.String(), "another process seems to write this store") {
			t.Errorf("two writers not named in the logs:\n%s", logs.String())
		}
	})
}

// The real thing: FLUSHALL on the Redis behind eurekad. Within a few
// verify intervals Redis holds the whole registry again.
func TestRedisFlushAllIsRewritten(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	db, err := redis.Open(ctx, redis.Options{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const every = 200 * time.Millisecond
	f := startOn(t, db, func(o *persist.Options) { o.VerifyInterval = every })
	for i := range 500 {
		f.reg.Register(inst(fmt.Sprint("APP", i%7), fmt.Sprint("i", i)), false)
	}
	if err := f.p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.matchesRegistry(); err != nil {
		t.Fatal(err)
	}
	opt, err := goredis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	admin := goredis.NewClient(opt)
	defer admin.Close()
	if err := admin.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eurekadtest.Eventually(t, 20*every, "Redis holding the registry again", f.matchesRegistry)
	t.Logf("rewritten %v after FLUSHALL (verify interval %v)", time.Since(start).Round(time.Millisecond), every)
	if st := f.p.Status(); st.Resyncs != 1 {
		t.Errorf("resyncs %d; want 1", st.Resyncs)
	}
}

// HideMarkers leaves the persister's records out of Scan and Snapshot and
// keeps the store's abilities.
func TestHideMarkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := memory.New()
		f := startOn(t, inner, nil)
		f.reg.Register(inst("A", "i1"), false)
		f.p.Commit(context.Background())
		all, _ := storage.All(context.Background(), inner, "")
		markers := 0
		for _, r := range all {
			if persist.IsMarker(r.Key) {
				markers++
			}
		}
		if markers != 2 {
			t.Fatalf("%d marker records in the store; want the generation and the sequence", markers)
		}
		h := persist.HideMarkers(inner)
		if n, _ := storage.Count(context.Background(), h, ""); n != 1 {
			t.Errorf("Scan through HideMarkers sees %d records; want 1", n)
		}
		sn, ok := h.(storage.Snapshotter)
		if _, isB := h.(storage.Batcher); !ok || !isB {
			t.Fatal("HideMarkers dropped the store's abilities")
		}
		n := 0
		sn.Snapshot(context.Background(), func(storage.Record) error { n++; return nil })
		if n != 1 {
			t.Errorf("Snapshot through HideMarkers sees %d records; want 1", n)
		}
	})
}
