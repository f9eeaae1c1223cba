package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
)

// EnvPrefix starts the name of every environment variable eurekad reads.
const EnvPrefix = "EUREKAD_"

// Setting describes one setting: its key in the YAML file, its environment
// variable and flag, its type, default and help text. Settings derives the
// whole table from the Config struct tags.
type Setting struct {
	// Key is the YAML key, dotted for nested sections:
	// "registry.renewal_percent_threshold".
	Key string
	// Section is the first part of a nested key ("registry"), or "" for a
	// top-level setting such as "addr".
	Section string
	// Type names the value's type as the help text shows it: string, bool,
	// int, float, duration or strings (a list).
	Type string
	// Default is the value in Default(), as a string, bool, int, int64,
	// float64, time.Duration or []string (custom string types such as
	// cache.Mode become string).
	Default any
	// Help is the field's help tag.
	Help string
	// Env is the environment variable: EnvPrefix plus the key in upper case
	// with dots turned into underscores.
	Env string
	// Flag is the flag name without its dashes: the key with underscores
	// turned into dashes ("registry.renewal-percent-threshold").
	Flag string

	kind  kind
	index []int // field path from Config, for reflect.Value.FieldByIndex
}

// kind is the small set of value types a setting may have.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindInt64
	kindFloat64
	kindDuration
	kindStrings
)

var kindNames = [...]string{
	kindString:   "string",
	kindBool:     "bool",
	kindInt:      "int",
	kindInt64:    "int",
	kindFloat64:  "float",
	kindDuration: "duration",
	kindStrings:  "strings",
}

var durationType = reflect.TypeFor[time.Duration]()

// Settings returns every setting in Config field order. The slice is a copy;
// the caller may modify it.
func Settings() []Setting {
	s := settings()
	out := make([]Setting, len(s))
	copy(out, s)
	for i := range out {
		if l, ok := out[i].Default.([]string); ok {
			out[i].Default = append([]string{}, l...)
		}
	}
	return out
}

// settings is the shared table behind Settings; callers must not modify it.
var settings = sync.OnceValue(func() []Setting {
	var out []Setting
	walk(reflect.TypeFor[Config](), nil, "", &out)
	def := reflect.ValueOf(Default())
	for i := range out {
		out[i].Default = out[i].get(def)
	}
	return out
})

// walk appends the settings of struct type t, whose fields sit under the
// dotted key prefix and field path index.
func walk(t reflect.Type, index []int, prefix string, out *[]Setting) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, ok := f.Tag.Lookup("config")
		if !ok || tag == "" {
			// A field without a tag would silently become an unusable
			// setting; make the mistake impossible to miss.
			panic(fmt.Sprintf("config: field %s.%s has no config tag (use `config:\"-\"` to leave it out)", t, f.Name))
		}
		if tag == "-" {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		if tag == ",squash" {
			// An inline struct: its settings sit in the enclosing section.
			walk(f.Type, idx, prefix, out)
			continue
		}
		key := prefix + tag
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			walk(f.Type, idx, key+".", out)
			continue
		}
		k, ok := kindOf(f.Type)
		if !ok {
			panic(fmt.Sprintf("config: setting %s has unsupported type %s", key, f.Type))
		}
		section, _, nested := strings.Cut(key, ".")
		if !nested {
			section = ""
		}
		*out = append(*out, Setting{
			Key:     key,
			Section: section,
			Type:    kindNames[k],
			Help:    f.Tag.Get("help"),
			Env:     EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
			Flag:    flagName(key, f.Tag.Get("flag")),
			kind:    k,
			index:   idx,
		})
	}
}

// flagName is the flag of a setting: the key with dashes, unless a `flag`
// tag names a shorter one for a setting typed often (--storage, --data-dir).
func flagName(key, tag string) string {
	if tag != "" {
		return tag
	}
	return strings.ReplaceAll(key, "_", "-")
}

