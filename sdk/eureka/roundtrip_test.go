package eureka

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

// trickyInstance has metadata keys and values that exercise both codecs'
// escaping.
func trickyInstance() *InstanceInfo {
	in := ordersInstance1()
	in.Metadata = map[string]string{
		"management.port":    "8081",
		"zone-name":          "zone-a",
		"snake_case_key":     "x_y",
		"dollar$key":         "$5",
		"_leading":           "u",
		"$leading":           "d",
		"mixed._-$.key":      "m",
		"a__b":               "double underscore",
		"a_-b":               "looks escaped",
		"a_x0020_b":          "looks hex-escaped",
		"1starts-with-digit": "n",
		"-dash":              "n",
		".dot":               "n",
		"with space":         "s",
		"colon:key":          "c",
		"<tag>&\"'":          "<v>&\"'",
		"café":               "ünïcödé ✓ 𝄞",
		"ctrl":               "tab\there\nnewline\rcr",
		"json":               `{"nested":"json \u2028"}`,
	}
	in.HomePageURL = `http://h/?a=1&b=<2>`
	in.AppGroupName = "GROUP \"Q\""
	return in
}

// metadataIDInstance has no instanceId but a Spring Cloud metadata one.
func metadataIDInstance() *InstanceInfo {
	in := ordersInstance2()
	in.InstanceID = ""
	in.Metadata = map[string]string{"instanceId": "orders:1"}
	return in
}

func TestRoundTripJSON(t *testing.T) {
	for _, in := range []*InstanceInfo{trickyInstance(), paymentsInstance(), ordersInstance2(), metadataIDInstance()} {
		want := normalize(in.Clone())
		b := AppendInstanceJSONWrapped(nil, in)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %s", b)
		}
		got, err := DecodeInstanceJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("JSON round trip:\n got %+v\nwant %+v", got, want)
		}
		// Bytes are stable: JSON → struct → JSON.
		if b2 := AppendInstanceJSONWrapped(nil, got); !bytes.Equal(b, b2) {
			t.Errorf("re-encoding differs:\n%s\n%s", b, b2)
		}
	}
}

func TestRoundTripXML(t *testing.T) {
	for _, in := range []*InstanceInfo{trickyInstance(), paymentsInstance(), ordersInstance2(), metadataIDInstance()} {
		want := normalizeXML(in.Clone())
		b := AppendInstanceXML(nil, in)
		got, err := DecodeInstanceXML(b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("XML round trip:\n got %+v\nwant %+v\n%s", got, want, b)
		}
		if b2 := AppendInstanceXML(nil, got); !bytes.Equal(b, b2) {
			t.Errorf("re-encoding differs:\n%s\n%s", b, b2)
		}
	}
	apps := testRegistry()
	apps.Applications[0].Instances = append(apps.Applications[0].Instances, trickyInstance())
	b := AppendApplicationsXML(nil, apps)
	got, err := DecodeApplicationsXML(b)
	if err != nil {
		t.Fatal(err)
	}
	if b2 := AppendApplicationsXML(nil, got); !bytes.Equal(b, b2) {
		t.Errorf("applications XML re-encoding differs:\n%s\n%s", b, b2)
	}
	bj := AppendApplicationsJSON(nil, apps)
	gotJ, err := DecodeApplicationsJSON(bj)
	if err != nil {
		t.Fatal(err)
	}
	if b2 := AppendApplicationsJSON(nil, gotJ); !bytes.Equal(bj, b2) {
		t.Errorf("applications JSON re-encoding differs:\n%s\n%s", bj, b2)
	}
	if !reflect.DeepEqual(got, gotJ) {
		t.Error("the XML and JSON forms decode differently")
	}
}

