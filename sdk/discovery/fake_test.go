package discovery_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// fakeRegistry is a small in-memory Eureka server for unit tests and
// examples: register, cancel, apps/, apps/delta, with switches for the
// behaviours the cache must cope with.
type fakeRegistry struct {
	mu      sync.Mutex
	apps    map[string]map[string]*eureka.InstanceInfo // app → id → instance
	version int
	delta   []*eureka.InstanceInfo // recent changes, latest state
	changed chan struct{}          // closed and replaced on every change

	// Behaviour switches.
	noETag    bool // a Java Eureka server: no entity tags
	longPoll  bool // hold conditional reads with X-Eurekad-Wait
	forbidden bool // answer 403 to apps/delta
	failures  int  // answer this many reads with 500
	loseDelta bool // changes skip the delta (a client sees a hash mismatch)
	badHash   bool // deltas carry a hash code no client can match

	fullReads, deltaReads int
	// regions is the regions parameter of each registry read.
	regions []string
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{apps: make(map[string]map[string]*eureka.InstanceInfo), changed: make(chan struct{}), longPoll: true}
}

// start serves f and returns its base URL.
func (f *fakeRegistry) start(t testing.TB) string {
	srv := httptest.NewServer(f)
	if t != nil {
		t.Cleanup(srv.Close)
	}
	return srv.URL + "/eureka/"
}

func (f *fakeRegistry) set(fn func(f *fakeRegistry)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeRegistry) reads() (full, delta int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fullReads, f.deltaReads
}

// put registers (or replaces) an instance.
func (f *fakeRegistry) put(in *eureka.InstanceInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in = in.Clone()
	in.App = strings.ToUpper(in.App)
	if in.Status == "" {
		in.Status = eureka.StatusUp
	}
	m := f.apps[in.App]
	if m == nil {
		m = make(map[string]*eureka.InstanceInfo)
		f.apps[in.App] = m
	}
	in.ActionType = eureka.ActionAdded
	if m[in.ID()] != nil {
		in.ActionType = eureka.ActionModified
	}
	m[in.ID()] = in
	f.change(in)
}

// remove cancels an instance.
func (f *fakeRegistry) remove(app, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	app = strings.ToUpper(app)
	in := f.apps[app][id]
	if in == nil {
		return
	}
	delete(f.apps[app], id)
	if len(f.apps[app]) == 0 {
		delete(f.apps, app)
	}
	in = in.Clone()
	in.ActionType = eureka.ActionDeleted
	f.change(in)
}

func (f *fakeRegistry) change(in *eureka.InstanceInfo) {
	f.version++
	if !f.loseDelta {
		f.delta = slices.DeleteFunc(f.delta, func(o *eureka.InstanceInfo) bool { return o.App == in.App && o.ID() == in.ID() })
		f.delta = append(f.delta, in)
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// payload builds apps/ or apps/delta; the caller holds mu.
func (f *fakeRegistry) payload(delta bool) (*eureka.Applications, string) {
	var all eureka.Applications
	names := make([]string, 0, len(f.apps))
	for name := range f.apps {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		app := &eureka.Application{Name: name}
		for _, in := range f.apps[name] {
			app.Instances = append(app.Instances, in)
		}
		all.Applications = append(all.Applications, app)
	}
	hash := all.HashCode()
	if !delta {
		all.AppsHashcode, all.VersionsDelta = hash, 1
		return &all, `"full-` + strconv.Itoa(f.version) + `"`
	}
	if f.badHash {
		hash = "UP_999_"
	}
	d := &eureka.Applications{AppsHashcode: hash, VersionsDelta: int64(f.version)}
	for _, in := range f.delta {
		i := slices.IndexFunc(d.Applications, func(a *eureka.Application) bool { return a.Name == in.App })
		if i < 0 {
			d.Applications = append(d.Applications, &eureka.Application{Name: in.App})
			i = len(d.Applications) - 1
		}
		d.Applications[i].Instances = append(d.Applications[i].Instances, in)
	}
	return d, `"delta-` + strconv.Itoa(f.version) + `"`
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/eureka/")
	switch {
	case r.Method == http.MethodGet && (path == "apps/" || path == "apps" || path == "apps/delta"):
		f.set(func(f *fakeRegistry) { f.regions = append(f.regions, r.URL.Query().Get("regions")) })
		f.get(w, r, path == "apps/delta")
	case r.Method == http.MethodPost && strings.HasPrefix(path, "apps/"):
		b, _ := io.ReadAll(r.Body)
		in, err := eureka.DecodeInstanceJSON(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.put(in)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut && strings.HasPrefix(path, "apps/"):
		w.WriteHeader(http.StatusOK) // renewals
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "apps/"):
		parts := strings.Split(path, "/")
		if len(parts) == 3 {
			f.remove(parts[1], parts[2])
		}
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *fakeRegistry) get(w http.ResponseWriter, r *http.Request, delta bool) {
	waited := false
	for {
		f.mu.Lock()
		if delta {
			f.deltaReads++
		} else {
			f.fullReads++
		}
		if f.failures > 0 {
			f.failures--
			f.mu.Unlock()
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if delta && f.forbidden {
			f.mu.Unlock()
			w.WriteHeader(http.StatusForbidden)
			return
		}
		apps, etag := f.payload(delta)
		ch, noETag, longPoll := f.changed, f.noETag, f.longPoll
		f.mu.Unlock()

		inm := r.Header.Get("If-None-Match")
		if !noETag && inm == etag {
			wait, _ := time.ParseDuration(r.Header.Get("X-Eurekad-Wait"))
			if longPoll && wait > 0 && !waited {
				waited = true
				select {
				case <-ch:
					continue
				case <-time.After(wait):
				case <-r.Context().Done():
					return
				}
			}
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if !noETag {
			w.Header().Set("ETag", etag)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(eureka.AppendApplicationsJSON(nil, apps))
		return
	}
}

func newTestClient(t testing.TB, base string) *client.Client {
	c, err := client.New(client.Options{ServiceURLs: []string{base}, Timeout: 5 * time.Second})
	if err != nil {
		if t != nil {
			t.Fatal(err)
		}
		panic(err)
	}
	return c
}

func inst(app, id string, st eureka.Status, zone, vip string) *eureka.InstanceInfo {
	in := &eureka.InstanceInfo{
		InstanceID:     id,
		App:            app,
		HostName:       id,
		IPAddr:         "10.0.0.1",
		Status:         st,
		Port:           eureka.Port{Number: 8080, Enabled: true},
		VIPAddress:     vip,
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		LeaseInfo:      &eureka.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
		Metadata:       map[string]string{},
	}
	if zone != "" {
		in.Metadata["zone"] = zone
	}
	return in
}

// fakeClock hands every timer the cache asks for to the test.
type fakeClock struct {
	timers chan fakeTimer
}

type fakeTimer struct {
	d time.Duration
	c chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{timers: make(chan fakeTimer, 100)} }

func (f *fakeClock) Now() time.Time { return time.Unix(0, 0) }

func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	f.timers <- fakeTimer{d, c}
	return c
}

func (f *fakeClock) next(t *testing.T) fakeTimer {
	t.Helper()
	select {
	case tm := <-f.timers:
		return tm
	case <-time.After(10 * time.Second):
		t.Fatal("the cache asked for no timer")
		return fakeTimer{}
	}
}
