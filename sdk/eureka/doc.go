// Package eureka holds Eureka's wire model (InstanceInfo, Application,
// Applications and their parts) and the JSON and XML codecs for it.
//
// It imports only the standard library and never imports server or client
// code, so the registry, the HTTP layer, replication, the Go client and
// plugins can all depend on it without import cycles.
//
// # Output exact, input lenient
//
// The encoders (AppendInstanceJSON, AppendApplicationsXML, ...) write exactly
// what the Java Eureka server writes (docs/protocol.md §3): field set and
// order, "@class" markers, ports as {"$":8080,"@enabled":"true"}, the
// coordinating flag and timestamps as JSON strings, lists always as arrays.
// Spring Cloud's client rejects unknown keys and fargo insists on string
// "@enabled", so nothing here is "close enough". Map keys are written in
// sorted order, so equal values always give equal bytes (responses are
// ETagged and cached by their bytes).
//
// The decoders (DecodeInstanceJSON, DecodeApplicationsXML, ...) accept the
// union of what real clients and older servers send (§3.5, §3.8, §3.9):
// numbers as strings and strings as numbers, booleans as strings, single
// objects where a list is expected, explicit nulls, unknown keys, either
// spelling of overriddenStatus, any or no "@class". Every decode error
// matches ErrMalformed with errors.Is. They never store text other than
// what was sent: a kept string that is not UTF-8 (invalid bytes, an
// unpaired surrogate escape) fails with ErrInvalidUTF8 instead of being
// turned into U+FFFD.
//
// # Immutability
//
// Once an *InstanceInfo is stored by the registry it is shared without
// locks by the response cache, listeners and readers, so it must never be
// modified in place: change a Clone and store that. The decoders always
// return fresh values (with non-nil metadata maps) that the caller owns
// until it stores them.
//
// # encoding/json and encoding/xml
//
// *InstanceInfo, *Application and *Applications implement json.Marshaler,
// json.Unmarshaler, xml.Marshaler and xml.Unmarshaler, so they can be
// embedded in other payloads (for example the instanceInfo of a replication
// batch item). They read and write the unwrapped object, never the
// {"instance":…} root wrapper.
package eureka
