package eureka

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// referenceDecodeInstanceJSON is DecodeInstanceJSON as it was before the
// hand-written decoder replaced it: encoding/json reflection over the
// jsonInstance value types (below and json_scan.go). It is kept,
// unchanged apart from its name, as the specification the differential
// fuzz target (FuzzDecodeInstanceJSONDifferential) checks the new decoder
// against.
func referenceDecodeInstanceJSON(data []byte) (*InstanceInfo, error) {
	data, err := jsonObjectBody(data)
	if err != nil {
		return nil, malformed("instance JSON", err)
	}
	var root struct {
		Instance *jsonInstance `json:"instance"`
		jsonInstance
	}
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, malformed("instance JSON", err)
	}
	j := &root.jsonInstance
	if root.Instance != nil {
		j = root.Instance
	}
	in, err := j.instance()
	if err != nil {
		return nil, malformed("instance JSON", err)
	}
	return in, nil
}

// referenceDecodeApplicationJSON is DecodeApplicationJSON as it was before
// the hand-written decoder (json_apps.go) replaced it, kept unchanged apart
// from its name for FuzzDecodeApplicationJSONDifferential. It decodes {"application":{…}} or a bare application
// object. "instance" may be an array or, as older servers wrote it, a
// single object.
func referenceDecodeApplicationJSON(data []byte) (*Application, error) {
	data, err := jsonObjectBody(data)
	if err != nil {
		return nil, malformed("application JSON", err)
	}
	var root struct {
		Application *jsonApplication `json:"application"`
		jsonApplication
	}
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, malformed("application JSON", err)
	}
	j := &root.jsonApplication
	if root.Application != nil {
		j = root.Application
	}
	app, err := j.application()
	if err != nil {
		return nil, malformed("application JSON", err)
	}
	return app, nil
}

// referenceDecodeApplicationsJSON is DecodeApplicationsJSON as it was
// before the hand-written decoder replaced it, kept likewise for
// FuzzDecodeApplicationsJSONDifferential. It decodes {"applications":{…}} or the bare object.
// "application" and "instance" may be arrays or single objects,
// versions__delta a string or a number, and the old shapes of pre-1.1
// servers (ports as "7101" strings) are accepted.
func referenceDecodeApplicationsJSON(data []byte) (*Applications, error) {
	data, err := jsonObjectBody(data)
	if err != nil {
		return nil, malformed("applications JSON", err)
	}
	var root struct {
		Applications *jsonApplications `json:"applications"`
		jsonApplications
	}
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, malformed("applications JSON", err)
	}
	j := &root.jsonApplications
	if root.Applications != nil {
		j = root.Applications
	}
	apps, err := j.applications()
	if err != nil {
		return nil, malformed("applications JSON", err)
	}
	return apps, nil
}

var errJSONSyntax = errors.New("invalid JSON value")

// jsonText is a string field that may also arrive as a number or boolean
// (their literal text is kept). null leaves it unset.
type jsonText struct {
	s   string
	set bool
}

func (t *jsonText) UnmarshalJSON(b []byte) error {
	s, kind, err := jsonScalar(b)
	switch {
	case err != nil:
		return err
	case kind == 'n':
		return nil
	case kind == '{':
		return typeError(b, reflect.TypeFor[string]())
	}
	t.s, t.set = s, true
	return nil
}

func (n *jsonInt) UnmarshalJSON(b []byte) error {
	s, kind, err := jsonScalar(b)
	switch {
	case err != nil:
		return err
	case kind == 'n':
		return nil
	case kind != 's' && kind != '0':
		return typeError(b, reflect.TypeFor[int64]())
	}
	v, ok, err := parseIntText(s, 64)
	if err != nil {
		return typeError(b, reflect.TypeFor[int64]())
	}
	n.v, n.set = v, ok
	return nil
}

func (f *jsonBool) UnmarshalJSON(b []byte) error {
	s, kind, err := jsonScalar(b)
	switch {
	case err != nil:
		return err
	case kind == 'n':
		return nil
	case kind == 'b', kind == 's':
		f.v = parseBoolText(s)
	case kind == '0':
		v, perr := strconv.ParseFloat(s, 64)
		if perr != nil {
			return typeError(b, reflect.TypeFor[bool]())
		}
		f.v = v != 0
	default:
		return typeError(b, reflect.TypeFor[bool]())
	}
	f.set = true
	return nil
}

