package eureka

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// addSeeds adds every testdata file with one of the extensions as a seed.
func addSeeds(f *testing.F, exts ...string) {
	for _, dir := range []string{"golden", "decode"} {
		files, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range files {
			for _, ext := range exts {
				if strings.HasSuffix(e.Name(), ext) {
					b, err := os.ReadFile(filepath.Join("testdata", dir, e.Name()))
					if err != nil {
						f.Fatal(err)
					}
					f.Add(b)
				}
			}
		}
	}
}

// FuzzDecodeInstanceJSON: decoding never panics, failures match
// ErrMalformed, and a decoded instance survives encode → decode unchanged
// (after normalisation) in JSON. The XML encoding of the same instance
// must always parse and keep every metadata key.
func FuzzDecodeInstanceJSON(f *testing.F) {
	addSeeds(f, ".json")
	f.Add([]byte(`{"instance":{"metadata":{"a b":"\u0000","":"x","_x0020_":"1"},"port":"1e3","app":"ǅ"}}`))
	for _, bad := range badTexts {
		f.Add([]byte(`{"instance":{"instanceId":"` + bad + `","metadata":{"k":"` + bad + `"}}}`))
	}
	f.Add([]byte(`{"instanceId":"\ud83d\ude00\ufffd","metadata":{"o":{"a":"\ud800"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := DecodeInstanceJSON(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		checkKeptText(t, data, in)
		want := normalize(in.Clone())
		enc := AppendInstanceJSONWrapped(nil, in)
		got, err := DecodeInstanceJSON(enc)
		if err != nil {
			t.Fatalf("re-decoding our own output: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("JSON round trip changed the instance:\n got %+v\nwant %+v\n%s", got, want, enc)
		}
		checkXMLCarries(t, want)
	})
}

// checkXMLCarries encodes in as XML, which must parse, and checks that
// every metadata key except "" comes back, with its value when the value
// is representable in XML.
func checkXMLCarries(t *testing.T, in *InstanceInfo) {
	t.Helper()
	enc := AppendInstanceXML(nil, in)
	got, err := DecodeInstanceXML(enc)
	if err != nil {
		t.Fatalf("our XML does not parse: %v\n%s", err, enc)
	}
	n := 0
	for k, v := range in.Metadata {
		if k == "" {
			continue
		}
		n++
		gv, ok := got.Metadata[k]
		if !ok {
			t.Fatalf("metadata key %q lost in XML:\n%s", k, enc)
		}
		if xmlSafe(v) && gv != v {
			t.Fatalf("metadata %q = %q after XML, want %q", k, gv, v)
		}
	}
	if len(got.Metadata) != n {
		t.Fatalf("XML metadata has %d keys, want %d:\n%s", len(got.Metadata), n, enc)
	}
}

// xmlSafe reports whether XML 1.0 can carry s unchanged.
func xmlSafe(s string) bool {
	for _, r := range s {
		switch {
		case r == '\t', r == '\n', r == '\r':
		case r < 0x20, r == 0xFFFE, r == 0xFFFF:
			return false
		}
	}
	return utf8.ValidString(s)
}

// FuzzDecodeInstanceXML: as FuzzDecodeInstanceJSON, for XML.
func FuzzDecodeInstanceXML(f *testing.F) {
	addSeeds(f, ".xml")
	f.Add([]byte(`<instance><metadata><a_x0020_b>1</a_x0020_b><_x_>2</_x_><p:q>3</p:q></metadata><port enabled="x">1.5e2</port></instance>`))
	f.Add([]byte(`<i xmlns="urn:x"><hostName><![CDATA[<h>&]]>&#xD;&#x1F600;</hostName><status>up<b/></status><overriddenStatus>x</overriddenStatus><dataCenterInfo><name> amazon </name><metadata><é>1</é></metadata></dataCenterInfo></i>`))
	f.Add([]byte("<instance><app>\u01c5\u0345</app><leaseInfo><durationInSecs>99999999999</durationInSecs><renewalTimestamp>-1</renewalTimestamp></leaseInfo><countryId>0</countryId><sid>na</sid><metadata><instanceId>x</instanceId></metadata></instance>"))
	f.Add([]byte("<instance><instanceId>bad-\xff\xfe</instanceId></instance>"))
	f.Add([]byte("<!--&#xD800;--><instance><instanceId><![CDATA[&#xD800;]]>&#xD800;</instanceId><metadata><k>&#55296;</k></metadata></instance>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := DecodeInstanceXML(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		checkKeptText(t, data, in)
		want := normalizeXML(in.Clone())
		enc := AppendInstanceXML(nil, in)
		got, err := DecodeInstanceXML(enc)
		if err != nil {
			t.Fatalf("re-decoding our own output: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("XML round trip changed the instance:\n got %+v\nwant %+v\n%s", got, want, enc)
		}
		// The JSON form carries everything the XML one did.
		gotJ, err := DecodeInstanceJSON(AppendInstanceJSON(nil, in))
		if err != nil {
			t.Fatal(err)
		}
		if want := normalize(in.Clone()); !reflect.DeepEqual(gotJ, want) {
			t.Fatalf("XML → JSON changed the instance:\n got %+v\nwant %+v", gotJ, want)
		}
	})
}

// FuzzDecodeApplicationsJSON: the registry decoder never panics, and what
// it decodes re-encodes to a fixed point.
func FuzzDecodeApplicationsJSON(f *testing.F) {
	addSeeds(f, ".json")
	f.Fuzz(func(t *testing.T, data []byte) {
		apps, err := DecodeApplicationsJSON(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		enc := AppendApplicationsJSON(nil, apps)
		again, err := DecodeApplicationsJSON(enc)
		if err != nil {
			t.Fatalf("re-decoding our own output: %v\n%s", err, enc)
		}
		if enc2 := AppendApplicationsJSON(nil, again); string(enc2) != string(enc) {
			t.Fatalf("not a fixed point:\n%s\n%s", enc, enc2)
		}
		if _, err := DecodeApplicationsXML(AppendApplicationsXML(nil, apps)); err != nil {
			t.Fatalf("our XML does not parse: %v", err)
		}
	})
}

// FuzzDecodeApplicationsXML: as FuzzDecodeApplicationsJSON, for XML.
func FuzzDecodeApplicationsXML(f *testing.F) {
	addSeeds(f, ".xml")
	f.Fuzz(func(t *testing.T, data []byte) {
		apps, err := DecodeApplicationsXML(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		enc := AppendApplicationsXML(nil, apps)
		again, err := DecodeApplicationsXML(enc)
		if err != nil {
			t.Fatalf("re-decoding our own output: %v\n%s", err, enc)
		}
		if enc2 := AppendApplicationsXML(nil, again); string(enc2) != string(enc) {
			t.Fatalf("not a fixed point:\n%s\n%s", enc, enc2)
		}
	})
}
