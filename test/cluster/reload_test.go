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
// peer added to its file, stops when the peer is removed again, and sends
// nothing of that time when it is added back. This is the replication
// queue's behaviour, so anti-entropy, which would repair those writes on
// the peer (entropy_test.go), is off here.
func TestSIGHUPReloadsPeers(t *testing.T) {
	b := newNode(t, eurekadtest.Start(t))
	file := filepath.Join(t.TempDir(), "eurekad.yaml")
	write := func(peers string) {
		if err := os.WriteFile(file, []byte("cluster:\n  peers: ["+peers+"]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	a := newNode(t, eurekadtest.Start(t, "EUREKAD_CONFIG="+file, "EUREKAD_CLUSTER_ANTI_ENTROPY_INTERVAL=0"))
	// addB makes B A's peer; it is applied once a write of instance id on
	// A reaches B.
	addB := func(id string) {
		t.Helper()
		write(`"` + b.Base + `"`)
		if err := a.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		eurekadtest.Eventually(t, 5*time.Second, "peer applied", func() error {
			if err := a.c.Register(bg, instance("ORDERS", id)); err != nil {
				return err
			}
			_, err := b.c.Instance(bg, "ORDERS", id)
			return err
		})
	}

	if err := a.c.Register(bg, instance("ORDERS", "before")); err != nil {
		t.Fatal(err)
	}
	addB("after")
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
	// Adding the peer back starts a new queue: once a write made after
	// that reaches B, a replication of "removed", had the old peer still
	// been there, would have arrived before it.
	addB("readded")
	if _, err := b.c.Instance(bg, "ORDERS", "removed"); err == nil {
		t.Error("replicated to a removed peer")
	}
}
