package eureka

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "decode", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eq reports a mismatch of one field.
func eq[T comparable](t *testing.T, field string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %#v, want %#v", field, got, want)
	}
}

func eqMap(t *testing.T, field string, got, want map[string]string) {
	t.Helper()
	if got == nil {
		t.Errorf("%s is nil", field)
	}
	if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
		t.Errorf("%s = %#v, want %#v", field, got, want)
	}
}

func eqLease(t *testing.T, got *LeaseInfo, renew, dur int32) {
	t.Helper()
	if got == nil {
		t.Fatal("LeaseInfo is nil")
	}
	eq(t, "LeaseInfo.RenewalIntervalInSecs", got.RenewalIntervalInSecs, renew)
	eq(t, "LeaseInfo.DurationInSecs", got.DurationInSecs, dur)
}

// TestDecodeInstanceFixtures decodes register bodies in the shapes real
// clients send, checks the fields, and compares the re-encoded instance
// with a generated golden file (testdata/decode/*.out.*; -update rewrites).
func TestDecodeInstanceFixtures(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, in *InstanceInfo)
	}{
		{"spring-register.json", func(t *testing.T, in *InstanceInfo) {
			eq(t, "InstanceID", in.InstanceID, "10.0.0.5:orders:8080")
			eq(t, "HostName", in.HostName, "10.0.0.5")
			eq(t, "App", in.App, "ORDERS")
			eq(t, "AppGroupName", in.AppGroupName, "") // explicit null
			eq(t, "SID", in.SID, "na")
			eq(t, "Status", in.Status, StatusUp)
			eq(t, "OverriddenStatus", in.OverriddenStatus, StatusUnknown)
			eq(t, "Port", in.Port, Port{8080, true})
			eq(t, "SecurePort", in.SecurePort, Port{443, false})
			eq(t, "CountryID", in.CountryID, 1)
			eq(t, "DataCenterInfo.Name", in.DataCenterInfo.Name, DataCenterMyOwn)
			eqLease(t, in.LeaseInfo, 30, 90)
			eqMap(t, "Metadata", in.Metadata, map[string]string{"management.port": "8080", "zone": "zone-a"})
			eq(t, "SecureHealthCheckURL", in.SecureHealthCheckURL, "")
			eq(t, "IsCoordinatingDiscoveryServer", in.IsCoordinatingDiscoveryServer, false)
			eq(t, "LastUpdatedTimestamp", in.LastUpdatedTimestamp, 1718000000000)
			eq(t, "LastDirtyTimestamp", in.LastDirtyTimestamp, 1717999999500)
			eq(t, "ActionType", in.ActionType, "")
			eq(t, "ASGName", in.ASGName, "")
		}},
		{"spring-register-empty-metadata.json", func(t *testing.T, in *InstanceInfo) {
			eq(t, "App", in.App, "BILLING")
			eq(t, "Status", in.Status, StatusStarting)
			eqLease(t, in.LeaseInfo, 5, 15)
			eqMap(t, "Metadata", in.Metadata, map[string]string{})
			eq(t, "Port", in.Port, Port{8081, true})
		}},
		{"java-register-amazon.json", func(t *testing.T, in *InstanceInfo) {
			eq(t, "App", in.App, "SEARCH")
			eq(t, "AppGroupName", in.AppGroupName, "SEARCH-GROUP")
			eq(t, "SID", in.SID, "unknown")
			eq(t, "Status", in.Status, StatusUp) // "up"
			eq(t, "OverriddenStatus", in.OverriddenStatus, StatusUnknown)
			eq(t, "SecurePort", in.SecurePort, Port{7002, true})
			eq(t, "DataCenterInfo.Name", in.DataCenterInfo.Name, DataCenterAmazon)
			eq(t, "instance-id", in.DataCenterInfo.Metadata["instance-id"], "i-0def456")
			eq(t, "accountId", in.DataCenterInfo.Metadata["accountId"], "123456789012")
			eq(t, "len(amazon metadata)", len(in.DataCenterInfo.Metadata), 9)
			eqMap(t, "Metadata", in.Metadata, map[string]string{})
			eq(t, "IsCoordinatingDiscoveryServer", in.IsCoordinatingDiscoveryServer, false)
			eq(t, "LastUpdatedTimestamp", in.LastUpdatedTimestamp, 1718000400000)
			eq(t, "LastDirtyTimestamp", in.LastDirtyTimestamp, 1718000399000)
			eq(t, "ActionType", in.ActionType, ActionAdded)
			eq(t, "ASGName", in.ASGName, "search-v007")
			eq(t, "ID()", in.ID(), "i-0def456")
		}},
		{"fargo-register.json", func(t *testing.T, in *InstanceInfo) {
			eq(t, "InstanceID", in.InstanceID, "10.0.0.9:inventory:9090")
			eq(t, "App", in.App, "INVENTORY")
			eq(t, "Status", in.Status, StatusUp)
			eq(t, "OverriddenStatus", in.OverriddenStatus, StatusUnknown) // ""
			eq(t, "Port", in.Port, Port{9090, true})                      // "$":"9090"
			eq(t, "SecurePort", in.SecurePort, Port{9443, false})
			eq(t, "DataCenterInfo.Name", in.DataCenterInfo.Name, DataCenterMyOwn)
			eq(t, "DataCenterInfo.Class()", in.DataCenterInfo.Class(), ClassDefaultDataCenterInfo)
			eqMap(t, "Metadata", in.Metadata, map[string]string{"team_name": "stock", "version": "1.4.2"})
			eq(t, "LastDirtyTimestamp", in.LastDirtyTimestamp, 0) // absent: the registry fills it
		}},
		{"fargo-register.xml", func(t *testing.T, in *InstanceInfo) {
			eq(t, "InstanceID", in.InstanceID, "10.0.0.9:inventory:9090")
			eq(t, "App", in.App, "INVENTORY")
			eq(t, "OverriddenStatus", in.OverriddenStatus, StatusUnknown)
			eq(t, "Port", in.Port, Port{9090, true})
			eq(t, "SecurePort", in.SecurePort, Port{9443, false})
			eq(t, "DataCenterInfo.Name", in.DataCenterInfo.Name, DataCenterMyOwn)
			eq(t, "DataCenterInfo.Metadata", in.DataCenterInfo.Metadata == nil, true)
			eqLease(t, in.LeaseInfo, 30, 90)
			// fargo writes keys unescaped; a lone "_" survives.
			eqMap(t, "Metadata", in.Metadata, map[string]string{"team_name": "stock", "version": "1.4.2"})
		}},
		{"js-register.json", func(t *testing.T, in *InstanceInfo) {
			eq(t, "InstanceID", in.InstanceID, "")
			eq(t, "ID()", in.ID(), "notifier-1.local")
			eq(t, "App", in.App, "NOTIFIER")
			eq(t, "Port", in.Port, Port{3000, true}) // "@enabled":true
			eq(t, "SecurePort", in.SecurePort, Port{7002, false})
			eq(t, "CountryID", in.CountryID, 1)
			eqLease(t, in.LeaseInfo, 30, 90)
			eqMap(t, "Metadata", in.Metadata, map[string]string{"node.version": "20.11.0", "weight": "10", "canary": "false"})
		}},
		{"js-register-amazon.json", func(t *testing.T, in *InstanceInfo) {
			eq(t, "DataCenterInfo.Name", in.DataCenterInfo.Name, DataCenterAmazon) // "amazon"
			eq(t, "DataCenterInfo.Class()", in.DataCenterInfo.Class(), ClassAmazonInfo)
			eq(t, "len(amazon metadata)", len(in.DataCenterInfo.Metadata), 5) // null dropped
			eq(t, "Port", in.Port, Port{8080, true})
			eq(t, "ID()", in.ID(), "i-0aa11bb22")
		}},
		{"curl-register.xml", func(t *testing.T, in *InstanceInfo) {
			eq(t, "App", in.App, "REPORTS")
			eq(t, "Status", in.Status, StatusDown)
			eq(t, "OverriddenStatus", in.OverriddenStatus, StatusOutOfService)
			eq(t, "Port", in.Port, Port{8080, true})
			eq(t, "SecurePort", in.SecurePort, Port{8443, false})
			eq(t, "CountryID", in.CountryID, 44)
			eqLease(t, in.LeaseInfo, 30, 90)
			eqMap(t, "Metadata", in.Metadata, map[string]string{
				"owner_team":      "data & reports",
				"price$usd":       "12.50",
				"management.port": "8081",
				"legacy_key":      "kept",
			})
			eq(t, "VIPAddress", in.VIPAddress, "reports,reports-batch")
			eq(t, "IsCoordinatingDiscoveryServer", in.IsCoordinatingDiscoveryServer, true)
			eq(t, "LastDirtyTimestamp", in.LastDirtyTimestamp, 1718000500000)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := readFixture(t, tt.file)
			isXML := filepath.Ext(tt.file) == ".xml"
			var in *InstanceInfo
			var err error
			if isXML {
				in, err = DecodeInstanceXML(data)
			} else {
				in, err = DecodeInstanceJSON(data)
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, in)
			base := strings.TrimSuffix(tt.file, filepath.Ext(tt.file))
			if isXML {
				checkGolden(t, filepath.Join("testdata", "decode", base+".out.xml"), AppendInstanceXML(nil, in), true)
			} else {
				checkGolden(t, filepath.Join("testdata", "decode", base+".out.json"), AppendInstanceJSONWrapped(nil, in), true)
			}
		})
	}
}

