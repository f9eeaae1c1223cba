package eureka

import (
	"io"
	"strconv"
	"unicode/utf8"
)

// xmlOut is the layout of XML output. The HTTP responses are pretty-printed
// with two-space indentation like XStream's writer; the xml.Marshaler
// methods use the compact form and let the caller's xml.Encoder indent.
type xmlOut struct {
	pretty bool
	// c, when set, receives the output after each instance (streaming).
	c *chunker
}

var prettyXML = xmlOut{pretty: true}

// AppendInstanceXML appends in as an <instance> document (§3.6), as
// served for GET apps/{app}/{id}. A nil in is written as <instance/>.
func AppendInstanceXML(dst []byte, in *InstanceInfo) []byte {
	return prettyXML.instance(dst, in, 0)
}

// AppendApplicationXML appends app as an <application> document.
func AppendApplicationXML(dst []byte, app *Application) []byte {
	return prettyXML.application(dst, app, 0)
}

// AppendApplicationsXML appends apps as an <applications> document: the
// full registry, a delta or a VIP answer.
func AppendApplicationsXML(dst []byte, apps *Applications) []byte {
	return prettyXML.applications(dst, apps, 0)
}

// WriteApplicationsXML writes apps to w in AppendApplicationsXML's
// encoding, byte for byte, in chunks of about 64 KiB. It returns the first
// error of w.
func WriteApplicationsXML(w io.Writer, apps *Applications) error {
	o := xmlOut{pretty: true, c: &chunker{w: w}}
	dst := o.applications(make([]byte, 0, chunkSize+8<<10), apps, 0)
	return o.c.flush(dst)
}

func (o xmlOut) applications(dst []byte, apps *Applications, depth int) []byte {
	if apps == nil {
		apps = &Applications{}
	}
	dst = o.applicationsHead(dst, apps.VersionsDelta, apps.AppsHashcode, depth)
	for _, app := range apps.Applications {
		if app == nil {
			continue
		}
		dst = o.applicationsItem(dst, app, depth)
	}
	return o.applicationsTail(dst, depth)
}

// applicationsHead writes <applications> and its two header elements.
func (o xmlOut) applicationsHead(dst []byte, versionsDelta int64, hashcode string, depth int) []byte {
	dst = append(dst, "<applications>"...)
	dst = o.nl(dst, depth+1)
	dst = append(dst, "<versions__delta>"...)
	dst = strconv.AppendInt(dst, versionsDelta, 10)
	dst = append(dst, "</versions__delta>"...)
	dst = o.nl(dst, depth+1)
	dst = append(dst, "<apps__hashcode>"...)
	dst = appendXMLText(dst, hashcode)
	return append(dst, "</apps__hashcode>"...)
}

// applicationsItem writes one <application> of an <applications> at depth.
func (o xmlOut) applicationsItem(dst []byte, app *Application, depth int) []byte {
	dst = o.nl(dst, depth+1)
	return o.application(dst, app, depth+1)
}

func (o xmlOut) applicationsTail(dst []byte, depth int) []byte {
	dst = o.nl(dst, depth)
	return append(dst, "</applications>"...)
}

func (o xmlOut) application(dst []byte, app *Application, depth int) []byte {
	if app == nil {
		app = &Application{}
	}
	dst = append(dst, "<application>"...)
	dst = o.leaf(dst, depth+1, "name", app.Name)
	for _, in := range app.Instances {
		if in == nil {
			continue
		}
		dst = o.nl(dst, depth+1)
		dst = o.instance(dst, in, depth+1)
		dst = o.c.spill(dst)
	}
	dst = o.nl(dst, depth)
	return append(dst, "</application>"...)
}

