package rules

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// springInstance is a registration as Spring Cloud sends it from AWS: an
// id host:app:port, a VIP list, long health URLs and the EC2 metadata.
func springInstance() *eureka.InstanceInfo {
	host := "ip-10-0-12-34.eu-west-1.compute.internal"
	long := "https://" + host + ":8443/management/health/readiness?components=db,redis,kafka&" + strings.Repeat("x", 900)
	return &eureka.InstanceInfo{
		InstanceID:       host + ":orders-service:8080",
		HostName:         host,
		App:              "ORDERS-SERVICE",
		IPAddr:           "10.0.12.34",
		SID:              "na",
		Status:           eureka.StatusUp,
		OverriddenStatus: eureka.StatusUnknown,
		AppGroupName:     "COMMERCE",
		VIPAddress:       "orders-service,orders-service.eu-west-1,orders-v2," + strings.Repeat("orders-alias,", 40) + "orders",
		SecureVIPAddress: "orders-service",
		HomePageURL:      "http://" + host + ":8080/",
		StatusPageURL:    "http://" + host + ":8080/actuator/info",
		HealthCheckURL:   long,
		ASGName:          "orders-service-asg-v042",
		Metadata: map[string]string{
			"management.port":        "8081",
			"zone":                   "eu-west-1a",
			"git.commit":             strings.Repeat("0123456789abcdef", 2),
			"description":            "Orders\n\tmulti-line is fine in a value",
			"prometheus.scrape.path": "/actuator/prometheus",
			"jvm.args":               strings.Repeat("-XX:+UseG1GC ", 300),
			"nom":                    "commandes ✓ 注文",
		},
		DataCenterInfo: &eureka.DataCenterInfo{
			Name: eureka.DataCenterAmazon,
			Metadata: map[string]string{
				"instance-id":       "i-0123456789abcdef0",
				"ami-id":            "ami-0abcdef1234567890",
				"instance-type":     "m6i.xlarge",
				"local-ipv4":        "10.0.12.34",
				"local-hostname":    host,
				"availability-zone": "eu-west-1a",
				"public-hostname":   "ec2-54-0-0-1.eu-west-1.compute.amazonaws.com",
				"public-ipv4":       "54.0.0.1",
				"mac":               "0a:1b:2c:3d:4e:5f",
				"vpc-id":            "vpc-0123456789abcdef0",
				"accountId":         "123456789012",
			},
		},
	}
}

func TestDefaultsAcceptRealClients(t *testing.T) {
	l := DefaultLimits()
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := l.Instance(springInstance()); err != nil {
		t.Errorf("Spring Cloud on AWS: %v", err)
	}
	// Every register body the SDK's tests hold, from Java, Spring, fargo,
	// eureka-js-client and curl.
	dir := filepath.Join("..", "..", "sdk", "eureka", "testdata", "decode")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		name := f.Name()
		if !strings.Contains(name, "register") || strings.Contains(name, ".out.") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var in *eureka.InstanceInfo
		if strings.HasSuffix(name, ".xml") {
			in, err = eureka.DecodeInstanceXML(b)
		} else {
			in, err = eureka.DecodeInstanceJSON(b)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := l.Instance(in); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		n++
	}
	if n < 5 {
		t.Fatalf("only %d register bodies in %s", n, dir)
	}
}

// violationOf returns err as a *Violation, failing the test otherwise.
func violationOf(t *testing.T, err error) *Violation {
	t.Helper()
	var v *Violation
	if !errors.As(err, &v) {
		t.Fatalf("error %v (%T) is not a *Violation", err, err)
	}
	return v
}

