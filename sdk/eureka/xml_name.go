package eureka

import (
	"strings"
	"unicode/utf8"
)

// Metadata keys become XML element names. The Java server uses XStream's
// name coder, which writes "_" as "__" and "$" as "_-" and nothing else, so
// a key such as "a b" or "1st" would make it emit a broken document. We
// extend the coder so every key gives a valid name:
//
//   - "_" → "__" and "$" → "_-" (XStream's rules, so Java readers decode
//     these keys as Java servers wrote them);
//   - any other character that is not an ASCII letter, or (after the first
//     character) an ASCII digit, "." or "-", is written as "_x" followed by
//     its code point in upper-case hex (at least four digits) and "_", as
//     in .NET's XmlConvert.EncodeName: "a b" → "a_x0020_b", "1st" →
//     "_x0031_st", "é" → "_x00E9_". ":" is included because XML readers
//     take it as a namespace prefix; non-ASCII characters are included
//     because the XML 1.0 name tables that Go's decoder checks are narrower
//     than Unicode's letters.
//
// Because every literal "_" is doubled, "_x…_" never arises from a key by
// accident and decoding is exact: decodeXMLName(encodeXMLName(k)) == k for
// every valid UTF-8 key except "", which has no element form and is left
// out of XML output. Keys of only letters, digits, ".", "-", "_" and "$"
// (all real Eureka keys) are written exactly as XStream writes them.
//
// Decoding is lenient toward writers that do not escape at all (fargo
// writes keys verbatim): a "_" not followed by "_", "-" or a well-formed
// "x<hex>_" is kept as it is.

// appendXMLName appends the element name for metadata key k.
func appendXMLName(dst []byte, k string) []byte {
	for i := 0; i < len(k); {
		c := k[i]
		if c < utf8.RuneSelf {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
				dst = append(dst, c)
			case i > 0 && ('0' <= c && c <= '9' || c == '.' || c == '-'):
				dst = append(dst, c)
			case c == '_':
				dst = append(dst, '_', '_')
			case c == '$':
				dst = append(dst, '_', '-')
			default:
				dst = appendXMLNameEscape(dst, rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(k[i:])
		dst = appendXMLNameEscape(dst, r)
		i += size
	}
	return dst
}

func appendXMLNameEscape(dst []byte, r rune) []byte {
	const upperHex = "0123456789ABCDEF"
	dst = append(dst, '_', 'x')
	n := 4
	for r>>(4*n) != 0 {
		n++
	}
	for shift := 4 * (n - 1); shift >= 0; shift -= 4 {
		dst = append(dst, upperHex[(r>>shift)&0xF])
	}
	return append(dst, '_')
}

// decodeXMLName turns an element name back into a metadata key; see the
// rules above.
func decodeXMLName(name string) string {
	if strings.IndexByte(name, '_') < 0 {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '_' || i+1 == len(name) {
			b.WriteByte(c)
			continue
		}
		switch name[i+1] {
		case '_':
			b.WriteByte('_')
			i++
			continue
		case '-':
			b.WriteByte('$')
			i++
			continue
		case 'x':
			if r, n, ok := hexEscape(name[i+2:]); ok {
				b.WriteRune(r)
				i += 1 + n // "_x", the digits and "_", less the loop's i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// hexEscape reads "<1-6 hex digits>_" from the start of s and returns the
// code point and the number of bytes used.
func hexEscape(s string) (r rune, n int, ok bool) {
	for n < len(s) && n <= 6 {
		c := s[n]
		var d rune
		switch {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		case 'A' <= c && c <= 'F':
			d = rune(c-'A') + 10
		case c == '_' && n > 0:
			if !utf8.ValidRune(r) {
				return 0, 0, false
			}
			return r, n + 1, true
		default:
			return 0, 0, false
		}
		r = r<<4 | d
		n++
	}
	return 0, 0, false
}
