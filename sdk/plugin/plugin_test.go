package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
	"github.com/eurekad/eurekad/sdk/plugin/plugintest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/sdk/storage/storagetest"
	"github.com/eurekad/eurekad/storage/memory"
)

func openMemory(context.Context, []byte) (storage.Store, error) { return memory.New(), nil }

// The storage contract holds through the adapters: the conformance suite
// over the in-memory harness, with batches on the batch pipe (as eurekad
// sends them) and over gRPC (to a plugin without the pipe).
func TestStoreConformanceOverGRPC(t *testing.T) {
	t.Run("batch pipe", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Store {
			s := plugintest.Store(t, openMemory, nil)
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("gRPC batches", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Store {
			c := plugintest.Serve(t, plugin.ServeOptions{Name: "memory", Store: openMemory})
			if err := c.Configure(t.Context(), plugin.KindStorage, nil); err != nil {
				t.Fatal(err)
			}
			s := c.Store(plugin.Info{Batcher: true, Snapshotter: true})
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

// plainStore hides the memory store's optional abilities.
type plainStore struct{ storage.Store }

func TestStoreCapabilitiesFollowInfo(t *testing.T) {
	rich := plugintest.Store(t, openMemory, nil)
	if _, ok := rich.(storage.Batcher); !ok {
		t.Error("memory store over gRPC is not a Batcher")
	}
	if _, ok := rich.(storage.Snapshotter); !ok {
		t.Error("memory store over gRPC is not a Snapshotter")
	}
	plain := plugintest.Store(t, func(context.Context, []byte) (storage.Store, error) {
		return plainStore{memory.New()}, nil
	}, nil)
	if _, ok := plain.(storage.Batcher); ok {
		t.Error("plain store over gRPC claims Batcher")
	}
	if _, ok := plain.(storage.Snapshotter); ok {
		t.Error("plain store over gRPC claims Snapshotter")
	}
}

func TestStoreFactoryGetsConfig(t *testing.T) {
	var got []byte
	open := func(_ context.Context, cfg []byte) (storage.Store, error) {
		got = cfg
		return memory.New(), nil
	}
	plugintest.Store(t, open, []byte(`{"path":"x"}`))
	if string(got) != `{"path":"x"}` {
		t.Errorf("factory got %q", got)
	}
	plugintest.Store(t, open, nil)
	if string(got) != `{}` {
		t.Errorf("factory got %q without config, want {}", got)
	}
}

func TestStoreFactoryErrorFailsConfigure(t *testing.T) {
	c := plugintest.Serve(t, plugin.ServeOptions{Name: "x", Store: func(context.Context, []byte) (storage.Store, error) {
		return nil, errors.New("bad path")
	}})
	err := c.Configure(t.Context(), plugin.KindStorage, nil)
	if err == nil || err.Error() != "bad path" {
		t.Fatalf("Configure = %v, want the factory's error", err)
	}
	// Unconfigured, the store is closed.
	if err := c.Store(plugin.Info{}).Put(t.Context(), storage.Record{Key: storage.Key{App: "A", ID: "1"}}); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Put before a successful Configure = %v, want ErrClosed", err)
	}
}

func TestInfo(t *testing.T) {
	c := plugintest.Serve(t, plugin.ServeOptions{
		Name: "multi", Version: "1.2.3",
		Store:         openMemory,
		Authenticator: hook.AuthenticatorFunc(func(context.Context, *hook.AuthRequest) (hook.Principal, error) { return hook.Principal{}, nil }),
	})
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "multi" || info.Version != "1.2.3" || !info.Has(plugin.KindStorage) || !info.Has(plugin.KindAuth) || info.Has(plugin.KindListener) {
		t.Errorf("Info = %+v", info)
	}
	if info.Batcher || info.Snapshotter {
		t.Errorf("abilities reported before the store is configured: %+v", info)
	}
	if err := c.Configure(t.Context(), plugin.KindStorage, nil); err != nil {
		t.Fatal(err)
	}
	if info, _ = c.Info(t.Context()); !info.Batcher || !info.Snapshotter {
		t.Errorf("after Configure: %+v, want Batcher and Snapshotter", info)
	}
	if wantPipe := runtime.GOOS != "windows"; info.BatchPipe != wantPipe {
		t.Errorf("after Configure: BatchPipe %v, want %v", info.BatchPipe, wantPipe)
	}
	if err := c.Configure(t.Context(), plugin.KindListener, nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Configure of a kind not served = %v, want ErrUnsupported", err)
	}
	if err := c.Listener().Handle(t.Context(), nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("listener not served: Handle = %v, want ErrUnsupported", err)
	}
}

// configurable records its configuration; it is the authenticator or
// the admitter its embedded func makes it.
type configurable struct {
	hook.AuthenticatorFunc
	hook.AdmitterFunc
	hook.CheckerFunc
	cfg []byte
}

func (c *configurable) Configure(_ context.Context, cfg []byte) error {
	if string(cfg) == `{"bad":true}` {
		return fmt.Errorf("config: %w", errors.ErrUnsupported)
	}
	c.cfg = cfg
	return nil
}

func TestAuthenticatorOverGRPC(t *testing.T) {
	var seen *hook.AuthRequest
	a := &configurable{AuthenticatorFunc: func(ctx context.Context, req *hook.AuthRequest) (hook.Principal, error) {
		seen = req
		switch req.Username {
		case "":
			return hook.Principal{}, hook.ErrUnauthenticated
		case "other":
			return hook.Principal{}, fmt.Errorf("team other may not touch %s: %w", req.App, hook.ErrForbidden)
		case "slow":
			<-ctx.Done()
			return hook.Principal{}, ctx.Err()
		case "broken":
			return hook.Principal{}, errors.New("ldap down")
		}
		return hook.Principal{Name: req.Username, Attributes: map[string]string{"team": "A"}}, nil
	}}
	remote := plugintest.Authenticator(t, a, []byte(`{"users":"f"}`))
	if string(a.cfg) != `{"users":"f"}` {
		t.Errorf("Configure got %q", a.cfg)
	}

	req := &hook.AuthRequest{
		Operation: hook.OpRegister, App: "A-SVC", Instance: "i1", Method: "POST", Path: "/eureka/apps/A-SVC",
		RemoteAddr: "127.0.0.1:5000", Username: "alice", Password: "pw", BearerToken: "tok", Namespace: "team-a",
		TLS: &hook.TLSIdentity{Subject: "CN=x", CommonName: "x", DNSNames: []string{"x.example"}, URIs: []string{"spiffe://x"}, SHA256: "ab"},
	}
	p, err := remote.Authenticate(t.Context(), req)
	if err != nil || p.Name != "alice" || p.Attributes["team"] != "A" {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	gotTLS, wantTLS := *seen.TLS, *req.TLS
	gotReq, wantReq := *seen, *req
	gotReq.TLS, wantReq.TLS = nil, nil
	if fmt.Sprint(gotReq) != fmt.Sprint(wantReq) || fmt.Sprint(gotTLS) != fmt.Sprint(wantTLS) {
		t.Errorf("plugin saw %+v %+v, want %+v %+v", *seen, *seen.TLS, *req, *req.TLS)
	}

	for _, tc := range []struct {
		user string
		want error
		msg  string
	}{
		{"", hook.ErrUnauthenticated, "unauthenticated"},
		{"other", hook.ErrForbidden, "team other may not touch A-SVC: forbidden"},
		{"broken", nil, "ldap down"},
	} {
		_, err := remote.Authenticate(t.Context(), &hook.AuthRequest{Operation: hook.OpRead, App: "A-SVC", Username: tc.user})
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%q: err = %v, want message %q", tc.user, err, tc.msg)
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%q: err = %v does not match %v", tc.user, err, tc.want)
		}
		if tc.want == nil && (errors.Is(err, hook.ErrForbidden) || errors.Is(err, hook.ErrUnauthenticated)) {
			t.Errorf("%q: a failure of the authenticator became a decision: %v", tc.user, err)
		}
	}

	// The caller's deadline reaches the plugin.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := remote.Authenticate(ctx, &hook.AuthRequest{Username: "slow"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow plugin: err = %v, want DeadlineExceeded", err)
	}

	c := plugintest.Serve(t, plugin.ServeOptions{Authenticator: a})
	if err := c.Configure(t.Context(), plugin.KindAuth, []byte(`{"bad":true}`)); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("bad config: %v", err)
	}
}

func TestListenerOverGRPC(t *testing.T) {
	var mu sync.Mutex
	var calls [][]hook.Event
	l := hook.ListenerFunc(func(_ context.Context, events []hook.Event) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, events)
		if len(events) == 1 && events[0].Type == hook.EventGap {
			return errors.New("cannot handle gaps")
		}
		return nil
	})
	remote := plugintest.Listener(t, l, nil)

	in := &eureka.InstanceInfo{
		InstanceID: "i1", App: "SVC", HostName: "h1", IPAddr: "10.0.0.1", Status: eureka.StatusUp,
		Port: eureka.Port{Number: 8080, Enabled: true}, Metadata: map[string]string{"zone": "z1"},
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
	}
	now := time.Now()
	batch := []hook.Event{
		{Seq: 1, Type: hook.EventServerStarted, Time: now},
		{Seq: 2, Type: hook.EventRegistered, Time: now, App: "SVC", InstanceID: "i1", Instance: in, Replicated: true, Namespace: "team-a"},
	}
	if err := remote.Handle(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	if err := remote.Handle(t.Context(), []hook.Event{{Seq: 3, Type: hook.EventGap, Dropped: 7}}); err == nil || err.Error() != "cannot handle gaps" {
		t.Errorf("Handle = %v, want the listener's error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || len(calls[0]) != 2 {
		t.Fatalf("calls = %v, want one per batch", calls)
	}
	got := calls[0]
	if got[0].Seq != 1 || got[0].Type != hook.EventServerStarted || !got[0].Time.Equal(now) || got[0].Instance != nil {
		t.Errorf("event 1 = %+v", got[0])
	}
	if got[1].App != "SVC" || got[1].InstanceID != "i1" || !got[1].Replicated || got[1].Instance == nil || got[1].Namespace != "team-a" {
		t.Fatalf("event 2 = %+v", got[1])
	}
	gi := got[1].Instance
	if gi.InstanceID != "i1" || gi.HostName != "h1" || gi.Port.Number != 8080 || gi.Metadata["zone"] != "z1" || gi.Status != eureka.StatusUp {
		t.Errorf("instance after the crossing = %+v", gi)
	}
	if calls[1][0].Dropped != 7 {
		t.Errorf("gap = %+v", calls[1][0])
	}
}
