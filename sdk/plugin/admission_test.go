package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/plugins"
	"github.com/eurekad/eurekad/plugins/admission"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
	"github.com/eurekad/eurekad/sdk/plugin/plugintest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	eurekadtest.RemoveBinary()
	os.Exit(code)
}

// Every field of a request and an answer crosses the boundary; a refusal
// stays a refusal with its message, and a failure stays a failure.
func TestAdmitterOverGRPC(t *testing.T) {
	var seen *hook.AdmissionRequest
	a := &configurable{AdmitterFunc: func(ctx context.Context, r *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
		seen = r
		switch r.App {
		case "DENIED":
			return hook.AdmissionResponse{Message: "team payments may not register DENIED"}, nil
		case "BINARY":
			return hook.AdmissionResponse{Message: "owner \xff"}, nil
		case "BROKEN":
			return hook.AdmissionResponse{}, errors.New("directory down")
		case "SLOW":
			<-ctx.Done()
			return hook.AdmissionResponse{}, ctx.Err()
		}
		return hook.AdmissionResponse{Allowed: true, Metadata: map[string]string{"admitted-by": "test", "team": r.Principal.Attributes["team"]}}, nil
	}}
	remote := plugintest.Admitter(t, a, []byte(`{"teams":["orders"]}`))
	if string(a.cfg) != `{"teams":["orders"]}` {
		t.Errorf("Configure got %q", a.cfg)
	}

	req := &hook.AdmissionRequest{
		Operation: hook.OpStatus, App: "ORDERS", InstanceID: "o1",
		Instance: &eureka.InstanceInfo{
			InstanceID: "o1", App: "ORDERS", HostName: "o1.local", IPAddr: "10.0.0.1", Status: eureka.StatusUp,
			OverriddenStatus: eureka.StatusOutOfService, Port: eureka.Port{Number: 8080, Enabled: true},
			DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}, Metadata: map[string]string{"team": "orders"},
		},
		Status:     eureka.StatusOutOfService,
		Metadata:   map[string]string{"k": "v"},
		Principal:  hook.Principal{Name: "orders", Attributes: map[string]string{"team": "orders"}},
		RemoteAddr: "10.0.0.1:40000",
		Namespace:  "team-a",
		TLS:        &hook.TLSIdentity{Subject: "CN=o1", CommonName: "o1", DNSNames: []string{"o1.example"}, URIs: []string{"spiffe://o1"}, SHA256: "ab"},
	}
	r, err := remote.Admit(t.Context(), req)
	if err != nil || !r.Allowed || !maps.Equal(r.Metadata, map[string]string{"admitted-by": "test", "team": "orders"}) {
		t.Fatalf("Admit = %+v, %v", r, err)
	}
	// The instance arrives as its JSON encoding decodes (which fills
	// Eureka's defaults, such as the lease).
	wantIn, err := eureka.DecodeInstanceJSON(eureka.AppendInstanceJSON(nil, req.Instance))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seen.Instance, wantIn) || seen.Instance.OverriddenStatus != eureka.StatusOutOfService || seen.Instance.Metadata["team"] != "orders" {
		t.Errorf("plugin saw instance %+v, want %+v", *seen.Instance, *wantIn)
	}
	gotReq, wantReq := *seen, *req
	gotReq.Instance, wantReq.Instance = nil, nil
	if !reflect.DeepEqual(gotReq, wantReq) {
		t.Errorf("plugin saw %+v %+v, want %+v %+v", gotReq, *gotReq.TLS, wantReq, *wantReq.TLS)
	}

	// Without a principal or TLS identity, none appears on the other side.
	if _, err := remote.Admit(t.Context(), &hook.AdmissionRequest{Operation: hook.OpRegister, App: "A", InstanceID: "a1", Instance: &eureka.InstanceInfo{InstanceID: "a1", App: "A"}}); err != nil {
		t.Fatal(err)
	}
	if seen.TLS != nil || seen.Principal.Name != "" || seen.Principal.Attributes != nil || seen.Metadata != nil {
		t.Errorf("plugin saw %+v for a request without them", *seen)
	}

	r, err = remote.Admit(t.Context(), &hook.AdmissionRequest{Operation: hook.OpRegister, App: "DENIED", Instance: req.Instance})
	if err != nil || r.Allowed || r.Message != "team payments may not register DENIED" {
		t.Errorf("refusal = %+v, %v", r, err)
	}
	r, err = remote.Admit(t.Context(), &hook.AdmissionRequest{Operation: hook.OpRegister, App: "BINARY", Instance: req.Instance})
	if err != nil || r.Allowed || r.Message != "owner \uFFFD" {
		t.Errorf("a refusal whose message is not UTF-8 = %+v, %v; want the refusal, the bytes replaced", r, err)
	}
	_, err = remote.Admit(t.Context(), &hook.AdmissionRequest{Operation: hook.OpRegister, App: "BROKEN", Instance: req.Instance})
	if err == nil || err.Error() != "directory down" {
		t.Errorf("failure = %v, want the admitter's error", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := remote.Admit(ctx, &hook.AdmissionRequest{Operation: hook.OpRegister, App: "SLOW", Instance: req.Instance}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow admitter: %v, want DeadlineExceeded", err)
	}

	// A plugin without an admitter says so, and does not serve one.
	c := plugintest.Serve(t, plugin.ServeOptions{Listener: hook.ListenerFunc(func(context.Context, []hook.Event) error { return nil })})
	if info, err := c.Info(t.Context()); err != nil || info.Has(plugin.KindAdmission) {
		t.Errorf("Info = %+v, %v; want no admission", info, err)
	}
	if err := c.Configure(t.Context(), plugin.KindAdmission, nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Configure of admission not served = %v, want ErrUnsupported", err)
	}
}

// The example plugin as eurekad runs it: a process behind the admission
// guard, supervised. It admits with metadata, refuses with its message;
// killed, writes fail closed until it is back.
func TestAdmissionPluginProcess(t *testing.T) {
	bin := eurekadtest.BuildPackage(t, "./examples/admission-plugin")
	p, err := plugins.Load(t.Context(), plugins.Options{Kind: plugin.KindAdmission, Name: "team-admission", Executable: bin, MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, stop := context.WithCancel(context.Background())
	supervised := make(chan struct{})
	go func() {
		defer close(supervised)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		stop()
		<-supervised
	})
	if info := p.Info(); info.Name != "team-admission" || !info.Has(plugin.KindAdmission) {
		t.Errorf("Info = %+v", info)
	}
	g := admission.New(p.Admitter(), nil)
	register := func(ip string, md map[string]string) (hook.AdmissionResponse, error) {
		in := &eureka.InstanceInfo{InstanceID: "o1", App: "ORDERS", HostName: "o1.local", IPAddr: ip, Status: eureka.StatusUp, Metadata: md}
		return g.Admit(t.Context(), &hook.AdmissionRequest{Operation: hook.OpRegister, App: "ORDERS", InstanceID: "o1", Instance: in, RemoteAddr: "10.0.0.1:40000"})
	}
	team := map[string]string{"team": "orders"}
	allowed := func() error {
		r, err := register("10.0.0.1", team)
		if err != nil {
			return err
		}
		if !r.Allowed || r.Metadata["admitted-by"] != "admission-plugin" {
			return fmt.Errorf("admit = %+v, want allowed with admitted-by", r)
		}
		return nil
	}
	if err := allowed(); err != nil {
		t.Fatal(err)
	}
	if r, err := register("10.0.0.2", team); err != nil || r.Allowed || !strings.Contains(r.Message, "ipAddr 10.0.0.2 is not") || r.Metadata != nil {
		t.Errorf("other address = %+v, %v", r, err)
	}
	if r, err := register("10.0.0.1", nil); err != nil || r.Allowed || r.Message != "metadata team is required" {
		t.Errorf("no team = %+v, %v", r, err)
	}

	pid := p.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Until the supervisor notices, a call may still reach the dying
	// process; every answer during the outage is a failure, never an
	// admission.
	eurekadtest.Eventually(t, 10*time.Second, "the outage", func() error {
		r, err := register("10.0.0.1", team)
		switch {
		case r.Allowed:
			return fmt.Errorf("admitted by a killed plugin")
		case !errors.Is(err, admission.ErrUnavailable) || !errors.Is(err, plugin.ErrPluginExited):
			return fmt.Errorf("err = %v, want ErrUnavailable from ErrPluginExited", err)
		}
		return nil
	})
	eurekadtest.Eventually(t, 15*time.Second, "the restarted plugin", allowed)
	if st := p.Stats(); st.Restarts != 1 || st.PID == pid || st.State != plugins.StateRunning {
		t.Errorf("after the restart: %+v", st)
	}
	if st := g.Stats(); st.Errors == 0 || st.FailedOpen != 0 || st.Denied != 2 {
		t.Errorf("guard stats = %+v", st)
	}
}
