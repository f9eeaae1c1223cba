package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/snapshot"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/bolt"
)

// snapRecord is a registry record of an instance, as a store holds it.
func snapRecord(app, id, override string) storage.Record {
	v := `{"v":1,"registered":1,"lastRenewal":1,"serviceUp":1`
	if override != "" {
		v += `,"override":"` + override + `"`
	}
	v += `,"instance":{"instanceId":"` + id + `","hostName":"h","app":"` + app + `","ipAddr":"10.0.0.1"}}`
	return storage.Record{Key: storage.Key{App: app, ID: id}, Value: []byte(v), Updated: 1}
}

// writeSnapshotFile writes recs as a snapshot file and returns its path.
func writeSnapshotFile(t *testing.T, recs []storage.Record) string {
	t.Helper()
	var buf bytes.Buffer
	if err := snapshot.Write(&buf, time.Now(), recs); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "test.snapshot")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestSnapshotRestoreSkipsRefusedRecords: a snapshot holding records that
// break the input rules (saved by an older eurekad, or edited) restores
// the others; the refused ones are counted, listed by excerpts and kept
// out of the store, with the limits the server is configured with.
func TestSnapshotRestoreSkipsRefusedRecords(t *testing.T) {
	long := strings.Repeat("k", 40000)
	recs := []storage.Record{
		snapRecord("ORDERS", "host:orders:8080", "OUT_OF_SERVICE"),
		snapRecord("ORDERS", strings.Repeat("m", 100), ""),
		snapRecord("ORDERS", long, ""),
		snapRecord("ORDERS", "o-1", "UNKNOWN"),
		snapRecord("A/B", "x", ""),
	}
	file := writeSnapshotFile(t, recs)

	code, out, errOut := execute(t, noServe(t), nil, "snapshot", "inspect", file)
	if code != exitOK || !strings.Contains(out, "2 instances in 1 applications") ||
		!strings.Contains(out, "3 records break the input rules") || strings.Contains(out, long) {
		t.Fatalf("inspect: exit %d\n%s%s", code, out, errOut)
	}

	dir := t.TempDir()
	// Stricter limits from the environment skip the 100-byte id too.
	code, out, errOut = execute(t, noServe(t), []string{"EUREKAD_LIMITS_MAX_NAME_BYTES=64"},
		"snapshot", "restore", "--storage", "bolt", "--data-dir", dir, file)
	if code != exitOK || !strings.Contains(out, "restored 1 instances") {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"4 records break the input rules (limits), skipped them:", "instanceId: longer than 64 bytes",
		"override: value: status override must be", "app: contains '/'", `(40000 bytes)`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("restore's report lacks %q:\n%s", want, errOut)
		}
	}
	if len(errOut) > 2000 {
		t.Errorf("restore's report is %d bytes", len(errOut))
	}

	store, err := bolt.Open(filepath.Join(dir, boltFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var keys []storage.Key
	if err := store.Scan(context.Background(), "", func(r storage.Record) error {
		keys = append(keys, r.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != (storage.Key{App: "ORDERS", ID: "host:orders:8080"}) {
		t.Errorf("the store holds %v", keys)
	}
}

// TestSnapshotUnreadableRecordStopsRestore: a record that cannot be read
// means a damaged file; nothing is restored, and the error names the
// record by an excerpt.
func TestSnapshotUnreadableRecordStopsRestore(t *testing.T) {
	recs := []storage.Record{
		snapRecord("ORDERS", "host:orders:8080", ""),
		{Key: storage.Key{App: "ORDERS", ID: strings.Repeat("z", 40000)}, Value: []byte(`{"v":1}`)},
	}
	file := writeSnapshotFile(t, recs)
	dir := t.TempDir()
	code, _, errOut := execute(t, noServe(t), nil, "snapshot", "restore", "--storage", "bolt", "--data-dir", dir, file)
	if code == exitOK || !strings.Contains(errOut, "unreadable record") || len(errOut) > 1000 {
		t.Fatalf("exit %d: %.1200s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, boltFile)); !os.IsNotExist(err) {
		t.Errorf("the store was touched: %v", err)
	}
}
