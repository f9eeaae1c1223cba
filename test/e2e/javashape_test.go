package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// javaInstance is an instance registered the way the Java and Spring Cloud
// clients do it.
type javaInstance struct {
	App, ID, Host, IP, VIP, SVIP string
	Port, SecurePort             int
	LastDirty                    int64
	Metadata                     map[string]string
}

func newJavaInstance(app, ip string) javaInstance {
	return javaInstance{
		App:        app,
		ID:         ip + ":" + strings.ToLower(app) + ":8080",
		Host:       ip,
		IP:         ip,
		VIP:        strings.ToLower(app),
		SVIP:       strings.ToLower(app) + "-secure",
		Port:       8080,
		SecurePort: 443,
		// A client's dirty timestamp predates its registration.
		LastDirty: nowMillis() - 1500,
		Metadata:  map[string]string{"management.port": "8081", "zone": "zone-a", "version": "1.2.3"},
	}
}

// scBody is the Spring Cloud client's register body (§2.18): Jackson bean
// serialisation (fields in getter order), root-wrapped, explicit nulls,
// numeric timestamps, a boolean isCoordinatingDiscoveryServer,
// overriddenStatus, @class on dataCenterInfo, and the port objects its
// serializer modifier appends.
func (j javaInstance) scBody() []byte {
	type port struct {
		Number  int    `json:"$"`
		Enabled string `json:"@enabled"`
	}
	type dataCenterInfo struct {
		Class string `json:"@class"`
		Name  string `json:"name"`
	}
	type leaseInfo struct {
		RenewalIntervalInSecs int   `json:"renewalIntervalInSecs"`
		DurationInSecs        int   `json:"durationInSecs"`
		RegistrationTimestamp int64 `json:"registrationTimestamp"`
		LastRenewalTimestamp  int64 `json:"lastRenewalTimestamp"`
		EvictionTimestamp     int64 `json:"evictionTimestamp"`
		ServiceUpTimestamp    int64 `json:"serviceUpTimestamp"`
	}
	type instance struct {
		InstanceID                    string            `json:"instanceId"`
		App                           string            `json:"app"`
		AppGroupName                  *string           `json:"appGroupName"`
		IPAddr                        string            `json:"ipAddr"`
		Sid                           string            `json:"sid"`
		HomePageURL                   string            `json:"homePageUrl"`
		StatusPageURL                 string            `json:"statusPageUrl"`
		HealthCheckURL                string            `json:"healthCheckUrl"`
		SecureHealthCheckURL          *string           `json:"secureHealthCheckUrl"`
		VipAddress                    string            `json:"vipAddress"`
		SecureVipAddress              string            `json:"secureVipAddress"`
		CountryID                     int               `json:"countryId"`
		DataCenterInfo                dataCenterInfo    `json:"dataCenterInfo"`
		HostName                      string            `json:"hostName"`
		Status                        string            `json:"status"`
		OverriddenStatus              string            `json:"overriddenStatus"`
		LeaseInfo                     leaseInfo         `json:"leaseInfo"`
		IsCoordinatingDiscoveryServer bool              `json:"isCoordinatingDiscoveryServer"`
		Metadata                      map[string]string `json:"metadata"`
		LastUpdatedTimestamp          int64             `json:"lastUpdatedTimestamp"`
		LastDirtyTimestamp            int64             `json:"lastDirtyTimestamp"`
		ActionType                    *string           `json:"actionType"`
		AsgName                       *string           `json:"asgName"`
		Port                          port              `json:"port"`
		SecurePort                    port              `json:"securePort"`
	}
	url := fmt.Sprintf("http://%s:%d", j.Host, j.Port)
	b, err := json.Marshal(map[string]instance{"instance": {
		InstanceID: j.ID, App: j.App, IPAddr: j.IP, Sid: "na",
		HomePageURL: url + "/", StatusPageURL: url + "/actuator/info", HealthCheckURL: url + "/actuator/health",
		VipAddress: j.VIP, SecureVipAddress: j.SVIP, CountryID: 1,
		DataCenterInfo: dataCenterInfo{classDefaultDC, "MyOwn"},
		HostName:       j.Host, Status: "UP", OverriddenStatus: "UNKNOWN",
		LeaseInfo: leaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
		Metadata:  j.Metadata, LastUpdatedTimestamp: j.LastDirty, LastDirtyTimestamp: j.LastDirty,
		Port: port{j.Port, "true"}, SecurePort: port{j.SecurePort, "false"},
	}})
	if err != nil {
		panic(err) // cannot happen: plain values only
	}
	return b
}

// javaWriteHeaders are what the Java/SC clients send with a register (§2.18).
func javaWriteHeaders(ip string) []string {
	return []string{
		"Content-Type", "application/json",
		"Accept", "application/json",
		"Accept-Encoding", "gzip",
		"DiscoveryIdentity-Name", "DefaultClient",
		"DiscoveryIdentity-Version", "1.4",
		"DiscoveryIdentity-Id", ip,
	}
}

// registerSC posts the Spring Cloud body and requires 204 with no body.
func registerSC(t *testing.T, base string, j javaInstance) {
	t.Helper()
	r := do(t, http.MethodPost, base+"apps/"+j.App, j.scBody(), javaWriteHeaders(j.IP)...)
	if r.Status != http.StatusNoContent {
		t.Fatalf("register %s/%s: status %d %q, want 204 (§2.1)", j.App, j.ID, r.Status, r.Text(t))
	}
}

// renew sends a Java/SC heartbeat: PUT with the given query, JSON headers
// and no body.
func renew(t *testing.T, base, app, id, query string) *response {
	t.Helper()
	url := base + "apps/" + app + "/" + id
	if query != "" {
		url += "?" + query
	}
	return do(t, http.MethodPut, url, nil, "Content-Type", "application/json", "Accept", "application/json", "Accept-Encoding", "gzip")
}

// expectStatus requires an HTTP status with an empty body (§2.17: 403,
// 404, 500 and 204 carry none).
func expectStatus(t *testing.T, what string, r *response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %d %q, want %d", what, r.Status, r.Body, want)
	}
	if len(r.Body) != 0 {
		t.Errorf("%s: %d must have an empty body (§2.17), got %q", what, want, r.Body)
	}
}

// expectEmpty200 is for renew, cancel and the status/metadata writes,
// which answer 200 with no entity.
func expectEmpty200(t *testing.T, what string, r *response) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: status %d %q, want 200", what, r.Status, r.Body)
	}
	if len(r.Body) != 0 {
		t.Errorf("%s: 200 must have an empty body (§2.3, §2.17), got %q", what, r.Body)
	}
}

