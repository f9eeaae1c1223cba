package persist_test

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
)

// hugeID is an instance id no bbolt file can hold as a key (MaxKeySize is
// 32768), as measured in issue 13.
var hugeID = strings.Repeat("x", 40000)

// refuseHuge makes the fixture's store refuse hugeID, telling so with a
// *storage.RefusedError when typed, or with an error that says nothing of
// a refusal otherwise (a store that cannot tell).
func refuseHuge(f *fixture, typed bool) {
	f.store.SetRefuse(func(k storage.Key) error {
		switch {
		case k.ID != hugeID:
			return nil
		case typed:
			return &storage.RefusedError{Key: k, Reason: "key too long"}
		}
		return errors.New("key too long")
	})
}

// waitFor advances the bubble's clock until cond holds, failing after a
// minute of fake time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkRefusedOne checks the status of a persister whose store refuses
// exactly one record and is otherwise healthy.
func checkRefusedOne(t *testing.T, st persist.Status) {
	t.Helper()
	if st.Degraded || st.Refused != 1 || st.RefusedTotal == 0 || len(st.RecentRefused) == 0 {
		t.Fatalf("status with one refused record: degraded %v, refused %d, total %d, recent %d",
			st.Degraded, st.Refused, st.RefusedTotal, len(st.RecentRefused))
	}
	last := st.RecentRefused[len(st.RecentRefused)-1]
	if !strings.HasPrefix(last.Key, "A/xxx") || len(last.Key) > 2*storage.ExcerptBytes+10 || len(last.Reason) > 600 {
		t.Errorf("refusal listed as key %q (%d bytes), reason of %d bytes; want bounded excerpts",
			storage.Cut(last.Key, 80), len(last.Key), len(last.Reason))
	}
	if len(st.LastError) > 600 {
		t.Errorf("LastError is %d bytes", len(st.LastError))
	}
}

// The measured bug: one record the store refuses returned to the pending
// set, failed every later commit and left the store degraded for good. Now
// the rest of the group commits, the store stays healthy, the refused
// record's writer is told and everyone else is acknowledged.
func TestRefusedRecordDoesNotStopOthers(t *testing.T) {
	for _, policy := range []persist.FailurePolicy{persist.FailureServe, persist.FailureReject} {
		for _, typed := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/typed=%v", policy, typed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					testRefusedRecord(t, policy, typed)
				})
			})
		}
	}
}

func testRefusedRecord(t *testing.T, policy persist.FailurePolicy, typed bool) {
	f := start(t, func(o *persist.Options) { o.OnFailure = policy })
	refuseHuge(f, typed)
	ctx := context.Background()

	// Alone in its commit.
	f.reg.Register(inst("A", hugeID), false)
	err := f.p.CommitKey(ctx, "A", hugeID)
	if !errors.Is(err, storage.ErrRefused) {
		t.Fatalf("CommitKey of the refused record = %v; want ErrRefused", err)
	}
	if len(err.Error()) > 600 {
		t.Errorf("the refusal returned to the writer is %d bytes", len(err.Error()))
	}
	checkRefusedOne(t, f.p.Status())
	// A registration's acknowledgement follows the policy: served from
	// memory under serve, refused under reject.
	f.reg.Register(inst("A", hugeID), false)
	err = f.p.CommitHealing(ctx, "A", hugeID)
	if policy == persist.FailureServe && err != nil || policy == persist.FailureReject && !errors.Is(err, persist.ErrUnavailable) {
		t.Fatalf("CommitHealing of the refused record under %s = %v", policy, err)
	}

	// In one batch with others: the store fails while they are queued,
	// so the recovery flush takes them all at once.
	f.store.SetFail(errors.New("disk unplugged"))
	f.reg.Register(inst("A", "before"), false)
	f.p.Commit(ctx)
	waitFor(t, "degraded", func() bool { return f.p.Status().Degraded })
	for i := range 20 {
		f.reg.Register(inst("A", fmt.Sprint("i", i)), false)
	}
	f.reg.Register(inst("A", hugeID), false) // changed again: tried again
	f.store.SetFail(nil)
	waitFor(t, "recovery", func() bool { return !f.p.Status().Degraded })
	if err := f.p.Admit(); err != nil {
		t.Fatalf("Admit after recovery = %v", err)
	}
	for i := range 20 {
		id := fmt.Sprint("i", i)
		if err := f.p.CommitKey(ctx, "A", id); err != nil {
			t.Fatalf("CommitKey(%s) = %v", id, err)
		}
		if _, ok := f.stored("A", id); !ok {
			t.Fatalf("%s not stored beside the refused record", id)
		}
	}
	if err := f.p.CommitKey(ctx, "A", hugeID); !errors.Is(err, storage.ErrRefused) {
		t.Fatalf("CommitKey of the refused record after recovery = %v", err)
	}
	checkRefusedOne(t, f.p.Status())

	// Later writes commit as usual, under either policy.
	for i := range 5 {
		id := fmt.Sprint("after", i)
		f.reg.Register(inst("A", id), false)
		if err := f.p.Admit(); err != nil {
			t.Fatalf("Admit = %v", err)
		}
		if err := f.p.Commit(ctx); err != nil {
			t.Fatalf("Commit after a refusal = %v", err)
		}
		if _, ok := f.stored("A", id); !ok {
			t.Fatalf("%s acknowledged but not stored", id)
		}
	}
	if st := f.p.Status(); st.Degraded || st.Pending != 0 {
		t.Fatalf("status: degraded %v, pending %d", st.Degraded, st.Pending)
	}

	// Its cancel is stored (a delete the store takes), and it leaves the
	// refused set.
	f.reg.Cancel("A", hugeID, false)
	if err := f.p.CommitKey(ctx, "A", hugeID); err != nil {
		t.Fatalf("CommitKey of the cancel = %v", err)
	}
	if st := f.p.Status(); st.Refused != 0 {
		t.Fatalf("refused %d after the record was deleted", st.Refused)
	}
	if err := f.matchesRegistry(); err != nil {
		t.Fatal(err)
	}
}

