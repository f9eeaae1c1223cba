package persist_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/sdk/storage/storagetest"
	"github.com/eurekad/eurekad/storage/memory"
)

func inst(app, id string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID:     id,
		HostName:       id + ".example.com",
		App:            app,
		IPAddr:         "10.0.0.1",
		Status:         eureka.StatusUp,
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		Metadata:       map[string]string{"zone": "a"},
	}
}

type fixture struct {
	t      *testing.T
	reg    *registry.Registry
	store  storagetest.FaultyStore
	p      *persist.Persister
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func start(t *testing.T, mod func(*persist.Options)) *fixture {
	t.Helper()
	return startOn(t, memory.New(), mod)
}

// startOn runs a persister of a new registry into inner, through a
// FaultyStore.
func startOn(t *testing.T, inner storage.Store, mod func(*persist.Options)) *fixture {
	t.Helper()
	return startWrapped(t, inner, nil, mod)
}

// startWrapped is startOn with the persister writing through wrap(the
// FaultyStore) when wrap is not nil.
func startWrapped(t *testing.T, inner storage.Store, wrap func(storage.Store) storage.Store, mod func(*persist.Options)) *fixture {
	t.Helper()
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	store := storagetest.Faulty(inner)
	o := persist.DefaultOptions()
	o.MaxBackoff = 50 * time.Millisecond
	if mod != nil {
		mod(&o)
	}
	var target storage.Store = store
	if wrap != nil {
		target = wrap(store)
	}
	p, err := persist.New(target, reg, &o)
	if err != nil {
		t.Fatal(err)
	}
	reg.SetChangeFunc(p.Changed)
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{t: t, reg: reg, store: store, p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { f.done <- p.Run(ctx) }()
	t.Cleanup(f.stop)
	return f
}

func (f *fixture) stop() {
	f.once.Do(func() {
		f.cancel()
		select {
		case <-f.done:
		case <-time.After(10 * time.Second):
			f.t.Fatal("persister did not stop")
		}
	})
}

func (f *fixture) stored(app, id string) (storage.Record, bool) {
	r, err := f.store.Get(context.Background(), storage.Key{App: app, ID: id})
	if errors.Is(err, storage.ErrNotFound) {
		return r, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return r, true
}

// matchesRegistry reports whether the store holds exactly the registry.
func (f *fixture) matchesRegistry() error {
	want := map[storage.Key][]byte{}
	for _, r := range f.reg.Records() {
		want[r.Key] = r.Value
	}
	got, err := storage.All(context.Background(), persist.HideMarkers(f.store), "")
	if err != nil {
		return err
	}
	if len(got) != len(want) {
		return fmt.Errorf("store holds %d records, registry %d", len(got), len(want))
	}
	for _, r := range got {
		if !bytes.Equal(want[r.Key], r.Value) {
			return fmt.Errorf("record %v differs from the registry", r.Key)
		}
	}
	return nil
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSyncCommitMeansStored(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		id := fmt.Sprint("i", i)
		f.reg.Register(inst("A", id), false)
		if err := f.p.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.stored("A", id); !ok {
			t.Fatalf("%s acknowledged but not stored", id)
		}
	}
	f.reg.SetStatus("A", "i3", eureka.StatusOutOfService, 0, false)
	f.p.Commit(ctx)
	f.reg.Cancel("A", "i4", false)
	f.p.Commit(ctx)
	if _, ok := f.stored("A", "i4"); ok {
		t.Fatal("cancelled instance still stored")
	}
	if err := f.matchesRegistry(); err != nil {
		t.Fatal(err)
	}
}

func TestGroupCommitCoalescesByKey(t *testing.T) {
	f := start(t, nil)
	f.store.SetDelay(20 * time.Millisecond)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				f.reg.UpdateMetadata("A", "hot", map[string]string{"n": fmt.Sprint(i)})
				if i%20 == 0 {
					f.reg.Register(inst("A", "hot"), false)
				}
			}
		}()
	}
	f.reg.Register(inst("A", "hot"), false)
	wg.Wait()
	if pending := f.p.Status().Pending; pending > 1 {
		t.Fatalf("one hot key left %d pending entries: the pending set must be bounded by keys", pending)
	}
	if err := f.p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := f.p.Status()
	// 1,600+ changes of one key; each flush takes 20 ms, so only a handful
	// of flushes can have happened, each writing the key once.
	if st.Written > st.Commits || st.Commits > 100 {
		t.Fatalf("%d keys written in %d commits for one hot key", st.Written, st.Commits)
	}
	if err := f.matchesRegistry(); err != nil {
		t.Fatal(err)
	}
}