func TestNames(t *testing.T) {
	l := DefaultLimits()
	cases := []struct {
		name     string
		value    string
		appOK    bool
		idOK     bool
		reason   string // for the app, when refused
		idReason string // for the id, when refused and different
	}{
		{"plain", "ORDERS", true, true, "", ""},
		{"spring id", "host.example.com:orders:8080", true, true, "", ""},
		{"unicode", "commandes-注文", true, true, "", ""},
		{"inner space", "MY APP", true, true, "", ""},
		{"percent", "A%2FB", true, true, "", ""},
		{"slash", "orders/v2", false, true, "contains '/'", ""},
		{"empty", "", false, false, "empty", ""},
		{"blank", " \u3000 ", false, false, "empty", ""},
		{"dot", ".", false, false, "is a dot segment", ""},
		{"dot dot", "..", false, false, "is a dot segment", ""},
		{"three dots", "...", true, true, "", ""},
		{"NUL", "a\x00b", false, false, "control character at byte 1", ""},
		{"newline", "a\nb", false, false, "control character at byte 1", ""},
		{"DEL", "a\x7f", false, false, "control character at byte 1", ""},
		{"invalid UTF-8", "bad-\xff\xfe", false, false, "not valid UTF-8 at byte 4", ""},
		{"lone surrogate (WTF-8)", "x\xed\xa0\x80", false, false, "not valid UTF-8 at byte 1", ""},
		{"replacement character is text", "bad-\uFFFD", true, true, "", ""},
		{"at the limit", strings.Repeat("a", 512), true, true, "", ""},
		{"over the limit", strings.Repeat("a", 513), false, false, "longer than 512 bytes", ""},
		{"over the limit with a slash", strings.Repeat("/", 513), false, false, "longer than 512 bytes", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := l.App(c.value)
			if (err == nil) != c.appOK {
				t.Errorf("App: %v, want ok=%v", err, c.appOK)
			}
			if err != nil {
				v := violationOf(t, err)
				if v.Field != "app" || !strings.HasPrefix(v.Reason, c.reason) {
					t.Errorf("App: %+v, want app: %s", v, c.reason)
				}
			}
			err = l.ID(c.value)
			if (err == nil) != c.idOK {
				t.Errorf("ID: %v, want ok=%v", err, c.idOK)
			}
			if err != nil {
				want := c.reason
				if c.idReason != "" {
					want = c.idReason
				}
				v := violationOf(t, err)
				if v.Field != "instanceId" || !strings.HasPrefix(v.Reason, want) {
					t.Errorf("ID: %+v, want instanceId: %s", v, want)
				}
			}
		})
	}
}

