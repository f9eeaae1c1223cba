package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/eurekad/eurekad/core/rules"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
)

// The registry owns the bytes it stores. A record is one lease:
//
//	{"v":1,"registered":<ms>,"lastRenewal":<ms>,"serviceUp":<ms>,"stamp":<ms>,
//	 "override":"OUT_OF_SERVICE","instance":{…Eureka JSON of the instance…}}
//
// "stamp" is the modification stamp anti-entropy compares (antientropy.go;
// absent in records of older versions, read as the registration time).
// "override" is present only when the instance has an operator override;
// "instance" is the instance as registered (sdk/eureka's JSON, unwrapped),
// so a record is readable with any Eureka-aware tool.
const recordVersion = 1

type recordHeader struct {
	V           int             `json:"v"`
	Registered  int64           `json:"registered"`
	LastRenewal int64           `json:"lastRenewal"`
	ServiceUp   int64           `json:"serviceUp"`
	Stamp       int64           `json:"stamp,omitempty"`
	Override    eureka.Status   `json:"override,omitempty"`
	Instance    json.RawMessage `json:"instance"`
}

// ErrBadRecord is returned for a stored record this registry cannot read.
var ErrBadRecord = errors.New("registry: unreadable record")

// ErrRefusedRecord is returned for a stored record that reads but breaks
// the input rules (core/rules): an oversized or invalid name or id, an
// UNKNOWN override, too much metadata. Such a record can only come from an
// older eurekad or a hand-made store or snapshot; it is never restored, so
// that what the rules refuse on every write path cannot enter at a start.
// The error wraps the *rules.Violation.
var ErrRefusedRecord = errors.New("registry: record breaks the input rules")

// ChangeFunc is told the key of every lease whose stored form changed:
// registered, cancelled or evicted, status or override changed, metadata
// updated. Plain renewals are not reported. It is called synchronously by
// the mutating call, so a caller that waits for the persister after a
// mutation waits for its own change.
type ChangeFunc func(app, id string)

// SetChangeFunc installs fn; call it before serving. A nil fn turns
// reporting off.
func (r *Registry) SetChangeFunc(fn ChangeFunc) {
	r.mu.Lock()
	r.onChange = fn
	r.mu.Unlock()
}

// changed reports a change; the caller holds mu (either side).
func (r *Registry) changed(app, id string) {
	if r.onChange != nil {
		r.onChange(app, id)
	}
}

// AppendRecord returns the stored form of a lease, its value appended to
// buf, which it returns grown as append does (a flush encodes its whole
// group into one buffer it reuses, rather than allocating a kilobyte per
// record); ok is false when the lease no longer exists (the store should
// delete the key).
func (r *Registry) AppendRecord(buf []byte, app, id string) (rec storage.Record, out []byte, ok bool) {
	r.mu.RLock()
	l := r.lookup(app, id)
	var o *override
	if l != nil {
		o = r.overrides[l.key()]
	}
	r.mu.RUnlock()
	if l == nil {
		return storage.Record{Key: storage.Key{App: app, ID: id}}, buf, false
	}
	rec, out = appendRecord(buf, l, o)
	return rec, out, true
}

