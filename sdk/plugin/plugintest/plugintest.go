// Package plugintest runs a plugin's values over a real, in-memory gRPC
// connection and a store's batches over a batch pipe, the same adapters
// eurekad uses with a plugin process, so that
// a plugin author's tests see what eurekad will see: errors after their
// trip through gRPC codes, instances after their trip through JSON.
//
//	func TestMyStore(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store {
//			return plugintest.Store(t, openMyStore, nil)
//		})
//	}
package plugintest

import (
	"context"
	"testing"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Serve serves opts over an in-memory gRPC connection and returns eurekad's
// side of it. The connection closes when the test ends.
func Serve(t testing.TB, opts plugin.ServeOptions) *plugin.Client {
	t.Helper()
	c, stop := plugin.InMemory(opts)
	t.Cleanup(stop)
	return c
}

// Store serves the store that open returns (called with config, "{}" when
// nil) and returns it as eurekad sees it: configured, with the optional
// abilities the plugin reports.
func Store(t testing.TB, open func(ctx context.Context, config []byte) (storage.Store, error), config []byte) storage.Store {
	t.Helper()
	c := Serve(t, plugin.ServeOptions{Name: "plugintest", Store: open})
	ctx := context.Background()
	if err := c.Configure(ctx, plugin.KindStorage, config); err != nil {
		t.Fatalf("plugintest: configure store: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("plugintest: info: %v", err)
	}
	return c.Store(info)
}

// Authenticator serves a (configured with config, when it is a
// hook.Configurer) and returns it as eurekad sees it.
func Authenticator(t testing.TB, a hook.Authenticator, config []byte) hook.Authenticator {
	t.Helper()
	c := Serve(t, plugin.ServeOptions{Name: "plugintest", Authenticator: a})
	if err := c.Configure(context.Background(), plugin.KindAuth, config); err != nil {
		t.Fatalf("plugintest: configure authenticator: %v", err)
	}
	return c.Authenticator()
}

// Admitter serves a (configured with config, when it is a
// hook.Configurer) and returns it as eurekad sees it: requests and
// instances after their trip through gRPC and JSON. Package
// sdk/hook/admissiontest runs the conformance suite on it.
func Admitter(t testing.TB, a hook.Admitter, config []byte) hook.Admitter {
	t.Helper()
	c := Serve(t, plugin.ServeOptions{Name: "plugintest", Admitter: a})
	if err := c.Configure(context.Background(), plugin.KindAdmission, config); err != nil {
		t.Fatalf("plugintest: configure admitter: %v", err)
	}
	return c.Admitter()
}

// Checker serves c (configured with config, when it is a
// hook.Configurer) and returns it as eurekad sees it: requests after their
// trip through gRPC and JSON. Package sdk/hook/checkertest runs the
// conformance suite on it.
func Checker(t testing.TB, ch hook.Checker, config []byte) hook.Checker {
	t.Helper()
	c := Serve(t, plugin.ServeOptions{Name: "plugintest", Checker: ch})
	if err := c.Configure(context.Background(), plugin.KindChecker, config); err != nil {
		t.Fatalf("plugintest: configure checker: %v", err)
	}
	return c.Checker()
}

// Listener serves l (configured with config, when it is a
// hook.Configurer) and returns it as eurekad sees it.
func Listener(t testing.TB, l hook.Listener, config []byte) hook.Listener {
	t.Helper()
	c := Serve(t, plugin.ServeOptions{Name: "plugintest", Listener: l})
	if err := c.Configure(context.Background(), plugin.KindListener, config); err != nil {
		t.Fatalf("plugintest: configure listener: %v", err)
	}
	return c.Listener()
}
