package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/internal/redistest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/redis"
)

// storeEnv is how each store is configured for a test, given a data
// directory and (for Redis) a running redis-server.
type storeCase struct {
	name string
	env  func(t *testing.T) []string
}

func storeCases() []storeCase {
	return []storeCase{
		{"bolt", func(t *testing.T) []string {
			return []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + t.TempDir()}
		}},
		{"redis", func(t *testing.T) []string {
			r := redistest.Start(t)
			return []string{"EUREKAD_STORAGE_KIND=redis", "EUREKAD_STORAGE_REDIS_URL=" + r.URL()}
		}},
	}
}

// crashBody is a registration with metadata, so the test can check the
// metadata survived.
func crashBody(app, id string) []byte {
	return []byte(fmt.Sprintf(`{"instance":{"instanceId":%q,"hostName":"%s.crash.local","app":%q,"ipAddr":"10.9.0.1",
"status":"UP","port":{"$":8080,"@enabled":"true"},"vipAddress":"crash",
"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
"metadata":{"owner":%q}}}`, id, id, app, id))
}

// acked records which writes of an instance were acknowledged.
type acked struct {
	registered, overridden, tagged bool
}

// TestCrashKeepsAcknowledgedWrites registers 2,000 instances concurrently
// in sync mode, with status overrides and metadata edits, kills eurekad
// with SIGKILL in the middle, restarts it on the same store, and checks
// every acknowledged write is there.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	for _, sc := range storeCases() {
		t.Run(sc.name, func(t *testing.T) {
			env := append(sc.env(t), "EUREKAD_STORAGE_DURABILITY=sync", "EUREKAD_LOG_LEVEL=info")
			s := startServer(t, env...)
			const total, workers = 2000, 16
			var (
				mu      sync.Mutex
				results = map[string]*acked{}
				done    atomic.Int64
				half    = make(chan struct{}) // closed at the total/2-th acknowledged write
				wg      sync.WaitGroup
			)
			client := &http.Client{Timeout: 5 * time.Second}
			send := func(method, url string, body []byte) int {
				req, _ := http.NewRequest(method, url, strings.NewReader(string(body)))
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := client.Do(req)
				if err != nil {
					return 0 // the server is gone: not acknowledged
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := w; i < total; i += workers {
						app := fmt.Sprintf("CRASH%d", i%20)
						id := fmt.Sprintf("crash-%d", i)
						a := &acked{}
						if send(http.MethodPost, s.Base+"apps/"+app, crashBody(app, id)) != http.StatusNoContent {
							return
						}
						a.registered = true
						if i%3 == 0 && send(http.MethodPut, s.Base+"apps/"+app+"/"+id+"/status?value=OUT_OF_SERVICE", nil) == http.StatusOK {
							a.overridden = true
						}
						if i%5 == 0 && send(http.MethodPut, s.Base+"apps/"+app+"/"+id+"/metadata?tagged=yes", nil) == http.StatusOK {
							a.tagged = true
						}
						mu.Lock()
						results[id] = a
						mu.Unlock()
						if done.Add(1) == total/2 {
							close(half)
						}
					}
				}(w)
			}
			stopped := make(chan struct{}) // every worker gave up early
			go func() { wg.Wait(); close(stopped) }()
			select {
			case <-half:
			case <-stopped: // reported below: too few acknowledged
			}
			s.kill()
			wg.Wait()
			mu.Lock()
			n := len(results)
			mu.Unlock()
			if n < total/2 || n == total {
				t.Fatalf("%d of %d registrations acknowledged before the kill: not a mid-load crash", n, total)
			}

			s2 := startServerAt(t, s.Addr, env...)
			apps := fetchAll(t, s2.Base)
			for id, a := range results {
				in, ok := apps[id]
				if !ok {
					t.Errorf("%s: acknowledged registration lost", id)
					continue
				}
				if in.Metadata["owner"] != id {
					t.Errorf("%s: metadata %v", id, in.Metadata)
				}
				if a.overridden && (in.Status != "OUT_OF_SERVICE" || in.OverriddenStatus != "OUT_OF_SERVICE") {
					t.Errorf("%s: acknowledged override lost: %s/%s", id, in.Status, in.OverriddenStatus)
				}
				if a.tagged && in.Metadata["tagged"] != "yes" {
					t.Errorf("%s: acknowledged metadata edit lost: %v", id, in.Metadata)
				}
			}
			t.Logf("%s: %d acknowledged before SIGKILL, %d instances after restart", sc.name, n, len(apps))
		})
	}
}

type restoredInstance struct {
	Status           string            `json:"status"`
	OverriddenStatus string            `json:"overriddenStatus"`
	Metadata         map[string]string `json:"metadata"`
	InstanceID       string            `json:"instanceId"`
	App              string            `json:"app"`
}

