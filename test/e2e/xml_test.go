package e2e

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// xmlInstance is an <instance> as the server emits it (§3.6).
type xmlInstance struct {
	XMLName          xml.Name
	InstanceID       string  `xml:"instanceId"`
	HostName         string  `xml:"hostName"`
	App              string  `xml:"app"`
	IPAddr           string  `xml:"ipAddr"`
	Status           string  `xml:"status"`
	OverriddenStatus string  `xml:"overriddenstatus"`
	CamelOverridden  *string `xml:"overriddenStatus"`
	Port             xmlPort `xml:"port"`
	SecurePort       xmlPort `xml:"securePort"`
	CountryID        string  `xml:"countryId"`
	DataCenterInfo   struct {
		Class string `xml:"class,attr"`
		Name  string `xml:"name"`
	} `xml:"dataCenterInfo"`
	LeaseInfo struct {
		RenewalIntervalInSecs string `xml:"renewalIntervalInSecs"`
		DurationInSecs        string `xml:"durationInSecs"`
		RegistrationTimestamp string `xml:"registrationTimestamp"`
		LastRenewalTimestamp  string `xml:"lastRenewalTimestamp"`
		EvictionTimestamp     string `xml:"evictionTimestamp"`
		ServiceUpTimestamp    string `xml:"serviceUpTimestamp"`
	} `xml:"leaseInfo"`
	Metadata struct {
		Class   string     `xml:"class,attr"`
		Entries []xmlEntry `xml:",any"`
	} `xml:"metadata"`
	HomePageURL          string `xml:"homePageUrl"`
	VipAddress           string `xml:"vipAddress"`
	SecureVipAddress     string `xml:"secureVipAddress"`
	IsCoordinating       string `xml:"isCoordinatingDiscoveryServer"`
	LastUpdatedTimestamp string `xml:"lastUpdatedTimestamp"`
	LastDirtyTimestamp   string `xml:"lastDirtyTimestamp"`
	ActionType           string `xml:"actionType"`
}

type xmlPort struct {
	Enabled string `xml:"enabled,attr"`
	Value   string `xml:",chardata"`
}

type xmlEntry struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// xmlApplications is <applications> (§3.6).
type xmlApplications struct {
	XMLName       xml.Name
	VersionsDelta string `xml:"versions__delta"`
	AppsHashcode  string `xml:"apps__hashcode"`
	Applications  []struct {
		Name      string        `xml:"name"`
		Instances []xmlInstance `xml:"instance"`
	} `xml:"application"`
}

// fargoXMLBody is shaped like fargo's XML register body: no class
// attribute, empty overriddenstatus, zero lease values, XStream-escaped
// metadata names (my__key is my_key, dollar_-key is dollar$key).
const fargoXMLBody = `<instance><instanceId>xml-1.e2e.local:inventory:8080</instanceId><hostName>xml-1.e2e.local</hostName>` +
	`<app>inventory</app><ipAddr>10.2.3.4</ipAddr><vipAddress>inventory</vipAddress><secureVipAddress>inventory-secure</secureVipAddress>` +
	`<status>UP</status><overriddenstatus></overriddenstatus><port enabled="true">8080</port><securePort enabled="true">8443</securePort>` +
	`<homePageUrl>http://xml-1.e2e.local:8080/</homePageUrl><statusPageUrl>http://xml-1.e2e.local:8080/info</statusPageUrl>` +
	`<healthCheckUrl>http://xml-1.e2e.local:8080/health</healthCheckUrl><countryId>1</countryId>` +
	`<dataCenterInfo><name>MyOwn</name><metadata></metadata></dataCenterInfo>` +
	`<leaseInfo><renewalIntervalInSecs>0</renewalIntervalInSecs><durationInSecs>0</durationInSecs><registrationTimestamp>0</registrationTimestamp>` +
	`<lastRenewalTimestamp>0</lastRenewalTimestamp><evictionTimestamp>0</evictionTimestamp><serviceUpTimestamp>0</serviceUpTimestamp></leaseInfo>` +
	`<metadata><zone>zone-b</zone><my__key>escaped</my__key><dollar_-key>d</dollar_-key><note>a&lt;b &amp; c</note></metadata></instance>`

