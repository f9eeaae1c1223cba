package eureka

import (
	"fmt"
	"testing"
)

// benchRegistry is a registry of n Spring-style instances spread over
// n/20 applications.
func benchRegistry(n int) *Applications {
	apps := &Applications{VersionsDelta: 1}
	var app *Application
	for i := range n {
		if i%20 == 0 {
			app = &Application{Name: fmt.Sprintf("SERVICE-%03d", i/20)}
			apps.Applications = append(apps.Applications, app)
		}
		in := ordersInstance1()
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&0xFF, i>>8&0xFF, i&0xFF)
		in.InstanceID = ip + ":" + app.Name + ":8080"
		in.HostName = ip
		in.IPAddr = ip
		in.App = app.Name
		in.Metadata = map[string]string{
			"management.port": "8080",
			"zone":            "zone-a",
			"version":         "1.2.3",
			"git.commit":      "0a1b2c3d",
		}
		app.Instances = append(app.Instances, in)
	}
	apps.AppsHashcode = apps.HashCode()
	return apps
}

func BenchmarkAppendApplicationsJSON(b *testing.B) {
	apps := benchRegistry(1000)
	buf := AppendApplicationsJSON(nil, apps)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendApplicationsJSON(buf[:0], apps)
	}
}

func BenchmarkAppendApplicationsXML(b *testing.B) {
	apps := benchRegistry(1000)
	buf := AppendApplicationsXML(nil, apps)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendApplicationsXML(buf[:0], apps)
	}
}

func BenchmarkDecodeInstanceJSON(b *testing.B) {
	body := readFixture(b, "spring-register.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInstanceJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeInstanceXML(b *testing.B) {
	in, err := DecodeInstanceJSON(readFixture(b, "spring-register.json"))
	if err != nil {
		b.Fatal(err)
	}
	body := AppendInstanceXML(nil, in)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInstanceXML(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeApplicationsJSON(b *testing.B) {
	body := AppendApplicationsJSON(nil, benchRegistry(1000))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeApplicationsJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDelta is a delta of 10 instances, as a client fetches on every
// change: benchRegistry(10) with the instances marked modified.
func benchDelta() []byte {
	apps := benchRegistry(10)
	for _, app := range apps.Applications {
		for _, in := range app.Instances {
			in.ActionType = ActionModified
		}
	}
	return AppendApplicationsJSON(nil, apps)
}

func BenchmarkDecodeApplicationsJSONDelta(b *testing.B) {
	body := benchDelta()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeApplicationsJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeApplicationsJSONReference and
// BenchmarkDecodeApplicationsJSONDeltaReference are the two benchmarks
// above for the encoding/json decoder, to compare the two in one run.
func BenchmarkDecodeApplicationsJSONReference(b *testing.B) {
	body := AppendApplicationsJSON(nil, benchRegistry(1000))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := referenceDecodeApplicationsJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeApplicationsJSONDeltaReference(b *testing.B) {
	body := benchDelta()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := referenceDecodeApplicationsJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeApplicationJSON(b *testing.B) {
	body := AppendApplicationJSON(nil, benchRegistry(20).Applications[0])
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeApplicationJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeApplicationJSONReference(b *testing.B) {
	body := AppendApplicationJSON(nil, benchRegistry(20).Applications[0])
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := referenceDecodeApplicationJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}
