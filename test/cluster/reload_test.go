//go:build linux

package cluster

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// SIGHUP re-reads the config file: a node started alone replicates to the
// peer added to its file, and stops when the peer is removed again.
func TestSIGHUPReloadsPeers(t *testing.T) {
	b := newNode(t, eurekadtest.Start(t))
	file := filepath.Join(t.TempDir(), "eurekad.yaml")
	write := func(peers string) {
		if err := os.WriteFile(file, []byte("cluster:\n  peers: ["+peers+"]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	a := newNode(t, eurekadtest.Start(t, "EUREKAD_CONFIG="+file))
	if err := a.c.Register(bg, instance("ORDERS", "before")); err != nil {
		t.Fatal(err)
	}
	write(`"` + b.Base + `"`)
	if err := a.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eurekadtest.Eventually(t, 5*time.Second, "peer applied", func() error {
		if err := a.c.Register(bg, instance("ORDERS", "after")); err != nil {
			return err
		}
		_, err := b.c.Instance(bg, "ORDERS", "after")
		return err
	})
	if _, err := b.c.Instance(bg, "ORDERS", "before"); err == nil {
		t.Error("a write made before the peer was added reached it")
	}

	write("")
	if err := a.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eurekadtest.Eventually(t, 5*time.Second, "peer removed", func() error {
		if s := get(t, a.Base+"status"); !contains(s, `"registered-replicas":""`) {
			return errf("status: %s", s)
		}
		return nil
	})
	if err := a.c.Register(bg, instance("ORDERS", "removed")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, err := b.c.Instance(bg, "ORDERS", "removed"); err == nil {
		t.Error("replicated to a removed peer")
	}
}
