// Package plugin runs eurekad plugins: the storage, auth, admission,
// listener and checker hooks a third party builds as a separate program.
//
// A plugin author writes a main that calls Serve with what the plugin
// provides and never sees go-plugin, gRPC, protobuf or hclog:
//
//	func main() {
//		plugin.Serve(plugin.ServeOptions{
//			Name:          "team-auth",
//			Version:       "1.0.0",
//			Authenticator: myAuth{},
//		})
//	}
//
// eurekad starts the program (eurekad --auth-plugin ./bin/team-auth),
// checks the handshake, asks Info what it serves, hands it its
// configuration (Configure) and calls it over gRPC. Errors keep their
// identity across the boundary: a hook's hook.ErrForbidden and a store's
// storage.ErrNotFound are still those errors on eurekad's side.
//
// The host half (Client, VersionedPlugins) is used by eurekad's plugins
// package; package plugintest runs a plugin's values over an in-memory gRPC
// connection for the author's tests.
//
// This package imports sdk/eureka, sdk/storage, sdk/hook, go-plugin, gRPC
// and hclog; never eurekad's server packages.
package plugin

import (
	"errors"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/eurekad/eurekad/sdk/hook"
)

// ProtocolVersion is the plugin protocol this SDK speaks. It changes only
// with a breaking change of the wire contract; eurekad then serves both
// versions for a while (VersionedPlugins).
const ProtocolVersion = 1

// Handshake is what host and plugin check before talking: the magic cookie
// keeps a plugin binary from being run by hand by mistake, and the protocol
// version is negotiated from VersionedPlugins.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "EUREKAD_PLUGIN",
	MagicCookieValue: "5b0e3c3e-eurekad-plugin",
}

// Kind is what a plugin provides.
type Kind string

// The plugin kinds.
const (
	KindStorage  Kind = "storage"
	KindAuth     Kind = "auth"
	KindListener Kind = "listener"
	// KindAdmission is a hook.Admitter; an older plugin never reports it.
	KindAdmission Kind = "admission"
	// KindChecker is a hook.Checker; an older plugin never reports it.
	KindChecker Kind = "checker"
)

// Info describes a plugin, as it reports itself at load.
type Info struct {
	Name, Version string
	// Kinds is what the plugin serves.
	Kinds []Kind
	// Batcher and Snapshotter are the optional abilities of its store
	// (storage.Batcher, storage.Snapshotter); known once it is configured.
	Batcher, Snapshotter bool
	// BatchPipe says the plugin takes its store's batches on the batch
	// pipe it was started with (see NewBatchPipe).
	BatchPipe bool
	// EventTypes is a listener's subscription once it is configured (what
	// its Types method returns); nil for the default.
	EventTypes []hook.EventType
}

// Has reports whether the plugin serves kind k.
func (i Info) Has(k Kind) bool {
	for _, x := range i.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Errors of the host side.
var (
	// ErrPluginExited is returned by calls to a plugin whose process has
	// exited or whose connection broke.
	ErrPluginExited = errors.New("plugin: plugin exited")
)

// pluginName is the single entry of the plugin set: one dispense gives the
// host every service of the plugin.
const pluginName = "eurekad"

// VersionedPlugins is the host's plugin set per protocol version, for
// go-plugin's ClientConfig.VersionedPlugins. Dispense "eurekad" to get a
// *Client.
func VersionedPlugins() map[int]goplugin.PluginSet {
	return map[int]goplugin.PluginSet{
		1: {pluginName: &grpcPlugin{}},
	}
}

// DispenseName is the name to pass to go-plugin's ClientProtocol.Dispense.
const DispenseName = pluginName
