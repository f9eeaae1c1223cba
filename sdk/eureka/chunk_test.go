package eureka

import (
	"bytes"
	"errors"
	"testing"
)

// The streaming encoders write exactly the bytes of the Append encoders,
// across chunk boundaries, for small and large registries.
func TestWriteApplicationsMatchesAppend(t *testing.T) {
	one := &Applications{Applications: []*Application{{Name: "ONE", Instances: []*InstanceInfo{trickyInstance()}}}}
	for _, tc := range []struct {
		name string
		apps *Applications
	}{
		{"nil", nil},
		{"empty", &Applications{}},
		{"one", one},
		{"2000", benchRegistry(2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var jb, xb bytes.Buffer
			if err := WriteApplicationsJSON(&jb, tc.apps); err != nil {
				t.Fatal(err)
			}
			if want := AppendApplicationsJSON(nil, tc.apps); !bytes.Equal(jb.Bytes(), want) {
				t.Errorf("JSON differs: %d bytes streamed, %d appended", jb.Len(), len(want))
			}
			if err := WriteApplicationsXML(&xb, tc.apps); err != nil {
				t.Fatal(err)
			}
			if want := AppendApplicationsXML(nil, tc.apps); !bytes.Equal(xb.Bytes(), want) {
				t.Errorf("XML differs: %d bytes streamed, %d appended", xb.Len(), len(want))
			}
		})
	}
}

type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	f.n--
	return len(p), nil
}

// A writer's error ends the encoding and is returned.
func TestWriteApplicationsError(t *testing.T) {
	boom := errors.New("boom")
	apps := benchRegistry(2000)
	if err := WriteApplicationsJSON(&failAfter{n: 1, err: boom}, apps); !errors.Is(err, boom) {
		t.Errorf("JSON: %v, want boom", err)
	}
	if err := WriteApplicationsXML(&failAfter{n: 1, err: boom}, apps); !errors.Is(err, boom) {
		t.Errorf("XML: %v, want boom", err)
	}
}
