package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hudl/fargo"
	logging "github.com/op/go-logging"
)

// fargoLog keeps what fargo logs at WARNING and above: a failed
// registration's response body appears only there, not in the error.
var fargoLog syncBuffer

func init() {
	// fargo logs every request at NOTICE/INFO and expected 404s at ERROR;
	// the tests check every returned error themselves.
	b := logging.AddModuleLevel(logging.NewLogBackend(&fargoLog, "", 0))
	b.SetLevel(logging.WARNING, "")
	logging.SetBackend(b)
}

// fargoModes are fargo's two wire formats: XML is its default.
var fargoModes = []struct {
	name    string
	useJSON bool
}{
	{"XML", false},
	{"JSON", true},
}

// fargoCase is one instance shape fargo registers.
type fargoCase struct {
	name string
	// instance builds the registrant; app names are lower-case on purpose
	// (the server upper-cases them).
	instance func(mode string) *fargo.Instance
	// metadata is set with SetMetadataString before registering. Values
	// are non-numeric: fargo's XML metadata parser turns numeric-looking
	// text into float64.
	metadata map[string]string
}

var fargoCases = []fargoCase{
	{
		name: "MyOwn",
		instance: func(mode string) *fargo.Instance {
			host := "fargo-myown-" + strings.ToLower(mode) + ".e2e.local"
			return &fargo.Instance{
				InstanceId:        host + ":orders:8080",
				HostName:          host,
				App:               "fargo-orders-" + strings.ToLower(mode),
				IPAddr:            "10.1.2.3",
				VipAddress:        "orders-vip,orders-alt-vip",
				SecureVipAddress:  "orders-svip",
				Status:            fargo.UP,
				Port:              8080,
				PortEnabled:       true,
				SecurePort:        8443,
				SecurePortEnabled: true,
				HomePageUrl:       "http://" + host + ":8080/",
				StatusPageUrl:     "http://" + host + ":8080/info",
				HealthCheckUrl:    "http://" + host + ":8080/health",
				CountryId:         1,
				DataCenterInfo:    fargo.DataCenterInfo{Name: fargo.MyOwn},
				LeaseInfo:         fargo.LeaseInfo{RenewalIntervalInSecs: 15, DurationInSecs: 45},
			}
		},
		metadata: map[string]string{
			"zone":      "zone-a",
			"build.sha": "abc123def",
			"team-name": "payments e2e",
			"note":      `a<b & "c">d`,
		},
	},
	{
		// Amazon without instanceId: fargo and the server both take the id
		// from the instance-id metadata.
		name: "Amazon",
		instance: func(mode string) *fargo.Instance {
			host := "ip-10-9-8-7-" + strings.ToLower(mode) + ".ec2.internal"
			return &fargo.Instance{
				HostName:          host,
				App:               "fargo-payments-" + strings.ToLower(mode),
				IPAddr:            "10.9.8.7",
				VipAddress:        "payments-vip",
				SecureVipAddress:  "payments-svip",
				Status:            fargo.UP,
				Port:              7001,
				PortEnabled:       true,
				SecurePort:        7002,
				SecurePortEnabled: false,
				HomePageUrl:       "http://" + host + ":7001/",
				StatusPageUrl:     "http://" + host + ":7001/status",
				HealthCheckUrl:    "http://" + host + ":7001/healthcheck",
				CountryId:         2,
				DataCenterInfo: fargo.DataCenterInfo{
					Name: fargo.Amazon,
					Metadata: fargo.AmazonMetadataType{
						InstanceID:       "i-0e2e" + strings.ToLower(mode) + "0001",
						AvailabilityZone: "us-east-1c",
						LocalIpv4:        "10.9.8.7",
						LocalHostname:    host,
						PublicIpv4:       "54.1.2.3",
						PublicHostname:   "ec2-54-1-2-3.compute-1.amazonaws.com",
						AmiID:            "ami-0abc1234",
						InstanceType:     "m5.large",
					},
				},
				LeaseInfo: fargo.LeaseInfo{RenewalIntervalInSecs: 10, DurationInSecs: 30},
			}
		},
		metadata: map[string]string{"owner": "team-e2e"},
	},
}

