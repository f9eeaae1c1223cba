// Package checkertest is the conformance suite for hook.Checker
// implementations: an author lists the probes and the verdicts the checker
// must give, and Run checks them together with the rules every checker
// follows.
//
//	func TestChecker(t *testing.T) {
//		c := plugintest.Checker(t, &myChecker{}, nil) // as eurekad sees it
//		up := checkertest.HTTPServer(t, http.StatusOK)
//		down := checkertest.HTTPServer(t, http.StatusInternalServerError)
//		checkertest.Run(t, c, []checkertest.Case{
//			{Name: "200", Passing: true, Request: checkertest.HTTP(up, "/health")},
//			{Name: "500", Request: checkertest.HTTP(down, "/health")},
//			{Name: "refused", Request: checkertest.TCP(checkertest.ClosedAddr(t))},
//		})
//	}
//
// The rules: a probe the checker reached gets a verdict, never an error; a
// failing verdict says why (Detail); the request, its instance and its
// maps are left as they were (eurekad shares them); a probe of a target
// that accepts connections but never answers ends within the request's
// Timeout (plus Slack), with a failing verdict for HTTP and gRPC; and the
// same requests sent from many goroutines at once get the same verdicts
// (run with -race).
//
// This package imports only the standard library, sdk/eureka and sdk/hook.
package checkertest

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// Case is one probe and the verdict the checker must give.
type Case struct {
	Name    string
	Request *hook.CheckRequest
	// Passing is the verdict expected.
	Passing bool
	// Detail is text a failing verdict's Detail must contain; "" checks
	// only that there is one.
	Detail string
	// Undecided expects an error instead of a verdict: the checker cannot
	// decide this request (a kind it does not serve).
	Undecided bool
}

// Concurrency is how many goroutines send the cases at once in the
// concurrency subtest.
const Concurrency = 8

// Slack is how much longer than its Timeout a probe may take.
const Slack = time.Second

