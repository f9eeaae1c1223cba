package eureka

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrMalformed is matched (errors.Is) by every error the decoders return:
// the body is not valid JSON or XML, or a value has the wrong type or is
// out of range. The error text says what was wrong.
var ErrMalformed = errors.New("eureka: malformed payload")

// ErrInvalidUTF8 is matched (errors.Is), beside ErrMalformed, by a
// decoder's error for a document whose text would have to be rewritten to
// be kept: a string holding bytes that are not UTF-8, a JSON \u escape of
// an unpaired UTF-16 surrogate (\ud800), an XML character reference to a
// surrogate (&#xD800;). encoding/json and encoding/xml turn these into
// U+FFFD, which stores an id or a name other than the one the client
// sent, so that its renewals and cancels never find its instance. The
// error names the field and does not repeat its value. Text the decoders
// read without keeping it (member names, statuses, unknown members) is
// decoded as encoding/json does.
var ErrInvalidUTF8 = errors.New("not valid UTF-8")

func malformed(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
}

// Java builder defaults for an instance that leaves out its ports.
const (
	defaultPort       = 7001
	defaultSecurePort = 7002
)

// parseIntText parses a number that arrived as text, leniently: surrounding
// space is ignored and a decimal or exponent form ("30.0", "1.7e12") is
// truncated, as Jackson's float-to-int coercion does. ok is false for an
// empty string, which callers treat as absent.
func parseIntText(s string, bits int) (v int64, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false, nil
	}
	v, err = strconv.ParseInt(s, 10, bits)
	if err == nil {
		return v, true, nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, false, fmt.Errorf("number %q out of range", s)
	}
	if strings.Trim(s, "0123456789+-.eE") != "" {
		return 0, false, fmt.Errorf("invalid number %q", s)
	}
	f, ferr := strconv.ParseFloat(s, 64)
	if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("invalid number %q", s)
	}
	f = math.Trunc(f)
	lim := math.Ldexp(1, bits-1)
	if f < -lim || f >= lim {
		return 0, false, fmt.Errorf("number %q out of range", s)
	}
	return int64(f), true, nil
}

// parseBoolText parses a flag sent as text the way Java's
// Boolean.parseBoolean does: "true" in any case is true, anything else
// false.
func parseBoolText(s string) bool {
	return strings.EqualFold(strings.TrimSpace(s), "true")
}

// canonicalDataCenterName fixes the case of the three names Java accepts
// ("amazon" → "Amazon"): Java and Spring Cloud readers match them
// case-sensitively, so anything we store is written back in the canonical
// spelling. Other names are kept as sent.
func canonicalDataCenterName(s string) string {
	for _, n := range [...]string{DataCenterMyOwn, DataCenterAmazon, DataCenterNetflix} {
		if strings.EqualFold(s, n) {
			return n
		}
	}
	return s
}

// parseActionType parses an action type case-insensitively; anything else
// is dropped (the server sets the action type itself, and Java readers
// reject unknown values).
func parseActionType(s string) ActionType {
	s = strings.TrimSpace(s)
	for _, a := range [...]ActionType{ActionAdded, ActionModified, ActionDeleted} {
		if strings.EqualFold(s, string(a)) {
			return a
		}
	}
	return ""
}

// leaseDefaults replaces non-positive intervals with the defaults, as the
// Java server does when it reads a registrant's lease info.
func leaseDefaults(l *LeaseInfo) {
	if l.RenewalIntervalInSecs <= 0 {
		l.RenewalIntervalInSecs = DefaultRenewalIntervalInSecs
	}
	if l.DurationInSecs <= 0 {
		l.DurationInSecs = DefaultDurationInSecs
	}
}

// finishInstance applies the normalisations shared by the JSON and XML
// decoders.
func finishInstance(in *InstanceInfo) {
	in.App = strings.ToUpper(in.App)
	in.AppGroupName = strings.ToUpper(in.AppGroupName)
	if in.CountryID == 0 {
		in.CountryID = 1
	}
	if in.Metadata == nil {
		in.Metadata = map[string]string{}
	}
	if in.LeaseInfo == nil {
		in.LeaseInfo = &LeaseInfo{}
	}
	leaseDefaults(in.LeaseInfo)
	if d := in.DataCenterInfo; d != nil {
		d.Name = canonicalDataCenterName(d.Name)
		if d.Name != DataCenterAmazon {
			d.Metadata = nil // only AmazonInfo carries metadata
		} else if d.Metadata == nil {
			d.Metadata = map[string]string{}
		}
	}
}
