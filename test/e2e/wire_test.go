package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// instanceKeys are the instance fields of §3.1 in emission order. The
// Spring Cloud client fails on any other key (FAIL_ON_UNKNOWN_PROPERTIES).
var instanceKeys = []string{
	"instanceId", "hostName", "app", "ipAddr", "sid", "status", "overriddenStatus",
	"port", "securePort", "countryId", "dataCenterInfo", "leaseInfo", "metadata",
	"appGroupName", "homePageUrl", "statusPageUrl", "healthCheckUrl", "secureHealthCheckUrl",
	"vipAddress", "secureVipAddress", "isCoordinatingDiscoveryServer",
	"lastUpdatedTimestamp", "lastDirtyTimestamp", "actionType", "asgName",
}

// requiredInstanceKeys are always present on server output (§3.1).
var requiredInstanceKeys = []string{
	"hostName", "app", "ipAddr", "status", "overriddenStatus", "port", "securePort",
	"countryId", "dataCenterInfo", "leaseInfo", "metadata", "isCoordinatingDiscoveryServer",
	"lastUpdatedTimestamp", "lastDirtyTimestamp",
}

var leaseKeys = []string{
	"renewalIntervalInSecs", "durationInSecs", "registrationTimestamp",
	"lastRenewalTimestamp", "evictionTimestamp", "serviceUpTimestamp",
}

var statuses = []string{"UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN"}

const (
	classDefaultDC = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"
	classAmazonDC  = "com.netflix.appinfo.AmazonInfo"
)

// jsonObject is a decoded JSON object with numbers kept as json.Number, so
// a test can tell 8080 from "8080".
type jsonObject = map[string]any

func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// objectKeys returns the keys of a JSON object in document order.
func objectKeys(raw []byte) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object: %s", raw)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// appsPayload is a parsed Applications document.
type appsPayload struct {
	VersionsDelta string
	Hashcode      string
	Apps          []appPayload
}

// appPayload is one application of an Applications document.
type appPayload struct {
	Name      string
	Instances []jsonObject
}

// find returns the instance with the given id (instanceId, else hostName)
// in application app, or nil.
func (p *appsPayload) find(app, id string) jsonObject {
	for _, a := range p.Apps {
		if a.Name != app {
			continue
		}
		for _, in := range a.Instances {
			if instanceID(in) == id {
				return in
			}
		}
	}
	return nil
}

// occurrences counts the entries for app/id; a delta holds each instance
// once per application (§2.8).
func (p *appsPayload) occurrences(app, id string) int {
	n := 0
	for _, a := range p.Apps {
		if a.Name != app {
			continue
		}
		for _, in := range a.Instances {
			if instanceID(in) == id {
				n++
			}
		}
	}
	return n
}

func (p *appsPayload) app(name string) *appPayload {
	for i := range p.Apps {
		if p.Apps[i].Name == name {
			return &p.Apps[i]
		}
	}
	return nil
}

// instanceCount is the number of instances over all applications.
func (p *appsPayload) instanceCount() int {
	n := 0
	for _, a := range p.Apps {
		n += len(a.Instances)
	}
	return n
}

// instanceID is the id a Java client derives: instanceId, else the Amazon
// instance-id, else hostName.
func instanceID(in jsonObject) string {
	if s, _ := in["instanceId"].(string); s != "" {
		return s
	}
	if dc, ok := in["dataCenterInfo"].(jsonObject); ok && dc["name"] == "Amazon" {
		if md, ok := dc["metadata"].(jsonObject); ok {
			if s, _ := md["instance-id"].(string); s != "" {
				return s
			}
		}
	}
	s, _ := in["hostName"].(string)
	return s
}

