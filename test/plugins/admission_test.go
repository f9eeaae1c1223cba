package plugins

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/proctest"
	eurekaclient "github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// exampleAdmission starts eurekad with examples/admission-plugin as its
// admission hook and returns it with the plugin's path.
func exampleAdmission(t *testing.T) (*eurekadtest.Server, string) {
	t.Helper()
	bin := eurekadtest.BuildPackage(t, "./examples/admission-plugin")
	env := eurekadtest.WriteConfig(t, fmt.Sprintf("storage:\n  kind: memory\nplugins:\n  admission:\n    plugin: %s\n", bin))
	return eurekadtest.Start(t, env), bin
}

// registration is an instance of ORDERS-API at ip (the tests' client
// connects from 127.0.0.1), with the given metadata.
func registration(id, ip string, md map[string]string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{
		InstanceID: id, App: "ORDERS-API", HostName: id + ".local", IPAddr: ip, Status: eureka.StatusUp,
		Port: eureka.Port{Number: 8080, Enabled: true}, VIPAddress: "orders-api",
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}, Metadata: md,
	}
}

func instanceBody(in *eureka.InstanceInfo, asXML bool) string {
	if asXML {
		return string(eureka.AppendInstanceXML(nil, in))
	}
	return string(eureka.AppendInstanceJSONWrapped(nil, in))
}

