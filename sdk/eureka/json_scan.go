package eureka

import (
	"errors"
	"strconv"
)

// This file holds the small value types the hand-written decoders
// (json_decode.go, json_apps.go) gather members in, and helpers shared
// with the other decoders. Their UnmarshalJSON methods, with which
// encoding/json decoded into them before, are kept in
// reference_json_test.go for the reference decoders.

// jsonInt is an integer field that may arrive as a number or a numeric
// string. null and "" leave it unset.
type jsonInt struct {
	v   int64
	set bool
}

// jsonBool is a flag that may arrive as a boolean, a string ("true" in any
// case is true) or a number (non-zero is true). null leaves it unset.
type jsonBool struct {
	v   bool
	set bool
}

// jsonPort is {"$":8080,"@enabled":"true"} with either member as a string
// or a scalar, or leniently a bare port number.
type jsonPort struct {
	number  jsonInt
	enabled jsonBool
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
