package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/eurekad/eurekad/sdk/storage"
)

// DefaultTimeout is how long Open waits for another process to release the
// file when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Options configures Open. The zero value (or a nil *Options) gives
// DefaultOptions.
type Options struct {
	// Timeout is how long Open waits for the file lock held by another
	// process before failing with ErrLocked. Zero means DefaultTimeout; a
	// negative value fails at once.
	Timeout time.Duration
	// NoSync skips the fsync of each transaction. Writes then survive a
	// crash of the process but not of the machine, which may also corrupt
	// the file. For tests and benchmarks only.
	NoSync bool
	// CheckpointInterval is how often journalled writes are applied to the
	// bbolt file. Zero means DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// MaxJournalBytes starts a checkpoint early once the journal holds this
	// much. Zero means DefaultMaxJournalBytes.
	MaxJournalBytes int64
	// Logger receives the store's logs and bbolt's (bbolt's info lines at
	// debug level). Nil discards them.
	Logger *slog.Logger
}

// Defaults of the journal (see the package doc).
const (
	DefaultCheckpointInterval       = 30 * time.Second
	DefaultMaxJournalBytes    int64 = 256 << 20
)

// initialMmapSize is the address space mapped for the bbolt file at open.
const initialMmapSize = 1 << 30

// DefaultOptions returns the options a nil *Options means.
func DefaultOptions() *Options {
	return &Options{Timeout: DefaultTimeout, CheckpointInterval: DefaultCheckpointInterval, MaxJournalBytes: DefaultMaxJournalBytes}
}

// Errors Open returns, wrapped, besides the operating system's.
var (
	// ErrLocked is returned by Open when another process holds the file
	// for longer than Options.Timeout.
	ErrLocked = errors.New("bolt: file is locked by another process")
	// ErrInvalid is returned by Open for a file that is not a bbolt
	// database, is corrupt, or has another layout than this package's.
	ErrInvalid = errors.New("bolt: not a eurekad bolt store")
)

const layoutVersion = "1"

var (
	bucketMeta = []byte("meta")
	bucketApps = []byte("apps")
	keyVersion = []byte("version")
)

// Scan's transactions end after this many records or value bytes, so that
// fn runs outside any transaction and memory stays bounded.
const (
	scanChunkRecords = 512
	scanChunkBytes   = 4 << 20
)

// maxValue is the largest Record.Value: bbolt's value limit less the 8
// bytes of Updated, and a frame must hold it.
const maxValue = maxFrame - 64<<10

// fillPercent is how full bbolt fills a page before it splits it.
const fillPercent = 0.9

// errNoChange rolls back a write transaction that changed nothing, saving
// its fsync.
var errNoChange = errors.New("bolt: no change")

// Store is a storage.Store in a bbolt file and its journal; it also
// implements storage.Batcher and storage.Snapshotter. It is safe for
// concurrent use.
type Store struct {
	db     *bbolt.DB
	path   string
	log    *slog.Logger
	opts   Options
	closed atomic.Bool

	journal
}

// Open opens the store in the file at path, creating the file (mode 0600)
// and its parent directory (0700) if missing. Only one process may have a
// file open: Open waits opts.Timeout for it, then fails with ErrLocked. A
// file that is not a eurekad bolt store fails with ErrInvalid.
func Open(path string, opts *Options) (*Store, error) {
	o := DefaultOptions()
	if opts != nil {
		c := *opts
		o = &c
	}
	timeout := o.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = time.Nanosecond // bbolt: try once
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "storage", "store", "bolt", "path", path)

	start := time.Now()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	bo := &bbolt.Options{
		Timeout:      timeout,
		NoSync:       o.NoSync,
		FreelistType: bbolt.FreelistMapType,
	}
	if strconv.IntSize == 64 && runtime.GOOS != "windows" {
		// Address space only (pages count once touched): the file then
		// grows without remapping, which copied every node of the
		// checkpoint's transaction to the heap each time. Windows would
		// grow the file itself to this size.
		bo.InitialMmapSize = initialMmapSize
	}
	if o.Logger != nil {
		bo.Logger = boltLogger{log}
	}
	db, err := bbolt.Open(path, 0o600, bo)
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("bolt: open %s: %w", path, invalid("not a bbolt file, or corrupt: %w", err))
	case err != nil:
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if err := initLayout(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.MaxJournalBytes <= 0 {
		o.MaxJournalBytes = DefaultMaxJournalBytes
	}
	s := &Store{db: db, path: path, log: log, opts: *o}
	replayed, err := s.openJournal()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	log.Info("store opened", "elapsed", time.Since(start), "nosync", o.NoSync, "journal_records_replayed", replayed)
	return s, nil
}

