package snapshot

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/rules"
	"github.com/eurekad/eurekad/sdk/storage"
)

func TestRoundTripAndTruncation(t *testing.T) {
	recs := []storage.Record{
		{Key: storage.Key{App: "A", ID: "1"}, Value: []byte(`{"v":1}`), Updated: 5},
		{Key: storage.Key{App: "B", ID: "x:2"}, Value: []byte(`{"v":1,"s":"ü"}`), Updated: 7},
	}
	var b bytes.Buffer
	if err := Write(&b, time.Unix(100, 0), recs); err != nil {
		t.Fatal(err)
	}
	var got []storage.Record
	h, err := Read(bytes.NewReader(b.Bytes()), func(r storage.Record) error { got = append(got, r); return nil })
	if err != nil || h.Records != 2 || len(got) != 2 || string(got[1].Value) != string(recs[1].Value) || got[1].Updated != 7 {
		t.Fatalf("read back %+v %v %+v", h, err, got)
	}
	lines := strings.SplitAfter(b.String(), "\n")
	cut := strings.Join(lines[:2], "")
	if _, err := Read(strings.NewReader(cut), func(storage.Record) error { return nil }); !errors.Is(err, ErrFormat) {
		t.Fatalf("truncated file: %v", err)
	}
	for _, bad := range []string{"", "hello\n", `{"format":"eurekad-snapshot","version":9}` + "\n", lines[0] + "{broken\n"} {
		if _, err := Read(strings.NewReader(bad), func(storage.Record) error { return nil }); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: %v, want ErrFormat", bad, err)
		}
	}
	if err := Write(&b, time.Now(), []storage.Record{{Key: storage.Key{App: "A", ID: "1"}, Value: []byte("not json")}}); err == nil {
		t.Fatal("non-JSON value written")
	}
}

// record is a registry record of an instance, as the registry writes it.
func record(app, id, override string) storage.Record {
	v := `{"v":1,"registered":1,"lastRenewal":1,"serviceUp":1`
	if override != "" {
		v += `,"override":"` + override + `"`
	}
	v += `,"instance":{"instanceId":"` + id + `","hostName":"h","app":"` + app + `","ipAddr":"10.0.0.1"}}`
	return storage.Record{Key: storage.Key{App: app, ID: id}, Value: []byte(v)}
}

// TestCheck keeps what a server would restore, lists what breaks the input
// rules, and fails on a record it cannot read.
func TestCheck(t *testing.T) {
	long := strings.Repeat("k", 40000)
	recs := []storage.Record{
		record("ORDERS", "host:orders:8080", ""),
		record("ORDERS", long, ""),
		record("ORDERS", "o-1", "UNKNOWN"),
		record("ORDERS", "a/b", "DOWN"),
		record("A/B", "x", ""),
		{Key: storage.Key{App: "ORDERS", ID: "bad-\xff\xfe"}, Value: []byte("{\"v\":1,\"registered\":1,\"lastRenewal\":1,\"serviceUp\":1,\"instance\":{\"instanceId\":\"bad-\xff\xfe\",\"hostName\":\"h\",\"app\":\"ORDERS\"}}")},
	}
	keep, refused, err := Check(recs, rules.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(keep) != 2 || keep[0].Key.ID != "host:orders:8080" || keep[1].Key.ID != "a/b" {
		t.Errorf("kept %v", keep)
	}
	want := []string{"instanceId: longer than 512 bytes", "override: value: status override", "app: contains '/'", "instanceId: not valid UTF-8"}
	if len(refused) != len(want) {
		t.Fatalf("refused %d, want %d: %v", len(refused), len(want), refused)
	}
	for i, r := range refused {
		if !errors.Is(r.Err, registry.ErrRefusedRecord) || !strings.Contains(r.Err.Error(), want[i]) {
			t.Errorf("refused[%d] = %v, want %q", i, r.Err, want[i])
		}
		if len(r.Name()) > 200 || len(r.Err.Error()) > 200 {
			t.Errorf("refused[%d] is not bounded: %.300s %.300v", i, r.Name(), r.Err)
		}
	}
	l := rules.DefaultLimits()
	l.MaxNameBytes = 64
	mid := []storage.Record{record("ORDERS", strings.Repeat("i", 100), "")}
	if keep, refused, _ := Check(mid, l); len(keep) != 0 || len(refused) != 1 {
		t.Errorf("max_name_bytes 64: kept %d, refused %d", len(keep), len(refused))
	}
	if keep, _, _ := Check(mid, rules.Limits{}); len(keep) != 1 {
		t.Errorf("default limits: kept %d", len(keep))
	}
	_, _, err = Check(append(recs, storage.Record{Key: storage.Key{App: "X", ID: long}, Value: []byte(`{"v":1}`)}), rules.Limits{})
	if !errors.Is(err, registry.ErrBadRecord) || len(err.Error()) > 300 {
		t.Errorf("unreadable record: %.400v", err)
	}
}
