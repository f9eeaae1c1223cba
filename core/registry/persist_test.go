package registry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/core/rules"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
)

// storedRecord builds a record as appendRecord writes it, for an instance
// the registry's write paths would have refused.
func storedRecord(in *eureka.InstanceInfo, override string) storage.Record {
	v := []byte(`{"v":1,"registered":1000,"lastRenewal":1000,"serviceUp":1000`)
	if override != "" {
		v = append(v, `,"override":"`+override+`"`...)
	}
	v = append(v, `,"instance":`...)
	v = eureka.AppendInstanceJSON(v, in)
	v = append(v, '}')
	return storage.Record{Key: storage.Key{App: in.App, ID: in.ID()}, Value: v}
}

// TestRestoreSkipsRecordsTheRulesRefuse: a store holding records that
// break the input rules (from an older eurekad: the 40,000-byte id of
// issue 13, an app name with a slash, an UNKNOWN override, too much
// metadata, an id that is not UTF-8) restores every other record, counts
// each refused one as skipped and logs it with a bounded excerpt.
func TestRestoreSkipsRecordsTheRulesRefuse(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	good := []storage.Record{
		storedRecord(inst("ORDERS", "host:orders:8080", eureka.StatusUp), ""),
		storedRecord(inst("ORDERS", "a/b", eureka.StatusUp), "OUT_OF_SERVICE"),
	}
	huge := inst("ORDERS", strings.Repeat("k", 40000), eureka.StatusUp)
	huge.HostName = "h"
	fat := inst("FAT", "fat-1", eureka.StatusUp)
	for i := range 300 {
		fat.Metadata[strings.Repeat("m", i+1)] = "v"
	}
	// Bytes that are not UTF-8 cannot come out of AppendInstanceJSON,
	// which writes U+FFFD; the record is written as a store could hold it.
	badUTF8 := storage.Record{
		Key:   storage.Key{App: "ORDERS", ID: "bad-\xff\xfe"},
		Value: []byte("{\"v\":1,\"registered\":1,\"lastRenewal\":1,\"serviceUp\":1,\"instance\":{\"instanceId\":\"bad-\xff\xfe\",\"hostName\":\"h\",\"app\":\"ORDERS\"}}"),
	}
	refused := []storage.Record{
		storedRecord(huge, ""),
		storedRecord(inst("A/B", "i-1", eureka.StatusUp), ""),
		storedRecord(inst("ORDERS", "unknown-override", eureka.StatusUp), "UNKNOWN"),
		storedRecord(fat, ""),
	}
	var ops []storage.Op
	for _, rec := range append(append(append([]storage.Record{}, good...), refused...), badUTF8) {
		ops = append(ops, storage.Op{Record: rec})
	}
	if err := storage.ApplyBatch(ctx, store, ops); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	r := New(&Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Clock: SystemClock})
	restored, skipped, err := r.Restore(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if restored != len(good) || skipped != len(refused)+1 {
		t.Errorf("restored %d, skipped %d; want %d and %d", restored, skipped, len(good), len(refused)+1)
	}
	for _, rec := range good {
		if r.Instance(rec.Key.App, rec.Key.ID) == nil {
			t.Errorf("%s/%s not restored", rec.Key.App, rec.Key.ID)
		}
	}
	if rec, _, ok := r.AppendRecord(nil, "ORDERS", "a/b"); !ok {
		t.Error("ORDERS/a/b not restored")
	} else if _, o, err := DecodeRecord(rec); err != nil || o != eureka.StatusOutOfService {
		t.Errorf("the override of ORDERS/a/b was not restored: %q %v", o, err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != skipped {
		t.Errorf("%d log lines for %d skipped records:\n%s", len(lines), skipped, logs.String())
	}
	for _, l := range lines {
		if len(l) > 1024 || !strings.Contains(l, "skipping a stored record") {
			t.Errorf("log line of %d bytes: %.300s", len(l), l)
		}
	}
	for _, want := range []string{"instanceId: longer than 512 bytes", "app: contains '/'", "override: value: status override must be",
		"metadata: more than 256 entries", "not valid UTF-8", `(40000 bytes)`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
}

// TestRestoreUsesOptionsLimits: stricter limits set in Options are the
// ones Restore applies.
func TestRestoreUsesOptionsLimits(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	in := inst("ORDERS", "host:orders:8080", eureka.StatusUp)
	in.Metadata["a"], in.Metadata["b"] = "1", "2"
	if err := storage.ApplyBatch(ctx, store, []storage.Op{{Record: storedRecord(in, "")}}); err != nil {
		t.Fatal(err)
	}
	l := rules.DefaultLimits()
	l.MaxMetadataKeys = 2
	r := New(&Options{Limits: l, Clock: SystemClock})
	if restored, skipped, err := r.Restore(ctx, store); restored != 0 || skipped != 1 || err != nil {
		t.Errorf("restored %d, skipped %d, %v", restored, skipped, err)
	}
	r = New(&Options{Clock: SystemClock})
	if restored, skipped, err := r.Restore(ctx, store); restored != 1 || skipped != 0 || err != nil {
		t.Errorf("default limits: restored %d, skipped %d, %v", restored, skipped, err)
	}
}

func TestCheckRecord(t *testing.T) {
	rec := storedRecord(inst("ORDERS", "i-1", eureka.StatusUp), "UNKNOWN")
	_, _, err := CheckRecord(rec, rules.Limits{})
	var v *rules.Violation
	if !errors.Is(err, ErrRefusedRecord) || !errors.As(err, &v) || v.Field != "value" {
		t.Errorf("UNKNOWN override: %v", err)
	}
	if _, _, err := DecodeRecord(rec); !errors.Is(err, ErrRefusedRecord) {
		t.Errorf("DecodeRecord: %v", err)
	}
	rec = storedRecord(inst("ORDERS", "i-1", eureka.StatusUp), "DOWN")
	if in, o, err := CheckRecord(rec, rules.Limits{}); err != nil || in.ID() != "i-1" || o != eureka.StatusDown {
		t.Errorf("%v %v %v", in, o, err)
	}
	// A key that does not match the instance is unreadable, and the
	// message carries only an excerpt of it.
	rec.Key.ID = strings.Repeat("x", 40000)
	_, _, err = CheckRecord(rec, rules.Limits{})
	if !errors.Is(err, ErrBadRecord) || len(err.Error()) > 400 {
		t.Errorf("mismatched key: %.500v", err)
	}
}