// invalidError is an ErrInvalid failure worded to follow Open's "bolt: open
// PATH: " without repeating the package prefix that ErrInvalid's own text
// carries.
type invalidError struct{ err error }

func invalid(format string, a ...any) error { return invalidError{fmt.Errorf(format, a...)} }

func (e invalidError) Error() string   { return "not a eurekad bolt store: " + e.err.Error() }
func (e invalidError) Unwrap() []error { return []error{ErrInvalid, e.err} }

// initLayout checks the layout of an existing file, or writes it into a new
// one. It writes nothing to a file it refuses.
func initLayout(db *bbolt.DB) error {
	empty := false
	err := db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			empty = true
			return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
				return invalid("a bbolt file with a foreign bucket %q", name)
			})
		}
		if v := meta.Get(keyVersion); string(v) != layoutVersion {
			return invalid("layout version %q, want %q", v, layoutVersion)
		}
		if tx.Bucket(bucketApps) == nil {
			return invalid("no apps bucket")
		}
		return nil
	})
	if err != nil || !empty {
		return err
	}
	return db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyVersion, []byte(layoutVersion)); err != nil {
			return err
		}
		_, err = tx.CreateBucket(bucketApps)
		return err
	})
}

// keyError wraps err with the operation and key.
func keyError(op string, k storage.Key, err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		err = storage.ErrClosed
	}
	return fmt.Errorf("bolt: %s %s: %w", op, k.Excerpt(), err)
}

// opError wraps err with the operation, for errors that name no one key.
func opError(op string, err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		err = storage.ErrClosed
	}
	return fmt.Errorf("bolt: %s: %w", op, err)
}

// ready returns why a call may not start: the store is closed or ctx is
// done.
func (s *Store) ready(ctx context.Context) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return ctx.Err()
}

// checkKey returns a *storage.RefusedError for a key the file cannot hold.
func checkKey(k storage.Key) error {
	if k.App == "" || k.ID == "" {
		return &storage.RefusedError{Key: k, Reason: "empty application or instance id"}
	}
	if len(k.App) > bbolt.MaxKeySize || len(k.ID) > bbolt.MaxKeySize {
		return &storage.RefusedError{Key: k, Reason: fmt.Sprintf("application (%d bytes) or instance id (%d bytes) longer than %d bytes",
			len(k.App), len(k.ID), bbolt.MaxKeySize)}
	}
	return nil
}

// checkRecord refuses, before it is journalled, a record the file could
// not take: the journal must never hold a write its checkpoint would fail.
// A refusal is a *storage.RefusedError, so that eurekad stores the rest of
// its batch.
func checkRecord(r storage.Record) error {
	if err := checkKey(r.Key); err != nil {
		return err
	}
	if len(r.Value) > maxValue {
		return &storage.RefusedError{Key: r.Key, Reason: fmt.Sprintf("value of %d bytes exceeds the %d-byte limit", len(r.Value), maxValue)}
	}
	return nil
}

// decode copies a stored value out of its transaction.
func decode(app string, id, v []byte) (storage.Record, error) {
	if len(v) < 8 {
		return storage.Record{}, fmt.Errorf("corrupt record %s: %d-byte value", storage.Key{App: app, ID: string(id)}.Excerpt(), len(v))
	}
	return decodeOwned(app, string(id), bytes.Clone(v))
}

// decodeOwned decodes a stored value the caller may hand out.
func decodeOwned(app, id string, v []byte) (storage.Record, error) {
	if len(v) < 8 {
		return storage.Record{}, fmt.Errorf("corrupt record %s: %d-byte value", storage.Key{App: app, ID: id}.Excerpt(), len(v))
	}
	return storage.Record{
		Key:     storage.Key{App: app, ID: id},
		Value:   v[8:len(v):len(v)],
		Updated: int64(binary.BigEndian.Uint64(v)),
	}, nil
}

func appsOf(tx *bbolt.Tx) (*bbolt.Bucket, error) {
	apps := tx.Bucket(bucketApps)
	if apps == nil {
		return nil, errors.New("corrupt file: no apps bucket")
	}
	return apps, nil
}

// writer applies puts and deletes in one read-write transaction, keeping
// the buckets it has opened.
type writer struct {
	apps    *bbolt.Bucket
	buckets map[string]*bbolt.Bucket
	changed bool
}

