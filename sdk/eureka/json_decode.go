package eureka

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
)

// DecodeInstanceJSON decodes an instance as clients send it: wrapped as
// {"instance":{…}} (the register body) or as a bare object. It accepts
// every variant in eureka-protocol.md §3.8: numbers as strings or numbers,
// "@enabled" as a string or boolean, both spellings of overriddenStatus,
// statuses in any case, explicit nulls, unknown keys, any or no "@class".
//
// Defaults for what the body leaves out follow the Java builder: status UP,
// overridden status UNKNOWN, port 7001 enabled, secure port 7002 disabled,
// country 1, lease 30/90 s. App and appGroupName are upper-cased;
// dataCenterInfo names are put in their canonical case and metadata is
// kept only for Amazon. LeaseInfo and Metadata are never nil.
//
// A missing lastDirtyTimestamp is left 0: the Java server takes "now" at
// parse time, and the registry does that when it stores the instance.
func DecodeInstanceJSON(data []byte) (*InstanceInfo, error) {
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

// DecodeApplicationJSON decodes {"application":{…}} or a bare application
// object. "instance" may be an array or, as older servers wrote it, a
// single object.
func DecodeApplicationJSON(data []byte) (*Application, error) {
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

// DecodeApplicationsJSON decodes {"applications":{…}} or the bare object.
// "application" and "instance" may be arrays or single objects,
// versions__delta a string or a number, and the old shapes of pre-1.1
// servers (ports as "7101" strings) are accepted.
func DecodeApplicationsJSON(data []byte) (*Applications, error) {
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

// jsonObjectBody drops a UTF-8 byte order mark (Jackson accepts one) and
// rejects documents that are not an object (null, arrays, scalars), which
// encoding/json would otherwise accept or half-decode.
func jsonObjectBody(data []byte) ([]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	i := skipJSONSpace(data, 0)
	if i < len(data) && data[i] == '{' {
		return data, nil
	}
	return nil, errors.New("expected a JSON object")
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

type jsonLease struct {
	RenewalIntervalInSecs jsonInt `json:"renewalIntervalInSecs"`
	DurationInSecs        jsonInt `json:"durationInSecs"`
	RegistrationTimestamp jsonInt `json:"registrationTimestamp"`
	LastRenewalTimestamp  jsonInt `json:"lastRenewalTimestamp"`
	RenewalTimestamp      jsonInt `json:"renewalTimestamp"` // older name of lastRenewalTimestamp
	EvictionTimestamp     jsonInt `json:"evictionTimestamp"`
	ServiceUpTimestamp    jsonInt `json:"serviceUpTimestamp"`
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

func fieldError(field string, err error) error {
	return errors.New(field + ": " + err.Error())
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
