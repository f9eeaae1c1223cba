package eureka

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// skipPlainBytewise is skipPlain as a byte at a time, the reference.
func skipPlainBytewise(d []byte, i int) int {
	for i < len(d) && strPlain[d[i]] {
		i++
	}
	return i
}

// TestSkipPlainEveryByte puts every byte value at every offset of a word
// (and past it, in the tail), after plain text and before other specials,
// so that a wrong borrow or a missed byte class shows.
func TestSkipPlainEveryByte(t *testing.T) {
	for n := 1; n <= 19; n++ {
		for at := 0; at < n; at++ {
			for c := range 256 {
				for _, after := range []byte{'a', '"', 0x00, 0xff, '\\', 0x1f} {
					d := make([]byte, n)
					for j := range d {
						d[j] = 'a' + byte(j%26)
						if j > at {
							d[j] = after
						}
					}
					d[at] = byte(c)
					for from := 0; from <= at; from++ {
						if got, want := skipPlain(d, from), skipPlainBytewise(d, from); got != want {
							t.Fatalf("skipPlain(%q, %d) = %d, want %d", d, from, got, want)
						}
					}
				}
			}
		}
	}
}

func TestSkipPlainRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abcXYZ09:/.-_ \"\\\x00\x1f\x7f\x80\xc3\xa9\xff")
	for range 100_000 {
		d := make([]byte, rng.IntN(40))
		for j := range d {
			// Mostly plain, as real strings are.
			if rng.IntN(8) == 0 {
				d[j] = alphabet[rng.IntN(len(alphabet))]
			} else {
				d[j] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		from := 0
		if len(d) > 0 {
			from = rng.IntN(len(d))
		}
		if got, want := skipPlain(d, from), skipPlainBytewise(d, from); got != want {
			t.Fatalf("skipPlain(%q, %d) = %d, want %d", d, from, got, want)
		}
	}
}

// TestDecodeExpectedKeys checks the decoder's shortcut for the keys the
// usual encoders write next (instanceDecoder.next) against encoding/json,
// on documents in their exact form and near it: the documents cut at
// every byte, keys spelt with an escape or another case, space
// around them, members repeated or out of order, and a whole lease.
func TestDecodeExpectedKeys(t *testing.T) {
	in, err := DecodeInstanceJSON(readFixture(t, "spring-register.json"))
	if err != nil {
		t.Fatal(err)
	}
	in.SID, in.AppGroupName, in.ASGName = "sid-1", "GROUP", "asg"
	in.LeaseInfo.RegistrationTimestamp, in.LeaseInfo.ServiceUpTimestamp = 17, 18
	in.DataCenterInfo = &DataCenterInfo{Name: DataCenterAmazon, Metadata: map[string]string{"instance-id": "i-1"}}
	doc := AppendInstanceJSONWrapped(nil, in)
	// The shortcut is taken: the encoder's form decodes to what was
	// encoded.
	back, err := DecodeInstanceJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(AppendInstanceJSON(nil, back)), string(AppendInstanceJSON(nil, in)); got != want {
		t.Fatalf("round trip:\n got %s\nwant %s", got, want)
	}
	// Both orders the shortcut knows, cut at every byte: the encoder's
	// and the Java client's (the Spring fixture).
	for _, d := range [][]byte{doc, readFixture(t, "spring-register.json")} {
		checkSameAsReference(t, d)
		for i := range d {
			checkSameAsReference(t, d[:i])
		}
	}
	s := string(doc)
	for _, variant := range []string{
		strings.Replace(s, `"hostName":`, `"host\u004eame":`, 1),
		strings.Replace(s, `"hostName":`, `"HOSTNAME":`, 1),
		strings.Replace(s, `"hostName":`, `"hostName" :`, 1),
		strings.Replace(s, `,"app":`, `, "app":`, 1),
		strings.Replace(s, `,"app":`, `,"app": `, 1),
		strings.Replace(s, `,"app":`, `,"app":null,"app":`, 1),
		strings.Replace(s, `,"ipAddr":`, `,"ipAddr":1,"ipAddr":`, 1),
		strings.Replace(s, `"durationInSecs":`, `"durationInSecs":"x","durationInSecs":`, 1),
		strings.Replace(s, `{"renewalIntervalInSecs":`, `{"renewalTimestamp":5,"renewalIntervalInSecs":`, 1),
		strings.Replace(s, `,"status":`, `,"statu":1,"status":`, 1),
		strings.Replace(s, `,"leaseInfo":`, `,"leaseInfo":null,"leaseInfo":`, 1),
		strings.Replace(s, `"instanceId":`, `"instance":{},"instanceId":`, 1),
		strings.Replace(s, `{"instance":{`, `{"instance":{"instance":{},`, 1),
		// Members left out: the shortcut looks two ahead.
		strings.Replace(s, `,"durationInSecs":90`, ``, 1),
		strings.Replace(s, `"renewalIntervalInSecs":30,"durationInSecs":90,`, ``, 1),
		strings.Replace(s, `,"status":"UP","overriddenStatus":"UNKNOWN"`, `,"overriddenStatus":"DOWN"`, 1),
		// Ports: the two keys matched exactly, in any order or spelling.
		strings.Replace(s, `{"$":`, `{"@enabled":"false","$":`, 1),
		strings.Replace(s, `{"$":`, `{"$" :`, 1),
		strings.Replace(s, `{"$":`, `{"\u0024":`, 1),
		strings.Replace(s, `{"$":`, `{"$":1,"$":`, 1),
		strings.Replace(s, `,"@enabled":`, `,"@Enabled":"false","@enabled":`, 1),
		strings.Replace(s, `,"@enabled":`, `,"@enabled":null,"@enabled":`, 1),
	} {
		if variant == s {
			t.Fatalf("variant not made from %s", s)
		}
		checkSameAsReference(t, []byte(variant))
	}
}
