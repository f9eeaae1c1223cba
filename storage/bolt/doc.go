// Package bolt is a storage.Store in one bbolt file (go.etcd.io/bbolt): the
// default store of eurekad. It implements storage.Batcher (a batch is one
// journal frame, so one fsync) and storage.Snapshotter (one read
// transaction plus the journal's index).
//
// It imports bbolt, the standard library and sdk/storage; never the core.
//
// # File layout
//
// Operators and tools (eurekad snapshot inspect, the bbolt command) may read
// the file; this layout is version 1:
//
//	meta/                 bucket
//	  version = "1"       layout version, ASCII decimal
//	apps/                 bucket
//	  <APP>/              one bucket per application, named Key.App (UTF-8)
//	    <ID> = <value>    one key per record, named Key.ID (UTF-8)
//
// A record's value is 8 bytes of Record.Updated (big-endian two's
// complement int64, Unix milliseconds) followed by Record.Value, which is
// opaque to the store. An application's bucket exists only while it holds
// a record. Open refuses a file with another layout version, or a bbolt
// file with other top-level buckets, with ErrInvalid, and never writes to
// it.
//
// Keys are limited by bbolt: an application or id must not be empty and
// must not exceed 32 KiB.
//
// # Durability: the journal
//
// A write (Put, Delete or Batch) is appended to a journal file beside the
// bbolt file (<path>.journal.<n>) as one checksummed frame, written over
// zeros the store keeps ahead of the frames (tail.go), and fdatasynced
// before it returns: a write that returned nil survives a crash of the
// process or of the machine, and a Batch is all or nothing. Writing into
// the B+tree is deferred: every Options.CheckpointInterval (30 s), or once
// the journal holds Options.MaxJournalBytes (256 MiB), the journalled writes,
// merged by key, are applied to the bbolt file in key order, in
// transactions bbolt fsyncs, and the journal file is deleted. A record
// written many times between two checkpoints reaches the B+tree once; a
// write costs one sequential append whatever the record count, where a
// bbolt transaction per group commit rewrote a 4 KiB page per record and
// fsynced twice. Writers continue in a new journal file while a checkpoint
// runs. Open replays the journals a crash left, and Close checkpoints.
//
// The journal format is in journal.go. A frame torn by a crash (never
// acknowledged) ends the replay of its file with a warning.
//
// Readers see journalled writes at once: Get and Scan look in an in-memory
// index of the journal (key → offset; the values stay in the file) before
// the B+tree, and Snapshot takes the index and a bbolt read transaction at
// one point in time.
//
// With Options.NoSync neither the journal nor bbolt is fsynced: writes
// survive a crash of the process (they are in the page cache) but not of
// the machine, which may also leave a corrupt file: for tests and
// benchmarks only.
//
// # Concurrency
//
// All methods are safe for concurrent use. Writes are serialised by the
// journal; reads run in parallel with them. One process at a time opens a file: a
// second Open waits Options.Timeout for the lock, then fails with
// ErrLocked.
//
// Scan reads in short read transactions of a few hundred records and calls
// fn outside them, so fn may use the store. Snapshot runs fn inside its one
// read transaction, so fn must not call the store (bbolt may deadlock), and
// a long Snapshot delays writers that need to grow the file.
package bolt
