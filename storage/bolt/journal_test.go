package bolt_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/sdk/storage/storagetest"
	"github.com/eurekad/eurekad/storage/bolt"
)

// The suite again with a checkpoint every millisecond, so that reads,
// scans and snapshots run while the journal is being applied to the file.
func TestConformanceBusyCheckpoints(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, filepath.Join(t.TempDir(), "registry.db"), &bolt.Options{CheckpointInterval: time.Millisecond, MaxJournalBytes: 64 << 10})
	})
}

// batchRecords is batch b of the crash tests: 20 records across 3 apps.
func batchRecords(b int) []storage.Op {
	ops := make([]storage.Op, 20)
	for i := range ops {
		ops[i] = storage.Op{Record: storage.Record{
			Key:     storage.NewKey(fmt.Sprintf("app%d", i%3), fmt.Sprintf("b%d-i%d", b, i)),
			Value:   []byte(strings.Repeat(fmt.Sprintf("batch %d record %d;", b, i), 10)),
			Updated: int64(b),
		}}
	}
	// Every batch also deletes one record of the batch before it.
	if b > 0 {
		ops = append(ops, storage.Op{Delete: true, Record: storage.Record{Key: storage.NewKey("app0", fmt.Sprintf("b%d-i0", b-1))}})
	}
	return ops
}

// checkBatches verifies that batches [0, acked) are stored whole (the
// record each later batch deleted aside), and that batch acked, the one in
// flight when the writer died, is stored whole or not at all.
func checkBatches(t *testing.T, s storage.Store, acked int) {
	t.Helper()
	ctx := t.Context()
	all, err := storage.All(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[storage.Key]storage.Record{}
	for _, r := range all {
		got[r.Key] = r
	}
	inFlight := 0
	for _, o := range batchRecords(acked) {
		if _, ok := got[o.Record.Key]; ok && !o.Delete {
			inFlight++
		}
	}
	if inFlight != 0 && inFlight != 20 {
		t.Fatalf("batch %d, in flight at the crash, is partly stored: %d of 20 records", acked, inFlight)
	}
	last := acked
	if inFlight == 20 {
		last = acked + 1
	}
	want := 0
	for b := range last {
		for _, o := range batchRecords(b) {
			if o.Delete {
				continue
			}
			deletedLater := o.Record.Key.App == "APP0" && strings.HasSuffix(o.Record.Key.ID, "-i0") && b+1 < last
			r, ok := got[o.Record.Key]
			switch {
			case deletedLater && ok:
				t.Fatalf("%v: deleted by batch %d, still stored", o.Record.Key, b+1)
			case deletedLater:
			case !ok:
				t.Fatalf("%v of acknowledged batch %d is missing", o.Record.Key, b)
			case string(r.Value) != string(o.Record.Value) || r.Updated != o.Record.Updated:
				t.Fatalf("%v: stored %q/%d, want %q/%d", o.Record.Key, r.Value, r.Updated, o.Record.Value, o.Record.Updated)
			default:
				want++
			}
		}
	}
	if len(got) != want {
		t.Fatalf("%d records stored, want %d", len(got), want)
	}
}

// TestCrashKeepsAcknowledgedBatches kills a writer process with SIGKILL
// while it writes batches (checkpoints running every few milliseconds) and
// reopens the file: every batch the writer saw acknowledged is there, whole,
// and the one in flight is all or nothing.
func TestCrashKeepsAcknowledgedBatches(t *testing.T) {
	for _, iv := range []string{"5ms", "1h"} {
		t.Run("checkpoint="+iv, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "registry.db")
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestJournalWriterProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "EUREKAD_BOLT_WRITER_PATH="+path, "EUREKAD_BOLT_WRITER_CHECKPOINT="+iv)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			acked := 0
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
					acked, _ = strconv.Atoi(n)
					acked++
					if acked == 150 {
						cmd.Process.Signal(syscall.SIGKILL)
					}
				}
			}
			// Every acknowledgement printed before the kill landed was read:
			// the writer prints each before it starts the next batch.
			cmd.Wait()
			if acked < 150 {
				t.Fatalf("writer acknowledged only %d batches before dying", acked)
			}
			s := open(t, path, nil)
			checkBatches(t, s, acked)
		})
	}
}