// TestFargo drives the real hudl/fargo client through register, read back
// (instance, app, all apps, VIPs), heartbeat, status override, metadata and
// deregister, in both of its wire formats.
func TestFargo(t *testing.T) {
	t.Parallel()
	for _, mode := range fargoModes {
		for _, c := range fargoCases {
			t.Run(mode.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				s := startServer(t)
				// fargo joins the service URL and "apps/..." with a slash.
				conn := fargo.NewConn(strings.TrimSuffix(s.Base, "/"))
				conn.UseJson = mode.useJSON
				runFargoLifecycle(t, s, &conn, c.instance(mode.name), c.metadata, mode.useJSON)
			})
		}
	}
}

func runFargoLifecycle(t *testing.T, s *server, conn *fargo.EurekaConnection, want *fargo.Instance, metadata map[string]string, useJSON bool) {
	for k, v := range metadata {
		want.SetMetadataString(k, v)
	}
	id := want.Id()
	app := strings.ToUpper(want.App)
	// fargo replaces the instance it registers with the server's copy, so
	// it gets its own; want stays what was sent.
	ins := *want
	ins.Metadata = fargo.InstanceMetadata{}
	for k, v := range metadata {
		ins.SetMetadataString(k, v)
	}

	// fargo first GETs the instance; it must be 404 so that fargo POSTs.
	if _, err := conn.GetInstance(want.App, id); statusOf(err) != http.StatusNotFound {
		t.Fatalf("GetInstance before register: want a 404 error, got %v", err)
	}

	regStart := nowMillis()
	if err := conn.RegisterInstance(&ins); err != nil {
		t.Fatalf("RegisterInstance: %v", err)
	}
	regEnd := nowMillis()

	got, err := conn.GetInstance(want.App, id)
	if err != nil {
		t.Fatalf("GetInstance after register: %v", err)
	}
	checkFargoInstance(t, "GetInstance", got, want, useJSON, fargo.UP, fargo.UNKNOWN, metadata)
	checkFargoLease(t, "GetInstance", got, want, regStart, regEnd)

	// Registering again is a no-op for fargo: its GET sees 200.
	again := *got
	if err := conn.RegisterInstance(&again); err != nil {
		t.Fatalf("RegisterInstance (already registered): %v", err)
	}

	eventually(t, "GetApp shows the instance", func() error {
		a, err := conn.GetApp(want.App)
		if err != nil {
			return err
		}
		if a.Name != app {
			return fmt.Errorf("application name %q, want %q", a.Name, app)
		}
		if len(a.Instances) != 1 {
			return fmt.Errorf("%d instances, want 1", len(a.Instances))
		}
		return nil
	})
	a, _ := conn.GetApp(want.App)
	checkFargoInstance(t, "GetApp", a.Instances[0], want, useJSON, fargo.UP, fargo.UNKNOWN, metadata)
	checkFargoLease(t, "GetApp", a.Instances[0], want, regStart, regEnd)

	var apps map[string]*fargo.Application
	eventually(t, "GetApps shows the instance", func() error {
		var err error
		if apps, err = conn.GetApps(); err != nil {
			return err
		}
		if a := apps[app]; a == nil || len(a.Instances) != 1 {
			return fmt.Errorf("application %s missing or without exactly one instance: %+v", app, apps)
		}
		return nil
	})
	checkFargoInstance(t, "GetApps", apps[app].Instances[0], want, useJSON, fargo.UP, fargo.UNKNOWN, metadata)

	// VIP queries: every element of a comma-separated vipAddress matches
	// exactly; secure and non-secure VIPs are separate namespaces.
	for _, vip := range strings.Split(want.VipAddress, ",") {
		checkFargoVIP(t, conn, vip, false, id)
	}
	checkFargoVIP(t, conn, want.SecureVipAddress, true, id)
	checkFargoVIP(t, conn, want.SecureVipAddress, false)
	checkFargoVIP(t, conn, "no-such-vip", false)
	checkFargoVIP(t, conn, "no-such-svip", true)

	// Heartbeat: 200, and the lease shows it.
	hbStart := nowMillis()
	if err := conn.HeartBeatInstance(got); err != nil {
		t.Fatalf("HeartBeatInstance: %v", err)
	}
	got, err = conn.GetInstance(want.App, id)
	if err != nil {
		t.Fatalf("GetInstance after heartbeat: %v", err)
	}
	if got.LeaseInfo.LastRenewalTimestamp < hbStart {
		t.Errorf("after heartbeat at %d: lastRenewalTimestamp = %d, want >= %d", hbStart, got.LeaseInfo.LastRenewalTimestamp, hbStart)
	}

	// Status override to OUT_OF_SERVICE.
	if err := conn.UpdateInstanceStatus(got, fargo.OUTOFSERVICE); err != nil {
		t.Fatalf("UpdateInstanceStatus(OUT_OF_SERVICE): %v", err)
	}
	waitFargoAppStatus(t, conn, want, fargo.OUTOFSERVICE, fargo.OUTOFSERVICE)
	got, err = conn.GetInstance(want.App, id)
	if err != nil {
		t.Fatalf("GetInstance after override: %v", err)
	}
	wantStatus := []fargo.StatusType{fargo.OUTOFSERVICE}
	if !useJSON {
		// §2.10: single-instance XML may show OUT_OF_SERVICE as DOWN (Java's V1 quirk; optional).
		wantStatus = append(wantStatus, fargo.DOWN)
	}
	if !slices.Contains(wantStatus, got.Status) || got.Overriddenstatus != fargo.OUTOFSERVICE {
		t.Errorf("GetInstance after override: status %q overriddenstatus %q, want one of %q and %q", got.Status, got.Overriddenstatus, wantStatus, fargo.OUTOFSERVICE)
	}
	// An overridden instance keeps heartbeating normally (§7.1 OverrideExists).
	if err := conn.HeartBeatInstance(got); err != nil {
		t.Fatalf("HeartBeatInstance while OUT_OF_SERVICE: %v", err)
	}

	// Back to UP: the override becomes UP (§7.2).
	if err := conn.UpdateInstanceStatus(got, fargo.UP); err != nil {
		t.Fatalf("UpdateInstanceStatus(UP): %v", err)
	}
	waitFargoAppStatus(t, conn, want, fargo.UP, fargo.UP)

	// fargo has no call to remove an override; do it as the Java admin
	// client would (DELETE .../status?value=UP). The override is gone.
	r := do(t, http.MethodDelete, s.Base+"apps/"+app+"/"+id+"/status?value=UP", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("DELETE status override: %d %q, want 200", r.Status, r.Body)
	}
	waitFargoAppStatus(t, conn, want, fargo.UP, fargo.UNKNOWN)

	// Metadata update merges into the existing map.
	if err := conn.AddMetadataString(got, "added-key", "added-value"); err != nil {
		t.Fatalf("AddMetadataString: %v", err)
	}
	merged := map[string]string{"added-key": "added-value"}
	for k, v := range metadata {
		merged[k] = v
	}
	got, err = conn.GetInstance(want.App, id)
	if err != nil {
		t.Fatalf("GetInstance after AddMetadataString: %v", err)
	}
	checkFargoMetadata(t, "GetInstance after AddMetadataString", got, merged)
	eventually(t, "GetApp shows the added metadata", func() error {
		a, err := conn.GetApp(want.App)
		if err != nil {
			return err
		}
		if len(a.Instances) != 1 {
			return fmt.Errorf("%d instances, want 1", len(a.Instances))
		}
		return diffFargoMetadata(a.Instances[0], merged)
	})

	// Deregister: 200, then the instance and the app are gone.
	if err := conn.DeregisterInstance(got); err != nil {
		t.Fatalf("DeregisterInstance: %v", err)
	}
	if _, err := conn.GetInstance(want.App, id); statusOf(err) != http.StatusNotFound {
		t.Errorf("GetInstance after deregister: want a 404 error, got %v", err)
	}
	if err := conn.HeartBeatInstance(got); statusOf(err) != http.StatusNotFound {
		t.Errorf("HeartBeatInstance after deregister: want a 404 error, got %v", err)
	}
	eventually(t, "GetApp reports the app gone", func() error {
		_, err := conn.GetApp(want.App)
		if errors.As(err, new(fargo.AppNotFoundError)) {
			return nil
		}
		return fmt.Errorf("GetApp: want AppNotFoundError (404), got %v", err)
	})
	eventually(t, "GetApps no longer lists the app", func() error {
		apps, err := conn.GetApps()
		if err != nil {
			return err
		}
		if a, ok := apps[app]; ok {
			return fmt.Errorf("still lists %s with %d instances", app, len(a.Instances))
		}
		return nil
	})
	checkFargoVIP(t, conn, want.SecureVipAddress, true)
	if err := conn.DeregisterInstance(got); statusOf(err) != http.StatusNotFound {
		t.Errorf("second DeregisterInstance: want a 404 error, got %v", err)
	}
}