// checkJavaInstance asserts the server's JSON for a Spring-registered
// instance: everything sent comes back, nulls stay absent, and the
// server-side fields are consistent with a registration between regStart
// and regEnd.
func checkJavaInstance(t *testing.T, via string, in jsonObject, j javaInstance, status, overridden string, regStart, regEnd int64) {
	t.Helper()
	type field struct {
		name      string
		got, want any
	}
	fields := []field{
		{"instanceId", str(in, "instanceId"), j.ID},
		{"hostName", str(in, "hostName"), j.Host},
		{"app", str(in, "app"), strings.ToUpper(j.App)},
		{"ipAddr", str(in, "ipAddr"), j.IP},
		{"status", str(in, "status"), status},
		{"overriddenStatus", str(in, "overriddenStatus"), overridden},
		{"port.$", num(in, "port", "$"), int64(j.Port)},
		{"port.@enabled", str(in, "port", "@enabled"), "true"},
		{"securePort.$", num(in, "securePort", "$"), int64(j.SecurePort)},
		{"securePort.@enabled", str(in, "securePort", "@enabled"), "false"},
		{"countryId", num(in, "countryId"), int64(1)},
		{"dataCenterInfo.name", str(in, "dataCenterInfo", "name"), "MyOwn"},
		{"dataCenterInfo.@class", str(in, "dataCenterInfo", "@class"), classDefaultDC},
		{"leaseInfo.renewalIntervalInSecs", num(in, "leaseInfo", "renewalIntervalInSecs"), int64(30)},
		{"leaseInfo.durationInSecs", num(in, "leaseInfo", "durationInSecs"), int64(90)},
		{"leaseInfo.evictionTimestamp", num(in, "leaseInfo", "evictionTimestamp"), int64(0)},
		{"homePageUrl", str(in, "homePageUrl"), fmt.Sprintf("http://%s:%d/", j.Host, j.Port)},
		{"statusPageUrl", str(in, "statusPageUrl"), fmt.Sprintf("http://%s:%d/actuator/info", j.Host, j.Port)},
		{"healthCheckUrl", str(in, "healthCheckUrl"), fmt.Sprintf("http://%s:%d/actuator/health", j.Host, j.Port)},
		{"vipAddress", str(in, "vipAddress"), j.VIP},
		{"secureVipAddress", str(in, "secureVipAddress"), j.SVIP},
		{"isCoordinatingDiscoveryServer", str(in, "isCoordinatingDiscoveryServer"), "false"},
		{"lastDirtyTimestamp", strNum(in, "lastDirtyTimestamp"), j.LastDirty},
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s: %s = %#v, want %#v", via, f.name, f.got, f.want)
		}
	}
	// Sent as explicit nulls (or "na"): absent on output (§3.1).
	for _, k := range []string{"appGroupName", "secureHealthCheckUrl", "asgName", "sid"} {
		if v, ok := in[k]; ok {
			t.Errorf("%s: %s = %#v, want it omitted (registered as null/na)", via, k, v)
		}
	}
	md, _ := in["metadata"].(jsonObject)
	wantMD := map[string]any{}
	for k, v := range j.Metadata {
		wantMD[k] = v
	}
	if !maps.Equal(md, wantMD) {
		t.Errorf("%s: metadata = %v, want %v", via, md, wantMD)
	}
	reg := num(in, "leaseInfo", "registrationTimestamp")
	if reg < regStart || reg > regEnd {
		t.Errorf("%s: leaseInfo.registrationTimestamp %d outside the register call [%d, %d]", via, reg, regStart, regEnd)
	}
	if up := num(in, "leaseInfo", "serviceUpTimestamp"); up < regStart {
		t.Errorf("%s: leaseInfo.serviceUpTimestamp %d, want the first UP registration (>= %d)", via, up, regStart)
	}
	if lr := num(in, "leaseInfo", "lastRenewalTimestamp"); lr < reg {
		t.Errorf("%s: leaseInfo.lastRenewalTimestamp %d before registrationTimestamp %d", via, lr, reg)
	}
	if lu := strNum(in, "lastUpdatedTimestamp"); lu < regStart {
		t.Errorf("%s: lastUpdatedTimestamp %d, want >= %d (set on register)", via, lu, regStart)
	}
}

// waitApps polls a full, delta or VIP URL until check accepts the strictly
// parsed payload. Strictness errors fail at once.
func waitApps(t *testing.T, what, url string, check func(r *response, p *appsPayload) error) *appsPayload {
	t.Helper()
	var last *appsPayload
	eventually(t, what, func() error {
		r, p, errs := getApps(t, url)
		if p == nil {
			return errs[0]
		}
		for _, e := range errs {
			t.Fatalf("%s: GET %s: %v", what, url, e)
		}
		last = p
		return check(r, p)
	})
	return last
}

// deltaHas returns a check that the payload holds instance app/id with the
// given actionType and status, and the given reconcile hash.
func deltaHas(app, id, action, status, hash string) func(*response, *appsPayload) error {
	return func(_ *response, p *appsPayload) error {
		in := p.find(app, id)
		if in == nil {
			return fmt.Errorf("instance %s/%s not in the delta (%d instances)", app, id, p.instanceCount())
		}
		if n := p.occurrences(app, id); n != 1 {
			return fmt.Errorf("instance %s/%s appears %d times in the delta, want once in its latest state (§2.8, §4.2)", app, id, n)
		}
		if str(in, "actionType") != action || str(in, "status") != status {
			return fmt.Errorf("instance %s/%s has actionType %q status %q, want %q %q", app, id, str(in, "actionType"), str(in, "status"), action, status)
		}
		if p.Hashcode != hash {
			return fmt.Errorf("apps__hashcode %q, want %q (hash of the full registry, §2.8)", p.Hashcode, hash)
		}
		return nil
	}
}