// parseApps parses an Applications JSON document as strictly as the Spring
// Cloud client reads it (§3.5, §3.9): arrays for application and instance,
// string versions__delta and apps__hashcode, only known instance keys. Every
// violation is an error.
func parseApps(data []byte) (*appsPayload, []error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var root map[string]json.RawMessage
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, []error{fmt.Errorf("not a JSON object: %v: %.300s", err, data)}
	}
	if len(root) != 1 || root["applications"] == nil {
		fail("root keys %q, want only \"applications\"", sortedKeys(root))
	}
	var apps map[string]json.RawMessage
	if err := json.Unmarshal(root["applications"], &apps); err != nil {
		return nil, append(errs, fmt.Errorf("applications is not an object: %v", err))
	}
	p := &appsPayload{}
	for _, k := range sortedKeys(apps) {
		if k != "versions__delta" && k != "apps__hashcode" && k != "application" {
			fail("applications has unexpected key %q", k)
		}
	}
	if err := json.Unmarshal(apps["versions__delta"], &p.VersionsDelta); err != nil {
		fail("versions__delta must be a JSON string (§3.5), got %s", apps["versions__delta"])
	} else if _, err := strconv.ParseInt(p.VersionsDelta, 10, 64); err != nil {
		fail("versions__delta %q is not a decimal long", p.VersionsDelta)
	}
	if err := json.Unmarshal(apps["apps__hashcode"], &p.Hashcode); err != nil {
		fail("apps__hashcode must be a JSON string (§3.5), got %s", apps["apps__hashcode"])
	}
	rawApps := apps["application"]
	if !isJSONArray(rawApps) {
		fail("application must always be a JSON array (§3.5; Spring Cloud requires it), got %.200s", rawApps)
		return p, errs
	}
	var appList []map[string]json.RawMessage
	if err := json.Unmarshal(rawApps, &appList); err != nil {
		return p, append(errs, fmt.Errorf("application entries: %v", err))
	}
	for _, a := range appList {
		ap, aerrs := parseApplication(a)
		errs = append(errs, aerrs...)
		p.Apps = append(p.Apps, ap)
	}
	return p, errs
}

// parseApplication checks one application object: a name and an instance
// array of strictly valid instances.
func parseApplication(a map[string]json.RawMessage) (appPayload, []error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var ap appPayload
	if err := json.Unmarshal(a["name"], &ap.Name); err != nil {
		fail("application name: %v (%s)", err, a["name"])
	}
	for _, k := range sortedKeys(a) {
		if k != "name" && k != "instance" {
			fail("application %s has unexpected key %q", ap.Name, k)
		}
	}
	if !isJSONArray(a["instance"]) {
		fail("application %s: instance must always be a JSON array (§3.5), got %.200s", ap.Name, a["instance"])
		return ap, errs
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(a["instance"], &raws); err != nil {
		fail("application %s instances: %v", ap.Name, err)
		return ap, errs
	}
	for _, raw := range raws {
		in, ierrs := parseInstance(raw)
		for _, e := range ierrs {
			fail("application %s: %v", ap.Name, e)
		}
		if in != nil {
			if in["app"] != ap.Name {
				fail("instance %s has app %v inside application %s", instanceID(in), in["app"], ap.Name)
			}
			ap.Instances = append(ap.Instances, in)
		}
	}
	return ap, errs
}

// parseApplicationDoc parses {"application":{...}} (GET apps/{app}).
func parseApplicationDoc(data []byte) (*appPayload, []error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, []error{fmt.Errorf("not a JSON object: %v: %.300s", err, data)}
	}
	if len(root) != 1 || root["application"] == nil {
		return nil, []error{fmt.Errorf("root keys %q, want only \"application\" (§3.5)", sortedKeys(root))}
	}
	var a map[string]json.RawMessage
	if err := json.Unmarshal(root["application"], &a); err != nil {
		return nil, []error{fmt.Errorf("application is not an object: %v", err)}
	}
	ap, errs := parseApplication(a)
	return &ap, errs
}

// mustParseApps fails the test on any strictness violation.
func mustParseApps(t *testing.T, data []byte) *appsPayload {
	t.Helper()
	p, errs := parseApps(data)
	for _, e := range errs {
		t.Error(e)
	}
	if p == nil {
		t.FailNow()
	}
	return p
}

// parseInstanceDoc parses {"instance":{...}} (the single-instance root form).
func parseInstanceDoc(data []byte) (jsonObject, []error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, []error{fmt.Errorf("not a JSON object: %v: %.300s", err, data)}
	}
	if len(root) != 1 || root["instance"] == nil {
		return nil, []error{fmt.Errorf("root keys %q, want only \"instance\" (§3.1)", sortedKeys(root))}
	}
	return parseInstance(root["instance"])
}

