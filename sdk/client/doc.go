// Package client is a Go client for the Eureka REST API, as served by
// eurekad, Netflix Eureka and Spring Cloud Netflix Eureka.
//
// It makes every call of the protocol (register, renew, cancel, status
// overrides, metadata, full and delta fetches, application, instance and
// VIP queries) with typed errors, JSON by default and XML on request, gzip,
// HTTP basic auth taken from the service URL, per-attempt timeouts, and
// fail-over across several servers. It is the transport under the agent
// (registration and heartbeats) and the discovery cache; most programs use
// those rather than this package directly.
//
// It imports only the standard library and sdk/eureka, never eurekad's
// server packages.
//
// # Use
//
//	c, err := client.New(client.Options{
//		ServiceURLs: []string{"http://user:secret@eureka-1:8761/eureka/", "http://eureka-2:8761/eureka/"},
//	})
//	if err != nil {
//		return err
//	}
//	in := &eureka.InstanceInfo{InstanceID: "10.0.0.5:orders:8080", App: "ORDERS", HostName: "10.0.0.5",
//		IPAddr: "10.0.0.5", Status: eureka.StatusUp, Port: eureka.Port{Number: 8080, Enabled: true},
//		VIPAddress: "orders", DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}}
//	if err := c.Register(ctx, in); err != nil {
//		return err
//	}
//	if err := c.Renew(ctx, "ORDERS", in.InstanceID, 0); errors.Is(err, client.ErrNotFound) {
//		err = c.Register(ctx, in) // the server forgot us: register again
//	}
//	apps, err := c.VIP(ctx, "orders")
//
// # Servers and fail-over
//
// Servers are tried in this order: those of Options.Zone in ZoneURLs, then
// the other zones' (by zone name), then ServiceURLs, without duplicates.
// A transport error, an attempt timeout or a 5xx answer moves on to the
// next server; a 4xx is the answer and is returned at once. As Eureka's
// Java client does, the client sticks to the last server that answered
// until it fails. When every server failed the error matches
// ErrUnavailable and wraps the last failure.
//
// # Errors
//
// Every non-success answer is an *Error carrying the status, the request
// and the body (and, for a 409, the server's copy of the instance). It
// matches ErrNotFound, ErrConflict, ErrBadRequest, ErrUnauthorized or
// ErrForbidden with errors.Is. A cancelled context ends the call at once
// with an error matching the context's error.
//
// # Long-polling
//
// Poll fetches apps/ or apps/delta conditionally (If-None-Match). Given a
// wait as well, eurekad holds the request until the payload changes, so
// changes reach the client within milliseconds instead of a poll
// interval. Servers that send no ETag (Java Eureka) do not long-poll;
// PollResult.ETag is then empty and the caller polls on a timer.
//
// # Concurrency
//
// A Client is safe for concurrent use. It starts no goroutines and needs
// no Close.
package client