// TestJavaClientLifecycle replays what the Java/Spring Cloud client sends
// over an instance's life, on both API prefixes: register, heartbeat with
// lastDirtyTimestamp reconciliation, full and delta fetches (gzip),
// operator status override and its removal, re-registration on 404, and
// cancel.
func TestJavaClientLifecycle(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"/eureka/", "/eureka/v2/"} {
		t.Run(strings.Trim(prefix, "/"), func(t *testing.T) {
			t.Parallel()
			s := startServer(t)
			base := "http://" + s.Addr + prefix
			j := newJavaInstance("ORDERS", "10.0.0.5")
			app, id := j.App, j.ID

			regStart := nowMillis()
			registerSC(t, base, j)
			regEnd := nowMillis()

			in := mustGetInstance(t, base, app, id)
			checkJavaInstance(t, "GET apps/APP/ID", in, j, "UP", "UNKNOWN", regStart, regEnd)
			if got := str(in, "actionType"); got != "ADDED" {
				t.Errorf("GET apps/APP/ID: actionType %q, want ADDED", got)
			}
			r := do(t, http.MethodGet, base+"apps/"+app+"/"+id, nil, "Accept", "application/json")
			var root map[string]json.RawMessage
			if err := json.Unmarshal(r.Body, &root); err == nil {
				if err := checkKeyOrder(root["instance"]); err != nil {
					t.Errorf("GET apps/APP/ID: %v", err)
				}
			}

			// GET instances/ID finds it across applications (§2.11).
			r = do(t, http.MethodGet, base+"instances/"+id, nil, "Accept", "application/json")
			if r.Status != http.StatusOK {
				t.Errorf("GET instances/%s: status %d, want 200", id, r.Status)
			} else if byID, errs := parseInstanceDoc(r.Body); len(errs) > 0 {
				t.Errorf("GET instances/%s: %v", id, errs)
			} else if str(byID, "app") != app || str(byID, "instanceId") != id {
				t.Errorf("GET instances/%s: got app %q instanceId %q", id, str(byID, "app"), str(byID, "instanceId"))
			}

			// Heartbeats (§2.3).
			hbStart := nowMillis()
			expectEmpty200(t, "renew with the registered lastDirtyTimestamp", renew(t, base, app, id, fmt.Sprintf("status=UP&lastDirtyTimestamp=%d", j.LastDirty)))
			hbEnd := nowMillis()
			in = mustGetInstance(t, base, app, id)
			// eurekad's default lease is correct (design §2, registry
			// LegacyLeaseExpiry off): lastRenewalTimestamp is the renewal
			// time, not renewal + duration as in Eureka (§3.2).
			if lr := num(in, "leaseInfo", "lastRenewalTimestamp"); lr < hbStart || lr > hbEnd {
				t.Errorf("after renew: lastRenewalTimestamp %d, want the renewal time in [%d, %d]", lr, hbStart, hbEnd)
			}
			expectStatus(t, "renew with a newer lastDirtyTimestamp (client has newer data)",
				renew(t, base, app, id, fmt.Sprintf("status=UP&lastDirtyTimestamp=%d", j.LastDirty+1000)), http.StatusNotFound)
			expectEmpty200(t, "renew with an older lastDirtyTimestamp (not replication)",
				renew(t, base, app, id, fmt.Sprintf("status=UP&lastDirtyTimestamp=%d", j.LastDirty-1000)))
			expectEmpty200(t, "bare renew (fargo, js)", do(t, http.MethodPut, base+"apps/"+app+"/"+id, nil))

			// Full registry exactly as the Java client fetches it: trailing
			// slash, JSON, gzip.
			r = do(t, http.MethodGet, base+"apps/", nil, jsonHeaders...)
			if r.Status != http.StatusOK {
				t.Fatalf("GET apps/: status %d, want 200", r.Status)
			}
			if ce := r.Header.Get("Content-Encoding"); ce != "gzip" {
				t.Errorf("GET apps/ with Accept-Encoding: gzip: Content-Encoding %q, want gzip (§1.5)", ce)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("GET apps/ with Accept: application/json: Content-Type %q", ct)
			}
			full := mustParseApps(t, r.Plain(t))
			if full.VersionsDelta != "1" {
				t.Errorf("GET apps/: versions__delta %q, want \"1\"", full.VersionsDelta)
			}
			if h := reconcileHash(full); full.Hashcode != h || h != "UP_1_" {
				t.Errorf("GET apps/: apps__hashcode %q, computed from the payload %q, want UP_1_", full.Hashcode, h)
			}
			if in := full.find(app, id); in == nil {
				t.Errorf("GET apps/: instance %s/%s missing", app, id)
			} else {
				checkJavaInstance(t, "GET apps/", in, j, "UP", "UNKNOWN", regStart, regEnd)
			}
			checkAppsKeyOrder(t, r.Plain(t))

			// Without Accept-Encoding the body is plain (SC behaviour, §1.5).
			r = do(t, http.MethodGet, base+"apps", nil, "Accept", "application/json")
			if r.Status != http.StatusOK || r.Header.Get("Content-Encoding") != "" {
				t.Errorf("GET apps without Accept-Encoding: status %d Content-Encoding %q, want 200 and none", r.Status, r.Header.Get("Content-Encoding"))
			} else if p, errs := parseApps(r.Body); len(errs) > 0 || p.find(app, id) == nil {
				t.Errorf("GET apps (plain): instance missing or invalid: %v", errs)
			}

			// GET apps/APP: one application, instance array.
			r = do(t, http.MethodGet, base+"apps/"+app, nil, "Accept", "application/json")
			if r.Status != http.StatusOK {
				t.Errorf("GET apps/%s: status %d, want 200", app, r.Status)
			} else if a, errs := parseApplicationDoc(r.Body); len(errs) > 0 {
				t.Errorf("GET apps/%s: %v", app, errs)
			} else if a.Name != app || len(a.Instances) != 1 {
				t.Errorf("GET apps/%s: name %q with %d instances, want %s with 1", app, a.Name, len(a.Instances), app)
			}

			// Delta after register: ADDED (§4.2), gzip like the full fetch.
			r = do(t, http.MethodGet, base+"apps/delta", nil, jsonHeaders...)
			if r.Status != http.StatusOK || r.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("GET apps/delta with gzip: status %d Content-Encoding %q, want 200 gzip", r.Status, r.Header.Get("Content-Encoding"))
			}
			d1 := waitApps(t, "delta shows ADDED", base+"apps/delta", deltaHas(app, id, "ADDED", "UP", "UP_1_"))

			// Operator takes the instance out of service (§2.4, §7.2).
			r = do(t, http.MethodPut, base+"apps/"+app+"/"+id+fmt.Sprintf("/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=%d", j.LastDirty), nil, "Content-Type", "application/json", "Accept", "application/json")
			expectEmpty200(t, "PUT status=OUT_OF_SERVICE", r)
			d2 := waitApps(t, "delta shows MODIFIED OUT_OF_SERVICE", base+"apps/delta", deltaHas(app, id, "MODIFIED", "OUT_OF_SERVICE", "OUT_OF_SERVICE_1_"))
			// A regenerated delta carries a higher version (§2.8).
			if v1, v2 := mustAtoi(t, d1.VersionsDelta), mustAtoi(t, d2.VersionsDelta); v2 <= v1 {
				t.Errorf("delta versions__delta went from %d to %d across a change, want it to increase", v1, v2)
			}
			waitApps(t, "full registry shows OUT_OF_SERVICE", base+"apps/", func(_ *response, p *appsPayload) error {
				in := p.find(app, id)
				if in == nil || str(in, "status") != "OUT_OF_SERVICE" || str(in, "overriddenStatus") != "OUT_OF_SERVICE" {
					return fmt.Errorf("instance %v", in)
				}
				if p.Hashcode != "OUT_OF_SERVICE_1_" {
					return fmt.Errorf("apps__hashcode %q, want OUT_OF_SERVICE_1_", p.Hashcode)
				}
				return nil
			})
			// The client keeps heartbeating with its own status UP; the
			// override wins (§7.1 OverrideExists).
			expectEmpty200(t, "renew while OUT_OF_SERVICE", renew(t, base, app, id, fmt.Sprintf("status=UP&lastDirtyTimestamp=%d", j.LastDirty)))
			in = mustGetInstance(t, base, app, id)
			if str(in, "status") != "OUT_OF_SERVICE" || str(in, "overriddenStatus") != "OUT_OF_SERVICE" {
				t.Errorf("after renew under override: status %q overriddenStatus %q, want OUT_OF_SERVICE twice", str(in, "status"), str(in, "overriddenStatus"))
			}

			// The Java admin client removes the override with only
			// lastDirtyTimestamp: status becomes UNKNOWN (§2.5, §7.3) ...
			r = do(t, http.MethodDelete, base+"apps/"+app+"/"+id+fmt.Sprintf("/status?lastDirtyTimestamp=%d", j.LastDirty), nil, "Content-Type", "application/json", "Accept", "application/json")
			expectEmpty200(t, "DELETE status override without value", r)
			in = mustGetInstance(t, base, app, id)
			if str(in, "status") != "UNKNOWN" || str(in, "overriddenStatus") != "UNKNOWN" {
				t.Errorf("after DELETE status: status %q overriddenStatus %q, want UNKNOWN twice", str(in, "status"), str(in, "overriddenStatus"))
			}
			waitApps(t, "delta shows MODIFIED UNKNOWN", base+"apps/delta", deltaHas(app, id, "MODIFIED", "UNKNOWN", "UNKNOWN_1_"))
			// ... so the next heartbeat is told to re-register (§6.4) ...
			expectStatus(t, "renew after override removal", renew(t, base, app, id, fmt.Sprintf("status=UP&lastDirtyTimestamp=%d", j.LastDirty)), http.StatusNotFound)
			// ... and the re-registration's UP wins (§7.3).
			registerSC(t, base, j)
			in = mustGetInstance(t, base, app, id)
			if str(in, "status") != "UP" || str(in, "overriddenStatus") != "UNKNOWN" {
				t.Errorf("after re-register: status %q overriddenStatus %q, want UP / UNKNOWN", str(in, "status"), str(in, "overriddenStatus"))
			}
			if up := num(in, "leaseInfo", "serviceUpTimestamp"); up < regStart || up > regEnd {
				t.Errorf("after re-register: serviceUpTimestamp %d, want it carried over from the first registration [%d, %d] (§6.2)", up, regStart, regEnd)
			}
			expectEmpty200(t, "renew after re-register", renew(t, base, app, id, fmt.Sprintf("status=UP&lastDirtyTimestamp=%d", j.LastDirty)))

			// Cancel (§2.2): 200, then 404 for everything about it.
			expectEmpty200(t, "cancel", do(t, http.MethodDelete, base+"apps/"+app+"/"+id, nil, "Content-Type", "application/json", "Accept", "application/json"))
			expectStatus(t, "second cancel", do(t, http.MethodDelete, base+"apps/"+app+"/"+id, nil), http.StatusNotFound)
			expectStatus(t, "renew after cancel", renew(t, base, app, id, fmt.Sprintf("status=UP&lastDirtyTimestamp=%d", j.LastDirty)), http.StatusNotFound)
			if _, status := getInstance(t, base, app, id); status != http.StatusNotFound {
				t.Errorf("GET apps/APP/ID after cancel: status %d, want 404", status)
			}
			expectStatus(t, "GET instances/ID after cancel", do(t, http.MethodGet, base+"instances/"+id, nil, "Accept", "application/json"), http.StatusNotFound)
			waitApps(t, "delta shows DELETED", base+"apps/delta", func(_ *response, p *appsPayload) error {
				in := p.find(app, id)
				if in == nil || str(in, "actionType") != "DELETED" {
					return fmt.Errorf("instance %v, want actionType DELETED", in)
				}
				if p.Hashcode != "" {
					return fmt.Errorf("apps__hashcode %q, want \"\" (registry is empty)", p.Hashcode)
				}
				return nil
			})
			waitApps(t, "full registry is empty", base+"apps/", func(_ *response, p *appsPayload) error {
				if len(p.Apps) != 0 || p.Hashcode != "" {
					return fmt.Errorf("%d applications, hashcode %q; want none and \"\"", len(p.Apps), p.Hashcode)
				}
				return nil
			})
			eventually(t, "GET apps/APP is 404 without instances (§2.9)", func() error {
				r := do(t, http.MethodGet, base+"apps/"+app, nil, "Accept", "application/json")
				if r.Status != http.StatusNotFound {
					return fmt.Errorf("status %d %.200q", r.Status, r.Body)
				}
				if len(r.Body) != 0 {
					return fmt.Errorf("404 with body %q, want empty (§2.17)", r.Body)
				}
				return nil
			})

			// Registering again after the cancel: the newer queue entry
			// replaces the DELETED one in the delta (§4.2).
			registerSC(t, base, j)
			waitApps(t, "delta shows the re-registration as ADDED", base+"apps/delta", deltaHas(app, id, "ADDED", "UP", "UP_1_"))
		})
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("versions__delta %q: %v", s, err)
	}
	return n
}

