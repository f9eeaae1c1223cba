package regions

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/sdk/eureka"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestOptionsRegions(t *testing.T) {
	o := DefaultOptions()
	o.Remote = []string{"West;http://w1:8761/eureka/", " west ; http://w2:8761/eureka/", "eu;https://e1/eureka/v2/"}
	o.AppAllowList = []string{"west;orders", "global;Billing"}
	got, err := o.Regions()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "west" || got[1].Name != "eu" {
		t.Fatalf("regions %+v", got)
	}
	if !slices.Equal(got[0].URLs, []string{"http://w1:8761/eureka/", "http://w2:8761/eureka/"}) {
		t.Errorf("west URLs %v", got[0].URLs)
	}
	if !got[0].Allow["ORDERS"] || got[0].Allow["BILLING"] {
		t.Errorf("west's own list wins over the global one: %v", got[0].Allow)
	}
	if !got[1].Allow["BILLING"] || len(got[1].Allow) != 1 {
		t.Errorf("eu falls back to the global list: %v", got[1].Allow)
	}

	bad := []struct {
		remote, allow []string
		want          string
	}{
		{[]string{"US-East-1;http://x/eureka/"}, nil, "local region"},
		{[]string{"global;http://x/eureka/"}, nil, "reserved"},
		{[]string{";http://x/eureka/"}, nil, "not name;url"},
		{[]string{"west;"}, nil, "not name;url"},
		{[]string{"west"}, nil, "not name;url"},
		{[]string{"west;ftp://x/"}, nil, "http(s)"},
		{[]string{"we st;http://x/"}, nil, "space"},
		{[]string{"west;http://x/"}, []string{"east;ORDERS"}, "names no remote region"},
		{[]string{"west;http://x/"}, []string{"ORDERS"}, "region;APP"},
	}
	for _, c := range bad {
		o := DefaultOptions()
		o.Remote, o.AppAllowList = c.remote, c.allow
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: err %v, want %q", c.remote, c.allow, err, c.want)
		}
	}
	o = DefaultOptions()
	o.Local = " "
	if err := o.Validate(); err == nil {
		t.Error("an empty local region name was accepted")
	}
}

// fakeSource is a local registry whose contents the test sets.
type fakeSource struct {
	version     atomic.Uint64
	apps, delta *eureka.Applications
	// changes is what Changes returns: nil never wakes.
	changes chan struct{}
}

func (f *fakeSource) Version() uint64                    { return f.version.Load() }
func (f *fakeSource) Applications() *eureka.Applications { return f.apps }
func (f *fakeSource) Delta() *eureka.Applications        { return f.delta }
func (f *fakeSource) Changes() <-chan struct{}           { return f.changes }

func inst(app, id string, st eureka.Status, a eureka.ActionType) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{InstanceID: id, HostName: id + ".example", App: app, IPAddr: "10.0.0.1",
		Status: st, OverriddenStatus: eureka.StatusUnknown, Port: eureka.Port{Number: 8080, Enabled: true},
		CountryID: 1, DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		LeaseInfo: &eureka.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90}, VIPAddress: strings.ToLower(app),
		ActionType: a}
}

func apps(list ...*eureka.InstanceInfo) *eureka.Applications {
	out := &eureka.Applications{VersionsDelta: 1}
	for _, in := range list {
		i := slices.IndexFunc(out.Applications, func(a *eureka.Application) bool { return a.Name == in.App })
		if i < 0 {
			out.Applications = append(out.Applications, &eureka.Application{Name: in.App})
			i = len(out.Applications) - 1
		}
		out.Applications[i].Instances = append(out.Applications[i].Instances, in)
	}
	return out
}

