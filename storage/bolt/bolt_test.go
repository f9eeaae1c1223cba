package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/sdk/storage/storagetest"
	"github.com/eurekad/eurekad/storage/bolt"
)

func open(t *testing.T, path string, opts *bolt.Options) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The suite runs with fsync on, as eurekad runs.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, filepath.Join(t.TempDir(), "registry.db"), nil)
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "registry.db")
	s := open(t, path, nil)
	want := []storage.Record{
		{Key: storage.NewKey("orders", "i-1"), Value: []byte("one"), Updated: 1_700_000_000_001},
		{Key: storage.NewKey("orders", "i-2"), Value: nil, Updated: -5},
		{Key: storage.NewKey("payments", "i-1"), Value: bytes.Repeat([]byte{0}, 10_000), Updated: 7},
	}
	for _, r := range want[:2] {
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	gone := storage.NewKey("gone", "i-1")
	err := s.Batch(ctx, []storage.Op{
		{Record: want[2]},
		{Record: storage.Record{Key: gone, Value: []byte("x")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, nil)
	got, err := storage.All(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("after reopening: %d records, want %d: %v", len(got), len(want), got)
	}
	for _, w := range want {
		r, err := s.Get(ctx, w.Key)
		if err != nil || !bytes.Equal(r.Value, w.Value) || r.Updated != w.Updated {
			t.Errorf("after reopening, Get(%v) = %q@%d, %v; want %q@%d", w.Key, r.Value, r.Updated, err, w.Value, w.Updated)
		}
	}
}

func TestLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	open(t, path, nil)

	start := time.Now()
	_, err := bolt.Open(path, &bolt.Options{Timeout: 200 * time.Millisecond})
	took := time.Since(start)
	if !errors.Is(err, bolt.ErrLocked) {
		t.Fatalf("second Open of a locked file = %v; want an error matching ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
	if took > 10*time.Second {
		t.Errorf("second Open gave up after %v; want about its 200ms timeout", took)
	}

	if _, err := bolt.Open(path, &bolt.Options{Timeout: -1}); !errors.Is(err, bolt.ErrLocked) {
		t.Errorf("Open with a negative timeout of a locked file = %v; want ErrLocked", err)
	}
}

// TestLockedByAnotherProcess opens a file held by this process from a
// child process (this test binary, re-run as a helper): the child fails with
// ErrLocked after its timeout, then succeeds once the file is released.
func TestLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	s := open(t, path, nil)
	if err := s.Put(t.Context(), storage.Record{Key: storage.NewKey("a", "1"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	child := func() (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "EUREKAD_BOLT_HELPER_PATH="+path)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := child()
	if err == nil || !strings.Contains(out, "helper: locked:") {
		t.Fatalf("a second process opened a locked file: err %v, output:\n%s", err, out)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out, err = child()
	if err != nil || !strings.Contains(out, "helper: opened, 1 records") {
		t.Fatalf("a second process could not open a released file: err %v, output:\n%s", err, out)
	}
}

// TestHelperProcess is the child of TestLockedByAnotherProcess.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("EUREKAD_BOLT_HELPER_PATH")
	if path == "" {
		t.Skip("run by TestLockedByAnotherProcess")
	}
	s, err := bolt.Open(path, &bolt.Options{Timeout: 300 * time.Millisecond})
	if errors.Is(err, bolt.ErrLocked) {
		fmt.Println("helper: locked:", err)
		os.Exit(3)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := storage.Count(t.Context(), s, "")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("helper: opened, %d records\n", n)
}

func TestOpenInvalidFile(t *testing.T) {
	dir := t.TempDir()
	boltFile := func(name string, fn func(*bbolt.Tx) error) string {
		path := filepath.Join(dir, name)
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	rawFile := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	noise := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}

	for name, path := range map[string]string{
		"text":          rawFile("text", []byte("eureka:\n  client:\n    register: true\n")),
		"random":        rawFile("random", noise),
		"zeros":         rawFile("zeros", make([]byte, 32<<10)),
		"foreign bbolt": boltFile("foreign", func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err }),
		"newer layout": boltFile("newer", func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucket([]byte("meta"))
			if err != nil {
				return err
			}
			return b.Put([]byte("version"), []byte("2"))
		}),
	} {
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := bolt.Open(path, &bolt.Options{Timeout: time.Second})
		if err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded; want ErrInvalid", name)
			continue
		}
		if !errors.Is(err, bolt.ErrInvalid) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Open = %v; want an error matching ErrInvalid that names the file", name, err)
		}
		if n := strings.Count(err.Error(), "bolt:"); n != 1 || !strings.Contains(err.Error(), "not a eurekad bolt store") {
			t.Errorf("%s: Open = %q; want one \"bolt:\" prefix and the words of ErrInvalid", name, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Errorf("%s: Open changed a file it refused", name)
		}
	}
}

// TestLayout reads a store's file with bbolt directly, as an inspect tool
// would: the layout is the one doc.go documents.
func TestLayout(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "data", "registry.db") // parent created
	s := open(t, path, nil)
	r := storage.Record{Key: storage.NewKey("orders", "i-1"), Value: []byte(`{"instance":{}}`), Updated: 1_700_000_000_123}
	gone := storage.NewKey("gone", "i-1")
	for _, rec := range []storage.Record{r, {Key: gone, Value: []byte("x")}} {
		if err := s.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket([]byte("meta")).Get([]byte("version")); string(v) != "1" {
			t.Errorf("meta/version = %q; want \"1\"", v)
		}
		apps := tx.Bucket([]byte("apps"))
		if apps.Bucket([]byte("GONE")) != nil {
			t.Error("an application with no record left still has a bucket")
		}
		v := apps.Bucket([]byte("ORDERS")).Get([]byte("i-1"))
		want := binary.BigEndian.AppendUint64(nil, uint64(r.Updated))
		want = append(want, r.Value...)
		if !bytes.Equal(v, want) {
			t.Errorf("apps/ORDERS/i-1 = %q; want %q", v, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEmptyKey(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "registry.db"), nil)
	for _, k := range []storage.Key{{App: "", ID: "i-1"}, {App: "ORDERS", ID: ""}} {
		err := s.Put(ctx, storage.Record{Key: k, Value: []byte("v")})
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Put(%q) = %v; want an error", k, err)
		}
		if err := s.Batch(ctx, []storage.Op{{Record: storage.Record{Key: k}}}); err == nil {
			t.Errorf("Batch put of %q succeeded; want an error", k)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(%q) = %v; want ErrNotFound", k, err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q) = %v; want nil", k, err)
		}
	}
}

// A key bbolt cannot hold is refused with a *storage.RefusedError naming
// it, in a message that quotes only an excerpt, and the batch stores none
// of its ops.
func TestOversizedKeyRefused(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "registry.db"), nil)
	good := storage.Record{Key: storage.NewKey("orders", "i-1"), Value: []byte("v")}
	for _, k := range []storage.Key{
		{App: "ORDERS", ID: strings.Repeat("x", 40000)},
		{App: strings.Repeat("A", 33000), ID: "i-2"},
		{App: "ORDERS", ID: ""},
	} {
		for name, err := range map[string]error{
			"Put":   s.Put(ctx, storage.Record{Key: k}),
			"Batch": s.Batch(ctx, []storage.Op{{Record: good}, {Record: storage.Record{Key: k}}}),
		} {
			var re *storage.RefusedError
			if !errors.As(err, &re) || re.Key != k {
				t.Errorf("%s of %s = %v; want a RefusedError naming the key", name, k.Excerpt(), storage.Cut(fmt.Sprint(err), 200))
			}
			if len(fmt.Sprint(err)) > 400 {
				t.Errorf("%s of %s: a %d-byte error", name, k.Excerpt(), len(fmt.Sprint(err)))
			}
		}
	}
	if n, err := storage.Count(ctx, s, ""); err != nil || n != 0 {
		t.Errorf("the store holds %d records (%v) after refused writes; want 0", n, err)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	path := filepath.Join(t.TempDir(), "registry.db")
	s := open(t, path, &bolt.Options{Logger: log})
	s.Close()
	for _, want := range []string{"store opened", "store=bolt", path} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}