func TestXMLMetadataNames(t *testing.T) {
	tests := []struct{ key, name string }{
		{"zone", "zone"},
		{"management.port", "management.port"},
		{"instance-id", "instance-id"},
		{"snake_case", "snake__case"},
		{"price$usd", "price_-usd"},
		{"_x", "__x"},
		{"$", "_-"},
		{"1st", "_x0031_st"},
		{"-a", "_x002D_a"},
		{".a", "_x002E_a"},
		{"a b", "a_x0020_b"},
		{"a:b", "a_x003A_b"},
		{"é", "_x00E9_"},
		{"𝄞", "_x1D11E_"},
		{"a<b>", "a_x003C_b_x003E_"},
	}
	for _, tt := range tests {
		if got := string(appendXMLName(nil, tt.key)); got != tt.name {
			t.Errorf("appendXMLName(%q) = %q, want %q", tt.key, got, tt.name)
		}
		if got := decodeXMLName(tt.name); got != tt.key {
			t.Errorf("decodeXMLName(%q) = %q, want %q", tt.name, got, tt.key)
		}
		// The name is one Go's XML decoder accepts as an element name.
		doc := "<" + tt.name + "/>"
		var v struct {
			XMLName xml.Name
		}
		if err := xml.Unmarshal([]byte(doc), &v); err != nil || v.XMLName.Local != tt.name {
			t.Errorf("%s: %v (%q)", doc, err, v.XMLName.Local)
		}
	}
	// Lenient decoding of names nobody escaped (fargo).
	for name, key := range map[string]string{
		"team_name":   "team_name",
		"a_":          "a_",
		"_":           "_",
		"a_xZZ_":      "a_xZZ_",
		"a_x_":        "a_x_",
		"a_xD800_":    "a_xD800_", // a surrogate is not a character
		"a_x1234567_": "a_x1234567_",
		"a_x41":       "a_x41",
		"a_x41_":      "aA",
	} {
		if got := decodeXMLName(name); got != key {
			t.Errorf("decodeXMLName(%q) = %q, want %q", name, got, key)
		}
	}
}

func TestXMLEmptyKeyIsDropped(t *testing.T) {
	in := ordersInstance2()
	in.Metadata = map[string]string{"": "x"}
	b := AppendInstanceXML(nil, in)
	if !bytes.Contains(b, []byte(`<metadata class="java.util.Collections$EmptyMap"/>`)) {
		t.Errorf("got %s", b)
	}
	in.Metadata = map[string]string{"": "x", "k": "v"}
	got, err := DecodeInstanceXML(AppendInstanceXML(nil, in))
	if err != nil || !reflect.DeepEqual(got.Metadata, map[string]string{"k": "v"}) {
		t.Errorf("got %v %v", got.Metadata, err)
	}
	// JSON keeps it.
	gotJ, err := DecodeInstanceJSON(AppendInstanceJSON(nil, in))
	if err != nil || !reflect.DeepEqual(gotJ.Metadata, in.Metadata) {
		t.Errorf("got %v %v", gotJ.Metadata, err)
	}
}

func TestXMLTextEscaping(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a&b<c>d"e'f`, "a&amp;b&lt;c&gt;d&quot;e&apos;f"},
		{"line\nbreak\ttab", "line\nbreak\ttab"},
		{"cr\r", "cr&#xD;"},
		{"nul\x00bell\x07", "nul\uFFFDbell\uFFFD"},
		{"bad\xff", "bad\uFFFD"},
		{"\uFFFE\uFFFF\uFFFD", "\uFFFD\uFFFD\uFFFD"},
		{"𝄞é", "𝄞é"},
	}
	for _, tt := range tests {
		got := string(appendXMLText(nil, tt.in))
		if got != tt.want {
			t.Errorf("appendXMLText(%q) = %q, want %q", tt.in, got, tt.want)
		}
		var v struct {
			S string `xml:"s"`
		}
		if err := xml.Unmarshal([]byte("<r><s>"+got+"</s></r>"), &v); err != nil {
			t.Errorf("%q: %v", got, err)
		}
	}
}