func TestAsyncFlushesWithinInterval(t *testing.T) {
	f := start(t, func(o *persist.Options) {
		o.Durability = persist.DurabilityAsync
		o.FlushInterval = 20 * time.Millisecond
	})
	f.reg.Register(inst("A", "i1"), false)
	begin := time.Now()
	if err := f.p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) > 10*time.Millisecond {
		t.Fatal("async commit waited")
	}
	eventually(t, "the async flush", func() bool { _, ok := f.stored("A", "i1"); return ok })
}

func TestStoreFailureServeKeepsPendingAndRecovers(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	f.reg.Register(inst("A", "before"), false)
	f.p.Commit(ctx)

	f.store.SetFail(errors.New("disk on fire"))
	for i := 0; i < 20; i++ {
		f.reg.Register(inst("A", fmt.Sprint("during", i)), false)
		if err := f.p.Admit(); err != nil {
			t.Fatalf("serve policy refused a write: %v", err)
		}
		if err := f.p.Commit(ctx); err != nil {
			t.Fatalf("serve policy failed a write: %v", err)
		}
	}
	f.reg.Cancel("A", "before", false)
	f.p.Commit(ctx)
	eventually(t, "degraded status", func() bool { return f.p.Status().Degraded })
	if st := f.p.Status(); st.Pending == 0 || st.LastError == "" {
		t.Fatalf("status while failing: %+v", st)
	}

	f.store.SetFail(nil)
	eventually(t, "recovery", func() bool { return !f.p.Status().Degraded && f.p.Status().Pending == 0 })
	if err := f.matchesRegistry(); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestStoreFailureReject(t *testing.T) {
	f := start(t, func(o *persist.Options) { o.OnFailure = persist.FailureReject })
	ctx := context.Background()
	f.store.SetFail(errors.New("unreachable"))
	f.reg.Register(inst("A", "i1"), false)
	if err := f.p.Commit(ctx); !errors.Is(err, persist.ErrUnavailable) {
		t.Fatalf("failed commit answered %v, want ErrUnavailable", err)
	}
	if err := f.p.Admit(); !errors.Is(err, persist.ErrUnavailable) {
		t.Fatalf("Admit while failing = %v", err)
	}
	f.store.SetFail(nil)
	eventually(t, "recovery", func() bool { return f.p.Admit() == nil })
	if _, ok := f.stored("A", "i1"); !ok {
		t.Fatal("the unacknowledged write was not stored after recovery")
	}
}

func TestCheckpointWritesLeaseTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := start(t, func(o *persist.Options) { o.CheckpointInterval = 30 * time.Millisecond })
		f.reg.Register(inst("A", "i1"), false)
		f.p.Commit(context.Background())
		first, _ := f.stored("A", "i1")
		time.Sleep(5 * time.Millisecond)
		f.reg.Renew("A", "i1", registry.RenewArgs{})
		eventually(t, "a checkpoint with the renewal", func() bool {
			r, _ := f.stored("A", "i1")
			return !bytes.Equal(r.Value, first.Value)
		})
	})
}