func (p *jsonPort) UnmarshalJSON(b []byte) error {
	b = trimJSONSpace(b)
	if len(b) == 0 {
		return errJSONSyntax
	}
	switch b[0] {
	case 'n':
		return nil
	case '{':
		err := eachMember(b, func(key string, val []byte) error {
			switch key {
			case "$":
				return p.number.UnmarshalJSON(val)
			case "@enabled":
				return p.enabled.UnmarshalJSON(val)
			}
			return nil
		})
		if err != nil {
			return err
		}
	case '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if err := p.number.UnmarshalJSON(b); err != nil {
			return err
		}
	default:
		return typeError(b, reflect.TypeFor[Port]())
	}
	return nil
}

// jsonMap is a string map (instance or Amazon metadata). Java's "@class"
// marker is skipped, numbers and booleans are kept as their literal text,
// a nested object or array as its JSON text, and null members are dropped.
type jsonMap struct {
	m map[string]string
}

func (m *jsonMap) UnmarshalJSON(b []byte) error {
	b = trimJSONSpace(b)
	if len(b) == 0 {
		return errJSONSyntax
	}
	if b[0] == 'n' {
		return nil
	}
	if b[0] != '{' {
		return typeError(b, reflect.TypeFor[map[string]string]())
	}
	if m.m == nil {
		m.m = make(map[string]string)
	}
	return eachMember(b, func(key string, val []byte) error {
		if key == "@class" {
			return nil
		}
		s, kind, err := jsonScalar(val)
		switch {
		case err != nil:
			return err
		case kind == 'n':
			return nil
		case kind == '{':
			s = string(val)
		}
		m.m[key] = s
		return nil
	})
}

func typeError(b []byte, t reflect.Type) error {
	v := "value"
	if len(b) > 0 {
		switch b[0] {
		case '"':
			v = "string " + string(b)
			if len(v) > 64 {
				v = strings.ToValidUTF8(v[:64], "") + "…"
			}
		case '{':
			v = "object"
		case '[':
			v = "array"
		case 't', 'f':
			v = "bool"
		default:
			v = "number " + string(b)
		}
	}
	return &json.UnmarshalTypeError{Value: v, Type: t}
}

// jsonScalar interprets one JSON value. kind is 'n' (null), 's' (string,
// unquoted into s), 'b' (boolean, s is its literal), '0' (number, s is its
// literal) or '{' (object or array, s empty).
func jsonScalar(b []byte) (s string, kind byte, err error) {
	b = trimJSONSpace(b)
	if len(b) == 0 {
		return "", 0, errJSONSyntax
	}
	switch b[0] {
	case 'n':
		return "", 'n', nil
	case '"':
		s, err = unquoteJSON(b)
		return s, 's', err
	case 't':
		return "true", 'b', nil
	case 'f':
		return "false", 'b', nil
	case '{', '[':
		return "", '{', nil
	}
	return string(b), '0', nil
}

// unquoteJSON decodes the JSON string literal b. Literals without escapes
// (nearly all of them) are copied directly; the rest go through
// encoding/json, which also replaces invalid UTF-8 with U+FFFD.
func unquoteJSON(b []byte) (string, error) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", errJSONSyntax
	}
	inner := b[1 : len(b)-1]
	plain, ascii := true, true
	for _, c := range inner {
		if c == '\\' || c == '"' || c < 0x20 {
			plain = false
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if plain && (ascii || utf8.Valid(inner)) {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", err
	}
	return s, nil
}

// eachMember calls fn with the unquoted key and raw value of each member
// of the JSON object b, in order.
func eachMember(b []byte, fn func(key string, val []byte) error) error {
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errJSONSyntax
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for {
		end, err := skipJSONString(b, i)
		if err != nil {
			return err
		}
		key, err := unquoteJSON(b[i:end])
		if err != nil {
			return err
		}
		i = skipJSONSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return errJSONSyntax
		}
		i = skipJSONSpace(b, i+1)
		end, err = skipJSONValue(b, i)
		if err != nil {
			return err
		}
		if err := fn(key, b[i:end]); err != nil {
			return err
		}
		i = skipJSONSpace(b, end)
		if i >= len(b) {
			return errJSONSyntax
		}
		switch b[i] {
		case ',':
			i = skipJSONSpace(b, i+1)
		case '}':
			return nil
		default:
			return errJSONSyntax
		}
	}
}