// TestEncodeNilAndEmpty checks that odd values neither panic nor produce
// broken documents.
func TestEncodeNilAndEmpty(t *testing.T) {
	if got := string(AppendInstanceJSON(nil, nil)); got != "null" {
		t.Errorf("nil instance JSON = %s", got)
	}
	if got := string(AppendInstanceXML(nil, nil)); got != "<instance/>" {
		t.Errorf("nil instance XML = %s", got)
	}
	var zero InstanceInfo
	b := AppendInstanceJSON(nil, &zero)
	want := `{"hostName":"","app":"","ipAddr":"","status":"UNKNOWN","overriddenStatus":"UNKNOWN","port":{"$":0,"@enabled":"false"},"securePort":{"$":0,"@enabled":"false"},"countryId":1,"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},"metadata":{"@class":"java.util.Collections$EmptyMap"},"isCoordinatingDiscoveryServer":"false","lastUpdatedTimestamp":"0","lastDirtyTimestamp":"0"}`
	if string(b) != want {
		t.Errorf("zero instance:\n got %s\nwant %s", b, want)
	}
	if _, err := DecodeInstanceXML(AppendInstanceXML(nil, &zero)); err != nil {
		t.Error(err)
	}
	apps := &Applications{Applications: []*Application{nil, {Name: "A", Instances: []*InstanceInfo{nil, &zero, nil}}, nil}}
	for _, b := range [][]byte{AppendApplicationsJSON(nil, apps), AppendApplicationsJSON(nil, nil), AppendApplicationJSON(nil, nil)} {
		if !json.Valid(b) {
			t.Errorf("invalid JSON %s", b)
		}
	}
	if got, err := DecodeApplicationsJSON(AppendApplicationsJSON(nil, apps)); err != nil || len(got.Applications) != 1 || len(got.Applications[0].Instances) != 1 {
		t.Errorf("nil entries: %v %v", got, err)
	}
	for _, b := range [][]byte{AppendApplicationsXML(nil, apps), AppendApplicationsXML(nil, nil), AppendApplicationXML(nil, nil)} {
		if err := xml.Unmarshal(b, new(struct{})); err != nil {
			t.Errorf("invalid XML %s: %v", b, err)
		}
	}
	amazon := ordersInstance2()
	amazon.DataCenterInfo = &DataCenterInfo{Name: DataCenterAmazon}
	if b := AppendInstanceJSON(nil, amazon); !bytes.Contains(b, []byte(`"name":"Amazon","metadata":{}}`)) {
		t.Errorf("empty Amazon metadata: %s", b)
	}
	if b := AppendInstanceXML(nil, amazon); !bytes.Contains(b, []byte("<name>Amazon</name>\n    <metadata/>\n  </dataCenterInfo>")) {
		t.Errorf("empty Amazon metadata: %s", b)
	}
}

func TestEncodeInstanceIDRules(t *testing.T) {
	in := ordersInstance2()
	in.InstanceID = ""
	if b := AppendInstanceJSON(nil, in); bytes.Contains(b, []byte("instanceId")) {
		t.Errorf("invented an instanceId: %s", b)
	}
	in.Metadata = map[string]string{"instanceId": "orders:abc123"}
	if b := AppendInstanceJSON(nil, in); !bytes.HasPrefix(b, []byte(`{"instanceId":"10.0.0.6:orders:abc123","hostName"`)) {
		t.Errorf("Spring Cloud instanceId: %s", b)
	}
	in.Metadata = map[string]string{"instanceId": "10.0.0.6:orders:abc123"}
	if b := AppendInstanceJSON(nil, in); !bytes.HasPrefix(b, []byte(`{"instanceId":"10.0.0.6:orders:abc123","hostName"`)) {
		t.Errorf("Spring Cloud instanceId with host prefix: %s", b)
	}
	if b := AppendInstanceXML(nil, in); !bytes.HasPrefix(b, []byte("<instance>\n  <hostName>")) {
		t.Errorf("XML derived an instanceId: %s", b)
	}
	in.Metadata = map[string]string{"instanceId": "  "}
	if b := AppendInstanceJSON(nil, in); !bytes.HasPrefix(b, []byte(`{"hostName"`)) {
		t.Errorf("blank metadata instanceId used: %s", b)
	}
	for sid, want := range map[string]bool{"": false, "na": false, "unknown": false, "NA": true, "s-1": true} {
		in.SID = sid
		if got := bytes.Contains(AppendInstanceJSON(nil, in), []byte(`"sid"`)); got != want {
			t.Errorf("sid %q written = %v", sid, got)
		}
		if got := bytes.Contains(AppendInstanceXML(nil, in), []byte(`<sid>`)); got != want {
			t.Errorf("XML sid %q written = %v", sid, got)
		}
	}
}

// TestEncodeOnlyKnownKeys guards the Spring Cloud client, which fails on
// any instance key outside §3.1.
func TestEncodeOnlyKnownKeys(t *testing.T) {
	known := map[string]bool{}
	for _, k := range strings.Split("instanceId app appGroupName ipAddr sid port securePort homePageUrl statusPageUrl healthCheckUrl secureHealthCheckUrl vipAddress secureVipAddress countryId dataCenterInfo hostName status overriddenStatus leaseInfo isCoordinatingDiscoveryServer metadata lastUpdatedTimestamp lastDirtyTimestamp actionType asgName", " ") {
		known[k] = true
	}
	in := trickyInstance()
	in.SID = "s"
	in.SecureHealthCheckURL = "https://x/"
	in.ASGName = "asg"
	var m map[string]json.RawMessage
	if err := json.Unmarshal(AppendInstanceJSON(nil, in), &m); err != nil {
		t.Fatal(err)
	}
	for k := range m {
		if !known[k] {
			t.Errorf("unknown key %q", k)
		}
	}
	if len(m) != len(known) {
		t.Errorf("%d keys written, want all %d", len(m), len(known))
	}
}