func (o xmlOut) instance(dst []byte, in *InstanceInfo, depth int) []byte {
	if in == nil {
		return append(dst, "<instance/>"...)
	}
	d := depth + 1
	dst = append(dst, "<instance>"...)
	// Unlike JSON, no id is derived from metadata: Spring Cloud's extra
	// lives in its JSON codec only.
	if in.InstanceID != "" {
		dst = o.leaf(dst, d, "instanceId", in.InstanceID)
	}
	dst = o.leaf(dst, d, "hostName", in.HostName)
	dst = o.leaf(dst, d, "app", in.App)
	dst = o.leaf(dst, d, "ipAddr", in.IPAddr)
	if emitSID(in.SID) {
		dst = o.leaf(dst, d, "sid", in.SID)
	}
	dst = o.leaf(dst, d, "status", string(statusOrUnknown(in.Status)))
	dst = o.leaf(dst, d, "overriddenstatus", string(statusOrUnknown(in.OverriddenStatus)))
	dst = o.port(dst, d, "port", in.Port)
	dst = o.port(dst, d, "securePort", in.SecurePort)
	dst = o.nl(dst, d)
	dst = append(dst, "<countryId>"...)
	dst = strconv.AppendInt(dst, int64(countryOrDefault(in.CountryID)), 10)
	dst = append(dst, "</countryId>"...)
	if dc := in.DataCenterInfo; dc != nil {
		dst = o.nl(dst, d)
		dst = append(dst, `<dataCenterInfo class="`...)
		dst = append(dst, dc.Class()...) // constant, nothing to escape
		dst = append(dst, `">`...)
		dst = o.leaf(dst, d+1, "name", dc.Name)
		if dc.Name == DataCenterAmazon {
			dst = o.metadata(dst, d+1, dc.Metadata, false)
		}
		dst = o.nl(dst, d)
		dst = append(dst, "</dataCenterInfo>"...)
	}
	dst = o.lease(dst, d, in.LeaseInfo)
	dst = o.metadata(dst, d, in.Metadata, true)
	dst = o.optional(dst, d, "appGroupName", in.AppGroupName)
	dst = o.optional(dst, d, "homePageUrl", in.HomePageURL)
	dst = o.optional(dst, d, "statusPageUrl", in.StatusPageURL)
	dst = o.optional(dst, d, "healthCheckUrl", in.HealthCheckURL)
	dst = o.optional(dst, d, "secureHealthCheckUrl", in.SecureHealthCheckURL)
	dst = o.optional(dst, d, "vipAddress", in.VIPAddress)
	dst = o.optional(dst, d, "secureVipAddress", in.SecureVIPAddress)
	dst = o.leaf(dst, d, "isCoordinatingDiscoveryServer", strconv.FormatBool(in.IsCoordinatingDiscoveryServer))
	dst = o.int(dst, d, "lastUpdatedTimestamp", in.LastUpdatedTimestamp)
	dst = o.int(dst, d, "lastDirtyTimestamp", in.LastDirtyTimestamp)
	dst = o.optional(dst, d, "actionType", string(in.ActionType))
	dst = o.optional(dst, d, "asgName", in.ASGName)
	dst = o.nl(dst, depth)
	return append(dst, "</instance>"...)
}

func (o xmlOut) port(dst []byte, depth int, name string, p Port) []byte {
	dst = o.nl(dst, depth)
	dst = append(dst, '<')
	dst = append(dst, name...)
	if p.Enabled {
		dst = append(dst, ` enabled="true">`...)
	} else {
		dst = append(dst, ` enabled="false">`...)
	}
	dst = strconv.AppendInt(dst, int64(p.Number), 10)
	dst = append(dst, '<', '/')
	dst = append(dst, name...)
	return append(dst, '>')
}

func (o xmlOut) lease(dst []byte, depth int, l *LeaseInfo) []byte {
	if l == nil {
		l = &defaultLeaseInfo
	}
	dst = o.nl(dst, depth)
	dst = append(dst, "<leaseInfo>"...)
	dst = o.int(dst, depth+1, "renewalIntervalInSecs", int64(l.RenewalIntervalInSecs))
	dst = o.int(dst, depth+1, "durationInSecs", int64(l.DurationInSecs))
	dst = o.int(dst, depth+1, "registrationTimestamp", l.RegistrationTimestamp)
	dst = o.int(dst, depth+1, "lastRenewalTimestamp", l.LastRenewalTimestamp)
	dst = o.int(dst, depth+1, "evictionTimestamp", l.EvictionTimestamp)
	dst = o.int(dst, depth+1, "serviceUpTimestamp", l.ServiceUpTimestamp)
	dst = o.nl(dst, depth)
	return append(dst, "</leaseInfo>"...)
}

