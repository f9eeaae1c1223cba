package eureka

import (
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// referenceCases are documents on which the hand-written decoder most
// easily parts from encoding/json. They seed the differential fuzz target
// and are checked by TestDecodeInstanceJSONMatchesReference.
var referenceCases = []string{
	// Member names: exact, folded (ſ folds to S, the Kelvin sign to K),
	// the two overriddenStatus fields, names longer than any field.
	`{"ſtatus":"down","HOSTNAME":"h","Instanceid":"i","ipaddr":"1"}`,
	`{"healthCheckUrl":"x","HEALTHCHECKURL":"y","healthChec` + "\u212a" + `Url":"k"}`,
	`{"OverriddenStatus":"UP","overriddenstatus":"DOWN"}`,
	`{"overriddenstatus":"DOWN","OVERRIDDENSTATUS":null}`,
	`{"overriddenStatus":"","overriddenstatus":"UP"}`,
	`{"overriddenſtatus":"UP"}`,
	`{"isCoordinatingDiscoveryServerX":true,"isCoordinatingDiscoveryServer":"TRUE"}`,
	`{"host\u004eame":"x","port":{"\u0024":81,"@en\u0061bled":false}}`,
	`{"dataCenterInfo":{"NAME":"netflix","Metadata":{"x":"1"}}}`,
	`{"leaseInfo":{"DURATIONINSECS":5,"renewalintervalinsecs":"6","ſerviceUpTimestamp":7}}`,
	"{\"host\xffName\":\"x\",\"\xff\":1}",
	// The wrapper: null, repeated, beside outer members, inside itself.
	`{"instance":{"hostName":"a"},"instance":null}`,
	`{"instance":null,"hostName":"outer"}`,
	`{"instance":{"hostName":"a"},"instance":{"app":"b"}}`,
	`{"INSTANCE":{"hostName":"x"},"hostName":"y"}`,
	`{"inſtance":{"hostName":"x"}}`,
	`{"instance":{"instance":{"hostName":"x"}}}`,
	`{"instance":{},"port":true}`,
	`{"instance":{},"countryId":"x"}`,
	`{"instance":[]}`,
	`{"instance":"x"}`,
	// Repeated members merge; null makes objects absent again.
	`{"dataCenterInfo":{"name":"Amazon","metadata":{"a":"1"}},"dataCenterInfo":null,"dataCenterInfo":{"name":"amazon"}}`,
	`{"dataCenterInfo":{"name":"Amazon","metadata":{"a":"1"}},"dataCenterInfo":{"metadata":{"b":"2"}}}`,
	`{"leaseInfo":{"durationInSecs":5},"leaseInfo":null}`,
	`{"leaseInfo":{"durationInSecs":5},"leaseInfo":null,"leaseInfo":{"renewalIntervalInSecs":7}}`,
	`{"port":{"$":1},"port":{"@enabled":false},"port":null}`,
	`{"port":5,"port":{"@enabled":"no"}}`,
	`{"metadata":{"a":"1","a":null,"b":2},"metadata":null,"metadata":{"c":true}}`,
	`{"metadata":{"@cl\u0061ss":"x","@CLASS":"y","@class":{"deep":[1]}}}`,
	`{"countryId":5,"countryId":""}`,
	`{"countryId":5,"countryId":null}`,
	`{"leaseInfo":{"lastRenewalTimestamp":6,"lastRenewalTimestamp":"","renewalTimestamp":5}}`,
	`{"hostName":"a","hostName":null,"sid":1,"sid":"two"}`,
	`{"status":"UP","status":null,"status":""}`,
	// Strings.
	`{"hostName":"\ud83d\ude00\ud83d\u0041\udc00x\\u\ud800\ud800\udc00"}`,
	`{"hostName":"\ud83d","sid":"\udc00\ud83d","app":"\uD83D\uDE00z"}`,
	`{"hostName":"\u0000\b\f\n\r\t\"\\\/"}`,
	"{\"hostName\":\"\xed\xa0\x80\xf0\x9f\x98\x80\xc3\x28\xff\xfe\"}",
	`{"hostName":"` + strings.Repeat(`\u00e9`, 40) + `","metadata":{"` + strings.Repeat(`\n`, 70) + `":"` + strings.Repeat("\xff", 70) + `"}}`,
	`{"app":"ǅx","appGroupName":"straße","vipAddress":"Ab"}`,
	`{"app":"` + strings.Repeat("a", 100) + `","appGroupName":"g` + `\u0041"}`,
	// Numbers and flags.
	`{"port":-0,"securePort":1E+2,"countryId":"+7"}`,
	`{"port":" 80 ","securePort":"\u00a0443\u3000"}`,
	`{"countryId":9223372036854775807,"lastDirtyTimestamp":-9223372036854775808}`,
	`{"countryId":9223372036854775808}`,
	`{"countryId":1e19}`,
	`{"countryId":999999999999999999,"lastUpdatedTimestamp":"0000000000000000001"}`,
	`{"lastDirtyTimestamp":"1.5","lastUpdatedTimestamp":"-1.5e3"}`,
	`{"lastDirtyTimestamp":"1e400"}`,
	`{"lastDirtyTimestamp":"1_000"}`,
	`{"lastDirtyTimestamp":"-"}`,
	`{"lastDirtyTimestamp":" "}`,
	`{"lastDirtyTimestamp":"\u0031\u0032"}`,
	`{"lastDirtyTimestamp":true}`,
	`{"leaseInfo":{"renewalIntervalInSecs":2147483648,"durationInSecs":-2147483649}}`,
	`{"leaseInfo":{"renewalIntervalInSecs":2147483647,"durationInSecs":"1.9"}}`,
	`{"isCoordinatingDiscoveryServer":1e400}`,
	`{"isCoordinatingDiscoveryServer":1e-400}`,
	`{"isCoordinatingDiscoveryServer":"\ttrue "}`,
	`{"isCoordinatingDiscoveryServer":"\u0074rue"}`,
	`{"isCoordinatingDiscoveryServer":-0.0}`,
	`{"port":{"@enabled":0.5},"securePort":{"@enabled":"True"}}`,
	`{"port":{"$":"eighty"}}`,
	`{"port":{"$":true}}`,
	`{"port":{"$":{}}}`,
	`{"port":[]}`,
	`{"port":false}`,
	// Statuses, action types, data centre names.
	`{"status":"ſtarting","overriddenStatus":" out_of_servıce"}`,
	`{"status":"\u00a0up","overriddenStatus":"\u000bdown\f"}`,
	`{"status":1,"overriddenStatus":true}`,
	`{"status":"OUT_OF_SERVICE_","overriddenStatus":"UNKNOWN"}`,
	`{"actionType":" added ","status":"Starting"}`,
	`{"actionType":"ADDED\u0000"}`,
	`{"actionType":"modıfied"}`,
	`{"dataCenterInfo":{"name":"AMAZON"}}`,
	`{"dataCenterInfo":{"name":12}}`,
	`{"dataCenterInfo":{"name":"Elsewhere","metadata":{"a":"b"}}}`,
	`{"dataCenterInfo":{"name":"my\u004fwn"}}`,
	`{"dataCenterInfo":{}}`,
	`{"dataCenterInfo":{"name":[]}}`,
	`{"dataCenterInfo":"MyOwn"}`,
	// Metadata values.
	`{"metadata":{"o":{ "a" : [ 1 , "\u00e9" ] } ,"n":-1.50e+3,"t":true,"f":false,"e":""}}`,
	`{"metadata":{"":"","x":[]}}`,
	`{"metadata":[1]}`,
	`{"metadata":"x"}`,
	// Syntax.
	"\uFEFF {\"hostName\":\"h\"}",
	"\uFEFF\uFEFF{}",
	" \uFEFF{}",
	"\t\r\n {}\t\r\n ",
	`{}`, `{ }`, `{"a":1,}`, `{"a":[1,]}`, `{"a":[,]}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`,
	`{"a":.5}`, `{"a":1e}`, `{"a":1e+}`, `{"a":+1}`, `{"a":tru}`, `{"a":nulls}`, `{"a":"\x"}`,
	`{"a":"\u12"}`, `{"a":"\u12g4"}`, `{} {}`, `{}x`, `{"a" 1}`, `{"a":1 "b":2}`, `{,}`, `{"a"}`,
	"{\"a\":\"\x01\"}", "{\"a\":\"\x7f\"}", `{"a":{"b":}}`, `{"a":[1 2]}`, `{"a":[}`, `{"a":}`,
	`{'a':1}`, `{"a":NaN}`, `{"a":"`, `{"a":"\`, `{"a":"\u`, `{"a":-`, `{"a":t`, `{"a":[`, `{"a":{`,
	`{"a":1`, `{"a"`, `{"a`, `{`, ``, `null`, `[]`, `"x"`, `1`,
}

// checkSameAsReference decodes data with DecodeInstanceJSON and with the
// encoding/json decoder it replaced: both must fail, or give equal
// instances. The one difference: where encoding/json replaces text that
// is not UTF-8 with U+FFFD, DecodeInstanceJSON fails (ErrInvalidUTF8).
func checkSameAsReference(t *testing.T, data []byte) {
	t.Helper()
	got, err := DecodeInstanceJSON(data)
	want, werr := referenceDecodeInstanceJSON(data)
	switch {
	case err != nil && !errors.Is(err, ErrMalformed):
		t.Fatalf("%q: error %v does not match ErrMalformed", data, err)
	case errors.Is(err, ErrInvalidUTF8) && werr == nil:
		if !hasInvalidText(data) {
			t.Fatalf("%q: error %v, but the document holds no invalid text", data, err)
		}
	case err != nil && werr == nil:
		t.Fatalf("%q: error %v, the reference decodes\n%+v", data, err, want)
	case err == nil && werr != nil:
		t.Fatalf("%q: decodes, the reference fails with %v\n%+v", data, werr, got)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("%q: decoded differently\n got %s\nwant %s", data, dumpInstance(got), dumpInstance(want))
	}
}

// surrogateEscape matches a JSON \u escape of a UTF-16 surrogate.
var surrogateEscape = regexp.MustCompile(`\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}`)

// hasInvalidText reports whether a JSON document holds bytes that are not
// UTF-8 or a \u escape of a surrogate, one of which ErrInvalidUTF8 needs.
func hasInvalidText(data []byte) bool {
	return !utf8.Valid(data) || surrogateEscape.Match(data)
}

func dumpInstance(in *InstanceInfo) string {
	var b strings.Builder
	v := reflect.ValueOf(in).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			f = f.Elem()
		}
		b.WriteString(v.Type().Field(i).Name + "=" + strings.ReplaceAll(reflectString(f), "\n", `\n`) + " ")
	}
	return b.String()
}