// statusOf is the HTTP status behind a fargo error, or 0.
func statusOf(err error) int {
	code, ok := fargo.HTTPResponseStatusCode(err)
	if !ok {
		return 0
	}
	return code
}

// checkFargoInstance compares every field fargo exposes except the lease
// timestamps (checkFargoLease).
func checkFargoInstance(t *testing.T, via string, got, want *fargo.Instance, useJSON bool, status, overridden fargo.StatusType, metadata map[string]string) {
	t.Helper()
	type field struct {
		name      string
		got, want any
	}
	fields := []field{
		// The server never invents an instanceId (§3.1 rule 1).
		{"instanceId", got.InstanceId, want.InstanceId},
		{"Id()", got.Id(), want.Id()},
		{"hostName", got.HostName, want.HostName},
		{"app", got.App, strings.ToUpper(want.App)},
		{"ipAddr", got.IPAddr, want.IPAddr},
		{"vipAddress", got.VipAddress, want.VipAddress},
		{"secureVipAddress", got.SecureVipAddress, want.SecureVipAddress},
		{"status", got.Status, status},
		{"overriddenstatus", got.Overriddenstatus, overridden},
		{"port", got.Port, want.Port},
		{"port enabled", got.PortEnabled, want.PortEnabled},
		{"securePort", got.SecurePort, want.SecurePort},
		{"securePort enabled", got.SecurePortEnabled, want.SecurePortEnabled},
		{"homePageUrl", got.HomePageUrl, want.HomePageUrl},
		{"statusPageUrl", got.StatusPageUrl, want.StatusPageUrl},
		{"healthCheckUrl", got.HealthCheckUrl, want.HealthCheckUrl},
		{"countryId", got.CountryId, want.CountryId},
		{"dataCenterInfo.name", got.DataCenterInfo.Name, want.DataCenterInfo.Name},
		{"leaseInfo.renewalIntervalInSecs", got.LeaseInfo.RenewalIntervalInSecs, want.LeaseInfo.RenewalIntervalInSecs},
		{"leaseInfo.durationInSecs", got.LeaseInfo.DurationInSecs, want.LeaseInfo.DurationInSecs},
	}
	if want.DataCenterInfo.Name == fargo.Amazon {
		fields = append(fields, field{"dataCenterInfo.metadata", got.DataCenterInfo.Metadata, want.DataCenterInfo.Metadata})
	} else {
		fields = append(fields, field{"dataCenterInfo metadata entries", len(got.DataCenterInfo.AlternateMetadata), 0})
	}
	// fargo reads @class only from JSON; the server writes it from the
	// name whatever the registrant sent (§3.3).
	if useJSON {
		class := "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"
		if want.DataCenterInfo.Name == fargo.Amazon {
			class = "com.netflix.appinfo.AmazonInfo"
		}
		fields = append(fields, field{"dataCenterInfo @class", got.DataCenterInfo.Class, class})
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s: %s = %#v, want %#v", via, f.name, f.got, f.want)
		}
	}
	checkFargoMetadata(t, via, got, metadata)
}