// appendRecord appends the stored form of l to buf; the record's Value is
// the appended part.
func appendRecord(buf []byte, l *lease, o *override) (storage.Record, []byte) {
	in := l.instance.Load()
	if buf == nil {
		buf = make([]byte, 0, 1024)
	}
	start := len(buf)
	b := append(buf, `{"v":1,"registered":`...)
	b = appendInt(b, l.registration)
	b = append(b, `,"lastRenewal":`...)
	b = appendInt(b, l.lastUpdate.Load())
	b = append(b, `,"serviceUp":`...)
	b = appendInt(b, l.serviceUp.Load())
	if st := l.stamp.Load(); st != 0 {
		b = append(b, `,"stamp":`...)
		b = appendInt(b, st)
	}
	if o != nil {
		b = append(b, `,"override":"`...)
		b = append(b, o.status...)
		b = append(b, '"')
	}
	b = append(b, `,"instance":`...)
	b = eureka.AppendInstanceJSON(b, in)
	b = append(b, '}')
	return storage.Record{
		Key:     storage.Key{App: l.app, ID: l.id},
		Value:   b[start:len(b):len(b)],
		Updated: max(in.LastUpdatedTimestamp, l.registration),
	}, b
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// Keys calls fn with the key of every lease, for lease checkpoints.
func (r *Registry) Keys(fn func(app, id string)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, a := range r.apps {
		for id := range a.leases {
			fn(a.name, id)
		}
	}
}

// Restore loads every record of s into an empty registry and returns how
// many leases it restored. Each restored lease gets a full lease duration
// from now to renew (a grace period), keeps its registration and service-up
// times and its override, and counts as a new registration for
// self-preservation. Records it cannot read (ErrBadRecord) or that break
// the input rules of Options.Limits (ErrRefusedRecord) are skipped, counted
// in skipped and logged with a bounded excerpt of their key; they stay in
// the store until their instance registers again or is cancelled. An
// error from the store ends the restore.
func (r *Registry) Restore(ctx context.Context, s storage.Store) (restored, skipped int, err error) {
	now := r.nowMs()
	limits := r.opts.Limits.OrDefault()
	// Records are decoded on every core while the scan goes on, and inserted
	// a chunk at a time: a restart of 100k instances is bound by decoding.
	type decoded struct {
		l   *lease
		o   *override
		rec storage.Record
		err error
	}
	const chunk = 512
	workers := max(1, runtime.GOMAXPROCS(0))
	in := make(chan []storage.Record, workers)
	out := make(chan []decoded, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for recs := range in {
				ds := make([]decoded, len(recs))
				// Records come in key order, so a batch is mostly one
				// application's: compacted here, off the lock.
				apps := map[string]*restoredApp{}
				for i, rec := range recs {
					l, o, err := decodeRecord(rec, now, limits)
					if err == nil {
						a := apps[l.app]
						if a == nil {
							a = &restoredApp{name: strings.Clone(l.app)}
							apps[a.name] = a
						}
						in := l.instance.Load()
						compactWith(&a.shapes, a.name, &r.keys, in, nil)
						l.app, l.id = in.App, in.ID()
					}
					ds[i] = decoded{l: l, o: o, rec: rec, err: err}
				}
				out <- ds
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ds := range out {
			r.mu.Lock()
			for _, d := range ds {
				if d.err != nil {
					skipped++
					r.log.Warn("skipping a stored record", "app", rules.Excerpt(d.rec.Key.App),
						"id", rules.Excerpt(d.rec.Key.ID), "err", cut(d.err.Error(), 256))
					continue
				}
				a := r.apps[d.l.app]
				if a == nil {
					a = &appEntry{name: d.l.app, leases: make(map[string]*lease)}
					r.apps[d.l.app] = a
				}
				// One copy of the name for all (compacted by a worker).
				d.l.app = a.name
				d.l.instance.Load().App = a.name
				if _, dup := a.leases[d.l.id]; !dup {
					restored++
				}
				r.putLease(a, d.l.id, d.l)
				r.observe(d.l.stamp.Load())
				if d.o != nil {
					r.overrides[d.l.key()] = d.o
				}
				a.version = r.version.Add(1)
			}
			r.mu.Unlock()
		}
	}()
	batch := make([]storage.Record, 0, chunk)
	err = s.Scan(ctx, "", func(rec storage.Record) error {
		batch = append(batch, rec)
		if len(batch) == chunk {
			in <- batch
			batch = make([]storage.Record, 0, chunk)
		}
		return nil
	})
	if len(batch) > 0 {
		in <- batch
	}
	close(in)
	wg.Wait()
	close(out)
	<-done
	// One wake-up for readers waiting on the registry, not one per record.
	r.wakeReaders()
	return restored, skipped, err
}

// cut returns s cut to at most n bytes, on a rune boundary, for a log
// line.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// decodeRecord reads a stored record and checks it against limits.
func decodeRecord(rec storage.Record, now int64, limits rules.Limits) (*lease, *override, error) {
	h, ok := parseHeader(rec.Value)
	if !ok {
		// Not in the exact form encodeRecord writes (a hand-edited snapshot,
		// say): read it as any JSON.
		if err := json.NewDecoder(bytes.NewReader(rec.Value)).Decode(&h); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
	}
	if h.V != recordVersion {
		return nil, nil, fmt.Errorf("%w: version %d", ErrBadRecord, h.V)
	}
	in, err := eureka.DecodeInstanceJSON(h.Instance)
	if errors.Is(err, eureka.ErrInvalidUTF8) {
		// Readable, but text the rules refuse.
		return nil, nil, fmt.Errorf("%w: %w", ErrRefusedRecord, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	in.App = strings.ToUpper(in.App)
	if in.ID() != rec.Key.ID || in.App != rec.Key.App {
		return nil, nil, fmt.Errorf("%w: key %s/%s holds %s/%s", ErrBadRecord, rules.Excerpt(rec.Key.App),
			rules.Excerpt(rec.Key.ID), rules.Excerpt(in.App), rules.Excerpt(in.ID()))
	}
	if err := limits.Instance(in); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrRefusedRecord, err)
	}
	if h.Override != "" {
		if _, err := rules.OverrideStatus(string(h.Override)); err != nil {
			return nil, nil, fmt.Errorf("%w: override: %w", ErrRefusedRecord, err)
		}
	}
	l := newLease(in, rec.Key.ID, h.Registered)
	l.stamp.Store(h.Stamp)
	if h.Stamp == 0 {
		l.stamp.Store(h.Registered)
	}
	// A grace period: the lease runs a full duration from the restart.
	l.lastUpdate.Store(now)
	l.serviceUp.Store(h.ServiceUp)
	var o *override
	if h.Override != "" {
		o = newOverride(h.Override, now)
	}
	return l, o, nil
}

// restoredApp is what a restore worker keeps of an application while it
// compacts a batch of records.
type restoredApp struct {
	name   string
	shapes shapes
}

// parseHeader reads a record in exactly the form encodeRecord writes,
// without reflection; ok is false for anything else. The instance is
// checked by its decoder afterwards.
func parseHeader(b []byte) (h recordHeader, ok bool) {
	field := func(prefix string) int64 {
		if !ok {
			return 0
		}
		rest, found := bytes.CutPrefix(b, []byte(prefix))
		if !found {
			ok = false
			return 0
		}
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		b = rest[i:]
		if i == 0 || i > 18 {
			// None, or perhaps past int64: strconv says.
			n, err := strconv.ParseInt(string(rest[:i]), 10, 64)
			ok = ok && err == nil
			return n
		}
		var n int64
		for _, c := range rest[:i] {
			n = n*10 + int64(c-'0')
		}
		return n
	}
	ok = true
	h.V = int(field(`{"v":`))
	h.Registered = field(`,"registered":`)
	h.LastRenewal = field(`,"lastRenewal":`)
	h.ServiceUp = field(`,"serviceUp":`)
	if !ok {
		return h, false
	}
	if bytes.HasPrefix(b, []byte(`,"stamp":`)) {
		h.Stamp = field(`,"stamp":`)
		if !ok {
			return h, false
		}
	}
	if rest, found := bytes.CutPrefix(b, []byte(`,"override":"`)); found {
		i := bytes.IndexByte(rest, '"')
		if i < 0 {
			return h, false
		}
		st, valid := eureka.ParseStatus(string(rest[:i]))
		if !valid {
			return h, false
		}
		h.Override, b = st, rest[i+1:]
	}
	rest, found := bytes.CutPrefix(b, []byte(`,"instance":`))
	if !found || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return h, false
	}
	h.Instance = rest[:len(rest)-1]
	return h, true
}

// Records returns the stored form of every lease, taken under one lock: a
// consistent copy of the registry for snapshots.
func (r *Registry) Records() []storage.Record {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []storage.Record
	for _, a := range r.apps {
		for _, l := range a.leases {
			rec, _ := appendRecord(nil, l, r.overrides[l.key()])
			out = append(out, rec)
		}
	}
	return out
}

// DecodeRecord reads a stored record: the instance as the registry holds it
// and its operator override ("" for none). Tools use it to inspect and to
// check records before restoring them. It applies rules.DefaultLimits, as
// CheckRecord does.
func DecodeRecord(rec storage.Record) (*eureka.InstanceInfo, eureka.Status, error) {
	return CheckRecord(rec, rules.Limits{})
}

// CheckRecord is DecodeRecord with the input rules of limits (the zero
// value means rules.DefaultLimits): it fails with ErrBadRecord for a record
// it cannot read and ErrRefusedRecord for one Restore would skip for
// breaking the rules.
func CheckRecord(rec storage.Record, limits rules.Limits) (*eureka.InstanceInfo, eureka.Status, error) {
	l, o, err := decodeRecord(rec, 0, limits.OrDefault())
	if err != nil {
		return nil, "", err
	}
	var st eureka.Status
	if o != nil {
		st = o.status
	}
	return l.instance.Load(), st, nil
}
