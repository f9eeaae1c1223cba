package eureka

import (
	"strconv"
	"strings"
)

// Status is an instance status as Eureka spells it on the wire.
type Status string

// The instance statuses Eureka knows. Any other value read from the wire
// becomes StatusUnknown.
const (
	StatusUp           Status = "UP"
	StatusDown         Status = "DOWN"
	StatusStarting     Status = "STARTING"
	StatusOutOfService Status = "OUT_OF_SERVICE"
	StatusUnknown      Status = "UNKNOWN"
)

// ParseStatus parses an exact (case-sensitive) status name, as Java's
// Enum.valueOf does for the status query parameters. ok is false for any
// other string.
func ParseStatus(s string) (st Status, ok bool) {
	switch Status(s) {
	case StatusUp, StatusDown, StatusStarting, StatusOutOfService, StatusUnknown:
		return Status(s), true
	}
	return "", false
}

// ParseStatusLenient parses a status case-insensitively, as the Java codecs
// do for bodies; anything unrecognised is StatusUnknown.
func ParseStatusLenient(s string) Status {
	if st, ok := ParseStatus(s); ok {
		return st
	}
	if st, ok := ParseStatus(strings.ToUpper(strings.TrimSpace(s))); ok {
		return st
	}
	return StatusUnknown
}

// ActionType says how an instance in a delta changed.
type ActionType string

// The action types of a delta.
const (
	ActionAdded    ActionType = "ADDED"
	ActionModified ActionType = "MODIFIED"
	ActionDeleted  ActionType = "DELETED"
)

// Data centre names Eureka accepts in dataCenterInfo.name.
const (
	DataCenterMyOwn   = "MyOwn"
	DataCenterAmazon  = "Amazon"
	DataCenterNetflix = "Netflix"
)

// Java class names written as dataCenterInfo's "@class" (JSON) or "class" (XML).
const (
	ClassAmazonInfo            = "com.netflix.appinfo.AmazonInfo"
	ClassDefaultDataCenterInfo = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"
)

// Lease defaults applied when a registrant sends no (or a non-positive) value.
const (
	DefaultRenewalIntervalInSecs = 30
	DefaultDurationInSecs        = 90
)

// Port is a port number with its enabled flag, written in JSON as
// {"$":8080,"@enabled":"true"} and in XML as <port enabled="true">8080</port>.
type Port struct {
	Number  int
	Enabled bool
}

// LeaseInfo is the lease block of an instance. The server fills the
// timestamps (epoch milliseconds) from its lease when it writes an instance.
type LeaseInfo struct {
	RenewalIntervalInSecs int32
	DurationInSecs        int32
	RegistrationTimestamp int64
	LastRenewalTimestamp  int64
	EvictionTimestamp     int64
	ServiceUpTimestamp    int64
}

// DataCenterInfo names the data centre an instance runs in. Metadata is used
// only for Amazon and holds the EC2 metadata map as the client sent it.
type DataCenterInfo struct {
	Name     string
	Metadata map[string]string
}

// Class returns the Java class name written for this data centre: AmazonInfo
// for "Amazon", DefaultDataCenterInfo otherwise, whatever the registrant sent.
func (d *DataCenterInfo) Class() string {
	if d.Name == DataCenterAmazon {
		return ClassAmazonInfo
	}
	return ClassDefaultDataCenterInfo
}