// post registers in over raw HTTP and returns the status, content type and
// body.
func post(t *testing.T, s *eurekadtest.Server, in *eureka.InstanceInfo, asXML bool) (int, string, string) {
	t.Helper()
	ct := "application/json"
	if asXML {
		ct = "application/xml"
	}
	req, err := http.NewRequest("POST", s.Base+"apps/"+in.App, strings.NewReader(instanceBody(in, asXML)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", ct)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// errorMessage reads Eureka's error body: {"error": …} for JSON,
// <error><message>…</message></error> for XML.
func errorMessage(t *testing.T, ct, body string) string {
	t.Helper()
	if strings.Contains(ct, "xml") {
		var e struct {
			Message string `xml:"message"`
		}
		if err := xml.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("XML error body %q: %v", body, err)
		}
		return e.Message
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("JSON error body %q (%s): %v", body, ct, err)
	}
	return e.Error
}

// The example plugin decides registrations over HTTP: a refusal is a 403
// in Eureka's error shape with the plugin's message, stores nothing, and
// an admitted instance carries the metadata the plugin added.
func TestAdmissionPluginDecidesRegistrations(t *testing.T) {
	s, _ := exampleAdmission(t)
	team := map[string]string{"team": "orders"}
	for _, tc := range []struct {
		name  string
		in    *eureka.InstanceInfo
		xml   bool
		want  int
		inMsg string
	}{
		{"own address with a team", registration("o1", "127.0.0.1", team), false, 204, ""},
		{"own address with a team, XML", registration("o2", "127.0.0.1", team), true, 204, ""},
		{"another address", registration("o3", "10.9.9.9", team), false, 403, "ipAddr 10.9.9.9 is not the address"},
		{"another address, XML", registration("o4", "10.9.9.9", team), true, 403, "ipAddr 10.9.9.9 is not the address"},
		{"no team", registration("o5", "127.0.0.1", nil), false, 403, "metadata team is required"},
	} {
		code, ct, body := post(t, s, tc.in, tc.xml)
		if code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
			continue
		}
		got, gerr := eurekaClient(t, s).Instance(t.Context(), "ORDERS-API", tc.in.InstanceID)
		if tc.want == 403 {
			if msg := errorMessage(t, ct, body); !strings.Contains(msg, tc.inMsg) {
				t.Errorf("%s: error message %q, want it to contain %q", tc.name, msg, tc.inMsg)
			}
			if !errors.Is(gerr, eurekaclient.ErrNotFound) {
				t.Errorf("%s: refused instance is readable: %+v, %v", tc.name, got, gerr)
			}
			continue
		}
		if gerr != nil || got.Metadata["admitted-by"] != "admission-plugin" || got.Metadata["team"] != "orders" {
			t.Errorf("%s: stored %+v, %v; want the plugin's metadata beside the instance's", tc.name, got, gerr)
		}
	}
}

func eurekaClient(t *testing.T, s *eurekadtest.Server) *eurekaclient.Client {
	t.Helper()
	c, err := eurekaclient.New(eurekaclient.Options{ServiceURLs: []string{s.Base}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The Go SDK client sees a refusal as ErrForbidden; status changes, which
// the example admits, and renewals, which never reach an admitter, pass.
func TestAdmissionWithTheGoClient(t *testing.T) {
	s, _ := exampleAdmission(t)
	c := eurekaClient(t, s)
	ctx := t.Context()
	err := c.Register(ctx, registration("g1", "10.9.9.9", map[string]string{"team": "orders"}))
	var e *eurekaclient.Error
	if !errors.Is(err, eurekaclient.ErrForbidden) || !errors.As(err, &e) || !strings.Contains(string(e.Body), "ipAddr 10.9.9.9") {
		t.Fatalf("register from another address: %v, want ErrForbidden with the plugin's message", err)
	}
	in := registration("g2", "127.0.0.1", map[string]string{"team": "orders"})
	if err := c.Register(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := c.Renew(ctx, in.App, in.InstanceID, 0); err != nil {
		t.Errorf("renew: %v", err)
	}
	if err := c.SetStatus(ctx, in.App, in.InstanceID, eureka.StatusOutOfService, 0); err != nil {
		t.Errorf("status change: %v", err)
	}
	if err := c.UpdateMetadata(ctx, in.App, in.InstanceID, map[string]string{"zone": "a"}); err != nil {
		t.Errorf("metadata change: %v", err)
	}
	got, err := c.Instance(ctx, in.App, in.InstanceID)
	if err != nil || got.Metadata["zone"] != "a" || got.Metadata["admitted-by"] != "admission-plugin" {
		t.Errorf("after the changes: %+v, %v", got, err)
	}
}

// While the admission plugin is down, registrations fail closed (503) and
// renewals go on; after its restart it decides again.
func TestAdmissionPluginKilledFailsClosed(t *testing.T) {
	s, bin := exampleAdmission(t)
	team := map[string]string{"team": "orders"}
	if code, _, body := post(t, s, registration("k1", "127.0.0.1", team), false); code != 204 {
		t.Fatalf("register: %d %s", code, body)
	}
	plug := proctest.Child(t, s.PID(), bin)
	if err := syscall.Kill(plug.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Between the kill and the restart every registration is refused with
	// 503; once the plugin is back it is admitted again.
	seen503 := false
	eurekadtest.Eventually(t, 20*time.Second, "registrations to fail closed and recover", func() error {
		code, _, body := post(t, s, registration("k2", "127.0.0.1", team), false)
		switch code {
		case 503:
			seen503 = true
			// Renewals never reach the admitter.
			if rc, rb := call(t, "", "", "PUT", s.Base+"apps/ORDERS-API/k1", ""); rc != 200 {
				t.Errorf("renewal while the plugin is down: %d %s", rc, rb)
			}
			return errors.New("503")
		case 204:
			if !seen503 {
				return errors.New("admitted before the outage was seen")
			}
			return nil
		}
		t.Fatalf("register while the plugin is down: %d %s, want 503 or 204", code, body)
		return nil
	})
	if restarted := proctest.Child(t, s.PID(), bin); restarted.PID == plug.PID {
		t.Errorf("plugin pid %d unchanged", plug.PID)
	}
	if code, _, _ := post(t, s, registration("k3", "10.9.9.9", team), false); code != 403 {
		t.Errorf("after the restart, another address: %d, want 403", code)
	}
}