func TestShutdownFlushesPending(t *testing.T) {
	f := start(t, func(o *persist.Options) {
		o.Durability = persist.DurabilityAsync
		o.FlushInterval = time.Hour
	})
	for i := 0; i < 100; i++ {
		f.reg.Register(inst("A", fmt.Sprint("i", i)), false)
	}
	f.stop()
	if n, _ := storage.Count(context.Background(), persist.HideMarkers(f.store), ""); n != 100 {
		t.Fatalf("%d of 100 pending changes stored at shutdown", n)
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		f.reg.Register(inst(fmt.Sprint("APP", i%3), fmt.Sprint("i", i)), false)
	}
	f.reg.SetStatus("APP0", "i0", eureka.StatusOutOfService, 0, false)
	f.reg.UpdateMetadata("APP1", "i1", map[string]string{"color": "blue"})
	f.p.Commit(ctx)
	f.store.Put(ctx, storage.Record{Key: storage.Key{App: "APP9", ID: "junk"}, Value: []byte("not json")})

	r2 := registry.New(nil)
	restored, skipped, err := r2.Restore(ctx, persist.HideMarkers(f.store))
	if err != nil || restored != 30 || skipped != 1 {
		t.Fatalf("restore = %d, %d, %v", restored, skipped, err)
	}
	r2.OpenForTraffic(restored)
	if st := r2.SelfPreservationState(); st.ExpectedClients != 30 {
		t.Fatalf("self-preservation seeded with %d", st.ExpectedClients)
	}
	got := r2.Instance("APP0", "i0")
	if got == nil || got.Status != eureka.StatusOutOfService || r2.Overrides()["i0"] != eureka.StatusOutOfService {
		t.Fatalf("override not restored: %+v", got)
	}
	if got := r2.Instance("APP1", "i1"); got.Metadata["color"] != "blue" || got.Metadata["zone"] != "a" {
		t.Fatalf("metadata not restored: %v", got.Metadata)
	}
	old, now := f.reg.Instance("APP2", "i2"), r2.Instance("APP2", "i2")
	if old.LeaseInfo.RegistrationTimestamp != now.LeaseInfo.RegistrationTimestamp ||
		old.LastDirtyTimestamp != now.LastDirtyTimestamp || old.LeaseInfo.ServiceUpTimestamp != now.LeaseInfo.ServiceUpTimestamp {
		t.Fatalf("lease bookkeeping not restored:\n%+v\n%+v", old.LeaseInfo, now.LeaseInfo)
	}
	if r2.Applications().AppsHashcode != f.reg.Applications().AppsHashcode {
		t.Fatal("restored registry differs")
	}
	// The client may renew at once: the restored lease is live.
	if res, _ := r2.Renew("APP2", "i2", registry.RenewArgs{}); res != registry.RenewOK {
		t.Fatalf("renew after restore = %v", res)
	}
}

func TestOptionsValidate(t *testing.T) {
	o := persist.DefaultOptions()
	o.Durability = "eventually"
	if _, err := persist.New(memory.New(), registry.New(nil), &o); err == nil {
		t.Fatal("bad durability accepted")
	}
}

