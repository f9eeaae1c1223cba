package eureka

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// classEmptyMap is the Java class Jackson writes for an empty metadata map.
const classEmptyMap = "java.util.Collections$EmptyMap"

// AppendInstanceJSON appends in as the unwrapped instance object, the shape
// used inside application.instance[] and replication payloads (§3.1). A nil
// in is written as null.
func AppendInstanceJSON(dst []byte, in *InstanceInfo) []byte {
	if in == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	if id := emittedInstanceID(in); id != "" {
		dst = append(dst, `"instanceId":`...)
		dst = appendJSONString(dst, id)
		dst = append(dst, ',')
	}
	dst = append(dst, `"hostName":`...)
	dst = appendJSONString(dst, in.HostName)
	dst = append(dst, `,"app":`...)
	dst = appendJSONString(dst, in.App)
	dst = append(dst, `,"ipAddr":`...)
	dst = appendJSONString(dst, in.IPAddr)
	if emitSID(in.SID) {
		dst = append(dst, `,"sid":`...)
		dst = appendJSONString(dst, in.SID)
	}
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, string(statusOrUnknown(in.Status)))
	dst = append(dst, `,"overriddenStatus":`...)
	dst = appendJSONString(dst, string(statusOrUnknown(in.OverriddenStatus)))
	dst = append(dst, `,"port":`...)
	dst = appendJSONPort(dst, in.Port)
	dst = append(dst, `,"securePort":`...)
	dst = appendJSONPort(dst, in.SecurePort)
	dst = append(dst, `,"countryId":`...)
	dst = strconv.AppendInt(dst, int64(countryOrDefault(in.CountryID)), 10)
	if d := in.DataCenterInfo; d != nil {
		dst = append(dst, `,"dataCenterInfo":{"@class":`...)
		dst = appendJSONString(dst, d.Class())
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, d.Name)
		if d.Name == DataCenterAmazon {
			dst = append(dst, `,"metadata":`...)
			dst = appendJSONMap(dst, d.Metadata, false)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"leaseInfo":`...)
	dst = appendJSONLease(dst, in.LeaseInfo)
	dst = append(dst, `,"metadata":`...)
	dst = appendJSONMap(dst, in.Metadata, true)
	dst = appendJSONOptional(dst, `,"appGroupName":`, in.AppGroupName)
	dst = appendJSONOptional(dst, `,"homePageUrl":`, in.HomePageURL)
	dst = appendJSONOptional(dst, `,"statusPageUrl":`, in.StatusPageURL)
	dst = appendJSONOptional(dst, `,"healthCheckUrl":`, in.HealthCheckURL)
	dst = appendJSONOptional(dst, `,"secureHealthCheckUrl":`, in.SecureHealthCheckURL)
	dst = appendJSONOptional(dst, `,"vipAddress":`, in.VIPAddress)
	dst = appendJSONOptional(dst, `,"secureVipAddress":`, in.SecureVIPAddress)
	// The Java server's reflective pass stringifies these three.
	if in.IsCoordinatingDiscoveryServer {
		dst = append(dst, `,"isCoordinatingDiscoveryServer":"true"`...)
	} else {
		dst = append(dst, `,"isCoordinatingDiscoveryServer":"false"`...)
	}
	dst = append(dst, `,"lastUpdatedTimestamp":"`...)
	dst = strconv.AppendInt(dst, in.LastUpdatedTimestamp, 10)
	dst = append(dst, `","lastDirtyTimestamp":"`...)
	dst = strconv.AppendInt(dst, in.LastDirtyTimestamp, 10)
	dst = append(dst, '"')
	dst = appendJSONOptional(dst, `,"actionType":`, string(in.ActionType))
	dst = appendJSONOptional(dst, `,"asgName":`, in.ASGName)
	return append(dst, '}')
}

// AppendInstanceJSONWrapped appends in as {"instance":{…}}, the shape of a
// single-instance GET, a register body and a 409 body.
func AppendInstanceJSONWrapped(dst []byte, in *InstanceInfo) []byte {
	dst = append(dst, `{"instance":`...)
	dst = AppendInstanceJSON(dst, in)
	return append(dst, '}')
}

// AppendApplicationJSON appends app as {"application":{"name":…,"instance":[…]}}
// (GET apps/{app}).
func AppendApplicationJSON(dst []byte, app *Application) []byte {
	dst = append(dst, `{"application":`...)
	dst = appendApplicationObjectJSON(dst, app, nil)
	return append(dst, '}')
}

// AppendApplicationsJSON appends apps as {"applications":{…}}: the full
// registry, a delta or a VIP answer. Lists are always arrays because the
// Spring Cloud client accepts nothing else.
func AppendApplicationsJSON(dst []byte, apps *Applications) []byte {
	dst = append(dst, `{"applications":`...)
	dst = appendApplicationsObjectJSON(dst, apps, nil)
	return append(dst, '}')
}

// WriteApplicationsJSON writes apps to w in AppendApplicationsJSON's
// encoding, byte for byte, in chunks of about 64 KiB: a large registry is
// never held whole in memory. It returns the first error of w.
func WriteApplicationsJSON(w io.Writer, apps *Applications) error {
	c := &chunker{w: w}
	dst := make([]byte, 0, chunkSize+8<<10)
	dst = append(dst, `{"applications":`...)
	dst = appendApplicationsObjectJSON(dst, apps, c)
	return c.flush(append(dst, '}'))
}