// checkFargoLease checks the lease timestamps of an instance registered
// UP between regStart and regEnd and never renewed or cancelled.
func checkFargoLease(t *testing.T, via string, got, want *fargo.Instance, regStart, regEnd int64) {
	t.Helper()
	l := got.LeaseInfo
	if l.RegistrationTimestamp < regStart || l.RegistrationTimestamp > regEnd {
		t.Errorf("%s: registrationTimestamp %d outside the register call [%d, %d]", via, l.RegistrationTimestamp, regStart, regEnd)
	}
	if l.LastRenewalTimestamp < l.RegistrationTimestamp {
		t.Errorf("%s: lastRenewalTimestamp %d before registrationTimestamp %d", via, l.LastRenewalTimestamp, l.RegistrationTimestamp)
	}
	if l.EvictionTimestamp != 0 {
		t.Errorf("%s: evictionTimestamp %d, want 0", via, l.EvictionTimestamp)
	}
	if l.ServiceUpTimestamp < regStart || l.ServiceUpTimestamp > regEnd {
		t.Errorf("%s: serviceUpTimestamp %d outside the register call [%d, %d] (registered UP)", via, l.ServiceUpTimestamp, regStart, regEnd)
	}
}

func checkFargoMetadata(t *testing.T, via string, got *fargo.Instance, want map[string]string) {
	t.Helper()
	if err := diffFargoMetadata(got, want); err != nil {
		t.Errorf("%s: %v", via, err)
	}
}