func reflectString(v reflect.Value) string {
	if v.Kind() == reflect.String {
		return `"` + v.String() + `"`
	}
	return strings.TrimPrefix(strings.TrimPrefix(reflect.ValueOf(v.Interface()).String(), "<"), ">")
}

func TestDecodeInstanceJSONMatchesReference(t *testing.T) {
	for _, c := range referenceCases {
		checkSameAsReference(t, []byte(c))
	}
	for _, name := range []string{"golden/instance.json", "decode/spring-register.json", "decode/java-register-amazon.json", "decode/js-register-amazon.json", "decode/fargo-register.json"} {
		b := readTestdata(t, name)
		checkSameAsReference(t, b)
		// Every prefix of a real document, and the document with each
		// byte dropped.
		for i := range b {
			checkSameAsReference(t, b[:i])
			checkSameAsReference(t, append(b[:i:i], b[i+1:]...))
		}
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	dir, file, _ := strings.Cut(name, "/")
	if dir == "golden" {
		return readGolden(t, file)
	}
	return readFixture(t, file)
}

// memberValues are values of every type and the strings and numbers the
// lenient members treat specially.
var memberValues = []string{
	`null`, `""`, `" "`, `"x"`, `"Up"`, `"amazon"`, `" 12 "`, `"1.5e1"`, `"+3"`, `"-"`,
	`"TRUE"`, `"\u0041b"`, `"\ud800"`, `12`, `-0`, `1.5`, `1e3`, `99999999999999999999`,
	`2147483648`, `true`, `false`, `{}`, `[]`, `{"$":"81","@enabled":"false"}`,
	`{"name":"Amazon","metadata":{"a":1,"@class":"x","b":null}}`,
	`{"durationInSecs":"5","renewalTimestamp":3}`, `{"a":null,"b":[1,{"c":"d"}]}`,
	`{"hostName":"inner"}`,
}

// TestDecodeInstanceJSONMembersMatchReference compares the decoders on
// every member with every value of memberValues, alone and repeated, in
// the bare and the wrapped form, under several spellings of its name.
func TestDecodeInstanceJSONMembersMatchReference(t *testing.T) {
	check := func(doc string) {
		checkSameAsReference(t, []byte(doc))
		checkSameAsReference(t, []byte(`{"instance":`+doc+`}`))
	}
	values := memberValues
	if testing.Short() {
		values = values[:8]
	}
	for _, name := range instanceMemberNames {
		for _, key := range []string{name, strings.ToUpper(name), strings.ReplaceAll(name, "s", "ſ")} {
			for _, v := range values {
				check(`{"` + key + `":` + v + `}`)
			}
		}
		for _, v1 := range values {
			for _, v2 := range values {
				check(`{"` + name + `":` + v1 + `,"` + name + `":` + v2 + `}`)
			}
		}
	}
	for _, outer := range []string{"dataCenterInfo", "leaseInfo", "port", "securePort", "metadata"} {
		keys := []string{"$", "@enabled", "@ENABLED", "@class", "name", "NAME", "metadata"}
		keys = append(keys, leaseMembers.names...)
		keys = append(keys, strings.ToUpper(leaseMembers.names[3]), strings.ReplaceAll(leaseMembers.names[6], "s", "ſ"))
		for _, key := range keys {
			for _, v := range values {
				check(`{"` + outer + `":{"` + key + `":` + v + `}}`)
				check(`{"` + outer + `":{"` + key + `":` + v + `},"` + outer + `":{"x":1,"` + key + `":null}}`)
			}
		}
	}
}

// TestDecodeInstanceJSONDepth: like encoding/json, at most 10000 nested
// objects and arrays.
func TestDecodeInstanceJSONDepth(t *testing.T) {
	for _, depth := range []int{9999, 10000, 10001} {
		for _, member := range []string{"x", "metadata"} {
			n := depth - 2 // the document object and the member's object
			doc := `{"` + member + `":{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`
			checkSameAsReference(t, []byte(doc))
			_, err := DecodeInstanceJSON([]byte(doc))
			if (err == nil) != (depth <= 10000) {
				t.Errorf("depth %d in %s: error %v", depth, member, err)
			}
		}
	}
}

// TestFoldJSONKeyRunes checks the claim foldJSONKey rests on: of the runes
// outside ASCII, encoding/json's folding (the smallest rune of the simple
// folding orbit) takes only U+017F and U+212A into ASCII.
func TestFoldJSONKeyRunes(t *testing.T) {
	for r := rune(utf8RuneSelf); r <= unicode.MaxRune; r++ {
		f := r
		for {
			f2 := unicode.SimpleFold(f)
			if f2 <= f {
				f = f2
				break
			}
			f = f2
		}
		if f >= utf8RuneSelf {
			continue
		}
		got, ok := foldJSONKey(make([]byte, 0, 4), []byte(string(r)))
		if !ok || string(got) != string(f) {
			t.Errorf("%U folds to %q, foldJSONKey gives %q %v", r, f, got, ok)
		}
	}
}

const utf8RuneSelf = 0x80

// TestInstanceMemberLookup: exact names win, then the first name that
// folds alike.
func TestInstanceMemberLookup(t *testing.T) {
	for m, name := range instanceMemberNames[:mUnknown] {
		if got := instanceMembers.lookup([]byte(name)); got != m {
			t.Errorf("%q = %d, want %d", name, got, m)
		}
		want := m
		if m == mOverriddenStatusOld {
			want = mOverriddenStatus
		}
		for _, key := range []string{strings.ToUpper(name), strings.ToLower(name), strings.ReplaceAll(name, "s", "ſ"), strings.ReplaceAll(name, "k", "\u212a")} {
			if key == name || key == instanceMemberNames[mOverriddenStatusOld] {
				continue // an exact match
			}
			if got := instanceMembers.lookup([]byte(key)); got != want {
				t.Errorf("%q = %d, want %d", key, got, want)
			}
		}
	}
	for _, key := range []string{"", "x", "hostname2", "isCoordinatingDiscoveryServerX", strings.Repeat("ſ", 40)} {
		if got := instanceMembers.lookup([]byte(key)); got != -1 {
			t.Errorf("%q = %d, want -1", key, got)
		}
	}
}

// TestDecodeInstanceJSONAllocs guards the cost of the common register
// body (see BenchmarkDecodeInstanceJSON).
func TestDecodeInstanceJSONAllocs(t *testing.T) {
	body := readFixture(t, "spring-register.json")
	n := testing.AllocsPerRun(100, func() {
		if _, err := DecodeInstanceJSON(body); err != nil {
			t.Fatal(err)
		}
	})
	if n > 8 {
		t.Errorf("%v allocations per decode, want at most 8", n)
	}
}

// FuzzDecodeInstanceJSONDifferential: DecodeInstanceJSON behaves exactly
// as the encoding/json decoder it replaced (referenceDecodeInstanceJSON):
// both fail, or both give the same instance.
func FuzzDecodeInstanceJSONDifferential(f *testing.F) {
	addSeeds(f, ".json", ".xml")
	f.Add([]byte(`{"instance":{"metadata":{"a b":"\u0000","":"x","_x0020_":"1"},"port":"1e3","app":"ǅ"}}`))
	for _, c := range referenceCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSameAsReference(t, data)
	})
}

