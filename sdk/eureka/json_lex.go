package eureka

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonLexer is a validating scanner over one JSON document, used by the
// hand-written instance decoder. It accepts exactly what encoding/json's
// scanner accepts: RFC 8259 syntax, any bytes (even invalid UTF-8) inside
// strings except control characters, and nesting at most jsonMaxDepth deep.
//
// The decoder drives it member by member: open, then member until
// it reports the closing brace, reading each value with str, number,
// literal or skip. Every reader starts at the first byte of its token and
// leaves pos just past it; whitespace is skipped by member and skipSpace.
type jsonLexer struct {
	data  []byte
	pos   int
	depth int // objects and arrays open around pos
}

// jsonMaxDepth is encoding/json's nesting limit.
const jsonMaxDepth = 10000

// jsonSpan locates a token in the input. For a string it is the text
// between the quotes, with esc set when that text needs unquoting
// (escapes or invalid UTF-8); for a number, true or false it is the
// literal. kind is 0 when no value was read (absent or null).
type jsonSpan struct {
	lo, hi int
	kind   uint8
}

const (
	spanPlain = 1 + iota // the bytes are the value
	spanEsc              // a string to unquote
)

func (s jsonSpan) set() bool { return s.kind != 0 }

// jsonSyntaxError is a syntax error at byte offset off.
type jsonSyntaxError struct {
	msg string
	off int
}

func (e *jsonSyntaxError) Error() string {
	return e.msg + " at offset " + strconv.Itoa(e.off)
}

// errJSONEOF says the document ended inside a value.
var errJSONEOF = errors.New("unexpected end of JSON input")

// fail reports the byte at pos as unexpected (or the end of the input).
func (l *jsonLexer) fail(context string) error {
	if l.pos >= len(l.data) {
		return errJSONEOF
	}
	return &jsonSyntaxError{msg: "invalid character " + quoteJSONChar(l.data[l.pos]) + " " + context, off: l.pos}
}

// quoteJSONChar formats c as encoding/json's syntax errors do.
func quoteJSONChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func (l *jsonLexer) skipSpace() {
	for l.pos < len(l.data) && isJSONSpace(l.data[l.pos]) {
		l.pos++
	}
}

// open enters the object or array whose bracket is at pos.
func (l *jsonLexer) open() error {
	l.depth++
	if l.depth > jsonMaxDepth {
		return &jsonSyntaxError{msg: "exceeded max depth", off: l.pos}
	}
	l.pos++
	return nil
}

// member reads the key of the next member of the object being read, n
// members in, and leaves pos at the first byte of its value. ok is false,
// with pos past the '}', when the object has ended.
func (l *jsonLexer) member(n int) (key jsonSpan, ok bool, err error) {
	l.skipSpace()
	if l.pos >= len(l.data) {
		return key, false, errJSONEOF
	}
	c := l.data[l.pos]
	if c == '}' {
		l.pos++
		l.depth--
		return key, false, nil
	}
	if n > 0 {
		if c != ',' {
			return key, false, l.fail("after object key:value pair")
		}
		l.pos++
		l.skipSpace()
		if l.pos >= len(l.data) {
			return key, false, errJSONEOF
		}
		c = l.data[l.pos]
	}
	if c != '"' {
		return key, false, l.fail("looking for beginning of object key string")
	}
	if key, err = l.str(); err != nil {
		return key, false, err
	}
	l.skipSpace()
	if l.pos >= len(l.data) || l.data[l.pos] != ':' {
		return key, false, l.fail("after object key")
	}
	l.pos++
	l.skipSpace()
	if l.pos >= len(l.data) {
		return key, false, errJSONEOF
	}
	return key, true, nil
}

// memberIs is member for a next key known in advance: when the next
// member's key is exactly key (given with its quotes and colon, as
// `"app":`) and nothing but a comma (n > 0) comes before it, it reads it
// and leaves pos at the first byte of its value, as member does, and
// reports true; otherwise it reads nothing. Space is not looked past: the
// member then reads the key.
func (l *jsonLexer) memberIs(n int, key string) (bool, error) {
	i := l.pos
	if n > 0 {
		if i >= len(l.data) || l.data[i] != ',' {
			return false, nil
		}
		i++
	}
	// Keys mostly differ in their first letter: that is looked at before
	// the whole key is compared.
	if len(l.data)-i < len(key) || l.data[i+1] != key[1] || string(l.data[i:i+len(key)]) != key {
		return false, nil
	}
	l.pos = i + len(key)
	l.skipSpace()
	if l.pos >= len(l.data) {
		return false, errJSONEOF
	}
	return true, nil
}

