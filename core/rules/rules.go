// Package rules holds the input rules of the registry: what a name, an id,
// a status or a metadata map must be for eurekad to store it. Every path a
// write can take (the client API in JSON and XML, the peer batch, the admin
// API, a snapshot restore, a store's records at start) applies these same
// functions, so a value refused on one path cannot enter through another,
// and a store never receives what the rules refuse.
//
// The limits are generous for every real client (a Spring Cloud instance id
// is host:app:port) and are settings.
package rules

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Limits bounds the sizes of what a registrant sends. Start from
// DefaultLimits.
type Limits struct {
	// MaxNameBytes bounds application names, instance ids and the other
	// names (app group, ASG, data centre). Names and ids are store keys,
	// so Validate caps it at MaxNameBytesCap.
	MaxNameBytes int `config:"max_name_bytes" help:"longest application name, instance id, app group or ASG name, in bytes"`
	// MaxFieldBytes bounds every other string field of an instance (host
	// name, addresses, VIP address lists, URLs).
	MaxFieldBytes int `config:"max_field_bytes" help:"longest other instance field (host name, VIP address list, URLs), in bytes"`
	// MaxMetadataKeys bounds the number of metadata entries.
	MaxMetadataKeys int `config:"max_metadata_keys" help:"most metadata entries of one instance"`
	// MaxMetadataKeyBytes and MaxMetadataValueBytes bound one entry.
	MaxMetadataKeyBytes   int `config:"max_metadata_key_bytes" help:"longest metadata key, in bytes"`
	MaxMetadataValueBytes int `config:"max_metadata_value_bytes" help:"longest metadata value, in bytes"`
	// MaxMetadataBytes bounds the sum of every key and value.
	MaxMetadataBytes int `config:"max_metadata_bytes" help:"most bytes of all metadata keys and values of one instance"`
}

// DefaultLimits returns limits no real client comes near.
func DefaultLimits() Limits {
	return Limits{
		MaxNameBytes:          512,
		MaxFieldBytes:         4096,
		MaxMetadataKeys:       256,
		MaxMetadataKeyBytes:   256,
		MaxMetadataValueBytes: 8192,
		MaxMetadataBytes:      64 << 10,
	}
}

// OrDefault returns l, or DefaultLimits if l is the zero value (an
// Options struct whose caller set no limits).
func (l Limits) OrDefault() Limits {
	if l == (Limits{}) {
		return DefaultLimits()
	}
	return l
}

// MaxNameBytesCap is the largest MaxNameBytes Validate accepts: an
// application name and an instance id are keys in every store, and bbolt
// refuses keys over 32 KiB (a refused key is what this package exists to
// prevent).
const MaxNameBytesCap = 16 << 10

// Validate reports a limit that cannot work.
func (l Limits) Validate() error {
	switch {
	case l.MaxNameBytes < 64:
		return fmt.Errorf("limits: max_name_bytes %d is below 64", l.MaxNameBytes)
	case l.MaxNameBytes > MaxNameBytesCap:
		return fmt.Errorf("limits: max_name_bytes %d is above %d: names and ids are store keys", l.MaxNameBytes, MaxNameBytesCap)
	case l.MaxFieldBytes < 256:
		return fmt.Errorf("limits: max_field_bytes %d is below 256", l.MaxFieldBytes)
	case l.MaxMetadataKeys < 1 || l.MaxMetadataKeyBytes < 1 || l.MaxMetadataValueBytes < 1:
		return fmt.Errorf("limits: metadata limits must be positive")
	case l.MaxMetadataBytes < l.MaxMetadataKeyBytes+l.MaxMetadataValueBytes:
		return fmt.Errorf("limits: max_metadata_bytes %d is below one largest entry", l.MaxMetadataBytes)
	}
	return nil
}

// Violation is an input a rule refuses: which field, and why. Its message
// names the field and never echoes the value, which may be huge or hostile.
type Violation struct {
	Field  string
	Reason string
}

func (v *Violation) Error() string { return v.Field + ": " + v.Reason }