// BenchmarkDecodeInstanceJSONReference is BenchmarkDecodeInstanceJSON for
// the encoding/json decoder, to compare the two in one run.
func BenchmarkDecodeInstanceJSONReference(b *testing.B) {
	body := readFixture(b, "spring-register.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := referenceDecodeInstanceJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

// appsReferenceCases are registry and application documents on which the
// hand-written registry decoders most easily part from encoding/json.
var appsReferenceCases = []string{
	// Wrappers: null, repeated (objects merge), beside outer members,
	// nested, folded names, wrong types.
	`{"applications":{"versions__delta":"3"},"applications":{"apps__hashcode":"UP_1_"}}`,
	`{"applications":{"versions__delta":3},"applications":null,"versions__delta":4}`,
	`{"applications":{"applications":{"versions__delta":3}}}`,
	`{"APPLICATIONS":{"Versions__Delta":2,"APPS__HASHCODE":"x","Application":{"NAME":"a"}}}`,
	`{"applications":[]}`, `{"applications":"x"}`, `{"applications":1}`, `{"applications":true}`,
	`{"application":{"name":"a"},"application":{"instance":{"hostName":"h"}}}`,
	`{"application":{"name":"a"},"application":null,"name":"outer"}`,
	`{"application":{"application":{"name":"a"}}}`,
	`{"application":[]}`, `{"application":"x"}`,
	// Both spellings of the registry members.
	`{"versions_delta":5,"apps_hashcode":"y"}`,
	`{"versions__delta":"","versions_delta":5,"apps__hashcode":null,"apps_hashcode":"y"}`,
	`{"versions__delta":"x"}`, `{"versions__delta":true}`, `{"versions__delta":1.5}`,
	`{"versions__delta":"-7","apps__hashcode":12}`, `{"apps__hashcode":{}}`,
	// Lists: single objects append, arrays read element by element into
	// what is there, nulls, stale elements past a shorter array.
	`{"application":{"name":"a"},"application":{"name":"b"}}`,
	`{"application":[{"name":"a"}],"application":{"name":"b"}}`,
	`{"application":{"name":"a"},"application":[{"instance":[{"app":"x"}]}]}`,
	`{"application":[{"name":"a"},{"name":"b"}],"application":[{"name":"c"}],"application":[{},{}]}`,
	`{"application":[{"name":"a"},{"name":"b"}],"application":[{"name":"c"}],"application":{"name":"d"}}`,
	`{"application":[{"name":"a"},null,{"name":"c"}],"application":[{},{},null]}`,
	`{"application":[{"name":"a"}],"application":[],"application":[{}]}`,
	`{"application":[{"name":"a"}],"application":null}`,
	`{"application":[null]}`, `{"application":[1]}`, `{"application":[[]]}`, `{"application":["a"]}`,
	`{"application":[{"instance":[{"hostName":"a"},{"hostName":"b"}],"instance":[{"sid":"1"}],"instance":[{},{}]}]}`,
	`{"application":{"instance":{"hostName":"a"},"instance":{"hostName":"b"},"instance":null}}`,
	`{"application":{"instance":[{"hostName":"a","metadata":{"x":"1"}}],"instance":[{"metadata":{"y":"2"}}]}}`,
	`{"application":{"instance":[null,{"hostName":"a"},null]}}`,
	`{"application":{"instance":[]}}`, `{"application":{"instance":"x"}}`, `{"application":{"instance":[true]}}`,
	`{"application":{"instance":{"instance":{"hostName":"x"}}}}`,
	`{"application":{"name":null,"NAME":"n","instance":{"port":"x"}}}`,
	`{"application":{"name":[],"instance":[]}}`,
	`{"application":[{"name":"a"}],"application":[{"name":"b"},{"name":"c"},{"name":"d"},{"name":"e"},{"name":"f"}],"application":[{},{},{}],"application":[{},{},{},{},{},{}]}`,
	// Syntax.
	`{"application":[{},]}`, `{"application":[{}`, `{"application":[{} {}]}`, `{"application":[`,
	`{"application":[ ]}`, `{"application":[ null , {} ]}`, `{"application":[n]}`, `{"application":nul}`,
	`{"application":{"instance":[{},`, `{} x`, `{"a":1}`, `[]`, `null`, ``,
}

// checkAppsSameAsReference decodes data with DecodeApplicationsJSON and
// DecodeApplicationJSON and with the encoding/json decoders they replaced:
// both must fail, or give equal results.
func checkAppsSameAsReference(t *testing.T, data []byte) {
	t.Helper()
	got, err := DecodeApplicationsJSON(data)
	want, werr := referenceDecodeApplicationsJSON(data)
	compareDecoded(t, "DecodeApplicationsJSON", data, got, err, want, werr)
	gotApp, err := DecodeApplicationJSON(data)
	wantApp, werr := referenceDecodeApplicationJSON(data)
	compareDecoded(t, "DecodeApplicationJSON", data, gotApp, err, wantApp, werr)
}

func compareDecoded[T any](t *testing.T, fn string, data []byte, got T, err error, want T, werr error) {
	t.Helper()
	switch {
	case err != nil && !errors.Is(err, ErrMalformed):
		t.Fatalf("%s %q: error %v does not match ErrMalformed", fn, data, err)
	case errors.Is(err, ErrInvalidUTF8) && werr == nil:
		if !hasInvalidText(data) {
			t.Fatalf("%s %q: error %v, but the document holds no invalid text", fn, data, err)
		}
	case err != nil && werr == nil:
		t.Fatalf("%s %q: error %v, the reference decodes\n%s", fn, data, err, dumpValue(want))
	case err == nil && werr != nil:
		t.Fatalf("%s %q: decodes, the reference fails with %v\n%s", fn, data, werr, dumpValue(got))
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("%s %q: decoded differently\n got %s\nwant %s", fn, data, dumpValue(got), dumpValue(want))
	}
}

// dumpValue formats an Application or Applications with its instances.
func dumpValue(v any) string {
	var b strings.Builder
	dumpApp := func(a *Application) {
		if a == nil {
			b.WriteString("<nil app> ")
			return
		}
		b.WriteString("\n  app " + a.Name + ":")
		for _, in := range a.Instances {
			if in == nil {
				b.WriteString("\n    <nil>")
				continue
			}
			b.WriteString("\n    " + dumpInstance(in))
		}
	}
	switch v := v.(type) {
	case *Application:
		dumpApp(v)
	case *Applications:
		b.WriteString("delta=" + strconv.FormatInt(v.VersionsDelta, 10) + " hash=" + strconv.Quote(v.AppsHashcode) + " nil=" + strconv.FormatBool(v.Applications == nil))
		for _, a := range v.Applications {
			dumpApp(a)
		}
	}
	return b.String()
}

// appsTestdata are the registry documents in testdata.
var appsTestdata = []string{
	"golden/registry.json", "golden/delta.json", "golden/application.json", "golden/empty.json",
	"decode/old-apps-instance-array.json", "decode/old-apps-mixed.json",
	"decode/old-apps-single-application.json", "decode/old-apps-single-instance-v122.json",
	"decode/old-apps-single-instance.json",
}

func TestDecodeApplicationsJSONMatchesReference(t *testing.T) {
	for _, c := range appsReferenceCases {
		checkAppsSameAsReference(t, []byte(c))
	}
	for _, c := range referenceCases {
		checkAppsSameAsReference(t, []byte(c))
		checkAppsSameAsReference(t, []byte(`{"application":{"instance":[`+c+`,`+c+`]}}`))
	}
	for _, name := range appsTestdata {
		b := readTestdata(t, name)
		checkAppsSameAsReference(t, b)
		if testing.Short() {
			continue
		}
		// Every prefix of a real document, and the document with each
		// byte dropped.
		for i := range b {
			checkAppsSameAsReference(t, b[:i])
			checkAppsSameAsReference(t, append(b[:i:i], b[i+1:]...))
		}
	}
}

// TestDecodeApplicationsJSONBenchMatchesReference checks the benchmark
// documents.
func TestDecodeApplicationsJSONBenchMatchesReference(t *testing.T) {
	checkAppsSameAsReference(t, benchDelta())
	checkAppsSameAsReference(t, AppendApplicationsJSON(nil, benchRegistry(1000)))
	checkAppsSameAsReference(t, AppendApplicationJSON(nil, benchRegistry(40).Applications[1]))
}

func appsFuzzSeeds(f *testing.F) {
	addSeeds(f, ".json")
	for _, c := range appsReferenceCases {
		f.Add([]byte(c))
	}
	for _, c := range referenceCases {
		f.Add([]byte(`{"applications":{"application":{"instance":` + c + `}}}`))
	}
}

// FuzzDecodeApplicationsJSONDifferential: DecodeApplicationsJSON (and
// DecodeApplicationJSON on the same input) behave exactly as the
// encoding/json decoders they replaced: both fail, or both give the same
// result.
func FuzzDecodeApplicationsJSONDifferential(f *testing.F) {
	appsFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAppsSameAsReference(t, data)
	})
}

// FuzzDecodeApplicationJSONDifferential: as
// FuzzDecodeApplicationsJSONDifferential, seeded with application
// documents.
func FuzzDecodeApplicationJSONDifferential(f *testing.F) {
	appsFuzzSeeds(f)
	for _, c := range appsReferenceCases {
		f.Add([]byte(`{"application":{"instance":` + c + `}}`))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeApplicationJSON(data)
		want, werr := referenceDecodeApplicationJSON(data)
		compareDecoded(t, "DecodeApplicationJSON", data, got, err, want, werr)
	})
}
