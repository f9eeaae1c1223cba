package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/eurekad/eurekad/internal/redistest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/redis"
)

// benchValue is about the size of an encoded InstanceInfo.
var benchValue = bytes.Repeat([]byte("x"), 1024)

// persistence runs a benchmark against a durable server (appendfsync
// always, as eurekad's sync durability needs) and one without persistence.
var persistence = []struct {
	name string
	opt  redistest.Option
}{
	{"aof=always", redistest.AppendOnly(true)},
	{"aof=off", redistest.AppendOnly(false)},
}

func BenchmarkPut(b *testing.B) {
	for _, p := range persistence {
		b.Run(p.name, func(b *testing.B) {
			s := open(b, redistest.Start(b, p.opt), redis.Options{})
			ctx := context.Background()
			b.SetBytes(int64(len(benchValue)))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				r := storage.Record{Key: storage.Key{App: fmt.Sprintf("APP-%d", i%100), ID: fmt.Sprintf("i-%d", i%10000)}, Value: benchValue, Updated: int64(i)}
				if err := s.Put(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutParallel is Put from many goroutines, as the registry's
// persister and several eurekad nodes would.
func BenchmarkPutParallel(b *testing.B) {
	for _, p := range persistence {
		b.Run(p.name, func(b *testing.B) {
			s := open(b, redistest.Start(b, p.opt), redis.Options{})
			ctx := context.Background()
			var mu sync.Mutex
			next := 0
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				mu.Lock()
				w := next
				next++
				mu.Unlock()
				for i := 0; pb.Next(); i++ {
					r := storage.Record{Key: storage.Key{App: fmt.Sprintf("APP-%d", i%100), ID: fmt.Sprintf("w%d-%d", w, i%10000)}, Value: benchValue, Updated: int64(i)}
					if err := s.Put(ctx, r); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkBatch1000(b *testing.B) {
	const size = 1000
	for _, p := range persistence {
		b.Run(p.name, func(b *testing.B) {
			s := open(b, redistest.Start(b, p.opt), redis.Options{})
			ctx := context.Background()
			ops := make([]storage.Op, size)
			b.ResetTimer()
			for n := 0; b.Loop(); n++ {
				for i := range ops {
					ops[i] = storage.Op{Record: storage.Record{
						Key:   storage.Key{App: fmt.Sprintf("APP-%d", i%100), ID: fmt.Sprintf("i-%d", i)},
						Value: benchValue, Updated: int64(n),
					}}
					// One in ten is a delete, as when instances leave.
					ops[i].Delete = i%10 == 9
				}
				if err := s.Batch(ctx, ops); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// fill writes n records of benchValue in 100 applications.
func fill(b *testing.B, s *redis.Store, n int) {
	b.Helper()
	ctx := context.Background()
	ops := make([]storage.Op, 0, 1000)
	for i := range n {
		ops = append(ops, storage.Op{Record: storage.Record{
			Key:   storage.Key{App: fmt.Sprintf("APP-%d", i%100), ID: fmt.Sprintf("i-%d", i)},
			Value: benchValue, Updated: int64(i),
		}})
		if len(ops) == cap(ops) || i == n-1 {
			if err := s.Batch(ctx, ops); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
}

const bigStore = 100_000

func BenchmarkScan100k(b *testing.B) {
	s := open(b, redistest.Start(b, redistest.AppendOnly(false)), redis.Options{})
	fill(b, s, bigStore)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := s.Scan(ctx, "", func(storage.Record) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != bigStore {
			b.Fatalf("scanned %d records, want %d", n, bigStore)
		}
	}
	b.ReportMetric(float64(b.N*bigStore)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSnapshot100k also reports how long Redis stopped serving other
// clients: the worst PING latency seen by a client pinging throughout.
func BenchmarkSnapshot100k(b *testing.B) {
	for _, tc := range []struct {
		name       string
		txAttempts int
	}{
		{"transaction", redis.SnapshotTxAttempts()},
		{"script", 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			defer redis.SetSnapshotTxAttempts(redis.SetSnapshotTxAttempts(tc.txAttempts))
			srv := redistest.Start(b, redistest.AppendOnly(false))
			s := open(b, srv, redis.Options{ReadTimeout: 30 * time.Second})
			fill(b, s, bigStore)
			ctx := context.Background()

			pinger := raw(b, srv)
			stop := make(chan struct{})
			var worst time.Duration
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					start := time.Now()
					if err := pinger.Ping(ctx).Err(); err != nil {
						b.Error(err)
						return
					}
					worst = max(worst, time.Since(start))
				}
			}()
			// Redis's own measure of the longest command (EXEC or
			// EVALSHA as a whole), without writing the reply, which Redis
			// interleaves with other clients.
			if err := pinger.ConfigSet(ctx, "latency-monitor-threshold", "1").Err(); err != nil {
				b.Fatal(err)
			}
			if err := pinger.Do(ctx, "LATENCY", "RESET").Err(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				n := 0
				if err := s.Snapshot(ctx, func(storage.Record) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
				if n != bigStore {
					b.Fatalf("snapshot of %d records, want %d", n, bigStore)
				}
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(b.N*bigStore)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(worst.Milliseconds()), "max-ping-ms")
			b.ReportMetric(float64(latencyMax(b, pinger, "command")), "redis-busy-ms")
		})
	}
}

// latencyMax returns the worst latency in milliseconds Redis's latency
// monitor recorded for event.
func latencyMax(b *testing.B, c *goredis.Client, event string) int64 {
	b.Helper()
	v, err := c.Do(context.Background(), "LATENCY", "LATEST").Slice()
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range v {
		row, ok := e.([]any)
		if !ok || len(row) < 4 || row[0] != event {
			continue
		}
		if ms, ok := row[3].(int64); ok {
			return ms
		}
	}
	return 0
}
