package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/sdk/plugin/plugintest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/sdk/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := openFile(filepath.Join(t.TempDir(), "r.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// The store as eurekad sees it: through the plugin's gRPC adapters.
func TestConformanceOverGRPC(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		cfg := []byte(`{"file":"` + filepath.Join(t.TempDir(), "r.jsonl") + `"}`)
		s := plugintest.Store(t, open, cfg)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// What was written is there after reopening, a torn last line (a crash
// mid-write) is dropped, and the rewrite keeps only the live records.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	s, err := openFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	k1, k2 := storage.Key{App: "A", ID: "1"}, storage.Key{App: "A", ID: "2"}
	s.Put(ctx, storage.Record{Key: k1, Value: []byte("one"), Updated: 1})
	s.Put(ctx, storage.Record{Key: k2, Value: []byte("two"), Updated: 2})
	s.Delete(ctx, k2)
	s.Put(ctx, storage.Record{Key: k1, Value: []byte("uno"), Updated: 3})
	s.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"ops":[{"app":"A","id":"3","val`)
	f.Close()

	s, err = openFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := storage.All(ctx, s, "")
	if err != nil || len(all) != 1 || string(all[0].Value) != "uno" || all[0].Updated != 3 {
		t.Fatalf("after reopen: %+v, %v", all, err)
	}
	b, _ := os.ReadFile(path)
	if n := strings.Count(string(b), "\n"); n != 1 {
		t.Errorf("rewritten file has %d lines, want 1:\n%s", n, b)
	}
}

// Whatever the file holds, opening it either fails cleanly or gives a
// working store, and never panics.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"ops":[{"app":"A","id":"1","value":"b25l","updated":1}]}` + "\n"))
	f.Add([]byte(`{"ops":[{"delete":true,"app":"A","id":"1"}]}` + "\n{\"ops\":"))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "r.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openFile(path)
		if err != nil {
			return
		}
		defer s.Close()
		n, err := storage.Count(t.Context(), s, "")
		if err != nil {
			t.Fatal(err)
		}
		k := storage.Key{App: "FUZZ", ID: "x"}
		if err := s.Put(t.Context(), storage.Record{Key: k, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		again, err := openFile(path)
		if err != nil {
			t.Fatalf("reopening what the store wrote: %v", err)
		}
		defer again.Close()
		m, _ := storage.Count(t.Context(), again, "")
		if _, err := again.Get(t.Context(), k); err != nil || (m != n+1 && m != n) {
			t.Fatalf("after reopen: %d records (had %d + 1), Get = %v", m, n, err)
		}
	})
}