// TestInstanceFields refuses a bad value in each field in turn, naming
// that field.
func TestInstanceFields(t *testing.T) {
	l := DefaultLimits()
	long := strings.Repeat("x", 4097)
	longName := strings.Repeat("x", 513)
	cases := []struct {
		field  string
		set    func(in *eureka.InstanceInfo)
		reason string
	}{
		{"app", func(in *eureka.InstanceInfo) { in.App = "" }, "empty"},
		{"app", func(in *eureka.InstanceInfo) { in.App = "A/B" }, "contains '/'"},
		{"instanceId", func(in *eureka.InstanceInfo) { in.InstanceID = "bad-\xff\xfe" }, "not valid UTF-8"},
		{"instanceId", func(in *eureka.InstanceInfo) { in.InstanceID = longName }, "longer than 512 bytes"},
		{"dataCenterInfo.metadata.instance-id", func(in *eureka.InstanceInfo) {
			in.InstanceID = ""
			in.DataCenterInfo.Metadata["instance-id"] = "i-\x00"
		}, "control character"},
		{"hostName", func(in *eureka.InstanceInfo) {
			in.InstanceID = ""
			in.DataCenterInfo = nil
			in.HostName = "h\x01"
		}, "control character"},
		{"hostName", func(in *eureka.InstanceInfo) { in.HostName = long }, "longer than 4096 bytes"},
		{"ipAddr", func(in *eureka.InstanceInfo) { in.IPAddr = "10.0.0.1\n" }, "control character at byte 8"},
		{"sid", func(in *eureka.InstanceInfo) { in.SID = "\xc3" }, "not valid UTF-8"},
		{"appGroupName", func(in *eureka.InstanceInfo) { in.AppGroupName = longName }, "longer than 512 bytes"},
		{"vipAddress", func(in *eureka.InstanceInfo) { in.VIPAddress = long }, "longer than 4096 bytes"},
		{"secureVipAddress", func(in *eureka.InstanceInfo) { in.SecureVIPAddress = "a\tb" }, "control character"},
		{"homePageUrl", func(in *eureka.InstanceInfo) { in.HomePageURL = long }, "longer than"},
		{"statusPageUrl", func(in *eureka.InstanceInfo) { in.StatusPageURL = "\xff" }, "not valid UTF-8"},
		{"healthCheckUrl", func(in *eureka.InstanceInfo) { in.HealthCheckURL = long }, "longer than"},
		{"secureHealthCheckUrl", func(in *eureka.InstanceInfo) { in.SecureHealthCheckURL = "\r" }, "control character"},
		{"asgName", func(in *eureka.InstanceInfo) { in.ASGName = longName }, "longer than 512 bytes"},
		{"status", func(in *eureka.InstanceInfo) { in.Status = "BOGUS" }, "not one of"},
		{"overriddenstatus", func(in *eureka.InstanceInfo) { in.OverriddenStatus = "up" }, "not one of"},
		{"metadata", func(in *eureka.InstanceInfo) { in.Metadata[""] = "x" }, "empty key"},
		{"metadata key", func(in *eureka.InstanceInfo) { in.Metadata["a\x00"] = "x" }, "control character"},
		{"metadata key", func(in *eureka.InstanceInfo) { in.Metadata[strings.Repeat("k", 257)] = "x" }, "longer than 256 bytes"},
		{"metadata.zone", func(in *eureka.InstanceInfo) { in.Metadata["zone"] = "a\x00" }, "value is not valid UTF-8 text"},
		{"metadata.zone", func(in *eureka.InstanceInfo) { in.Metadata["zone"] = "\xff" }, "value is not valid UTF-8 text"},
		{"metadata.zone", func(in *eureka.InstanceInfo) { in.Metadata["zone"] = strings.Repeat("v", 8193) }, "value longer than 8192 bytes"},
		{"dataCenterInfo.name", func(in *eureka.InstanceInfo) { in.DataCenterInfo.Name = "My\x00wn" }, "control character"},
		{"dataCenterInfo.metadata.ami-id", func(in *eureka.InstanceInfo) { in.DataCenterInfo.Metadata["ami-id"] = "\xfe" }, "value is not valid UTF-8 text"},
		{"dataCenterInfo.metadata key", func(in *eureka.InstanceInfo) { in.DataCenterInfo.Metadata["\xff"] = "" }, "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.field+" "+c.reason, func(t *testing.T) {
			in := springInstance()
			c.set(in)
			v := violationOf(t, l.Instance(in))
			if v.Field != c.field || !strings.HasPrefix(v.Reason, c.reason) {
				t.Errorf("got %q, want %s: %s…", v, c.field, c.reason)
			}
		})
	}
	t.Run("statuses and empty optional fields are fine", func(t *testing.T) {
		for _, st := range []eureka.Status{"", eureka.StatusUp, eureka.StatusDown, eureka.StatusStarting, eureka.StatusOutOfService, eureka.StatusUnknown} {
			in := springInstance()
			in.Status, in.OverriddenStatus = st, st
			in.SID, in.ASGName, in.AppGroupName, in.HealthCheckURL, in.DataCenterInfo = "", "", "", "", nil
			if err := l.Instance(in); err != nil {
				t.Errorf("%q: %v", st, err)
			}
		}
	})
}