// While writers are concurrent the flusher waits, at most CommitDelay,
// for the write requests under way (Begin) to reach Commit, so they share
// the commit; it does not wait when none is under way, nor for a lone
// writer (the last group held one change).
func TestCommitDelayGathersWritersUnderWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 10 * time.Second // far above every wait below: reaching it fails the test
		// No periodic flush: it would commit a change without the delay.
		f := start(t, func(o *persist.Options) { o.CommitDelay, o.FlushInterval = delay, time.Hour })
		ctx := context.Background()
		commit := func() <-chan error {
			errs := make(chan error, 1)
			go func() { errs <- f.p.Commit(ctx) }()
			return errs
		}
		within := func(what string, errs <-chan error) {
			t.Helper()
			select {
			case err := <-errs:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(delay / 2):
				t.Fatalf("%s: the commit waited for the commit delay", what)
			}
		}

		// A lone writer, with another request under way: no wait.
		f.p.Begin()
		f.p.Begin()
		f.reg.Register(inst("A", "lone"), false)
		f.p.End()
		within("lone writer", commit())
		f.p.End()

		// Changes made while the store is busy form one group of several,
		// which marks the writers as concurrent. The store holds the busy
		// flush (in its refusal check, which sees every record) until both
		// are made: with a delay instead, a writer held up on a loaded machine
		// split them into two groups of one.
		concurrent := func(id string) {
			t.Helper()
			inBatch, release := make(chan struct{}), make(chan struct{})
			f.store.SetRefuse(func(k storage.Key) error {
				if k.ID == id {
					close(inBatch)
					<-release
				}
				return nil
			})
			defer f.store.SetRefuse(nil)
			f.reg.Register(inst("A", id), false)
			busy := commit()
			<-inBatch
			f.reg.Register(inst("A", id+"-x"), false)
			f.reg.Register(inst("A", id+"-y"), false)
			close(release)
			within("busy", busy)
			within("group", commit())
		}
		concurrent("busy")

		// Concurrent, but nobody else under way: no wait.
		f.reg.Register(inst("A", "alone"), false)
		within("none under way", commit())
		// That commit held one change: make the writers concurrent again.
		concurrent("busy2")
		before := f.p.Status()

		// waiting makes a change with a second request under way and commits:
		// the commit must still be waiting for that request 100 ms later.
		waiting := func(id string) <-chan error {
			t.Helper()
			f.p.Begin()
			f.p.Begin()
			f.reg.Register(inst("A", id), false)
			f.p.End()
			errs := commit()
			time.Sleep(100 * time.Millisecond)
			select {
			case err := <-errs:
				t.Fatalf("%s: the commit did not wait for the request under way (err %v)", id, err)
			default:
			}
			return errs
		}

		// A second request is under way when the first commits: the commit
		// waits for it, and both changes are stored by one commit.
		first := waiting("first")
		f.reg.Register(inst("A", "second"), false)
		f.p.End()
		second := commit()
		within("first", first)
		within("second", second)
		after := f.p.Status()
		if after.Commits-before.Commits != 1 || after.Written-before.Written != 2 {
			t.Fatalf("%d commits wrote %d keys; want both writers in one commit",
				after.Commits-before.Commits, after.Written-before.Written)
		}
		if _, ok := f.stored("A", "second"); !ok {
			t.Fatal("the second writer's change is not stored")
		}

		// A request under way that ends without a change releases the wait.
		third := waiting("third")
		f.p.End()
		within("after End", third)
	})
}

// gatedStore holds every Batch until the test releases it.
type gatedStore struct {
	storage.Store
	calls chan chan struct{}
}

func (g *gatedStore) Batch(ctx context.Context, ops []storage.Op) error {
	release := make(chan struct{})
	g.calls <- release
	<-release
	return g.Store.(storage.Batcher).Batch(ctx, ops)
}

