// Package bolt is a storage.Store in one bbolt file (go.etcd.io/bbolt): the
// default store of eurekad. It implements storage.Batcher (a batch is one
// transaction, so one fsync) and storage.Snapshotter (one read transaction).
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
// # Durability
//
// Every Put, Delete and Batch is one bbolt read-write transaction, and bbolt
// fsyncs each transaction before it returns: a write that returned nil
// survives a crash of the process or of the machine. Batch is the way to
// write many records for one fsync. With Options.NoSync, writes survive a
// crash of the process (they are in the page cache) but not of the machine,
// which may also leave a corrupt file: for tests and benchmarks only.
//
// # Concurrency
//
// All methods are safe for concurrent use. Writes are serialised by bbolt;
// reads run in parallel with them. One process at a time opens a file: a
// second Open waits Options.Timeout for the lock, then fails with
// ErrLocked.
//
// Scan reads in short read transactions of a few hundred records and calls
// fn outside them, so fn may use the store. Snapshot runs fn inside its one
// read transaction, so fn must not call the store (bbolt may deadlock), and
// a long Snapshot delays writers that need to grow the file.
package bolt