func TestMetadataLimits(t *testing.T) {
	l := DefaultLimits()
	l.MaxMetadataKeys = 3
	l.MaxMetadataKeyBytes = 8
	l.MaxMetadataValueBytes = 16
	l.MaxMetadataBytes = 40
	ok := map[string]string{"a": strings.Repeat("v", 16), "b": "x\ty\nz", "12345678": ""}
	if err := l.Metadata(ok); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	cases := []struct {
		m          map[string]string
		field, why string
	}{
		{map[string]string{"a": "", "b": "", "c": "", "d": ""}, "metadata", "more than 3 entries"},
		{map[string]string{"123456789": ""}, "metadata key", "longer than 8 bytes"},
		{map[string]string{"a": strings.Repeat("v", 17)}, "metadata.a", "value longer than 16 bytes"},
		{map[string]string{"a": strings.Repeat("v", 16), "b": strings.Repeat("v", 16), "c": strings.Repeat("v", 6)}, "metadata", "more than 40 bytes in all"},
	}
	for _, c := range cases {
		v := violationOf(t, l.Metadata(c.m))
		if v.Field != c.field || v.Reason != c.why {
			t.Errorf("%v: got %q, want %s: %s", c.m, v, c.field, c.why)
		}
	}

	t.Run("update", func(t *testing.T) {
		cur := map[string]string{"a": "1", "b": "2"}
		if err := l.MetadataUpdate(cur, map[string]string{"b": "3", "c": "4"}); err != nil {
			t.Errorf("merged to 3 entries: %v", err)
		}
		v := violationOf(t, l.MetadataUpdate(cur, map[string]string{"c": "3", "d": "4"}))
		if v.Reason != "more than 3 entries" {
			t.Errorf("merged to 4 entries: %v", v)
		}
		v = violationOf(t, l.MetadataUpdate(nil, map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}))
		if v.Reason != "more than 3 entries" {
			t.Errorf("4 entries in the update: %v", v)
		}
		if err := l.MetadataUpdate(cur, map[string]string{"a": "\xff"}); err == nil {
			t.Error("an invalid value in the update was accepted")
		}
		if len(cur) != 2 || cur["b"] != "2" {
			t.Errorf("MetadataUpdate changed the current map: %v", cur)
		}
	})

	t.Run("a long key is cut on a rune boundary in the message", func(t *testing.T) {
		l := DefaultLimits()
		key := "a" + strings.Repeat("é", 100)
		v := violationOf(t, l.Metadata(map[string]string{key: "\xff"}))
		if !utf8.ValidString(v.Error()) || !strings.HasSuffix(v.Field, "…") || len(v.Field) > len("metadata.")+64+len("…") {
			t.Errorf("field %q", v.Field)
		}
	})
}

