package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
)

// The registry owns the bytes it stores. A record is one lease:
//
//	{"v":1,"registered":<ms>,"lastRenewal":<ms>,"serviceUp":<ms>,
//	 "override":"OUT_OF_SERVICE","instance":{…Eureka JSON of the instance…}}
//
// "override" is present only when the instance has an operator override;
// "instance" is the instance as registered (sdk/eureka's JSON, unwrapped),
// so a record is readable with any Eureka-aware tool.
const recordVersion = 1

type recordHeader struct {
	V           int             `json:"v"`
	Registered  int64           `json:"registered"`
	LastRenewal int64           `json:"lastRenewal"`
	ServiceUp   int64           `json:"serviceUp"`
	Override    eureka.Status   `json:"override,omitempty"`
	Instance    json.RawMessage `json:"instance"`
}

// ErrBadRecord is returned for a stored record this registry cannot read.
var ErrBadRecord = errors.New("registry: unreadable record")

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

// Record returns the stored form of a lease; ok is false when the lease no
// longer exists (the store should delete the key).
func (r *Registry) Record(app, id string) (rec storage.Record, ok bool) {
	r.mu.RLock()
	l := r.lookup(app, id)
	var o *override
	if l != nil {
		o = r.overrides[id]
	}
	r.mu.RUnlock()
	if l == nil {
		return storage.Record{Key: storage.Key{App: app, ID: id}}, false
	}
	return encodeRecord(l, o), true
}

func encodeRecord(l *lease, o *override) storage.Record {
	in := l.instance.Load()
	b := make([]byte, 0, 1024)
	b = append(b, `{"v":1,"registered":`...)
	b = appendInt(b, l.registration)
	b = append(b, `,"lastRenewal":`...)
	b = appendInt(b, l.lastUpdate.Load())
	b = append(b, `,"serviceUp":`...)
	b = appendInt(b, l.serviceUp.Load())
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
		Value:   b,
		Updated: max(in.LastUpdatedTimestamp, l.registration),
	}
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
// self-preservation. Records it cannot read are skipped and counted in
// skipped; an error from the store ends the restore.
func (r *Registry) Restore(ctx context.Context, s storage.Store) (restored, skipped int, err error) {
	now := r.nowMs()
	err = s.Scan(ctx, "", func(rec storage.Record) error {
		l, o, err := decodeRecord(rec, now)
		if err != nil {
			skipped++
			r.log.Warn("skipping unreadable record", "app", rec.Key.App, "id", rec.Key.ID, "err", err)
			return nil
		}
		r.mu.Lock()
		a := r.apps[l.app]
		if a == nil {
			a = &appEntry{name: l.app, leases: make(map[string]*lease)}
			r.apps[l.app] = a
		}
		if _, dup := a.leases[l.id]; !dup {
			restored++
		}
		a.leases[l.id] = l
		if o != nil {
			r.overrides[l.id] = o
		}
		r.bump(a)
		r.mu.Unlock()
		return nil
	})
	return restored, skipped, err
}

func decodeRecord(rec storage.Record, now int64) (*lease, *override, error) {
	var h recordHeader
	dec := json.NewDecoder(bytes.NewReader(rec.Value))
	if err := dec.Decode(&h); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if h.V != recordVersion {
		return nil, nil, fmt.Errorf("%w: version %d", ErrBadRecord, h.V)
	}
	in, err := eureka.DecodeInstanceJSON(h.Instance)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	in.App = strings.ToUpper(in.App)
	if in.ID() != rec.Key.ID || in.App != rec.Key.App {
		return nil, nil, fmt.Errorf("%w: key %s/%s holds %s/%s", ErrBadRecord, rec.Key.App, rec.Key.ID, in.App, in.ID())
	}
	l := newLease(in, rec.Key.ID, h.Registered)
	// A grace period: the lease runs a full duration from the restart.
	l.lastUpdate.Store(now)
	l.serviceUp.Store(h.ServiceUp)
	var o *override
	if h.Override != "" {
		o = &override{status: h.Override}
		o.lastAccess.Store(now)
	}
	return l, o, nil
}

// Records returns the stored form of every lease, taken under one lock: a
// consistent copy of the registry for snapshots.
func (r *Registry) Records() []storage.Record {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []storage.Record
	for _, a := range r.apps {
		for id, l := range a.leases {
			out = append(out, encodeRecord(l, r.overrides[id]))
		}
	}
	return out
}

// DecodeRecord reads a stored record: the instance as the registry holds it
// and its operator override ("" for none). Tools use it to inspect and to
// check records before restoring them.
func DecodeRecord(rec storage.Record) (*eureka.InstanceInfo, eureka.Status, error) {
	l, o, err := decodeRecord(rec, 0)
	if err != nil {
		return nil, "", err
	}
	var st eureka.Status
	if o != nil {
		st = o.status
	}
	return l.instance.Load(), st, nil
}
