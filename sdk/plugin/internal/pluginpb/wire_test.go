package pluginpb

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// wire.json, the protocol make proto recorded after its breaking-change
// check, describes exactly the files compiled into this package. make
// proto-check compares the generated code with what the .proto gives
// (without buf); this test closes the loop from the generated code to
// wire.json, so a .proto changed without make proto fails one or the other.
func TestWireJSONIsTheGeneratedProtocol(t *testing.T) {
	raw, err := os.ReadFile("wire.json")
	if err != nil {
		t.Fatal(err)
	}
	// A buf image is a FileDescriptorSet whose files carry one more field,
	// buf's own bookkeeping (bufExtension), which is not protocol.
	var recorded descriptorpb.FileDescriptorSet
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &recorded); err != nil {
		t.Fatalf("wire.json: %v", err)
	}
	var want, got []string
	packages := map[protoreflect.FullName]bool{}
	for _, rec := range recorded.File {
		want = append(want, rec.GetName())
		packages[protoreflect.FullName(rec.GetPackage())] = true
		fd, err := protoregistry.GlobalFiles.FindFileByPath(rec.GetName())
		if err != nil {
			t.Errorf("wire.json has %s, which no generated code registers: run make proto", rec.GetName())
			continue
		}
		if compiled := protodesc.ToFileDescriptorProto(fd); !proto.Equal(compiled, rec) {
			t.Errorf("wire.json's %s is not the generated code's: run make proto\n%s", rec.GetName(), firstDifference(rec, compiled))
		}
	}
	// Files generated into this package's protocol packages must be in
	// wire.json too, or make proto's breaking check would not see them.
	for pkg := range packages {
		protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
			got = append(got, fd.Path())
			return true
		})
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("generated files %q, wire.json has %q: run make proto", got, want)
	}
}

// firstDifference shows the first line where the two descriptors' text
// forms differ, a field rather than two pages of descriptor.
func firstDifference(recorded, generated proto.Message) string {
	opts := prototext.MarshalOptions{Multiline: true}
	a := strings.Split(opts.Format(recorded), "\n")
	b := strings.Split(opts.Format(generated), "\n")
	for i := range max(len(a), len(b)) {
		var la, lb string
		if i < len(a) {
			la = a[i]
		}
		if i < len(b) {
			lb = b[i]
		}
		if la != lb {
			return fmt.Sprintf("line %d:\n  wire.json: %s\n  generated: %s", i+1, strings.TrimSpace(la), strings.TrimSpace(lb))
		}
	}
	return "(the same text)"
}
