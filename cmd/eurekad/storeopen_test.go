package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/internal/redistest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/bolt"
)

// noLoaderWords fails when a store-open message keeps the plugin loader's
// wrapping, or names the store twice.
func noLoaderWords(t *testing.T, msg string) {
	t.Helper()
	for _, bad := range []string{"plugins:", "open store:", "configure:", "open bolt store", "open redis store", "redis: open: redis:"} {
		if strings.Contains(msg, bad) {
			t.Errorf("message keeps %q:\n%s", bad, msg)
		}
	}
}

// TestCorruptBoltFile starts eurekad on a damaged registry.db: the message
// names --data-dir once and says how to get going again, and following it
// (move the file aside, restore a snapshot) works.
func TestCorruptBoltFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, boltFile)
	if err := os.WriteFile(file, []byte("not a bbolt file, just some bytes of a damaged disk"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := execute(t, serve, nil, "--addr", "127.0.0.1:0", "--storage", "bolt", "--data-dir", dir)
	if code != exitError {
		t.Fatalf("exit %d, want %d\n%s", code, exitError, errOut)
	}
	for _, want := range []string{
		"eurekad: bolt store in --data-dir " + dir + " (storage.data_dir): bolt: open " + file + ": not a eurekad bolt store",
		"Move " + file + " and any " + file + ".journal.* files aside",
		"eurekad snapshot restore --data-dir " + dir + " BACKUP.snapshot",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	noLoaderWords(t, errOut)

	// Restore refuses the damaged file in the same words, then works
	// once it is moved aside, as the message says.
	snap := writeSnapshotFile(t, []storage.Record{snapRecord("ORDERS", "o-1", "")})
	code, _, errOut = execute(t, noServe(t), nil, "snapshot", "restore", "--storage", "bolt", "--data-dir", dir, snap)
	if code != exitError || !strings.Contains(errOut, "Move "+file) || strings.Contains(errOut, "still running") {
		t.Errorf("restore into the damaged file: exit %d\n%s", code, errOut)
	}
	if err := os.Rename(file, file+".damaged"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := execute(t, noServe(t), nil, "snapshot", "restore", "--storage", "bolt", "--data-dir", dir, snap)
	if code != exitOK || !strings.Contains(out, "restored 1 instances") {
		t.Fatalf("restore after moving the file aside: exit %d\n%s%s", code, out, errOut)
	}
}

// TestRedisStoreErrors starts eurekad against a real Redis: a database the
// server lacks is reported as such, under the setting that named it, with
// the password hidden; a URL without a scheme never reaches the driver.
func TestRedisStoreErrors(t *testing.T) {
	srv := redistest.Start(t, redistest.Args("--databases", "4"))
	url := "redis://:s3cret@" + srv.Addr() + "/9"
	code, _, errOut := execute(t, serve, nil, "--addr", "127.0.0.1:0", "--storage", "redis", "--redis-url", url)
	if code != exitError {
		t.Fatalf("exit %d, want %d\n%s", code, exitError, errOut)
	}
	want := "eurekad: redis store at --redis-url redis://:xxxxx@" + srv.Addr() + "/9 (storage.redis_url): redis: open: the Redis at " +
		srv.Addr() + " has no database 9"
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if strings.Contains(errOut, "s3cret") || strings.Contains(errOut, "cannot reach") {
		t.Errorf("stderr shows the password or calls the server unreachable:\n%s", errOut)
	}
	noLoaderWords(t, errOut)

	code, _, errOut = execute(t, serve, nil, "--addr", "127.0.0.1:0", "--storage", "redis", "--redis-url", srv.Addr())
	if code != exitError || !strings.Contains(errOut, "storage.redis_url (--redis-url): \""+srv.Addr()+"\" has no scheme: want redis://host:port/db") ||
		strings.Contains(errOut, "invalid URL scheme") {
		t.Errorf("URL without a scheme: exit %d\n%s", code, errOut)
	}
}

// TestOpenStoreErrorWording covers what the real-process tests cannot cheaply
// reach: a locked bolt file, and the text that comes back from an isolated
// built-in, where the error's identity was lost.
func TestOpenStoreErrorWording(t *testing.T) {
	cfg := config.Default()
	cfg.Storage.Kind = "bolt"
	cfg.Storage.DataDir = "/var/lib/eurekad"
	file := "/var/lib/eurekad/registry.db"
	for name, tc := range map[string]struct {
		err  error
		want []string
	}{
		"locked, in process": {
			storeOpenError{fmt.Errorf("%w: %s (waited 5s)", bolt.ErrLocked, file)},
			[]string{"bolt store in --data-dir /var/lib/eurekad (storage.data_dir): bolt: file is locked", "Another eurekad"},
		},
		"locked, isolated": {
			errors.New("plugins: storage.bolt: configure: bolt: file is locked by another process: " + file + " (waited 5s)"),
			[]string{"(storage.data_dir): bolt: file is locked by another process: " + file, "Another eurekad"},
		},
		"damaged, isolated": {
			errors.New("plugins: storage.bolt: configure: bolt: open " + file + ": not a eurekad bolt store: not a bbolt file, or corrupt: invalid database"),
			[]string{"(storage.data_dir): bolt: open " + file + ": not a eurekad", "eurekad snapshot restore --data-dir /var/lib/eurekad"},
		},
		"other": {
			errors.New("plugins: storage.bolt: configure: bolt: open " + file + ": permission denied"),
			[]string{"bolt store in --data-dir /var/lib/eurekad (storage.data_dir): bolt: open " + file + ": permission denied"},
		},
	} {
		got := openStoreError(cfg, "storage.bolt", tc.err).Error()
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", name, got, w)
			}
		}
		noLoaderWords(t, got)
		if name == "other" && strings.Contains(got, "\n") {
			t.Errorf("%s: a hint for an error that has none: %q", name, got)
		}
	}
}
