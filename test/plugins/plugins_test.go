package plugins

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/hudl/fargo"
	logging "github.com/op/go-logging"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/proctest"
)

// Killing the auth plugin while clients renew: every write meanwhile is
// refused as unavailable (never let through, never answered as a 401/403
// decision), and renewals succeed again once eurekad has restarted it.
func TestAuthPluginKilledMidTraffic(t *testing.T) {
	// No decision cache: every request reaches the plugin.
	env, bin := exampleAuth(t, "allow_ttl: 0s", "deny_ttl: 0s")
	s := eurekadtest.Start(t, env)
	if code, body := call(t, "orders", "o-secret", "POST", s.Base+"apps/ORDERS-API", instanceJSON("ORDERS-API", "o1")); code != 204 {
		t.Fatalf("register: %d %s", code, body)
	}
	plug := proctest.Child(t, s.PID(), bin)

	var mu sync.Mutex
	codes := map[int]int{}
	var after503 atomic.Bool // a 200 came after a 503: recovered
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		seen503 := false
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Not call: t.Fatal must not run outside the test goroutine.
			code, _, err := tryCall("orders", "o-secret", "PUT", s.Base+"apps/ORDERS-API/o1", "")
			if err != nil {
				code = -1 // reported below as an unexpected answer
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
			switch {
			case code == 503:
				seen503 = true
			case code == 200 && seen503:
				after503.Store(true)
			}
		}
	}()
	// Renewals succeed before the plugin dies.
	waitFor(t, "a renewal answered", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return codes[200] > 0
	})
	if err := syscall.Kill(plug.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "renewals to fail closed and recover", 20*time.Second, after503.Load)
	close(stop)
	<-done

	mu.Lock()
	defer mu.Unlock()
	for code, n := range codes {
		if code != 200 && code != 503 {
			t.Errorf("%d renewals answered %d; want only 200 (plugin up) and 503 (plugin down)", n, code)
		}
	}
	if codes[200] == 0 || codes[503] == 0 {
		t.Errorf("renewal answers %v: want some 200 and some 503", codes)
	}
	// The new process decides as the old one did.
	if code, _ := call(t, "payments", "p-secret", "PUT", s.Base+"apps/ORDERS-API/o1", ""); code != 403 {
		t.Errorf("another team's renewal after the restart: %d, want 403", code)
	}
	if restarted := proctest.Child(t, s.PID(), bin); restarted.PID == plug.PID {
		t.Errorf("plugin pid %d unchanged", plug.PID)
	}
	if !strings.Contains(s.Output(), "plugin restarted") {
		t.Errorf("no restart in the log")
	}
}

// Killing a storage plugin while clients register loses no acknowledged
// registration: after the plugin's restart (and resync) every instance
// eurekad acknowledged is in the store, as a restart of eurekad itself
// after a kill -9 shows. Run for the isolated bolt built-in and for the
// example's third-party store.
func TestStoragePluginKilledNoAcknowledgedWriteLost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (env []string, match string)
	}{
		{"isolated-bolt", func(t *testing.T) ([]string, string) {
			return []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + t.TempDir(), "EUREKAD_PLUGINS_ISOLATE_BUILTINS=true"},
				"plugin serve storage.bolt"
		}},
		{"example-store", func(t *testing.T) ([]string, string) {
			bin := eurekadtest.BuildPackage(t, "./examples/storage-plugin")
			file := filepath.Join(t.TempDir(), "registry.jsonl")
			return []string{eurekadtest.WriteConfig(t, fmt.Sprintf("plugins:\n  storage:\n    plugin: %s\n    config: {file: %s}\n", bin, file))}, bin
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, match := tc.setup(t)
			s := eurekadtest.Start(t, env...)
			plug := proctest.Child(t, s.PID(), match)

			var acked []string
			register := func(i int) {
				id := fmt.Sprintf("i%03d", i)
				code, body := call(t, "", "", "POST", s.Base+"apps/ORDERS", instanceJSON("ORDERS", id))
				if code == 204 {
					acked = append(acked, id)
				} else if code != 503 {
					t.Fatalf("register %s: %d %s", id, code, body)
				}
			}
			for i := range 40 {
				register(i)
			}
			if err := syscall.Kill(plug.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for i := 40; i < 120; i++ {
				register(i)
			}
			waitFor(t, "the store to catch up", 30*time.Second, func() bool {
				st := readyz(t, s)
				return !st.Degraded && st.Pending == 0
			})
			if proctest.Child(t, s.PID(), match).PID == plug.PID {
				t.Fatal("the storage plugin was not restarted")
			}
			if len(acked) < 100 {
				t.Errorf("only %d of 120 registrations acknowledged", len(acked))
			}
			// The restarted process takes its batches on a new batch pipe.
			_, plugins := call(t, "", "", "GET", "http://"+s.Addr+"/admin/api/plugins", "")
			if !strings.Contains(plugins, `"kind":"storage"`) || !strings.Contains(plugins, `"batchPipe":true`) {
				t.Errorf("admin API after the restart: %s, want the store on its batch pipe", plugins)
			}

			s.Kill()
			s = eurekadtest.StartAt(t, s.Addr, env...)
			_, body := call(t, "", "", "GET", s.Base+"apps/ORDERS", "")
			for _, id := range acked {
				if !strings.Contains(body, `"instanceId":"`+id+`"`) {
					t.Errorf("acknowledged instance %s lost", id)
				}
			}
		})
	}
}

