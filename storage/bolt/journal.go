package bolt

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eurekad/eurekad/sdk/storage"
)

// The journal makes a write durable with one sequential append and one
// fdatasync, whatever the number of records, and defers the bbolt work:
// writing a record into the B+tree rewrites a 4 KiB page (plus its parents)
// and costs two fsyncs per transaction, which made a group commit of a few
// dozen registrations cost more than serving them. Writes go to the
// journal and to an in-memory overlay; every CheckpointInterval the
// overlay, merged by key, is applied to bbolt in one transaction and the
// journal file it covered is deleted. Open replays what a crash left.
//
// A journal file is a header (journalMagic) followed by frames:
//
//	frame   = payloadLen uint32 | crc32c(payload) uint32 | payload
//	payload = uvarint(opCount) op*
//	op      = kind byte (0 put, 1 delete) | uvarint(len) app | uvarint(len) id
//	          | put only: uvarint(len) value, value being the bbolt value
//	          (8 bytes of Updated, then Record.Value)
//
// A frame is one Batch (or Put, or Delete): replay applies whole frames, so
// a batch is all or nothing across a crash. The first frame that is short
// or fails its checksum ends the journal: it is the write a crash tore.
const journalMagic = "eurekad-journal-1\n"

// maxFrame bounds a frame's payload on replay, so a corrupt length cannot
// ask for an absurd allocation.
const maxFrame = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	opPut    byte = 0
	opDelete byte = 1
)

// ref locates the latest journalled write of a key in its journal file.
type ref struct {
	del bool
	n   int   // length of the bbolt value
	off int64 // offset of the bbolt value in the file
}

// overlay holds the journalled writes of one journal file by key; the
// values stay in the file (read back with ReadAt), so the overlay costs a
// key and a ref per record, however large the records.
type overlay struct {
	f *os.File
	m map[storage.Key]ref
}

// journal is the Store's write-ahead part.
type journal struct {
	// wmu serialises appends and rotations.
	wmu    sync.Mutex
	seq    uint64 // number of the file being written
	size   int64  // bytes in it
	buf    []byte // frame buffer, reused
	pos    []int  // value positions in buf, reused
	broken error  // set when a failed append could not be undone

	// omu guards the overlays: live is the file being written, applying
	// the one being checkpointed (m nil when none). Readers look in live,
	// then applying, then bbolt.
	omu      sync.RWMutex
	live     overlay
	applying overlay
	oldSeq   uint64 // number of applying's file

	// tail is the zeros ahead of the live file's frames (tail.go); it is
	// replaced, under wmu, with the file.
	tail       atomic.Pointer[zeroTail]
	fillKick   chan struct{}
	fillerDone chan struct{}

	ckMu    sync.Mutex // one checkpoint at a time
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// appendFrame appends the frame of ops to dst. pos receives, per op, the
// position in dst of its bbolt value (-1 for a delete).
func appendFrame(dst []byte, pos []int, ops []storage.Op) ([]byte, []int) {
	start := len(dst)
	dst = append(dst, make([]byte, 8)...)
	dst = binary.AppendUvarint(dst, uint64(len(ops)))
	for _, o := range ops {
		k := o.Record.Key
		if o.Delete {
			dst = append(dst, opDelete)
		} else {
			dst = append(dst, opPut)
		}
		dst = binary.AppendUvarint(dst, uint64(len(k.App)))
		dst = append(dst, k.App...)
		dst = binary.AppendUvarint(dst, uint64(len(k.ID)))
		dst = append(dst, k.ID...)
		if o.Delete {
			pos = append(pos, -1)
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(8+len(o.Record.Value)))
		pos = append(pos, len(dst))
		dst = binary.BigEndian.AppendUint64(dst, uint64(o.Record.Updated))
		dst = append(dst, o.Record.Value...)
	}
	payload := dst[start+8:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst, pos
}

// errBadPayload is a frame whose checksum holds but whose content does not
// parse: not a torn write but a bug or foreign file.
var errBadPayload = errors.New("malformed journal frame")

// decodeFrame calls fn for each op of a frame's payload, in order; value
// (aliasing payload) is nil for a delete.
func decodeFrame(payload []byte, fn func(k storage.Key, value []byte)) error {
	n, w := binary.Uvarint(payload)
	if w <= 0 {
		return errBadPayload
	}
	p := payload[w:]
	field := func() ([]byte, bool) {
		l, w := binary.Uvarint(p)
		if w <= 0 || l > uint64(len(p)-w) {
			return nil, false
		}
		b := p[w : w+int(l)]
		p = p[w+int(l):]
		return b, true
	}
	for range n {
		if len(p) == 0 {
			return errBadPayload
		}
		kind := p[0]
		p = p[1:]
		app, ok1 := field()
		id, ok2 := field()
		if !ok1 || !ok2 || len(app) == 0 || len(id) == 0 || kind > opDelete {
			return errBadPayload
		}
		var value []byte
		if kind == opPut {
			v, ok := field()
			if !ok || len(v) < 8 {
				return errBadPayload
			}
			value = v
		}
		fn(storage.Key{App: string(app), ID: string(id)}, value)
	}
	if len(p) != 0 {
		return errBadPayload
	}
	return nil
}

// readJournal reads the frames of one journal file into ov (nil values for
// deletes), later writes replacing earlier ones. It returns the number of
// frames read and whether the file ended in a torn frame.
func readJournal(path string, ov map[storage.Key][]byte) (frames int, torn bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	// left is what the file holds after the current position: a length
	// beyond it is a torn frame, never an allocation.
	left := st.Size() - int64(len(journalMagic))
	r := bufio.NewReaderSize(f, 1<<20)
	head := make([]byte, len(journalMagic))
	if _, err := io.ReadFull(r, head); err != nil {
		// Created but its header never made it to disk: nothing in it was
		// acknowledged.
		return 0, true, nil
	}
	if string(head) != journalMagic {
		return 0, false, invalid("%s is not a eurekad journal", path)
	}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return frames, false, nil
			}
			return frames, true, nil
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		left -= 8
		if n == 0 && binary.LittleEndian.Uint32(hdr[4:]) == 0 {
			// The zeros kept ahead of the frames (tail.go): the end.
			return frames, false, nil
		}
		if n == 0 || n > maxFrame || int64(n) > left {
			return frames, true, nil
		}
		left -= int64(n)
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return frames, true, nil
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			return frames, true, nil
		}
		if err := decodeFrame(payload, func(k storage.Key, v []byte) { ov[k] = v }); err != nil {
			return frames, false, fmt.Errorf("%s, frame %d: %w", path, frames+1, err)
		}
		frames++
	}
}

