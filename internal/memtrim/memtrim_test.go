package memtrim

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

func TestWorth(t *testing.T) {
	for _, c := range []struct {
		free, live uint64
		want       bool
	}{
		{free: 256 << 20, live: 94 << 20, want: true},   // after a burst
		{free: 40 << 20, live: 10 << 20, want: false},   // too little to matter
		{free: 100 << 20, live: 400 << 20, want: false}, // normal headroom
		{free: 300 << 20, live: 400 << 20, want: true},
	} {
		if got := Worth(c.free, c.live); got != c.want {
			t.Errorf("Worth(%d MB free, %d MB live) = %v, want %v", c.free>>20, c.live>>20, got, c.want)
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
