package e2e

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hudl/fargo"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// The admission example end to end with the real clients: eurekad runs
// examples/admission-plugin, which refuses a registration whose ipAddr is
// not the address it came from (here 127.0.0.1) or that lacks a team
// metadata entry, and adds admitted-by: admission-plugin to the others.

// admittedMetadata is what an admitted instance registered with
// {team: orders} carries.
var admittedMetadata = map[string]string{"team": "orders", "admitted-by": "admission-plugin"}

// startAdmissionServer starts eurekad with the example admission plugin.
func startAdmissionServer(t *testing.T) *server {
	t.Helper()
	bin := eurekadtest.BuildPackage(t, "./examples/admission-plugin")
	return startServer(t, "EUREKAD_PLUGINS_ADMISSION_PLUGIN="+bin)
}

// TestAdmissionWithFargo registers through hudl/fargo, in XML and JSON:
// a refused registration is an error with status 403 and Eureka's error
// shape in the response (which fargo shows only in its log), and leaves
// nothing behind; an admitted one reads back with the plugin's metadata.
func TestAdmissionWithFargo(t *testing.T) {
	t.Parallel()
	s := startAdmissionServer(t)
	for _, mode := range fargoModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			conn := fargo.NewConn(strings.TrimSuffix(s.Base, "/"))
			conn.UseJson = mode.useJSON
			app := "fargo-admission-" + strings.ToLower(mode.name)
			instance := func(id, ip string, md map[string]string) *fargo.Instance {
				in := &fargo.Instance{
					InstanceId: id, HostName: id + ".e2e.local", App: app, IPAddr: ip, VipAddress: app,
					Status: fargo.UP, Port: 8080, PortEnabled: true, DataCenterInfo: fargo.DataCenterInfo{Name: fargo.MyOwn},
				}
				for k, v := range md {
					in.SetMetadataString(k, v)
				}
				return in
			}
			team := map[string]string{"team": "orders"}

			for _, tc := range []struct {
				name, msg string
				in        *fargo.Instance
			}{
				{"no team", "metadata team is required", instance(app+"-noteam", "127.0.0.1", nil)},
				{"another address", "ipAddr 10.1.2.3 is not the address", instance(app+"-otherip", "10.1.2.3", team)},
			} {
				err := conn.RegisterInstance(tc.in)
				if code := statusOf(err); code != http.StatusForbidden {
					t.Errorf("%s: RegisterInstance = %v (status %d), want a 403 error", tc.name, err, code)
					continue
				}
				body := fargoRegisterBody(t, tc.in)
				if msg := eurekaErrorMessage(t, body, mode.useJSON); !strings.Contains(msg, tc.msg) {
					t.Errorf("%s: error message %q, want it to contain %q", tc.name, msg, tc.msg)
				}
				if _, err := conn.GetInstance(app, tc.in.Id()); statusOf(err) != http.StatusNotFound {
					t.Errorf("%s: refused instance: GetInstance = %v, want a 404 error", tc.name, err)
				}
			}

			in := instance(app+"-ok", "127.0.0.1", team)
			if err := conn.RegisterInstance(in); err != nil {
				t.Fatalf("RegisterInstance with a team from its own address: %v", err)
			}
			// fargo reads the registration back into the instance it sent.
			checkFargoMetadata(t, "the registered instance", in, admittedMetadata)
			got, err := conn.GetInstance(app, in.Id())
			if err != nil {
				t.Fatalf("GetInstance: %v", err)
			}
			checkFargoMetadata(t, "GetInstance", got, admittedMetadata)
			// Renewals never reach the plugin; a deregistration is not
			// admission's business either.
			if err := conn.HeartBeatInstance(got); err != nil {
				t.Errorf("HeartBeatInstance: %v", err)
			}
			a, err := conn.GetApp(app)
			if err != nil || len(a.Instances) != 1 || a.Instances[0].Id() != in.Id() {
				t.Fatalf("GetApp: %+v, %v; want only %s", a, err, in.Id())
			}
			checkFargoMetadata(t, "GetApp", a.Instances[0], admittedMetadata)
			if err := conn.DeregisterInstance(got); err != nil {
				t.Errorf("DeregisterInstance: %v", err)
			}
		})
	}
}

