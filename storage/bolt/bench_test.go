package bolt_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/bolt"
)

// benchValue is about the size of a registered instance's stored JSON.
var benchValue = bytes.Repeat([]byte{'x'}, 1024)

func benchKey(i int) storage.Key {
	return storage.Key{App: fmt.Sprintf("APP-%03d", i%100), ID: fmt.Sprintf("i-%08d", i)}
}

func benchStore(b *testing.B, noSync bool) *bolt.Store {
	b.Helper()
	s, err := bolt.Open(filepath.Join(b.TempDir(), "registry.db"), &bolt.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func reportRecords(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPut writes one record per transaction: one fsync each, unless
// NoSync.
func BenchmarkPut(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("nosync=%v", noSync), func(b *testing.B) {
			s := benchStore(b, noSync)
			ctx := b.Context()
			n := 0
			for b.Loop() {
				if err := s.Put(ctx, storage.Record{Key: benchKey(n), Value: benchValue, Updated: int64(n)}); err != nil {
					b.Fatal(err)
				}
				n++
			}
			reportRecords(b, n)
		})
	}
}

// BenchmarkBatch1000 writes 1,000 records per transaction, as eurekad's
// group commit does under load.
func BenchmarkBatch1000(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("nosync=%v", noSync), func(b *testing.B) {
			s := benchStore(b, noSync)
			ctx := b.Context()
			ops := make([]storage.Op, 1000)
			n := 0
			for b.Loop() {
				for i := range ops {
					ops[i] = storage.Op{Record: storage.Record{Key: benchKey(n), Value: benchValue, Updated: int64(n)}}
					n++
				}
				if err := s.Batch(ctx, ops); err != nil {
					b.Fatal(err)
				}
			}
			reportRecords(b, n)
		})
	}
}

// fill100k writes 100,000 records over 100 applications.
func fill100k(b *testing.B) *bolt.Store {
	b.Helper()
	s := benchStore(b, true)
	ops := make([]storage.Op, 0, 1000)
	for i := range 100_000 {
		ops = append(ops, storage.Op{Record: storage.Record{Key: benchKey(i), Value: benchValue, Updated: int64(i)}})
		if len(ops) == cap(ops) {
			if err := s.Batch(b.Context(), ops); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	return s
}

// BenchmarkScan100k reads 100,000 records of 1 KiB, as a restart does.
func BenchmarkScan100k(b *testing.B) {
	s := fill100k(b)
	ctx := b.Context()
	total := 0
	for b.Loop() {
		n, err := storage.Count(ctx, s, "")
		if err != nil || n != 100_000 {
			b.Fatalf("Count = %d, %v", n, err)
		}
		total += n
	}
	reportRecords(b, total)
}

// BenchmarkSnapshot100k reads the same records in one read transaction, as
// a snapshot save does.
func BenchmarkSnapshot100k(b *testing.B) {
	s := fill100k(b)
	ctx := b.Context()
	total := 0
	for b.Loop() {
		n := 0
		if err := s.Snapshot(ctx, func(storage.Record) error { n++; return nil }); err != nil || n != 100_000 {
			b.Fatalf("Snapshot: %d records, %v", n, err)
		}
		total += n
	}
	reportRecords(b, total)
}

// BenchmarkGroupCommit writes groups of records as eurekad's sync group
// commit does under a registration load (10,000 instances re-registering),
// checkpoints included: the store is closed inside the timed region, and
// cpu-µs/record is the process's CPU time (user + system, every
// goroutine), so background work is counted.
func BenchmarkGroupCommit(b *testing.B) {
	for _, group := range []int{16, 64} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			s := benchStore(b, false)
			ctx := b.Context()
			ops := make([]storage.Op, group)
			n := 0
			cpu0 := processCPU()
			for b.Loop() {
				for i := range ops {
					ops[i] = storage.Op{Record: storage.Record{Key: benchKey(n % 10000), Value: benchValue, Updated: int64(n)}}
					n++
				}
				if err := s.Batch(ctx, ops); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			reportRecords(b, n)
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(n), "cpu-µs/record")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
