package eureka

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeInstanceXML decodes an <instance> document (the XML register body
// of fargo, old Java clients and curl users). The root element's name is
// not checked. The leniency and defaults are those of DecodeInstanceJSON
// (§3.6.1): both overriddenstatus spellings, statuses in any case, unknown
// elements ignored, metadata element names decoded (see xml_name.go), and
// a port without an enabled attribute taken as enabled, a secure port as
// disabled.
//
// A missing lastDirtyTimestamp is left 0, for the registry to fill.
func DecodeInstanceXML(data []byte) (*InstanceInfo, error) {
	var x xmlInstance
	if err := decodeXMLDocument(data, &x); err != nil {
		return nil, malformed("instance XML", err)
	}
	in, err := x.instance()
	if err != nil {
		return nil, malformed("instance XML", err)
	}
	return in, nil
}

// DecodeApplicationXML decodes an <application> document.
func DecodeApplicationXML(data []byte) (*Application, error) {
	var x xmlApplication
	if err := decodeXMLDocument(data, &x); err != nil {
		return nil, malformed("application XML", err)
	}
	app, err := x.application()
	if err != nil {
		return nil, malformed("application XML", err)
	}
	return app, nil
}

// DecodeApplicationsXML decodes an <applications> document (full registry,
// delta or VIP answer).
func DecodeApplicationsXML(data []byte) (*Applications, error) {
	var x xmlApplications
	if err := decodeXMLDocument(data, &x); err != nil {
		return nil, malformed("applications XML", err)
	}
	apps, err := x.applications()
	if err != nil {
		return nil, malformed("applications XML", err)
	}
	return apps, nil
}

// decodeXMLDocument decodes the root element into v and rejects anything
// but whitespace, comments and processing instructions after it.
func decodeXMLDocument(data []byte, v any) error {
	if err := checkCharRefs(data); err != nil {
		return err
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charsetReader
	if err := d.Decode(v); err != nil {
		if err == io.EOF {
			return errors.New("no root element")
		}
		return err
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return fmt.Errorf("second root element <%s>", t.Name.Local)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errors.New("text after the root element")
			}
		}
	}
}

// xmlVerbatim are the markup sections whose text holds no character
// references: CDATA, comments, processing instructions.
var xmlVerbatim = [...]struct{ open, close string }{
	{"<![CDATA[", "]]>"}, {"<!--", "-->"}, {"<?", "?>"},
}

// checkCharRefs refuses a character reference to a UTF-16 surrogate
// (&#xD800;), which XML does not allow and encoding/xml turns into U+FFFD
// instead of refusing, as it refuses &#0; (see ErrInvalidUTF8). Bytes that
// are not UTF-8 need no check here: encoding/xml refuses them.
func checkCharRefs(data []byte) error {
	if !bytes.Contains(data, []byte("&#")) {
		return nil // the usual document
	}
	for i := 0; i < len(data); {
		j := bytes.IndexAny(data[i:], "<&")
		if j < 0 {
			return nil
		}
		i += j
		if data[i] == '&' {
			if r, ok := charRef(data[i:]); ok && utf16.IsSurrogate(r) {
				return fmt.Errorf("character reference at offset %d is a UTF-16 surrogate: %w", i, ErrInvalidUTF8)
			}
			i++
			continue
		}
		skipped := false
		for _, v := range xmlVerbatim {
			if bytes.HasPrefix(data[i:], []byte(v.open)) {
				k := bytes.Index(data[i+len(v.open):], []byte(v.close))
				if k < 0 {
					return nil // unterminated: encoding/xml reports it
				}
				i += len(v.open) + k + len(v.close)
				skipped = true
				break
			}
		}
		if !skipped {
			i++
		}
	}
	return nil
}

// charRef reads the character reference (&#N; or &#xH;) at the start of
// b; ok is false if there is none or its number is beyond Unicode.
func charRef(b []byte) (r rune, ok bool) {
	b, found := bytes.CutPrefix(b, []byte("&#"))
	if !found {
		return 0, false
	}
	base := rune(10)
	if len(b) > 0 && b[0] == 'x' {
		base, b = 16, b[1:]
	}
	for n, c := range b {
		if c == ';' {
			return r, n > 0
		}
		d := unhex(c)
		if d < 0 || d >= base {
			return 0, false
		}
		if r = r*base + d; r > utf8.MaxRune {
			return 0, false
		}
	}
	return 0, false
}

// charsetReader lets documents declare ASCII or Latin-1 (the only
// non-UTF-8 encodings anyone is likely to send); Latin-1 is transcoded.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "us-ascii", "ascii":
		return r, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1":
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b)+len(b)/8)
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}

// xmlText is an element whose presence matters (nil = absent).
type xmlText = *string