// Run checks c against cases, one subtest each, then probes a target that
// never answers, then sends every case from Concurrency goroutines at once
// and checks the verdicts again.
func Run(t *testing.T, c hook.Checker, cases []Case) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("checkertest: no cases")
	}
	for _, cs := range cases {
		t.Run(cs.Name, func(t *testing.T) {
			if err := checkRequest(cs.Request); err != nil {
				t.Fatalf("checkertest: case %q: %v", cs.Name, err)
			}
			before := cloneRequest(cs.Request)
			if err := cs.check(probe(t.Context(), c, cs.Request)); err != nil {
				t.Error(err)
			}
			if !reflect.DeepEqual(before, cs.Request) {
				t.Errorf("the checker modified the request:\nbefore %+v\nafter  %+v", *before, *cs.Request)
			}
		})
	}
	t.Run("Hanging", func(t *testing.T) {
		addr := HangingAddr(t)
		var kinds []string
		for _, cs := range cases {
			if !cs.Undecided && !slices.Contains(kinds, cs.Request.Kind) {
				kinds = append(kinds, cs.Request.Kind)
			}
		}
		for _, k := range kinds {
			req := &hook.CheckRequest{App: "HANG", InstanceID: "h1", Instance: Instance("hang", "h1", "127.0.0.1"),
				Kind: k, Target: addr, Timeout: 300 * time.Millisecond, Params: map[string]string{}}
			if k == hook.CheckHTTP {
				req.Target, req.ExpectMin, req.ExpectMax = "http://"+addr+"/health", 200, 399
			}
			start := time.Now()
			r, err := probe(t.Context(), c, req)
			took := time.Since(start)
			if took > req.Timeout+Slack {
				t.Errorf("%s: a probe of a target that never answers took %v, its timeout is %v", k, took, req.Timeout)
			}
			// A TCP probe passes on connect; other kinds need an answer. An
			// HTTP or gRPC target that accepted the connection was reached:
			// its silence is a failing verdict, not an error. (A plugin's
			// own kind may want another target than host:port, so an error
			// is its answer to this request.)
			switch {
			case (k == hook.CheckHTTP || k == hook.CheckGRPC) && err != nil:
				t.Errorf("%s: a target that never answers got no verdict: %v", k, err)
			case err == nil && r.Passing && k != hook.CheckTCP:
				t.Errorf("%s: a target that never answers passed", k)
			}
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, Concurrency*len(cases))
		for range Concurrency {
			wg.Go(func() {
				for _, cs := range cases {
					if err := cs.check(probe(t.Context(), c, cs.Request)); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// probe calls c with the request's timeout as deadline, as eurekad does,
// turning a panic into an error so that the suite reports it.
func probe(ctx context.Context, c hook.Checker, req *hook.CheckRequest) (r hook.CheckResult, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, req.Timeout+Slack)
	defer cancel()
	return c.Check(ctx, req)
}

// check compares one answer with the case.
func (cs Case) check(r hook.CheckResult, err error) error {
	switch {
	case cs.Undecided && err == nil:
		return fmt.Errorf("%s: verdict %+v, want an error (undecided)", cs.Name, r)
	case cs.Undecided:
		return nil
	case err != nil:
		return fmt.Errorf("%s: Check failed: %v (an error means the checker could not decide; a target that fails is a failing verdict)", cs.Name, err)
	case r.Passing != cs.Passing:
		return fmt.Errorf("%s: Passing = %v (detail %q), want %v", cs.Name, r.Passing, r.Detail, cs.Passing)
	case !r.Passing && r.Detail == "":
		return fmt.Errorf("%s: failing without a detail", cs.Name)
	case !r.Passing && !strings.Contains(r.Detail, cs.Detail):
		return fmt.Errorf("%s: detail %q does not contain %q", cs.Name, r.Detail, cs.Detail)
	}
	return nil
}

// checkRequest refuses a request eurekad would never send.
func checkRequest(r *hook.CheckRequest) error {
	switch {
	case r == nil:
		return fmt.Errorf("nil Request")
	case r.Instance == nil:
		return fmt.Errorf("no Instance: eurekad always sends the instance")
	case r.App == "" || r.InstanceID == "" || r.Kind == "" || r.Target == "":
		return fmt.Errorf("App, InstanceID, Kind and Target must be set")
	case r.Timeout <= 0:
		return fmt.Errorf("Timeout must be positive")
	}
	return nil
}

func cloneRequest(r *hook.CheckRequest) *hook.CheckRequest {
	c := *r
	c.Instance = r.Instance.Clone()
	c.Params = maps.Clone(r.Params)
	return &c
}

// Instance returns an instance of app as a Eureka client registers it,
// UP on port 8080 at ipAddr.
func Instance(app, id, ipAddr string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID: id, App: strings.ToUpper(app), HostName: ipAddr, IPAddr: ipAddr,
		Status: eureka.StatusUp, Port: eureka.Port{Number: 8080, Enabled: true},
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		VIPAddress:     strings.ToLower(app),
	}
}

// request returns a probe of kind at target by an instance at addr's host.
func request(kind, target, addr string) *hook.CheckRequest {
	host, port, _ := net.SplitHostPort(addr)
	in := Instance("checked", "c1", host)
	in.Port.Number, _ = strconv.Atoi(port)
	return &hook.CheckRequest{App: in.App, InstanceID: in.ID(), Instance: in, Kind: kind, Target: target, Timeout: 2 * time.Second}
}

// HTTP returns an HTTP probe of path on the server at addr (host:port),
// passing for 2xx and 3xx.
func HTTP(addr, path string) *hook.CheckRequest {
	r := request(hook.CheckHTTP, "http://"+addr+path, addr)
	r.ExpectMin, r.ExpectMax = 200, 399
	return r
}

// TCP returns a TCP probe of addr (host:port).
func TCP(addr string) *hook.CheckRequest { return request(hook.CheckTCP, addr, addr) }

// GRPC returns a gRPC health probe of addr (host:port).
func GRPC(addr string) *hook.CheckRequest { return request(hook.CheckGRPC, addr, addr) }

// Kind returns a probe of a plugin's own kind at addr with params.
func Kind(kind, addr string, params map[string]string) *hook.CheckRequest {
	r := request(kind, addr, addr)
	r.Params = params
	return r
}

// HTTPServer starts a server on loopback answering every request with
// status, and returns its address (host:port).
func HTTPServer(t testing.TB, status int) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// ClosedAddr returns a loopback address nothing listens on.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// HangingAddr returns a loopback address that accepts connections and
// never answers on them.
func HangingAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, unread
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