// kill -9 of eurekad leaves no plugin process: isolated built-ins and
// external plugins all end.
func TestKill9LeavesNoPluginProcess(t *testing.T) {
	auth := eurekadtest.BuildPackage(t, "./examples/auth-plugin")
	listener := eurekadtest.BuildPackage(t, "./examples/listener-plugin")
	dir := t.TempDir()
	env := eurekadtest.WriteConfig(t, fmt.Sprintf(`storage:
  kind: bolt
  data_dir: %s
plugins:
  isolate_builtins: true
  auth:
    plugin: %s
    config: {users_file: %s}
  listeners:
    - log
    - plugin: %s
      config: {file: %s}
`, dir, auth, teamsFile(t), listener, filepath.Join(dir, "events.jsonl")))
	s := eurekadtest.Start(t, env, "EUREKAD_STORAGE_KIND=bolt") // the harness's default is memory
	kids := proctest.Children(t, s.PID())
	if len(kids) != 5 {
		t.Fatalf("plugin processes: %v, want 5 (bolt, log, the health checker, auth, listener)", kids)
	}
	s.Kill()
	waitFor(t, "every plugin process to end", 10*time.Second, func() bool {
		for _, k := range kids {
			if proctest.Alive(k.PID) {
				return false
			}
		}
		return true
	})
}

// A listener plugin that blocks (its file is a FIFO nobody reads) never
// delays a registration: eurekad's queue for it fills and drops.
func TestBlockedListenerNeverDelaysRegister(t *testing.T) {
	bin := eurekadtest.BuildPackage(t, "./examples/listener-plugin")
	fifo := filepath.Join(t.TempDir(), "events")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A reader that never reads: the plugin's writes block once the pipe
	// is full.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A small queue, so that it fills after a few hundred registrations.
	env := eurekadtest.WriteConfig(t, fmt.Sprintf("plugins:\n  listeners:\n    - plugin: %s\n      queue_size: 64\n      config: {file: %s}\n", bin, fifo))
	s := eurekadtest.Start(t, env)

	var slowest time.Duration
	n := 0
	registerNext := func() {
		start := time.Now()
		code, body := call(t, "", "", "POST", s.Base+"apps/ORDERS", instanceJSON("ORDERS", fmt.Sprintf("i%05d", n)))
		if code != 204 {
			t.Fatalf("register %d: %d %s", n, code, body)
		}
		slowest = max(slowest, time.Since(start))
		n++
	}
	// Register until eurekad drops events for the listener: the plugin is
	// stuck on the full pipe and eurekad's queue for it is full. (How many
	// registrations that takes depends on how the plugin's writes fell
	// into the pipe's pages: the drop counter says when, not a count.)
	for {
		for range 100 {
			registerNext()
		}
		if _, dropped := listenerCounts(t, s); dropped > 0 {
			break
		}
		if n >= 20000 {
			t.Fatalf("%d registrations and the listener's queue never dropped an event", n)
		}
	}
	if b := pipeBytes(t, r); b < 16<<10 {
		t.Fatalf("eurekad drops events but the pipe holds %d bytes: the plugin wrote next to nothing", b)
	}
	// The listener is stuck: more registrations go through as fast.
	for range 100 {
		registerNext()
	}
	// Generous for a loaded race-enabled run; a register that waited on
	// the listener would wait for its 30 s delivery timeout.
	if slowest > 5*time.Second {
		t.Errorf("slowest of %d registers took %v", n, slowest)
	}
}