// skipJSONString returns the index just past the string literal at b[i].
func skipJSONString(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, errJSONSyntax
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errJSONSyntax
}

// skipJSONValue returns the index just past the value starting at b[i].
func skipJSONValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errJSONSyntax
	}
	switch b[i] {
	case '"':
		return skipJSONString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipJSONString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errJSONSyntax
	}
	j := i
	for j < len(b) && !isJSONSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	if j == i {
		return 0, errJSONSyntax
	}
	return j, nil
}

type jsonInstance struct {
	InstanceID                    jsonText        `json:"instanceId"`
	HostName                      jsonText        `json:"hostName"`
	App                           jsonText        `json:"app"`
	IPAddr                        jsonText        `json:"ipAddr"`
	SID                           jsonText        `json:"sid"`
	Status                        jsonText        `json:"status"`
	OverriddenStatus              jsonText        `json:"overriddenStatus"`
	OverriddenStatusOld           jsonText        `json:"overriddenstatus"`
	Port                          jsonPort        `json:"port"`
	SecurePort                    jsonPort        `json:"securePort"`
	CountryID                     jsonInt         `json:"countryId"`
	DataCenterInfo                *jsonDataCenter `json:"dataCenterInfo"`
	LeaseInfo                     *jsonLease      `json:"leaseInfo"`
	Metadata                      jsonMap         `json:"metadata"`
	AppGroupName                  jsonText        `json:"appGroupName"`
	HomePageURL                   jsonText        `json:"homePageUrl"`
	StatusPageURL                 jsonText        `json:"statusPageUrl"`
	HealthCheckURL                jsonText        `json:"healthCheckUrl"`
	SecureHealthCheckURL          jsonText        `json:"secureHealthCheckUrl"`
	VIPAddress                    jsonText        `json:"vipAddress"`
	SecureVIPAddress              jsonText        `json:"secureVipAddress"`
	IsCoordinatingDiscoveryServer jsonBool        `json:"isCoordinatingDiscoveryServer"`
	LastUpdatedTimestamp          jsonInt         `json:"lastUpdatedTimestamp"`
	LastDirtyTimestamp            jsonInt         `json:"lastDirtyTimestamp"`
	ActionType                    jsonText        `json:"actionType"`
	ASGName                       jsonText        `json:"asgName"`
}

type jsonDataCenter struct {
	Name     jsonText `json:"name"`
	Metadata jsonMap  `json:"metadata"`
}

type jsonApplication struct {
	Name     jsonText     `json:"name"`
	Instance jsonInstList `json:"instance"`
}

type jsonApplications struct {
	VersionsDelta    jsonInt     `json:"versions__delta"`
	VersionsDeltaOne jsonInt     `json:"versions_delta"` // escapeCharReplacement "_"
	AppsHashcode     jsonText    `json:"apps__hashcode"`
	AppsHashcodeOne  jsonText    `json:"apps_hashcode"`
	Application      jsonAppList `json:"application"`
}

// jsonInstList and jsonAppList accept an array or a single object (old
// servers wrote one-element lists that way); null elements are dropped.
type (
	jsonInstList []*jsonInstance
	jsonAppList  []*jsonApplication
)

func (l *jsonInstList) UnmarshalJSON(b []byte) error {
	return unmarshalOneOrMany(b, (*[]*jsonInstance)(l))
}

func (l *jsonAppList) UnmarshalJSON(b []byte) error {
	return unmarshalOneOrMany(b, (*[]*jsonApplication)(l))
}

func unmarshalOneOrMany[T any](b []byte, list *[]*T) error {
	b = trimJSONSpace(b)
	if len(b) == 0 {
		return errJSONSyntax
	}
	switch b[0] {
	case 'n':
		return nil
	case '[':
		return json.Unmarshal(b, list)
	case '{':
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return err
		}
		*list = append(*list, v)
		return nil
	}
	return typeError(b, reflect.TypeFor[[]T]())
}

