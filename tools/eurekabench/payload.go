package main

import (
	"bytes"
	"compress/gzip"
	"sort"
	"strconv"
)

// serviceNames are the application names instances are spread over; 50 of
// them, shaped like the services of a mid-sized Spring Cloud estate.
var serviceNames = [...]string{
	"orders", "payments", "inventory", "shipping", "catalog",
	"pricing", "customers", "accounts", "billing", "invoices",
	"notifications", "email-sender", "sms-gateway", "search", "recommendations",
	"reviews", "ratings", "cart", "checkout", "wishlist",
	"auth", "users", "sessions", "profiles", "preferences",
	"audit", "reporting", "analytics", "metrics-collector", "tracing-collector",
	"gateway", "edge-proxy", "config-server", "feature-flags", "rate-limiter",
	"warehouse", "returns", "refunds", "fraud-check", "tax",
	"currency", "loyalty", "coupons", "promotions", "media",
	"thumbnails", "documents", "scheduler", "batch-jobs", "webhooks",
}

// instanceSpec is one synthetic instance. The same specs feed the register
// bodies the load generator posts and the payload the baseline serves, so both
// sides of the comparison describe the same registry.
type instanceSpec struct {
	id     string // Spring Cloud default shape: ip:vip:port
	app    string // upper-case application name
	vip    string // lower-case VIP / spring.application.name
	ip     string
	port   int
	zone   string
	status string
	// emptyMeta makes the instance carry no metadata, written in the
	// EmptyMap form (§3.4), as a share of real instances do.
	emptyMeta bool
}