// A Commit that finds nothing pending still waits for the flush being
// written (its change may be in it); with no flush in flight it returns at
// once.
func TestCommitWithNothingPending(t *testing.T) {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	store := &gatedStore{Store: memory.New(), calls: make(chan chan struct{}, 8)}
	o := persist.DefaultOptions()
	o.FlushInterval, o.CommitDelay = time.Hour, 0
	p, err := persist.New(store, reg, &o)
	if err != nil {
		t.Fatal(err)
	}
	reg.SetChangeFunc(p.Changed)
	// Nothing changed, nothing in flight: at once, without the flusher
	// (which is not running yet) having to answer.
	quick, cancelQuick := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelQuick()
	if err := p.Commit(quick); err != nil {
		t.Fatalf("a commit with nothing to store = %v, want nil at once", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// Every batch the test took is released at the end, even after a
	// failure, so that the persister can stop.
	var taken []chan struct{}
	released := map[chan struct{}]bool{}
	release := func(r chan struct{}) {
		if !released[r] {
			released[r] = true
			close(r)
		}
	}
	defer func() {
		cancel()
		for _, r := range taken {
			release(r)
		}
		stopped := make(chan struct{})
		go func() { // the final flush's batches
			for {
				select {
				case r := <-store.calls:
					close(r)
				case <-stopped:
					return
				}
			}
		}()
		<-done
		close(stopped)
	}()
	commit := func() <-chan error {
		errs := make(chan error, 1)
		go func() { errs <- p.Commit(context.Background()) }()
		return errs
	}

	// The first flush writes the generation record.
	select {
	case r := <-store.calls:
		close(r)
	case <-time.After(10 * time.Second):
		t.Fatal("the first flush did not write the generation record")
	}
	reg.Register(inst("A", "a"), false)
	first := commit()
	var batch chan struct{}
	select {
	case batch = <-store.calls:
		taken = append(taken, batch)
	case <-time.After(10 * time.Second):
		t.Fatal("no batch reached the store")
	}
	// The change is in the flush being written: a second Commit waits
	// for that flush, not for another one.
	second := commit()
	select {
	case err := <-second:
		t.Fatalf("acknowledged before the flush in flight ended (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	release(batch)
	for _, errs := range []<-chan error{first, second} {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("not acknowledged after the flush ended")
		}
	}
	select {
	case r := <-store.calls:
		taken = append(taken, r)
		t.Fatal("a second batch was written for a change already stored")
	case <-time.After(100 * time.Millisecond):
	}
	if rec, err := store.Store.Get(context.Background(), storage.Key{App: "A", ID: "a"}); err != nil || len(rec.Value) == 0 {
		t.Fatalf("the change is not stored: %v", err)
	}
}

// A write that does not heal by itself is acknowledged only once stored,
// in every durability and failure policy: while the store fails it is
// refused up front (AdmitDurable) or its commit fails (CommitDurable), and
// once the store is back its acknowledgement means the record holds it.
func TestDurableWritesNeedTheStore(t *testing.T) {
	for _, d := range []persist.Durability{persist.DurabilitySync, persist.DurabilityAsync} {
		for _, pol := range []persist.FailurePolicy{persist.FailureServe, persist.FailureReject} {
			t.Run(string(d)+"/"+string(pol), func(t *testing.T) {
				f := start(t, func(o *persist.Options) { o.Durability, o.OnFailure = d, pol })
				ctx := context.Background()
				f.reg.Register(inst("A", "i1"), false)
				if err := f.p.CommitDurable(ctx, "A", "i1"); err != nil {
					t.Fatal(err)
				}
				f.store.SetFail(errors.New("disk full"))
				f.reg.SetStatus("A", "i1", eureka.StatusOutOfService, 0, false)
				err := f.p.CommitDurable(ctx, "A", "i1")
				if !errors.Is(err, persist.ErrUnavailable) || !strings.Contains(err.Error(), "disk full") {
					t.Fatalf("override while the store fails: %v", err)
				}
				if err := f.p.AdmitDurable(); !errors.Is(err, persist.ErrUnavailable) {
					t.Fatalf("AdmitDurable while failing: %v", err)
				}
				f.store.SetFail(nil)
				eventually(t, "recovery", func() bool { return f.p.AdmitDurable() == nil })
				f.reg.UpdateMetadata("A", "i1", map[string]string{"owner": "ops"})
				if err := f.p.CommitDurable(ctx, "A", "i1"); err != nil {
					t.Fatalf("after recovery: %v", err)
				}
				rec, ok := f.stored("A", "i1")
				if !ok || !bytes.Contains(rec.Value, []byte(`"owner":"ops"`)) || !bytes.Contains(rec.Value, []byte("OUT_OF_SERVICE")) {
					t.Fatalf("acknowledged, yet the record holds %s", rec.Value)
				}
			})
		}
	}
}
