package snapshot

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

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