// pipeBytes is how many bytes wait unread in the pipe (FIONREAD).
func pipeBytes(t *testing.T, f *os.File) int {
	var n int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatalf("FIONREAD: %v", errno)
	}
	return int(n)
}

func init() {
	// fargo logs every request; the tests check every returned error.
	logging.SetBackend(logging.NewLogBackend(io.Discard, "", 0))
}

// fargo, a stock Eureka client, with basic credentials in its service URL
// registers under the example auth plugin, and gets 401 and 403 as the
// team rule says.
func TestFargoWithBasicAuthInURL(t *testing.T) {
	env, _ := exampleAuth(t)
	s := eurekadtest.Start(t, env)
	url := func(userinfo string) string {
		return "http://" + userinfo + s.Addr + "/eureka"
	}
	instance := func(app string) *fargo.Instance {
		host := strings.ToLower(app) + ".local"
		return &fargo.Instance{
			InstanceId: host + ":8080", HostName: host, App: app, IPAddr: "10.0.0.9", VipAddress: strings.ToLower(app),
			Status: fargo.UP, Port: 8080, PortEnabled: true, DataCenterInfo: fargo.DataCenterInfo{Name: fargo.MyOwn},
			LeaseInfo: fargo.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
		}
	}
	for _, useJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", useJSON), func(t *testing.T) {
			orders := fargo.NewConn(url("orders:o-secret@"))
			orders.UseJson = useJSON
			app := "orders-fargo"
			if useJSON {
				app += "-json"
			}
			in := instance(app)
			if err := orders.RegisterInstance(in); err != nil {
				t.Fatalf("register with credentials in the URL: %v", err)
			}
			if err := orders.HeartBeatInstance(in); err != nil {
				t.Errorf("heartbeat: %v", err)
			}
			payments := fargo.NewConn(url("payments:p-secret@"))
			payments.UseJson = useJSON
			got, err := payments.GetApp(app)
			if err != nil || len(got.Instances) != 1 || got.Instances[0].HostName != in.HostName {
				t.Errorf("another team reads: %+v, %v", got, err)
			}
			if err := payments.HeartBeatInstance(in); statusOf(err) != http.StatusForbidden {
				t.Errorf("another team's heartbeat: %v, want 403", err)
			}
			if err := payments.RegisterInstance(instance("ORDERS-SNEAKY")); statusOf(err) != http.StatusForbidden {
				t.Errorf("registering another team's app: %v, want 403", err)
			}
			anon := fargo.NewConn(url(""))
			anon.UseJson = useJSON
			if err := anon.RegisterInstance(instance(app)); statusOf(err) != http.StatusUnauthorized {
				t.Errorf("register without credentials: %v, want 401", err)
			}
			// fargo's GetApp does not check the status; the 401 body
			// is no application.
			if got, err := anon.GetApp(app); err == nil {
				t.Errorf("read without credentials: %+v", got)
			}
			wrong := fargo.NewConn(url("orders:wrong@"))
			wrong.UseJson = useJSON
			if err := wrong.RegisterInstance(instance(app)); statusOf(err) != http.StatusUnauthorized {
				t.Errorf("wrong password: %v, want 401", err)
			}
			if err := orders.DeregisterInstance(in); err != nil {
				t.Errorf("deregister: %v", err)
			}
		})
	}
}

// statusOf is the HTTP status behind a fargo error, or 0.
func statusOf(err error) int {
	code, _ := fargo.HTTPResponseStatusCode(err)
	return code
}