func newWriter(tx *bbolt.Tx) (*writer, error) {
	apps, err := appsOf(tx)
	if err != nil {
		return nil, err
	}
	return &writer{apps: apps, buckets: map[string]*bbolt.Bucket{}}, nil
}

func (w *writer) put(k storage.Key, v []byte) error {
	b := w.buckets[k.App]
	if b == nil {
		var err error
		if b, err = w.apps.CreateBucketIfNotExists([]byte(k.App)); err != nil {
			return err
		}
		// Checkpoints write keys in order, and most rewrite records in
		// place: split pages 90% full rather than bbolt's default half, for
		// a file (and a restore) about half the size.
		b.FillPercent = fillPercent
		w.buckets[k.App] = b
	}
	w.changed = true
	return b.Put([]byte(k.ID), v)
}

// delete removes a record, and its application's bucket when it was the
// last record.
func (w *writer) delete(k storage.Key) error {
	b := w.buckets[k.App]
	if b == nil {
		if b = w.apps.Bucket([]byte(k.App)); b == nil {
			return nil
		}
	}
	id := []byte(k.ID)
	if b.Get(id) == nil {
		return nil
	}
	w.changed = true
	if err := b.Delete(id); err != nil {
		return err
	}
	if first, _ := b.Cursor().First(); first != nil {
		b.FillPercent = fillPercent
		w.buckets[k.App] = b
		return nil
	}
	delete(w.buckets, k.App)
	return w.apps.DeleteBucket([]byte(k.App))
}

// update runs fn in a read-write transaction that ctx can still cancel once
// the transaction has begun; a transaction that changed nothing is rolled
// back rather than committed.
func (s *Store) update(ctx context.Context, fn func(*writer) error) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		w, err := newWriter(tx)
		if err != nil {
			return err
		}
		if err := fn(w); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err // cancelled meanwhile: roll back
		}
		if !w.changed {
			return errNoChange
		}
		return nil
	})
	if err == errNoChange {
		return nil
	}
	return err
}

// Put inserts or replaces a record in one transaction.
func (s *Store) Put(ctx context.Context, r storage.Record) error {
	if err := s.ready(ctx); err != nil {
		return keyError("put", r.Key, err)
	}
	if err := checkRecord(r); err != nil {
		return keyError("put", r.Key, err)
	}
	if err := s.write(ctx, []storage.Op{{Record: r}}); err != nil {
		return keyError("put", r.Key, err)
	}
	return nil
}

// Get returns the record with key k, or an error matching
// storage.ErrNotFound.
func (s *Store) Get(ctx context.Context, k storage.Key) (storage.Record, error) {
	if err := s.ready(ctx); err != nil {
		return storage.Record{}, keyError("get", k, err)
	}
	if v, del, ok, err := s.pending(k); ok || err != nil {
		switch {
		case err != nil:
			return storage.Record{}, keyError("get", k, err)
		case del:
			return storage.Record{}, keyError("get", k, storage.ErrNotFound)
		}
		r, err := decodeOwned(k.App, k.ID, v)
		if err != nil {
			return storage.Record{}, keyError("get", k, err)
		}
		return r, nil
	}
	var r storage.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		apps, err := appsOf(tx)
		if err != nil {
			return err
		}
		var v []byte
		if k.App != "" && k.ID != "" {
			if b := apps.Bucket([]byte(k.App)); b != nil {
				v = b.Get([]byte(k.ID))
			}
		}
		if v == nil {
			return storage.ErrNotFound
		}
		r, err = decode(k.App, []byte(k.ID), v)
		return err
	})
	if err != nil {
		return storage.Record{}, keyError("get", k, err)
	}
	return r, nil
}

// Delete removes the record with key k, if any, in one transaction.
func (s *Store) Delete(ctx context.Context, k storage.Key) error {
	if err := s.ready(ctx); err != nil {
		return keyError("delete", k, err)
	}
	if k.App == "" || k.ID == "" {
		return nil // cannot be stored
	}
	if err := s.write(ctx, []storage.Op{{Delete: true, Record: storage.Record{Key: k}}}); err != nil {
		return keyError("delete", k, err)
	}
	return nil
}

