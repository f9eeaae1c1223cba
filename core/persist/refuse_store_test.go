package persist_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/redistest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/bolt"
	"github.com/eurekad/eurekad/storage/redis"
)

// slogTo returns a logger writing text lines to w.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// checkLogs asserts a refusal was logged, and no line quotes a whole key.
func checkLogs(t *testing.T, logs *eurekadtest.SyncBuffer) {
	t.Helper()
	refused := false
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	for _, l := range lines {
		if len(l) > 1500 {
			t.Errorf("a log line of %d bytes: %.200s…", len(l), l)
		}
		refused = refused || strings.Contains(l, "store refused a record")
	}
	if !refused {
		t.Errorf("no refusal logged; logs:\n%s", logs.String())
	}
}

// registerAround registers good instances around one the store refuses,
// each acknowledged with CommitKey, and returns the good ids.
func registerAround(t *testing.T, f *fixture, badID string, badMeta map[string]string) []string {
	t.Helper()
	ctx := context.Background()
	var good []string
	commit := func(id string) error {
		if err := f.p.Admit(); err != nil {
			t.Fatalf("Admit before %.20s: %v", id, err)
		}
		return f.p.CommitKey(ctx, "A", id)
	}
	for i := range 10 {
		if i == 5 {
			bad := inst("A", badID)
			if badMeta != nil {
				bad.Metadata = badMeta
			}
			f.reg.Register(bad, false)
			if err := commit(badID); !errors.Is(err, storage.ErrRefused) {
				t.Fatalf("CommitKey of the refused record = %v; want ErrRefused", err)
			}
		}
		id := fmt.Sprint("i", i)
		f.reg.Register(inst("A", id), false)
		if err := commit(id); err != nil {
			t.Fatalf("CommitKey(%s) = %v", id, err)
		}
		good = append(good, id)
	}
	return good
}

// bbolt takes no key over 32 KiB: a 40,000-byte instance id is refused,
// every other registration is durable (in the file after it is reopened),
// under either failure policy, and nothing quotes the whole key.
func TestBoltRefusesHugeKeyOnly(t *testing.T) {
	for _, policy := range []persist.FailurePolicy{persist.FailureServe, persist.FailureReject} {
		t.Run(string(policy), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "registry.db")
			db, err := bolt.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			logs := &eurekadtest.SyncBuffer{}
			f := startOn(t, db, func(o *persist.Options) {
				o.OnFailure = policy
				o.Logger = slogTo(logs)
			})
			good := registerAround(t, f, hugeID, nil)
			st := f.p.Status()
			checkRefusedOne(t, st)
			if st.Failures != 0 || st.LastError != "" {
				t.Errorf("a refusal counted as a store failure: failures %d, lastError %q", st.Failures, storage.Cut(st.LastError, 100))
			}
			checkLogs(t, logs)

			f.stop()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = bolt.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			for _, id := range good {
				if _, err := db.Get(ctx, storage.Key{App: "A", ID: id}); err != nil {
					t.Errorf("%s acknowledged but not in the file: %v", id, err)
				}
			}
			if n, err := storage.Count(ctx, persist.HideMarkers(db), ""); err != nil || n != len(good) {
				t.Errorf("the file holds %d records (%v); want %d", n, err, len(good))
			}
		})
	}
}

// Redis refuses a value longer than proto-max-bulk-len with a protocol
// error and drops the connection: the store cannot tell a refusal, so the
// persister's probe tells it from an outage. The other records are stored
// and Redis is not reported degraded.
func TestRedisRefusesOversizedValueOnly(t *testing.T) {
	srv := redistest.Start(t)
	opt, err := goredis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	admin := goredis.NewClient(opt)
	defer admin.Close()
	ctx := context.Background()
	if err := admin.ConfigSet(ctx, "proto-max-bulk-len", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	db, err := redis.Open(ctx, redis.Options{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logs := &eurekadtest.SyncBuffer{}
	f := startOn(t, db, func(o *persist.Options) {
		o.OnFailure = persist.FailureReject
		o.Logger = slogTo(logs)
	})
	good := registerAround(t, f, "big", map[string]string{"blob": strings.Repeat("b", 1200<<10)})
	st := f.p.Status()
	if st.Degraded || st.Refused != 1 || st.Failures != 0 {
		t.Fatalf("status: degraded %v, refused %d, failures %d", st.Degraded, st.Refused, st.Failures)
	}
	checkLogs(t, logs)
	for _, id := range good {
		if _, ok := f.stored("A", id); !ok {
			t.Errorf("%s acknowledged but not in Redis", id)
		}
	}
	if _, ok := f.stored("A", "big"); ok {
		t.Error("the oversized record is in Redis")
	}
}