// parseInstance decodes one instance and checks the §3.1 wire rules.
func parseInstance(raw json.RawMessage) (jsonObject, []error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, []error{err}
	}
	in, ok := v.(jsonObject)
	if !ok {
		return nil, []error{fmt.Errorf("instance is not an object: %.200s", raw)}
	}
	id := instanceID(in)
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("instance %s: %s", id, fmt.Sprintf(format, args...)))
	}
	keys, _ := objectKeys(raw)
	for _, k := range keys {
		if !slices.Contains(instanceKeys, k) {
			fail("unknown key %q (Spring Cloud's strict reader fails on it, §3.1)", k)
		}
	}
	for _, k := range requiredInstanceKeys {
		if _, ok := in[k]; !ok {
			fail("missing key %q (§3.1)", k)
		}
	}
	for k, v := range in {
		if v == nil {
			fail("key %q is null; nulls are omitted (§3.1)", k)
		}
	}
	for _, k := range []string{"instanceId", "hostName", "app", "ipAddr", "sid", "appGroupName", "homePageUrl",
		"statusPageUrl", "healthCheckUrl", "secureHealthCheckUrl", "vipAddress", "secureVipAddress", "asgName"} {
		if v, ok := in[k]; ok {
			if _, isStr := v.(string); !isStr {
				fail("%s must be a string, got %T %v", k, v, v)
			}
		}
	}
	if s, _ := in["app"].(string); s != strings.ToUpper(s) {
		fail("app %q is not upper-case", s)
	}
	if s, ok := in["sid"]; ok && (s == "na" || s == "unknown") {
		fail("sid %q must be omitted (§3.1)", s)
	}
	for _, k := range []string{"status", "overriddenStatus"} {
		if s, _ := in[k].(string); !slices.Contains(statuses, s) {
			fail("%s %v is not a status enum name", k, in[k])
		}
	}
	if a, ok := in["actionType"]; ok && a != "ADDED" && a != "MODIFIED" && a != "DELETED" {
		fail("actionType %v", a)
	}
	for _, k := range []string{"port", "securePort"} {
		p, ok := in[k].(jsonObject)
		if !ok {
			fail("%s is not an object: %v", k, in[k])
			continue
		}
		if len(p) != 2 {
			fail("%s has keys %q, want only \"$\" and \"@enabled\"", k, sortedKeys(p))
		}
		if n, ok := p["$"].(json.Number); !ok {
			fail("%s.$ must be a JSON number (§3.1), got %T %v", k, p["$"], p["$"])
		} else if _, err := n.Int64(); err != nil {
			fail("%s.$ %v is not an integer", k, n)
		}
		if e, ok := p["@enabled"].(string); !ok || (e != "true" && e != "false") {
			fail("%s.@enabled must be the JSON string \"true\" or \"false\" (fargo requires it), got %T %v", k, p["@enabled"], p["@enabled"])
		}
	}
	if n, ok := in["countryId"].(json.Number); !ok {
		fail("countryId must be a JSON number, got %T %v", in["countryId"], in["countryId"])
	} else if _, err := n.Int64(); err != nil {
		fail("countryId %v is not an integer", n)
	}
	if dc, ok := in["dataCenterInfo"].(jsonObject); ok {
		name, _ := dc["name"].(string)
		want := classDefaultDC
		if name == "Amazon" {
			want = classAmazonDC
		}
		if !slices.Contains([]string{"MyOwn", "Amazon", "Netflix"}, name) {
			fail("dataCenterInfo.name %v", dc["name"])
		}
		if dc["@class"] != want {
			fail("dataCenterInfo.@class = %v, want %q (§3.3; Java and SC readers require it)", dc["@class"], want)
		}
		for k := range dc {
			if k != "@class" && k != "name" && !(k == "metadata" && name == "Amazon") {
				fail("dataCenterInfo has unexpected key %q", k)
			}
		}
	} else {
		fail("dataCenterInfo is not an object: %v", in["dataCenterInfo"])
	}
	if li, ok := in["leaseInfo"].(jsonObject); ok {
		for _, k := range leaseKeys {
			n, ok := li[k].(json.Number)
			if !ok {
				fail("leaseInfo.%s must be a JSON number (§3.2), got %T %v", k, li[k], li[k])
				continue
			}
			if _, err := n.Int64(); err != nil {
				fail("leaseInfo.%s %v is not an integer", k, n)
			}
		}
		if len(li) != len(leaseKeys) {
			fail("leaseInfo keys %q, want exactly %q", sortedKeys(li), leaseKeys)
		}
	} else {
		fail("leaseInfo is not an object: %v", in["leaseInfo"])
	}
	if md, ok := in["metadata"].(jsonObject); ok {
		if len(md) == 0 {
			fail("empty metadata must be {\"@class\":\"java.util.Collections$EmptyMap\"} (§3.4), got {}")
		}
		for k, v := range md {
			if _, ok := v.(string); !ok {
				fail("metadata[%q] must be a string, got %T %v", k, v, v)
			}
			if k == "@class" && (len(md) != 1 || v != "java.util.Collections$EmptyMap") {
				fail("metadata @class only marks an empty map (§3.4): %v", md)
			}
		}
	} else {
		fail("metadata is not an object: %v", in["metadata"])
	}
	if s, ok := in["isCoordinatingDiscoveryServer"].(string); !ok || (s != "true" && s != "false") {
		fail("isCoordinatingDiscoveryServer must be the JSON string \"true\"/\"false\" (§3.1), got %T %v", in["isCoordinatingDiscoveryServer"], in["isCoordinatingDiscoveryServer"])
	}
	for _, k := range []string{"lastUpdatedTimestamp", "lastDirtyTimestamp"} {
		s, ok := in[k].(string)
		if !ok {
			fail("%s must be a JSON string of epoch ms (§3.1), got %T %v", k, in[k], in[k])
			continue
		}
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			fail("%s %q is not decimal", k, s)
		}
	}
	return in, errs
}

