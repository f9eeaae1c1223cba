// eurekabench is a tool, not part of the product: its own module keeps its
// code out of the product's go build/vet/test ./... and its dependencies out
// of the product's go.mod. It imports no eurekad package: it measures
// eurekad from outside, over HTTP and through the process it starts, as any
// client would. If it ever needs the SDK, require github.com/eurekad/eurekad
// with "replace github.com/eurekad/eurekad => ../.." so that it measures the
// working tree's code, not a published version.
module github.com/eurekad/eurekad/tools/eurekabench

go 1.26.0

// The baseline's router is httpd's (same version as the product's go.mod),
// so the comparison measures eurekad's work, not a router difference.
require github.com/gorilla/mux v1.8.1
