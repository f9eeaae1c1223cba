package httpd

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/snapshot"
	"github.com/eurekad/eurekad/sdk/storage"
)

// fakeStore is a Persister whose answers the test sets.
type fakeStore struct {
	mu        sync.Mutex
	admitErr  error
	commitErr error
	commits   int
	status    persist.Status
}

func (f *fakeStore) Begin()       {}
func (f *fakeStore) End()         {}
func (f *fakeStore) Admit() error { f.mu.Lock(); defer f.mu.Unlock(); return f.admitErr }

// The fake's durable answers are its policy's: these tests are about the
// answers, core/node's about which writes need which.
func (f *fakeStore) AdmitDurable() error { return f.Admit() }
func (f *fakeStore) CommitDurable(ctx context.Context, _, _ string) error {
	return f.Commit(ctx)
}
func (f *fakeStore) Commit(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commits++
	return f.commitErr
}
func (f *fakeStore) CommitHealing(ctx context.Context, _, _ string) error { return f.Commit(ctx) }
func (f *fakeStore) Status() persist.Status                               { f.mu.Lock(); defer f.mu.Unlock(); return f.status }

func newStoreServer(t *testing.T, fs *fakeStore, mod func(*Options)) *testServer {
	t.Helper()
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, _ := cache.New(reg, nil)
	o := DefaultOptions()
	o.StoreKind = "bolt"
	if mod != nil {
		mod(&o)
	}
	return &testServer{t: t, h: New(node.New(reg, node.Options{Store: fs}), c, &o).Handler(), reg: reg}
}

func TestWritesWaitForCommit(t *testing.T) {
	fs := &fakeStore{}
	s := newStoreServer(t, fs, nil)
	id := "/eureka/apps/ORDERS/10.0.0.5:orders:8080"
	s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	s.expect("PUT", id+"/status?value=DOWN", "", 200)
	s.expect("DELETE", id+"/status", "", 200)
	s.expect("PUT", id+"/metadata?a=b", "", 200)
	s.expect("PUT", id, "", 404) // UNKNOWN after the override removal; renewals never commit
	s.expect("DELETE", id, "", 200)
	s.expect("DELETE", id, "", 404)
	if fs.commits != 5 {
		t.Fatalf("%d commits for 5 acknowledged writes", fs.commits)
	}

	// A failed commit is not acknowledged.
	fs.commitErr = persist.ErrUnavailable
	s.expect("POST", "/eureka/apps/orders", springBody, 503, "Content-Type", jsonCT)
	// A refused write changes nothing.
	fs.commitErr = nil
	fs.admitErr = persist.ErrUnavailable
	s.expect("DELETE", id, "", 503)
	if s.reg.Instance("ORDERS", "10.0.0.5:orders:8080") == nil {
		t.Fatal("a refused cancel removed the instance")
	}
}

func TestReadyz(t *testing.T) {
	fs := &fakeStore{status: persist.Status{OnFailure: persist.FailureServe}}
	s := newStoreServer(t, fs, nil)
	s.expect("GET", "/healthz", "", 200)
	if w := s.expect("GET", "/readyz", "", 200); !strings.Contains(w.Body.String(), `"status":"ready"`) {
		t.Fatalf("readyz = %s", w.Body.String())
	}
	fs.status.Degraded = true
	if w := s.expect("GET", "/readyz", "", 200); !strings.Contains(w.Body.String(), `"status":"degraded"`) {
		t.Fatalf("degraded readyz = %s", w.Body.String())
	}
	fs.status.OnFailure = persist.FailureReject
	s.expect("GET", "/readyz", "", 503)

	// Before OpenForTraffic (the end of the restore) it is not ready.
	reg := registry.New(nil)
	c, _ := cache.New(reg, nil)
	early := &testServer{t: t, h: New(node.New(reg, node.Options{}), c, nil).Handler(), reg: reg}
	if w := early.expect("GET", "/readyz", "", 503); !strings.Contains(w.Body.String(), `"restored":false`) {
		t.Fatalf("readyz before start-up ended = %s", w.Body.String())
	}
	reg.OpenForTraffic(0)
	early.expect("GET", "/healthz", "", 200)
	if w := early.expect("GET", "/readyz", "", 200); !strings.Contains(w.Body.String(), `"restored":true`) {
		t.Fatalf("readyz = %s", w.Body.String())
	}
}

