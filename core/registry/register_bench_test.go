package registry

import (
	"strconv"
	"testing"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// nopSink takes events and drops them, so a benchmark counts what the
// registry spends on publishing and not what a listener does.
type nopSink struct{}

func (nopSink) Publish(hook.Event)  {}
func (nopSink) WantsRenewals() bool { return false }

// fleetBody is the register body of instance i of make bench's register
// scenario (tools/eurekabench): a Spring Cloud client's, 50 applications,
// ip:app:port ids, zones a to c in turn and every fourth instance without
// metadata, so an application's instances differ only in their own text.
func fleetBody(i int) []byte {
	apps := []string{"orders", "payments", "inventory", "shipping", "catalog"}
	vip := apps[i%len(apps)] + "-" + strconv.Itoa(i%50/len(apps))
	ip := "10." + strconv.Itoa(i/(250*256)%256) + "." + strconv.Itoa(i/250%256) + "." + strconv.Itoa(i%250+1)
	base := "http://" + ip + ":8080"
	meta := `{"management.port":"8080","zone":"zone-` + string(rune('a'+i%3)) + `"}`
	if i%4 == 3 {
		meta = `{"@class":"java.util.Collections$EmptyMap"}`
	}
	return []byte(`{"instance":{"instanceId":"` + ip + ":" + vip + `:8080","app":"` + vip + `","appGroupName":null,` +
		`"ipAddr":"` + ip + `","sid":"na","homePageUrl":"` + base + `/","statusPageUrl":"` + base + `/actuator/info",` +
		`"healthCheckUrl":"` + base + `/actuator/health","secureHealthCheckUrl":null,"vipAddress":"` + vip + `",` +
		`"secureVipAddress":"` + vip + `","countryId":1,"dataCenterInfo":{"@class":` +
		`"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},"hostName":"` + ip + `",` +
		`"status":"UP","overriddenStatus":"UNKNOWN","leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,` +
		`"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},` +
		`"isCoordinatingDiscoveryServer":false,"metadata":` + meta + `,"lastUpdatedTimestamp":1718000000000,` +
		`"lastDirtyTimestamp":1718000000000,"actionType":null,"asgName":null,"port":{"$":8080,"@enabled":"true"},` +
		`"securePort":{"$":443,"@enabled":"false"}}}`)
}

// BenchmarkRegisterFleet measures re-registrations of a fleet of 10,000
// decoded instances over 50 applications, in turn, with an event sink
// installed as eurekad runs; the decoding is not measured. bench is make
// bench's register scenario (an application's instances differ only in
// their own text); spring has ten metadata entries, two of them unique
// to each instance, and AWS data on every fourth (springBody).
func BenchmarkRegisterFleet(b *testing.B) {
	for _, c := range []struct {
		name string
		body func(i int) []byte
	}{
		{"bench", fleetBody},
		{"spring", func(i int) []byte { return springBody(i, 50) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 10_000
			o := DefaultOptions()
			o.Events = nopSink{}
			r := New(&o)
			ins := make([]*eureka.InstanceInfo, n)
			for i := range ins {
				in, err := eureka.DecodeInstanceJSON(c.body(i))
				if err != nil {
					b.Fatal(err)
				}
				ins[i] = in
				r.Register(in, false)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.Register(ins[i%n], false)
				i++
			}
		})
	}
}
