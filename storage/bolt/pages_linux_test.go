package bolt_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/eurekad/eurekad/internal/proctest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/bolt"
)

// rssFile is the test process's resident file-backed memory: bbolt's
// mapping of the file counts there.
func rssFile(t *testing.T) int64 { return proctest.Status(t, os.Getpid(), "RssFile") }

// A scan of the whole store (a restore) reads every page of the mapped
// file; it must not leave them counted in the process's memory, and the
// records must still read back after it.
func TestScanLetsGoOfTheFilesPages(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "registry.db")
	s := open(t, path, nil)
	value := bytes.Repeat([]byte("x"), 2000)
	var ops []storage.Op
	for i := range 32000 { // 64 MB of values
		ops = append(ops, storage.Op{Record: storage.Record{Key: storage.NewKey(fmt.Sprint("APP", i%50), fmt.Sprint("i", i)), Value: value}})
		if len(ops) == 1000 {
			if err := s.Batch(ctx, ops); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, nil)

	before := rssFile(t)
	n := 0
	if err := s.Scan(ctx, "", func(r storage.Record) error {
		n++
		return nil
	}); err != nil || n != 32000 {
		t.Fatalf("Scan: %d records, %v", n, err)
	}
	if after := rssFile(t); after > before+16<<20 {
		t.Errorf("after scanning 64 MB the process keeps %d MB of file pages, %d MB before", after>>20, before>>20)
	}
	r, err := s.Get(ctx, storage.NewKey("APP7", "i7"))
	if err != nil || !bytes.Equal(r.Value, value) {
		t.Fatalf("Get after the scan = %d bytes, %v", len(r.Value), err)
	}
}

// Scans let go of the file's pages while checkpoints write into the file
// (a small journal makes them frequent): every record written must still
// read back whole, scans and writes interleaved. The file is mapped a
// gigabyte ahead (initialMmapSize), so bbolt's mapping it again elsewhere
// is left to its mmap lock, which the release holds as a read transaction.
func TestScanLetsGoOfPagesWhileTheFileGrows(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "registry.db"), &bolt.Options{MaxJournalBytes: 64 << 10})
	value := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 1500) }
	key := func(i int) storage.Key { return storage.NewKey(fmt.Sprint("APP", i%20), fmt.Sprint("i", i)) }
	const n = 20000
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i += 500 {
			var ops []storage.Op
			for j := i; j < i+500; j++ {
				ops = append(ops, storage.Op{Record: storage.Record{Key: key(j), Value: value(j)}})
			}
			if err := s.Batch(ctx, ops); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	scans := 0
	for writing := true; writing || scans == 0; scans++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			writing = false
		default:
		}
		if err := s.Scan(ctx, "", func(r storage.Record) error {
			if len(r.Value) != 1500 || r.Value[0] != r.Value[1499] {
				return fmt.Errorf("%v: a torn value", r.Key)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		r, err := s.Get(ctx, key(i))
		if err != nil || !bytes.Equal(r.Value, value(i)) {
			t.Fatalf("Get(%v) after %d scans = %d bytes, %v", key(i), scans, len(r.Value), err)
		}
	}
}