// TestDecodeApplicationsFixtures decodes registries in the shapes of
// fargo's samples (old servers: single objects for one-element lists,
// numbers as strings, versions__delta as a number).
func TestDecodeApplicationsFixtures(t *testing.T) {
	collector := func(t *testing.T, in *InstanceInfo) {
		eq(t, "HostName", in.HostName, "192.168.50.10:7101")
		eq(t, "OverriddenStatus", in.OverriddenStatus, StatusUp) // "overriddenstatus"
		eq(t, "Port", in.Port, Port{7101, true})
		eq(t, "SecurePort", in.SecurePort, Port{7101, true})
		eq(t, "LeaseInfo.ServiceUpTimestamp", in.LeaseInfo.ServiceUpTimestamp, 1402450000100)
		eq(t, "ActionType", in.ActionType, ActionModified)
		eq(t, "metadata docs", in.Metadata["docs"], "https://192.168.50.10:7101/api-docs")
	}
	tests := []struct {
		file      string
		delta     int64
		hash      string
		instances map[string]int
		check     func(t *testing.T, apps *Applications)
	}{
		{"old-apps-single-instance.json", 1, "UP_1_", map[string]int{"METRICS.COLLECTOR": 1}, func(t *testing.T, a *Applications) {
			collector(t, a.Applications[0].Instances[0])
		}},
		{"old-apps-single-instance-v122.json", 1, "UP_1_", map[string]int{"METRICS.COLLECTOR": 1}, func(t *testing.T, a *Applications) {
			collector(t, a.Applications[0].Instances[0])
		}},
		{"old-apps-instance-array.json", 1, "UP_2_", map[string]int{"LOADSIM": 2}, func(t *testing.T, a *Applications) {
			eq(t, "second host", a.Applications[0].Instances[1].HostName, "qa32:7100")
		}},
		{"old-apps-mixed.json", 1, "UP_3_", map[string]int{"METRICS.COLLECTOR": 1, "LOADSIM": 2}, nil},
		{"old-apps-single-application.json", 42, "UP_1_", map[string]int{"LOADSIM": 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			apps, err := DecodeApplicationsJSON(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "VersionsDelta", apps.VersionsDelta, tt.delta)
			eq(t, "AppsHashcode", apps.AppsHashcode, tt.hash)
			eq(t, "HashCode()", apps.HashCode(), tt.hash)
			got := map[string]int{}
			for _, a := range apps.Applications {
				got[a.Name] = len(a.Instances)
			}
			if !reflect.DeepEqual(got, tt.instances) {
				t.Errorf("instances per app = %v, want %v", got, tt.instances)
			}
			if tt.check != nil {
				tt.check(t, apps)
			}
			base := strings.TrimSuffix(tt.file, ".json")
			out := AppendApplicationsJSON(nil, apps)
			checkGolden(t, filepath.Join("testdata", "decode", base+".out.json"), out, true)
			// The re-encoded form decodes to the same value.
			again, err := DecodeApplicationsJSON(out)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, apps) {
				t.Error("re-encoded registry decodes differently")
			}
		})
	}
}