// checkKeyOrder reports instance keys that are out of the §3.1 order.
func checkKeyOrder(raw []byte) error {
	keys, err := objectKeys(raw)
	if err != nil {
		return err
	}
	last := -1
	for _, k := range keys {
		i := slices.Index(instanceKeys, k)
		if i < 0 {
			continue
		}
		if i < last {
			return fmt.Errorf("key %q comes after %q; §3.1 order is %q", k, instanceKeys[last], instanceKeys)
		}
		last = i
	}
	return nil
}

func isJSONArray(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '['
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// reconcileHash computes §4.1's apps__hashcode over the payload's instances.
func reconcileHash(p *appsPayload) string {
	counts := map[string]int{}
	for _, a := range p.Apps {
		for _, in := range a.Instances {
			s, _ := in["status"].(string)
			counts[s]++
		}
	}
	var b strings.Builder
	for _, s := range sortedKeys(counts) {
		fmt.Fprintf(&b, "%s_%d_", s, counts[s])
	}
	return b.String()
}

// str returns a string field of a JSON object ("" if absent or not a string).
func str(o jsonObject, path ...string) string {
	var cur any = o
	for _, p := range path {
		m, ok := cur.(jsonObject)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

// num returns an integer field of a JSON object, or -1 if absent or not a
// JSON number.
func num(o jsonObject, path ...string) int64 {
	var cur any = o
	for _, p := range path {
		m, ok := cur.(jsonObject)
		if !ok {
			return -1
		}
		cur = m[p]
	}
	n, ok := cur.(json.Number)
	if !ok {
		return -1
	}
	v, err := n.Int64()
	if err != nil {
		return -1
	}
	return v
}

// strNum parses a decimal string field (the string-typed timestamps), or -1.
func strNum(o jsonObject, key string) int64 {
	v, err := strconv.ParseInt(str(o, key), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// jsonHeaders are the headers the Java and Spring Cloud clients send on
// reads (§2.18): JSON and gzip.
var jsonHeaders = []string{"Accept", "application/json", "Accept-Encoding", "gzip"}

// getApps fetches and strictly parses an Applications document (full,
// delta or VIP) the way the Java client does.
func getApps(t *testing.T, url string) (*response, *appsPayload, []error) {
	t.Helper()
	r := do(t, http.MethodGet, url, nil, jsonHeaders...)
	if r.Status != http.StatusOK {
		return r, nil, []error{fmt.Errorf("GET %s: status %d, want 200", url, r.Status)}
	}
	p, errs := parseApps(r.Plain(t))
	return r, p, errs
}

// getInstance fetches GET apps/APP/ID as JSON and parses it strictly. It
// returns nil with the status when the answer is not 200.
func getInstance(t *testing.T, base, app, id string) (jsonObject, int) {
	t.Helper()
	r := do(t, http.MethodGet, base+"apps/"+app+"/"+id, nil, "Accept", "application/json")
	if r.Status != http.StatusOK {
		return nil, r.Status
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET apps/%s/%s with Accept: application/json: Content-Type %q", app, id, ct)
	}
	in, errs := parseInstanceDoc(r.Body)
	for _, e := range errs {
		t.Error(e)
	}
	if in == nil {
		t.FailNow()
	}
	return in, r.Status
}

// mustGetInstance is getInstance that requires 200.
func mustGetInstance(t *testing.T, base, app, id string) jsonObject {
	t.Helper()
	in, status := getInstance(t, base, app, id)
	if status != http.StatusOK {
		t.Fatalf("GET apps/%s/%s: status %d, want 200", app, id, status)
	}
	return in
}
