package health

import (
	"errors"
	"testing"

	"github.com/eurekad/eurekad/sdk/eureka"
)

func inst(ip, host string) *eureka.InstanceInfo {
	return &eureka.InstanceInfo{InstanceID: "o1", App: "ORDERS", IPAddr: ip, HostName: host,
		Port: eureka.Port{Number: 8080, Enabled: true}, SecurePort: eureka.Port{Number: 8443}}
}

// The SSRF guard: only the instance's own address is ever a target.
func TestTarget(t *testing.T) {
	httpSpec := Spec{Kind: "http"}
	withURL := func(u string) *eureka.InstanceInfo {
		in := inst("10.0.0.7", "orders-1.internal")
		in.HealthCheckURL = u
		return in
	}
	for _, c := range []struct {
		name string
		in   *eureka.InstanceInfo
		spec Spec
		want string // "" expects ErrRefused
	}{
		{"path on ipAddr", inst("10.0.0.7", "h"), Spec{Kind: "http", Path: "health"}, "http://10.0.0.7:8080/health"},
		{"path and port", inst("10.0.0.7", "h"), Spec{Kind: "http", Path: "/actuator/health", Port: 9090}, "http://10.0.0.7:9090/actuator/health"},
		{"ipv6", inst("fd00::7", "h"), Spec{Kind: "tcp"}, "[fd00::7]:8080"},
		{"tcp", inst("10.0.0.7", "h"), Spec{Kind: "tcp"}, "10.0.0.7:8080"},
		{"grpc port", inst("10.0.0.7", "h"), Spec{Kind: "grpc", Port: 50051}, "10.0.0.7:50051"},
		{"hostName without ipAddr", inst("", "orders-1.internal"), Spec{Kind: "tcp"}, "orders-1.internal:8080"},
		{"healthCheckUrl on ipAddr", withURL("http://10.0.0.7:8081/health#x"), httpSpec, "http://10.0.0.7:8081/health"},
		{"healthCheckUrl on hostName", withURL("https://ORDERS-1.internal:8443/health"), httpSpec, "https://ORDERS-1.internal:8443/health"},
		{"healthCheckUrl elsewhere", withURL("http://billing.internal/admin/delete"), httpSpec, ""},
		{"healthCheckUrl on the metadata service", withURL("http://169.254.169.254/latest/meta-data/"), httpSpec, ""},
		{"healthCheckUrl with userinfo trick", withURL("http://10.0.0.7@evil.example/health"), httpSpec, ""},
		{"healthCheckUrl not http", withURL("file:///etc/passwd"), httpSpec, ""},
		{"no path, no url", inst("10.0.0.7", "h"), httpSpec, ""},
		{"link-local ipAddr", inst("169.254.169.254", "h"), Spec{Kind: "http", Path: "/"}, ""},
		{"mapped link-local", inst("::ffff:169.254.169.254", "h"), Spec{Kind: "tcp"}, ""},
		{"unspecified", inst("0.0.0.0", "h"), Spec{Kind: "tcp"}, ""},
		{"multicast", inst("224.0.0.1", "h"), Spec{Kind: "tcp"}, ""},
		{"no address", inst("", ""), Spec{Kind: "tcp"}, ""},
		{"plugin kind on a url", withURL("http://10.0.0.7:8081/actuator/health"), Spec{Kind: "actuator"}, "http://10.0.0.7:8081/actuator/health"},
		{"plugin kind on host:port", inst("10.0.0.7", "h"), Spec{Kind: "redis-ping", Port: 6379}, "10.0.0.7:6379"},
	} {
		got, err := Target(c.in, c.spec)
		switch {
		case c.want == "" && !errors.Is(err, ErrRefused):
			t.Errorf("%s: %q, %v; want ErrRefused", c.name, got, err)
		case c.want != "" && (err != nil || got != c.want):
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestSpecBounds(t *testing.T) {
	o := DefaultOptions()
	md := map[string]string{MetaKind: "HTTP", "eurekad.check.interval": "10ms", "eurekad.check.timeout": "1h",
		"eurekad.check.failures": "0", "eurekad.check.deregister_after": "1s", "eurekad.check.param.service": "orders",
		"eurekad.check.expect": "200-299"}
	s, ok := o.spec(nil, "ORDERS", md)
	if !ok || s.Kind != "http" || s.Interval != o.MinInterval || s.Timeout != s.Interval || s.Failures != o.Failures ||
		s.DeregisterAfter != o.MinDeregisterAfter || s.Params["service"] != "orders" || s.ExpectMax != 299 {
		t.Errorf("spec from metadata = %+v", s)
	}
	o.Metadata = false
	if _, ok := o.spec(nil, "ORDERS", md); ok {
		t.Error("metadata opted in while checks by metadata are off")
	}
	o.Rules = []Rule{{App: " orders ", Kind: "tcp", Interval: Duration(30e9)}}
	rules := New(nil, nil, nil, nil, &o).rules // keyed as the registry names applications
	if s, ok := o.spec(rules, "ORDERS", md); !ok || s.Kind != "tcp" || s.Interval != 30e9 {
		t.Errorf("a rule does not win: %+v", s)
	}
}

func TestOwnerSplitsAndMoves(t *testing.T) {
	nodes := []string{"http://a:8761/eureka/", "http://b:8761/eureka/", "http://c:8761/eureka/"}
	owners := map[string]int{}
	moved := 0
	for i := range 3000 {
		id := "i" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		n := 0
		var who string
		for _, self := range nodes {
			if Owner(self, nodes, "ORDERS", id) {
				n++
				who = self
			}
		}
		if n != 1 {
			t.Fatalf("%s: %d owners", id, n)
		}
		owners[who]++
		// c dies: a and b reach only each other; only c's share moves.
		left := nodes[:2]
		for _, self := range left {
			if Owner(self, left, "ORDERS", id) && self != who {
				moved++
				if who != nodes[2] {
					t.Fatalf("%s moved from %s, which is alive", id, who)
				}
			}
		}
	}
	for _, n := range nodes {
		if owners[n] < 800 {
			t.Errorf("%s owns %d of 3000", n, owners[n])
		}
	}
	if moved != owners[nodes[2]] {
		t.Errorf("moved %d, c owned %d", moved, owners[nodes[2]])
	}
}
