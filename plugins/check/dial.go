package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/eurekad/eurekad/sdk/hook"
)

// errNotInstance is a dial refused because the target resolved to an
// address no instance has (hook.NotAnInstanceAddress): core/health refuses
// such literal targets, and a host name the registrant chose could lead
// there too, so the check is made on the address actually dialled.
var errNotInstance = errors.New("check: not an instance's address")

// dialer is the one every built-in probe dials through. It keeps no
// keep-alive: a probe's connection is closed at once.
var dialer = &net.Dialer{KeepAlive: -1, Control: refuseNonInstance}

func refuseNonInstance(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err == nil && hook.NotAnInstanceAddress(ap.Addr()) {
		return fmt.Errorf("%w: %s", errNotInstance, ap.Addr())
	}
	return nil
}

// dial is dialer.DialContext for TCP, for grpc.WithContextDialer.
func dial(ctx context.Context, address string) (net.Conn, error) {
	return dialer.DialContext(ctx, "tcp", address)
}