// fargoRegisterBody is the response body of in's failed registration as
// fargo logged it: `HTTP returned 403 registering Instance=ID App=APP
// Body="..."`.
func fargoRegisterBody(t *testing.T, in *fargo.Instance) string {
	t.Helper()
	marker := fmt.Sprintf("registering Instance=%s App=%s Body=\"", in.Id(), in.App)
	_, rest, ok := strings.Cut(fargoLog.String(), marker)
	if !ok {
		t.Fatalf("fargo logged no failed registration of %s (log %q)", in.Id(), fargoLog.String())
	}
	// The body ends at the quote that closes the log line.
	body, _, _ := strings.Cut(rest, "\"\n")
	return strings.TrimSpace(body)
}

// eurekaErrorMessage reads Eureka's error body: {"error": …} for JSON,
// <error><message>…</message></error> for XML.
func eurekaErrorMessage(t *testing.T, body string, asJSON bool) string {
	t.Helper()
	if asJSON {
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
			t.Fatalf("JSON error body %q: %v", body, err)
		}
		return e.Error
	}
	var e struct {
		XMLName xml.Name `xml:"error"`
		Message string   `xml:"message"`
	}
	if err := xml.Unmarshal([]byte(body), &e); err != nil || e.Message == "" {
		t.Fatalf("XML error body %q: %v", body, err)
	}
	return e.Message
}

// TestAdmissionWithEurekaJSClient runs scenario.js's admission scenario:
// the clients the plugin refuses fail to start with the 403 and register
// nothing; the admitted one heartbeats, sees itself with the plugin's
// metadata, and GET /eureka/apps/{app} shows it so.
func TestAdmissionWithEurekaJSClient(t *testing.T) {
	t.Parallel()
	s := startAdmissionServer(t)
	_, port, _ := strings.Cut(s.Addr, ":")
	const app, vip = "JSCLIENT-ADMISSION", "jsclient-admission.vip"
	js := startJSScenario(t, port, app, vip, "JS_SCENARIO=admission")
	sum := js.summary(t, "ready")

	for name, id := range map[string]string{"B": sum.InstanceB, "C": sum.InstanceC} {
		// eureka-js-client's request parses a body only when it is JSON and
		// then prints it as "[object Object]": that, with the status, is all
		// it reports, and it says the 403 came in Eureka's JSON error shape.
		if msg := sum.Refusals[name]; !strings.Contains(msg, "status: 403 body: [object Object]") {
			t.Errorf("client %s: start failed with %q, want the registration's 403 with a JSON body", name, msg)
		}
		if ev := sum.Events[name]; len(ev) != 0 {
			t.Errorf("client %s: events %v, want none (no registered, started or heartbeat)", name, ev)
		}
		// One POST: a 403 is not retried, and no heartbeat follows.
		if want := []string{"POST " + strings.ToLower(app)}; !slices.Equal(sum.Requests[name], want) {
			t.Errorf("client %s: requests %q, want %q", name, sum.Requests[name], want)
		}
		if !slices.ContainsFunc(sum.ExpectedErrors, func(e string) bool {
			return strings.HasPrefix(e, name+": Error starting the Eureka Client") && strings.Contains(e, "status: 403")
		}) {
			t.Errorf("client %s: logged %q, want its failed start with the 403", name, sum.ExpectedErrors)
		}
		if _, status := getInstance(t, s.Base, app, id); status != http.StatusNotFound {
			t.Errorf("refused instance %s: GET status %d, want 404", id, status)
		}
	}
	if a := sum.Events["A"]; a["registered"] != 1 || a["started"] != 1 || a["heartbeat"] < 3 {
		t.Errorf("client A events %v: want registered 1, started 1, heartbeat >= 3", a)
	}

	r := do(t, http.MethodGet, s.Base+"apps/"+app, nil, jsonHeaders...)
	if r.Status != http.StatusOK {
		t.Fatalf("GET apps/%s: %d %s", app, r.Status, r.Text(t))
	}
	doc, errs := parseApplicationDoc(r.Plain(t))
	for _, e := range errs {
		t.Error(e)
	}
	if doc == nil || len(doc.Instances) != 1 {
		t.Fatalf("GET apps/%s: %s; want only client A's instance", app, r.Text(t))
	}
	expectFields(t, doc.Instances[0], map[string]any{
		"hostName": sum.InstanceA, "ipAddr": "127.0.0.1", "status": "UP",
		"metadata.team": "orders", "metadata.admitted-by": "admission-plugin", "metadata.client": "eureka-js-client",
	})

	if sum = js.finish(t); sum.Events["A"]["deregistered"] != 1 {
		t.Errorf("client A events %v: want deregistered 1", sum.Events["A"])
	}
	if _, status := getInstance(t, s.Base, app, sum.InstanceA); status != http.StatusNotFound {
		t.Errorf("instance A after stop: status %d, want 404", status)
	}
}