// metadata writes m as <metadata> with one element per key, in sorted key
// order. emptyMarker selects Java's EmptyMap marker for an empty map
// (instance metadata); an empty Amazon map is <metadata/> as XStream writes
// it.
func (o xmlOut) metadata(dst []byte, depth int, m map[string]string, emptyMarker bool) []byte {
	dst = o.nl(dst, depth)
	if len(m) == 0 || len(m) == 1 && hasKey(m, "") {
		if emptyMarker {
			return append(dst, `<metadata class="`+classEmptyMap+`"/>`...)
		}
		return append(dst, "<metadata/>"...)
	}
	var buf [16]string
	keys := sortedKeys(buf[:0], m)
	dst = append(dst, "<metadata>"...)
	for _, k := range keys {
		if k == "" {
			continue // no element can carry it; see xml_name.go
		}
		dst = o.nl(dst, depth+1)
		dst = append(dst, '<')
		start := len(dst)
		dst = appendXMLName(dst, k)
		end := len(dst)
		dst = append(dst, '>')
		dst = appendXMLText(dst, m[k])
		dst = append(dst, '<', '/')
		dst = append(dst, dst[start:end]...)
		dst = append(dst, '>')
	}
	dst = o.nl(dst, depth)
	return append(dst, "</metadata>"...)
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// leaf writes <name>text</name> on its own line.
func (o xmlOut) leaf(dst []byte, depth int, name, text string) []byte {
	dst = o.nl(dst, depth)
	dst = append(dst, '<')
	dst = append(dst, name...)
	dst = append(dst, '>')
	dst = appendXMLText(dst, text)
	dst = append(dst, '<', '/')
	dst = append(dst, name...)
	return append(dst, '>')
}

func (o xmlOut) optional(dst []byte, depth int, name, text string) []byte {
	if text == "" {
		return dst
	}
	return o.leaf(dst, depth, name, text)
}

func (o xmlOut) int(dst []byte, depth int, name string, v int64) []byte {
	dst = o.nl(dst, depth)
	dst = append(dst, '<')
	dst = append(dst, name...)
	dst = append(dst, '>')
	dst = strconv.AppendInt(dst, v, 10)
	dst = append(dst, '<', '/')
	dst = append(dst, name...)
	return append(dst, '>')
}

// nl starts a line at depth in pretty output.
func (o xmlOut) nl(dst []byte, depth int) []byte {
	if !o.pretty {
		return dst
	}
	dst = append(dst, '\n')
	for range depth {
		dst = append(dst, ' ', ' ')
	}
	return dst
}

// appendXMLText appends s as XML character data, escaped as XStream does.
// Characters XML 1.0 cannot carry at all (most control characters, invalid
// UTF-8, U+FFFE, U+FFFF) become U+FFFD, as encoding/xml does, so the output
// always parses. "\r" is written as a reference because parsers would
// otherwise turn it into "\n".
func appendXMLText(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		var esc string
		size := 1
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				esc = "&amp;"
			case c == '<':
				esc = "&lt;"
			case c == '>':
				esc = "&gt;"
			case c == '"':
				esc = "&quot;"
			case c == '\'':
				esc = "&apos;"
			case c == '\r':
				esc = "&#xD;"
			case c < 0x20 && c != '\n' && c != '\t':
				esc = "\uFFFD"
			default:
				i++
				continue
			}
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if !(r == utf8.RuneError && size == 1) && r != 0xFFFE && r != 0xFFFF {
				i += size
				continue
			}
			esc = "\uFFFD"
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, esc...)
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}