// countingStore counts the batches that reach a store.
type countingStore struct {
	storage.Store
	batches atomic.Int64
}

func (c *countingStore) Batch(ctx context.Context, ops []storage.Op) error {
	c.batches.Add(1)
	return c.Store.(storage.Batcher).Batch(ctx, ops)
}

// A store that cannot say which record it refused costs O(log n) round
// trips to find it, not one per record; one that names it costs one.
func TestRefusalFoundInLogRoundTrips(t *testing.T) {
	const n = 1000
	for _, typed := range []bool{true, false} {
		t.Run(fmt.Sprintf("typed=%v", typed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				count := &countingStore{}
				wrap := func(s storage.Store) storage.Store { count.Store = s; return count }
				f := startWrapped(t, memory.New(), wrap, func(o *persist.Options) {
					o.Durability = persist.DurabilityAsync
					o.FlushInterval = time.Second
					o.BatchSize = n
				})
				refuseHuge(f, typed)
				synctest.Wait() // the first flush, of the generation record
				commits := f.p.Status().Commits
				for i := range n - 1 {
					f.reg.Register(inst("A", fmt.Sprint("i", i)), false)
				}
				f.reg.Register(inst("A", hugeID), false)
				count.batches.Store(0)
				waitFor(t, "the flush", func() bool { return f.p.Status().Commits > commits })

				got := count.batches.Load()
				// Each halving costs the failed batch, a probe and the good half.
				limit := int64(2) // the refused batch and the batch without it
				if !typed {
					limit = int64(4*bits.Len(n) + 4)
				}
				if got > limit {
					t.Errorf("%d batches to store %d records around one refused; want at most %d", got, n, limit)
				}
				t.Logf("%d batches", got)
				if st := f.p.Status(); st.Degraded || st.Refused != 1 || st.Written != n-1 {
					t.Fatalf("status: degraded %v, refused %d, written %d", st.Degraded, st.Refused, st.Written)
				}
				for i := range n - 1 {
					if _, ok := f.stored("A", fmt.Sprint("i", i)); !ok {
						t.Fatalf("i%d not stored", i)
					}
				}
			})
		})
	}
}

// A record refused by mistake (or by a store that changed its mind) is
// written at the next lease checkpoint without any change to it.
func TestRefusedRecordRetriedAtCheckpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := start(t, func(o *persist.Options) { o.CheckpointInterval = time.Minute })
		refuseHuge(f, false)
		f.reg.Register(inst("A", hugeID), false)
		if err := f.p.CommitKey(context.Background(), "A", hugeID); !errors.Is(err, storage.ErrRefused) {
			t.Fatalf("CommitKey = %v; want ErrRefused", err)
		}
		f.store.SetRefuse(nil)
		waitFor(t, "the checkpoint", func() bool { _, ok := f.stored("A", hugeID); return ok })
		waitFor(t, "the refused set to empty", func() bool { return f.p.Status().Refused == 0 })
		if st := f.p.Status(); st.RefusedTotal != 1 {
			t.Errorf("RefusedTotal = %d; want 1", st.RefusedTotal)
		}
	})
}

