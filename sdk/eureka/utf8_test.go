package eureka

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// badTexts are strings encoding/json would store as something else: bytes
// that are not UTF-8 (the id of issue 13), an encoded surrogate, and JSON
// escapes of lone or ill-paired surrogates.
var badTexts = []string{"bad-\xff\xfe", "x\xed\xa0\x80", "\xc3", `\ud800`, `a\udc00`, `\ud83dx`, `\ud83d\u0041`, `\udc00\ud83d`}

// TestDecodeJSONRefusesInvalidText: a kept string that is not text fails
// the decode with ErrInvalidUTF8 and ErrMalformed, naming the member and
// not repeating the value, in every place an instance keeps text.
func TestDecodeJSONRefusesInvalidText(t *testing.T) {
	fields := []string{"instanceId", "hostName", "app", "ipAddr", "sid", "appGroupName", "homePageUrl",
		"statusPageUrl", "healthCheckUrl", "secureHealthCheckUrl", "vipAddress", "secureVipAddress", "asgName"}
	type doc struct{ body, field string }
	var docs []doc
	for _, bad := range badTexts {
		for _, f := range fields {
			docs = append(docs, doc{`{"hostName":"h","` + f + `":"` + bad + `"}`, f})
		}
		docs = append(docs,
			doc{`{"metadata":{"k":"` + bad + `"}}`, "metadata: a value"},
			doc{`{"metadata":{"` + bad + `":"v"}}`, "metadata: a key"},
			doc{`{"dataCenterInfo":{"name":"` + bad + `"}}`, "dataCenterInfo.name"},
			doc{`{"dataCenterInfo":{"name":"Amazon","metadata":{"instance-id":"` + bad + `"}}}`, "dataCenterInfo.metadata: a value"},
		)
		if !strings.Contains(bad, `\`) {
			// An object value is kept as its JSON text: raw bytes only.
			docs = append(docs, doc{`{"metadata":{"k":{"x":["` + bad + `"]}}}`, "metadata: a value"})
		}
	}
	for _, d := range docs {
		_, err := DecodeInstanceJSON([]byte(d.body))
		checkInvalidText(t, d.body, err, d.field)
		_, err = DecodeInstanceJSON([]byte(`{"instance":` + d.body + `}`))
		checkInvalidText(t, d.body, err, d.field)
		// The same instance inside an application and a registry.
		_, err = DecodeApplicationJSON([]byte(`{"application":{"name":"A","instance":[` + d.body + `]}}`))
		checkInvalidText(t, d.body, err, d.field)
		_, err = DecodeApplicationsJSON([]byte(`{"applications":{"application":[{"name":"A","instance":` + d.body + `}]}}`))
		checkInvalidText(t, d.body, err, d.field)
	}
	for _, bad := range badTexts {
		body := `{"application":{"name":"` + bad + `","instance":[]}}`
		_, err := DecodeApplicationJSON([]byte(body))
		checkInvalidText(t, body, err, "application name")
		body = `{"applications":{"apps__hashcode":"` + bad + `","application":[]}}`
		_, err = DecodeApplicationsJSON([]byte(body))
		checkInvalidText(t, body, err, "apps__hashcode")
	}
}

func checkInvalidText(t *testing.T, body string, err error, field string) {
	t.Helper()
	if !errors.Is(err, ErrInvalidUTF8) || !errors.Is(err, ErrMalformed) {
		t.Errorf("%q: error %v, want ErrInvalidUTF8 and ErrMalformed", body, err)
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, field+": ") && !strings.Contains(msg, field+" is") {
		t.Errorf("%q: error %q does not name %s", body, msg, field)
	}
	if !utf8.ValidString(msg) || strings.Contains(msg, `\u`) {
		t.Errorf("%q: error %q repeats the value", body, msg)
	}
}

// TestDecodeJSONKeepsText: text, surrogate pairs and U+FFFD itself are
// kept as sent; text that is read but not kept (member names, statuses,
// unknown members, @class) stays as lenient as encoding/json.
func TestDecodeJSONKeepsText(t *testing.T) {
	body := "{\"instanceId\":\"\\ud83d\\ude00-\xc3\xa9-\\ufffd-\uFFFD\",\"hostName\":\"h\",\"status\":\"\xffUP\"," +
		"\"host\xffName\":\"x\",\"unknown\":\"\xff\\ud800\",\"metadata\":{\"@class\":\"\xff\",\"n\":null,\"o\":{\"a\":\"\\ud800\"}}}"
	in, err := DecodeInstanceJSON([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := "😀-é-\uFFFD-\uFFFD"; in.InstanceID != want {
		t.Errorf("instanceId %q, want %q", in.InstanceID, want)
	}
	if in.Status != StatusUnknown || in.HostName != "h" {
		t.Errorf("status %q hostName %q", in.Status, in.HostName)
	}
	// The escape inside an object value is JSON text, which is UTF-8.
	if got := in.Metadata["o"]; got != `{"a":"\ud800"}` || len(in.Metadata) != 1 {
		t.Errorf("metadata %q", in.Metadata)
	}
}

// TestDecodeXMLRefusesInvalidText: encoding/xml refuses bytes that are not
// UTF-8 but turns &#xD800; into U+FFFD; both fail here, while the same
// text in CDATA, a comment or a processing instruction is not a reference.
func TestDecodeXMLRefusesInvalidText(t *testing.T) {
	for _, body := range []string{
		"<instance><instanceId>bad-\xff\xfe</instanceId></instance>",
		"<instance><instanceId>x&#xD800;</instanceId></instance>",
		"<instance><instanceId>x&#xdfff;</instanceId></instance>",
		"<instance><instanceId>x&#55296;</instanceId></instance>",
		"<instance><instanceId>x&#x0000D800;</instanceId></instance>",
		"<instance><metadata><k>&#xD83D;&#xDE00;</k></metadata></instance>",
		"<instance><port enabled=\"&#xD800;\">80</port></instance>",
		"<!-- &#xD800; --><instance><hostName><![CDATA[&#xD800;]]>&#xD800;</hostName></instance>",
	} {
		_, err := DecodeInstanceXML([]byte(body))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: error %v, want ErrMalformed", body, err)
		}
		if strings.Contains(body, "&#") && !errors.Is(err, ErrInvalidUTF8) {
			t.Errorf("%q: error %v, want ErrInvalidUTF8", body, err)
		}
	}
	body := "<?x &#xD800;?><!-- &#xD800; --><instance><hostName><![CDATA[&#xD800;]]>&#x1F600;&#65533;&#xD7FF;&#xE000;&amp;#xD800;</hostName></instance>"
	in, err := DecodeInstanceXML([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := "&#xD800;😀\uFFFD\uD7FF\uE000&#xD800;"; in.HostName != want {
		t.Errorf("hostName %q, want %q", in.HostName, want)
	}
	for _, r := range []string{"&#xD800", "&#xD800 ;", "&#x;", "&#;", "&#xG;", "&#99999999999999999999;"} {
		if _, ok := charRef([]byte(r)); ok {
			t.Errorf("charRef(%q) found a reference", r)
		}
	}
}

// TestDecodeReplicationRefusesInvalidText: appName and id of a peer's
// item, and its instance, are refused the same way.
func TestDecodeReplicationRefusesInvalidText(t *testing.T) {
	for _, bad := range badTexts {
		for field, item := range map[string]string{
			"appName":    `{"appName":"` + bad + `","id":"i","action":"Cancel"}`,
			"id":         `{"appName":"A","id":"` + bad + `","action":"Cancel"}`,
			"instanceId": `{"appName":"A","id":"i","action":"Register","instanceInfo":{"instanceId":"` + bad + `","hostName":"h"}}`,
		} {
			body := `{"replicationList":[{"appName":"A","id":"ok","action":"Heartbeat"},` + item + `]}`
			_, err := DecodeReplicationListJSON([]byte(body))
			checkInvalidText(t, body, err, field)
			if err != nil && !strings.Contains(err.Error(), "item 1") {
				t.Errorf("%q: error %v does not name the item", body, err)
			}
		}
	}
	items, err := DecodeReplicationListJSON([]byte(`{"replicationList":[{"appName":"\u00c9\ud83d\ude00","id":null,"action":"Cancel"},{"appName":"B"}]}`))
	if err != nil || items[0].AppName != "É😀" || items[0].ID != "" || items[1].AppName != "B" {
		t.Fatalf("%+v %v", items, err)
	}
	if _, err := DecodeReplicationListJSON([]byte(`{"replicationList":[{"appName":1}]}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("a number as appName: %v", err)
	}
}

// instanceText lists every string an instance keeps.
func instanceText(in *InstanceInfo) []string {
	s := []string{in.InstanceID, in.HostName, in.App, in.IPAddr, in.SID, in.AppGroupName, in.HomePageURL,
		in.StatusPageURL, in.HealthCheckURL, in.SecureHealthCheckURL, in.VIPAddress, in.SecureVIPAddress, in.ASGName}
	for k, v := range in.Metadata {
		s = append(s, k, v)
	}
	if d := in.DataCenterInfo; d != nil {
		s = append(s, d.Name)
		for k, v := range d.Metadata {
			s = append(s, k, v)
		}
	}
	return s
}

// checkKeptText is the fuzz property of ErrInvalidUTF8: what a decoder
// keeps is UTF-8, and holds U+FFFD only when the document did.
func checkKeptText(t *testing.T, data []byte, in *InstanceInfo) {
	t.Helper()
	sent := bytes.Contains(data, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(data), []byte(`\ufffd`)) ||
		bytes.Contains(data, []byte("&#")) // 65533 in XML, any spelling
	for _, s := range instanceText(in) {
		if !utf8.ValidString(s) {
			t.Fatalf("%q: kept %q, which is not UTF-8", data, s)
		}
		if !sent && strings.ContainsRune(s, utf8.RuneError) {
			t.Fatalf("%q: kept %q, with a U+FFFD the document did not hold", data, s)
		}
	}
}