// Batch journals ops as one frame, with one fsync: all of them are stored
// or none, across a crash too. A context cancelled before the write
// changes nothing.
func (s *Store) Batch(ctx context.Context, ops []storage.Op) error {
	if err := s.ready(ctx); err != nil {
		return opError(fmt.Sprintf("batch of %d ops", len(ops)), err)
	}
	keep, skipped := ops, 0
	for _, o := range ops {
		if !o.Delete {
			if err := checkRecord(o.Record); err != nil {
				return opError(fmt.Sprintf("batch of %d ops", len(ops)), fmt.Errorf("put: %w", err))
			}
		} else if checkKey(o.Record.Key) != nil {
			skipped++ // cannot be stored: deleting it is a no-op
		}
	}
	if skipped > 0 {
		keep = make([]storage.Op, 0, len(ops)-skipped)
		for _, o := range ops {
			if !o.Delete || checkKey(o.Record.Key) == nil {
				keep = append(keep, o)
			}
		}
	}
	if len(keep) == 0 {
		return nil
	}
	if err := s.write(ctx, keep); err != nil {
		return opError(fmt.Sprintf("batch of %d ops", len(ops)), err)
	}
	return nil
}

// scanPos is where a Scan resumes: after record id of application app.
type scanPos struct {
	app, id string
	started bool
}

// releasePages lets go of the process's mapping of the file's pages once a
// scan of the whole store has read them all: bbolt maps the file, and a
// restore left every page of it resident, counted in the process's RSS
// (1.4 GB at 1,000,000 instances, as much as the registry's heap). The
// page cache keeps them. Inside a read transaction, so that bbolt cannot
// map the file again elsewhere meanwhile.
func (s *Store) releasePages() {
	s.db.View(func(tx *bbolt.Tx) error {
		dontNeed(s.db.Info().Data, int(tx.Size()))
		return nil
	})
}

// Scan calls fn for every record, or for those of application app. It reads
// a few hundred records per read transaction and calls fn between them, so
// fn may use the store; a record that exists for the whole Scan is seen
// once.
func (s *Store) Scan(ctx context.Context, app string, fn func(storage.Record) error) error {
	op := "scan"
	if app != "" {
		op = "scan " + app
	}
	if err := s.ready(ctx); err != nil {
		return opError(op, err)
	}
	// Journalled writes not yet in the file win over the file's copy.
	pend, err := s.pendingCopy(app)
	if err != nil {
		return opError(op, err)
	}
	call := func(r storage.Record) (stop bool, err error) {
		if err := s.ready(ctx); err != nil {
			return true, opError(op, err)
		}
		if err := fn(r); err != nil {
			if errors.Is(err, storage.ErrStop) {
				return true, nil
			}
			return true, err
		}
		return false, nil
	}
	var pos scanPos
	for {
		recs, more, err := s.readChunk(app, &pos)
		if err != nil {
			return opError(op, err)
		}
		for _, r := range recs {
			if _, ok := pend[r.Key]; ok {
				continue
			}
			if stop, err := call(r); stop {
				return err
			}
		}
		if !more {
			if app == "" {
				s.releasePages()
			}
			for k, v := range pend {
				if v == nil {
					continue // deleted
				}
				r, err := decodeOwned(k.App, k.ID, v)
				if err != nil {
					return opError(op, err)
				}
				if stop, err := call(r); stop {
					return err
				}
			}
			return nil
		}
		if err := s.ready(ctx); err != nil {
			return opError(op, err)
		}
	}
}

// readChunk reads the records after pos, up to the chunk limits, in one
// read transaction, and moves pos past them. more reports whether records
// remain.
func (s *Store) readChunk(app string, pos *scanPos) (recs []storage.Record, more bool, err error) {
	size := 0
	// visit appends the records of bucket b after id (or from its first
	// when !resume); it reports whether the chunk is full.
	visit := func(name string, b *bbolt.Bucket, resume bool, id string) (bool, error) {
		c := b.Cursor()
		var k, v []byte
		if resume {
			if k, v = c.Seek([]byte(id)); k != nil && string(k) == id {
				k, v = c.Next()
			}
		} else {
			k, v = c.First()
		}
		for ; k != nil; k, v = c.Next() {
			if len(recs) >= scanChunkRecords || size >= scanChunkBytes {
				return true, nil
			}
			r, err := decode(name, k, v)
			if err != nil {
				return false, err
			}
			recs = append(recs, r)
			size += len(v)
			*pos = scanPos{app: name, id: r.Key.ID, started: true}
		}
		return false, nil
	}
	err = s.db.View(func(tx *bbolt.Tx) error {
		apps, err := appsOf(tx)
		if err != nil {
			return err
		}
		if app != "" {
			b := apps.Bucket([]byte(app))
			if b == nil {
				return nil
			}
			more, err = visit(app, b, pos.started, pos.id)
			return err
		}
		c := apps.Cursor()
		name, _ := c.First()
		if pos.started {
			name, _ = c.Seek([]byte(pos.app))
		}
		for ; name != nil; name, _ = c.Next() {
			b := apps.Bucket(name)
			if b == nil {
				continue // not a bucket: not ours to read
			}
			n := string(name)
			if more, err = visit(n, b, pos.started && n == pos.app, pos.id); more || err != nil {
				return err
			}
		}
		return nil
	})
	return recs, more, err
}