// TestXMLRegisterAndRead registers XML bodies (fargo, curl users) and reads
// XML back: element names, attributes, escaping and defaults of §3.6.
func TestXMLRegisterAndRead(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const app, id = "INVENTORY", "xml-1.e2e.local:inventory:8080"
	r := do(t, http.MethodPost, s.Base+"apps/inventory", []byte(fargoXMLBody), "Content-Type", "application/xml", "Accept", "application/xml")
	if r.Status != http.StatusNoContent {
		t.Fatalf("XML register: status %d %q, want 204", r.Status, r.Body)
	}

	// JSON view of the XML registration.
	in := mustGetInstance(t, s.Base, app, id)
	expectFields(t, in, map[string]any{
		"app": app, "status": "UP", "overriddenStatus": "UNKNOWN", "port.$": int64(8080), "port.@enabled": "true",
		"securePort.$": int64(8443), "securePort.@enabled": "true", "dataCenterInfo.@class": classDefaultDC,
		"leaseInfo.renewalIntervalInSecs": int64(30), "leaseInfo.durationInSecs": int64(90),
		"metadata.zone": "zone-b", "metadata.my_key": "escaped", "metadata.dollar$key": "d", "metadata.note": "a<b & c",
		"vipAddress": "inventory", "secureVipAddress": "inventory-secure", "healthCheckUrl": "http://xml-1.e2e.local:8080/health",
	})
	if md, _ := in["metadata"].(jsonObject); len(md) != 4 {
		t.Errorf("metadata %v, want exactly zone, my_key, dollar$key, note", md)
	}

	// XML view: explicit Accept and no Accept at all (§1.4: XML by default).
	for _, hdrs := range [][]string{{"Accept", "application/xml"}, nil} {
		r := do(t, http.MethodGet, s.Base+"apps/"+app+"/"+id, nil, hdrs...)
		if r.Status != http.StatusOK {
			t.Fatalf("GET instance as XML (%q): status %d", hdrs, r.Status)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
			t.Errorf("GET instance (%q): Content-Type %q, want application/xml", hdrs, ct)
		}
		var x xmlInstance
		if err := xml.Unmarshal(r.Body, &x); err != nil {
			t.Fatalf("GET instance (%q): %v\n%s", hdrs, err, r.Body)
		}
		checkXMLInstance(t, fmt.Sprintf("GET instance (%q)", hdrs), &x, r.Body)
	}

	// Full registry as XML, as fargo's default mode reads it.
	var apps xmlApplications
	eventually(t, "GET apps as XML lists the instance", func() error {
		r := do(t, http.MethodGet, s.Base+"apps", nil, "Accept", "application/xml")
		if r.Status != http.StatusOK {
			return fmt.Errorf("status %d", r.Status)
		}
		apps = xmlApplications{}
		if err := xml.Unmarshal(r.Body, &apps); err != nil {
			return fmt.Errorf("%v\n%s", err, r.Body)
		}
		if len(apps.Applications) != 1 || len(apps.Applications[0].Instances) != 1 {
			return fmt.Errorf("want one application with one instance:\n%s", r.Body)
		}
		return nil
	})
	if apps.XMLName.Local != "applications" || apps.VersionsDelta != "1" || apps.AppsHashcode != "UP_1_" || apps.Applications[0].Name != app {
		t.Errorf("GET apps XML: root <%s> versions__delta %q apps__hashcode %q name %q; want <applications> 1 UP_1_ %s",
			apps.XMLName.Local, apps.VersionsDelta, apps.AppsHashcode, apps.Applications[0].Name, app)
	}
	checkXMLInstance(t, "GET apps XML", &apps.Applications[0].Instances[0], nil)

	// §3.6.1 defaults: no enabled attribute means port enabled, secure port
	// disabled. Without metadata the XML shows the EmptyMap class (§3.4).
	const bare = `<instance><instanceId>xml-2</instanceId><hostName>xml-2.e2e.local</hostName><app>INVENTORY</app><ipAddr>10.2.3.5</ipAddr>` +
		`<status>up</status><port>9090</port><securePort>9443</securePort><dataCenterInfo><name>MyOwn</name></dataCenterInfo></instance>`
	r = do(t, http.MethodPost, s.Base+"apps/INVENTORY", []byte(bare), "Content-Type", "application/xml; charset=UTF-8")
	if r.Status != http.StatusNoContent {
		t.Fatalf("XML register without enabled attributes: status %d %q, want 204", r.Status, r.Body)
	}
	in = mustGetInstance(t, s.Base, app, "xml-2")
	expectFields(t, in, map[string]any{
		"status": "UP", "port.$": int64(9090), "port.@enabled": "true", "securePort.$": int64(9443), "securePort.@enabled": "false",
	})
	expectEmptyMetadata(t, in)
	r = do(t, http.MethodGet, s.Base+"apps/"+app+"/xml-2", nil, "Accept", "application/xml")
	var x xmlInstance
	if err := xml.Unmarshal(r.Body, &x); err != nil {
		t.Fatalf("GET xml-2 as XML: %v\n%s", err, r.Body)
	}
	if x.Metadata.Class != "java.util.Collections$EmptyMap" || len(x.Metadata.Entries) != 0 {
		t.Errorf("empty metadata as XML: class %q with %d children, want <metadata class=\"java.util.Collections$EmptyMap\"/> (§3.4)\n%s",
			x.Metadata.Class, len(x.Metadata.Entries), r.Body)
	}
}