// TestJournalWriterProcess is the child of TestCrashKeepsAcknowledgedBatches:
// it writes batches until killed, printing each acknowledgement.
func TestJournalWriterProcess(t *testing.T) {
	path := os.Getenv("EUREKAD_BOLT_WRITER_PATH")
	if path == "" {
		t.Skip("run by TestCrashKeepsAcknowledgedBatches")
	}
	iv, _ := time.ParseDuration(os.Getenv("EUREKAD_BOLT_WRITER_CHECKPOINT"))
	s, err := bolt.Open(path, &bolt.Options{CheckpointInterval: iv})
	if err != nil {
		t.Fatal(err)
	}
	pause, _ := strconv.Atoi(os.Getenv("EUREKAD_BOLT_WRITER_PAUSE"))
	w := bufio.NewWriter(os.Stdout)
	for b := 0; ; b++ {
		if b == pause && pause > 0 {
			fmt.Fprintln(w, "paused")
			w.Flush()
			select {}
		}
		if err := s.Batch(t.Context(), batchRecords(b)); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "acked %d\n", b)
		w.Flush()
	}
}

// A journal whose last frame was torn by a crash is replayed up to that
// frame; the torn write, never acknowledged, is dropped with a warning.
func TestTornJournalTail(t *testing.T) {
	for _, tc := range []struct{ cut, zeros int }{{1, 0}, {9, 0}, {200, 0}, {1, 4096}, {9, 4096}, {200, 1 << 20}} {
		cut := tc.cut
		t.Run(fmt.Sprintf("cut=%d,zeros=%d", cut, tc.zeros), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "registry.db")
			// The writer is killed once it has written 11 batches (it may
			// have written a few more), leaving its journal: no checkpoint
			// ran.
			cmd := exec.Command(os.Args[0], "-test.run=^TestJournalWriterProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "EUREKAD_BOLT_WRITER_PATH="+path, "EUREKAD_BOLT_WRITER_CHECKPOINT=1h")
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			for sc.Scan() && sc.Text() != "acked 10" {
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			// Cut the journal inside its 11th frame, as a crash during that
			// write would have left it: batches 0-9 stay, batch 10 is torn.
			name, b := onlyJournal(t, path)
			end := frameEnd(b, 10)
			// Past the torn frame, the zeros the store keeps ahead (tail.go).
			torn := append(b[:end+cut:end+cut], make([]byte, tc.zeros)...)
			if err := os.WriteFile(name, torn, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			s := open(t, path, &bolt.Options{Logger: newTextLogger(&logs)})
			checkBatches(t, s, 10)
			if n, _ := storage.Count(t.Context(), s, ""); n != 10*20-9 {
				t.Errorf("%d records, want the 10 acknowledged batches' %d", n, 10*20-9)
			}
			if !strings.Contains(logs.String(), "torn write") {
				t.Errorf("no warning about the torn write in the log:\n%s", logs.String())
			}
		})
	}
}

// The live journal is kept filled with zeros ahead of its frames; after a
// crash they read as the end of the journal, not as a torn write.
func TestJournalZeroTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalWriterProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EUREKAD_BOLT_WRITER_PATH="+path, "EUREKAD_BOLT_WRITER_CHECKPOINT=1h", "EUREKAD_BOLT_WRITER_PAUSE=300")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The writer writes 300 batches and pauses; once the filler is ahead
	// of its frames it is killed.
	acked := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "paused" {
		if n, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked, _ = strconv.Atoi(n)
			acked++
		}
	}
	eurekadtest.Eventually(t, 10*time.Second, "zeros past the frames", func() error {
		_, b := onlyJournal(t, path)
		if end := frameEnd(b, -1); len(b) == end {
			return fmt.Errorf("none past the frames (%d bytes)", end)
		}
		return nil
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if acked != 300 {
		t.Fatalf("writer acknowledged %d batches, want 300", acked)
	}
	_, b := onlyJournal(t, path)
	end := frameEnd(b, -1)
	if !bytes.Equal(b[end:], make([]byte, len(b)-end)) {
		t.Fatal("the tail past the frames is not zeros")
	}
	var logs strings.Builder
	s := open(t, path, &bolt.Options{Logger: newTextLogger(&logs)})
	checkBatches(t, s, acked)
	if strings.Contains(logs.String(), "torn write") {
		t.Errorf("zeros reported as a torn write:\n%s", logs.String())
	}
}

// frameEnd returns the offset past the first frames frames of journal b;
// frames < 0 means every frame, up to a zero header or the end.
func frameEnd(b []byte, frames int) int {
	end := len("eurekad-journal-1\n")
	for i := 0; (frames < 0 || i < frames) && end+8 <= len(b); i++ {
		n := int(binary.LittleEndian.Uint32(b[end:]))
		if n == 0 && frames < 0 {
			break
		}
		end += 8 + n
	}
	return end
}

// onlyJournal returns the name and content of the one journal file of the
// store at path.
func onlyJournal(t *testing.T, path string) (string, []byte) {
	t.Helper()
	journals, _ := filepath.Glob(path + ".journal.*")
	if len(journals) != 1 {
		t.Fatalf("journals: %v", journals)
	}
	b, err := os.ReadFile(journals[0])
	if err != nil {
		t.Fatal(err)
	}
	return journals[0], b
}

func newTextLogger(b *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
