// Package storage is the contract between eurekad and a registry store: a
// small key-value interface over records keyed by application and instance
// id, with optional abilities (atomic batches, consistent snapshots) as
// separate interfaces.
//
// eurekad's registry owns the bytes it stores; a store never parses them.
// Built-in stores live in eurekad's storage/ folder; third-party stores
// implement this package, run sdk/storage/storagetest against themselves, and
// are served as plugins. This package imports only the standard library.
//
// # Rules every Store follows
//
//   - All methods are safe for concurrent use.
//   - Every method honours its context: a cancelled context ends the call
//     with an error wrapping ctx.Err().
//   - Get of a missing key returns an error matching ErrNotFound.
//   - Delete of a missing key is not an error.
//   - Record.Value slices handed to Put, or in a Batch's ops, belong to the
//     store only for the call (eurekad reuses its buffers for the next
//     batch); slices returned by Get or Scan belong to the caller (a store that
//     reads from memory-mapped or pooled buffers copies them).
//   - After Close every method returns an error matching ErrClosed; Close
//     itself may be called more than once.
//   - Errors are wrapped with the store's name and the key, and still match
//     these sentinels with errors.Is. A key in a message is cut to a short
//     excerpt (Key.Excerpt): a key may be tens of kilobytes.
//   - A write the store will never take, whatever its state (a key or value
//     beyond its limits), fails with an error matching ErrRefused, best a
//     *RefusedError naming the key, so that eurekad stores the rest of a
//     batch and does not treat the store as down. An error that does not
//     match ErrRefused is taken as the store failing.
//   - Key.App and Key.ID are never empty; a nil and an empty Value are the
//     same value.
//   - A call whose context is already cancelled changes nothing.
//   - Scan's fn may call the store (a store must not run fn inside a lock
//     or transaction that such a call would need); Snapshot's fn must not.
//   - Each record present for a whole Scan is seen exactly once, even where
//     the backend's own iteration may repeat keys (Redis SCAN).
//   - A Batcher applies its ops in order; Close returns nil when called
//     again.
package storage