// InstanceInfo is one registered instance in Eureka's wire model.
//
// The server treats a stored *InstanceInfo as immutable: it is shared by the
// response cache, listeners and readers without locks, so every change is made
// on a Clone.
//
// Zero values mean "absent": an empty string field is not written, a nil
// LeaseInfo or DataCenterInfo is not written, a zero LastDirtyTimestamp means
// the registrant did not send one.
type InstanceInfo struct {
	InstanceID                    string
	HostName                      string
	App                           string
	IPAddr                        string
	SID                           string
	Status                        Status
	OverriddenStatus              Status
	Port                          Port
	SecurePort                    Port
	CountryID                     int
	DataCenterInfo                *DataCenterInfo
	LeaseInfo                     *LeaseInfo
	Metadata                      map[string]string
	AppGroupName                  string
	HomePageURL                   string
	StatusPageURL                 string
	HealthCheckURL                string
	SecureHealthCheckURL          string
	VIPAddress                    string
	SecureVIPAddress              string
	IsCoordinatingDiscoveryServer bool
	LastUpdatedTimestamp          int64
	LastDirtyTimestamp            int64
	ActionType                    ActionType
	ASGName                       string
}

// ID returns the identity Eureka keys an instance by: InstanceID when set,
// else (Amazon) the "instance-id" data centre metadata, else HostName.
func (i *InstanceInfo) ID() string {
	if i.InstanceID != "" {
		return i.InstanceID
	}
	if d := i.DataCenterInfo; d != nil && d.Name == DataCenterAmazon {
		if id := d.Metadata["instance-id"]; id != "" {
			return id
		}
	}
	return i.HostName
}

// Clone returns a deep copy: maps and pointed-to blocks are copied too.
func (i *InstanceInfo) Clone() *InstanceInfo {
	c := *i
	if i.DataCenterInfo != nil {
		d := *i.DataCenterInfo
		d.Metadata = cloneMap(d.Metadata)
		c.DataCenterInfo = &d
	}
	if i.LeaseInfo != nil {
		l := *i.LeaseInfo
		c.LeaseInfo = &l
	}
	c.Metadata = cloneMap(i.Metadata)
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Application is a named group of instances.
type Application struct {
	Name      string
	Instances []*InstanceInfo
}

// Applications is a registry payload: the full registry, a delta or a VIP
// query. VersionsDelta is "1" for a full fetch, the delta counter for deltas
// and "-1" for VIP answers; AppsHashcode is the reconcile hash (see
// StatusCounts).
type Applications struct {
	VersionsDelta int64
	AppsHashcode  string
	Applications  []*Application
}

// StatusCounts counts instances by status to build the apps hash code
// ("DOWN_1_UP_12_"). The zero value is ready to use.
type StatusCounts struct {
	// n is indexed in byte order of the status names, the order the hash
	// code lists them in.
	n [5]int
}

var hashOrder = [5]Status{StatusDown, StatusOutOfService, StatusStarting, StatusUnknown, StatusUp}

// Add counts one instance with status s.
func (c *StatusCounts) Add(s Status) { c.n[StatusIndex(s)]++ }

// StatusIndex returns s as one byte, as StatusCounts counts it (any
// status it does not know as UNKNOWN): what a counter of many instances
// keeps of each.
func StatusIndex(s Status) uint8 {
	switch s {
	case StatusDown:
		return 0
	case StatusOutOfService:
		return 1
	case StatusStarting:
		return 2
	case StatusUp:
		return 4
	default:
		return 3
	}
}

// AddIndex counts n instances (negative: uncounts them) of the status
// StatusIndex returned i for.
func (c *StatusCounts) AddIndex(i uint8, n int) { c.n[i] += n }

// HashCode returns Eureka's reconcile hash: NAME_count_ for each status with
// a non-zero count, sorted by name; "" when nothing was counted.
func (c *StatusCounts) HashCode() string {
	var b strings.Builder
	for i, n := range c.n {
		if n > 0 {
			b.WriteString(string(hashOrder[i]))
			b.WriteByte('_')
			b.WriteString(strconv.Itoa(n))
			b.WriteByte('_')
		}
	}
	return b.String()
}

// HashCode returns the reconcile hash over every instance of apps.
func (a *Applications) HashCode() string {
	var c StatusCounts
	for _, app := range a.Applications {
		for _, in := range app.Instances {
			c.Add(in.Status)
		}
	}
	return c.HashCode()
}