// checkAppsKeyOrder checks §3.5's key order (versions__delta,
// apps__hashcode, application) and §3.1's instance key order.
func checkAppsKeyOrder(t *testing.T, body []byte) {
	t.Helper()
	var root map[string]json.RawMessage
	if err := json.Unmarshal(body, &root); err != nil {
		t.Errorf("applications: %v", err)
		return
	}
	keys, err := objectKeys(root["applications"])
	if err != nil {
		t.Errorf("applications: %v", err)
		return
	}
	want := []string{"versions__delta", "apps__hashcode", "application"}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("applications keys in order %q, want %q (§3.5)", keys, want)
	}
	var apps struct {
		Application []struct {
			Instance []json.RawMessage `json:"instance"`
		} `json:"application"`
	}
	if err := json.Unmarshal(root["applications"], &apps); err != nil {
		return // shape errors are reported by parseApps
	}
	for _, a := range apps.Application {
		for _, raw := range a.Instance {
			if err := checkKeyOrder(raw); err != nil {
				t.Errorf("GET apps instance: %v", err)
			}
		}
	}
}

// TestBothPrefixesShareOneRegistry registers through /eureka/v2/ with a
// lower-case path and reads, renews and cancels through /eureka/ (§1.1,
// §1.2).
func TestBothPrefixesShareOneRegistry(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	j := newJavaInstance("inventory", "10.0.0.7")
	regStart := nowMillis()
	r := do(t, http.MethodPost, s.BaseV2+"apps/inventory", j.scBody(), javaWriteHeaders(j.IP)...)
	if r.Status != http.StatusNoContent {
		t.Fatalf("register via /eureka/v2/apps/inventory: %d %q, want 204", r.Status, r.Body)
	}
	regEnd := nowMillis()
	for _, url := range []string{s.Base + "apps/INVENTORY/", s.Base + "apps/inventory/", s.BaseV2 + "apps/Inventory/"} {
		r := do(t, http.MethodGet, url+j.ID, nil, "Accept", "application/json")
		if r.Status != http.StatusOK {
			t.Errorf("GET %s%s: status %d, want 200", url, j.ID, r.Status)
			continue
		}
		in, errs := parseInstanceDoc(r.Body)
		for _, e := range errs {
			t.Error(e)
		}
		if in != nil {
			checkJavaInstance(t, "GET "+url+j.ID, in, j, "UP", "UNKNOWN", regStart, regEnd)
		}
	}
	for _, url := range []string{s.Base + "apps", s.Base + "apps/", s.BaseV2 + "apps", s.BaseV2 + "apps/"} {
		waitApps(t, "GET "+url+" lists INVENTORY", url, func(_ *response, p *appsPayload) error {
			if p.find("INVENTORY", j.ID) == nil {
				return fmt.Errorf("instance missing")
			}
			return nil
		})
	}
	r = do(t, http.MethodGet, s.Base+"apps/inventory", nil, "Accept", "application/json")
	if a, errs := parseApplicationDoc(r.Body); r.Status != http.StatusOK || len(errs) > 0 || a.Name != "INVENTORY" {
		t.Errorf("GET apps/inventory (lower-case path): status %d, errors %v", r.Status, errs)
	}
	// Percent-encoded ids are decoded once (§1.2).
	escaped := strings.ReplaceAll(j.ID, ":", "%3A")
	if r := do(t, http.MethodGet, s.Base+"apps/INVENTORY/"+escaped, nil, "Accept", "application/json"); r.Status != http.StatusOK {
		t.Errorf("GET apps/INVENTORY/%s: status %d, want 200", escaped, r.Status)
	}
	expectEmpty200(t, "renew with a percent-encoded id", renew(t, s.Base, "INVENTORY", escaped, ""))
	expectEmpty200(t, "renew via /eureka/", renew(t, s.Base, "inventory", j.ID, ""))
	expectEmpty200(t, "cancel via /eureka/", do(t, http.MethodDelete, s.Base+"apps/inventory/"+j.ID, nil))
	if _, status := getInstance(t, s.BaseV2, "INVENTORY", j.ID); status != http.StatusNotFound {
		t.Errorf("GET via /eureka/v2/ after cancel via /eureka/: status %d, want 404", status)
	}
}

