package memtrim

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

func TestWorth(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		name string
		h    Heap
		want bool
	}{
		{"collected burst", Heap{Free: 256 * mb, Objects: 94 * mb, Live: 94 * mb, Collected: true}, true},
		{"too little to matter", Heap{Free: 40 * mb, Objects: 10 * mb, Live: 10 * mb}, false},
		{"normal headroom", Heap{Free: 100 * mb, Objects: 400 * mb, Live: 400 * mb, Collected: true}, false},
		{"idle after a burst", Heap{Free: 10 * mb, Objects: 5000 * mb, Live: 900 * mb}, true},
		{"busy: garbage is reused", Heap{Free: 10 * mb, Objects: 1700 * mb, Live: 900 * mb, Collected: true}, false},
	} {
		if got := Worth(c.h); got != c.want {
			t.Errorf("%s: Worth(%+v) = %v, want %v", c.name, c.h, got, c.want)
		}
	}
}

func heapFree() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestRunReleasesABurst leaves a few hundred megabytes of garbage behind
// and waits for Run to hand the free heap back.
func TestRunReleasesABurst(t *testing.T) {
	var keep [][]byte
	for range 300 {
		keep = append(keep, make([]byte, 1<<20))
	}
	for i := range keep {
		keep[i][0] = 1
	}
	keep = nil
	runtime.GC()
	t.Logf("free heap after the burst: %d MB", heapFree()>>20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, 10*time.Millisecond) }()
	eurekadtest.Eventually(t, 10*time.Second, "free heap returned", func() error {
		if f := heapFree(); f >= minFree {
			return fmt.Errorf("%d MB free", f>>20)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestHeadroomPercent(t *testing.T) {
	const mb = 1 << 20
	h := DefaultHeadroom
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100}, {10 * mb, 100}, {256 * mb, 100}, {512 * mb, 50}, {1024 * mb, 25}, {4096 * mb, 25},
	} {
		if got := h.Percent(c.live); got != c.want {
			t.Errorf("Percent(%d MB) = %d, want %d", c.live/mb, got, c.want)
		}
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestTuneFollowsTheLiveHeap keeps a live heap of 64 MB under a policy
// whose headroom is 16 MB, and waits for Tune to lower GOGC to 25; once the
// heap is let go, back to 100.
func TestTuneFollowsTheLiveHeap(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Fatal("run this test without GOGC and GOMEMLIMIT: Tune leaves an operator's choice alone")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	keep := make([][]byte, 64)
	for i := range keep {
		keep[i] = make([]byte, 1<<20)
		keep[i][0] = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Tune(ctx, Headroom{Min: 16 << 20, Floor: 25}, 5*time.Millisecond) }()
	wait := func(want uint64) {
		eurekadtest.Eventually(t, 10*time.Second, fmt.Sprintf("GOGC %d", want), func() error {
			runtime.GC() // Tune looks after a collection
			if g := gogc(); g != want {
				return fmt.Errorf("GOGC is %d", g)
			}
			return nil
		})
	}
	wait(25)
	runtime.KeepAlive(keep)
	keep = nil
	wait(100)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestGrowing: a growing phase runs with GrowingPercent, Tune leaves it
// alone meanwhile, and the previous GOGC comes back after it; an
// operator's GOGC or GOMEMLIMIT is left alone.
func TestGrowing(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetGCPercent(debug.SetGCPercent(70))

	end := Growing()
	if got := gogc(); got != GrowingPercent {
		t.Fatalf("while growing GOGC = %d, want %d", got, GrowingPercent)
	}
	// A policy that sets 25 for this heap: Tune must wait.
	tn := tuner{h: Headroom{Min: 1, Floor: 25}}
	tn.look([]uint64{1 << 30, 1, GrowingPercent})
	if got := gogc(); got != GrowingPercent {
		t.Fatalf("Tune set GOGC %d while a growing phase ran", got)
	}
	end()
	if got := gogc(); got != 70 {
		t.Fatalf("after growing GOGC = %d, want 70 back", got)
	}
	tn.look([]uint64{1 << 30, 2, 70})
	if got := gogc(); got != 25 {
		t.Fatalf("after growing Tune set GOGC %d, want 25", got)
	}

	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "50")
			debug.SetGCPercent(70)
			end := Growing()
			if got := gogc(); got != 70 {
				t.Fatalf("with %s set GOGC = %d, want 70 untouched", env, got)
			}
			end()
			if got := gogc(); got != 70 {
				t.Fatalf("with %s set, after growing GOGC = %d, want 70", env, got)
			}
		})
	}
}
