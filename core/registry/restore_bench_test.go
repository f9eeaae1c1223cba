package registry

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/bolt"
)

// BenchmarkRestoreBolt is a restart's restore: n leases of make bench's
// fleet (fleetBody) read back from a bolt store, as eurekad's default
// store holds them. The store is written before the timer starts; run
// the million with -bench 'RestoreBolt/n=1000000' (about 2 GB).
func BenchmarkRestoreBolt(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := boltFleet(b, n)
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				r := New(nil)
				got, skipped, err := r.Restore(b.Context(), s)
				if err != nil || got != n || skipped != 0 {
					b.Fatalf("Restore = %d (%d skipped), %v; want %d", got, skipped, err, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
			// The process's CPU time (every goroutine, the collector's
			// too): on a shared machine steadier than the wall time.
			b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// boltFleet returns a bolt store holding the records of n fleet leases,
// opened as at a restart.
func boltFleet(b *testing.B, n int) *bolt.Store {
	b.Helper()
	path := filepath.Join(b.TempDir(), "registry.db")
	s, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	src := New(nil)
	for i := range n {
		in, err := eureka.DecodeInstanceJSON(fleetBody(i))
		if err != nil {
			b.Fatal(err)
		}
		// fleetBody repeats its addresses past 250×256×256; ids stay unique.
		in.InstanceID = fmt.Sprintf("%s-%d", in.InstanceID, i)
		src.Register(in, false)
	}
	var keys []storage.Key
	src.Keys(func(app, id string) { keys = append(keys, storage.Key{App: app, ID: id}) })
	ops := make([]storage.Op, 0, 1000)
	var buf []byte
	flush := func() {
		if err := s.Batch(b.Context(), ops); err != nil {
			b.Fatal(err)
		}
		ops, buf = ops[:0], nil
	}
	for _, k := range keys {
		rec, out, ok := src.AppendRecord(buf, k.App, k.ID)
		if !ok {
			b.Fatalf("no lease %v", k)
		}
		buf = out
		ops = append(ops, storage.Op{Record: rec})
		if len(ops) == cap(ops) {
			flush()
		}
	}
	if len(ops) > 0 {
		flush()
	}
	// Closed and opened again, as a restart finds it: the journal's
	// writes are in the file.
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if s, err = bolt.Open(path, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkDecodeRecord is a restore's work per record on one core: the
// stored form of fleet leases read back (decodeRecord) and compacted, as
// Restore's workers do.
func BenchmarkDecodeRecord(b *testing.B) {
	const n = 1000
	src := New(nil)
	for i := range n {
		in, err := eureka.DecodeInstanceJSON(fleetBody(i))
		if err != nil {
			b.Fatal(err)
		}
		src.Register(in, false)
	}
	var recs []storage.Record
	src.Keys(func(app, id string) {
		rec, _, _ := src.AppendRecord(nil, app, id)
		recs = append(recs, rec)
	})
	limits := DefaultOptions().Limits.OrDefault()
	var keys keyTable
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec := recs[i%len(recs)]
		i++
		l, _, err := decodeRecord(rec, 1, limits)
		if err != nil {
			b.Fatal(err)
		}
		a := restoredApp{name: l.app}
		compactWith(&a.shapes, a.name, &keys, l.instance.Load(), nil)
	}
}
