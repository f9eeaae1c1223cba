package persist

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eurekad/eurekad/sdk/storage"
)

// The persister's own records, in the readiness probe's application: the
// generation record names the persister that writes the store (one per
// process start, and per rewrite), the sequence record the last flush it
// wrote, as "generation/flush".
var (
	generationKey = storage.Key{App: probeKey.App, ID: "store-generation"}
	sequenceKey   = storage.Key{App: probeKey.App, ID: "store-sequence"}
)

// IsMarker reports whether k is one of the persister's own records (its
// generation and sequence records, and the probe), which are no instances:
// a reader of the whole store leaves them out (see HideMarkers).
func IsMarker(k storage.Key) bool {
	return k == generationKey || k == sequenceKey || k == probeKey
}

// newGeneration returns a random generation name.
func newGeneration() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return fmt.Sprintf("%x", b)
}

// markerOps appends the puts of the sequence record of flush seq, and of
// the generation record while the store may not hold it, to ops; their
// values are appended to buf.
func (p *Persister) markerOps(ops []storage.Op, buf []byte, seq uint64) ([]storage.Op, []byte) {
	now := time.Now().UnixMilli()
	if !p.genStored {
		start := len(buf)
		buf = append(buf, p.gen...)
		ops = append(ops, storage.Op{Record: storage.Record{Key: generationKey, Value: buf[start:len(buf):len(buf)], Updated: now}})
	}
	start := len(buf)
	buf = strconv.AppendUint(append(append(buf, p.gen...), '/'), seq, 10)
	ops = append(ops, storage.Op{Record: storage.Record{Key: sequenceKey, Value: buf[start:len(buf):len(buf)], Updated: now}})
	return ops, buf
}

// lost reads the marker records and says what is wrong with them when the
// store no longer holds what this persister wrote ("" when it does);
// foreign is true when the store holds another generation record. It
// returns an error only when the store cannot be read.
func (p *Persister) lost(ctx context.Context) (found string, foreign bool, err error) {
	g, err := p.store.Get(ctx, generationKey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "no generation record: the store was emptied or replaced", false, nil
	case err != nil:
		return "", false, err
	case string(g.Value) != p.gen:
		return fmt.Sprintf("generation record %q, not this process's %q: the store was replaced or another writer uses it",
			storage.Cut(string(g.Value), 64), p.gen), true, nil
	}
	s, err := p.store.Get(ctx, sequenceKey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "no sequence record: the store lost writes", false, nil
	case err != nil:
		return "", false, err
	}
	// A flush whose error left its outcome unknown may have stored a later
	// sequence than the last one known committed.
	gen, n, _ := strings.Cut(string(s.Value), "/")
	seq, perr := strconv.ParseUint(n, 10, 64)
	if gen != p.gen || perr != nil || seq < p.committedSeq || seq > p.seq {
		return fmt.Sprintf("sequence record %q, eurekad committed up to %s/%d: the store lost writes (a replica that lagged?)",
			storage.Cut(string(s.Value), 64), p.gen, p.committedSeq), gen != p.gen, nil
	}
	return "", false, nil
}

// maxContestShift caps the back-off of the checks while another writer
// seems to use the store: VerifyInterval·2^6, 5 min 20 s by default.
const maxContestShift = 6

// contested counts a check that found a foreign generation right after
// the previous one did, and spaces the next check out accordingly (see
// verify). Only the flusher calls it.
func (p *Persister) contested(foreign bool, now time.Time) {
	if !foreign {
		p.foreignRun = 0
		return
	}
	p.foreignRun++
	if p.foreignRun < 2 {
		return // a store replaced once
	}
	wait := p.opts.VerifyInterval << min(p.foreignRun-1, maxContestShift)
	p.nextVerify = now.Add(wait)
	p.log.Error("another process seems to write this store: it held a foreign generation at each of the last checks, "+
		"right after this process rewrote it; each process rewrites the store over the other's (give each eurekad its own store or key prefix)",
		"checks", p.foreignRun, "nextCheckIn", wait)
}

// verify checks that the store still holds what this persister wrote and,
// when it does not, queues the whole registry to be written again. Only
// the flusher calls it. It fails only when the store cannot be read.
func (p *Persister) verify(ctx context.Context) error {
	if !p.genStored {
		return nil // nothing written yet, or a rewrite under way
	}
	found, foreign, err := p.lost(ctx)
	if err != nil {
		return err
	}
	if found == "" {
		p.foreignRun = max(p.foreignRun-1, 0) // back to normal slowly: the other writer may be backing off too
		return nil
	}
	p.contested(foreign, time.Now())
	p.resync(ctx, found)
	return nil
}

// resync queues every key of the registry, and every key the store holds
// (a record the registry no longer has is deleted), for the next flush,
// which also writes a new generation record.
func (p *Persister) resync(ctx context.Context, found string) {
	queue := func(k storage.Key) {
		p.mu.Lock()
		p.pending[k] = struct{}{}
		p.mu.Unlock()
	}
	n := 0
	p.src.Keys(func(app, id string) {
		queue(storage.Key{App: app, ID: id})
		n++
	})
	stored := 0
	err := p.store.Scan(ctx, "", func(r storage.Record) error {
		if !IsMarker(r.Key) {
			queue(r.Key)
			stored++
		}
		return nil
	})
	p.gen, p.genStored = newGeneration(), false
	p.resyncs.Add(1)
	p.resyncReason.Store(&found)
	p.resyncing.Store(true)
	p.log.Error("the store no longer holds what eurekad wrote; rewriting the registry from memory",
		"found", found, "registry", n, "storeRecords", stored, "scanErr", errString(err))
	p.wake()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return storage.Cut(err.Error(), maxErrorBytes)
}

// HideMarkers returns s without the persister's own records in Scan and
// Snapshot, for a reader of the whole store that expects only instances
// (a restore, an export). The result has s's optional abilities.
func HideMarkers(s storage.Store) storage.Store {
	b, isB := s.(storage.Batcher)
	sn, isS := s.(storage.Snapshotter)
	h := hidden{Store: s, b: b, sn: sn}
	return storage.Restrict(h, isB, isS)
}

type hidden struct {
	storage.Store
	b  storage.Batcher
	sn storage.Snapshotter
}

func skipMarkers(fn func(storage.Record) error) func(storage.Record) error {
	return func(r storage.Record) error {
		if IsMarker(r.Key) {
			return nil
		}
		return fn(r)
	}
}

func (h hidden) Scan(ctx context.Context, app string, fn func(storage.Record) error) error {
	return h.Store.Scan(ctx, app, skipMarkers(fn))
}

// Batch and Snapshot are called only when s has them: Restrict hides them
// otherwise.
func (h hidden) Batch(ctx context.Context, ops []storage.Op) error { return h.b.Batch(ctx, ops) }

func (h hidden) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	return h.sn.Snapshot(ctx, skipMarkers(fn))
}