func violation(field, format string, args ...any) *Violation {
	return &Violation{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// text checks a string field: valid UTF-8, no control characters, at most
// max bytes. Empty is fine here; required fields are checked by their
// callers.
func text(field, s string, max int) *Violation {
	if len(s) > max {
		return violation(field, "longer than %d bytes", max)
	}
	// Printable ASCII, what nearly every field is, is checked eight bytes
	// at a time; the first word holding anything else is looked at byte
	// by byte.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !printable8(s[i : i+8]) {
			break
		}
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return violation(field, "control character at byte %d", i)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return violation(field, "not valid UTF-8 at byte %d", i)
		}
		i += n
	}
	return nil
}

// printable8 reports whether the eight bytes of w are all printable ASCII
// (0x20 to 0x7e). In each byte of the word, bit 7 is set by a byte of
// 0x80 or more itself, by one below 0x20 when 0x20 is taken from it, and
// by 0x7f when 1 is added to it. A borrow or carry between bytes happens
// only past a byte that is not printable, which has set its own bit 7.
func printable8(w string) bool {
	x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (x|(x-0x20*ones)|(x+ones))&highs == 0
}

// name checks an application name or an instance id: non-blank text that
// a URL path can address. An id may hold a slash (clients escape it, %2F);
// an application name may not, since Java servers and proxies decode %2F
// before routing. Neither may be "." or "..", which clients and servers
// resolve away as path segments.
func (l Limits) name(field, s string, slash bool) *Violation {
	if strings.TrimSpace(s) == "" {
		return violation(field, "empty")
	}
	if v := text(field, s, l.MaxNameBytes); v != nil {
		return v
	}
	if s == "." || s == ".." {
		return violation(field, "is a dot segment, which a URL path cannot address")
	}
	if !slash && strings.IndexByte(s, '/') >= 0 {
		return violation(field, "contains '/'")
	}
	return nil
}

// App checks an application name.
func (l Limits) App(name string) error {
	if v := l.name("app", name, false); v != nil {
		return v
	}
	return nil
}

// ID checks an instance id. An id may hold a slash: clients escape it in
// URLs (%2F).
func (l Limits) ID(id string) error {
	if v := l.name("instanceId", id, true); v != nil {
		return v
	}
	return nil
}

// Metadata checks a whole metadata map.
func (l Limits) Metadata(m map[string]string) error {
	if v := l.metadata("metadata", m); v != nil {
		return v
	}
	return nil
}

// MetadataUpdate checks an update merged into the current metadata: the
// entries and the merged result.
func (l Limits) MetadataUpdate(cur, update map[string]string) error {
	if len(update) > l.MaxMetadataKeys {
		return violation("metadata", "more than %d entries", l.MaxMetadataKeys)
	}
	merged := make(map[string]string, len(cur)+len(update))
	for k, v := range cur {
		merged[k] = v
	}
	for k, v := range update {
		merged[k] = v
	}
	return l.Metadata(merged)
}

func (l Limits) metadata(field string, m map[string]string) *Violation {
	if len(m) > l.MaxMetadataKeys {
		return violation(field, "more than %d entries", l.MaxMetadataKeys)
	}
	total := 0
	for k, v := range m {
		if k == "" {
			return violation(field, "empty key")
		}
		if e := text("", k, l.MaxMetadataKeyBytes); e != nil {
			// The field is named only on a violation: naming it for
			// every key cost an allocation per entry.
			e.Field = field + " key"
			return e
		}
		// Values are free text: tabs and newlines are allowed, but not
		// NUL or invalid UTF-8.
		if len(v) > l.MaxMetadataValueBytes {
			return violation(field+"."+safeKey(k), "value longer than %d bytes", l.MaxMetadataValueBytes)
		}
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return violation(field+"."+safeKey(k), "value is not valid UTF-8 text")
		}
		total += len(k) + len(v)
	}
	if total > l.MaxMetadataBytes {
		return violation(field, "more than %d bytes in all", l.MaxMetadataBytes)
	}
	return nil
}