// Snapshot calls fn for every record as of one point in time: a bbolt read
// transaction and the journalled writes not yet in it, taken together. fn
// runs inside the transaction and must not call the store.
func (s *Store) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	if err := s.ready(ctx); err != nil {
		return opError("snapshot", err)
	}
	// Holding the overlay lock while the transaction begins makes the two
	// one point in time: a checkpoint clears an overlay only after its
	// writes are committed to the file.
	s.omu.RLock()
	tx, err := s.db.Begin(false)
	var pend map[storage.Key][]byte
	if err == nil {
		if pend, err = s.pendingValues(""); err != nil {
			tx.Rollback()
		}
	}
	s.omu.RUnlock()
	if err != nil {
		return opError("snapshot", err)
	}
	defer tx.Rollback()
	var fnErr error // fn's error, returned as is
	emit := func(app string, id, v []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := decode(app, id, v)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			fnErr = err
			return err
		}
		return nil
	}
	err = func() error {
		apps, err := appsOf(tx)
		if err != nil {
			return err
		}
		err = apps.ForEachBucket(func(name []byte) error {
			n := string(name)
			return apps.Bucket(name).ForEach(func(k, v []byte) error {
				if _, ok := pend[storage.Key{App: n, ID: string(k)}]; ok {
					return nil
				}
				return emit(n, k, v)
			})
		})
		if err != nil {
			return err
		}
		for k, v := range pend {
			if v != nil {
				if err := emit(k.App, []byte(k.ID), v); err != nil {
					return err
				}
			}
		}
		return nil
	}()
	switch {
	case fnErr != nil && errors.Is(fnErr, storage.ErrStop):
		return nil
	case fnErr != nil:
		return fnErr
	case err != nil:
		return opError("snapshot", err)
	}
	return nil
}

// Close closes the file, after waiting for running transactions. Later
// calls return storage.ErrClosed; Close may be called more than once.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.closeJournal()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: close %s: %w", s.path, err)
	}
	s.log.Debug("store closed")
	return nil
}

// boltLogger passes bbolt's logs to slog, its info lines at debug level.
// bbolt never calls Fatal or Panic; they log at error level and panic.
type boltLogger struct{ l *slog.Logger }

func (b boltLogger) Debug(v ...any)                 { b.l.Debug(fmt.Sprint(v...)) }
func (b boltLogger) Debugf(format string, v ...any) { b.l.Debug(fmt.Sprintf(format, v...)) }
func (b boltLogger) Info(v ...any)                  { b.l.Debug(fmt.Sprint(v...)) }
func (b boltLogger) Infof(format string, v ...any)  { b.l.Debug(fmt.Sprintf(format, v...)) }
func (b boltLogger) Warning(v ...any)               { b.l.Warn(fmt.Sprint(v...)) }
func (b boltLogger) Warningf(format string, v ...any) {
	b.l.Warn(fmt.Sprintf(format, v...))
}
func (b boltLogger) Error(v ...any)                 { b.l.Error(fmt.Sprint(v...)) }
func (b boltLogger) Errorf(format string, v ...any) { b.l.Error(fmt.Sprintf(format, v...)) }
func (b boltLogger) Fatal(v ...any)                 { b.Panic(v...) }
func (b boltLogger) Fatalf(format string, v ...any) { b.Panicf(format, v...) }
func (b boltLogger) Panic(v ...any) {
	msg := fmt.Sprint(v...)
	b.l.Error(msg)
	panic(msg)
}
func (b boltLogger) Panicf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	b.l.Error(msg)
	panic(msg)
}

// Interface guards.
var (
	_ storage.Store       = (*Store)(nil)
	_ storage.Batcher     = (*Store)(nil)
	_ storage.Snapshotter = (*Store)(nil)
	_ bbolt.Logger        = boltLogger{}
)
