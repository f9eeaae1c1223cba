//go:build tools

// Package proto pins the code generators behind "make proto": buf compiles
// the .proto files itself (no protoc needed) and runs the two Go plugins.
// Versions live in this module's go.mod, so generation is reproducible.
package proto

import (
	_ "github.com/bufbuild/buf/cmd/buf"
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
