package plugins

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/redistest"
	"github.com/eurekad/eurekad/plugins"
	"github.com/eurekad/eurekad/sdk/plugin"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/sdk/storage/storagetest"
)

// The three built-in stores isolated exactly as eurekad runs them, by
// re-executing the eurekad binary as "eurekad plugin serve storage.X",
// pass the storage conformance suite. (The binary is built without the
// race detector: a race-enabled process per subtest costs minutes; the
// other tests run race-enabled plugin processes.)
func TestIsolatedBuiltinStoresConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process per subtest")
	}
	bin := eurekadtest.BuildPackage(t, "./cmd/eurekad")
	isolated := func(t *testing.T, id string, config any) storage.Store {
		cfg, err := json.Marshal(config)
		if err != nil {
			t.Fatal(err)
		}
		p, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindStorage, Name: id, Executable: bin,
			Args: []string{"plugin", "serve", id}, Config: cfg, StartTimeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		s := p.Store()
		if _, ok := s.(storage.Batcher); !ok {
			t.Errorf("%s isolated is not a Batcher", id)
		}
		if _, ok := s.(storage.Snapshotter); !ok {
			t.Errorf("%s isolated is not a Snapshotter", id)
		}
		return s
	}
	t.Run("memory", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Store { return isolated(t, "storage.memory", struct{}{}) })
	})
	t.Run("bolt", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Store {
			return isolated(t, "storage.bolt", map[string]string{"path": filepath.Join(t.TempDir(), "r.db")})
		})
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		n := 0
		storagetest.Run(t, func(t *testing.T) storage.Store {
			n++ // a key prefix per subtest: each store starts empty
			return isolated(t, "storage.redis", map[string]string{"url": srv.URL(), "key_prefix": fmt.Sprintf("t%d:", n)})
		})
	})
}
