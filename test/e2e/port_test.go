package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestStringPortRegister registers ports written as strings, in JSON (a bare
// "8080", and fargo's {"$":"8081"}) and XML, and reads each back as its
// number: a numeric string is that number, as Jackson reads it, never the
// 7001 default. A port that is not a number is a 400 naming the field.
func TestStringPortRegister(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const dc = `"dataCenterInfo":{"@class":"` + classDefaultDC + `","name":"MyOwn"}`
	for id, body := range map[string]string{
		"bare":  `{"instance":{"instanceId":"bare","app":"PORTS","hostName":"h","ipAddr":"10.0.0.1","status":"UP","port":"8080","securePort":"8443",` + dc + `}}`,
		"fargo": `{"instance":{"instanceId":"fargo","app":"PORTS","hostName":"h","ipAddr":"10.0.0.1","status":"UP","port":{"$":"8081","@enabled":"true"},"securePort":{"$":"8444","@enabled":"true"},` + dc + `}}`,
	} {
		if r := do(t, http.MethodPost, s.Base+"apps/PORTS", []byte(body), "Content-Type", "application/json"); r.Status != http.StatusNoContent {
			t.Fatalf("register %s: status %d %q, want 204", id, r.Status, r.Body)
		}
	}
	xml := `<instance><instanceId>xml</instanceId><app>PORTS</app><hostName>h</hostName><ipAddr>10.0.0.1</ipAddr><status>UP</status>` +
		`<port enabled="true"> 8082 </port><securePort enabled="false">8445</securePort><dataCenterInfo><name>MyOwn</name></dataCenterInfo></instance>`
	if r := do(t, http.MethodPost, s.Base+"apps/PORTS", []byte(xml), "Content-Type", "application/xml"); r.Status != http.StatusNoContent {
		t.Fatalf("register xml: status %d %q, want 204", r.Status, r.Body)
	}
	for id, want := range map[string]map[string]any{
		"bare":  {"port.$": int64(8080), "port.@enabled": "true", "securePort.$": int64(8443), "securePort.@enabled": "false"},
		"fargo": {"port.$": int64(8081), "port.@enabled": "true", "securePort.$": int64(8444), "securePort.@enabled": "true"},
		"xml":   {"port.$": int64(8082), "port.@enabled": "true", "securePort.$": int64(8445), "securePort.@enabled": "false"},
	} {
		expectFields(t, mustGetInstance(t, s.Base, "PORTS", id), want)
	}

	bad := `{"instance":{"instanceId":"bad","app":"PORTS","hostName":"h","ipAddr":"10.0.0.1","status":"UP","port":"http",` + dc + `}}`
	r := do(t, http.MethodPost, s.Base+"apps/PORTS", []byte(bad), "Content-Type", "application/json")
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "port") {
		t.Errorf("register with port \"http\": status %d %q, want 400 naming the port", r.Status, r.Body)
	}
}