// safeKey is a key fit for an error message: already checked as text, and
// cut short on a rune boundary.
func safeKey(k string) string {
	const max = 64
	if len(k) <= max {
		return k
	}
	n := max
	for n > 0 && !utf8.RuneStart(k[n]) {
		n--
	}
	return k[:n] + "…"
}

// Excerpt returns s fit for a log line or an error message about a value
// the rules may have refused: quoted (control characters and invalid
// UTF-8 escaped) and cut to its first 64 bytes, with the full length when
// cut.
func Excerpt(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:max]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// Instance checks every field of a registration. It does not repeat
// Eureka's own checks of required fields (missing id, host name, app…),
// which its callers run first for Eureka's messages.
func (l Limits) Instance(in *eureka.InstanceInfo) error {
	if v := l.name("app", in.App, false); v != nil {
		return v
	}
	if v := l.name(idField(in), in.ID(), true); v != nil {
		return v
	}
	for _, f := range [...]struct {
		name string
		val  string
		max  int
	}{
		{"hostName", in.HostName, l.MaxFieldBytes},
		{"ipAddr", in.IPAddr, l.MaxFieldBytes},
		{"sid", in.SID, l.MaxFieldBytes},
		{"appGroupName", in.AppGroupName, l.MaxNameBytes},
		{"vipAddress", in.VIPAddress, l.MaxFieldBytes},
		{"secureVipAddress", in.SecureVIPAddress, l.MaxFieldBytes},
		{"homePageUrl", in.HomePageURL, l.MaxFieldBytes},
		{"statusPageUrl", in.StatusPageURL, l.MaxFieldBytes},
		{"healthCheckUrl", in.HealthCheckURL, l.MaxFieldBytes},
		{"secureHealthCheckUrl", in.SecureHealthCheckURL, l.MaxFieldBytes},
		{"asgName", in.ASGName, l.MaxNameBytes},
	} {
		if v := text(f.name, f.val, f.max); v != nil {
			return v
		}
	}
	if in.Status != "" {
		if _, ok := eureka.ParseStatus(string(in.Status)); !ok {
			return violation("status", "not one of UP, DOWN, STARTING, OUT_OF_SERVICE, UNKNOWN")
		}
	}
	if in.OverriddenStatus != "" {
		if _, ok := eureka.ParseStatus(string(in.OverriddenStatus)); !ok {
			return violation("overriddenstatus", "not one of UP, DOWN, STARTING, OUT_OF_SERVICE, UNKNOWN")
		}
	}
	if v := l.metadata("metadata", in.Metadata); v != nil {
		return v
	}
	if d := in.DataCenterInfo; d != nil {
		if v := text("dataCenterInfo.name", d.Name, l.MaxNameBytes); v != nil {
			return v
		}
		if v := l.metadata("dataCenterInfo.metadata", d.Metadata); v != nil {
			return v
		}
	}
	return nil
}

// idField names the field InstanceInfo.ID takes the id from.
func idField(in *eureka.InstanceInfo) string {
	if in.InstanceID == "" && in.ID() != in.HostName {
		return "dataCenterInfo.metadata.instance-id"
	}
	if in.InstanceID == "" {
		return "hostName"
	}
	return "instanceId"
}

// OverrideStatus parses the status of an operator override (PUT …/status,
// a peer's StatusUpdate): UP, DOWN, STARTING or OUT_OF_SERVICE. UNKNOWN is
// refused: as an override it makes every renewal answer 404, so the
// instance could never heartbeat again.
func OverrideStatus(v string) (eureka.Status, error) {
	st, ok := eureka.ParseStatus(v)
	if !ok || st == eureka.StatusUnknown {
		return "", violation("value", "status override must be UP, DOWN, STARTING or OUT_OF_SERVICE")
	}
	return st, nil
}

// Cut is s cut to at most max bytes at a rune boundary, with "…" when
// cut: for messages and logs that must name a value without echoing a huge
// or hostile one.
func Cut(s string, max int) string { return storage.Cut(s, max) }