func appendApplicationsObjectJSON(dst []byte, apps *Applications, c *chunker) []byte {
	if apps == nil {
		apps = &Applications{}
	}
	dst = appendApplicationsHeadJSON(dst, apps.VersionsDelta, apps.AppsHashcode)
	first := true
	for _, app := range apps.Applications {
		if app == nil {
			continue
		}
		dst = appendApplicationsItemJSON(dst, app, first, c)
		first = false
	}
	return append(dst, "]}"...)
}

// appendApplicationsHeadJSON writes the applications object up to the
// opening of its application list.
func appendApplicationsHeadJSON(dst []byte, versionsDelta int64, hashcode string) []byte {
	dst = append(dst, `{"versions__delta":"`...)
	dst = strconv.AppendInt(dst, versionsDelta, 10)
	dst = append(dst, `","apps__hashcode":`...)
	dst = appendJSONString(dst, hashcode)
	return append(dst, `,"application":[`...)
}

// appendApplicationsItemJSON writes app as an element of the application
// list, after a comma unless it is the first.
func appendApplicationsItemJSON(dst []byte, app *Application, first bool, c *chunker) []byte {
	if !first {
		dst = append(dst, ',')
	}
	return appendApplicationObjectJSON(dst, app, c)
}

func appendApplicationObjectJSON(dst []byte, app *Application, c *chunker) []byte {
	if app == nil {
		app = &Application{}
	}
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, app.Name)
	dst = append(dst, `,"instance":[`...)
	first := true
	for _, in := range app.Instances {
		if in == nil {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendInstanceJSON(dst, in)
		dst = c.spill(dst)
	}
	return append(dst, "]}"...)
}

// emittedInstanceID is the instanceId written for in: the stored one, or
// the id Spring Cloud's server derives from metadata.instanceId (§3.1 row
// 1). Nothing is invented otherwise: fargo and the js client key
// instances by hostName when instanceId is absent.
func emittedInstanceID(in *InstanceInfo) string {
	if in.InstanceID != "" {
		return in.InstanceID
	}
	id := in.Metadata["instanceId"]
	if strings.TrimSpace(id) == "" {
		return ""
	}
	if strings.TrimSpace(in.HostName) == "" || strings.HasPrefix(id, in.HostName) {
		return id
	}
	return in.HostName + ":" + id
}

// emitSID reports whether sid is written: Java leaves out its default "na"
// and "unknown".
func emitSID(sid string) bool {
	return sid != "" && sid != "na" && sid != "unknown"
}

func statusOrUnknown(s Status) Status {
	if s == "" {
		return StatusUnknown
	}
	return s
}

func countryOrDefault(c int) int {
	if c == 0 {
		return 1
	}
	return c
}

var defaultLeaseInfo = LeaseInfo{
	RenewalIntervalInSecs: DefaultRenewalIntervalInSecs,
	DurationInSecs:        DefaultDurationInSecs,
}

func appendJSONPort(dst []byte, p Port) []byte {
	dst = append(dst, `{"$":`...)
	dst = strconv.AppendInt(dst, int64(p.Number), 10)
	if p.Enabled {
		return append(dst, `,"@enabled":"true"}`...)
	}
	return append(dst, `,"@enabled":"false"}`...)
}

func appendJSONLease(dst []byte, l *LeaseInfo) []byte {
	if l == nil {
		l = &defaultLeaseInfo
	}
	dst = append(dst, `{"renewalIntervalInSecs":`...)
	dst = strconv.AppendInt(dst, int64(l.RenewalIntervalInSecs), 10)
	dst = append(dst, `,"durationInSecs":`...)
	dst = strconv.AppendInt(dst, int64(l.DurationInSecs), 10)
	dst = append(dst, `,"registrationTimestamp":`...)
	dst = strconv.AppendInt(dst, l.RegistrationTimestamp, 10)
	dst = append(dst, `,"lastRenewalTimestamp":`...)
	dst = strconv.AppendInt(dst, l.LastRenewalTimestamp, 10)
	dst = append(dst, `,"evictionTimestamp":`...)
	dst = strconv.AppendInt(dst, l.EvictionTimestamp, 10)
	dst = append(dst, `,"serviceUpTimestamp":`...)
	dst = strconv.AppendInt(dst, l.ServiceUpTimestamp, 10)
	return append(dst, '}')
}

// appendJSONMap writes m with sorted keys. emptyMarker selects Java's
// EmptyMap marker for an empty map (instance metadata) instead of {}.
func appendJSONMap(dst []byte, m map[string]string, emptyMarker bool) []byte {
	if len(m) == 0 {
		if emptyMarker {
			return append(dst, `{"@class":"`+classEmptyMap+`"}`...)
		}
		return append(dst, "{}"...)
	}
	var buf [16]string
	keys := sortedKeys(buf[:0], m)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, m[k])
	}
	return append(dst, '}')
}

// sortedKeys appends the keys of m to keys (usually backed by a caller's
// stack array, to spare an allocation for small maps) and sorts them.
func sortedKeys(keys []string, m map[string]string) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendJSONOptional(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, key...)
	return appendJSONString(dst, v)
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes written as they are inside a JSON string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendJSONString appends s to dst as a quoted JSON string, the escaping
// the JSON encoders here use, so that code building JSON around them (a
// listener's payload, say) escapes the same way without encoding/json.
//
// Decoding the result with encoding/json gives back s when s is valid
// UTF-8. Each byte of s that is not part of valid UTF-8 is written as
// \ufffd, so the output is always valid JSON and decodes to what
// json.Marshal(s) decodes to. Unlike json.Marshal it does not escape <, >
// and &, and it writes control characters other than \n, \r and \t as
// \u00XX (json.Marshal uses \b and \f too); U+2028 and U+2029 are escaped
// by both.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does, so the output is always valid JSON;
// U+2028 and U+2029 are escaped so the output is also valid JavaScript.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