// newSet returns a Set over src with remote regions that are never
// fetched: the test installs their copies with setCopy.
func newSet(t testing.TB, src Source, names ...string) *Set {
	t.Helper()
	o := DefaultOptions()
	for _, n := range names {
		o.Remote = append(o.Remote, n+";http://127.0.0.1:1/eureka/")
	}
	s, err := New(src, &o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// setCopy installs a remote region's copy and notes its changes, as a
// fetch would.
func setCopy(s *Set, name string, a *eureka.Applications, changes ...*eureka.InstanceInfo) {
	r := s.byName[name]
	r.mu.Lock()
	for _, in := range changes {
		r.changes = append(r.changes, change{time.Now(), in})
	}
	r.mu.Unlock()
	r.view.Store(filter(a, r.Allow))
	r.gen.Add(1)
	r.ready.Store(true)
}

func TestNormalize(t *testing.T) {
	s := newSet(t, &fakeSource{}, "west", "east")
	many := strings.Repeat("nope,", 10_000) + "WEST"
	cases := []struct {
		raw  string
		want []string
	}{
		{"", nil},
		{",,,", nil},
		{"unknown", nil},
		{"us-east-1", nil},
		{"US-EAST-1,west", []string{"west"}},
		{"West,EAST", []string{"east", "west"}},
		{"east,west,east,West", []string{"east", "west"}},
		{" west , ", []string{"west"}},
		{many, []string{"west"}},
	}
	for _, c := range cases {
		if got := s.Normalize(c.raw); !slices.Equal(got, c.want) {
			t.Errorf("Normalize(%.40q) = %v, want %v", c.raw, got, c.want)
		}
	}
	var none *Set
	if none.Normalize("west") != nil || none.Configured() {
		t.Error("a nil Set names regions")
	}
}

// TestMergeGolden checks the merged payloads byte for byte: an
// application present locally and remotely is one application, remote
// instances follow local ones, the hash code counts everything served.
func TestMergeGolden(t *testing.T) {
	src := &fakeSource{
		apps: apps(inst("ORDERS", "o-east-1", eureka.StatusUp, eureka.ActionAdded),
			inst("BILLING", "b-east-1", eureka.StatusStarting, eureka.ActionAdded)),
		delta: apps(inst("BILLING", "b-east-1", eureka.StatusStarting, eureka.ActionModified)),
	}
	s := newSet(t, src, "west")
	setCopy(s, "west",
		apps(inst("ORDERS", "o-west-1", eureka.StatusUp, eureka.ActionAdded),
			inst("ORDERS", "o-west-2", eureka.StatusDown, eureka.ActionAdded),
			inst("SEARCH", "s-west-1", eureka.StatusUp, eureka.ActionAdded)),
		inst("ORDERS", "o-west-2", eureka.StatusDown, eureka.ActionModified),
		inst("LEGACY", "l-west-1", eureka.StatusUp, eureka.ActionDeleted))

	// Counted here from the instances, not by the code under test.
	const wantHash = "DOWN_1_STARTING_1_UP_3_"
	for _, c := range []struct {
		e    Entity
		f    cache.Format
		file string
	}{
		{Apps, cache.JSON, "apps.json"}, {Apps, cache.XML, "apps.xml"},
		{Delta, cache.JSON, "delta.json"}, {Delta, cache.XML, "delta.xml"},
	} {
		p := s.Get(c.e, c.f, []string{"west"})
		if p.Hashcode != wantHash {
			t.Errorf("%s: hash code %q, want %q", c.file, p.Hashcode, wantHash)
		}
		golden(t, c.file, p.Plain().Body)
		zr, err := gzip.NewReader(bytes.NewReader(p.Gzip().Body))
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		if !bytes.Equal(plain, p.Plain().Body) {
			t.Errorf("%s: the gzip form differs from the plain one", c.file)
		}
		if etag, gzETag := p.Plain().ETag[0], p.Gzip().ETag[0]; etag == gzETag || !strings.HasPrefix(etag, `"`) {
			t.Errorf("%s: entity tags %s %s", c.file, etag, gzETag)
		}
		if p.Plain().Length[0] != strconv.Itoa(len(p.Plain().Body)) || p.Gzip().Length[0] != strconv.Itoa(len(p.Gzip().Body)) {
			t.Errorf("%s: lengths %v %v", c.file, p.Plain().Length, p.Gzip().Length)
		}
	}
	// The local payload is left as it was.
	if len(src.apps.Applications[0].Instances) != 1 {
		t.Error("merging modified the local registry's answer")
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got %s\nwant %s", name, got, want)
	}
}

// TestPayloadCache checks that a payload is reused until the local
// registry or a named region's copy changes, that the delta counter moves
// per build, and that the number of cached payloads stays bounded.
func TestPayloadCache(t *testing.T) {
	src := &fakeSource{apps: apps(inst("A", "a1", eureka.StatusUp, "")), delta: apps()}
	names := []string{"r1", "r2", "r3", "r4", "r5", "r6", "r7"}
	s := newSet(t, src, names...)
	for _, n := range names {
		setCopy(s, n, apps(inst("B", "b-"+n, eureka.StatusUp, "")))
	}
	p1 := s.Get(Apps, cache.JSON, []string{"r1"})
	if p2 := s.Get(Apps, cache.JSON, []string{"r1"}); p2 != p1 {
		t.Error("an unchanged payload was rebuilt")
	}
	setCopy(s, "r2", apps(inst("B", "b-r2", eureka.StatusDown, "")))
	if p2 := s.Get(Apps, cache.JSON, []string{"r1"}); p2 != p1 {
		t.Error("a change of a region not asked for rebuilt the payload")
	}
	setCopy(s, "r1", apps(inst("B", "b-r1", eureka.StatusDown, "")))
	p3 := s.Get(Apps, cache.JSON, []string{"r1"})
	if p3 == p1 || p3.Hashcode != "DOWN_1_UP_1_" {
		t.Errorf("a change of the region kept the payload: %q", p3.Hashcode)
	}
	src.version.Add(1)
	if s.Get(Apps, cache.JSON, []string{"r1"}) == p3 {
		t.Error("a local change kept the payload")
	}

	d1 := s.Get(Delta, cache.JSON, []string{"r1"})
	src.version.Add(1)
	d2 := s.Get(Delta, cache.JSON, []string{"r1"})
	v1, _ := eureka.DecodeApplicationsJSON(d1.Plain().Body)
	v2, _ := eureka.DecodeApplicationsJSON(d2.Plain().Body)
	if v2.VersionsDelta <= v1.VersionsDelta {
		t.Errorf("versions__delta %d then %d", v1.VersionsDelta, v2.VersionsDelta)
	}

	// Every subset of seven regions in both entities and formats: far
	// more keys than MaxPayloads.
	for mask := 1; mask < 1<<len(names); mask++ {
		var sub []string
		for i, n := range names {
			if mask&(1<<i) != 0 {
				sub = append(sub, n)
			}
		}
		for _, e := range []Entity{Apps, Delta} {
			for _, f := range []cache.Format{cache.JSON, cache.XML} {
				if p := s.Get(e, f, sub); p == nil || len(p.Plain().Body) == 0 {
					t.Fatalf("no payload for %v", sub)
				}
			}
		}
	}
	if n := s.CachedPayloads(); n > MaxPayloads {
		t.Errorf("%d payloads cached, bound %d", n, MaxPayloads)
	}
}

// TestFallback checks the transparent fallback: the first region (in
// configuration order) holding the application answers, the allow-list
// applies, and the option turns it off.
func TestFallback(t *testing.T) {
	src := &fakeSource{apps: apps(), delta: apps()}
	o := DefaultOptions()
	o.Remote = []string{"west;http://127.0.0.1:1/eureka/", "east;http://127.0.0.1:1/eureka/"}
	o.AppAllowList = []string{"west;ORDERS"}
	s, err := New(src, &o)
	if err != nil {
		t.Fatal(err)
	}
	setCopy(s, "west", apps(inst("ORDERS", "o-w", eureka.StatusUp, ""), inst("SECRET", "x-w", eureka.StatusUp, ""),
		inst("ORDERS", "dup", eureka.StatusUp, "")))
	setCopy(s, "east", apps(inst("ORDERS", "o-e", eureka.StatusUp, ""), inst("ORDERS", "dup", eureka.StatusDown, "")))
	if in := s.InstanceByID("dup"); in == nil || in.Status != eureka.StatusUp {
		t.Errorf("InstanceByID(dup) = %+v, want west's (first in configuration order)", in)
	}
	if a := s.Application("orders"); a == nil || a.Instances[0].ID() != "o-w" {
		t.Errorf("Application(orders) = %+v, want west's", a)
	}
	if s.Application("SECRET") != nil || s.InstanceByID("x-w") != nil {
		t.Error("an application outside the allow-list was served")
	}
	if in := s.Instance("ORDERS", "o-w"); in == nil {
		t.Error("Instance(ORDERS, o-w) not found")
	}
	if in := s.InstanceByID("o-e"); in == nil {
		t.Error("InstanceByID(o-e) not found")
	}
	p := s.Get(Apps, cache.JSON, []string{"west"})
	if bytes.Contains(p.Plain().Body, []byte("SECRET")) {
		t.Error("apps?regions=west holds an application outside the allow-list")
	}

	o.DisableTransparentFallback = true
	off, _ := New(src, &o)
	setCopy(off, "west", apps(inst("ORDERS", "o-w", eureka.StatusUp, "")))
	if off.Application("ORDERS") != nil || off.InstanceByID("o-w") != nil {
		t.Error("the fallback answered while disabled")
	}
}

// TestInstallChanges checks the remote part of apps/delta as fetches
// install copies: additions, modifications and deletions are noted,
// lease bookkeeping alone is not (and keeps cached payloads), the
// allow-list applies, and changes leave after the retention.
func TestInstallChanges(t *testing.T) {
	src := &fakeSource{apps: apps(), delta: apps()}
	o := DefaultOptions()
	o.Remote = []string{"west;http://127.0.0.1:1/eureka/"}
	o.AppAllowList = []string{"west;ORDERS"}
	s, err := New(src, &o)
	if err != nil {
		t.Fatal(err)
	}
	r := s.byName["west"]
	delta := func() []string {
		var out []string
		for _, a := range s.remoteChanges([]*remote{r})[0].Applications {
			for _, in := range a.Instances {
				out = append(out, a.Name+"/"+in.ID()+":"+string(in.Status)+":"+string(in.ActionType))
			}
		}
		return out
	}
	start := time.Now()
	o1, o2 := inst("orders", "o1", eureka.StatusUp, ""), inst("ORDERS", "o2", eureka.StatusUp, "")
	r.install(filter(apps(o1, o2, inst("SECRET", "x1", eureka.StatusUp, "")), r.Allow), start, time.Minute)
	if got, want := delta(), []string{"ORDERS/o1:UP:ADDED", "ORDERS/o2:UP:ADDED"}; !slices.Equal(got, want) {
		t.Errorf("after the first fetch: %v, want %v", got, want)
	}
	gen := r.gen.Load()

	renewed := *o1
	renewed.LeaseInfo = &eureka.LeaseInfo{LastRenewalTimestamp: 42}
	r.install(filter(apps(&renewed, o2), r.Allow), start.Add(time.Second), time.Minute)
	if r.gen.Load() != gen || len(delta()) != 2 {
		t.Errorf("a renewal counted as a change: generation %d → %d, delta %v", gen, r.gen.Load(), delta())
	}

	r.install(filter(apps(&renewed, inst("ORDERS", "o3", eureka.StatusUp, ""), inst("ORDERS", "o2", eureka.StatusDown, "")), r.Allow), start.Add(2*time.Second), time.Minute)
	if r.gen.Load() == gen {
		t.Error("a change kept the generation")
	}
	// o2 ADDED then MODIFIED: its latest change stands in its place.
	if got, want := delta(), []string{"ORDERS/o1:UP:ADDED", "ORDERS/o2:DOWN:MODIFIED", "ORDERS/o3:UP:ADDED"}; !slices.Equal(got, want) {
		t.Errorf("after a modification: %v, want %v", got, want)
	}

	// Past the retention the first fetch's changes go when the next
	// copy is installed; o2's deletion stands in its modification's place.
	r.install(filter(apps(inst("ORDERS", "o3", eureka.StatusUp, "")), r.Allow), start.Add(time.Minute+time.Second), time.Minute)
	if got, want := delta(), []string{"ORDERS/o3:UP:ADDED", "ORDERS/o2:DOWN:DELETED", "ORDERS/o1:UP:DELETED"}; !slices.Equal(got, want) {
		t.Errorf("after the retention and two deletions: %v, want %v", got, want)
	}
}

// TestWait checks the long-poll of payloads with regions: held while the
// client's tag (plain or gzip, weak or strong) is current, released by a
// change of a remote copy or of the local registry, and at once for a
// tag that is not current.
func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{apps: apps(inst("A", "a1", eureka.StatusUp, "")), delta: apps(), changes: make(chan struct{})}
		s := newSet(t, src, "west")
		setCopy(s, "west", apps(inst("B", "b1", eureka.StatusUp, "")))
		names := []string{"west"}
		p := s.Get(Apps, cache.JSON, names)

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		got, changed := s.Wait(ctx, Apps, cache.JSON, names, p.Gzip().ETag[0])
		cancel()
		if changed || got != p {
			t.Errorf("unchanged payload: changed %v, same payload %v", changed, got == p)
		}
		if _, changed := s.Wait(t.Context(), Apps, cache.JSON, names, `"old"`); !changed {
			t.Error("a tag not current was held")
		}

		done := make(chan *Payload)
		wait := func(etag string) {
			q, _ := s.Wait(t.Context(), Apps, cache.JSON, names, etag)
			done <- q
		}
		held := func() {
			t.Helper()
			synctest.Wait()
			select {
			case <-done:
				t.Fatal("the long-poll returned before any change")
			default:
			}
		}
		go wait("W/" + p.Plain().ETag[0])
		held()
		// The fetcher never ran: its view is empty, so west's instance goes.
		s.update(s.byName["west"])
		q := <-done
		if bytes.Contains(q.Plain().Body, []byte("b1")) {
			t.Errorf("after west's change: %s", q.Plain().Body)
		}

		go wait(q.Plain().ETag[0])
		held()
		src.apps = apps(inst("A", "a2", eureka.StatusUp, ""))
		src.version.Add(1)
		close(src.changes)
		if q := <-done; !bytes.Contains(q.Plain().Body, []byte("a2")) {
			t.Errorf("after a local change: %s", q.Plain().Body)
		}
	})
}
