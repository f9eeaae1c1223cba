package plugintest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin/plugintest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
)

// An author's test sees the authenticator as eurekad will: its errors
// after their trip through gRPC.
func TestAuthenticator(t *testing.T) {
	a := hook.AuthenticatorFunc(func(_ context.Context, r *hook.AuthRequest) (hook.Principal, error) {
		switch r.Username {
		case "ops":
			return hook.Principal{Name: "ops"}, nil
		case "guesser":
			return hook.Principal{}, hook.ErrThrottled
		}
		return hook.Principal{}, hook.ErrForbidden
	})
	remote := plugintest.Authenticator(t, a, nil)
	if _, err := remote.Authenticate(t.Context(), &hook.AuthRequest{Operation: hook.OpCancel, Username: "dev"}); !errors.Is(err, hook.ErrForbidden) {
		t.Errorf("err = %v, want ErrForbidden", err)
	}
	if _, err := remote.Authenticate(t.Context(), &hook.AuthRequest{Username: "guesser"}); !errors.Is(err, hook.ErrThrottled) {
		t.Errorf("err = %v, want ErrThrottled", err)
	}
	if p, err := remote.Authenticate(t.Context(), &hook.AuthRequest{Username: "ops"}); err != nil || p.Name != "ops" {
		t.Errorf("= %+v, %v", p, err)
	}
}

func TestStoreErrorsKeepIdentity(t *testing.T) {
	s := plugintest.Store(t, func(context.Context, []byte) (storage.Store, error) { return memory.New(), nil }, nil)
	if _, err := s.Get(t.Context(), storage.Key{App: "A", ID: "1"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get of a missing key = %v, want ErrNotFound", err)
	}
	s.Close()
	if err := s.Put(t.Context(), storage.Record{Key: storage.Key{App: "A", ID: "1"}}); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
}

func TestListener(t *testing.T) {
	var got []hook.Event
	l := plugintest.Listener(t, hook.ListenerFunc(func(_ context.Context, e []hook.Event) error {
		got = append(got, e...)
		return nil
	}), nil)
	if err := l.Handle(t.Context(), []hook.Event{{Seq: 1, Type: hook.EventServerStarted}}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Seq != 1 || got[0].Type != hook.EventServerStarted {
		t.Errorf("listener got %+v", got)
	}
}
