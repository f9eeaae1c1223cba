package registry

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// springBody is the register body of fleet instance i of apps
// applications, shaped like a Spring Cloud Netflix client's: ten metadata
// entries (most repeat across an application's instances, two are unique),
// URLs with the host and port, and every fourth instance in AWS with the
// EC2 metadata an AmazonInfo carries.
func springBody(i, apps int) []byte {
	app := fmt.Sprintf("service-%04d", i%apps)
	ip := "10." + strconv.Itoa(i/65536%256) + "." + strconv.Itoa(i/256%256) + "." + strconv.Itoa(i%256)
	id := ip + ":" + app + ":8080"
	base := "http://" + ip + ":8080"
	zone := "zone-" + string(rune('a'+i%3))
	dc := `{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}`
	if i%4 == 0 {
		dc = `{"@class":"com.netflix.appinfo.AmazonInfo","name":"Amazon","metadata":{` +
			`"instance-id":"i-0` + strconv.FormatInt(int64(0x1000000+i), 16) + `",` +
			`"ami-id":"ami-0c55b159cbfafe1f0","instance-type":"m5.large",` +
			`"local-ipv4":"` + ip + `","local-hostname":"ip-` + ip + `.ec2.internal",` +
			`"availability-zone":"us-east-1` + string(rune('a'+i%3)) + `",` +
			`"public-hostname":"ec2-54-` + strconv.Itoa(i%256) + `.compute-1.amazonaws.com",` +
			`"public-ipv4":"54.0.` + strconv.Itoa(i/256%256) + `.` + strconv.Itoa(i%256) + `",` +
			`"vpc-id":"vpc-0a1b2c3d","accountId":"123456789012"}}`
	}
	return []byte(`{"instance":{"instanceId":"` + id + `","app":"` + app + `","appGroupName":null,` +
		`"ipAddr":"` + ip + `","sid":"na","homePageUrl":"` + base + `/",` +
		`"statusPageUrl":"` + base + `/actuator/info","healthCheckUrl":"` + base + `/actuator/health",` +
		`"secureHealthCheckUrl":null,"vipAddress":"` + app + `","secureVipAddress":"` + app + `",` +
		`"countryId":1,"dataCenterInfo":` + dc + `,"hostName":"` + ip + `","status":"UP",` +
		`"overriddenStatus":"UNKNOWN","leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,` +
		`"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},` +
		`"isCoordinatingDiscoveryServer":false,"metadata":{"management.port":"8081","zone":"` + zone + `",` +
		`"version":"2.` + strconv.Itoa(i%apps%7) + `.1","git.commit":"` + strconv.FormatInt(int64(i%apps)*7919+100000, 16) + `",` +
		`"profile":"prod","prometheus.scrape":"true","prometheus.path":"/actuator/prometheus",` +
		`"management.context-path":"/actuator","startedAt":"` + strconv.FormatInt(1_718_000_000_000+int64(i)*37, 10) + `",` +
		`"pod":"` + app + `-7f9c5d-` + strconv.Itoa(i) + `"},` +
		`"lastUpdatedTimestamp":1718000000000,"lastDirtyTimestamp":1718000000000,"actionType":null,"asgName":null,` +
		`"port":{"$":8080,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"}}}`)
}

// heapProfile names a file BenchmarkMemoryPerInstance writes a heap
// profile to while the registry is still alive (-memprofile writes one
// after it is gone).
var heapProfile = flag.String("heapprofile", "", "write a heap profile of the full registry to this file")

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// fillRegistry registers n decoded Spring-like instances into a new
// registry, as the HTTP path does: each instance comes from its own
// request body. The registry's clock is clk, so a caller can let the
// delta window pass.
func fillRegistry(tb testing.TB, n int, clk Clock) *Registry {
	tb.Helper()
	o := DefaultOptions()
	o.Clock = clk
	r := New(&o)
	r.OpenForTraffic(0)
	apps := max(1, n/100)
	for i := range n {
		in, err := eureka.DecodeInstanceJSON(springBody(i, apps))
		if err != nil {
			tb.Fatal(err)
		}
		r.Register(in, false)
	}
	return r
}

// memoryPerInstance fills a registry with n instances and returns the
// live heap per instance with every registration still in the delta
// window (a delta entry each: the change's instance and timestamps) and
// after the window has passed: the steady state of a registry, where
// only recent changes cost a delta entry.
func memoryPerInstance(tb testing.TB, n int) (fresh, steady float64, took time.Duration) {
	clk := newFakeClock()
	before := heapInUse()
	t0 := time.Now()
	r := fillRegistry(tb, n, clk)
	took = time.Since(t0)
	fresh = float64(heapInUse()-before) / float64(n)
	clk.Advance(DefaultOptions().DeltaRetention + time.Second)
	r.ExpireDelta()
	steady = float64(heapInUse()-before) / float64(n)
	if r.Size() != n {
		tb.Fatalf("registry holds %d instances, want %d", r.Size(), n)
	}
	if *heapProfile != "" {
		writeHeapProfile(tb, *heapProfile)
	}
	runtime.KeepAlive(r)
	return fresh, steady, took
}

// BenchmarkMemoryPerInstance reports the live heap a registered instance
// costs with the registry holding 100,000 and 1,000,000 Spring-like
// instances in 100 per application: B/instance once the delta window has
// passed, B/instance+delta while every registration is still in it. Run
// it once per size:
//
//	go test -run '^$' -bench MemoryPerInstance -benchtime 1x ./core/registry
//
// and add -heapprofile mem.out (with -memprofilerate 4096 for detail) to
// see what dominates: go tool pprof -top -sample_index=inuse_space.
func BenchmarkMemoryPerInstance(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				fresh, steady, took := memoryPerInstance(b, n)
				b.ReportMetric(steady, "B/instance")
				b.ReportMetric(fresh, "B/instance+delta")
				b.ReportMetric(float64(took.Nanoseconds())/float64(n), "ns/register")
			}
		})
	}
}

func writeHeapProfile(tb testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	// A profile shows the heap as of up to two collections ago.
	runtime.GC()
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}

// TestMemoryPerInstance keeps the live heap of a registered Spring-like
// instance (ten metadata entries) below a bound: 1,907 bytes before
// instances were compacted (compact.go), about 1,550 after. A copy of
// repeated text, or a decoded request kept alive by one of its strings,
// goes over. A change in the delta window costs an entry on top, for the
// window only: about 90 bytes (the instance pointer and the lease's
// timestamps; it was about 450 with a decorated copy of the instance).
func TestMemoryPerInstance(t *testing.T) {
	fresh, steady, _ := memoryPerInstance(t, 20_000)
	t.Logf("%.0f B/instance, %.0f B/instance with a delta entry each", steady, fresh)
	if steady > 1600 {
		t.Errorf("a registered instance takes %.0f bytes of heap, want at most 1600", steady)
	}
	// An entry and the queue's spare room as it grows by doubling.
	if fresh-steady > 200 {
		t.Errorf("a delta entry takes %.0f bytes of heap, want at most 200", fresh-steady)
	}
}