// fetchAll reads GET apps as JSON (with the given header pairs, such as
// credentials) and indexes the instances by id.
func fetchAll(t *testing.T, base string, headers ...string) map[string]restoredInstance {
	t.Helper()
	r := do(t, http.MethodGet, base+"apps", nil, append([]string{"Accept", "application/json"}, headers...)...)
	if r.Status != http.StatusOK {
		t.Fatalf("GET apps = %d", r.Status)
	}
	var body struct {
		Applications struct {
			Application []struct {
				Instance []restoredInstance `json:"instance"`
			} `json:"application"`
		} `json:"applications"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	out := map[string]restoredInstance{}
	for _, a := range body.Applications.Application {
		for _, in := range a.Instance {
			out[in.InstanceID] = in
		}
	}
	return out
}

// TestRedisOutage kills Redis while eurekad takes registrations and
// heartbeats: eurekad keeps answering, reports the degradation, and once
// Redis is back the store holds exactly the registry.
func TestRedisOutage(t *testing.T) {
	r := redistest.Start(t)
	s := startServer(t, "EUREKAD_STORAGE_KIND=redis", "EUREKAD_STORAGE_REDIS_URL="+r.URL(),
		"EUREKAD_STORAGE_MAX_BACKOFF=200ms", "EUREKAD_LOG_LEVEL=info")
	register := func(i int) {
		id := fmt.Sprintf("out-%d", i)
		if resp := do(t, http.MethodPost, s.Base+"apps/OUTAGE", crashBody("OUTAGE", id), "Content-Type", "application/json"); resp.Status != http.StatusNoContent {
			t.Fatalf("register %s = %d", id, resp.Status)
		}
	}
	for i := 0; i < 50; i++ {
		register(i)
	}
	stopBeats := make(chan struct{})
	var beats sync.WaitGroup
	beats.Add(1)
	go func() {
		defer beats.Done()
		for {
			select {
			case <-stopBeats:
				return
			case <-time.After(20 * time.Millisecond):
			}
			for i := 0; i < 10; i++ {
				resp, err := tryDo(http.MethodPut, fmt.Sprintf("%sapps/OUTAGE/out-%d", s.Base, i), nil)
				if err != nil || resp.Status != http.StatusOK {
					t.Errorf("heartbeat during the outage failed: %v %v", err, resp)
					return
				}
			}
		}
	}()

	r.Kill()
	for i := 50; i < 80; i++ {
		register(i)
	}
	for i := 0; i < 5; i++ {
		if resp := do(t, http.MethodDelete, fmt.Sprintf("%sapps/OUTAGE/out-%d", s.Base, 40+i), nil); resp.Status != http.StatusOK {
			t.Fatalf("cancel during the outage = %d", resp.Status)
		}
	}
	eventually(t, "degraded readiness", func() error {
		resp, err := tryDo(http.MethodGet, "http://"+s.Addr+"/readyz", nil)
		if err != nil || !strings.Contains(string(resp.Body), `"degraded"`) {
			return fmt.Errorf("readyz: %v %v", err, resp)
		}
		return nil
	})

	r.Restart()
	eventually(t, "recovery", func() error {
		resp, err := tryDo(http.MethodGet, "http://"+s.Addr+"/admin/storage", nil)
		if err != nil {
			return err
		}
		var st struct {
			Status struct {
				Degraded bool `json:"degraded"`
				Pending  int  `json:"pending"`
			} `json:"status"`
		}
		json.Unmarshal(resp.Body, &st)
		if st.Status.Degraded || st.Status.Pending != 0 {
			return fmt.Errorf("storage status %s", resp.Body)
		}
		return nil
	})
	close(stopBeats)
	beats.Wait()

	want := fetchAll(t, s.Base)
	store, err := redis.Open(context.Background(), redis.Options{URL: r.URL(), KeyPrefix: "eurekad:"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	recs, err := storage.All(context.Background(), persist.HideMarkers(store), "")
	if err != nil {
		t.Fatal(err)
	}
	var got, exp []string
	for _, rec := range recs {
		got = append(got, rec.Key.ID)
	}
	for id := range want {
		exp = append(exp, id)
	}
	sort.Strings(got)
	sort.Strings(exp)
	if strings.Join(got, ",") != strings.Join(exp, ",") || len(exp) != 75 {
		t.Fatalf("after recovery the store holds %d records, the registry %d (want 75):\nstore    %v\nregistry %v", len(got), len(exp), got, exp)
	}
}

// TestRestartKeepsInstancesVisible polls GET apps while eurekad restarts
// on its bolt store: every answer the poller gets lists every instance.
func TestRestartKeepsInstancesVisible(t *testing.T) {
	env := []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + t.TempDir()}
	s := startServer(t, env...)
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("vis-%d", i)
		if resp := do(t, http.MethodPost, s.Base+"apps/VISIBLE", crashBody("VISIBLE", id), "Content-Type", "application/json"); resp.Status != http.StatusNoContent {
			t.Fatalf("register = %d", resp.Status)
		}
	}
	var answers, short atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := tryDo(http.MethodGet, s.Base+"apps/VISIBLE", nil, "Accept", "application/json")
			if err != nil {
				time.Sleep(time.Millisecond) // a reader's retry pace while the server is down
				continue                     // down: the client would fail over
			}
			answers.Add(1)
			if resp.Status != http.StatusOK || strings.Count(string(resp.Body), `"instanceId"`) != 50 {
				short.Add(1)
			}
		}
	}()
	s.stop()
	s2 := startServerAt(t, s.Addr, env...)
	before := answers.Load()
	eventually(t, "answers after the restart", func() error {
		if answers.Load() < before+20 {
			return fmt.Errorf("%d answers", answers.Load())
		}
		return nil
	})
	close(stop)
	wg.Wait()
	if short.Load() != 0 {
		t.Fatalf("%d of %d answers missed instances around the restart", short.Load(), answers.Load())
	}
	_ = s2
}
