// Package pluginpb is the wire form of eurekad's plugin protocol: the
// .proto source, the code generated from it ("make proto", never edited by
// hand) and convert.go, which maps the contracts' sentinel errors to gRPC
// codes and back. It is internal to sdk/plugin so that generated types
// never become public API.
package pluginpb