func TestAdminGuardAndSnapshot(t *testing.T) {
	fs := &fakeStore{}
	s := newStoreServer(t, fs, nil)
	s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	// httptest requests come from 192.0.2.1, not loopback.
	s.expect("GET", "/admin/snapshot", "", 403)

	tok := newStoreServer(t, fs, func(o *Options) { o.AdminToken = "s3cret" })
	tok.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	tok.expect("GET", "/admin/snapshot", "", 401)
	tok.expect("GET", "/admin/snapshot", "", 401, "Authorization", "Bearer wrong")
	w := tok.expect("GET", "/admin/snapshot", "", 200, "Authorization", "Bearer s3cret")
	var recs []storage.Record
	h, err := snapshot.Read(bytes.NewReader(w.Body.Bytes()), func(r storage.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil || h.Records != 1 || recs[0].Key.App != "ORDERS" {
		t.Fatalf("snapshot = %+v %v %+v", h, err, recs)
	}
	in, _, err := registry.DecodeRecord(recs[0])
	if err != nil || in.Metadata["zone"] != "zone-a" {
		t.Fatalf("snapshot record = %+v %v", in, err)
	}
	w = tok.expect("GET", "/admin/storage", "", 200, "Authorization", "Bearer s3cret")
	if !strings.Contains(w.Body.String(), `"kind":"bolt"`) {
		t.Fatalf("storage status = %s", w.Body.String())
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5": true, "[::1]:80": true, "10.0.0.1:5": false, "garbage": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
	}
}

func TestReadyzProbesStore(t *testing.T) {
	var mu sync.Mutex
	var probeErr error
	calls := 0
	fs := &fakeStore{status: persist.Status{OnFailure: persist.FailureServe}}
	s := newStoreServer(t, fs, func(o *Options) {
		o.StoreProbe = func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return probeErr
		}
	})
	if w := s.expect("GET", "/readyz", "", 200); !strings.Contains(w.Body.String(), `"storageReachable":true`) {
		t.Fatalf("readyz = %s", w.Body.String())
	}
	s.expect("GET", "/readyz", "", 200)
	if calls != 1 {
		t.Fatalf("%d probes for two checks within a second", calls)
	}

	mu.Lock()
	probeErr = errors.New("dial tcp: connection refused")
	mu.Unlock()
	srv := newStoreServer(t, fs, func(o *Options) { o.StoreProbe = func(context.Context) error { return probeErr } })
	w := srv.expect("GET", "/readyz", "", 200) // policy serve: still ready, degraded
	for _, want := range []string{`"status":"degraded"`, `"storageReachable":false`, `connection refused`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("readyz lacks %s: %s", want, w.Body.String())
		}
	}
	fs.status.OnFailure = persist.FailureReject
	srv = newStoreServer(t, fs, func(o *Options) { o.StoreProbe = func(context.Context) error { return probeErr } })
	srv.expect("GET", "/readyz", "", 503)
}

func TestProfilingIsForAdminsOnly(t *testing.T) {
	off := newTestServer(t, func(o *Options) { o.AdminToken = "s3cret" })
	off.expect("GET", "/debug/pprof/heap", "", 404, "Authorization", "Bearer s3cret")

	on := newTestServer(t, func(o *Options) { o.AdminToken = "s3cret"; o.Profiling = true })
	on.expect("GET", "/debug/pprof/heap", "", 401)
	on.expect("GET", "/debug/pprof/heap", "", 401, "Authorization", "Bearer wrong")
	w := on.expect("GET", "/debug/pprof/heap?debug=1", "", 200, "Authorization", "Bearer s3cret")
	if !strings.Contains(w.Body.String(), "heap profile:") {
		t.Fatalf("heap profile = %.200s", w.Body.String())
	}
	w = on.expect("GET", "/debug/pprof/", "", 200, "Authorization", "Bearer s3cret")
	if !strings.Contains(w.Body.String(), "goroutine") {
		t.Fatalf("profile index = %.200s", w.Body.String())
	}
	// Without a token only loopback clients are admins; httptest's
	// requests come from 192.0.2.1.
	open := newTestServer(t, func(o *Options) { o.Profiling = true })
	open.expect("GET", "/debug/pprof/heap", "", 403)

	// Under an authenticator it takes the admin permission: a peer, which
	// reads the whole registry, is refused.
	_, _, ts := matrixServer(t)
	if code := matrixCall(t, ts.URL+"/debug/pprof/heap", "GET", "peer", "peer-secret", false); code != 403 {
		t.Fatalf("a peer reading the heap profile: %d, want 403", code)
	}
}
