package bolt_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/eurekad/eurekad/internal/proctest"
	"github.com/eurekad/eurekad/sdk/storage"
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