type xmlInstance struct {
	InstanceID                    string         `xml:"instanceId"`
	HostName                      string         `xml:"hostName"`
	App                           string         `xml:"app"`
	IPAddr                        string         `xml:"ipAddr"`
	SID                           string         `xml:"sid"`
	Status                        xmlText        `xml:"status"`
	OverriddenStatus              xmlText        `xml:"overriddenstatus"`
	OverriddenStatusCamel         xmlText        `xml:"overriddenStatus"`
	Port                          *xmlPort       `xml:"port"`
	SecurePort                    *xmlPort       `xml:"securePort"`
	CountryID                     string         `xml:"countryId"`
	DataCenterInfo                *xmlDataCenter `xml:"dataCenterInfo"`
	LeaseInfo                     *xmlLease      `xml:"leaseInfo"`
	Metadata                      xmlMetadata    `xml:"metadata"`
	AppGroupName                  string         `xml:"appGroupName"`
	HomePageURL                   string         `xml:"homePageUrl"`
	StatusPageURL                 string         `xml:"statusPageUrl"`
	HealthCheckURL                string         `xml:"healthCheckUrl"`
	SecureHealthCheckURL          string         `xml:"secureHealthCheckUrl"`
	VIPAddress                    string         `xml:"vipAddress"`
	SecureVIPAddress              string         `xml:"secureVipAddress"`
	IsCoordinatingDiscoveryServer string         `xml:"isCoordinatingDiscoveryServer"`
	LastUpdatedTimestamp          string         `xml:"lastUpdatedTimestamp"`
	LastDirtyTimestamp            string         `xml:"lastDirtyTimestamp"`
	ActionType                    string         `xml:"actionType"`
	ASGName                       string         `xml:"asgName"`
}

type xmlPort struct {
	Enabled xmlText `xml:"enabled,attr"`
	Number  string  `xml:",chardata"`
}

type xmlDataCenter struct {
	Name     string      `xml:"name"`
	Metadata xmlMetadata `xml:"metadata"`
}

type xmlLease struct {
	RenewalIntervalInSecs string  `xml:"renewalIntervalInSecs"`
	DurationInSecs        string  `xml:"durationInSecs"`
	RegistrationTimestamp string  `xml:"registrationTimestamp"`
	LastRenewalTimestamp  xmlText `xml:"lastRenewalTimestamp"`
	RenewalTimestamp      string  `xml:"renewalTimestamp"` // older name
	EvictionTimestamp     string  `xml:"evictionTimestamp"`
	ServiceUpTimestamp    string  `xml:"serviceUpTimestamp"`
}

type xmlApplication struct {
	Name      string         `xml:"name"`
	Instances []*xmlInstance `xml:"instance"`
}

type xmlApplications struct {
	VersionsDelta    xmlText           `xml:"versions__delta"`
	VersionsDeltaOne string            `xml:"versions_delta"`
	AppsHashcode     xmlText           `xml:"apps__hashcode"`
	AppsHashcodeOne  string            `xml:"apps_hashcode"`
	Applications     []*xmlApplication `xml:"application"`
}

// xmlMetadata reads a map written as one child element per key. The class
// attribute of Java's EmptyMap marker is not a child, so it is ignored.
type xmlMetadata struct {
	m map[string]string
}

func (x *xmlMetadata) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	if x.m == nil {
		x.m = make(map[string]string)
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			v, err := xmlChildText(d)
			if err != nil {
				return err
			}
			x.m[decodeXMLName(t.Name.Local)] = v
		case xml.EndElement:
			return nil
		}
	}
}

// xmlChildText returns the character data directly inside the element
// whose start tag was just read, skipping nested elements.
func xmlChildText(d *xml.Decoder) (string, error) {
	var s []byte
	for {
		tok, err := d.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			s = append(s, t...)
		case xml.StartElement:
			if err := d.Skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			return string(s), nil
		}
	}
}

