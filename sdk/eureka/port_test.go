package eureka

import (
	"strings"
	"testing"
)

// TestPortNumericStrings pins how a port written as a string is read: as
// its number, as Jackson's scalar coercion reads a numeric string into an
// int field, never as the 7001/7002 default. fargo sends every port as
// {"$":"7001","@enabled":"true"}, so refusing strings would refuse it.
func TestPortNumericStrings(t *testing.T) {
	const head = `"instanceId":"a","app":"A","hostName":"h","ipAddr":"10.0.0.1","status":"UP"`
	for _, tc := range []struct {
		name, body  string
		port, sport Port
	}{
		{"bare string", `"port":"8080","securePort":"8443"`, Port{8080, true}, Port{8443, false}},
		{"bare string with spaces", `"port":" 8080 "`, Port{8080, true}, Port{7002, false}},
		{"fargo's object of strings", `"port":{"$":"8080","@enabled":"true"},"securePort":{"$":"8443","@enabled":"true"}`, Port{8080, true}, Port{8443, true}},
		{"object of numbers", `"port":{"$":8080,"@enabled":true}`, Port{8080, true}, Port{7002, false}},
		{"bare number", `"port":8080`, Port{8080, true}, Port{7002, false}},
	} {
		in, err := DecodeInstanceJSON([]byte(`{"instance":{` + head + `,` + tc.body + `}}`))
		if err != nil {
			t.Errorf("JSON %s: %v", tc.name, err)
			continue
		}
		if in.Port != tc.port || in.SecurePort != tc.sport {
			t.Errorf("JSON %s: port %+v, securePort %+v; want %+v, %+v", tc.name, in.Port, in.SecurePort, tc.port, tc.sport)
		}
	}

	const xhead = `<instance><instanceId>a</instanceId><app>A</app><hostName>h</hostName><ipAddr>10.0.0.1</ipAddr><status>UP</status>`
	for _, tc := range []struct {
		name, body  string
		port, sport Port
	}{
		{"with enabled", `<port enabled="true">8080</port><securePort enabled="true">8443</securePort>`, Port{8080, true}, Port{8443, true}},
		{"with spaces", `<port> 8080 </port>`, Port{8080, true}, Port{7002, false}},
	} {
		in, err := DecodeInstanceXML([]byte(xhead + tc.body + `</instance>`))
		if err != nil {
			t.Errorf("XML %s: %v", tc.name, err)
			continue
		}
		if in.Port != tc.port || in.SecurePort != tc.sport {
			t.Errorf("XML %s: port %+v, securePort %+v; want %+v, %+v", tc.name, in.Port, in.SecurePort, tc.port, tc.sport)
		}
	}

	// A string that is not a number is refused, naming the field, rather
	// than replaced by the default.
	if _, err := DecodeInstanceJSON([]byte(`{"instance":{` + head + `,"port":"http"}}`)); err == nil || !strings.Contains(err.Error(), "port") {
		t.Errorf("JSON port \"http\": %v, want an error naming the port", err)
	}
	if _, err := DecodeInstanceXML([]byte(xhead + `<port>http</port></instance>`)); err == nil || !strings.Contains(err.Error(), "port") {
		t.Errorf("XML port http: %v, want an error naming the port", err)
	}
}