// specFor returns the spec of instance i (0-based) spread over apps
// applications. prefix makes ids unique across runs or scenarios that must
// not collide ("" for the shared registry).
func specFor(prefix string, i, apps int) instanceSpec {
	if apps <= 0 || apps > len(serviceNames) {
		apps = len(serviceNames)
	}
	vip := serviceNames[i%apps]
	// 10.x.y.z with z in 1..250 keeps every address valid and distinct for
	// the first 250*256*256 instances.
	ip := "10." + strconv.Itoa((i/(250*256))%256) + "." + strconv.Itoa((i/250)%256) + "." + strconv.Itoa(i%250+1)
	s := instanceSpec{
		app:       upperASCII(vip),
		vip:       vip,
		ip:        ip,
		port:      8080,
		zone:      "zone-" + string(rune('a'+i%3)),
		status:    "UP",
		emptyMeta: i%4 == 3,
	}
	s.id = prefix + ip + ":" + vip + ":8080"
	return s
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// appendStr appends s as a JSON string. The generator only produces ASCII
// without quotes, backslashes or control characters, so no escaping is needed.
func appendStr(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRegisterBody appends the body a Spring Cloud client posts to
// register: a root-wrapped InstanceInfo written by a plain Jackson bean
// mapper, so explicit nulls, a boolean and numeric timestamps (§2.18, §3.8).
func appendRegisterBody(b []byte, s *instanceSpec, dirty int64) []byte {
	base := "http://" + s.ip + ":" + strconv.Itoa(s.port)
	b = append(b, `{"instance":{"instanceId":`...)
	b = appendStr(b, s.id)
	b = append(b, `,"app":`...)
	b = appendStr(b, s.app)
	b = append(b, `,"appGroupName":null,"ipAddr":`...)
	b = appendStr(b, s.ip)
	b = append(b, `,"sid":"na","homePageUrl":`...)
	b = appendStr(b, base+"/")
	b = append(b, `,"statusPageUrl":`...)
	b = appendStr(b, base+"/actuator/info")
	b = append(b, `,"healthCheckUrl":`...)
	b = appendStr(b, base+"/actuator/health")
	b = append(b, `,"secureHealthCheckUrl":null,"vipAddress":`...)
	b = appendStr(b, s.vip)
	b = append(b, `,"secureVipAddress":`...)
	b = appendStr(b, s.vip)
	b = append(b, `,"countryId":1,"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},"hostName":`...)
	b = appendStr(b, s.ip)
	b = append(b, `,"status":`...)
	b = appendStr(b, s.status)
	b = append(b, `,"overriddenStatus":"UNKNOWN","leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},"isCoordinatingDiscoveryServer":false,"metadata":`...)
	b = appendMetadata(b, s)
	b = append(b, `,"lastUpdatedTimestamp":`...)
	b = strconv.AppendInt(b, dirty, 10)
	b = append(b, `,"lastDirtyTimestamp":`...)
	b = strconv.AppendInt(b, dirty, 10)
	b = append(b, `,"actionType":null,"asgName":null,"port":{"$":`...)
	b = strconv.AppendInt(b, int64(s.port), 10)
	b = append(b, `,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"}}}`...)
	return b
}

func appendMetadata(b []byte, s *instanceSpec) []byte {
	if s.emptyMeta {
		return append(b, `{"@class":"java.util.Collections$EmptyMap"}`...)
	}
	b = append(b, `{"management.port":`...)
	b = appendStr(b, strconv.Itoa(s.port))
	b = append(b, `,"zone":`...)
	b = appendStr(b, s.zone)
	return append(b, '}')
}

// appendServerInstance appends one instance in the full legacy JSON format a
// Eureka server emits inside application.instance[] (§3.1), keys in order.
func appendServerInstance(b []byte, s *instanceSpec, ts int64, action string) []byte {
	base := "http://" + s.ip + ":" + strconv.Itoa(s.port)
	b = append(b, `{"instanceId":`...)
	b = appendStr(b, s.id)
	b = append(b, `,"hostName":`...)
	b = appendStr(b, s.ip)
	b = append(b, `,"app":`...)
	b = appendStr(b, s.app)
	b = append(b, `,"ipAddr":`...)
	b = appendStr(b, s.ip)
	b = append(b, `,"status":`...)
	b = appendStr(b, s.status)
	b = append(b, `,"overriddenStatus":"UNKNOWN","port":{"$":`...)
	b = strconv.AppendInt(b, int64(s.port), 10)
	b = append(b, `,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},"countryId":1,`...)
	b = append(b, `"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},`...)
	b = append(b, `"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"lastRenewalTimestamp":`...)
	b = strconv.AppendInt(b, ts+30000, 10)
	b = append(b, `,"evictionTimestamp":0,"serviceUpTimestamp":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `},"metadata":`...)
	b = appendMetadata(b, s)
	b = append(b, `,"homePageUrl":`...)
	b = appendStr(b, base+"/")
	b = append(b, `,"statusPageUrl":`...)
	b = appendStr(b, base+"/actuator/info")
	b = append(b, `,"healthCheckUrl":`...)
	b = appendStr(b, base+"/actuator/health")
	b = append(b, `,"vipAddress":`...)
	b = appendStr(b, s.vip)
	b = append(b, `,"secureVipAddress":`...)
	b = appendStr(b, s.vip)
	b = append(b, `,"isCoordinatingDiscoveryServer":"false","lastUpdatedTimestamp":`...)
	b = appendStr(b, strconv.FormatInt(ts, 10))
	b = append(b, `,"lastDirtyTimestamp":`...)
	b = appendStr(b, strconv.FormatInt(ts-500, 10))
	b = append(b, `,"actionType":`...)
	b = appendStr(b, action)
	return append(b, '}')
}

// appsHashcode is Eureka's reconcile hash (§4.1): STATUS_count_ for every
// status present, statuses in ascending byte order.
func appsHashcode(specs []instanceSpec) string {
	counts := map[string]int{}
	for i := range specs {
		counts[specs[i].status]++
	}
	names := make([]string, 0, len(counts))
	for st := range counts {
		names = append(names, st)
	}
	sort.Strings(names)
	var b []byte
	for _, st := range names {
		b = append(b, st...)
		b = append(b, '_')
		b = strconv.AppendInt(b, int64(counts[st]), 10)
		b = append(b, '_')
	}
	return string(b)
}

// applicationsJSON renders specs as a Eureka Applications document (§3.5,
// §3.10): apps in order of first appearance, "application" and "instance"
// always arrays, versions__delta a string. hashSpecs are the instances the
// hash counts: the payload itself for /apps, the full registry for a delta.
func applicationsJSON(specs, hashSpecs []instanceSpec, versionsDelta string, ts int64, action string) []byte {
	var order []string
	byApp := map[string][]int{}
	for i := range specs {
		a := specs[i].app
		if _, ok := byApp[a]; !ok {
			order = append(order, a)
		}
		byApp[a] = append(byApp[a], i)
	}
	b := make([]byte, 0, 1200*len(specs)+256)
	b = append(b, `{"applications":{"versions__delta":`...)
	b = appendStr(b, versionsDelta)
	b = append(b, `,"apps__hashcode":`...)
	b = appendStr(b, appsHashcode(hashSpecs))
	b = append(b, `,"application":[`...)
	for ai, a := range order {
		if ai > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendStr(b, a)
		b = append(b, `,"instance":[`...)
		for k, i := range byApp[a] {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendServerInstance(b, &specs[i], ts+int64(i)*10, action)
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}}"...)
}

// registrySpecs returns n instances spread over apps applications; about one
// in a hundred is DOWN so the hash code has more than one term.
func registrySpecs(n, apps int) []instanceSpec {
	specs := make([]instanceSpec, n)
	for i := range specs {
		specs[i] = specFor("", i, apps)
		if i%100 == 99 {
			specs[i].status = "DOWN"
		}
	}
	return specs
}

func gzipBytes(p []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	zw.Write(p)
	zw.Close()
	return buf.Bytes()
}
