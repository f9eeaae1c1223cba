package eureka

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated golden files in testdata/decode (the files in testdata/golden are written by hand from docs/protocol.md §3.10 and are never rewritten)")

// checkGolden compares got with the file at path. With -update and
// writable set, it rewrites the file instead.
func checkGolden(t *testing.T, path string, got []byte, writable bool) {
	t.Helper()
	if *update && writable {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create generated goldens)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs\n got: %s\nwant: %s\nfirst difference at byte %d", path, got, want, firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// The §3.10 registry: ORDERS with two Spring Cloud instances (one with
// empty metadata) and PAYMENTS with an Amazon instance taken out of
// service by an override.
func ordersInstance1() *InstanceInfo {
	return &InstanceInfo{
		InstanceID:       "10.0.0.5:orders:8080",
		HostName:         "10.0.0.5",
		App:              "ORDERS",
		IPAddr:           "10.0.0.5",
		SID:              "na",
		Status:           StatusUp,
		OverriddenStatus: StatusUnknown,
		Port:             Port{Number: 8080, Enabled: true},
		SecurePort:       Port{Number: 443},
		CountryID:        1,
		DataCenterInfo:   &DataCenterInfo{Name: DataCenterMyOwn},
		LeaseInfo: &LeaseInfo{
			RenewalIntervalInSecs: 30, DurationInSecs: 90,
			RegistrationTimestamp: 1718000000000, LastRenewalTimestamp: 1718000120000,
			ServiceUpTimestamp: 1718000000000,
		},
		Metadata:             map[string]string{"zone": "zone-a", "management.port": "8080"},
		HomePageURL:          "http://10.0.0.5:8080/",
		StatusPageURL:        "http://10.0.0.5:8080/actuator/info",
		HealthCheckURL:       "http://10.0.0.5:8080/actuator/health",
		VIPAddress:           "orders",
		SecureVIPAddress:     "orders",
		LastUpdatedTimestamp: 1718000000000,
		LastDirtyTimestamp:   1717999999500,
		ActionType:           ActionAdded,
	}
}

func ordersInstance2() *InstanceInfo {
	return &InstanceInfo{
		InstanceID:       "10.0.0.6:orders:8080",
		HostName:         "10.0.0.6",
		App:              "ORDERS",
		IPAddr:           "10.0.0.6",
		Status:           StatusUp,
		OverriddenStatus: StatusUnknown,
		Port:             Port{Number: 8080, Enabled: true},
		SecurePort:       Port{Number: 443},
		CountryID:        1,
		DataCenterInfo:   &DataCenterInfo{Name: DataCenterMyOwn},
		LeaseInfo: &LeaseInfo{
			RenewalIntervalInSecs: 30, DurationInSecs: 90,
			RegistrationTimestamp: 1718000010000, LastRenewalTimestamp: 1718000130000,
			ServiceUpTimestamp: 1718000010000,
		},
		Metadata:             map[string]string{},
		HomePageURL:          "http://10.0.0.6:8080/",
		StatusPageURL:        "http://10.0.0.6:8080/actuator/info",
		HealthCheckURL:       "http://10.0.0.6:8080/actuator/health",
		VIPAddress:           "orders",
		SecureVIPAddress:     "orders",
		LastUpdatedTimestamp: 1718000010000,
		LastDirtyTimestamp:   1718000009700,
		ActionType:           ActionAdded,
	}
}

func paymentsInstance() *InstanceInfo {
	return &InstanceInfo{
		InstanceID:       "i-0abc123",
		HostName:         "ip-10-1-2-3.ec2.internal",
		App:              "PAYMENTS",
		IPAddr:           "10.1.2.3",
		Status:           StatusOutOfService,
		OverriddenStatus: StatusOutOfService,
		Port:             Port{Number: 7001, Enabled: true},
		SecurePort:       Port{Number: 7002},
		CountryID:        1,
		DataCenterInfo: &DataCenterInfo{Name: DataCenterAmazon, Metadata: map[string]string{
			"instance-id":       "i-0abc123",
			"availability-zone": "us-east-1c",
			"local-ipv4":        "10.1.2.3",
			"ami-id":            "ami-1234",
			"instance-type":     "m5.large",
		}},
		LeaseInfo: &LeaseInfo{
			RenewalIntervalInSecs: 30, DurationInSecs: 90,
			RegistrationTimestamp: 1718000020000, LastRenewalTimestamp: 1718000140000,
			ServiceUpTimestamp: 1718000020000,
		},
		Metadata:             nil, // nil and empty are written alike
		AppGroupName:         "BILLING",
		VIPAddress:           "payments",
		LastUpdatedTimestamp: 1718000100000,
		LastDirtyTimestamp:   1718000019000,
		ActionType:           ActionModified,
		ASGName:              "payments-v042",
	}
}

func testRegistry() *Applications {
	apps := &Applications{
		VersionsDelta: 1,
		Applications: []*Application{
			{Name: "ORDERS", Instances: []*InstanceInfo{ordersInstance1(), ordersInstance2()}},
			{Name: "PAYMENTS", Instances: []*InstanceInfo{paymentsInstance()}},
		},
	}
	apps.AppsHashcode = apps.HashCode()
	return apps
}

func testDelta() *Applications {
	return &Applications{
		VersionsDelta: 7,
		AppsHashcode:  testRegistry().AppsHashcode,
		Applications:  []*Application{{Name: "PAYMENTS", Instances: []*InstanceInfo{paymentsInstance()}}},
	}
}

func TestRegistryHashCode(t *testing.T) {
	if got := testRegistry().AppsHashcode; got != "OUT_OF_SERVICE_1_UP_2_" {
		t.Fatalf("hash = %q", got)
	}
}

// TestEncodeGolden checks the encoders byte for byte against the
// hand-written §3.10 documents.
func TestEncodeGolden(t *testing.T) {
	empty := &Applications{VersionsDelta: 1}
	orders := testRegistry().Applications[0]
	tests := []struct {
		file string
		got  []byte
	}{
		{"registry.json", AppendApplicationsJSON(nil, testRegistry())},
		{"registry.xml", AppendApplicationsXML(nil, testRegistry())},
		{"empty.json", AppendApplicationsJSON(nil, empty)},
		{"empty.xml", AppendApplicationsXML(nil, empty)},
		{"instance.json", AppendInstanceJSONWrapped(nil, paymentsInstance())},
		{"instance.xml", AppendInstanceXML(nil, paymentsInstance())},
		{"delta.json", AppendApplicationsJSON(nil, testDelta())},
		{"delta.xml", AppendApplicationsXML(nil, testDelta())},
		{"application.json", AppendApplicationJSON(nil, orders)},
		{"application.xml", AppendApplicationXML(nil, orders)},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			checkGolden(t, filepath.Join("testdata", "golden", tt.file), tt.got, false)
		})
	}
}