// TestRegisterBodyShapes registers the bodies the various clients really
// produce and checks the server reads each one leniently (§3.8).
func TestRegisterBodyShapes(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	now := nowMillis()
	cases := []struct {
		name, app, id, body string
		// contentType defaults to application/json.
		contentType string
		// gzipped sends the body with Content-Encoding: gzip, as peers
		// with enableReplicatedRequestCompression do (§1.3, SHOULD).
		gzipped bool
		check   func(t *testing.T, in jsonObject, regStart, regEnd int64)
	}{
		{
			name: "Java legacy codec",
			app:  "LEGACY", id: "10.0.1.1:legacy:8080",
			body: fmt.Sprintf(`{"instance":{"instanceId":"10.0.1.1:legacy:8080","hostName":"10.0.1.1","app":"LEGACY","ipAddr":"10.0.1.1",`+
				`"status":"UP","overriddenStatus":"UNKNOWN","port":{"$":8080,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},"countryId":1,`+
				`"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},`+
				`"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},`+
				`"metadata":{"@class":"java.util.Collections$EmptyMap"},"homePageUrl":"http://10.0.1.1:8080/","statusPageUrl":"http://10.0.1.1:8080/Status",`+
				`"healthCheckUrl":"http://10.0.1.1:8080/healthcheck","vipAddress":"legacy","isCoordinatingDiscoveryServer":"false",`+
				`"lastUpdatedTimestamp":"%d","lastDirtyTimestamp":"%d","actionType":"ADDED"}}`, now-2000, now-2000),
			check: func(t *testing.T, in jsonObject, _, _ int64) {
				expectFields(t, in, map[string]any{
					"status": "UP", "overriddenStatus": "UNKNOWN", "port.$": int64(8080), "port.@enabled": "true",
					"securePort.$": int64(443), "securePort.@enabled": "false", "lastDirtyTimestamp": fmt.Sprint(now - 2000),
					"vipAddress": "legacy", "statusPageUrl": "http://10.0.1.1:8080/Status",
				})
				expectEmptyMetadata(t, in)
			},
		},
		{
			// Steeltoe-style (Netflix/eureka#1541): string timestamps, no
			// overriddenStatus, partial leaseInfo.
			name: "Steeltoe",
			app:  "FORTUNESERVICE", id: "fortune.e2e.local:4a432a73", contentType: "application/json; charset=utf-8",
			body: `{"instance":{"instanceId":"fortune.e2e.local:4a432a73","app":"FORTUNESERVICE","ipAddr":"192.168.50.231",` +
				`"port":{"@enabled":"true","$":5000},"securePort":{"@enabled":"false","$":443},` +
				`"homePageUrl":"http://fortune.e2e.local:5000/","vipAddress":"fortuneService","secureVipAddress":"fortuneService",` +
				`"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},` +
				`"hostName":"fortune.e2e.local","status":"UP","leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90},` +
				`"metadata":{"cfInstanceIndex":"0","zone":"unknown"},"lastUpdatedTimestamp":"1712957014863","lastDirtyTimestamp":"1712957014863"}}`,
			check: func(t *testing.T, in jsonObject, _, _ int64) {
				expectFields(t, in, map[string]any{
					"status": "UP", "overriddenStatus": "UNKNOWN", "port.$": int64(5000), "port.@enabled": "true",
					"securePort.$": int64(443), "securePort.@enabled": "false", "lastDirtyTimestamp": "1712957014863",
					"leaseInfo.renewalIntervalInSecs": int64(30), "leaseInfo.durationInSecs": int64(90),
					"metadata.cfInstanceIndex": "0", "metadata.zone": "unknown", "vipAddress": "fortuneService",
				})
			},
		},
		{
			// eureka-js-client's README config: boolean @enabled, no
			// instanceId, no securePort, no lastDirtyTimestamp, no metadata.
			name: "eureka-js-client",
			app:  "JSAPP", id: "js-1.e2e.local",
			body: `{"instance":{"app":"jsapp","hostName":"js-1.e2e.local","ipAddr":"10.0.1.3","statusPageUrl":"http://js-1.e2e.local:8080/info",` +
				`"port":{"$":8080,"@enabled":true},"vipAddress":"jsapp.vip",` +
				`"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},"status":"UP"}}`,
			check: func(t *testing.T, in jsonObject, regStart, regEnd int64) {
				if v, ok := in["instanceId"]; ok {
					t.Errorf("instanceId = %v; the registrant sent none and the server must not invent one (§3.1)", v)
				}
				expectFields(t, in, map[string]any{
					"app": "JSAPP", "status": "UP", "overriddenStatus": "UNKNOWN", "port.$": int64(8080), "port.@enabled": "true",
					// Java builder defaults for an absent secure port (§3.8).
					"securePort.$": int64(7002), "securePort.@enabled": "false", "countryId": int64(1),
					"leaseInfo.renewalIntervalInSecs": int64(30), "leaseInfo.durationInSecs": int64(90),
				})
				expectEmptyMetadata(t, in)
				if ld := strNum(in, "lastDirtyTimestamp"); ld < regStart || ld > regEnd {
					t.Errorf("lastDirtyTimestamp %d, want the server's parse time in [%d, %d] when absent (§3.8)", ld, regStart, regEnd)
				}
			},
		},
		{
			// fargo's JSON: "$" as a string, MyDataCenterInfo class, empty
			// overriddenstatus, zero lease durations.
			name: "fargo JSON",
			app:  "FARGOAPP", id: "fargo-2.e2e.local",
			body: `{"instance":{"instanceId":"","hostName":"fargo-2.e2e.local","app":"fargoapp","ipAddr":"10.0.1.4","vipAddress":"fargoapp",` +
				`"secureVipAddress":"fargoapp-s","status":"UP","overriddenstatus":"","homePageUrl":"","statusPageUrl":"","healthCheckUrl":"",` +
				`"countryId":1,"dataCenterInfo":{"name":"MyOwn","@class":"com.netflix.appinfo.MyDataCenterInfo"},` +
				`"leaseInfo":{"renewalIntervalInSecs":0,"durationInSecs":0,"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},` +
				`"metadata":{"k":"v"},"port":{"$":"8080","@enabled":"true"},"securePort":{"$":"8443","@enabled":"true"}}}`,
			check: func(t *testing.T, in jsonObject, _, _ int64) {
				expectFields(t, in, map[string]any{
					"app": "FARGOAPP", "status": "UP", "overriddenStatus": "UNKNOWN", "port.$": int64(8080), "port.@enabled": "true",
					"securePort.$": int64(8443), "securePort.@enabled": "true", "metadata.k": "v",
					"dataCenterInfo.@class": classDefaultDC,
					// ≤ 0 means the default (§3.2).
					"leaseInfo.renewalIntervalInSecs": int64(30), "leaseInfo.durationInSecs": int64(90),
				})
			},
		},
		{
			// Lenient scalars (§3.8): lower-case status, string countryId,
			// no @enabled, non-string metadata, lower-case overriddenstatus,
			// no root wrapper.
			name: "lenient bare object",
			app:  "LENIENT", id: "lenient-1",
			body: `{"instanceId":"lenient-1","hostName":"lenient.e2e.local","app":"Lenient","ipAddr":"10.0.1.5","status":"up",` +
				`"overriddenstatus":"UNKNOWN","countryId":"2","port":{"$":"9090"},"securePort":{"$":9443},` +
				`"dataCenterInfo":{"name":"MyOwn"},"metadata":{"weight":5,"canary":true,"@class":"ignored"},` +
				`"isCoordinatingDiscoveryServer":"true","lastDirtyTimestamp":1700000000000,"unknownField":{"x":1}}`,
			check: func(t *testing.T, in jsonObject, _, _ int64) {
				expectFields(t, in, map[string]any{
					"app": "LENIENT", "status": "UP", "overriddenStatus": "UNKNOWN", "countryId": int64(2),
					"port.$": int64(9090), "port.@enabled": "true", "securePort.$": int64(9443), "securePort.@enabled": "false",
					"metadata.weight": "5", "metadata.canary": "true", "isCoordinatingDiscoveryServer": "false",
					"lastDirtyTimestamp": "1700000000000", "dataCenterInfo.@class": classDefaultDC,
				})
				if md, _ := in["metadata"].(jsonObject); len(md) != 2 {
					t.Errorf("metadata %v, want exactly weight and canary (@class skipped on input, §3.4)", md)
				}
			},
		},
		{
			name: "gzip-compressed body",
			app:  "GZIPPED", id: "gzipped-1", gzipped: true,
			body: `{"instance":{"instanceId":"gzipped-1","hostName":"gzipped.e2e.local","app":"GZIPPED","ipAddr":"10.0.1.7","status":"UP",` +
				`"port":{"$":8080,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},` +
				`"metadata":{"compressed":"yes"}}}`,
			check: func(t *testing.T, in jsonObject, _, _ int64) {
				expectFields(t, in, map[string]any{"status": "UP", "metadata.compressed": "yes"})
			},
		},
		{
			name: "status absent",
			app:  "NOSTATUS", id: "nostatus-1",
			body: `{"instance":{"instanceId":"nostatus-1","hostName":"nostatus.e2e.local","app":"NOSTATUS","ipAddr":"10.0.1.6",` +
				`"port":{"$":80,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`,
			check: func(t *testing.T, in jsonObject, _, _ int64) {
				expectFields(t, in, map[string]any{"status": "UP", "overriddenStatus": "UNKNOWN"})
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := c.contentType
			if ct == "" {
				ct = "application/json"
			}
			hdrs := []string{"Content-Type", ct, "Accept", "application/json"}
			body := []byte(c.body)
			if c.gzipped {
				body = gzipBytes(t, body)
				hdrs = append(hdrs, "Content-Encoding", "gzip")
			}
			regStart := nowMillis()
			r := do(t, http.MethodPost, s.Base+"apps/"+c.app, body, hdrs...)
			regEnd := nowMillis()
			if r.Status != http.StatusNoContent {
				t.Fatalf("register: status %d %q, want 204", r.Status, r.Body)
			}
			in := mustGetInstance(t, s.Base, c.app, c.id)
			c.check(t, in, regStart, regEnd)
			waitApps(t, "full registry lists it", s.Base+"apps/", func(_ *response, p *appsPayload) error {
				if p.find(c.app, c.id) == nil {
					return fmt.Errorf("instance %s/%s missing", c.app, c.id)
				}
				return nil
			})
		})
	}
}