// checkXMLInstance checks the XML rendering of the fargo-shaped instance
// registered by TestXMLRegisterAndRead.
func checkXMLInstance(t *testing.T, via string, x *xmlInstance, body []byte) {
	t.Helper()
	type field struct{ name, got, want string }
	fields := []field{
		{"root element", x.XMLName.Local, "instance"},
		{"instanceId", x.InstanceID, "xml-1.e2e.local:inventory:8080"},
		{"hostName", x.HostName, "xml-1.e2e.local"},
		{"app", x.App, "INVENTORY"},
		{"ipAddr", x.IPAddr, "10.2.3.4"},
		{"status", x.Status, "UP"},
		{"overriddenstatus", x.OverriddenStatus, "UNKNOWN"},
		{"port", x.Port.Value, "8080"},
		{"port enabled", x.Port.Enabled, "true"},
		{"securePort", x.SecurePort.Value, "8443"},
		{"securePort enabled", x.SecurePort.Enabled, "true"},
		{"countryId", x.CountryID, "1"},
		{"dataCenterInfo class", x.DataCenterInfo.Class, classDefaultDC},
		{"dataCenterInfo name", x.DataCenterInfo.Name, "MyOwn"},
		{"leaseInfo renewalIntervalInSecs", x.LeaseInfo.RenewalIntervalInSecs, "30"},
		{"leaseInfo durationInSecs", x.LeaseInfo.DurationInSecs, "90"},
		{"leaseInfo evictionTimestamp", x.LeaseInfo.EvictionTimestamp, "0"},
		{"homePageUrl", x.HomePageURL, "http://xml-1.e2e.local:8080/"},
		{"vipAddress", x.VipAddress, "inventory"},
		{"secureVipAddress", x.SecureVipAddress, "inventory-secure"},
		{"isCoordinatingDiscoveryServer", x.IsCoordinating, "false"},
		{"actionType", x.ActionType, "ADDED"},
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s: %s = %q, want %q", via, f.name, f.got, f.want)
		}
	}
	if x.CamelOverridden != nil {
		t.Errorf("%s: XML has <overriddenStatus>; XML spells it <overriddenstatus> (§3.6)", via)
	}
	for _, ts := range []struct{ name, v string }{
		{"registrationTimestamp", x.LeaseInfo.RegistrationTimestamp}, {"lastRenewalTimestamp", x.LeaseInfo.LastRenewalTimestamp},
		{"serviceUpTimestamp", x.LeaseInfo.ServiceUpTimestamp}, {"lastUpdatedTimestamp", x.LastUpdatedTimestamp}, {"lastDirtyTimestamp", x.LastDirtyTimestamp},
	} {
		if ts.v == "" || strings.Trim(ts.v, "0123456789") != "" || ts.v == "0" {
			t.Errorf("%s: %s = %q, want a positive epoch ms", via, ts.name, ts.v)
		}
	}
	got := map[string]string{}
	for _, e := range x.Metadata.Entries {
		got[e.XMLName.Local] = e.Value
	}
	// Element names are XStream-escaped on output (§3.6.2).
	want := map[string]string{"zone": "zone-b", "my__key": "escaped", "dollar_-key": "d", "note": "a<b & c"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: metadata elements %v, want %v\n%s", via, got, want, body)
	}
}
