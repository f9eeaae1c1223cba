package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/redistest"
)

// eurekadCmd runs the eurekad binary with args and the given environment,
// returning its combined output and whether it exited 0.
func eurekadCmd(t *testing.T, env []string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(serverBinary, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// TestSnapshotSaveInspectRestore takes a snapshot of a running server,
// restores it into a fresh bolt store, into Redis, into bolt isolated in a
// plugin process and into a third-party storage plugin, and checks each
// restored server serves the same registry, overrides included.
func TestSnapshotSaveInspectRestore(t *testing.T) {
	boltA := t.TempDir()
	envA := []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + boltA}
	s := startServer(t, envA...)
	for i := 0; i < 20; i++ {
		app := fmt.Sprintf("SNAP%d", i%4)
		id := fmt.Sprintf("snap-%d", i)
		if r := do(t, http.MethodPost, s.Base+"apps/"+app, crashBody(app, id), "Content-Type", "application/json"); r.Status != http.StatusNoContent {
			t.Fatalf("register = %d", r.Status)
		}
	}
	if r := do(t, http.MethodPut, s.Base+"apps/SNAP1/snap-1/status?value=OUT_OF_SERVICE", nil); r.Status != http.StatusOK {
		t.Fatalf("override = %d", r.Status)
	}
	file := filepath.Join(t.TempDir(), "backup.snapshot")
	out, ok := eurekadCmd(t, nil, "snapshot", "save", "--server", "http://"+s.Addr, file)
	if !ok || !strings.Contains(out, "saved 20 instances") {
		t.Fatalf("snapshot save: %s", out)
	}
	out, ok = eurekadCmd(t, nil, "snapshot", "inspect", file)
	if !ok || !strings.Contains(out, "20 instances in 4 applications") || !strings.Contains(out, "OUT_OF_SERVICE_1_UP_4_") {
		t.Fatalf("snapshot inspect: %s", out)
	}

	// The running server holds its bolt file: restoring into it is refused.
	out, ok = eurekadCmd(t, envA, "snapshot", "restore", file)
	if ok || !strings.Contains(out, "Another eurekad (or eurekad snapshot restore) is using this --data-dir") {
		t.Fatalf("restore into a running server's store: ok=%v %s", ok, out)
	}
	want := fetchAll(t, s.Base)
	s.stop()

	check := func(t *testing.T, env []string) {
		out, ok := eurekadCmd(t, env, "snapshot", "restore", file)
		if !ok || !strings.Contains(out, "restored 20 instances") {
			t.Fatalf("snapshot restore: %s", out)
		}
		got := fetchAll(t, startServer(t, env...).Base)
		if len(got) != len(want) {
			t.Fatalf("restored %d instances, want %d", len(got), len(want))
		}
		for id, w := range want {
			g := got[id]
			if g.Status != w.Status || g.OverriddenStatus != w.OverriddenStatus || g.Metadata["owner"] != id {
				t.Errorf("%s: restored %+v, want %+v", id, g, w)
			}
		}
	}
	t.Run("bolt", func(t *testing.T) {
		check(t, []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + t.TempDir()})
	})
	t.Run("redis", func(t *testing.T) {
		r := redistest.Start(t)
		check(t, []string{"EUREKAD_STORAGE_KIND=redis", "EUREKAD_STORAGE_REDIS_URL=" + r.URL()})
	})
	t.Run("isolated bolt", func(t *testing.T) {
		check(t, []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + t.TempDir(), "EUREKAD_PLUGINS_ISOLATE_BUILTINS=true"})
	})
	t.Run("storage plugin", func(t *testing.T) {
		// The store of a third-party plugin, with its config block, as the
		// server loads it.
		bin := eurekadtest.BuildPackage(t, "./examples/storage-plugin")
		dir := t.TempDir()
		yaml := fmt.Sprintf("plugins:\n  storage:\n    plugin: %s\n    config: {file: %s}\n", bin, filepath.Join(dir, "registry.jsonl"))
		check(t, []string{eurekadtest.WriteConfig(t, yaml)})
	})

	t.Run("truncated file is refused", func(t *testing.T) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		short := filepath.Join(t.TempDir(), "short.snapshot")
		os.WriteFile(short, data[:len(data)/2], 0o600)
		dir := t.TempDir()
		out, ok := eurekadCmd(t, []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + dir}, "snapshot", "restore", short)
		if ok || !strings.Contains(out, "not a valid eurekad snapshot") {
			t.Fatalf("truncated restore: ok=%v %s", ok, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "registry.db")); !os.IsNotExist(err) {
			t.Fatal("a refused restore created the store")
		}
	})
}

// snapshot save reaches an HTTPS server that requires client certificates
// with --ca-file and a client certificate, and is refused without them.
func TestSnapshotSaveOverMutualTLS(t *testing.T) {
	pki := eurekadtest.NewPKI(t)
	cert, key := pki.Issue("server", "127.0.0.1")
	opsCert, opsKey := pki.Issue("ops", "ops.internal")
	s := startServer(t, "EUREKAD_TLS_CERT_FILE="+cert, "EUREKAD_TLS_KEY_FILE="+key,
		"EUREKAD_TLS_CLIENT_CA_FILE="+pki.CAFile, "EUREKAD_TLS_CLIENT_AUTH=require")
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: pki.ClientTLS("ops")}}
	req, _ := http.NewRequest(http.MethodPost, s.Base+"apps/SNAPTLS", bytes.NewReader(crashBody("SNAPTLS", "tls-1")))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("register over mTLS = %d", resp.StatusCode)
	}
	file := filepath.Join(t.TempDir(), "tls.snapshot")
	server := "https://" + s.Addr
	if out, ok := eurekadCmd(t, nil, "snapshot", "save", "--server", server, file); ok || !strings.Contains(out, "certificate") {
		t.Errorf("save without the CA: ok=%v %s", ok, out)
	}
	if out, ok := eurekadCmd(t, nil, "snapshot", "save", "--server", server, "--ca-file", pki.CAFile, file); ok {
		t.Errorf("save without a client certificate succeeded: %s", out)
	}
	out, ok := eurekadCmd(t, nil, "snapshot", "save", "--server", server, "--ca-file", pki.CAFile,
		"--cert-file", opsCert, "--key-file", opsKey, file)
	if !ok || !strings.Contains(out, "saved 1 instances") {
		t.Fatalf("snapshot save over mTLS: %s", out)
	}
}