// diffFargoMetadata compares the instance metadata, as fargo parses it,
// with want exactly.
func diffFargoMetadata(got *fargo.Instance, want map[string]string) error {
	// GetString forces fargo's lazy parse; GetMap alone does not.
	if _, err := got.Metadata.GetString("zone"); err != nil {
		return fmt.Errorf("metadata does not parse: %v (raw %q)", err, got.Metadata.Raw)
	}
	m := got.Metadata.GetMap()
	for k, v := range want {
		if m[k] != v {
			return fmt.Errorf("metadata[%q] = %#v, want %q (raw %q)", k, m[k], v, got.Metadata.Raw)
		}
	}
	for k := range m {
		if _, ok := want[k]; !ok {
			return fmt.Errorf("metadata has unexpected key %q = %#v (raw %q)", k, m[k], got.Metadata.Raw)
		}
	}
	return nil
}

// checkFargoVIP waits until a VIP query returns exactly the instances ids.
func checkFargoVIP(t *testing.T, conn *fargo.EurekaConnection, vip string, secure bool, ids ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("GetInstancesByVIPAddress(%q, secure=%v)", vip, secure), func() error {
		list, err := conn.GetInstancesByVIPAddress(vip, secure)
		if err != nil {
			return err
		}
		var got []string
		for _, in := range list {
			got = append(got, in.Id())
		}
		if !slices.Equal(got, ids) {
			return fmt.Errorf("instances %q, want %q", got, ids)
		}
		return nil
	})
}

// waitFargoAppStatus waits until GetApp shows the instance with the given
// status and overridden status.
func waitFargoAppStatus(t *testing.T, conn *fargo.EurekaConnection, want *fargo.Instance, status, overridden fargo.StatusType) {
	t.Helper()
	eventually(t, fmt.Sprintf("GetApp shows status %s / overriddenstatus %s", status, overridden), func() error {
		a, err := conn.GetApp(want.App)
		if err != nil {
			return err
		}
		if len(a.Instances) != 1 {
			return fmt.Errorf("%d instances, want 1", len(a.Instances))
		}
		in := a.Instances[0]
		if in.Status != status || in.Overriddenstatus != overridden {
			return fmt.Errorf("status %q overriddenstatus %q", in.Status, in.Overriddenstatus)
		}
		return nil
	})
}
