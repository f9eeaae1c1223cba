package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/internal/redistest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/redis"
)

// TestRedisLosingItsDataIsRewritten is issue 15's store identity as a
// user sees it: the Redis behind eurekad is flushed, or restarted without
// persistence, while eurekad is idle. Within 15 s Redis holds the whole
// registry again, and a SIGKILL of eurekad after that loses nothing.
func TestRedisLosingItsDataIsRewritten(t *testing.T) {
	for _, loss := range []string{"FLUSHALL", "restart without persistence"} {
		t.Run(loss, func(t *testing.T) {
			r := redistest.Start(t, redistest.AppendOnly(false))
			env := []string{"EUREKAD_STORAGE_KIND=redis", "EUREKAD_STORAGE_REDIS_URL=" + r.URL(),
				"EUREKAD_STORAGE_VERIFY_INTERVAL=1s", "EUREKAD_STORAGE_MAX_BACKOFF=200ms", "EUREKAD_LOG_LEVEL=info"}
			s := startServer(t, env...)
			const n = 200
			for i := range n {
				app := fmt.Sprintf("LOSS%d", i%10)
				if resp := do(t, http.MethodPost, s.Base+"apps/"+app, crashBody(app, fmt.Sprintf("loss-%d", i)),
					"Content-Type", "application/json"); resp.Status != http.StatusNoContent {
					t.Fatalf("register = %d", resp.Status)
				}
			}
			store, err := redis.Open(context.Background(), redis.Options{URL: r.URL()})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			holdsAll := func() error {
				got, err := storage.Count(context.Background(), persist.HideMarkers(store), "")
				if err != nil || got != n {
					return fmt.Errorf("Redis holds %d of %d records (%v)", got, n, err)
				}
				return nil
			}
			if err := holdsAll(); err != nil {
				t.Fatal(err)
			}

			if loss == "FLUSHALL" {
				flushAll(t, r)
			} else {
				r.Restart()
			}
			lost := time.Now()
			if holdsAll() == nil {
				t.Fatal("Redis still holds the registry: nothing was lost")
			}
			eventually(t, "Redis holding the registry again", holdsAll)
			took := time.Since(lost)
			if took > 15*time.Second {
				t.Errorf("rewritten after %v; want within 15 s", took)
			}
			t.Logf("%s: Redis held the registry again %v later", loss, took.Round(time.Millisecond))

			s.kill()
			s2 := startServerAt(t, s.Addr, env...)
			if apps := fetchAll(t, s2.Base); len(apps) != n {
				t.Fatalf("%d of %d instances after SIGKILL and restart", len(apps), n)
			}
		})
	}
}