func kindOf(t reflect.Type) (kind, bool) {
	if t == durationType {
		return kindDuration, true
	}
	switch t.Kind() {
	case reflect.String:
		return kindString, true
	case reflect.Bool:
		return kindBool, true
	case reflect.Int:
		return kindInt, true
	case reflect.Int64:
		return kindInt64, true
	case reflect.Float64:
		return kindFloat64, true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return kindStrings, true
		}
	}
	return 0, false
}

// get returns the setting's value in cfg (a reflect.Value of a Config) in
// its canonical type: string, bool, int, int64, float64, time.Duration or
// []string.
func (s Setting) get(cfg reflect.Value) any {
	v := cfg.FieldByIndex(s.index)
	switch s.kind {
	case kindString:
		return v.String()
	case kindBool:
		return v.Bool()
	case kindInt:
		return int(v.Int())
	case kindInt64:
		return v.Int()
	case kindFloat64:
		return v.Float()
	case kindDuration:
		return time.Duration(v.Int())
	case kindStrings:
		out := make([]string, v.Len())
		for i := range out {
			out[i] = v.Index(i).String()
		}
		return out
	}
	panic("config: unknown kind")
}

// set stores v, a value in the setting's canonical type, in its field of
// cfg (a reflect.Value of an addressable Config). Custom string types such
// as cache.Mode take the string as is.
func (s Setting) set(cfg reflect.Value, v any) {
	f := cfg.FieldByIndex(s.index)
	switch v := v.(type) {
	case string:
		f.SetString(v)
	case bool:
		f.SetBool(v)
	case int:
		f.SetInt(int64(v))
	case int64:
		f.SetInt(v)
	case float64:
		f.SetFloat(v)
	case time.Duration:
		f.SetInt(int64(v))
	case []string:
		l := reflect.MakeSlice(f.Type(), len(v), len(v))
		for i, item := range v {
			l.Index(i).SetString(item)
		}
		f.Set(l)
	default:
		panic(fmt.Sprintf("config: %s: value %v of type %T", s.Key, v, v))
	}
}

// flagValue returns the value of f, the setting's flag, in the setting's
// canonical type.
func (s Setting) flagValue(f *pflag.Flag) (any, error) {
	if l, ok := f.Value.(pflag.SliceValue); ok {
		return l.GetSlice(), nil
	}
	// Every other flag type prints a value its own parser (and parse)
	// reads back: "15m0s", "0.85", "true".
	return s.parse(f.Value.String())
}

// Value returns the setting's value in c, in the canonical type described
// at Setting.Default.
func (s Setting) Value(c Config) any {
	return s.get(reflect.ValueOf(c))
}

// DefaultString formats Default the way it would be written in the
// environment or on the command line: durations as "30s" or "15m", lists
// comma-separated.
func (s Setting) DefaultString() string {
	return formatValue(s.Default)
}

// formatValue formats a canonical value for the environment, a flag or a
// message.
func formatValue(v any) string {
	switch v := v.(type) {
	case time.Duration:
		return formatDuration(v)
	case []string:
		return strings.Join(v, ",")
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// formatDuration is time.Duration.String without the zero tails: "15m"
// rather than "15m0s", "1h" rather than "1h0m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parse converts text from the environment (or a quoted YAML scalar) to the
// setting's canonical type.
func (s Setting) parse(text string) (any, error) {
	switch s.kind {
	case kindString:
		return text, nil
	case kindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean (true or false)", text)
		}
		return b, nil
	case kindInt:
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", text)
		}
		return n, nil
	case kindInt64:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", text)
		}
		return n, nil
	case kindFloat64:
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return f, nil
	case kindDuration:
		d, err := time.ParseDuration(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration (such as 500ms, 30s, 15m or 1h)", text)
		}
		return d, nil
	case kindStrings:
		out := []string{}
		for item := range strings.SplitSeq(text, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		return out, nil
	}
	panic("config: unknown kind")
}

