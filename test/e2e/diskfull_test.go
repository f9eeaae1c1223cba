package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// tmpfsSize is the data directory's size: a few thousand registrations
// fill it.
const tmpfsSize = "4m"

// mountTmpfs mounts a tmpfs of tmpfsSize on a new directory and unmounts
// it when the test ends (after the servers started later have stopped).
// It needs root, as CI has: without it the test fails, it does not skip.
func mountTmpfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+tmpfsSize); err != nil {
		t.Fatalf("mount -t tmpfs -o size=%s tmpfs %s: %v: this test fills a small filesystem and must run as root (as it does in CI)", tmpfsSize, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file taking all of dir's free space but slack bytes.
func fill(t *testing.T, dir string, slack int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "filler")
	free := int64(st.Bavail) * st.Bsize
	if err := os.WriteFile(path, make([]byte, max(free-slack, 0)), 0o600); err != nil {
		t.Fatalf("filler: %v", err)
	}
	return path
}

// grow adds tmpfsSize to dir's tmpfs and deletes the filler file.
func grow(t *testing.T, dir, filler string) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	size := int64(st.Blocks)*st.Bsize + 8<<20
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("mount -o remount,size=%d %s: %v", size, dir, err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
}

// durableOp is one status override, override removal or metadata edit,
// on an instance that no other operation of the test touches afterwards.
type durableOp struct {
	kind string // "override", "removal", "metadata"
	app  string
	id   string
	tag  string // the metadata value set
	code int
}

// diskRun is one data directory on a tmpfs, the eurekad on it, and every
// operation it answered.
type diskRun struct {
	t    *testing.T
	dir  string
	env  []string
	s    *server
	next int // the next instance number

	ops        []durableOp
	registered []string // acknowledged registrations
}

// register registers a new instance and reports the answer's status.
func (d *diskRun) register(app string) (string, int) {
	id := fmt.Sprintf("disk-%d", d.next)
	d.next++
	resp, err := tryDo(http.MethodPost, d.s.Base+"apps/"+app, crashBody(app, id), "Content-Type", "application/json")
	if err != nil {
		d.t.Fatalf("register %s: %v", id, err)
	}
	if resp.Status == http.StatusNoContent {
		d.registered = append(d.registered, id)
	}
	return id, resp.Status
}

// targets registers n instances per kind of operation, with an override on
// the instances whose override will be removed, all while the store is
// healthy, and returns them by kind.
func (d *diskRun) targets(n int) map[string][]string {
	t := d.t
	t.Helper()
	out := map[string][]string{}
	for _, kind := range []string{"override", "removal", "metadata"} {
		for range n {
			id, code := d.register("DISK")
			if code != http.StatusNoContent {
				t.Fatalf("register %s on a healthy store = %d", id, code)
			}
			if kind == "removal" {
				if r := do(t, http.MethodPut, d.s.Base+"apps/DISK/"+id+"/status?value=OUT_OF_SERVICE", nil); r.Status != http.StatusOK {
					t.Fatalf("override %s on a healthy store = %d %s", id, r.Status, r.Body)
				}
			}
			out[kind] = append(out[kind], id)
		}
	}
	return out
}

// apply runs one operation of kind on each target and records the
// answers: each must be 200, or 503 with a message that says the store
// fails. It returns how many were acknowledged.
func (d *diskRun) apply(phase string, targets map[string][]string) (acked, refused int) {
	t := d.t
	t.Helper()
	for _, kind := range []string{"override", "removal", "metadata"} {
		for _, id := range targets[kind] {
			op := durableOp{kind: kind, app: "DISK", id: id}
			var method, url string
			switch kind {
			case "override":
				method, url = http.MethodPut, "apps/DISK/"+id+"/status?value=OUT_OF_SERVICE"
			case "removal":
				method, url = http.MethodDelete, "apps/DISK/"+id+"/status?value=UP"
			case "metadata":
				op.tag = phase + "-" + id
				method, url = http.MethodPut, "apps/DISK/"+id+"/metadata?edited="+op.tag
			}
			r := do(t, method, d.s.Base+url, nil)
			op.code = r.Status
			switch {
			case r.Status == http.StatusOK:
				acked++
			case r.Status == http.StatusServiceUnavailable && strings.Contains(string(r.Body), "store"):
				refused++
			default:
				t.Errorf("%s: %s %s = %d %q: want 200, or 503 saying the store fails", phase, method, url, r.Status, r.Body)
			}
			d.ops = append(d.ops, op)
		}
	}
	return acked, refused
}

// fillUp registers instances until the store fails for want of space.
func (d *diskRun) fillUp(phase string) {
	t := d.t
	t.Helper()
	filled := 0
	eurekadtest.Eventually(t, 60*time.Second, phase+": the store failing on the full filesystem", func() error {
		for range 20 {
			if _, code := d.register(fmt.Sprintf("FILL%d", d.next%10)); code != http.StatusNoContent && code != http.StatusServiceUnavailable {
				return fmt.Errorf("register = %d", code)
			}
			filled++
		}
		if st := storeStatus(t, d.s); !st.Degraded {
			return fmt.Errorf("store healthy after %d registrations: %+v", filled, st)
		}
		return nil
	})
	st := storeStatus(t, d.s)
	t.Logf("%s: store failing after %d registrations: %s", phase, filled, st.LastError)
}

// recovered waits until the store is healthy and holds everything: nothing
// pending, and no record refused (a record that failed for want of space
// was taken as refused, and is written again once the store recovers).
func (d *diskRun) recovered(phase string) {
	d.t.Helper()
	eurekadtest.Eventually(d.t, 30*time.Second, phase+": the store recovering", func() error {
		if st := storeStatus(d.t, d.s); st.Degraded || st.Pending != 0 || st.Checkpoint != 0 || st.Refused != 0 {
			return fmt.Errorf("storage status: degraded %v, pending %d, checkpoint %d, refused %d, last error %q",
				st.Degraded, st.Pending, st.Checkpoint, st.Refused, st.LastError)
		}
		return nil
	})
}

// checkDurable checks, on a freshly restarted eurekad, every acknowledged
// registration, override, removal and metadata edit.
func (d *diskRun) checkDurable(phase string) {
	t := d.t
	t.Helper()
	apps := fetchAll(t, d.s.Base)
	lost := 0
	for _, id := range d.registered {
		if _, ok := apps[id]; !ok {
			lost++
			if lost <= 10 {
				t.Errorf("%s: acknowledged registration %s lost", phase, id)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%s: %d of %d acknowledged registrations lost", phase, lost, len(d.registered))
	}
	for _, op := range d.ops {
		if op.code != http.StatusOK {
			continue // refused: either outcome is right
		}
		in, ok := apps[op.id]
		switch {
		case !ok:
			t.Errorf("%s: %s: instance with an acknowledged %s lost", phase, op.id, op.kind)
		case op.kind == "override" && (in.Status != "OUT_OF_SERVICE" || in.OverriddenStatus != "OUT_OF_SERVICE"):
			t.Errorf("%s: %s: acknowledged override lost: status %s, overridden %s", phase, op.id, in.Status, in.OverriddenStatus)
		case op.kind == "removal" && (in.Status != "UP" || in.OverriddenStatus == "OUT_OF_SERVICE"):
			t.Errorf("%s: %s: acknowledged override removal lost: status %s, overridden %s", phase, op.id, in.Status, in.OverriddenStatus)
		case op.kind == "metadata" && in.Metadata["edited"] != op.tag:
			t.Errorf("%s: %s: acknowledged metadata edit lost: %v", phase, op.id, in.Metadata)
		}
	}
}

// TestBoltOnAFullFilesystem runs eurekad on bolt in a 4 MiB tmpfs, under
// on_failure serve and then reject on the same data: the filesystem
// fills up, operators set and remove status overrides and edit metadata,
// space is freed, more of the same, and eurekad is killed with SIGKILL.
// Every acknowledged override, removal and metadata edit must survive in
// both policies; a refused one must say the store fails. Registrations
// acknowledged from memory while the disk was full (serve) are stored
// once the store is back, before the kill, as the README promises.
func TestBoltOnAFullFilesystem(t *testing.T) {
	dir := mountTmpfs(t)
	d := &diskRun{t: t, dir: dir}
	base := []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + dir,
		"EUREKAD_STORAGE_MAX_BACKOFF=200ms", "EUREKAD_LOG_LEVEL=info"}
	addr := ""
	for _, policy := range []string{"serve", "reject"} {
		d.env = append(base[:len(base):len(base)], "EUREKAD_STORAGE_ON_FAILURE="+policy)
		if addr == "" {
			d.s = startServer(t, d.env...)
			addr = d.s.Addr
		} else {
			d.s.stop()
			d.s = startServerAt(t, addr, d.env...)
		}
		full, freed := d.targets(20), d.targets(20)

		filler := fill(t, dir, 256<<10)
		d.fillUp(policy)
		acked, refused := d.apply(policy+"-full", full)
		t.Logf("%s, filesystem full: %d operations acknowledged, %d refused", policy, acked, refused)

		// Freeing the filler alone is not enough: bolt replays its journal
		// into registry.db at start, which needs about the journal's size
		// again. The operator grows the filesystem instead.
		grow(t, dir, filler)
		d.recovered(policy)
		if acked, refused := d.apply(policy+"-freed", freed); refused > 0 {
			t.Errorf("%s, space freed: %d operations refused (%d acknowledged)", policy, refused, acked)
		}
		d.s.kill()
		d.s = startServerAt(t, addr, d.env...)
		d.checkDurable(policy)
	}
}
