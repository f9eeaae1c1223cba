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
