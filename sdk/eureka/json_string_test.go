package eureka

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkJSONString checks AppendJSONString(s) against encoding/json: valid
// JSON, appended after what dst held, decoding to s for valid UTF-8 and
// always to what json.Marshal(s) decodes to.
func checkJSONString(t *testing.T, s string) []byte {
	t.Helper()
	b := AppendJSONString([]byte("x"), s)
	if b[0] != 'x' {
		t.Fatalf("%q: dst overwritten: %s", s, b)
	}
	b = b[1:]
	if !json.Valid(b) {
		t.Fatalf("%q: invalid JSON %s", s, b)
	}
	var got, ref string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	rb, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &ref); err != nil {
		t.Fatal(err)
	}
	if got != ref {
		t.Fatalf("%q: decodes to %q, encoding/json's to %q", s, got, ref)
	}
	if utf8.ValidString(s) && got != s {
		t.Fatalf("%q: decodes to %q", s, got)
	}
	return b
}

func TestAppendJSONString(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r < 0x3000; r++ {
		all.WriteRune(r)
	}
	checkJSONString(t, all.String())
	for _, tt := range []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"\n\r\t", `"\n\r\t"`},
		{"\x00\x01\b\f\x1f\x7f", `"\u0000\u0001\u0008\u000c\u001f` + "\x7f" + `"`},
		{"<a href='x'>&amp;</a>", `"<a href='x'>&amp;</a>"`}, // json.Marshal: \u003c…
		{"line\u2028para\u2029", `"line\u2028para\u2029"`},
		{"é€𝄞", `"é€𝄞"`},
		// Invalid UTF-8: one U+FFFD per bad byte, as encoding/json.
		{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // an encoded surrogate half
		{"\xe2\x80", `"\ufffd\ufffd"`},           // U+2028 cut short
	} {
		if got := string(checkJSONString(t, tt.in)); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.in, got, tt.want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "\x00\x1f\x7f", "<>&", "\u2028\u2029", "é€𝄞", "\xff\xc3", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkJSONString(t, s) })
}