// expectFields checks dotted paths of an instance against values: strings
// compare as strings, int64 as JSON numbers.
func expectFields(t *testing.T, in jsonObject, want map[string]any) {
	t.Helper()
	for _, path := range sortedKeys(want) {
		parts := strings.Split(path, ".")
		// Metadata keys may contain dots themselves.
		if parts[0] == "metadata" {
			parts = []string{"metadata", strings.TrimPrefix(path, "metadata.")}
		}
		var got any
		switch want[path].(type) {
		case int64:
			got = num(in, parts...)
		default:
			got = str(in, parts...)
		}
		if got != want[path] {
			t.Errorf("%s = %#v, want %#v", path, got, want[path])
		}
	}
}

func expectEmptyMetadata(t *testing.T, in jsonObject) {
	t.Helper()
	md, _ := in["metadata"].(jsonObject)
	if len(md) != 1 || md["@class"] != "java.util.Collections$EmptyMap" {
		t.Errorf("empty metadata = %v, want {\"@class\":\"java.util.Collections$EmptyMap\"} (§3.4)", md)
	}
}

// validBody is a minimal valid register body as a map, for the
// validation cases to break one field at a time.
func validBody() map[string]any {
	return map[string]any{
		"instanceId": "valid-1", "hostName": "valid.e2e.local", "app": "VALID", "ipAddr": "10.0.2.1", "status": "UP",
		"port":           map[string]any{"$": 8080, "@enabled": "true"},
		"dataCenterInfo": map[string]any{"@class": classDefaultDC, "name": "MyOwn"},
	}
}