// journalFile is the name of journal number seq of the store at path.
func journalFile(path string, seq uint64) string {
	return fmt.Sprintf("%s.journal.%08d", path, seq)
}

// journals lists the journal files of the store at path by number.
func journals(path string) ([]uint64, error) {
	matches, err := filepath.Glob(path + ".journal.*")
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, m := range matches {
		suffix := m[strings.LastIndexByte(m, '.')+1:]
		if seq, err := strconv.ParseUint(suffix, 10, 64); err == nil {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// createJournal creates journal file seq with its header, durably: the
// file and its directory entry are synced before a frame is written.
func createJournal(path string, seq uint64, noSync bool) (*os.File, error) {
	name := journalFile(path, seq)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(journalMagic); err != nil {
		f.Close()
		return nil, err
	}
	if !noSync {
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// openJournal replays what a previous process left, starts a new journal
// file and the checkpointer. It returns how many records it replayed.
func (s *Store) openJournal() (int, error) {
	s.kick = make(chan struct{}, 1)
	s.stop = make(chan struct{})
	s.stopped = make(chan struct{})
	replayed, err := s.replay()
	if err != nil {
		return 0, err
	}
	f, err := createJournal(s.path, s.seq, s.opts.NoSync)
	if err != nil {
		return 0, err
	}
	s.live = overlay{f: f, m: map[storage.Key]ref{}}
	s.size = int64(len(journalMagic))
	s.fillKick = make(chan struct{}, 1)
	s.fillerDone = make(chan struct{})
	s.startTail(f)
	if s.opts.NoSync {
		close(s.fillerDone) // nothing to keep ahead of: writes do not sync
	} else {
		go s.filler()
	}
	go s.checkpointer()
	return replayed, nil
}

// replay applies the journals a previous process left (it crashed, or its
// last checkpoint failed) to the file, deletes them, and sets the number of
// the next journal.
func (s *Store) replay() (int, error) {
	seqs, err := journals(s.path)
	if err != nil || len(seqs) == 0 {
		s.seq = 1
		return 0, err
	}
	ov := map[storage.Key][]byte{}
	for i, seq := range seqs {
		name := journalFile(s.path, seq)
		frames, torn, err := readJournal(name, ov)
		if err != nil {
			return 0, err
		}
		if torn {
			s.log.Warn("journal ends in a torn write (a crash during an unacknowledged write); ignoring it",
				"journal", name, "frames", frames, "newest", i == len(seqs)-1)
		}
	}
	keys := sortedKeys(ov)
	if err := s.apply(keys, func(k storage.Key, buf []byte) ([]byte, []byte, bool, error) {
		v := ov[k]
		return buf, v, v == nil, nil
	}); err != nil {
		return 0, fmt.Errorf("replay journal: %w", err)
	}
	for _, seq := range seqs {
		if err := os.Remove(journalFile(s.path, seq)); err != nil {
			return 0, err
		}
	}
	s.seq = seqs[len(seqs)-1] + 1
	return len(ov), nil
}

func sortedKeys[V any](m map[storage.Key]V) []storage.Key {
	keys := make([]storage.Key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b storage.Key) int {
		if c := strings.Compare(a.App, b.App); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return keys
}

// Checkpoint transactions hold at most this many records or value bytes:
// bbolt keeps every value of a transaction in memory until it commits.
const (
	applyChunkRecords = 4096
	applyChunkBytes   = 8 << 20
)

// apply writes keys, in order (pages are then touched once, in sequence),
// to the file in transactions of a bounded size. value returns a key's
// bbolt value, or del; it may append the value to buf (returning the
// extended buf), which is reused from one transaction to the next. A crash
// between two transactions is harmless: the journal is deleted only after
// the last.
func (s *Store) apply(keys []storage.Key, value func(k storage.Key, buf []byte) (newBuf, v []byte, del bool, err error)) error {
	var buf []byte
	for len(keys) > 0 {
		n, size := 0, 0
		err := s.update(context.Background(), func(w *writer) error {
			buf = buf[:0]
			for n < len(keys) && n < applyChunkRecords && size < applyChunkBytes {
				k := keys[n]
				var v []byte
				var del bool
				var err error
				buf, v, del, err = value(k, buf)
				if err != nil {
					return err
				}
				n++
				if del {
					err = w.delete(k)
				} else {
					size += len(v)
					err = w.put(k, v)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", k.Excerpt(), err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// write journals ops as one frame: once it returns nil they are durable
// and visible to readers.
func (s *Store) write(ctx context.Context, ops []storage.Op) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.ready(ctx); err != nil {
		return err
	}
	if s.broken != nil {
		return s.broken
	}
	s.buf, s.pos = appendFrame(s.buf[:0], s.pos[:0], ops)
	frame := s.buf
	if cap(s.buf) > 4<<20 {
		s.buf = nil // do not keep a huge batch's buffer
	}
	if len(frame)-8 > maxFrame {
		return fmt.Errorf("a batch of %d bytes exceeds the journal's %d-byte frame limit: split it", len(frame)-8, maxFrame)
	}
	if err := s.writeFrame(frame); err != nil {
		return s.undo(err)
	}
	s.omu.Lock()
	for i, o := range ops {
		if p := s.pos[i]; p < 0 {
			s.live.m[o.Record.Key] = ref{del: true}
		} else {
			s.live.m[o.Record.Key] = ref{n: 8 + len(o.Record.Value), off: s.size + int64(p)}
		}
	}
	s.omu.Unlock()
	s.size += int64(len(frame))
	s.askFill(s.tail.Load(), s.size)
	if s.size >= s.opts.MaxJournalBytes {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// writeFrame writes frame at the end of the live file and makes it
// durable: over the zeros ahead with fdatasync, or, past them, extending
// the file with fsync (with NoSync, it only writes). The caller holds wmu.
func (s *Store) writeFrame(frame []byte) error {
	if s.opts.NoSync {
		_, err := s.live.f.WriteAt(frame, s.size)
		return err
	}
	t := s.tail.Load()
	end := s.size + int64(len(frame))
	if end <= t.filled.Load() {
		if _, err := s.live.f.WriteAt(frame, s.size); err != nil {
			return err
		}
		return datasync(s.live.f)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := s.live.f.WriteAt(frame, s.size); err != nil {
		return err
	}
	if err := s.live.f.Sync(); err != nil {
		return err
	}
	if end > t.filled.Load() {
		t.filled.Store(end)
	}
	return nil
}

// undo cuts a failed append off the journal, so the next frame does not
// follow a partial one; if that fails too, the store refuses writes.
func (s *Store) undo(err error) error {
	t := s.tail.Load()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.filled.Store(s.size)
	if terr := s.live.f.Truncate(s.size); terr != nil {
		s.broken = fmt.Errorf("journal unusable after a failed write (%v): %w", err, terr)
		s.log.Error("journal unusable; writes refused until restart", "err", s.broken)
	}
	return err
}

// checkpointer applies the journal to the file every CheckpointInterval,
// or sooner when the journal grows past MaxJournalBytes.
func (s *Store) checkpointer() {
	defer close(s.stopped)
	t := time.NewTicker(s.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := s.checkpoint(); err != nil {
			s.log.Error("checkpoint failed; writes stay in the journal and are retried", "err", err)
		}
	}
}

// checkpoint moves the live journal to bbolt: it starts a new journal file,
// applies the writes of the old one, then deletes it. Writers continue in
// the new file meanwhile. After a failed apply the next checkpoint retries
// it before taking more.
func (s *Store) checkpoint() error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.omu.RLock()
	retry := s.applying.m != nil
	s.omu.RUnlock()
	if !retry {
		s.wmu.Lock()
		if len(s.live.m) == 0 || s.broken != nil {
			s.wmu.Unlock()
			return nil
		}
		next, err := createJournal(s.path, s.seq+1, s.opts.NoSync)
		if err != nil {
			s.wmu.Unlock()
			return err
		}
		s.omu.Lock()
		s.applying, s.oldSeq = s.live, s.seq
		s.live = overlay{f: next, m: map[storage.Key]ref{}}
		s.omu.Unlock()
		s.seq, s.size = s.seq+1, int64(len(journalMagic))
		s.startTail(next)
		s.wmu.Unlock()
	}
	// applying is read without omu: only this goroutine (holding ckMu)
	// changes it.
	ov := s.applying
	err := s.apply(sortedKeys(ov.m), func(k storage.Key, buf []byte) ([]byte, []byte, bool, error) {
		r := ov.m[k]
		if r.del {
			return buf, nil, true, nil
		}
		start := len(buf)
		buf = slices.Grow(buf, r.n)[:start+r.n]
		v := buf[start:]
		if _, err := ov.f.ReadAt(v, r.off); err != nil {
			return buf, nil, false, fmt.Errorf("read journal: %w", err)
		}
		return buf, v, false, nil
	})
	if err != nil {
		return err
	}
	s.omu.Lock()
	s.applying = overlay{}
	s.omu.Unlock()
	ov.f.Close()
	return os.Remove(journalFile(s.path, s.oldSeq))
}

// closeJournal stops the checkpointer and checkpoints what is left, so the
// next Open has nothing to replay; should that fail, the journal stays and
// the next Open replays it.
func (s *Store) closeJournal() {
	close(s.stop)
	<-s.stopped
	<-s.fillerDone
	if err := s.checkpoint(); err != nil {
		s.log.Error("last checkpoint failed; the journal will be replayed at the next open", "err", err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.live.f.Close()
	if len(s.live.m) == 0 && s.broken == nil {
		if err := os.Remove(journalFile(s.path, s.seq)); err != nil {
			s.log.Warn("removing the empty journal", "err", err)
		}
	}
}

// readRef reads a journalled value.
func readRef(f *os.File, r ref) ([]byte, error) {
	v := make([]byte, r.n)
	if _, err := f.ReadAt(v, r.off); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return v, nil
}

// pending returns the journalled write of k, if any: its bbolt value, or
// del.
func (s *Store) pending(k storage.Key) (v []byte, del, ok bool, err error) {
	s.omu.RLock()
	defer s.omu.RUnlock()
	for _, ov := range [...]*overlay{&s.live, &s.applying} {
		if r, found := ov.m[k]; found {
			if r.del {
				return nil, true, true, nil
			}
			v, err := readRef(ov.f, r)
			return v, false, true, err
		}
	}
	return nil, false, false, nil
}

// pendingCopy returns the journalled writes not yet in the file, of one
// application or of all: bbolt values, nil for deletes.
func (s *Store) pendingCopy(app string) (map[storage.Key][]byte, error) {
	s.omu.RLock()
	defer s.omu.RUnlock()
	return s.pendingValues(app)
}

// pendingValues is pendingCopy for a caller holding omu. The files stay
// open while it reads: a checkpoint closes one only after taking omu.
func (s *Store) pendingValues(app string) (map[storage.Key][]byte, error) {
	out := make(map[storage.Key][]byte, len(s.live.m)+len(s.applying.m))
	for _, ov := range [...]*overlay{&s.applying, &s.live} {
		for k, r := range ov.m {
			if app != "" && k.App != app {
				continue
			}
			if r.del {
				out[k] = nil
				continue
			}
			v, err := readRef(ov.f, r)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
	}
	return out, nil
}