// coerce converts a value decoded from YAML to the setting's canonical type.
// A string is parsed as it would be from the environment; other values must
// already have a fitting type, so that a bare number never becomes a
// duration in nanoseconds.
func (s Setting) coerce(raw any) (any, error) {
	if text, ok := raw.(string); ok {
		return s.parse(text)
	}
	switch s.kind {
	case kindString:
		return nil, fmt.Errorf("%v is not a string (quote it)", raw)
	case kindBool:
		if b, ok := raw.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("%v is not a boolean (true or false)", raw)
	case kindInt, kindInt64:
		n, ok := toInt64(raw)
		if !ok {
			return nil, fmt.Errorf("%v is not an integer", raw)
		}
		if s.kind == kindInt {
			if int64(int(n)) != n {
				return nil, fmt.Errorf("%v is out of range", raw)
			}
			return int(n), nil
		}
		return n, nil
	case kindFloat64:
		switch v := raw.(type) {
		case float64:
			return v, nil
		case int:
			return float64(v), nil
		case int64:
			return float64(v), nil
		case uint64:
			return float64(v), nil
		}
		return nil, fmt.Errorf("%v is not a number", raw)
	case kindDuration:
		if d, ok := raw.(time.Duration); ok {
			return d, nil
		}
		if n, ok := toInt64(raw); ok && n == 0 {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("%v is not a duration: give a unit, such as %vs or %vms", raw, raw, raw)
	case kindStrings:
		switch v := raw.(type) {
		case []string:
			return append([]string{}, v...), nil
		case []any:
			out := make([]string, 0, len(v))
			for i, item := range v {
				str, ok := item.(string)
				if !ok {
					return nil, fmt.Errorf("item %d (%v) is not a string (quote it)", i, item)
				}
				out = append(out, str)
			}
			return out, nil
		}
		return nil, fmt.Errorf("%v is not a list of strings", raw)
	}
	panic("config: unknown kind")
}

// toInt64 accepts the integer types a YAML decoder produces, and a float
// with no fractional part (1e6).
func toInt64(raw any) (int64, bool) {
	switch v := raw.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case uint64:
		if v > 1<<63-1 {
			return 0, false
		}
		return int64(v), true
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true
		}
	}
	return 0, false
}

// sectionTitles names the sections in --help and in commented YAML.
var sectionTitles = map[string]string{
	"":           "General",
	"log":        "Logging",
	"http":       "HTTP server",
	"tls":        "TLS (HTTPS and client certificates)",
	"registry":   "Registry",
	"cache":      "Response cache",
	"storage":    "Storage",
	"cluster":    "Cluster (peer replication)",
	"plugins":    "Plugins",
	"limits":     "Input limits",
	"health":     "Health checks (server-side probes of instances)",
	"regions":    "Regions (remote regions served with ?regions=)",
	"namespaces": "Namespaces (registries of their own at /ns/{name}/eureka/)",
}

// SectionTitle returns the heading for a Setting.Section: "General" for the
// top-level settings, otherwise a short description of the section.
func SectionTitle(section string) string {
	if t, ok := sectionTitles[section]; ok {
		return t
	}
	return section
}

// lookup indexes the settings by key, environment variable and flag name.
type lookup struct {
	byKey, byEnv, byFlag map[string]*Setting
	sections             map[string]bool
}

// table is the lookup over settings(), built once.
var table = sync.OnceValue(func() lookup {
	l := lookup{
		byKey:    map[string]*Setting{},
		byEnv:    map[string]*Setting{},
		byFlag:   map[string]*Setting{},
		sections: map[string]bool{},
	}
	all := settings()
	for i := range all {
		s := &all[i]
		l.byKey[s.Key] = s
		l.byEnv[s.Env] = s
		l.byFlag[s.Flag] = s
		// Every dotted prefix of a key is a section ("registry").
		for j := range len(s.Key) {
			if s.Key[j] == '.' {
				l.sections[s.Key[:j]] = true
			}
		}
	}
	return l
})

// suggest returns the candidate closest to name, or "" if none is close.
// Dashes and underscores count as the same character, and case is ignored.
func suggest(name string, candidates []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	n := norm(name)
	best, bestDist := "", 4 // suggest only within three edits
	for _, c := range candidates {
		if d := editDistance(n, norm(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
