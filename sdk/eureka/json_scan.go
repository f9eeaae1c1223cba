package eureka

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the small JSON value types behind the lenient decoder.
// encoding/json drives the decode and validates the input before any
// UnmarshalJSON here runs; these types only interpret one already-valid
// value, so the scanning helpers can stay small. They still check bounds
// and report errors rather than trusting their input.

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

// jsonInt is an integer field that may arrive as a number or a numeric
// string. null and "" leave it unset.
type jsonInt struct {
	v   int64
	set bool
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

// jsonBool is a flag that may arrive as a boolean, a string ("true" in any
// case is true) or a number (non-zero is true). null leaves it unset.
type jsonBool struct {
	v   bool
	set bool
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

// jsonPort is {"$":8080,"@enabled":"true"} with either member as a string
// or a scalar, or leniently a bare port number.
type jsonPort struct {
	number  jsonInt
	enabled jsonBool
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

// port returns the decoded port with the Java builder defaults for what
// is missing: number def, and enabled for the non-secure port only.
func (p *jsonPort) port(def int, secure bool) (Port, error) {
	out := Port{Number: def, Enabled: !secure}
	if p.number.set {
		v, err := narrowInt(p.number.v, strconv.IntSize)
		if err != nil {
			return Port{}, err
		}
		out.Number = int(v)
	}
	if p.enabled.set {
		out.Enabled = p.enabled.v
	}
	return out, nil
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

// narrowInt checks that v fits in a signed integer of the given size.
func narrowInt(v int64, bits int) (int64, error) {
	if bits < 64 {
		lim := int64(1) << (bits - 1)
		if v < -lim || v >= lim {
			return 0, errors.New("number " + strconv.FormatInt(v, 10) + " out of range")
		}
	}
	return v, nil
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

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
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
