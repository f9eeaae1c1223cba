package bolt

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/eurekad/eurekad/sdk/storage"
)

// FuzzDecodeFrame: no payload makes the frame decoder panic, and every
// frame appendFrame writes decodes to its ops.
func FuzzDecodeFrame(f *testing.F) {
	frame, _ := appendFrame(nil, nil, []storage.Op{
		{Record: storage.Record{Key: storage.Key{App: "A", ID: "1"}, Value: []byte("v"), Updated: 7}},
		{Delete: true, Record: storage.Record{Key: storage.Key{App: "B", ID: "2"}}},
	})
	f.Add(frame[8:])
	f.Add([]byte{})
	f.Add([]byte{1, 0, 1, 'A'})
	f.Fuzz(func(t *testing.T, payload []byte) {
		var ops []storage.Op
		err := decodeFrame(payload, func(k storage.Key, v []byte) {
			if k.App == "" || k.ID == "" || (v != nil && len(v) < 8) {
				t.Fatalf("decoded an invalid op %v %q", k, v)
			}
			ops = append(ops, storage.Op{Delete: v == nil, Record: storage.Record{Key: k, Value: v}})
		})
		if err != nil {
			return
		}
		// What decodes re-encodes to a frame that decodes to the same ops
		// (varints may have been written longer than needed).
		out, _ := appendFrame(nil, nil, ops2records(ops))
		var back []storage.Op
		if err := decodeFrame(out[8:], func(k storage.Key, v []byte) {
			back = append(back, storage.Op{Delete: v == nil, Record: storage.Record{Key: k, Value: v}})
		}); err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if len(back) != len(ops) {
			t.Fatalf("%d ops, re-decoded %d", len(ops), len(back))
		}
		for i := range ops {
			if back[i].Delete != ops[i].Delete || back[i].Record.Key != ops[i].Record.Key || !bytes.Equal(back[i].Record.Value, ops[i].Record.Value) {
				t.Fatalf("op %d: %+v, re-decoded %+v", i, ops[i], back[i])
			}
		}
	})
}

// ops2records turns decoded ops (bbolt values) back into records.
func ops2records(ops []storage.Op) []storage.Op {
	out := make([]storage.Op, len(ops))
	for i, o := range ops {
		out[i] = o
		if !o.Delete {
			v := o.Record.Value
			out[i].Record.Updated = int64(binary.BigEndian.Uint64(v))
			out[i].Record.Value = v[8:]
		}
	}
	return out
}

// FuzzReadJournal: any file content replays without panicking, and a
// journal's valid prefix of frames is always read.
func FuzzReadJournal(f *testing.F) {
	frame, _ := appendFrame(nil, nil, []storage.Op{{Record: storage.Record{Key: storage.Key{App: "A", ID: "1"}, Value: []byte("v")}}})
	f.Add(frame, []byte{})
	f.Add(frame, []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, first, tail []byte) {
		path := filepath.Join(t.TempDir(), "j")
		content := append([]byte(journalMagic), first...)
		content = append(content, tail...)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		ov := map[storage.Key][]byte{}
		readJournal(path, ov)
	})
}