// A store that refuses every write, the probe's included, is down, not
// refusing records.
func TestRefusingEverythingIsAnOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := start(t, func(o *persist.Options) { o.OnFailure = persist.FailureReject })
		f.store.SetRefuse(func(storage.Key) error { return errors.New("read-only replica") })
		f.reg.Register(inst("A", "i1"), false)
		if err := f.p.Commit(context.Background()); !errors.Is(err, persist.ErrUnavailable) {
			t.Fatalf("Commit = %v; want ErrUnavailable", err)
		}
		if st := f.p.Status(); !st.Degraded || st.Refused != 0 || st.Pending != 1 {
			t.Fatalf("status: degraded %v, refused %d, pending %d", st.Degraded, st.Refused, st.Pending)
		}
		f.store.SetRefuse(nil)
		waitFor(t, "recovery", func() bool { _, ok := f.stored("A", "i1"); return ok })
	})
}

// A record taken as refused without the store saying so may have been
// refused by mistake (a full disk takes the small probe, not the record):
// it is written again every VerifyInterval, long before the checkpoint. A
// record the store says it refuses is not.
func TestGuessedRefusalRetriedAtVerify(t *testing.T) {
	for _, typed := range []bool{false, true} {
		t.Run(fmt.Sprintf("typed=%v", typed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := start(t, func(o *persist.Options) {
					o.CheckpointInterval = time.Hour
					o.VerifyInterval = 5 * time.Second
				})
				refuseHuge(f, typed)
				f.reg.Register(inst("A", hugeID), false)
				if err := f.p.CommitKey(context.Background(), "A", hugeID); !errors.Is(err, storage.ErrRefused) {
					t.Fatalf("CommitKey = %v; want ErrRefused", err)
				}
				f.store.SetRefuse(nil)
				if typed {
					time.Sleep(time.Minute)
					if _, ok := f.stored("A", hugeID); ok {
						t.Fatal("a record the store said it refuses was written again before the checkpoint")
					}
					return
				}
				waitFor(t, "the retry", func() bool { _, ok := f.stored("A", hugeID); return ok })
				waitFor(t, "the refused set to empty", func() bool { return f.p.Status().Refused == 0 })
			})
		})
	}
}

// A writer whose change the store refused hears so even when another
// writer changed the same record again during that flush: the record was
// pending again when the first writer looked, and it was told "stored"
// for a version the store had refused. Now it waits for the flush that
// tries the record again (refused again here).
func TestRefusalNotHiddenByALaterChange(t *testing.T) {
	for _, typed := range []bool{true, false} {
		t.Run(fmt.Sprintf("typed=%v", typed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// A request under way that never ends holds every flush after
				// a group of several keys for CommitDelay: the window in which
				// the first writer looks, wide open.
				f := start(t, func(o *persist.Options) { o.CommitDelay = time.Second })
				f.p.Begin()
				synctest.Wait() // the first flush (the generation record) is done
				ctx := context.Background()
				var changedDuringFlush atomic.Bool
				f.store.SetRefuse(func(k storage.Key) error {
					if k.ID != hugeID {
						return nil
					}
					if !changedDuringFlush.Swap(true) {
						f.reg.Register(inst("A", hugeID), false) // another writer, mid-flush
					}
					if typed {
						return &storage.RefusedError{Key: k, Reason: "key too long"}
					}
					return errors.New("key too long")
				})
				f.reg.Register(inst("A", "other"), false)
				f.reg.Register(inst("A", hugeID), false)
				if err := f.p.CommitKey(ctx, "A", hugeID); !errors.Is(err, storage.ErrRefused) {
					t.Fatalf("CommitKey = %v; want ErrRefused", err)
				}

				synctest.Wait()
				changedDuringFlush.Store(false)
				f.reg.Register(inst("A", "other2"), false)
				f.reg.Register(inst("A", hugeID), false)
				if err := f.p.CommitDurable(ctx, "A", hugeID); !errors.Is(err, storage.ErrRefused) {
					t.Fatalf("CommitDurable = %v; want ErrRefused", err)
				}
			})
		})
	}
}