func TestDecodeInstanceDefaults(t *testing.T) {
	for _, body := range []string{
		`{"instance":{"hostName":"h","app":"a","ipAddr":"1.2.3.4"}}`,
		`{"hostName":"h","app":"a","ipAddr":"1.2.3.4"}`,
		`{"hostName":"h","app":"a","ipAddr":"1.2.3.4","status":null,"overriddenStatus":null,"port":null,"securePort":null,"countryId":null,"leaseInfo":null,"metadata":null,"dataCenterInfo":null}`,
	} {
		in, err := DecodeInstanceJSON([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		want := &InstanceInfo{
			HostName: "h", App: "A", IPAddr: "1.2.3.4",
			Status: StatusUp, OverriddenStatus: StatusUnknown,
			Port: Port{7001, true}, SecurePort: Port{7002, false},
			CountryID: 1, LeaseInfo: &LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
			Metadata: map[string]string{},
		}
		if !reflect.DeepEqual(in, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", body, in, want)
		}
	}
	x, err := DecodeInstanceXML([]byte(`<instance><hostName>h</hostName><app>a</app><ipAddr>1.2.3.4</ipAddr><port/><securePort enabled="TRUE"/></instance>`))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "XML Status", x.Status, StatusUp)
	eq(t, "XML Port", x.Port, Port{7001, true})
	eq(t, "XML SecurePort", x.SecurePort, Port{7002, true})
	eq(t, "XML CountryID", x.CountryID, 1)
	eqLease(t, x.LeaseInfo, 30, 90)
}

func TestDecodeLenientJSON(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, in *InstanceInfo)
	}{
		{"status case", `{"status":"out_of_service","overriddenStatus":"Down"}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "Status", in.Status, StatusOutOfService)
			eq(t, "OverriddenStatus", in.OverriddenStatus, StatusDown)
		}},
		{"unknown status", `{"status":"SLEEPING","overriddenstatus":""}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "Status", in.Status, StatusUnknown)
			eq(t, "OverriddenStatus", in.OverriddenStatus, StatusUnknown)
		}},
		{"old override spelling", `{"overriddenstatus":"UP"}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "OverriddenStatus", in.OverriddenStatus, StatusUp)
		}},
		{"numbers as strings", `{"countryId":"3","port":{"$":"80","@enabled":"false"},"securePort":{"$":"443","@enabled":"TRUE"},"lastDirtyTimestamp":"17","lastUpdatedTimestamp":18,"isCoordinatingDiscoveryServer":"true"}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "CountryID", in.CountryID, 3)
			eq(t, "Port", in.Port, Port{80, false})
			eq(t, "SecurePort", in.SecurePort, Port{443, true})
			eq(t, "LastDirtyTimestamp", in.LastDirtyTimestamp, 17)
			eq(t, "LastUpdatedTimestamp", in.LastUpdatedTimestamp, 18)
			eq(t, "IsCoordinatingDiscoveryServer", in.IsCoordinatingDiscoveryServer, true)
		}},
		{"bare port numbers", `{"port":8080,"securePort":"8443"}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "Port", in.Port, Port{8080, true})
			eq(t, "SecurePort", in.SecurePort, Port{8443, false})
		}},
		{"port without $", `{"port":{"@enabled":"false"},"securePort":{"@enabled":true}}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "Port", in.Port, Port{7001, false})
			eq(t, "SecurePort", in.SecurePort, Port{7002, true})
		}},
		{"float numbers", `{"port":{"$":8080.0},"countryId":1e0,"lastDirtyTimestamp":1.7e12}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "Port", in.Port, Port{8080, true})
			eq(t, "CountryID", in.CountryID, 1)
			eq(t, "LastDirtyTimestamp", in.LastDirtyTimestamp, 1700000000000)
		}},
		{"lease", `{"leaseInfo":{"renewalIntervalInSecs":-1,"durationInSecs":"45","renewalTimestamp":5,"registrationTimestamp":"4"}}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "LeaseInfo", *in.LeaseInfo, LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 45, RegistrationTimestamp: 4, LastRenewalTimestamp: 5})
		}},
		{"lease both names", `{"leaseInfo":{"lastRenewalTimestamp":6,"renewalTimestamp":5}}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "LastRenewalTimestamp", in.LeaseInfo.LastRenewalTimestamp, 6)
		}},
		{"metadata coercion", `{"metadata":{"@class":"java.util.HashMap","n":8080,"f":1.5,"b":true,"z":null,"o":{"a":[1]},"s":"x\u00e9"}}`, func(t *testing.T, in *InstanceInfo) {
			eqMap(t, "Metadata", in.Metadata, map[string]string{"n": "8080", "f": "1.5", "b": "true", "o": `{"a":[1]}`, "s": "xé"})
		}},
		{"unknown keys", `{"hostName":"h","somethingNew":{"deep":[1,2,{"x":null}]},"sid":"abc"}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "HostName", in.HostName, "h")
			eq(t, "SID", in.SID, "abc")
		}},
		{"scalars as strings", `{"hostName":12,"vipAddress":true}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "HostName", in.HostName, "12")
			eq(t, "VIPAddress", in.VIPAddress, "true")
		}},
		{"data center without class", `{"dataCenterInfo":{"name":"netflix","metadata":{"x":"y"}}}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "Name", in.DataCenterInfo.Name, DataCenterNetflix)
			eq(t, "Metadata nil", in.DataCenterInfo.Metadata == nil, true)
		}},
		{"amazon without metadata", `{"dataCenterInfo":{"@class":"com.netflix.appinfo.AmazonInfo","name":"Amazon"}}`, func(t *testing.T, in *InstanceInfo) {
			eqMap(t, "Metadata", in.DataCenterInfo.Metadata, map[string]string{})
		}},
		{"action type case", `{"actionType":"deleted"}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "ActionType", in.ActionType, ActionDeleted)
		}},
		{"escapes", "{\"hostName\":\"a\\\"b\\u2028\\ud83d\\ude00\xc3\xa9\\ufffd\"}", func(t *testing.T, in *InstanceInfo) {
			eq(t, "HostName", in.HostName, "a\"b\u2028😀é\uFFFD")
		}},
		{"byte order mark", "\uFEFF {\"hostName\":\"h\"}", func(t *testing.T, in *InstanceInfo) {
			eq(t, "HostName", in.HostName, "h")
		}},
		{"wrapper wins", `{"instance":{"hostName":"inner"},"hostName":"outer"}`, func(t *testing.T, in *InstanceInfo) {
			eq(t, "HostName", in.HostName, "inner")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := DecodeInstanceJSON([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, in)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	jsonBodies := []string{
		``,
		`   `,
		`null`,
		`[]`,
		`"instance"`,
		`{`,
		`{"instance":{"hostName":"h"}`,
		`{"instance":"x"}`,
		`{"hostName":["a"]}`,
		`{"port":{"$":"eighty"}}`,
		`{"port":{"$":99999999999999999999}}`,
		`{"port":true}`,
		`{"countryId":true}`,
		`{"lastDirtyTimestamp":"0x10"}`,
		`{"lastDirtyTimestamp":"NaN"}`,
		`{"metadata":[1]}`,
		`{"dataCenterInfo":"MyOwn"}`,
		`{"isCoordinatingDiscoveryServer":{}}`,
		`{"hostName":"h"} trailing`,
	}
	for _, body := range jsonBodies {
		_, err := DecodeInstanceJSON([]byte(body))
		if err == nil {
			t.Errorf("DecodeInstanceJSON(%q): no error", body)
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeInstanceJSON(%q): %v does not match ErrMalformed", body, err)
		}
	}
	for _, body := range []string{`[]`, `{"applications":{"application":"x"}}`, `{"applications":{"versions__delta":"v"}}`, `{"application":[{"instance":[{"port":"x"}]}]}`} {
		if _, err := DecodeApplicationsJSON([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeApplicationsJSON(%q) = %v, want ErrMalformed", body, err)
		}
	}
	for _, body := range []string{`1`, `{"application":{"instance":7}}`} {
		if _, err := DecodeApplicationJSON([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeApplicationJSON(%q) = %v, want ErrMalformed", body, err)
		}
	}
	xmlBodies := []string{
		``,
		`<!-- nothing -->`,
		`<instance>`,
		`<instance><hostName>h</instance>`,
		`<instance><port>eighty</port></instance>`,
		`<instance><countryId>x</countryId></instance>`,
		`<instance><leaseInfo><durationInSecs>x</durationInSecs></leaseInfo></instance>`,
		`<instance><lastDirtyTimestamp>99999999999999999999</lastDirtyTimestamp></instance>`,
		`<instance></instance><instance></instance>`,
		`<instance></instance>text`,
		`<instance><hostName>&nbsp;</hostName></instance>`,
		`<?xml version="1.0" encoding="EBCDIC"?><instance/>`,
	}
	for _, body := range xmlBodies {
		_, err := DecodeInstanceXML([]byte(body))
		if err == nil {
			t.Errorf("DecodeInstanceXML(%q): no error", body)
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeInstanceXML(%q): %v does not match ErrMalformed", body, err)
		}
	}
	for _, body := range []string{`<applications><versions__delta>x</versions__delta></applications>`, `<applications><application><instance><port>x</port></instance></application></applications>`} {
		if _, err := DecodeApplicationsXML([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeApplicationsXML(%q) = %v, want ErrMalformed", body, err)
		}
	}
	if _, err := DecodeApplicationXML([]byte(`<application><instance><countryId>x</countryId></instance></application>`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("DecodeApplicationXML: %v, want ErrMalformed", err)
	}
}

// TestDecodeErrorMessages checks that errors name what was wrong.
func TestDecodeErrorMessages(t *testing.T) {
	tests := []struct {
		body, want string
		xml        bool
	}{
		{body: `{"instance":{"port":{"$":"eighty"}}}`, want: "port"},
		{body: `{"instance":{"leaseInfo":{"registrationTimestamp":"x"}}}`, want: "leaseInfo.registrationTimestamp"},
		{body: `{"instance":{"hostName":"h"`, want: "unexpected end of JSON input"},
		{body: `[1]`, want: "expected a JSON object"},
		{body: `<instance><countryId>x</countryId></instance>`, want: "countryId", xml: true},
		{body: `<instance>`, want: "unexpected EOF", xml: true},
	}
	for _, tt := range tests {
		var err error
		if tt.xml {
			_, err = DecodeInstanceXML([]byte(tt.body))
		} else {
			_, err = DecodeInstanceJSON([]byte(tt.body))
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "eureka: malformed payload: instance ") {
			t.Errorf("%s: error %v, want it to mention %q", tt.body, err, tt.want)
		}
	}
}

func TestDecodeLenientXML(t *testing.T) {
	in, err := DecodeInstanceXML([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?>
<instance>
  <hostName>caf` + "\xe9" + `</hostName>
  <status> Starting </status>
  <overriddenstatus>bogus</overriddenstatus>
  <port enabled="false"> 81 </port>
  <dataCenterInfo><name>amazon</name><metadata><instance-id>i-1</instance-id></metadata></dataCenterInfo>
  <leaseInfo><renewalTimestamp>9</renewalTimestamp><durationInSecs>99999999999</durationInSecs><renewalIntervalInSecs>10</renewalIntervalInSecs></leaseInfo>
  <metadata><a_x0020_b>1</a_x0020_b><_x0031_st>2</_x0031_st><x><nested>n</nested>t</x><empty/></metadata>
  <actionType>Modified</actionType>
</instance>`))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "HostName", in.HostName, "café")
	eq(t, "Status", in.Status, StatusStarting)
	eq(t, "OverriddenStatus", in.OverriddenStatus, StatusUnknown)
	eq(t, "Port", in.Port, Port{81, false})
	eq(t, "DataCenterInfo.Name", in.DataCenterInfo.Name, DataCenterAmazon)
	eq(t, "ID()", in.ID(), "i-1")
	eq(t, "LastRenewalTimestamp", in.LeaseInfo.LastRenewalTimestamp, 9)
	eqLease(t, in.LeaseInfo, 10, 90) // out of range → default
	eqMap(t, "Metadata", in.Metadata, map[string]string{"a b": "1", "1st": "2", "x": "t", "empty": ""})
	eq(t, "ActionType", in.ActionType, ActionModified)
}

func TestDecodeApplicationVariants(t *testing.T) {
	for _, body := range []string{
		`{"application":{"name":"A","instance":[{"hostName":"h1"},{"hostName":"h2"}]}}`,
		`{"name":"A","instance":[{"hostName":"h1"},null,{"hostName":"h2"}]}`,
	} {
		app, err := DecodeApplicationJSON([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if app.Name != "A" || len(app.Instances) != 2 || app.Instances[1].HostName != "h2" {
			t.Errorf("%s: got %s", body, AppendApplicationJSON(nil, app))
		}
	}
	app, err := DecodeApplicationJSON([]byte(`{"application":{"name":"A","instance":{"hostName":"h1"}}}`))
	if err != nil || len(app.Instances) != 1 {
		t.Fatalf("single instance object: %v %v", app, err)
	}
	apps, err := DecodeApplicationsJSON([]byte(`{"versions_delta":3,"apps_hashcode":"UP_1_","application":[null,{"name":"A","instance":null}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if apps.VersionsDelta != 3 || apps.AppsHashcode != "UP_1_" || len(apps.Applications) != 1 || len(apps.Applications[0].Instances) != 0 {
		t.Errorf("got %s", AppendApplicationsJSON(nil, apps))
	}
	xa, err := DecodeApplicationsXML([]byte(`<applications><versions_delta>5</versions_delta><application><name>A</name><instance><hostName>h</hostName></instance></application></applications>`))
	if err != nil {
		t.Fatal(err)
	}
	if xa.VersionsDelta != 5 || len(xa.Applications) != 1 || xa.Applications[0].Instances[0].HostName != "h" {
		t.Errorf("got %s", AppendApplicationsJSON(nil, xa))
	}
	empty, err := DecodeApplicationsXML(readGolden(t, "empty.xml"))
	if err != nil || empty.VersionsDelta != 1 || empty.AppsHashcode != "" || len(empty.Applications) != 0 {
		t.Errorf("empty.xml: %+v %v", empty, err)
	}
	emptyJSON, err := DecodeApplicationsJSON(readGolden(t, "empty.json"))
	if err != nil || emptyJSON.VersionsDelta != 1 || len(emptyJSON.Applications) != 0 {
		t.Errorf("empty.json: %+v %v", emptyJSON, err)
	}
	xapp, err := DecodeApplicationXML(readGolden(t, "application.xml"))
	if err != nil || xapp.Name != "ORDERS" || len(xapp.Instances) != 2 {
		t.Errorf("application.xml: %+v %v", xapp, err)
	}
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
