// Package snapshot reads and writes eurekad's backup format: one file,
// whatever the store, that `eurekad snapshot save` writes from a running
// server and `eurekad snapshot restore` loads into any store.
//
// # Format
//
// A snapshot is UTF-8 JSON lines. The first line is the header:
//
//	{"format":"eurekad-snapshot","version":1,"created":"2026-11-22T07:00:00Z","records":2}
//
// Each following line is one record, as the registry stores it:
//
//	{"app":"ORDERS","id":"10.0.0.5:orders:8080","updated":1718000000000,"value":{…}}
//
// A server with namespaces (core/namespace) lists the namespaces a snapshot
// holds in the header ("namespaces":["default","team-a"]), and a record of
// a namespace other than the default one has its store key, the
// application prefixed with "ns/{namespace}/". A header without namespaces
// is a whole store of the default namespace alone, as before namespaces.
//
// "value" is the registry's record (itself JSON: lease times, override and
// the instance in Eureka's JSON). The header's record count lets a reader
// detect a truncated file. Lines are in no particular order.
//
// # Input rules
//
// A snapshot may hold records that break the input rules (core/rules): one
// saved by an older eurekad, or edited by hand. Check sorts them out, so
// that a restore writes into a store only what a server would restore from
// it; a record that cannot be read at all makes the file unusable.
package snapshot

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/eurekad/eurekad/core/namespace"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/rules"
	"github.com/eurekad/eurekad/sdk/storage"
)

// FormatName and Version identify the format in the header.
const (
	FormatName = "eurekad-snapshot"
	Version    = 1
)

// ErrFormat is returned for a file that is not a readable snapshot.
var ErrFormat = errors.New("snapshot: not a valid eurekad snapshot")

// Header is the first line of a snapshot.
type Header struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Records int       `json:"records"`
	// Namespaces are the namespaces the snapshot holds, all of their
	// records; empty for a server without namespaces (the whole store).
	Namespaces []string `json:"namespaces,omitempty"`
}

type line struct {
	App     string          `json:"app"`
	ID      string          `json:"id"`
	Updated int64           `json:"updated"`
	Value   json.RawMessage `json:"value"`
}

// Write writes records as a snapshot to w.
func Write(w io.Writer, created time.Time, records []storage.Record) error {
	return WriteNamespaces(w, created, nil, records)
}

// WriteNamespaces writes records, all those of namespaces (their keys
// prefixed as stored), as a snapshot to w.
func WriteNamespaces(w io.Writer, created time.Time, namespaces []string, records []storage.Record) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(Header{Format: FormatName, Version: Version, Created: created.UTC(), Records: len(records), Namespaces: namespaces}); err != nil {
		return err
	}
	for _, r := range records {
		if !json.Valid(r.Value) {
			return fmt.Errorf("snapshot: record %s/%s is not JSON", rules.Excerpt(r.Key.App), rules.Excerpt(r.Key.ID))
		}
		if err := enc.Encode(line{App: r.Key.App, ID: r.Key.ID, Updated: r.Updated, Value: r.Value}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Read reads a snapshot, calling fn for each record, and returns its header.
// It fails with ErrFormat on a malformed file and when the record count does
// not match the header (a truncated copy).
func Read(r io.Reader, fn func(storage.Record) error) (Header, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var h Header
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return h, err
		}
		return h, fmt.Errorf("%w: empty file", ErrFormat)
	}
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Format != FormatName {
		return h, fmt.Errorf("%w: bad header", ErrFormat)
	}
	if h.Version != Version {
		return h, fmt.Errorf("%w: version %d, this eurekad reads %d", ErrFormat, h.Version, Version)
	}
	n := 0
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.App == "" || l.ID == "" || len(l.Value) == 0 {
			return h, fmt.Errorf("%w: record %d is malformed", ErrFormat, n+1)
		}
		n++
		if err := fn(storage.Record{Key: storage.Key{App: l.App, ID: l.ID}, Value: l.Value, Updated: l.Updated}); err != nil {
			return h, err
		}
	}
	if err := sc.Err(); err != nil {
		return h, err
	}
	if n != h.Records {
		return h, fmt.Errorf("%w: header says %d records, file holds %d (truncated?)", ErrFormat, h.Records, n)
	}
	return h, nil
}

// Refused is a record that breaks the input rules, and why.
type Refused struct {
	Key storage.Key
	// Err wraps registry.ErrRefusedRecord and the *rules.Violation; its
	// message names the field, not the value.
	Err error
}

// Name is the record's key as "APP/ID", cut to bounded excerpts.
func (r Refused) Name() string {
	return rules.Excerpt(r.Key.App) + "/" + rules.Excerpt(r.Key.ID)
}

// Check splits records into those a registry applying limits (the zero
// value means rules.DefaultLimits) would restore and those it would skip
// for breaking the input rules (registry.ErrRefusedRecord). A record that
// cannot be read at all fails the check with registry.ErrBadRecord, naming
// the record by bounded excerpts of its key.
func Check(records []storage.Record, limits rules.Limits) (keep []storage.Record, refused []Refused, err error) {
	limits = limits.OrDefault()
	keep = make([]storage.Record, 0, len(records))
	for _, r := range records {
		// A namespace's record is checked as its registry reads it.
		in := r
		_, in.Key = namespace.SplitKey(r.Key)
		_, _, err := registry.CheckRecord(in, limits)
		switch {
		case err == nil:
			keep = append(keep, r)
		case errors.Is(err, registry.ErrRefusedRecord):
			refused = append(refused, Refused{Key: r.Key, Err: err})
		default:
			return nil, nil, fmt.Errorf("record %s/%s: %w", rules.Excerpt(r.Key.App), rules.Excerpt(r.Key.ID), err)
		}
	}
	return keep, refused, nil
}
