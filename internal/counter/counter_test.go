package counter

import (
	"sync"
	"testing"
)

func TestShardedCountsEveryInc(t *testing.T) {
	var c Sharded
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				c.Inc()
			}
		}()
	}
	wg.Wait()
	if got := c.Load(); got != 80000 {
		t.Fatalf("Load = %d, want 80000", got)
	}
}

func TestIncDoesNotAllocate(t *testing.T) {
	var c Sharded
	if n := testing.AllocsPerRun(1000, c.Inc); n != 0 {
		t.Fatalf("Inc allocates %v times", n)
	}
}

func BenchmarkShardedIncParallel(b *testing.B) {
	var c Sharded
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc()
		}
	})
}