// TestEncodeAppends checks that the Append functions extend dst rather
// than overwrite it.
func TestEncodeAppends(t *testing.T) {
	prefix := []byte("prefix:")
	in := paymentsInstance()
	for name, f := range map[string]func([]byte) []byte{
		"json":     func(b []byte) []byte { return AppendInstanceJSON(b, in) },
		"wrapped":  func(b []byte) []byte { return AppendInstanceJSONWrapped(b, in) },
		"xml":      func(b []byte) []byte { return AppendInstanceXML(b, in) },
		"apps":     func(b []byte) []byte { return AppendApplicationsJSON(b, testRegistry()) },
		"appsXML":  func(b []byte) []byte { return AppendApplicationsXML(b, testRegistry()) },
		"app":      func(b []byte) []byte { return AppendApplicationJSON(b, testRegistry().Applications[0]) },
		"appXML":   func(b []byte) []byte { return AppendApplicationXML(b, testRegistry().Applications[0]) },
		"instance": func(b []byte) []byte { return AppendInstanceJSON(b, nil) },
	} {
		got := f(append([]byte(nil), prefix...))
		want := append(append([]byte(nil), prefix...), f(nil)...)
		if !bytes.Equal(got, want) || !bytes.HasPrefix(got, prefix) {
			t.Errorf("%s: Append does not extend dst", name)
		}
	}
}

// TestDecodeGolden decodes the hand-written server output and expects
// the values it was written from.
func TestDecodeGolden(t *testing.T) {
	want := testRegistry()
	for _, a := range want.Applications {
		for _, in := range a.Instances {
			normalize(in)
		}
	}
	for _, file := range []string{"registry.json", "registry.xml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "golden", file))
		if err != nil {
			t.Fatal(err)
		}
		var got *Applications
		if filepath.Ext(file) == ".json" {
			got, err = DecodeApplicationsJSON(data)
		} else {
			got, err = DecodeApplicationsXML(data)
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded\n%s\nwant\n%s", file, AppendApplicationsJSON(nil, got), AppendApplicationsJSON(nil, want))
		}
	}
}

// normalize puts a stored instance into the form the JSON decoder returns
// after the instance went through the JSON encoder: what the wire cannot
// express (sid "na", nil vs empty maps, zero country) takes the decoded
// form, and the Spring Cloud instanceId derived from metadata appears.
func normalize(in *InstanceInfo) *InstanceInfo {
	in.InstanceID = emittedInstanceID(in)
	return normalizeXML(in)
}

// normalizeXML is normalize for the XML encoder, which derives no
// instanceId.
func normalizeXML(in *InstanceInfo) *InstanceInfo {
	if !emitSID(in.SID) {
		in.SID = ""
	}
	in.Status = statusOrUnknown(in.Status)
	in.OverriddenStatus = statusOrUnknown(in.OverriddenStatus)
	if in.LeaseInfo == nil {
		l := defaultLeaseInfo
		in.LeaseInfo = &l
	}
	finishInstance(in)
	return in
}