func (j *jsonInstance) instance() (*InstanceInfo, error) {
	in := &InstanceInfo{
		InstanceID:                    j.InstanceID.s,
		HostName:                      j.HostName.s,
		App:                           j.App.s,
		IPAddr:                        j.IPAddr.s,
		SID:                           j.SID.s,
		Status:                        StatusUp,
		OverriddenStatus:              StatusUnknown,
		Metadata:                      j.Metadata.m,
		AppGroupName:                  j.AppGroupName.s,
		HomePageURL:                   j.HomePageURL.s,
		StatusPageURL:                 j.StatusPageURL.s,
		HealthCheckURL:                j.HealthCheckURL.s,
		SecureHealthCheckURL:          j.SecureHealthCheckURL.s,
		VIPAddress:                    j.VIPAddress.s,
		SecureVIPAddress:              j.SecureVIPAddress.s,
		IsCoordinatingDiscoveryServer: j.IsCoordinatingDiscoveryServer.v,
		LastUpdatedTimestamp:          j.LastUpdatedTimestamp.v,
		LastDirtyTimestamp:            j.LastDirtyTimestamp.v,
		ActionType:                    parseActionType(j.ActionType.s),
		ASGName:                       j.ASGName.s,
	}
	if j.Status.set {
		in.Status = ParseStatusLenient(j.Status.s)
	}
	switch {
	case j.OverriddenStatus.set:
		in.OverriddenStatus = ParseStatusLenient(j.OverriddenStatus.s)
	case j.OverriddenStatusOld.set:
		in.OverriddenStatus = ParseStatusLenient(j.OverriddenStatusOld.s)
	}
	var err error
	if in.Port, err = j.Port.port(defaultPort, false); err != nil {
		return nil, fieldError("port", err)
	}
	if in.SecurePort, err = j.SecurePort.port(defaultSecurePort, true); err != nil {
		return nil, fieldError("securePort", err)
	}
	if j.CountryID.set {
		v, err := narrowInt(j.CountryID.v, strconv.IntSize)
		if err != nil {
			return nil, fieldError("countryId", err)
		}
		in.CountryID = int(v)
	}
	if d := j.DataCenterInfo; d != nil {
		in.DataCenterInfo = &DataCenterInfo{Name: d.Name.s, Metadata: d.Metadata.m}
	}
	if l := j.LeaseInfo; l != nil {
		li := &LeaseInfo{
			RegistrationTimestamp: l.RegistrationTimestamp.v,
			LastRenewalTimestamp:  l.LastRenewalTimestamp.v,
			EvictionTimestamp:     l.EvictionTimestamp.v,
			ServiceUpTimestamp:    l.ServiceUpTimestamp.v,
		}
		if !l.LastRenewalTimestamp.set {
			li.LastRenewalTimestamp = l.RenewalTimestamp.v
		}
		// Out-of-range intervals are treated like non-positive ones: the
		// default replaces them.
		if v, err := narrowInt(l.RenewalIntervalInSecs.v, 32); err == nil {
			li.RenewalIntervalInSecs = int32(v)
		}
		if v, err := narrowInt(l.DurationInSecs.v, 32); err == nil {
			li.DurationInSecs = int32(v)
		}
		in.LeaseInfo = li
	}
	finishInstance(in)
	return in, nil
}

func (j *jsonApplication) application() (*Application, error) {
	app := &Application{Name: j.Name.s, Instances: make([]*InstanceInfo, 0, len(j.Instance))}
	for _, ji := range j.Instance {
		if ji == nil {
			continue
		}
		in, err := ji.instance()
		if err != nil {
			return nil, err
		}
		app.Instances = append(app.Instances, in)
	}
	return app, nil
}

func (j *jsonApplications) applications() (*Applications, error) {
	apps := &Applications{
		VersionsDelta: j.VersionsDelta.v,
		AppsHashcode:  j.AppsHashcode.s,
		Applications:  make([]*Application, 0, len(j.Application)),
	}
	if !j.VersionsDelta.set {
		apps.VersionsDelta = j.VersionsDeltaOne.v
	}
	if !j.AppsHashcode.set {
		apps.AppsHashcode = j.AppsHashcodeOne.s
	}
	for _, ja := range j.Application {
		if ja == nil {
			continue
		}
		app, err := ja.application()
		if err != nil {
			return nil, err
		}
		apps.Applications = append(apps.Applications, app)
	}
	return apps, nil
}