func (x *xmlInstance) instance() (*InstanceInfo, error) {
	in := &InstanceInfo{
		InstanceID:                    x.InstanceID,
		HostName:                      x.HostName,
		App:                           x.App,
		IPAddr:                        x.IPAddr,
		SID:                           x.SID,
		Status:                        StatusUp,
		OverriddenStatus:              StatusUnknown,
		Port:                          Port{Number: defaultPort, Enabled: true},
		SecurePort:                    Port{Number: defaultSecurePort},
		Metadata:                      x.Metadata.m,
		AppGroupName:                  x.AppGroupName,
		HomePageURL:                   x.HomePageURL,
		StatusPageURL:                 x.StatusPageURL,
		HealthCheckURL:                x.HealthCheckURL,
		SecureHealthCheckURL:          x.SecureHealthCheckURL,
		VIPAddress:                    x.VIPAddress,
		SecureVIPAddress:              x.SecureVIPAddress,
		IsCoordinatingDiscoveryServer: parseBoolText(x.IsCoordinatingDiscoveryServer),
		ActionType:                    parseActionType(x.ActionType),
		ASGName:                       x.ASGName,
	}
	if x.Status != nil {
		in.Status = ParseStatusLenient(*x.Status)
	}
	switch {
	case x.OverriddenStatus != nil:
		in.OverriddenStatus = ParseStatusLenient(*x.OverriddenStatus)
	case x.OverriddenStatusCamel != nil:
		in.OverriddenStatus = ParseStatusLenient(*x.OverriddenStatusCamel)
	}
	if p := x.Port; p != nil {
		if err := p.into(&in.Port, "port", !strings.EqualFold(deref(p.Enabled), "false")); err != nil {
			return nil, err
		}
	}
	if p := x.SecurePort; p != nil {
		if err := p.into(&in.SecurePort, "securePort", strings.EqualFold(deref(p.Enabled), "true")); err != nil {
			return nil, err
		}
	}
	var err error
	if in.CountryID, err = xmlInt[int](x.CountryID, "countryId", 0); err != nil {
		return nil, err
	}
	if in.LastUpdatedTimestamp, err = xmlInt[int64](x.LastUpdatedTimestamp, "lastUpdatedTimestamp", 0); err != nil {
		return nil, err
	}
	if in.LastDirtyTimestamp, err = xmlInt[int64](x.LastDirtyTimestamp, "lastDirtyTimestamp", 0); err != nil {
		return nil, err
	}
	if d := x.DataCenterInfo; d != nil {
		in.DataCenterInfo = &DataCenterInfo{Name: strings.TrimSpace(d.Name), Metadata: d.Metadata.m}
	}
	if l := x.LeaseInfo; l != nil {
		if in.LeaseInfo, err = l.lease(); err != nil {
			return nil, err
		}
	}
	finishInstance(in)
	return in, nil
}

func (p *xmlPort) into(dst *Port, field string, enabled bool) error {
	n, err := xmlInt[int](p.Number, field, dst.Number)
	if err != nil {
		return err
	}
	*dst = Port{Number: n, Enabled: enabled}
	return nil
}

func (l *xmlLease) lease() (*LeaseInfo, error) {
	var li LeaseInfo
	renew, err := xmlInt[int64](l.RenewalIntervalInSecs, "leaseInfo.renewalIntervalInSecs", 0)
	if err != nil {
		return nil, err
	}
	duration, err := xmlInt[int64](l.DurationInSecs, "leaseInfo.durationInSecs", 0)
	if err != nil {
		return nil, err
	}
	// Out-of-range intervals get the default, like non-positive ones.
	if v, err := narrowInt(renew, 32); err == nil {
		li.RenewalIntervalInSecs = int32(v)
	}
	if v, err := narrowInt(duration, 32); err == nil {
		li.DurationInSecs = int32(v)
	}
	if li.RegistrationTimestamp, err = xmlInt[int64](l.RegistrationTimestamp, "leaseInfo.registrationTimestamp", 0); err != nil {
		return nil, err
	}
	last := l.RenewalTimestamp
	if l.LastRenewalTimestamp != nil {
		last = *l.LastRenewalTimestamp
	}
	if li.LastRenewalTimestamp, err = xmlInt[int64](last, "leaseInfo.lastRenewalTimestamp", 0); err != nil {
		return nil, err
	}
	if li.EvictionTimestamp, err = xmlInt[int64](l.EvictionTimestamp, "leaseInfo.evictionTimestamp", 0); err != nil {
		return nil, err
	}
	if li.ServiceUpTimestamp, err = xmlInt[int64](l.ServiceUpTimestamp, "leaseInfo.serviceUpTimestamp", 0); err != nil {
		return nil, err
	}
	return &li, nil
}

func (x *xmlApplication) application() (*Application, error) {
	app := &Application{Name: x.Name, Instances: make([]*InstanceInfo, 0, len(x.Instances))}
	for _, xi := range x.Instances {
		in, err := xi.instance()
		if err != nil {
			return nil, err
		}
		app.Instances = append(app.Instances, in)
	}
	return app, nil
}

func (x *xmlApplications) applications() (*Applications, error) {
	delta := x.VersionsDeltaOne
	if x.VersionsDelta != nil {
		delta = *x.VersionsDelta
	}
	hash := x.AppsHashcodeOne
	if x.AppsHashcode != nil {
		hash = *x.AppsHashcode
	}
	v, err := xmlInt[int64](delta, "versions__delta", 0)
	if err != nil {
		return nil, err
	}
	apps := &Applications{
		VersionsDelta: v,
		AppsHashcode:  hash,
		Applications:  make([]*Application, 0, len(x.Applications)),
	}
	for _, xa := range x.Applications {
		app, err := xa.application()
		if err != nil {
			return nil, err
		}
		apps.Applications = append(apps.Applications, app)
	}
	return apps, nil
}

// xmlInt parses element text as an integer of type T; empty text gives def.
func xmlInt[T int | int64](s, field string, def T) (T, error) {
	var zero T
	bits := 64
	if _, ok := any(zero).(int); ok {
		bits = strconv.IntSize
	}
	v, ok, err := parseIntText(s, bits)
	if err != nil {
		return 0, fieldError(field, err)
	}
	if !ok {
		return def, nil
	}
	return T(v), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
