package check_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/eurekad/eurekad/plugins/check"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/hook/checkertest"
	"github.com/eurekad/eurekad/sdk/plugin/plugintest"
)

// grpcServer serves h as grpc.health.v1 on loopback.
func grpcServer(t *testing.T, h healthpb.HealthServer) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	healthpb.RegisterHealthServer(g, h)
	go g.Serve(l)
	t.Cleanup(g.Stop)
	return l.Addr().String()
}

// servingHealth answers "" SERVING, "orders" NOT_SERVING.
func servingHealth() healthpb.HealthServer {
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus("orders", healthpb.HealthCheckResponse_NOT_SERVING)
	return h
}

// wordyHealth answers every health check with an error whose message is
// long and not ASCII: text the probed server chose, which the verdict's
// detail quotes.
type wordyHealth struct {
	healthpb.UnimplementedHealthServer
}

func (wordyHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return nil, status.Error(codes.Internal, strings.Repeat("é", 150))
}

func cases(t *testing.T) (cs []checkertest.Case, elsewhereHits *atomic.Int64) {
	up, down := checkertest.HTTPServer(t, http.StatusOK), checkertest.HTTPServer(t, http.StatusInternalServerError)
	elsewhereHits = new(atomic.Int64)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhereHits.Add(1) }))
	t.Cleanup(elsewhere.Close)
	redirect := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/health", http.StatusFound))
	t.Cleanup(redirect.Close)
	g := grpcServer(t, servingHealth())
	closed := checkertest.ClosedAddr(t)

	narrow := checkertest.HTTP(redirect.Listener.Addr().String(), "/health")
	narrow.ExpectMin, narrow.ExpectMax = 200, 299
	orders := checkertest.GRPC(g)
	orders.Params = map[string]string{"service": "orders"}
	return []checkertest.Case{
		{Name: "http 200", Passing: true, Request: checkertest.HTTP(up, "/health")},
		{Name: "http 500", Detail: "HTTP 500", Request: checkertest.HTTP(down, "/health")},
		{Name: "http refused", Detail: "refused", Request: checkertest.HTTP(closed, "/health")},
		{Name: "redirect not followed", Detail: "HTTP 302", Request: narrow},
		{Name: "tcp open", Passing: true, Request: checkertest.TCP(up)},
		{Name: "tcp refused", Detail: "refused", Request: checkertest.TCP(closed)},
		{Name: "grpc serving", Passing: true, Request: checkertest.GRPC(g)},
		{Name: "grpc not serving", Detail: "NOT_SERVING", Request: orders},
		{Name: "grpc refused", Detail: "Unavailable", Request: checkertest.GRPC(closed)},
		{Name: "grpc on an http server", Request: checkertest.GRPC(up)},
		// The detail is cut short on a rune boundary: cut inside one, it
		// is no valid UTF-8 and cannot cross gRPC (an isolated built-in's
		// verdict would be lost, undecided).
		{Name: "grpc error with a long message", Detail: "grpc Internal: éé", Request: checkertest.GRPC(grpcServer(t, wordyHealth{}))},
		{Name: "unknown kind", Undecided: true, Request: checkertest.Kind("redis-ping", up, nil)},
	}, elsewhereHits
}

func TestBuiltinConforms(t *testing.T) {
	cs, hits := cases(t)
	checkertest.Run(t, check.New(), cs)
	if n := hits.Load(); n != 0 {
		t.Errorf("a redirect was followed to another server %d times", n)
	}
}

// Over gRPC, as an isolated built-in runs.
func TestBuiltinOverGRPC(t *testing.T) {
	cs, _ := cases(t)
	checkertest.Run(t, plugintest.Checker(t, check.Builtin().Checker, nil), cs)
}

// A proxy named by the environment is never used: the probe goes to the
// instance.
func TestNoProxy(t *testing.T) {
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		proxied.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	r, err := check.New().Check(t.Context(), checkertest.HTTP(checkertest.ClosedAddr(t), "/health"))
	if err != nil || r.Passing || proxied.Load() != 0 {
		t.Errorf("through a proxy: %+v, %v, proxied %d", r, err, proxied.Load())
	}
}

var _ hook.Checker = check.New()

// The checker itself refuses to dial an address no instance has, whatever
// led there (a host name the registrant chose may resolve to it): 0.0.0.0
// reaches this machine's own servers on Linux, so a probe of it would
// pass. Refused is undecided, an error, never a verdict.
func TestDialRefusesNonInstanceAddresses(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, host := range []string{"0.0.0.0", "169.254.169.254", "224.0.0.1"} {
		addr := net.JoinHostPort(host, port)
		for _, r := range []*hook.CheckRequest{checkertest.HTTP(addr, "/health"), checkertest.TCP(addr), checkertest.GRPC(addr)} {
			res, err := check.New().Check(t.Context(), r)
			if err == nil || res.Passing {
				t.Errorf("%s %s: %+v, %v; want refused, undecided", r.Kind, addr, res, err)
			}
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d probes reached the server through 0.0.0.0", hits.Load())
	}
	// The same server through its own address is probed.
	if res, err := check.New().Check(t.Context(), checkertest.HTTP(srv.Listener.Addr().String(), "/health")); err != nil || !res.Passing {
		t.Fatalf("through 127.0.0.1: %+v, %v", res, err)
	}
}