func TestOverrideStatus(t *testing.T) {
	for _, s := range []eureka.Status{eureka.StatusUp, eureka.StatusDown, eureka.StatusStarting, eureka.StatusOutOfService} {
		if got, err := OverrideStatus(string(s)); err != nil || got != s {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	for _, s := range []string{"", "UNKNOWN", "BOGUS", "up", " UP", "UP\x00"} {
		_, err := OverrideStatus(s)
		if v := violationOf(t, err); v.Field != "value" {
			t.Errorf("%q: %v", s, v)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []func(*Limits){
		func(l *Limits) { l.MaxNameBytes = 63 },
		func(l *Limits) { l.MaxNameBytes = MaxNameBytesCap + 1 },
		func(l *Limits) { l.MaxFieldBytes = 255 },
		func(l *Limits) { l.MaxMetadataKeys = 0 },
		func(l *Limits) { l.MaxMetadataKeyBytes = 0 },
		func(l *Limits) { l.MaxMetadataValueBytes = -1 },
		func(l *Limits) { l.MaxMetadataBytes = l.MaxMetadataKeyBytes + l.MaxMetadataValueBytes - 1 },
		func(l *Limits) { *l = Limits{} },
	}
	for i, f := range bad {
		l := DefaultLimits()
		f(&l)
		if err := l.Validate(); err == nil || !strings.HasPrefix(err.Error(), "limits: ") {
			t.Errorf("case %d: %+v: %v", i, l, err)
		}
	}
	l := DefaultLimits()
	l.MaxNameBytes, l.MaxFieldBytes = 64, 256
	l.MaxMetadataKeys, l.MaxMetadataKeyBytes, l.MaxMetadataValueBytes, l.MaxMetadataBytes = 1, 1, 1, 2
	if err := l.Validate(); err != nil {
		t.Errorf("the smallest limits: %v", err)
	}
}

func TestOrDefault(t *testing.T) {
	if got := (Limits{}).OrDefault(); got != DefaultLimits() {
		t.Errorf("zero: %+v", got)
	}
	l := DefaultLimits()
	l.MaxMetadataKeys = 7
	if got := l.OrDefault(); got != l {
		t.Errorf("set: %+v", got)
	}
}

func TestExcerpt(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ORDERS", `"ORDERS"`},
		{"bad-\xff\xfe", `"bad-\xff\xfe"`},
		{"a\x00", `"a\x00"`},
		{strings.Repeat("k", 40000), `"` + strings.Repeat("k", 64) + `"… (40000 bytes)`},
	} {
		if got := Excerpt(c.in); got != c.want {
			t.Errorf("Excerpt(%.80q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// reasonRE matches every Reason the rules write: fixed words and numbers,
// never a value.
var reasonRE = regexp.MustCompile(`^(empty|empty key|contains '/'|is a dot segment, which a URL path cannot address|` +
	`longer than \d+ bytes|control character at byte \d+|not valid UTF-8 at byte \d+|` +
	`value longer than \d+ bytes|value is not valid UTF-8 text|more than \d+ entries|more than \d+ bytes in all|` +
	`not one of UP, DOWN, STARTING, OUT_OF_SERVICE, UNKNOWN|status override must be UP, DOWN, STARTING or OUT_OF_SERVICE)$`)

// checkViolation checks that err is nil or a *Violation naming a field and
// giving one of the fixed reasons, so that nothing of the value can be in
// it. A metadata field may carry the key, which the rules accepted as
// text first.
func checkViolation(t *testing.T, err error, fields ...string) {
	t.Helper()
	if err == nil {
		return
	}
	v := violationOf(t, err)
	if !reasonRE.MatchString(v.Reason) {
		t.Fatalf("reason %q is not one of the fixed reasons", v.Reason)
	}
	for _, f := range fields {
		if v.Field == f {
			return
		}
		if key, ok := strings.CutPrefix(v.Field, f+"."); ok && strings.HasSuffix(f, "metadata") {
			if text("", strings.TrimSuffix(key, "…"), 64) != nil {
				t.Fatalf("field %q carries a key that is not text", v.Field)
			}
			return
		}
	}
	t.Fatalf("field %q is not one of %q", v.Field, fields)
}

// acceptedText checks what a rule accepted: valid UTF-8 without NUL.
func acceptedText(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		t.Fatalf("%s %q accepted", what, s)
	}
}

// FuzzRules: no rule panics on any input, a refusal is a Violation with a
// field name and a fixed reason (the value is never echoed), and anything
// accepted is valid UTF-8 without NUL.
func FuzzRules(f *testing.F) {
	for _, s := range []string{"", "ORDERS", "a/b", "..", "bad-\xff\xfe", "x\xed\xa0\x80", "a\x00b", " ", "ǅ", strings.Repeat("a", 600)} {
		f.Add(s, s)
	}
	f.Add("host:app:8080", "v\tw\nx")
	f.Add("not one of UP, DOWN", "longer than 512 bytes\x00")
	l := DefaultLimits()
	// Small limits, so that the fuzzer reaches them.
	small := Limits{MaxNameBytes: 64, MaxFieldBytes: 256, MaxMetadataKeys: 2, MaxMetadataKeyBytes: 8, MaxMetadataValueBytes: 16, MaxMetadataBytes: 30}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, l := range []Limits{l, small} {
			err := l.App(a)
			checkViolation(t, err, "app")
			if err == nil {
				acceptedText(t, "app", a)
			}
			err = l.ID(a)
			checkViolation(t, err, "instanceId")
			if err == nil {
				acceptedText(t, "id", a)
			}
			m := map[string]string{a: b, b: a}
			err = l.Metadata(m)
			checkViolation(t, err, "metadata", "metadata key")
			if err == nil {
				for k, v := range m {
					acceptedText(t, "metadata key", k)
					acceptedText(t, "metadata value", v)
				}
			}
			checkViolation(t, l.MetadataUpdate(map[string]string{"k": b}, map[string]string{a: a}), "metadata", "metadata key")
			_, err = OverrideStatus(a)
			checkViolation(t, err, "value")

			in := springInstance()
			in.InstanceID, in.HostName, in.VIPAddress, in.Status = a, b, b, eureka.Status(a)
			in.DataCenterInfo.Metadata[a] = b
			err = l.Instance(in)
			checkViolation(t, err, "app", "instanceId", "hostName", "ipAddr", "sid", "appGroupName", "vipAddress",
				"secureVipAddress", "homePageUrl", "statusPageUrl", "healthCheckUrl", "secureHealthCheckUrl", "asgName",
				"status", "overriddenstatus", "metadata", "metadata key", "dataCenterInfo.name",
				"dataCenterInfo.metadata", "dataCenterInfo.metadata key")
			if err == nil {
				for _, s := range []string{in.InstanceID, in.HostName, in.VIPAddress, string(in.Status)} {
					acceptedText(t, "field", s)
				}
				for k, v := range in.DataCenterInfo.Metadata {
					acceptedText(t, "data centre key", k)
					acceptedText(t, "data centre value", v)
				}
			}
		}
	})
}

// Checking a valid registration allocates nothing: it runs on every
// registration and every metadata update.
func TestValidInstanceCheckAllocatesNothing(t *testing.T) {
	l, in := DefaultLimits(), springInstance()
	if a := testing.AllocsPerRun(100, func() {
		if err := l.Instance(in); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Instance allocates %v times", a)
	}
	if v := l.Metadata(map[string]string{"a\x00": "b"}); v == nil || !strings.Contains(v.Error(), "metadata key") {
		t.Fatalf("a bad key: %v", v)
	}
}

// TestTextWordAtATime: the check of eight bytes at a time agrees with a
// byte-by-byte one for every byte at every place of a word, for pairs of
// bytes that borrow and carry into each other, and for text of every
// length with the offending byte anywhere (a multi-byte rune straddling
// two words included).
func TestTextWordAtATime(t *testing.T) {
	printable := func(b byte) bool { return b >= 0x20 && b < 0x7f }
	word := func(set map[int]byte) string {
		w := []byte("abcdefgh")
		for i, b := range set {
			w[i] = b
		}
		return string(w)
	}
	for i := range 8 {
		for b := range 256 {
			if got, want := printable8(word(map[int]byte{i: byte(b)})), printable(byte(b)); got != want {
				t.Fatalf("byte %#x at %d: printable8 %v", b, i, got)
			}
		}
	}
	edges := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xc3, 0xfe, 0xff}
	for i := range 8 {
		for j := i + 1; j < 8; j++ {
			for _, a := range edges {
				for _, b := range edges {
					if got, want := printable8(word(map[int]byte{i: a, j: b})), printable(a) && printable(b); got != want {
						t.Fatalf("%#x at %d, %#x at %d: printable8 %v", a, i, b, j, got)
					}
				}
			}
		}
	}
	// text against the plain rule: a control character, DEL, invalid
	// UTF-8 or a valid rune at every place of text of every length.
	bad := func(s string) bool {
		if !utf8.ValidString(s) {
			return true
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				return true
			}
		}
		return false
	}
	for n := range 26 {
		for at := range n {
			for _, ins := range []string{"\x00", "\t", "\x7f", "\xff", "\xc3", "é", "€", "😀"} {
				s := strings.Repeat("x", at) + ins + strings.Repeat("y", n-at)
				if got := text("f", s, 1<<10) != nil; got != bad(s) {
					t.Fatalf("text(%q) refused: %v, want %v", s, got, bad(s))
				}
			}
		}
	}
}

// BenchmarkInstance measures the check every registration passes.
func BenchmarkInstance(b *testing.B) {
	l, in := DefaultLimits(), springInstance()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Instance(in); err != nil {
			b.Fatal(err)
		}
	}
}
