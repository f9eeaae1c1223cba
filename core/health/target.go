package health

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// ErrRefused is a probe eurekad will not send: its target is not the
// instance's own address, or an address no instance has.
var ErrRefused = errors.New("health: target refused")

// Target returns what to probe for in under s: an http(s) URL on the
// instance's own address for http (and for a plugin's kind when a path or
// the instance's healthCheckUrl gives one), host:port otherwise. It is the
// server's guard against a registration that asks for a probe of another
// host: only the instance's ipAddr or hostName are ever targets, never a
// link-local, multicast or unspecified address (ErrRefused).
func Target(in *eureka.InstanceInfo, s Spec) (string, error) {
	host := strings.TrimSpace(in.IPAddr)
	if host == "" {
		host = strings.TrimSpace(in.HostName)
	}
	if host == "" {
		return "", fmt.Errorf("%w: the instance has no address", ErrRefused)
	}
	if err := allowedHost(host); err != nil {
		return "", err
	}
	port, secure := s.Port, false
	if port == 0 {
		switch {
		case in.Port.Enabled && in.Port.Number > 0, in.Port.Number > 0 && !in.SecurePort.Enabled:
			port = in.Port.Number
		case in.SecurePort.Number > 0:
			port, secure = in.SecurePort.Number, true
		}
	}
	if addressKind(s.Kind) {
		if port <= 0 {
			return "", fmt.Errorf("%w: no port to probe", ErrRefused)
		}
		return net.JoinHostPort(host, strconv.Itoa(port)), nil
	}
	if s.Path != "" {
		if port <= 0 {
			return "", fmt.Errorf("%w: no port to probe", ErrRefused)
		}
		scheme := "http"
		if secure {
			scheme = "https"
		}
		path := s.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
		return u.String() + path, nil
	}
	if raw := healthURL(in); raw != "" {
		return ownURL(in, raw)
	}
	if s.Kind == hook.CheckHTTP {
		return "", fmt.Errorf("%w: no path and no healthCheckUrl", ErrRefused)
	}
	if port <= 0 {
		return "", fmt.Errorf("%w: no port to probe", ErrRefused)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// healthURL is the instance's healthCheckUrl, its secure one when only
// that is given.
func healthURL(in *eureka.InstanceInfo) string {
	if u := strings.TrimSpace(in.HealthCheckURL); u != "" {
		return u
	}
	return strings.TrimSpace(in.SecureHealthCheckURL)
}

// ownURL accepts raw when it is an http(s) URL on the instance's own
// ipAddr or hostName.
func ownURL(in *eureka.InstanceInfo, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: healthCheckUrl is not an http(s) URL", ErrRefused)
	}
	h := u.Hostname()
	if !strings.EqualFold(h, strings.TrimSpace(in.IPAddr)) && !strings.EqualFold(h, strings.TrimSpace(in.HostName)) {
		return "", fmt.Errorf("%w: healthCheckUrl's host %.64q is neither the instance's ipAddr nor its hostName", ErrRefused, h)
	}
	if err := allowedHost(h); err != nil {
		return "", err
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// allowedHost refuses the addresses no instance has but a server may
// reach: link-local (the cloud metadata service), multicast, unspecified.
func allowedHost(host string) error {
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return nil // a name: the instance's own, as it registered
	}
	if hook.NotAnInstanceAddress(a) {
		return fmt.Errorf("%w: %s is no instance's address", ErrRefused, a)
	}
	return nil
}