// strPlain marks the bytes that can appear unescaped in a string and need
// no unquoting: printable ASCII other than '"' and '\\'.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads the string at pos.
func (l *jsonLexer) str() (jsonSpan, error) {
	d := l.data
	i := l.pos + 1
	esc, ascii := false, true
	for {
		i = skipPlain(d, i)
		if i >= len(d) {
			return jsonSpan{}, errJSONEOF
		}
		switch c := d[i]; {
		case c == '"':
			s := jsonSpan{lo: l.pos + 1, hi: i, kind: spanPlain}
			if esc || !ascii && !utf8.Valid(d[s.lo:s.hi]) {
				s.kind = spanEsc
			}
			l.pos = i + 1
			return s, nil
		case c == '\\':
			esc = true
			if i+1 >= len(d) {
				return jsonSpan{}, errJSONEOF
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				i += 2
				for end := i + 4; i < end; i++ {
					if i >= len(d) {
						return jsonSpan{}, errJSONEOF
					}
					if unhex(d[i]) < 0 {
						l.pos = i
						return jsonSpan{}, l.fail("in \\u hexadecimal character escape")
					}
				}
			default:
				l.pos = i + 1
				return jsonSpan{}, l.fail("in string escape code")
			}
		case c < 0x20:
			l.pos = i
			return jsonSpan{}, l.fail("in string literal")
		default: // non-ASCII
			ascii = false
			i++
		}
	}
}

// skipPlain returns the index of the first byte of d from i on that is not
// strPlain, or len(d). It tests eight bytes at a time: most of a record is
// plain ASCII text inside strings (URLs, addresses), and a byte-at-a-time
// loop was the decoder's largest cost.
func skipPlain(d []byte, i int) int {
	for ; i+8 <= len(d); i += 8 {
		w := binary.LittleEndian.Uint64(d[i:])
		if m := specialBytes(w); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(d) && strPlain[d[i]] {
		i++
	}
	return i
}

// specialBytes returns a word with the high bit set in each byte of w that
// is not strPlain: '"', '\\', a control character or a byte ≥ 0x80. A
// byte's bit may also be set wrongly, but only above one that is rightly
// set (the borrows of the subtractions run upwards), so the lowest set
// bit is always exact.
func specialBytes(w uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	quote := w ^ (ones * '"')
	backslash := w ^ (ones * '\\')
	// x-ones sets the high bit of a zero byte of x; w-0x20s, of a byte
	// below 0x20. w itself has the high bit of a non-ASCII byte.
	return ((quote - ones) | (backslash - ones) | (w - ones*0x20) | w) & highs
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number reads the number at pos; the caller has checked that it starts
// with '-' or a digit.
func (l *jsonLexer) number() (jsonSpan, error) {
	d := l.data
	lo, i := l.pos, l.pos
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && isDigit(d[i]):
		i = skipDigits(d, i)
	default:
		l.pos = i
		return jsonSpan{}, l.fail("in numeric literal")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			l.pos = i
			return jsonSpan{}, l.fail("after decimal point in numeric literal")
		}
		i = skipDigits(d, i)
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			l.pos = i
			return jsonSpan{}, l.fail("in exponent of numeric literal")
		}
		i = skipDigits(d, i)
	}
	l.pos = i
	return jsonSpan{lo: lo, hi: i, kind: spanPlain}, nil
}

func skipDigits(d []byte, i int) int {
	for i < len(d) && isDigit(d[i]) {
		i++
	}
	return i
}

// literal reads true, false or null, whichever starts at pos.
func (l *jsonLexer) literal() (jsonSpan, error) {
	var word string
	switch l.data[l.pos] {
	case 't':
		word = "true"
	case 'f':
		word = "false"
	default:
		word = "null"
	}
	lo := l.pos
	for i := 0; i < len(word); i++ {
		if l.pos >= len(l.data) {
			return jsonSpan{}, errJSONEOF
		}
		if l.data[l.pos] != word[i] {
			return jsonSpan{}, l.fail("in literal " + word + " (expecting " + quoteJSONChar(word[i]) + ")")
		}
		l.pos++
	}
	return jsonSpan{lo: lo, hi: l.pos, kind: spanPlain}, nil
}