// TestRegisterValidation checks §2.1's checks, in order, with their exact
// 400 texts, and that a rejected registration stores nothing.
func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cases := []struct {
		name   string
		path   string
		mutate func(m map[string]any)
		want   string
	}{
		{"no id at all", "VALID", func(m map[string]any) { delete(m, "instanceId"); m["hostName"] = "" }, "Missing instanceId"},
		{"blank hostName", "VALID", func(m map[string]any) { m["hostName"] = "" }, "Missing hostname"},
		{"blank ipAddr", "VALID", func(m map[string]any) { m["ipAddr"] = "" }, "Missing ip address"},
		{"missing ipAddr", "VALID", func(m map[string]any) { delete(m, "ipAddr") }, "Missing ip address"},
		{"blank app", "VALID", func(m map[string]any) { m["app"] = "" }, "Missing appName"},
		{"app mismatch", "valid", func(m map[string]any) { m["app"] = "other" }, "Mismatched appName, expecting VALID but was OTHER"},
		{"no dataCenterInfo", "VALID", func(m map[string]any) { delete(m, "dataCenterInfo") }, "Missing dataCenterInfo"},
		{"dataCenterInfo without name", "VALID", func(m map[string]any) { m["dataCenterInfo"] = map[string]any{"@class": classDefaultDC} }, "Missing dataCenterInfo Name"},
		// Order: the hostname check comes before the ip check.
		{"blank hostName and ipAddr", "VALID", func(m map[string]any) { m["hostName"] = ""; m["ipAddr"] = "" }, "Missing hostname"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := validBody()
			c.mutate(m)
			body, _ := json.Marshal(map[string]any{"instance": m})
			r := do(t, http.MethodPost, s.Base+"apps/"+c.path, body, "Content-Type", "application/json", "Accept", "application/json")
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d %q, want 400", r.Status, r.Body)
			}
			// A trailing newline (as http.Error writes) is tolerated.
			if got := strings.TrimSuffix(string(r.Body), "\n"); got != c.want {
				t.Errorf("body %q, want %q (§2.1)", got, c.want)
			}
		})
	}
	t.Run("XML blank hostName", func(t *testing.T) {
		body := `<instance><instanceId>valid-x</instanceId><hostName></hostName><app>VALID</app><ipAddr>10.0.2.2</ipAddr>` +
			`<status>UP</status><port enabled="true">8080</port><dataCenterInfo class="` + classDefaultDC + `"><name>MyOwn</name></dataCenterInfo></instance>`
		r := do(t, http.MethodPost, s.Base+"apps/VALID", []byte(body), "Content-Type", "application/xml", "Accept", "application/xml")
		if r.Status != http.StatusBadRequest || strings.TrimSuffix(string(r.Body), "\n") != "Missing hostname" {
			t.Errorf("status %d body %q, want 400 \"Missing hostname\"", r.Status, r.Body)
		}
	})
	// Nothing was stored by any rejected request.
	_, p, errs := getApps(t, s.Base+"apps/")
	for _, e := range errs {
		t.Error(e)
	}
	if p != nil && len(p.Apps) != 0 {
		t.Errorf("after rejected registrations the registry holds %d applications: %+v", len(p.Apps), p.Apps)
	}
	// A lower-case path names the same app as the upper-case body (§1.2).
	body, _ := json.Marshal(map[string]any{"instance": validBody()})
	if r := do(t, http.MethodPost, s.Base+"apps/valid", body, "Content-Type", "application/json"); r.Status != http.StatusNoContent {
		t.Errorf("register VALID via apps/valid: status %d %q, want 204", r.Status, r.Body)
	}
}

// TestMalformedBody checks §2.1's parse-error answers and that the server
// keeps serving afterwards.
func TestMalformedBody(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, body := range []string{`{"instance": {"app": "BROKEN",`, "\x00\xff\xfe not json", `{"instance": {"hostName": "h" "app": "X"}}`} {
		r := do(t, http.MethodPost, s.Base+"apps/BROKEN", []byte(body), "Content-Type", "application/json", "Accept", "application/json")
		if r.Status != http.StatusBadRequest {
			t.Errorf("malformed JSON %q: status %d %q, want 400", body, r.Status, r.Body)
			continue
		}
		var e map[string]any
		if err := json.Unmarshal(r.Body, &e); err != nil || e["error"] != "cannot parse request body" {
			t.Errorf("malformed JSON %q: body %q, want {\"error\": \"cannot parse request body\"} (§2.1)", body, r.Body)
		}
	}
	for _, body := range []string{`<instance><hostName>h</hostName>`, `<instance><app>X</app></oops>`} {
		r := do(t, http.MethodPost, s.Base+"apps/BROKEN", []byte(body), "Content-Type", "application/xml", "Accept", "application/xml")
		if r.Status != http.StatusBadRequest {
			t.Errorf("malformed XML %q: status %d %q, want 400", body, r.Status, r.Body)
			continue
		}
		if msg, err := xmlErrorMessage(r.Body); err != nil || msg != "cannot parse request body" {
			t.Errorf("malformed XML %q: body %q (%v), want <error><message>cannot parse request body</message></error> (§2.1)", body, r.Body, err)
		}
	}
	// Still serving, and still accepting good registrations.
	j := newJavaInstance("AFTERBAD", "10.0.3.1")
	registerSC(t, s.Base, j)
	mustGetInstance(t, s.Base, j.App, j.ID)
	waitApps(t, "registry after bad requests", s.Base+"apps/", func(_ *response, p *appsPayload) error {
		if len(p.Apps) != 1 || p.find(j.App, j.ID) == nil {
			return fmt.Errorf("want exactly %s, got %d applications", j.App, len(p.Apps))
		}
		return nil
	})
}

// TestUnknownIsNotFound checks 404 with an empty body for every per-app
// and per-instance endpoint when the app or instance is unknown, and 200
// with an empty list for unknown VIPs (§2.12).
func TestUnknownIsNotFound(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	j := newJavaInstance("KNOWN", "10.0.4.1")
	registerSC(t, s.Base, j)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "apps/NOPE"},
		{http.MethodGet, "apps/NOPE/x"},
		{http.MethodGet, "apps/KNOWN/nope"},
		{http.MethodGet, "instances/nope"},
		{http.MethodPut, "apps/NOPE/x"},
		{http.MethodPut, "apps/KNOWN/nope?status=UP&lastDirtyTimestamp=1"},
		{http.MethodDelete, "apps/NOPE/x"},
		{http.MethodDelete, "apps/KNOWN/nope"},
		{http.MethodPut, "apps/KNOWN/nope/status?value=OUT_OF_SERVICE"},
		{http.MethodDelete, "apps/KNOWN/nope/status"},
		{http.MethodPut, "apps/KNOWN/nope/metadata?a=b"},
		// Ids are case-sensitive (§1.2).
		{http.MethodGet, "apps/KNOWN/" + strings.ToUpper(j.ID) + "X"},
	} {
		r := do(t, c.method, s.Base+c.path, nil, "Accept", "application/json")
		if r.Status != http.StatusNotFound || len(r.Body) != 0 {
			t.Errorf("%s %s: status %d body %q, want 404 with an empty body", c.method, c.path, r.Status, r.Body)
		}
	}
	// A bad status value is refused and changes nothing (§2.4).
	r := do(t, http.MethodPut, s.Base+"apps/KNOWN/"+j.ID+"/status?value=up", nil)
	if r.Status < 400 {
		t.Errorf("PUT status?value=up (not an exact enum name): status %d, want an error", r.Status)
	}
	if in := mustGetInstance(t, s.Base, "KNOWN", j.ID); str(in, "status") != "UP" || str(in, "overriddenStatus") != "UNKNOWN" {
		t.Errorf("after a refused status update: status %q overriddenStatus %q, want UP / UNKNOWN", str(in, "status"), str(in, "overriddenStatus"))
	}
	// VIPs match exactly and case-sensitively, secure and non-secure apart (§2.12).
	for _, path := range []string{"vips/nope", "svips/nope", "vips/" + j.SVIP, "svips/" + j.VIP, "vips/" + strings.ToUpper(j.VIP)} {
		_, p, errs := getApps(t, s.Base+path)
		for _, e := range errs {
			t.Errorf("GET %s: %v", path, e)
		}
		if p != nil && (len(p.Apps) != 0 || p.VersionsDelta != "-1" || p.Hashcode != "") {
			t.Errorf("GET %s: %d applications, versions__delta %q, hashcode %q; want none, \"-1\", \"\"", path, len(p.Apps), p.VersionsDelta, p.Hashcode)
		}
	}
	for _, path := range []string{"vips/" + j.VIP, "svips/" + j.SVIP} {
		waitApps(t, "GET "+path, s.Base+path, func(_ *response, p *appsPayload) error {
			if p.find("KNOWN", j.ID) == nil || p.instanceCount() != 1 {
				return fmt.Errorf("want exactly the KNOWN instance, got %d", p.instanceCount())
			}
			if p.VersionsDelta != "-1" || p.Hashcode != "UP_1_" {
				return fmt.Errorf("versions__delta %q hashcode %q, want \"-1\" and UP_1_ (§2.12)", p.VersionsDelta, p.Hashcode)
			}
			return nil
		})
	}
}