func TestStdlibHooks(t *testing.T) {
	type batchItem struct {
		AppName      string        `json:"appName" xml:"appName"`
		InstanceInfo *InstanceInfo `json:"instanceInfo,omitempty" xml:"instanceInfo,omitempty"`
		Action       string        `json:"action" xml:"action"`
	}
	in := trickyInstance()
	item := batchItem{AppName: "ORDERS", InstanceInfo: in, Action: "Register"}
	b, err := json.Marshal(item)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(`{"appName":"ORDERS","instanceInfo":{"instanceId":"10.0.0.5:orders:8080","hostName"`)) {
		t.Errorf("json.Marshal: %s", b)
	}
	var back batchItem
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.InstanceInfo, normalize(in.Clone())) {
		t.Errorf("json.Unmarshal: %+v", back.InstanceInfo)
	}
	var nullItem batchItem
	if err := json.Unmarshal([]byte(`{"appName":"A","instanceInfo":null}`), &nullItem); err != nil || nullItem.InstanceInfo != nil {
		t.Errorf("null instanceInfo: %v %v", nullItem.InstanceInfo, err)
	}
	if err := json.Unmarshal([]byte(`{"instanceInfo":{"port":"x"}}`), &nullItem); err == nil {
		t.Error("bad instanceInfo accepted")
	}

	xb, err := xml.MarshalIndent(item, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var xback batchItem
	if err := xml.Unmarshal(xb, &xback); err != nil {
		t.Fatalf("%v\n%s", err, xb)
	}
	if !reflect.DeepEqual(xback.InstanceInfo, normalize(in.Clone())) {
		t.Errorf("xml round trip through the hooks:\n%+v\n%s", xback.InstanceInfo, xb)
	}
	if !bytes.Contains(xb, []byte("<instanceInfo>\n    <instanceId>")) {
		t.Errorf("xml.MarshalIndent did not use the field name or indent:\n%s", xb)
	}
	// On its own, an instance is <instance>.
	ib, err := xml.Marshal(paymentsInstance())
	if err != nil || !bytes.HasPrefix(ib, []byte("<instance><instanceId>i-0abc123</instanceId>")) {
		t.Errorf("xml.Marshal(instance) = %s, %v", ib, err)
	}

	apps := testRegistry()
	jb, err := json.Marshal(apps)
	if err != nil || !bytes.Equal(jb, appendApplicationsObjectJSON(nil, apps, nil)) {
		t.Errorf("json.Marshal(apps) = %s, %v", jb, err)
	}
	var appsBack Applications
	if err := json.Unmarshal(jb, &appsBack); err != nil || appsBack.HashCode() != apps.AppsHashcode {
		t.Errorf("json.Unmarshal(apps): %v", err)
	}
	ab, err := xml.Marshal(apps)
	if err != nil || !bytes.HasPrefix(ab, []byte("<applications><versions__delta>1</versions__delta>")) {
		t.Errorf("xml.Marshal(apps) = %.80s, %v", ab, err)
	}
	var appsX Applications
	if err := xml.Unmarshal(ab, &appsX); err != nil || len(appsX.Applications) != 2 {
		t.Errorf("xml.Unmarshal(apps): %v", err)
	}
	app := apps.Applications[1]
	jb, err = json.Marshal(app)
	if err != nil || !bytes.HasPrefix(jb, []byte(`{"name":"PAYMENTS","instance":[{`)) {
		t.Errorf("json.Marshal(app) = %s, %v", jb, err)
	}
	var appBack Application
	if err := json.Unmarshal(jb, &appBack); err != nil || appBack.Name != "PAYMENTS" || len(appBack.Instances) != 1 {
		t.Errorf("json.Unmarshal(app): %v", err)
	}
	xb, err = xml.Marshal(app)
	if err != nil || !bytes.HasPrefix(xb, []byte("<application><name>PAYMENTS</name>")) {
		t.Errorf("xml.Marshal(app) = %s, %v", xb, err)
	}
	var appX Application
	if err := xml.Unmarshal(xb, &appX); err != nil || len(appX.Instances) != 1 {
		t.Errorf("xml.Unmarshal(app): %v", err)
	}
}