// skip reads and discards the value at pos.
func (l *jsonLexer) skip() error {
	if l.pos >= len(l.data) {
		return errJSONEOF
	}
	var err error
	switch c := l.data[l.pos]; c {
	case '{':
		if err := l.open(); err != nil {
			return err
		}
		for n := 0; ; n++ {
			_, ok, err := l.member(n)
			if err != nil || !ok {
				return err
			}
			if err := l.skip(); err != nil {
				return err
			}
		}
	case '[':
		if err := l.open(); err != nil {
			return err
		}
		if l.emptyArray() {
			return nil
		}
		for {
			l.skipSpace()
			if err := l.skip(); err != nil {
				return err
			}
			if more, err := l.afterElement(); !more {
				return err
			}
		}
	case '"':
		_, err = l.str()
	case 't', 'f', 'n':
		_, err = l.literal()
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		_, err = l.number()
	default:
		err = l.fail("looking for beginning of value")
	}
	return err
}

// emptyArray consumes the closing bracket of an array just opened, if it
// comes next, and reports whether it did.
func (l *jsonLexer) emptyArray() bool {
	l.skipSpace()
	if l.pos < len(l.data) && l.data[l.pos] == ']' {
		l.pos++
		l.depth--
		return true
	}
	return false
}

// afterElement reads what follows an array element: a comma (more is
// true) or the array's closing bracket.
func (l *jsonLexer) afterElement() (more bool, err error) {
	l.skipSpace()
	if l.pos >= len(l.data) {
		return false, errJSONEOF
	}
	switch l.data[l.pos] {
	case ',':
		l.pos++
		return true, nil
	case ']':
		l.pos++
		l.depth--
		return false, nil
	}
	return false, l.fail("after array element")
}

// validJSONText reports whether the string whose text between the quotes
// is s, which str has validated, is text that appendUnquoted decodes
// without replacing anything: valid UTF-8, and every \u escape of a UTF-16
// surrogate one half of a pair.
func validJSONText(s []byte) bool {
	if !utf8.Valid(s) {
		return false
	}
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			i++
			continue
		}
		if s[i+1] != 'u' {
			i += 2
			continue
		}
		r := getHex4(s[i:])
		i += 6
		if !utf16.IsSurrogate(r) {
			continue
		}
		if utf16.DecodeRune(r, getHex4(s[i:])) == utf8.RuneError {
			return false
		}
		i += 6
	}
	return true
}

// appendUnquoted appends the string whose text between the quotes is s,
// which str has validated, decoded as encoding/json decodes it: escapes
// are replaced, a \u escape of a lone or ill-paired UTF-16 surrogate
// becomes U+FFFD, and so does each byte of invalid UTF-8. The decoders
// use it as it is only for text they do not keep (member names,
// statuses); kept text is first checked with validJSONText, so that
// nothing a client sends is stored rewritten.
func appendUnquoted(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := getHex4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getHex4(s[r:])); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						r += 6
						continue
					}
					rr = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			dst = utf8.AppendRune(dst, rr)
			r += size
		}
	}
	return dst
}

// getHex4 decodes the \uXXXX escape at the start of s, or returns -1.
func getHex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		h := unhex(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | h
	}
	return r
}

// foldJSONKey appends key folded as encoding/json folds object keys to
// match them with struct fields case-insensitively: each rune becomes the
// smallest rune of its simple case-folding orbit. Only ASCII results can
// equal a field name, so it gives up (ok false) on any rune that does not
// fold into ASCII (of those outside ASCII only U+017F ſ → S and U+212A
// Kelvin → K do; TestFoldJSONKeyRunes checks this against the Unicode
// tables) and on keys longer than dst's capacity, which is meant to be
// that of the longest field name.
func foldJSONKey(dst, key []byte) (folded []byte, ok bool) {
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			i++
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
		} else {
			r, n := utf8.DecodeRune(key[i:])
			i += n
			switch r {
			case '\u017f':
				c = 'S'
			case '\u212a':
				c = 'K'
			default:
				return nil, false
			}
		}
		if len(dst) == cap(dst) {
			return nil, false
		}
		dst = append(dst, c)
	}
	return dst, true
}