// TestMetadataUpdate checks §2.6: query parameters merge into metadata,
// the change goes through register (ADDED in the delta), and
// lastDirtyTimestamp is not bumped.
func TestMetadataUpdate(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	j := newJavaInstance("META", "10.0.5.1")
	registerSC(t, s.Base, j)
	// Make the latest change a MODIFIED first, so ADDED below can only
	// come from the metadata update.
	expectEmpty200(t, "PUT status", do(t, http.MethodPut, s.Base+"apps/META/"+j.ID+"/status?value=OUT_OF_SERVICE", nil))
	waitApps(t, "delta shows MODIFIED", s.Base+"apps/delta", deltaHas("META", j.ID, "MODIFIED", "OUT_OF_SERVICE", "OUT_OF_SERVICE_1_"))

	expectEmpty200(t, "PUT metadata", do(t, http.MethodPut, s.Base+"apps/META/"+j.ID+"/metadata?canary=true&weight=10&zone=zone-b", nil))
	in := mustGetInstance(t, s.Base, "META", j.ID)
	want := maps.Clone(j.Metadata)
	want["canary"], want["weight"], want["zone"] = "true", "10", "zone-b"
	md, _ := in["metadata"].(jsonObject)
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata[%q] = %v, want %q", k, md[k], v)
		}
	}
	if len(md) != len(want) {
		t.Errorf("metadata %v, want %v", md, want)
	}
	if ld := strNum(in, "lastDirtyTimestamp"); ld != j.LastDirty {
		t.Errorf("lastDirtyTimestamp %d after a metadata update, want it unchanged at %d (§2.6)", ld, j.LastDirty)
	}
	// The override survives the internal re-register (§6.2 step 5).
	if str(in, "status") != "OUT_OF_SERVICE" {
		t.Errorf("status %q after a metadata update, want the override OUT_OF_SERVICE to hold", str(in, "status"))
	}
	waitApps(t, "delta shows the metadata update as ADDED", s.Base+"apps/delta", func(r *response, p *appsPayload) error {
		if err := deltaHas("META", j.ID, "ADDED", "OUT_OF_SERVICE", "OUT_OF_SERVICE_1_")(r, p); err != nil {
			return err
		}
		if md, _ := p.find("META", j.ID)["metadata"].(jsonObject); md["weight"] != "10" {
			return fmt.Errorf("delta metadata %v lacks weight=10", md)
		}
		return nil
	})
}

// TestAmazonInstanceIDCopied checks §2.1 step 8: an Amazon instance whose
// metadata lacks instance-id gets its instance id copied there.
func TestAmazonInstanceIDCopied(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	body := `{"instance":{"instanceId":"i-0copy1234","hostName":"ip-10-0-6-1.ec2.internal","app":"AWSAPP","ipAddr":"10.0.6.1","status":"UP",` +
		`"port":{"$":7001,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.AmazonInfo","name":"Amazon",` +
		`"metadata":{"availability-zone":"us-east-1a","ami-id":"ami-1","local-ipv4":"10.0.6.1"}}}}`
	r := do(t, http.MethodPost, s.Base+"apps/AWSAPP", []byte(body), "Content-Type", "application/json")
	if r.Status != http.StatusNoContent {
		t.Fatalf("register: %d %q, want 204", r.Status, r.Body)
	}
	in := mustGetInstance(t, s.Base, "AWSAPP", "i-0copy1234")
	expectFields(t, in, map[string]any{"dataCenterInfo.@class": classAmazonDC, "dataCenterInfo.name": "Amazon"})
	dc, _ := in["dataCenterInfo"].(jsonObject)
	md, _ := dc["metadata"].(jsonObject)
	want := map[string]any{"instance-id": "i-0copy1234", "availability-zone": "us-east-1a", "ami-id": "ami-1", "local-ipv4": "10.0.6.1"}
	if !maps.Equal(md, want) {
		t.Errorf("dataCenterInfo.metadata = %v, want %v", md, want)
	}
}

// TestETag checks eurekad's ETag / If-None-Match support on the cached
// endpoints (design §3): a repeat with the ETag gets 304, a change gets a
// new ETag.
func TestETag(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	j := newJavaInstance("ETAGAPP", "10.0.7.1")
	registerSC(t, s.Base, j)
	for _, path := range []string{"apps", "apps/delta", "apps/ETAGAPP", "vips/" + j.VIP} {
		for _, hdrs := range [][]string{{"Accept", "application/json"}, {"Accept", "application/json", "Accept-Encoding", "gzip"}, {"Accept", "application/xml"}} {
			what := fmt.Sprintf("GET %s %q", path, hdrs)
			// Wait until the registration is in the payload.
			var etag string
			eventually(t, what+" shows the instance", func() error {
				r := do(t, http.MethodGet, s.Base+path, nil, hdrs...)
				if r.Status != http.StatusOK {
					return fmt.Errorf("status %d", r.Status)
				}
				if !strings.Contains(r.Text(t), j.ID) {
					return fmt.Errorf("instance not in the payload yet")
				}
				etag = r.Header.Get("ETag")
				return nil
			})
			if etag == "" {
				t.Errorf("%s: no ETag header", what)
				continue
			}
			r := do(t, http.MethodGet, s.Base+path, nil, append(hdrs, "If-None-Match", etag)...)
			if r.Status != http.StatusNotModified || len(r.Body) != 0 {
				t.Errorf("%s with If-None-Match %s: status %d body %d bytes, want 304 and none", what, etag, r.Status, len(r.Body))
			}
			if got := r.Header.Get("ETag"); got != etag {
				t.Errorf("%s: 304 carries ETag %q, want %q", what, got, etag)
			}
		}
	}
	// A change makes the old ETag stale.
	r := do(t, http.MethodGet, s.Base+"apps", nil, "Accept", "application/json")
	old := r.Header.Get("ETag")
	j2 := newJavaInstance("ETAGAPP", "10.0.7.2")
	registerSC(t, s.Base, j2)
	eventually(t, "GET apps with the old ETag after a change", func() error {
		r := do(t, http.MethodGet, s.Base+"apps", nil, "Accept", "application/json", "If-None-Match", old)
		if r.Status != http.StatusOK {
			return fmt.Errorf("status %d, want 200", r.Status)
		}
		if e := r.Header.Get("ETag"); e == "" || e == old {
			return fmt.Errorf("ETag %q, want a new one (old %q)", e, old)
		}
		if !strings.Contains(string(r.Body), j2.ID) {
			return fmt.Errorf("new instance missing")
		}
		return nil
	})
}

// xmlErrorMessage reads <error><message>…</message></error>.
func xmlErrorMessage(body []byte) (string, error) {
	var e struct {
		XMLName xml.Name
		Message string `xml:"message"`
	}
	if err := xml.Unmarshal(body, &e); err != nil {
		return "", err
	}
	if e.XMLName.Local != "error" {
		return "", fmt.Errorf("root element <%s>, want <error>", e.XMLName.Local)
	}
	return e.Message, nil
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