import (
	"context"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// Key names one record: an application and an instance id. App is upper
// case, as Eureka keys applications.
type Key struct {
	App string
	ID  string
}

// NewKey returns the key of an instance, with the application upper-cased.
func NewKey(app, id string) Key { return Key{App: strings.ToUpper(app), ID: id} }

// ExcerptBytes is how many bytes of each part of a key Excerpt keeps.
const ExcerptBytes = 64

// Excerpt returns "APP/ID" with each part cut to at most ExcerptBytes bytes
// (on a character boundary) and marked "…" when cut: the form of a key in
// error messages and logs, where a 40 KB key would drown everything else.
func (k Key) Excerpt() string { return Cut(k.App, ExcerptBytes) + "/" + Cut(k.ID, ExcerptBytes) }

// Cut returns s if it is at most n bytes long, and otherwise its first n
// bytes or fewer, ending on a character boundary, followed by "…".
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// Record is one stored value.
type Record struct {
	Key Key
	// Value is opaque to the store.
	Value []byte
	// Updated is when the writer last changed the record, in Unix
	// milliseconds; restores keep the newest copy of a key.
	Updated int64
}

// Store is the required interface of a registry store.
type Store interface {
	// Put inserts or replaces a record.
	Put(ctx context.Context, r Record) error
	// Get returns the record with key k, or an error matching ErrNotFound.
	Get(ctx context.Context, k Key) (Record, error)
	// Delete removes the record with key k; a missing key is not an error.
	Delete(ctx context.Context, k Key) error
	// Scan calls fn for every record, or for those of one application when
	// app is not empty, in no particular order. A Scan sees each record
	// that existed for its whole duration once; records written meanwhile
	// may or may not be seen. If fn returns an error Scan stops and returns
	// it, except ErrStop, which stops the scan with a nil error.
	Scan(ctx context.Context, app string, fn func(Record) error) error
	io.Closer
}

// Op is one write of a batch: a Put of Record, or a Delete of Record.Key.
type Op struct {
	Delete bool
	Record Record
}

// Batcher is implemented by stores that apply several writes atomically:
// either all of a batch is stored or none of it (one bbolt transaction, one
// Redis MULTI). eurekad commits its group writes through it when present.
type Batcher interface {
	Batch(ctx context.Context, ops []Op) error
}

// Snapshotter is implemented by stores that can visit every record as of a
// single point in time (a bbolt read transaction), which Scan does not
// promise. Snapshot follows Scan's rules for fn.
type Snapshotter interface {
	Snapshot(ctx context.Context, fn func(Record) error) error
}

// Errors a Store returns, wrapped, and callers test with errors.Is.
var (
	// ErrNotFound is returned by Get for a key that is not stored.
	ErrNotFound = errors.New("storage: not found")
	// ErrClosed is returned by every method of a closed store.
	ErrClosed = errors.New("storage: store closed")
	// ErrStop is returned by a Scan or Snapshot callback to stop early
	// without an error.
	ErrStop = errors.New("storage: stop scan")
	// ErrRefused is returned by a write the store will never accept for
	// the record itself (a key or value beyond its limits), as opposed to
	// a store that is failing: writing the same record again fails the
	// same way, other records are not affected. Prefer returning a
	// *RefusedError, which matches it and names the key.
	ErrRefused = errors.New("storage: record refused")
)

// RefusedError is the error of a write a store refuses for its record (see
// ErrRefused). A Batcher that refuses one op of a batch returns it naming
// that op's key, and stores none of the batch; the caller then writes the
// others again without it.
type RefusedError struct {
	Key Key
	// Reason says why, without the key (a limit, a size).
	Reason string
}

// Error names the key by its excerpt, never in full.
func (e *RefusedError) Error() string {
	return "record " + e.Key.Excerpt() + " refused: " + e.Reason
}

// Is makes a *RefusedError match ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// All collects every record of a store (or of one application) into a
// slice: a convenience over Scan for small stores and tests.
func All(ctx context.Context, s Store, app string) ([]Record, error) {
	var out []Record
	err := s.Scan(ctx, app, func(r Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// Count returns the number of records of a store, or of one application.
func Count(ctx context.Context, s Store, app string) (int, error) {
	n := 0
	err := s.Scan(ctx, app, func(Record) error {
		n++
		return nil
	})
	return n, err
}

// ApplyBatch writes ops through s's Batcher when it has one, atomically, and
// otherwise one by one in order (not atomically).
func ApplyBatch(ctx context.Context, s Store, ops []Op) error {
	if b, ok := s.(Batcher); ok {
		return b.Batch(ctx, ops)
	}
	for _, op := range ops {
		var err error
		if op.Delete {
			err = s.Delete(ctx, op.Record.Key)
		} else {
			err = s.Put(ctx, op.Record)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Full is a store with every optional ability: what a proxy for another
// store (a plugin client, a supervised handle) implements before it knows
// which abilities the store behind it really has.
type Full interface {
	Store
	Batcher
	Snapshotter
}

// Restrict returns s showing only the abilities asked for: the result
// implements Batcher only when batch is true and Snapshotter only when
// snapshot is true, so callers that test for an ability by type assertion
// see the real store's abilities, not the proxy's.
func Restrict(s Full, batch, snapshot bool) Store {
	switch {
	case batch && snapshot:
		return s
	case batch:
		return batchOnly{s, s}
	case snapshot:
		return snapshotOnly{s, s}
	}
	return plainOnly{s}
}

// Embedding the interfaces, not s, promotes only their methods.
type (
	plainOnly struct{ Store }
	batchOnly struct {
		Store
		Batcher
	}
	snapshotOnly struct {
		Store
		Snapshotter
	}
)
